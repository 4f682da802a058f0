// PushHub's setup of a subscription (its checks, then a snapshot or a
// catch-up from `after`) and the catch-up's steps, a page at a time on the
// hub's pool as the connection's queue drains (push_hub.h).
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

namespace {

// A dashboard is sent whole, its snapshot and each change alike, and, as a
// catch-up page, in a quarter of the send queue at most (a message that
// fills the queue leaves no room for the next: review 102).
Status DashboardTooLarge(const std::string& channel, std::size_t bytes, const PushSink& sink) {
  return Status::TooLarge("the view of " + channel + " is " + std::to_string(bytes) +
                          " bytes, more than a quarter of this connection's send queue (" +
                          std::to_string(sink.MaxMessageBytes()) +
                          " bytes, --ws-queue-bytes); a dashboard is sent whole, with after "
                          "too: the server's send queue must be larger");
}

}  // namespace

void PushHub::Setup(std::shared_ptr<Sub> sub, std::optional<Position> after) {
  auto sink = sub->sink.lock();
  if (!sink || stopped_) return;  // a sink that went has dropped its subscriptions
  // Refused, it is answered under the hub's lock, and not once an
  // unsubscribe removed it (an error after "unsubscribed"; review 73).
  auto refuse = [&](const Status& why) {
    std::lock_guard l(mu_);
    if (sub->removed) return;
    Remove(sub);
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
    if (dispatched_ < head) projector_->Hurry(head);
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
        if (!after) sub->fold = std::make_unique<CaseState>(feed->second->state);
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
  // A dashboard is sent whole, its snapshot and its catch-up alike: one the
  // queue cannot hold is refused here, with `after` too (black-box probe
  // 101: with a small --ws-queue-bytes it was answered never and closed
  // with 1013 at every resume).
  std::string dashboard;
  if (sub->kind == ChannelKind::kDashboard) {
    auto view = projector_->Dashboard(sub->target, clock_->NowMillis());
    if (!view.ok()) return refuse(view.status());
    if (view->size() > sink->MaxMessageBytes() / 4) {
      return refuse(DashboardTooLarge(sub->channel, view->size(), *sink));
    }
    dashboard = std::move(*view);
  }
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
        j.Raw(RenderCaseView(*sub->fold, ViewSight(SightOf(who, *sub->fold))));
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
        // The board also fits a quarter of the connection's send queue (as a
        // catch-up page does): it is cut where the next view would not, and
        // says so as past the 500 (black-box probe 97: 480 intakes of
        // quote-filled text, each field within its bound, made views of 20 KB
        // escaped, and the board was refused whole at the default 8 MiB). A
        // board cut to the whole queue left no room for what follows it, and
        // the next live view closed the connection with 1013 (review 102).
        // What its tail adds is kept aside.
        constexpr std::size_t kBoardTailBytes = 64;
        const std::size_t room = sink->MaxMessageBytes() / 4;
        bool cut = false;
        for (const std::string& view : page->views) {
          auto head = ReadViewHead(parser, view);
          if (!head || head->case_id.empty()) continue;
          Position newest = head->position;
          std::optional<std::string> rendered;  // what is sent, when not `view`
          if (!HandlesTheCase(who, head->assignee)) {
            // Not theirs as of the view read: rendered from the case as it
            // stands now, which may be past that view (and past
            // registered_at): what live brings up to it is not sent again,
            // as for a view read newer (review 93: it followed the
            // snapshot, a step back). Shown if it is theirs now: what live
            // would send at its position (review 94: masked, and the shown
            // view at it not sent again).
            auto state = service_->LoadCase(head->case_id);
            if (!state.ok()) {
              snapshot_status = state.status();  // not a board with a case left out
              break;
            }
            newest = std::max(newest, state->position);
            rendered = RenderCaseView(*state, HandlesTheCase(who, state->assignee)
                                                  ? PersonalData::kShown
                                                  : PersonalData::kMasked);
          }
          const std::string& sent = rendered ? *rendered : view;
          if (j.size() + sent.size() + 1 + kBoardTailBytes > room) {
            cut = true;  // its changes come live, as a case's past the 500 do
            break;
          }
          if (newest > registered_at) newer.emplace(head->case_id, newest);
          j.Raw(sent);
        }
        if (!snapshot_status.ok()) break;
        j.EndArray().Key("truncated").Bool(cut || page->next.has_value()).EndObject();
        std::lock_guard l(mu_);
        sub->snapshot_newer = std::move(newer);
        break;
      }
      case ChannelKind::kDashboard: {
        j.Raw(dashboard);
        std::lock_guard l(mu_);
        sub->floor = std::max(sub->floor, ViewPosition(dashboard));
        break;
      }
      case ChannelKind::kAlerts: {
        // One more than is sent tells whether there are more (`truncated`,
        // as the cell board says: the screen's count is then the list's).
        auto alerts = projector_->OpenAlertsBetween(who.sub, 0, registered_at,
                                                    options_.max_snapshot_alerts + 1, true,
                                                    AlertsVisibleTo(who));
        if (!alerts.ok()) {
          snapshot_status = alerts.status();
          break;
        }
        const bool truncated = alerts->size() > options_.max_snapshot_alerts;
        if (truncated) alerts->resize(options_.max_snapshot_alerts);
        j.BeginObject().Key("alerts").BeginArray();
        for (const auto& [position, alert] : *alerts) j.Raw(alert);
        j.EndArray().Key("truncated").Bool(truncated).EndObject();
        break;
      }
    }
  } else if (sub->kind == ChannelKind::kCase) {
    auto state = FoldCase(service_->store(), sub->target, sub->cursor);
    if (!state.ok()) {
      snapshot_status = state.status();
    } else {
      sub->fold = std::make_unique<CaseState>(std::move(*state));
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
    // With its `after`, as HTTP records a page's: where a catch-up began
    // is what it read.
    const std::string target =
        "ws:" + sub->channel + (after ? "?after=" + std::to_string(*after) : std::string());
    if (Status s = RecordAuditRead(service_->store(), who.sub, target); !s.ok()) {
      return refuse(s);
    }
  }
  {
    // Under the lock, as every catch-up message: an unsubscribe that came
    // meanwhile is answered before it or not at all, never followed by it.
    std::lock_guard l(mu_);
    if (sub->removed) return;
    sub->answered = true;
    if (!sink->Push(std::move(subscribed), 0)) return;
  }
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
      std::lock_guard l(mu_);
      if (sub->removed) return;
      Remove(sub);
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
  if (!sub->pending.empty() && sink->Backlogged()) {
    // Its held messages wait for the queue to drain, as a page does: the
    // channels of a connection that go live together would each flush up
    // to a quarter of the queue at once, and close a client that keeps up
    // with 1013 (review 93).
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
  // Each message is queued under the hub's lock, and not once the
  // subscription is removed: an unsubscribe (which removes it under the
  // lock, then answers) is then answered after every message of its
  // catch-up, and a new subscription to the channel, set up after that
  // answer, never sees the old one's page behind its own messages (a
  // black-box probe of session 27: up to a page came after "unsubscribed",
  // and after a resubscribe's "subscribed", positions going back).
  auto push = [&](const PushMessage& m) {
    pushed_bytes += m->size();
    std::lock_guard l(mu_);
    if (!sub.removed) sink.Push(m, 0);
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
      if (!sub.fold) return Status::Internal("case catch-up without the case's fold");
      // Sight is decided by who handles the case now, as on HTTP: a former
      // assignee resuming does not see again what they no longer may.
      ASSIGN_OR_RETURN(const CaseState now, service_->LoadCase(std::string(sub.target)));
      const CaseSight sight = SightOf(sub.who, now);
      ASSIGN_OR_RETURN(auto events,
                       service_->store().ReadStream(CaseStream(sub.target), sub.fold->version + 1,
                                                    page, ReadDirection::kForward));
      bool beyond = false;
      bool full = false;
      for (const RecordedEvent& e : events) {
        if (e.position > upto) {
          beyond = true;
          break;
        }
        if ((full = page_full())) break;
        RETURN_IF_ERROR(ApplyToCase(sub.fold.get(), e));
        push(CaseEventMessage(sub.channel, e, *sub.fold, sight));
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
      ASSIGN_OR_RETURN(auto read, projector_->AcknowledgmentsBetween(
                                      sub.who.sub, cursor, upto, page, AlertsVisibleTo(sub.who)));
      const auto& acks = read.acks;
      Position reach = std::min(upto, read.through);
      if (alerts.size() >= page) reach = std::min(reach, alerts.back().first);
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
        {
          // A catch-up extended past a snapshot (its live messages came
          // too fast): what the snapshot showed is not sent again (review 93).
          std::lock_guard l(mu_);
          auto shown = sub.snapshot_newer.find(id);
          if (shown != sub.snapshot_newer.end() && e.position <= shown->second) return Status::Ok();
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
