#include "tools/load/load_run.h"

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "api/auth.h"
#include "api/http_server.h"
#include "tools/load/api_client.h"
#include "tools/load/http_writer.h"
#include "tools/load/latency.h"
#include "tools/load/report.h"
#include "tools/load/roster.h"
#include "tools/load/spawn.h"
#include "tools/load/ws_subscriber.h"

namespace casegrid::load {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void OnInterrupt(int) {
  g_interrupted = 1;
}
bool Interrupted() {
  return g_interrupted != 0;
}

namespace asio = boost::asio;

// Raises the soft limit on open files to the hard one; the new soft limit.
std::uint64_t RaiseFileLimit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return 0;
  if (files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
    getrlimit(RLIMIT_NOFILE, &files);
  }
  return files.rlim_cur;
}

double CpuSecondsOfThisProcess() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds the whole machine has been busy (every process, every core).
double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double total = 0, idle = 0, v = 0;
  in >> cpu;
  for (int i = 0; i < 8 && in >> v; ++i) {
    total += v;
    if (i == 3 || i == 4) idle += v;  // idle, iowait
  }
  return (total - idle) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The kernel's memory that grows with connections, machine-wide, in KiB:
// its slab caches (sockets, their inodes and epoll entries among them,
// /proc/meminfo `Slab`) and TCP's buffers (/proc/net/sockstat `TCP: … mem`,
// in pages). Both ends of a loopback connection are on this machine.
std::int64_t KernelSocketKiB() {
  std::int64_t kib = 0;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string name; meminfo >> name;) {
    std::int64_t v = 0;
    if (name == "Slab:" && meminfo >> v) kib += v;
    meminfo.ignore(1 << 10, '\n');
  }
  std::ifstream sockstat("/proc/net/sockstat");
  for (std::string line; std::getline(sockstat, line);) {
    if (!line.starts_with("TCP:")) continue;
    const auto at = line.find(" mem ");
    if (at != std::string::npos) {
      kib += std::atoll(line.c_str() + at + 5) * (sysconf(_SC_PAGESIZE) / 1024);
    }
  }
  return kib;
}

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// The io_context of a group of clients, run on `threads` threads.
class Loop {
 public:
  explicit Loop(int threads) : work_(asio::make_work_guard(io_)) {
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~Loop() { Stop(); }
  void Stop() {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

}  // namespace

Result<ServerAddress> ParseServerAddress(std::string_view url) {
  if (url.find("://") != std::string_view::npos) {
    return Status::InvalidArgument("takes HOST:PORT without a scheme (e.g. 127.0.0.1:8080), not " +
                                   std::string(url));
  }
  const auto colon = url.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument("takes HOST:PORT, not " + std::string(url));
  }
  // Digits alone, the first not 0: "019400" or "+80" is a typo, not a port.
  const std::string_view digits = url.substr(colon + 1);
  const bool plain = !digits.empty() && digits.size() <= 5 && digits.front() != '0' &&
                     digits.find_first_not_of("0123456789") == std::string_view::npos;
  const std::optional<std::uint16_t> port = plain ? ParsePort(digits) : std::nullopt;
  if (!port || *port == 0) {
    return Status::InvalidArgument(
        "takes HOST:PORT with a port of 1-65535 written plainly (digits, no leading zero), not " +
        std::string(url));
  }
  return ServerAddress{std::string(url.substr(0, colon)), *port};
}

int RunLoad(const LoadOptions& o) {
  const std::uint64_t files = RaiseFileLimit();
  const std::uint64_t clients = static_cast<std::uint64_t>(o.dashboards + o.officers + o.auditors);
  if (files < clients + static_cast<std::uint64_t>(o.writers) + 64) {
    std::cerr << "casegrid-load: warning: " << files << " open files allowed, "
              << clients + static_cast<std::uint64_t>(o.writers) << " connections wanted\n";
  }

  // ---- The server.
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string secret;
  std::unique_ptr<ServerProcess> server;
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  if (!o.spawn.empty()) {
    auto random = RandomSecret();
    if (!random.ok()) {
      std::cerr << "casegrid-load: " << random.status().message() << "\n";
      return 2;
    }
    secret = *random;
    SpawnOptions spawn{o.spawn,
                       secret,
                       o.temp_dir,
                       // Distinct subjects stay within the per-token limits anyway; the
                       // writers of a run may outpace the default rate.
                       {"--ws-per-token", "100000", "--rate", "1000000", "--burst", "1000000"}};
    spawn.extra.insert(spawn.extra.end(), o.serve_args.begin(), o.serve_args.end());
    auto started = ServerProcess::Spawn(spawn);
    if (!started.ok()) {
      std::cerr << "casegrid-load: " << started.status().message() << "\n";
      return 2;
    }
    server = std::move(started).value();
    port = server->port();
    std::cerr << "casegrid-load: spawned casegrid serve, pid " << server->pid() << ", on " << host
              << ":" << port << ", data in " << server->folder() << "\n";
  } else {
    auto address = ParseServerAddress(o.url);  // main checked it; RunLoad may be called alone
    if (!address.ok()) {
      std::cerr << "casegrid-load: --url: " << address.status().message() << "\n";
      return 2;
    }
    host = address->host;
    port = address->port;
    auto read = ReadJwtSecret(o.secret_file);
    if (!read.ok()) {
      std::cerr << "casegrid-load: " << read.status().message() << "\n";
      return 2;
    }
    secret = *read;
  }
  auto authority = TokenAuthority::Create(secret);
  if (!authority.ok()) {
    std::cerr << "casegrid-load: " << authority.status().message() << "\n";
    return 2;
  }
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const std::int64_t ttl_ms =
      static_cast<std::int64_t>((o.seconds + o.drain_seconds) * 1000) + 2 * 3600 * 1000;
  const Mint mint = [&](const std::string& sub, Role role, const std::vector<std::string>& cells) {
    auto token = authority->Mint({sub, role, cells, 0}, now_ms, ttl_ms);
    return token.ok() ? *token : std::string();
  };
  const std::string admin = mint("load-admin", Role::kAdmin, {""});
  const std::string auditor = mint("load-auditor", Role::kAuditor, {""});

  // ---- The grid: cells, and every officer assigned to their cluster.
  const GridPlan plan(o.grid);
  const auto& clusters = plan.clusters();
  if (clusters.empty()) {
    std::cerr << "casegrid-load: the grid has no clusters\n";
    return 2;
  }
  const std::vector<OfficerAssignment> assignments = OfficerAssignments(o, plan);
  const auto setup_start = Clock::now();
  auto setup = SetUpGrid(host, port, admin, plan, assignments, 16);
  if (!setup.ok()) {
    std::cerr << "casegrid-load: setting up the grid: " << setup.status().message() << "\n";
    return 2;
  }
  std::cerr << "casegrid-load: grid " << plan.cells().size() << " cells (" << setup->cells_defined
            << " defined, " << setup->cells_existing << " there already), " << assignments.size()
            << " assignments of officers and writers (" << setup->officers_assigned << " made, "
            << setup->officers_existing << " there already) in "
            << Fixed(Seconds(Clock::now() - setup_start)) << " s\n";

  AckTimes acks(plan.cells());
  WriteStats writes;
  PushStats push;
  Failures failures;
  ApiClient reader(host, port);
  // The log's head; none (a failure says why) when it cannot be read.
  auto head = [&]() -> std::optional<std::uint64_t> {
    auto digest = reader.Request(ApiClient::Method::kGet, "/api/v1/audit/digest", auditor, "");
    if (!digest.ok() || digest->status != 200) {
      failures.Add("GET /api/v1/audit/digest: " +
                   (digest.ok() ? std::to_string(digest->status) + " " + digest->body
                                : digest.status().message()));
      return std::nullopt;
    }
    return JsonUnsigned(digest->body, "position");
  };
  auto rss = [&]() -> std::int64_t {
    if (!server) return 0;
    return server->RssKiB().value_or(0);
  };
  bool interrupt_reported = false, exit_reported = false;
  // False once the server is gone or casegrid-load was interrupted: every
  // phase then ends early, and the run is torn down as usual (the spawned
  // server stopped, its folder removed), failing with what it has (said once).
  auto server_alive = [&] {
    if (Interrupted()) {
      if (!interrupt_reported) failures.Add("interrupted: the figures cover part of the run");
      interrupt_reported = true;
      return false;
    }
    if (!server || (!exit_reported && server->Running())) return true;
    if (!exit_reported) failures.Add("casegrid serve exited during the run:\n" + server->LogTail());
    exit_reported = true;
    return false;
  };

  // The server's counters at the start: the report gives this run's share.
  auto metrics = [&]() -> std::optional<std::string> {
    auto m = reader.Request(ApiClient::Method::kGet, "/metrics", "", "");
    if (!m.ok() || m->status != 200) return std::nullopt;
    return std::move(m->body);
  };
  const std::optional<std::string> server_metrics_start = metrics();

  // ---- Subscribers: connect, subscribe, then stay idle a moment.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::int64_t rss_before = rss();
  const std::int64_t kernel_before = KernelSocketKiB();
  const std::uint64_t start_head = o.auditors > 0 ? head().value_or(0) : 0;
  Loop ws_loop(o.subscriber_threads);
  SubscriberFleet fleet(ws_loop.io(), host, port, SubscriberSpecs(o, plan, mint, start_head), &acks,
                        &push, &failures, o.max_connecting, o.quick_ack);
  std::int64_t rss_idle = rss_before;
  std::int64_t kernel_idle = kernel_before;
  std::uint64_t idle_connections = 0;
  if (clients > 0) {
    const auto connect_start = Clock::now();
    fleet.Start();
    const auto deadline = connect_start + std::chrono::seconds(60 + clients / 50);
    auto last_line = connect_start;
    while (push.ready.load() + failures.count() < clients && Clock::now() < deadline &&
           server_alive()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (Clock::now() - last_line >= std::chrono::seconds(1)) {
        last_line = Clock::now();
        std::cerr << "[connect " << Fixed(Seconds(last_line - connect_start), 0) << "s] ready "
                  << push.ready.load() << "/" << clients << ", open " << push.open.load()
                  << ", connection errors " << push.connection_errors() << ", failures "
                  << failures.count() << "\n";
      }
    }
    std::cerr << "casegrid-load: " << push.ready.load() << "/" << clients
              << " subscribers ready in " << Fixed(Seconds(Clock::now() - connect_start)) << " s\n";
    if (push.ready.load() < clients) {
      failures.Add(std::to_string(clients - push.ready.load()) +
                   " subscribers did not get every subscription answered");
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(o.settle_seconds));
    rss_idle = rss();
    kernel_idle = KernelSocketKiB();
    idle_connections = push.open.load();
  }

  // ---- Writers, for o.seconds.
  Loop writer_loop(o.writer_threads);
  WriterOptions writer_options{host, port, o.rate_per_writer, o.notes_per_case};
  WriterFleet writer_fleet(writer_loop.io(), writer_options, WriterIdentities(o, plan, mint), &acks,
                           &writes);
  const double server_cpu0 = server ? server->CpuSeconds() : 0;
  const double load_cpu0 = CpuSecondsOfThisProcess();
  const double machine_cpu0 = MachineBusySeconds();
  const auto t0 = Clock::now();
  writer_fleet.Start(
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds)));
  {
    auto last_line = t0;
    std::uint64_t last_ok = 0, last_messages = 0;
    const auto give_up = t0 + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(o.seconds + 60));
    const auto end =
        t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
    while ((writer_fleet.running() > 0 || Clock::now() < end) && server_alive()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      const auto now = Clock::now();
      if (now > give_up) {
        failures.Add(std::to_string(writer_fleet.running()) +
                     " writers still waiting for an answer 60 s after the end");
        break;
      }
      if (now - last_line < std::chrono::seconds(1)) continue;
      const double dt = Seconds(now - last_line);
      last_line = now;
      const std::uint64_t ok = writes.ok.load(), messages = push.total_messages();
      std::cerr << "[" << Fixed(Seconds(now - t0), 0) << "s] writes "
                << Fixed(static_cast<double>(ok - last_ok) / dt, 0) << "/s (" << ok
                << " total, non-2xx " << writes.non2xx.load() << ", connection errors "
                << writes.connection_errors.load() << ", p99 "
                << Fixed(writes.latency.QuantileMillis(0.99)) << " ms)";
      if (clients > 0) {
        std::cerr << " | push " << Fixed(static_cast<double>(messages - last_messages) / dt, 0)
                  << " msg/s, open " << push.open.load() << ", closed as too slow "
                  << push.slow_closes.load() << ", connection errors " << push.connection_errors();
        if (push.gave_up.load() > 0) std::cerr << ", gave up " << push.gave_up.load();
      }
      if (server) std::cerr << " | server RSS " << rss() / 1024 << " MiB";
      std::cerr << "\n";
      last_ok = ok;
      last_messages = messages;
    }
  }
  const auto t1 = Clock::now();
  const double server_cpu = server ? server->CpuSeconds() - server_cpu0 : 0;
  const double load_cpu = CpuSecondsOfThisProcess() - load_cpu0;
  const double machine_cpu = MachineBusySeconds() - machine_cpu0;
  const double window = Seconds(t1 - t0);

  // ---- Drain: every auditor reaches the head; then quiet. `not_drained`
  // says why the subscribers are not known to have caught up.
  const auto drain_start = Clock::now();
  const auto drain_deadline = drain_start + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(o.drain_seconds));
  std::string not_drained;
  if (clients > 0 && !server_alive()) not_drained = "the run ended before the drain";
  if (clients > 0 && not_drained.empty()) {
    if (o.auditors > 0) {
      const std::optional<std::uint64_t> read_head = head();
      const std::uint64_t final_head = read_head.value_or(0);
      if (!read_head) {
        not_drained = "the log's head could not be read";
      } else {
        while (fleet.LowestEventsPosition().value_or(final_head) < final_head &&
               Clock::now() < drain_deadline && server_alive()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        const std::uint64_t lowest = fleet.LowestEventsPosition().value_or(final_head);
        if (lowest < final_head) {
          not_drained = "an events subscriber stopped at position " + std::to_string(lowest) +
                        " of " + std::to_string(final_head);
          failures.Add("an events subscriber stopped at position " + std::to_string(lowest) +
                       " while the head is " + std::to_string(final_head) + ", " +
                       Fixed(o.drain_seconds, 0) + " s after the writes");
        }
      }
    }
    while (not_drained.empty() && Clock::now() < drain_deadline && server_alive() &&
           NowNanos() - push.last_message_nanos.load() < 1'000'000'000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (not_drained.empty() && !server_alive()) not_drained = "the run ended during the drain";
    if (not_drained.empty() && push.gave_up.load() > 0) {
      not_drained = std::to_string(push.gave_up.load()) + " subscribers gave up connecting";
    }
    if (not_drained.empty() && push.open.load() == 0) not_drained = "no subscriber is connected";
  }
  const double drain = Seconds(Clock::now() - drain_start);
  const std::int64_t rss_end = rss();
  const std::optional<std::string> server_metrics = metrics();
  // The clients stop counting before the late pushes are resolved and reported.
  fleet.Stop(std::chrono::seconds(5));
  fleet.ResolveLate();

  // ---- The report.
  RunFigures figures;
  figures.setting =
      std::to_string(o.writers) + " writers for " + Fixed(o.seconds, 0) + " s" +
      (o.rate_per_writer > 0 ? " at most " + Fixed(o.rate_per_writer, 0) + "/s each" : "") + "; " +
      std::to_string(o.dashboards) + " dashboards, " + std::to_string(o.officers) + " officers, " +
      std::to_string(o.auditors) + " auditors; grid " + std::to_string(clusters.size()) +
      " clusters; " + (server ? "spawned server" : "server at " + o.url) + "; " +
      std::to_string(std::thread::hardware_concurrency()) + " CPUs";
  figures.window_s = window;
  figures.paced = o.rate_per_writer > 0;
  figures.drain_s = drain;
  figures.clients = clients;
  figures.idle_connections = idle_connections;
  figures.spawned = server != nullptr;
  figures.rss_before_kib = rss_before;
  figures.rss_idle_kib = rss_idle;
  figures.rss_end_kib = rss_end;
  figures.kernel_before_kib = kernel_before;
  figures.kernel_idle_kib = kernel_idle;
  figures.server_cpu_s = server_cpu;
  figures.load_cpu_s = load_cpu;
  figures.machine_cpu_s = machine_cpu;
  figures.not_drained = not_drained;
  figures.server_metrics_start = server_metrics_start;
  figures.server_metrics = server_metrics;
  PrintReport(figures, writes, push);

  // Stop the client loops and the server; a server that does not stop cleanly fails the run.
  ws_loop.Stop();
  writer_loop.Stop();
  if (server) {
    const int status = server->Stop();
    if (status != 0) {
      failures.Add("casegrid serve exited with status " + std::to_string(status) + ":\n" +
                   server->LogTail());
    }
  }
  if (writes.non2xx.load() > 0) {
    failures.Add(std::to_string(writes.non2xx.load()) + " writes answered other than 2xx");
  }
  if (writes.connection_errors.load() > 0) {
    failures.Add(std::to_string(writes.connection_errors.load()) + " writer connections failed");
  }
  PrintFailuresAndFigures(figures, writes, push, failures);
  return failures.count() == 0 ? 0 : 1;
}

}  // namespace casegrid::load
