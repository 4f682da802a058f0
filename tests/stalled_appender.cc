// The child of DurableMarkTest: appends one event and says "synced"; once a
// line comes on its stdin, appends a second whose fsync takes 3 s, saying
// "acknowledged" once it is answered; then waits to be killed. Exits 1 if
// the store does not open, 3 if its stdin ends before a line comes.
// Usage: stalled_appender STORE_DIR
#include <unistd.h>

#include <cstdio>
#include <string>

#include "engine/event_store.h"
#include "tests/support/fault_fs.h"

namespace {

void Say(const std::string& line) {
  const std::string out = line + "\n";
  if (write(STDOUT_FILENO, out.data(), out.size()) < 0) std::_Exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto fs = std::make_shared<casegrid::testing::FaultFs>();
  auto env = casegrid::testing::MakeEnv(fs);
  casegrid::StoreOptions options;
  options.path = argv[1];
  options.env = env.get();
  auto store = casegrid::EventStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "stalled_appender: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const auto append = [&](const std::string& id) {
    auto r = (*store)->Append(casegrid::AppendRequest{"case/S",
                                                      casegrid::ExpectedVersion::Any(),
                                                      "test",
                                                      {{id, "NoteAdded", R"({"text":"t"})"}}});
    if (!r.ok()) std::_Exit(1);
  };
  append("first");
  Say("synced");
  char go[8];
  if (read(STDIN_FILENO, go, sizeof go) <= 0) return 3;  // told nothing: the store opened
  fs->sync_delay_us = 3'000'000;
  append("second");
  Say("acknowledged");
  for (;;) pause();
}
