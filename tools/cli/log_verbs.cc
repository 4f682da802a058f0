// append, read, tail: the log from the command line.
#include <simdjson.h>

#include <charconv>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "engine/canonical_json.h"
#include "engine/case_events.h"
#include "engine/case_state.h"
#include "engine/case_stream_rules.h"
#include "engine/event_store.h"
#include "engine/grid_directory.h"
#include "engine/names.h"
#include "tools/cli/verbs.h"

namespace casegrid::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;

// As the API's expected_version: any, no_stream, exists, or a whole number
// of digits only (0 = no stream); nothing else, and nothing past 2^64 - 1.
Result<ExpectedVersion> ParseExpected(const std::string& s) {
  if (s == "any") return ExpectedVersion::Any();
  if (s == "no_stream") return ExpectedVersion::NoStream();
  if (s == "exists") return ExpectedVersion::Exists();
  std::uint64_t v = 0;
  // Digits only, so from_chars reads them all or overflows.
  const bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc()) {
    return Status::InvalidArgument(
        "--expected-version must be any, no_stream, exists or a version from 0 (no stream) to "
        "18446744073709551615");
  }
  return v == 0 ? ExpectedVersion::NoStream() : ExpectedVersion::Exact(v);
}

// One event a line: {"type": "...", "id": "..." (optional), "data": {...}}.
Result<std::vector<NewEvent>> ParseEventLines(std::istream& in) {
  std::vector<NewEvent> events;
  simdjson::dom::parser parser;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = "line " + std::to_string(n) + ": ";
    simdjson::dom::element root;
    if (auto err = parser.parse(line).get(root)) {
      return Status::InvalidArgument(at + simdjson::error_message(err));
    }
    NewEvent e;
    std::string_view type, id;
    if (root["type"].get(type))
      return Status::InvalidArgument(at + "type: missing or not a string");
    e.type = type;
    if (auto field = root["id"]; field.error() != simdjson::NO_SUCH_FIELD) {
      if (field.get(id)) return Status::InvalidArgument(at + "id: not a string");
      e.id = id;
    }
    // A member sent twice, on the line or in its data, is refused: which one
    // counts would be a guess (simdjson takes the first).
    if (auto once = CanonicalizeObject(line, {line.size(), JsonLimits{}.max_depth + 1});
        !once.ok()) {
      return Status::InvalidArgument(at + once.status().message());
    }
    simdjson::dom::object line_object;
    if (root.get(line_object)) return Status::InvalidArgument(at + "not a JSON object");
    for (auto field : line_object) {
      if (field.key != "type" && field.key != "id" && field.key != "data") {
        return Status::InvalidArgument(at + std::string(field.key.substr(0, 40)) +
                                       ": unknown member (a line holds type, id and data)");
      }
    }
    simdjson::dom::object data;
    if (root["data"].get(data))
      return Status::InvalidArgument(at + "data: missing or not an object");
    e.data = simdjson::minify(data);
    events.push_back(std::move(e));
  }
  return events;
}

void PrintAppendResult(const std::string& stream, const AppendResult& r) {
  std::cout << "{\"stream\":\"" << stream << "\",\"first_position\":" << r.first_position
            << ",\"last_position\":" << r.last_position << ",\"first_version\":" << r.first_version
            << ",\"last_version\":" << r.last_version
            << ",\"deduplicated\":" << (r.deduplicated ? "true" : "false") << "}\n";
}

}  // namespace

void AddLogVerbs(CLI::App& app, VerbAction* action) {
  struct AppendArgs {
    std::string data = kDefaultDataDir, stream, expected = "any", actor = "cli", type, id, json,
                events;
  };
  auto a = std::make_shared<AppendArgs>();
  CLI::App* append = app.add_subcommand("append", "append events to a stream, durably");
  append->add_option("--data", a->data, "store folder")->check(DataFolder())->capture_default_str();
  append->add_option("--stream", a->stream, "stream, e.g. case/C-20261122-000123")->required();
  append->add_option("--expected-version", a->expected, "any | no_stream | exists | N")
      ->capture_default_str();
  append->add_option("--actor", a->actor, "who is appending")->capture_default_str();
  CLI::Option* type_option = append->add_option("--type", a->type, "event type (one event)");
  append->add_option("--id", a->id, "event id (one event; random if absent)");
  append->add_option("--json", a->json, "event data as a JSON object (one event)");
  append->add_option("--events", a->events,
                     "file of JSON lines {type,id,data}, or - for stdin: one atomic append");
  append->callback([a, action, type_option] {
    *action = [a, type_option]() -> int {
      auto expected = ParseExpected(a->expected);
      if (!expected.ok()) return Fail(expected.status());
      // The engine's own actor, as a token's sub may not be (api/auth.h):
      // an append in its name would pass for the deadline watch's facts.
      if (a->actor == kSystemActor) {
        return Fail(Status::InvalidArgument("--actor: system is the engine's own"));
      }
      AppendRequest req{a->stream, *expected, a->actor, {}};
      if (!a->events.empty()) {
        std::ifstream file;
        std::istream* in = &std::cin;
        if (a->events != "-") {
          // A folder opens as a file that reads nothing (probe 98: "an
          // append needs at least one").
          if (std::error_code ec; std::filesystem::is_directory(a->events, ec)) {
            return Fail(Status::InvalidArgument("--events: " + a->events +
                                                " is a folder, not a file of events"));
          }
          file.open(a->events);
          if (!file) return Fail(Status::NotFound("cannot read " + a->events));
          in = &file;
        }
        auto events = ParseEventLines(*in);
        if (!events.ok()) return Fail(events.status());
        req.events = std::move(events).value();
      } else {
        if (type_option->count() > 0 && a->type.empty()) {
          return Fail(Status::InvalidArgument("--type: an event type is not empty"));
        }
        if (a->type.empty()) return Fail(Status::InvalidArgument("--type or --events is needed"));
        req.events.push_back({a->id, a->type, a->json.empty() ? "{}" : a->json});
      }
      // Events of the types the engine defines must carry valid data, as
      // they would through the API; other types are the operator's own.
      std::string reported_cell;  // the first event's, if it is a report
      for (std::size_t i = 0; i < req.events.size(); ++i) {
        auto checked = CheckImportedData(req.events[i]);
        if (!checked.ok()) {
          return Fail(Status(checked.status().code(), "events[" + std::to_string(i) +
                                                          "].data: " + checked.status().message()));
        }
        const auto* report = *checked ? std::get_if<CaseReported>(&**checked) : nullptr;
        if (i == 0 && report != nullptr) reported_cell = report->cell;
      }
      // One case per case stream, reported once (case_stream_rules.h); the
      // server's own streams are its alone.
      if (Status s = RefuseTheServersStreams(req.stream); !s.ok()) return Fail(s);
      if (Status pinned = PinCaseStreamOpening(req); !pinned.ok()) return Fail(pinned);
      const AppendRequest pinned{req.stream, req.expected, "", {}};
      auto store = EventStore::Open(WriterStoreOptions(a->data));
      if (!store.ok()) return Fail(store.status());
      // The grid's rules, as its commands keep them (this process holds the
      // store, so nothing is appended between the check and the append).
      // A new case's report names a defined cell, as at intake.
      const bool opens_a_case = req.expected.kind == ExpectedVersion::Kind::kNoStream &&
                                !CaseIdOfStream(req.stream).empty();
      if (req.stream.starts_with("grid/") || opens_a_case) {
        GridDirectory grid;
        if (Status s = grid.Load(**store); !s.ok()) return Fail(s);
        if (opens_a_case) {
          // Pinned to no_stream, the first event is a CaseReported, checked above.
          if (!grid.HasCell(reported_cell)) {
            return Fail(Status::InvalidArgument("events[0].data.cell: " + reported_cell +
                                                " is not a defined cell"));
          }
        } else if (Status s = grid.CheckAppend(req); !s.ok()) {
          return Fail(s);
        } else if (req.expected.kind == ExpectedVersion::Kind::kAny && !req.events.empty()) {
          // As the commands write: a GridCellDefined opens the cell's stream,
          // anything else goes into a stream that is there.
          req.expected = req.events.front().type == GridCellDefined::kType
                             ? ExpectedVersion::NoStream()
                             : ExpectedVersion::Exists();
        }
      }
      auto result = (*store)->Append(std::move(req));
      if (!result.ok()) return Fail(ExplainCaseStreamConflict(pinned, result.status()));
      PrintAppendResult(a->stream, *result);
      return 0;
    };
  });

  struct ReadArgs {
    std::string data = kDefaultDataDir, stream;
    std::uint64_t from = 0, after = 0;
    std::size_t limit = 1000;
    bool backward = false;
  };
  auto r = std::make_shared<ReadArgs>();
  CLI::App* read = app.add_subcommand("read", "print events as JSON lines: a stream or the log");
  read->add_option("--data", r->data, "store folder")->capture_default_str();
  // The stream's flags and the log's exclude each other: one ignored would
  // read something other than what was asked.
  CLI::Option* stream =
      read->add_option("--stream", r->stream, "read this stream (else the global log)")
          ->check(NotEmpty("a stream's name is not empty"));
  read->add_option("--from", r->from,
                   "stream version to start at, from 1 (default: first, or last backward)")
      ->needs(stream)
      ->check(UnsignedNumber())
      ->check(CLI::Validator(
          [](std::string& v) {
            return std::string(v.find_first_not_of('0') == std::string::npos
                                   ? "a stream's versions start at 1"
                                   : "");
          },
          "", "FromOne"));
  read->add_flag("--backward", r->backward, "read the stream newest first")->needs(stream);
  read->add_option("--after", r->after, "global log: positions after this one")
      ->excludes(stream)
      ->check(UnsignedNumber())
      ->capture_default_str();
  read->add_option("--limit", r->limit, "at most this many events")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  read->callback([r, action] {
    *action = [r]() -> int {
      auto store = EventStore::OpenFollower(LogDir(r->data));
      if (!store.ok()) return Fail(store.status());
      Result<std::vector<RecordedEvent>> events = std::vector<RecordedEvent>{};
      if (!r->stream.empty()) {
        const StreamVersion from = r->from != 0 ? r->from : (r->backward ? UINT64_MAX : 1);
        events =
            (*store)->ReadStream(r->stream, from, r->limit,
                                 r->backward ? ReadDirection::kBackward : ReadDirection::kForward);
      } else {
        // As tail and GET /events: a position past the head is a mistake,
        // not an empty log (at the head is: nothing new yet).
        if (const Position head = (*store)->Head().position; r->after > head) {
          return Fail(Status::InvalidArgument("--after " + std::to_string(r->after) +
                                              " is beyond the log's head (" + std::to_string(head) +
                                              ")"));
        }
        events = (*store)->ReadAll(r->after, r->limit);
      }
      if (!events.ok()) return Fail(events.status());
      for (const RecordedEvent& e : *events) std::cout << e.EnvelopeJson() << "\n";
      // A read cut at --limit says so, so that an export is never short
      // without a word.
      if (r->stream.empty() && events->size() == r->limit &&
          events->back().position < (*store)->Head().position) {
        std::cerr << "casegrid: stopped at --limit " << r->limit << "; the log goes on after "
                  << events->back().position << " (read --after " << events->back().position
                  << ")\n";
      } else if (!r->stream.empty() && events->size() == r->limit) {
        // Where it goes on: the version after the last read, or before it
        // when reading backward (the hint said "the next" both ways).
        const StreamVersion last = events->back().version;
        if (r->backward && last > 1) {
          std::cerr << "casegrid: stopped at --limit " << r->limit
                    << "; the stream may go on (read --backward --from " << last - 1 << ")\n";
        } else if (!r->backward) {
          std::cerr << "casegrid: stopped at --limit " << r->limit
                    << "; the stream may go on (read --from " << last + 1 << ")\n";
        }
      }
      return 0;
    };
  });

  struct TailArgs {
    std::string data = kDefaultDataDir;
    std::int64_t after = -1;
    std::uint64_t max = 0;
    int poll_ms = 100;
  };
  auto t = std::make_shared<TailArgs>();
  CLI::App* tail = app.add_subcommand("tail", "follow the log live, printing each new event");
  tail->add_option("--data", t->data, "store folder")->capture_default_str();
  tail->add_option("--after", t->after, "start after this position (default: the head now)")
      ->check(UnsignedNumber(INT64_MAX));
  tail->add_option("--max", t->max, "exit after this many events (0: never)")
      ->check(UnsignedNumber());
  tail->add_option("--poll-ms", t->poll_ms, "how often to look for new events")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  tail->callback([t, action] {
    *action = [t]() -> int {
      auto opened = EventStore::OpenFollower(LogDir(t->data));
      if (!opened.ok()) return Fail(opened.status());
      std::unique_ptr<EventStore> store = std::move(opened).value();
      std::signal(SIGINT, [](int) { g_stop = 1; });
      std::signal(SIGTERM, [](int) { g_stop = 1; });
      const Position head = store->Head().position;
      // As a WebSocket `after`: a position past the head is a mistake, and
      // following from it would skip, without a word, what comes up to it.
      if (t->after >= 0 && static_cast<Position>(t->after) > head) {
        return Fail(Status::InvalidArgument("--after " + std::to_string(t->after) +
                                            " is beyond the log's head (" + std::to_string(head) +
                                            ")"));
      }
      Position after = t->after >= 0 ? static_cast<Position>(t->after) : head;
      std::uint64_t printed = 0;
      while (!g_stop) {
        auto events = store->ReadAll(after, 1000);
        if (!events.ok()) return Fail(events.status());
        for (const RecordedEvent& e : *events) {
          std::cout << e.EnvelopeJson() << "\n";
          after = e.position;
          if (t->max != 0 && ++printed >= t->max) return std::cout.flush(), 0;
        }
        std::cout.flush();
        if (events->empty()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(t->poll_ms));
          if (Status s = store->CatchUp(); !s.ok()) return Fail(s);
        }
      }
      return 0;
    };
  });
}

}  // namespace casegrid::cli
