// The dashboard of one node of the grid tree (a cell, a group, an area, a
// district, or the root ""): the figures a command center watches, kept
// incrementally as case events fold.
//
// A case counts toward its cell and every node above it. Two kinds of
// figures: gauges that follow the case's current state (open cases by state,
// tier, kind and report day; callbacks due and overdue; hazards open; every
// case by kind and channel, and those resolved), kept
// by removing the case's old contribution and adding its new one; and
// counters bumped by events (reported and resolved per hour, mediation
// sessions, escalations, completed callbacks and their satisfaction,
// callbacks that did not reach the reporter, reopenings, deadlines missed,
// repeat disputes, response times).
//
// Everything derives from events and their recorded times, never the clock,
// so a node folded to position P is the same live, rebuilt or replayed.
// Only Render's `now` (for "today" and the age of open cases) is a time of
// the reader's choosing: the clock for live reads, the event's time for
// as_of.
//
// Thread-safety: values; not synchronized.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "engine/case_events.h"
#include "engine/case_state.h"
#include "engine/event.h"
#include "engine/status.h"

namespace casegrid {

// Upper bounds, in minutes, of the response-time histogram buckets; the
// last bucket is open, and bounded by the longest time it holds. A
// percentile is reported as its bucket's bound.
inline constexpr std::array<std::int64_t, 31> kResponseBucketMinutes = {
    1,  2,  3,   4,   5,   6,   8,   10,  12,  15,  20,   25,   30,   40,   50,  60,
    75, 90, 120, 150, 180, 240, 300, 360, 480, 720, 1080, 1440, 2160, 2880, 4320};
inline constexpr std::size_t kResponseBuckets = kResponseBucketMinutes.size() + 1;
// Hourly intake is kept for this many days before the newest event.
inline constexpr std::int64_t kHourlyDays = 8;
// Open cases are kept by report day for this many days before the newest
// event (one more than the last age bucket's 30, so that a reading a little
// behind the newest event still buckets them right).
inline constexpr std::int64_t kOpenReportDays = 31;

struct DashboardNode {
  // A count per bucket of kResponseBucketMinutes, then, at kResponseBuckets,
  // the longest time in the open bucket, in whole minutes rounded up (0 while
  // it is empty): the bound a percentile falling there is reported as.
  using Histogram = std::array<std::int64_t, kResponseBuckets + 1>;

  // Gauges.
  std::array<std::int64_t, 3> open_by_state{};  // reported, assigned, in_progress
  std::array<std::int64_t, 3> open_by_tier{};   // tiers 1..3
  std::array<std::int64_t, 4> open_by_kind{};   // CaseKind order
  // Open cases by the Unix day they were reported, for the last
  // kOpenReportDays days before the node's newest event; those reported
  // earlier are older than the last age bucket at any later reading, so they
  // are one count. Bounded however long cases stay open.
  std::map<std::int64_t, std::int64_t> open_by_report_day;  // Unix day -> open cases
  std::int64_t open_reported_earlier = 0;                   // reported before report_day_floor
  std::int64_t report_day_floor = 0;                        // first day kept in open_by_report_day
  std::int64_t callbacks_due = 0;                           // scheduled or attempted, not completed
  std::int64_t callbacks_overdue = 0;  // of those, with the callback deadline missed
  std::int64_t hazards_open = 0;
  // Open cases with a deadline missed and its step still not done (accept,
  // first contact, mediation): the overdue work now.
  std::int64_t open_overdue = 0;
  // Cases mediated at least once, and of those, with an agreement at least
  // once: the per-dispute success DOMAIN.md reports (99.6%), where
  // mediation_agreements / mediation_sessions is per session.
  std::int64_t cases_mediated = 0, cases_agreed = 0;
  // Every case by its kind now and by the channel it came in by: [0] all,
  // [1] of those, resolved or closed now. The field's figures of a period
  // (DOMAIN.md: 175 disputes and 25 hazards in a year; 400 matters solved
  // at watch points) are two readings' difference (as_of).
  std::array<std::array<std::int64_t, 2>, 4> cases_by_kind{};     // CaseKind order
  std::array<std::array<std::int64_t, 2>, 7> cases_by_channel{};  // Channel order

  // Counters.
  std::map<std::int64_t, std::array<std::int64_t, 2>> hourly;  // Unix hour -> reported, resolved
  std::int64_t reported = 0, resolved = 0;
  std::array<std::int64_t, 3> mediation_sessions{}, mediation_agreements{};  // by tier
  std::int64_t escalations = 0;
  std::int64_t callbacks_completed = 0;
  std::array<std::int64_t, 3> callbacks_satisfied{};  // speed, attitude, outcome
  std::array<std::int64_t, 4> deadlines_missed{};     // DeadlineKind order
  std::int64_t repeat_disputes = 0;
  std::int64_t hazards_rectified = 0;
  std::int64_t callbacks_unreachable = 0;  // attempts that did not reach the reporter
  std::int64_t reopened = 0;               // reopenings
  std::array<Histogram, 4> to_accept{};    // by Priority
  std::array<Histogram, 4> to_arrival{};   // by Priority

  Position position = 0;  // the last event that changed this node

  bool operator==(const DashboardNode&) const = default;
};

// The part of a case's state the dashboard's gauges and response times
// depend on: small, so that the fold keeps it instead of copying the case.
struct CaseGauges {
  bool exists = false;
  bool open = false;
  CaseStatus status = CaseStatus::kReported;
  int tier = 1;
  CaseKind kind = CaseKind::kIncident;
  Channel channel = Channel::kCall;
  Priority priority = Priority::kNormal;
  bool done = false;  // resolved or closed
  std::int64_t reported_at = 0, accepted_at = 0, arrived_at = 0;
  bool callback_open = false;     // scheduled or attempted
  bool callback_missed = false;   // and its deadline missed
  bool rectified_hazard = false;  // a hazard resolved as rectified (and not reopened)
  bool overdue = false;           // open, a deadline other than the callback's missed and not met
  bool mediated = false, agreed = false;  // a session held; an agreement reached

  static CaseGauges Of(const CaseState& state);
};

// What one case event did, for the dashboards above its cell.
struct CaseChange {
  const RecordedEvent* event = nullptr;
  const CaseEventData* data = nullptr;
  CaseGauges before;  // !exists for a new case
  CaseGauges after;
  const CaseState* state = nullptr;  // the case after the event
  // A CaseReported of a dispute at an address seen within 30 days: the case
  // reported there last before it (empty: no repeat).
  std::string repeat_of;
  bool repeat_dispute() const { return !repeat_of.empty(); }
  // A CaseAssigned: the assignee before it (empty: none). Set by the live
  // fold and a rebuild, for the alerts; not by as_of dashboards.
  std::string previous_assignee;
};

// Folds `change` into `node`.
void ApplyCaseChange(DashboardNode& node, const CaseChange& change);

// The nodes a case of `cell` counts toward: the cell, its ancestors, and "".
std::vector<std::string> DashboardNodesOf(std::string_view cell);

// Compact binary form for the view store; Decode(Encode(n)) == n.
std::string EncodeDashboardNode(const DashboardNode& node);
Result<DashboardNode> DecodeDashboardNode(std::string_view bytes);

// The dashboard view of API.md for node `path`, with "today" and ages
// measured at `now_ms`. "today" and the hourly intake are by the local day
// and hour of UTC + `day_offset_hours` (whole hours: the intake is counted
// by the hour); the ages of open cases are in days of 24 hours since the
// UTC day they were reported. The hourly intake of the previous days is
// averaged over those of the last 7 the log has (its first event recorded
// at `log_start_ms`; the default: a log older than a week), so that a
// store's first week is not shown a seventh of its intake.
std::string RenderDashboard(std::string_view path, const DashboardNode& node, Position position,
                            std::int64_t now_ms, int day_offset_hours = 0,
                            std::int64_t log_start_ms = INT64_MIN);

}  // namespace casegrid
