#include "engine/deadline_watch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "engine/time_format.h"
#include "tests/support/case_fixture.h"
#include "tests/support/thread_names.h"

namespace casegrid {
namespace {

constexpr std::int64_t kMinute = 60 * 1000;
constexpr std::int64_t kHour = 60 * kMinute;

class DeadlineWatchTest : public testing::CaseTest {
 protected:
  void TearDown() override {
    watches_.clear();  // before the store they subscribe to
    CaseTest::TearDown();
  }

  // A started watch that ticks only when the test calls Tick().
  DeadlineWatch& StartWatch(std::chrono::milliseconds tick = std::chrono::hours(1)) {
    DeadlineWatchOptions options;
    options.tick_interval = tick;
    watches_.push_back(std::make_unique<DeadlineWatch>(service_.get(), &clock_, options));
    Status started = watches_.back()->Start();
    EXPECT_TRUE(started.ok()) << started.ToString();
    return *watches_.back();
  }

  // Waits (a few seconds at most) until `watch` has followed the log to its head.
  void CatchUp(const DeadlineWatch& watch) {
    const Position head = store_->Head().position;
    for (int i = 0; i < 500 && watch.position() < head; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GE(watch.position(), head) << "the watch did not follow the log";
  }

  // Events of `type` about deadline `kind` in the case's stream.
  int Count(const std::string& id, std::string_view type, DeadlineKind kind,
            std::int64_t due_at = -1) {
    auto events = store_->ReadStream(CaseStream(id), 1, kMaxCaseHistory, ReadDirection::kForward);
    EXPECT_TRUE(events.ok()) << events.status().ToString();
    int n = 0;
    for (const RecordedEvent& e : events.ok() ? *events : std::vector<RecordedEvent>{}) {
      if (e.type != type) continue;
      auto data = DecodeEventData(e.type, e.data, StoredEventLimits());
      EXPECT_TRUE(data.ok()) << data.status().ToString();
      if (!data.ok()) continue;
      std::int64_t due = 0;
      DeadlineKind k = DeadlineKind::kAccept;
      if (const auto* m = std::get_if<DeadlineMissed>(&*data)) {
        k = m->deadline;
        due = m->due_at;
      } else if (const auto* a = std::get_if<DeadlineApproaching>(&*data)) {
        k = a->deadline;
        due = a->due_at;
      }
      if (k == kind && (due_at < 0 || due == due_at)) ++n;
    }
    return n;
  }
  // The case's history is its report, its assignment, the system's miss and
  // then `step` (of that type): the miss was recorded before the step.
  void ExpectMissThen(const std::string& id, std::string_view step) {
    auto events = store_->ReadStream(CaseStream(id), 1, 10, ReadDirection::kForward);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), 4u);
    EXPECT_EQ(events->at(2).type, DeadlineMissed::kType);
    EXPECT_EQ(events->at(2).actor, "system");
    EXPECT_EQ(events->at(3).type, step);
  }
  int Missed(const std::string& id, DeadlineKind kind, std::int64_t due_at = -1) {
    return Count(id, DeadlineMissed::kType, kind, due_at);
  }
  int Warned(const std::string& id, DeadlineKind kind, std::int64_t due_at = -1) {
    return Count(id, DeadlineApproaching::kType, kind, due_at);
  }

  // Past `due`, the case's accept deadline is missed once, found again when
  // asked again, and the case's steps go on.
  void ExpectTheMissWrittenOnceAndTheStepsGoOn(const std::string& id, std::int64_t due) {
    clock_.Set(due + kMinute);
    const WriteResult missed = Must(service_->RecordDeadlineMissed(id, DeadlineKind::kAccept, due));
    EXPECT_FALSE(missed.deduplicated);
    const WriteResult again = Must(service_->RecordDeadlineMissed(id, DeadlineKind::kAccept, due));
    EXPECT_TRUE(again.deduplicated);
    EXPECT_EQ(again.position, missed.position);
    EXPECT_EQ(Missed(id, DeadlineKind::kAccept, due), 1);
    EXPECT_TRUE(Load(id).Deadline(DeadlineKind::kAccept)->missed);
    Must(Act(id, "note", R"({"text":"the steps go on"})"));
  }

  std::int64_t Due(const std::string& id, DeadlineKind kind) {
    const CaseState state = Load(id);
    const CaseDeadline* d = state.Deadline(kind);
    EXPECT_NE(d, nullptr);
    return d ? d->due_at : 0;
  }

  std::vector<std::unique_ptr<DeadlineWatch>> watches_;
};

TEST_F(DeadlineWatchTest, UnacceptedCaseIsWarnedThenMissedOnce) {
  const std::string id = NewCase();
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  DeadlineWatch& watch = StartWatch();
  EXPECT_EQ(watch.open_deadlines(), 2u);  // accept and first contact

  clock_.Set(due - 5 * kMinute - 1);
  watch.Tick();
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept), 0);

  clock_.Set(due - 5 * kMinute);
  watch.Tick();
  watch.Tick();
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept, due), 1);
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 0);
  EXPECT_TRUE(Load(id).Deadline(DeadlineKind::kAccept)->warned);

  clock_.Set(due);
  watch.Tick();
  clock_.Advance(kMinute);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept, due), 1);
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept), 1);
  EXPECT_TRUE(Load(id).Deadline(DeadlineKind::kAccept)->missed);
  EXPECT_EQ(Missed(id, DeadlineKind::kFirstContact), 0);
  EXPECT_EQ(watch.open_deadlines(), 1u);  // first contact is still ahead
}

// A case at kMaxCaseEvents takes only the misses of deadlines set before
// (docs/cases.md): its deadlines are not warned of, by the watch or by the
// service, and are still missed once.
// Loaded in the background (serve: a start waited for every case to be
// folded before it listened; black-box probe 85), the watch knows every
// case once loaded, and those reported while it loaded, and misses each
// deadline once.
TEST_F(DeadlineWatchTest, CasesLoadedInTheBackgroundAreEachMissedOnce) {
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(NewCase());
  DeadlineWatchOptions options;
  options.tick_interval = std::chrono::hours(1);
  options.page_size = 7;  // several pages of streams
  options.load_in_background = true;
  watches_.push_back(std::make_unique<DeadlineWatch>(service_.get(), &clock_, options));
  DeadlineWatch& watch = *watches_.back();
  ASSERT_TRUE(watch.Start().ok());
  ids.push_back(NewCase());  // while it may still load
  CatchUp(watch);
  EXPECT_TRUE(watch.loaded());
  EXPECT_EQ(watch.open_deadlines(), 2 * ids.size());  // accept and first contact each
  clock_.Set(Due(ids[0], DeadlineKind::kAccept));
  watch.Tick();
  watch.Tick();
  for (const std::string& id : ids) EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 1) << id;
}

TEST_F(DeadlineWatchTest, AFullCaseIsNotWarnedButStillMissedOnce) {
  const std::string id = NewCase();
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  Must(service_->Act("officer-7", id, "note", R"({"text":"n"})", ""));
  const auto read =
      store_->ReadStream(CaseStream(id), Load(id).version, 1, ReadDirection::kForward);
  ASSERT_TRUE(read.ok() && read->size() == 1);
  ASSERT_NO_FATAL_FAILURE(
      testing::AppendCopies(*store_, read->front(), Load(id).version, kMaxCaseEvents));
  ASSERT_EQ(Load(id).version, kMaxCaseEvents);
  const auto refused = service_->RecordDeadlineApproaching(id, DeadlineKind::kAccept, due);
  ASSERT_EQ(refused.status().code(), StatusCode::kConflict) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("is not warned of"), std::string::npos)
      << refused.status().message();

  DeadlineWatch& watch = StartWatch();
  clock_.Set(due - 5 * kMinute);
  watch.Tick();
  watch.Tick();
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept), 0);
  clock_.Set(due);
  watch.Tick();
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept, due), 1);
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept), 0);
  EXPECT_EQ(Load(id).version, kMaxCaseEvents + 1);
}

TEST_F(DeadlineWatchTest, AcceptedCaseGetsNoAcceptEvents) {
  DeadlineWatch& watch = StartWatch();
  const std::string id = CaseInProgress();
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  CatchUp(watch);
  for (std::int64_t t : {due - 5 * kMinute, due, due + kHour}) {
    clock_.Set(t);
    watch.Tick();
  }
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept), 0);
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 0);
}

// A closed case owes nothing: one a raw import closed with its deadlines
// open is neither warned of nor missed, by the watch or the service
// (black-box probe 79: its first contact was warned of and missed).
TEST_F(DeadlineWatchTest, AClosedCaseIsNeitherWarnedOfNorMissed) {
  const std::string id = NewCase();
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  AppendRequest closed{CaseStream(id), ExpectedVersion::Exact(1), "officer-7", {}};
  closed.events.push_back({"", "CaseClosed", "{}"});
  ASSERT_TRUE(store_->Append(std::move(closed)).ok());
  EXPECT_EQ(service_->RecordDeadlineMissed(id, DeadlineKind::kAccept, due).status().code(),
            StatusCode::kConflict);
  DeadlineWatch& watch = StartWatch();
  EXPECT_EQ(watch.open_deadlines(), 0u);
  for (std::int64_t t : {due - 5 * kMinute, due, due + 48 * kHour}) {
    clock_.Set(t);
    watch.Tick();
  }
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept) + Missed(id, DeadlineKind::kAccept), 0);
  EXPECT_EQ(Warned(id, DeadlineKind::kFirstContact) + Missed(id, DeadlineKind::kFirstContact), 0);
}

TEST_F(DeadlineWatchTest, DeadlineAlreadyPastAtStartIsMissedWithoutALateWarning) {
  const std::string id = NewCase();
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  clock_.Set(due + kHour);
  DeadlineWatch& watch = StartWatch();
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept, due), 1);
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept), 0);
}

TEST_F(DeadlineWatchTest, MissedDeadlineIsWrittenOnceAcrossARestart) {
  const std::string id = NewCase();
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  clock_.Set(due + 1);
  StartWatch().Tick();
  ASSERT_EQ(Missed(id, DeadlineKind::kAccept), 1);
  watches_.clear();

  // A new process: a new service and watch on the same store.
  service_.reset();
  OpenService();
  DeadlineWatch& restarted = StartWatch();
  EXPECT_EQ(restarted.open_deadlines(), 1u);  // only first contact is open
  restarted.Tick();
  clock_.Advance(kMinute);
  restarted.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 1);
}

TEST_F(DeadlineWatchTest, TwoWatchesRacingWriteEachDeadlineOnce) {
  const std::string id = NewCase();
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  DeadlineWatch& a = StartWatch();
  DeadlineWatch& b = StartWatch();
  clock_.Set(due - kMinute);
  std::thread ta([&] { a.Tick(); });
  std::thread tb([&] { b.Tick(); });
  ta.join();
  tb.join();
  clock_.Set(due);
  ta = std::thread([&] { a.Tick(); });
  tb = std::thread([&] { b.Tick(); });
  ta.join();
  tb.join();
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept), 1);
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 1);
}

TEST_F(DeadlineWatchTest, CallbackDeadlineStartsAtResolve) {
  DeadlineWatch& watch = StartWatch();
  const std::string id = CaseInProgress();
  clock_.Advance(kHour);
  Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"pipe fixed"})"));
  const std::int64_t due = Due(id, DeadlineKind::kCallback);
  EXPECT_EQ(due, clock_.NowMillis() + 24 * kHour);
  CatchUp(watch);

  clock_.Set(due - 2 * kHour);
  watch.Tick();
  EXPECT_EQ(Warned(id, DeadlineKind::kCallback, due), 1);
  clock_.Set(due + kMinute);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kCallback, due), 1);
  // Resolving met the other deadlines: nothing else was written.
  EXPECT_EQ(Missed(id, DeadlineKind::kFirstContact), 0);
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 0);
  EXPECT_EQ(watch.open_deadlines(), 0u);
}

TEST_F(DeadlineWatchTest, CompletedCallbackIsNotMissed) {
  DeadlineWatch& watch = StartWatch();
  const std::string id = CaseInProgress();
  Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"pipe fixed"})"));
  const std::int64_t due = Due(id, DeadlineKind::kCallback);
  Must(Act(
      id, "complete-callback",
      R"({"speed":"satisfied","attitude":"satisfied","outcome":"satisfied","comment":"quick"})"));
  CatchUp(watch);
  clock_.Set(due + kHour);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kCallback), 0);
  EXPECT_EQ(watch.open_deadlines(), 0u);
}

TEST_F(DeadlineWatchTest, DeadlineMovedByTriageFiresAtTheNewTimeOnly) {
  DeadlineWatch& watch = StartWatch();
  const std::string id = NewCase("normal");
  const std::int64_t old_due = Due(id, DeadlineKind::kAccept);
  Must(Act(id, "triage", R"({"priority":"urgent"})"));
  const std::int64_t new_due = Due(id, DeadlineKind::kAccept);
  ASSERT_EQ(new_due, testing::kStartMs + 10 * kMinute);
  ASSERT_LT(new_due, old_due);
  CatchUp(watch);

  clock_.Set(new_due - 5 * kMinute);
  watch.Tick();
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept, new_due), 1);
  clock_.Set(new_due);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept, new_due), 1);
  for (std::int64_t t : {old_due - 5 * kMinute, old_due, old_due + kHour}) {
    clock_.Set(t);
    watch.Tick();
  }
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept), 1);
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 1);
}

// A deadline moved away from a due time it was warned of, then back to it,
// is warned still: the log holds that warning, and a second one would have
// the same key (case, deadline, due time). It read as not warned, and the
// watch asked for the warning every second until the due time, each time
// answered with the first (white-box review, session 25).
TEST_F(DeadlineWatchTest, ADeadlineMovedBackToAWarnedDueTimeIsWarnedStill) {
  DeadlineWatch& watch = StartWatch();
  const std::string id = NewCase("urgent");
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  CatchUp(watch);
  clock_.Set(due - 4 * kMinute);
  watch.Tick();
  ASSERT_EQ(Warned(id, DeadlineKind::kAccept, due), 1);
  Must(Act(id, "triage", R"({"priority":"low"})"));
  EXPECT_FALSE(Load(id).Deadline(DeadlineKind::kAccept)->warned);
  Must(Act(id, "triage", R"({"priority":"urgent"})"));
  ASSERT_EQ(Due(id, DeadlineKind::kAccept), due);
  EXPECT_TRUE(Load(id).Deadline(DeadlineKind::kAccept)->warned);
  CatchUp(watch);
  watch.Tick();
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept), 1);
  clock_.Set(due);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept, due), 1);
}

TEST_F(DeadlineWatchTest, DeadlineMovedLaterAfterItsWarningIsWarnedAgainAndMissedOnlyLater) {
  DeadlineWatch& watch = StartWatch();
  const std::string id = NewCase("urgent");
  const std::int64_t old_due = Due(id, DeadlineKind::kAccept);
  CatchUp(watch);
  clock_.Set(old_due - 4 * kMinute);
  watch.Tick();
  ASSERT_EQ(Warned(id, DeadlineKind::kAccept, old_due), 1);

  Must(Act(id, "triage", R"({"priority":"low"})"));
  const std::int64_t new_due = Due(id, DeadlineKind::kAccept);
  ASSERT_GT(new_due, old_due);
  CatchUp(watch);
  clock_.Set(old_due + kMinute);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 0);

  clock_.Set(new_due - 5 * kMinute);
  watch.Tick();
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept, new_due), 1);
  clock_.Set(new_due);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept, new_due), 1);
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 1);
}

TEST_F(DeadlineWatchTest, ATriageAfterTheAcceptDeadlineWasMissedMovesNothingAndMissesNoMore) {
  DeadlineWatch& watch = StartWatch();
  const std::string id = NewCase("normal");
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  CatchUp(watch);
  clock_.Set(due + kMinute);
  watch.Tick();
  ASSERT_EQ(Missed(id, DeadlineKind::kAccept, due), 1);
  // Urgent now: its window (10 minutes) would put the deadline earlier, but
  // the miss is on record as it was.
  Must(Act(id, "triage", R"({"priority":"urgent"})"));
  EXPECT_EQ(Due(id, DeadlineKind::kAccept), due);
  CatchUp(watch);
  clock_.Set(due + kHour);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 1);
  EXPECT_TRUE(Load(id).Deadline(DeadlineKind::kAccept)->missed);
}

// A step that meets a deadline already passed, before the watch has
// recorded its miss (between its ticks, or while no server ran): the miss
// is recorded first, by the system under the watch's own key, and the
// watch does not record it again. It used to be erased by the step.
TEST_F(DeadlineWatchTest, AStepAfterAPassedDeadlineRecordsItsMissFirst) {
  DeadlineWatch& watch = StartWatch();
  const std::string id = NewCase("normal");
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  clock_.Set(due + kMinute);  // passed; the watch has not ticked
  const WriteResult accepted = Must(Act(id, "accept"));
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept, due), 1);
  ExpectMissThen(id, CaseAccepted::kType);
  EXPECT_EQ(accepted.version, 4u);
  const CaseState state = Load(id);
  EXPECT_TRUE(state.Deadline(DeadlineKind::kAccept)->missed);
  EXPECT_EQ(state.status, CaseStatus::kInProgress);
  CatchUp(watch);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 1);
  // A step that meets no passed deadline records nothing first.
  const WriteResult noted = Must(Act(id, "note", R"({"text":"on my way"})"));
  EXPECT_EQ(noted.version, 5u);
}

// Any step, not only one that meets, moves or drops the deadline: an
// assignment a moment after the accept deadline passed came before the
// watch's miss in the log, so the miss (and its alert) went to the new
// assignee, who had had no chance to accept (white-box review, session 24's
// list; fixed in session 25).
TEST_F(DeadlineWatchTest, AReassignmentAfterAPassedDeadlineComesAfterItsMiss) {
  PutOnGrid("officer-9");
  const std::string id = NewCase("normal");
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  clock_.Set(due + 500);  // half a second late; no watch has ticked
  const WriteResult reassigned = Must(Act(id, "assign", R"({"assignee":"officer-9"})"));
  ExpectMissThen(id, CaseAssigned::kType);
  EXPECT_EQ(reassigned.version, 4u);
  // Missed while officer-7 held the case, and still open for officer-9.
  const CaseState state = Load(id);
  EXPECT_TRUE(state.Deadline(DeadlineKind::kAccept)->missed);
  EXPECT_EQ(state.assignee, "officer-9");
}

// A step decided a moment before a due time and written after it (a long
// group commit, an fsync that stalled): the store refuses to stamp it at or
// after the due time, and it is decided again with the miss recorded first.
// It used to be written after the due time with no miss before it, the
// deadline met on time (white-box review 98).
TEST_F(DeadlineWatchTest, AStepDecidedBeforeADueTimeAndWrittenAfterItComesAfterItsMiss) {
  const std::string id = NewCase("urgent");
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  clock_.Set(due - 1);
  auto pending = service_->BeginAct("officer-7", id, "accept", "{}", "");
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  clock_.Set(due + 1500);  // the write waited past the due time
  auto accepted = service_->Commit(std::move(*pending));
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  ExpectMissThen(id, CaseAccepted::kType);
  EXPECT_GE(store_->ReadAt(accepted->position)->recorded_at_ms, due);
  EXPECT_EQ(accepted->version, 4u);
  EXPECT_TRUE(Load(id).Deadline(DeadlineKind::kAccept)->missed);
  // Written in time, the same step meets the deadline with no miss.
  const std::string in_time = NewCase("urgent");
  Must(Act(in_time, "assign", R"({"assignee":"officer-7"})"));
  clock_.Set(Due(in_time, DeadlineKind::kAccept) - 1);
  auto begun = service_->BeginAct("officer-7", in_time, "accept", "{}", "");
  ASSERT_TRUE(begun.ok());
  auto met = service_->Commit(std::move(*begun));
  ASSERT_TRUE(met.ok()) << met.status().ToString();
  EXPECT_EQ(met->version, 3u);
  EXPECT_FALSE(Load(in_time).Deadline(DeadlineKind::kAccept)->missed);
}

// The store's stamps may run ahead of the clock: a settled time (an
// auditor's "as of now") puts the next stamp a millisecond past it, and a
// clock stepped back leaves stamps where they were. A step is decided at the
// time the store can stamp it, so a deadline passed by then is recorded
// missed first; decided on the clock, it was refused 17 times and answered
// 409, and no miss was written (review 99).
TEST_F(DeadlineWatchTest, AStepIsDecidedAtTheTimeTheStoreCanStampIt) {
  const std::string id = NewCase("urgent");
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  clock_.Set(due - 1);
  ASSERT_TRUE(store_->SettleThrough(due - 1, std::chrono::seconds(5)).ok());
  EXPECT_EQ(store_->StampFloor(), due);
  // A warning is of what is to come: none at or after the due time.
  auto warned = service_->RecordDeadlineApproaching(id, DeadlineKind::kAccept, due);
  EXPECT_EQ(warned.status().code(), StatusCode::kConflict);
  EXPECT_NE(warned.status().message().find("is due already"), std::string::npos)
      << warned.status().message();
  const WriteResult accepted = Must(Act(id, "accept"));
  ExpectMissThen(id, CaseAccepted::kType);
  EXPECT_EQ(accepted.version, 4u);

  // A clock stepped back past a due time: stamps stay where they were.
  const std::string other = NewCase("urgent");
  Must(Act(other, "assign", R"({"assignee":"officer-7"})"));
  const std::int64_t other_due = Due(other, DeadlineKind::kAccept);
  clock_.Set(other_due + 60000);
  Must(Act(id, "note", R"({"text":"stamped a minute past the other's due time"})"));
  clock_.Set(other_due - 60000);
  const WriteResult noted = Must(Act(other, "note", R"({"text":"after the clock stepped back"})"));
  EXPECT_EQ(Missed(other, DeadlineKind::kAccept, other_due), 1);
  EXPECT_EQ(noted.version, 4u);
}

// The watch reckons at that time too: behind a clock stepped back, a
// deadline the store can no longer stamp a step before is missed, not
// warned of (review 103: its warning was refused every tick, "is due
// already", and no miss was written until the clock caught up).
TEST_F(DeadlineWatchTest, TheWatchReckonsAtTheTimeTheStoreCanStampToo) {
  const std::string id = NewCase("urgent");
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  DeadlineWatch& watch = StartWatch();
  const std::string other = NewCase();
  clock_.Set(due + kMinute);
  Must(Act(other, "note", R"({"text":"stamped a minute past the due time"})"));
  clock_.Set(due - 2 * kMinute);  // stepped back, within the warning's lead
  CatchUp(watch);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept, due), 1);
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept), 0);
}

// A raw append that took the event id of a miss to come (any id may be
// sent) leaves the miss to another key derived from the first: it is
// written once, found again when asked again, and the case's steps go on
// (review 103: the miss was refused for good, and every step was 409).
TEST_F(DeadlineWatchTest, AMissWhoseEventIdARawAppendTookIsWrittenUnderAnotherKey) {
  const std::string id = NewCase("urgent");
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  const std::string key = id + "/accept/" + std::to_string(due);
  AppendRequest r{CaseStream(id), ExpectedVersion::Exact(1), "import", {}};
  r.events.push_back({IdempotentEventId("system", key, 0), "NoteAdded", R"({"text":"imported"})"});
  ASSERT_TRUE(store_->Append(std::move(r)).ok());
  ExpectTheMissWrittenOnceAndTheStepsGoOn(id, due);
}

// A raw append may put under that id a fact of the same type but of another
// deadline: it is another request's, not this miss (review 112: it was taken
// for the miss, which was then never written, and every step was 409 for
// good). A warning's key likewise.
TEST_F(DeadlineWatchTest, AFactOfAnotherDeadlineUnderAMisssIdIsNotTakenForIt) {
  const std::string id = NewCase("urgent");
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  const std::string key = id + "/accept/" + std::to_string(due);
  AppendRequest r{CaseStream(id), ExpectedVersion::Exact(1), "import", {}};
  r.events.push_back({IdempotentEventId("system", key, 0), "DeadlineMissed",
                      R"({"deadline":"mediation","due_at":"2026-11-01T00:00:00.000Z"})"});
  r.events.push_back({IdempotentEventId("system", "warn|" + key, 0), "DeadlineApproaching",
                      R"({"deadline":"accept","due_at":"2026-11-01T00:00:00.000Z"})"});
  ASSERT_TRUE(store_->Append(std::move(r)).ok());
  clock_.Set(due - kMinute);
  const WriteResult warned =
      Must(service_->RecordDeadlineApproaching(id, DeadlineKind::kAccept, due));
  EXPECT_FALSE(warned.deduplicated);
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept, due), 1);
  ExpectTheMissWrittenOnceAndTheStepsGoOn(id, due);
}

// An intake too: its due times are reckoned from the time the store stamps
// it, not from a clock stepped back behind the stamps.
TEST_F(DeadlineWatchTest, AnIntakeIsDecidedAtTheTimeTheStoreCanStampIt) {
  const std::string first = NewCase("urgent");
  const CaseState before = Load(first);
  const std::int64_t window = Due(first, DeadlineKind::kAccept) - before.reported_at;
  clock_.Set(before.reported_at - kHour);
  const std::string id = NewCase("urgent");
  const CaseState after = Load(id);
  EXPECT_GE(after.reported_at, before.reported_at);
  EXPECT_EQ(Due(id, DeadlineKind::kAccept) - after.reported_at, window);
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 0);
  EXPECT_LT(first, id);  // the case ids stay in order
  // Its `occurred_at` is bounded by that time too: ten minutes before the
  // report's stamp is no incident to come (review 102: it was refused
  // against the clock stepped back).
  std::string body = testing::ReportBody();
  body.insert(body.size() - 1,
              R"(,"occurred_at":")" + FormatTimestamp(after.reported_at - 10 * kMinute) + "\"");
  EXPECT_TRUE(service_->Report("operator-1", body, "").ok());
}

// A client that pinned the version it read still acts when the miss is
// recorded first: its version is the case's before that miss.
TEST_F(DeadlineWatchTest, APinnedVersionHoldsWhenAMissIsRecordedFirst) {
  const std::string id = NewCase("normal");
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  clock_.Set(due + kMinute);
  const WriteResult accepted = Must(Act(id, "accept", R"({"expected_version":2})"));
  EXPECT_EQ(accepted.version, 4u);
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept, due), 1);
  // A version older than that is still refused.
  const std::string other = NewCase("normal");
  Must(Act(other, "assign", R"({"assignee":"officer-7"})"));
  EXPECT_EQ(Act(other, "accept", R"({"expected_version":1})").status().code(),
            StatusCode::kConflict);
}

// The deadline watch's own facts, written between a person's read and their
// step, do not make a pinned expected_version stale: a warning five minutes
// before the accept deadline made the officer's accept of the version they
// read a conflict. A person's step in between still does.
TEST_F(DeadlineWatchTest, ThePinnedVersionOfAStepIsNotStaleForTheWatchsOwnFacts) {
  DeadlineWatch& watch = StartWatch();
  const std::string id = NewCase("normal");
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  const StreamVersion read = Load(id).version;  // what the officer read
  CatchUp(watch);
  clock_.Set(due - 4 * kMinute);
  watch.Tick();
  ASSERT_EQ(Warned(id, DeadlineKind::kAccept, due), 1);
  ASSERT_EQ(Load(id).version, read + 1);
  const WriteResult accepted =
      Must(Act(id, "accept", R"({"expected_version":)" + std::to_string(read) + "}"));
  EXPECT_EQ(accepted.version, read + 2);
  // A person's step since the pin: a conflict, as ever.
  const std::string other = NewCase("normal");
  Must(Act(other, "assign", R"({"assignee":"officer-7"})"));
  const StreamVersion seen = Load(other).version;
  Must(Act(other, "note", R"({"text":"called the reporter"})"));
  EXPECT_EQ(
      Act(other, "accept", R"({"expected_version":)" + std::to_string(seen) + "}").status().code(),
      StatusCode::kConflict);
}

// Only the watch's own facts are passed over: the same warning appended by
// someone else (an admin's raw append) makes a pinned version stale, as any
// other's event does (mutation testing, review 116: a mutant that passed
// over everyone's warnings and misses went unnoticed).
TEST_F(DeadlineWatchTest, AWarningAppendedByAnotherMakesAPinnedVersionStale) {
  const std::string id = NewCase("normal");
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  const StreamVersion read = Load(id).version;
  AppendRequest raw{CaseStream(id), ExpectedVersion::Exact(read), "admin", {}};
  raw.events.push_back({"", "DeadlineApproaching",
                        R"({"deadline":"accept","due_at":")" + FormatTimestamp(due) + R"("})"});
  ASSERT_TRUE(store_->Append(raw).ok());
  EXPECT_EQ(
      Act(id, "accept", R"({"expected_version":)" + std::to_string(read) + "}").status().code(),
      StatusCode::kConflict);
}

// A priority change after the accept deadline passed, before the watch
// recorded its miss: the miss is recorded, and the deadline is not moved
// (docs/cases.md: it moves while it is still to come). It used to move to
// the new window, and the miss was never written.
TEST_F(DeadlineWatchTest, ATriageAfterAPassedDeadlineRecordsItsMissAndMovesNothing) {
  const std::string id = NewCase("high");
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  clock_.Set(due + kMinute);
  Must(Act(id, "triage", R"({"priority":"low"})"));
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept, due), 1);
  EXPECT_EQ(Due(id, DeadlineKind::kAccept), due);
  EXPECT_EQ(Load(id).priority, Priority::kLow);
}

// Through the non-blocking path, a step that must record a miss first says
// it must read (it appends), and writes nothing until begun where it may.
TEST_F(DeadlineWatchTest, AMissRecordedFirstIsNotWrittenFromACachedOnlyBegin) {
  const std::string id = NewCase("normal");
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  clock_.Set(due + kMinute);
  const Position head = store_->Head().position;
  EXPECT_EQ(service_->BeginAct("officer-7", id, "accept", "{}", "", StorageReads::kCachedOnly)
                .status()
                .code(),
            StatusCode::kWouldBlock);
  EXPECT_EQ(store_->Head().position, head);
}

TEST_F(DeadlineWatchTest, APriorityWithTheSameWindowKeepsTheDeadlineAndItsWarning) {
  DeadlineWatch& watch = StartWatch();
  const std::string id = NewCase("normal");
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  CatchUp(watch);
  clock_.Set(due - 5 * kMinute);
  watch.Tick();
  ASSERT_EQ(Warned(id, DeadlineKind::kAccept, due), 1);
  const StreamVersion before = Load(id).version;
  Must(Act(id, "triage", R"({"priority":"low"})"));  // low and normal: both 120 minutes
  EXPECT_EQ(Load(id).version, before + 1);           // the triage alone, no DeadlineSet
  EXPECT_TRUE(Load(id).Deadline(DeadlineKind::kAccept)->warned);
  CatchUp(watch);
  clock_.Set(due);
  watch.Tick();
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept), 1);
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept, due), 1);
}

// The same, for a report stamped a few milliseconds after it was decided, as
// a server's are (its due time counts from the decision): a triage to a
// priority of the same window still moves nothing (mutation testing, review
// 116: with the tests' clock still between the two, a mutant that moved the
// deadline by those milliseconds, and warned of it again, went unnoticed).
TEST_F(DeadlineWatchTest, ATriageOfTheSameWindowMovesNothingOfAReportStampedAfterItsDecision) {
  auto begun =
      service_->BeginReport("operator-1", testing::ReportBody("santai/tongchuan/a03/g12", "normal"),
                            "", StorageReads::kAllowed);
  ASSERT_TRUE(begun.ok()) << begun.status().ToString();
  clock_.Advance(5);
  const std::string id = Must(service_->Commit(std::move(begun).value())).case_id;
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  ASSERT_EQ(due, Load(id).reported_at - 5 + 120 * kMinute);  // from the decision
  const StreamVersion before = Load(id).version;
  Must(Act(id, "triage", R"({"priority":"low"})"));  // low and normal: both 120 minutes
  EXPECT_EQ(Load(id).version, before + 1);           // the triage alone, no DeadlineSet
  EXPECT_EQ(Due(id, DeadlineKind::kAccept), due);
}

TEST_F(DeadlineWatchTest, ACallbackRescheduledAfterItsMissIsWarnedOfAgainAndNotMissedAgain) {
  DeadlineWatch& watch = StartWatch();
  const std::string id = CaseInProgress();
  Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"pipe fixed"})"));
  const std::int64_t due = Due(id, DeadlineKind::kCallback);
  CatchUp(watch);
  clock_.Set(due + kMinute);
  watch.Tick();
  ASSERT_EQ(Missed(id, DeadlineKind::kCallback, due), 1);
  const std::int64_t new_due = clock_.NowMillis() + 24 * kHour;
  Must(Act(id, "schedule-callback", R"({"due_at":")" + FormatTimestamp(new_due) + R"("})"));
  CatchUp(watch);
  EXPECT_EQ(watch.open_deadlines(), 1u);
  clock_.Set(new_due - 2 * kHour);
  watch.Tick();
  EXPECT_EQ(Warned(id, DeadlineKind::kCallback, new_due), 1);
  clock_.Set(new_due + kHour);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kCallback), 1);  // still the one miss
  EXPECT_EQ(watch.open_deadlines(), 0u);
}

// Every due time warned of is remembered, not only the last, and across a
// reopening: a callback warned at A, moved to B and warned there, then moved
// back to A, read as not warned (the watch asked again each second until the
// due time), and so did one rescheduled to B after a reopening erased its
// deadline (review of session 25's first fix).
TEST_F(DeadlineWatchTest, ACallbackMovedBackToAnyDueTimeWarnedOfIsWarnedStill) {
  DeadlineWatch& watch = StartWatch();
  const std::string id = CaseInProgress();
  Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"pipe fixed"})"));
  const std::int64_t a = clock_.NowMillis() + kHour, b = clock_.NowMillis() + 30 * kMinute;
  auto schedule = [&](std::int64_t due) {
    Must(Act(id, "schedule-callback", R"({"due_at":")" + FormatTimestamp(due) + R"("})"));
    CatchUp(watch);
    watch.Tick();  // within the 2-hour lead: warned at once, if not already
  };
  schedule(a);
  schedule(b);
  ASSERT_EQ(Warned(id, DeadlineKind::kCallback, a), 1);
  ASSERT_EQ(Warned(id, DeadlineKind::kCallback, b), 1);
  schedule(a);
  EXPECT_TRUE(Load(id).Deadline(DeadlineKind::kCallback)->warned);
  EXPECT_EQ(Warned(id, DeadlineKind::kCallback), 2);
  Must(Act(id, "reopen", R"({"reason":"the pipe leaks again"})"));
  Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"pipe replaced"})"));
  schedule(b);
  EXPECT_TRUE(Load(id).Deadline(DeadlineKind::kCallback)->warned);
  EXPECT_EQ(Warned(id, DeadlineKind::kCallback), 2);
  clock_.Set(b);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kCallback, b), 1);
}

// An operator's `top -H` tells the log's committer and the watch's two
// threads apart from the rest.
TEST_F(DeadlineWatchTest, ItsThreadsAndTheCommittersAreNamed) {
  auto before = testing::ThreadNames();
  EXPECT_EQ(std::count(before.begin(), before.end(), "cg-watch"), 0);
  StartWatch();
  auto names = testing::ThreadNames();
  EXPECT_EQ(std::count(names.begin(), names.end(), "cg-commit"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "cg-watch"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "cg-tick"), 1);
}

TEST_F(DeadlineWatchTest, PicksUpCasesCreatedAfterStart) {
  DeadlineWatch& watch = StartWatch();
  EXPECT_EQ(watch.open_deadlines(), 0u);
  const std::string id = NewCase();
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  for (int i = 0; i < 500 && watch.open_deadlines() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(watch.open_deadlines(), 2u);
  clock_.Set(due - 5 * kMinute);
  watch.Tick();
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept, due), 1);
}

TEST_F(DeadlineWatchTest, StartAsOfAnEarlierPositionFollowsOnFromThere) {
  const Position before = store_->Head().position;
  const std::string id = NewCase();
  DeadlineWatchOptions options;
  options.tick_interval = std::chrono::hours(1);
  auto& watch =
      *watches_.emplace_back(std::make_unique<DeadlineWatch>(service_.get(), &clock_, options));
  ASSERT_TRUE(watch.Start(before).ok());
  CatchUp(watch);
  EXPECT_EQ(watch.open_deadlines(), 2u);
  clock_.Set(Due(id, DeadlineKind::kAccept));
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 1);
}

TEST_F(DeadlineWatchTest, ItsOwnThreadTicks) {
  const std::string id = NewCase();
  clock_.Set(Due(id, DeadlineKind::kAccept) + 1);
  StartWatch(std::chrono::milliseconds(5));
  for (int i = 0; i < 500 && Missed(id, DeadlineKind::kAccept) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 1);
}

TEST_F(DeadlineWatchTest, StopIsPromptAndTickAfterStopWritesNothing) {
  const std::string id = NewCase();
  DeadlineWatch& watch = StartWatch(std::chrono::hours(1));
  const auto began = std::chrono::steady_clock::now();
  watch.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(2));
  watch.Stop();  // idempotent
  clock_.Set(Due(id, DeadlineKind::kAccept) + 1);
  watch.Tick();
  EXPECT_EQ(Missed(id, DeadlineKind::kAccept), 0);
  EXPECT_EQ(watch.Start().code(), StatusCode::kConflict);
}

TEST_F(DeadlineWatchTest, ServiceWarnsOnceAndNotForAClosedDeadline) {
  const std::string id = NewCase();
  const std::int64_t due = Due(id, DeadlineKind::kAccept);
  auto first = Must(service_->RecordDeadlineApproaching(id, DeadlineKind::kAccept, due));
  auto again = Must(service_->RecordDeadlineApproaching(id, DeadlineKind::kAccept, due));
  EXPECT_TRUE(again.deduplicated);
  EXPECT_EQ(again.position, first.position);
  EXPECT_EQ(Warned(id, DeadlineKind::kAccept), 1);
  // Another due time is another deadline: not open.
  EXPECT_EQ(service_->RecordDeadlineApproaching(id, DeadlineKind::kAccept, due + 1).status().code(),
            StatusCode::kConflict);
  // The warning does not stand in for the miss, nor the miss for a warning.
  clock_.Set(due);
  Must(service_->RecordDeadlineMissed(id, DeadlineKind::kAccept, due));
  const std::int64_t contact = Due(id, DeadlineKind::kFirstContact);
  clock_.Set(contact);
  Must(service_->RecordDeadlineMissed(id, DeadlineKind::kFirstContact, contact));
  EXPECT_EQ(
      service_->RecordDeadlineApproaching(id, DeadlineKind::kFirstContact, contact).status().code(),
      StatusCode::kConflict);
}

}  // namespace
}  // namespace casegrid
