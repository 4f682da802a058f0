#include "api/rate_limiter.h"

#include <algorithm>
#include <cstdio>

namespace casegrid {

double RateLimiter::Earned(const Bucket& b, std::int64_t now_ms) const {
  // A clock stepped back earns nothing, and takes nothing either: before,
  // each request took the step back's worth of tokens, and an hour's step
  // at 200 a second shut every busy subject out for three hours after the
  // clock caught up (review 101).
  return rate_ * static_cast<double>(std::max<std::int64_t>(0, now_ms - b.at_ms)) / 1000.0;
}

void RateLimiter::Refill(Bucket& b, std::int64_t now_ms) const {
  b.tokens = std::min(burst_, b.tokens + Earned(b, now_ms));
  // Requests read the clock before they take the lock, so one may come a
  // millisecond behind the one before: that earns nothing, and the bucket's
  // time stays (it would earn the millisecond twice: review 102). A step
  // back of more than a second is the clock's: it is taken as the time
  // from here on.
  if (now_ms > b.at_ms || now_ms < b.at_ms - kClockStepBackMs) b.at_ms = now_ms;
}

Status RateLimiter::Admit(const std::string& subject, std::int64_t now_ms) {
  std::lock_guard l(mu_);
  auto it = buckets_.find(subject);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_subjects_) {
      // Forget the buckets that have refilled: they hold no debt.
      std::erase_if(buckets_, [&](const auto& entry) {
        const Bucket& b = entry.second;
        return b.tokens + Earned(b, now_ms) >= burst_;
      });
    }
    it = buckets_.emplace(subject, Bucket{burst_, now_ms}).first;
  }
  Bucket& b = it->second;
  Refill(b, now_ms);
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

void RateLimiter::Charge(const std::string& subject, double requests, std::int64_t now_ms) {
  if (requests <= 0) return;
  std::lock_guard l(mu_);
  auto it = buckets_.find(subject);
  if (it == buckets_.end()) return;  // forgotten: it had refilled
  Bucket& b = it->second;
  Refill(b, now_ms);
  b.tokens = std::max(b.tokens - requests, -rate_ * 60.0);
}

}  // namespace casegrid
