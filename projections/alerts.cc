#include "projections/alerts.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <type_traits>

#include "engine/record_format.h"
#include "projections/json_writer.h"

namespace casegrid {
namespace {

// A reopening alerts from the day the rule came (session 29,
// 2026-12-06T00:00:00Z) on, by the time the event was recorded: so that a
// replay agrees, and so that a store's first start on this build, which
// rebuilds its views (format 15), does not raise an alert, open until
// acknowledged, for every reopening in its history, of cases long settled
// (review 80).
constexpr std::int64_t kReopenedAlertsFromMs = 1796515200000;
// Likewise the rules of session 30 — an assignee replaced is told so; a
// warning, callback or reopening of a case no one handles, in a cell no
// officer covers, goes to its supervisors; an escalation goes to the
// officers covering the cell too — from the hour they came
// (2026-12-06T12:00:00Z) on: the first start of that build rebuilds every
// store's views, and would otherwise raise alerts, open until acknowledged,
// for the reassignments and warnings of their history (review 87).
constexpr std::int64_t kSession30AlertsFromMs = 1796558400000;
// And session 40's — a callback due and a deadline's warning or miss go to
// the officers covering the cell as well as to whoever handles the case —
// from the hour it came (2026-12-07T19:00:00Z) on, for the same reason.
constexpr std::int64_t kSession40AlertsFromMs = 1796670000000;

class Recipients {
 public:
  Recipients(const CaseChange& c, std::vector<Alert>& out) : c_(c), out_(out) {}
  // The first alert an event raises for a person is the one they get: one
  // event, one position, at most one alert each, so that positions on the
  // alerts channel only grow and a resume with `after` loses none.
  void To(std::string_view person, std::string_view kind, const std::string& message) {
    if (person.empty()) return;
    for (const Alert& a : out_) {
      if (a.person == person) return;
    }
    // No one is told of what they did themselves (a case they reported,
    // assigned to themselves, escalated or reopened: black-box probe 84
    // found each on the actor's phone, which sounds for every alert). What
    // falls due later is theirs to hear of: a callback, a deadline.
    if (tells_what_actor_did_ && person == c_.event->actor) return;
    out_.push_back(Alert{std::string(person), std::string(kind), c_.state->case_id,
                         c_.state->report.cell, c_.event->position, c_.event->recorded_at_ms,
                         message});
  }
  void ToRoles(const std::vector<CellPerson>& people, std::initializer_list<std::string_view> roles,
               std::string_view kind, const std::string& message) {
    for (const CellPerson& p : people) {
      if (roles.size() == 0 ||
          std::find(roles.begin(), roles.end(), std::string_view(p.role)) != roles.end()) {
        To(p.person, kind, message);
      }
    }
  }
  // Whoever handles the case: its assignee; while unassigned, the officers
  // covering its cell; where none does, its supervisors (black-box probe 84:
  // an urgent case in a cell without an officer warned no one before its
  // deadline passed).
  void ToHandlers(const CaseState& s, const std::vector<CellPerson>& covering,
                  std::string_view kind, const std::string& message) {
    if (!s.assignee.empty()) return To(s.assignee, kind, message);
    const std::size_t told = out_.size();
    ToRoles(covering, {"officer"}, kind, message);
    if (out_.size() == told && c_.event->recorded_at_ms >= kSession30AlertsFromMs) {
      ToRoles(covering, {"supervisor"}, kind, message);
    }
  }
  // What falls due on a case (a callback, a deadline's warning or miss) is
  // told to whoever handles it and, from session 40 on, to the officers
  // covering its cell: DOMAIN.md gives an officer "callbacks due, deadlines
  // about to break" for their own grids ("one grid, one officer"), and
  // review 115 found the cell's officer heard nothing of them once the case
  // was assigned to a grid worker or a mediator.
  void ToHandlersAndCellOfficers(const CaseState& s, const std::vector<CellPerson>& covering,
                                 std::string_view kind, const std::string& message) {
    ToHandlers(s, covering, kind, message);
    if (c_.event->recorded_at_ms >= kSession40AlertsFromMs) {
      ToRoles(covering, {"officer"}, kind, message);
    }
  }
  // Whether the alerts being raised tell of the event's own action (not of
  // something falling due), which its actor is not told of.
  void TellsWhatActorDid(bool v) { tells_what_actor_did_ = v; }

 private:
  const CaseChange& c_;
  std::vector<Alert>& out_;
  bool tells_what_actor_did_ = false;
};

}  // namespace

std::vector<Alert> AlertsFor(const CaseChange& c, const GridDirectory& grid) {
  std::vector<Alert> out;
  const CaseState& s = *c.state;
  if (!s.exists) return out;
  Recipients to(c, out);
  // Made only for the events that raise an alert, few of them.
  const auto what = [&] {
    return s.case_id + " (" + std::string(Name(s.kind)) + ", " + s.report.cell + ")";
  };
  // Likewise who covers the cell, read once however many roles are told.
  std::optional<std::vector<CellPerson>> covering_read;
  const auto covering = [&]() -> const std::vector<CellPerson>& {
    if (!covering_read) covering_read = grid.PeopleCovering(s.report.cell);
    return *covering_read;
  };
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, CaseReported>) {
          const std::string reported =
              "New " + std::string(Name(e.priority)) + " case " + what() + ": " + e.summary;
          // A repeat dispute is told as such, in place of new_case.
          if (c.repeat_dispute()) {
            to.ToRoles(covering(), {}, "repeat_dispute",
                       "Repeat dispute at " + e.address.value_or("") + " within 30 days of case " +
                           c.repeat_of + ". " + reported);
          }
          to.TellsWhatActorDid(true);
          to.ToRoles(covering(), {}, "new_case", reported);
        } else if constexpr (std::is_same_v<T, CaseAssigned>) {
          to.TellsWhatActorDid(true);
          to.To(e.assignee, "assigned", "Case " + what() + " is assigned to you");
          // The assignee replaced hears that the case is no longer theirs
          // (black-box probe 84: they kept "assigned to you" and learned of
          // it from a 409).
          if (c.event->recorded_at_ms >= kSession30AlertsFromMs &&
              c.previous_assignee != e.assignee) {
            to.To(c.previous_assignee, "unassigned",
                  "Case " + what() + " is reassigned to " + e.assignee + "; it is no longer yours");
          }
        } else if constexpr (std::is_same_v<T, CaseEscalated>) {
          to.TellsWhatActorDid(true);
          const std::string m = "Case " + what() + " escalated to tier " +
                                std::to_string(e.to_tier) + ": " + e.reason;
          if (e.to_tier >= 3) {
            to.ToRoles(covering(), {"supervisor"}, "escalation", m);
          } else {
            to.ToRoles(covering(), {"mediator"}, "escalation", m);
          }
          to.To(s.assignee, "escalation", m);
          // And the officers of its cell's grid (DOMAIN.md: an officer's
          // alerts for their own grids include its escalations; black-box
          // probe 84 found only the assignee heard), from the hour the
          // rules of session 30 came.
          if (c.event->recorded_at_ms >= kSession30AlertsFromMs) {
            to.ToRoles(covering(), {"officer"}, "escalation", m);
          }
        } else if constexpr (std::is_same_v<T, CallbackScheduled>) {
          const std::string m = "Callback due for " + what() + " by " + FormatTimestamp(e.due_at);
          to.ToHandlersAndCellOfficers(s, covering(), "callback_due", m);
        } else if constexpr (std::is_same_v<T, CaseReopened>) {
          if (c.event->recorded_at_ms < kReopenedAlertsFromMs) return;
          // The case is owed work again: whoever handles it must hear of it
          // (black-box probe 74: a reopening alerted no one).
          to.TellsWhatActorDid(true);
          const std::string m = "Case " + what() + " is reopened: " + e.reason;
          to.ToHandlers(s, covering(), "reopened", m);
          to.ToRoles(covering(), {"supervisor"}, "reopened", m);
        } else if constexpr (std::is_same_v<T, DeadlineApproaching> ||
                             std::is_same_v<T, DeadlineMissed>) {
          constexpr bool kMissed = std::is_same_v<T, DeadlineMissed>;
          const std::string kind = kMissed ? "deadline_missed" : "deadline_approaching";
          const std::string m = "Deadline " + std::string(Name(e.deadline)) + " of " + what() +
                                (kMissed ? " was missed (due " : " is due at ") +
                                FormatTimestamp(e.due_at) + (kMissed ? ")" : "");
          to.ToHandlersAndCellOfficers(s, covering(), kind, m);
          if (kMissed) to.ToRoles(covering(), {"supervisor"}, kind, m);
          // A mediation running out of time is the mediators' too (black-box
          // probe 74: the cell's mediator heard nothing of it).
          if (e.deadline == DeadlineKind::kMediation) {
            to.ToRoles(covering(), {"mediator"}, kind, m);
          }
        }
      },
      *c.data);
  return out;
}

std::string RenderAlert(const Alert& a) {
  return ComposeAlert(a.person, a.position, a.kind, RenderAlertBody(a));
}

std::string RenderAlertBody(const Alert& a) {
  JsonWriter w;
  w.BeginObject();
  w.Key("case_id").String(a.case_id);
  w.Key("cell").String(a.cell);
  w.Key("position").Int(static_cast<std::int64_t>(a.position));
  w.Key("at").Time(a.at);
  w.Key("message").String(a.message);
  w.EndObject();
  return w.Take();
}

std::string ComposeAlert(std::string_view person, Position position, std::string_view kind,
                         std::string_view body) {
  JsonWriter w;
  w.BeginObject();
  w.Key("id").String(AlertId(position, kind));
  w.Key("kind").String(kind);
  w.Key("person").String(person);
  // The object is left open: the body's members follow, after its '{'.
  std::string out = w.Take();
  out.reserve(out.size() + body.size());
  if (body.size() > 2) out += ',';
  out.append(body.substr(std::min<std::size_t>(body.size(), 1)));
  if (body.empty()) out += '}';
  return out;
}

std::string AlertBodyKey(Position position, std::string_view kind) {
  std::string key = storage::EncodeBigEndian64(position);
  key += '\0';
  key += kind;
  return key;
}

std::string AlertKey(std::string_view person, Position position, std::string_view kind) {
  std::string key(person);
  key += '\0';
  key += storage::EncodeBigEndian64(position);
  key += '\0';
  key += kind;
  return key;
}

std::string AlertKey(const Alert& a) {
  return AlertKey(a.person, a.position, a.kind);
}

std::optional<ParsedAlertId> ParseAlertId(std::string_view id) {
  const auto dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == id.size()) return std::nullopt;
  ParsedAlertId parsed;
  auto [end, ec] = std::from_chars(id.data(), id.data() + dash, parsed.position);
  if (ec != std::errc() || end != id.data() + dash) return std::nullopt;
  parsed.kind = id.substr(dash + 1);
  return parsed;
}

bool IsIssuedAlertId(std::string_view id) {
  const std::optional<ParsedAlertId> parsed = ParseAlertId(id);
  return parsed && AlertId(parsed->position, parsed->kind) == id;
}

std::optional<std::string> AlertKeyOfId(std::string_view person, std::string_view id) {
  const std::optional<ParsedAlertId> parsed = ParseAlertId(id);
  if (!parsed) return std::nullopt;
  return AlertKey(person, parsed->position, parsed->kind);
}

}  // namespace casegrid
