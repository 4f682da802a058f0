#include "api/ws_session.h"

#include <simdjson.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "projections/json_writer.h"

namespace casegrid {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

WsSession::WsSession(asio::ip::tcp::socket socket, Principal who, HttpApi* api, PushHub* hub,
                     ApiMetrics* metrics, const WsOptions& options, std::function<void()> on_end)
    : ws_(std::move(socket)),
      who_(std::move(who)),
      api_(api),
      hub_(hub),
      metrics_(metrics),
      options_(options),
      on_end_(std::move(on_end)),
      close_timer_(ws_.get_executor()),
      expiry_timer_(ws_.get_executor()),
      pace_timer_(ws_.get_executor()),
      write_timer_(ws_.get_executor()) {
  metrics_->ws_connections.Increment();
  metrics_->ws_connections_open.Increment();
  if (options_.send_buffer_bytes > 0) {
    boost::system::error_code ignored;  // a socket that refuses keeps the kernel's
    ws_.next_layer().socket().set_option(
        asio::socket_base::send_buffer_size(options_.send_buffer_bytes), ignored);
  }
}

WsSession::~WsSession() {
  End();
}

void WsSession::Run(HttpRequest request) {
  auto req = std::make_shared<HttpRequest>(std::move(request));
  asio::dispatch(ws_.get_executor(), [self = shared_from_this(), req] {
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(30);
    timeout.idle_timeout = self->options_.idle_timeout;
    timeout.keep_alive_pings = true;
    self->ws_.set_option(timeout);
    self->ws_.read_message_max(self->options_.max_message_bytes);
    // After answering a peer's close, Beast's read waits for the peer to end
    // the TCP connection, and the session (counted, subscribed) lives until
    // it does or Beast's next idle tick (half the idle timeout): the close
    // handshake gets close_timeout, as ours does, and nothing more is sent.
    self->ws_.control_callback([raw = self.get()](websocket::frame_type kind, beast::string_view) {
      if (kind != websocket::frame_type::close) return;
      raw->StopQueueing();
      raw->ArmCloseDeadline();
    });
    self->ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "casegrid"); }));
    self->ws_.async_accept(*req, [self, req](beast::error_code ec) {
      if (ec) return self->End();
      self->open_ = true;
      self->Read();
      if (self->shut_) {
        self->StopQueueing();
        return self->CloseWith(websocket::close_code::going_away, "the server is shutting down");
      }
      self->WriteNext();
      self->WatchExpiry();
    });
  });
}

void WsSession::Shut() {
  asio::post(ws_.get_executor(), [self = shared_from_this()] {
    if (!self->open_) {
      // The upgrade's answer may be written and its handler still to run:
      // close as soon as it has (a session left open would hold the
      // shutdown until the request timeout).
      self->shut_ = true;
      return;
    }
    self->StopQueueing();
    self->CloseWith(websocket::close_code::going_away, "the server is shutting down");
  });
}

void WsSession::Abort() {
  asio::post(ws_.get_executor(), [self = shared_from_this()] { self->Drop(); });
}

void WsSession::Drop() {
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
  // A read or close that Beast holds suspended, waiting for the other (one
  // reads the rest of a frame the peer never finished while the other waits
  // to read the peer's close), is not woken by the socket's close: cancel
  // both, or each keeps the session alive for as long as the io_context.
  read_cancel_.emit(asio::cancellation_type::terminal);
  close_cancel_.emit(asio::cancellation_type::terminal);
  End();
}

void WsSession::StopQueueing() {
  std::lock_guard l(mu_);
  overflowed_ = true;  // queue nothing more
  DropQueueLocked();
}

void WsSession::DropQueueLocked() {
  queue_.clear();
  paced_.clear();
  held_views_ = 0;
  queued_bytes_ = 0;
  drained_.clear();
}

// The connection lives as long as its token: at `exp` it is closed with
// 1008 (policy violation), and the client reconnects with a fresh token and
// resumes with `after`.
void WsSession::WatchExpiry() {
  if (who_.expires_at_ms <= 0) return;
  // Looked at again at least hourly: a far `exp` would overflow the timer's
  // clock (and fire at once, again and again).
  constexpr std::int64_t kHourMs = 3600 * 1000;
  const std::int64_t left = who_.expires_at_ms - api_->clock().NowMillis();
  expiry_timer_.expires_after(
      std::chrono::milliseconds(std::clamp<std::int64_t>(left, 0, kHourMs)));
  expiry_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || !self->open_) return;             // cancelled, or ended: the connection is gone
    if (!self->Expired()) self->WatchExpiry();  // the clock says not yet
  });
}

void WsSession::Read() {
  // 0: the rest of a message as Beast sees fit (up to 1,536 bytes or what
  // is left of the frame, within the message's bound).
  const std::size_t limit = buffer_.size() == 0 ? kFirstReadBytes : 0;
  ws_.async_read_some(buffer_, limit,
                      asio::bind_cancellation_slot(
                          read_cancel_.slot(),
                          [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                            self->OnRead(ec, bytes);
                          }));
}

void WsSession::OnRead(beast::error_code ec, std::size_t) {
  if (ec) return End();  // closed, timed out, too big (Beast answers 1009), reset
  if (!ws_.is_message_done()) return Read();
  if (closing_sent_ || close_after_write_) {
    // Closing (the connection failed, shut, expired, or too slow): an op
    // read since is not acted on (review 114: a subscribe after a 1007
    // decision was, while a write delayed the close).
  } else if (!ws_.got_text()) {
    Answer(0, Status::InvalidArgument("binary frames are not accepted: send JSON ops as text"));
  } else if (const auto data = buffer_.data();
             !simdjson::validate_utf8(static_cast<const char*>(data.data()), data.size())) {
    // Beast checks a text message's UTF-8 as its frames come, but passes
    // one whose last frame is empty with a character cut short, and then
    // holds the cut against the next message (black-box probe 106: a valid
    // op was closed with 1007). RFC 6455 8.1: fail the connection, now.
    StopQueueing();
    CloseWith(websocket::close_code::bad_payload, "a text message must be valid UTF-8");
  } else {
    HandleOp(std::string_view(static_cast<const char*>(data.data()), data.size()));
  }
  buffer_.consume(buffer_.size());
  // A longer op's room is given back: an idle connection holds only what
  // its next first read asks for.
  if (buffer_.capacity() > kFirstReadBytes) buffer_.shrink_to_fit();
  Read();
}

namespace {

// One op as the client sent it: every member checked, named when wrong.
struct WsOp {
  std::optional<std::int64_t> id;
  std::optional<std::string> op, channel;
  std::optional<Position> after;
};

// Parses `text` into `op`. An error names the member; `op.id` is set as soon
// as the id is read, so that even a refusal can answer to it.
Status ParseWsOp(std::string_view text, WsOp& op) {
  namespace od = simdjson::ondemand;
  const Status not_an_object = Status::InvalidArgument("an op must be one JSON object");
  simdjson::padded_string padded(text);
  od::parser parser;
  od::document doc;
  od::object object;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(object)) return not_an_object;
  Status first = Status::Ok();
  auto fail = [&](Status s) {
    if (first.ok()) first = std::move(s);
  };
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return not_an_object;
    od::value value;
    if (field.value().get(value)) return not_an_object;
    const bool again = (key == "id" && op.id) || (key == "op" && op.op) ||
                       (key == "channel" && op.channel) || (key == "after" && op.after);
    if (again) {
      fail(Status::InvalidArgument(std::string(key) + ": given twice"));
    } else if (key == "id") {
      std::int64_t id = 0;
      if (value.get_int64().get(id)) {
        fail(Status::InvalidArgument("id: must be an integer from -2^63 to 2^63-1"));
      } else {
        op.id = id;
      }
    } else if (key == "op" || key == "channel") {
      std::string_view v;
      if (value.get_string().get(v)) {
        fail(Status::InvalidArgument(std::string(key) + ": must be a string"));
      } else {
        (key == "op" ? op.op : op.channel) = std::string(v.substr(0, 1024));
      }
    } else if (key == "after") {
      std::uint64_t p = 0;
      if (value.get_uint64().get(p)) {
        fail(Status::InvalidArgument("after: must be a position (an integer from 0 to 2^64-1)"));
      } else {
        op.after = p;
      }
    } else {
      fail(Status::InvalidArgument("unknown member \"" + std::string(key.substr(0, 64)) +
                                   "\"; an op has op, id, channel and after"));
    }
  }
  // Only the end may follow the object (an error at the current location).
  if (const char* rest = nullptr; !doc.current_location().get(rest)) return not_an_object;
  RETURN_IF_ERROR(first);
  if (!op.id) return Status::InvalidArgument("id: missing; every op carries an integer id");
  if (!op.op) return Status::InvalidArgument("op: missing");
  // The op before the channel: {"op":"ping"} is an op this server does not
  // have, not a subscribe without its channel (black-box probe, session 25).
  if (*op.op != "subscribe" && *op.op != "unsubscribe") {
    return Status::InvalidArgument("op: unknown value \"" + op.op->substr(0, 50) +
                                   "\"; ops are subscribe and unsubscribe");
  }
  if (!op.channel) return Status::InvalidArgument("channel: missing");
  return Status::Ok();
}

}  // namespace

void WsSession::HandleOp(std::string_view text) {
  if (Expired()) return;
  WsOp parsed;
  const Status valid = ParseWsOp(text, parsed);
  const std::int64_t id = parsed.id.value_or(0);
  if (Status admitted = api_->Admit(who_.sub); !admitted.ok()) return Answer(id, admitted);
  if (!valid.ok()) return Answer(id, valid);
  const std::string& op = *parsed.op;  // subscribe or unsubscribe (ParseWsOp)
  const std::string& channel = *parsed.channel;
  if (channel.size() > 512) return Answer(id, Status::InvalidArgument("channel: too long"));
  if (op == "unsubscribe") {
    if (parsed.after) {
      return Answer(id, Status::InvalidArgument("after: only a subscribe takes it"));
    }
    if (!hub_->Unsubscribe(this, channel)) {
      return Answer(id, Status::NotFound("not subscribed to " + channel));
    }
    JsonWriter j;
    j.BeginObject().Key("type").String("unsubscribed").Key("id").Int(id);
    j.Key("channel").String(channel).EndObject();
    Push(std::make_shared<const std::string>(j.Take()), 0);
    return;
  }
  // The exact bound is kept by the hub, counting the subscribes that passed
  // their checks; here, the ones still being set up are bounded too.
  if (hub_->SubscriptionsOf(this) >= 2 * options_.max_subscriptions) {
    return Answer(id, Status::TooLarge("at most " + std::to_string(options_.max_subscriptions) +
                                       " subscriptions per connection"));
  }
  hub_->Subscribe(shared_from_this(), who_, id, channel, parsed.after);
}

bool WsSession::Expired() {
  if (who_.expires_at_ms <= 0 || api_->clock().NowMillis() < who_.expires_at_ms) return false;
  Expire();
  return true;
}

void WsSession::Expire() {
  if (!open_ || closing_sent_) return;
  StopQueueing();  // the token no longer opens anything
  hub_->Drop(this);
  CloseWith(websocket::close_code::policy_error, "token expired");
}

void WsSession::Answer(std::int64_t id, const Status& why) {
  JsonWriter j;
  j.BeginObject().Key("type").String("error").Key("id").Int(id);
  j.Key("error").Raw(ErrorJson(why)).EndObject();
  Push(std::make_shared<const std::string>(j.Take()), 0);
}

bool WsSession::Push(PushMessage message, std::uint64_t coalesce) {
  bool schedule = false;
  bool pace = false;
  {
    std::lock_guard l(mu_);
    if (ended_ || overflowed_) return false;
    Paced* paced = nullptr;
    if (coalesce != 0) {
      // The newest replaces an older one held back, or one still queued:
      // so a subscription's views go out in their order.
      if (options_.dashboard_interval.count() > 0) paced = &paced_[coalesce];
      if (paced != nullptr && paced->held) {
        queued_bytes_ = queued_bytes_ - paced->held->size() + message->size();
        paced->held = std::move(message);
        return true;
      }
      for (auto it = queue_.rbegin(); it != queue_.rend(); ++it) {
        if (it->coalesce == coalesce) {
          queued_bytes_ = queued_bytes_ - it->message->size() + message->size();
          it->message = std::move(message);
          return true;
        }
      }
    }
    const auto now = std::chrono::steady_clock::now();
    // (A subscription's first view is never held: `last` unset, not the
    // clock's zero, which is the boot on Linux: review 95.)
    const bool held =
        paced != nullptr && paced->last && now < *paced->last + options_.dashboard_interval;
    // Held views count among the queue's messages, as they will be in it.
    if (queue_.size() + held_views_ + 1 > options_.max_queue_messages ||
        queued_bytes_ + message->size() > options_.max_queue_bytes) {
      OverflowLocked();
      return false;
    }
    queued_bytes_ += message->size();
    if (held) {
      paced->held = std::move(message);
      ++held_views_;
      const auto due = *paced->last + options_.dashboard_interval;
      // Armed for a later view's due time (or not at all): armed again.
      if (!pacing_armed_ || due < armed_due_) {
        pace = pacing_armed_ = true;
        armed_due_ = due;
      }
    } else {
      if (paced != nullptr) paced->last = now;
      queue_.push_back(Queued{std::move(message), coalesce});
      if (!write_scheduled_) schedule = write_scheduled_ = true;
    }
  }
  if (schedule) asio::post(ws_.get_executor(), [self = shared_from_this()] { self->WriteNext(); });
  if (pace) asio::post(ws_.get_executor(), [self = shared_from_this()] { self->ArmPacing(); });
  return true;
}

void WsSession::OverflowLocked() {
  overflowed_ = true;
  DropQueueLocked();
  metrics_->slow_client_closes.Increment();
  asio::post(ws_.get_executor(), [self = shared_from_this()] {
    self->CloseWith(websocket::close_code::try_again_later,
                    "fell behind: reconnect and subscribe with after");
  });
}

void WsSession::Forget(std::uint64_t coalesce) {
  std::lock_guard l(mu_);
  auto it = paced_.find(coalesce);
  if (it == paced_.end()) return;
  if (it->second.held) {
    queued_bytes_ -= it->second.held->size();
    --held_views_;
  }
  paced_.erase(it);
}

// On the strand: waits for the earliest held view's due time.
void WsSession::ArmPacing() {
  std::optional<std::chrono::steady_clock::time_point> due;
  {
    std::lock_guard l(mu_);
    for (const auto& [key, paced] : paced_) {
      if (!paced.held) continue;
      const auto at = *paced.last + options_.dashboard_interval;  // (a held view's is set)
      if (!due || at < *due) due = at;
    }
    if (!due || ended_) {
      pacing_armed_ = false;
      return;
    }
    armed_due_ = *due;
  }
  // (A wait pending for a later time is cancelled: its handler returns.)
  pace_timer_.expires_at(*due);
  pace_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;  // cancelled: the session ended
    self->OnPacing();
  });
}

// On the strand: the held views now due go to the queue, in the order of
// their subscriptions' keys (each subscription's own stay in order).
void WsSession::OnPacing() {
  bool schedule = false;
  {
    std::lock_guard l(mu_);
    if (ended_ || overflowed_) {
      pacing_armed_ = false;
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto& [key, paced] : paced_) {
      if (!paced.held || now < *paced.last + options_.dashboard_interval) continue;
      queue_.push_back(Queued{std::move(paced.held), key});  // its bytes counted already
      paced.held = nullptr;
      paced.last = now;
      --held_views_;
    }
    if (!queue_.empty() && !write_scheduled_) schedule = write_scheduled_ = true;
  }
  if (schedule) WriteNext();
  ArmPacing();
}

bool WsSession::Ended() const {
  std::lock_guard l(mu_);
  return ended_;
}

std::size_t WsSession::queued_messages() {
  std::lock_guard l(mu_);
  return queue_.size();
}

bool WsSession::BackloggedLocked() const {
  return queued_bytes_ > options_.max_queue_bytes / 4 ||
         queue_.size() > options_.max_queue_messages / 4;
}

bool WsSession::Backlogged() const {
  std::lock_guard l(mu_);
  return BackloggedLocked();
}

void WsSession::WhenDrained(std::function<void()> resume) {
  {
    std::lock_guard l(mu_);
    if (ended_ || overflowed_) return;
    if (BackloggedLocked()) {
      drained_.push_back(std::move(resume));
      return;
    }
  }
  resume();
}

void WsSession::WriteNext() {
  if (!open_ || writing_ || closing_sent_) return;
  PushMessage next;
  std::vector<std::function<void()>> resume;
  {
    std::lock_guard l(mu_);
    if (queue_.empty()) {
      write_scheduled_ = false;
    } else {
      next = std::move(queue_.front().message);
      queue_.pop_front();
      queued_bytes_ -= next->size();
      // A devector keeps its largest size's room: given back once emptied
      // (review 113: a connection that once caught up held ~58 KiB for
      // good, where the deque freed its blocks as they emptied).
      if (queue_.empty() && queue_.capacity() > kQueueSlotsKept) {
        decltype(queue_)().swap(queue_);
      }
      if (!drained_.empty() && !BackloggedLocked()) resume.swap(drained_);
    }
  }
  for (auto& r : resume) r();
  if (!next) {
    if (close_after_write_) CloseAfterWrite();
    return;
  }
  writing_ = true;
  ws_.text(true);
  WritePart(std::move(next), 0);
}

void WsSession::WritePart(PushMessage message, std::size_t offset) {
  // The write timeout runs from the last part the peer took: a large
  // message (a cell's board of several MB) to a peer that reads slowly
  // but steadily is not cut (review 105), one that reads nothing is.
  write_began_ = std::chrono::steady_clock::now();
  if (!write_watch_armed_ && options_.write_timeout.count() > 0) {
    ArmWriteWatch(write_began_ + options_.write_timeout);
  }
  const std::size_t part = std::min(kWritePartBytes, message->size() - offset);
  const bool last = offset + part == message->size();
  ws_.async_write_some(last, asio::buffer(message->data() + offset, part),
                       [self = shared_from_this(), message, offset, part, last](
                           beast::error_code ec, std::size_t) mutable {
                         if (ec) {
                           self->writing_ = false;
                           return self->End();
                         }
                         if (!last) return self->WritePart(std::move(message), offset + part);
                         self->writing_ = false;
                         self->metrics_->messages_pushed.Increment();  // written, not only queued
                         if (self->close_after_write_) return self->CloseAfterWrite();
                         self->WriteNext();
                       });
}

void WsSession::CloseWith(websocket::close_code code, std::string_view reason) {
  if (!open_ || closing_sent_) return;
  // The close, a write still in flight included, takes at most close_timeout:
  // a peer that reads nothing would hold that write, and the close, forever.
  ArmCloseDeadline();
  if (writing_) {
    // One write at a time: after the one in flight.
    close_after_write_ = websocket::close_reason(code, reason);
    return;
  }
  closing_sent_ = true;
  ws_.async_close(
      websocket::close_reason(code, reason),
      asio::bind_cancellation_slot(
          close_cancel_.slot(), [self = shared_from_this()](beast::error_code) { self->End(); }));
}

void WsSession::ArmWriteWatch(std::chrono::steady_clock::time_point due) {
  // One timer per connection, moved on only when it fires: a write each
  // message would otherwise set it each time.
  write_watch_armed_ = true;
  write_timer_.expires_at(due);
  write_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;  // cancelled: the session ended
    self->OnWriteWatch();
  });
}

void WsSession::OnWriteWatch() {
  write_watch_armed_ = false;
  if (!open_ || !writing_ || closing_sent_ || close_after_write_) return;
  const auto due = write_began_ + options_.write_timeout;
  if (std::chrono::steady_clock::now() < due) return ArmWriteWatch(due);  // a later write's
  // The peer has taken nothing of one message for write_timeout: it reads
  // no more, and what is queued for it would be held for as long as it
  // answers pings. Closed as one whose queue overflowed (the close after
  // the write in flight, or the socket at close_timeout).
  {
    std::lock_guard l(mu_);
    if (overflowed_ || ended_) return;
    overflowed_ = true;
    DropQueueLocked();
  }
  metrics_->slow_client_closes.Increment();
  CloseWith(websocket::close_code::try_again_later,
            "fell behind: reconnect and subscribe with after");
}

void WsSession::ArmCloseDeadline() {
  if (close_deadline_armed_) return;
  close_deadline_armed_ = true;
  close_timer_.expires_after(options_.close_timeout);
  close_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;  // cancelled: closed in time
    self->Drop();
  });
}

void WsSession::CloseAfterWrite() {
  const websocket::close_reason why = *close_after_write_;
  close_after_write_.reset();
  CloseWith(static_cast<websocket::close_code>(why.code),
            std::string_view(why.reason.data(), why.reason.size()));
}

void WsSession::End() {
  {
    std::lock_guard l(mu_);
    if (ended_) return;
    ended_ = true;
    DropQueueLocked();
  }
  // Nothing more is sent: a shutdown that comes after this does not start a
  // close handshake (and its timer) with a peer that is already gone.
  open_ = false;
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
  close_timer_.cancel();
  expiry_timer_.cancel();
  pace_timer_.cancel();
  write_timer_.cancel();
  hub_->Drop(this);
  metrics_->ws_connections_open.Decrement();
  if (on_end_) on_end_();
}

}  // namespace casegrid
