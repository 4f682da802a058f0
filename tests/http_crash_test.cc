// Acknowledged over HTTP means durable: the real `casegrid serve` takes
// notes from many keep-alive connections at once; we SIGKILL it mid-stream,
// start it again, and every note answered 2xx is in the log at the position
// the answer named.
#include <fcntl.h>
#include <poll.h>
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
#include <chrono>
#include <cstdlib>
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

struct Server {
  pid_t pid = -1;
  int port = 0;   // 0: it never said it was serving
  int said = -1;  // the read end of its stdout, open while it runs
};

// Starts `casegrid serve` on a port of its own choosing (a port picked here
// and closed before serve binds it could be taken meanwhile by another
// test's connection, under ctest -j), and waits up to 60 s for its
// "serving … on http://127.0.0.1:PORT/" line.
Server StartServer(const std::string& data) {
  int out[2];
  if (pipe(out) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("CASEGRID_JWT_SECRET", kSecret.c_str(), 1);
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(CASEGRID_PATH, "casegrid", "serve", "--data", data.c_str(), "--listen", "127.0.0.1:0",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  Server server{pid, 0};
  std::string said;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (server.port == 0 && std::chrono::steady_clock::now() < give_up) {
    pollfd readable{out[0], POLLIN, 0};
    if (poll(&readable, 1, 100) <= 0) continue;
    char chunk[4096];
    const ssize_t n = read(out[0], chunk, sizeof chunk);
    if (n <= 0) break;  // it exited
    said.append(chunk, static_cast<std::size_t>(n));
    const std::string marker = " on http://127.0.0.1:";
    if (const auto at = said.find(marker);
        said.find("serving") != std::string::npos && at != std::string::npos &&
        said.find('/', at + marker.size()) != std::string::npos) {
      server.port = std::atoi(said.c_str() + at + marker.size());
    }
  }
  // Kept open while it runs (it prints a line or two more at most): a write
  // to a pipe closed at this end would end it with SIGPIPE.
  server.said = out[0];
  return server;
}

TEST(HttpCrashTest, EveryNoteAnswered2xxSurvivesSigkill) {
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  auto authority = TokenAuthority::Create(kSecret);
  ASSERT_TRUE(authority.ok());
  const std::int64_t now = SystemClock::Default()->NowMillis();
  const std::string admin = *authority->Mint({"admin-1", Role::kAdmin, {""}, 0}, now, 3600000);
  const std::string op = *authority->Mint({"op-1", Role::kOperator, {""}, 0}, now, 3600000);

  Server started = StartServer(data);
  ASSERT_NE(started.port, 0) << "serve did not start in 60 s";
  pid_t server = started.pid;
  const int port = started.port;
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
  close(started.said);
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_GE(acked.size(), kEnough) << "too few notes were acknowledged to prove anything";

  // Restart on the same data: it recovers, and every acknowledged note is there.
  started = StartServer(data);
  ASSERT_NE(started.port, 0) << "serve did not start again in 60 s";
  server = started.pid;
  kill(server, SIGTERM);
  waitpid(server, &status, 0);
  close(started.said);
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
