// PushHub: the channels of API.md's WebSocket push, fed by the projector as
// batches of events commit, and the catch-up that makes a subscription with
// `after` gap-free.
//
// Channels and what each message carries (docs/push.md):
//   events            every event                       {"type":"event", "event"}
//   case/{id}         its events and the view after each {"type":"event", "event", "view"}
//   cell/{path}       the view of a case of the subtree as it changes {"type":"view", "view"}
//   dashboard/{path}  the dashboard of the subtree       {"type":"view", "view"} (coalesced)
//   alerts            the caller's alerts, raised and acknowledged {"type":"alert", "alert"}
//
// How a subscription stays gap-free: it is registered under the hub's lock at
// the position P the hub has dispatched through; every batch after P reaches
// it live. Until its catch-up (after, P] has been sent — read from the log,
// or from the views for view channels, a page at a time as the connection's
// queue drains — live messages wait in a bounded buffer; if that overflows,
// the buffer is dropped and the catch-up extends to the new P (the log is the
// history). So a client gets everything in order, once, and a slow one costs
// bounded memory.
//
// Every message is rendered once per batch and shared (one immutable buffer)
// by all subscribers that may see it; personal data is masked for those who
// do not handle the case, as on HTTP.
//
// Files: push_hub.cc (bookkeeping and the live dispatch of each batch),
// push_catch_up.cc (a subscription's setup and catch-up), push_messages.h
// (channels, sights and the messages both send).
//
// Ownership: store, projector and service must outlive the hub.
// Thread-safety: OnBatch from the projector thread; Subscribe, Unsubscribe
// and Drop from any thread; work that reads storage runs on the hub's own
// small pool, never on the caller's thread.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/auth.h"
#include "api/metrics.h"
#include "engine/case_service.h"
#include "engine/clock.h"
#include "projections/projector.h"

namespace casegrid {

using PushMessage = std::shared_ptr<const std::string>;

// Where a subscription's messages go: one connection's bounded send queue.
// Implemented by the WebSocket session.
class PushSink {
 public:
  virtual ~PushSink() = default;
  // Queues `message`. `coalesce` non-zero: a queued, unsent message with the
  // same key is replaced instead (dashboards). A key is one subscription's,
  // never used again by another (an address was, and a resubscribe's first
  // view replaced the old subscription's, queued before its "unsubscribed":
  // review 93). False when the connection is closing, e.g. because this
  // message would cross its bounds (1013).
  virtual bool Push(PushMessage message, std::uint64_t coalesce) = 0;
  // `coalesce`'s subscription has ended: a view of it the sink holds back
  // (WsOptions::dashboard_interval) is dropped, never sent after the
  // subscription's "unsubscribed". Called under the hub's lock.
  virtual void Forget(std::uint64_t /*coalesce*/) {}
  // Runs `resume` (on any thread) once the queue is short enough for the
  // next page of a catch-up; never if the connection closes first.
  virtual void WhenDrained(std::function<void()> resume) = 0;
  // The most messages one catch-up step may queue at once (a fraction of
  // the queue's bound, so that a catch-up always fits).
  virtual std::size_t CatchUpBudget() const = 0;
  // True while the queue holds more than a quarter of its bound (bytes or
  // messages), where WhenDrained waits: a catch-up's page stops there, so
  // that the catch-ups of all a connection's channels together stay within
  // the queue (each page was bounded alone, and a client resuming many
  // channels at once that kept up was closed with 1013).
  virtual bool Backlogged() const = 0;
  // The largest message the queue could ever take (its byte bound): a
  // subscription whose first answer is larger is refused, not closed with
  // 1013, which a client would take for "try again" forever.
  virtual std::size_t MaxMessageBytes() const = 0;
  // The most subscriptions the connection may hold. A subscribe counts once
  // it has passed its checks (scope, existence, `after`): one that will
  // fail takes no place, even while it is being set up. A connection's
  // subscribes are set up one at a time, in the order they came.
  virtual std::size_t MaxSubscriptions() const = 0;
  // True once the connection has ended. Its owner calls PushHub::Drop then
  // (WsSession::End, which its destructor calls too), so a subscription
  // asked for after that is not taken: nothing would drop it.
  virtual bool Ended() const = 0;
};

struct PushOptions {
  std::size_t catch_up_page = 256;           // messages read per catch-up step
  std::size_t max_pending = 4096;            // live messages held during a catch-up
  std::size_t max_pending_bytes = 16 << 20;  // and their bytes (shared buffers)
  std::size_t max_snapshot_cases = 500;      // case views in a cell snapshot
  std::size_t max_snapshot_alerts = 200;
  int threads = 2;  // the pool for subscribes and catch-ups
};

class PushHub {
 public:
  // `metrics` counts subscriptions and messages pushed.
  PushHub(CaseService* service, Projector* projector, const Clock* clock, ApiMetrics* metrics,
          PushOptions options = {});
  ~PushHub();
  PushHub(const PushHub&) = delete;
  PushHub& operator=(const PushHub&) = delete;

  // The position the views stood at when push began (before projector Start).
  void Begin(Position at);
  // One applied batch (the projector's listener).
  void OnBatch(const ViewChanges& changes);

  // Subscribes `sink` to `channel` for `who`. The answer — "subscribed" (and
  // the catch-up, or a snapshot), or an "error" with `request_id` — arrives
  // through the sink. `after` beyond the head is a bad_request.
  void Subscribe(const std::shared_ptr<PushSink>& sink, const Principal& who,
                 std::int64_t request_id, const std::string& channel,
                 std::optional<Position> after);
  // Ends `sink`'s subscription to `channel`; false if it had none. One not
  // yet answered "subscribed" (still being set up) is answered first, with
  // an error (conflict) to its request id: every op has an answer.
  bool Unsubscribe(const PushSink* sink, const std::string& channel);
  // Ends all of `sink`'s subscriptions (its connection closed).
  void Drop(const PushSink* sink);
  // `sink`'s open subscriptions (counting those still being set up, which
  // may yet fail).
  std::size_t SubscriptionsOf(const PushSink* sink) const;

  Position dispatched() const;
  // Stops the pool: no more catch-ups. Called before the projector stops.
  void Stop();

 private:
  struct Sub;
  struct CaseFeed;
  void Setup(std::shared_ptr<Sub> sub, std::optional<Position> after);
  // A connection's subscribes are set up one at a time, in the order they
  // came (up to the admission that counts against MaxSubscriptions), so that
  // the one refused past the bound is always the last asked for, not
  // whichever a pool thread finished last. Queues `sub`'s setup behind the
  // connection's setup under way, or posts it.
  void QueueSetup(const PushSink* key, const std::shared_ptr<Sub>& sub,
                  std::optional<Position> after);  // mu_ held
  void PostSetup(const PushSink* key, const std::shared_ptr<Sub>& sub,
                 std::optional<Position> after);
  // The end of a connection's setup: posts its next one, if any.
  void SetupDone(const PushSink* key);
  void CatchUpStep(std::shared_ptr<Sub> sub);
  // Runs `step` of `sub` on the pool, in turn with the steps of other token
  // subjects: each subject's steps in the order posted, the subjects taking
  // one step each round (review 93: a token's many catch-ups, a whole log
  // scanned each, held every other user's subscribes and pages behind
  // them). An exception (an allocation that failed, a storage library's)
  // ends that subscription with an error (unavailable), not the process.
  void PostStep(const std::shared_ptr<Sub>& sub, std::function<void()> step);
  // One pool task: the next subject's next step (PostStep posts one each).
  void RunNextStep();
  Status CatchUpPage(Sub& sub, PushSink& sink, Position upto, bool* done);
  // `case_id`: whose view a cell channel's message is ("" otherwise).
  void Deliver(Sub& sub, const PushMessage& message, Position position,
               std::string_view case_id = {});
  void Fail(const std::shared_ptr<PushSink>& sink, std::int64_t request_id, const Status& why);
  void Remove(const std::shared_ptr<Sub>& sub);  // mu_ held

  CaseService* const service_;
  Projector* const projector_;
  const Clock* const clock_;
  const PushOptions options_;
  ApiMetrics* const metrics_;
  boost::asio::thread_pool pool_;
  std::atomic<bool> stopped_{false};
  std::atomic<std::uint64_t> last_coalesce_key_{0};  // Sub::coalesce_key
  // The steps waiting for the pool, by token subject, and the subjects'
  // turns (each listed once while it has steps).
  struct Step {
    std::shared_ptr<Sub> sub;
    std::function<void()> run;
  };
  std::mutex steps_mu_;
  std::map<std::string, std::deque<Step>, std::less<>> steps_;  // guarded by steps_mu_
  std::deque<std::string> turns_;                               // guarded by steps_mu_

  mutable std::mutex mu_;
  std::condition_variable dispatched_cv_;  // dispatched_ grew
  // Guarded by mu_.
  Position dispatched_ = 0;
  std::map<std::string, std::vector<std::shared_ptr<Sub>>, std::less<>> by_channel_;
  std::map<const PushSink*, std::vector<std::shared_ptr<Sub>>> by_sink_;
  // Per connection with a setup under way: the subscribes (and their
  // `after`) waiting behind it.
  std::map<const PushSink*, std::deque<std::pair<std::shared_ptr<Sub>, std::optional<Position>>>>
      setups_;
  std::map<std::string, std::unique_ptr<CaseFeed>, std::less<>> case_feeds_;
};

}  // namespace casegrid
