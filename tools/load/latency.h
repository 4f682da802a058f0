// What casegrid-load measures with: a latency histogram any thread may
// record into, and the acknowledgment time of every position our writers
// were answered for, which push latency is measured against.
//
// LatencyHistogram: log-linear buckets (64 per power of two, so a quantile is
// within 1.6% of the value recorded), counts in relaxed atomics: Record from
// any thread at once, Quantile once recording is done (or for a progress
// line, approximately).
//
// AckTimes: position -> steady_clock time of the 2xx answer that acknowledged
// it, in lazily allocated chunks of atomics; Record and At from any thread.
// 0 means "not acknowledged to us (yet)".
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <memory>

namespace casegrid::load {

using Clock = std::chrono::steady_clock;

inline std::int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

class LatencyHistogram {
 public:
  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  void Record(std::int64_t nanos) {
    const std::uint64_t v = nanos < 0 ? 0 : static_cast<std::uint64_t>(nanos);
    buckets_[Index(v)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t max = max_.load(std::memory_order_relaxed);
    while (v > max && !max_.compare_exchange_weak(max, v, std::memory_order_relaxed)) {
    }
  }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  std::uint64_t max_nanos() const { return max_.load(std::memory_order_relaxed); }

  // The value below which a fraction `q` of the recorded values lie (the
  // middle of its bucket), in nanoseconds; 0 when nothing was recorded.
  std::uint64_t Quantile(double q) const {
    std::uint64_t total = 0;
    for (const auto& b : buckets_) total += b.load(std::memory_order_relaxed);
    if (total == 0) return 0;
    std::uint64_t rank = static_cast<std::uint64_t>(q * static_cast<double>(total));
    if (rank >= total) rank = total - 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      // The bucket's middle, never above the largest value recorded.
      if (seen > rank) return std::min((Low(i) + High(i)) / 2, max_nanos());
    }
    return max_nanos();
  }
  double QuantileMillis(double q) const { return static_cast<double>(Quantile(q)) / 1e6; }

 private:
  static constexpr int kSubBits = 6;
  static constexpr std::uint64_t kSub = 1u << kSubBits;
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) * kSub;

  static std::size_t Index(std::uint64_t v) {
    if (v < kSub) return static_cast<std::size_t>(v);
    const int e = 63 - std::countl_zero(v);  // >= kSubBits
    return static_cast<std::size_t>(e - kSubBits + 1) * kSub +
           static_cast<std::size_t>((v >> (e - kSubBits)) - kSub);
  }
  static std::uint64_t Low(std::size_t i) {
    if (i < kSub) return i;
    const int e = static_cast<int>(i / kSub) + kSubBits - 1;
    return (kSub + i % kSub) << (e - kSubBits);
  }
  static std::uint64_t High(std::size_t i) {
    if (i < kSub) return i + 1;
    const int e = static_cast<int>(i / kSub) + kSubBits - 1;
    return (kSub + i % kSub + 1) << (e - kSubBits);
  }

  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> max_{0};
};

class AckTimes {
 public:
  AckTimes() = default;
  ~AckTimes() {
    for (auto& c : chunks_) delete c.load();
  }
  AckTimes(const AckTimes&) = delete;
  AckTimes& operator=(const AckTimes&) = delete;

  // Positions first..last were acknowledged at `at_nanos` (NowNanos()).
  void Record(std::uint64_t first, std::uint64_t last, std::int64_t at_nanos) {
    for (std::uint64_t p = first; p <= last && p != 0; ++p) {
      Chunk* c = ChunkOf(p, /*create=*/true);
      if (c != nullptr) (*c)[p & kChunkMask].store(at_nanos, std::memory_order_release);
    }
  }
  std::int64_t At(std::uint64_t position) const {
    Chunk* c = const_cast<AckTimes*>(this)->ChunkOf(position, /*create=*/false);
    return c == nullptr ? 0 : (*c)[position & kChunkMask].load(std::memory_order_acquire);
  }

 private:
  static constexpr int kChunkBits = 16;
  static constexpr std::uint64_t kChunkMask = (1u << kChunkBits) - 1;
  static constexpr std::size_t kChunks = 1u << 16;  // positions below 2^32
  using Chunk = std::array<std::atomic<std::int64_t>, (1u << kChunkBits)>;

  Chunk* ChunkOf(std::uint64_t position, bool create) {
    const std::uint64_t i = position >> kChunkBits;
    if (i >= kChunks) return nullptr;
    Chunk* c = chunks_[i].load(std::memory_order_acquire);
    if (c != nullptr || !create) return c;
    auto fresh = std::make_unique<Chunk>();
    for (auto& slot : *fresh) slot.store(0, std::memory_order_relaxed);
    if (chunks_[i].compare_exchange_strong(c, fresh.get(), std::memory_order_acq_rel)) {
      return fresh.release();
    }
    return c;  // another thread made it first
  }

  std::array<std::atomic<Chunk*>, kChunks> chunks_{};
};

}  // namespace casegrid::load
