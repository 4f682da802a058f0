// WsClient: a real WebSocket client for the tests (Beast's), reading in the
// background of its own io_context so that a test can wait for the next
// message with a timeout without breaking the stream.
//
// Thread-safety: one test thread drives it.
#pragma once

#include <simdjson.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace casegrid::testing {

class WsClient {
 public:
  // Connects to 127.0.0.1:`port` and upgrades `target` (e.g. "/ws?token=…").
  // The HTTP status of a refused upgrade is in status(); 101 on success.
  // `receive_buffer`: SO_RCVBUF for the socket (0: the system's), to make a
  // client that stops reading stall quickly.
  bool Connect(std::uint16_t port, const std::string& target, int receive_buffer = 0) {
    namespace asio = boost::asio;
    boost::beast::error_code ec;
    auto& socket = boost::beast::get_lowest_layer(ws_);
    socket.open(asio::ip::tcp::v4(), ec);
    if (receive_buffer > 0)
      socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer), ec);
    socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) return false;
    boost::beast::websocket::response_type res;
    ws_.handshake(res, "localhost", target, ec);
    status_ = res.result_int();
    if (ec) return false;
    ws_.read_message_max(64 << 20);
    open_ = true;
    StartRead();
    return true;
  }
  unsigned status() const { return status_; }

  void Send(const std::string& text) {
    ws_.text(true);
    ws_.write(boost::asio::buffer(text));
  }
  // Sends `text` as one message in frames of at most `frame_bytes`, with a
  // pause between them (a slow link), so that the server reads it in parts.
  // Stops at the first frame the server no longer takes.
  void SendInFrames(const std::string& text, std::size_t frame_bytes) {
    ws_.text(true);
    for (std::size_t at = 0; at < text.size(); at += frame_bytes) {
      const std::size_t n = std::min(frame_bytes, text.size() - at);
      boost::beast::error_code ec;
      ws_.write_some(at + n == text.size(), boost::asio::buffer(text.data() + at, n), ec);
      if (ec) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  // Sends one text message as these frames, the last one final (an empty
  // part is an empty frame). Stops at the first the server no longer takes.
  void SendFrames(const std::vector<std::string>& parts) {
    ws_.text(true);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      boost::beast::error_code ec;
      ws_.write_some(i + 1 == parts.size(), boost::asio::buffer(parts[i]), ec);
      if (ec) return;
    }
  }
  void SendBinary(const std::string& bytes) {
    ws_.binary(true);
    ws_.write(boost::asio::buffer(bytes));
    ws_.text(true);
  }

  // The next message, or nullopt on timeout or once the connection closed.
  std::optional<std::string> Next(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (messages_.empty() && open_ && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_until(deadline);
    }
    if (messages_.empty()) return std::nullopt;
    std::string m = std::move(messages_.front());
    messages_.pop_front();
    return m;
  }
  // Runs at most one handler (a part of a message, read from the socket),
  // waiting up to `wait` for it: a client that reads slowly. The next
  // message once one is whole.
  std::optional<std::string> Step(std::chrono::milliseconds wait) {
    if (messages_.empty() && open_) io_.run_one_for(wait);
    if (messages_.empty()) return std::nullopt;
    std::string m = std::move(messages_.front());
    messages_.pop_front();
    return m;
  }
  // Runs until the server closes the connection; its close code (0 if none
  // came within `timeout`). Messages that arrive first are kept.
  int WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (open_ && std::chrono::steady_clock::now() < deadline) io_.run_one_until(deadline);
    return open_ ? 0 : close_code_;
  }
  bool open() const { return open_; }
  std::size_t buffered() const { return messages_.size(); }
  void Close() {
    boost::beast::error_code ec;
    boost::beast::get_lowest_layer(ws_).close(ec);
    open_ = false;
  }

  // The reason the server's close frame gave (after WaitClosed).
  const std::string& close_reason() const { return close_reason_; }

 private:
  void StartRead() {
    ws_.async_read(buffer_, [this](boost::beast::error_code ec, std::size_t) {
      if (ec) {
        open_ = false;
        close_code_ = ws_.reason().code;
        close_reason_ = std::string(ws_.reason().reason.data(), ws_.reason().reason.size());
        return;
      }
      messages_.push_back(boost::beast::buffers_to_string(buffer_.data()));
      buffer_.consume(buffer_.size());
      StartRead();
    });
  }

  boost::asio::io_context io_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_{io_};
  boost::beast::flat_buffer buffer_;
  std::deque<std::string> messages_;
  bool open_ = false;
  int close_code_ = 0;
  std::string close_reason_;
  unsigned status_ = 0;
};

// Members of a pushed message, read with simdjson.
struct PushedMessage {
  std::string type, channel, error_code, raw;
  std::int64_t id = -1;
  std::uint64_t position = 0;
  static PushedMessage Parse(const std::string& text) {
    PushedMessage m;
    m.raw = text;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(text).get(root)) return m;
    std::string_view s;
    if (!root["type"].get(s)) m.type = s;
    if (!root["channel"].get(s)) m.channel = s;
    if (!root["error"]["code"].get(s)) m.error_code = s;
    std::int64_t id = 0;
    if (!root["id"].get(id)) m.id = id;
    std::uint64_t p = 0;
    if (!root["position"].get(p)) m.position = p;
    return m;
  }
};

}  // namespace casegrid::testing
