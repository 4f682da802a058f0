#include "engine/case_service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <span>

#include "engine/command_body.h"
#include "engine/hash_chain.h"
#include "engine/names.h"
#include "engine/time_format.h"

namespace casegrid {
namespace {

std::string DayOf(std::int64_t unix_ms) {
  using namespace std::chrono;
  const year_month_day ymd(floor<days>(sys_time<milliseconds>(milliseconds(unix_ms))));
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d%02u%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

WriteResult FromAppend(const std::string& stream, const AppendResult& r) {
  WriteResult w;
  w.stream = stream;
  w.case_id = std::string(CaseIdOfStream(stream));
  w.position = r.last_position;
  w.version = r.last_version;
  w.deduplicated = r.deduplicated;
  return w;
}

}  // namespace

std::string IdempotentEventId(std::string_view actor, std::string_view key, std::size_t index) {
  std::string material(actor);
  material += '\n';
  material += key;
  const std::string hex = HashToHex(HashChain().Next(EventHash{}, material));
  return "k-" + hex.substr(0, 40) + "-" + std::to_string(index);
}

CaseService::CaseService(EventStore* store, CaseServiceOptions options)
    : store_(store), options_(std::move(options)), cases_(store, options_.case_cache_entries) {}

Result<std::unique_ptr<CaseService>> CaseService::Open(EventStore* store,
                                                       CaseServiceOptions options) {
  std::unique_ptr<CaseService> service(new CaseService(store, std::move(options)));
  RETURN_IF_ERROR(service->grid_.Load(*store));
  return service;
}

Result<CaseState> CaseService::LoadCase(std::string_view case_id, Position as_of,
                                        StorageReads reads) const {
  if (as_of == UINT64_MAX) return cases_.Load(case_id, reads);
  if (reads == StorageReads::kCachedOnly) {
    return Status(StatusCode::kWouldBlock, "a past state of a case must be read");
  }
  return FoldCase(*store_, case_id, as_of);
}

Result<CaseState> CaseService::LoadCaseFollowing(
    std::string_view case_id, std::span<const RecordedEvent* const> events) const {
  return cases_.LoadFollowing(case_id, events);
}

AppendRequest CaseService::MakeRequest(const std::string& stream, ExpectedVersion expected,
                                       std::string_view actor,
                                       const std::vector<CaseEventData>& events,
                                       std::string_view idempotency_key) {
  AppendRequest request{stream, expected, std::string(actor), {}};
  request.events.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    request.events.push_back(NewEvent{
        idempotency_key.empty() ? std::string() : IdempotentEventId(actor, idempotency_key, i),
        std::string(EventTypeOf(events[i])), EncodeEventData(events[i])});
  }
  return request;
}

Result<WriteResult> CaseService::AppendEvents(const std::string& stream, ExpectedVersion expected,
                                              std::string_view actor,
                                              const std::vector<CaseEventData>& events,
                                              std::string_view idempotency_key,
                                              const CaseState* base, std::int64_t stamp_before_ms) {
  AppendRequest request = MakeRequest(stream, expected, actor, events, idempotency_key);
  request.stamp_before_ms = stamp_before_ms;
  ASSIGN_OR_RETURN(AppendResult r, store_->Append(std::move(request)));
  if (base != nullptr) RememberFold(stream, *base, r, events);
  return FromAppend(stream, r);
}

void CaseService::RememberFold(const std::string& stream, const CaseState& base,
                               const AppendResult& appended,
                               const std::vector<CaseEventData>& events) {
  if (appended.deduplicated || appended.first_version != base.version + 1) return;
  // The events as decided equal the events as a fold reads them back from
  // the log: decoding their stored JSON gives the same values
  // (case_events_test's DecodeOfEncodeGivesTheValueBack, for every type).
  CaseState next = base;
  RecordedEvent e;
  e.stream = stream;
  e.recorded_at_ms = appended.recorded_at_ms;
  for (std::size_t i = 0; i < events.size(); ++i) {
    e.position = appended.first_position + i;
    e.version = appended.first_version + i;
    next.Apply(e, events[i]);
  }
  // Appended at the base's version, so nothing else is in the stream up to
  // the append's last position.
  cases_.Remember(std::move(next), appended.last_position);
}

// Whether the first event a key wrote came from this same request (its body);
// kConflict (or the body's own error) if not.
using SameBody = std::function<Status(const RecordedEvent& first)>;

// What a command writes first, to tell a repeat of it from another request
// that carried the same Idempotency-Key.
struct RequestShape {
  std::string stream;     // "" for any (an intake's case id is chosen as it is written)
  std::string_view type;  // the type of its first event
  SameBody same_body;     // null: the body is not compared
};

namespace {

RequestShape IntakeShape(SameBody same_body) {
  return {"", CaseReported::kType, std::move(same_body)};
}
RequestShape ActionShape(std::string_view case_id, CaseAction action, SameBody same_body) {
  return {CaseStream(case_id), EventTypeOf(action), std::move(same_body)};
}
// Grid bodies hold strings and integers only, whose canonical JSON is the
// stored form: `data` is compared as the client sent it. The cell is the
// stream's (so compared already), and what the server adds follows from it
// (a level) or from the grid (the roles a removal ends).
RequestShape GridShape(std::string_view cell, std::string_view type, std::string data,
                       std::span<const std::string_view> server_only) {
  return {GridDirectory::Stream(cell), type,
          [data = std::move(data), server_only](const RecordedEvent& first) {
            return SameClientFields(data, data, first.data, server_only);
          }};
}
// What the server adds to each grid write's body (review 99: one list for
// all let an assignment repeated without its role pass for the first).
constexpr std::string_view kDefinitionAdds[] = {"level"};
constexpr std::string_view kAssignmentAdds[] = {"cell"};
constexpr std::string_view kRemovalAdds[] = {"cell", "role"};

}  // namespace

// The first answer to a command carrying `key`, if it was already written;
// kConflict if the key was first used for a request of another shape.
static Result<std::optional<WriteResult>> Replay(const EventStore& store, std::string_view actor,
                                                 std::string_view key, const RequestShape& shape,
                                                 StorageReads reads = StorageReads::kAllowed) {
  if (key.empty()) return std::optional<WriteResult>();
  if (reads == StorageReads::kCachedOnly) {
    return Status(StatusCode::kWouldBlock, "an Idempotency-Key must be looked up");
  }
  ASSIGN_OR_RETURN(auto position, store.PositionOfEventId(IdempotentEventId(actor, key, 0)));
  if (!position) return std::optional<WriteResult>();
  ASSIGN_OR_RETURN(RecordedEvent first, store.ReadAt(*position));
  if (first.type != shape.type || (!shape.stream.empty() && first.stream != shape.stream)) {
    return Status::Conflict("Idempotency-Key was first used for another request (" + first.type +
                            " in " + first.stream + ")");
  }
  if (shape.same_body) RETURN_IF_ERROR(shape.same_body(first));
  // The answer names the last event the command wrote: its ids run -0, -1, ...
  AppendResult r{first.position, first.position, first.version, first.version, true};
  for (std::size_t i = 1;; ++i) {
    ASSIGN_OR_RETURN(auto next, store.PositionOfEventId(IdempotentEventId(actor, key, i)));
    if (!next) break;
    r.last_position = *next;
    r.last_version = first.version + i;
  }
  return std::optional<WriteResult>(FromAppend(first.stream, r));
}

RequestShape CaseService::ShapeOf(const PendingWrite& w) const {
  if (w.intake) {
    return IntakeShape([&w](const RecordedEvent& first) {
      // The due times are the policy's at the first decision, not this one's.
      static constexpr std::string_view kDecidedAtIntake[] = {"accept_due_at",
                                                              "first_contact_due_at"};
      return SameClientFields(w.split.data, EncodeEventData(CaseEventData(w.report)), first.data,
                              kDecidedAtIntake);
    });
  }
  return ActionShape(w.case_id, w.action, [this, &w](const RecordedEvent& first) -> Status {
    // Decoded against the case as the first request found it, as it was then.
    ASSIGN_OR_RETURN(CaseState then, FoldCase(*store_, w.case_id, first.position - 1));
    ASSIGN_OR_RETURN(CaseEventData decided, DecodeAction(w.action, then, w.split.data, w.actor));
    return SameClientFields(w.split.data, EncodeEventData(decided), first.data);
  });
}

Result<std::string> CaseService::NextCaseId(std::int64_t now, StorageReads reads) {
  const std::string day = DayOf(now);
  std::lock_guard l(ids_mu_);
  auto it = last_sequence_.find(day);
  if (it == last_sequence_.end()) {
    if (reads == StorageReads::kCachedOnly) {
      return Status(StatusCode::kWouldBlock, "the day's last case id must be read");
    }
    // The day's greatest case id; a stream of another form (none can be
    // written now: case_stream_rules.h) is passed over.
    ASSIGN_OR_RETURN(std::string last,
                     store_->LastStreamWithPrefix("case/C-" + day + "-", [](std::string_view s) {
                       return IsCaseId(CaseIdOfStream(s));
                     }));
    it = last_sequence_.emplace(day, last.empty() ? 0 : CaseSequenceOf(last)).first;
  }
  if (it->second >= 999999) {
    return Status::Unavailable("the case sequence of " + day + " is used up");
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "C-%s-%06u", day.c_str(), ++it->second);
  return std::string(buf);
}

void CaseService::NoteCaseOpened(std::string_view case_id) {
  if (!IsCaseId(case_id)) return;
  const std::string day(case_id.substr(2, 8));  // C-<yyyymmdd>-<nnnnnn>
  const std::uint32_t sequence = CaseSequenceOf(case_id);
  std::lock_guard l(ids_mu_);
  // A day not yet read reads its greatest id when its first intake comes.
  if (auto it = last_sequence_.find(day); it != last_sequence_.end()) {
    it->second = std::max(it->second, sequence);
  }
}

Result<PendingWrite> CaseService::BeginReport(std::string_view actor, std::string_view body,
                                              std::string_view idempotency_key,
                                              StorageReads reads) {
  ASSIGN_OR_RETURN(CommandBody split, SplitCommandBody(body));
  if (split.expected_version && *split.expected_version != 0) {
    return Status::InvalidArgument("expected_version: a new case has no version yet");
  }
  ASSIGN_OR_RETURN(CaseEventData data, DecodeEventData(CaseReported::kType, split.data));
  PendingWrite w;
  w.intake = true;
  w.actor = std::string(actor);
  w.idempotency_key = std::string(idempotency_key);
  w.report = std::get<CaseReported>(std::move(data));
  if (w.report.accept_due_at || w.report.first_contact_due_at) {
    return Status::InvalidArgument(
        std::string(w.report.accept_due_at ? "accept_due_at" : "first_contact_due_at") +
        ": set by the server");
  }
  if (!grid_.HasCell(w.report.cell)) {
    return Status::InvalidArgument("cell: " + w.report.cell + " is not a defined cell");
  }
  // The time the report will be decided at and stamped no earlier than
  // (review 102: the clock alone, stepped back, refused an honest time).
  if (const std::int64_t now = DecisionTime();
      w.report.occurred_at && *w.report.occurred_at > now + kOccurredAtMaxLeadMs) {
    return Status::InvalidArgument("occurred_at: " + FormatTimestamp(*w.report.occurred_at) +
                                   " is after the report (" + FormatTimestamp(now) +
                                   "); an incident is reported once it has happened");
  }
  w.split = std::move(split);
  ASSIGN_OR_RETURN(w.answer, Replay(*store_, actor, idempotency_key, ShapeOf(w), reads));
  if (!w.answer) RETURN_IF_ERROR(Decide(w, reads));
  return w;
}

Result<PendingWrite> CaseService::BeginAct(std::string_view actor, std::string_view case_id,
                                           std::string_view action_name, std::string_view body,
                                           std::string_view idempotency_key, StorageReads reads) {
  const auto action = ParseCaseAction(action_name);
  if (!action) return Status::NotFound("no action " + std::string(action_name));
  PendingWrite w;
  w.actor = std::string(actor);
  w.case_id = std::string(case_id);
  w.idempotency_key = std::string(idempotency_key);
  w.action = *action;
  ASSIGN_OR_RETURN(w.split, SplitCommandBody(body));
  ASSIGN_OR_RETURN(w.answer, Replay(*store_, actor, idempotency_key, ShapeOf(w), reads));
  if (w.answer) return w;
  const Status decided = Decide(w, reads);
  if (decided.code() == StatusCode::kConflict && !idempotency_key.empty()) {
    // A repeat racing its first request (a double submit): the first may
    // have been written since Replay looked, and the case it left refuses
    // the same step again. The first answer is the repeat's.
    ASSIGN_OR_RETURN(w.answer, Replay(*store_, actor, idempotency_key, ShapeOf(w), reads));
    if (w.answer) return w;
  }
  RETURN_IF_ERROR(decided);
  return w;
}

Result<bool> CaseService::PinIsStale(const std::string& case_id, StreamVersion pinned,
                                     StreamVersion current, StorageReads reads) const {
  // Past a few, the case has surely moved on (and the read stays small).
  constexpr StreamVersion kMostDeadlineFacts = 8;
  if (pinned > current || current - pinned > kMostDeadlineFacts) return true;
  if (reads == StorageReads::kCachedOnly) {
    return Status(StatusCode::kWouldBlock, "what followed a pinned version must be read");
  }
  ASSIGN_OR_RETURN(auto since, store_->ReadStream(CaseStream(case_id), pinned + 1, current - pinned,
                                                  ReadDirection::kForward));
  return std::any_of(since.begin(), since.end(), [](const RecordedEvent& e) {
    return e.actor != kSystemActor ||
           (e.type != DeadlineMissed::kType && e.type != DeadlineApproaching::kType);
  });
}

Status CaseService::CheckOnTheGrid(PendingWrite& w, std::string_view field,
                                   const std::string& person, std::string_view to) const {
  const std::string& cell = w.base.report.cell;
  if (std::optional<StreamPin> grant = grid_.CoveringGrant(cell, person)) {
    w.grid_pins.push_back(std::move(*grant));
    return Status::Ok();
  }
  return Status::InvalidArgument(std::string(field) + ": " + person + " is not on the grid of " +
                                 cell + " (assigned to it or to a cell above it), so could not " +
                                 std::string(to) + "; GET /api/v1/grid/cells/" + cell +
                                 " lists who is");
}

Status CaseService::Decide(PendingWrite& w, StorageReads reads) {
  if (w.intake) {
    // As for a step: the report is stamped no earlier than this, so its due
    // times and its case id's day are reckoned from it (a clock stepped back
    // put them before the report's own time).
    const std::int64_t now = DecisionTime();
    const DecisionContext ctx{w.actor, now, &options_.policy};
    ASSIGN_OR_RETURN(w.case_id, NextCaseId(now, reads));
    w.base = CaseState();
    w.events = DecideIntake(w.report, ctx);
    w.request = MakeRequest(CaseStream(w.case_id), ExpectedVersion::NoStream(), w.actor, w.events,
                            w.idempotency_key);
    // Its id names the UTC day it was decided on: stamped on the next (a
    // decision a moment before midnight, committed after it), the store
    // refuses it and it is decided again under the new day's id (review
    // 112: C-20261122-000001 was reported at 2026-11-23T00:00:00.005Z).
    constexpr std::int64_t kDayMs = 86'400'000;
    if (now >= 0) w.request.stamp_before_ms = (now / kDayMs + 1) * kDayMs;
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(w.base, LoadCase(w.case_id, UINT64_MAX, reads));
  if (!w.base.exists) return Status::NotFound("no case " + w.case_id);
  if (w.split.expected_version && *w.split.expected_version != w.base.version) {
    ASSIGN_OR_RETURN(const bool stale,
                     PinIsStale(w.case_id, *w.split.expected_version, w.base.version, reads));
    if (stale) {
      return Status::Conflict("case " + w.case_id + " is at version " +
                              std::to_string(w.base.version) + ", expected " +
                              std::to_string(*w.split.expected_version));
    }
  }
  if (w.escalation_from && *w.escalation_from != w.base.tier) {
    return Status::Conflict(
        "case " + w.case_id + " went from tier " + std::to_string(*w.escalation_from) +
        " to tier " + std::to_string(w.base.tier) + " meanwhile; escalate again to go higher");
  }
  ASSIGN_OR_RETURN(CaseEventData command, DecodeAction(w.action, w.base, w.split.data, w.actor));
  if (w.action == CaseAction::kEscalate) w.escalation_from = w.base.tier;
  w.grid_pins.clear();
  const DecisionContext ctx{w.actor, DecisionTime(), &options_.policy};
  ASSIGN_OR_RETURN(w.events, casegrid::Decide(w.base, w.action, command, ctx));
  // After the state's own refusals ("case is closed", "assigned to … already").
  if (w.action == CaseAction::kAssign) {
    RETURN_IF_ERROR(
        CheckOnTheGrid(w, "assignee", std::get<CaseAssigned>(command).assignee, "take the case"));
  } else if (w.action == CaseAction::kDispatch) {
    // As for an assignee (probe 96: anyone could be sent, "nobody-9" too).
    RETURN_IF_ERROR(CheckOnTheGrid(w, "officer", std::get<OfficerDispatched>(command).officer,
                                   "be sent to the case"));
  }
  if (const auto overdue = OverdueDeadline(w.base, ctx.now)) {
    // A deadline has passed and the watch has not recorded its miss yet (it
    // acts each tick, and not while no server runs): the miss is recorded
    // first, as the watch would have, under the watch's own key, so that it
    // is written once, and so that the step can neither erase it nor come
    // before it in the log.
    if (reads == StorageReads::kCachedOnly) {
      return Status(StatusCode::kWouldBlock, "a passed deadline is recorded missed first");
    }
    if (++w.overdue_rounds > 8) {  // each round records one miss or finds it met
      return Status::Conflict("case " + w.case_id + " keeps changing; try again");
    }
    auto missed = RecordDeadlineMissed(w.case_id, overdue->kind, overdue->due_at);
    if (!missed.ok() && missed.status().code() != StatusCode::kConflict) return missed.status();
    return Decide(w, reads);  // on the case with its miss
  }
  w.request = MakeRequest(CaseStream(w.case_id), ExpectedVersion::Exact(w.base.version), w.actor,
                          w.events, w.idempotency_key);
  w.request.unchanged = w.grid_pins;
  // Decided before the next due time, but written at the commit's stamp: a
  // step stamped at or after it would meet, move or drop the deadline with
  // no miss before it (review 98). The store refuses it then, and Finish
  // decides it again, on the case with its miss recorded first.
  w.request.stamp_before_ms = NextDueAt(w.base).value_or(0);
  return Status::Ok();
}

Status CaseService::Finish(PendingWrite& w, Result<AppendResult> appended, StorageReads reads) {
  if (w.answer) return Status::Ok();
  const std::string stream = CaseStream(w.case_id);
  if (appended.ok() && appended->deduplicated && !w.idempotency_key.empty()) {
    // Its ids were written by another request with the same key, decided
    // at the same time: the answer is that request's if it was this same
    // one, a conflict if the key came with another body or action.
    if (reads == StorageReads::kCachedOnly) {
      return Status(StatusCode::kWouldBlock, "an Idempotency-Key's first use must be read");
    }
    ASSIGN_OR_RETURN(w.answer, Replay(*store_, w.actor, w.idempotency_key, ShapeOf(w)));
    if (w.answer) return Status::Ok();
  }
  if (appended.ok()) {
    RememberFold(stream, w.base, *appended, w.events);
    w.answer = FromAppend(stream, *appended);
    return Status::Ok();
  }
  if (appended.status().code() != StatusCode::kConflict) return appended.status();
  if (reads == StorageReads::kCachedOnly) {
    return Status(StatusCode::kWouldBlock, "a lost race is decided again from the log");
  }
  // Either a retry of this key won the race, or (intake) the id was taken by
  // a raw append, or someone else changed the case since it was read.
  ASSIGN_OR_RETURN(w.answer, Replay(*store_, w.actor, w.idempotency_key, ShapeOf(w)));
  if (w.answer) return Status::Ok();
  ++w.attempt;
  if (w.intake) {
    if (w.attempt >= 8) return Status::Unavailable("could not allocate a case id; try again");
  } else if (w.attempt > options_.max_retries && w.split.expected_version) {
    return appended.status();  // a pinned version is the client's to resolve
  } else if (w.attempt > options_.max_retries) {
    // An unpinned one was "this action now", decided again a few times; the
    // client named no version, so the answer does not speak of one.
    return Status::Conflict("case " + w.case_id + " kept changing while this " +
                            std::string(Name(w.action)) + " was being decided (" +
                            std::to_string(w.attempt) + (w.attempt == 1 ? " try" : " tries") +
                            "; others are acting on it at once): try again");
  }
  // Decided again; a pinned version too, whose pin is then checked: only
  // the deadline watch may have written meanwhile (PinIsStale). A grid
  // command that changed a cell the step was pinned to holds its lock until
  // the directory has folded it: decided after it, the step sees the grid
  // as the log has it.
  if (!w.grid_pins.empty()) {
    std::lock_guard grid_settled(grid_writes_mu_);
  }
  return Decide(w, StorageReads::kAllowed);
}

Result<WriteResult> CaseService::Commit(PendingWrite w) {
  while (!w.answer) RETURN_IF_ERROR(Finish(w, store_->Append(std::move(w.request))));
  return std::move(*w.answer);
}

// One CommitAsync: the write and where its steps run. Each step hands the
// next to a continuation, so one thread at a time touches it.
struct CaseService::AsyncCommit {
  PendingWrite write;
  Continuation then, offload;
  WriteDone done;
};

void CaseService::CommitAsync(PendingWrite write, Continuation then, WriteDone done,
                              Continuation offload) {
  AppendStep(std::make_shared<AsyncCommit>(
      AsyncCommit{std::move(write), std::move(then), std::move(offload), std::move(done)}));
}

void CaseService::AppendStep(std::shared_ptr<AsyncCommit> c) {
  if (c->write.answer) return c->done(std::move(*c->write.answer));
  AppendRequest request = std::move(c->write.request);
  store_->AppendAsync(std::move(request), [this, c](Result<AppendResult> r) mutable {
    // On the committer thread: everything else through `then`.
    c->then([this, c, r = std::move(r)]() mutable { FinishStep(std::move(c), std::move(r)); });
  });
}

void CaseService::FinishStep(std::shared_ptr<AsyncCommit> c, Result<AppendResult> appended) {
  if (!c->offload) {
    const Status s = Finish(c->write, std::move(appended));
    return NextStep(std::move(c), s);
  }
  const Status s = Finish(c->write, appended, StorageReads::kCachedOnly);
  if (s.code() != StatusCode::kWouldBlock) return NextStep(std::move(c), s);
  // Finish must read: again where reads may wait, then back through `then`.
  c->offload([this, c, appended = std::move(appended)]() mutable {
    Status read = Finish(c->write, std::move(appended));
    c->then([this, c, read = std::move(read)]() mutable { NextStep(std::move(c), read); });
  });
}

void CaseService::NextStep(std::shared_ptr<AsyncCommit> c, const Status& finished) {
  if (!finished.ok()) return c->done(finished);
  AppendStep(std::move(c));
}

Result<WriteResult> CaseService::Report(std::string_view actor, std::string_view body,
                                        std::string_view idempotency_key) {
  ASSIGN_OR_RETURN(PendingWrite w, BeginReport(actor, body, idempotency_key));
  return Commit(std::move(w));
}

Result<WriteResult> CaseService::Act(std::string_view actor, std::string_view case_id,
                                     std::string_view action_name, std::string_view body,
                                     std::string_view idempotency_key) {
  ASSIGN_OR_RETURN(PendingWrite w, BeginAct(actor, case_id, action_name, body, idempotency_key));
  return Commit(std::move(w));
}

Result<WriteResult> CaseService::AppendGrid(std::string_view actor, const std::string& cell,
                                            const std::vector<CaseEventData>& events,
                                            ExpectedVersion expected,
                                            std::string_view idempotency_key) {
  const std::string stream = GridDirectory::Stream(cell);
  ASSIGN_OR_RETURN(WriteResult w, AppendEvents(stream, expected, actor, events, idempotency_key));
  RecordedEvent applied;
  applied.stream = stream;
  for (std::size_t i = 0; i < events.size(); ++i) {
    applied.position = w.position - (events.size() - 1 - i);
    applied.version = w.version - (events.size() - 1 - i);
    grid_.Apply(applied, events[i]);
  }
  return w;
}

Result<WriteResult> CaseService::DefineCell(std::string_view actor, std::string_view body,
                                            std::string_view idempotency_key) {
  ASSIGN_OR_RETURN(CommandBody split, SplitCommandBody(body));
  // Taken out of the body and never read, a pinned version passed whatever
  // it said (review 112): a new cell has none, as a new case has none.
  if (split.expected_version && *split.expected_version != 0) {
    return Status::InvalidArgument("expected_version: a new cell has no version yet");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> cell, StringField(split.data, "cell"));
  if (!cell) return Status::InvalidArgument("cell: missing");
  RETURN_IF_ERROR(ValidateCellPath(*cell));
  std::lock_guard one_at_a_time(grid_writes_mu_);
  ASSIGN_OR_RETURN(auto replayed,
                   Replay(*store_, actor, idempotency_key,
                          GridShape(*cell, GridCellDefined::kType, split.data, kDefinitionAdds)));
  if (replayed) return *replayed;
  std::string data = split.data;
  if (!HasField(data, "level")) {
    const auto depth = std::count(cell->begin(), cell->end(), '/') + 1;
    ASSIGN_OR_RETURN(data, AddServerFields(data, {{"level", std::to_string(depth)}}));
  }
  ASSIGN_OR_RETURN(CaseEventData decoded, DecodeEventData(GridCellDefined::kType, data));
  RETURN_IF_ERROR(grid_.CheckNewCell(std::get<GridCellDefined>(decoded)));
  auto written = AppendGrid(actor, *cell, {decoded}, ExpectedVersion::NoStream(), idempotency_key);
  if (!written.ok() && written.status().code() == StatusCode::kConflict) {
    return Status::Conflict("cell " + *cell + " is already defined");
  }
  return written;
}

Result<WriteResult> CaseService::AssignOfficer(std::string_view actor, std::string_view cell,
                                               std::string_view body,
                                               std::string_view idempotency_key) {
  ASSIGN_OR_RETURN(CommandBody split, SplitCommandBody(body));
  std::lock_guard one_at_a_time(grid_writes_mu_);
  ASSIGN_OR_RETURN(auto replayed, Replay(*store_, actor, idempotency_key,
                                         GridShape(cell, OfficerAssignedToCell::kType, split.data,
                                                   kAssignmentAdds)));
  if (replayed) return *replayed;
  if (!grid_.HasCell(cell)) return Status::NotFound("no cell " + std::string(cell));
  std::string quoted;
  AppendJsonString(quoted, cell);
  ASSIGN_OR_RETURN(std::string data, AddServerFields(split.data, {{"cell", quoted}}));
  ASSIGN_OR_RETURN(CaseEventData decoded, DecodeEventData(OfficerAssignedToCell::kType, data));
  const auto& a = std::get<OfficerAssignedToCell>(decoded);
  RETURN_IF_ERROR(ValidateCellRole(a.role));
  RETURN_IF_ERROR(ValidatePersonId("officer", a.officer));
  if (grid_.IsAssigned(cell, a.officer, a.role)) {
    return Status::Conflict(a.officer + " is already assigned to " + std::string(cell) + " as " +
                            a.role);
  }
  // A pinned version of the cell's grid stream is held to (review 112: it
  // was taken out of the body and never read).
  const auto& pinned = split.expected_version;
  auto written = AppendGrid(actor, std::string(cell), {decoded},
                            pinned ? ExpectedVersion::Exact(*pinned) : ExpectedVersion::Exists(),
                            idempotency_key);
  if (pinned && !written.ok() && written.status().code() == StatusCode::kConflict) {
    return Status::Conflict("cell " + std::string(cell) + " is not at version " +
                            std::to_string(*pinned) + ": " + written.status().message());
  }
  return written;
}

Result<WriteResult> CaseService::RemoveOfficer(std::string_view actor, std::string_view cell,
                                               std::string_view officer,
                                               std::string_view idempotency_key) {
  // An empty id (`DELETE …/officers/`) is no person: 400, not 404.
  RETURN_IF_ERROR(ValidatePersonId("officer", officer));
  std::lock_guard one_at_a_time(grid_writes_mu_);
  // The key's first removal must be of this person: another's would be
  // answered as this one's, and this one left assigned (black-box probe).
  std::string person = R"({"officer":)";
  AppendJsonString(person, officer);
  person += '}';
  ASSIGN_OR_RETURN(auto replayed,
                   Replay(*store_, actor, idempotency_key,
                          GridShape(cell, OfficerRemovedFromCell::kType, person, kRemovalAdds)));
  if (replayed) return *replayed;
  if (!grid_.HasCell(cell)) return Status::NotFound("no cell " + std::string(cell));
  // Every role the person holds here: removed under one role only, they
  // stayed assigned under the other and kept its alerts, after a 200.
  std::vector<CaseEventData> removals;
  for (const CellPerson& p : grid_.PeopleCovering(cell)) {
    if (p.cell == cell && p.person == officer) {
      removals.push_back(OfficerRemovedFromCell{std::string(cell), p.person, p.role});
    }
  }
  if (removals.empty()) {
    return Status::NotFound(std::string(officer) + " is not assigned to " + std::string(cell));
  }
  return AppendGrid(actor, std::string(cell), removals, ExpectedVersion::Exists(), idempotency_key);
}

// The stream of `person`'s acknowledgments, once `alert_id` is checked.
static Result<std::string> AcknowledgmentStream(std::string_view person,
                                                std::string_view alert_id) {
  if (alert_id.empty() || alert_id.size() > 128) {
    return Status::InvalidArgument("alert: must be 1 to 128 bytes");
  }
  std::string stream = "alerts/" + std::string(person);
  RETURN_IF_ERROR(ValidateStreamName(stream));
  return stream;
}

// Whether an acknowledgment is of `alert`, or (kConflict) of another.
static SameBody OfAlert(std::string alert) {
  return [alert = std::move(alert)](const RecordedEvent& first) -> Status {
    auto data = DecodeEventData(first.type, first.data, StoredEventLimits());
    if (!data.ok()) return data.status();
    if (std::get<AlertAcknowledged>(*data).alert == alert) return Status::Ok();
    return Status::Conflict("Idempotency-Key was first used to acknowledge another alert");
  };
}

// The key of an acknowledgment written without one: the alert's id is the
// natural idempotency key, one acknowledgment per person and alert however
// often it is sent. The newline keeps it apart from every key a client can
// send (a header's value holds none): "ack:<alert>", the form before session
// 26, was a key a client could send for another request and so take the id.
static std::string KeylessAcknowledgmentKey(std::string_view alert_id) {
  return "ack\n" + std::string(alert_id);
}

Result<std::optional<WriteResult>> CaseService::AlertAcknowledgment(
    std::string_view person, std::string_view alert_id) const {
  ASSIGN_OR_RETURN(std::string stream, AcknowledgmentStream(person, alert_id));
  ASSIGN_OR_RETURN(auto written, Replay(*store_, person, KeylessAcknowledgmentKey(alert_id),
                                        {stream, AlertAcknowledged::kType, nullptr}));
  if (written) return written;
  // Written before session 26 under "ack:<alert>"; that id taken by a
  // client's key for something else is no acknowledgment of this alert.
  auto before =
      Replay(*store_, person, "ack:" + std::string(alert_id),
             {std::move(stream), AlertAcknowledged::kType, OfAlert(std::string(alert_id))});
  if (!before.ok() && before.status().code() == StatusCode::kConflict) {
    return std::optional<WriteResult>();
  }
  return before;
}

Result<std::optional<WriteResult>> CaseService::KeyedAlertAcknowledgment(
    std::string_view person, std::string_view alert_id, std::string_view idempotency_key) const {
  ASSIGN_OR_RETURN(std::string stream, AcknowledgmentStream(person, alert_id));
  // The alert acknowledged first is not named: the token now asking may not
  // be one that sees it.
  return Replay(*store_, person, idempotency_key,
                {std::move(stream), AlertAcknowledged::kType, OfAlert(std::string(alert_id))});
}

Result<WriteResult> CaseService::AcknowledgeAlert(std::string_view person,
                                                  std::string_view alert_id,
                                                  std::string_view idempotency_key) {
  if (!idempotency_key.empty()) {
    ASSIGN_OR_RETURN(auto replayed, KeyedAlertAcknowledgment(person, alert_id, idempotency_key));
    if (replayed) return *replayed;
  } else {
    ASSIGN_OR_RETURN(auto replayed, AlertAcknowledgment(person, alert_id));
    if (replayed) return *replayed;
  }
  return AppendEvents(
      "alerts/" + std::string(person), ExpectedVersion::Any(), person,
      {AlertAcknowledged{std::string(alert_id), std::string(person)}},
      idempotency_key.empty() ? KeylessAcknowledgmentKey(alert_id) : std::string(idempotency_key));
}

Result<WriteResult> CaseService::RecordDeadlineMissed(std::string_view case_id,
                                                      DeadlineKind deadline, std::int64_t due_at) {
  return RecordDeadlineFact(case_id, deadline, due_at, /*warning=*/false);
}

Result<WriteResult> CaseService::RecordDeadlineApproaching(std::string_view case_id,
                                                           DeadlineKind deadline,
                                                           std::int64_t due_at) {
  return RecordDeadlineFact(case_id, deadline, due_at, /*warning=*/true);
}

namespace {
// The keys a deadline's fact may go under (RecordDeadlineFact).
constexpr int kFactKeys = 8;
}  // namespace

Result<WriteResult> CaseService::RecordDeadlineFact(std::string_view case_id, DeadlineKind deadline,
                                                    std::int64_t due_at, bool warning) {
  // The key (so the event id) is fixed by case, deadline and due time: the
  // store writes each fact once however often, or by however many, it is
  // called. '|' is outside the stream alphabet, so no case id makes a
  // DeadlineMissed key (which starts with the case id) equal to a warning's.
  const std::string first_key = std::string(warning ? "warn|" : "") + std::string(case_id) + "/" +
                                std::string(Name(deadline)) + "/" + std::to_string(due_at);
  const std::string what =
      "deadline " + std::string(Name(deadline)) + " of " + std::string(case_id);
  const CaseEventData fact = warning ? CaseEventData(DeadlineApproaching{deadline, due_at})
                                     : CaseEventData(DeadlineMissed{deadline, due_at});
  // What a key holds is this fact only if it says this deadline and due
  // time: anyone can compute the key, and a raw import put under it a miss of
  // another deadline, taken for this one's (review 112: the deadline was
  // then never missed, and every step on the case was 409 for good). Another
  // body is another request's: the fact goes under the next key.
  const RequestShape shape{
      CaseStream(case_id), warning ? DeadlineApproaching::kType : DeadlineMissed::kType,
      [&fact](const RecordedEvent& first) -> Status {
        auto stored = DecodeEventData(first.type, first.data, StoredEventLimits());
        if (stored.ok() && *stored == fact) return Status::Ok();
        return Status::Conflict("the key holds another deadline's fact");
      }};
  for (int attempt = 0; attempt < options_.max_retries; ++attempt) {
    // A raw append may carry any event id, that of a fact to come too
    // (review 103: a note took a miss's, which was then never written, and
    // every step on the case was 409). The fact then goes under the next of
    // a few keys derived from the first: still written once, and found
    // again, however often and by however many it is asked for.
    std::string key = first_key;
    std::optional<WriteResult> replayed;
    for (int slot = 1;; ++slot) {
      auto found = Replay(*store_, kSystemActor, key, shape);
      if (found.ok()) {
        replayed = std::move(*found);
        break;
      }
      if (found.status().code() != StatusCode::kConflict || slot >= kFactKeys) {
        return found.status();
      }
      key = first_key + "#" + std::to_string(slot);
    }
    if (replayed) return *replayed;
    ASSIGN_OR_RETURN(CaseState state, LoadCase(case_id));
    const CaseDeadline* d = state.Deadline(deadline);
    // A deadline already missed is missed once; moved since (a rescheduled
    // callback), its new due time is still warned of while it is to come.
    const std::int64_t now = DecisionTime();
    const bool warnable_after_miss =
        d != nullptr && warning && d->moved_since_missed() && due_at > now;
    // A closed case owes nothing: the engine closes only what is resolved
    // (its deadlines met, its callback done or given up on), but a raw
    // import may close a case with deadlines open (black-box probe 79: the
    // watch then warned of and missed a closed case's first contact).
    if (d == nullptr || d->due_at != due_at || d->met || (d->missed && !warnable_after_miss) ||
        state.status == CaseStatus::kClosed) {
      return Status::Conflict(what + " is no longer open");
    }
    // A miss is of what has passed: the watch and a step ask only then, and
    // this public call holds every other caller to it (review 112: a miss
    // could be stamped before its due time).
    if (!warning && now < due_at) {
      return Status::Conflict(what + " is not due until " + FormatTimestamp(due_at));
    }
    if (warning && d->warned) return Status::Conflict(what + " was already warned");
    // A warning is of what is to come: stamped at or after the due time it
    // would come with no miss before it (review 99), so the store refuses it
    // then, and the watch records the miss instead.
    if (warning && now >= due_at) return Status::Conflict(what + " is due already");
    // A full case takes only the misses of deadlines set before (case_state.h).
    if (warning && state.version >= kMaxCaseEvents) {
      return Status::Conflict(what + " is not warned of: the case holds " +
                              std::to_string(state.version) +
                              " events, the most; only a miss is still written");
    }
    auto written = AppendEvents(CaseStream(case_id), ExpectedVersion::Exact(state.version),
                                kSystemActor, {fact}, key, &state, warning ? due_at : 0);
    if (written.ok() || written.status().code() != StatusCode::kConflict) return written;
  }
  return Status::Conflict("case " + std::string(case_id) + " keeps changing; try later");
}

}  // namespace casegrid
