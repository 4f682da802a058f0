// CaseState: one case folded from its events, oldest first. The decider
// checks commands against it; the case view (projections/) renders it.
//
// The fold is a pure function of the events: no clock, no policy. Deadlines
// come from DeadlineSet and CallbackScheduled events, misses from
// DeadlineMissed, so a replay shows exactly what was in force at the time.
//
// Thread-safety: a value; not synchronized.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/case_events.h"
#include "engine/event.h"
#include "engine/event_store.h"

namespace casegrid {

enum class CaseStatus { kReported, kAssigned, kInProgress, kResolved, kClosed };
std::string_view Name(CaseStatus s);

enum class CallbackStatus { kNone, kScheduled, kAttempted, kCompleted };
std::string_view Name(CallbackStatus s);

struct CaseDeadline {
  DeadlineKind kind = DeadlineKind::kAccept;
  std::int64_t due_at = 0;
  bool warned = false;             // a DeadlineApproaching was recorded
  bool missed = false;             // a DeadlineMissed was recorded
  bool met = false;                // the step it guards was done
  std::int64_t missed_due_at = 0;  // the due time the miss was recorded for
  // When its clock started: the report for the report's deadlines; a
  // DeadlineSet that starts one (or starts one met again afresh), its time.
  // A move (a priority change) keeps it, so the new window counts from it.
  std::int64_t started_at = 0;
  // Missed, then moved to another due time (a rescheduled callback): the
  // new time is warned of, never missed again (one miss per deadline).
  bool moved_since_missed() const { return missed && due_at != missed_due_at; }
  bool operator==(const CaseDeadline&) const = default;
};

struct CaseCallback {
  CallbackStatus status = CallbackStatus::kNone;
  std::optional<std::int64_t> due_at;
  int attempts = 0;
  int unreached = 0;  // attempts that did not reach the reporter
  std::optional<Satisfaction> speed, attitude, outcome;
  // Scheduled or attempted, not completed.
  bool is_open() const {
    return status == CallbackStatus::kScheduled || status == CallbackStatus::kAttempted;
  }
  bool operator==(const CaseCallback&) const = default;
};

struct CaseState {
  bool exists = false;
  std::string case_id;
  StreamVersion version = 0;
  Position position = 0;        // of the last event folded
  std::int64_t updated_at = 0;  // its recorded_at

  CaseStatus status = CaseStatus::kReported;
  CaseReported report;  // as reported; kind/priority/category below are current
  CaseKind kind = CaseKind::kIncident;
  Priority priority = Priority::kNormal;
  std::string category;
  int tier = 1;
  std::string assignee;
  std::optional<std::string> team;
  std::vector<std::string> dispatched;  // dispatched and not yet arrived

  std::int64_t reported_at = 0;  // 0: not yet (rendered as null)
  std::int64_t accepted_at = 0;
  std::int64_t arrived_at = 0;
  std::int64_t resolved_at = 0;
  std::int64_t closed_at = 0;
  std::optional<Resolution> resolution;

  int notes = 0;
  int mediation_sessions = 0;
  int mediation_agreements = 0;
  int escalations = 0;
  // The judicial department the tier-3 escalation named (DOMAIN.md: the
  // supervisor follows "tier-3 cases with judicial departments"; black-box
  // probe 105 found it only in the history).
  std::optional<std::string> judicial;
  int reopenings = 0;
  std::vector<CaseDeadline> deadlines;
  // Every deadline and due time a warning was recorded for, in log order.
  // A deadline moved back to one (a triage there and back, a callback
  // rescheduled there, even after a reopening) is warned still: a warning's
  // key is the case, the deadline and the due time, so the log holds it and
  // a second would repeat it. Bounded by the case's events.
  std::vector<std::pair<DeadlineKind, std::int64_t>> warnings;
  // Every deadline and due time a miss was recorded for, in log order: the
  // slot of a deadline shows its current due time, which a rescheduled
  // callback moves and a reopening drops, while each miss stays on record.
  std::vector<std::pair<DeadlineKind, std::int64_t>> misses;
  CaseCallback callback;

  // Folds one event of this case's stream. Events of other types (grid,
  // alerts) leave the state as it is.
  void Apply(const RecordedEvent& event, const CaseEventData& data);
  // An event of a type the engine does not define, which older builds let a
  // raw append put in a case stream: the case is at its version, nothing else
  // changes.
  void PassOver(const RecordedEvent& event);

  // True when `data` would change nothing here but the version, position and
  // update time: a second CaseReported (Apply keeps the first), or a
  // DeadlineMissed of a deadline already missed at that due time, or already
  // met — the engine writes each miss once and never of a deadline met
  // (deadline_watch.h), so only a raw append writes one — or a DeadlineMet
  // of no deadline of its kind due then and still open (likewise). The views
  // count none of them: no dashboard figure, no alert.
  bool Repeats(const CaseEventData& data) const;

  // The deadline of `kind`, if one was set.
  const CaseDeadline* Deadline(DeadlineKind kind) const;
  bool is_open() const {
    return exists && status != CaseStatus::kResolved && status != CaseStatus::kClosed;
  }

  bool operator==(const CaseState&) const = default;

 private:
  CaseDeadline& DeadlineSlot(DeadlineKind kind);
  bool WarnedOf(DeadlineKind kind, std::int64_t due_at) const;
  // Whether a miss of `kind` at `due_at` is on record (`misses`).
  bool MissedAt(DeadlineKind kind, std::int64_t due_at) const;
  void Meet(DeadlineKind kind);
  // The callback's deadline is owed no more (the case closed or reopened):
  // dropped, unless it was missed, which stays on record.
  void DropCallbackDeadline();
};

// The case folded from its stream's events with positions <= as_of. A case
// that does not exist (or an id that is not a stream name) folds to a state
// with !exists. Events of types the engine does not define are passed over
// (PassOver); kCorruption if a stored event of a type it defines does not
// decode.
Result<CaseState> FoldCase(const EventStore& store, std::string_view case_id,
                           Position as_of = UINT64_MAX);
// Folds onto `state` (a fold of the same case's first state->version events)
// the events after that version with positions <= as_of. On error `state`
// may hold part of them: discard it.
Status FoldCaseOnto(const EventStore& store, std::string_view case_id, Position as_of,
                    CaseState* state);

// "case/C-20261122-000123" -> "C-20261122-000123"; empty if not a case stream.
std::string_view CaseIdOfStream(std::string_view stream);
std::string CaseStream(std::string_view case_id);
// Whether `id` has the form of the engine's case ids, C-<yyyymmdd>-<6 digits>,
// with a day of the calendar (the day it was reported, in UTC).
bool IsCaseId(std::string_view id);
// The greatest sequence a raw append (an import) may open a case stream with:
// the numbers above are the intake's own, so that no import can use up a
// day's sequence (an intake numbers on from the day's greatest id).
inline constexpr std::uint32_t kLastImportedCaseSequence = 899999;
// The sequence of a case id (IsCaseId), its last six digits.
std::uint32_t CaseSequenceOf(std::string_view id);

// The most events one case's stream holds, so that its history, its folds and
// its answers stay bounded: commands past it are kConflict. Notes and raw
// appends (imports) stop at kCaseEventsTakingNotes, so that a case filled by
// them keeps room for its course and can still be worked and closed. The
// deadline watch may add the few DeadlineMissed of deadlines set before.
inline constexpr StreamVersion kMaxCaseEvents = 10000;
inline constexpr StreamVersion kCaseEventsTakingNotes = 9000;
// The history of a case answers at most this many events (kMaxCaseEvents and
// room for the deadline watch's); a stream longer (written by an older build)
// is kTooLarge, not cut.
inline constexpr StreamVersion kMaxCaseHistory = kMaxCaseEvents + 100;

}  // namespace casegrid
