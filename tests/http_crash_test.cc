// Acknowledged over HTTP means durable: the real `casegrid serve` takes
// notes from many keep-alive connections at once; we SIGKILL it mid-stream,
// start it again, and every note answered 2xx is in the log at the position
// the answer named.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <simdjson.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "api/auth.h"
#include "engine/clock.h"
#include "engine/event_store.h"
#include "tests/support/temp_dir.h"

namespace casegrid {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

const std::string kSecret = "0123456789abcdef0123456789abcdef-crash-test";

pid_t StartServer(const std::string& data, int port) {
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("CASEGRID_JWT_SECRET", kSecret.c_str(), 1);
    const std::string listen = "127.0.0.1:" + std::to_string(port);
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    execl(CASEGRID_PATH, "casegrid", "serve", "--data", data.c_str(), "--listen", listen.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

bool WaitForPort(int port) {
  for (int i = 0; i < 300; ++i) {
    asio::io_context io;
    tcp::socket socket(io);
    beast::error_code ec;
    socket.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)), ec);
    if (!ec) return true;
    usleep(50000);
  }
  return false;
}

int FreePort() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

TEST(HttpCrashTest, EveryNoteAnswered2xxSurvivesSigkill) {
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  auto authority = TokenAuthority::Create(kSecret);
  ASSERT_TRUE(authority.ok());
  const std::int64_t now = SystemClock::Default()->NowMillis();
  const std::string admin = *authority->Mint({"admin-1", Role::kAdmin, {""}, 0}, now, 3600000);
  const std::string op = *authority->Mint({"op-1", Role::kOperator, {""}, 0}, now, 3600000);

  int port = FreePort();
  pid_t server = StartServer(data, port);
  ASSERT_TRUE(WaitForPort(port));
  auto send = [&](tcp::socket& socket, beast::flat_buffer& buffer, const std::string& target,
                  const std::string& token, const std::string& body, std::string* out) {
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::authorization, "Bearer " + token);
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec;
    http::write(socket, req, ec);
    if (ec) return 0u;
    http::response<http::string_body> res;
    http::read(socket, buffer, res, ec);
    if (ec) return 0u;
    *out = res.body();
    return res.result_int();
  };
  std::string case_id;
  {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    beast::flat_buffer buffer;
    std::string body;
    ASSERT_EQ(
        send(socket, buffer, "/api/v1/grid/cells", admin, R"({"cell":"santai","name":"S"})", &body),
        201u);
    ASSERT_EQ(
        send(
            socket, buffer, "/api/v1/cases", op,
            R"({"kind":"dispute","channel":"call","cell":"santai","category":"c","priority":"normal","summary":"s","reporter":{"name":"Li"}})",
            &body),
        201u)
        << body;
    simdjson::dom::parser parser;
    std::string_view id;
    ASSERT_FALSE(parser.parse(body)["case_id"].get(id));
    case_id = std::string(id);
  }

  // 16 keep-alive connections post notes until the server dies.
  std::mutex acked_mu;
  std::vector<std::pair<Position, std::string>> acked;  // position, note text
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 16; ++w) {
    writers.emplace_back([&, w] {
      asio::io_context io;
      tcp::socket socket(io);
      beast::error_code ec;
      socket.connect(
          tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)),
          ec);
      if (ec) return;
      beast::flat_buffer buffer;
      for (int i = 0; !stop; ++i) {
        const std::string text = "w" + std::to_string(w) + "-" + std::to_string(i);
        std::string body;
        const unsigned status = send(socket, buffer, "/api/v1/cases/" + case_id + "/note", op,
                                     R"({"text":")" + text + "\"}", &body);
        if (status == 0) return;  // the server is gone
        if (status / 100 != 2) continue;
        simdjson::dom::parser parser;
        std::uint64_t position = 0;
        if (parser.parse(body)["position"].get(position)) continue;
        std::lock_guard l(acked_mu);
        acked.emplace_back(position, text);
      }
    });
  }
  // Kill once enough notes are acknowledged to prove something, not after a
  // fixed time: a sanitizer build on a loaded machine may take seconds for
  // what takes a fraction of one otherwise. The writers are still posting.
  constexpr std::size_t kEnough = 100;
  for (int waited_ms = 0; waited_ms < 60000; waited_ms += 10) {
    {
      std::lock_guard l(acked_mu);
      if (acked.size() >= kEnough) break;
    }
    usleep(10000);
  }
  kill(server, SIGKILL);
  int status = 0;
  waitpid(server, &status, 0);
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_GE(acked.size(), kEnough) << "too few notes were acknowledged to prove anything";

  // Restart on the same data: it recovers, and every acknowledged note is there.
  port = FreePort();
  server = StartServer(data, port);
  ASSERT_TRUE(WaitForPort(port));
  kill(server, SIGTERM);
  waitpid(server, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "serve did not stop cleanly";

  StoreOptions options;
  options.path = data + "/log";
  auto store = EventStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (const auto& [position, text] : acked) {
    auto e = (*store)->ReadAt(position);
    ASSERT_TRUE(e.ok()) << "acknowledged position " << position << " is lost";
    EXPECT_EQ(e->data, R"({"text":")" + text + "\"}") << "at position " << position;
  }
  auto report = (*store)->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->reason;
}

}  // namespace
}  // namespace casegrid
