// CaseService: the one way commands become events. Intake, every lifecycle
// action, grid definitions and assignments, alert acknowledgments and the
// engine's own DeadlineMissed all go through here, so every rule holds for
// the API, the CLI, the seeder and the load generator alike.
//
// Each command: split the body (expected_version out), load the case (its
// cached state plus the events after it), decode and validate the data, check it against the
// case's state, and append the resulting events with the case's expected
// version — so that of two officers acting at once, one wins and the other
// gets a conflict. A command without expected_version that loses such a race
// is re-decided against the new state (a few times) before giving up.
//
// Idempotency: a non-empty idempotency key becomes the events' ids (derived
// from actor and key), so a repeated command writes nothing and answers with
// the first answer, across restarts too.
//
// Thread-safety: all methods are safe from any thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/case_cache.h"
#include "engine/case_decider.h"
#include "engine/case_events.h"
#include "engine/case_state.h"
#include "engine/clock.h"
#include "engine/command_body.h"
#include "engine/deadline_policy.h"
#include "engine/event_store.h"
#include "engine/grid_directory.h"

namespace casegrid {

struct WriteResult {
  std::string case_id;  // for case commands
  std::string stream;
  Position position = 0;  // of the command's own event
  StreamVersion version = 0;
  bool deduplicated = false;
};

// A case command decided and waiting for its append, for callers that must
// not block on an fsync (the HTTP server): CaseService::BeginReport /
// BeginAct check and decide it, the caller appends `request` however it
// likes, and CaseService::Finish takes the outcome. Finish either sets
// `answer` (written, or answered before under the same idempotency key) or,
// when another command changed the case first and the client pinned no
// version, decides again against the new state and leaves a fresh `request`
// to append. Report and Act are exactly this loop with a blocking append.
struct RequestShape;  // case_service.cc

struct PendingWrite {
  // Set: the command's answer; nothing (more) to append.
  std::optional<WriteResult> answer;
  // Unset answer: the events to append now.
  AppendRequest request;
  // The case as the events were decided on (unset answer).
  const CaseState& decided_on() const { return base; }

 private:
  friend class CaseService;
  bool intake = false;  // BeginReport's, else BeginAct's
  std::string actor, case_id, idempotency_key;
  CaseAction action = CaseAction::kTriage;
  CommandBody split;
  CaseReported report;
  int attempt = 0;
  // An escalation without `to_tier` means one tier above the case as first
  // found: decided again after a lost race, it is a conflict if the case
  // has changed tier meanwhile, not an escalation a tier higher.
  std::optional<int> escalation_from;
  CaseState base;                     // the state `events` were decided on
  std::vector<CaseEventData> events;  // what `request` carries, as values
  // Misses of passed deadlines recorded before deciding (Decide): bounded.
  int overdue_rounds = 0;
  // The grid cells whose people the step was decided on (an assignee, an
  // officer sent): the append is refused if any has changed since.
  std::vector<StreamPin> grid_pins{};
};

// Runs `work` later on a thread the caller chooses (e.g. posts it to an
// io_context), never inline on the store's committer thread.
using Continuation = std::function<void(std::function<void()> work)>;
using WriteDone = std::function<void(Result<WriteResult>)>;

struct CaseServiceOptions {
  DeadlinePolicy policy;
  const Clock* clock = SystemClock::Default();  // not owned
  // Re-decisions after a lost race, without expected_version: 17 writers
  // acting on one case at once all get through, and the work stays bounded.
  int max_retries = 16;
  // Latest case states kept for the next command (engine/case_cache.h).
  std::size_t case_cache_entries = 16384;
};

class CaseService {
 public:
  // `store` is not owned and must outlive the service. Loads the grid.
  static Result<std::unique_ptr<CaseService>> Open(EventStore* store, CaseServiceOptions options);

  // POST /api/v1/cases: `body` is the CaseReported data.
  Result<WriteResult> Report(std::string_view actor, std::string_view body,
                             std::string_view idempotency_key);
  // POST /api/v1/cases/{id}/{action}.
  Result<WriteResult> Act(std::string_view actor, std::string_view case_id, std::string_view action,
                          std::string_view body, std::string_view idempotency_key);

  // Report and Act in three steps, for callers that append without
  // blocking (see PendingWrite). Begin* fail with the same errors as Report
  // and Act, before anything is appended. With StorageReads::kCachedOnly
  // they read nothing from storage: a command that would have to (a case
  // not in the case cache or changed since, an Idempotency-Key to look up,
  // the first case id of a day) fails with kWouldBlock after the checks that
  // need no read, and is to be begun again where reads may wait.
  Result<PendingWrite> BeginReport(std::string_view actor, std::string_view body,
                                   std::string_view idempotency_key,
                                   StorageReads reads = StorageReads::kAllowed);
  Result<PendingWrite> BeginAct(std::string_view actor, std::string_view case_id,
                                std::string_view action, std::string_view body,
                                std::string_view idempotency_key,
                                StorageReads reads = StorageReads::kAllowed);
  // Takes the outcome of appending `write.request`: sets write.answer, or
  // leaves a new request to append (a lost race, decided again), or returns
  // the error to answer with. kCachedOnly: a lost race (which must read) is
  // kWouldBlock with `write` unchanged; call again with kAllowed.
  Status Finish(PendingWrite& write, Result<AppendResult> appended,
                StorageReads reads = StorageReads::kAllowed);
  // Appends `write` with a blocking EventStore::Append until Finish answers it.
  Result<WriteResult> Commit(PendingWrite write);
  // Appends `write` with EventStore::AppendAsync until it is answered, and
  // calls `done` once with the answer. Every step after an append (Finish,
  // a new decision, `done`) runs through `then`, off the committer thread.
  // With `offload`, the steps run through `then` read nothing from storage:
  // one that must (deciding again after a lost race) runs through `offload`
  // instead, and what follows it through `then` again. So a server can run
  // `then` on its I/O threads and `offload` on threads that may wait.
  void CommitAsync(PendingWrite write, Continuation then, WriteDone done,
                   Continuation offload = nullptr);

  // POST /api/v1/grid/cells: body {"cell", "name"} (level derived from depth).
  Result<WriteResult> DefineCell(std::string_view actor, std::string_view body,
                                 std::string_view idempotency_key);
  // POST /api/v1/grid/cells/{cell}/officers: body {"officer", "role"}.
  Result<WriteResult> AssignOfficer(std::string_view actor, std::string_view cell,
                                    std::string_view body, std::string_view idempotency_key);
  // DELETE /api/v1/grid/cells/{cell}/officers/{officer}: every role the
  // person holds in the cell, in one append (position and version of the
  // last removal).
  // The three grid commands run one at a time (grid_writes_mu_), each from
  // its check to the grid's update, so two that race can neither both pass
  // a check meant for one, nor fold into the grid out of the log's order.
  Result<WriteResult> RemoveOfficer(std::string_view actor, std::string_view cell,
                                    std::string_view officer, std::string_view idempotency_key);

  // A case opened by a raw append (an import, case_stream_rules.h): the
  // intake's next id of that day comes after it, so that the ids of a
  // running server follow the order cases were opened, as after a restart
  // (which reads the day's greatest id). Thread-safe.
  void NoteCaseOpened(std::string_view case_id);

  // POST /api/v1/alerts/{id}/ack, into the stream alerts/<person>. Without
  // an Idempotency-Key the alert's id is the event's (repeats answer with
  // the first acknowledgment); with one, the key's, so that the key is
  // remembered: the caller must see that the alert is still open (the
  // store cannot, the id being the key's), one acknowledgment of a person
  // at a time.
  Result<WriteResult> AcknowledgeAlert(std::string_view person, std::string_view alert_id,
                                       std::string_view idempotency_key = {});
  // The answer of `person`'s acknowledgment of `alert_id` written without a
  // key, if any; writes nothing.
  Result<std::optional<WriteResult>> AlertAcknowledgment(std::string_view person,
                                                         std::string_view alert_id) const;
  // The answer of the acknowledgment `person` wrote under `idempotency_key`,
  // if any; kConflict if the key was first used for another alert or
  // another request. Writes nothing.
  Result<std::optional<WriteResult>> KeyedAlertAcknowledgment(
      std::string_view person, std::string_view alert_id, std::string_view idempotency_key) const;

  // Written by the deadline watch: at most once per case, deadline and due
  // time, however often it is called, across restarts. kConflict before the
  // due time (DecisionTime), or once the deadline is no longer open.
  Result<WriteResult> RecordDeadlineMissed(std::string_view case_id, DeadlineKind deadline,
                                           std::int64_t due_at);
  // Written by the deadline watch when a deadline's warning lead begins: at
  // most once per case, deadline and due time, like RecordDeadlineMissed.
  // kConflict when the deadline is met, missed, already warned, or now due at
  // another time.
  Result<WriteResult> RecordDeadlineApproaching(std::string_view case_id, DeadlineKind deadline,
                                                std::int64_t due_at);

  // The case folded from its events with positions <= as_of; the latest
  // state (as_of the default) comes from the case cache plus the events
  // after the cached version.
  // kCachedOnly: kWouldBlock unless the latest state is in the case cache
  // and current (as_of must be the default).
  Result<CaseState> LoadCase(std::string_view case_id, Position as_of = UINT64_MAX,
                             StorageReads reads = StorageReads::kAllowed) const;

  // The latest state of a case with at least `events` (of its stream, just
  // published, in log order) folded in, without reading them back when the
  // case cache's fold continues into them (CaseCache::LoadFollowing).
  Result<CaseState> LoadCaseFollowing(std::string_view case_id,
                                      std::span<const RecordedEvent* const> events) const;

  const GridDirectory& grid() const { return grid_; }
  EventStore& store() const { return *store_; }
  const CaseServiceOptions& options() const { return options_; }

  // The time a step is decided at (and the deadline watch reckons at): the clock's, or the least
  // stamp the store can give if that is later (a clock stepped back, a settled time:
  // EventStore::StampFloor). A deadline passed by then is recorded missed
  // before the step, which the store could not stamp before it anyway
  // (review 99: decided on the clock alone, such a step was refused round
  // after round, and no miss was written).
  std::int64_t DecisionTime() const {
    return std::max(options_.clock->NowMillis(), store_->StampFloor());
  }

 private:
  CaseService(EventStore* store, CaseServiceOptions options);

  // The store request for `events`: their types, canonical JSON and, with an
  // idempotency key, ids derived from it.
  static AppendRequest MakeRequest(const std::string& stream, ExpectedVersion expected,
                                   std::string_view actor, const std::vector<CaseEventData>& events,
                                   std::string_view idempotency_key);
  // Decides `write` against the case as it is now (BeginReport: a new case
  // id), filling its request, base and events.
  Status Decide(PendingWrite& write, StorageReads reads);
  // Whether a client's pinned `expected_version` of a case now at `current`
  // is stale: something other than the deadline watch's own facts
  // (DeadlineApproaching, DeadlineMissed, written by the system) came after
  // it. A warning or a miss recorded between a person's read and their step
  // changes nothing they decided on, and made their step a conflict.
  Result<bool> PinIsStale(const std::string& case_id, StreamVersion pinned, StreamVersion current,
                          StorageReads reads) const;
  // What `write` first writes, and how to tell whether an event a repeat of
  // its Idempotency-Key finds came from the same body. Holds `write` by
  // reference.
  RequestShape ShapeOf(const PendingWrite& write) const;
  // CommitAsync's steps: append (or answer), Finish through `then` (and
  // `offload` when it must read), then the next append or the answer.
  struct AsyncCommit;
  void AppendStep(std::shared_ptr<AsyncCommit> commit);
  void FinishStep(std::shared_ptr<AsyncCommit> commit, Result<AppendResult> appended);
  void NextStep(std::shared_ptr<AsyncCommit> commit, const Status& finished);

  // Appends `events` to `stream`. With `base` (the case state they were
  // decided on), a successful append also leaves base plus the events in the
  // case cache, so that the next command on the case reads nothing new.
  // `stamp_before_ms`: AppendRequest's (0: none).
  Result<WriteResult> AppendEvents(const std::string& stream, ExpectedVersion expected,
                                   std::string_view actor, const std::vector<CaseEventData>& events,
                                   std::string_view idempotency_key,
                                   const CaseState* base = nullptr,
                                   std::int64_t stamp_before_ms = 0);
  // Leaves `base` plus `events` in the case cache when `appended` wrote them
  // right after base's version (not when deduplicated, or after others).
  void RememberFold(const std::string& stream, const CaseState& base, const AppendResult& appended,
                    const std::vector<CaseEventData>& events);
  Result<std::string> NextCaseId(std::int64_t now, StorageReads reads);
  Result<WriteResult> RecordDeadlineFact(std::string_view case_id, DeadlineKind deadline,
                                         std::int64_t due_at, bool warning);
  // An assignee, or an officer dispatched, must be someone the grid puts on
  // the case's cell or a cell above it; else kInvalidArgument naming `field`,
  // saying they could not `to`. (An assignment to anyone else was taken: the
  // case waited for an accept that person's token could not give, the
  // warnings of its deadlines going to them alone; black-box probe 74. A
  // dispatch of anyone, probe 96.) Not checked on an idempotent repeat: the
  // grid may have changed since. Pins the write to the cell that puts them
  // there (`w.grid_pins`): a removal committed between this check and the
  // write refuses the write, which is decided again (black-box probe 107: a
  // case was assigned to an officer just removed from its cell).
  Status CheckOnTheGrid(PendingWrite& w, std::string_view field, const std::string& person,
                        std::string_view to) const;
  // grid_writes_mu_ held.
  Result<WriteResult> AppendGrid(std::string_view actor, const std::string& cell,
                                 const std::vector<CaseEventData>& events, ExpectedVersion expected,
                                 std::string_view idempotency_key);

  EventStore* const store_;
  const CaseServiceOptions options_;
  GridDirectory grid_;
  mutable CaseCache cases_;

  std::mutex grid_writes_mu_;  // held by each grid command, fsync included
  std::mutex ids_mu_;
  std::map<std::string, std::uint32_t> last_sequence_;  // guarded by ids_mu_: day -> last used
};

// Event ids derived from an idempotency key: the same actor and key give the
// same ids, so the store's dedupe answers a retry.
std::string IdempotentEventId(std::string_view actor, std::string_view key, std::size_t index);

}  // namespace casegrid
