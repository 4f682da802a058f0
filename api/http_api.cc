#include "api/http_api.h"

#include <filesystem>
#include <mutex>

#include <simdjson.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <vector>

#include "api/http_call.h"
#include "api/static_files.h"
#include "engine/time_format.h"
#include "projections/json_writer.h"

namespace casegrid {
namespace {

std::string PercentDecode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
      if (ec == std::errc() && p == in.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += in[i];  // '+' too: a space is %20 (RFC 3986; '+' for a space is HTML forms' own)
  }
  return out;
}

// One query parameter as it came (`pair`), its name decoded, its value as
// it came ("" without '=').
struct QueryPair {
  std::string_view pair;
  std::string name;
  std::string_view raw_value;
};
// Calls `each` with every parameter of `target`'s query, in order, until it
// returns false.
template <typename Each>
void ForEachQueryPair(std::string_view target, Each&& each) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return;
  for (std::string_view rest = target.substr(q + 1); !rest.empty();) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (!each(QueryPair{pair, PercentDecode(pair.substr(0, eq)), value})) return;
    if (amp == std::string_view::npos) return;
    rest.remove_prefix(amp + 1);
  }
}

constexpr std::string_view kQueryParameters[] = {"after", "as_of", "cell", "kind",
                                                 "limit", "state", "token"};

// The query parameters the API's GET route at `s` (its path, split) takes,
// besides `token`, which any request may carry. Writes take none.
std::vector<std::string_view> ParametersTaken(bool get, const std::vector<std::string>& s) {
  if (!get || s.size() < 3) return {};
  const std::string& family = s[2];
  if (family == "cases") {
    if (s.size() == 3) return {"after", "cell", "kind", "limit", "state"};
    if (s.size() == 4 || (s.size() == 5 && s[4] == "history")) return {"as_of"};
  }
  if (family == "dashboard") return {"as_of"};
  if ((family == "alerts" || family == "events") && s.size() == 3) return {"after", "limit"};
  if (family == "grid" && s.size() >= 4 && s[3] == "cells") return {"as_of"};
  return {};
}

// API.md's answer to an engine status: the HTTP status and the error code.
struct ErrorKind {
  http::status status;
  std::string_view code;
};

ErrorKind ErrorKindOf(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return {http::status::bad_request, "bad_request"};
    case StatusCode::kUnauthenticated:
      return {http::status::unauthorized, "unauthorized"};
    case StatusCode::kPermissionDenied:
      return {http::status::forbidden, "forbidden"};
    case StatusCode::kNotFound:
      return {http::status::not_found, "not_found"};
    case StatusCode::kConflict:
      return {http::status::conflict, "conflict"};
    case StatusCode::kRateLimited:
      return {http::status::too_many_requests, "rate_limited"};
    case StatusCode::kTooLarge:
      return {http::status::payload_too_large, "too_large"};
    case StatusCode::kUnavailable:
      return {http::status::service_unavailable, "unavailable"};
    case StatusCode::kOk:
    case StatusCode::kWouldBlock:  // retried where reads may wait, never answered
    case StatusCode::kCorruption:
    case StatusCode::kInternal:
      break;
  }
  return {http::status::internal_server_error, "internal"};
}

// The folders serve named (HideInServerErrors), as given and absolute.
std::mutex hidden_mu;
std::vector<std::string>& HiddenFolders() {
  static std::vector<std::string> folders;  // guarded by hidden_mu
  return folders;
}

// A failure of the server's own is told without its file paths (the
// storage library names the file: "While appending to file:
// /srv/casegrid/data/log/000004.log"; black-box probe 78: a full disk's 503
// showed the data folder). The folders serve was given are dropped where
// they begin a path ("var/data/log/000004.log" reads "log/000004.log"), and
// what is left of an absolute path is cut to its last component.
std::string WithoutServerPaths(std::string message) {
  {
    std::lock_guard l(hidden_mu);
    for (const std::string& folder : HiddenFolders()) {
      for (std::size_t at = message.find(folder); at != std::string::npos;
           at = message.find(folder, at)) {
        message.erase(at, folder.size());
      }
    }
  }
  constexpr std::string_view kBefore = " \t([{\"'=:";
  constexpr std::string_view kAfter = " \t:)]},;\"'";
  std::string out;
  out.reserve(message.size());
  for (std::size_t i = 0; i < message.size();) {
    if (message[i] != '/' || (i > 0 && kBefore.find(message[i - 1]) == std::string_view::npos)) {
      out += message[i++];
      continue;
    }
    std::size_t end = i;
    while (end < message.size() && kAfter.find(message[end]) == std::string_view::npos) ++end;
    std::string_view path = std::string_view(message).substr(i, end - i);
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    out += path.substr(path.rfind('/') + 1);
    i = end;
  }
  return out;
}

}  // namespace

AlertFilter AlertsVisibleTo(const Principal& who) {
  if (InScope(who, "")) return {};
  return [who](std::string_view cell) { return InScope(who, cell); };
}

std::string_view ErrorCodeName(StatusCode code) {
  return ErrorKindOf(code).code;
}

std::string ErrorJson(const Status& status) {
  // A message may quote what the client sent; JSON must be UTF-8, so bytes
  // that are not become U+FFFD (ICU's conversion replaces ill-formed input).
  std::string message = status.message();
  if (ErrorKindOf(status.code()).status >= http::status::internal_server_error) {
    message = WithoutServerPaths(message);
  }
  if (!simdjson::validate_utf8(message.data(), message.size())) {
    std::string valid;
    icu::UnicodeString::fromUTF8(
        icu::StringPiece(message.data(), static_cast<std::int32_t>(message.size())))
        .toUTF8String(valid);
    message = std::move(valid);
  }
  JsonWriter j;
  j.BeginObject().Key("code").String(ErrorCodeName(status.code()));
  j.Key("message").String(message).EndObject();
  return j.Take();
}

void HideInServerErrors(const std::string& folder) {
  std::vector<std::string> forms = {folder};
  std::error_code ec;
  if (auto absolute = std::filesystem::absolute(folder, ec); !ec) {
    forms.push_back(absolute.lexically_normal().string());
  }
  std::lock_guard l(hidden_mu);
  auto& hidden = HiddenFolders();
  for (std::string form : forms) {
    while (form.size() > 1 && form.back() == '/') form.pop_back();
    if (form.empty() || form == "/" || form == ".") continue;
    form += '/';
    if (std::find(hidden.begin(), hidden.end(), form) == hidden.end()) hidden.push_back(form);
  }
  // Longest first: a folder inside another is dropped whole.
  std::sort(hidden.begin(), hidden.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

// `text` with the bytes that would make a recorded target ambiguous or
// unreadable percent-encoded: `%`, the delimiters in `delimiters`, and
// control characters. The rest (a case id, a cell path, UTF-8) stays clear.
void AppendRecorded(std::string& out, std::string_view text, std::string_view delimiters) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f || c == '%' || delimiters.find(c) != std::string_view::npos) {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    } else {
      out += c;
    }
  }
}

Status RecordAuditRead(EventStore& store, const std::string& auditor, std::string_view target) {
  std::string data = "{\"by\":";
  AppendJsonString(data, auditor);
  data += ",\"target\":";
  // At most 1000 bytes, cut between characters: a character cut in two is
  // not UTF-8, which the store refuses (a read then failed on its record).
  std::string recorded_target(target);
  if (recorded_target.size() > 1000) {
    std::size_t cut = 1000;
    while (cut > 0 && (static_cast<unsigned char>(recorded_target[cut]) & 0xC0) == 0x80) --cut;
    recorded_target.resize(cut);
    recorded_target += "\u2026";  // said cut: "…"
  }
  AppendJsonString(data, recorded_target);
  data += '}';
  auto recorded = store.Append(AppendRequest{"audit/" + auditor,
                                             ExpectedVersion::Any(),
                                             auditor,
                                             {NewEvent{"", "AuditRead", std::move(data)}}});
  if (recorded.ok()) return Status::Ok();
  // The read is not answered unrecorded; what failed is the server's.
  return Status::Unavailable("the record of this audit read could not be written (" +
                             recorded.status().message() + "); try again");
}

HttpResponse ErrorResponse(const Status& status, unsigned version, bool keep_alive) {
  const http::status code = ErrorKindOf(status.code()).status;
  HttpResponse res{code, version};
  res.set(http::field::content_type, "application/json");
  if (code == http::status::unauthorized) res.set(http::field::www_authenticate, "Bearer");
  if (code == http::status::too_many_requests) res.set(http::field::retry_after, "1");
  res.keep_alive(keep_alive);
  res.body() = "{\"error\":" + ErrorJson(status) + "}";
  res.prepare_payload();
  return res;
}

HttpApi::HttpApi(CaseService* service, Projector* projector, const TokenAuthority* auth,
                 const Clock* clock, ApiMetrics* metrics, HttpApiOptions options)
    : service_(service),
      projector_(projector),
      tokens_(auth, options.verified_tokens),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      limiter_(options.requests_per_second, options.burst),
      as_of_places_(options.max_as_of_reads_per_token) {}

std::string HttpApi::AuditTarget(const Call& call) const {
  // A cell path is routed as the segments after its route's joined with
  // '/', however its slashes were written ("%2F" splits it as "/" does; the
  // root is "dashboard" and "dashboard/" alike): recorded as routed, so that
  // one read has one record (black-box probe 90 found "santai%2Fluxi" beside
  // "santai/luxi").
  const auto& s = call.segments;
  const bool api = s.size() >= 3 && s[0] == "api" && s[1] == "v1";
  const std::size_t cell_from = api && s[2] == "dashboard"                                  ? 3
                                : api && s.size() >= 4 && s[2] == "grid" && s[3] == "cells" ? 4
                                                                                            : 0;
  std::string out;
  for (std::size_t i = 0; i < (cell_from > 0 ? cell_from : s.size()); ++i) {
    out += '/';
    AppendRecorded(out, s[i], "/?#");
  }
  if (cell_from > 0) {
    out += '/';
    AppendRecorded(out, call.Rest(cell_from), "?#");
  }
  if (out.empty()) out = "/";
  // Short, bounded parameters first (a list's cell is a defined one, at
  // most 128 bytes): only a list's cursor, last, can reach the record's cut. Parameters the API
  // does not take were refused (ParametersTaken), as is any that is not the API's.
  // A list's page is said as answered: its limit as far as the page bound
  // lets it, and a parameter given its default value is as if not given
  // (black-box probe 95: "/events?after=0&limit=2" beside "/events?limit=2",
  // "/cases?limit=50" beside "/cases").
  const bool list = api && s.size() == 3;
  const std::uint64_t default_limit =
      list && s[2] == "cases" ? CaseQuery().limit : options_.max_page;
  char separator = '?';
  for (const std::string_view name : {"as_of", "limit", "state", "kind", "cell", "after"}) {
    const auto it = call.query.find(std::string(name));
    if (it == call.query.end()) continue;
    const std::string& value = it->second;
    std::string said = value;
    if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos) {
      if (auto n = ParseCount(value, name); n.ok()) {
        std::uint64_t count = *n;
        if (list && name == "limit") {
          count = std::min<std::uint64_t>(count, options_.max_page);
          if (count == default_limit) continue;
        }
        if (list && name == "after" && s[2] == "events" && count == 0) continue;
        said = std::to_string(count);
      }
    } else if (name == "as_of") {
      if (auto t = ParseRfc3339(value); t.ok()) said = FormatTimestamp(*t);
    }
    out += separator;
    out += name;
    out += '=';
    AppendRecorded(out, said, "&#");
    separator = '&';
  }
  return out;
}

Status HttpApi::Parse(Call& call) {
  const std::string_view target = call.req.target();
  // Origin form (RFC 9112 3.2.1; the server turns an absolute form into it):
  // routed without its first byte, "Xapi/v1/…" answered as "/api/v1/…" did,
  // past any proxy's rule on the path.
  if (target.empty() || target.front() != '/') {
    return Status::InvalidArgument("target: must be a path beginning with /");
  }
  // A % is followed by two hex digits (RFC 3986 2.1); "%zz" read literally
  // would name something the client did not write.
  for (std::size_t at = target.find('%'); at != std::string_view::npos;
       at = target.find('%', at + 1)) {
    if (at + 2 >= target.size() || !std::isxdigit(static_cast<unsigned char>(target[at + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(target[at + 2]))) {
      return Status::InvalidArgument("target: a % not followed by two hex digits");
    }
  }
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const auto utf8 = [](const std::string& s) {
    return simdjson::validate_utf8(s.data(), s.size());
  };
  for (std::size_t start = 1; start <= path.size();) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    call.segments.push_back(PercentDecode(path.substr(start, end - start)));
    if (!utf8(call.segments.back())) {
      return Status::InvalidArgument("path: not valid UTF-8 once percent-decoded");
    }
    start = end + 1;
  }
  Status query = Status::Ok();
  ForEachQueryPair(target, [&](const QueryPair& p) {
    // A stray & (or a lone =) names nothing: passed over. A value without a
    // name is refused.
    if (p.name.empty()) {
      if (p.raw_value.empty()) return true;
      query = Status::InvalidArgument("query: a value without a parameter name");
      return false;
    }
    std::string value = PercentDecode(p.raw_value);
    if (!utf8(p.name) || !utf8(value)) {
      query = Status::InvalidArgument("query: not valid UTF-8 once percent-decoded");
      return false;
    }
    // Sent twice, which one counts would be a guess (?token= twice is the
    // credential's own 401, Authenticate).
    if (p.name != "token" && call.query.contains(p.name)) {
      query = Status::InvalidArgument("query: " + std::string(p.name).substr(0, 40) +
                                      " is sent more than once");
      return false;
    }
    call.query[p.name] = std::move(value);
    return true;
  });
  return query;
}

HttpResponse HttpApi::Answer(const Result<WriteResult>& written, bool created, unsigned version,
                             bool keep_alive, std::chrono::steady_clock::time_point start) {
  if (!written.ok()) {
    metrics_->errors.Increment();
    return ErrorResponse(written.status(), version, keep_alive);
  }
  metrics_->RecordAppend(std::chrono::steady_clock::now() - start);
  return Json(created ? http::status::created : http::status::ok, WriteAnswer(*written, created),
              version, keep_alive);
}

std::optional<HttpResponse> HttpApi::Start(Call& call) {
  if (!call.parsed) {
    metrics_->requests.Increment();
    call.parse_status = Parse(call);
    call.parsed = true;
  }
  // (A Result is never made of an OK status: Route answers when parsing did.)
  auto routed = call.parse_status.ok() ? Route(call) : Result<HttpResponse>(call.parse_status);
  if (!call.parse_status.ok() && !options_.operational_only) {
    // A screen's page takes nothing from its query (its script reads it), so
    // a query the API would refuse (`/?cell=%ff`, from a damaged link) does
    // not keep the page from a browser, which would show the JSON error.
    if (auto page = ServeWebFile(call.req, options_.web_root); page && page->ok()) {
      routed = std::move(*page);
    }
  }
  if (!routed.ok() && routed.status().code() == StatusCode::kWouldBlock &&
      call.reads == StorageReads::kCachedOnly) {
    call.must_read = true;
    return std::nullopt;
  }
  if (!call.pending) {
    // A read as of a past moment costs its subject as many requests as the
    // events it took (ChargeAsOfWork), refused after that work or not
    // (review 105: a history too long to answer, 413, was free), and a large
    // answer as many as it is large.
    double charge = call.work;
    if (routed.ok() && options_.bytes_per_request > 0 &&
        routed->body().size() > options_.bytes_per_request) {
      charge += static_cast<double>(routed->body().size() / options_.bytes_per_request);
    }
    if (call.admitted && charge > 0) limiter_.Charge(call.who.sub, charge, clock_->NowMillis());
  }
  if (!routed.ok()) {
    metrics_->errors.Increment();
    return ErrorResponse(routed.status(), call.req.version(), call.req.keep_alive());
  }
  if (call.pending) return std::nullopt;
  if (call.audit_read &&
      http::to_status_class(routed->result()) == http::status_class::successful) {
    if (Status s = RecordAuditRead(service_->store(), call.who.sub, AuditTarget(call)); !s.ok()) {
      metrics_->errors.Increment();
      return ErrorResponse(s, call.req.version(), call.req.keep_alive());
    }
  }
  return std::move(routed).value();
}

HttpResponse HttpApi::Handle(const HttpRequest& req, std::optional<Principal> verified) {
  const auto start = std::chrono::steady_clock::now();
  Call call(req, std::move(verified));
  if (auto now = Start(call)) return std::move(*now);
  return Answer(service_->Commit(std::move(*call.pending)), call.created, req.version(),
                req.keep_alive(), start);
}

bool HttpApi::NeverBlocks(const HttpRequest& req) {
  // POST /api/v1/cases and POST /api/v1/cases/{id}/{action}: they read and
  // decide, then append without waiting (HandleAsync).
  if (req.method() != http::verb::post) return false;
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  constexpr std::string_view kCases = "/api/v1/cases";
  if (path.substr(0, kCases.size()) != kCases) return false;
  path.remove_prefix(kCases.size());
  if (path.empty()) return true;
  if (path[0] != '/') return false;
  const auto slashes = std::count(path.begin(), path.end(), '/');
  return slashes == 2;
}

void HttpApi::HandleAsync(const HttpRequest& req, Continuation then, Continuation offload,
                          std::function<void(HttpResponse)> done,
                          std::optional<Principal> verified) {
  const auto start = std::chrono::steady_clock::now();
  Call call(req, std::move(verified));
  call.reads = StorageReads::kCachedOnly;
  if (auto now = Start(call)) return done(std::move(*now));
  if (!call.must_read) {
    return Commit(call, start, std::move(then), std::move(offload), std::move(done));
  }
  // Routed again where reads may wait (the token is not verified or
  // admitted twice); the answer, or the append, from `then` as before.
  auto again = std::make_shared<Call>(std::move(call));
  Continuation away = offload;
  away([this, again, start, then = std::move(then), offload = std::move(offload),
        done = std::move(done)]() mutable {
    again->reads = StorageReads::kAllowed;
    again->must_read = false;
    std::optional<HttpResponse> now = Start(*again);
    Continuation back = then;
    back([this, again, start, now = std::move(now), then = std::move(then),
          offload = std::move(offload), done = std::move(done)]() mutable {
      if (now) return done(std::move(*now));
      Commit(*again, start, std::move(then), std::move(offload), std::move(done));
    });
  });
}

void HttpApi::Commit(Call& call, std::chrono::steady_clock::time_point start, Continuation then,
                     Continuation offload, std::function<void(HttpResponse)> done) {
  service_->CommitAsync(
      std::move(*call.pending), std::move(then),
      [this, done = std::move(done), created = call.created, version = call.req.version(),
       keep_alive = call.req.keep_alive(), start](Result<WriteResult> written) {
        done(Answer(written, created, version, keep_alive, start));
      },
      std::move(offload));
}

std::string QueryParameter(std::string_view target, std::string_view key) {
  std::string value;
  ForEachQueryPair(target, [&](const QueryPair& p) {
    if (p.name != key) return true;
    value = PercentDecode(p.raw_value);
    return false;
  });
  return value;
}

Result<Principal> HttpApi::CheckCredential(const HttpRequest& header) {
  // No route that needs no token takes a body (the screens' files, healthz,
  // metrics and the WebSocket upgrade are GETs): whatever its path (the API
  // is routed by the decoded path, so "/%61pi/v1/…" is the API too), a body
  // is read only from a client with a token.
  return Credential(header, QueryParameter(header.target(), "token"));
}

Result<Principal> HttpApi::Authenticate(const HttpRequest& req, std::string_view query_token) {
  ASSIGN_OR_RETURN(Principal who, Credential(req, query_token));
  RETURN_IF_ERROR(Admit(who.sub));
  return who;
}

Result<Principal> HttpApi::Credential(const HttpRequest& req, std::string_view query_token) {
  std::string_view token = query_token;
  // One credential per request: with two, which one acts would be a guess.
  if (req.count(http::field::authorization) > 1) {
    return Status::Unauthenticated("Authorization must be sent once");
  }
  int query_tokens = 0;
  ForEachQueryPair(req.target(), [&](const QueryPair& p) {
    query_tokens += p.name == "token";
    return true;
  });
  if (query_tokens > 1) return Status::Unauthenticated("?token= must be sent once");
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    if (query_tokens > 0) {
      return Status::Unauthenticated(
          "a token in Authorization and another in ?token=: send it once, in one of them");
    }
    const std::string_view value = it->value();
    // The scheme name is case-insensitive (RFC 7235 §2.1).
    if (value.size() < 7 || !boost::beast::iequals(value.substr(0, 6), "Bearer") ||
        value[6] != ' ') {
      return Status::Unauthenticated("Authorization must be Bearer <token>");
    }
    token = value.substr(7);
  }
  return tokens_.Verify(token, clock_->NowMillis());
}

Status HttpApi::Admit(const std::string& subject) {
  return limiter_.Admit(subject, clock_->NowMillis());
}

Result<HttpResponse> HttpApi::Route(Call& call) {
  const HttpRequest& req = call.req;
  const auto& s = call.segments;
  const bool get = call.Get();

  if (get && s.size() == 1 && s[0] == "healthz") {
    JsonWriter j;
    j.BeginObject().Key("status").String("ok");
    j.Key("position").Int(static_cast<std::int64_t>(service_->store().Head().position));
    j.Key("views_position").Int(static_cast<std::int64_t>(projector_->position()));
    j.EndObject();
    return Json(http::status::ok, j.Take(), req);
  }
  if (get && s.size() == 1 && s[0] == "metrics") {
    std::string text = metrics_->Render(service_->store().Head().position, projector_->position());
    HttpResponse res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(text);
    res.prepare_payload();
    return res;
  }
  if (options_.operational_only) return Status::NotFound(kOperationalOnly);
  // The browser screens and their files (static_files.h): no token needed.
  if (auto page = ServeWebFile(req, options_.web_root)) return std::move(*page);
  if (s.size() < 2 || s[0] != "api" || s[1] != "v1") return Status::NotFound("no such route");

  // Everything under /api/v1 needs a token.
  if (!call.admitted) {
    if (call.verified) {  // verified with the header (CheckCredential): admitted only
      RETURN_IF_ERROR(Admit(call.verified->sub));
      call.who = std::move(*call.verified);
    } else {
      ASSIGN_OR_RETURN(call.who, Authenticate(req, call.Query("token")));
    }
    call.admitted = true;
  }
  // Every audit read is itself recorded, before it is answered (Start).
  call.audit_read = call.who.role == Role::kAuditor && get;
  const std::string key = call.IdempotencyKey();
  // An empty one is a client's mistake (a variable not set), not "no key":
  // taken for none, its repeat wrote again (black-box probe 104).
  if (key.empty() && call.req.find("Idempotency-Key") != call.req.end()) {
    return Status::InvalidArgument("Idempotency-Key: empty; leave the header out to send none");
  }
  if (key.size() > 128) return Status::InvalidArgument("Idempotency-Key: at most 128 bytes");
  // Visible characters and spaces only (Beast already refuses line breaks):
  // the server's own keys hold a newline, which keeps them apart.
  for (const char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("Idempotency-Key: control characters are not allowed");
    }
  }
  if (call.IdempotencyKeyRepeated()) {
    return Status::InvalidArgument("Idempotency-Key: sent more than once");
  }
  // A parameter no route takes is a mistake, most often a misspelling:
  // `?asof=` or `?asOf=` ignored would answer the present to a question
  // about the past.
  for (const auto& [name, value] : call.query) {
    if (std::find(std::begin(kQueryParameters), std::end(kQueryParameters), name) ==
        std::end(kQueryParameters)) {
      std::string known;
      for (std::string_view p : kQueryParameters)
        known += (known.empty() ? "" : ", ") + std::string(p);
      return Status::InvalidArgument("query: no parameter " + name.substr(0, 40) +
                                     " (the API's are " + known + ")");
    }
  }
  // as_of is answered by a case's view and history and by a dashboard.
  // Anywhere else, the present given to a question about the past would
  // mislead (an auditor's digest above all), and a write has no past.
  if (call.Has("as_of")) {
    const bool cases = s.size() >= 3 && s[2] == "cases";
    const bool of_the_past =
        get &&
        ((cases && (s.size() == 3 || s.size() == 4 || (s.size() == 5 && s[4] == "history"))) ||
         (s.size() >= 3 && s[2] == "dashboard") ||
         (s.size() >= 4 && s[2] == "grid" && s[3] == "cells"));
    if (!of_the_past) {
      return Status::InvalidArgument(
          "as_of: only a case's view and history, a dashboard and a grid cell are answered as of "
          "the past");
    }
  }

  // A parameter of the API sent where it is not taken: ignored, `?limit=`
  // on a history or `?cell=` on a dashboard answered more, or other, than
  // the caller asked for, with no word (black-box probe, session 25).
  const std::vector<std::string_view> taken = ParametersTaken(get, s);
  for (const auto& [name, value] : call.query) {
    // as_of is checked above, in words of its own.
    if (name == "token" || name == "as_of" ||
        std::find(taken.begin(), taken.end(), name) != taken.end()) {
      continue;
    }
    std::string which;
    for (std::string_view p : taken) which += (which.empty() ? "" : ", ") + std::string(p);
    return Status::InvalidArgument("query: " + name + ": this route takes " +
                                   (which.empty() ? "no parameter" : which + " only"));
  }
  // A list's filter or cursor sent empty (`?cell=&state=&after=`, as a
  // client fills API.md's route from what it has) asks for nothing: as if
  // not sent, once it is known to be the route's and sent once. It was so
  // for `cell` and a case list's `after`, and 400 for the others (black-box
  // probe 78). `as_of` empty stays a mistake: the present is no answer to a
  // question about the past.
  std::erase_if(call.query, [](const auto& parameter) {
    const auto& [name, value] = parameter;
    return value.empty() && (name == "cell" || name == "state" || name == "kind" ||
                             name == "limit" || name == "after");
  });

  if (s.size() >= 3) {
    const std::string& family = s[2];
    if (family == "cases") return RouteCases(call);
    if (family == "dashboard") return RouteDashboard(call);
    if (family == "alerts") return RouteAlerts(call);
    if (family == "events") return RouteEvents(call);
    if (family == "audit") return RouteAudit(call);
    if (family == "grid") return RouteGrid(call);
    if (family == "streams") return RouteStreams(call);
  }
  return NoSuchRoute(req);
}

Result<WriteResult> HttpApi::Timed(const std::function<Result<WriteResult>()>& write) {
  const auto start = std::chrono::steady_clock::now();
  auto r = write();
  if (r.ok()) metrics_->RecordAppend(std::chrono::steady_clock::now() - start);
  return r;
}

}  // namespace casegrid
