// The case routes of API.md: report, list, view, history and the actions
// on a case (HttpApi::RouteCases), and the as_of and scope checks they and
// the dashboard share.
#include <simdjson.h>

#include "api/http_call.h"
#include "engine/names.h"
#include "engine/time_format.h"
#include "projections/case_view.h"
#include "projections/json_writer.h"

namespace casegrid {

Result<std::optional<HttpApi::AsOf>> HttpApi::AsOfQuery(Call& call) {
  if (!call.Has("as_of")) return std::optional<AsOf>();
  if (!call.as_of_place && options_.max_as_of_reads_per_token > 0) {
    call.as_of_place = as_of_places_.TryTake(call.who.sub);
    if (!call.as_of_place) {
      return Status::RateLimited(
          "at most " + std::to_string(options_.max_as_of_reads_per_token) +
          " reads as of a past moment at once per token subject (serve "
          "--max-as-of-reads-per-token); try again when one has been answered");
    }
  }
  const std::string text = call.Query("as_of");
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    ASSIGN_OR_RETURN(std::uint64_t p, ParseCount(text, "as_of"));
    if (const Position head = service_->store().Head().position; p > head) {
      return Status::InvalidArgument("as_of: position " + std::to_string(p) +
                                     " is past the log's head " + std::to_string(head));
    }
    return std::optional<AsOf>(AsOf{p, std::nullopt});
  }
  auto t = ParseRfc3339(text);
  if (!t.ok()) return Status::InvalidArgument("as_of: a position or an RFC 3339 time");
  // Like a position past the head: the future is not a past to replay.
  if (*t > clock_->NowMillis()) {
    return Status::InvalidArgument("as_of: " + FormatTimestamp(*t) + " is in the future");
  }
  // Settled first: an event stamped at or before the time but still being
  // written would join the answer the next time it is asked (an auditor's
  // "as it stood then" must not change). Waits an fsync, normally.
  RETURN_IF_ERROR(service_->store().SettleThrough(*t, kViewsCatchUpWait));
  ASSIGN_OR_RETURN(Position p, projector_->PositionAt(*t));
  return std::optional<AsOf>(AsOf{p, *t});
}

void HttpApi::ChargeAsOfWork(Call& call, std::uint64_t events) const {
  if (options_.as_of_events_per_request == 0) return;
  call.work += static_cast<double>(events / options_.as_of_events_per_request);
}

Result<CaseState> HttpApi::ScopedCase(Call& call, const std::string& id, Position at) {
  const Principal& who = call.who;
  RETURN_IF_ERROR(MayReadCases(who));
  ASSIGN_OR_RETURN(CaseState state, service_->LoadCase(id, at, call.reads));
  if (at != UINT64_MAX) ChargeAsOfWork(call, state.version);  // folded from the log
  if (!state.exists) return Status::NotFound("no case " + id);
  if (!InScope(who, state.report.cell)) {
    return Status::PermissionDenied("case " + id + " is outside your cells");
  }
  return state;
}

Result<HttpResponse> HttpApi::RouteCases(Call& call) {
  const HttpRequest& req = call.req;
  const auto& s = call.segments;
  const Principal& who = call.who;
  const std::string key = call.IdempotencyKey();
  const bool get = call.Get(), post = call.Post();
  if (s.size() == 3 && post) {
    if (!HandlesCases(who.role)) return Status::PermissionDenied("your role does not report cases");
    ASSIGN_OR_RETURN(auto cell, StringField(req.body().empty() ? "{}" : req.body(), "cell"));
    if (cell && !InScope(who, *cell)) {
      return Status::PermissionDenied("cell " + *cell + " is outside your cells");
    }
    ASSIGN_OR_RETURN(call.pending, service_->BeginReport(who.sub, req.body(), key, call.reads));
    call.created = true;
    return HttpResponse();  // answered once call.pending is written
  }
  if (s.size() == 3 && get) {
    RETURN_IF_ERROR(MayReadCases(who));
    if (call.Has("as_of")) {
      // Silently answering the present to a question about the past would
      // mislead an auditor.
      return Status::InvalidArgument(
          "as_of: case lists answer the present only; ask a case's view or history with "
          "as_of");
    }
    CaseQuery query;
    query.cell = call.Query("cell");
    if (query.cell.empty() && !InScope(who, "")) {
      query.cells = who.cells;  // no cell named: all of the token's cells (none: no case)
    } else if (!InScope(who, query.cell)) {
      return Status::PermissionDenied("cell " + query.cell + " is outside your cells");
    }
    RETURN_IF_ERROR(AwaitCellInViews(call, query.cell));
    if (call.Has("state")) {
      const std::string st = call.Query("state");
      bool found = false;
      for (CaseStatus c : {CaseStatus::kReported, CaseStatus::kAssigned, CaseStatus::kInProgress,
                           CaseStatus::kResolved, CaseStatus::kClosed}) {
        if (Name(c) == st) query.state = c, found = true;
      }
      if (!found) {
        return Status::InvalidArgument(
            "state: unknown value \"" + st +
            "\" (one of reported, assigned, in_progress, resolved, closed)");
      }
    }
    if (call.Has("kind")) {
      query.kind = ParseCaseKind(call.Query("kind"));
      if (!query.kind) {
        return Status::InvalidArgument("kind: unknown value \"" + call.Query("kind") +
                                       "\" (one of dispute, incident, hazard, assistance)");
      }
    }
    if (call.Has("limit")) {
      ASSIGN_OR_RETURN(std::uint64_t limit, ParseLimit(call.Query("limit")));
      query.limit = static_cast<std::size_t>(std::min<std::uint64_t>(limit, options_.max_page));
    }
    query.after = call.Query("after");
    ASSIGN_OR_RETURN(CasePage page, projector_->ListCases(query));
    JsonWriter j;
    j.BeginObject().Key("cases").BeginArray();
    for (const std::string& view : page.views) {
      // Views are stored unmasked; mask for those who do not handle the case.
      simdjson::dom::parser parser;
      simdjson::dom::element e;
      std::string_view id, assignee;
      if (!parser.parse(view).get(e) && !e["case_id"].get(id)) {
        if (e["assignee"].get(assignee)) assignee = {};  // null: nobody yet
        if (!HandlesTheCase(who, assignee)) {
          ASSIGN_OR_RETURN(CaseState state, service_->LoadCase(std::string(id)));
          j.Raw(RenderCaseView(state, PersonalData::kMasked));
          continue;
        }
      }
      j.Raw(view);
    }
    j.EndArray().Key("next");
    if (page.next) {
      j.String(*page.next);
    } else {
      j.Null();
    }
    j.EndObject();
    return Json(http::status::ok, j.Take(), req);
  }
  if (s.size() >= 4) {
    const std::string& id = s[3];
    if (s.size() == 4 && get) {
      ASSIGN_OR_RETURN(std::optional<AsOf> at, AsOfQuery(call));
      // The case as it is now decides the scope (a case keeps its cell), so
      // an as_of outside it tells nothing, not even when the case began;
      // and the masking: whoever does not handle it now, as of any past.
      ASSIGN_OR_RETURN(CaseState now, ScopedCase(call, id, UINT64_MAX));
      CaseState state = now;
      if (at) {
        ASSIGN_OR_RETURN(state, ScopedCase(call, id, at->position));
      }
      const auto personal =
          HandlesTheCase(who, now.assignee) ? PersonalData::kShown : PersonalData::kMasked;
      return Json(http::status::ok, RenderCaseView(state, personal), req);
    }
    if (s.size() == 5 && get && s[4] == "history") {
      ASSIGN_OR_RETURN(std::optional<AsOf> at, AsOfQuery(call));
      // Scope and what is shown by the case as it is now, as for its view.
      ASSIGN_OR_RETURN(CaseState state, ScopedCase(call, id, UINT64_MAX));
      if (at) RETURN_IF_ERROR(ScopedCase(call, id, at->position).status());  // 404 before it began
      const bool whole = SeesCaseEvents(who, state.assignee);
      ASSIGN_OR_RETURN(auto events,
                       service_->store().ReadStream(CaseStream(id), 1, kMaxCaseHistory + 1,
                                                    ReadDirection::kForward));
      if (at) ChargeAsOfWork(call, events.size());  // read whole, answered cut
      if (events.size() > kMaxCaseHistory) {
        return Status::TooLarge("case " + id + " holds more than " +
                                std::to_string(kMaxCaseHistory) +
                                " events, more than a history answers (a case holds at most " +
                                std::to_string(kMaxCaseEvents) +
                                " now); an auditor reads it all in GET /api/v1/events");
      }
      JsonWriter j;
      j.BeginObject().Key("events").BeginArray();
      for (const RecordedEvent& e : events) {
        if (at && e.position > at->position) break;  // the history as it stood then
        j.Raw(e.EnvelopeJson(whole, SeesHashes(who)));
      }
      j.EndArray().EndObject();
      return Json(http::status::ok, j.Take(), req);
    }
    if (s.size() == 5 && post) {
      if (!HandlesCases(who.role)) {
        return Status::PermissionDenied("your role does not handle cases");
      }
      if (!ParseCaseAction(s[4])) return Status::NotFound("no action " + s[4]);
      RETURN_IF_ERROR(ScopedCase(call, id, UINT64_MAX).status());  // 404, or 403 out of scope
      // An escalation from tier 2 (to the judicial side) is a supervisor's
      // (or an operator's) decision.
      const auto tier_three_refused = [&](int from_tier) -> Status {
        if (s[4] != "escalate" || from_tier != 2 || who.role == Role::kSupervisor ||
            who.role == Role::kOperator) {
          return Status::Ok();
        }
        return Status::PermissionDenied("escalation to tier 3 is a supervisor's decision");
      };
      ASSIGN_OR_RETURN(call.pending,
                       service_->BeginAct(who.sub, id, s[4], req.body(), key, call.reads));
      // On the case the escalation was decided on, once its body and the
      // lifecycle have had their say (a bad body is 400, a closed case 409,
      // as for any role; review 98), and never on the case read above: a
      // 1 → 2 escalation committed in between would let an officer's go
      // 2 → 3 (a lost race decided again keeps the tier: CaseService).
      if (!call.pending->answer) {
        if (Status refused = tier_three_refused(call.pending->decided_on().tier); !refused.ok()) {
          call.pending.reset();
          return refused;
        }
      } else if (s[4] == "escalate" && who.role != Role::kSupervisor &&
                 who.role != Role::kOperator) {
        // A repeat under the key of an escalation to tier 3 is as much the
        // supervisor's as the first (probe 99: the first answer's 200 went
        // to a token of the same subject with an officer's role).
        const Result<CaseState> before =
            service_->LoadCase(id, call.pending->answer->position - 1, call.reads);
        if (Status refused = before.ok() ? tier_three_refused(before->tier) : before.status();
            !refused.ok()) {
          call.pending.reset();
          return refused;
        }
      }
      return HttpResponse();  // answered once call.pending is written
    }
  }
  return NoSuchRoute(req);
}

}  // namespace casegrid
