#include "tools/load/report.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace casegrid::load {
namespace {

std::string Ms(const LatencyHistogram& h, double q) {
  return Fixed(h.QuantileMillis(q));
}
std::string MaxMs(const LatencyHistogram& h) {
  return Fixed(static_cast<double>(h.max_nanos()) / 1e6);
}
// Cores used over the window by processes other than casegrid-load and the
// spawned server: a shared machine's noise.
double OtherCores(const RunFigures& run) {
  const double window = run.window_s > 0 ? run.window_s : 1;
  return std::max(0.0, run.machine_cpu_s - run.load_cpu_s - run.server_cpu_s) / window;
}
double PerConnection(const RunFigures& run, std::int64_t before, std::int64_t idle) {
  return run.idle_connections == 0
             ? 0
             : static_cast<double>(idle - before) / static_cast<double>(run.idle_connections);
}
double KibPerConnection(const RunFigures& run) {
  return PerConnection(run, run.rss_before_kib, run.rss_idle_kib);
}
double KernelKibPerConnection(const RunFigures& run) {
  return PerConnection(run, run.kernel_before_kib, run.kernel_idle_kib);
}
// How the writes' latency was taken.
const char* Loop(const RunFigures& run) {
  return run.paced ? "open loop: from when each write fell due"
                   : "closed loop: each writer sends when its last write is answered, so this "
                     "is the latency at the rate reached, not at a rate asked for";
}

// What the server's /metrics say of the subscribers: its counts of slow
// closes and of messages pushed over this run — the end's minus the
// start's, with its totals beside them; a spawned server's totals are this
// run's.
std::string ServerCounts(const RunFigures& run) {
  static constexpr const char* kSlow = "casegrid_slow_client_closes_total";
  static constexpr const char* kPushed = "casegrid_messages_pushed_total";
  if (!run.server_metrics) return "";
  const auto slow = Metric(*run.server_metrics, kSlow);
  if (!slow) return "";
  const double pushed = Metric(*run.server_metrics, kPushed).value_or(0);
  auto counts = [](double slow_closes, double messages) {
    return Fixed(slow_closes, 0) + " slow closes and " + Fixed(messages, 0) + " messages pushed";
  };
  if (run.spawned) return "; the server counted " + counts(*slow, pushed) + " (written to sockets)";
  std::optional<double> slow0, pushed0;
  if (run.server_metrics_start) {
    slow0 = Metric(*run.server_metrics_start, kSlow);
    pushed0 = Metric(*run.server_metrics_start, kPushed);
  }
  if (!slow0 || !pushed0) {
    return "; since it started (not this run's share: its counts at the start could not be read) "
           "the server counted " +
           counts(*slow, pushed) + " (written to sockets)";
  }
  if (*slow < *slow0 || pushed < *pushed0) {
    return "; since it started (not this run's share: it restarted during the run) the server "
           "counted " +
           counts(*slow, pushed) + " (written to sockets)";
  }
  return "; over this run the server counted " + counts(*slow - *slow0, pushed - *pushed0) +
         ", written to sockets (since it started: " + Fixed(*slow, 0) + " and " + Fixed(pushed, 0) +
         ")";
}

}  // namespace

std::string Fixed(double v, int decimals) {
  char out[64];
  std::snprintf(out, sizeof out, "%.*f", decimals, v);
  return out;
}

std::optional<double> Metric(const std::string& text, const std::string& name) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != ' ' && next != '{') continue;
    const auto space = line.rfind(' ');
    return std::strtod(line.c_str() + space + 1, nullptr);
  }
  return std::nullopt;
}

void PrintReport(const RunFigures& run, const WriteStats& writes, const PushStats& push) {
  const double window = run.window_s > 0 ? run.window_s : 1;
  std::cout << "casegrid-load: " << run.setting << "\n";
  std::cout << "writes: " << writes.ok.load() << " answered 2xx in " << Fixed(run.window_s)
            << " s = " << Fixed(static_cast<double>(writes.ok.load()) / window, 0) << "/s ("
            << Fixed(static_cast<double>(writes.events.load()) / window, 0) << " events/s, "
            << writes.cases_closed.load() << " cases closed); non-2xx " << writes.non2xx.load()
            << ", connection errors " << writes.connection_errors.load() << "\n";
  if (writes.unsent.load() > 0) {
    std::cout << "  " << writes.unsent.load()
              << " writes fell due and were never sent (the server did not keep up with the "
                 "schedule): the latencies below leave them out\n";
  }
  for (const auto& [status, n] : writes.ByStatus()) {
    std::cout << "  HTTP " << status << ": " << n
              << (status == 429 ? " (the server's --rate and --burst per token are too low for "
                                  "this load)"
                                : "")
              << "\n";
  }
  for (const auto& sample : writes.Samples()) std::cout << "  e.g. " << sample << "\n";
  std::cout << "write latency (sent -> 2xx read; " << Loop(run) << "): " << writes.latency.count()
            << " writes: p50 " << Ms(writes.latency, 0.5) << " ms, p99 " << Ms(writes.latency, 0.99)
            << " ms, p999 " << Ms(writes.latency, 0.999) << " ms, max " << MaxMs(writes.latency)
            << " ms\n";
  if (run.clients > 0) {
    std::cout << "push: " << push.total_messages() << " messages ("
              << Fixed(static_cast<double>(push.bytes.load()) / (1 << 20), 1) << " MiB), ";
    if (run.not_drained.empty()) {
      std::cout << "drained " << Fixed(run.drain_s, 1) << " s after the writes";
    } else {
      std::cout << "not drained: " << run.not_drained;
    }
    std::cout << "; latency (acknowledged -> arrived):\n";
    for (std::size_t k = 0; k < kChannelKinds; ++k) {
      const auto& h = push.latency[k];
      if (push.messages[k].load() == 0) continue;
      const auto kind = static_cast<ChannelKind>(k);
      std::cout << "  " << Name(kind) << ": " << push.messages[k].load() << " messages, "
                << h.count()
                << (kind == ChannelKind::kDashboard ? " of our events first shown in them"
                                                    : " of them for our writes")
                << ": p50 " << Ms(h, 0.5) << " ms, p99 " << Ms(h, 0.99) << " ms, max " << MaxMs(h)
                << " ms\n";
    }
    std::cout << "clients: " << run.idle_connections << " connected, " << push.slow_closes.load()
              << " closed as too slow (1013), " << push.other_closes.load() << " other closes, "
              << push.reconnects.load() << " resumed";
    if (push.failed_connects.load() > 0) {
      std::cout << ", " << push.failed_connects.load() << " connection attempts failed";
    }
    if (push.gave_up.load() > 0) std::cout << ", " << push.gave_up.load() << " gave up connecting";
    std::cout << "; " << push.pushed_before_ack.load()
              << " pushes came before their writer read its answer";
    if (push.late_dropped.load() > 0) {
      std::cout << " (" << push.late_dropped.load()
                << " more of those were past the bound kept, and are not measured)";
    }
    std::cout << ServerCounts(run) << "\n";
  }
  if (run.spawned) {
    std::cout << "server: RSS " << run.rss_before_kib << " KiB before subscribers, "
              << run.rss_idle_kib << " KiB idle with " << run.idle_connections << " connections ("
              << Fixed(KibPerConnection(run)) << " KiB each), " << run.rss_end_kib
              << " KiB at the end; CPU " << Fixed(run.server_cpu_s, 1) << " s over the writes ("
              << Fixed(run.server_cpu_s / window) << " cores)\n";
  }
  if (run.idle_connections > 0) {
    std::cout << "kernel: slab and TCP buffers (machine-wide; both ends of a connection on this "
                 "machine) grew "
              << run.kernel_idle_kib - run.kernel_before_kib << " KiB with " << run.idle_connections
              << " idle connections (" << Fixed(KernelKibPerConnection(run)) << " KiB each)\n";
  }
  std::cout << "load generator: CPU " << Fixed(run.load_cpu_s, 1) << " s over the writes ("
            << Fixed(run.load_cpu_s / window) << " cores)\n";
  std::cout << "machine: " << Fixed(run.machine_cpu_s / window) << " cores busy over the writes, "
            << Fixed(OtherCores(run)) << " of them other processes'"
            << (run.spawned ? "" : " (the server's included: it was not spawned)") << "\n";
}

void PrintFailuresAndFigures(const RunFigures& run, const WriteStats& writes, const PushStats& push,
                             const Failures& failures) {
  const auto first = failures.First();
  for (const auto& f : first) std::cout << "FAILURE: " << f << "\n";
  if (failures.count() > first.size()) {
    std::cout << "FAILURE: ... and " << failures.count() - first.size() << " more\n";
  }
  const double window = run.window_s > 0 ? run.window_s : 1;
  auto line = [](const std::string& name, const std::string& value) {
    std::cout << name << ": " << value << "\n";
  };
  line("http_appends_per_s", Fixed(static_cast<double>(writes.ok.load()) / window, 0));
  line("http_events_per_s", Fixed(static_cast<double>(writes.events.load()) / window, 0));
  line("http_append_p50_ms", Ms(writes.latency, 0.5));
  line("http_append_p99_ms", Ms(writes.latency, 0.99));
  line("http_append_p999_ms", Ms(writes.latency, 0.999));
  line("http_append_samples", std::to_string(writes.latency.count()));
  line("http_append_loop", run.paced ? "open" : "closed");
  line("http_writes_unsent", std::to_string(writes.unsent.load()));
  line("http_non2xx", std::to_string(writes.non2xx.load()));
  line("push_messages", std::to_string(push.total_messages()));
  for (std::size_t k = 0; k < kChannelKinds; ++k) {
    const auto kind = static_cast<ChannelKind>(k);
    if (kind == ChannelKind::kCase) continue;  // casegrid-load subscribes to no case
    const auto& h = push.latency[k];
    const bool any = h.count() > 0;
    line("push_p50_ms_" + std::string(Name(kind)), any ? Ms(h, 0.5) : "none");
    line("push_p99_ms_" + std::string(Name(kind)), any ? Ms(h, 0.99) : "none");
    line("push_samples_" + std::string(Name(kind)), std::to_string(h.count()));
  }
  line("clients_connected", std::to_string(run.idle_connections));
  line("clients_closed_too_slow", std::to_string(push.slow_closes.load()));
  if (run.spawned) {
    line("server_rss_kib_before", std::to_string(run.rss_before_kib));
    line("server_rss_kib_idle", std::to_string(run.rss_idle_kib));
    line("server_rss_kib_end", std::to_string(run.rss_end_kib));
    line("kib_per_idle_connection",
         run.idle_connections > 0 ? Fixed(KibPerConnection(run)) : "none");
    line("server_cpu_cores", Fixed(run.server_cpu_s / window));
  }
  line("kernel_kib_per_idle_connection",
       run.idle_connections > 0 ? Fixed(KernelKibPerConnection(run)) : "none");
  line("load_cpu_cores", Fixed(run.load_cpu_s / window));
  line("other_cpu_cores", Fixed(OtherCores(run)));
  line("failures", std::to_string(failures.count()));
}

}  // namespace casegrid::load
