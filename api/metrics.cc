#include "api/metrics.h"

namespace casegrid {

void ApiMetrics::RecordAppend(std::chrono::steady_clock::duration elapsed) {
  const auto micros = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  appends.fetch_add(1, std::memory_order_relaxed);
  append_micros_total.fetch_add(micros, std::memory_order_relaxed);
  std::size_t bucket = 0;
  while (bucket < kAppendLatencyBoundsMicros.size() &&
         micros > kAppendLatencyBoundsMicros[bucket]) {
    ++bucket;
  }
  append_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
}

std::string RenderMetrics(const ApiMetrics& m, Position log_head, Position views_position) {
  std::string text;
  auto metric = [&](const char* name, const char* type, const char* help, std::uint64_t v) {
    text += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
            name + " " + std::to_string(v) + "\n";
  };
  metric("casegrid_http_requests_total", "counter", "HTTP requests handled", m.requests);
  metric("casegrid_http_errors_total", "counter", "HTTP requests answered with an error", m.errors);
  metric("casegrid_connections_total", "counter", "HTTP connections accepted", m.connections);
  metric("casegrid_connections", "gauge", "HTTP connections open", m.connections_open);
  metric("casegrid_appends_total", "counter", "durable writes acknowledged", m.appends);
  // The append latency histogram (seconds, cumulative buckets).
  text +=
      "# HELP casegrid_append_latency_seconds time from request to fsync'd answer\n"
      "# TYPE casegrid_append_latency_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < m.append_buckets.size(); ++i) {
    cumulative += m.append_buckets[i].load(std::memory_order_relaxed);
    std::string le = "+Inf";
    if (i < kAppendLatencyBoundsMicros.size()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g",
                    static_cast<double>(kAppendLatencyBoundsMicros[i]) / 1e6);
      le = buf;
    }
    text += "casegrid_append_latency_seconds_bucket{le=\"" + le + "\"} " +
            std::to_string(cumulative) + "\n";
  }
  char sum[32];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(m.append_micros_total.load()) / 1e6);
  text += std::string("casegrid_append_latency_seconds_sum ") + sum + "\n";
  text += "casegrid_append_latency_seconds_count " + std::to_string(cumulative) + "\n";
  metric("casegrid_ws_connections_total", "counter", "WebSocket connections accepted",
         m.ws_connections);
  metric("casegrid_ws_connections", "gauge", "WebSocket connections open", m.ws_connections_open);
  metric("casegrid_subscriptions", "gauge", "push subscriptions open", m.subscriptions_open);
  metric("casegrid_messages_pushed_total", "counter", "push messages queued to clients",
         m.messages_pushed);
  metric("casegrid_slow_client_closes_total", "counter",
         "WebSocket clients closed with 1013 for falling behind", m.slow_client_closes);
  metric("casegrid_log_position", "gauge", "position of the log's head", log_head);
  metric("casegrid_view_lag_positions", "gauge", "positions the views are behind the log",
         log_head > views_position ? log_head - views_position : 0);
  return text;
}

}  // namespace casegrid
