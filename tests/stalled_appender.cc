// The child of DurableMarkTest: appends one event and says "synced"; once a
// line comes on its stdin, appends a second whose fsync waits until another
// line comes, saying "acknowledged" once it is answered; then waits to be
// killed. Exits 1 if the store does not open, 3 if its stdin ends before
// the first line comes.
// Usage: stalled_appender STORE_DIR
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

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
  fs->hold_wal_syncs_after = fs->wal_syncs.load();
  std::thread release([fs] {
    char line[8];
    [[maybe_unused]] const ssize_t n = read(STDIN_FILENO, line, sizeof line);
    fs->hold_wal_syncs_after = -1;
  });
  release.detach();
  append("second");
  Say("acknowledged");
  for (;;) pause();
}
