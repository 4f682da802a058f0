// Status and Result<T>: how the engine reports failure without throwing.
//
// Every engine API that can fail returns a Status or a Result<T>; both are
// [[nodiscard]]. The code says what the caller should do next:
//   kInvalidArgument  fix the input (HTTP 400 bad_request)
//   kUnauthenticated  who is asking is unknown: no or a bad credential (401)
//   kPermissionDenied known, but not allowed this: role or scope (403)
//   kNotFound         the thing does not exist (404)
//   kConflict         the state forbids it now: expected version or lifecycle (409)
//   kTooLarge         shrink the input (413)
//   kRateLimited      slow down and retry later (429)
//   kUnavailable      storage cannot write; retry later, reads still work (503)
//   kCorruption       the stored log is damaged; an operator must look (500)
//   kInternal         a bug or an unexpected library failure (500)
// The one place that maps codes to HTTP statuses lives in api/.
//
// Thread-safety: values; safe to copy and move between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace casegrid {

enum class StatusCode {
  kOk,
  kInvalidArgument,
  kUnauthenticated,
  kPermissionDenied,
  kNotFound,
  kConflict,
  kTooLarge,
  kRateLimited,
  kUnavailable,
  // A call told not to wait on storage (StorageReads::kCachedOnly) would
  // have had to read; it changed nothing. Never an answer to a client.
  kWouldBlock,
  kCorruption,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }
  static Status RateLimited(std::string m) { return {StatusCode::kRateLimited, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "conflict: stream case/x is at version 3" — for logs and the CLI.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-ok Status (absl::StatusOr in miniature).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace casegrid

#define CASEGRID_CONCAT_INNER(a, b) a##b
#define CASEGRID_CONCAT(a, b) CASEGRID_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if it is not ok.
#define RETURN_IF_ERROR(expr)                            \
  do {                                                   \
    ::casegrid::Status casegrid_status_ = (expr);        \
    if (!casegrid_status_.ok()) return casegrid_status_; \
  } while (0)

// ASSIGN_OR_RETURN(auto x, FunctionReturningResult());
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(CASEGRID_CONCAT(casegrid_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
