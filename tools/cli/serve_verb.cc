// serve: open the log, the case engine, the views and the deadline watch, and
// keep them running until SIGINT or SIGTERM.
//
// The HTTP and WebSocket API (issue 4) is not built yet; until then serving
// means: the store recovered and open for writing, the views caught up and
// following the log live, and deadlines written as they pass. --listen is
// accepted now so that tools/run does not change when the API arrives.
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "engine/case_service.h"
#include "engine/deadline_watch.h"
#include "engine/event_store.h"
#include "projections/projector.h"
#include "tools/cli/verbs.h"

namespace casegrid::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;

int Fail(const Status& s) {
  std::cerr << "casegrid: " << s.ToString() << "\n";
  return 1;
}

}  // namespace

void AddServeVerb(CLI::App& app, VerbAction* action) {
  struct ServeArgs {
    std::string data = kDefaultDataDir, listen = "127.0.0.1:8080";
    std::int64_t accept_urgent_min = 10, accept_min = 120, first_contact_min = 24 * 60,
                 callback_min = 24 * 60, mediation_min = 15 * 24 * 60;
  };
  auto a = std::make_shared<ServeArgs>();
  CLI::App* serve = app.add_subcommand("serve", "run the engine: log, views, deadline watch");
  serve->add_option("--data", a->data, "data folder (log/ and views/)")->capture_default_str();
  serve->add_option("--listen", a->listen, "HOST:PORT (used once the HTTP API exists)")
      ->capture_default_str();
  serve
      ->add_option("--deadline-accept-urgent", a->accept_urgent_min,
                   "minutes to accept a high or urgent case")
      ->capture_default_str();
  serve->add_option("--deadline-accept", a->accept_min, "minutes to accept any other case")
      ->capture_default_str();
  serve->add_option("--deadline-first-contact", a->first_contact_min, "minutes to first contact")
      ->capture_default_str();
  serve->add_option("--deadline-callback", a->callback_min, "minutes from resolution to callback")
      ->capture_default_str();
  serve
      ->add_option("--deadline-mediation", a->mediation_min,
                   "minutes a tier-1 mediation may run without agreement")
      ->capture_default_str();
  serve->callback([a, action] {
    *action = [a]() -> int {
      constexpr std::int64_t kMin = DeadlinePolicy::kMinute;
      CaseServiceOptions service_options;
      service_options.policy.accept_urgent_ms = a->accept_urgent_min * kMin;
      service_options.policy.accept_ms = a->accept_min * kMin;
      service_options.policy.first_contact_ms = a->first_contact_min * kMin;
      service_options.policy.callback_ms = a->callback_min * kMin;
      service_options.policy.mediation_ms = a->mediation_min * kMin;
      StoreOptions options;
      options.path = LogDir(a->data);
      auto store = EventStore::Open(options);
      if (!store.ok()) return Fail(store.status());
      auto service = CaseService::Open(store->get(), service_options);
      if (!service.ok()) return Fail(service.status());
      ProjectorOptions views;
      views.path = ViewsDir(a->data);
      auto projector = Projector::Open(store->get(), views);
      if (!projector.ok()) return Fail(projector.status());
      if (Status s = (*projector)->CatchUp(ShowProgress); !s.ok()) return Fail(s);
      (*projector)->Start();
      DeadlineWatch watch(service->get(), SystemClock::Default());
      if (Status s = watch.Start(); !s.ok()) return Fail(s);

      std::signal(SIGINT, [](int) { g_stop = 1; });
      std::signal(SIGTERM, [](int) { g_stop = 1; });
      std::cout << "casegrid: serving " << a->data << " at position " << (*store)->Head().position
                << "; views and deadline watch running; the HTTP API on " << a->listen
                << " is not built yet (issue 4). Ctrl-C stops." << std::endl;
      while (!g_stop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (Status f = (*projector)->failure(); !f.ok()) return Fail(f);
      }
      watch.Stop();
      (*projector)->Stop();
      std::cout << "casegrid: stopped at position " << (*store)->Head().position << std::endl;
      return 0;
    };
  });
}

}  // namespace casegrid::cli
