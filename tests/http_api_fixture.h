// The real HTTP server on a free loopback port, over a fresh store with a
// small grid (CaseTest), and a Beast client to talk to it.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api/http_server.h"
#include "tests/support/case_fixture.h"

namespace casegrid::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

inline const std::string kHttpTestSecret = "0123456789abcdef0123456789abcdef-http-test";

inline std::string At(const std::string& json, const std::string& pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root, e;
  if (parser.parse(json).get(root) || root.at_pointer(pointer).get(e)) return "<none>";
  return simdjson::minify(e);
}

class HttpApiFixture : public CaseTest {
 protected:
  void SetUp() override {
    CaseTest::SetUp();
    ProjectorOptions views;
    views.path = dir_.Sub("views");
    AdjustViews(views);
    auto p = Projector::Open(store_.get(), views);
    ASSERT_TRUE(p.ok());
    projector_ = std::move(p).value();
    hub_ = std::make_unique<PushHub>(service_.get(), projector_.get(), &clock_, &metrics_,
                                     HubOptions());
    hub_->Begin(projector_->position());
    ASSERT_TRUE(
        projector_->Start([this](const ViewChanges& changes) { hub_->OnBatch(changes); }).ok());
    // The views hold the fixture's grid before any request reads them (a
    // request for a cell the views had not yet folded was a 404).
    ASSERT_TRUE(projector_->WaitFor(store_->Head().position, std::chrono::seconds(30)));
    authority_ = std::make_unique<TokenAuthority>(*TokenAuthority::Create(kHttpTestSecret));
    api_ = std::make_unique<HttpApi>(service_.get(), projector_.get(), authority_.get(), &clock_,
                                     &metrics_, ApiOptions());
    HttpServerOptions options;
    options.port = 0;
    options.max_body_bytes = 64 * 1024;
    AdjustServer(options);
    server_ = std::make_unique<HttpServer>(api_.get(), &metrics_, hub_.get(), options);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    server_.reset();
    hub_->Stop();
    projector_->Stop();
    hub_.reset();
    projector_.reset();
    CaseTest::TearDown();
  }

  virtual HttpApiOptions ApiOptions() { return {}; }
  virtual PushOptions HubOptions() { return {}; }
  virtual void AdjustServer(HttpServerOptions&) {}
  virtual void AdjustViews(ProjectorOptions&) {}

  std::string Token(const std::string& sub, Role role, std::vector<std::string> cells = {""}) {
    return *authority_->Mint({sub, role, std::move(cells), 0}, clock_.NowMillis(), 3600000);
  }

  struct Reply {
    unsigned status = 0;
    std::string body;
  };
  Reply Send(http::verb method, const std::string& target, const std::string& token,
             const std::string& body = "", const std::string& idempotency_key = "") {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "localhost");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!idempotency_key.empty()) req.set("Idempotency-Key", idempotency_key);
    req.body() = body;
    req.prepare_payload();
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    beast::error_code ec;
    http::read(socket, buffer, res, ec);
    EXPECT_FALSE(ec) << ec.message();
    return {res.result_int(), res.body()};
  }

  std::unique_ptr<Projector> projector_;
  std::unique_ptr<TokenAuthority> authority_;
  ApiMetrics metrics_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<PushHub> hub_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace casegrid::testing
