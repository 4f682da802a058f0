#include "api/http_api.h"

#include <simdjson.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <map>

#include "api/static_files.h"
#include "engine/canonical_json.h"
#include "engine/case_stream_rules.h"
#include "engine/command_body.h"
#include "engine/hash_chain.h"
#include "engine/names.h"
#include "engine/time_format.h"
#include "projections/case_view.h"
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

HttpResponse Json(http::status status, std::string body, unsigned version, bool keep_alive) {
  HttpResponse res{status, version};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

HttpResponse Json(http::status status, std::string body, const HttpRequest& req) {
  return Json(status, std::move(body), req.version(), req.keep_alive());
}

std::string WriteAnswer(const WriteResult& w, bool with_case) {
  JsonWriter j;
  j.BeginObject();
  if (with_case) j.Key("case_id").String(w.case_id);
  j.Key("position").Int(static_cast<std::int64_t>(w.position));
  j.Key("version").Int(static_cast<std::int64_t>(w.version));
  j.EndObject();
  return j.Take();
}

Result<std::uint64_t> ParseCount(const std::string& text, std::string_view field) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) {
    return Status::InvalidArgument(std::string(field) +
                                   ": too large (at most 18446744073709551615)");
  }
  if (ec != std::errc() || p != text.data() + text.size()) {
    return Status::InvalidArgument(std::string(field) + ": must be a non-negative integer");
  }
  return v;
}

// Every query parameter of the API's routes: any other is refused (Route).
constexpr std::string_view kQueryParameters[] = {"after", "as_of", "cell", "kind",
                                                 "limit", "state", "token"};

// How long a dashboard `as_of` a position the views have not folded yet
// waits for them (they are normally milliseconds behind; `serve
// --view-batch-ms` spaces their batches by up to a second) before a 503.
constexpr std::chrono::seconds kViewsCatchUpWait{5};

// A raw append's body: its own three levels (body, events, an event) above
// event data of the usual depth (JsonLimits).
constexpr std::size_t kRawAppendDepth = JsonLimits{}.max_depth + 3;

// kInvalidArgument unless `e` (called `name`) is an object whose members
// are all `allowed`; an unknown member is named as `members` + its key.
Status OnlyFields(simdjson::dom::element e, std::initializer_list<std::string_view> allowed,
                  std::string_view name, std::string_view members) {
  simdjson::dom::object object;
  if (e.get(object)) return Status::InvalidArgument(std::string(name) + ": must be an object");
  for (auto [key, value] : object) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Status::InvalidArgument(std::string(members) + std::string(key) + ": unknown field");
    }
  }
  return Status::Ok();
}

// kInvalidArgument unless `body` is empty or an object without members.
Status NoFields(const std::string& body) {
  if (body.empty()) return Status::Ok();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body).get(root)) return Status::InvalidArgument("body: " + WhyNotJson(body));
  return OnlyFields(root, {}, "body", "");
}

// A page size: at least 1 (a larger one than the server's cap is capped).
Result<std::uint64_t> ParseLimit(const std::string& text) {
  ASSIGN_OR_RETURN(std::uint64_t v, ParseCount(text, "limit"));
  if (v == 0) return Status::InvalidArgument("limit: must be at least 1");
  return v;
}

}  // namespace

namespace {

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

std::string WithoutToken(std::string_view target) {
  std::string out(target.substr(0, target.find('?')));
  char separator = '?';
  ForEachQueryPair(target, [&](const QueryPair& p) {
    if (p.name != "token") {
      out += separator;
      out += p.pair;
      separator = '&';
    }
    return true;
  });
  return out;
}

Status RecordAuditRead(EventStore& store, const std::string& auditor, std::string_view target) {
  std::string data = "{\"by\":";
  AppendJsonString(data, auditor);
  data += ",\"target\":";
  AppendJsonString(data, WithoutToken(target).substr(0, 1000));
  data += '}';
  auto recorded = store.Append(AppendRequest{"audit/" + auditor,
                                             ExpectedVersion::Any(),
                                             auditor,
                                             {NewEvent{"", "AuditRead", std::move(data)}}});
  return recorded.status();
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

struct HttpApi::Call {
  explicit Call(const HttpRequest& r) : req(r) {}
  const HttpRequest& req;
  std::vector<std::string> segments;  // the path, split on '/', decoded
  std::map<std::string, std::string> query;
  Principal who;
  // A case command Route decided but did not append: its answer is built
  // once the append is fsync'd (Handle blocks for it, HandleAsync does not).
  std::optional<PendingWrite> pending;
  bool created = false;  // the pending write answers 201 with the case id
  // kCachedOnly (HandleAsync, on an I/O thread): Route reads nothing from
  // storage; a case command that must read sets `must_read` and is routed
  // again with kAllowed, where reads may wait.
  StorageReads reads = StorageReads::kAllowed;
  bool must_read = false;
  bool parsed = false;    // segments and query filled, the request counted
  Status parse_status;    // why the target could not be parsed, if it could not
  bool admitted = false;  // `who` authenticated and admitted by the rate limiter
  // An auditor's read, recorded by Start once it has succeeded and before
  // it is answered (a rejected read writes nothing).
  bool audit_read = false;

  std::string Query(const std::string& key) const {
    auto it = query.find(key);
    return it == query.end() ? std::string() : it->second;
  }
  bool Has(const std::string& key) const { return query.count(key) != 0; }
  std::string IdempotencyKey() const {
    auto it = req.find("Idempotency-Key");
    return it == req.end() ? std::string() : std::string(it->value());
  }
  // Two keys: which one the write is kept under would be a guess.
  bool IdempotencyKeyRepeated() const { return req.count("Idempotency-Key") > 1; }
  // The path from segment `from` on, joined with '/'.
  std::string Rest(std::size_t from) const {
    std::string out;
    for (std::size_t i = from; i < segments.size(); ++i) {
      if (i > from) out += '/';
      out += segments[i];
    }
    return out;
  }
};

Status RateLimiter::Admit(const std::string& subject, std::int64_t now_ms) {
  std::lock_guard l(mu_);
  auto it = buckets_.find(subject);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_subjects_) {
      // Forget the buckets that have refilled: they hold no debt.
      std::erase_if(buckets_, [&](const auto& entry) {
        const Bucket& b = entry.second;
        return b.tokens + rate_ * static_cast<double>(now_ms - b.at_ms) / 1000.0 >= burst_;
      });
    }
    it = buckets_.emplace(subject, Bucket{burst_, now_ms}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + rate_ * static_cast<double>(now_ms - b.at_ms) / 1000.0);
  b.at_ms = std::max(b.at_ms, now_ms);
  if (b.tokens < 1.0) {
    // %g: a fractional rate (--rate 0.5) is said as it is, not rounded to 0.
    char rate[32];
    std::snprintf(rate, sizeof rate, "%g", rate_);
    return Status::RateLimited("more than " + std::string(rate) + " requests a second from " +
                               subject);
  }
  b.tokens -= 1.0;
  return Status::Ok();
}

HttpApi::HttpApi(CaseService* service, Projector* projector, const TokenAuthority* auth,
                 const Clock* clock, ApiMetrics* metrics, HttpApiOptions options)
    : service_(service),
      projector_(projector),
      tokens_(auth, options.verified_tokens),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      limiter_(options.requests_per_second, options.burst) {}

Status HttpApi::Parse(Call& call) {
  const std::string_view target = call.req.target();
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
  if (!call.parse_status.ok()) {
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
  if (!routed.ok()) {
    metrics_->errors.Increment();
    return ErrorResponse(routed.status(), call.req.version(), call.req.keep_alive());
  }
  if (call.pending) return std::nullopt;
  if (call.audit_read &&
      http::to_status_class(routed->result()) == http::status_class::successful) {
    if (Status s = RecordAuditRead(service_->store(), call.who.sub, call.req.target()); !s.ok()) {
      metrics_->errors.Increment();
      return ErrorResponse(s, call.req.version(), call.req.keep_alive());
    }
  }
  return std::move(routed).value();
}

HttpResponse HttpApi::Handle(const HttpRequest& req) {
  const auto start = std::chrono::steady_clock::now();
  Call call(req);
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
                          std::function<void(HttpResponse)> done) {
  const auto start = std::chrono::steady_clock::now();
  Call call(req);
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

Result<Principal> HttpApi::Authenticate(const HttpRequest& req, std::string_view query_token) {
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
  ASSIGN_OR_RETURN(Principal who, tokens_.Verify(token, clock_->NowMillis()));
  RETURN_IF_ERROR(Admit(who.sub));
  return who;
}

Status HttpApi::Admit(const std::string& subject) {
  return limiter_.Admit(subject, clock_->NowMillis());
}

Result<HttpResponse> HttpApi::Route(Call& call) {
  const HttpRequest& req = call.req;
  const auto& s = call.segments;
  const auto method = req.method();
  // A HEAD is routed as a GET; the server sends its answer without the body.
  const bool get = method == http::verb::get || method == http::verb::head;
  const bool post = method == http::verb::post;

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
  // The browser screens and their files (static_files.h): no token needed.
  if (auto page = ServeWebFile(req, options_.web_root)) return std::move(*page);
  if (s.size() < 2 || s[0] != "api" || s[1] != "v1") return Status::NotFound("no such route");

  // Everything under /api/v1 needs a token.
  if (!call.admitted) {
    ASSIGN_OR_RETURN(call.who, Authenticate(req, call.Query("token")));
    call.admitted = true;
  }
  const Principal& who = call.who;
  // Every audit read is itself recorded, before it is answered (Start).
  call.audit_read = who.role == Role::kAuditor && get;
  const std::string key = call.IdempotencyKey();
  if (key.size() > 128) return Status::InvalidArgument("Idempotency-Key: at most 128 bytes");
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
         (s.size() >= 3 && s[2] == "dashboard"));
    if (!of_the_past) {
      return Status::InvalidArgument(
          "as_of: only a case's view and history and a dashboard are answered as of the past");
    }
  }

  auto timed_write = [&](auto&& write) -> Result<WriteResult> {
    const auto start = std::chrono::steady_clock::now();
    auto r = write();
    if (r.ok()) {
      metrics_->RecordAppend(std::chrono::steady_clock::now() - start);
    }
    return r;
  };
  // ?as_of=: a position, or a time and the last position recorded by then.
  struct AsOf {
    Position position = 0;
    std::optional<std::int64_t> time_ms;
  };
  auto as_of = [&]() -> Result<std::optional<AsOf>> {
    if (!call.Has("as_of")) return std::optional<AsOf>();
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
    ASSIGN_OR_RETURN(Position p, projector_->PositionAt(*t));
    return std::optional<AsOf>(AsOf{p, *t});
  };
  // The case, in the caller's scope, or the error to give.
  auto scoped_case = [&](const std::string& id, Position at) -> Result<CaseState> {
    RETURN_IF_ERROR(MayReadCases(who));
    ASSIGN_OR_RETURN(CaseState state, service_->LoadCase(id, at, call.reads));
    if (!state.exists) return Status::NotFound("no case " + id);
    if (!InScope(who, state.report.cell)) {
      return Status::PermissionDenied("case " + id + " is outside your cells");
    }
    return state;
  };

  // ---- cases
  if (s.size() >= 3 && s[2] == "cases") {
    if (s.size() == 3 && post) {
      if (!HandlesCases(who.role))
        return Status::PermissionDenied("your role does not report cases");
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
      if (call.Has("state")) {
        const std::string st = call.Query("state");
        bool found = false;
        for (CaseStatus c : {CaseStatus::kReported, CaseStatus::kAssigned, CaseStatus::kInProgress,
                             CaseStatus::kResolved, CaseStatus::kClosed}) {
          if (Name(c) == st) query.state = c, found = true;
        }
        if (!found) return Status::InvalidArgument("state: unknown value \"" + st + "\"");
      }
      if (call.Has("kind")) {
        query.kind = ParseCaseKind(call.Query("kind"));
        if (!query.kind)
          return Status::InvalidArgument("kind: unknown value \"" + call.Query("kind") + "\"");
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
        ASSIGN_OR_RETURN(std::optional<AsOf> at, as_of());
        // The case as it is now decides the scope (a case keeps its cell), so
        // an as_of outside it tells nothing, not even when the case began;
        // and the masking: whoever does not handle it now, as of any past.
        ASSIGN_OR_RETURN(CaseState now, scoped_case(id, UINT64_MAX));
        CaseState state = now;
        if (at) {
          ASSIGN_OR_RETURN(state, scoped_case(id, at->position));
        }
        const auto personal =
            HandlesTheCase(who, now.assignee) ? PersonalData::kShown : PersonalData::kMasked;
        return Json(http::status::ok, RenderCaseView(state, personal), req);
      }
      if (s.size() == 5 && get && s[4] == "history") {
        ASSIGN_OR_RETURN(std::optional<AsOf> at, as_of());
        // Scope and what is shown by the case as it is now, as for its view.
        ASSIGN_OR_RETURN(CaseState state, scoped_case(id, UINT64_MAX));
        if (at) RETURN_IF_ERROR(scoped_case(id, at->position).status());  // 404 before it began
        const bool whole = SeesCaseEvents(who, state.assignee);
        ASSIGN_OR_RETURN(auto events,
                         service_->store().ReadStream(CaseStream(id), 1, kMaxCaseHistory + 1,
                                                      ReadDirection::kForward));
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
        ASSIGN_OR_RETURN(CaseState state, scoped_case(id, UINT64_MAX));
        if (s[4] == "escalate" && state.tier == 2 && who.role != Role::kSupervisor &&
            who.role != Role::kOperator) {
          return Status::PermissionDenied("escalation to tier 3 is a supervisor's decision");
        }
        ASSIGN_OR_RETURN(call.pending,
                         service_->BeginAct(who.sub, id, s[4], req.body(), key, call.reads));
        return HttpResponse();  // answered once call.pending is written
      }
    }
  }

  // ---- dashboard
  if (s.size() >= 3 && s[2] == "dashboard" && get) {
    const std::string path = call.Rest(3);
    RETURN_IF_ERROR(MayReadCases(who));
    if (!InScope(who, path)) {
      return Status::PermissionDenied("dashboard " + (path.empty() ? "of the root" : path) +
                                      " is outside your cells");
    }
    ASSIGN_OR_RETURN(std::optional<AsOf> at, as_of());
    if (at) {
      // A position in the log the views have not folded yet (the caller's
      // own write, just acknowledged): wait for them, as an acknowledgment
      // does, rather than refuse what the log holds. (This runs on a worker.)
      if (at->position > projector_->position() &&
          !projector_->WaitFor(at->position, kViewsCatchUpWait)) {
        return Status::Unavailable("the views are at position " +
                                   std::to_string(projector_->position()) + ", behind position " +
                                   std::to_string(at->position) + " of the log; try again");
      }
      ASSIGN_OR_RETURN(std::string view,
                       projector_->DashboardAsOf(path, at->position, at->time_ms));
      return Json(http::status::ok, std::move(view), req);
    }
    ASSIGN_OR_RETURN(std::string view, projector_->Dashboard(path, clock_->NowMillis()));
    return Json(http::status::ok, std::move(view), req);
  }

  // ---- alerts
  // A token sees its person's alerts about cases in its cells; an admin none.
  if (s.size() == 3 && s[2] == "alerts" && get) {
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
  if (s.size() == 5 && s[2] == "alerts" && s[4] == "ack" && post) {
    RETURN_IF_ERROR(MayReadCases(who));
    if (who.role == Role::kAuditor) return Status::PermissionDenied("an auditor writes nothing");
    RETURN_IF_ERROR(NoFields(req.body()));  // an acknowledgment takes none
    const AlertFilter in_scope = AlertsVisibleTo(who);
    // Only an id as the server issues it: another spelling of the same
    // position ("007719-…") would be written to the log and pushed as typed,
    // where clients match the ids they were given.
    bool open = IsIssuedAlertId(s[3]);
    if (open) {
      ASSIGN_OR_RETURN(open, projector_->HasOpenAlert(who.sub, s[3], in_scope));
    }
    if (!open && !key.empty()) {
      // A repeat carrying an Idempotency-Key gets the first answer, if the
      // alert is one this token may see.
      ASSIGN_OR_RETURN(auto first, service_->AlertAcknowledgment(who.sub, s[3]));
      bool visible = first.has_value();
      if (visible && in_scope) {
        ASSIGN_OR_RETURN(auto cell, projector_->CellOfAlert(s[3]));
        visible = cell && in_scope(*cell);
      }
      if (visible) return Json(http::status::ok, WriteAnswer(*first, false), req);
    }
    if (!open) return Status::NotFound("no open alert " + s[3] + " of yours");
    ASSIGN_OR_RETURN(WriteResult w,
                     timed_write([&] { return service_->AcknowledgeAlert(who.sub, s[3]); }));
    // Read your write: the alert list answers from the views, which fold the
    // acknowledgment a moment later; a list read right after the answer must
    // not show the alert still open. (This runs on a worker, not an io thread.)
    projector_->WaitFor(w.position, std::chrono::seconds(2));
    return Json(http::status::ok, WriteAnswer(w, false), req);
  }

  // ---- the raw log and audit
  if (s.size() == 3 && s[2] == "events" && get) {
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
    // reading them is recorded like any read.
    const std::string own_stream = "audit/" + who.sub;
    call.audit_read = !std::all_of(events.begin(), events.end(), [&](const RecordedEvent& e) {
      return e.type == "AuditRead" && e.stream == own_stream;
    });
    JsonWriter j;
    j.BeginObject().Key("events").BeginArray();
    for (const RecordedEvent& e : events) j.Raw(e.EnvelopeJson());
    j.EndArray().EndObject();
    return Json(http::status::ok, j.Take(), req);
  }
  if (s.size() == 4 && s[2] == "audit" && s[3] == "digest" && get) {
    if (!SeesHashes(who)) {
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

  // ---- the grid (admin)
  if (s.size() >= 4 && s[2] == "grid" && s[3] == "cells") {
    if (who.role != Role::kAdmin) return Status::PermissionDenied("the grid is the admin's");
    if (s.size() == 4 && post) {
      ASSIGN_OR_RETURN(auto cell, StringField(req.body().empty() ? "{}" : req.body(), "cell"));
      if (cell && !InScope(who, *cell)) {
        return Status::PermissionDenied("cell " + *cell + " is outside your cells");
      }
      ASSIGN_OR_RETURN(WriteResult w,
                       timed_write([&] { return service_->DefineCell(who.sub, req.body(), key); }));
      return Json(http::status::created, WriteAnswer(w, false), req);
    }
    // .../cells/{path...}/officers[/{officer}]
    std::size_t officers = 0;
    for (std::size_t i = 4; i < s.size(); ++i) {
      if (s[i] == "officers") officers = i;
    }
    if (officers > 4) {
      std::string cell;
      for (std::size_t i = 4; i < officers; ++i) cell += (i > 4 ? "/" : "") + s[i];
      if (!InScope(who, cell))
        return Status::PermissionDenied("cell " + cell + " is outside your cells");
      if (post && officers + 1 == s.size()) {
        ASSIGN_OR_RETURN(WriteResult w, timed_write([&] {
                           return service_->AssignOfficer(who.sub, cell, req.body(), key);
                         }));
        return Json(http::status::created, WriteAnswer(w, false), req);
      }
      if (method == http::verb::delete_ && officers + 2 == s.size()) {
        ASSIGN_OR_RETURN(WriteResult w, timed_write([&] {
                           return service_->RemoveOfficer(who.sub, cell, s[officers + 1], key);
                         }));
        return Json(http::status::ok, WriteAnswer(w, false), req);
      }
    }
  }

  // ---- raw append (admin)
  if (s.size() >= 4 && s[2] == "streams" && post) {
    if (who.role != Role::kAdmin) return Status::PermissionDenied("raw appends are the admin's");
    const std::string stream = call.Rest(3);
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
      const std::string at = "events[" + std::to_string(i++) + "].";
      RETURN_IF_ERROR(OnlyFields(item, {"type", "id", "data"}, at.substr(0, at.size() - 1), at));
      std::string_view type, id;
      simdjson::dom::object data;
      if (item["type"].get(type)) return Status::InvalidArgument(at + "type: must be a string");
      if (auto f = item["id"]; f.error() != simdjson::NO_SUCH_FIELD && f.get(id)) {
        return Status::InvalidArgument(at + "id: must be a string");
      }
      if (item["data"].get(data)) return Status::InvalidArgument(at + "data: must be an object");
      NewEvent e{std::string(id), std::string(type), simdjson::minify(data)};
      auto checked = DecodeEventData(e.type, e.data);
      // The engine's own types carry valid data; other types are the importer's.
      if (!checked.ok() && IsEngineEventType(e.type)) {
        return Status(checked.status().code(), at + "data: " + checked.status().message());
      }
      // A case stream is written in the case's cell, and opened by its report.
      if (!case_id.empty() && i == 1) {
        if (const auto* report = checked.ok() ? std::get_if<CaseReported>(&*checked) : nullptr) {
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

  return Status::NotFound("no such route: " + std::string(http::to_string(method)) + " " +
                          std::string(req.target().substr(0, 200)));
}

}  // namespace casegrid
