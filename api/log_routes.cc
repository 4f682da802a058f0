// The routes of the log itself (API.md): its pages for auditors
// (HttpApi::RouteEvents), the digest of its hash chain (HttpApi::RouteAudit)
// and an admin's raw appends for imports (HttpApi::RouteStreams).
#include <simdjson.h>

#include <algorithm>

#include "api/http_call.h"
#include "engine/canonical_json.h"
#include "engine/case_stream_rules.h"
#include "engine/command_body.h"
#include "engine/hash_chain.h"
#include "projections/json_writer.h"

namespace casegrid {
namespace {

// A raw append's body: its own three levels (body, events, an event) above
// event data of the usual depth (JsonLimits).
constexpr std::size_t kRawAppendDepth = JsonLimits{}.max_depth + 3;

}  // namespace

Result<HttpResponse> HttpApi::RouteEvents(Call& call) {
  const HttpRequest& req = call.req;
  const Principal& who = call.who;
  if (call.segments.size() != 3 || !call.Get()) return NoSuchRoute(req);
  RETURN_IF_ERROR(MayReadTheLog(who));
  std::uint64_t after = 0, limit = options_.max_page;
  if (call.Has("after")) {
    ASSIGN_OR_RETURN(after, ParseCount(call.Query("after"), "after"));
    // At the head is "nothing new yet"; past it is a position this log
    // never had (another log's?), refused as the events channel and
    // `casegrid tail` refuse it.
    if (const Position head = service_->store().Head().position; after > head) {
      return Status::InvalidArgument("after: position " + std::to_string(after) +
                                     " is beyond the log's head " + std::to_string(head));
    }
  }
  if (call.Has("limit")) {
    ASSIGN_OR_RETURN(limit, ParseLimit(call.Query("limit")));
  }
  ASSIGN_OR_RETURN(auto events, service_->store().ReadAll(
                                    after, std::min<std::uint64_t>(limit, options_.max_page)));
  // A page of nothing but this auditor's own audit reads (a tail at the
  // head: the reads of the pages before) is not recorded itself, or paging
  // would never end. Another auditor's records say who looked at what:
  // reading them is recorded like any read. An empty page is a read too
  // ("has anything happened since?", black-box probe 71): recorded, its
  // record is the next page, which is the auditor's own.
  const std::string own_stream = "audit/" + who.sub;
  call.audit_read =
      events.empty() || !std::all_of(events.begin(), events.end(), [&](const RecordedEvent& e) {
        return e.type == "AuditRead" && e.stream == own_stream;
      });
  JsonWriter j;
  j.BeginObject().Key("events").BeginArray();
  for (const RecordedEvent& e : events) j.Raw(e.EnvelopeJson());
  j.EndArray().EndObject();
  return Json(http::status::ok, j.Take(), req);
}

Result<HttpResponse> HttpApi::RouteAudit(Call& call) {
  const HttpRequest& req = call.req;
  const auto& s = call.segments;
  if (s.size() != 4 || s[3] != "digest" || !call.Get()) return NoSuchRoute(req);
  if (!SeesHashes(call.who)) {
    return Status::PermissionDenied(
        "the digest is for auditors, operators, supervisors and admins: your role sees cases "
        "masked, and the log's hashes would unmask them");
  }
  const LogHead head = service_->store().Head();
  JsonWriter j;
  j.BeginObject().Key("position").Int(static_cast<std::int64_t>(head.position));
  j.Key("hash").String(HashToHex(head.hash)).EndObject();
  return Json(http::status::ok, j.Take(), req);
}

Result<HttpResponse> HttpApi::RouteStreams(Call& call) {
  const HttpRequest& req = call.req;
  const Principal& who = call.who;
  if (call.segments.size() < 4 || !call.Post()) return NoSuchRoute(req);
  if (who.role != Role::kAdmin) return Status::PermissionDenied("raw appends are the admin's");
  const std::string stream = call.Rest(3);
  const std::string key = call.IdempotencyKey();
  if (stream.rfind("grid/", 0) == 0) {
    return Status::InvalidArgument("stream: the grid is written through /api/v1/grid");
  }
  RETURN_IF_ERROR(RefuseTheServersStreams(stream));
  const std::string case_id(CaseIdOfStream(stream));
  if (case_id.empty() && !InScope(who, "")) {
    return Status::PermissionDenied("stream " + stream +
                                    " lies in no cell: appending to it needs a token for the "
                                    "whole grid (cells [\"\"])");
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(req.body()).get(root)) {
    return Status::InvalidArgument("body: " + WhyNotJson(req.body()));
  }
  RETURN_IF_ERROR(OnlyFields(root, {"expected_version", "events"}, "body", ""));
  // A member sent twice, in the body or in an event's data, is refused:
  // which one counts would be a guess (simdjson takes the first).
  if (auto once = CanonicalizeObject(req.body(), {req.body().size(), kRawAppendDepth});
      !once.ok()) {
    return Status::InvalidArgument("body: " + once.status().message());
  }
  AppendRequest append{stream, ExpectedVersion::Any(), who.sub, {}};
  if (auto ev = root["expected_version"]; ev.error() != simdjson::NO_SUCH_FIELD) {
    std::uint64_t v = 0;
    std::string_view name;
    if (!ev.get(v)) {
      append.expected = v == 0 ? ExpectedVersion::NoStream() : ExpectedVersion::Exact(v);
    } else if (!ev.get(name) && (name == "any" || name == "no_stream" || name == "exists")) {
      append.expected = name == "any"         ? ExpectedVersion::Any()
                        : name == "no_stream" ? ExpectedVersion::NoStream()
                                              : ExpectedVersion::Exists();
    } else {
      return Status::InvalidArgument("expected_version: an integer, or any, no_stream, exists");
    }
  }
  simdjson::dom::array events;
  if (root["events"].get(events)) return Status::InvalidArgument("events: must be a list");
  std::size_t i = 0;
  for (auto item : events) {
    const std::size_t index = i++;
    const std::string at = "events[" + std::to_string(index) + "].";
    RETURN_IF_ERROR(OnlyFields(item, {"type", "id", "data"}, at.substr(0, at.size() - 1), at));
    std::string_view type, id;
    simdjson::dom::object data;
    if (item["type"].get(type)) return Status::InvalidArgument(at + "type: must be a string");
    if (auto f = item["id"]; f.error() != simdjson::NO_SUCH_FIELD && f.get(id)) {
      return Status::InvalidArgument(at + "id: must be a string");
    }
    if (item["data"].get(data)) return Status::InvalidArgument(at + "data: must be an object");
    // An event without an id, under an Idempotency-Key, gets the id the key
    // gives it, as every other write's events do: a retry is then answered
    // by the first append and writes nothing (it wrote twice: a key was
    // ignored here, and a missing id made at random; black-box probe,
    // session 25).
    std::string event_id(id);
    if (event_id.empty() && !key.empty()) event_id = IdempotentEventId(who.sub, key, index);
    NewEvent e{std::move(event_id), std::string(type), simdjson::minify(data)};
    auto checked = CheckImportedData(e);
    if (!checked.ok()) {
      return Status(checked.status().code(), at + "data: " + checked.status().message());
    }
    // A case stream is written in the case's cell, and opened by its report.
    if (!case_id.empty() && index == 0) {
      if (const auto* report = *checked ? std::get_if<CaseReported>(&**checked) : nullptr) {
        if (!InScope(who, report->cell)) {
          return Status::PermissionDenied(at + "data.cell: " + report->cell +
                                          " is outside your cells");
        }
        if (!service_->grid().HasCell(report->cell)) {  // as at intake
          return Status::InvalidArgument(at + "data.cell: " + report->cell +
                                         " is not a defined cell");
        }
      }
    }
    append.events.push_back(std::move(e));
  }
  if (!case_id.empty()) {
    RETURN_IF_ERROR(PinCaseStreamOpening(append));
    if (append.expected.kind != ExpectedVersion::Kind::kNoStream) {
      ASSIGN_OR_RETURN(CaseState state, service_->LoadCase(case_id, UINT64_MAX, call.reads));
      if (state.exists && !InScope(who, state.report.cell)) {
        return Status::PermissionDenied("case " + case_id + " is outside your cells");
      }
    }
  }
  const AppendRequest pinned{append.stream, append.expected, "", {}};
  const auto start = std::chrono::steady_clock::now();
  auto appended = service_->store().Append(std::move(append));
  if (!appended.ok()) return ExplainCaseStreamConflict(pinned, appended.status());
  const AppendResult& r = *appended;
  if (!case_id.empty() && pinned.expected.kind == ExpectedVersion::Kind::kNoStream) {
    service_->NoteCaseOpened(case_id);
  }
  metrics_->RecordAppend(std::chrono::steady_clock::now() - start);
  JsonWriter j;
  j.BeginObject().Key("position").Int(static_cast<std::int64_t>(r.last_position));
  j.Key("version").Int(static_cast<std::int64_t>(r.last_version)).EndObject();
  return Json(http::status::ok, j.Take(), req);
}

}  // namespace casegrid
