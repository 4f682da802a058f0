#include "api/metrics.h"

#include <prometheus/text_serializer.h>

namespace casegrid {
namespace {

prometheus::Counter& NewCounter(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}
prometheus::Gauge& NewGauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

ApiMetrics::ApiMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests(NewCounter(*registry_, "casegrid_http_requests_total", "HTTP requests handled")),
      errors(NewCounter(*registry_, "casegrid_http_errors_total",
                        "HTTP requests answered with an error")),
      connections(
          NewCounter(*registry_, "casegrid_connections_total", "HTTP connections accepted")),
      connections_open(NewGauge(*registry_, "casegrid_connections", "HTTP connections open")),
      connections_waited(NewCounter(*registry_, "casegrid_connections_waited_total",
                                    "times every connection slot was taken and accepting paused")),
      connections_bound(NewGauge(*registry_, "casegrid_connections_bound",
                                 "connections open at once at most, HTTP and WebSocket together")),
      connections_refused_per_address(
          NewCounter(*registry_, "casegrid_connections_refused_per_address_total",
                     "connections answered 429 and closed: their address had its bound open")),
      appends(NewCounter(*registry_, "casegrid_appends_total",
                         "write requests acknowledged after fsync (a repeat under its "
                         "Idempotency-Key included)")),
      append_latency(
          prometheus::BuildHistogram()
              .Name("casegrid_append_latency_seconds")
              .Help("time from a write request to its fsync'd answer")
              .Register(*registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.00025, 0.0005, 0.001, 0.0025,
                                                               0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5, 1.0})),
      ws_connections(NewCounter(*registry_, "casegrid_ws_connections_total",
                                "WebSocket connections accepted")),
      ws_connections_open(
          NewGauge(*registry_, "casegrid_ws_connections", "WebSocket connections open")),
      subscriptions_open(NewGauge(*registry_, "casegrid_subscriptions", "push subscriptions open")),
      messages_pushed(NewCounter(*registry_, "casegrid_messages_pushed_total",
                                 "push messages written to clients (coalesced views not counted)")),
      slow_client_closes(NewCounter(*registry_, "casegrid_slow_client_closes_total",
                                    "WebSocket clients closed with 1013 for falling behind")),
      log_position(NewGauge(*registry_, "casegrid_log_position", "position of the log's head")),
      view_lag(NewGauge(*registry_, "casegrid_view_lag_positions",
                        "positions the views are behind the log")),
      scrub_walks(NewCounter(*registry_, "casegrid_log_scrub_walks_total",
                             "background walks of the log's hash chain finished")),
      scrub_damaged(NewGauge(*registry_, "casegrid_log_scrub_damaged",
                             "1 when the latest walk of the hash chain found damage, else 0")),
      scrub_checked_position(NewGauge(*registry_, "casegrid_log_scrub_checked_position",
                                      "positions 1 to this were found intact by the latest "
                                      "walk of the hash chain")) {}

void ApiMetrics::RecordAppend(std::chrono::steady_clock::duration elapsed) {
  appends.Increment();
  append_latency.Observe(std::chrono::duration<double>(elapsed).count());
}

std::string ApiMetrics::Render(Position log_head, Position views_position) {
  log_position.Set(static_cast<double>(log_head));
  view_lag.Set(static_cast<double>(log_head > views_position ? log_head - views_position : 0));
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace casegrid
