#include <iostream>

#include "tools/cli/verbs.h"

namespace casegrid::cli {

int Fail(const Status& status) {
  std::cerr << "casegrid: " << status.ToString() << "\n";
  return 1;
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
  CLI11_PARSE(app, argc, argv);
  // The verbs answer with a Status; anything the libraries throw (a file
  // system call on a path it cannot take, say) is an error said, not an abort.
  try {
    return action ? action() : 2;
  } catch (const std::exception& e) {
    std::cerr << "casegrid: " << e.what() << "\n";
    return 1;
  }
}
