#include "tools/load/ws_subscriber.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <simdjson.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <deque>
#include <thread>

#include "projections/json_writer.h"

namespace casegrid::load {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

std::string_view Name(ChannelKind kind) {
  static constexpr std::string_view kNames[] = {"events", "cell", "dashboard", "alerts", "case"};
  return kNames[static_cast<std::size_t>(kind)];
}

ChannelKind KindOfChannel(std::string_view channel) {
  if (channel == "events") return ChannelKind::kEvents;
  if (channel == "alerts") return ChannelKind::kAlerts;
  if (channel.starts_with("cell/")) return ChannelKind::kCell;
  if (channel.starts_with("dashboard/")) return ChannelKind::kDashboard;
  return ChannelKind::kCase;
}

void Failures::Add(std::string what) {
  count_.fetch_add(1);
  std::lock_guard l(mu_);
  if (first_.size() < 50) first_.push_back(std::move(what));
}

std::vector<std::string> Failures::First() const {
  std::lock_guard l(mu_);
  return first_;
}

namespace {

// Whether the cell of AckTimes index `cell` is one a dashboard's `within` holds.
bool Within(const std::vector<bool>& within, std::uint32_t cell) {
  return cell < within.size() && within[cell];
}

// The members of a pushed message casegrid-load looks at.
struct Header {
  std::string_view type, channel;
  std::uint64_t position = 0;
  bool ok = false;
};

// Reads type, channel and position, which the server writes first; the rest
// (views, events) is skipped, not parsed. `text` must stay alive while the
// result is used.
Header ParseHeader(const std::string& text) {
  thread_local simdjson::ondemand::parser parser;
  Header h;
  simdjson::ondemand::document doc;
  if (parser.iterate(text.data(), text.size(), text.capacity()).get(doc)) return h;
  simdjson::ondemand::object root;
  if (doc.get_object().get(root)) return h;
  int found = 0;
  for (auto field : root) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return h;
    if (key == "type") {
      if (field.value().get_string().get(h.type)) return h;
      ++found;
    } else if (key == "channel") {
      if (field.value().get_string().get(h.channel)) return h;
      ++found;
    } else if (key == "position") {
      if (field.value().get_uint64().get(h.position)) return h;
      ++found;
    }
    if (found == 3) break;
  }
  h.ok = !h.type.empty();
  return h;
}

}  // namespace

class SubscriberFleet::Subscriber : public std::enable_shared_from_this<Subscriber> {
  // Buffers larger than this (a snapshot) are given back after use: ten
  // thousand clients must not each keep their largest message.
  static constexpr std::size_t kKeepBytes = 64 * 1024;

 public:
  Subscriber(asio::io_context& io, SubscriberFleet* fleet, const SubscriberSpec& spec,
             tcp::endpoint server)
      : fleet_(fleet),
        spec_(spec),
        server_(server),
        strand_(asio::make_strand(io)),
        timer_(strand_),
        channels_(spec.channels.size()) {
    for (std::size_t i = 0; i < channels_.size(); ++i) {
      channels_[i].name = spec.channels[i];
      channels_[i].kind = KindOfChannel(spec.channels[i]);
      if (channels_[i].kind == ChannelKind::kDashboard) {
        channels_[i].within = fleet->acks_->CellsWithin(
            std::string_view(spec.channels[i]).substr(std::string_view("dashboard/").size()));
      }
      if (spec.after) {
        channels_[i].last = *spec.after;
        channels_[i].seen = true;
      }
    }
  }

  void Start() {
    asio::post(strand_, [self = shared_from_this()] { self->Connect(); });
  }
  void Stop() {
    asio::post(strand_, [self = shared_from_this()] { self->Close(); });
  }
  bool HasEvents() const {
    for (const auto& c : channels_) {
      if (c.kind == ChannelKind::kEvents) return true;
    }
    return false;
  }
  std::uint64_t EventsPosition() const {
    for (const auto& c : channels_) {
      if (c.kind == ChannelKind::kEvents) return c.last_seen.load(std::memory_order_relaxed);
    }
    return 0;
  }

 private:
  struct ChannelState {
    std::string name;
    ChannelKind kind = ChannelKind::kCell;
    std::uint64_t last = 0;  // on the strand
    bool seen = false;       // `last` is a position seen (or subscribed after)
    bool answered = false;   // this connection's subscribe was answered
    std::atomic<std::uint64_t> last_seen{0};
    std::vector<bool> within;  // dashboard: by AckTimes' cell index, those under its path
  };

  void Connect() {
    if (fleet_->stopping_) return Done();
    if (writing_) {  // the old stream's last write has yet to complete
      timer_.expires_after(std::chrono::milliseconds(20));
      timer_.async_wait([self = shared_from_this()](beast::error_code) { self->Connect(); });
      return;
    }
    ws_.emplace(strand_);
    ws_->read_message_max(64 << 20);
    for (auto& c : channels_) c.answered = false;
    beast::get_lowest_layer(*ws_).expires_after(std::chrono::seconds(30));
    beast::get_lowest_layer(*ws_).async_connect(server_,
                                                [self = shared_from_this()](beast::error_code ec) {
                                                  if (ec)
                                                    return self->Retry("connect: " + ec.message());
                                                  self->Handshake();
                                                });
  }

  void Handshake() {
    ws_->async_handshake(fleet_->host_ + ":" + std::to_string(fleet_->port_),
                         "/ws?token=" + spec_.token,
                         [self = shared_from_this()](beast::error_code ec) {
                           if (ec) return self->Retry("upgrade: " + ec.message());
                           self->OnOpen();
                         });
  }

  // A failed connection attempt: a few more, then a failure.
  void Retry(const std::string& why) {
    if (fleet_->stopping_) return Done();
    fleet_->stats_->failed_connects.fetch_add(1);
    if (++attempts_ > 5) {
      fleet_->stats_->gave_up.fetch_add(1);
      fleet_->failures_->Add(spec_.label + ": gave up connecting: " + why);
      ReleaseSlot();
      return Done();
    }
    timer_.expires_after(std::chrono::milliseconds(200 * attempts_));
    timer_.async_wait([self = shared_from_this()](beast::error_code) { self->Connect(); });
  }

  void OnOpen() {
    if (fleet_->stopping_) {  // Stop came while connecting
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).socket().close(ignored);
      return Done();
    }
    attempts_ = 0;
    open_ = true;
    fleet_->stats_->open.fetch_add(1);
    beast::get_lowest_layer(*ws_).expires_never();
    websocket::stream_base::timeout t =
        websocket::stream_base::timeout::suggested(beast::role_type::client);
    ws_->set_option(t);
    ws_->text(true);
    for (std::size_t i = 0; i < channels_.size(); ++i) {
      JsonWriter op;
      op.BeginObject().Key("op").String("subscribe").Key("id").Int(static_cast<std::int64_t>(i));
      op.Key("channel").String(channels_[i].name);
      if (channels_[i].seen) op.Key("after").Int(static_cast<std::int64_t>(channels_[i].last));
      op.EndObject();
      outbox_.push_back(op.Take());
    }
    Write();
    Read();
  }

  void Write() {
    if (writing_ || outbox_.empty() || !open_) return;
    writing_ = true;
    ws_->async_write(asio::buffer(outbox_.front()),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->writing_ = false;
                       self->outbox_.pop_front();
                       if (ec) return;  // the read sees the close
                       self->Write();
                     });
  }

  void Read() {
    ws_->async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return self->OnClosed(ec);
      self->OnMessage(n);
      self->Read();
    });
  }

  void OnMessage(std::size_t n) {
    const std::int64_t arrived = NowNanos();
    if (fleet_->quick_ack_) {  // re-armed after every read: Linux clears it
      int one = 1;
      ::setsockopt(beast::get_lowest_layer(*ws_).socket().native_handle(), IPPROTO_TCP,
                   TCP_QUICKACK, &one, sizeof one);
    }
    PushStats& stats = *fleet_->stats_;
    stats.bytes.fetch_add(n, std::memory_order_relaxed);
    stats.last_message_nanos.store(arrived, std::memory_order_relaxed);
    const auto data = buffer_.cdata();
    if (text_.capacity() > kKeepBytes && data.size() < kKeepBytes) std::string().swap(text_);
    text_.reserve(data.size() + simdjson::SIMDJSON_PADDING);
    text_.assign(static_cast<const char*>(data.data()), data.size());
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > kKeepBytes) buffer_.shrink_to_fit();  // a big snapshot went by
    const Header h = ParseHeader(text_);
    if (!h.ok) {
      return fleet_->failures_->Add(spec_.label +
                                    ": a message that is not a push: " + text_.substr(0, 200));
    }
    if (h.type == "error") {
      fleet_->failures_->Add(spec_.label + ": subscribe refused: " + text_.substr(0, 300));
      // Answered all the same: it will not become ready, but frees its slot.
      for (auto& c : channels_) c.answered = true;
      return ReleaseSlot();
    }
    ChannelState* c = nullptr;
    for (auto& candidate : channels_) {
      if (candidate.name == h.channel) c = &candidate;
    }
    if (c == nullptr) {
      if (h.type == "unsubscribed") return;
      return fleet_->failures_->Add(
          spec_.label + ": a message on a channel not subscribed: " + text_.substr(0, 200));
    }
    if (h.type == "subscribed") {
      // (A resume subscribes with `after`: its `subscribed` carries that
      // position, and the views after it come as views, measured below.)
      c->answered = true;
      c->last = h.position;
      c->seen = true;
      c->last_seen.store(h.position, std::memory_order_relaxed);
      bool all = true;
      for (const auto& other : channels_) all = all && other.answered;
      if (all && !ready_) {
        ready_ = true;
        stats.ready.fetch_add(1);
        ReleaseSlot();
      }
      if (all && resuming_) {
        resuming_ = false;
        stats.reconnects.fetch_add(1);
      }
      return;
    }
    const std::uint64_t before = c->last;
    Check(*c, h.position);
    stats.messages[static_cast<std::size_t>(c->kind)].fetch_add(1, std::memory_order_relaxed);
    if (c->kind == ChannelKind::kDashboard)
      return MeasureDashboard(*c, before, h.position, arrived);
    fleet_->Measure(h.position, arrived, c->kind, nullptr);
  }

  // A dashboard view of position `to` that arrived at `arrived`, after one
  // of `from`: it is the first to show each of our events in (from, to] in a
  // cell under the dashboard's path (a view carries the last position of
  // the projector's batch, and a newer view replaces a held or queued one:
  // measuring only from `to`'s acknowledgment would leave the wait of the
  // others out).
  void MeasureDashboard(const ChannelState& c, std::uint64_t from, std::uint64_t to,
                        std::int64_t arrived) {
    for (std::uint64_t p = from + 1; p <= to && p > from; ++p) {
      fleet_->Measure(p, arrived, ChannelKind::kDashboard, &c.within);
    }
  }

  void Check(ChannelState& c, std::uint64_t p) {
    const std::string where = spec_.label + " on " + c.name + ": ";
    if (c.kind == ChannelKind::kEvents) {
      if (p <= c.last) {
        fleet_->failures_->Add(where + "duplicate: position " + std::to_string(p) + " after " +
                               std::to_string(c.last));
      } else if (p != c.last + 1) {
        fleet_->failures_->Add(where + "gap: positions " + std::to_string(c.last + 1) + ".." +
                               std::to_string(p - 1) + " never came");
      }
    } else if (p < c.last || (p == c.last && c.kind != ChannelKind::kAlerts)) {
      fleet_->failures_->Add(where + "position " + std::to_string(p) + " after " +
                             std::to_string(c.last) + " (positions must grow)");
    }
    c.last = std::max(c.last, p);
    c.seen = true;
    c.last_seen.store(c.last, std::memory_order_relaxed);
  }

  void OnClosed(beast::error_code ec) {
    if (open_) fleet_->stats_->open.fetch_sub(1);
    open_ = false;
    if (fleet_->stopping_) return Done();
    const auto code = ws_->reason().code;
    if (code == websocket::close_code::try_again_later) {
      fleet_->stats_->slow_closes.fetch_add(1);
    } else {
      fleet_->stats_->other_closes.fetch_add(1);
      fleet_->failures_->Add(spec_.label + ": closed by the server: code " +
                             std::to_string(static_cast<int>(code)) + " " +
                             std::string(ws_->reason().reason.c_str()) + " (" + ec.message() + ")");
    }
    // Resume every channel from the last position seen (counted once answered).
    resuming_ = true;
    outbox_.resize(writing_ ? 1 : 0);  // a write in flight still uses the front
    buffer_.consume(buffer_.size());
    timer_.expires_after(std::chrono::milliseconds(100));
    timer_.async_wait([self = shared_from_this()](beast::error_code) { self->Connect(); });
  }

  void Close() {
    timer_.cancel();
    if (!ws_ || !open_) return Done();
    if (writing_) {  // a close may not overlap a write: just hang up
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).socket().close(ignored);
      return;  // the read in flight completes and calls Done()
    }
    beast::get_lowest_layer(*ws_).expires_after(std::chrono::seconds(2));
    ws_->async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {
      beast::error_code ignored;
      beast::get_lowest_layer(*self->ws_).socket().close(ignored);
    });
    // The read in flight completes with the close and calls Done().
  }

  void ReleaseSlot() {
    if (slot_released_) return;
    slot_released_ = true;
    fleet_->LaunchNext();
  }

  void Done() {
    if (done_) return;
    done_ = true;
    ReleaseSlot();
    fleet_->closed_.fetch_add(1);
  }

  SubscriberFleet* const fleet_;
  const SubscriberSpec& spec_;
  const tcp::endpoint server_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  std::optional<websocket::stream<beast::tcp_stream>> ws_;
  beast::flat_buffer buffer_;
  std::string text_;
  std::deque<std::string> outbox_;
  std::vector<ChannelState> channels_;
  bool open_ = false, writing_ = false, ready_ = false, slot_released_ = false, done_ = false;
  bool resuming_ = false;  // closed after it was open: the next full set of answers is a resume
  int attempts_ = 0;
};

SubscriberFleet::SubscriberFleet(asio::io_context& io, std::string host, std::uint16_t port,
                                 std::vector<SubscriberSpec> specs, AckTimes* acks,
                                 PushStats* stats, Failures* failures, int max_connecting,
                                 bool quick_ack)
    : io_(io),
      host_(std::move(host)),
      port_(port),
      specs_(std::move(specs)),
      acks_(acks),
      stats_(stats),
      failures_(failures),
      max_connecting_(std::max(1, max_connecting)),
      quick_ack_(quick_ack) {}

SubscriberFleet::~SubscriberFleet() = default;

void SubscriberFleet::Start() {
  tcp::resolver resolver(io_);
  const tcp::endpoint server = *resolver.resolve(host_, std::to_string(port_)).begin();
  for (const SubscriberSpec& spec : specs_) {
    subscribers_.push_back(std::make_shared<Subscriber>(io_, this, spec, server));
  }
  for (int i = 0; i < max_connecting_; ++i) LaunchNext();
}

void SubscriberFleet::LaunchNext() {
  const std::size_t i = next_.fetch_add(1);
  if (i < subscribers_.size()) subscribers_[i]->Start();
}

void SubscriberFleet::Stop(std::chrono::milliseconds timeout) {
  stopping_ = true;
  // One step, so that no LaunchNext slips in between reading and closing.
  const std::size_t launched = std::min(next_.exchange(subscribers_.size()), subscribers_.size());
  // Those never launched count as closed.
  closed_.fetch_add(subscribers_.size() - launched);
  for (std::size_t i = 0; i < launched; ++i) subscribers_[i]->Stop();
  const auto deadline = Clock::now() + timeout;
  while (closed_.load() < subscribers_.size() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::optional<std::uint64_t> SubscriberFleet::LowestEventsPosition() const {
  std::optional<std::uint64_t> lowest;
  for (const auto& s : subscribers_) {
    if (!s->HasEvents()) continue;
    const std::uint64_t p = s->EventsPosition();
    if (!lowest || p < *lowest) lowest = p;
  }
  return lowest;
}

void SubscriberFleet::Measure(std::uint64_t position, std::int64_t arrived, ChannelKind kind,
                              const std::vector<bool>* within) {
  const std::int64_t acked = acks_->At(position);
  if (acked == 0) return NoteLate(position, arrived, kind, within);
  Record(position, acked, arrived, kind, within);
}

void SubscriberFleet::Record(std::uint64_t position, std::int64_t acked, std::int64_t arrived,
                             ChannelKind kind, const std::vector<bool>* within) {
  if (within != nullptr && !Within(*within, acks_->CellAt(position))) return;
  if (arrived < acked) stats_->pushed_before_ack.fetch_add(1, std::memory_order_relaxed);
  stats_->latency[static_cast<std::size_t>(kind)].Record(arrived - acked);
}

void SubscriberFleet::NoteLate(std::uint64_t position, std::int64_t arrived, ChannelKind kind,
                               const std::vector<bool>* within) {
  std::lock_guard l(late_mu_);
  if (late_.size() < kMostLate) {
    late_.push_back({position, arrived, kind, within});
  } else {
    stats_->late_dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

void SubscriberFleet::ResolveLate() {
  std::lock_guard l(late_mu_);
  for (const Late& m : late_) {
    const std::int64_t acked = acks_->At(m.position);
    if (acked == 0) continue;  // not one of our writes (set-up, audit reads, deadlines)
    Record(m.position, acked, m.arrived, m.kind, m.within);
  }
  late_.clear();
}

}  // namespace casegrid::load
