// ServerProcess: a `casegrid serve` started by casegrid-load (--spawn) on a
// fresh data folder and a free loopback port, with the HS256 secret in its
// environment, and stopped (SIGTERM, then wait) when done.
//
// Owns the child process and its temporary folder (data, serve.log, and
// "owner", this process's pid): the destructor stops the child if it runs
// and removes the folder. A run killed before that (SIGKILL) leaves its
// folder; the next Spawn under the same parent removes it once its owner is
// gone. The process figures (RSS, CPU) are read from /proc/<pid>.
//
// Thread-safety: one controlling thread; RssKiB and CpuSeconds from any.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"

namespace casegrid::load {

struct SpawnOptions {
  std::string casegrid;            // path to the casegrid binary
  std::string secret;              // CASEGRID_JWT_SECRET for the child
  std::string temp_parent;         // where the temporary data folder goes ("" = $TMPDIR or /tmp)
  std::vector<std::string> extra;  // more `serve` flags
};

class ServerProcess {
 public:
  // Starts the server and waits (up to 60 s) until GET /healthz answers 200.
  static Result<std::unique_ptr<ServerProcess>> Spawn(const SpawnOptions& options);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  const std::string& folder() const { return folder_; }

  // VmRSS of the server in KiB, or nullopt once it is gone.
  std::optional<std::int64_t> RssKiB() const;
  // User + system CPU seconds the server has used so far.
  double CpuSeconds() const;
  // Still running?
  bool Running();
  // SIGTERM, wait up to `timeout_s` (then SIGKILL); the exit status as a
  // shell shows it (128+signal when killed). Idempotent.
  int Stop(int timeout_s = 30);
  // The last `bytes` of serve.log.
  std::string LogTail(std::size_t bytes = 2000) const;

 private:
  ServerProcess() = default;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string folder_;
  int exit_status_ = -1;
};

// A port on 127.0.0.1 that was free a moment ago.
Result<std::uint16_t> FreeLoopbackPort();
// 32 random bytes as 64 lowercase hex digits (OpenSSL's CSPRNG).
Result<std::string> RandomSecret();

}  // namespace casegrid::load
