// serve: open the store and keep it open until SIGINT or SIGTERM.
//
// Until the HTTP API (issue 4) lands, serving means holding the store open
// for writing, so that it is recovered and ready; --listen is accepted now so
// that tools/run does not change when the API arrives.
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "engine/event_store.h"
#include "tools/cli/verbs.h"

namespace casegrid::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;

}  // namespace

void AddServeVerb(CLI::App& app, VerbAction* action) {
  struct ServeArgs {
    std::string data = kDefaultDataDir, listen = "127.0.0.1:8080";
  };
  auto a = std::make_shared<ServeArgs>();
  CLI::App* serve = app.add_subcommand("serve", "open the store and serve it");
  serve->add_option("--data", a->data, "store folder")->capture_default_str();
  serve->add_option("--listen", a->listen, "HOST:PORT (used once the HTTP API exists)")
      ->capture_default_str();
  serve->callback([a, action] {
    *action = [a]() -> int {
      StoreOptions options;
      options.path = a->data;
      auto store = EventStore::Open(options);
      if (!store.ok()) {
        std::cerr << "casegrid: " << store.status().ToString() << "\n";
        return 1;
      }
      std::signal(SIGINT, [](int) { g_stop = 1; });
      std::signal(SIGTERM, [](int) { g_stop = 1; });
      std::cout << "casegrid: store " << a->data << " open, head position "
                << (*store)->Head().position << "; the HTTP API on " << a->listen
                << " is not built yet (issue 4). Ctrl-C stops." << std::endl;
      while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::cout << "casegrid: stopped" << std::endl;
      return 0;
    };
  });
}

}  // namespace casegrid::cli
