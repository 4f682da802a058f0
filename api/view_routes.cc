// The routes of the views people watch (API.md): a node's dashboard, now
// or as of the past (HttpApi::RouteDashboard), and a person's alerts and
// their acknowledgment (HttpApi::RouteAlerts).
#include <limits>

#include "api/http_call.h"
#include "projections/json_writer.h"

namespace casegrid {

Result<HttpResponse> HttpApi::RouteDashboard(Call& call) {
  const HttpRequest& req = call.req;
  const Principal& who = call.who;
  if (!call.Get()) return NoSuchRoute(req);
  const std::string path = call.Rest(3);
  RETURN_IF_ERROR(MayReadCases(who));
  if (!InScope(who, path)) {
    return Status::PermissionDenied("dashboard " + (path.empty() ? "of the root" : path) +
                                    " is outside your cells");
  }
  ASSIGN_OR_RETURN(std::optional<AsOf> at, AsOfQuery(call));
  if (at) {
    // A position in the log the views have not folded yet (the caller's
    // own write, just acknowledged): wait for them, as an acknowledgment
    // does, rather than refuse what the log holds. (This runs on a worker.)
    RETURN_IF_ERROR(AwaitViews(at->position));
    std::uint64_t cost = 0;
    ASSIGN_OR_RETURN(std::string view,
                     projector_->DashboardAsOf(path, at->position, at->time_ms, &cost));
    ChargeAsOfWork(call, cost);
    return Json(http::status::ok, std::move(view), req);
  }
  RETURN_IF_ERROR(AwaitCellInViews(call, path));
  ASSIGN_OR_RETURN(std::string view, projector_->Dashboard(path, clock_->NowMillis()));
  return Json(http::status::ok, std::move(view), req);
}

Status HttpApi::AwaitCellInViews(const Call& call, std::string_view cell) const {
  if (cell.empty() || projector_->grid().HasCell(cell) || !service_->grid().HasCell(cell)) {
    return Status::Ok();
  }
  if (call.reads == StorageReads::kCachedOnly) {
    return Status(StatusCode::kWouldBlock, "the views have not folded the cell yet");
  }
  return AwaitViews(service_->store().Head().position);
}

Status HttpApi::AwaitViews(Position position) const {
  if (position <= projector_->position() || projector_->WaitFor(position, kViewsCatchUpWait)) {
    return Status::Ok();
  }
  return Status::Unavailable("the views are at position " + std::to_string(projector_->position()) +
                             ", behind position " + std::to_string(position) +
                             " of the log; try again");
}

// A token sees its person's alerts about cases in its cells; an admin none.
Result<HttpResponse> HttpApi::RouteAlerts(Call& call) {
  const HttpRequest& req = call.req;
  const auto& s = call.segments;
  const Principal& who = call.who;
  const std::string key = call.IdempotencyKey();
  const bool get = call.Get(), post = call.Post();
  if (s.size() == 3 && get) {
    RETURN_IF_ERROR(MayReadCases(who));
    // Newest first, paged like the case list: `next` is the position of the
    // page's oldest alert, and `after=<next>` goes on to older ones.
    std::size_t limit = options_.max_page;
    if (call.Has("limit")) {
      ASSIGN_OR_RETURN(std::uint64_t asked, ParseLimit(call.Query("limit")));
      limit = static_cast<std::size_t>(std::min<std::uint64_t>(asked, options_.max_page));
    }
    Position upto = UINT64_MAX;
    if (call.Has("after")) {
      ASSIGN_OR_RETURN(Position cursor, ParseCount(call.Query("after"), "after"));
      if (cursor == 0) return Status::InvalidArgument("after: must be a page's next (a position)");
      upto = cursor - 1;
    }
    ASSIGN_OR_RETURN(auto alerts, projector_->OpenAlertsBetween(who.sub, 0, upto, limit + 1, true,
                                                                AlertsVisibleTo(who)));
    const bool more = alerts.size() > limit;
    if (more) alerts.pop_back();
    JsonWriter j;
    j.BeginObject().Key("alerts").BeginArray();
    for (const auto& a : alerts) j.Raw(a.second);
    j.EndArray().Key("next");
    if (more) {
      j.String(std::to_string(alerts.back().first));
    } else {
      j.Null();
    }
    j.EndObject();
    return Json(http::status::ok, j.Take(), req);
  }
  if (s.size() == 5 && s[4] == "ack" && post) {
    RETURN_IF_ERROR(MayReadCases(who));
    if (who.role == Role::kAuditor) return Status::PermissionDenied("an auditor writes nothing");
    RETURN_IF_ERROR(NoFields(req.body()));  // an acknowledgment takes none
    const AlertFilter in_scope = AlertsVisibleTo(who);
    // A first answer goes only to a token that may see the alert.
    auto answer_if_visible =
        [&](const std::optional<WriteResult>& first) -> Result<std::optional<HttpResponse>> {
      bool visible = first.has_value();
      if (visible && in_scope) {
        ASSIGN_OR_RETURN(auto cell, projector_->CellOfAlert(s[3]));
        visible = cell && in_scope(*cell);
      }
      if (!visible) return std::optional<HttpResponse>();
      return std::optional<HttpResponse>(Json(http::status::ok, WriteAnswer(*first, false), req));
    };
    // One acknowledgment of a person at a time, from the key's check to the
    // write: under a key the event's id is the key's, so the store no longer
    // keeps a second acknowledgment of the alert out; this does.
    std::optional<PersonTurns::Turn> turn = acknowledgment_turns_.Take(who.sub);
    if (!turn) {
      // Nothing written: slow down and send it again (429 carries Retry-After).
      return Status::RateLimited("acknowledgments of yours are waiting already; try again");
    }
    if (!key.empty()) {
      // The key's first answer; the key used for another alert is a 409.
      ASSIGN_OR_RETURN(auto first, service_->KeyedAlertAcknowledgment(who.sub, s[3], key));
      ASSIGN_OR_RETURN(auto answer, answer_if_visible(first));
      if (answer) return std::move(*answer);
      if (first) return Status::NotFound("no open alert " + s[3] + " of yours");
    }
    RETURN_IF_ERROR(AwaitAcknowledgmentsFolded(who.sub));
    // Only an id as the server issues it: another spelling of the same
    // position ("007719-…") would be written to the log and pushed as typed,
    // where clients match the ids they were given.
    bool open = IsIssuedAlertId(s[3]);
    if (open) {
      ASSIGN_OR_RETURN(open, projector_->HasOpenAlert(who.sub, s[3], in_scope));
    }
    if (!open && !key.empty()) {
      // Acknowledged without a key, or before keys were kept: a repeat
      // carrying one gets that first answer.
      ASSIGN_OR_RETURN(auto first, service_->AlertAcknowledgment(who.sub, s[3]));
      ASSIGN_OR_RETURN(auto answer, answer_if_visible(first));
      if (answer) return std::move(*answer);
    }
    if (!open) return Status::NotFound("no open alert " + s[3] + " of yours");
    ASSIGN_OR_RETURN(WriteResult w,
                     Timed([&] { return service_->AcknowledgeAlert(who.sub, s[3], key); }));
    turn.reset();  // the next one waits for the views to fold this one itself
    // Read your write: the alert list answers from the views, which fold the
    // acknowledgment a moment later; a list read right after the answer must
    // not show the alert still open. (This runs on a worker, not an io thread.)
    projector_->WaitFor(w.position, std::chrono::seconds(2));
    return Json(http::status::ok, WriteAnswer(w, false), req);
  }
  return NoSuchRoute(req);
}

Status HttpApi::AwaitAcknowledgmentsFolded(const std::string& person) {
  // The person's last acknowledgment: one backward read from the top.
  ASSIGN_OR_RETURN(auto last, service_->store().ReadStream(
                                  "alerts/" + person, std::numeric_limits<StreamVersion>::max(), 1,
                                  ReadDirection::kBackward));
  if (!last.empty() && !projector_->WaitFor(last.front().position, std::chrono::seconds(2))) {
    return Status::Unavailable("the alerts view is behind the log; try again");
  }
  return Status::Ok();
}

}  // namespace casegrid
