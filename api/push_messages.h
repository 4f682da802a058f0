// What push sends and to whom, shared by the hub's live dispatch
// (push_hub.cc) and its catch-ups (push_catch_up.cc): channel names, the
// sight a principal has of a case, and the messages themselves. Internal to
// the API library, not a public header.
//
// Thread-safety: free functions over their arguments; safe from any thread.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/auth.h"
#include "api/push_hub.h"
#include "engine/case_state.h"
#include "engine/event.h"
#include "engine/status.h"
#include "projections/case_view.h"

namespace casegrid::push {

enum class ChannelKind { kEvents, kCase, kCell, kDashboard, kAlerts };

struct Channel {
  ChannelKind kind;
  std::string target;  // case id, cell path, or ""
};

// A channel's name as a client sends it; kInvalidArgument naming the
// channels there are.
Result<Channel> ParsePushChannel(std::string_view name);

// What push needs of a stored view: its position, and for a case view its
// id and assignee ("" when none). The views point into `parser`'s memory.
struct ViewHead {
  Position position = 0;
  std::string_view case_id, assignee, cell;
};
std::optional<ViewHead> ReadViewHead(simdjson::dom::parser& parser, std::string_view view);
// A stored view's position (0 if it has none).
Position ViewPosition(std::string_view view);

// What `who` sees of a case on case/{id}, as on HTTP (auth.h): the view
// shown to those who handle it, the events whole to them and to auditors
// (SeesCaseEvents), everything else masked; hashes only to SeesHashes.
enum class CaseSight {
  kMasked,   // a field role not handling it: masked view, events without data or hash
  kHandled,  // a field role, its assignee: the view shown, events without hash
  kAudited,  // an auditor: masked view, events whole
  kShown,    // operator, supervisor: everything
};
constexpr std::size_t kCaseSights = 4;
CaseSight SightOf(const Principal& who, const CaseState& state);
PersonalData ViewSight(CaseSight sight);

// What the alerts channel carries for an acknowledgment.
std::string AcknowledgedJson(std::string_view alert_id);

// {"type", "channel", "position", and each of `raw` (already JSON)}.
PushMessage Message(std::string_view type, std::string_view channel, Position position,
                    std::initializer_list<std::pair<std::string_view, std::string_view>> raw);
// The message of one case event on case/{id}, as `sight` may see it.
PushMessage CaseEventMessage(std::string_view channel, const RecordedEvent& e,
                             const CaseState& after, CaseSight sight);

// As every case fold: a type the engine does not define (older raw appends)
// moves the case to its version and changes nothing else.
Status ApplyToCase(CaseState* state, const RecordedEvent& e);

// Every ancestor of `cell`, itself included, and "" (the root).
std::vector<std::string_view> PathsCovering(std::string_view cell);

}  // namespace casegrid::push
