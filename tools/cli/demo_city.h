// DemoCity: a police station's jurisdiction and some weeks of its cases, as
// the commands its people would send through the API — what `casegrid seed`
// writes (docs/seed.md has the figures it aims at and achieves).
//
// The grid follows DOMAIN.md's station figures: one district, 4 areas, 8
// groups and 23 clusters (13 villages and 10 communities), a community
// officer for each cluster ("one grid, one officer"), an auxiliary officer
// for each group, a station mediator for each area, the harmony team (tier 2)
// and the mediation room (tier 3) at the district, a supervisor, grid workers
// and volunteers. Cases arrive day and night with a daily and weekly rhythm,
// and each is played out to the end: intake, triage, assignment, acceptance,
// dispatch and arrival, notes, mediation up the three tiers, resolution, the
// callback and its satisfaction, close, and now and then a reopening.
//
// Contract:
//   - PlanDemoCity() is a pure function of its options: the same options give
//     the same plan, byte for byte. The randomness is std::mt19937_64 (fully
//     specified by the standard) read through this file's own distributions,
//     not <random>'s, whose output differs between standard libraries.
//   - `commands` are in the order they are to be sent, by time (`at`, never
//     decreasing), grid set-up first. Sent in that order through CaseService
//     with the clock set to each command's `at`, every command is allowed: a
//     refusal is a bug in the plan.
//   - Cases are named by `case_index`, the order of their reports (reports are
//     in time order, so the service's case ids follow the same order).
//   - Deadlines are not planned: the plan's delays miss some of them, and the
//     engine's deadline watch, ticking through the simulated time, records
//     those (and the warnings before them) as it would live.
//   - Nothing at or after `end_ms` is planned: a case reported near the end
//     stands wherever its story had got to, as open cases do.
//
// Thread-safety: a pure function returning a value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace casegrid::cli {

struct DemoCityOptions {
  std::uint64_t seed = 1;
  int days = 30;              // how many days of cases, before end_ms
  double cases_per_day = 40;  // the mean; days and hours vary around it
  std::int64_t end_ms = 0;    // Unix ms: cases are reported in [end - days, end)
};

struct DemoCell {
  std::string path;  // "santai/tongchuan/g1/dongjie"
  std::string name;  // "Dongjie Community"
};

struct DemoPerson {
  std::string id;    // actor and alert stream name: "officer-07"
  std::string role;  // officer, mediator, grid_worker, volunteer, supervisor
  std::string cell;  // where they are assigned
};

enum class DemoStep {
  kDefineCell,    // CaseService::DefineCell(actor, body)
  kAssignPerson,  // CaseService::AssignOfficer(actor, cell, body)
  kReport,        // CaseService::Report(actor, body)
  kAct,           // CaseService::Act(actor, <id of case_index>, action, body)
};

struct DemoCommand {
  std::int64_t at = 0;  // Unix ms, simulated
  DemoStep step = DemoStep::kAct;
  std::string actor;
  std::string cell;            // kAssignPerson
  std::size_t case_index = 0;  // kReport, kAct
  std::string action;          // kAct: an API.md action ("assign", "mediate", ...)
  std::string body;            // the request body, JSON
};

struct DemoCity {
  std::vector<DemoCell> cells;     // parents before children
  std::vector<DemoPerson> people;  // as assigned
  std::size_t cases = 0;           // reports in `commands`
  std::int64_t setup_ms = 0;       // when the grid is defined
  std::int64_t start_ms = 0;       // the first moment a case may be reported
  std::int64_t end_ms = 0;         // nothing is planned at or after it
  std::vector<DemoCommand> commands;
};

// Requires days >= 1, cases_per_day > 0 and end_ms - days > 0.
DemoCity PlanDemoCity(const DemoCityOptions& options);

}  // namespace casegrid::cli
