#include "engine/subscription.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/support/store_fixture.h"

namespace casegrid {
namespace {

using namespace std::chrono_literals;
using testing::OneEvent;

class SubscriptionTest : public testing::StoreTest {
 protected:
  // Reads until `count` events arrived or a few seconds passed.
  std::vector<RecordedEvent> Drain(Subscription& sub, std::size_t count) {
    std::vector<RecordedEvent> got;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (got.size() < count && std::chrono::steady_clock::now() < deadline) {
      EXPECT_TRUE(sub.Next(&got, 100, 50ms).ok());
    }
    return got;
  }
  static void ExpectContiguous(const std::vector<RecordedEvent>& events, Position first) {
    for (std::size_t i = 0; i < events.size(); ++i) {
      ASSERT_EQ(events[i].position, first + i) << "at index " << i;
    }
  }
};

TEST_F(SubscriptionTest, CatchesUpFromTheLogThenGoesLive) {
  for (int i = 0; i < 10; ++i) MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  auto sub = store_->Subscribe(3, {});
  auto caught = Drain(*sub, 7);
  ExpectContiguous(caught, 4);
  ASSERT_EQ(caught.size(), 7u);
  MustAppend(OneEvent("case/B", ExpectedVersion::Any(), "live"));
  auto live = Drain(*sub, 1);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].id, "live");
  EXPECT_EQ(live[0].position, 11u);
}

TEST_F(SubscriptionTest, NoGapOrDuplicateWhenEventsCommitDuringCatchUp) {
  for (int i = 0; i < 500; ++i) MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 1500 && !stop; ++i) {
      ASSERT_TRUE(store_->Append(OneEvent("case/W", ExpectedVersion::Any())).ok());
    }
  });
  auto sub = store_->Subscribe(0, {});
  std::vector<RecordedEvent> got;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (got.size() < 2000 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(sub->Next(&got, 7, 50ms).ok());  // small pages: many switches
  }
  stop = true;
  writer.join();
  ASSERT_EQ(got.size(), 2000u);
  ExpectContiguous(got, 1);
}

TEST_F(SubscriptionTest, SlowConsumerFallsBackToTheLogAndLosesNothing) {
  SubscriptionOptions small;
  small.max_buffered_events = 16;
  auto sub = store_->Subscribe(0, small);
  for (int i = 0; i < 200; ++i) MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  EXPECT_TRUE(sub->fell_back_to_log());
  auto got = Drain(*sub, 200);
  ASSERT_EQ(got.size(), 200u);
  ExpectContiguous(got, 1);
}

TEST_F(SubscriptionTest, TimesOutEmptyAndCloseWakesAWaiter) {
  auto sub = store_->Subscribe(0, {});
  std::vector<RecordedEvent> got;
  EXPECT_TRUE(sub->Next(&got, 10, 10ms).ok());
  EXPECT_TRUE(got.empty());
  std::thread closer([&] {
    std::this_thread::sleep_for(50ms);
    sub->Close();
  });
  EXPECT_EQ(sub->Next(&got, 10, 10s).code(), StatusCode::kUnavailable);
  closer.join();
}

// A batch larger than the whole buffer is not held: a consumer waiting in
// Next is woken to read it from the log, not left waiting to its deadline
// (it was, with nothing, so a long wait read nothing: a white-box review of
// session 24).
TEST_F(SubscriptionTest, ABatchLargerThanTheBufferWakesTheWaiterToReadTheLog) {
  SubscriptionOptions small;
  small.max_buffered_events = 4;
  auto sub = store_->Subscribe(0, small);
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);  // the consumer waits by then, most likely
    AppendRequest big{"case/A", ExpectedVersion::Any(), "officer-7", {}};
    for (int i = 0; i < 10; ++i) big.events.push_back(NewEvent{"", "NoteAdded", R"({"text":"x"})"});
    ASSERT_TRUE(store_->Append(std::move(big)).ok());
  });
  std::vector<RecordedEvent> got;
  EXPECT_TRUE(sub->Next(&got, 100, 60s).ok());
  writer.join();
  ASSERT_FALSE(got.empty()) << "the waiter was not woken by the batch it could not buffer";
  ExpectContiguous(got, 1);
}

TEST_F(SubscriptionTest, ManySubscribersShareOneBatch) {
  std::vector<std::unique_ptr<Subscription>> subs;
  for (int i = 0; i < 50; ++i) subs.push_back(store_->Subscribe(0, {}));
  for (int i = 0; i < 20; ++i) MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  for (auto& sub : subs) {
    auto got = Drain(*sub, 20);
    ASSERT_EQ(got.size(), 20u);
    ExpectContiguous(got, 1);
  }
}

}  // namespace
}  // namespace casegrid
