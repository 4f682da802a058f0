// Restart test: kill a process while its projector is mid-batch, restart,
// and the views, caught up, equal a rebuild from the log.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <iostream>

#include "engine/event_store.h"
#include "projections/projector.h"
#include "projections/rebuild.h"
#include "tests/support/temp_dir.h"

namespace casegrid {
namespace {

// Starts the child, lets it run `run_ms` after it is ready, SIGKILLs it.
void RunAndKill(const std::string& dir, int seed, int run_ms) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(PROJECTION_CRASHER_PATH, "projection_crasher", dir.c_str(), std::to_string(seed).c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  pollfd p{fds[0], POLLIN, 0};
  ASSERT_GT(poll(&p, 1, 30000), 0) << "the child never got ready";
  char buf[16];
  ASSERT_GT(read(fds[0], buf, sizeof buf), 0);
  usleep(static_cast<useconds_t>(run_ms) * 1000);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended on its own (status " << status << ")";
}

TEST(ProjectionCrashTest, ViewsAfterAKillAndRestartEqualARebuild) {
  testing::TempDir dir;
  for (int round = 0; round < 4; ++round) {
    RunAndKill(dir.path(), round + 1, 300 + 150 * round);
    StoreOptions options;
    options.path = dir.Sub("log");
    auto store = EventStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ProjectorOptions views;
    views.path = dir.Sub("views");
    views.snapshot_every = 64;  // as projection_crasher: snapshots are compared too
    auto projector = Projector::Open(store->get(), views);
    ASSERT_TRUE(projector.ok()) << projector.status().ToString();
    const Position resumed_at = (*projector)->position();
    ASSERT_TRUE((*projector)->CatchUp().ok());
    EXPECT_LE(resumed_at, (*store)->Head().position);
    std::cerr << "round " << round << ": views resumed at " << resumed_at << " of "
              << (*store)->Head().position << "\n";
    const std::string rebuilt_path = dir.Sub("rebuilt-" + std::to_string(round));
    ASSERT_TRUE(RebuildViews(store->get(), rebuilt_path, nullptr, UINT64_MAX, 64).ok());
    auto rebuilt = ViewStore::Open(rebuilt_path);
    ASSERT_TRUE(rebuilt.ok());
    Status same = CompareViews((*projector)->views(), **rebuilt);
    ASSERT_TRUE(same.ok()) << "round " << round << " (resumed at " << resumed_at << " of "
                           << (*store)->Head().position << "): " << same.ToString();
    ASSERT_GT((*store)->Head().position, 10u);
  }
}

}  // namespace
}  // namespace casegrid
