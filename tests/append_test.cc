#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "engine/clock.h"
#include "engine/event_store.h"
#include "engine/time_format.h"
#include "tests/support/fault_fs.h"
#include "tests/support/store_fixture.h"

namespace casegrid {
namespace {

using testing::OneEvent;

class AppendTest : public testing::StoreTest {};

TEST_F(AppendTest, AssignsGaplessPositionsAndPerStreamVersions) {
  auto a1 = MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  auto b1 = MustAppend(OneEvent("case/B", ExpectedVersion::Any()));
  auto a2 = MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  EXPECT_EQ(a1.first_position, 1u);
  EXPECT_EQ(b1.first_position, 2u);
  EXPECT_EQ(a2.first_position, 3u);
  EXPECT_EQ(a1.first_version, 1u);
  EXPECT_EQ(b1.first_version, 1u);
  EXPECT_EQ(a2.first_version, 2u);
  EXPECT_EQ(store_->Head().position, 3u);
}

TEST_F(AppendTest, LastChangeBoundIsNeverBelowAStreamsLastEvent) {
  // Many streams share few slots: whatever the collisions, each stream's
  // bound is at least the position of its last event, and a stream written
  // last is bounded exactly.
  std::vector<Position> last(300, 0);
  for (int round = 0; round < 3; ++round) {
    for (std::size_t s = 0; s < last.size(); s += 1 + round) {
      const std::string stream = "case/S" + std::to_string(s);
      last[s] = MustAppend(OneEvent(stream, ExpectedVersion::Any())).last_position;
    }
    for (std::size_t s = 0; s < last.size(); ++s) {
      EXPECT_GE(store_->LastChangeBound("case/S" + std::to_string(s)), last[s]) << s;
    }
  }
  const Position head = MustAppend(OneEvent("case/last", ExpectedVersion::Any())).last_position;
  EXPECT_EQ(store_->LastChangeBound("case/last"), head);
  // Reopened, the store knows nothing finer than its head.
  Reopen();
  EXPECT_EQ(store_->LastChangeBound("case/S0"), head);
  EXPECT_EQ(store_->LastChangeBound("case/never-written"), head);
}

TEST_F(AppendTest, WritesSeveralEventsAllTogether) {
  AppendRequest r{
      "case/A",
      ExpectedVersion::NoStream(),
      "officer-7",
      {{"e1", "CaseReported", "{}"}, {"e2", "NoteAdded", "{}"}, {"e3", "NoteAdded", "{}"}}};
  auto result = MustAppend(r);
  EXPECT_EQ(result.first_position, 1u);
  EXPECT_EQ(result.last_position, 3u);
  EXPECT_EQ(result.last_version, 3u);
}

TEST_F(AppendTest, RejectsStaleExpectedVersionNamingTheActualOne) {
  MustAppend(OneEvent("case/A", ExpectedVersion::NoStream()));
  MustAppend(OneEvent("case/A", ExpectedVersion::Exact(1)));
  auto stale = store_->Append(OneEvent("case/A", ExpectedVersion::Exact(1)));
  ASSERT_EQ(stale.status().code(), StatusCode::kConflict);
  EXPECT_NE(stale.status().message().find("at version 2"), std::string::npos)
      << stale.status().message();
  EXPECT_EQ(store_->Head().position, 2u);
}

TEST_F(AppendTest, ChecksNoStreamAndExists) {
  EXPECT_EQ(store_->Append(OneEvent("case/A", ExpectedVersion::Exists())).status().code(),
            StatusCode::kConflict);
  MustAppend(OneEvent("case/A", ExpectedVersion::NoStream()));
  EXPECT_EQ(store_->Append(OneEvent("case/A", ExpectedVersion::NoStream())).status().code(),
            StatusCode::kConflict);
  MustAppend(OneEvent("case/A", ExpectedVersion::Exists()));
  EXPECT_EQ(*store_->StreamVersionOf("case/A"), 2u);
}

TEST_F(AppendTest, AMaxVersionBoundsTheStreamAndAnAppendPastItWritesNothing) {
  AppendRequest two{
      "case/A", ExpectedVersion::Any(), "a", {{"", "NoteAdded", "{}"}, {"", "NoteAdded", "{}"}}};
  two.max_version = 3;
  MustAppend(two);
  const auto past = store_->Append(two);
  ASSERT_EQ(past.status().code(), StatusCode::kConflict);
  EXPECT_NE(
      past.status().message().find("stream case/A is at version 2; 2 more would take it past 3"),
      std::string::npos)
      << past.status().message();
  EXPECT_EQ(store_->Head().position, 2u);
  two.events.pop_back();
  EXPECT_EQ(MustAppend(two).last_version, 3u);
  // A repeat of an append the log holds is answered as one, bound or not.
  AppendRequest again{"case/B", ExpectedVersion::Any(), "a", {{"b1", "NoteAdded", "{}"}}};
  MustAppend(again);
  again.max_version = 1;
  EXPECT_TRUE(MustAppend(again).deduplicated);
}

TEST_F(AppendTest, RepeatedIdWritesNothingAndAnswersTheOriginalPosition) {
  auto first = MustAppend(OneEvent("case/A", ExpectedVersion::NoStream(), "evt-1"));
  MustAppend(OneEvent("case/B", ExpectedVersion::Any()));
  // The retry carries the expected version of the first try: still succeeds.
  auto again = MustAppend(OneEvent("case/A", ExpectedVersion::NoStream(), "evt-1"));
  EXPECT_TRUE(again.deduplicated);
  EXPECT_EQ(again.first_position, first.first_position);
  EXPECT_EQ(again.first_version, 1u);
  EXPECT_EQ(store_->Head().position, 2u);
}

TEST_F(AppendTest, DeduplicatesAcrossRestartForTheWholeLog) {
  MustAppend(OneEvent("case/A", ExpectedVersion::Any(), "evt-old"));
  for (int i = 0; i < 2000; ++i) MustAppend(OneEvent("case/B", ExpectedVersion::Any()));
  Reopen();
  auto again = MustAppend(OneEvent("case/A", ExpectedVersion::Any(), "evt-old"));
  EXPECT_TRUE(again.deduplicated);
  EXPECT_EQ(again.first_position, 1u);
  EXPECT_EQ(store_->Head().position, 2001u);
}

TEST_F(AppendTest, PartlyRepeatedIdsAreAConflictAndWriteNothing) {
  MustAppend(OneEvent("case/A", ExpectedVersion::Any(), "e1"));
  AppendRequest r{"case/A",
                  ExpectedVersion::Any(),
                  "officer-7",
                  {{"e1", "NoteAdded", "{}"}, {"e2", "NoteAdded", "{}"}}};
  EXPECT_EQ(store_->Append(r).status().code(), StatusCode::kConflict);
  EXPECT_EQ(store_->Head().position, 1u);
}

// An append decided on other streams is written only while each is at the
// version it was decided on (AppendRequest::unchanged); a stream never
// written is at version 0.
TEST_F(AppendTest, AnAppendPinnedToAnotherStreamIsRefusedOnceThatStreamMoves) {
  MustAppend(OneEvent("grid/a", ExpectedVersion::Any(), "g1"));
  AppendRequest r = OneEvent("case/A", ExpectedVersion::Any(), "e1");
  r.unchanged = {{"grid/a", 1}, {"grid/never", 0}};
  MustAppend(r);
  MustAppend(OneEvent("grid/a", ExpectedVersion::Any(), "g2"));
  AppendRequest late = OneEvent("case/A", ExpectedVersion::Any(), "e2");
  late.unchanged = {{"grid/a", 1}};
  auto refused = store_->Append(late);
  ASSERT_EQ(refused.status().code(), StatusCode::kConflict);
  EXPECT_NE(refused.status().message().find("stream grid/a is at version 2, not 1"),
            std::string::npos)
      << refused.status().ToString();
  EXPECT_EQ(store_->Head().position, 3u);
  late.unchanged = {{"grid/a", 2}};
  MustAppend(late);
}

// A repeat names the ids at consecutive positions, in their order: ids
// listed in another order, or apart in the log, are a conflict, not an
// answer naming a range that was not theirs (review 86).
TEST_F(AppendTest, IdsWrittenOtherwiseThanAsOneAppendAreAConflict) {
  const auto two = [](const char* a, const char* b) {
    return AppendRequest{"case/A",
                         ExpectedVersion::Any(),
                         "officer-7",
                         {{a, "NoteAdded", "{}"}, {b, "NoteAdded", "{}"}}};
  };
  MustAppend(two("e1", "e2"));
  MustAppend(OneEvent("case/A", ExpectedVersion::Any(), "e3"));
  EXPECT_TRUE(MustAppend(two("e1", "e2")).deduplicated);
  for (const auto& [a, b] : {std::pair{"e2", "e1"}, std::pair{"e1", "e3"}}) {
    auto r = store_->Append(two(a, b));
    EXPECT_EQ(r.status().code(), StatusCode::kConflict) << a << b;
    EXPECT_NE(r.status().message().find("not one after another in this order"), std::string::npos)
        << r.status().ToString();
  }
  EXPECT_EQ(store_->Head().position, 3u);
}

TEST_F(AppendTest, IdUsedInAnotherStreamIsAConflict) {
  MustAppend(OneEvent("case/A", ExpectedVersion::Any(), "e1"));
  auto r = store_->Append(OneEvent("case/B", ExpectedVersion::Any(), "e1"));
  ASSERT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_NE(r.status().message().find("case/A"), std::string::npos);
}

TEST_F(AppendTest, BadInputIsRejectedNamingTheFieldAndWritesNothing) {
  struct Case {
    AppendRequest request;
    StatusCode code;
    std::string mention;
  };
  const std::vector<Case> cases = {
      {OneEvent("nocategory", ExpectedVersion::Any()), StatusCode::kInvalidArgument, "stream"},
      {OneEvent("case//x", ExpectedVersion::Any()), StatusCode::kInvalidArgument, "stream"},
      {OneEvent("case/A", ExpectedVersion::Any(), "bad id"), StatusCode::kInvalidArgument, "id"},
      {OneEvent("case/A", ExpectedVersion::Any(), "", "1Type"), StatusCode::kInvalidArgument,
       "type"},
      {OneEvent("case/A", ExpectedVersion::Any(), "", "T", "[1]"), StatusCode::kInvalidArgument,
       "events[0].data"},
      {OneEvent("case/A", ExpectedVersion::Any(), "", "T", "{\"a\":"), StatusCode::kInvalidArgument,
       "events[0].data"},
      {OneEvent("case/A", ExpectedVersion::Exact(0)), StatusCode::kInvalidArgument,
       "expected_version"},
      {AppendRequest{"case/A", ExpectedVersion::Any(), "officer-7", {}},
       StatusCode::kInvalidArgument, "events"},
      {AppendRequest{"case/A", ExpectedVersion::Any(), "", {{"", "T", "{}"}}},
       StatusCode::kInvalidArgument, "actor"},
      {AppendRequest{"case/A", ExpectedVersion::Any(), "o", {{"x", "T", "{}"}, {"x", "T", "{}"}}},
       StatusCode::kInvalidArgument, "twice"},
      {OneEvent("case/A", ExpectedVersion::Any(), "", "T",
                "{\"a\":\"" + std::string(70000, 'x') + "\"}"),
       StatusCode::kTooLarge, "events[0].data"},
  };
  for (const Case& c : cases) {
    auto r = store_->Append(c.request);
    EXPECT_EQ(r.status().code(), c.code) << c.mention << ": " << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.mention), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(store_->Head().position, 0u);
}

TEST_F(AppendTest, TooManyEventsInOneAppendIsTooLarge) {
  AppendRequest r{"case/A", ExpectedVersion::Any(), "o", {}};
  r.events.resize(1001, NewEvent{"", "NoteAdded", "{}"});
  EXPECT_EQ(store_->Append(r).status().code(), StatusCode::kTooLarge);
}

TEST_F(AppendTest, StoresDataInCanonicalForm) {
  MustAppend(OneEvent("case/A", ExpectedVersion::Any(), "", "T", R"({ "b": 1.50, "a": "x" })"));
  auto events = store_->ReadAll(0, 10);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->at(0).data, R"({"a":"x","b":1.5})");
}

TEST_F(AppendTest, ConcurrentAppendersGetUniqueGaplessPositions) {
  constexpr int kThreads = 16, kEach = 100;
  std::vector<std::thread> threads;
  std::vector<std::vector<AppendResult>> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Two threads share each stream, so version checks race for real.
        auto r = store_->Append(OneEvent("case/S" + std::to_string(t / 2), ExpectedVersion::Any()));
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        results[t].push_back(*r);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<Position> positions;
  for (auto& per : results) {
    for (auto& r : per) positions.insert(r.first_position);
  }
  ASSERT_EQ(positions.size(), size_t{kThreads * kEach});
  EXPECT_EQ(*positions.begin(), 1u);
  EXPECT_EQ(*positions.rbegin(), Position{kThreads * kEach});
  for (int s = 0; s < kThreads / 2; ++s) {
    EXPECT_EQ(*store_->StreamVersionOf("case/S" + std::to_string(s)), StreamVersion{2 * kEach});
  }
}

TEST_F(AppendTest, ConcurrentExactVersionAppendsLetExactlyOneWin) {
  MustAppend(OneEvent("case/A", ExpectedVersion::NoStream()));
  std::atomic<int> wins{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto r = store_->Append(OneEvent("case/A", ExpectedVersion::Exact(1)));
      (r.ok() ? wins : conflicts)++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), 7);
}

// With a slow fsync, appenders that arrive while one syncs share the next.
class GroupCommitTest : public testing::StoreTest {
 protected:
  StoreOptions Options() override {
    StoreOptions o = StoreTest::Options();
    o.env = env_.get();
    return o;
  }
  // A test that failed with a sync held must not hang its store's close.
  void TearDown() override {
    fs_->hold_wal_syncs_after = -1;
    StoreTest::TearDown();
  }
  // Reopened, the store's first event is `id`, its chain intact, and it
  // appends again; `*events` is how many it held before that append.
  void ExpectReopenedFirst(const std::string& id, std::size_t* events) {
    Reopen();
    auto after = store_->ReadAll(0, 10);
    ASSERT_TRUE(after.ok());
    ASSERT_GE(after->size(), 1u);
    EXPECT_EQ(after->at(0).id, id);
    *events = after->size();
    auto report = store_->Verify();
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->intact) << report->reason;
    EXPECT_TRUE(store_->Append(OneEvent("case/A", ExpectedVersion::Any())).ok());
  }
  std::shared_ptr<testing::FaultFs> fs_ = std::make_shared<testing::FaultFs>();
  std::unique_ptr<rocksdb::Env> env_ = testing::MakeEnv(fs_);
};

TEST_F(GroupCommitTest, ConcurrentAppendersShareFsyncs) {
  fs_->sync_delay_us = 2000;
  const int before = fs_->wal_syncs.load();
  constexpr int kThreads = 32, kEach = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        ASSERT_TRUE(
            store_->Append(OneEvent("case/" + std::to_string(t), ExpectedVersion::Any())).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  const int syncs = fs_->wal_syncs.load() - before;
  EXPECT_GE(syncs, 1);
  // One fsync per append would be 320; groups must have formed.
  EXPECT_LT(syncs, kThreads * kEach / 4) << syncs << " syncs for " << kThreads * kEach;
}

// A group queued while the one before it syncs is written after it; until
// its own fsync ends, it is neither read nor answered: not by the log, not by
// its stream, not by the stream's version (which, read between the write's
// return and the publishing, was the new one until session 26).
TEST_F(GroupCommitTest, AGroupIsUnseenUntilItsFsyncEnds) {
  const int before = fs_->wal_syncs.load();
  fs_->hold_wal_syncs_after = before;  // the first group's sync waits
  std::promise<Result<AppendResult>> first, second;
  store_->AppendAsync(OneEvent("case/A", ExpectedVersion::Any()),
                      [&](Result<AppendResult> r) { first.set_value(std::move(r)); });
  while (fs_->wal_syncs.load() == before) std::this_thread::yield();  // the first syncs
  auto answered = second.get_future();
  store_->AppendAsync(OneEvent("case/A", ExpectedVersion::Any()),
                      [&](Result<AppendResult> r) { second.set_value(std::move(r)); });
  fs_->hold_wal_syncs_after = before + 1;  // the first's goes on, the second's waits
  // The second group's fsync is under way; before it ends:
  while (fs_->wal_syncs.load() < before + 2) std::this_thread::yield();
  ASSERT_TRUE(first.get_future().get().ok());
  ASSERT_EQ(answered.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  EXPECT_EQ(store_->Head().position, 1u);
  EXPECT_EQ(store_->ReadAll(0, 10)->size(), 1u);
  EXPECT_EQ(store_->ReadStream("case/A", 1, 10, ReadDirection::kForward)->size(), 1u);
  EXPECT_EQ(store_->StreamVersionOf("case/A").value(), 1u) << "a version not yet durable";
  EXPECT_EQ(store_->StreamVersionOf("case/none").value(), 0u);
  fs_->hold_wal_syncs_after = -1;
  const auto r = answered.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->last_position, 2u);
  EXPECT_EQ(store_->Head().position, 2u);
  EXPECT_EQ(store_->StreamVersionOf("case/A").value(), 2u);
}

// Acknowledged means fsync'd, proven against a power loss rather than a
// SIGKILL (which keeps the page cache, so a write not yet synced survives it
// all the same): many appenders write while syncs are slow, the "power"
// goes during a sync some groups on (so that a group's write is never
// durable: a crash left to a timer fell between groups in all three rounds
// of one CI run under ASan), every byte of the WAL that no sync covered is
// dropped, and the store reopened holds every event it acknowledged, its
// chain intact.
TEST_F(GroupCommitTest, WhatWasAcknowledgedSurvivesLosingEveryUnsyncedByte) {
  for (int round = 0; round < 3; ++round) {
    fs_->sync_delay_us = 300 * (round + 1);  // groups pile up behind the syncs
    struct Acknowledged {
      Position position;
      std::string id;
    };
    std::mutex mu;
    std::vector<Acknowledged> acknowledged;
    std::atomic<bool> stop{false};
    std::atomic<int> in_flight{0};
    std::vector<std::thread> appenders;
    for (int t = 0; t < 8; ++t) {
      appenders.emplace_back([&, t] {
        for (int i = 0; !stop; ++i) {
          const std::string id =
              "r" + std::to_string(round) + "-" + std::to_string(t) + "-" + std::to_string(i);
          ++in_flight;
          store_->AppendAsync(OneEvent("case/" + std::to_string(t), ExpectedVersion::Any(), id),
                              [&, id](Result<AppendResult> r) {
                                if (r.ok()) {
                                  std::lock_guard l(mu);
                                  acknowledged.push_back({r->last_position, id});
                                }
                                --in_flight;
                              });
          while (in_flight > 64 && !stop) std::this_thread::yield();
        }
      });
    }
    fs_->crash_at_sync = fs_->wal_syncs.load() + 20 + 40 * round;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs_->crashed && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const bool crashed_in_a_sync = fs_->crashed;
    fs_->Crash();
    stop = true;
    for (auto& t : appenders) t.join();
    store_.reset();  // answers what is queued (refused: the disk is gone)
    ASSERT_EQ(in_flight.load(), 0);
    const std::uintmax_t dropped = fs_->DropUnsyncedWalData();
    ASSERT_TRUE(crashed_in_a_sync) << "no sync with bytes to cover in 60 s";
    // The power went while a group's write was unsynced, or the round proved nothing.
    ASSERT_GT(dropped, 0u);
    ASSERT_NO_FATAL_FAILURE(Reopen());
    std::lock_guard l(mu);
    ASSERT_FALSE(acknowledged.empty());
    for (const Acknowledged& a : acknowledged) {
      auto e = store_->ReadAt(a.position);
      ASSERT_TRUE(e.ok()) << "acknowledged at " << a.position << ", lost with the unsynced "
                          << dropped << " bytes: " << e.status().ToString();
      ASSERT_EQ(e->id, a.id) << "at position " << a.position;
    }
    auto report = store_->Verify();
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->intact) << report->reason;
  }
}

TEST_F(GroupCommitTest, FailedSyncIsUnavailableAndNothingIsAcknowledgedAfter) {
  auto ok = MustAppend(OneEvent("case/A", ExpectedVersion::Any(), "kept"));
  fs_->fail_wal_sync = true;
  auto failed = store_->Append(OneEvent("case/A", ExpectedVersion::Any(), "unsure"));
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable) << failed.status().ToString();
  fs_->fail_wal_sync = false;
  // The store stays refusing: it cannot know what reached the disk.
  EXPECT_EQ(store_->Append(OneEvent("case/A", ExpectedVersion::Any())).status().code(),
            StatusCode::kUnavailable);
  // Reads still work.
  auto events = store_->ReadAll(0, 10);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 1u);
  std::size_t held = 0;  // "unsure" may have reached the disk, or not
  ASSERT_NO_FATAL_FAILURE(ExpectReopenedFirst("kept", &held));
  (void)ok;
}

// A repeat of an id in the same group as its first append (a client's retry
// under one Idempotency-Key, queued while the disk stalled) is answered from
// the group's own writes; when the group's write fails, the repeat fails too.
// It used to be acknowledged at a position the failed write never made durable.
TEST_F(GroupCommitTest, ARepeatInAFailedGroupIsNotAcknowledged) {
  fs_->sync_delay_us = 200000;
  const int before = fs_->wal_syncs.load();
  std::promise<Result<AppendResult>> blocker, first, repeat;
  store_->AppendAsync(OneEvent("case/B", ExpectedVersion::Any(), "blocker"),
                      [&](Result<AppendResult> r) {
                        // On the committer, before it takes the next group:
                        // the disk goes bad after the blocker's group.
                        fs_->fail_wal_sync = true;
                        blocker.set_value(std::move(r));
                      });
  while (fs_->wal_syncs.load() == before) std::this_thread::yield();  // the blocker syncs
  // Queued while it syncs: one group after it.
  store_->AppendAsync(OneEvent("case/A", ExpectedVersion::Any(), "same-id"),
                      [&](Result<AppendResult> r) { first.set_value(std::move(r)); });
  store_->AppendAsync(OneEvent("case/A", ExpectedVersion::Any(), "same-id"),
                      [&](Result<AppendResult> r) { repeat.set_value(std::move(r)); });
  const auto b = blocker.get_future().get();
  const auto f = first.get_future().get();
  const auto r = repeat.get_future().get();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(f.status().code(), StatusCode::kUnavailable) << f.status().ToString();
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable)
      << (r.ok() ? "acknowledged at position " + std::to_string(r->last_position) +
                       ", which the failed write never made durable"
                 : r.status().ToString());
  EXPECT_EQ(store_->Head().position, 1u);
  fs_->fail_wal_sync = false;
  fs_->sync_delay_us = 0;
  std::size_t held = 0;  // "same-id" may have reached the disk, or not
  ASSERT_NO_FATAL_FAILURE(ExpectReopenedFirst("blocker", &held));
}

// A full disk: every write of the store's files fails. Appends are refused
// (kUnavailable) as after a failed fsync, reads go on, the store closes, an
// open fails with a status, and reopened with room again the store holds what
// it acknowledged. (RocksDB's diagnostic LOG does not go through this file
// system; InfoLogTest covers it on a file that is always full.)
TEST_F(GroupCommitTest, AFullDiskIsUnavailableNotACrash) {
  MustAppend(OneEvent("case/A", ExpectedVersion::Any(), "kept"));
  fs_->disk_full = true;
  for (int i = 0; i < 3; ++i) {
    auto failed = store_->Append(OneEvent("case/A", ExpectedVersion::Any()));
    EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable) << failed.status().ToString();
  }
  auto events = store_->ReadAll(0, 10);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 1u);
  store_.reset();  // closes on the full disk
  auto refused = EventStore::Open(Options());
  EXPECT_FALSE(refused.ok());
  fs_->disk_full = false;
  std::size_t held = 0;
  ASSERT_NO_FATAL_FAILURE(ExpectReopenedFirst("kept", &held));
  EXPECT_EQ(held, 1u);
}

// A time "as of" which the log is asked must give the same answer whenever
// it is asked again: the store settles it (SettleThrough).
class SettledTimeTest : public GroupCommitTest {
 protected:
  StoreOptions Options() override {
    StoreOptions o = GroupCommitTest::Options();
    o.clock = &clock_;
    return o;
  }
  // The last position recorded at or before `ms`, as a reader of the log
  // finds it.
  Position LastAtOrBefore(std::int64_t ms) {
    auto events = store_->ReadAll(0, 100);
    EXPECT_TRUE(events.ok());
    Position last = 0;
    for (const RecordedEvent& e : *events) {
      if (e.recorded_at_ms <= ms) last = e.position;
    }
    return last;
  }
  static constexpr std::int64_t kNow = 1764000000000;
  ManualClock clock_{kNow};
};

// Asked in the very millisecond of the clock, the answer holds: what is
// appended after is stamped past it, one millisecond ahead of the clock at
// most. Before, it was stamped in that millisecond and joined the answer.
TEST_F(SettledTimeTest, AnAppendAfterASettledTimeIsStampedPastIt) {
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  ASSERT_TRUE(store_->SettleThrough(kNow, std::chrono::seconds(5)).ok());
  const Position answer = LastAtOrBefore(kNow);
  EXPECT_EQ(answer, 1u);
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  EXPECT_EQ(LastAtOrBefore(kNow), answer);
  auto second = store_->ReadAt(2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->recorded_at_ms, kNow + 1);
  // Later appends keep the clock once it has moved past the floor.
  clock_.Advance(10);
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  EXPECT_EQ(store_->ReadAt(3)->recorded_at_ms, kNow + 10);
}

// An append bounded by a stamp is refused at or after it, before it is
// written: a step decided before a deadline passed is not recorded after it.
// A repeat of an append the log holds is still answered as one.
TEST_F(SettledTimeTest, AnAppendStampedAtOrAfterItsBoundWritesNothing) {
  AppendRequest bounded = OneEvent("case/A", ExpectedVersion::Any(), "e1");
  bounded.stamp_before_ms = kNow;
  const auto late = store_->Append(bounded);
  ASSERT_EQ(late.status().code(), StatusCode::kConflict);
  EXPECT_NE(late.status().message().find("not before"), std::string::npos)
      << late.status().message();
  EXPECT_EQ(store_->Head().position, 0u);
  bounded.stamp_before_ms = kNow + 1;
  EXPECT_EQ(MustAppend(bounded).recorded_at_ms, kNow);
  clock_.Advance(5);
  bounded.stamp_before_ms = kNow + 1;
  EXPECT_TRUE(MustAppend(bounded).deduplicated);
  EXPECT_EQ(store_->Head().position, 1u);
}

// A group stamped at or before the time but not yet written (its fsync under
// way) is waited for, so that the answer includes it; a short wait that
// ends first is unavailable, not a partial answer.
TEST_F(SettledTimeTest, AGroupStampedBeforeTheTimeIsWaitedFor) {
  const int before = fs_->wal_syncs.load();
  fs_->hold_wal_syncs_after = before;
  std::promise<Result<AppendResult>> done;
  store_->AppendAsync(OneEvent("case/A", ExpectedVersion::Any()),
                      [&](Result<AppendResult> r) { done.set_value(std::move(r)); });
  while (fs_->wal_syncs.load() == before) std::this_thread::yield();  // stamped, syncing
  EXPECT_EQ(store_->Head().position, 0u);
  const Status hurried = store_->SettleThrough(kNow, std::chrono::milliseconds(1));
  EXPECT_EQ(hurried.code(), StatusCode::kUnavailable) << hurried.ToString();
  // The sync ends while a longer settle waits for it.
  std::thread release([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fs_->hold_wal_syncs_after = -1;
  });
  const Status settled = store_->SettleThrough(kNow, std::chrono::seconds(10));
  release.join();
  ASSERT_TRUE(settled.ok()) << settled.ToString();
  EXPECT_EQ(store_->Head().position, 1u) << "settled before the group stamped in it was written";
  EXPECT_EQ(LastAtOrBefore(kNow), 1u);
  ASSERT_TRUE(done.get_future().get().ok());
}

// Stamps never decrease, also past a group that wrote nothing (a repeat):
// the stamps of groups in flight stay in order for SettleThrough, which
// looks at the oldest. A clock stepped back after such a group stamped the
// next one earlier (a white-box review, session 26), and a time settled
// between the two could change its answer once the later group published.
TEST_F(SettledTimeTest, AStampAfterAGroupThatWroteNothingIsNotEarlier) {
  MustAppend(OneEvent("case/A", ExpectedVersion::Any(), "x"));
  clock_.Set(kNow + 100);
  MustAppend(OneEvent("case/A", ExpectedVersion::Any(), "x"));  // a repeat: writes nothing
  clock_.Set(kNow + 50);                                        // the clock steps back
  auto b = MustAppend(OneEvent("case/B", ExpectedVersion::Any()));
  EXPECT_EQ(store_->ReadAt(b.last_position)->recorded_at_ms, kNow + 100);
}

// A time settled keeps its answer after a restart whose clock stepped back
// (review 106: the floor was the process's, and the first append after the
// restart was stamped at the log's last stamp, into the settled time).
TEST_F(SettledTimeTest, ASettledTimeKeepsItsAnswerAcrossARestartWithTheClockBack) {
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  ASSERT_TRUE(store_->SettleThrough(kNow, std::chrono::seconds(5)).ok());
  EXPECT_EQ(LastAtOrBefore(kNow), 1u);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  clock_.Set(kNow - 500);
  const AppendResult after = MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  EXPECT_GT(store_->ReadAt(after.first_position)->recorded_at_ms, kNow);
  EXPECT_EQ(LastAtOrBefore(kNow), 1u);
  // Made durable a second ahead at most.
  EXPECT_LE(store_->ReadAt(after.first_position)->recorded_at_ms, kNow + 1000);
}

// A time before the log's last event needs no floor written: a restart
// stamps no earlier than that event (review 108: an auditor stepping
// through a past month fsync'd the floor at each step). One after it does.
TEST_F(SettledTimeTest, ATimeBeforeTheLogsLastEventWritesNoFloor) {
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  clock_.Set(kNow + 100);
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  const std::string settled = Options().path + "/SETTLED";
  ASSERT_TRUE(store_->SettleThrough(kNow + 50, std::chrono::seconds(5)).ok());
  EXPECT_EQ(std::filesystem::file_size(settled), 0u);
  ASSERT_TRUE(store_->SettleThrough(kNow + 100, std::chrono::seconds(5)).ok());
  EXPECT_EQ(std::filesystem::file_size(settled), 16u);
  // Both answers hold across a restart with the clock back.
  ASSERT_NO_FATAL_FAILURE(Reopen());
  clock_.Set(kNow);
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  EXPECT_EQ(LastAtOrBefore(kNow + 50), 1u);
  EXPECT_EQ(LastAtOrBefore(kNow + 100), 2u);
}

// The floor made durable is a second past the time asked at most, whatever
// the clock read: a clock read a year ahead once, during a question about
// an earlier time, stamped every append after the next restart a year ahead
// (review 107).
TEST_F(SettledTimeTest, AClockReadAheadDuringASettleIsNotKeptAcrossARestart) {
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  constexpr std::int64_t kYear = 365LL * 24 * 3600 * 1000;
  clock_.Set(kNow + kYear);
  ASSERT_TRUE(store_->SettleThrough(kNow + 10, std::chrono::seconds(5)).ok());
  clock_.Set(kNow + 20);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  const AppendResult after = MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  const std::int64_t stamped = store_->ReadAt(after.first_position)->recorded_at_ms;
  EXPECT_GT(stamped, kNow + 10);
  EXPECT_LE(stamped, kNow + 11 + 1000);
}

// A clock past the year 9999 settles a time before it and keeps it across a
// restart (the floor it wrote read back as none), and cannot settle the last
// millisecond an event may carry (every append after was refused, the clock
// right again or not): review 107.
TEST_F(SettledTimeTest, AClockPastTheYear9999SettlesWhatItCanAndNoMore) {
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  clock_.Set(kLastFormattableMs + 5);
  ASSERT_TRUE(store_->SettleThrough(kNow + 100, std::chrono::seconds(5)).ok());
  EXPECT_EQ(store_->SettleThrough(kLastFormattableMs, std::chrono::seconds(5)).code(),
            StatusCode::kUnavailable);
  clock_.Set(kNow + 50);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  const AppendResult after = MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  EXPECT_GT(store_->ReadAt(after.first_position)->recorded_at_ms, kNow + 100);
  EXPECT_EQ(LastAtOrBefore(kNow + 100), 1u);
}

// A clock past the year 9999 writes nothing: such a time would be read back
// as damage (review 106), and once it reads right again appends go on.
TEST_F(SettledTimeTest, AClockPastTheYear9999WritesNothing) {
  clock_.Set(kLastFormattableMs + 1);
  const auto refused = store_->Append(OneEvent("case/A", ExpectedVersion::Any(), "a"));
  ASSERT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("outside the years 0000 to 9999"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(store_->Head().position, 0u);
  clock_.Set(kLastFormattableMs);
  EXPECT_EQ(MustAppend(OneEvent("case/A", ExpectedVersion::Any(), "a")).recorded_at_ms,
            kLastFormattableMs);
  ASSERT_TRUE(store_->ReadAt(1).ok());
}

TEST_F(SettledTimeTest, ATimeAfterNowIsRefused) {
  EXPECT_EQ(store_->SettleThrough(kNow + 1, std::chrono::seconds(1)).code(),
            StatusCode::kInvalidArgument);
  MustAppend(OneEvent("case/A", ExpectedVersion::Any()));
  EXPECT_EQ(store_->ReadAt(1)->recorded_at_ms, kNow);  // the floor did not move
}

}  // namespace
}  // namespace casegrid
