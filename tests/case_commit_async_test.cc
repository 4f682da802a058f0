// CaseService's non-blocking commands (BeginReport / BeginAct, Finish,
// CommitAsync): the same answers and rules as Report and Act, with every
// step after an append handed to the caller's continuation.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "tests/support/case_fixture.h"

namespace casegrid {
namespace {

using testing::ReportBody;

// Work handed over by CommitAsync, run on the test's own thread; records
// which threads handed it over, so the test can tell it never ran inline.
class TestLoop {
 public:
  Continuation Then() {
    return [this](std::function<void()> work) {
      std::lock_guard l(mu_);
      if (std::this_thread::get_id() == owner_) handed_from_owner_ = true;
      queue_.push_back(std::move(work));
      cv_.notify_one();
    };
  }
  // Runs handed-over work until `done` holds a value (or 10 s pass).
  Result<WriteResult> RunUntil(std::optional<Result<WriteResult>>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done) {
      std::unique_lock l(mu_);
      if (!cv_.wait_until(l, deadline, [&] { return !queue_.empty(); })) {
        return Status::Internal("no answer");
      }
      auto work = std::move(queue_.front());
      queue_.pop_front();
      l.unlock();
      ++steps_;
      work();
    }
    return *done;
  }
  int steps() const { return steps_; }
  bool handed_from_owner() const { return handed_from_owner_; }

 private:
  const std::thread::id owner_ = std::this_thread::get_id();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool handed_from_owner_ = false;
  int steps_ = 0;
};

class CaseCommitAsyncTest : public testing::CaseTest {
 protected:
  // With `offload`, the steps through `then` must not read (CommitAsync).
  Result<WriteResult> Commit(Result<PendingWrite> pending, bool offload = false) {
    if (!pending.ok()) return pending.status();
    std::optional<Result<WriteResult>> done;
    Continuation away;
    if (offload) {
      away = [this](std::function<void()> work) {
        ++offloaded_;
        away_.Then()(std::move(work));
      };
    }
    service_->CommitAsync(
        std::move(pending).value(), loop_.Then(),
        [&done](Result<WriteResult> r) { done = std::move(r); }, away);
    // The offloaded work runs on a thread of its own, as on a server's workers.
    std::optional<Result<WriteResult>> stop;
    std::thread worker([&] { (void)away_.RunUntil(stop); });
    auto answer = loop_.RunUntil(done);
    away_.Then()([&stop] { stop = Status::Unavailable("stopped"); });  // on the worker
    worker.join();
    return answer;
  }
  TestLoop loop_;
  TestLoop away_;
  std::atomic<int> offloaded_{0};
};

TEST_F(CaseCommitAsyncTest, IntakeAndActionsAnswerAsTheBlockingOnesDo) {
  auto report = Commit(service_->BeginReport("officer-7", ReportBody(), ""));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->case_id, "C-20261122-000001");
  EXPECT_EQ(report->version, 1u);
  auto assign = Commit(service_->BeginAct("officer-7", report->case_id, "assign",
                                          R"({"assignee":"officer-7"})", ""));
  ASSERT_TRUE(assign.ok()) << assign.status().ToString();
  EXPECT_EQ(assign->version, 2u);
  EXPECT_EQ(Load(report->case_id).status, CaseStatus::kAssigned);
  // What follows an append never ran on the caller's thread inline.
  EXPECT_FALSE(loop_.handed_from_owner());
  EXPECT_EQ(loop_.steps(), 2);
}

TEST_F(CaseCommitAsyncTest, RefusalsComeBeforeAnythingIsAppended) {
  const std::string id = NewCase();
  const Position head = store_->Head().position;
  EXPECT_EQ(service_->BeginReport("o", ReportBody("santai/nowhere"), "").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(service_->BeginAct("officer-7", id, "fly", "{}", "").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(service_->BeginAct("officer-7", id, "close", "{}", "").status().code(),
            StatusCode::kConflict);
  EXPECT_EQ(store_->Head().position, head);
}

TEST_F(CaseCommitAsyncTest, ALostRaceIsDecidedAgainAgainstTheNewState) {
  const std::string id = NewCase();
  auto pending = service_->BeginAct("officer-7", id, "note", R"({"text":"first"})", "");
  ASSERT_TRUE(pending.ok());
  // Someone else writes to the case between the decision and the append.
  Must(Act(id, "note", R"({"text":"second"})"));
  auto written = Commit(std::move(pending));
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(written->version, 3u);
  EXPECT_EQ(Load(id).version, 3u);
  EXPECT_EQ(loop_.steps(), 2);  // the conflict, then the append decided again
}

TEST_F(CaseCommitAsyncTest, APinnedVersionThatLostIsAConflict) {
  const std::string id = NewCase();
  auto pending =
      service_->BeginAct("officer-7", id, "note", R"({"text":"a","expected_version":1})", "");
  ASSERT_TRUE(pending.ok());
  Must(Act(id, "note", R"({"text":"b"})"));
  auto written = Commit(std::move(pending));
  ASSERT_EQ(written.status().code(), StatusCode::kConflict) << written.status().ToString();
  EXPECT_EQ(Load(id).version, 2u);
}

TEST_F(CaseCommitAsyncTest, ARepeatedKeyIsAnsweredWithoutAnAppend) {
  const std::string id = NewCase();
  auto first = Commit(service_->BeginAct("officer-7", id, "note", R"({"text":"a"})", "k1"));
  ASSERT_TRUE(first.ok());
  const Position head = store_->Head().position;
  const int steps = loop_.steps();
  auto again = Commit(service_->BeginAct("officer-7", id, "note", R"({"text":"a"})", "k1"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(again->position, first->position);
  EXPECT_EQ(loop_.steps(), steps);  // answered at once
  EXPECT_EQ(store_->Head().position, head);
  // The key names this case: on another, a conflict.
  const std::string other = NewCase();
  EXPECT_EQ(service_->BeginAct("officer-7", other, "note", R"({"text":"a"})", "k1").status().code(),
            StatusCode::kConflict);
}

// Two requests with one Idempotency-Key, both decided before either is
// written (a client's retry racing its first try): the store writes the
// first and dedupes the second by its event ids. The second gets the first
// answer if it is the same request, a conflict if the key came with another
// body or action; it used to be told its own command had succeeded.
TEST_F(CaseCommitAsyncTest, AKeyReusedAtTheSameTimeIsTheFirstAnswerOrAConflict) {
  PutOnGrid("officer-9");
  const std::string id = CaseInProgress();
  const int notes_before = Load(id).notes;
  auto a = service_->BeginAct("officer-7", id, "note", R"({"text":"first"})", "k1");
  auto same = service_->BeginAct("officer-7", id, "note", R"({"text":"first"})", "k1");
  auto other = service_->BeginAct("officer-7", id, "note", R"({"text":"another"})", "k1");
  auto action = service_->BeginAct("officer-7", id, "dispatch", R"({"officer":"officer-9"})", "k1");
  for (const auto* begun : {&a, &same, &other, &action}) {
    ASSERT_TRUE(begun->ok()) << begun->status().ToString();
  }
  auto first = Commit(std::move(a));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto repeat = Commit(std::move(same));
  ASSERT_TRUE(repeat.ok()) << repeat.status().ToString();
  EXPECT_TRUE(repeat->deduplicated);
  EXPECT_EQ(repeat->position, first->position);
  auto reused = Commit(std::move(other));
  EXPECT_EQ(reused.status().code(), StatusCode::kConflict) << reused.status().ToString();
  auto misused = Commit(std::move(action));
  EXPECT_EQ(misused.status().code(), StatusCode::kConflict) << misused.status().ToString();
  // And the blocking path alike.
  auto b = service_->BeginAct("officer-7", id, "note", R"({"text":"x"})", "k2");
  auto c = service_->BeginAct("officer-7", id, "note", R"({"text":"y"})", "k2");
  ASSERT_TRUE(b.ok() && c.ok());
  ASSERT_TRUE(service_->Commit(std::move(*b)).ok());
  EXPECT_EQ(service_->Commit(std::move(*c)).status().code(), StatusCode::kConflict);
  EXPECT_EQ(Load(id).notes - notes_before, 2);  // "first" and "x", nothing else
}

// A repeat racing its first request: its key looked up before the first was
// written, its step decided after, on the case the first left, which
// refuses the same step again (an accept of an accepted case). The repeat
// gets the first answer, not that refusal. The race is timing's: without
// the fix about 1 pair in 150 was refused, so this test shows the
// behaviour more than it proves the fix.
TEST_F(CaseCommitAsyncTest, ARepeatRacingItsFirstGetsTheFirstAnswer) {
  constexpr int kPairs = 100;
  std::vector<std::string> ids;
  for (int i = 0; i < kPairs; ++i) {
    ids.push_back(NewCase());
    Must(Act(ids.back(), "assign", R"({"assignee":"officer-7"})"));
  }
  int refused = 0;
  std::string why;
  for (int i = 0; i < kPairs; ++i) {
    std::atomic<int> ready{0};
    Result<WriteResult> answers[2] = {Status::Internal("unset"), Status::Internal("unset")};
    auto run = [&](int n) {
      ready.fetch_add(1);
      while (ready.load() < 2) std::this_thread::yield();
      answers[n] =
          service_->Act("officer-7", ids[i], "accept", "{}", "double-" + std::to_string(i));
    };
    std::thread one(run, 0), two(run, 1);
    one.join();
    two.join();
    for (const auto& r : answers) {
      if (!r.ok()) ++refused, why = r.status().ToString();
    }
    if (answers[0].ok() && answers[1].ok()) {
      EXPECT_EQ(answers[0]->position, answers[1]->position);
    }
  }
  EXPECT_EQ(refused, 0) << why;
}

TEST_F(CaseCommitAsyncTest, CachedOnlyBeginsReadNothingAndSayWhenTheyMust) {
  const std::string id = NewCase();
  // A fresh service has an empty case cache and knows no day's last case id.
  OpenService();
  const Position head = store_->Head().position;
  // Checks that need no read still answer at once.
  EXPECT_EQ(service_->BeginAct("officer-7", id, "fly", "{}", "", StorageReads::kCachedOnly)
                .status()
                .code(),
            StatusCode::kNotFound);
  EXPECT_EQ(service_->BeginReport("o", ReportBody("santai/nowhere"), "", StorageReads::kCachedOnly)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  // The rest must read: the case, the day's last id, an Idempotency-Key.
  EXPECT_EQ(
      service_->BeginAct("officer-7", id, "note", R"({"text":"a"})", "", StorageReads::kCachedOnly)
          .status()
          .code(),
      StatusCode::kWouldBlock);
  EXPECT_EQ(service_->BeginReport("officer-7", ReportBody(), "", StorageReads::kCachedOnly)
                .status()
                .code(),
            StatusCode::kWouldBlock);
  EXPECT_EQ(store_->Head().position, head);  // nothing written
  // Begun where reads may wait, the case is cached; then it needs no read.
  auto first = Commit(service_->BeginAct("officer-7", id, "note", R"({"text":"a"})", ""), true);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = Commit(
      service_->BeginAct("officer-7", id, "note", R"({"text":"b"})", "", StorageReads::kCachedOnly),
      true);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->version, 3u);
  EXPECT_EQ(offloaded_, 0);  // nothing had to be read
  EXPECT_EQ(
      service_
          ->BeginAct("officer-7", id, "note", R"({"text":"c"})", "k9", StorageReads::kCachedOnly)
          .status()
          .code(),
      StatusCode::kWouldBlock);
  EXPECT_EQ(store_->Head().position, head + 2);
}

TEST_F(CaseCommitAsyncTest, WithOffloadALostRaceIsDecidedAgainWhereReadsMayWait) {
  const std::string id = NewCase();
  auto pending = service_->BeginAct("officer-7", id, "note", R"({"text":"first"})", "",
                                    StorageReads::kCachedOnly);
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  Must(Act(id, "note", R"({"text":"second"})"));
  auto written = Commit(std::move(pending), true);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(written->version, 3u);
  EXPECT_EQ(Load(id).version, 3u);
  // The conflict came back through `then`, was decided again through the
  // offload, and came back through `then` for the second append's answer.
  EXPECT_EQ(offloaded_, 1);
  EXPECT_EQ(loop_.steps(), 3);
}

}  // namespace
}  // namespace casegrid
