#include "engine/case_state.h"

#include <algorithm>
#include <chrono>
#include <type_traits>

#include "engine/names.h"

namespace casegrid {

std::string_view Name(CaseStatus s) {
  switch (s) {
    case CaseStatus::kReported:
      return "reported";
    case CaseStatus::kAssigned:
      return "assigned";
    case CaseStatus::kInProgress:
      return "in_progress";
    case CaseStatus::kResolved:
      return "resolved";
    case CaseStatus::kClosed:
      return "closed";
  }
  return "reported";
}

std::string_view Name(CallbackStatus s) {
  switch (s) {
    case CallbackStatus::kNone:
      return "none";
    case CallbackStatus::kScheduled:
      return "scheduled";
    case CallbackStatus::kAttempted:
      return "attempted";
    case CallbackStatus::kCompleted:
      return "completed";
  }
  return "none";
}

std::string_view CaseIdOfStream(std::string_view stream) {
  constexpr std::string_view kPrefix = "case/";
  if (stream.substr(0, kPrefix.size()) != kPrefix) return {};
  return stream.substr(kPrefix.size());
}

namespace {

// The number the `n` decimal digits of `id` at `from` spell; -1 if one is not a digit.
int DigitsAt(std::string_view id, std::size_t from, std::size_t n) {
  int value = 0;
  for (std::size_t i = from; i < from + n; ++i) {
    if (id[i] < '0' || id[i] > '9') return -1;
    value = value * 10 + (id[i] - '0');
  }
  return value;
}

}  // namespace

bool IsCaseId(std::string_view id) {
  if (id.size() != 17 || id[0] != 'C' || id[1] != '-' || id[10] != '-') return false;
  const int year = DigitsAt(id, 2, 4), month = DigitsAt(id, 6, 2), day = DigitsAt(id, 8, 2);
  if (year < 0 || month < 0 || day < 0 || DigitsAt(id, 11, 6) < 0) return false;
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  return date.ok();
}

std::uint32_t CaseSequenceOf(std::string_view id) {
  return id.size() < 6 ? 0 : static_cast<std::uint32_t>(DigitsAt(id, id.size() - 6, 6));
}

std::string CaseStream(std::string_view case_id) {
  return "case/" + std::string(case_id);
}

Result<CaseState> FoldCase(const EventStore& store, std::string_view case_id, Position as_of) {
  CaseState state;
  RETURN_IF_ERROR(FoldCaseOnto(store, case_id, as_of, &state));
  return state;
}

Status FoldCaseOnto(const EventStore& store, std::string_view case_id, Position as_of,
                    CaseState* state) {
  const std::string stream = CaseStream(case_id);
  if (!ValidateStreamName(stream).ok()) return Status::Ok();
  if (state->version > 0 && as_of == UINT64_MAX) {
    // A cached fold is usually current: one point read says so, cheaper than
    // opening an iterator to find nothing.
    ASSIGN_OR_RETURN(StreamVersion head, store.StreamVersionOf(stream));
    if (head <= state->version) return Status::Ok();
  }
  StreamVersion from = state->version + 1;
  // Most cases have a few dozen events; pages grow so that a fold cut at an
  // early as_of does not read a long stream's tail.
  std::size_t page = 32;
  while (true) {
    ASSIGN_OR_RETURN(auto events, store.ReadStream(stream, from, page, ReadDirection::kForward));
    for (const RecordedEvent& e : events) {
      if (e.position > as_of) return Status::Ok();
      if (!IsEngineEventType(e.type)) {
        state->PassOver(e);
        continue;
      }
      auto data = DecodeEventData(e.type, e.data, StoredEventLimits());
      if (!data.ok()) {
        return Status::Corruption("event at position " + std::to_string(e.position) +
                                  " does not decode: " + data.status().message());
      }
      state->Apply(e, *data);
    }
    if (events.size() < page) return Status::Ok();
    from = events.back().version + 1;
    page = std::min<std::size_t>(page * 4, 1000);
  }
}

const CaseDeadline* CaseState::Deadline(DeadlineKind kind) const {
  for (const auto& d : deadlines) {
    if (d.kind == kind) return &d;
  }
  return nullptr;
}

bool CaseState::Repeats(const CaseEventData& data) const {
  if (!exists) return false;
  if (std::holds_alternative<CaseReported>(data)) return true;
  if (const auto* miss = std::get_if<DeadlineMissed>(&data)) {
    // A miss on record at that due time already (`misses`: of the deadline
    // now, or of one it replaced; review 83: a raw repeat of the miss of a
    // deadline since started again counted twice).
    const CaseDeadline* d = Deadline(miss->deadline);
    return d != nullptr && (d->met || MissedAt(miss->deadline, miss->due_at));
  }
  if (const auto* met = std::get_if<DeadlineMet>(&data)) {
    // Meets only a deadline of its kind due then, not met (Apply; late if
    // missed); the engine writes no other, a raw append may.
    const CaseDeadline* d = Deadline(met->deadline);
    return d == nullptr || d->met || d->due_at != met->due_at;
  }
  return false;
}

namespace {

using DueTimes = std::vector<std::pair<DeadlineKind, std::int64_t>>;

bool Holds(const DueTimes& list, DeadlineKind kind, std::int64_t due_at) {
  return std::find(list.begin(), list.end(), std::make_pair(kind, due_at)) != list.end();
}

void AddOnce(DueTimes& list, DeadlineKind kind, std::int64_t due_at) {
  if (!Holds(list, kind, due_at)) list.emplace_back(kind, due_at);
}

}  // namespace

bool CaseState::WarnedOf(DeadlineKind kind, std::int64_t due_at) const {
  return Holds(warnings, kind, due_at);
}

bool CaseState::MissedAt(DeadlineKind kind, std::int64_t due_at) const {
  return Holds(misses, kind, due_at);
}

CaseDeadline& CaseState::DeadlineSlot(DeadlineKind kind) {
  for (auto& d : deadlines) {
    if (d.kind == kind) return d;
  }
  deadlines.push_back(CaseDeadline{kind, 0, false, false, false});
  return deadlines.back();
}

void CaseState::DropCallbackDeadline() {
  std::erase_if(deadlines, [](const CaseDeadline& d) {
    return d.kind == DeadlineKind::kCallback && !d.missed;
  });
}

void CaseState::Meet(DeadlineKind kind) {
  for (auto& d : deadlines) {
    if (d.kind == kind) d.met = true;
  }
}

void CaseState::PassOver(const RecordedEvent& event) {
  version = event.version;
  position = event.position;
}

void CaseState::Apply(const RecordedEvent& event, const CaseEventData& data) {
  version = event.version;
  position = event.position;
  updated_at = event.recorded_at_ms;
  const std::int64_t at = event.recorded_at_ms;
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, CaseReported>) {
          // A case is reported once (case_stream_rules.h); a second report,
          // which older builds let a raw append write, changes nothing.
          if (exists) return;
          exists = true;
          case_id = std::string(CaseIdOfStream(event.stream));
          status = CaseStatus::kReported;
          report = e;
          kind = e.kind;
          priority = e.priority;
          category = e.category;
          reported_at = at;
          if (e.accept_due_at) {
            CaseDeadline& d = DeadlineSlot(DeadlineKind::kAccept);
            d.due_at = *e.accept_due_at;
            d.started_at = at;
          }
          if (e.first_contact_due_at) {
            CaseDeadline& d = DeadlineSlot(DeadlineKind::kFirstContact);
            d.due_at = *e.first_contact_due_at;
            d.started_at = at;
          }
        } else if constexpr (std::is_same_v<T, DeadlineSet>) {
          // A deadline moved: a miss already recorded stays (one miss per
          // deadline, as for a rescheduled callback), and a warning stays if
          // the due time did not change, or was warned of before (warnings).
          // One met (an accepted case given to another, a mediation after an
          // agreement) or never set starts afresh from this event: a deadline
          // of its own, to be warned of and missed (its earlier miss stays in
          // `misses`). The engine wrote no DeadlineSet of a met deadline
          // before session 29 (review 82: kept missed, the new one was
          // never missed and counted overdue at once).
          CaseDeadline& d = DeadlineSlot(e.deadline);
          const bool warned = (d.warned && d.due_at == e.due_at) || WarnedOf(e.deadline, e.due_at);
          if (MissedAt(e.deadline, e.due_at)) {
            // That due time was missed already: missed it stays (review 83:
            // started afresh, its miss was the old one's event id, never
            // written again, and every step waited on it, 409).
            d = CaseDeadline{e.deadline, e.due_at, warned, true, false, e.due_at, d.started_at};
          } else if (d.met || d.due_at == 0) {
            d = CaseDeadline{e.deadline, e.due_at, WarnedOf(e.deadline, e.due_at), false, false,
                             0,          at};
          } else {
            d = CaseDeadline{e.deadline, e.due_at,        warned,      d.missed,
                             false,      d.missed_due_at, d.started_at};
          }
        } else if constexpr (std::is_same_v<T, CaseTriaged>) {
          if (e.priority) priority = *e.priority;
          if (e.category) category = *e.category;
          if (e.kind) kind = *e.kind;
        } else if constexpr (std::is_same_v<T, CaseAssigned>) {
          assignee = e.assignee;
          team = e.team;
          status = CaseStatus::kAssigned;
        } else if constexpr (std::is_same_v<T, CaseAccepted>) {
          status = CaseStatus::kInProgress;
          if (accepted_at == 0) accepted_at = at;
          Meet(DeadlineKind::kAccept);
        } else if constexpr (std::is_same_v<T, OfficerDispatched>) {
          if (std::find(dispatched.begin(), dispatched.end(), e.officer) == dispatched.end()) {
            dispatched.push_back(e.officer);
          }
        } else if constexpr (std::is_same_v<T, OfficerArrived>) {
          std::erase(dispatched, e.officer);
          if (arrived_at == 0) arrived_at = at;
          Meet(DeadlineKind::kFirstContact);
        } else if constexpr (std::is_same_v<T, NoteAdded>) {
          ++notes;
        } else if constexpr (std::is_same_v<T, MediationSessionHeld>) {
          ++mediation_sessions;
          if (e.outcome == MediationOutcome::kAgreement) {
            ++mediation_agreements;
            Meet(DeadlineKind::kMediation);
          }
        } else if constexpr (std::is_same_v<T, CaseEscalated>) {
          tier = e.to_tier;
          ++escalations;
          if (e.judicial) judicial = e.judicial;
          Meet(DeadlineKind::kMediation);
        } else if constexpr (std::is_same_v<T, CaseResolved>) {
          status = CaseStatus::kResolved;
          resolved_at = at;
          resolution = e.resolution;
          callback = CaseCallback{};  // each resolution has a callback of its own
          Meet(DeadlineKind::kAccept);
          Meet(DeadlineKind::kFirstContact);
          Meet(DeadlineKind::kMediation);
        } else if constexpr (std::is_same_v<T, CaseClosed>) {
          status = CaseStatus::kClosed;
          closed_at = at;
          // Closed with its callback tried in vain: nothing more is owed.
          if (callback.is_open()) DropCallbackDeadline();
        } else if constexpr (std::is_same_v<T, CaseReopened>) {
          status = CaseStatus::kInProgress;
          resolved_at = 0;
          closed_at = 0;
          resolution.reset();
          ++reopenings;
          // A callback still open belonged to the resolution undone; a
          // completed one keeps its answers (the reason, often) until the
          // next resolution.
          if (callback.is_open()) {
            callback = CaseCallback{};
            DropCallbackDeadline();
          }
        } else if constexpr (std::is_same_v<T, CallbackScheduled>) {
          // Rescheduling an open callback keeps a miss already recorded:
          // a later due time does not undo it.
          const bool open = callback.is_open();
          callback.status = CallbackStatus::kScheduled;
          callback.due_at = e.due_at;
          // One scheduled at a due time missed already is missed there, as a
          // DeadlineSet to it is (review 103: started afresh, its miss was
          // the old one's event, never written again, and every step waited
          // on it, 409).
          CaseDeadline& d = DeadlineSlot(DeadlineKind::kCallback);
          const bool keeps_miss = open && d.missed;
          const bool missed_then = MissedAt(DeadlineKind::kCallback, e.due_at);
          const bool warned = WarnedOf(DeadlineKind::kCallback, e.due_at);
          // A due time on record missed wins over an older miss kept, as for
          // a DeadlineSet (else it read as moved since, owed again; review 105).
          std::int64_t missed_due_at = 0;
          if (missed_then) {
            missed_due_at = e.due_at;
          } else if (keeps_miss) {
            missed_due_at = d.missed_due_at;
          }
          const bool missed = keeps_miss || missed_then;
          d = CaseDeadline{DeadlineKind::kCallback, e.due_at, warned, missed, false,
                           missed_due_at,           at};
        } else if constexpr (std::is_same_v<T, CallbackAttempted>) {
          callback.status = CallbackStatus::kAttempted;
          ++callback.attempts;
          if (!e.reached) ++callback.unreached;
        } else if constexpr (std::is_same_v<T, CallbackCompleted>) {
          callback.status = CallbackStatus::kCompleted;
          callback.speed = e.speed;
          callback.attitude = e.attitude;
          callback.outcome = e.outcome;
          Meet(DeadlineKind::kCallback);
        } else if constexpr (std::is_same_v<T, DeadlineApproaching>) {
          // A warning of the deadline's due time; one of another (a raw
          // append) is on record, for a DeadlineSet to it, but warns of
          // nothing now: the watch still warns of the real due time, and no
          // deadline is made of it (review 103: one with no due time stopped
          // a mediation's 15 days from starting).
          for (CaseDeadline& d : deadlines) {
            if (d.kind == e.deadline && d.due_at == e.due_at) d.warned = true;
          }
          AddOnce(warnings, e.deadline, e.due_at);
        } else if constexpr (std::is_same_v<T, DeadlineMet>) {
          // Met, late if it was missed (as an arrival after the miss is).
          for (CaseDeadline& d : deadlines) {
            if (d.kind == e.deadline && d.due_at == e.due_at) d.met = true;
          }
        } else if constexpr (std::is_same_v<T, DeadlineMissed>) {
          // A deadline met is not missed after (only a raw append writes
          // that: the watch passes over met deadlines).
          // A miss of a due time the deadline does not have (a raw append)
          // leaves one missed at its current due time missed there: not
          // "moved since", owed again (probe 98: replay listed it open while
          // the case view said missed).
          CaseDeadline& d = DeadlineSlot(e.deadline);
          if (!d.met && !MissedAt(e.deadline, e.due_at)) {
            if (!d.missed || d.moved_since_missed()) {
              d.missed = true;
              d.missed_due_at = e.due_at;
            }
            AddOnce(misses, e.deadline, e.due_at);
          }
        }
      },
      data);
}

}  // namespace casegrid
