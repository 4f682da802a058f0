// What casegrid-load measures with: a latency histogram any thread may
// record into, and the acknowledgment time of every position our writers
// were answered for, which push latency is measured against.
//
// LatencyHistogram: log-linear buckets (64 per power of two, so a quantile is
// within 1.6% of the value recorded), counts in relaxed atomics: Record from
// any thread at once, Quantile once recording is done (or for a progress
// line, approximately).
//
// Quantile is nearest-rank: the ⌈q·n⌉-th smallest value (p99 of 100 values
// is the 99th, not the largest), as the middle of its bucket.
//
// AckTimes: position -> steady_clock time of the 2xx answer that acknowledged
// it, and the cell of the case it was written to (an index into the cells
// given at construction), in lazily allocated chunks of atomics; Record, At
// and CellAt from any thread. A time of 0 means "not acknowledged to us
// (yet)". The cells are fixed at construction, so CellId and CellsWithin
// may be called from any thread too.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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
    // Nearest rank, counted from 0: the ⌈q·n⌉-th value is at ⌈q·n⌉ - 1
    // (less a hair, so that 0.999 × 1000, 999.0000000000001 in doubles, is 999).
    const double exact = q * static_cast<double>(total);
    const double wanted = std::ceil(exact - exact * 1e-12);
    std::uint64_t rank = wanted <= 1 ? 0 : static_cast<std::uint64_t>(wanted) - 1;
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
  static constexpr std::uint32_t kNoCell = ~std::uint32_t{0};

  // `cells`: the cells writes may name (CellId gives each its index).
  explicit AckTimes(std::vector<std::string> cells = {}) : cells_(std::move(cells)) {
    for (std::size_t i = 0; i < cells_.size(); ++i) {
      index_.emplace(cells_[i], static_cast<std::uint32_t>(i));
    }
  }
  ~AckTimes() {
    for (auto& c : chunks_) delete c.load();
  }
  AckTimes(const AckTimes&) = delete;
  AckTimes& operator=(const AckTimes&) = delete;

  // The index of `cell`, kNoCell if it is not one of the cells given.
  std::uint32_t CellId(std::string_view cell) const {
    const auto it = index_.find(std::string(cell));
    return it == index_.end() ? kNoCell : it->second;
  }
  // For each cell index, whether that cell is `path` or below it (the
  // empty path: every cell).
  std::vector<bool> CellsWithin(std::string_view path) const {
    std::vector<bool> within(cells_.size());
    for (std::size_t i = 0; i < cells_.size(); ++i) {
      const std::string_view c = cells_[i];
      within[i] = path.empty() || c == path ||
                  (c.size() > path.size() && c.starts_with(path) && c[path.size()] == '/');
    }
    return within;
  }

  // Positions first..last were acknowledged at `at_nanos` (NowNanos()),
  // written to the cell of index `cell` (kNoCell: not known).
  void Record(std::uint64_t first, std::uint64_t last, std::int64_t at_nanos,
              std::uint32_t cell = kNoCell) {
    for (std::uint64_t p = first; p <= last && p != 0; ++p) {
      Chunk* c = ChunkOf(p, /*create=*/true);
      if (c == nullptr) continue;
      Slot& slot = (*c)[p & kChunkMask];
      slot.cell.store(cell, std::memory_order_relaxed);
      slot.at.store(at_nanos, std::memory_order_release);
    }
  }
  std::int64_t At(std::uint64_t position) const {
    const Slot* s = SlotOf(position);
    return s == nullptr ? 0 : s->at.load(std::memory_order_acquire);
  }
  // The cell `position` was written to; kNoCell if not known (read it after
  // At says the position was acknowledged).
  std::uint32_t CellAt(std::uint64_t position) const {
    const Slot* s = SlotOf(position);
    return s == nullptr ? kNoCell : s->cell.load(std::memory_order_relaxed);
  }

 private:
  static constexpr int kChunkBits = 16;
  static constexpr std::uint64_t kChunkMask = (1u << kChunkBits) - 1;
  static constexpr std::size_t kChunks = 1u << 16;  // positions below 2^32
  struct Slot {
    std::atomic<std::int64_t> at{0};
    std::atomic<std::uint32_t> cell{kNoCell};
  };
  using Chunk = std::array<Slot, (1u << kChunkBits)>;

  const Slot* SlotOf(std::uint64_t position) const {
    Chunk* c = const_cast<AckTimes*>(this)->ChunkOf(position, /*create=*/false);
    return c == nullptr ? nullptr : &(*c)[position & kChunkMask];
  }
  Chunk* ChunkOf(std::uint64_t position, bool create) {
    const std::uint64_t i = position >> kChunkBits;
    if (i >= kChunks) return nullptr;
    Chunk* c = chunks_[i].load(std::memory_order_acquire);
    if (c != nullptr || !create) return c;
    auto fresh = std::make_unique<Chunk>();
    if (chunks_[i].compare_exchange_strong(c, fresh.get(), std::memory_order_acq_rel)) {
      return fresh.release();
    }
    return c;  // another thread made it first
  }

  const std::vector<std::string> cells_;
  std::unordered_map<std::string, std::uint32_t> index_;  // constant after construction
  std::array<std::atomic<Chunk*>, kChunks> chunks_{};
};

}  // namespace casegrid::load
