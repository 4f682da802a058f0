#include "tools/load/spawn.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "engine/hash_chain.h"
#include "tools/load/api_client.h"

namespace casegrid::load {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Removes the folders of casegrid-load runs that died without removing them
// (SIGKILL; their servers get SIGTERM from the kernel then): each names its
// run's pid in "owner", and one whose process is gone, or is no longer a
// casegrid-load, is removed. Folders without an owner are left alone.
void RemoveAbandonedFolders(const std::string& parent) {
  const std::string self = ReadFile("/proc/self/comm");
  std::vector<std::filesystem::path> abandoned;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
    if (!entry.path().filename().string().starts_with("casegrid-load-")) continue;
    const std::string owner = ReadFile((entry.path() / "owner").string());
    const long pid = std::strtol(owner.c_str(), nullptr, 10);
    if (pid <= 0) continue;
    if (ReadFile("/proc/" + std::to_string(pid) + "/comm") == self) continue;  // still running
    abandoned.push_back(entry.path());
  }
  for (const auto& path : abandoned) {
    std::fprintf(stderr, "removing %s, left by a casegrid-load that is gone\n", path.c_str());
    std::filesystem::remove_all(path, ec);
  }
}

}  // namespace

Result<std::uint16_t> FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::Unavailable(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return Status::Unavailable(std::string("bind: ") + std::strerror(errno));
  }
  ::close(fd);
  return static_cast<std::uint16_t>(ntohs(addr.sin_port));
}

Result<std::string> RandomSecret() {
  EventHash bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Status::Internal("no randomness for a secret");
  }
  return HashToHex(bytes);
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::Spawn(const SpawnOptions& options) {
  std::string parent = options.temp_parent;
  if (parent.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  RemoveAbandonedFolders(parent);
  std::string pattern = parent + "/casegrid-load-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Status::Unavailable("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  std::unique_ptr<ServerProcess> server(new ServerProcess());
  server->folder_ = pattern;
  {
    std::ofstream owner(pattern + "/owner");
    owner << ::getpid() << '\n';
    if (!owner.flush()) return Status::Unavailable("writing " + pattern + "/owner");
  }
  ASSIGN_OR_RETURN(server->port_, FreeLoopbackPort());

  std::vector<std::string> args = {options.casegrid, "serve",
                                   "--data",         server->folder_ + "/data",
                                   "--listen",       "127.0.0.1:" + std::to_string(server->port_)};
  args.insert(args.end(), options.extra.begin(), options.extra.end());
  const std::string log = server->folder_ + "/serve.log";
  const std::string env = "CASEGRID_JWT_SECRET=" + options.secret;

  const pid_t parent_pid = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Status::Unavailable(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Its own process group, so that a Ctrl-C at the terminal reaches only
    // casegrid-load, which then stops the server in order; and SIGTERM if
    // casegrid-load dies without doing so (also if it died before prctl).
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent_pid) ::_exit(1);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::close(out);
    }
    ::putenv(const_cast<char*>(env.c_str()));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "exec %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  server->pid_ = pid;

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!server->Running()) {
      return Status::Unavailable("casegrid serve exited with status " +
                                 std::to_string(server->exit_status_) + ":\n" + server->LogTail());
    }
    ApiClient probe("127.0.0.1", server->port_);
    auto reply = probe.Request(ApiClient::Method::kGet, "/healthz", "", "");
    if (reply.ok() && reply->status == 200) return server;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Unavailable("casegrid serve did not answer /healthz within 60 s:\n" +
                             server->LogTail());
}

ServerProcess::~ServerProcess() {
  Stop();
  if (!folder_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(folder_, ec);
  }
}

bool ServerProcess::Running() {
  if (pid_ <= 0 || exit_status_ >= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

int ServerProcess::Stop(int timeout_s) {
  if (!Running()) return exit_status_;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (Running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      exit_status_ = 128 + SIGKILL;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return exit_status_;
}

std::optional<std::int64_t> ServerProcess::RssKiB() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return std::nullopt;
}

double ServerProcess::CpuSeconds() const {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid_) + "/stat");
  // Fields after the command's closing parenthesis; utime and stime are the
  // 14th and 15th of the whole line.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::strtod(field.c_str(), nullptr);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string ServerProcess::LogTail(std::size_t bytes) const {
  std::string log = ReadFile(folder_ + "/serve.log");
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

}  // namespace casegrid::load
