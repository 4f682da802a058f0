// seed: write a demo city into an empty log — the jurisdiction and the weeks
// of cases planned by tools/cli/demo_city.h — through CaseService, the write
// path of the API, so that every lifecycle rule holds. A manual clock walks
// through the simulated weeks: each command is sent at its planned time, and
// the engine's deadline watch ticks every 30 simulated seconds on the way, so
// that it records the warnings and misses the plan's delays cause, as it
// would live. Every event id comes from an idempotency key (the seed and the
// command's place in the plan) and every time from the clock, so the same
// flags give the same log, byte for byte: the same `casegrid digest`.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "engine/case_events.h"
#include "engine/case_service.h"
#include "engine/case_state.h"
#include "engine/clock.h"
#include "engine/deadline_watch.h"
#include "engine/event_store.h"
#include "engine/time_format.h"
#include "projections/projector.h"
#include "tools/cli/demo_city.h"
#include "tools/cli/verbs.h"

namespace casegrid::cli {
namespace {

// How often, in simulated time, the deadline watch looks at the clock (it
// looks every second live; a DeadlineMissed is recorded within this much of
// its due time).
constexpr std::int64_t kTickMs = 30 * 1000;
// How long to wait for the watch to read what was just written.
constexpr std::chrono::seconds kSettleTimeout{60};
// Refusals listed in the error; the rest are counted.
constexpr std::size_t kRefusalsShown = 10;
// The plan is held in memory (a few hundred bytes a command, about ten
// commands a case): days × cases a day is capped.
constexpr double kMaxCases = 100000;

struct SeedArgs {
  std::string data = kDefaultDataDir;
  std::uint64_t seed = 1;
  int days = 30;
  double cases_per_day = 40;
  std::string until;
};

// --until: a date (its midnight, UTC) or any RFC 3339 time (a fraction of
// any length, an offset; `.5Z` was refused, only `.000Z` taken); empty
// means now, to the minute.
Result<std::int64_t> ParseUntil(const std::string& text, std::int64_t now) {
  if (text.empty()) return now - now % (60 * 1000);
  auto at = ParseRfc3339(text.size() == 10 ? text + "T00:00:00Z" : text);
  if (!at.ok()) {
    return Status::InvalidArgument("--until: a date (2026-11-01) or " + at.status().message());
  }
  if (*at > now) return Status::InvalidArgument("--until: must not be in the future");
  return *at;
}

// Sends the plan's commands through the case service with the clock at each
// command's time, ticking the deadline watch on the way.
class Seeder {
 public:
  Seeder(EventStore* store, CaseService* service, ManualClock* clock, DeadlineWatch* watch,
         std::uint64_t seed, std::size_t cases)
      : store_(store),
        service_(service),
        clock_(clock),
        watch_(watch),
        seed_(seed),
        case_ids_(cases),
        next_tick_(clock->NowMillis()) {}

  // Moves the clock to `to` (never back), letting the watch tick every
  // kTickMs on the way. Errors: the watch not keeping up.
  Status AdvanceTo(std::int64_t to) {
    while (next_tick_ <= to) {
      clock_->Set(next_tick_);
      RETURN_IF_ERROR(Settle());
      watch_->Tick();
      next_tick_ += kTickMs;
    }
    if (to > clock_->NowMillis()) clock_->Set(to);
    return Status::Ok();
  }

  // Sends the plan's `ordinal`th command. A refusal is counted, not
  // returned (the later commands of its case are skipped); errors are what
  // stops the seeding: storage failing.
  Status Send(const DemoCommand& c, std::size_t ordinal) {
    if ((c.step == DemoStep::kReport || c.step == DemoStep::kAct) && broken_.count(c.case_index)) {
      ++skipped_;
      return Status::Ok();
    }
    const std::string key = "seed-" + std::to_string(seed_) + "-" + std::to_string(ordinal);
    Result<WriteResult> written = Run(c, key);
    if (written.ok()) {
      if (c.step == DemoStep::kReport) case_ids_[c.case_index] = written->case_id;
      return Status::Ok();
    }
    const StatusCode code = written.status().code();
    if (code == StatusCode::kUnavailable || code == StatusCode::kCorruption ||
        code == StatusCode::kInternal) {
      return written.status();
    }
    if (c.step == DemoStep::kReport || c.step == DemoStep::kAct) broken_.insert(c.case_index);
    if (refusals_.size() < kRefusalsShown) {
      refusals_.push_back(Describe(c) + ": " + written.status().ToString());
    }
    ++refused_;
    return Status::Ok();
  }

  std::size_t refused() const { return refused_; }
  std::size_t skipped() const { return skipped_; }
  const std::vector<std::string>& refusals() const { return refusals_; }

 private:
  Result<WriteResult> Run(const DemoCommand& c, const std::string& key) {
    switch (c.step) {
      case DemoStep::kDefineCell:
        return service_->DefineCell(c.actor, c.body, key);
      case DemoStep::kAssignPerson:
        return service_->AssignOfficer(c.actor, c.cell, c.body, key);
      case DemoStep::kReport:
        return service_->Report(c.actor, c.body, key);
      case DemoStep::kAct:
        return service_->Act(c.actor, case_ids_[c.case_index], c.action, c.body, key);
    }
    return Status::Internal("unknown step");
  }

  std::string Describe(const DemoCommand& c) const {
    std::string what = FormatTimestamp(c.at) + " " + c.actor + " ";
    switch (c.step) {
      case DemoStep::kDefineCell:
        return what + "define cell " + c.body;
      case DemoStep::kAssignPerson:
        return what + "assign to " + c.cell + " " + c.body;
      case DemoStep::kReport:
        return what + "report case #" + std::to_string(c.case_index) + " " + c.body;
      case DemoStep::kAct:
        return what + c.action + " " + case_ids_[c.case_index] + " " + c.body;
    }
    return what;
  }

  // Waits until the watch has read every event written so far, so that a
  // tick acts on the log as it stands (and so the same way every run).
  Status Settle() {
    const Position head = store_->Head().position;
    if (head == settled_) return Status::Ok();
    const auto give_up = std::chrono::steady_clock::now() + kSettleTimeout;
    while (watch_->position() < head) {
      if (std::chrono::steady_clock::now() > give_up) {
        return Status::Internal("the deadline watch did not catch up with the log");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    settled_ = head;
    return Status::Ok();
  }

  EventStore* const store_;
  CaseService* const service_;
  ManualClock* const clock_;
  DeadlineWatch* const watch_;
  const std::uint64_t seed_;

  std::vector<std::string> case_ids_;  // by the plan's case index
  std::set<std::size_t> broken_;       // cases with a refused command
  std::int64_t next_tick_;
  Position settled_ = 0;
  std::size_t refused_ = 0, skipped_ = 0;
  std::vector<std::string> refusals_;
};

// What the log holds once seeded, counted from the log itself.
struct Census {
  Position events = 0;
  std::size_t cases = 0, open = 0;
  std::map<CaseKind, std::size_t> kinds;
  // Disputes mediated to a result: an agreement, or a referral to court.
  std::size_t mediated = 0, agreed = 0, to_court = 0;
  std::size_t reached_tier[4] = {};  // of the disputes mediated, by the tier they reached
  // Callbacks: of the cases resolved or closed at the end.
  std::size_t resolved = 0, called_back = 0, callback_due = 0, unreachable = 0;
  std::size_t answers = 0;
  std::size_t satisfied[3] = {};  // speed, attitude, outcome
  std::size_t all_satisfied = 0;  // answers satisfied on all three
  std::map<DeadlineKind, std::size_t> missed;
  std::size_t warnings = 0, reopenings = 0, repeat_disputes = 0;
};

Result<Census> CountLog(const EventStore& store) {
  Census census;
  std::unordered_map<std::string, CaseState> cases;
  std::unordered_map<std::string, std::int64_t> dispute_at;  // normalized address -> last report
  constexpr std::size_t kPage = 4096;
  for (Position after = 0;;) {
    ASSIGN_OR_RETURN(std::vector<RecordedEvent> events, store.ReadAll(after, kPage));
    for (const RecordedEvent& e : events) {
      ++census.events;
      const std::string_view case_id = CaseIdOfStream(e.stream);
      if (case_id.empty()) continue;
      ASSIGN_OR_RETURN(CaseEventData data, DecodeEventData(e.type, e.data, StoredEventLimits()));
      cases[std::string(case_id)].Apply(e, data);
      if (const auto* r = std::get_if<CaseReported>(&data)) {
        if (auto address = RepeatDisputeAddress(*r)) {
          auto [it, first] = dispute_at.try_emplace(std::move(*address), e.recorded_at_ms);
          if (!first) {
            if (RepeatsWithinWindow(it->second, e.recorded_at_ms)) ++census.repeat_disputes;
            it->second = e.recorded_at_ms;
          }
        }
      } else if (const auto* done = std::get_if<CallbackCompleted>(&data)) {
        ++census.answers;
        const Satisfaction answers[3] = {done->speed, done->attitude, done->outcome};
        bool all = true;
        for (int i = 0; i < 3; ++i) {
          if (answers[i] == Satisfaction::kSatisfied) {
            ++census.satisfied[i];
          } else {
            all = false;
          }
        }
        if (all) ++census.all_satisfied;
      } else if (const auto* missed = std::get_if<DeadlineMissed>(&data)) {
        ++census.missed[missed->deadline];
      } else if (std::holds_alternative<DeadlineApproaching>(data)) {
        ++census.warnings;
      } else if (std::holds_alternative<CaseReopened>(data)) {
        ++census.reopenings;
      }
    }
    if (events.size() < kPage) break;
    after = events.back().position;
  }
  for (const auto& [id, s] : cases) {
    ++census.cases;
    ++census.kinds[s.kind];
    if (s.is_open()) ++census.open;
    const bool done = s.status == CaseStatus::kResolved || s.status == CaseStatus::kClosed;
    if (done) {
      ++census.resolved;
      if (s.callback.status == CallbackStatus::kCompleted) {
        ++census.called_back;
      } else if (s.status == CaseStatus::kClosed) {
        ++census.unreachable;
      } else {
        ++census.callback_due;
      }
    }
    if (done && s.mediation_sessions > 0 &&
        (s.resolution == Resolution::kMediatedAgreement ||
         s.resolution == Resolution::kReferredToCourt)) {
      ++census.mediated;
      ++census.reached_tier[s.tier];
      ++(s.resolution == Resolution::kMediatedAgreement ? census.agreed : census.to_court);
    }
  }
  return census;
}

std::string Percent(std::size_t part, std::size_t whole) {
  if (whole == 0) return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(1)
      << 100.0 * static_cast<double>(part) / static_cast<double>(whole) << "%";
  return out.str();
}

void PrintSummary(const DemoCity& city, const Census& c, double seconds, std::ostream& out) {
  std::map<std::string, std::size_t> roles;
  for (const DemoPerson& p : city.people) ++roles[p.role];
  std::size_t levels[5] = {};
  for (const DemoCell& cell : city.cells) {
    ++levels[std::min<std::size_t>(4, 1 + std::count(cell.path.begin(), cell.path.end(), '/'))];
  }
  out << "cells: " << city.cells.size() << " (" << levels[1] << " district, " << levels[2]
      << " areas, " << levels[3] << " groups, " << levels[4] << " clusters)\n";
  out << "people: " << city.people.size() << " (" << roles["officer"] << " officers, "
      << roles["mediator"] << " mediators, " << roles["grid_worker"] << " grid workers, "
      << roles["volunteer"] << " volunteers, " << roles["supervisor"] << " supervisor)\n";
  out << "cases: " << c.cases << " from " << FormatTimestamp(city.start_ms) << " to "
      << FormatTimestamp(city.end_ms) << " (";
  bool first = true;
  for (const auto& [kind, n] : c.kinds) {
    out << (first ? "" : ", ") << Name(kind) << " " << n;
    first = false;
  }
  out << "); open at the end: " << c.open << "\n";
  out << "events: " << c.events << " in " << std::fixed << std::setprecision(1) << seconds
      << " s\n";
  out << "mediation: disputes mediated to a result " << c.mediated << ", "
      << Percent(c.agreed, c.mediated)
      << " with agreement (goal 99.6%); reached tier 1/2/3: " << c.reached_tier[1] << "/"
      << c.reached_tier[2] << "/" << c.reached_tier[3] << "; referred to court: " << c.to_court
      << "\n";
  out << "callbacks: resolved cases called back " << c.called_back << " of " << c.resolved << " ("
      << c.callback_due << " still due, " << c.unreachable << " unreachable); satisfied: speed "
      << Percent(c.satisfied[0], c.answers) << ", attitude " << Percent(c.satisfied[1], c.answers)
      << ", outcome " << Percent(c.satisfied[2], c.answers) << ", all three "
      << Percent(c.all_satisfied, c.answers) << "\n";
  out << "deadlines missed:";
  for (DeadlineKind k : {DeadlineKind::kAccept, DeadlineKind::kFirstContact,
                         DeadlineKind::kCallback, DeadlineKind::kMediation}) {
    out << " " << Name(k) << " " << (c.missed.count(k) ? c.missed.at(k) : 0);
  }
  out << " (warnings before a deadline: " << c.warnings << ")\n";
  out << "repeat disputes: " << c.repeat_disputes << "; reopenings: " << c.reopenings << "\n";
}

int Seed(const SeedArgs& args) {
  const std::int64_t now = SystemClock::Default()->NowMillis();
  if (args.days * args.cases_per_day > kMaxCases) {
    return Fail(Status::InvalidArgument("--days × --cases-per-day: at most 100000 cases"));
  }
  auto end = ParseUntil(args.until, now);
  if (!end.ok()) return Fail(end.status());
  if (*end - (args.days + 1) * std::int64_t{24 * 3600 * 1000} <= 0) {
    return Fail(
        Status::InvalidArgument("--until: too early for --days " + std::to_string(args.days)));
  }
  DemoCityOptions options;
  options.seed = args.seed;
  options.days = args.days;
  options.cases_per_day = args.cases_per_day;
  options.end_ms = *end;
  const DemoCity city = PlanDemoCity(options);

  ManualClock clock(city.setup_ms);
  StoreOptions store_options = WriterStoreOptions(args.data);
  store_options.clock = &clock;
  std::error_code ec;
  std::filesystem::create_directories(args.data, ec);
  auto store = EventStore::Open(store_options);
  if (!store.ok()) return Fail(store.status());
  if (const Position head = (*store)->Head().position; head > 0) {
    return Fail(Status::Conflict("the log at " + store_options.path + " already has " +
                                 std::to_string(head) +
                                 " events; seed writes a demo city only into an empty log "
                                 "(give another --data folder)"));
  }
  // An empty log asked about as of a time (a served one: <log>/SETTLED)
  // stamps nothing before that time: the city's past would be written all
  // in one millisecond (review 107), and would change those answers.
  if (const std::int64_t floor = (*store)->StampFloor(); floor > city.setup_ms) {
    return Fail(Status::Conflict(
        "the log at " + store_options.path + " stamps nothing before " + FormatTimestamp(floor) +
        ", as it was asked about as of a time then (<log>/SETTLED, docs/storage.md, \"Times\"): "
        "a demo city's past would be written all at that time; give another --data folder"));
  }
  CaseServiceOptions service_options;
  service_options.clock = &clock;
  auto service = CaseService::Open(store->get(), service_options);
  if (!service.ok()) return Fail(service.status());
  DeadlineWatchOptions watch_options;
  // The seeder ticks the watch itself, in simulated time; its own thread
  // must never tick in between.
  watch_options.tick_interval = std::chrono::hours(24);
  DeadlineWatch watch(service->get(), &clock, watch_options);
  if (Status s = watch.Start(); !s.ok()) return Fail(s);

  std::cerr << "seeding " << args.data << ": seed " << args.seed << ", " << args.days << " days to "
            << FormatTimestamp(city.end_ms) << ", about " << args.cases_per_day
            << " cases a day: " << city.cells.size() << " cells, " << city.people.size()
            << " people, " << city.cases << " cases, " << city.commands.size() << " commands\n";
  const auto started = std::chrono::steady_clock::now();
  Seeder seeder(store->get(), service->get(), &clock, &watch, args.seed, city.cases);
  for (std::size_t i = 0; i < city.commands.size(); ++i) {
    const DemoCommand& c = city.commands[i];
    if (Status s = seeder.AdvanceTo(c.at); !s.ok()) return Fail(s);
    if (Status s = seeder.Send(c, i); !s.ok()) return Fail(s);
    if (i % 256 == 0) ShowProgress(i, city.commands.size());
  }
  if (Status s = seeder.AdvanceTo(city.end_ms); !s.ok()) return Fail(s);
  ShowProgress(city.commands.size(), city.commands.size());
  watch.Stop();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  if (seeder.refused() > 0) {
    std::cerr << "casegrid: seed: the case service refused " << seeder.refused()
              << " commands of the plan (a bug in tools/cli/demo_city.cc; " << seeder.skipped()
              << " later commands of the same cases skipped):\n";
    for (const std::string& r : seeder.refusals()) std::cerr << "  " << r << "\n";
    return 1;
  }
  auto census = CountLog(**store);
  if (!census.ok()) return Fail(census.status());
  PrintSummary(city, *census, seconds, std::cout);
  return 0;
}

}  // namespace

void AddSeedVerb(CLI::App& app, VerbAction* action) {
  auto a = std::make_shared<SeedArgs>();
  CLI::App* seed = app.add_subcommand(
      "seed", "write a demo city (grid, people, weeks of cases) into an empty log");
  seed->add_option("--data", a->data, "data folder (log/ and views/)")
      ->check(DataFolder())
      ->capture_default_str();
  seed->add_option("--seed", a->seed, "random seed: the same flags give the same log")
      ->check(UnsignedNumber())
      ->capture_default_str();
  seed->add_option("--days", a->days, "days of cases")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  seed->add_option("--cases-per-day", a->cases_per_day, "cases reported a day, on average")
      ->check(FiniteRange(0.1, 5000))
      ->capture_default_str();
  seed->add_option("--until", a->until,
                   "when the simulated days end: a date (its midnight UTC) or an RFC 3339 UTC "
                   "time, not in the future; default now")
      ->check(NotEmpty("a date or a time (leave --until out for now)"))
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            auto at = ParseUntil(text, SystemClock::Default()->NowMillis());
            return at.ok() ? "" : AfterTheFlag(at.status().message(), "--until");
          },
          "DATE|TIME"));
  seed->callback([a, action] { *action = [a]() -> int { return Seed(*a); }; });
}

}  // namespace casegrid::cli
