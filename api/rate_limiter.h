// RateLimiter: a token bucket per token subject, `rate` requests a second
// and `burst` at once; past that kRateLimited (429). Times are the wall
// clock's as the caller reads it: a step back earns a bucket nothing until
// the clock moves on from there (a step of more than a second) or passes
// the bucket's time again, and costs it nothing either. Idle buckets are
// forgotten once there are more than `max_subjects`, so memory stays
// bounded however many subjects come and go.
//
// Thread-safety: Admit is safe from any thread (one small lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "engine/status.h"

namespace casegrid {

class RateLimiter {
 public:
  RateLimiter(double rate, double burst, std::size_t max_subjects = 100000)
      : rate_(rate), burst_(burst), max_subjects_(max_subjects) {}
  // One more request by `subject` at `now_ms`; kRateLimited past its rate.
  Status Admit(const std::string& subject, std::int64_t now_ms);
  // `requests` more, for a request admitted that cost that many more (a
  // large answer): the bucket may go into debt, down to a minute of the
  // rate, and Admit refuses until it has refilled. So a subject's share of
  // the server is bounded by what its requests cost, not by their count.
  void Charge(const std::string& subject, double requests, std::int64_t now_ms);

 private:
  struct Bucket {
    double tokens;
    std::int64_t at_ms;
  };
  // What `b` has earned at its rate since it was last seen (nothing if the
  // clock went back since).
  double Earned(const Bucket& b, std::int64_t now_ms) const;
  // `b` with what it has earned, up to the burst, as of `now_ms`.
  void Refill(Bucket& b, std::int64_t now_ms) const;
  // Behind a bucket's time by more than this, the clock was stepped back.
  static constexpr std::int64_t kClockStepBackMs = 1000;
  const double rate_, burst_;
  const std::size_t max_subjects_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace casegrid
