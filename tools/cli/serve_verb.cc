// serve: open the log, the case engine, the views and the deadline watch,
// and serve the HTTP API on --listen until SIGINT or SIGTERM; then stop
// accepting, finish the requests in flight (their writes fsync'd) and exit 0.
//
// The HS256 secret comes from CASEGRID_JWT_SECRET or --jwt-secret-file;
// without one serve refuses to start, unless --dev, which makes a random one
// and prints it with a token for each role.
#include <openssl/rand.h>
#include <pthread.h>
#include <sys/resource.h>
#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "api/auth.h"
#include "api/bound_port.h"
#include "api/descriptor_budget.h"
#include "api/http_api.h"
#include "api/http_server.h"
#include "engine/case_service.h"
#include "engine/deadline_watch.h"
#include "engine/event_store.h"
#include "engine/hash_chain.h"
#include "engine/log_scrub.h"
#include "projections/projector.h"
#include "projections/rebuild.h"
#include "tools/cli/free_memory.h"
#include "tools/cli/verbs.h"

namespace casegrid::cli {
namespace {

// A HOST:PORT (--listen's, --metrics-listen's) into `out`: an IP address,
// and a port of 0 to 65535, all digits (0: any free one). The message does
// not name the flag (CLI11 and Fail's callers do).
Status ParseListen(const std::string& listen, HttpServerOptions* out) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return Status::InvalidArgument("\"" + listen + "\" is not HOST:PORT");
  out->host = listen.substr(0, colon);
  if (boost::system::error_code bad; boost::asio::ip::make_address(out->host, bad), bad) {
    return Status::InvalidArgument("the host \"" + out->host + "\" is not an IP address");
  }
  const std::string port = listen.substr(colon + 1);
  const std::optional<std::uint16_t> parsed = ParsePort(port);
  if (!parsed) {
    return Status::InvalidArgument("the port \"" + port + "\" is not a number from 0 to 65535");
  }
  out->port = *parsed;
  return Status::Ok();
}

// A CLI11 check of a HOST:PORT flag.
CLI::Validator ListenAddress() {
  return CLI::Validator(
      [](std::string& listen) {
        HttpServerOptions parsed;
        return ParseListen(listen, &parsed).message();
      },
      "HOST:PORT", "Listen");
}

// The address that stands for every address of the host (0.0.0.0, ::).
bool Unspecified(const std::string& host) {
  boost::system::error_code bad;
  const auto address = boost::asio::ip::make_address(host, bad);
  return !bad && address.is_unspecified();
}

// Connections the metrics port (--metrics-listen) takes at once: a monitor
// or two, each scraping on a connection of its own or kept alive.
constexpr std::size_t kMetricsConnections = 8;

// Set by SIGINT's and SIGTERM's handler, for a signal that reaches a thread
// not blocking them (one started before serve blocked them).
volatile std::sig_atomic_t g_stop = 0;

}  // namespace

void AddServeVerb(CLI::App& app, VerbAction* action) {
  struct ServeArgs {
    std::string data = kDefaultDataDir, listen = "127.0.0.1:8080", secret_file, metrics_listen;
    bool dev = false;
    std::size_t max_body = 1024 * 1024;
    std::size_t max_answers_held = std::size_t{256} << 20;
    std::size_t max_answers_held_per_token = std::size_t{64} << 20;
    std::size_t bytes_per_request = 256 * 1024;
    std::size_t as_of_events_per_request = 128;
    std::size_t max_as_of_reads_per_token = 4;
    std::size_t max_connections = 0;    // 0: as many as the descriptors allow
    std::int64_t max_per_address = -1;  // -1: DescriptorBudget's; 0: none
    double rate = 200, burst = 400;
    WsOptions ws;
    std::size_t ws_per_token = 32;
    std::int64_t ws_idle_s = 60;
    std::int64_t ws_write_s = 30;
    std::int64_t ws_dashboard_ms = 20;
    std::int64_t accept_urgent_min = 10, accept_min = 120, first_contact_min = 24 * 60,
                 callback_min = 24 * 60, mediation_min = 15 * 24 * 60;
    int day_offset_hours = 0;
    int view_batch_ms = 0;
    double verify_every_hours = 24, verify_pace = 100000;
  };
  auto a = std::make_shared<ServeArgs>();
  // A deadline is at least a minute and at most a leap year away.
  const auto kDeadlineMinutes = CLI::Range(std::int64_t{1}, std::int64_t{366} * 24 * 60);
  CLI::App* serve = app.add_subcommand("serve", "run the engine: log, views, deadline watch");
  serve->add_option("--data", a->data, "data folder (log/ and views/)")
      ->check(DataFolder())
      ->capture_default_str();
  // Checked as the command line is read, so that a bad one exits 2 as any
  // flag out of its range does (it was a verb's failure, exit 1).
  serve->add_option("--listen", a->listen, "HOST:PORT to serve the API on")
      ->check(ListenAddress())
      ->capture_default_str();
  serve
      ->add_option("--metrics-listen", a->metrics_listen,
                   "HOST:PORT of a second port that serves GET /metrics and GET /healthz only, "
                   "with connections of its own (8), so that a monitor is answered when the "
                   "API's connections are all taken (default: none; both are on --listen too)")
      ->check(ListenAddress());
  serve->add_option("--jwt-secret-file", a->secret_file, "file holding the HS256 secret");
  serve->add_flag("--dev", a->dev, "make a random secret if none is given, and print tokens");
  serve->add_option("--max-body-bytes", a->max_body, "largest request body")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->capture_default_str();
  serve
      ->add_option("--max-answer-bytes-held", a->max_answers_held,
                   "bytes of HTTP answers held for clients that have not read them yet, in all; "
                   "past it, 503 (one answer alone always goes)")
      ->check(CLI::Range(std::size_t{1} << 20, std::size_t{1} << 40))
      ->capture_default_str();
  serve
      ->add_option("--max-answer-bytes-held-per-token", a->max_answers_held_per_token,
                   "of those, the answers to one token subject's reads; past it, 429 for that "
                   "subject's reads (0: no share bound)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 40))
      ->capture_default_str();
  serve
      ->add_option("--answer-bytes-per-request", a->bytes_per_request,
                   "an answer counts against its token's rate as one request per this many "
                   "bytes of body")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 30))
      ->capture_default_str();
  serve
      ->add_option("--as-of-events-per-request", a->as_of_events_per_request,
                   "a read as of a past moment (as_of) counts against its token's rate as one "
                   "request more per this many events it read or folded (0: not counted)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 30))
      ->capture_default_str();
  serve
      ->add_option("--max-as-of-reads-per-token", a->max_as_of_reads_per_token,
                   "reads as of a past moment (as_of) one token subject has under way at once; "
                   "past it, 429 (0: no bound)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 20))
      ->capture_default_str();
  serve
      ->add_option("--max-connections", a->max_connections,
                   "connections open at once, HTTP and WebSocket together; past it the next "
                   "waits in the kernel's backlog (0: as many as `ulimit -n` leaves beside the "
                   "stores' files)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 30))
      ->capture_default_str();
  serve
      ->add_option("--max-connections-per-address", a->max_per_address,
                   "connections open at once from one peer address (loopback is not bounded); "
                   "past it one is answered 429 and closed (-1: an eighth of the connections' "
                   "bound, or up to 64 but at most a quarter of it; 0: no bound)")
      ->check(CLI::Range(std::int64_t{-1}, std::int64_t{1} << 30))
      ->capture_default_str();
  serve->add_option("--rate", a->rate, "requests a second per token, sustained")
      ->check(FiniteRange(0.001, 1e9))
      ->capture_default_str();
  serve->add_option("--burst", a->burst, "requests per token at once")
      ->check(FiniteRange(1, 1e9))
      ->capture_default_str();
  serve
      ->add_option("--ws-max-message-bytes", a->ws.max_message_bytes,
                   "largest WebSocket message from a client (larger: closed with 1009)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{64} << 20))
      ->capture_default_str();
  serve
      ->add_option("--ws-max-subscriptions", a->ws.max_subscriptions,
                   "subscriptions per WebSocket connection")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))
      ->capture_default_str();
  serve
      ->add_option("--ws-queue-messages", a->ws.max_queue_messages,
                   "messages queued for one WebSocket client before it is closed with 1013")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}))
      ->capture_default_str();
  serve
      ->add_option("--ws-queue-bytes", a->ws.max_queue_bytes,
                   "bytes queued for one WebSocket client before it is closed with 1013")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->capture_default_str();
  serve
      ->add_option("--ws-send-buffer", a->ws.send_buffer_bytes,
                   "kernel send buffer of each WebSocket, bytes (0: the kernel's own, up to 4 MiB; "
                   "small keeps a slow reader's backlog where views coalesce)")
      ->check(CLI::Range(0, 64 << 20))
      ->capture_default_str();
  serve->add_option("--ws-per-token", a->ws_per_token, "WebSocket connections per token subject")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))
      ->capture_default_str();
  serve
      ->add_option("--ws-dashboard-interval-ms", a->ws_dashboard_ms,
                   "a dashboard subscription's views go out at most once per this many "
                   "milliseconds, the newest held back until then (0: each as it comes)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{10000}))
      ->capture_default_str();
  serve
      ->add_option("--ws-idle-timeout", a->ws_idle_s,
                   "seconds a silent WebSocket peer is kept (pinged at half)")
      ->check(CLI::Range(std::int64_t{2}, std::int64_t{86400}))
      ->capture_default_str();
  serve
      ->add_option("--ws-write-timeout", a->ws_write_s,
                   "seconds a WebSocket peer may take to read the next 64 KiB of a message "
                   "before it is closed with 1013 (0: never)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{86400}))
      ->capture_default_str();
  serve
      ->add_option("--deadline-accept-urgent", a->accept_urgent_min,
                   "minutes to accept a high or urgent case")
      ->check(kDeadlineMinutes)
      ->capture_default_str();
  serve->add_option("--deadline-accept", a->accept_min, "minutes to accept any other case")
      ->check(kDeadlineMinutes)
      ->capture_default_str();
  serve->add_option("--deadline-first-contact", a->first_contact_min, "minutes to first contact")
      ->check(kDeadlineMinutes)
      ->capture_default_str();
  serve->add_option("--deadline-callback", a->callback_min, "minutes from resolution to callback")
      ->check(kDeadlineMinutes)
      ->capture_default_str();
  serve
      ->add_option("--deadline-mediation", a->mediation_min,
                   "minutes a tier-1 mediation may run without agreement")
      ->check(kDeadlineMinutes)
      ->capture_default_str();
  serve
      ->add_option("--day-offset-hours", a->day_offset_hours,
                   "dashboards count \"today\" and hourly intake by the local day of UTC + this "
                   "many hours (e.g. 8 for China)")
      ->check(CLI::Range(-12, 14))
      ->capture_default_str();
  serve
      ->add_option("--view-batch-ms", a->view_batch_ms,
                   "a views batch starts at least this many milliseconds after the one before "
                   "it ended, so that under load one write of each dashboard and case view "
                   "carries many events (0: as soon as events commit)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  serve
      ->add_option("--verify-every-hours", a->verify_every_hours,
                   "walk the log's hash chain in the background at start and then every this "
                   "many hours, to find damage no read has met (0: never)")
      ->check(FiniteRange(0, 366 * 24))
      ->capture_default_str();
  serve
      ->add_option("--verify-events-per-second", a->verify_pace,
                   "the pace of those walks, in events and index entries a second (a "
                   "10-million-event log takes about 300 s at 100,000)")
      ->check(FiniteRange(1, 1e9))
      ->capture_default_str();
  serve->callback([a, action] {
    *action = [a]() -> int {
      // Bad flags are refused before anything is opened or written.
      HttpServerOptions http_options;
      if (Status s = ParseListen(a->listen, &http_options); !s.ok()) {
        return Fail(Status::InvalidArgument("--listen: " + s.message()));
      }
      std::optional<HttpServerOptions> metrics_options;
      if (!a->metrics_listen.empty()) {
        metrics_options.emplace();
        if (Status s = ParseListen(a->metrics_listen, &*metrics_options); !s.ok()) {
          return Fail(Status::InvalidArgument("--metrics-listen: " + s.message()));
        }
      }
      constexpr std::int64_t kMin = DeadlinePolicy::kMinute;
      CaseServiceOptions service_options;
      service_options.policy.accept_urgent_ms = a->accept_urgent_min * kMin;
      service_options.policy.accept_ms = a->accept_min * kMin;
      service_options.policy.first_contact_ms = a->first_contact_min * kMin;
      service_options.policy.callback_ms = a->callback_min * kMin;
      service_options.policy.mediation_ms = a->mediation_min * kMin;
      // The secret and the port before anything is opened: a start that
      // cannot serve writes nothing (the deadline watch would write misses).
      auto secret = ReadJwtSecret(a->secret_file);
      if (!secret.ok() && a->dev) {
        EventHash random{};
        if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
          return Fail(Status::Internal("no randomness for a --dev secret"));
        }
        secret = HashToHex(random);
      }
      if (!secret.ok()) {
        return Fail(
            Status::InvalidArgument(secret.status().message() + " (or --dev for a throwaway one)"));
      }
      auto authority = TokenAuthority::Create(*secret);
      if (!authority.ok()) return Fail(authority.status());
      auto bound = BoundPort::Bind(http_options.host, http_options.port);
      if (!bound.ok()) return Fail(bound.status());
      std::optional<BoundPort> metrics_bound;
      if (metrics_options) {
        auto b = BoundPort::Bind(metrics_options->host, metrics_options->port);
        if (!b.ok()) {
          return Fail(Status(b.status().code(), "--metrics-listen: " + b.status().message()));
        }
        // Two sockets bound and not yet listening may share a port (both
        // reuse addresses): --listen's own would fail only once the store
        // is open (black-box probe 93).
        if (b->port() == bound->port() &&
            (metrics_options->host == http_options.host || Unspecified(metrics_options->host) ||
             Unspecified(http_options.host))) {
          return Fail(Status::Unavailable("--metrics-listen: cannot listen on " +
                                          metrics_options->host + ":" + std::to_string(b->port()) +
                                          ": it is --listen's port"));
        }
        metrics_bound.emplace(std::move(*b));
      }
      // Every connection is a descriptor: allow as many as the system lets
      // us, and share them between the stores' files and the connections,
      // so that connections cannot take those a flush needs.
      rlimit files{};
      if (getrlimit(RLIMIT_NOFILE, &files) != 0) {
        return Fail(Status::Unavailable("cannot read the process's file descriptor limit"));
      }
      if (files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &files) != 0) getrlimit(RLIMIT_NOFILE, &files);
      }
      // The metrics port's connections come off the top (and its own
      // listening socket is open already, like the API's).
      auto budget =
          PlanDescriptors(files.rlim_cur == RLIM_INFINITY ? std::uint64_t{1} << 20 : files.rlim_cur,
                          a->max_connections, metrics_options ? kMetricsConnections : 0);
      if (!budget.ok()) return Fail(budget.status());
      http_options.max_connections = budget->connections;
      http_options.max_connections_per_address = a->max_per_address >= 0
                                                     ? static_cast<std::size_t>(a->max_per_address)
                                                     : budget->connections_per_address;
      // From here on SIGINT and SIGTERM stop the server in order: one that
      // comes while it starts (even once the port is open, before the loop
      // below) lets the start finish, then stops it, instead of killing it.
      // Blocked in this thread before any other starts (they inherit the
      // mask), they wait pending for the loop below, which takes them the
      // moment they come: it polled a flag every 100 ms, and new connections
      // were served for that long after the signal (black-box probe 94).
      sigset_t stop_signals;
      sigemptyset(&stop_signals);
      sigaddset(&stop_signals, SIGINT);
      sigaddset(&stop_signals, SIGTERM);
      pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
      std::signal(SIGINT, [](int) { g_stop = 1; });
      std::signal(SIGTERM, [](int) { g_stop = 1; });
      // Clients are told the storage's failures, not where the data lives.
      HideInServerErrors(a->data);
      StoreOptions options = WriterStoreOptions(a->data);
      options.max_open_files = budget->store_files;
      auto store = EventStore::Open(options);
      if (!store.ok()) return Fail(store.status());
      auto service = CaseService::Open(store->get(), service_options);
      if (!service.ok()) return Fail(service.status());
      ProjectorOptions views;
      views.path = ViewsDir(a->data);
      views.max_open_files = budget->store_files;
      views.day_offset_hours = a->day_offset_hours;
      views.batch_spacing = std::chrono::milliseconds(a->view_batch_ms);
      auto projector = OpenOrRebuildViews(
          store->get(), views,
          [](const std::string& why) { std::cerr << "casegrid: " << why << "\n"; }, ShowProgress);
      if (!projector.ok()) return Fail(projector.status());
      if (Status s = (*projector)->CatchUp(ShowProgress); !s.ok()) return Fail(s);
      ApiMetrics metrics;
      PushHub hub(service->get(), projector->get(), SystemClock::Default(), &metrics);
      hub.Begin((*projector)->position());
      if (Status s =
              (*projector)->Start([&hub](const ViewChanges& changes) { hub.OnBatch(changes); });
          !s.ok()) {
        return Fail(s);
      }
      // The views' thread feeds the hub: stop it before the hub goes, on every path.
      struct StopViews {
        Projector* p;
        ~StopViews() { p->Stop(); }
      } stop_views{projector->get()};

      http_options.max_body_bytes = a->max_body;
      http_options.max_answer_bytes_held = a->max_answers_held;
      http_options.max_answer_bytes_held_per_token = a->max_answers_held_per_token;
      // One io_context on as many threads as cores.
      http_options.io_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      http_options.ws = a->ws;
      http_options.ws.idle_timeout = std::chrono::seconds(a->ws_idle_s);
      http_options.ws.write_timeout = std::chrono::seconds(a->ws_write_s);
      http_options.ws.dashboard_interval = std::chrono::milliseconds(a->ws_dashboard_ms);
      http_options.max_ws_per_token = a->ws_per_token;
      HttpApiOptions api_options;
      api_options.requests_per_second = a->rate;
      api_options.burst = a->burst;
      api_options.bytes_per_request = a->bytes_per_request;
      api_options.as_of_events_per_request = a->as_of_events_per_request;
      api_options.max_as_of_reads_per_token = a->max_as_of_reads_per_token;
      HttpApi api(service->get(), projector->get(), &*authority, SystemClock::Default(), &metrics,
                  api_options);
      // The cases are loaded on the watch's thread: a start need not wait
      // for every case ever reported to be folded (black-box probe 85: ~60
      // µs a case, 3.9 s for 61,550 before the port was listened on).
      DeadlineWatchOptions watch_options;
      watch_options.load_in_background = true;
      DeadlineWatch watch(service->get(), SystemClock::Default(), watch_options);
      if (Status s = watch.Start(); !s.ok()) return Fail(s);
      // Damage found by a walk goes to stderr and /metrics; the server serves on.
      std::optional<LogScrub> scrub;
      if (a->verify_every_hours > 0) {
        LogScrubOptions scrub_options;
        scrub_options.every = std::chrono::seconds(
            std::max<std::int64_t>(1, std::llround(a->verify_every_hours * 3600)));
        scrub_options.events_per_second = a->verify_pace;
        scrub.emplace(store->get(), scrub_options, [&metrics](const VerifyReport& walk) {
          metrics.scrub_walks.Increment();
          metrics.scrub_damaged.Set(walk.intact ? 0 : 1);
          // Events intact, an index beside them not: broken_at is 0.
          const bool events_intact = walk.intact || walk.broken_at == 0;
          metrics.scrub_checked_position.Set(
              static_cast<double>(events_intact ? walk.events_checked : walk.broken_at - 1));
          if (!walk.intact) {
            std::cerr << "casegrid: the log is damaged"
                      << (events_intact ? std::string()
                                        : " at position " + std::to_string(walk.broken_at))
                      << ": " << walk.reason << " (casegrid verify names it too; docs/storage.md)"
                      << std::endl;
          }
        });
        if (Status s = scrub->Start(); !s.ok()) return Fail(s);
      }
      HttpServer server(&api, &metrics, &hub, http_options);
      if (Status s = server.Start(std::move(*bound)); !s.ok()) return Fail(s);
      // The metrics port: the same metrics and health, on connections of
      // its own, which are not in casegrid_connections* (the API port's).
      std::optional<HttpApi> metrics_api;
      std::optional<HttpServer> metrics_server;
      if (metrics_options) {
        HttpApiOptions ops;
        ops.operational_only = true;
        metrics_api.emplace(service->get(), projector->get(), &*authority, SystemClock::Default(),
                            &metrics, ops);
        metrics_options->io_threads = 1;
        metrics_options->workers = 2;
        metrics_options->max_connections = kMetricsConnections;
        metrics_options->max_connections_per_address = 0;
        metrics_options->count_connections = false;
        metrics_server.emplace(&*metrics_api, &metrics, nullptr, *metrics_options);
        if (Status s = metrics_server->Start(std::move(*metrics_bound)); !s.ok()) return Fail(s);
      }
      if (a->dev && a->secret_file.empty() && std::getenv("CASEGRID_JWT_SECRET") == nullptr) {
        std::cout << "casegrid: --dev secret " << *secret << "\n";
        for (Role role : {Role::kAdmin, Role::kOperator, Role::kAuditor}) {
          auto token = authority->Mint({std::string(Name(role)) + "-dev", role, {""}, 0},
                                       SystemClock::Default()->NowMillis(), 8LL * 3600 * 1000);
          if (token.ok()) std::cout << "casegrid: " << Name(role) << " token " << *token << "\n";
        }
      }

      std::cout << "casegrid: serving " << a->data << " at position " << (*store)->Head().position
                << " on http://" << http_options.host << ":" << server.port() << "/ (Ctrl-C stops)"
                << std::endl;
      if (metrics_server) {
        std::cout << "casegrid: metrics on http://" << metrics_options->host << ":"
                  << metrics_server->port() << "/metrics" << std::endl;
      }
      for (int tick = 1; !g_stop; ++tick) {
        const timespec tick_length{0, 100'000'000};
        if (const int got = sigtimedwait(&stop_signals, nullptr, &tick_length);
            got == SIGINT || got == SIGTERM) {
          break;
        }
        if (Status f = (*projector)->failure(); !f.ok()) return Fail(f);
        // Every 10 s, free memory past 64 MiB goes back to the system: a
        // burst no longer sets the resident size for good (free_memory.h).
        if (tick % 100 == 0) ReturnFreeMemory(std::size_t{64} << 20);
      }
      server.Stop();  // WebSockets closed with 1001, requests in flight answered
      if (metrics_server) metrics_server->Stop();
      hub.Stop();
      if (scrub) scrub->Stop();
      watch.Stop();
      (*projector)->Stop();
      std::cout << "casegrid: stopped at position " << (*store)->Head().position << std::endl;
      return 0;
    };
  });
}

}  // namespace casegrid::cli
