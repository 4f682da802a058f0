// HttpServer: HTTP/1.1 on Boost.Beast over Boost.Asio, carrying HttpApi.
//
// One io_context run on `io_threads` threads; each connection is a session
// that lives as long as an operation of it is pending (shared_from_this), on
// its own strand, with one request read and one response written at a time
// (keep-alive and pipelining: requests already in the buffer are answered in
// order). The case commands (intake and actions, the bulk of the writes)
// are decided on the session's strand and appended without waiting
// (HttpApi::HandleAsync): the append joins the store's next group commit,
// and its answer comes back to the strand, with no thread parked on the
// fsync. Every other request may block (an fsync of its own, an audit
// record, a long read), so it runs on a worker pool and its response is
// written back on the session's strand.
//
// Bounds: header and body size, idle and slow-request timeouts, connections
// open at once, answers not yet taken by their clients (in all and per token).
//
// Thread-safety: Start/Stop from one controlling thread.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/bound_port.h"
#include "api/connection_slots.h"
#include "api/held_answers.h"
#include "api/http_api.h"
#include "api/push_hub.h"
#include "api/ws_session.h"

namespace casegrid {

class HttpSession;

// A TCP port written in `digits` (of HOST:PORT): 0 to 65535, digits only;
// nullopt otherwise.
std::optional<std::uint16_t> ParsePort(std::string_view digits);

// How much of an answer its client must take within each request_timeout
// (or the rest of it, if less): a slow but steady reader (a phone on a poor
// network) gets a long answer whole, one that stops reading is cut.
inline constexpr std::size_t kAnswerProgressBytes = 64 * 1024;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port (see port())
  int io_threads = 2;
  int workers = 64;  // other requests handled at once (each may wait on an fsync)
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  // To read a whole request, idle keep-alive, and for an answer's client to
  // take the next kAnswerProgressBytes of it (or its rest).
  std::chrono::seconds request_timeout{30};
  WsOptions ws;                       // each WebSocket connection's bounds
  std::size_t max_ws_per_token = 32;  // WebSocket connections per token subject
  // Bytes of answers written and not yet taken by their clients, over all
  // connections: past it an answer is a 503 instead (one alone always
  // goes). Black-box probe 72: 40 clients that asked for a 38 MB history
  // and never read held 876 MiB until the request timeout.
  std::size_t max_answer_bytes_held = std::size_t{256} << 20;
  // Of those, the answers to one token subject's reads (0: no share bound):
  // past it that subject's reads are a 429 instead, so that one user's
  // clients that do not read cannot have every other user's reads refused.
  std::size_t max_answer_bytes_held_per_token = std::size_t{64} << 20;
  // Connections open at once, HTTP and WebSocket together (> 0; Start
  // refuses 0); past it no more are accepted (they wait in the kernel's
  // backlog) until one closes. serve sets it from the descriptors it may
  // open (api/descriptor_budget.h).
  std::size_t max_connections = 4096;
  // Of those, open at once from one peer address (0: no bound), so that one
  // client cannot hold them all; past it a connection is answered 429 and
  // closed (it lingers a moment, holding a place among all). Loopback peers are not bounded (a
  // reverse proxy, the load tool) unless `bound_loopback_peers` (tests).
  std::size_t max_connections_per_address = 0;
  bool bound_loopback_peers = false;
  // False: this server's connections are left out of the connection
  // metrics (casegrid_connections*, which are the API port's); its requests
  // count as any. serve's metrics port (--metrics-listen).
  bool count_connections = true;
};

// How connections from `peer` are counted against
// HttpServerOptions::max_connections_per_address: an IPv4 address (also one
// written v4-mapped), or an IPv6 address's /64 ("2001:db8:1:2::/64"), the
// block a host is given to pick its addresses from.
std::string PeerAddressKey(const boost::asio::ip::address& peer);

class HttpServer {
 public:
  // `hub` may be null: then /ws answers 503.
  HttpServer(HttpApi* api, ApiMetrics* metrics, PushHub* hub, HttpServerOptions options);
  ~HttpServer();

  // Binds options.host:port and starts serving; kUnavailable if the address
  // cannot be bound.
  Status Start();
  // Listens on `bound` (bound beforehand, see api/bound_port.h) and starts
  // serving; options.host and options.port are not used.
  Status Start(BoundPort bound);
  // Stops accepting, lets requests in flight finish and their answers be
  // written, closes WebSockets with 1001, closes every connection, and returns.
  void Stop();
  std::uint16_t port() const { return port_; }

 private:
  class Listener;
  friend class HttpSession;
  void Track(const std::shared_ptr<HttpSession>& session);
  // The peer address of `socket`, as peers_ counts it (an IPv6
  // peer by its /64), when its connections are bounded: not when there is no
  // bound, for loopback (unless bound_loopback_peers), or when the peer is
  // gone already.
  std::optional<std::string> BoundedPeer(const boost::asio::ip::tcp::socket& socket) const;
  // May `request` become a WebSocket? Its caller in `who`; on OK `place` is
  // its place among the token's connections, held until the session ends. A handshake
  // Beast would refuse (a key that is not 16 bytes of base64, a
  // version other than 13: `wrong_version`, answered 426) is refused here.
  Status AdmitWebSocket(const HttpRequest& request, Principal* who, ConnectionSlots::Slot* place,
                        bool* wrong_version);
  // `slot` is the connection's (ConnectionSlots, with the token's place),
  // held until the session ends.
  void StartWebSocket(boost::asio::ip::tcp::socket socket, ConnectionSlots::Slot slot,
                      Principal who, HttpRequest request);

  // A hold on the server for a request handed to the API, whose answer will
  // come from a worker or from the store's group commit: kept by every
  // function that may answer it, so that it is let go once none is left.
  // Stop waits, past its deadline, until none is held (review 101: a write
  // still in a stalled commit at shutdown outlived the server, and its
  // commit then posted the answer into a freed io_context).
  std::shared_ptr<void> HoldForAnAnswer();
  // Waits until no request holds the server (HoldForAnAnswer); returns
  // whether there was one to wait for.
  bool WaitForAnswersOwed();

  HttpApi* const api_;
  ApiMetrics* const metrics_;
  PushHub* const hub_;
  const HttpServerOptions options_;
  // Before io_: the sessions its handlers hold give their slots back as it goes.
  ConnectionSlots slots_;
  ConnectionsPerKey peers_;         // per peer address
  ConnectionsPerKey ws_per_token_;  // WebSockets per token subject
  // Bytes of answers being written (HttpSession::Answer gives its own back
  // when destroyed, by its handler or with io_).
  HeldAnswers held_answers_;
  boost::asio::io_context io_;
  // Keeps the io threads running until Stop has drained the sessions: a
  // worker or a group commit may post a session's answer after every socket
  // went quiet.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::thread_pool workers_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> answers_owed_{0};  // requests holding the server
  std::mutex sessions_mu_;
  std::vector<std::weak_ptr<HttpSession>> sessions_;   // guarded by sessions_mu_
  std::vector<std::weak_ptr<WsSession>> ws_sessions_;  // guarded by sessions_mu_
};

}  // namespace casegrid
