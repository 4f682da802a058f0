#include "engine/log_scrub.h"

#include <cmath>
#include <utility>

#include "engine/thread_name.h"

namespace casegrid {

namespace {
constexpr Position kStepEvents = 4096;
}

LogScrub::LogScrub(const EventStore* store, LogScrubOptions options, OnWalk on_walk)
    : store_(store), options_(options), on_walk_(std::move(on_walk)) {}

LogScrub::~LogScrub() {
  Stop();
}

Status LogScrub::Start() {
  if (!(options_.events_per_second > 0) || !std::isfinite(options_.events_per_second)) {
    return Status::InvalidArgument("log scrub: the pace must be a number of events per second > 0");
  }
  if (options_.every.count() <= 0) {
    return Status::InvalidArgument("log scrub: the time between walks must be > 0");
  }
  return StartThread(&thread_, "cg-scrub", [this] { Run(); });
}

void LogScrub::Stop() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<VerifyReport> LogScrub::Last() const {
  std::lock_guard l(mu_);
  return last_;
}

std::uint64_t LogScrub::walks() const {
  std::lock_guard l(mu_);
  return walks_;
}

bool LogScrub::SleepUntil(std::chrono::steady_clock::time_point until) {
  std::unique_lock l(mu_);
  wake_.wait_until(l, until, [this] { return stopping_; });
  return !stopping_;
}

void LogScrub::Run() {
  using Clock = std::chrono::steady_clock;
  for (;;) {
    const Clock::time_point began = Clock::now();
    VerifyOptions verify;
    verify.step_every = kStepEvents;
    // Each step waits until the entries walked (events, then index entries:
    // a step is kStepEvents of either) are due at the pace.
    verify.step = [this, began, steps = std::uint64_t{0}](Position, Position) mutable {
      ++steps;
      const auto due =
          began + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                      static_cast<double>(steps * kStepEvents) / options_.events_per_second));
      return SleepUntil(due);
    };
    Result<VerifyReport> walked = store_->Verify(verify);
    VerifyReport report;
    if (walked.ok()) {
      report = std::move(*walked);
    } else {
      report.intact = false;
      report.broken_at = 1;
      report.reason = walked.status().ToString();
    }
    if (report.stopped) return;
    {
      std::lock_guard l(mu_);
      if (stopping_) return;
      last_ = report;
      ++walks_;
    }
    if (on_walk_) on_walk_(report);
    if (!SleepUntil(began + options_.every)) return;
  }
}

}  // namespace casegrid
