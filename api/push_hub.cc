#include "api/push_hub.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <cstdio>

#include "api/http_api.h"
#include "engine/case_events.h"
#include "projections/case_view.h"
#include "projections/json_writer.h"

namespace casegrid {
namespace {

enum class ChannelKind { kEvents, kCase, kCell, kDashboard, kAlerts };

struct Channel {
  ChannelKind kind;
  std::string target;  // case id, cell path, or ""
};

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

// What push needs of a stored view: its position, and for a case view its
// id and assignee ("" when none). The views point into `parser`'s memory.
struct ViewHead {
  Position position = 0;
  std::string_view case_id, assignee, cell;
};
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

}  // namespace

struct PushHub::Sub {
  std::weak_ptr<PushSink> sink;
  const PushSink* sink_key = nullptr;
  Principal who;
  std::int64_t request_id = 0;
  std::string channel;    // as the client named it
  std::string index_key;  // by_channel_: the channel, or "alerts/<sub>"
  ChannelKind kind = ChannelKind::kEvents;
  std::string target;

  // Guarded by the hub's mu_.
  bool registered = false, live = false, removed = false;
  bool admitted = false;  // passed its checks: counts against MaxSubscriptions
  Position cursor = 0;    // sent through here
  Position target_position = 0;
  Position floor = 0;  // live messages at or below are not sent (already covered)
  struct Pending {
    Position position;
    PushMessage message;
    std::string case_id;  // cell channels: whose view it is
  };
  std::vector<Pending> pending;
  std::size_t pending_bytes = 0;
  bool overflowed = false;
  std::map<std::string, Position, std::less<>> snapshot_newer;  // cell: case -> view position

  // The catch-up's, one step at a time.
  CaseState fold;  // case/{id}
};

// The live state of a case that has subscribers on case/{id}.
struct PushHub::CaseFeed {
  CaseState state;
  int subscribers = 0;
};

PushHub::PushHub(CaseService* service, Projector* projector, const Clock* clock,
                 ApiMetrics* metrics, PushOptions options)
    : service_(service),
      projector_(projector),
      clock_(clock),
      options_(options),
      metrics_(metrics),
      pool_(static_cast<std::size_t>(std::max(1, options.threads))) {}

PushHub::~PushHub() {
  Stop();
}

void PushHub::Stop() {
  {
    std::lock_guard l(mu_);
    stopped_ = true;
  }
  dispatched_cv_.notify_all();
  pool_.join();
}

void PushHub::Begin(Position at) {
  std::lock_guard l(mu_);
  dispatched_ = at;
}

Position PushHub::dispatched() const {
  std::lock_guard l(mu_);
  return dispatched_;
}

std::size_t PushHub::SubscriptionsOf(const PushSink* sink) const {
  std::lock_guard l(mu_);
  auto it = by_sink_.find(sink);
  return it == by_sink_.end() ? 0 : it->second.size();
}

void PushHub::Deliver(Sub& sub, const PushMessage& message, Position position,
                      std::string_view case_id) {
  if (sub.removed || position <= sub.floor) return;
  if (!case_id.empty() && !sub.snapshot_newer.empty()) {
    auto it = sub.snapshot_newer.find(case_id);
    if (it != sub.snapshot_newer.end()) {
      // The snapshot showed this view, or a newer one.
      if (position <= it->second) return;
      sub.snapshot_newer.erase(it);
    }
  }
  if (!sub.live) {
    if (sub.overflowed) return;
    if (sub.pending.size() >= options_.max_pending ||
        sub.pending_bytes + message->size() > options_.max_pending_bytes) {
      sub.pending.clear();
      sub.pending_bytes = 0;
      sub.pending.shrink_to_fit();
      sub.overflowed = true;  // the catch-up will read these from the log
      return;
    }
    sub.pending.push_back({position, message, std::string(case_id)});
    sub.pending_bytes += message->size();
    return;
  }
  auto sink = sub.sink.lock();
  if (!sink) return;
  sink->Push(message, sub.kind == ChannelKind::kDashboard ? &sub : nullptr);
}

void PushHub::OnBatch(const ViewChanges& changes) {
  // The cells of the acknowledged alerts' cases, read from the log before
  // the lock (every acknowledgment's: whose alerts have subscribers is known
  // only under it; acknowledgments are people's acts, few a batch).
  std::vector<std::optional<std::string>> ack_cells;
  ack_cells.reserve(changes.acknowledged.size());
  for (const AlertAcknowledgement& ack : changes.acknowledged) {
    auto cell = projector_->CellOfAlert(ack.alert_id);
    ack_cells.push_back(cell.ok() ? *cell : std::nullopt);
  }
  std::lock_guard l(mu_);
  auto subscribers = [&](std::string_view key) -> std::vector<std::shared_ptr<Sub>>* {
    auto it = by_channel_.find(key);
    return it == by_channel_.end() || it->second.empty() ? nullptr : &it->second;
  };
  // events and case/{id}: every event, in order.
  if (changes.events != nullptr) {
    auto* all = subscribers("events");
    for (const RecordedEvent& e : *changes.events) {
      if (all) {
        auto m = Message("event", "events", e.position, {{"event", e.EnvelopeJson()}});
        for (auto& sub : *all) Deliver(*sub, m, e.position);
      }
      const std::string_view case_id = CaseIdOfStream(e.stream);
      if (case_id.empty()) continue;
      auto feed = case_feeds_.find(case_id);
      if (feed == case_feeds_.end()) continue;
      if (e.position <= feed->second->state.position) continue;
      Status s = ApplyToCase(&feed->second->state, e);
      if (!s.ok()) continue;  // the projector decoded it; cannot happen
      const std::string channel = "case/" + std::string(case_id);
      auto* subs = subscribers(channel);
      if (!subs) continue;
      std::array<PushMessage, kCaseSights> by_sight;  // CaseSight order
      for (auto& sub : *subs) {
        const CaseSight sight = SightOf(sub->who, feed->second->state);
        PushMessage& m = by_sight[static_cast<std::size_t>(sight)];
        if (!m) m = CaseEventMessage(channel, e, feed->second->state, sight);
        Deliver(*sub, m, e.position);
      }
    }
  }
  // cell/{path}: each changed case's view, in position order, on every
  // channel of a subtree that holds it.
  std::vector<std::size_t> order(changes.cases.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return changes.case_states[a]->position < changes.case_states[b]->position;
  });
  for (std::size_t i : order) {
    const CaseState* state = changes.case_states[i];
    if (state == nullptr) continue;
    std::string shown_view, masked_view;
    for (std::string_view path : PathsCovering(state->report.cell)) {
      const std::string channel = "cell/" + std::string(path);
      auto* subs = subscribers(channel);
      if (!subs) continue;
      PushMessage shown, masked;
      for (auto& sub : *subs) {
        const bool handles = HandlesTheCase(sub->who, state->assignee);
        PushMessage& m = handles ? shown : masked;
        if (!m) {
          std::string& view = handles ? shown_view : masked_view;
          if (view.empty()) {
            view = RenderCaseView(*state, handles ? PersonalData::kShown : PersonalData::kMasked);
          }
          m = Message("view", channel, state->position, {{"view", view}});
        }
        Deliver(*sub, m, state->position, state->case_id);
      }
    }
  }
  // dashboard/{path}: the node's view after the batch, as folded (what the
  // views just wrote, without reading it back).
  for (std::size_t i = 0; i < changes.nodes.size(); ++i) {
    const std::string& node = changes.nodes[i];
    const std::string channel = "dashboard/" + node;
    auto* subs = subscribers(channel);
    if (!subs) continue;
    const std::string view = projector_->RenderDashboardNode(node, *changes.node_states[i],
                                                             changes.position, clock_->NowMillis());
    auto m = Message("view", channel, changes.position, {{"view", view}});
    for (auto& sub : *subs) Deliver(*sub, m, changes.position);
  }
  // alerts: raised and acknowledged, in position order per person.
  // An alert or its acknowledgment goes to the subscribers whose cells hold
  // its case (an acknowledgment's cell read from the log: CellOfAlert).
  struct AlertNote {
    Position position;
    std::string key;
    std::string alert;
    std::optional<std::string> cell;  // none: only for the whole jurisdiction
  };
  std::vector<AlertNote> notes;
  for (const Alert& a : changes.alerts) {
    std::string key = "alerts/" + a.person;
    if (subscribers(key)) notes.push_back({a.position, std::move(key), RenderAlert(a), a.cell});
  }
  for (std::size_t i = 0; i < changes.acknowledged.size(); ++i) {
    const AlertAcknowledgement& ack = changes.acknowledged[i];
    std::string key = "alerts/" + ack.person;
    if (!subscribers(key)) continue;
    notes.push_back(
        {ack.position, std::move(key), AcknowledgedJson(ack.alert_id), std::move(ack_cells[i])});
  }
  std::stable_sort(notes.begin(), notes.end(),
                   [](const AlertNote& a, const AlertNote& b) { return a.position < b.position; });
  for (const AlertNote& note : notes) {
    auto m = Message("alert", "alerts", note.position, {{"alert", note.alert}});
    for (auto& sub : *subscribers(note.key)) {
      if (!InScope(sub->who, note.cell ? *note.cell : std::string_view())) continue;
      Deliver(*sub, m, note.position);
    }
  }
  dispatched_ = std::max(dispatched_, changes.position);
  dispatched_cv_.notify_all();
}

void PushHub::Fail(const std::shared_ptr<PushSink>& sink, std::int64_t request_id,
                   const Status& why) {
  JsonWriter j;
  j.BeginObject().Key("type").String("error").Key("id").Int(request_id);
  j.Key("error").Raw(ErrorJson(why)).EndObject();
  sink->Push(std::make_shared<const std::string>(j.Take()), nullptr);
}

void PushHub::Subscribe(const std::shared_ptr<PushSink>& sink, const Principal& who,
                        std::int64_t request_id, const std::string& channel,
                        std::optional<Position> after) {
  // An op read before its connection ended may come after the Drop: taken,
  // it would never be dropped.
  if (sink->Ended()) return;
  auto parsed = ParsePushChannel(channel);
  if (!parsed.ok()) return Fail(sink, request_id, parsed.status());
  auto sub = std::make_shared<Sub>();
  sub->sink = sink;
  sub->sink_key = sink.get();
  sub->who = who;
  sub->request_id = request_id;
  sub->channel = channel;
  sub->kind = parsed->kind;
  sub->target = parsed->target;
  sub->index_key = sub->kind == ChannelKind::kAlerts ? "alerts/" + who.sub : channel;
  {
    std::lock_guard l(mu_);
    auto& mine = by_sink_[sink.get()];
    for (const auto& other : mine) {
      if (other->channel == channel) {
        return Fail(sink, request_id,
                    Status::Conflict("channel " + channel + ": already subscribed"));
      }
    }
    mine.push_back(sub);
    metrics_->subscriptions_open.Increment();
    QueueSetup(sink.get(), sub, after);
  }
}

void PushHub::QueueSetup(const PushSink* key, const std::shared_ptr<Sub>& sub,
                         std::optional<Position> after) {
  auto [waiting, first] = setups_.try_emplace(key);
  if (!first) {
    waiting->second.emplace_back(sub, after);
    return;
  }
  PostSetup(key, sub, after);
}

void PushHub::PostSetup(const PushSink* key, const std::shared_ptr<Sub>& sub,
                        std::optional<Position> after) {
  PostStep(sub, [this, key, sub, after] {
    struct Done {  // however the setup ends, an exception included
      PushHub* hub;
      const PushSink* key;
      ~Done() { hub->SetupDone(key); }
    } done{this, key};
    Setup(sub, after);
  });
}

void PushHub::SetupDone(const PushSink* key) {
  std::lock_guard l(mu_);
  auto it = setups_.find(key);
  if (it == setups_.end()) return;
  if (it->second.empty()) {
    setups_.erase(it);
    return;
  }
  auto [sub, after] = std::move(it->second.front());
  it->second.pop_front();
  PostSetup(key, sub, after);
}

void PushHub::PostStep(const std::shared_ptr<Sub>& sub, std::function<void()> step) {
  boost::asio::post(pool_, [this, sub, step = std::move(step)] {
    try {
      step();
    } catch (const std::exception& e) {
      metrics_->errors.Increment();
      std::fprintf(stderr, "casegrid: subscription %s ended on an exception: %s\n",
                   sub->channel.c_str(), e.what());
      {
        std::lock_guard l(mu_);
        Remove(sub);
      }
      if (auto sink = sub->sink.lock()) {
        Fail(sink, sub->request_id,
             Status::Unavailable("channel " + sub->channel + ": the server could not go on (" +
                                 e.what() + "); subscribe again"));
      }
    }
  });
}

bool PushHub::Unsubscribe(const PushSink* sink, const std::string& channel) {
  std::lock_guard l(mu_);
  auto it = by_sink_.find(sink);
  if (it == by_sink_.end()) return false;
  for (auto& sub : it->second) {
    if (sub->channel == channel) {
      auto keep = sub;
      Remove(keep);
      return true;
    }
  }
  return false;
}

void PushHub::Drop(const PushSink* sink) {
  std::lock_guard l(mu_);
  auto it = by_sink_.find(sink);
  if (it == by_sink_.end()) return;
  auto subs = it->second;
  for (auto& sub : subs) Remove(sub);
}

void PushHub::Remove(const std::shared_ptr<Sub>& sub) {
  if (sub->removed) return;
  sub->removed = true;
  sub->pending.clear();
  sub->pending_bytes = 0;
  metrics_->subscriptions_open.Decrement();
  if (auto it = by_sink_.find(sub->sink_key); it != by_sink_.end()) {
    std::erase(it->second, sub);
    if (it->second.empty()) by_sink_.erase(it);
  }
  if (!sub->registered) return;
  if (auto it = by_channel_.find(sub->index_key); it != by_channel_.end()) {
    std::erase(it->second, sub);
    if (it->second.empty()) by_channel_.erase(it);
  }
  if (sub->kind == ChannelKind::kCase) {
    auto feed = case_feeds_.find(sub->target);
    if (feed != case_feeds_.end() && --feed->second->subscribers == 0) case_feeds_.erase(feed);
  }
}

void PushHub::Setup(std::shared_ptr<Sub> sub, std::optional<Position> after) {
  auto sink = sub->sink.lock();
  if (!sink || stopped_) return;  // a sink that went has dropped its subscriptions
  auto refuse = [&](const Status& why) {
    {
      std::lock_guard l(mu_);
      Remove(sub);
    }
    Fail(sink, sub->request_id, why);
  };
  const Principal& who = sub->who;
  // Who may subscribe to what, as on HTTP.
  switch (sub->kind) {
    case ChannelKind::kEvents:
      if (Status s = MayReadTheLog(who); !s.ok()) return refuse(s);
      break;
    case ChannelKind::kCase: {
      if (Status s = MayReadCases(who); !s.ok()) return refuse(s);
      auto state = service_->LoadCase(sub->target);
      if (!state.ok()) return refuse(state.status());
      if (!state->exists) return refuse(Status::NotFound("no case " + sub->target));
      if (!InScope(who, state->report.cell)) {
        return refuse(Status::PermissionDenied("case " + sub->target + " is outside your cells"));
      }
      break;
    }
    case ChannelKind::kCell:
    case ChannelKind::kDashboard: {
      if (Status s = MayReadCases(who); !s.ok()) return refuse(s);
      if (!InScope(who, sub->target)) {
        return refuse(Status::PermissionDenied(
            (sub->target.empty() ? std::string("the root") : "cell " + sub->target) +
            " is outside your cells"));
      }
      auto view = projector_->Dashboard(sub->target, clock_->NowMillis());
      if (!view.ok()) return refuse(view.status());
      break;
    }
    case ChannelKind::kAlerts:
      if (Status s = MayReadCases(who); !s.ok()) return refuse(s);
      break;
  }
  const Position head = service_->store().Head().position;
  if (after && *after > head) {
    return refuse(Status::InvalidArgument("after: position " + std::to_string(*after) +
                                          " is beyond the log's head " + std::to_string(head)));
  }
  {
    std::lock_guard l(mu_);
    if (sub->removed) return;
    std::size_t admitted = 0;
    if (auto mine = by_sink_.find(sub->sink_key); mine != by_sink_.end()) {
      for (const auto& other : mine->second) admitted += other->admitted ? 1 : 0;
    }
    if (admitted >= sink->MaxSubscriptions()) {
      Remove(sub);
      return Fail(sink, sub->request_id,
                  Status::TooLarge("at most " + std::to_string(sink->MaxSubscriptions()) +
                                   " subscriptions per connection"));
    }
    sub->admitted = true;
  }
  // Register: from here on every batch reaches the subscription. First let
  // the views reach what was committed before this subscribe (briefly), so
  // that a snapshot shows the writes its client already saw answered.
  auto wait_for_head = [&](std::unique_lock<std::mutex>& l) {
    dispatched_cv_.wait_for(l, std::chrono::seconds(2),
                            [&] { return dispatched_ >= head || stopped_; });
  };
  // A case channel's first subscriber starts the case's feed, from the case
  // as of the registration. It is folded from the log here, outside the
  // hub's lock, which every batch takes: as of what was dispatched so far,
  // and under the lock only the events the case gained meanwhile, if any
  // (usually none: the store's LastChangeBound says so without a read).
  CaseState folded;
  Position folded_at = 0;
  if (sub->kind == ChannelKind::kCase) {
    bool fed = false;
    {
      std::unique_lock l(mu_);
      wait_for_head(l);
      folded_at = dispatched_;
      fed = case_feeds_.contains(sub->target);
    }
    if (fed) {
      folded_at = 0;  // the feed is there; should it go meanwhile, all is folded below
    } else if (Status s = FoldCaseOnto(service_->store(), sub->target, folded_at, &folded);
               !s.ok()) {
      return refuse(s);
    }
  }
  Position registered_at = 0;
  Status feed_status = Status::Ok();
  {
    std::unique_lock l(mu_);
    wait_for_head(l);
    if (sub->removed) return;
    registered_at = dispatched_;
    if (sub->kind == ChannelKind::kCase) {
      auto feed = case_feeds_.find(sub->target);
      if (feed == case_feeds_.end()) {
        if (registered_at > folded_at &&
            service_->store().LastChangeBound(CaseStream(sub->target)) > folded_at) {
          feed_status = FoldCaseOnto(service_->store(), sub->target, registered_at, &folded);
        }
        if (feed_status.ok()) {
          auto made = std::make_unique<CaseFeed>();
          made->state = std::move(folded);
          feed = case_feeds_.emplace(sub->target, std::move(made)).first;
        }
      }
      if (feed_status.ok()) {
        feed->second->subscribers++;
        // The case as of registered_at: the snapshot (a catch-up from
        // `after` folds its own, below).
        if (!after) sub->fold = feed->second->state;
      }
    }
    if (feed_status.ok()) {
      sub->registered = true;
      sub->target_position = registered_at;
      sub->cursor = after ? std::min(*after, registered_at) : registered_at;
      sub->floor = after ? *after : registered_at;
      by_channel_[sub->index_key].push_back(sub);
    }
  }
  if (!feed_status.ok()) return refuse(feed_status);
  // The first answer: "subscribed", with a snapshot when there is no `after`.
  JsonWriter j;
  j.BeginObject().Key("type").String("subscribed").Key("id").Int(sub->request_id);
  j.Key("channel").String(sub->channel);
  j.Key("position").Int(static_cast<std::int64_t>(after ? *after : registered_at));
  Status snapshot_status = Status::Ok();
  if (!after) {
    j.Key("snapshot");
    switch (sub->kind) {
      case ChannelKind::kEvents:
        j.Null();
        break;
      case ChannelKind::kCase:
        j.Raw(RenderCaseView(sub->fold, ViewSight(SightOf(who, sub->fold))));
        break;
      case ChannelKind::kCell: {
        // The subtree's board: its cases still to be worked or closed (a
        // closed one would crowd open ones out of the 500). Live, every
        // change follows, a closing too.
        CaseQuery query;
        query.cell = sub->target;
        query.not_closed = true;
        query.limit = options_.max_snapshot_cases;
        auto page = projector_->ListCases(query);
        if (!page.ok()) {
          snapshot_status = page.status();
          break;
        }
        j.BeginObject().Key("cases").BeginArray();
        std::map<std::string, Position, std::less<>> newer;
        simdjson::dom::parser parser;
        for (const std::string& view : page->views) {
          auto head = ReadViewHead(parser, view);
          if (!head || head->case_id.empty()) continue;
          if (head->position > registered_at) newer.emplace(head->case_id, head->position);
          if (HandlesTheCase(who, head->assignee)) {
            j.Raw(view);
          } else {
            auto state = service_->LoadCase(head->case_id);
            if (state.ok()) j.Raw(RenderCaseView(*state, PersonalData::kMasked));
          }
        }
        j.EndArray().Key("truncated").Bool(page->next.has_value()).EndObject();
        std::lock_guard l(mu_);
        sub->snapshot_newer = std::move(newer);
        break;
      }
      case ChannelKind::kDashboard: {
        auto view = projector_->Dashboard(sub->target, clock_->NowMillis());
        if (!view.ok()) {
          snapshot_status = view.status();
          break;
        }
        j.Raw(*view);
        std::lock_guard l(mu_);
        sub->floor = std::max(sub->floor, ViewPosition(*view));
        break;
      }
      case ChannelKind::kAlerts: {
        auto alerts = projector_->OpenAlertsBetween(
            who.sub, 0, registered_at, options_.max_snapshot_alerts, true, AlertsVisibleTo(who));
        if (!alerts.ok()) {
          snapshot_status = alerts.status();
          break;
        }
        j.BeginObject().Key("alerts").BeginArray();
        for (const auto& [position, alert] : *alerts) j.Raw(alert);
        j.EndArray().EndObject();
        break;
      }
    }
  } else if (sub->kind == ChannelKind::kCase) {
    auto state = FoldCase(service_->store(), sub->target, sub->cursor);
    if (!state.ok()) {
      snapshot_status = state.status();
    } else {
      sub->fold = std::move(*state);
    }
  }
  if (!snapshot_status.ok()) return refuse(snapshot_status);
  if (after) j.Key("snapshot").Null();  // what was missed follows instead
  j.EndObject();
  auto subscribed = std::make_shared<const std::string>(j.Take());
  if (subscribed->size() > sink->MaxMessageBytes()) {
    return refuse(Status::TooLarge(
        "the snapshot of " + sub->channel + " is " + std::to_string(subscribed->size()) +
        " bytes, more than this connection's send queue holds (" +
        std::to_string(sink->MaxMessageBytes()) +
        " bytes, --ws-queue-bytes): subscribe with after to get what changes only"));
  }
  // An auditor's read is recorded once it has succeeded: a subscribe refused
  // above (its snapshot too large included) writes nothing, nor does one
  // whose connection has ended or that was dropped meanwhile (it will never
  // be answered).
  if (sink->Ended()) return;
  {
    std::lock_guard l(mu_);
    if (sub->removed) return;
  }
  if (who.role == Role::kAuditor) {
    if (Status s = RecordAuditRead(service_->store(), who.sub, "ws:" + sub->channel); !s.ok()) {
      return refuse(s);
    }
  }
  if (!sink->Push(std::move(subscribed), nullptr)) return;
  CatchUpStep(std::move(sub));
}

void PushHub::CatchUpStep(std::shared_ptr<Sub> sub) {
  auto sink = sub->sink.lock();
  if (!sink || stopped_) return;  // a sink that went has dropped its subscriptions
  Position upto = 0, cursor = 0;
  {
    std::lock_guard l(mu_);
    if (sub->removed) return;
    upto = sub->target_position;
    cursor = sub->cursor;
  }
  auto again = [this, sub, &sink] {
    sink->WhenDrained([this, sub] {
      if (!stopped_) PostStep(sub, [this, sub] { CatchUpStep(sub); });
    });
  };
  if (cursor < upto) {
    bool done = false;
    if (Status s = CatchUpPage(*sub, *sink, upto, &done); !s.ok()) {
      {
        std::lock_guard l(mu_);
        Remove(sub);
      }
      return Fail(sink, sub->request_id, s);
    }
    if (!done) return again();
  }
  std::lock_guard l(mu_);
  if (sub->removed) return;
  if (sub->overflowed ||
      sub->pending.size() > std::min(options_.catch_up_page, sink->CatchUpBudget()) ||
      sub->pending_bytes > sink->MaxMessageBytes() / 4) {
    // Live messages came faster than the catch-up: read them from the log
    // too, paced by the connection, rather than flooding its queue at once.
    sub->overflowed = false;
    sub->pending.clear();
    sub->pending_bytes = 0;
    sub->target_position = dispatched_;
    return again();
  }
  sub->live = true;
  auto pending = std::move(sub->pending);
  sub->pending.clear();
  sub->pending_bytes = 0;
  for (const Sub::Pending& p : pending) Deliver(*sub, p.message, p.position, p.case_id);
}

Status PushHub::CatchUpPage(Sub& sub, PushSink& sink, Position upto, bool* done) {
  const std::size_t page =
      std::max<std::size_t>(1, std::min(options_.catch_up_page, sink.CatchUpBudget()));
  Position cursor = 0;
  {
    std::lock_guard l(mu_);
    cursor = sub.cursor;
  }
  auto advance = [&](Position to) {
    std::lock_guard l(mu_);
    sub.cursor = to;
  };
  // A page is bounded in bytes too, at the share of the queue its messages
  // may take (a quarter): 256 events of 60 KB would cross the queue's 8 MiB
  // and close a client that keeps up with 1013, again at each resume (a
  // black-box probe of session 22). Each page takes at least one event.
  // And all the pages a connection's channels catch up with at once stay
  // within it together: a page stops, before an event, once the queue is
  // backlogged (PushSink::Backlogged), and waits for it to drain.
  const std::size_t page_bytes = std::max<std::size_t>(1, sink.MaxMessageBytes() / 4);
  *done = false;
  if (sink.Backlogged()) return Status::Ok();  // the next page once it drains
  std::size_t pushed_bytes = 0;
  auto push = [&](const PushMessage& m) {
    pushed_bytes += m->size();
    sink.Push(m, nullptr);
  };
  auto page_full = [&] { return pushed_bytes >= page_bytes || sink.Backlogged(); };
  // The next page of the log in (cursor, upto], an event at a time; the
  // cursor reaches upto once the page shows the window holds no more.
  auto log_page = [&](auto&& each) -> Status {
    ASSIGN_OR_RETURN(auto events, service_->store().ReadAll(cursor, page));
    bool full = false;
    for (const RecordedEvent& e : events) {
      if (e.position > upto) break;
      if ((full = page_full())) break;
      RETURN_IF_ERROR(each(e));
      cursor = e.position;
    }
    if (!full && (events.size() < page || cursor >= upto || events.back().position > upto)) {
      cursor = upto;
    }
    return Status::Ok();
  };
  switch (sub.kind) {
    case ChannelKind::kEvents:
      RETURN_IF_ERROR(log_page([&](const RecordedEvent& e) {
        push(Message("event", "events", e.position, {{"event", e.EnvelopeJson()}}));
        return Status::Ok();
      }));
      break;
    case ChannelKind::kCase: {
      // Sight is decided by who handles the case now, as on HTTP: a former
      // assignee resuming does not see again what they no longer may.
      ASSIGN_OR_RETURN(const CaseState now, service_->LoadCase(std::string(sub.target)));
      const CaseSight sight = SightOf(sub.who, now);
      ASSIGN_OR_RETURN(auto events,
                       service_->store().ReadStream(CaseStream(sub.target), sub.fold.version + 1,
                                                    page, ReadDirection::kForward));
      bool beyond = false;
      bool full = false;
      for (const RecordedEvent& e : events) {
        if (e.position > upto) {
          beyond = true;
          break;
        }
        if ((full = page_full())) break;
        RETURN_IF_ERROR(ApplyToCase(&sub.fold, e));
        push(CaseEventMessage(sub.channel, e, sub.fold, sight));
        cursor = e.position;
      }
      if (!full && (beyond || events.size() < page)) cursor = upto;
      break;
    }
    case ChannelKind::kAlerts: {
      // The alerts raised in the window and still open, and every
      // acknowledgment in it, merged in position order: a client ends the
      // catch-up with the open alerts as they stand. A page reaches as far
      // as both sources are known to be complete.
      ASSIGN_OR_RETURN(auto alerts, projector_->OpenAlertsBetween(sub.who.sub, cursor, upto, page,
                                                                  false, AlertsVisibleTo(sub.who)));
      ASSIGN_OR_RETURN(auto acks, projector_->AcknowledgmentsBetween(
                                      sub.who.sub, cursor, upto, page, AlertsVisibleTo(sub.who)));
      Position reach = upto;
      if (alerts.size() >= page) reach = std::min(reach, alerts.back().first);
      if (acks.size() >= page) reach = std::min(reach, acks.back().first);
      auto alert = alerts.begin();
      auto ack = acks.begin();
      while (true) {
        const bool alert_next = alert != alerts.end() && alert->first <= reach &&
                                (ack == acks.end() || alert->first < ack->first);
        if (alert_next) {
          push(Message("alert", "alerts", alert->first, {{"alert", alert->second}}));
          ++alert;
        } else if (ack != acks.end() && ack->first <= reach) {
          push(Message("alert", "alerts", ack->first, {{"alert", AcknowledgedJson(ack->second)}}));
          ++ack;
        } else {
          break;
        }
      }
      cursor = reach;
      break;
    }
    case ChannelKind::kDashboard: {
      ASSIGN_OR_RETURN(std::string view, projector_->Dashboard(sub.target, clock_->NowMillis()));
      const Position at = ViewPosition(view);
      {
        std::lock_guard l(mu_);
        sub.floor = std::max(sub.floor, at);
      }
      push(Message("view", sub.channel, at, {{"view", view}}));
      cursor = upto;
      break;
    }
    case ChannelKind::kCell: {
      // The cases of the subtree whose view last changed in (cursor, upto],
      // in position order: the window's log read a page at a time, and a
      // case event kept when its case lies under the cell and its view is
      // still from that event (a view changed after upto comes live). Work
      // and memory per step are bounded by the page, not the subtree.
      simdjson::dom::parser parser;
      RETURN_IF_ERROR(log_page([&](const RecordedEvent& e) -> Status {
        const std::string_view id = CaseIdOfStream(e.stream);
        if (id.empty()) return Status::Ok();
        ASSIGN_OR_RETURN(std::optional<std::string> view, projector_->CaseView(id));
        if (!view) return Status::Ok();
        auto head = ReadViewHead(parser, *view);
        if (!head || head->position != e.position || !CellWithin(head->cell, sub.target)) {
          return Status::Ok();
        }
        if (HandlesTheCase(sub.who, head->assignee)) {
          push(Message("view", sub.channel, e.position, {{"view", *view}}));
          return Status::Ok();
        }
        ASSIGN_OR_RETURN(CaseState state, FoldCase(service_->store(), id, e.position));
        push(Message("view", sub.channel, e.position,
                     {{"view", RenderCaseView(state, PersonalData::kMasked)}}));
        return Status::Ok();
      }));
      break;
    }
  }
  advance(cursor);
  *done = cursor >= upto;
  return Status::Ok();
}

}  // namespace casegrid
