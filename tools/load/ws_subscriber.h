// SubscriberFleet: casegrid-load's WebSocket clients — dashboards, officers,
// auditors — all asynchronous Beast on one io_context (each client on its
// own strand, one read and one write in flight), connected at most
// `max_connecting` at a time.
//
// What each client checks as messages arrive (API.md, "Push"): on every
// channel positions only grow (on `alerts` they may repeat: one event may
// raise two alerts for one person); on `events` every position comes exactly
// once, with no gap, from the `after` it subscribed with. A breach is a
// Failure. A client closed with 1013 is counted as closed as too slow and
// resumes with `after` = the last position it saw on each channel, so its
// checks go on across the reconnection; any other close is a Failure (and it
// resumes likewise). A resume counts as one once every channel's subscribe
// is answered again. A client whose connection attempts fail five times in a
// row gives up (a Failure, and counted).
//
// Push latency: for a message whose position one of our writers was
// acknowledged for (AckTimes), arrival - acknowledgment, per channel kind.
// A dashboard view is measured once for each of our events it is the first
// to show (those after the view before it, in a cell under its path): views
// are coalesced, so the newest event's wait alone would hide the others'. A
// message that arrives before its writer has read the answer is kept (up to
// 4M of them; the rest are counted in `late_dropped`) and measured by
// ResolveLate() (negative latencies count as 0, and are counted).
//
// `quick_ack`: acknowledge every message at once (TCP_QUICKACK) instead of
// letting the kernel delay the ACK — a diagnosis (it hides a sender's Nagle
// stalls behind delayed ACKs); real clients do not.
//
// Thread-safety: Start and Stop from one controlling thread; the counters
// and the queries from any thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/load/latency.h"

namespace casegrid::load {

enum class ChannelKind { kEvents, kCell, kDashboard, kAlerts, kCase };
inline constexpr std::size_t kChannelKinds = 5;
std::string_view Name(ChannelKind kind);
ChannelKind KindOfChannel(std::string_view channel);

// What went wrong that a run must not hide: printed as FAILURE lines, and
// the exit status is non-zero.
class Failures {
 public:
  void Add(std::string what);
  std::uint64_t count() const { return count_.load(); }
  std::vector<std::string> First() const;  // the first 50

 private:
  std::atomic<std::uint64_t> count_{0};
  mutable std::mutex mu_;
  std::vector<std::string> first_;  // guarded by mu_
};

struct SubscriberSpec {
  std::string label;  // for messages: "officer-12"
  std::string token;
  std::vector<std::string> channels;
  std::optional<std::uint64_t> after;  // subscribe with it (events: the head at start)
};

struct PushStats {
  std::array<LatencyHistogram, kChannelKinds> latency;
  std::array<std::atomic<std::uint64_t>, kChannelKinds> messages{};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> open{0};         // connections upgraded and not closed
  std::atomic<std::uint64_t> ready{0};        // every subscription answered, first time
  std::atomic<std::uint64_t> slow_closes{0};  // closed by the server with 1013
  std::atomic<std::uint64_t> other_closes{0};
  std::atomic<std::uint64_t> failed_connects{0};  // connection attempts (connect, upgrade)
  std::atomic<std::uint64_t> reconnects{0};       // resumes with every subscription answered again
  std::atomic<std::uint64_t> gave_up{0};          // clients that stopped trying to connect
  std::atomic<std::uint64_t> pushed_before_ack{0};
  std::atomic<std::uint64_t> late_dropped{0};  // arrived before their ack, past the bound kept
  std::atomic<std::int64_t> last_message_nanos{0};
  // Closes other than 1013 and failed connection attempts: what a server
  // that is gone shows at once.
  std::uint64_t connection_errors() const { return other_closes.load() + failed_connects.load(); }
  std::uint64_t total_messages() const {
    std::uint64_t n = 0;
    for (const auto& m : messages) n += m.load(std::memory_order_relaxed);
    return n;
  }
};

class SubscriberFleet {
 public:
  SubscriberFleet(boost::asio::io_context& io, std::string host, std::uint16_t port,
                  std::vector<SubscriberSpec> specs, AckTimes* acks, PushStats* stats,
                  Failures* failures, int max_connecting, bool quick_ack = false);
  ~SubscriberFleet();

  // Starts connecting every client.
  void Start();
  // Closes every client (a normal close) and waits up to `timeout`;
  // closes from here on are not failures.
  void Stop(std::chrono::milliseconds timeout);
  // The lowest last position seen over every `events` subscription (none:
  // nullopt).
  std::optional<std::uint64_t> LowestEventsPosition() const;
  // Measures the messages that arrived before their acknowledgment was known.
  void ResolveLate();

  class Subscriber;

 private:
  friend class Subscriber;
  void LaunchNext();
  // The latency of a message of `kind` showing `position`, arrived at
  // `arrived`: recorded if the position's acknowledgment is known, else kept
  // for ResolveLate. `within`: a dashboard's cells (measured only if the
  // position's cell is one of them); nullptr for other channels.
  void Measure(std::uint64_t position, std::int64_t arrived, ChannelKind kind,
               const std::vector<bool>* within);
  void Record(std::uint64_t position, std::int64_t acked, std::int64_t arrived, ChannelKind kind,
              const std::vector<bool>* within);
  void NoteLate(std::uint64_t position, std::int64_t arrived, ChannelKind kind,
                const std::vector<bool>* within);

  boost::asio::io_context& io_;
  const std::string host_;
  const std::uint16_t port_;
  const std::vector<SubscriberSpec> specs_;
  AckTimes* const acks_;
  PushStats* const stats_;
  Failures* const failures_;
  const int max_connecting_;
  const bool quick_ack_;
  std::vector<std::shared_ptr<Subscriber>> subscribers_;  // constant after Start
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> closed_{0};

  struct Late {
    std::uint64_t position;
    std::int64_t arrived;
    ChannelKind kind;
    const std::vector<bool>* within;  // owned by the subscriber, which outlives ResolveLate
  };
  static constexpr std::size_t kMostLate = 4u << 20;
  std::mutex late_mu_;
  std::vector<Late> late_;  // guarded by late_mu_
};

}  // namespace casegrid::load
