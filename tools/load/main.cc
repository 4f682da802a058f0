// casegrid-load: a load generator and benchmark for a casegrid server over
// its network API — HTTP/1.1 keep-alive writers walking cases through their
// lifecycle, WebSocket subscribers checking what is pushed to them — that
// reports durable writes a second, write and push latency, and the server's
// memory per idle connection (docs/load.md).
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

#include "engine/case_state.h"
#include "tools/flag_checks.h"
#include "tools/load/load_run.h"

int main(int argc, char** argv) {
  casegrid::load::LoadOptions o;
  CLI::App app{"casegrid-load: drive a casegrid server over HTTP and WebSocket, and measure it"};
  auto* spawn = app.add_option("--spawn", o.spawn,
                               "start this casegrid binary (serve) on a temporary data folder");
  auto* url = app.add_option("--url", o.url, "HOST:PORT of a running casegrid serve (no scheme)")
                  ->check(CLI::Validator(
                      [](std::string& text) {
                        auto address = casegrid::load::ParseServerAddress(text);
                        return address.ok() ? std::string() : address.status().message();
                      },
                      "HOST:PORT", "ServerAddress"));
  spawn->excludes(url);
  app.add_option("--jwt-secret-file", o.secret_file,
                 "the server's HS256 secret, with --url (else CASEGRID_JWT_SECRET)");
  app.add_option("--temp-dir", o.temp_dir, "where the spawned server's data folder goes");
  app.add_option("--serve-arg", o.serve_args, "one more flag for the spawned serve (repeatable)");
  app.add_option("--writers", o.writers, "keep-alive HTTP writers")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "how long the writers write")
      ->check(casegrid::FiniteRange(0.001, 1e7))
      ->capture_default_str();
  app.add_option("--rate-per-writer", o.rate_per_writer,
                 "writes a second per writer (0: as fast as answers come)")
      ->check(casegrid::FiniteRange(0, 1e9))
      ->capture_default_str();
  // A case takes notes until it holds kCaseEventsTakingNotes events; the
  // report, the assignment and the acceptance come first.
  constexpr int kMostNotes = static_cast<int>(casegrid::kCaseEventsTakingNotes) - 3;
  app.add_option("--notes-per-case", o.notes_per_case,
                 "notes in each case's lifecycle (a case takes notes up to its " +
                     std::to_string(casegrid::kCaseEventsTakingNotes) + "th event)")
      ->check(CLI::Range(0, kMostNotes))
      ->capture_default_str();
  app.add_option("--dashboards", o.dashboards,
                 "WebSocket clients on dashboard/<district> or dashboard/<area>")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--officers", o.officers,
                 "WebSocket clients on cell/<their cluster> and alerts (each assigned there)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--auditors", o.auditors, "WebSocket clients on events, from the head at start")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--areas", o.grid.areas, "areas in the district")->capture_default_str();
  app.add_option("--groups", o.grid.groups, "groups in each area")->capture_default_str();
  app.add_option("--clusters", o.grid.clusters, "clusters in each group")->capture_default_str();
  app.add_option("--district", o.grid.district, "the district's cell")->capture_default_str();
  app.add_option("--writer-threads", o.writer_threads, "threads running the writers")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--subscriber-threads", o.subscriber_threads,
                 "threads running every WebSocket client")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-connecting", o.max_connecting, "WebSocket clients connecting at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--quick-ack", o.quick_ack,
               "subscribers ACK every message at once (TCP_QUICKACK): shows how much of the push "
               "latency is the server's Nagle waiting on delayed ACKs; real clients do not");
  app.add_option("--settle-seconds", o.settle_seconds,
                 "idle time after the subscribers connect, before the server's RSS is read")
      ->check(casegrid::FiniteRange(0, 1e7))
      ->capture_default_str();
  app.add_option("--drain-seconds", o.drain_seconds,
                 "how long subscribers may take to catch up after the writes")
      ->check(casegrid::FiniteRange(0, 1e7))
      ->capture_default_str();
  // A run that cannot be set up exits 2 (docs/load.md), a bad flag included.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.spawn.empty() && o.url.empty()) {
    std::cerr << "casegrid-load: --spawn PATH_TO_CASEGRID or --url HOST:PORT\n";
    return 2;
  }
  return casegrid::load::RunLoad(o);
}
