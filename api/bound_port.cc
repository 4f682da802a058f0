#include "api/bound_port.h"

#include <unistd.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <utility>

namespace casegrid {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Result<BoundPort> BoundPort::Bind(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("listen: " + host + " is not an IP address");
  const tcp::endpoint at(address, port);
  // The io_context only carries the acceptor while it binds: the descriptor
  // leaves it (Release) before either goes.
  asio::io_context io;
  tcp::acceptor acceptor(io);
  acceptor.open(at.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(at, ec);
  std::uint16_t bound = 0;
  if (!ec) bound = acceptor.local_endpoint(ec).port();
  int fd = -1;
  if (!ec) fd = acceptor.release(ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                               ec.message());
  }
  return BoundPort(fd, address.is_v6(), bound);
}

BoundPort::BoundPort(BoundPort&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), v6_(other.v6_), port_(other.port_) {}

BoundPort& BoundPort::operator=(BoundPort&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    v6_ = other.v6_;
    port_ = other.port_;
  }
  return *this;
}

BoundPort::~BoundPort() {
  if (fd_ >= 0) ::close(fd_);
}

int BoundPort::Release() {
  return std::exchange(fd_, -1);
}

}  // namespace casegrid
