// The child of projection_crash_test: runs random commands against a store
// while the projector follows live, until it is killed. Prints "ready" once
// the projector runs. Usage: projection_crasher DATA_DIR SEED
#include <unistd.h>

#include <cstdio>
#include <string>

#include "engine/case_service.h"
#include "projections/projector.h"
#include "tests/support/random_commands.h"

int main(int argc, char** argv) {
  using namespace casegrid;
  if (argc != 3) return 2;
  const std::string dir = argv[1];
  ManualClock clock(1795343462123);
  StoreOptions store_options;
  store_options.path = dir + "/log";
  store_options.clock = &clock;
  auto store = EventStore::Open(store_options);
  if (!store.ok()) return std::fprintf(stderr, "%s\n", store.status().ToString().c_str()), 1;
  CaseServiceOptions service_options;
  service_options.clock = &clock;
  auto service = CaseService::Open(store->get(), service_options);
  if (!service.ok()) return 1;
  ProjectorOptions options;
  options.path = dir + "/views";
  options.snapshot_every = 64;
  options.batch_events = 16;  // many small view writes: more moments to die in
  auto projector = Projector::Open(store->get(), options);
  if (!projector.ok())
    return std::fprintf(stderr, "%s\n", projector.status().ToString().c_str()), 1;
  if (Status s = (*projector)->Start(); !s.ok())
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  testing::DefineRandomGrid(**service);
  if (write(STDOUT_FILENO, "ready\n", 6) < 0) return 1;
  testing::RandomCommands commands(**service, &clock, static_cast<unsigned>(std::stoul(argv[2])));
  while (true) commands.Step();
}
