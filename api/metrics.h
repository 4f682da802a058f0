// ApiMetrics: what GET /metrics exports, kept in a prometheus-cpp registry
// and rendered in the Prometheus text format (0.0.4).
//
// Thread-safety: prometheus-cpp's: counters, gauges and the histogram may be
// updated from any thread at once; Render from any thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>

#include "engine/event.h"

namespace casegrid {

class ApiMetrics {
 public:
  ApiMetrics();
  ApiMetrics(const ApiMetrics&) = delete;
  ApiMetrics& operator=(const ApiMetrics&) = delete;

 private:
  std::shared_ptr<prometheus::Registry> registry_;  // first: the references below live in it

 public:
  // HTTP
  prometheus::Counter& requests;
  prometheus::Counter& errors;
  prometheus::Counter& connections;
  prometheus::Gauge& connections_open;
  // Times every connection slot was taken and the listener stopped accepting
  // until one closed (HttpServerOptions::max_connections).
  prometheus::Counter& connections_waited;
  prometheus::Gauge& connections_bound;  // that bound
  // Connections refused at once: their peer address had its bound open.
  prometheus::Counter& connections_refused_per_address;
  // Durable writes, from request to fsync'd answer.
  prometheus::Counter& appends;
  prometheus::Histogram& append_latency;  // seconds
  // WebSocket push
  prometheus::Counter& ws_connections;
  prometheus::Gauge& ws_connections_open;
  prometheus::Gauge& subscriptions_open;
  prometheus::Counter& messages_pushed;
  prometheus::Counter& slow_client_closes;
  // The log and the views
  prometheus::Gauge& log_position;
  prometheus::Gauge& view_lag;
  // The background walks of the hash chain (engine/log_scrub.h)
  prometheus::Counter& scrub_walks;
  prometheus::Gauge& scrub_damaged;           // 1 when the latest walk found damage
  prometheus::Gauge& scrub_checked_position;  // positions 1..this found intact by it

  // Counts one durable write that took `elapsed`.
  void RecordAppend(std::chrono::steady_clock::duration elapsed);
  // The text exposition, with the log's head and the views' position.
  std::string Render(Position log_head, Position views_position);
};

}  // namespace casegrid
