// Where the engine gets the time. Tests drive a ManualClock; production uses
// SystemClock. Times are Unix epoch milliseconds, UTC.
//
// Thread-safety: every Clock is safe to call from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace casegrid {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t NowMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t NowMillis() const override;
  // The process-wide instance; never destroyed.
  static const SystemClock* Default();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_ms) : now_(start_ms) {}
  std::int64_t NowMillis() const override { return now_.load(std::memory_order_relaxed); }
  void Set(std::int64_t ms) { now_.store(ms, std::memory_order_relaxed); }
  void Advance(std::int64_t ms) { now_.fetch_add(ms, std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> now_;
};

}  // namespace casegrid
