#include "tools/load/http_writer.h"

#include <simdjson.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <charconv>

#include "projections/json_writer.h"

namespace casegrid::load {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

void WriteStats::RecordRefusal(unsigned status, const std::string& what) {
  non2xx.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard l(mu_);
  ++by_status_[status];
  if (samples_.size() < 10) samples_.push_back(what);
}

void WriteStats::RecordConnectionError(const std::string& what) {
  connection_errors.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard l(mu_);
  if (samples_.size() < 10) samples_.push_back(what);
}

std::map<unsigned, std::uint64_t> WriteStats::ByStatus() const {
  std::lock_guard l(mu_);
  return by_status_;
}

std::vector<std::string> WriteStats::Samples() const {
  std::lock_guard l(mu_);
  return samples_;
}

// One connection walking one case at a time through its lifecycle.
class WriterFleet::Writer : public std::enable_shared_from_this<Writer> {
  static constexpr std::chrono::milliseconds kFirstBackoff{50}, kMostBackoff{1000};
  static constexpr std::chrono::seconds kMostDrain{30};

 public:
  Writer(asio::io_context& io, WriterFleet* fleet, const WriterIdentity& me, tcp::endpoint server,
         int index)
      : fleet_(fleet),
        me_(me),
        server_(server),
        index_(index),
        stream_(asio::make_strand(io)),
        timer_(stream_.get_executor()) {}

  // `phase` in [0, 1): where in the pacing interval this writer's writes
  // fall, so that paced writers do not all send at once.
  void Start(Clock::time_point until, double phase) {
    until_ = stop_at_ = until;
    next_at_ = Clock::now();
    const double rate = fleet_->options_.rate_per_writer;
    if (rate > 0) {
      interval_ =
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1 / rate));
      next_at_ +=
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(phase / rate));
      // Every write due before `until` is sent, however late (the latency of
      // one the server kept waiting counts from when it was due), but not
      // past as long again as the run (at most 30 s): those still unsent then
      // are counted, not measured.
      if (until > next_at_) {
        scheduled_ = static_cast<std::uint64_t>(
            (until - next_at_ + interval_ - Clock::duration(1)) / interval_);
        stop_at_ = until + std::min<Clock::duration>(until - Clock::now(), kMostDrain);
      }
    }
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->Connect(); });
  }

 private:
  enum class Step { kReport, kAssign, kAccept, kNote, kMediate, kResolve, kCallback, kClose };

  bool paced() const { return interval_ > Clock::duration::zero(); }
  // Whether no more writes are to be sent: unpaced, once `until_` has come;
  // paced, once every write due before it is sent, or at `stop_at_`.
  bool Over() const {
    if (!paced()) return Clock::now() >= until_;
    return sent_count_ >= scheduled_ || Clock::now() >= stop_at_;
  }

  void Connect() {
    if (Over()) return Finish();
    stream_.expires_after(std::chrono::seconds(10));
    stream_.async_connect(server_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->ConnectionFailed(ec, "connect");
      beast::error_code ignored;  // each request is one write: nothing to gain from Nagle
      self->stream_.socket().set_option(tcp::no_delay(true), ignored);
      self->Next();
    });
  }

  void ConnectionFailed(beast::error_code ec, const char* what) {
    fleet_->stats_->RecordConnectionError(std::string("writer ") + std::to_string(index_) + ": " +
                                          what + ": " + ec.message());
    beast::error_code ignored;
    stream_.socket().close(ignored);
    buffer_.clear();
    step_ = Step::kReport;  // the write in flight may or may not have happened
    // Back off: 50 ms, doubling to 1 s while failures follow one another (a
    // server that is gone is not hammered), but not past the deadline.
    const auto backoff = std::min<std::chrono::milliseconds>(
        kMostBackoff, kFirstBackoff * (1 << std::min(failures_in_row_, 5)));
    ++failures_in_row_;
    timer_.expires_at(std::min(Clock::now() + backoff, stop_at_));
    timer_.async_wait([self = shared_from_this()](beast::error_code) { self->Connect(); });
  }

  // Sends the next write, paced if a rate is set.
  void Next() {
    if (Over()) return Finish();
    if (paced()) {
      // The schedule does not slip when answers come late: a write due
      // while the last one was still waiting goes out at once, and its
      // latency counts from when it was due (no coordinated omission).
      if (started_) next_at_ += interval_;
      started_ = true;
      if (next_at_ > Clock::now()) {
        timer_.expires_at(next_at_);
        timer_.async_wait([self = shared_from_this()](beast::error_code) { self->Send(); });
        return;
      }
    }
    Send();
  }

  void Send() {
    if (Over()) return Finish();
    request_ = {};
    request_.method(http::verb::post);
    request_.version(11);
    request_.target(Target());
    request_.set(http::field::host, "casegrid");
    request_.set(http::field::authorization, "Bearer " + me_.token);
    request_.set(http::field::content_type, "application/json");
    request_.keep_alive(true);
    request_.body() = Body();
    request_.prepare_payload();
    response_.emplace();
    sent_ = NowNanos();
    ++sent_count_;
    if (paced()) {
      const auto late = Clock::now() - next_at_;
      if (late > Clock::duration::zero()) {
        sent_ -= std::chrono::duration_cast<std::chrono::nanoseconds>(late).count();
      }
    }
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, request_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->ConnectionFailed(ec, "write");
                        self->Read();
                      });
  }

  void Read() {
    http::async_read(stream_, buffer_, *response_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->ConnectionFailed(ec, "read");
                       self->OnAnswer();
                     });
  }

  void OnAnswer() {
    const std::int64_t now = NowNanos();
    failures_in_row_ = 0;  // an answer, whatever its status: the connection works
    WriteStats& stats = *fleet_->stats_;
    auto& res = response_->get();
    const unsigned status = res.result_int();
    if (status / 100 == 2) {
      thread_local simdjson::dom::parser parser;
      simdjson::dom::element root;
      std::uint64_t position = 0, version = 0;
      std::string_view case_id;
      if (parser.parse(res.body()).get(root) || root["position"].get(position) ||
          root["version"].get(version) || (step_ != Step::kReport && version <= version_)) {
        // Counted once, as a refusal: not an acknowledged write.
        stats.RecordRefusal(status,
                            "a 2xx answer without a new position and version: " + res.body());
        step_ = Step::kReport;
      } else {
        stats.latency.Record(now - sent_);
        stats.ok.fetch_add(1, std::memory_order_relaxed);
        if (step_ == Step::kReport && !root["case_id"].get(case_id)) case_id_ = case_id;
        const std::uint64_t written =
            step_ == Step::kReport ? 1 : std::max<std::uint64_t>(1, version - version_);
        fleet_->acks_->Record(position + 1 - std::min(written, position), position, now, cell_);
        stats.events.fetch_add(written, std::memory_order_relaxed);
        version_ = version;
        Advance();
      }
    } else {
      stats.RecordRefusal(status, std::to_string(status) + " " + std::string(request_.target()) +
                                      " " + request_.body() + " -> " + res.body());
      step_ = Step::kReport;
    }
    if (!res.keep_alive()) {
      beast::error_code ignored;
      stream_.socket().close(ignored);
      buffer_.clear();
      return Connect();
    }
    if (status == 429) {  // rate limited: wait as told (Retry-After), as a client should
      const auto after = res.find(http::field::retry_after);
      int seconds = 1;
      if (after != res.end()) {
        const std::string_view v = after->value();
        std::from_chars(v.data(), v.data() + v.size(), seconds);
      }
      seconds = std::clamp(seconds, 1, 60);
      timer_.expires_after(std::chrono::seconds(seconds));
      timer_.async_wait([self = shared_from_this()](beast::error_code) { self->Next(); });
      return;
    }
    Next();
  }

  void Advance() {
    switch (step_) {
      case Step::kReport:
        step_ = Step::kAssign;
        ++cases_;
        break;
      case Step::kAssign:
        step_ = Step::kAccept;
        break;
      case Step::kAccept:
        notes_ = 0;
        step_ = fleet_->options_.notes_per_case > 0 ? Step::kNote
                : dispute_                          ? Step::kMediate
                                                    : Step::kResolve;
        break;
      case Step::kNote:
        if (++notes_ < fleet_->options_.notes_per_case) break;
        step_ = dispute_ ? Step::kMediate : Step::kResolve;
        break;
      case Step::kMediate:
        step_ = Step::kResolve;
        break;
      case Step::kResolve:
        step_ = Step::kCallback;
        break;
      case Step::kCallback:
        step_ = Step::kClose;
        break;
      case Step::kClose:
        fleet_->stats_->cases_closed.fetch_add(1, std::memory_order_relaxed);
        step_ = Step::kReport;
        break;
    }
  }

  std::string Target() const {
    if (step_ == Step::kReport) return "/api/v1/cases";
    static constexpr const char* kActions[] = {
        "", "assign", "accept", "note", "mediate", "resolve", "complete-callback", "close"};
    return "/api/v1/cases/" + case_id_ + "/" + kActions[static_cast<int>(step_)];
  }

  std::string Body() {
    JsonWriter w;
    w.BeginObject();
    switch (step_) {
      case Step::kReport: {
        static constexpr const char* kKinds[] = {"dispute", "incident", "assistance", "dispute"};
        const char* kind = kKinds[cases_ % 4];
        dispute_ = std::string_view(kind) == "dispute";
        const std::string& cell = me_.cells[cases_ % me_.cells.size()];
        cell_ = fleet_->acks_->CellId(cell);
        w.Key("kind").String(kind).Key("channel").String("call").Key("cell").String(cell);
        w.Key("category").String("neighbour").Key("priority").String("normal");
        w.Key("summary").String("load case " + std::to_string(index_) + "-" +
                                std::to_string(cases_));
        w.Key("reporter").BeginObject().Key("name").String("Li Wei");
        w.Key("phone").String("13800000000").EndObject();
        w.Key("parties").BeginArray().String("Li Wei").String("Zhang San").EndArray();
        w.EndObject();
        return w.Take();
      }
      case Step::kAssign:
        w.Key("assignee").String(me_.subject);
        break;
      case Step::kAccept:
      case Step::kClose:
        break;
      case Step::kNote:
        w.Key("text").String("called the reporter, visit planned");
        break;
      case Step::kMediate:
        w.Key("tier").Int(1).Key("participants").BeginArray().String("Li Wei").String("Zhang San");
        w.EndArray().Key("outcome").String("agreement").Key("notes").String("agreed on repairs");
        break;
      case Step::kResolve:
        w.Key("resolution").String(dispute_ ? "mediated_agreement" : "handled_on_site");
        w.Key("summary").String("settled");
        break;
      case Step::kCallback:
        w.Key("speed").String("satisfied").Key("attitude").String("satisfied");
        w.Key("outcome").String("satisfied").Key("comment").String("thanked the officers");
        break;
    }
    w.Key("expected_version").Int(static_cast<std::int64_t>(version_));
    w.EndObject();
    return w.Take();
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    if (sent_count_ < scheduled_) {
      fleet_->stats_->unsent.fetch_add(scheduled_ - sent_count_, std::memory_order_relaxed);
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    fleet_->running_.fetch_sub(1);
  }

  WriterFleet* const fleet_;
  const WriterIdentity& me_;
  const tcp::endpoint server_;
  const int index_;
  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::string_body>> response_;
  Clock::time_point until_, stop_at_, next_at_;
  Clock::duration interval_{0};  // paced: between writes due; unpaced: 0
  std::uint64_t scheduled_ = 0;  // paced: writes due before until_
  std::uint64_t sent_count_ = 0;
  std::int64_t sent_ = 0;
  bool finished_ = false;
  bool started_ = false;     // the first write goes at next_at_ as Start set it
  int failures_in_row_ = 0;  // connection failures since the last answer

  // The case being walked.
  Step step_ = Step::kReport;
  std::string case_id_;
  std::uint32_t cell_ = AckTimes::kNoCell;  // its cell, as AckTimes numbers it
  std::uint64_t version_ = 0;
  std::uint64_t cases_ = 0;
  int notes_ = 0;
  bool dispute_ = false;
};

WriterFleet::WriterFleet(asio::io_context& io, WriterOptions options,
                         std::vector<WriterIdentity> writers, AckTimes* acks, WriteStats* stats)
    : io_(io),
      options_(std::move(options)),
      identities_(std::move(writers)),
      acks_(acks),
      stats_(stats) {}

WriterFleet::~WriterFleet() = default;

void WriterFleet::Start(Clock::time_point until) {
  tcp::resolver resolver(io_);
  const tcp::endpoint server =
      *resolver.resolve(options_.host, std::to_string(options_.port)).begin();
  running_ = static_cast<int>(identities_.size());
  for (std::size_t i = 0; i < identities_.size(); ++i) {
    writers_.push_back(
        std::make_shared<Writer>(io_, this, identities_[i], server, static_cast<int>(i)));
  }
  for (std::size_t i = 0; i < writers_.size(); ++i) {  // each posts to its own strand
    writers_[i]->Start(until, static_cast<double>(i) / static_cast<double>(writers_.size()));
  }
}

}  // namespace casegrid::load
