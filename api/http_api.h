// HttpApi: the HTTP routes of API.md, independent of the transport. A
// request message in, a response message out; http_server.h carries them.
//
// Every route but /healthz and /metrics needs a bearer token (Authorization:
// Bearer …, or ?token= for browsers); scope and role are checked before
// anything is read or written. Errors are {"error": {"code", "message"}}
// with the status of API.md; engine status codes map to them in one place
// (ErrorResponse). A write answers only after its events are fsync'd.
//
// Thread-safety: Handle() is safe from any number of threads at once; it
// may block on an fsync, so the server calls it off its I/O threads.
#pragma once

#include <boost/beast/http.hpp>

#include <atomic>
#include <string>

#include "api/auth.h"
#include "engine/case_service.h"
#include "engine/clock.h"
#include "projections/projector.h"

namespace casegrid {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

// Counters exported at /metrics; atomics, updated from any thread.
struct ApiMetrics {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> appends{0};
  std::atomic<std::uint64_t> append_micros_total{0};
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> connections_open{0};
};

struct HttpApiOptions {
  std::size_t max_page = 1000;  // events per GET /events page, cases per list page
};

class HttpApi {
 public:
  // None owned; all must outlive the api.
  HttpApi(CaseService* service, Projector* projector, const TokenAuthority* auth,
          const Clock* clock, ApiMetrics* metrics, HttpApiOptions options = {});

  HttpResponse Handle(const HttpRequest& request);

 private:
  struct Call;
  Result<HttpResponse> Route(Call& call);

  CaseService* const service_;
  Projector* const projector_;
  const TokenAuthority* const auth_;
  const Clock* const clock_;
  ApiMetrics* const metrics_;
  const HttpApiOptions options_;
};

// The error body and status API.md gives `status`.
HttpResponse ErrorResponse(const Status& status, unsigned version, bool keep_alive);

}  // namespace casegrid
