#include "api/push_hub.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <cstdio>

#include "api/http_api.h"
#include "api/push_hub_sub.h"
#include "api/push_messages.h"
#include "engine/case_events.h"
#include "projections/case_view.h"
#include "projections/json_writer.h"

namespace casegrid {

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
  sink->Push(message, sub.kind == ChannelKind::kDashboard ? sub.coalesce_key : 0);
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
  sink->Push(std::make_shared<const std::string>(j.Take()), 0);
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
  sub->coalesce_key = ++last_coalesce_key_;
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
  {
    std::lock_guard l(steps_mu_);
    auto& mine = steps_[sub->who.sub];
    if (mine.empty()) turns_.push_back(sub->who.sub);
    mine.push_back(Step{sub, std::move(step)});
  }
  boost::asio::post(pool_, [this] { RunNextStep(); });
}

void PushHub::RunNextStep() {
  Step next;
  {
    std::lock_guard l(steps_mu_);
    if (turns_.empty()) return;  // (never: one task is posted for each step)
    auto mine = steps_.find(turns_.front());
    turns_.pop_front();
    next = std::move(mine->second.front());
    mine->second.pop_front();
    if (mine->second.empty()) {
      steps_.erase(mine);
    } else {
      turns_.push_back(mine->first);  // its next step after the others' next
    }
  }
  const std::shared_ptr<Sub>& sub = next.sub;
  try {
    next.run();
  } catch (const std::exception& e) {
    metrics_->errors.Increment();
    std::fprintf(stderr, "casegrid: subscription %s ended on an exception: %s\n",
                 sub->channel.c_str(), e.what());
    // Under the lock, and not once an unsubscribe removed it (it has its
    // answer then: review 81), as every refusal.
    std::lock_guard l(mu_);
    if (sub->removed) return;
    Remove(sub);
    if (auto sink = sub->sink.lock()) {
      Fail(sink, sub->request_id,
           Status::Unavailable("channel " + sub->channel + ": the server could not go on (" +
                               e.what() + "); subscribe again"));
    }
  }
}

bool PushHub::Unsubscribe(const PushSink* sink, const std::string& channel) {
  std::lock_guard l(mu_);
  auto it = by_sink_.find(sink);
  if (it == by_sink_.end()) return false;
  for (auto& sub : it->second) {
    if (sub->channel == channel) {
      auto keep = sub;
      Remove(keep);
      // A subscribe still being set up (queued behind the connection's
      // earlier ones, or checking) will not be: it is answered here, before
      // the unsubscribe's own answer, so that every op has one (black-box
      // probe 78: it had none, and a client waiting on its id hung).
      if (!keep->answered) {
        if (auto owner = keep->sink.lock()) {
          Fail(owner, keep->request_id,
               Status::Conflict("channel " + channel +
                                ": unsubscribed before this subscribe was set up"));
        }
      }
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
  if (sub->kind == ChannelKind::kDashboard) {
    if (auto sink = sub->sink.lock()) sink->Forget(sub->coalesce_key);
  }
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

}  // namespace casegrid
