// HttpApi: the HTTP routes of API.md, independent of the transport. A
// request message in, a response message out; http_server.h carries them.
//
// Every route but /healthz and /metrics needs a bearer token (Authorization:
// Bearer …, or ?token= for browsers); scope and role are checked before
// anything is read or written. Each token subject is rate limited (429), and
// every read by an auditor is recorded (AuditRead in audit/<sub>) before it
// is answered. Errors are {"error": {"code", "message"}}
// with the status of API.md; engine status codes map to them in one place
// (ErrorResponse). A write answers only after its events are fsync'd.
//
// Thread-safety: Handle() and HandleAsync() are safe from any number of
// threads at once. Handle() may block on an fsync, so the server calls it
// off its I/O threads; HandleAsync() never waits on one nor reads storage
// on its caller's thread, and the server runs the requests NeverBlocks()
// names (the case commands) with it, on the I/O threads, so that their
// appends join a group commit without parking a thread each, and a case
// that must be read from disk waits on a worker, not on an I/O thread.
#pragma once

#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "api/auth.h"
#include "api/connection_slots.h"
#include "api/metrics.h"
#include "api/person_turns.h"
#include "api/rate_limiter.h"
#include "api/token_cache.h"
#include "engine/case_service.h"
#include "engine/clock.h"
#include "projections/projector.h"

namespace casegrid {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

struct HttpApiOptions {
  std::size_t max_page = 1000;         // events per GET /events page, cases per list page
  double requests_per_second = 200;    // per token subject, sustained
  double burst = 400;                  // per token subject, at once
  std::string web_root;                // the browser screens' files; "" = the source tree's api/web
  std::size_t verified_tokens = 4096;  // tokens remembered as verified (api/token_cache.h)
  // An answer counts against its subject's rate as one request per this
  // many bytes of body (RateLimiter::Charge): a 38 MB history costs ~150
  // requests, not one (black-box probe 72: one officer asking for it at
  // half its rate took the server's CPU from everyone).
  std::size_t bytes_per_request = 256 * 1024;
  // A read as of a past moment (`as_of`) costs its subject one request more
  // per this many events it read or folded beyond the answer's bytes, and
  // one subject has at most `max_as_of_reads_per_token` of them under way
  // at once (0: no bound), 429 past it: they take tens of milliseconds of
  // CPU for a few KB each, and 64 of one officer's at once made every other
  // reader's p50 50 times longer (review 104). 128, not 64: a dashboard's
  // replay (the node and its 23 cells a position) dragged in a few tabs of
  // one person took its whole burst, and its writes were 429 (probe 100).
  std::size_t as_of_events_per_request = 128;
  std::size_t max_as_of_reads_per_token = 4;
  // Only GET /healthz and GET /metrics; every other request 404 (the
  // WebSocket upgrade too): the API of `serve --metrics-listen`'s own port,
  // which its connection bound keeps open to a monitor when the main port's
  // connections are all taken.
  bool operational_only = false;
};

// The 404 of every other request on an operational_only port.
inline constexpr const char* kOperationalOnly =
    "this port serves GET /healthz and GET /metrics only (serve --metrics-listen); the API, "
    "the screens and /ws are on the --listen port";

class HttpApi {
 public:
  // None owned; all must outlive the api.
  HttpApi(CaseService* service, Projector* projector, const TokenAuthority* auth,
          const Clock* clock, ApiMetrics* metrics, HttpApiOptions options = {});

  // `verified`: the caller, when the server verified its token with the
  // header (CheckCredential); it is then admitted, not verified again.
  HttpResponse Handle(const HttpRequest& request, std::optional<Principal> verified = {});
  // HttpApiOptions::operational_only.
  bool operational_only() const { return options_.operational_only; }
  // The same answer, given to `done` once any write is fsync'd; `then` runs
  // what follows an append (engine/case_service.h, CommitAsync) and the
  // call of `done`. `request` must stay alive until `done` is called.
  // Neither the caller's thread nor `then` ever reads storage: a command
  // that must (a case not in the case cache, an Idempotency-Key to look up,
  // a lost race to decide again) is routed again through `offload`, onto
  // threads that may wait, and comes back through `then`.
  void HandleAsync(const HttpRequest& request, Continuation then, Continuation offload,
                   std::function<void(HttpResponse)> done, std::optional<Principal> verified = {});
  // True for the requests HandleAsync answers without blocking its caller
  // (reads and decisions only, then an asynchronous append): POST
  // /api/v1/cases and POST /api/v1/cases/{id}/{action}.
  static bool NeverBlocks(const HttpRequest& request);

  // The caller of `request`: its bearer token (Authorization, else
  // `query_token`) verified, and its subject admitted by the rate limiter.
  // kUnauthenticated or kRateLimited otherwise, and for a token sent twice
  // (two Authorization headers, two ?token=, or one of each).
  Result<Principal> Authenticate(const HttpRequest& request, std::string_view query_token);
  // The credential of a request with a body whose header alone has been
  // read: its caller when its token verifies (not yet admitted by the rate limiter:
  // Authenticate does that as it routes); kUnauthenticated otherwise, so
  // that the server refuses it before it reads, holds and answers 100
  // Continue to a body of a client without a token (black-box probe 72: 200
  // such clients held 174 MiB for 30 s). No route without a token takes a
  // body. The server also asks it of a read, to count its answer in its
  // caller's share of the answers held (api/held_answers.h).
  // Handle and HandleAsync take the caller so found, not to verify it twice.
  Result<Principal> CheckCredential(const HttpRequest& header);
  // One more request by `subject` (e.g. a WebSocket op); kRateLimited past its rate.
  Status Admit(const std::string& subject);
  const Clock& clock() const { return *clock_; }

 private:
  struct Call;
  // Authenticate without the rate limiter: the token verified.
  Result<Principal> Credential(const HttpRequest& request, std::string_view query_token);
  // Splits the target into decoded segments and query values; 400 if one is
  // not valid UTF-8 once percent-decoded.
  static Status Parse(Call& call);
  // Parses and routes `call`: its answer now, or nothing when call.pending
  // holds a case command to append first.
  std::optional<HttpResponse> Start(Call& call);
  // Checks what every /api/v1 route shares (token, Idempotency-Key, query
  // parameters, as_of), then hands `call` to its family of routes.
  Result<HttpResponse> Route(Call& call);
  // The families of routes, each in its own file.
  Result<HttpResponse> RouteCases(Call& call);      // case_routes.cc
  Result<HttpResponse> RouteDashboard(Call& call);  // view_routes.cc
  Result<HttpResponse> RouteAlerts(Call& call);     // view_routes.cc
  // Waits (up to 2 s, then kUnavailable) until the views have folded every
  // acknowledgment `person` wrote, so that an alert they say is open is.
  Status AwaitAcknowledgmentsFolded(const std::string& person);
  Result<HttpResponse> RouteEvents(Call& call);   // log_routes.cc
  Result<HttpResponse> RouteAudit(Call& call);    // log_routes.cc
  Result<HttpResponse> RouteStreams(Call& call);  // log_routes.cc: raw appends
  Result<HttpResponse> RouteGrid(Call& call);     // grid_routes.cc
  // What an auditor's read of `call` is recorded as (AuditRead's `target`):
  // the path as routed (percent-decoded: a case id as the log names it; a
  // cell path's segments joined by '/', the root dashboard's with its
  // slash) and
  // the API's query parameters it took, each in one form (a position or
  // count in decimal, a time in UTC to the millisecond, as answered) and in
  // one order, short ones first; no token. So padding or encoding a request
  // cannot keep what was read out of the record (black-box probe 71).
  std::string AuditTarget(const Call& call) const;
  // ?as_of=: a position, or a time and the last position recorded by then;
  // nothing without one.
  struct AsOf {
    Position position = 0;
    std::optional<std::int64_t> time_ms;
  };
  // A read with one takes a place among its subject's reads as of a past
  // moment (HttpApiOptions::max_as_of_reads_per_token), held by `call`.
  Result<std::optional<AsOf>> AsOfQuery(Call& call);
  // Charges `call` for `events` decoded or folded (or their worth) to answer
  // it as of a past moment (HttpApiOptions::as_of_events_per_request; Start
  // charges it).
  void ChargeAsOfWork(Call& call, std::uint64_t events) const;
  // Waits up to kViewsCatchUpWait for the views to fold `position` of the
  // log (a reader's own write, just acknowledged); 503 saying how far
  // behind they are if they do not. Only where reads may wait.
  Status AwaitViews(Position position) const;
  // A cell the log defines and the views have not folded yet (their batches
  // spaced by --view-batch-ms) is waited for, as a read as of a position
  // not folded is (kViewsCatchUpWait; kWouldBlock where reads may not wait),
  // so that a read of it says what is there, not "no cell" (black-box probe
  // 107: 404 for up to the spacing after its definition answered 201).
  Status AwaitCellInViews(const Call& call, std::string_view cell) const;
  // Case `id` as of `at`, in the caller's scope, or the error to give.
  Result<CaseState> ScopedCase(Call& call, const std::string& id, Position at);
  // An admin's write, its time counted in the metrics when it succeeds.
  Result<WriteResult> Timed(const std::function<Result<WriteResult>()>& write);
  // Appends the case command `call` decided (HandleAsync) and answers it
  // through `done`.
  void Commit(Call& call, std::chrono::steady_clock::time_point start, Continuation then,
              Continuation offload, std::function<void(HttpResponse)> done);
  // A written case command's answer (or its error), counted in the metrics.
  HttpResponse Answer(const Result<WriteResult>& written, bool created, unsigned version,
                      bool keep_alive, std::chrono::steady_clock::time_point start);

  CaseService* const service_;
  Projector* const projector_;
  TokenCache tokens_;  // verifies with the authority, remembering what verified
  const Clock* const clock_;
  ApiMetrics* const metrics_;
  const HttpApiOptions options_;
  RateLimiter limiter_;
  // Acknowledgments of one person run one at a time (RouteAlerts), at most
  // 4 waiting.
  PersonTurns acknowledgment_turns_{4};
  // Each subject's reads as of a past moment under way (AsOfQuery).
  ConnectionsPerKey as_of_places_;
};

// The alerts `who` sees: its person's, about cases in its cells; a token for
// the whole jurisdiction needs no filter (and no alert read for its cell).
AlertFilter AlertsVisibleTo(const Principal& who);

// The error body and status API.md gives `status`.
HttpResponse ErrorResponse(const Status& status, unsigned version, bool keep_alive);
// The percent-decoded value of `key` in the query of `target` ("" if absent).
std::string QueryParameter(std::string_view target, std::string_view key);
// API.md's error code for `code`: "bad_request", "forbidden", …
std::string_view ErrorCodeName(StatusCode code);
// {"code": "…", "message": "…"}; a 5xx message without the server's paths
// (the folders given to HideInServerErrors dropped, absolute paths cut to
// their last component).
std::string ErrorJson(const Status& status);
// Names a folder (serve's data folder) that no error message a client reads
// shows: as given and absolute. Thread-safe; for the start of a server.
void HideInServerErrors(const std::string& folder);
// Records that `auditor` read `target` (an AuditRead event in audit/<auditor>,
// the target cut at 1000 bytes between characters), fsync'd before it
// returns. `target` holds no token (HttpApi::AuditTarget, "ws:<channel>").
Status RecordAuditRead(EventStore& store, const std::string& auditor, std::string_view target);

}  // namespace casegrid
