// The case cache answers exactly what a fold of the log answers: after other
// writers, with a stale entry, from many threads, and within its bound.
#include "engine/case_cache.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/support/case_fixture.h"

namespace casegrid {
namespace {

class CaseCacheTest : public testing::CaseTest {};

TEST_F(CaseCacheTest, LoadEqualsAFoldOfTheLog) {
  const std::string id = CaseInProgress();
  CaseCache cache(store_.get(), 64);
  auto loaded = cache.Load(id);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  auto folded = FoldCase(*store_, id);
  ASSERT_TRUE(folded.ok());
  EXPECT_EQ(*loaded, *folded);
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(CaseCacheTest, AStaleEntryPicksUpWhatOthersWrote) {
  const std::string id = NewCase();
  CaseCache cache(store_.get(), 64);
  ASSERT_TRUE(cache.Load(id).ok());
  // Another writer (here: the service, which has a cache of its own) moves the case on.
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(id, "accept"));
  Must(Act(id, "note", R"({"text":"seen"})"));
  auto loaded = cache.Load(id);
  ASSERT_TRUE(loaded.ok());
  auto folded = FoldCase(*store_, id);
  ASSERT_TRUE(folded.ok());
  EXPECT_EQ(loaded->version, 4u);
  EXPECT_EQ(*loaded, *folded);
}

TEST_F(CaseCacheTest, CachedOnlyAnswersWithoutReadingOrSaysItMustRead) {
  const std::string id = NewCase();
  CaseCache cache(store_.get(), 64);
  // Not cached: a read would be needed.
  auto cold = cache.Load(id, StorageReads::kCachedOnly);
  EXPECT_EQ(cold.status().code(), StatusCode::kWouldBlock) << cold.status().ToString();
  EXPECT_EQ(cache.size(), 0u);
  ASSERT_TRUE(cache.Load(id).ok());
  auto warm = cache.Load(id, StorageReads::kCachedOnly);
  ASSERT_TRUE(warm.ok()) << warm.status().ToString();
  EXPECT_EQ(warm->version, 1u);
  // Another writer moved the case on: the entry is stale, so it must read again.
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  EXPECT_EQ(cache.Load(id, StorageReads::kCachedOnly).status().code(), StatusCode::kWouldBlock);
  auto read = cache.Load(id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->version, 2u);
  auto again = cache.Load(id, StorageReads::kCachedOnly);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *read);
}

// The events of the case's stream as a follower of the log is handed them.
std::vector<RecordedEvent> StreamEvents(const EventStore& store, const std::string& id,
                                        StreamVersion from) {
  auto events = store.ReadStream(CaseStream(id), from, 100, ReadDirection::kForward);
  EXPECT_TRUE(events.ok());
  return events.ok() ? *events : std::vector<RecordedEvent>{};
}

std::vector<const RecordedEvent*> Pointers(const std::vector<RecordedEvent>& events) {
  std::vector<const RecordedEvent*> out;
  for (const RecordedEvent& e : events) out.push_back(&e);
  return out;
}

TEST_F(CaseCacheTest, AFollowerFoldsWhatItIsHandedWithoutReadingItBack) {
  const std::string id = NewCase();
  CaseCache cache(store_.get(), 64);
  // Handed the whole stream from its first event: no read needed, not even cold.
  const auto first = StreamEvents(*store_, id, 1);
  auto from_nothing = cache.LoadFollowing(id, Pointers(first), StorageReads::kCachedOnly);
  ASSERT_TRUE(from_nothing.ok()) << from_nothing.status().ToString();
  EXPECT_EQ(from_nothing->version, 1u);

  // Others move the case on; the follower is handed what they wrote, which
  // continues its fold.
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(id, "accept"));
  const auto next = StreamEvents(*store_, id, 2);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(cache.Load(id, StorageReads::kCachedOnly).status().code(), StatusCode::kWouldBlock);
  auto followed = cache.LoadFollowing(id, Pointers(next), StorageReads::kCachedOnly);
  ASSERT_TRUE(followed.ok()) << followed.status().ToString();
  auto folded = FoldCase(*store_, id);
  ASSERT_TRUE(folded.ok());
  EXPECT_EQ(*followed, *folded);
  // And it is kept: current, so a plain load needs no read either.
  auto kept = cache.Load(id, StorageReads::kCachedOnly);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(*kept, *folded);
  // Handed events the fold holds already (a command remembered its own): the fold.
  auto again = cache.LoadFollowing(id, Pointers(next), StorageReads::kCachedOnly);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *folded);
}

TEST_F(CaseCacheTest, AFollowerHandedEventsWithAGapReadsTheStream) {
  const std::string id = NewCase();
  CaseCache cache(store_.get(), 64);
  ASSERT_TRUE(cache.Load(id).ok());  // version 1
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(id, "accept"));
  Must(Act(id, "note", R"({"text":"seen"})"));
  // Handed only versions 3 and 4: version 2 is missing from what it holds.
  const auto tail = StreamEvents(*store_, id, 3);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(cache.LoadFollowing(id, Pointers(tail), StorageReads::kCachedOnly).status().code(),
            StatusCode::kWouldBlock);
  auto read = cache.LoadFollowing(id, Pointers(tail));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  auto folded = FoldCase(*store_, id);
  ASSERT_TRUE(folded.ok());
  EXPECT_EQ(read->version, 4u);
  EXPECT_EQ(*read, *folded);
}

TEST_F(CaseCacheTest, UnknownCasesAreNotKept) {
  CaseCache cache(store_.get(), 64);
  auto loaded = cache.Load("C-20261122-999999");
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->exists);
  auto bad = cache.Load("not a stream name");
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->exists);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(CaseCacheTest, HoldsAtMostItsCapacity) {
  CaseCache cache(store_.get(), 16);  // one per shard
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(NewCase());
  for (const auto& id : ids) ASSERT_TRUE(cache.Load(id).ok());
  EXPECT_LE(cache.size(), 16u);
  // Evicted or not, every case still loads whole.
  for (const auto& id : ids) {
    auto loaded = cache.Load(id);
    ASSERT_TRUE(loaded.ok());
    EXPECT_TRUE(loaded->exists);
    EXPECT_EQ(loaded->version, 1u);
  }
}

TEST_F(CaseCacheTest, ConcurrentCommandsSeeEveryEarlierWrite) {
  // Eight threads note on one case without expected_version: each re-decides
  // on a lost race, so all notes land, and the service's cached state ends
  // equal to the fold.
  const std::string id = CaseInProgress();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (service_->Act("officer-7", id, "note", R"({"text":"n"})", "").ok()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  auto loaded = service_->LoadCase(id);
  ASSERT_TRUE(loaded.ok());
  auto folded = FoldCase(*store_, id);
  ASSERT_TRUE(folded.ok());
  EXPECT_EQ(*loaded, *folded);
  EXPECT_EQ(loaded->notes, ok.load());
  EXPECT_EQ(loaded->version, 3u + static_cast<StreamVersion>(ok.load()));
}

TEST_F(CaseCacheTest, WhatACommandLeavesInTheCacheEqualsAFold) {
  // Each command leaves its decided state plus its events in the service's
  // cache; after every step of a whole lifecycle that state equals a fold.
  const std::string id = NewCase("urgent");
  auto same = [&](const char* step) {
    auto cached = service_->LoadCase(id);
    auto folded = FoldCase(*store_, id);
    ASSERT_TRUE(cached.ok() && folded.ok());
    EXPECT_EQ(*cached, *folded) << "after " << step;
  };
  same("report");
  const std::pair<const char*, const char*> steps[] = {
      {"triage", R"({"priority":"high","category":"noise"})"},
      {"assign", R"({"assignee":"officer-7"})"},
      {"accept", "{}"},
      {"dispatch", R"({"officer":"officer-7"})"},
      {"arrive", R"({"officer":"officer-7"})"},
      {"note", R"({"text":"spoke to both"})"},
      {"mediate",
       R"({"tier":1,"participants":["Li Wei","Zhang San"],"outcome":"no_agreement","notes":"n"})"},
      {"escalate", R"({"reason":"no agreement"})"},
      {"mediate",
       R"({"tier":2,"participants":["Li Wei","Zhang San"],"outcome":"agreement","notes":"n"})"},
      {"resolve", R"({"resolution":"mediated_agreement","summary":"repairs paid"})"},
      {"attempt-callback", R"({"reached":false,"note":"no answer"})"},
      {"complete-callback",
       R"({"speed":"satisfied","attitude":"satisfied","outcome":"neutral","comment":"ok"})"},
      {"close", "{}"},
      {"reopen", R"({"reason":"leak again"})"},
  };
  for (const auto& [action, body] : steps) {
    clock_.Advance(60000);
    Must(Act(id, action, body));
    same(action);
  }
  // A deadline the watch would record: the fact is folded in the same way.
  const std::string late = NewCase();
  const CaseState s = Load(late);
  const CaseDeadline* accept = s.Deadline(DeadlineKind::kAccept);
  ASSERT_NE(accept, nullptr);
  clock_.Set(accept->due_at);  // a miss is recorded once its due time has come
  Must(service_->RecordDeadlineMissed(late, DeadlineKind::kAccept, accept->due_at));
  auto cached = service_->LoadCase(late);
  auto folded = FoldCase(*store_, late);
  ASSERT_TRUE(cached.ok() && folded.ok());
  EXPECT_EQ(*cached, *folded);
  EXPECT_TRUE(cached->Deadline(DeadlineKind::kAccept)->missed);
}

TEST_F(CaseCacheTest, ZeroCapacityCachesNothing) {
  const std::string id = NewCase();
  CaseCache cache(store_.get(), 0);
  auto loaded = cache.Load(id);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->exists);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace casegrid
