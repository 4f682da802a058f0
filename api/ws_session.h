// WsSession: one WebSocket connection at /ws (API.md, "Push").
//
// The client sends one JSON op per text frame — subscribe, unsubscribe — and
// receives the hub's messages. Like Beast's chat-multi example: the session
// lives on its own strand with one read and one write in flight; messages are
// shared immutable buffers, queued by pointer, never copied per client.
//
// Bounds: a message from the client is at most `max_message_bytes` (larger:
// closed with 1009 by Beast); binary frames, bad JSON, unknown ops and
// channels get an "error" message and change nothing; at most
// `max_subscriptions`; ops count against the token's request rate. The send
// queue holds at most `max_queue_messages` and `max_queue_bytes`: a client
// that falls that far behind is closed with 1013 (try again later) and may
// resume with `after`; if even the close cannot be written within
// `close_timeout`, the socket is dropped. Queued dashboard views are
// coalesced: a newer view of the same subscription replaces an unsent one,
// and a subscription's views are queued at most once per
// `dashboard_interval` (one that comes sooner is held, replaced by any newer,
// until the interval since the last has passed).
// Pings go out when the connection is idle for half of `idle_timeout`; a peer
// silent for all of it is dropped. The connection lives as long as its
// token: at `exp` it is closed with 1008 (policy violation).
//
// An op is one JSON object with exactly the members op, id (required, an
// integer), channel and, for a subscribe, after; anything else is refused
// naming the member, with the op's id when it could be read.
//
// Thread-safety: Push and WhenDrained from any thread (one small lock);
// everything else on the session's strand.
#pragma once

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/container/devector.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "api/http_api.h"
#include "api/push_hub.h"

namespace casegrid {

struct WsOptions {
  std::size_t max_message_bytes = 64 * 1024;
  // Room for a cell/ subscription of each of a token's cells (kMaxTokenCells)
  // and the other channels, so that one connection can follow them all.
  std::size_t max_subscriptions = 300;
  std::size_t max_queue_messages = 8192;
  std::size_t max_queue_bytes = 8 << 20;
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds close_timeout{5};
  // A write the peer has taken nothing of within this (a message is written
  // 64 KiB at a time) is a client that has stopped reading: closed with
  // 1013, as one whose queue overflows is (0: never). Without it, one that read nothing held its
  // queue's backlog, a catch-up's pages up to a quarter of the queue, for as long as it answered
  // pings (review 104: 4 MB a connection, 125 MB a token).
  std::chrono::seconds write_timeout{30};
  // The kernel's send buffer of each WebSocket (SO_SNDBUF; 0: the kernel's
  // own, autotuned up to net.ipv4.tcp_wmem's 4 MiB). Small, so that a slow
  // reader's backlog waits in the queue above, where a channel's views
  // coalesce to the newest, rather than in the kernel, where they go stale.
  // Linux keeps twice this (its bookkeeping); 64 KiB in flight is ~1.3 MB/s
  // to a peer 50 ms away, a LAN's dashboards many times over.
  int send_buffer_bytes = 32 * 1024;
  // A dashboard subscription's views are queued at most once per this
  // interval; one that comes sooner is held (a newer one replacing it) until
  // it has passed, so a client gets the latest figures at most 50 times a
  // second however fast batches come (0: each as it comes). Each of 1,000
  // dashboards of the load test got ~270 views a second, most of what the
  // server pushed (docs/load.md).
  std::chrono::milliseconds dashboard_interval{20};
};

class WsSession : public PushSink, public std::enable_shared_from_this<WsSession> {
 public:
  // `on_end` runs once when the connection is gone (the server's count).
  WsSession(boost::asio::ip::tcp::socket socket, Principal who, HttpApi* api, PushHub* hub,
            ApiMetrics* metrics, const WsOptions& options, std::function<void()> on_end);
  ~WsSession() override;

  // Completes the upgrade of `request` and starts reading ops.
  void Run(HttpRequest request);
  // Server shutdown: close with 1001 (going away) after the write in flight;
  // past WsOptions::close_timeout (a peer that reads nothing), the socket.
  void Shut();
  // The socket closed at once, ending every pending operation: for what is
  // left at the end of a shutdown.
  void Abort();

  bool Push(PushMessage message, std::uint64_t coalesce) override;
  void Forget(std::uint64_t coalesce) override;
  // Messages queued and not yet written (for tests and diagnostics).
  std::size_t queued_messages();
  void WhenDrained(std::function<void()> resume) override;
  bool Backlogged() const override;
  std::size_t CatchUpBudget() const override {
    return std::max<std::size_t>(1, options_.max_queue_messages / 4);
  }
  std::size_t MaxMessageBytes() const override { return options_.max_queue_bytes; }
  std::size_t MaxSubscriptions() const override { return options_.max_subscriptions; }
  bool Ended() const override;

 private:
  struct Queued {
    PushMessage message;
    std::uint64_t coalesce;  // 0: none
  };
  // Reads the next part of a message: a message's first read takes at most
  // kFirstReadBytes, so that an idle connection's pending read holds that
  // much buffer (an op is ~100 bytes), not Beast's 1,536 of a whole read.
  void Read();
  void OnRead(boost::beast::error_code ec, std::size_t bytes);
  static constexpr std::size_t kFirstReadBytes = 128;
  void HandleOp(std::string_view text);
  void Answer(std::int64_t id, const Status& why);
  void WriteNext();
  // Writes `message` from `offset` on, a part (one frame) at a time, then
  // the next queued message.
  void WritePart(PushMessage message, std::size_t offset);
  // A message larger than this is written in frames of this size, so that
  // the write timeout counts from the peer's last progress.
  static constexpr std::size_t kWritePartBytes = 64 * 1024;
  bool BackloggedLocked() const;  // mu_ held
  void CloseWith(boost::beast::websocket::close_code code, std::string_view reason = {});
  void CloseAfterWrite();
  // Starts the close deadline once: at close_timeout the socket is closed.
  void ArmCloseDeadline();
  // Watches the write in flight (WsOptions::write_timeout): at `due`, a
  // write begun that long ago closes the connection with 1013.
  void ArmWriteWatch(std::chrono::steady_clock::time_point due);
  void OnWriteWatch();
  void WatchExpiry();
  // Whether the token has expired; if so, closes the connection (1008).
  bool Expired();
  void Expire();
  // The socket closed and Beast's pending ops cancelled: the session ends now.
  void Drop();
  // Drops what is queued and queues nothing more (closing).
  void StopQueueing();
  // mu_ held: what StopQueueing and an overflow drop.
  void DropQueueLocked();
  // mu_ held: the queue crossed a bound: dropped, and closed with 1013.
  void OverflowLocked();
  // Queues the held views whose interval has passed, and waits for the next.
  void ArmPacing();
  void OnPacing();
  void End();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  const Principal who_;
  HttpApi* const api_;
  PushHub* const hub_;
  ApiMetrics* const metrics_;
  const WsOptions& options_;
  std::function<void()> on_end_;
  boost::asio::steady_timer close_timer_;
  boost::asio::steady_timer expiry_timer_;
  boost::asio::steady_timer pace_timer_;   // the next held view's due time
  boost::asio::steady_timer write_timer_;  // the write in flight's deadline
  // Bound to the pending read and close, so that Drop can end them.
  boost::asio::cancellation_signal read_cancel_;
  boost::asio::cancellation_signal close_cancel_;

  // On the strand.
  bool open_ = false;
  bool shut_ = false;  // Shut came before the upgrade completed: close once it has
  bool writing_ = false;
  std::chrono::steady_clock::time_point write_began_;  // of the write in flight
  bool write_watch_armed_ = false;
  std::optional<boost::beast::websocket::close_reason> close_after_write_;
  bool closing_sent_ = false;
  bool close_deadline_armed_ = false;

  mutable std::mutex mu_;
  // Guarded by mu_.
  // A devector, not a deque: libstdc++'s deque allocates 576 bytes when
  // made, which every idle connection would hold (devector: none until used).
  boost::container::devector<Queued> queue_;
  // Room for this many queued messages is kept once the queue empties; more
  // is given back (WriteNext).
  static constexpr std::size_t kQueueSlotsKept = 64;
  std::size_t queued_bytes_ = 0;
  bool write_scheduled_ = false;  // a WriteNext is posted or running
  bool overflowed_ = false;  // closing (too slow, shut, or closed by the peer): nothing more queued
  bool ended_ = false;
  std::vector<std::function<void()>> drained_;
  // Each dashboard subscription's last view queued, and the one held back.
  struct Paced {
    std::optional<std::chrono::steady_clock::time_point> last;  // none queued yet
    PushMessage held;  // counted in queued_bytes_ and held_views_
  };
  std::map<std::uint64_t, Paced> paced_;
  std::size_t held_views_ = 0;
  bool pacing_armed_ = false;                        // an ArmPacing is posted or its wait pending
  std::chrono::steady_clock::time_point armed_due_;  // while pacing_armed_
};

}  // namespace casegrid
