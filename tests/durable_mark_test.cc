// A follower in another process reads no further than the writer made
// durable: the writer's log file shows a group's bytes before its fsync
// returns (review 86: `casegrid digest` beside a serve named a head the
// server had not acknowledged, and after a failed fsync and a power cut
// another event took it).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "engine/durable_mark.h"
#include "engine/event_store.h"
#include "tests/support/temp_dir.h"

namespace casegrid {
namespace {

// The bytes of the store's write-ahead logs.
std::uintmax_t WalBytes(const std::string& dir) {
  std::uintmax_t bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log") bytes += entry.file_size();
  }
  return bytes;
}

// Reads a line of the child's; empty at its end.
std::string Line(FILE* from) {
  char buf[128];
  if (std::fgets(buf, sizeof buf, from) == nullptr) return "";
  std::string line(buf);
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

TEST(DurableMarkTest, AFollowerReadsNoFurtherThanTheWriterMadeDurable) {
  testing::TempDir dir;
  const std::string store = dir.Sub("log");
  int fds[2], go[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(pipe(go), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(go[0], STDIN_FILENO);
    close(fds[0]);
    close(fds[1]);
    close(go[0]);
    close(go[1]);
    execl(STALLED_APPENDER_PATH, "stalled_appender", store.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  close(go[0]);
  FILE* child = fdopen(fds[0], "r");
  ASSERT_NE(child, nullptr);
  struct Reap {
    pid_t pid;
    FILE* f;
    int go;
    ~Reap() {
      close(go);
      if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
      std::fclose(f);
    }
  } reap{pid, child, go[1]};

  ASSERT_EQ(Line(child), "synced");
  const std::uintmax_t before = WalBytes(store);
  ASSERT_EQ(write(go[1], "go\n", 3), 3);
  // The second group's bytes are in the log's file, its fsync under way
  // (held until the child is told to go on).
  for (int i = 0; i < 6000 && WalBytes(store) == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GT(WalBytes(store), before) << "the second group was not written in 30 s";
  EXPECT_EQ(DurableMark::ReadWhileWritten(store), std::optional<Position>(1));
  auto follower = EventStore::OpenFollower(store);
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();
  EXPECT_EQ((*follower)->Head().position, 1u) << "a follower read a group not yet durable";
  auto all = (*follower)->ReadAll(0, 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);

  ASSERT_EQ(write(go[1], "go\n", 3), 3);  // the fsync ends
  ASSERT_EQ(Line(child), "acknowledged");
  ASSERT_TRUE((*follower)->CatchUp().ok());
  EXPECT_EQ((*follower)->Head().position, 2u);
  // Once no writer holds the store, a follower reads the log as it stands.
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  reap.pid = 0;
  EXPECT_EQ(DurableMark::ReadWhileWritten(store), std::nullopt);
}

// A follower opened beside a writer of this process leaves the writer's
// lock alone: looking for a writer of another process by opening the LOCK
// file and closing it dropped this process's lock (POSIX drops every fcntl
// lock a process holds on a file as any descriptor of it closes), and
// another process could open the store for writing too (review 87).
TEST(DurableMarkTest, AFollowerBesideAWriterOfThisProcessLeavesItsLock) {
  testing::TempDir dir;
  const std::string store = dir.Sub("log");
  StoreOptions options;
  options.path = store;
  auto writer = EventStore::Open(options);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  auto follower = EventStore::OpenFollower(store);
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();
  ASSERT_TRUE((*follower)->CatchUp().ok());
  // Another process cannot open it for writing.
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_RDWR);
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    execl(STALLED_APPENDER_PATH, "stalled_appender", store.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1) << "a second writer opened the store";
}

}  // namespace
}  // namespace casegrid
