// The case rules: a command, checked against the case as it stands, becomes
// the events that record it (DOMAIN.md "Lifecycle", API.md "Actions").
//
//   reported ─► assigned ─► in_progress ─► resolved ─► closed
//                               ▲  └ escalate: tier 1 → 2 → 3, one at a time
//                               └──────── reopen (from resolved or closed)
//
// A step the state forbids is kConflict saying why ("case is closed",
// "escalation goes one tier at a time: 1 → 2"); malformed data is
// kInvalidArgument naming the field. Pure functions: no I/O, no clock (the
// time comes in DecisionContext).
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "engine/case_events.h"
#include "engine/case_state.h"
#include "engine/deadline_policy.h"
#include "engine/status.h"

namespace casegrid {

enum class CaseAction {
  kTriage,
  kAssign,
  kAccept,
  kDispatch,
  kArrive,
  kNote,
  kMediate,
  kEscalate,
  kResolve,
  kClose,
  kReopen,
  kScheduleCallback,
  kAttemptCallback,
  kCompleteCallback,
};

// The path segment of API.md: "triage", ..., "complete-callback".
std::optional<CaseAction> ParseCaseAction(std::string_view name);
std::string_view Name(CaseAction action);
// The event the action writes first: "CaseTriaged", ..., "CallbackCompleted".
std::string_view EventTypeOf(CaseAction action);

// A resolved case may be closed with its callback not completed once the
// reporter was tried this many times without being reached.
inline constexpr int kCallbackAttemptsBeforeClose = 3;
// How far ahead schedule-callback may set a callback's due time.
inline constexpr std::int64_t kCallbackMaxLeadMs = 30LL * 24 * 3600 * 1000;
// How far ahead of the server's clock an intake's `occurred_at` may be: a
// reporter's or a phone's clock running ahead, never an incident to come.
inline constexpr std::int64_t kOccurredAtMaxLeadMs = 15LL * 60 * 1000;

struct DecisionContext {
  std::string_view actor;
  std::int64_t now = 0;  // Unix ms
  const DeadlinePolicy* policy = nullptr;
};

// The action's event data from the client's body (canonical JSON, without
// expected_version) plus what the server derives: accept's `by` (the actor),
// escalate's `from_tier` and default `to_tier`. Validated by DecodeEventData.
// An escalation past tier 3 or by more than one tier is kConflict.
Result<CaseEventData> DecodeAction(CaseAction action, const CaseState& state, std::string_view data,
                                   std::string_view actor);

// Checks `command` (from DecodeAction) against `state`. Returns the events to
// append, the command's own first: resolve adds CallbackScheduled if the
// reporter left a phone; a priority change before acceptance re-sets the
// accept deadline; a tier-1 mediation without agreement starts the mediation
// deadline, and any mediation meets a first contact still due (DeadlineMet).
Result<std::vector<CaseEventData>> Decide(const CaseState& state, CaseAction action,
                                          const CaseEventData& command,
                                          const DecisionContext& context);

// The first deadline of `state` that has passed by `now` with no miss on
// record. The watch records the miss at its next tick (within a second, or
// when a server runs again), but a step landing first could erase it (meet,
// move or drop the deadline) or pass for earlier than it: an assignment a
// moment after the accept deadline sent the miss's alert to the new
// assignee. CaseService::Decide records the miss before any step, so that
// the log keeps a miss before what came after its due time. Costs nothing
// for a case with no passed open deadline.
std::optional<CaseDeadline> OverdueDeadline(const CaseState& state, std::int64_t now);

// The earliest due time of `state`'s open deadlines (not met, not missed;
// none for a closed case): the time at which OverdueDeadline would first
// name one. A step decided on `state` must be recorded before it, or be
// decided again with the miss recorded first (AppendRequest::stamp_before_ms).
std::optional<std::int64_t> NextDueAt(const CaseState& state);

// The events of a new case: CaseReported alone (so that its version is 1),
// with the accept and first-contact due times of the policy in force.
std::vector<CaseEventData> DecideIntake(CaseReported report, const DecisionContext& context);

}  // namespace casegrid
