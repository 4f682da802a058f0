// BoundPort: a TCP socket bound to HOST:PORT and not yet listening.
//
// `serve` binds its port before it opens the log or the views, so that a
// start on a port in use fails at once and writes nothing. Until
// HttpServer::Start listens on it, a connection to the port is refused (the
// kernel answers a bound socket that does not listen with a reset), as it was
// before the bind: a health check sees "not up" while the views catch up.
//
// Thread-safety: none. Move-only; owns the descriptor and closes it unless
// Release hands it on.
#pragma once

#include <cstdint>
#include <string>

#include "engine/status.h"

namespace casegrid {

class BoundPort {
 public:
  // `host` is an IP address (v4 or v6); `port` 0 takes any free one. The
  // socket reuses a port left in TIME_WAIT, but not one another socket
  // listens on: that is kUnavailable "cannot listen on HOST:PORT: …".
  static Result<BoundPort> Bind(const std::string& host, std::uint16_t port);

  BoundPort(BoundPort&& other) noexcept;
  BoundPort& operator=(BoundPort&& other) noexcept;
  BoundPort(const BoundPort&) = delete;
  BoundPort& operator=(const BoundPort&) = delete;
  ~BoundPort();

  bool v6() const { return v6_; }
  // The port bound (the one the system chose, for 0).
  std::uint16_t port() const { return port_; }
  // The descriptor, now the caller's to close; -1 afterwards.
  int Release();

 private:
  BoundPort(int fd, bool v6, std::uint16_t port) : fd_(fd), v6_(v6), port_(port) {}
  int fd_ = -1;
  bool v6_ = false;
  std::uint16_t port_ = 0;
};

}  // namespace casegrid
