// The report of a casegrid-load run: the figures for people first, then any
// FAILURE lines, then the figures as `name: value` lines for scripts
// (docs/load.md lists them).
//
// Thread-safety: call once every client has stopped counting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tools/load/http_writer.h"
#include "tools/load/ws_subscriber.h"

namespace casegrid::load {

// What the run measured besides the writers' and subscribers' own counts.
struct RunFigures {
  std::string setting;      // what ran, in words
  double window_s = 0;      // from the writers' start to the last answer
  bool paced = false;       // writers kept a schedule (open loop), not each after an answer
  double drain_s = 0;       // for the subscribers to catch up after it
  std::string not_drained;  // why they are not known to have caught up; empty: they did
  std::uint64_t clients = 0;
  std::uint64_t idle_connections = 0;  // WebSockets open when the idle RSS was read
  bool spawned = false;                // the RSS and server CPU figures are known
  std::int64_t rss_before_kib = 0, rss_idle_kib = 0, rss_end_kib = 0;
  // The kernel's slab and TCP buffer memory, machine-wide, before the
  // subscribers connect and when they are idle (KiB).
  std::int64_t kernel_before_kib = 0, kernel_idle_kib = 0;
  double server_cpu_s = 0, load_cpu_s = 0;  // over the window
  double machine_cpu_s = 0;                 // every process, over the window
  // GET /metrics before the subscribers connect and at the end (none: not
  // read); the report gives the difference, this run's share.
  std::optional<std::string> server_metrics_start, server_metrics;
};

void PrintReport(const RunFigures& run, const WriteStats& writes, const PushStats& push);
void PrintFailuresAndFigures(const RunFigures& run, const WriteStats& writes, const PushStats& push,
                             const Failures& failures);

// `v` with `decimals` digits after the point.
std::string Fixed(double v, int decimals = 2);
// The value of the sample `name` (no labels) in a Prometheus text exposition.
std::optional<double> Metric(const std::string& text, const std::string& name);

}  // namespace casegrid::load
