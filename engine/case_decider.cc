#include "engine/case_decider.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <string>

#include "engine/canonical_json.h"
#include "engine/command_body.h"
#include "engine/names.h"
#include "engine/time_format.h"

namespace casegrid {
namespace {

struct ActionInfo {
  CaseAction action;
  std::string_view name;
  std::string_view event_type;
};

constexpr std::array<ActionInfo, 14> kActions = {{
    {CaseAction::kTriage, "triage", CaseTriaged::kType},
    {CaseAction::kAssign, "assign", CaseAssigned::kType},
    {CaseAction::kAccept, "accept", CaseAccepted::kType},
    {CaseAction::kDispatch, "dispatch", OfficerDispatched::kType},
    {CaseAction::kArrive, "arrive", OfficerArrived::kType},
    {CaseAction::kNote, "note", NoteAdded::kType},
    {CaseAction::kMediate, "mediate", MediationSessionHeld::kType},
    {CaseAction::kEscalate, "escalate", CaseEscalated::kType},
    {CaseAction::kResolve, "resolve", CaseResolved::kType},
    {CaseAction::kClose, "close", CaseClosed::kType},
    {CaseAction::kReopen, "reopen", CaseReopened::kType},
    {CaseAction::kScheduleCallback, "schedule-callback", CallbackScheduled::kType},
    {CaseAction::kAttemptCallback, "attempt-callback", CallbackAttempted::kType},
    {CaseAction::kCompleteCallback, "complete-callback", CallbackCompleted::kType},
}};

const ActionInfo& Info(CaseAction action) {
  for (const auto& info : kActions) {
    if (info.action == action) return info;
  }
  return kActions[0];
}

bool In(CaseStatus s, std::initializer_list<CaseStatus> allowed) {
  for (CaseStatus a : allowed) {
    if (a == s) return true;
  }
  return false;
}

Status Forbidden(const CaseState& state, CaseAction action, std::string_view needs) {
  return Status::Conflict("case is " + std::string(Name(state.status)) + "; " +
                          std::string(Name(action)) + " " + std::string(needs));
}

// The `to_tier` of the body (in canonical form), if it has one: an integer
// from 1 to 3, else a 400 before any conflict with the case's tier (0 or 4
// was a 409 "one tier at a time").
Result<std::optional<int>> ReadToTier(std::string_view data) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  simdjson::padded_string padded(data);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root)) return Status::InvalidArgument("body: " + WhyNotJson(data));
  if (root.get(obj)) return Status::InvalidArgument("body: not a JSON object");
  auto field = obj["to_tier"];
  if (field.error() == simdjson::NO_SUCH_FIELD) return std::optional<int>();
  std::int64_t v = 0;  // get_int64 refuses a string, a double, null
  if (field.get_int64().get(v) || v < 1 || v > 3) {
    return Status::InvalidArgument("to_tier: must be an integer from 1 to 3");
  }
  return std::optional<int>(static_cast<int>(v));
}

// A closed case takes only a note or a reopening.
Status ClosedCaseAllows(const CaseState& state, CaseAction action) {
  if (state.exists && state.status == CaseStatus::kClosed && action != CaseAction::kNote &&
      action != CaseAction::kReopen) {
    return Status::Conflict("case is closed; only note and reopen are allowed");
  }
  return Status::Ok();
}

// The events the deadline watch may still write for `d`: a warning unless
// one was, and a miss unless one was (a deadline moved since its miss is
// warned of, never missed again); none once met.
StreamVersion WatchEventsOwed(const CaseDeadline& d) {
  if (d.met || d.due_at <= 0) return 0;  // one with no due time is none (the watch's Install)
  if (d.missed) return d.moved_since_missed() && !d.warned ? 1 : 0;
  return (d.warned ? 0 : 1) + 1;
}

// The most events a case in `state` may still take on its way to closed: each
// step of the course left (assign, accept, resolve and its callback's
// schedule, kCallbackAttemptsBeforeClose attempts that do not reach the
// reporter or one completion, close) and what the deadline watch may write
// meanwhile, the next callback's warning and miss included. Each step of that
// course takes no more events than it takes off this figure.
constexpr int kAttempts = kCallbackAttemptsBeforeClose;
// resolve, its CallbackScheduled, that callback's warning and miss, the
// attempts, close
constexpr StreamVersion kFromInProgress = 2 + 2 + kAttempts + 1;

StreamVersion EventsToClose(const CaseState& state) {
  StreamVersion owed = 0;
  for (const CaseDeadline& d : state.deadlines) owed += WatchEventsOwed(d);
  switch (state.status) {
    case CaseStatus::kClosed:
      return owed;
    case CaseStatus::kResolved:
      if (!state.callback.is_open() || state.callback.unreached >= kAttempts) return owed + 1;
      return owed + static_cast<StreamVersion>(std::max(1, kAttempts - state.callback.unreached)) +
             1;
    case CaseStatus::kInProgress:
      return owed + kFromInProgress;
    case CaseStatus::kAssigned:
      return owed + 1 + kFromInProgress;
    case CaseStatus::kReported:
      return owed + 2 + kFromInProgress;
  }
  return owed;
}

// A case holds at most kMaxCaseEvents; notes stop earlier, so that a case
// noted up to its bound can still be worked. And it keeps room to be closed:
// a step is taken only if the case after it still has room for the rest of
// its course (EventsToClose), or if it is a step of that course (it takes no
// more events than it takes off EventsToClose), so that no sequence of
// commands leaves a case that cannot be closed.
Status RoomInTheCase(const CaseState& state, CaseAction action,
                     const std::vector<CaseEventData>& events, std::int64_t now) {
  if (action == CaseAction::kNote && state.version >= kCaseEventsTakingNotes) {
    return Status::Conflict("case holds " + std::to_string(state.version) +
                            " events; notes stop at " + std::to_string(kCaseEventsTakingNotes) +
                            ", so that the case keeps room for its course (at most " +
                            std::to_string(kMaxCaseEvents) + " events)");
  }
  const StreamVersion taken = state.version + events.size();
  if (taken > kMaxCaseEvents) {
    return Status::Conflict("case holds " + std::to_string(state.version) + " events; " +
                            std::string(Name(action)) + " would take it past " +
                            std::to_string(kMaxCaseEvents) + ", the most one case holds");
  }
  // EventsToClose is at most two per deadline and the course from reported;
  // each new event sets at most one deadline. Far from the bound (every
  // command but a few near it), the case after the step need not be folded.
  const StreamVersion most_to_close =
      2 * (state.deadlines.size() + events.size()) + 2 + kFromInProgress;
  if (taken + most_to_close <= kMaxCaseEvents) return Status::Ok();
  CaseState after = state;
  RecordedEvent at;
  at.recorded_at_ms = now;
  for (const CaseEventData& e : events) {
    at.version = after.version + 1;
    after.Apply(at, e);
  }
  const StreamVersion left = EventsToClose(after);
  if (taken + left <= kMaxCaseEvents || events.size() + left <= EventsToClose(state)) {
    return Status::Ok();
  }
  return Status::Conflict("case holds " + std::to_string(state.version) + " events; " +
                          std::string(Name(action)) + " would leave too little room to close it (" +
                          std::to_string(left) +
                          " more events at most: the rest of its course and the deadline "
                          "watch's), the most one case holds being " +
                          std::to_string(kMaxCaseEvents));
}

// A deadline set and neither met nor missed yet: OverdueDeadline and
// NextDueAt read a deadline alike.
bool IsOwed(const CaseDeadline& d) {
  return d.due_at > 0 && !d.met && !d.missed;
}

}  // namespace

std::optional<CaseAction> ParseCaseAction(std::string_view name) {
  for (const auto& info : kActions) {
    if (info.name == name) return info.action;
  }
  return std::nullopt;
}

std::string_view Name(CaseAction action) {
  return Info(action).name;
}

std::string_view EventTypeOf(CaseAction action) {
  return Info(action).event_type;
}

Result<CaseEventData> DecodeAction(CaseAction action, const CaseState& state, std::string_view data,
                                   std::string_view actor) {
  std::string full(data);
  if (action == CaseAction::kAccept) {
    std::string by;
    AppendJsonString(by, actor);
    ASSIGN_OR_RETURN(full, AddServerFields(data, {{"by", by}}));
  } else if (action == CaseAction::kEscalate) {
    // What the server derives comes from the case, so the case's state is
    // checked before the body that depends on it.
    RETURN_IF_ERROR(ClosedCaseAllows(state, action));
    ASSIGN_OR_RETURN(std::optional<int> to_tier, ReadToTier(data));
    // The state before the tier: a resolved case is not escalated whatever
    // tier is asked (black-box probe 105: "one tier at a time: 2 → 3" to a
    // resolved tier-2 case, and fixing the tier got a second 409).
    if (state.exists && state.status != CaseStatus::kInProgress) {
      return Forbidden(state, action, "needs an in_progress case");
    }
    if (state.tier >= 3) {
      return Status::Conflict("case is at tier 3, the highest; there is no higher tier");
    }
    if (to_tier && *to_tier != state.tier + 1) {
      return Status::Conflict("escalation goes one tier at a time: " + std::to_string(state.tier) +
                              " → " + std::to_string(state.tier + 1));
    }
    std::vector<std::pair<std::string, std::string>> derived = {
        {"from_tier", std::to_string(state.tier)}};
    if (!to_tier) derived.emplace_back("to_tier", std::to_string(state.tier + 1));
    ASSIGN_OR_RETURN(full, AddServerFields(data, derived));
  }
  ASSIGN_OR_RETURN(CaseEventData decoded, DecodeEventData(Info(action).event_type, full));
  if (const auto* assigned = std::get_if<CaseAssigned>(&decoded)) {
    // The assignee gets alerts (alerts/<assignee>) and accepts as themself.
    RETURN_IF_ERROR(ValidatePersonId("assignee", assigned->assignee));
  } else if (const auto* dispatched = std::get_if<OfficerDispatched>(&decoded)) {
    // A person as everywhere else (the case view lists who is on the way).
    RETURN_IF_ERROR(ValidatePersonId("officer", dispatched->officer));
  } else if (const auto* arrived = std::get_if<OfficerArrived>(&decoded)) {
    RETURN_IF_ERROR(ValidatePersonId("officer", arrived->officer));
  }
  return decoded;
}

std::optional<CaseDeadline> OverdueDeadline(const CaseState& state, std::int64_t now) {
  // Open and passed, as the watch reads a deadline (DeadlineWatch::Tick). A
  // closed case owes none (review 82: a raw import's closed case with one
  // passed could not be reopened: its miss was refused, round after round).
  if (state.status == CaseStatus::kClosed) return std::nullopt;
  for (const CaseDeadline& d : state.deadlines) {
    if (IsOwed(d) && now >= d.due_at) return d;
  }
  return std::nullopt;
}

std::optional<std::int64_t> NextDueAt(const CaseState& state) {
  if (state.status == CaseStatus::kClosed) return std::nullopt;
  std::optional<std::int64_t> next;
  for (const CaseDeadline& d : state.deadlines) {
    if (IsOwed(d) && (!next || d.due_at < *next)) next = d.due_at;
  }
  return next;
}

Result<std::vector<CaseEventData>> Decide(const CaseState& state, CaseAction action,
                                          const CaseEventData& command,
                                          const DecisionContext& ctx) {
  using S = CaseStatus;
  if (!state.exists) return Status::NotFound("no such case");
  RETURN_IF_ERROR(ClosedCaseAllows(state, action));
  // A field, so checked before the lifecycle (review 98: a past due_at on a
  // case in progress was 409 "comes only after resolve"). Here, not in
  // DecodeAction, since it depends on the time of the decision: a repeat
  // of the request is compared with the first as it was decided.
  if (action == CaseAction::kScheduleCallback) {
    const std::int64_t due = std::get<CallbackScheduled>(command).due_at;
    if (due < ctx.now) return Status::InvalidArgument("due_at: must not be in the past");
    if (due > ctx.now + kCallbackMaxLeadMs) {
      return Status::InvalidArgument("due_at: at most 30 days ahead");
    }
  }
  std::vector<CaseEventData> events{command};
  const auto& policy = *ctx.policy;
  switch (action) {
    case CaseAction::kTriage: {
      if (!In(state.status, {S::kReported, S::kAssigned, S::kInProgress})) {
        return Forbidden(state, action, "needs an open case");
      }
      const auto& t = std::get<CaseTriaged>(command);
      // A triage that changes nothing would be an event that says nothing.
      if ((!t.priority || *t.priority == state.priority) &&
          (!t.category || *t.category == state.category) && (!t.kind || *t.kind == state.kind)) {
        return Status::Conflict("triage changes nothing: the case is " +
                                std::string(Name(state.priority)) + ", " +
                                std::string(Name(state.kind)) + ", " + state.category + " already");
      }
      // A new priority moves the accept deadline while it is still to come:
      // one met or missed is on record as it was (one miss per deadline),
      // and one with the same window stays as it is, warning and all.
      const CaseDeadline* accept = state.Deadline(DeadlineKind::kAccept);
      if (t.priority && *t.priority != state.priority && accept && accept->due_at > 0 &&
          !accept->met && !accept->missed) {
        // From when its clock started: the report, or the reassignment that
        // started it again (review 82: counted from the report, a triage
        // after a reassignment gave the new assignee a deadline passed).
        const std::int64_t started =
            accept->started_at > 0 ? accept->started_at : state.reported_at;
        const std::int64_t due = started + policy.AcceptWindow(*t.priority);
        // Only if the window differs (review 83: the record time and the
        // decision time differ by milliseconds, and an equal window moved
        // the deadline by them and warned of it twice).
        if (policy.AcceptWindow(*t.priority) != policy.AcceptWindow(state.priority) &&
            due != accept->due_at) {
          events.push_back(DeadlineSet{DeadlineKind::kAccept, due});
        }
      }
      break;
    }
    case CaseAction::kAssign: {
      if (!In(state.status, {S::kReported, S::kAssigned, S::kInProgress})) {
        return Forbidden(state, action, "needs an open case");
      }
      // Assigned again to the same person, an accepted case went back to
      // `assigned` and waited for an accept it had had.
      const auto& to = std::get<CaseAssigned>(command);
      if (state.status != S::kReported && to.assignee == state.assignee) {
        return Status::Conflict("case is assigned to " + state.assignee + " already");
      }
      // An accepted case given to someone else waits for their accept: its
      // clock starts again, from now, in the priority's window (black-box
      // probe 79: it waited with no clock at all). Before an accept, the
      // clock from the report runs on.
      if (state.status == S::kInProgress) {
        events.push_back(
            DeadlineSet{DeadlineKind::kAccept, ctx.now + policy.AcceptWindow(state.priority)});
      }
      break;
    }
    case CaseAction::kAccept:
      if (state.status != S::kAssigned) return Forbidden(state, action, "needs an assigned case");
      if (state.assignee != ctx.actor) {
        return Status::Conflict("case is assigned to " + state.assignee + "; only they can accept");
      }
      break;
    case CaseAction::kDispatch: {
      if (!In(state.status, {S::kAssigned, S::kInProgress})) {
        return Forbidden(state, action, "needs an assigned or in_progress case");
      }
      const auto& officer = std::get<OfficerDispatched>(command).officer;
      if (std::find(state.dispatched.begin(), state.dispatched.end(), officer) !=
          state.dispatched.end()) {
        return Status::Conflict("officer " + officer + " is on the way to this case already");
      }
      break;
    }
    case CaseAction::kArrive: {
      if (!In(state.status, {S::kAssigned, S::kInProgress})) {
        return Forbidden(state, action, "needs an assigned or in_progress case");
      }
      const auto& officer = std::get<OfficerArrived>(command).officer;
      if (std::find(state.dispatched.begin(), state.dispatched.end(), officer) ==
          state.dispatched.end()) {
        return Status::Conflict("officer " + officer +
                                " is not on the way to this case (not dispatched, or arrived)");
      }
      // The assignee on site has taken the case: their arrival, recorded by
      // them, accepts it too, after the arrival (its first event, the
      // request's shape). It stayed `assigned`, and its accept deadline was
      // then missed with the officer at the scene (black-box probe 105).
      // Recorded by anyone else it accepts nothing: only the assignee
      // accepts (review 113: another officer dispatched and "arrived" them,
      // and the case was accepted in their name).
      if (state.status == S::kAssigned && officer == state.assignee &&
          ctx.actor == state.assignee) {
        events.push_back(CaseAccepted{officer});
      }
      break;
    }
    case CaseAction::kNote:
      break;
    case CaseAction::kMediate: {
      if (state.status != S::kInProgress)
        return Forbidden(state, action, "needs an in_progress case");
      const auto& m = std::get<MediationSessionHeld>(command);
      if (m.tier != state.tier) {
        return Status::Conflict("mediation at tier " + std::to_string(m.tier) +
                                " but the case is at tier " + std::to_string(state.tier));
      }
      // A tier-1 session without agreement starts the 15 days, unless they
      // run already (or ran out: flagged once). One met before (an agreement
      // since undone by a reopening, or followed by another session without
      // one) starts them afresh: it was never started again, and such a
      // mediation was never flagged (black-box probe 79).
      if (const CaseDeadline* mediation = state.Deadline(DeadlineKind::kMediation);
          m.tier == 1 && m.outcome != MediationOutcome::kAgreement &&
          (mediation == nullptr || mediation->met || mediation->due_at <= 0)) {
        events.push_back(DeadlineSet{DeadlineKind::kMediation, ctx.now + policy.mediation_ms});
      }
      // A session with the parties is contact with them: it meets a first
      // contact not met yet, late if it passed (its miss is recorded before
      // any step: CaseService), as an arrival would. Its own event, not the
      // fold's reading of a mediation, so that older logs replay as they
      // were (black-box probe 74).
      if (const CaseDeadline* contact = state.Deadline(DeadlineKind::kFirstContact);
          contact != nullptr && contact->due_at > 0 && !contact->met) {
        events.push_back(DeadlineMet{DeadlineKind::kFirstContact, contact->due_at});
      }
      break;
    }
    case CaseAction::kEscalate:
      if (state.status != S::kInProgress)
        return Forbidden(state, action, "needs an in_progress case");
      break;
    case CaseAction::kResolve:
      if (state.status != S::kInProgress)
        return Forbidden(state, action, "needs an in_progress case");
      // A callback is a call to the reporter: one who left no phone (a tip
      // from a contact plate, a walk-in) cannot be called, and a callback
      // owed to them would only be missed and tried in vain before the case
      // could close (black-box probe 74). One may still be scheduled by hand.
      if (state.report.reporter.phone) {
        events.push_back(CallbackScheduled{ctx.now + policy.callback_ms});
      }
      break;
    case CaseAction::kClose:
      if (state.status != S::kResolved) return Forbidden(state, action, "needs a resolved case");
      // Every handled case gets its callback (DOMAIN.md) if its reporter can
      // be called (resolve), and a closed case takes none: close waits for
      // one owed, or for the reporter to have been
      // tried kCallbackAttemptsBeforeClose times in vain. A reporter who was
      // reached is asked the questions (complete-callback), not given up on.
      if (state.callback.is_open() && state.callback.unreached < kCallbackAttemptsBeforeClose) {
        return Status::Conflict("the callback is not done; close needs it completed, or " +
                                std::to_string(kCallbackAttemptsBeforeClose) +
                                " attempts that did not reach the reporter (" +
                                std::to_string(state.callback.unreached) + " so far)");
      }
      break;
    case CaseAction::kReopen:
      if (!In(state.status, {S::kResolved, S::kClosed})) {
        return Forbidden(state, action, "needs a resolved or closed case");
      }
      break;
    case CaseAction::kScheduleCallback:
    case CaseAction::kAttemptCallback:
    case CaseAction::kCompleteCallback: {
      if (!In(state.status, {S::kResolved, S::kClosed})) {
        return Forbidden(state, action, "comes only after resolve");
      }
      if (state.callback.status == CallbackStatus::kCompleted) {
        return Status::Conflict("the callback is already completed");
      }
      if (action != CaseAction::kScheduleCallback &&
          state.callback.status == CallbackStatus::kNone) {
        return Status::Conflict("no callback is scheduled");
      }
      // The callback's deadline is policy (DOMAIN.md: within 24 hours of the
      // resolution): while it is owed, a call may be moved within that
      // window or sooner than it stands, not past both (black-box probe 105,
      // review 112: moved 30 days on before it passed, again and again, it
      // was never missed). Once missed (the miss on record) or met, the call
      // may be set for any time (one passed is recorded missed before the
      // step: CaseService::Decide).
      if (action == CaseAction::kScheduleCallback) {
        const CaseDeadline* d = state.Deadline(DeadlineKind::kCallback);
        const std::int64_t due = std::get<CallbackScheduled>(command).due_at;
        if (state.callback.is_open() && d != nullptr && d->due_at > ctx.now && !d->met &&
            !d->missed) {
          const std::int64_t latest =
              std::max(d->due_at, state.resolved_at + ctx.policy->callback_ms);
          if (due > latest) {
            return Status::Conflict("the callback is due by " + FormatTimestamp(latest) +
                                    "; it may be set later only once that has passed (missed)");
          }
        }
      }
      break;
    }
  }
  RETURN_IF_ERROR(RoomInTheCase(state, action, events, ctx.now));
  return events;
}

std::vector<CaseEventData> DecideIntake(CaseReported report, const DecisionContext& ctx) {
  report.accept_due_at = ctx.now + ctx.policy->AcceptWindow(report.priority);
  report.first_contact_due_at = ctx.now + ctx.policy->first_contact_ms;
  return {std::move(report)};
}

}  // namespace casegrid
