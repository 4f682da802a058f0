// The child of crash_test: appends from many threads until it is killed, and
// writes one line per acknowledged append to stdout, unbuffered:
//   <event id> <position> <stream version>
// Usage: crash_appender STORE_DIR ROUND THREADS
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/event_store.h"

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  casegrid::StoreOptions options;
  options.path = argv[1];
  const std::string round = argv[2];
  const int threads = std::stoi(argv[3]);
  auto store = casegrid::EventStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "crash_appender: %s\n", store.status().ToString().c_str());
    return 1;
  }
  std::mutex out_mu;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const std::string stream = "case/T" + std::to_string(t);
      auto version = (*store)->StreamVersionOf(stream);
      if (!version.ok()) std::_Exit(1);
      casegrid::StreamVersion v = *version;
      for (long i = 0;; ++i) {
        const std::string id = "r" + round + "-t" + std::to_string(t) + "-" + std::to_string(i);
        auto expected =
            v == 0 ? casegrid::ExpectedVersion::NoStream() : casegrid::ExpectedVersion::Exact(v);
        auto r = (*store)->Append(casegrid::AppendRequest{
            stream, expected, "crash-test", {{id, "NoteAdded", R"({"text":"crash"})"}}});
        if (!r.ok()) {
          std::fprintf(stderr, "crash_appender: %s\n", r.status().ToString().c_str());
          std::_Exit(1);
        }
        v = r->last_version;
        const std::string line =
            id + " " + std::to_string(r->first_position) + " " + std::to_string(v) + "\n";
        std::lock_guard l(out_mu);
        if (write(STDOUT_FILENO, line.data(), line.size()) < 0) std::_Exit(1);
      }
    });
  }
  for (auto& w : workers) w.join();
}
