#include <gtest/gtest.h>

#include "engine/clock.h"
#include "tests/support/store_fixture.h"

namespace casegrid {
namespace {

using testing::OneEvent;

class ReadTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    for (int i = 0; i < 5; ++i) {
      MustAppend(OneEvent("case/A", ExpectedVersion::Any(), "a" + std::to_string(i + 1)));
      MustAppend(OneEvent("case/A-b", ExpectedVersion::Any(), "b" + std::to_string(i + 1)));
    }
  }
  static std::vector<std::string> Ids(const std::vector<RecordedEvent>& events) {
    std::vector<std::string> ids;
    for (const auto& e : events) ids.push_back(e.id);
    return ids;
  }
};

TEST_F(ReadTest, ReadsAStreamForwardFromAVersion) {
  auto events = store_->ReadStream("case/A", 2, 3, ReadDirection::kForward);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(Ids(*events), (std::vector<std::string>{"a2", "a3", "a4"}));
  EXPECT_EQ(events->front().version, 2u);
  EXPECT_EQ(events->front().position, 3u);
}

TEST_F(ReadTest, ReadsAStreamBackwardFromTheEnd) {
  auto events = store_->ReadStream("case/A", UINT64_MAX, 2, ReadDirection::kBackward);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(Ids(*events), (std::vector<std::string>{"a5", "a4"}));
  auto from3 = store_->ReadStream("case/A", 3, 10, ReadDirection::kBackward);
  EXPECT_EQ(Ids(*from3), (std::vector<std::string>{"a3", "a2", "a1"}));
}

TEST_F(ReadTest, StreamsWithACommonPrefixDoNotMix) {
  auto events = store_->ReadStream("case/A", 1, 100, ReadDirection::kForward);
  EXPECT_EQ(events->size(), 5u);
  auto other = store_->ReadStream("case/A-b", 1, 100, ReadDirection::kForward);
  EXPECT_EQ(Ids(*other), (std::vector<std::string>{"b1", "b2", "b3", "b4", "b5"}));
}

TEST_F(ReadTest, UnknownStreamReadsEmpty) {
  auto events = store_->ReadStream("case/none", 1, 10, ReadDirection::kForward);
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
  EXPECT_EQ(*store_->StreamVersionOf("case/none"), 0u);
}

TEST_F(ReadTest, ListsStreamsByPrefixAndFindsTheLast) {
  MustAppend(OneEvent("grid/santai", ExpectedVersion::Any()));
  MustAppend(OneEvent("grid/santai/a01", ExpectedVersion::Any()));
  auto all = store_->ListStreams("case/", "", 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<std::string>{"case/A", "case/A-b"}));
  EXPECT_EQ(*store_->ListStreams("case/", "case/A", 10), (std::vector<std::string>{"case/A-b"}));
  EXPECT_EQ(*store_->ListStreams("grid/", "", 1), (std::vector<std::string>{"grid/santai"}));
  EXPECT_EQ(*store_->LastStreamWithPrefix("case/"), "case/A-b");
  EXPECT_EQ(*store_->LastStreamWithPrefix("grid/santai/"), "grid/santai/a01");
  EXPECT_EQ(*store_->LastStreamWithPrefix("none/"), "");
}

TEST_F(ReadTest, ReadsOneEventAtAPosition) {
  auto e = store_->ReadAt(4);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->id, "b2");
  EXPECT_EQ(store_->ReadAt(11).status().code(), StatusCode::kNotFound);
}

TEST_F(ReadTest, ReadsTheLogForwardAfterAPosition) {
  auto events = store_->ReadAll(7, 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ(events->front().position, 8u);
  EXPECT_EQ(store_->ReadAll(10, 100)->size(), 0u);
  EXPECT_EQ(store_->ReadAll(0, 4)->size(), 4u);
}

TEST_F(ReadTest, EnvelopeCarriesEveryFieldOfTheContract) {
  auto events = store_->ReadAll(0, 1);
  const std::string json = events->at(0).EnvelopeJson();
  for (const char* field :
       {"\"position\":1", "\"stream\":\"case/A\"", "\"version\":1", "\"type\":\"NoteAdded\"",
        "\"id\":\"a1\"", "\"recorded_at\":\"", "\"actor\":\"officer-7\"",
        "\"data\":{\"text\":\"hello\"}", "\"hash\":\""}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
}

class ClockTest : public testing::StoreTest {
 protected:
  StoreOptions Options() override {
    StoreOptions o = StoreTest::Options();
    o.clock = &clock_;
    return o;
  }
  ManualClock clock_{1795343462123};
};

TEST_F(ClockTest, RecordedTimeComesFromTheClockAndNeverGoesBack) {
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  clock_.Advance(-60000);  // the wall clock steps back a minute
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  auto events = store_->ReadAll(0, 10);
  EXPECT_EQ(events->at(0).recorded_at_ms, 1795343462123);
  EXPECT_EQ(events->at(1).recorded_at_ms, 1795343462123);
  clock_.Advance(120000);
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  EXPECT_EQ(store_->ReadAll(2, 1)->at(0).recorded_at_ms, 1795343462123 + 60000);
}

TEST_F(ReadTest, FollowerSeesTheWritersNewEventsAfterCatchUp) {
  auto follower = EventStore::OpenFollower(dir_.Sub("store"));
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();
  EXPECT_EQ((*follower)->Head().position, 10u);
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  ASSERT_TRUE((*follower)->CatchUp().ok());
  EXPECT_EQ((*follower)->Head().position, 11u);
  EXPECT_EQ((*follower)->Append(OneEvent("case/A", ExpectedVersion::Any())).status().code(),
            StatusCode::kUnavailable);
}

TEST(OpenTest, SecondWriterIsRefusedWhileTheFirstHoldsTheStore) {
  testing::TempDir dir;
  StoreOptions o;
  o.path = dir.Sub("s");
  auto first = EventStore::Open(o);
  ASSERT_TRUE(first.ok());
  auto second = EventStore::Open(o);
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable) << second.status().ToString();
}

}  // namespace
}  // namespace casegrid
