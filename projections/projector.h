// Projector: folds the log into the views — case views, cell boards,
// dashboards for every node of the grid tree, each person's alerts — and
// keeps them live as events commit.
//
// Each batch of events is one ViewStore write carrying the changed views and
// the checkpoint, so a restart resumes exactly where it stopped. At every
// position that is a multiple of `snapshot_every` the dashboards changed
// since the previous tick (by their own position, so a restart misses none)
// are also written as snapshots as of that position, which is what answers
// `as_of` without replaying the whole log (as_of.cc). Ticks fall on the same
// positions however the events were batched.
//
// Ownership: the EventStore is not owned and must outlive the projector.
//
// Thread-safety: Apply/CatchUp/Start/Stop are for one controlling thread, and
// Apply/CatchUp must not be called while started. Reads (CaseView, Dashboard,
// ListCases, OpenAlerts, the as_of reads) are safe from any thread at any
// time: they see the views of some applied batch, never half of one.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/case_state.h"
#include "engine/event_store.h"
#include "engine/grid_directory.h"
#include "projections/address.h"
#include "projections/alerts.h"
#include "projections/dashboard.h"
#include "projections/rebuild_alerts.h"
#include "projections/view_store.h"

namespace rocksdb {
class WriteBatch;
}

namespace casegrid {

struct ProjectorOptions {
  std::string path;                        // the views folder
  std::size_t case_cache_entries = 20000;  // case states kept between events
  Position snapshot_every = 4096;          // dashboard snapshots for as_of
  std::size_t batch_events = 2000;         // events per view write
  // Live: a batch starts at least this long after the one before it ended,
  // so that under load one view write carries the events of a few group
  // commits (each dashboard node and case view written once for them all);
  // a quiet log's event is folded at once. 0: each batch as soon as events
  // are there.
  std::chrono::microseconds batch_spacing{0};
  // Dashboards count "today" and the hourly intake by the day and hour of
  // UTC + this many hours (RenderDashboard); -12 to 14.
  int day_offset_hours = 0;
  // Opens fresh views (it fails on any others) for a rebuild, which nobody
  // reads until Finish(): a case's view is written when its state leaves the
  // cache or at Finish(), not after every batch that changes it, so each
  // case is rendered about once. Until Finish() the views are marked
  // unfinished, and an Open without `rebuild` refuses them (kCorruption).
  bool rebuild = false;
  // A rebuild's alerts held in memory at most (16 bytes each) before they
  // are written out (RebuildAlerts).
  std::size_t rebuild_alerts_held = std::size_t{1} << 22;
  // The views' table files kept open at most (-1: all of them; a server
  // bounds it, api/descriptor_budget.h).
  int max_open_files = -1;
};

struct AlertAcknowledgement {
  std::string person;
  std::string alert_id;
  Position position = 0;  // of the AlertAcknowledged event
};

// What one applied batch changed; handed to the change listener (push).
// The pointers are valid only during the listener's call.
struct ViewChanges {
  Position position = 0;                               // the batch's last position
  const std::vector<RecordedEvent>* events = nullptr;  // the batch, in position order
  std::vector<std::string> cases;                      // case ids whose view changed
  std::vector<const CaseState*> case_states;           // their states after the batch, same order
  std::vector<std::string> nodes;                      // dashboard nodes that changed
  std::vector<const DashboardNode*> node_states;       // their dashboards after it, same order
  std::vector<Alert> alerts;                           // alerts raised
  std::vector<AlertAcknowledgement> acknowledged;      // alerts closed
};

// Events with their data decoded beforehand (DecodeEvents), so that the
// decoding can happen on another thread than the projector's.
struct DecodedEvents {
  std::vector<RecordedEvent> events;
  std::vector<Result<CaseEventData>> data;  // DecodeEventData of each, same order
};
// Thread-safety: any thread.
DecodedEvents DecodeEvents(std::vector<RecordedEvent> events);

struct CaseQuery {
  std::string cell;  // a subtree, which must be a defined cell; "" for everything
  // When set: these subtrees together, instead of `cell` (none: no case).
  std::optional<std::vector<std::string>> cells;
  std::optional<CaseStatus> state;
  std::optional<CaseKind> kind;
  bool not_closed = false;  // the board: every state but closed
  std::size_t limit = 50;
  std::string after;  // the cursor of the previous page
};

struct CasePage {
  std::vector<std::string> views;   // case view JSON
  std::optional<std::string> next;  // cursor, when more may follow
};

class Projector {
 public:
  static Result<std::unique_ptr<Projector>> Open(EventStore* store, ProjectorOptions options);
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  // Folds `events`, which must continue the checkpoint without a gap.
  Status Apply(const std::vector<RecordedEvent>& events);
  // The same for events decoded beforehand.
  Status Apply(const DecodedEvents& decoded);
  // A rebuild's last write (options.rebuild only): the views of the cases
  // still cached, and the end of the unfinished mark. Apply nothing after it.
  Status Finish();
  // Applies the log from the checkpoint to the store's head.
  Status CatchUp(const std::function<void(Position, Position)>& progress = nullptr);
  // Catches up and follows the log live on a thread of its own, calling
  // `on_change` (on that thread) after each batch. kUnavailable if the
  // system has no thread to give (nothing started).
  [[nodiscard]] Status Start(std::function<void(const ViewChanges&)> on_change = nullptr);
  void Stop();

  Position position() const { return position_.load(std::memory_order_acquire); }
  // Waits until the views reflect `position`; false on timeout or failure.
  // Hurries the next batch (below) while the views are behind it.
  bool WaitFor(Position position, std::chrono::milliseconds timeout) const;
  // Someone waits for the views to reach `target` (WaitFor; a push
  // subscribe, for the events committed before it): while they are behind
  // it, the next batch starts without its spacing
  // (ProjectorOptions::batch_spacing). Black-box probe 92: at a spacing of
  // 200 ms an auditor's ten subscribes, each waiting for the record of the
  // one before, took 1.6 s on an idle log. Thread-safe.
  void Hurry(Position target) const;
  // The error that stopped the live thread, if any.
  Status failure() const;

  // The case view as it stands; nullopt for an unknown case.
  Result<std::optional<std::string>> CaseView(std::string_view case_id) const;
  // The dashboard of `path` ("" is the whole jurisdiction) with today and
  // ages at `now_ms`; kNotFound for a path that is not a defined cell.
  Result<std::string> Dashboard(std::string_view path, std::int64_t now_ms) const;
  // The dashboard of `path` from a node folded up to `position` (a
  // ViewChanges' node_states, in the change listener), as Dashboard renders it.
  std::string RenderDashboardNode(std::string_view path, const DashboardNode& node,
                                  Position position, std::int64_t now_ms) const;
  // When the log's first event was recorded (INT64_MIN while it has none);
  // read once, then remembered.
  std::int64_t LogStartMs() const;
  // Case views of a subtree, paged in (cell, case id) order.
  Result<CasePage> ListCases(const CaseQuery& query) const;
  // The alert reads below take only the alerts `visible` keeps (given the
  // alert's cell: a token sees the alerts of its cells); empty keeps all.
  // `person`'s open alerts, newest first, as alert JSON.
  Result<std::vector<std::string>> OpenAlerts(std::string_view person, std::size_t limit,
                                              const AlertFilter& visible = {}) const;
  Result<bool> HasOpenAlert(std::string_view person, std::string_view alert_id,
                            const AlertFilter& visible = {}) const;
  // `person`'s open alerts raised at positions in (after, upto], at most
  // `limit`, as (position, alert JSON): oldest first, or newest first.
  Result<std::vector<std::pair<Position, std::string>>> OpenAlertsBetween(
      std::string_view person, Position after, Position upto, std::size_t limit, bool newest_first,
      const AlertFilter& visible = {}) const;

  // `person`'s acknowledgments at positions in (after, upto], oldest first,
  // as (position, alert id), read from the log (the stream alerts/<person>:
  // the alerts view forgets an alert once acknowledged), at most `limit`
  // events of the stream examined. With `visible`, only the acknowledgments
  // of alerts it keeps (CellOfAlert). `through`: how far they are complete —
  // `upto`, or the position of the last event examined when the read
  // stopped at `limit` before `upto` (events it skipped — not visible, not
  // an acknowledgment — count towards `limit`, so `acks` alone can be short
  // of `limit` with more to come: review 93 found a resume that lost them).
  struct Acknowledgments {
    std::vector<std::pair<Position, std::string>> acks;
    Position through = 0;
  };
  Result<Acknowledgments> AcknowledgmentsBetween(std::string_view person, Position after,
                                                 Position upto, std::size_t limit,
                                                 const AlertFilter& visible = {}) const;
  // The cell of the case alert `alert_id` ("<position>-<kind>") is about,
  // read from the log (the alert's event, then its case's report), so that
  // it answers for acknowledged alerts too; nullopt when the id names no
  // case event. A case keeps the cell it was reported in (case_stream_rules.h).
  Result<std::optional<std::string>> CellOfAlert(std::string_view alert_id) const;

  // as_of (as_of.cc): views as they stood at `position`. The dashboard's
  // figures that depend on when it is read (ages of open cases, "today", the
  // hourly intake) are read at `read_at_ms` — for an as_of by time, the time
  // asked for (PositionAt of it is `position`) — or, if not given, at the
  // time of the event at `position`. `cost_in_events`, if given, is added
  // what it cost: the events it decoded or folded, and a sixteenth of those
  // it read past (HttpApi charges a subject by it).
  Result<std::string> DashboardAsOf(std::string_view path, Position position,
                                    std::optional<std::int64_t> read_at_ms = std::nullopt,
                                    std::uint64_t* cost_in_events = nullptr) const;
  Result<std::string> CaseViewAsOf(std::string_view case_id, Position position) const;
  // The last position recorded at or before `unix_ms` (0 if none).
  Result<Position> PositionAt(std::int64_t unix_ms) const;

  const GridDirectory& grid() const { return grid_; }
  const ViewStore& views() const { return *views_; }

 private:
  class CaseCache;
  // A case state the projector keeps; in a rebuild, `unwritten` until its
  // view is in a batch. `written` if the views may hold an earlier view of
  // the case (live: always; in a rebuild, only a state folded again after it
  // left the cache), whose entry in the open cases' index a closing deletes.
  struct CachedCaseState {
    CaseState state;
    bool unwritten = false;
    bool written = true;
    // The status and kind this projector last wrote to the case indexes
    // (cell_cases, open_cases): they are written again only when these
    // change, not with every view (most events change neither).
    std::optional<std::array<char, 2>> indexed;
  };
  struct Batch;

  Projector(EventStore* store, ProjectorOptions options);
  Status Load();
  // `decoded`, if given, holds each event's decoded data (same order).
  Status ApplyBatch(const std::vector<RecordedEvent>& events,
                    const std::vector<Result<CaseEventData>>* decoded, ViewChanges* changes);
  // `decoded` is the event's data, or null to decode it here.
  Status ApplyOne(const RecordedEvent& event, const Result<CaseEventData>* decoded, Batch& batch);
  // Adds to `batch` the snapshot tick `at` (a multiple of snapshot_every, just
  // folded): every dashboard node changed since the last tick, as of `at`.
  void Snapshot(Position at, Batch& batch);
  void WriteCaseView(const std::string& case_id, CachedCaseState& cached,
                     rocksdb::WriteBatch& write) const;
  // The same for the states a rebuild's cache pushed out unwritten.
  void WriteEvictedCaseViews(rocksdb::WriteBatch& write);
  // A rebuild's last case views (Finish), one state per case: rendered on
  // several threads straight into table files, which are ingested.
  Status IngestCaseViews(std::vector<std::pair<const std::string*, const CachedCaseState*>> cases);
  // The dashboard nodes a case in `cell` counts toward (DashboardNodesOf),
  // as their entries in nodes_, which are never dropped: the pointers stay
  // valid. Remembered per cell.
  const std::vector<std::pair<const std::string, DashboardNode>*>& NodesOf(const std::string& cell);
  // The case's state before `event`, in the cache (folded from its stream
  // on a miss); the pointer stays valid for the rest of the batch.
  Result<CachedCaseState*> CachedCase(std::string_view case_id, const RecordedEvent& event);
  // Marks the case's view to be written: at the batch's end, or in a
  // rebuild when its state leaves the cache.
  void CaseViewChanged(std::string_view case_id, CachedCaseState& cached, Batch& b) const;
  // A dispute reported at an address: when, and which case.
  struct AddressReport {
    std::int64_t at_ms = -1;
    std::string case_id;
  };
  // The dispute reported at `address` (RepeatDisputeAddress) last before
  // `event`, if within the window (a repeat). Looks in `batch` (may be
  // null), then the views.
  Result<std::optional<AddressReport>> RepeatedDispute(const std::string& address,
                                                       const RecordedEvent& event,
                                                       Batch* batch) const;
  void Run(std::function<void(const ViewChanges&)> on_change);

  EventStore* const store_;
  const ProjectorOptions options_;
  std::unique_ptr<ViewStore> views_;
  GridDirectory grid_;  // the grid as of the checkpoint

  // Projector thread only.
  std::unique_ptr<CaseCache> cache_;
  // A rebuild's dispute addresses (normalized) and when each was last
  // reported, as written: in fresh views, while it holds every address
  // written (`addresses_complete_`, until kRebuildAddresses of them), an
  // address it lacks was never reported, and the views need not be read.
  std::unordered_map<std::string, AddressReport> rebuild_addresses_;
  bool addresses_complete_ = false;
  // A rebuild's alerts and their bodies, written around the memtables.
  std::unique_ptr<RebuildAlerts> rebuild_alerts_;
  // A fold whose batch failed cannot go on: its dashboards and grid hold
  // events the views never got, and a rebuild's unwritten case states and
  // alerts are gone. Applied again, the batch would count those events
  // twice, or (its cases' reports taken for repeats) not at all; the views
  // are reopened instead, from their checkpoint (a white-box review of
  // session 24).
  bool broken_ = false;
  Position last_snapshot_ = 0;  // the last snapshot tick

  // The fold's dashboards, for the controlling thread alone: reads take the
  // views' last write instead (Dashboard), which a batch leaves whole.
  std::map<std::string, DashboardNode, std::less<>> nodes_;
  std::unordered_map<std::string, std::vector<std::pair<const std::string, DashboardNode>*>>
      node_chains_;

  std::atomic<Position> position_{0};
  mutable std::atomic<std::int64_t> log_start_ms_{INT64_MIN};  // LogStartMs, once known
  mutable std::mutex progress_mu_;
  mutable std::condition_variable progress_cv_;
  Status failure_;  // guarded by progress_mu_

  std::unique_ptr<class Subscription> subscription_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  // The live thread's wait between batches, cut short by Hurry and Stop.
  mutable std::mutex spacing_mu_;
  mutable std::condition_variable spacing_cv_;
  mutable Position hurry_to_ = 0;  // guarded by spacing_mu_: the farthest asked for
};

inline constexpr std::int64_t kRepeatDisputeWindowMs = 30LL * 24 * 3600 * 1000;
// The repeat-dispute rule, in two parts, so that every count of it agrees:
// the address under which `report` takes part (a dispute with an address
// that is not empty once normalized), and whether a dispute reported there
// at `at_ms` repeats the one reported there before, at `previous_ms`.
std::optional<std::string> RepeatDisputeAddress(const CaseReported& report);
inline bool RepeatsWithinWindow(std::int64_t previous_ms, std::int64_t at_ms) {
  return at_ms - previous_ms <= kRepeatDisputeWindowMs;
}

}  // namespace casegrid
