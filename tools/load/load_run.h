// RunLoad: one casegrid-load run, start to finish — the server (spawned or
// given), the grid, the subscribers, the writers for a while, the drain, the
// report — as docs/load.md describes.
//
// Prints a progress line a second on stderr and the report on stdout, whose
// last lines are `name: value`. Returns the exit status: 0, or 1 when a
// check failed (a FAILURE line says which), or 2 when the run could not be
// set up.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "tools/load/grid_plan.h"

namespace casegrid::load {

struct LoadOptions {
  // The server: spawn this casegrid binary, or drive the one at `url`.
  std::string spawn;
  std::string url;          // HOST:PORT
  std::string secret_file;  // with --url (else CASEGRID_JWT_SECRET)
  std::string temp_dir;     // where a spawned server's data folder goes
  std::vector<std::string> serve_args;

  int writers = 64;
  double seconds = 10;
  double rate_per_writer = 0;  // 0: as fast as answers come
  int notes_per_case = 2;

  int dashboards = 0;
  int officers = 0;
  int auditors = 0;

  GridShape grid;
  int writer_threads = 1;
  int subscriber_threads = 2;
  int max_connecting = 256;
  bool quick_ack = false;     // subscribers ACK every message at once (a diagnosis)
  double settle_seconds = 2;  // idle before the RSS with subscribers connected
  double drain_seconds = 30;  // for subscribers to catch up after the writes
};

int RunLoad(const LoadOptions& options);

// `--url`'s HOST:PORT: a host that is not empty, then a port of 1-65535
// written plainly (digits only, no leading zero). kInvalidArgument, saying
// what `--url` takes ("takes HOST:PORT ..."), for anything else — a scheme
// (`http://...`) included.
struct ServerAddress {
  std::string host;
  std::uint16_t port = 0;
};
Result<ServerAddress> ParseServerAddress(std::string_view url);

}  // namespace casegrid::load
