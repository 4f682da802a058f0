// The casegrid command line: each verb registers itself on the CLI11 app and
// runs against the engine API. Verbs print results on stdout (JSON where a
// program will read it) and errors on stderr, and return the exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

#include "engine/event_store.h"
#include "engine/status.h"
#include "tools/flag_checks.h"

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

// How a verb that writes opens the log of `data`: what the open repairs (a
// torn last group dropped) is told on stderr.
StoreOptions WriterStoreOptions(const std::string& data);

// --data of a verb that writes: a casegrid data folder (it holds log/), an
// empty folder (but for lost+found and hidden entries: a fresh volume), or a
// new one whose parent exists. A mistyped path (/srv/casegrid/dta/x) is
// refused, where creating it would serve a second, empty log without a word;
// so is a folder of something else (the log's own folder, the views', any
// other), where serve made log/ and views/ among its files and served an
// empty log (black-box probe 73).
inline CLI::Validator DataFolder() {
  return CLI::Validator(
      [](std::string& text) {
        namespace fs = std::filesystem;
        std::error_code ec;
        if (text.empty()) return std::string("a data folder is not an empty path");
        const fs::path path(text);
        if (fs::exists(path, ec)) {
          if (!fs::is_directory(path, ec)) return text + " is not a folder";
          if (fs::is_directory(path / "log", ec)) return std::string();
          for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if (name == "lost+found" || name.starts_with(".")) continue;
            return text + " holds " + name +
                   " but no log/: not a casegrid data folder (a new one is empty or not there "
                   "yet)";
          }
          if (ec) return text + " cannot be read: " + ec.message();
          return std::string();
        }
        const fs::path parent = fs::absolute(path, ec).parent_path();
        if (fs::exists(parent, ec) && !fs::is_directory(parent, ec)) {
          return text + ": its parent " + parent.string() + " is not a folder";
        }
        if (!fs::is_directory(parent, ec)) {
          return "neither " + text + " nor its parent " + parent.string() +
                 " exists (casegrid makes the data folder, not the path to it)";
        }
        return std::string();
      },
      "FOLDER", "DataFolder");
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
