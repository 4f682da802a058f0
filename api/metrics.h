// ApiMetrics: the counters GET /metrics exports in Prometheus text format.
//
// Thread-safety: every member is an atomic, updated from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "engine/event.h"

namespace casegrid {

// Upper bounds of the append latency histogram's buckets, in microseconds
// (the last bucket, +Inf, is implicit).
inline constexpr std::array<std::uint64_t, 12> kAppendLatencyBoundsMicros = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000};

struct ApiMetrics {
  // HTTP
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> connections_open{0};
  // Durable writes, from request to fsync'd answer.
  std::atomic<std::uint64_t> appends{0};
  std::atomic<std::uint64_t> append_micros_total{0};
  std::array<std::atomic<std::uint64_t>, kAppendLatencyBoundsMicros.size() + 1> append_buckets{};
  // WebSocket push
  std::atomic<std::uint64_t> ws_connections{0};
  std::atomic<std::uint64_t> ws_connections_open{0};
  std::atomic<std::uint64_t> subscriptions_open{0};
  std::atomic<std::uint64_t> messages_pushed{0};
  std::atomic<std::uint64_t> slow_client_closes{0};

  // Counts one durable write that took `elapsed`.
  void RecordAppend(std::chrono::steady_clock::duration elapsed);
};

// The Prometheus text exposition (format 0.0.4) of `m`, with the log's head
// and the views' position (their difference is the view lag).
std::string RenderMetrics(const ApiMetrics& m, Position log_head, Position views_position);

}  // namespace casegrid
