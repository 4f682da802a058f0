#include "api/http_server.h"
#include "api/http_date.h"
#include "engine/thread_name.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

namespace casegrid {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// One connection: read a request, answer it, write the answer, repeat. Case
// commands are decided on the connection's strand and appended without
// waiting (HttpApi::HandleAsync); every other request goes to a worker,
// since it may block on an fsync or a long read.
namespace {

// The read buffer holds a request's header (bounded by its own limit) and a
// chunked body's trailer, which the parser takes whole once it ends; body
// bytes pass through it. Bounded, so that a trailer cannot grow without end
// (nor hold a field too large for Beast, which would throw).
std::size_t ReadBufferLimit(const HttpServerOptions& options) {
  return options.max_header_bytes + 16 * 1024;
}

// RFC 9112 §3.2.2: a server must accept a request target in absolute form
// ("http://host/path?query"); it is read as its path and query. Nullopt for
// a target in origin form.
std::optional<std::string> OriginForm(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() < scheme.size() || !beast::iequals(target.substr(0, scheme.size()), scheme)) {
      continue;
    }
    const std::string_view rest = target.substr(scheme.size());
    const auto path = rest.find_first_of("/?");
    if (path == std::string_view::npos) return "/";
    return rest[path] == '?' ? "/" + std::string(rest.substr(path))
                             : std::string(rest.substr(path));
  }
  return std::nullopt;
}

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, ConnectionSlots::Slot slot, HttpServer* server, HttpApi* api,
              ApiMetrics* metrics, asio::thread_pool* workers, const HttpServerOptions& options,
              const std::atomic<bool>* stopping)
      : slot_(std::move(slot)),
        stream_(std::move(socket)),
        server_(server),
        buffer_(ReadBufferLimit(options)),
        api_(api),
        metrics_(metrics),
        workers_(workers),
        options_(options),
        stopping_(stopping) {
    if (!options_.count_connections) return;
    metrics_->connections.Increment();
    metrics_->connections_open.Increment();
  }
  ~HttpSession() {
    if (options_.count_connections) metrics_->connections_open.Decrement();
  }

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }
  // Answers `why` (with Retry-After: 1) before reading anything, then
  // lingers and closes: a connection the server will not serve.
  void RunRefused(Status why) {
    // (Counted in casegrid_connections_refused_per_address_total, not as a
    // request: none was read.)
    asio::dispatch(stream_.get_executor(), [self = shared_from_this(), why = std::move(why)] {
      self->reading_ = false;  // an answer is owed: a shutdown lets it be written
      self->linger_ = true;
      // (a 429 carries Retry-After: 1, ErrorResponse)
      self->Write(std::make_shared<HttpResponse>(ErrorResponse(why, 11, false)));
    });
  }

  // On shutdown: a session waiting for a request, or lingering after a
  // refusal, stops; one whose request is being handled answers it first (its
  // write comes back here).
  void Shut() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->reading_) self->stream_.cancel();
    });
  }
  // The end of a shutdown: the socket closed, ending every pending operation.
  void Abort() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->stream_.socket().close(ignored);
    });
  }

 private:
  void Read() {
    if (stopping_->load()) return Close();
    reading_ = true;
    answering_head_ = false;
    header_.reset();
    caller_.reset();
    answer_subject_.clear();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    parser_->body_limit(options_.max_body_bytes);
    stream_.expires_after(options_.request_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  // What is wrong with `request`'s framing, read from its header alone.
  static Status FramingOf(const http::request<http::string_body>& request) {
    // A body's framing must be one the parser read as such: chunked, or a
    // Content-Length. Any other transfer coding (gzip, identity, "gzip,
    // chunked") leaves the body unread or undecoded, and what followed would
    // be taken for the next request: refuse it and close.
    if (auto te = request.find(http::field::transfer_encoding);
        te != request.end() && !beast::iequals(Trim(te->value()), "chunked")) {
      return Status::InvalidArgument("Transfer-Encoding: only chunked is accepted");
    }
    // RFC 9112 6.1: HTTP/1.0 has no transfer codings, so one in an HTTP/1.0
    // request is faulty framing (a smuggling attempt, or a proxy that sees a
    // Content-Length): answered once, then closed, whatever was read.
    if (request.version() < 11 && request.find(http::field::transfer_encoding) != request.end()) {
      return Status::InvalidArgument("Transfer-Encoding: an HTTP/1.0 request may not carry one");
    }
    // RFC 9112 3.2: an HTTP/1.1 request without a Host, or any with two, is
    // a 400 (which host was meant would be a guess).
    if (const std::size_t hosts = request.count(http::field::host);
        hosts > 1 || (hosts == 0 && request.version() >= 11)) {
      return Status::InvalidArgument(hosts > 1 ? "Host: sent more than once"
                                               : "Host: an HTTP/1.1 request needs one");
    }
    return Status::Ok();
  }

  // The header is read. A client that sent `Expect: 100-continue` waits for
  // word before it sends its body (curl: a second, then sends anyway; RFC
  // 9110 10.1.1): it gets a 100 Continue, then the body is read.
  void OnHeader(beast::error_code ec) {
    if (ec) return OnRead(ec);
    auto& request = parser_->get();
    // Its framing first, once for every request, with a body or without:
    // before its token (a smuggling attempt without one was told 401, not
    // its 400; black-box probe 76). A chunked body's trailer cannot change
    // it: the header is put back as read (OnRead).
    if (Status framing = FramingOf(request); !framing.ok()) {
      return Refuse(framing, request.version());
    }
    if (parser_->is_done()) return OnRead(ec);
    // The metrics port serves no request with a body: 404 before any token
    // check or body read, as to any other request it does not serve
    // (review 94, probe 93: a POST without a token was 401, with one its
    // body was read, and 100 Continue invited it).
    if (api_->operational_only())
      return Refuse(Status::NotFound(kOperationalOnly), request.version());

    // A body comes: its sender's token is checked first, so that a client
    // without one is refused before its body is read and held (up to
    // --max-body-bytes each, for the request timeout), and before it is
    // invited to send it with a 100 Continue (black-box probe 72).
    if (auto origin = OriginForm(request.target())) request.target(*origin);
    auto caller = api_->CheckCredential(request);
    if (!caller.ok()) return Refuse(caller.status(), request.version());
    caller_ = std::move(*caller);
    // What a chunked body's trailer adds is not of the header: the parser
    // merges its fields into the header's (a name the header has lands
    // beside it), so the header is kept as read and put back (OnRead).
    if (parser_->chunked()) header_ = request.base();
    if (request.version() >= 11 &&
        beast::iequals(Trim(request[http::field::expect]), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                               [self = shared_from_this()](beast::error_code written, std::size_t) {
                                 if (written) return self->Close();
                                 self->ReadBody();
                               });
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    reading_ = false;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      return Close();
    }
    if (ec) {
      // Malformed or oversized: answer once, then close. A chunked body's
      // trailer must fit in the read buffer with what follows it
      // (buffer_overflow), as a header must fit in its limit.
      // Each bound named, with its size (it said "request exceeds the size
      // limit" for all three; black-box probe 72).
      const auto too_large = [](std::string_view what, std::size_t bound, std::string_view flag) {
        return Status::TooLarge(std::string(what) + " exceeds " + std::to_string(bound) + " bytes" +
                                std::string(flag));
      };
      Status why = Status::InvalidArgument("malformed HTTP request: " + ec.message());
      if (ec == http::error::header_limit) {
        why = too_large("the request's header", options_.max_header_bytes, "");
      } else if (ec == http::error::body_limit) {
        why = too_large("the request's body", options_.max_body_bytes, " (serve --max-body-bytes)");
      } else if (ec == http::error::buffer_overflow) {
        why =
            too_large("a chunk's extensions or the body's trailer", ReadBufferLimit(options_), "");
      }
      return Refuse(why, 11);
    }
    // A trailer's fields are dropped, not taken as the header's (RFC 9110
    // 6.5.1): an Authorization or Idempotency-Key sent there acted, past any
    // proxy that checks the header (black-box probe 72).
    if (header_) {
      parser_->get().base() = std::move(*header_);
      header_.reset();
    }
    // A HEAD is answered as its GET would be, without the body (RFC 9110
    // 9.3.2): bytes after the header would be read as the next answer.
    answering_head_ = parser_->get().method() == http::verb::head;
    if (auto origin = OriginForm(parser_->get().target())) parser_->get().target(*origin);
    const std::string_view target = parser_->get().target();
    if (target.substr(0, target.find('?')) == "/ws") {
      metrics_->requests.Increment();  // an HTTP request, upgraded or refused
      Principal who;
      ConnectionSlots::Slot token_place;
      bool wrong_version = false;
      if (Status s = server_->AdmitWebSocket(parser_->get(), &who, &token_place, &wrong_version);
          !s.ok()) {
        metrics_->errors.Increment();
        auto refusal =
            std::make_shared<HttpResponse>(ErrorResponse(s, parser_->get().version(), false));
        if (wrong_version) {
          // RFC 6455 4.2.2: 426, naming the version this server speaks.
          refusal->result(http::status::upgrade_required);
          refusal->set(http::field::sec_websocket_version, "13");
        }
        return Write(std::move(refusal));
      }
      // The WebSocket session has the connection from here on.
      return server_->StartWebSocket(stream_.release_socket(),
                                     Both(std::move(slot_), std::move(token_place)), std::move(who),
                                     parser_->release());
    }
    // A read (GET, HEAD) is not started while the answers its clients have
    // not taken yet hold more than the bound, all connections together (503),
    // or its token's clients' more than the token's share (429): with
    // Retry-After, before any work, audit record or rate charge. Writes
    // always go (their answers are small, and one that has acted must be
    // answered). 40 clients that asked for a 38 MB history and never read
    // held 876 MiB (black-box probe 72); one token's could fill the bound and
    // have every other user's reads refused (session 30). Its caller is
    // verified here, when it sends a token that verifies, to find its share;
    // the api admits it without verifying again. A read without one (a
    // screen's file, healthz) has no share; with one that does not verify it
    // is answered 401 as it is routed. The liveness check is never refused
    // so: its answer is a few bytes, and a server whose readers hold the
    // bound is alive (black-box probe 99: /healthz was 503).
    const bool liveness = target.substr(0, target.find('?')) == "/healthz";
    if ((parser_->get().method() == http::verb::get || answering_head_) && !liveness) {
      if (auto caller = api_->CheckCredential(parser_->get()); caller.ok()) {
        caller_ = std::move(*caller);
        answer_subject_ = caller_->sub;  // its answer counted in its share
      }
      if (Status held = server_->held_answers_.MayRead(answer_subject_); !held.ok()) {
        metrics_->requests.Increment();
        metrics_->errors.Increment();
        auto busy = std::make_shared<HttpResponse>(
            ErrorResponse(held, parser_->get().version(), parser_->get().keep_alive()));
        busy->set(http::field::retry_after, "1");
        if (answering_head_) {
          busy->content_length(busy->body().size());
          busy->body().clear();
        }
        return Write(std::move(busy));
      }
    }
    auto request = std::make_shared<HttpRequest>(parser_->release());
    stream_.expires_never();  // the answer may wait on an fsync; not the client's fault
    if (HttpApi::NeverBlocks(*request)) {
      // Decided here on the strand; the append joins the next group commit,
      // and what follows it comes back to this strand.
      auto self = shared_from_this();
      auto owed = server_->HoldForAnAnswer();
      api_->HandleAsync(
          *request,
          [self, owed](std::function<void()> work) {
            asio::post(self->stream_.get_executor(), std::move(work));
          },
          [self, owed](std::function<void()> work) {
            asio::post(*self->workers_, [self, owed, work = std::move(work)] {
              try {
                work();
              } catch (const std::exception& e) {
                // Its answer may be half given: the connection ends instead.
                self->EndedOnException(e);
                self->Abort();
              }
            });
          },
          [self, request, owed](HttpResponse res) {
            self->Write(std::make_shared<HttpResponse>(std::move(res)));
          },
          std::move(caller_));
      return;
    }
    asio::post(*workers_, [self = shared_from_this(), request, caller = std::move(caller_),
                           owed = server_->HoldForAnAnswer()] {
      std::shared_ptr<HttpResponse> res;
      try {
        res = std::make_shared<HttpResponse>(self->api_->Handle(*request, caller));
      } catch (const std::exception& e) {
        // An allocation that failed, a storage library's throw: this request
        // fails, the server goes on.
        self->EndedOnException(e);
        // What threw is the server's log's (EndedOnException), not the client's.
        res = std::make_shared<HttpResponse>(
            ErrorResponse(Status::Internal("the server could not answer this request; it goes on"),
                          request->version(), false));
      }
      asio::post(self->stream_.get_executor(), [self, res] { self->Write(res); });
    });
  }

  // A request's work that threw: counted as an error and said on stderr.
  void EndedOnException(const std::exception& e) {
    metrics_->errors.Increment();
    std::fprintf(stderr, "casegrid: a request ended on an exception: %s\n", e.what());
  }

  // A request refused before routing (malformed, too large, unframed):
  // counted, answered once, then the connection lingers and closes.
  void Refuse(const Status& why, unsigned version) {
    metrics_->requests.Increment();
    metrics_->errors.Increment();
    reading_ = false;  // an answer is owed: a shutdown lets it be written
    linger_ = true;
    Write(std::make_shared<HttpResponse>(ErrorResponse(why, version, false)));
  }

  void Write(std::shared_ptr<HttpResponse> res) {
    if (answering_head_ && !res->body().empty()) {  // (a web file's HEAD reads none)
      const std::size_t length = res->body().size();
      res->body().clear();
      res->content_length(length);
    }
    // The answer's bytes are held until its client has taken them (counted
    // for the bounds OnRead keeps reads within, in all and the caller's;
    // given back when the Answer goes, on completion, error and cancel too).
    res->set(http::field::date, HttpDateNow());
    auto answer = std::make_shared<Answer>(std::move(res));
    answer->held =
        server_->held_answers_.Take(std::exchange(answer_subject_, {}), answer->res->body().size());
    stream_.expires_after(options_.request_timeout);
    WriteSome(std::move(answer));
  }

  // An answer on its way: the response, what serializes it, and its bytes
  // counted among the answers held until it is destroyed (written, failed,
  // or never started: an allocation that failed).
  struct Answer {
    explicit Answer(std::shared_ptr<HttpResponse> r) : res(std::move(r)), sr(*res) {}
    Answer(const Answer&) = delete;
    Answer& operator=(const Answer&) = delete;
    std::shared_ptr<HttpResponse> res;
    http::response_serializer<http::string_body> sr;
    HeldAnswers::Hold held;          // in the server's held_answers_
    std::size_t since_deadline = 0;  // bytes taken since the deadline was set
  };
  // Writes what the socket takes. The client has request_timeout to take
  // the next kAnswerProgressBytes (or the rest): each time it has, the
  // deadline moves on. A whole-answer deadline cut a steady reader's long
  // answer (a 38 MB history needed ~1.3 MB/s; black-box probe 72).
  void WriteSome(std::shared_ptr<Answer> answer) {
    http::async_write_some(
        stream_, answer->sr,
        [self = shared_from_this(), answer](beast::error_code ec, std::size_t n) mutable {
          if (!ec && !answer->sr.is_done()) {
            answer->since_deadline += n;
            if (answer->since_deadline >= kAnswerProgressBytes) {
              answer->since_deadline = 0;
              self->stream_.expires_after(self->options_.request_timeout);
            }
            return self->WriteSome(std::move(answer));
          }
          const bool keep_alive = answer->res->keep_alive();
          answer.reset();  // its bytes are not held while the next request is read
          if (ec || !keep_alive) return self->linger_ && !ec ? self->Linger() : self->Close();
          self->Read();
        });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  // After refusing a request the server did not read whole (too large,
  // malformed): stop sending, then read and drop what the client still
  // sends, for at most kLingerTime, before the socket closes. Closing with
  // unread bytes would make the kernel answer them with a reset, which can
  // destroy the refusal before the client reads it.
  void Linger() {
    static constexpr auto kLingerTime = std::chrono::seconds(2);
    Close();
    if (stopping_->load()) return;  // shutting down: no lingering
    buffer_.clear();
    reading_ = true;  // nothing owed: Shut() may cut it short
    stream_.expires_after(kLingerTime);
    LingerRead();
  }
  void LingerRead() {
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return;  // the client closed, or the time is up
                              self->LingerRead();
                            });
  }

  // This connection's place among those open at once; handed on with the
  // socket to a WebSocket session. Declared first: let go after the socket.
  ConnectionSlots::Slot slot_;
  beast::tcp_stream stream_;
  HttpServer* const server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpApi* const api_;
  ApiMetrics* const metrics_;
  asio::thread_pool* const workers_;
  const HttpServerOptions& options_;
  const std::atomic<bool>* const stopping_;
  bool reading_ = false;  // waiting for a request, or lingering; on the strand only
  // A chunked request's header as read (OnHeader), before its trailer's
  // fields were merged into it; put back once the body is read.
  std::optional<http::request_header<>> header_;
  // The caller of a request with a body, or of a read, verified with its
  // header: the api admits it without verifying the token again.
  std::optional<Principal> caller_;
  // The subject whose share the next answer written counts in (a read's
  // verified caller; empty: in all only). Cleared as it is written.
  std::string answer_subject_;
  bool linger_ = false;          // a request refused unread: Linger() after the answer
  bool answering_head_ = false;  // the request is a HEAD: its answer goes without the body
};

class HttpServer::Listener : public std::enable_shared_from_this<Listener> {
 public:
  // The acceptor and its handlers on one strand, so that Close and a
  // handler re-arming the accept never touch it at once.
  Listener(asio::io_context& io, HttpServer* server)
      : io_(io),
        strand_(asio::make_strand(io)),
        acceptor_(strand_),
        backoff_(strand_),
        server_(server) {}

  // Listens on `bound`, which it takes.
  Status Open(BoundPort bound) {
    beast::error_code ec;
    const std::uint16_t port = bound.port();
    acceptor_.assign(bound.v6() ? tcp::v6() : tcp::v4(), bound.Release(), ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status::Unavailable("cannot listen on port " + std::to_string(port) + ": " +
                                 ec.message());
    return Status::Ok();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  // Accepts the next connection once a slot is free (on the strand).
  void Accept() {
    if (server_->stopping_ || !acceptor_.is_open()) return;
    // All connections open: the next waits in the kernel's backlog until one
    // closes, and this is called again then.
    ConnectionSlots::Slot slot = server_->slots_.TryTake([weak = weak_from_this()] {
      if (auto self = weak.lock(); self && !self->server_->stopping_) {
        asio::post(self->strand_, [self] { self->Accept(); });
      }
    });
    if (slot == nullptr) {
      if (server_->options_.count_connections) server_->metrics_->connections_waited.Increment();
      return;
    }
    acceptor_.async_accept(
        asio::make_strand(io_), [self = shared_from_this(), slot = std::move(slot)](
                                    beast::error_code ec, tcp::socket socket) {
          if (ec == asio::error::operation_aborted || self->server_->stopping_ ||
              !self->acceptor_.is_open()) {
            return;
          }
          if (ec) {
            // Out of descriptors (EMFILE), of memory, a peer gone before its
            // accept: try again shortly, without spinning an io thread.
            self->server_->metrics_->errors.Increment();
            self->backoff_.expires_after(std::chrono::milliseconds(50));
            self->backoff_.async_wait([self](beast::error_code waited) {
              if (!waited) self->Accept();
            });
            return;
          }
          // The next accept is armed however this one ends: a throw below
          // (out of memory) would have left the listener deaf for good.
          struct Rearm {
            Listener* listener;
            ~Rearm() { listener->Accept(); }
          } rearm{self.get()};
          // The connection's place among all, and among its address's: both
          // let go with the connection.
          ConnectionSlots::Slot held = slot;
          bool refused = false;
          if (auto address = self->server_->BoundedPeer(socket)) {
            ConnectionsPerKey& peers = self->server_->peers_;
            ConnectionSlots::Slot place = peers.TryTake(*address);
            if (place == nullptr) {
              refused = true;
              self->server_->metrics_->connections_refused_per_address.Increment();
              place = peers.TryTakeRefusal(*address);
              if (place == nullptr) {  // refusals of it lingering already: not answered
                beast::error_code ignored;
                socket.close(ignored);
                return;
              }
            }
            held = Both(std::move(held), std::move(place));
          }
          // Answers and pushes are small and latency-bound: no Nagle delay
          // behind the peer's delayed ACK.
          beast::error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);
          auto session = std::make_shared<HttpSession>(
              std::move(socket), std::move(held), self->server_, self->server_->api_,
              self->server_->metrics_, &self->server_->workers_, self->server_->options_,
              &self->server_->stopping_);
          self->server_->Track(session);
          if (refused) {
            // Its address has its bound open: told so, not served (it keeps
            // a slot of all while its answer is written and it lingers).
            return session->RunRefused(Status::RateLimited(
                "more than " + std::to_string(self->server_->options_.max_connections_per_address) +
                " connections open from your address (--max-connections-per-address)"));
          }
          session->Run();
        });
  }
  void Close() {
    asio::post(strand_, [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
      self->backoff_.cancel();
    });
  }

 private:
  asio::io_context& io_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::acceptor acceptor_;
  asio::steady_timer backoff_;
  HttpServer* server_;
};

HttpServer::HttpServer(HttpApi* api, ApiMetrics* metrics, PushHub* hub, HttpServerOptions options)
    : api_(api),
      metrics_(metrics),
      hub_(hub),
      options_(std::move(options)),
      slots_(options_.max_connections),
      peers_(options_.max_connections_per_address),
      ws_per_token_(options_.max_ws_per_token),
      held_answers_(options_.max_answer_bytes_held, options_.max_answer_bytes_held_per_token),
      io_(options_.io_threads),
      workers_(static_cast<std::size_t>(options_.workers)) {
  if (options_.count_connections) {
    metrics_->connections_bound.Set(static_cast<double>(options_.max_connections));
  }
}

HttpServer::~HttpServer() {
  Stop();
}

Status HttpServer::Start() {
  ASSIGN_OR_RETURN(BoundPort bound, BoundPort::Bind(options_.host, options_.port));
  return Start(std::move(bound));
}

Status HttpServer::Start(BoundPort bound) {
  if (options_.max_connections == 0) {
    return Status::InvalidArgument("max_connections must be at least 1");
  }
  listener_ = std::make_shared<Listener>(io_, this);
  RETURN_IF_ERROR(listener_->Open(std::move(bound)));
  port_ = listener_->port();
  listener_->Accept();
  work_.emplace(io_.get_executor());
  for (int i = 0; i < options_.io_threads; ++i) {
    threads_.emplace_back([this] {
      // Beast and Asio report some failures by throwing from a connection's
      // handler; that connection ends (its handler is gone), the others go
      // on, and the io thread runs again.
      for (;;) {
        try {
          io_.run();
          return;
        } catch (const std::exception& e) {
          metrics_->errors.Increment();
          std::fprintf(stderr, "casegrid: a connection ended on an exception: %s\n", e.what());
        }
      }
    });
    NameThread(threads_.back(), "cg-io");
  }
  return Status::Ok();
}

namespace {

// A v4 client of a dual-stack listener is one address, however written.
asio::ip::address Unmapped(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace

std::optional<std::string> HttpServer::BoundedPeer(const tcp::socket& socket) const {
  if (peers_.per_key() == 0) return std::nullopt;
  beast::error_code ec;
  const auto address = Unmapped(socket.remote_endpoint(ec).address());
  if (ec) return std::nullopt;  // gone already: its session ends at once
  if (address.is_loopback() && !options_.bound_loopback_peers) return std::nullopt;
  return PeerAddressKey(address);
}

std::string PeerAddressKey(const asio::ip::address& peer) {
  const asio::ip::address address = Unmapped(peer);
  if (address.is_v6()) {
    // An IPv6 host is given a /64 to pick addresses from: counted as one.
    auto bytes = address.to_v6().to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return asio::ip::address_v6(bytes).to_string() + "/64";
  }
  return address.to_string();
}

void HttpServer::Track(const std::shared_ptr<HttpSession>& session) {
  std::lock_guard l(sessions_mu_);
  std::erase_if(sessions_, [](const std::weak_ptr<HttpSession>& s) { return s.expired(); });
  sessions_.push_back(session);
}

namespace {

// A Sec-WebSocket-Key: 16 bytes in base64 (RFC 6455 4.1), 22 characters
// then "==".
bool IsWebSocketKey(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  return std::all_of(key.begin(), key.begin() + 22, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  });
}

}  // namespace

Status HttpServer::AdmitWebSocket(const HttpRequest& request, Principal* who,
                                  ConnectionSlots::Slot* place, bool* wrong_version) {
  *wrong_version = false;
  if (api_->operational_only()) return Status::NotFound(kOperationalOnly);
  if (!beast::websocket::is_upgrade(request)) {
    return Status::InvalidArgument("/ws takes a WebSocket upgrade (GET with Upgrade: websocket)");
  }
  // What Beast's accept would refuse, refused here first, so that the answer
  // is this API's JSON error and is counted as one (RFC 6455 4.2.1). A
  // missing Host was refused with every HTTP/1.1 request, in OnRead.
  if (!IsWebSocketKey(Trim(request[http::field::sec_websocket_key]))) {
    return Status::InvalidArgument(
        "Sec-WebSocket-Key: 16 bytes in base64 (RFC 6455 4.1) is required");
  }
  if (Trim(request[http::field::sec_websocket_version]) != "13") {
    *wrong_version = true;
    return Status::InvalidArgument("Sec-WebSocket-Version: this server speaks 13 (RFC 6455)");
  }
  if (hub_ == nullptr) return Status::Unavailable("push is not enabled on this server");
  if (stopping_) return Status::Unavailable("the server is shutting down");
  ASSIGN_OR_RETURN(*who, api_->Authenticate(request, QueryParameter(request.target(), "token")));
  *place = ws_per_token_.TryTake(who->sub);
  if (*place == nullptr) {
    return Status::RateLimited("at most " + std::to_string(options_.max_ws_per_token) +
                               " WebSocket connections per token");
  }
  return Status::Ok();
}

void HttpServer::StartWebSocket(tcp::socket socket, ConnectionSlots::Slot slot, Principal who,
                                HttpRequest request) {
  // The slot (and the token's place) goes with the session's end callback,
  // destroyed with the session.
  auto session = std::make_shared<WsSession>(std::move(socket), std::move(who), api_, hub_,
                                             metrics_, options_.ws, [held = std::move(slot)] {});
  bool shut = false;
  {
    std::lock_guard l(sessions_mu_);
    std::erase_if(ws_sessions_, [](const std::weak_ptr<WsSession>& s) { return s.expired(); });
    ws_sessions_.push_back(session);
    // Admitted before Stop began, listed after it went through the sessions
    // (Stop sets stopping_ before it takes this lock): shut here, or it
    // would hold Stop for the request timeout with no 1001.
    shut = stopping_;
  }
  session->Run(std::move(request));
  if (shut) session->Shut();
}

std::shared_ptr<void> HttpServer::HoldForAnAnswer() {
  answers_owed_.fetch_add(1, std::memory_order_relaxed);
  return std::shared_ptr<void>(
      nullptr, [this](void*) { answers_owed_.fetch_sub(1, std::memory_order_release); });
}

bool HttpServer::WaitForAnswersOwed() {
  const std::size_t owed = answers_owed_.load(std::memory_order_acquire);
  if (owed == 0) return false;
  // Said once, so that an operator whose shutdown waits knows on what.
  std::fprintf(stderr,
               "casegrid: stopping waits for %zu request(s) the store or a worker has yet to "
               "answer (a write whose fsync has not returned?)\n",
               owed);
  while (answers_owed_.load(std::memory_order_acquire) > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void HttpServer::Stop() {
  if (threads_.empty()) return;
  stopping_ = true;
  slots_.StopWaking();
  listener_->Close();
  // Each session, HTTP and WebSocket, told `what` to do.
  auto each_session = [this](auto what) {
    std::lock_guard l(sessions_mu_);
    for (auto& weak : sessions_) {
      if (auto session = weak.lock()) what(*session);
    }
    for (auto& weak : ws_sessions_) {
      if (auto session = weak.lock()) what(*session);
    }
  };
  // Waits until every session is gone, or `wait` has passed.
  auto wait_for_sessions = [this](std::chrono::steady_clock::duration wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      bool open = false;
      {
        std::lock_guard l(sessions_mu_);
        for (auto& weak : sessions_) open = open || !weak.expired();
        for (auto& weak : ws_sessions_) open = open || !weak.expired();
      }
      if (!open) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  each_session([](auto& session) { session.Shut(); });
  // Requests in flight finish (their writes are fsync'd), on the workers or
  // on the strands (a case command may still hand a step to the workers, so
  // they stay until the sessions are gone). Their answers are written on the
  // sessions' strands; then each session closes, and the io threads run out
  // of work. A peer that will not read its answer gets the write timeout; a
  // WebSocket's close takes at most its close_timeout.
  wait_for_sessions(options_.request_timeout);
  // A request the store or a worker has yet to answer is waited for without
  // a deadline (a stalled fsync: the store answers every write it has
  // taken), and its answer is given the time to be written.
  if (WaitForAnswersOwed()) wait_for_sessions(std::chrono::seconds(2));
  // What is left past the deadline has its socket closed, which ends its
  // pending operations on the io threads; only then is the io_context
  // stopped, so that no session outlives the server's members in a handler.
  each_session([](auto& session) { session.Abort(); });
  wait_for_sessions(std::chrono::seconds(2));
  // A request handed on while its session was closed: its answer goes
  // nowhere, but it must find the io_context when it comes; and its session,
  // let go after its hold, may be destroyed on the committer's thread.
  if (WaitForAnswersOwed()) wait_for_sessions(std::chrono::seconds(2));
  workers_.join();
  work_.reset();
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::optional<std::uint16_t> ParsePort(std::string_view digits) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
      value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace casegrid
