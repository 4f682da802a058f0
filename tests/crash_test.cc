// Acknowledged means durable: a child appends from many threads, reporting
// each acknowledged append; we SIGKILL it at a random moment, reopen the
// store and check that every acknowledged event is there, at its position,
// once, in order, with the hash chain intact. Many rounds on one store.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <unordered_map>

#include "engine/event_store.h"
#include "tests/support/temp_dir.h"

namespace casegrid {
namespace {

struct Ack {
  Position position;
  StreamVersion version;
};

// Runs the child until `run_ms` after its first ack (or 30 s without one),
// then SIGKILLs it; returns the acks it sent.
std::unordered_map<std::string, Ack> RunAndKill(const std::string& dir, int round, int run_ms) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(CRASH_APPENDER_PATH, "crash_appender", dir.c_str(), std::to_string(round).c_str(), "8",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string buffer;
  char chunk[65536];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool started = false, killed = false;
  std::size_t acked_lines = 0;  // read so far
  while (true) {
    if (!started && !buffer.empty()) {
      started = true;  // a slow start (sanitizers) does not eat the run time
      deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
    }
    // The kill waits for a few acknowledgements too, so that a slow machine
    // still kills mid-stream rather than before anything was acknowledged.
    const bool enough =
        acked_lines >= 8 || std::chrono::steady_clock::now() >= deadline + std::chrono::seconds(30);
    if (!killed && std::chrono::steady_clock::now() >= deadline && enough) {
      kill(pid, SIGKILL);
      killed = true;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 5) > 0) {
      const ssize_t n = read(fds[0], chunk, sizeof chunk);
      if (n <= 0) break;  // the child is gone and the pipe drained
      buffer.append(chunk, static_cast<std::size_t>(n));
      acked_lines += static_cast<std::size_t>(std::count(chunk, chunk + n, '\n'));
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child ended on its own (status " << status << ")";
  std::unordered_map<std::string, Ack> acks;
  std::istringstream lines(buffer);
  std::string id;
  Ack ack;
  // A line cut by the kill lacks its newline; only whole lines count.
  const std::size_t whole = buffer.rfind('\n');
  lines.str(buffer.substr(0, whole == std::string::npos ? 0 : whole + 1));
  while (lines >> id >> ack.position >> ack.version) acks[id] = ack;
  return acks;
}

TEST(CrashTest, EveryAcknowledgedEventSurvivesSigkill) {
  testing::TempDir dir;
  const std::string path = dir.Sub("store");
  std::mt19937 rng(20261123);
  std::unordered_map<std::string, Ack> all_acks;
  constexpr int kRounds = 12;
  for (int round = 0; round < kRounds; ++round) {
    auto acks = RunAndKill(path, round, std::uniform_int_distribution<int>(150, 450)(rng));
    all_acks.insert(acks.begin(), acks.end());

    StoreOptions options;
    options.path = path;
    auto store = EventStore::Open(options);
    ASSERT_TRUE(store.ok()) << "round " << round << ": " << store.status().ToString();
    auto report = (*store)->Verify();
    ASSERT_TRUE(report.ok());
    ASSERT_TRUE(report->intact) << "round " << round << ": broken at " << report->broken_at << ": "
                                << report->reason;
    const Position head = (*store)->Head().position;

    // Every acknowledged event, from every round so far, is where it was acked.
    auto events = (*store)->ReadAll(0, head);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), head);
    std::unordered_map<std::string, Position> found;
    std::unordered_map<std::string, StreamVersion> last_version;
    for (const RecordedEvent& e : *events) {
      ASSERT_TRUE(found.emplace(e.id, e.position).second) << "id twice: " << e.id;
      // Versions within each stream run 1, 2, 3, ... in log order.
      ASSERT_EQ(e.version, ++last_version[e.stream]) << "stream " << e.stream;
    }
    for (const auto& [id, ack] : all_acks) {
      auto it = found.find(id);
      ASSERT_NE(it, found.end()) << "round " << round << ": acknowledged " << id << " is lost";
      ASSERT_EQ(it->second, ack.position) << id;
    }
    ASSERT_GT(acks.size(), 0u) << "round " << round << " acknowledged nothing";
  }
  EXPECT_GT(all_acks.size(), 100u);
}

}  // namespace
}  // namespace casegrid
