// The casegrid command line: each verb registers itself on the CLI11 app and
// runs against the engine API. Verbs print results on stdout (JSON where a
// program will read it) and errors on stderr, and return the exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace casegrid::cli {

// Default data folder, relative to where casegrid runs (tools/run uses it).
inline constexpr const char* kDefaultDataDir = "var/data";

// What main() runs once CLI11 has parsed the arguments.
using VerbAction = std::function<int()>;

void AddLogVerbs(CLI::App& app, VerbAction* action);    // append, read, tail
void AddAuditVerbs(CLI::App& app, VerbAction* action);  // verify, digest
void AddServeVerb(CLI::App& app, VerbAction* action);   // serve
void AddReplayVerb(CLI::App& app, VerbAction* action);  // replay

}  // namespace casegrid::cli
