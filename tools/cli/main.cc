#include <algorithm>
#include <iostream>

#include "tools/cli/verbs.h"

namespace casegrid::cli {

int Fail(const Status& status) {
  std::cerr << "casegrid: " << status.ToString() << "\n";
  return 1;
}

StoreOptions WriterStoreOptions(const std::string& data) {
  StoreOptions options;
  options.path = LogDir(data);
  options.on_repair = [](const std::string& what) { std::cerr << "casegrid: " << what << "\n"; };
  return options;
}

}  // namespace casegrid::cli

int main(int argc, char** argv) {
  CLI::App app{"casegrid: an event-sourced case engine for community policing"};
  app.require_subcommand(1);
  casegrid::cli::VerbAction action;
  casegrid::cli::AddServeVerb(app, &action);
  casegrid::cli::AddLogVerbs(app, &action);
  casegrid::cli::AddAuditVerbs(app, &action);
  casegrid::cli::AddReplayVerb(app, &action);
  casegrid::cli::AddRebuildVerb(app, &action);
  casegrid::cli::AddSeedVerb(app, &action);
  casegrid::cli::AddTokenVerb(app, &action);
  // A verb not among them is named (CLI11 said only "A subcommand is
  // required").
  if (argc > 1 && argv[1][0] != '-') {
    const std::string verb = argv[1];
    const auto verbs = app.get_subcommands([](CLI::App*) { return true; });
    if (std::none_of(verbs.begin(), verbs.end(),
                     [&](const CLI::App* v) { return v->get_name() == verb; })) {
      std::cerr << "casegrid: no verb " << verb << " (casegrid --help lists them)\n";
      return 2;
    }
  }
  // A command line it cannot take is exit 2 (CLI11's own codes, 105 and
  // up, collided with what verify and the others say with 1); --help is 0.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // The verbs answer with a Status; anything the libraries throw (a file
  // system call on a path it cannot take, say) is an error said, not an abort.
  try {
    return action ? action() : 2;
  } catch (const std::exception& e) {
    std::cerr << "casegrid: " << e.what() << "\n";
    return 1;
  }
}
