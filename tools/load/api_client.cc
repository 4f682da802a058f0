#include "tools/load/api_client.h"

#include <simdjson.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include <chrono>

namespace casegrid::load {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

ApiClient::ApiClient(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port) {}
ApiClient::~ApiClient() = default;

Status ApiClient::Connect() {
  stream_ = std::make_unique<beast::tcp_stream>(io_);
  beast::error_code ec;
  asio::ip::tcp::resolver resolver(io_);
  auto endpoints = resolver.resolve(host_, std::to_string(port_), ec);
  if (ec) return Status::Unavailable("resolve " + host_ + ": " + ec.message());
  stream_->expires_after(std::chrono::seconds(10));
  stream_->connect(endpoints, ec);
  if (ec) {
    stream_.reset();
    return Status::Unavailable("connect " + host_ + ":" + std::to_string(port_) + ": " +
                               ec.message());
  }
  buffer_.clear();
  return Status::Ok();
}

Result<ApiReply> ApiClient::Request(Method method, const std::string& target,
                                    const std::string& token, const std::string& body) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!stream_) RETURN_IF_ERROR(Connect());
    http::request<http::string_body> req{
        method == Method::kGet ? http::verb::get : http::verb::post, target, 11};
    req.set(http::field::host, host_);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (method == Method::kPost) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.keep_alive(true);
    req.prepare_payload();
    beast::error_code ec;
    stream_->expires_after(std::chrono::seconds(30));
    http::write(*stream_, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 << 20);
    if (!ec) http::read(*stream_, buffer_, parser, ec);
    if (ec) {
      stream_.reset();
      // A keep-alive connection the server closed while idle: once more.
      if (attempt == 0) continue;
      return Status::Unavailable(target + ": " + ec.message());
    }
    auto res = parser.release();
    if (!res.keep_alive()) stream_.reset();
    return ApiReply{res.result_int(), std::move(res.body())};
  }
  return Status::Unavailable(target + ": no answer");
}

std::uint64_t JsonUnsigned(const std::string& json, const char* key) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::uint64_t v = 0;
  if (parser.parse(json).get(root) || root[key].get(v)) return 0;
  return v;
}

}  // namespace casegrid::load
