// ApiClient: one blocking HTTP/1.1 keep-alive connection to a casegrid
// server, for the set-up and the odd read of casegrid-load (the grid, the
// log's head, /healthz, /metrics) — not for the measured writes, which are
// asynchronous (http_writer.h).
//
// Connects on first use and again after an error; each request times out
// after 30 s.
//
// Thread-safety: none; one thread uses a client.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "engine/status.h"

namespace casegrid::load {

struct ApiReply {
  unsigned status = 0;
  std::string body;
};

class ApiClient {
 public:
  enum class Method { kGet, kPost };
  ApiClient(std::string host, std::uint16_t port);
  ~ApiClient();

  // kUnavailable when the server cannot be reached or hung up; any HTTP
  // answer, 2xx or not, is a reply.
  Result<ApiReply> Request(Method method, const std::string& target, const std::string& token,
                           const std::string& body);

 private:
  Status Connect();
  const std::string host_;
  const std::uint16_t port_;
  boost::asio::io_context io_;
  std::unique_ptr<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
};

// The unsigned member `key` of a JSON object; 0 if none.
std::uint64_t JsonUnsigned(const std::string& json, const char* key);

}  // namespace casegrid::load
