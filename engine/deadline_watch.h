// DeadlineWatch: the part of the engine that notices a deadline's time has
// come and records it, as DeadlineApproaching (when its warning lead begins)
// and DeadlineMissed (when it passes), so that a replay never needs a clock.
//
// What it watches: every open deadline of every case, i.e. every
// CaseDeadline that is set (due_at > 0), not met and not missed. Each is one
// entry ordered by its time to act: due_at - lead(kind) until it is warned,
// due_at after. Memory is bounded by the number of open deadlines (plus a
// small record per case that has any).
//
// How it stays current: Start() folds every `case/` stream (O(cases): each
// case is read in full once, ~60 µs; on the watch's thread when
// load_in_background, so that a server need not wait for it), then follows
// the log from the position it loaded at; every event of
// a case stream makes it fold that case again and replace the case's entries.
// A fold is only installed if it is at least as new (by stream version) as the
// one it replaces. A case with no open deadline is forgotten, so a stale fold
// may bring back an entry for it; acting on that entry costs one service call
// that answers "no longer open" (or with the event already written), and the
// fold after it removes the entry.
//
// How it writes: Tick() (called every tick interval by the watch's thread,
// and callable directly, e.g. by tests with a manual clock) calls
// CaseService::RecordDeadlineApproaching or RecordDeadlineMissed for each
// entry whose time has come. A deadline already past due when first acted on
// gets only DeadlineMissed: a warning after the fact warns no one. Those
// service calls are idempotent by deterministic event ids, so a deadline is
// written at most once per due time, across restarts and even when two
// watches race; kConflict ("no longer open") means someone else already did
// it or the step was done, and is not an error. Other errors are logged to
// stderr and retried on the next tick.
//
// Ownership: the service and clock are not owned and must outlive the watch;
// the watch holds a subscription to service->store(), so it must be stopped
// or destroyed before the store.
//
// Thread-safety: Tick() and the observers may be called from any thread, also
// while the watch's own threads run. Start() and Stop() are for the owner's
// thread, one at a time. Everything the threads share is guarded by mu_.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/case_events.h"
#include "engine/case_service.h"
#include "engine/case_state.h"
#include "engine/clock.h"
#include "engine/event.h"
#include "engine/status.h"
#include "engine/subscription.h"

namespace casegrid {

// How long before a deadline's due time its DeadlineApproaching is written.
// Whole milliseconds per kind, not a fraction of the window, so a warning
// always gives the same notice.
struct DeadlineWarningLeads {
  static constexpr std::int64_t kMinute = 60 * 1000;
  static constexpr std::int64_t kHour = 60 * kMinute;
  static constexpr std::int64_t kDay = 24 * kHour;
  std::int64_t accept_ms = 5 * kMinute;
  std::int64_t first_contact_ms = 2 * kHour;
  std::int64_t callback_ms = 2 * kHour;
  std::int64_t mediation_ms = 2 * kDay;

  std::int64_t For(DeadlineKind kind) const;
};

struct DeadlineWatchOptions {
  DeadlineWarningLeads warning_leads;
  // How often the watch's thread calls Tick().
  std::chrono::milliseconds tick_interval{1000};
  // Streams listed, and events taken from the subscription, per read.
  std::size_t page_size = 1000;
  // Start() returns at once and the watch's thread loads the cases before it
  // follows the log (serve: a start waited for every case ever reported to
  // be folded, ~60 µs each, before it listened; black-box probe 85). Until
  // loaded() the watch acts on the cases loaded so far. Otherwise Start()
  // returns once they are loaded.
  bool load_in_background = false;
};

class DeadlineWatch {
 public:
  // Start() from the position the log is at when it is called.
  static constexpr Position kFromHead = UINT64_MAX;

  DeadlineWatch(CaseService* service, const Clock* clock, DeadlineWatchOptions options = {});
  // Stops the threads (Stop()).
  ~DeadlineWatch();
  DeadlineWatch(const DeadlineWatch&) = delete;
  DeadlineWatch& operator=(const DeadlineWatch&) = delete;

  // Loads the open deadlines of every case as of position min(after, head),
  // then follows the log from there and starts ticking. Errors: kConflict if
  // already started or stopped; reading errors from the store (in the
  // background, logged and tried again each tick interval). A case whose
  // events do not decode is logged and skipped, not fatal.
  Status Start(Position after = kFromHead);
  // Whether every case was loaded (Start's first part).
  bool loaded() const;

  // Records DeadlineApproaching / DeadlineMissed for every entry whose time
  // (by the clock) has come. Does nothing after Stop().
  void Tick();

  // Stops following and ticking, promptly: wakes both threads and joins
  // them. Idempotent.
  void Stop();

  // The open deadlines known now.
  std::size_t open_deadlines() const;
  // The last log position whose case changes are reflected (0 before any).
  Position position() const;

 private:
  // One open deadline. Ordered by when the watch must act on it.
  struct Entry {
    std::int64_t time_to_act = 0;
    std::string case_id;
    DeadlineKind kind = DeadlineKind::kAccept;
    std::int64_t due_at = 0;
    bool warn_only = false;  // missed already: warn of the new due time, never miss again
    auto operator<=>(const Entry&) const = default;
  };
  // What the watch knows of one case with open deadlines.
  struct CaseEntries {
    StreamVersion version = 0;  // of the fold the entries came from
    std::vector<Entry> entries;
  };

  // Folds `case_id` (as of `as_of`) and installs its entries.
  Status Refresh(const std::string& case_id, Position as_of = UINT64_MAX);
  // The same for the latest state, with `events` (of its stream, just handed
  // by the subscription) folded in without reading them back.
  Status Refresh(const std::string& case_id, std::span<const RecordedEvent* const> events);
  // Installs what loading `case_id` gave.
  Status Installed(const std::string& case_id, const Result<CaseState>& state);
  // Replaces the entries of `state.case_id` unless a newer fold is installed.
  void Install(const std::string& case_id, const CaseState& state);
  Status LoadAll(Position as_of);
  // Every case loaded as of `as_of`; under mu_.
  void MarkLoaded(Position as_of);
  // LoadAll, tried again each tick interval after a failure; false once
  // stopping.
  bool LoadInBackground(Position as_of);
  // Loads (load_in_background), then follows the log.
  void FollowLoop(Position as_of);
  void TickLoop();
  void Log(std::string_view what, const Status& status) const;
  // The clock, or the service's decision time if that is later.
  std::int64_t Now() const;

  // Constant after construction.
  CaseService* const service_;
  const Clock* const clock_;
  const DeadlineWatchOptions options_;

  // Set by Start(), read by the threads, reset by Stop() after joining.
  std::unique_ptr<Subscription> subscription_;
  std::thread follow_thread_;
  std::thread tick_thread_;

  mutable std::mutex mu_;
  std::condition_variable wake_;  // Stop() wakes the tick wait
  // Guarded by mu_.
  bool started_ = false;
  bool stopping_ = false;
  bool loaded_ = false;
  Position position_ = 0;
  std::set<Entry> queue_;  // every open deadline, soonest first
  std::unordered_map<std::string, CaseEntries> cases_;
  std::set<std::string> unread_;  // cases whose last fold failed; Tick retries
};

}  // namespace casegrid
