// What HttpApi's routes share, inside the api only: one request as it is
// routed (HttpApi::Call), and the helpers every route family answers and
// checks with. The route families live in their own files (case_routes.cc,
// view_routes.cc, log_routes.cc, grid_routes.cc); http_api.cc parses,
// authenticates and dispatches to them.
//
// Thread-safety: a Call belongs to one request, routed on one thread at a
// time; the helpers are pure functions.
#pragma once

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_api.h"

namespace casegrid {

struct HttpApi::Call {
  Call(const HttpRequest& r, std::optional<Principal> verified_caller)
      : req(r), verified(std::move(verified_caller)) {}
  const HttpRequest& req;
  // The caller, when the server verified its token as it read the header
  // (a request with a body, or a read): admitted by Route without verifying
  // it again.
  std::optional<Principal> verified;
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
  // A place among its subject's reads as of a past moment (AsOfQuery), held
  // until the call ends.
  ConnectionSlots::Slot as_of_place;
  // Requests' worth of work beyond the answer's bytes (ChargeAsOfWork),
  // charged to its subject by Start.
  double work = 0;

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
  bool Get() const {
    // A HEAD is routed as a GET; the server sends its answer without the body.
    return req.method() == http::verb::get || req.method() == http::verb::head;
  }
  bool Post() const { return req.method() == http::verb::post; }
};

// How long a dashboard `as_of` a position the views have not folded yet
// waits for them (they are normally milliseconds behind; `serve
// --view-batch-ms` spaces their batches by up to a second) before a 503.
inline constexpr std::chrono::seconds kViewsCatchUpWait{5};

// A JSON answer with `body`.
HttpResponse Json(http::status status, std::string body, unsigned version, bool keep_alive);
HttpResponse Json(http::status status, std::string body, const HttpRequest& req);
// A write's answer: {"case_id"?, "position", "version"}.
std::string WriteAnswer(const WriteResult& w, bool with_case);
// A non-negative integer named `field`, or kInvalidArgument naming it.
Result<std::uint64_t> ParseCount(const std::string& text, std::string_view field);
// A page size: at least 1 (a larger one than the server's cap is capped).
Result<std::uint64_t> ParseLimit(const std::string& text);
// kInvalidArgument unless `e` (called `name`) is an object whose members
// are all `allowed`; an unknown member is named as `members` + its key.
Status OnlyFields(simdjson::dom::element e, std::initializer_list<std::string_view> allowed,
                  std::string_view name, std::string_view members);
// kInvalidArgument unless `body` is empty or an object without members.
Status NoFields(const std::string& body);
// The 404 of a request no route takes, naming its method and target.
Status NoSuchRoute(const HttpRequest& req);

}  // namespace casegrid
