// For replay_cli_test.sh: appends one event as older builds' `casegrid
// append` could, straight to the store, past the checks the command makes
// now (a second CaseReported of a case, say), to show how such logs read.
// Usage: legacy_appender LOG_DIR STREAM TYPE JSON
#include <cstdio>
#include <string>

#include "engine/event_store.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: legacy_appender LOG_DIR STREAM TYPE JSON\n");
    return 2;
  }
  casegrid::StoreOptions options;
  options.path = argv[1];
  auto store = casegrid::EventStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "legacy_appender: %s\n", store.status().ToString().c_str());
    return 1;
  }
  auto appended = (*store)->Append(casegrid::AppendRequest{
      argv[2], casegrid::ExpectedVersion::Any(), "legacy", {{"", argv[3], argv[4]}}});
  if (!appended.ok()) {
    std::fprintf(stderr, "legacy_appender: %s\n", appended.status().ToString().c_str());
    return 1;
  }
  return 0;
}
