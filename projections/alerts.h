// Alerts: who must hear about a case event, and what they are told.
//
//   new_case             a case reported in a cell they cover
//   assigned             a case assigned to them
//   unassigned           a case of theirs assigned to someone else (recorded
//                        from 2026-12-06T12:00Z on, alerts.cc)
//   escalation           a case escalated to their tier (tier 2: mediators,
//                        tier 3: supervisors, covering the cell), its assignee,
//                        and the officers covering the cell (recorded from
//                        2026-12-06T12:00Z on)
//   callback_due         a callback scheduled on a case they handle
//   deadline_approaching a deadline about to pass (those who handle the case)
//   deadline_missed      a deadline that passed (those, and supervisors)
//   repeat_dispute       a dispute at an address where another was reported
//                        within 30 days (in place of new_case)
//   reopened             a case resolved or closed, reopened (those who
//                        handle it, and supervisors), recorded from
//                        2026-12-06 on (alerts.cc)
//
// "Those who handle the case": its assignee; while it has none, the officers
// covering its cell; where no officer does, its supervisors (for events
// recorded from 2026-12-06T12:00Z on). No one is told of their own action
// (new_case, assigned, escalation, reopened of an event they recorded);
// what falls due later (a callback, a deadline) they are, and a repeat
// dispute's reporter is told it repeats one.
// An event raises at most one alert for each person (the first of the list
// above that applies), so that every alert has its own position on the
// person's alerts channel.
// "Cover" means assigned to the case's cell or any cell above it, as the grid
// stood when the event was recorded (the projector folds grid events in
// order), so replays raise the same alerts. An alert's id is
// "<position>-<kind>", unique per person; AlertAcknowledged closes it.
//
// Thread-safety: pure functions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/grid_directory.h"
#include "projections/dashboard.h"

namespace casegrid {

// An alert's id: "<position>-<kind>", unique per person.
inline std::string AlertId(Position position, std::string_view kind) {
  return std::to_string(position) + "-" + std::string(kind);
}

struct Alert {
  std::string person;
  std::string kind;
  std::string case_id;
  std::string cell;
  Position position = 0;
  std::int64_t at = 0;
  std::string message;

  std::string id() const { return AlertId(position, kind); }
};

// Whether an alert about a case in `cell` may be shown.
using AlertFilter = std::function<bool(std::string_view cell)>;

std::vector<Alert> AlertsFor(const CaseChange& change, const GridDirectory& grid);

// An alert's JSON (API.md): id, kind, person, case_id, cell, position, at,
// message.
std::string RenderAlert(const Alert& alert);
// The views keep an alert in two parts: its body, what every person an
// event alerts of one kind is told alike (case_id, cell, position, at,
// message, as a JSON object), once per event and kind; and each person's
// entry. ComposeAlert(person, position, kind, RenderAlertBody(a)) equals
// RenderAlert(a) for a of that person, position and kind.
std::string RenderAlertBody(const Alert& alert);
std::string ComposeAlert(std::string_view person, Position position, std::string_view kind,
                         std::string_view body);
// The alert-bodies-family key: position (big-endian) \0 kind.
std::string AlertBodyKey(Position position, std::string_view kind);
// The alerts-family key: person \0 position (big-endian) \0 kind; the
// value is the alert's cell.
std::string AlertKey(std::string_view person, Position position, std::string_view kind);
std::string AlertKey(const Alert& alert);
// An alert id read back: the position of the event that raised it, and its
// kind (a view into the id).
struct ParsedAlertId {
  Position position = 0;
  std::string_view kind;
};
// nullopt if malformed. It also reads spellings of a position other than
// AlertId's (leading zeros), which the log may hold from builds that took
// them.
std::optional<ParsedAlertId> ParseAlertId(std::string_view id);
// Whether `id` is spelled as AlertId spells it (no leading zero).
bool IsIssuedAlertId(std::string_view id);
// The key of alert `id` of `person`; nullopt if malformed.
std::optional<std::string> AlertKeyOfId(std::string_view person, std::string_view id);

}  // namespace casegrid
