#include "api/push_messages.h"

#include "engine/case_events.h"
#include "projections/json_writer.h"

namespace casegrid::push {

Result<Channel> ParsePushChannel(std::string_view name) {
  auto rest = [&](std::string_view prefix) -> std::optional<std::string> {
    if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
    return std::string(name.substr(prefix.size()));
  };
  if (name == "events") return Channel{ChannelKind::kEvents, ""};
  if (name == "alerts") return Channel{ChannelKind::kAlerts, ""};
  if (auto id = rest("case/")) {
    if (id->empty()) return Status::InvalidArgument("channel: case/ needs a case id");
    return Channel{ChannelKind::kCase, *id};
  }
  if (auto path = rest("cell/")) return Channel{ChannelKind::kCell, *path};
  if (auto path = rest("dashboard/")) return Channel{ChannelKind::kDashboard, *path};
  std::string shown(name.substr(0, 100));
  return Status::InvalidArgument("channel: unknown channel \"" + shown +
                                 "\"; channels are case/{id}, cell/{path}, dashboard/{path}, "
                                 "alerts and events");
}

std::optional<ViewHead> ReadViewHead(simdjson::dom::parser& parser, std::string_view view) {
  simdjson::dom::element root;
  ViewHead head;
  std::uint64_t p = 0;
  if (parser.parse(view).get(root) || root["position"].get(p)) return std::nullopt;
  head.position = p;
  if (root["case_id"].get(head.case_id)) head.case_id = {};
  if (root["assignee"].get(head.assignee)) head.assignee = {};  // null: nobody yet
  if (root["cell"].get(head.cell)) head.cell = {};
  return head;
}
Position ViewPosition(std::string_view view) {
  simdjson::dom::parser parser;
  auto head = ReadViewHead(parser, view);
  return head ? head->position : 0;
}

// What the alerts channel carries for an acknowledgment.
std::string AcknowledgedJson(std::string_view alert_id) {
  JsonWriter j;
  j.BeginObject().Key("id").String(alert_id).Key("acknowledged").Bool(true).EndObject();
  return j.Take();
}

CaseSight SightOf(const Principal& who, const CaseState& state) {
  if (HandlesTheCase(who, state.assignee)) {
    return SeesHashes(who) ? CaseSight::kShown : CaseSight::kHandled;
  }
  return SeesCaseEvents(who, state.assignee) ? CaseSight::kAudited : CaseSight::kMasked;
}
PersonalData ViewSight(CaseSight sight) {
  return sight == CaseSight::kShown || sight == CaseSight::kHandled ? PersonalData::kShown
                                                                    : PersonalData::kMasked;
}

PushMessage Message(std::string_view type, std::string_view channel, Position position,
                    std::initializer_list<std::pair<std::string_view, std::string_view>> raw) {
  JsonWriter j;
  j.BeginObject();
  j.Key("type").String(type).Key("channel").String(channel);
  j.Key("position").Int(static_cast<std::int64_t>(position));
  for (const auto& [key, json] : raw) j.Key(key).Raw(json);
  j.EndObject();
  return std::make_shared<const std::string>(j.Take());
}

// The message of one case event on case/{id}, as `sight` may see it.
PushMessage CaseEventMessage(std::string_view channel, const RecordedEvent& e,
                             const CaseState& after, CaseSight sight) {
  const std::string event = e.EnvelopeJson(
      sight != CaseSight::kMasked, sight == CaseSight::kAudited || sight == CaseSight::kShown);
  const std::string view = RenderCaseView(after, ViewSight(sight));
  return Message("event", channel, e.position, {{"event", event}, {"view", view}});
}

// As every case fold: a type the engine does not define (older raw appends)
// moves the case to its version and changes nothing else.
Status ApplyToCase(CaseState* state, const RecordedEvent& e) {
  if (!IsEngineEventType(e.type)) {
    state->PassOver(e);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(CaseEventData data, DecodeEventData(e.type, e.data, StoredEventLimits()));
  state->Apply(e, data);
  return Status::Ok();
}

// Every ancestor of `cell`, itself included, and "" (the root).
std::vector<std::string_view> PathsCovering(std::string_view cell) {
  std::vector<std::string_view> out{std::string_view()};
  for (std::size_t i = 0; i <= cell.size(); ++i) {
    if (!cell.empty() && (i == cell.size() || cell[i] == '/')) out.push_back(cell.substr(0, i));
  }
  return out;
}

}  // namespace casegrid::push
