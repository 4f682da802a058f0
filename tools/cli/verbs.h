// The casegrid command line: each verb registers itself on the CLI11 app and
// runs against the engine API. Verbs print results on stdout (JSON where a
// program will read it) and errors on stderr, and return the exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>

#include "engine/status.h"

namespace casegrid::cli {

// Default data folder, relative to where casegrid runs (tools/run uses it).
// It holds the log (DIR/log, the event store) and the views (DIR/views).
inline constexpr const char* kDefaultDataDir = "var/data";
inline std::string LogDir(const std::string& data) {
  return data + "/log";
}
inline std::string ViewsDir(const std::string& data) {
  return data + "/views";
}

// What main() runs once CLI11 has parsed the arguments.
using VerbAction = std::function<int()>;

void AddLogVerbs(CLI::App& app, VerbAction* action);     // append, read, tail
void AddAuditVerbs(CLI::App& app, VerbAction* action);   // verify, digest
void AddServeVerb(CLI::App& app, VerbAction* action);    // serve
void AddReplayVerb(CLI::App& app, VerbAction* action);   // replay
void AddRebuildVerb(CLI::App& app, VerbAction* action);  // rebuild
void AddSeedVerb(CLI::App& app, VerbAction* action);     // seed

void AddTokenVerb(CLI::App& app, VerbAction* action);  // token

// Prints "casegrid: <status>" on stderr; returns the exit code 1.
int Fail(const Status& status);

// A progress bar on stderr when it is a terminal.
void ShowProgress(std::uint64_t done, std::uint64_t total);

}  // namespace casegrid::cli
