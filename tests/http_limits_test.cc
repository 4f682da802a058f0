// The time and size bounds of the server, each crossed: oversized headers,
// a body that never finishes, an idle keep-alive connection, and a WebSocket
// peer that stops answering pings — while one that answers stays.
#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <cstdio>

#include <array>
#include <functional>
#include <thread>

#include "api/http_date.h"
#include "tests/http_api_fixture.h"
#include "tests/support/ws_client.h"

namespace casegrid {
namespace {

using testing::WsClient;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class HttpLimitsTest : public testing::HttpApiFixture {
 protected:
  void AdjustServer(HttpServerOptions& o) override {
    o.request_timeout = std::chrono::seconds(1);
    o.max_header_bytes = 2048;
    o.ws.idle_timeout = std::chrono::seconds(1);
  }
  // A connection that sends nothing, accepted by the time this returns.
  tcp::socket Idle(asio::io_context& io) {
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return socket;
  }
  // A request by `subject`'s token for the history of a case of 2,000 notes
  // of 4,000 bytes: an answer of ~8.5 MB, more than the kernel's buffers on
  // both sides hold.
  std::string LongHistoryRequest(const std::string& subject = "operator-1") {
    const std::string id = NewCase();
    for (int batch = 0; batch < 2; ++batch) {
      AppendRequest notes{CaseStream(id), ExpectedVersion::Any(), "officer-7", {}};
      for (int i = 0; i < 1000; ++i) {
        notes.events.push_back(
            NewEvent{"", "NoteAdded", R"({"text":")" + std::string(4000, 'n') + "\"}"});
      }
      EXPECT_TRUE(store_->Append(std::move(notes)).ok());
    }
    return "GET /api/v1/cases/" + id + "/history HTTP/1.1\r\nHost: x\r\n" +
           "Authorization: Bearer " + Token(subject, Role::kOperator) +
           "\r\nConnection: close\r\n\r\n";
  }
  // A connection with a small receive buffer that has sent `request`.
  tcp::socket Asking(asio::io_context& io, const std::string& request) {
    tcp::socket socket(io);
    socket.open(tcp::v4());
    socket.set_option(asio::socket_base::receive_buffer_size(4096));
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    asio::write(socket, asio::buffer(request));
    return socket;
  }
  static constexpr const char* kHealthz =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

  // Whether `got` holds one whole answer: its header, and its body by
  // Content-Length or to a chunked body's end (none: the header alone).
  static bool WholeAnswer(const std::string& got) {
    const auto end = got.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string head = got.substr(0, end);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (const auto at = head.find("\r\ncontent-length:"); at != std::string::npos) {
      return got.size() >= end + 4 + std::stoull(head.substr(at + 17));
    }
    if (head.find("transfer-encoding: chunked") != std::string::npos) {
      return got.size() >= end + 4 + 5 && got.ends_with("0\r\n\r\n");
    }
    return true;
  }

  // Sends `raw` bytes on a fresh connection; returns what comes back until
  // the server closes it (or `wait` passes), and whether it closed. With
  // `until_answered`, it returns once one whole answer is in: for answers on
  // a connection kept alive, whose wait would otherwise be all spent (and a
  // short wait a race under ASan).
  // `port`: the fixture's server's if 0.
  std::pair<std::string, bool> Raw(const std::string& raw, std::chrono::milliseconds wait,
                                   bool until_answered = false, std::uint16_t port = 0) {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port != 0 ? port : server_->port()));
    boost::system::error_code write_error;  // the server may refuse before reading it all
    asio::write(socket, asio::buffer(raw), write_error);
    std::string got;
    bool closed = false;
    std::array<char, 4096> buf;
    std::function<void()> read = [&] {
      socket.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, std::size_t n) {
        got.append(buf.data(), n);
        if (ec) {
          closed = true;
          return;
        }
        if (until_answered && WholeAnswer(got)) return;
        read();
      });
    };
    read();
    io.run_for(wait);
    return {got, closed};
  }
  // An answer on a connection kept alive: up to 20 s for it.
  std::pair<std::string, bool> Answered(const std::string& raw) {
    return Raw(raw, std::chrono::seconds(20), /*until_answered=*/true);
  }
};

TEST_F(HttpLimitsTest, OversizedHeadersAreTooLarge) {
  auto [answer, closed] =
      Raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n",
          std::chrono::seconds(3));
  EXPECT_NE(answer.find("413"), std::string::npos) << answer;
  EXPECT_NE(answer.find("too_large"), std::string::npos) << answer;
  EXPECT_TRUE(closed);
}

TEST_F(HttpLimitsTest, AChunkedBodysTrailerIsBoundedAndTheServerGoesOn) {
  // (A body is read only from a client with a token, whatever the path.)
  const std::string chunked = "POST /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                              Token("operator-1", Role::kOperator) +
                              "\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n";
  // One field longer than Beast can hold (it would throw), and a trailer of
  // many short fields, each past the read buffer: 413, closed.
  std::string many;
  for (int i = 0; i < 20000; ++i) many += "X-T" + std::to_string(i) + ": y\r\n";
  for (const std::string& trailer : {"X-Big: " + std::string(66000, 'a') + "\r\n", many}) {
    auto [answer, closed] = Raw(chunked + trailer + "\r\n", std::chrono::seconds(3));
    EXPECT_NE(answer.find(" 413 "), std::string::npos) << answer.substr(0, 200);
    EXPECT_NE(answer.find("too_large"), std::string::npos) << answer.substr(0, 200);
    EXPECT_TRUE(closed);
  }
  // A short trailer is read as usual (POST /healthz is no route: 404).
  auto [answer, closed] = Answered(chunked + "X-Ok: 1\r\n\r\n");
  EXPECT_NE(answer.find(" 404 "), std::string::npos) << answer;
  EXPECT_FALSE(closed);
  EXPECT_EQ(Send(http::verb::get, "/healthz", "").status, 200u);
}

TEST_F(HttpLimitsTest, ATransferCodingOtherThanChunkedIsRefusedAndWhatFollowsIsNoRequest) {
  const std::string token = Token("operator-1", Role::kOperator);
  const std::string intake = testing::ReportBody();
  const std::string smuggled =
      "POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(intake.size()) +
      "\r\n\r\n" + intake;
  const Position before = store_->Head().position;
  for (const std::string coding : {"gzip", "identity", "gzip, chunked"}) {
    const std::string body =
        coding == "gzip, chunked" ? "2\r\n{}\r\n0\r\n\r\n" + smuggled : smuggled;
    auto [answer, closed] = Raw("POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                    token + "\r\nTransfer-Encoding: " + coding + "\r\n\r\n" + body,
                                std::chrono::seconds(3));
    EXPECT_NE(answer.find(" 400 "), std::string::npos) << coding << ": " << answer;
    EXPECT_NE(answer.find("only chunked"), std::string::npos) << coding << ": " << answer;
    EXPECT_EQ(answer.find(" 201 "), std::string::npos) << coding << ": " << answer;
    EXPECT_TRUE(closed) << coding;
  }
  EXPECT_EQ(store_->Head().position, before);
}

// HTTP/1.0 has no transfer codings (RFC 9112 6.1): a chunked body in an
// HTTP/1.0 request is faulty framing, refused and closed, and what it
// carried is no request. It was read as chunked and answered.
TEST_F(HttpLimitsTest, ATransferCodingInAnHttp10RequestIsRefused) {
  const std::string token = Token("operator-1", Role::kOperator);
  const std::string intake = testing::ReportBody();
  const Position before = store_->Head().position;
  char size[16];
  std::snprintf(size, sizeof size, "%zx", intake.size());
  auto [answer, closed] =
      Raw("POST /api/v1/cases HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer " + token +
              "\r\nTransfer-Encoding: chunked\r\n\r\n" + size + "\r\n" + intake + "\r\n0\r\n\r\n",
          std::chrono::seconds(3));
  EXPECT_NE(answer.find(" 400 "), std::string::npos) << answer;
  EXPECT_NE(answer.find("HTTP/1.0 request may not carry one"), std::string::npos) << answer;
  EXPECT_TRUE(closed);
  EXPECT_EQ(store_->Head().position, before);
  // Without a token, the framing is told first, as for a request without a
  // body (black-box probe 76: it was a 401).
  auto [tokenless, closed_too] =
      Raw("POST /api/v1/cases HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(size) +
              "\r\n" + intake + "\r\n0\r\n\r\n",
          std::chrono::seconds(3));
  EXPECT_NE(tokenless.find(" 400 "), std::string::npos) << tokenless;
  EXPECT_NE(tokenless.find("may not carry one"), std::string::npos) << tokenless;
  EXPECT_TRUE(closed_too);
}

// A client that sends `Expect: 100-continue` waits for word before its body
// (curl waits a second, then sends it anyway): the server says 100 Continue
// once the header is read, then reads the body and answers it (a black-box
// probe found it waiting in silence).
TEST_F(HttpLimitsTest, AnExpectationOf100ContinueIsAnswered) {
  const std::string intake = testing::ReportBody();
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  asio::write(socket,
              asio::buffer("POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                           Token("operator-1", Role::kOperator) +
                           "\r\nExpect: 100-continue\r\nContent-Length: " +
                           std::to_string(intake.size()) + "\r\n\r\n"));
  // Read what comes, up to a deadline, until `enough` of it.
  std::string got;
  auto read_until = [&](const std::string& enough) {
    std::array<char, 4096> buf;
    bool done = false;
    std::function<void()> read = [&] {
      socket.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, std::size_t n) {
        got.append(buf.data(), n);
        if (ec || got.find(enough) != std::string::npos) {
          done = true;
          return;
        }
        read();
      });
    };
    read();
    io.restart();
    io.run_for(std::chrono::seconds(5));
    return done;
  };
  ASSERT_TRUE(read_until("\r\n\r\n"));
  ASSERT_EQ(got, "HTTP/1.1 100 Continue\r\n\r\n");
  got.clear();
  asio::write(socket, asio::buffer(intake));
  ASSERT_TRUE(read_until("\"case_id\""));
  EXPECT_TRUE(got.starts_with("HTTP/1.1 201 ")) << got;
}

// A client without a valid token is refused once its header is read: its
// body is neither read nor held, nor invited with a 100 Continue (black-box
// probe 72: 200 clients without a token, each sending all but the last
// byte of a 1 MiB body, held 174 MiB for the request timeout).
TEST_F(HttpLimitsTest, ABodyIsNotReadFromAClientWithoutAToken) {
  const Position before = store_->Head().position;
  for (const std::string& credential :
       {std::string(), std::string("Authorization: Bearer not.a.token\r\n")}) {
    for (const std::string& expect : {std::string(), std::string("Expect: 100-continue\r\n")}) {
      // The header only: the body (60,000 bytes announced, within the
      // bound) never comes.
      auto [answer, closed] = Answered("POST /api/v1/cases HTTP/1.1\r\nHost: x\r\n" + credential +
                                       expect + "Content-Length: 60000\r\n\r\n");
      EXPECT_TRUE(answer.starts_with("HTTP/1.1 401 ")) << credential << expect << answer;
      EXPECT_EQ(answer.find("100 Continue"), std::string::npos) << answer;
    }
  }
  // Whatever the path: no route without a token takes a body, and the API
  // is routed by the decoded path ("/%61pi/v1/cases" is the API too).
  for (const char* target : {"/x", "/", "/healthz", "/%61pi/v1/cases"}) {
    auto [answer, closed] = Answered(std::string("POST ") + target +
                                     " HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n");
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 401 ")) << target << ": " << answer;
  }
  // With a token, the body is read and answered as ever.
  const std::string intake = testing::ReportBody();
  auto [answer, closed] = Raw("POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                  Token("operator-1", Role::kOperator) + "\r\nContent-Length: " +
                                  std::to_string(intake.size()) + "\r\n\r\n" + intake,
                              std::chrono::seconds(20), /*until_answered=*/true);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 201 ")) << answer;
  EXPECT_EQ(store_->Head().position, before + 1);
}

// A chunked body's trailer is no header (RFC 9110 6.5.1): a token or an
// Idempotency-Key sent there did act, past any proxy that checks the header
// (black-box probe 72). Its fields are dropped.
TEST_F(HttpLimitsTest, AFieldInAChunkedBodysTrailerIsNotTheHeaders) {
  const std::string intake = testing::ReportBody();
  char size[16];
  std::snprintf(size, sizeof size, "%zx", intake.size());
  const std::string body = std::string(size) + "\r\n" + intake + "\r\n0\r\n";
  const std::string token = Token("operator-1", Role::kOperator);
  const Position before = store_->Head().position;
  // A token in the trailer only: the header has none, refused before the body.
  auto [anonymous, closed] =
      Answered("POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
               body + "Authorization: Bearer " + token + "\r\n\r\n");
  EXPECT_TRUE(anonymous.starts_with("HTTP/1.1 401 ")) << anonymous;
  EXPECT_EQ(store_->Head().position, before);
  // A key in the trailer: not the request's, so two such requests write two.
  const std::string keyed = "POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                            token + "\r\nTransfer-Encoding: chunked\r\n\r\n" + body +
                            "Idempotency-Key: trailer-key-1\r\n\r\n";
  for (int i = 0; i < 2; ++i) {
    auto [answer, closed_after] = Answered(keyed);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 201 ")) << answer;
  }
  EXPECT_EQ(store_->Head().position, before + 2);
  // A trailer field of a name the header has (Beast puts it beside the
  // header's) changes nothing of the header: its Idempotency-Key, last,
  // stays, and the same request twice writes once.
  const std::string repeated = "POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                               token +
                               "\r\nX-Note: a\r\nTransfer-Encoding: chunked\r\n"
                               "Idempotency-Key: header-key-1\r\n\r\n" +
                               body + "X-Note: b\r\n\r\n";
  for (int i = 0; i < 2; ++i) {
    auto [answer, closed_after] = Answered(repeated);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 201 ")) << answer;
  }
  EXPECT_EQ(store_->Head().position, before + 3);
}

// Each size bound is named with its size when crossed (all three said
// "request exceeds the size limit"; black-box probe 72).
TEST_F(HttpLimitsTest, EachSizeBoundIsNamedWhenCrossed) {
  auto [header, closed] =
      Raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n",
          std::chrono::seconds(2));
  EXPECT_NE(header.find("the request's header exceeds 2048 bytes"), std::string::npos) << header;
  auto [body, closed_body] =
      Raw("POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
              Token("operator-1", Role::kOperator) + "\r\nContent-Length: 5000000\r\n\r\n",
          std::chrono::seconds(2));
  EXPECT_NE(body.find("the request's body exceeds 65536 bytes (serve --max-body-bytes)"),
            std::string::npos)
      << body;
}

// The bytes of answers written and not yet taken by their clients are
// bounded over all connections: 40 clients that asked for a 38 MB history
// and never read held 876 MiB (black-box probe 72). Past the bound an answer
// is a 503 with Retry-After; one alone always goes.
class HeldAnswersHttpLimitsTest : public HttpLimitsTest {
 protected:
  void AdjustServer(HttpServerOptions& o) override {
    HttpLimitsTest::AdjustServer(o);
    o.max_answer_bytes_held = 1 << 20;
    o.request_timeout = std::chrono::seconds(2);  // how long the stalled answer is held
  }
  // What `request` is answered, asked again every 200 ms (for up to
  // `within`) until the answer starts with `status`: once a stalled
  // client's answer is rendered and held, or dropped (a moment, or the
  // request timeout; longer under ASan). Each answer is read whole.
  std::string AskedUntil(const std::string& request, std::string_view status,
                         std::chrono::seconds within = std::chrono::seconds(10)) {
    std::string answer;
    for (const auto give_up = std::chrono::steady_clock::now() + within;
         !answer.starts_with(status) && std::chrono::steady_clock::now() < give_up;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      answer = Raw(request, std::chrono::seconds(20), /*until_answered=*/true).first;
    }
    return answer;
  }
};

TEST_F(HeldAnswersHttpLimitsTest, AnswersNotYetReadAreBoundedInAll) {
  const std::string get = LongHistoryRequest();
  // A client that asks for the 8 MB history and does not read it.
  asio::io_context io;
  tcp::socket stalled = Asking(io, get);
  // Once its answer is rendered and held (a moment; longer under ASan),
  // another client's is refused.
  const std::string refused = AskedUntil(get, "HTTP/1.1 503 ");
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 503 ")) << refused.substr(0, 300);
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused.substr(0, 300);
  EXPECT_NE(refused.find("--max-answer-bytes-held"), std::string::npos) << refused.substr(0, 300);
  // The liveness check is answered all the same (black-box probe 99).
  const std::string alive =
      Raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", std::chrono::seconds(20), true).first;
  EXPECT_TRUE(alive.starts_with("HTTP/1.1 200 ")) << alive.substr(0, 300);
  // Once the stalled client's answer is dropped (the request timeout, 2 s),
  // the next is answered.
  const std::string answered = AskedUntil(get, "HTTP/1.1 200 ", std::chrono::seconds(30));
  EXPECT_TRUE(answered.starts_with("HTTP/1.1 200 ")) << answered.substr(0, 300);
}

// One token subject's answers not yet taken are bounded by its share of the
// bound of all: past it that subject's reads are a 429 naming the flag, while
// another subject's are answered (one user's clients that ask for long
// answers and do not read them had every other user's reads refused until
// they timed out). Once its answer is dropped, the subject reads again.
class HeldAnswersPerTokenHttpLimitsTest : public HeldAnswersHttpLimitsTest {
 protected:
  void AdjustServer(HttpServerOptions& o) override {
    HeldAnswersHttpLimitsTest::AdjustServer(o);
    o.max_answer_bytes_held = std::size_t{64} << 20;
    o.max_answer_bytes_held_per_token = 1 << 20;
  }
};

TEST_F(HeldAnswersPerTokenHttpLimitsTest, OneTokensAnswersNotYetReadAreBoundedByItsShare) {
  const std::string get = LongHistoryRequest("operator-1");
  asio::io_context io;
  tcp::socket stalled = Asking(io, get);
  const std::string refused = AskedUntil(get, "HTTP/1.1 429 ");
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 429 ")) << refused.substr(0, 300);
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused.substr(0, 300);
  EXPECT_NE(refused.find("\"rate_limited\""), std::string::npos) << refused.substr(0, 300);
  EXPECT_NE(refused.find("--max-answer-bytes-held-per-token"), std::string::npos)
      << refused.substr(0, 300);
  // Another subject's read of the same history is answered whole meanwhile.
  auto [other, other_closed] = Answered(LongHistoryRequest("operator-2"));
  EXPECT_TRUE(other.starts_with("HTTP/1.1 200 ")) << other.substr(0, 300);
  EXPECT_GT(other.size(), 8'000'000u);
  // A read without a token has no share: a screen's file, healthz.
  EXPECT_TRUE(Raw(kHealthz, std::chrono::seconds(2)).first.starts_with("HTTP/1.1 200 "));
  // Once the stalled client's answer is dropped (the request timeout, 2 s),
  // its subject reads again.
  const std::string answered = AskedUntil(get, "HTTP/1.1 200 ", std::chrono::seconds(30));
  EXPECT_TRUE(answered.starts_with("HTTP/1.1 200 ")) << answered.substr(0, 300);
}

// A long answer goes whole to a client that reads it slowly but steadily,
// taking much longer than the request timeout (1 s here): the deadline moves
// on each time it has taken kAnswerProgressBytes. A whole-answer deadline
// cut it (a 38 MB history needed ~1.3 MB/s; black-box probe 72, session 29).
// Its client reads 64 KiB every 15 ms of an 8 MB history, ~2 s: each write
// the server's socket takes (about half its send buffer, which the kernel
// sizes up to 4 MB) is taken in well under the timeout, the whole is not.
TEST_F(HttpLimitsTest, ALongAnswerGoesWholeToASlowButSteadyReader) {
  const std::string get = LongHistoryRequest();
  asio::io_context io;
  tcp::socket slow = Asking(io, get);
  std::string got;
  std::vector<char> buf(kAnswerProgressBytes);
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    boost::system::error_code ec;
    const std::size_t n = asio::read(slow, asio::buffer(buf), ec);
    got.append(buf.data(), n);
    if (ec) break;  // the server closed: all of it, or cut
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
  }
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(got.starts_with("HTTP/1.1 200 ")) << got.substr(0, 300);
  const std::size_t header_end = got.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  const std::size_t length_at = got.find("Content-Length: ");
  ASSERT_LT(length_at, header_end);
  const std::size_t length = std::stoull(got.substr(length_at + 16));
  EXPECT_GT(length, 8'000'000u);
  EXPECT_EQ(got.size() - header_end - 4, length) << "the answer was cut";
  EXPECT_GT(took, std::chrono::seconds(1)) << "read faster than the request timeout: no proof";
}

// RFC 9112 3.2: an HTTP/1.1 request without a Host, or any request with two,
// is a 400 and writes nothing (a black-box probe had them served); HTTP/1.0
// needs none.
TEST_F(HttpLimitsTest, AHostIsRequiredOnceInHttp11) {
  const std::string token = Token("operator-1", Role::kOperator);
  const std::string intake = testing::ReportBody();
  const Position before = store_->Head().position;
  for (const std::string hosts : {"", "Host: a\r\nHost: b\r\n"}) {
    auto [answer, closed] =
        Raw("POST /api/v1/cases HTTP/1.1\r\n" + hosts + "Authorization: Bearer " + token +
                "\r\nContent-Length: " + std::to_string(intake.size()) + "\r\n\r\n" + intake,
            std::chrono::seconds(3));
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << hosts << ": " << answer;
    EXPECT_NE(answer.find("\"Host: "), std::string::npos) << answer;
    EXPECT_TRUE(closed);
  }
  EXPECT_EQ(store_->Head().position, before);
  auto [old, closed] = Raw("GET /healthz HTTP/1.0\r\n\r\n", std::chrono::seconds(3));
  EXPECT_TRUE(old.starts_with("HTTP/1.0 200 ")) << old;
}

// RFC 9110 6.6.1: an origin server with a clock sends Date in its 2xx, 3xx
// and 4xx answers; casegrid sends it in all, refusals before routing too.
TEST_F(HttpLimitsTest, EveryAnswerCarriesTheDate) {
  const auto seconds = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  for (const std::string request :
       {"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /api/v1/nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /api/v1/cases HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /api/v1/cases HTTP/1.1\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n"}) {
    const std::int64_t before = seconds();
    auto [answer, closed] = Raw(request, std::chrono::seconds(3));
    const std::int64_t after = seconds();
    const std::string head = answer.substr(0, answer.find("\r\n\r\n"));
    const auto at = head.find("\r\nDate: ");
    ASSERT_NE(at, std::string::npos) << request << ": " << answer;
    const std::string date = head.substr(at + 8, head.find("\r\n", at + 2) - at - 8);
    bool within = false;
    for (std::int64_t s = before; s <= after; ++s) within = within || date == FormatHttpDate(s);
    EXPECT_TRUE(within) << date;
  }
}

TEST_F(HttpLimitsTest, ATargetInAbsoluteFormIsReadAsItsPathAndQuery) {
  for (const std::string target : {"http://x/healthz", "HTTP://127.0.0.1:1/healthz?a=1"}) {
    auto [answer, closed] = Answered("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(answer.find(" 200 "), std::string::npos) << target << ": " << answer;
  }
  auto [answer, closed] = Answered("GET http://x HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(answer.find(" 200 "), std::string::npos) << answer;  // "/": the screens' index
}

// A HEAD is answered as its GET, without the body (RFC 9110 9.3.2): a body
// after the header would be read as the next pipelined answer.
TEST_F(HttpLimitsTest, AHeadIsAnsweredWithoutABody) {
  auto [answer, closed] =
      Raw("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
          "HEAD /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
          std::chrono::seconds(3));
  EXPECT_TRUE(closed);
  const auto first_end = answer.find("\r\n\r\n");
  ASSERT_NE(first_end, std::string::npos) << answer;
  ASSERT_TRUE(answer.starts_with("HTTP/1.1 200 ")) << answer;
  const std::string rest = answer.substr(first_end + 4);
  ASSERT_TRUE(rest.starts_with("HTTP/1.1 404 ")) << answer;
  const auto second_end = rest.find("\r\n\r\n");
  ASSERT_NE(second_end, std::string::npos) << answer;
  const std::string get = rest.substr(second_end + 4);
  ASSERT_TRUE(get.starts_with("HTTP/1.1 200 ")) << answer;
  // The HEAD tells the length the GET's body has.
  auto length = [](const std::string& headers) {
    const auto at = headers.find("Content-Length: ");
    return at == std::string::npos ? std::string()
                                   : headers.substr(at + 16, headers.find("\r\n", at) - at - 16);
  };
  const std::string body = get.substr(get.find("\r\n\r\n") + 4);
  EXPECT_EQ(length(answer.substr(0, first_end)), std::to_string(body.size())) << answer;
  EXPECT_NE(length(rest.substr(0, second_end)), "0") << answer;
}

TEST_F(HttpLimitsTest, ABodyThatNeverFinishesIsDroppedAndWritesNothing) {
  const Position before = store_->Head().position;
  const std::string token = Token("operator-1", Role::kOperator);
  const auto start = std::chrono::steady_clock::now();
  auto [answer, closed] =
      Raw("POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
              "\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"kind\":",
          std::chrono::seconds(5));
  EXPECT_TRUE(closed) << "a slow body was kept past the request timeout";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(answer.find("201"), std::string::npos) << answer;
  EXPECT_EQ(store_->Head().position, before);
}

TEST_F(HttpLimitsTest, AnIdleKeepAliveConnectionIsClosed) {
  auto [answer, closed] = Raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", std::chrono::seconds(5));
  EXPECT_NE(answer.find("200 OK"), std::string::npos) << answer;
  EXPECT_TRUE(closed) << "an idle keep-alive connection was kept past the timeout";
}

// (An idle timeout of 3 s: a peer must answer a ping within half of it,
// which a test thread stalled under ASan on a busy machine might not in 0.5.)
class WsIdleHttpLimitsTest : public HttpLimitsTest {
 protected:
  void AdjustServer(HttpServerOptions& o) override {
    HttpLimitsTest::AdjustServer(o);
    o.ws.idle_timeout = std::chrono::seconds(3);
  }
};

TEST_F(WsIdleHttpLimitsTest, AWebSocketPeerThatStopsAnsweringPingsIsDropped) {
  const std::string token = Token("operator-1", Role::kOperator);
  WsClient alive, dead;
  ASSERT_TRUE(alive.Connect(server_->port(), "/ws?token=" + token));
  ASSERT_TRUE(dead.Connect(server_->port(), "/ws?token=" + token));
  alive.Send(R"({"op":"subscribe","id":1,"channel":"alerts"})");
  ASSERT_TRUE(alive.Next().has_value());
  // `dead` never reads again, so it never answers a ping; `alive` reads (and
  // so answers pings) for two idle timeouts, and until the silent one is
  // dropped (up to 30 s).
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < start + std::chrono::seconds(6) ||
         (metrics_.ws_connections_open.Value() != 1 &&
          std::chrono::steady_clock::now() < start + std::chrono::seconds(30))) {
    alive.Next(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(alive.open()) << "a peer answering pings was dropped";
  EXPECT_EQ(metrics_.ws_connections_open.Value(), 1) << "the silent peer is still connected";
}

// At most `max_connections` open at once, HTTP and WebSocket together: the
// next waits in the kernel's backlog, and is served once one closes.
class BoundedConnectionsHttpLimitsTest : public HttpLimitsTest {
 protected:
  void AdjustServer(HttpServerOptions& o) override {
    HttpLimitsTest::AdjustServer(o);
    o.max_connections = 2;
    o.request_timeout = std::chrono::seconds(30);  // the idle client holds its slot
  }
};

TEST_F(BoundedConnectionsHttpLimitsTest, ConnectionsPastTheBoundWaitUntilOneCloses) {
  WsClient push;
  ASSERT_TRUE(push.Connect(server_->port(), "/ws?token=" + Token("operator-1", Role::kOperator)));
  asio::io_context io;
  tcp::socket idle = Idle(io);
  // Both slots taken (the WebSocket keeps the one its upgrade came on): a
  // third client is not served, however long it waits.
  auto [waited, closed] = Raw(kHealthz, std::chrono::milliseconds(700));
  EXPECT_EQ(waited, "") << "served past the bound";
  EXPECT_GE(metrics_.connections_waited.Value(), 1);
  EXPECT_EQ(metrics_.connections_bound.Value(), 2);
  // The WebSocket goes: its slot serves the next.
  push.Close();
  auto [served, done] = Raw(kHealthz, std::chrono::seconds(5));
  EXPECT_TRUE(served.starts_with("HTTP/1.1 200 ")) << served;
}

// serve --metrics-listen: a second server of an operational_only api, with
// connections of its own, answers /metrics and /healthz while every
// connection of the API's port is taken; it serves nothing else.
TEST_F(BoundedConnectionsHttpLimitsTest, TheMetricsPortAnswersWhenTheApisConnectionsAreAllTaken) {
  HttpApiOptions ops;
  ops.operational_only = true;
  HttpApi metrics_api(service_.get(), projector_.get(), authority_.get(), &clock_, &metrics_, ops);
  HttpServerOptions o;
  o.port = 0;
  o.io_threads = 1;
  o.workers = 2;
  o.max_connections = 8;
  o.count_connections = false;
  HttpServer metrics_server(&metrics_api, &metrics_, nullptr, o);
  ASSERT_TRUE(metrics_server.Start().ok());
  const std::uint16_t port = metrics_server.port();
  auto on_metrics_port = [&](const std::string& raw) {
    return Raw(raw, std::chrono::seconds(20), /*until_answered=*/true, port).first;
  };

  WsClient push;
  ASSERT_TRUE(push.Connect(server_->port(), "/ws?token=" + Token("operator-1", Role::kOperator)));
  asio::io_context io;
  tcp::socket idle = Idle(io);
  auto [waited, closed] = Raw(kHealthz, std::chrono::milliseconds(700));
  EXPECT_EQ(waited, "") << "the API's port served past its bound";

  const std::string metrics = on_metrics_port("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(metrics.starts_with("HTTP/1.1 200 ")) << metrics;
  EXPECT_NE(metrics.find("\ncasegrid_connections_bound 2\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\ncasegrid_ws_connections 1\n"), std::string::npos) << metrics;
  const std::string health = on_metrics_port(kHealthz);
  EXPECT_TRUE(health.starts_with("HTTP/1.1 200 ")) << health;
  EXPECT_NE(health.find(R"("status":"ok")"), std::string::npos) << health;

  // Nothing else: the API (with a token, a write too), the screens, /ws.
  const Position before = store_->Head().position;
  const std::string token = Token("operator-1", Role::kOperator);
  const std::string body =
      R"({"kind":"dispute","channel":"call","cell":"santai/tongchuan/a03/g12",)"
      R"("category":"neighbour","priority":"high","summary":"s",)"
      R"("reporter":{"name":"Li","phone":"13800000000"}})";
  for (const std::string& raw : {
           "GET /api/v1/dashboard/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
               "\r\n\r\n",
           "POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
           // A body without a token: 404 too, not 401, its body not read
           // (review 94, probe 93).
           "POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n",
           std::string(
               "POST /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer forged.x.y\r\n") +
               "Content-Length: 2\r\n\r\n{}",
           std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
           std::string("GET /ui/js/dashboard.js HTTP/1.1\r\nHost: x\r\n\r\n"),
           "GET /ws?token=" + token +
               " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
       }) {
    const std::string got = on_metrics_port(raw);
    EXPECT_TRUE(got.starts_with("HTTP/1.1 404 ")) << raw << "\n" << got;  // no 100 Continue
    EXPECT_NE(got.find("serves GET /healthz and GET /metrics only"), std::string::npos) << got;
  }
  EXPECT_EQ(store_->Head().position, before) << "the metrics port wrote";
  // Its requests count as any (the seven refused above too, /ws's and the
  // body's before routing); its connections are not the API port's.
  metrics_server.Stop();
  EXPECT_EQ(metrics_.connections_bound.Value(), 2);
  EXPECT_EQ(metrics_.connections_open.Value(), 1)
      << "the idle client alone (the WebSocket's is its own)";
}

// By default loopback peers are not bounded (a reverse proxy in front, the
// load tool): three connections from 127.0.0.1 with a bound of 2 are served.
class LoopbackPeerHttpLimitsTest : public HttpLimitsTest {
 protected:
  void AdjustServer(HttpServerOptions& o) override {
    HttpLimitsTest::AdjustServer(o);
    o.max_connections_per_address = 2;
    o.request_timeout = std::chrono::seconds(30);
  }
};

// At most `max_connections_per_address` open at once from one address: the
// next from it is answered 429 and closed, and served once one of its own
// closes (one client idling on every slot locked all others out until the
// request timeout).
class PeerBoundHttpLimitsTest : public LoopbackPeerHttpLimitsTest {
 protected:
  void AdjustServer(HttpServerOptions& o) override {
    LoopbackPeerHttpLimitsTest::AdjustServer(o);
    o.bound_loopback_peers = true;  // the tests' peers are all 127.0.0.1
  }
};

TEST_F(PeerBoundHttpLimitsTest, ConnectionsPastAnAddresssBoundAreRefusedUntilOneCloses) {
  WsClient push;
  ASSERT_TRUE(push.Connect(server_->port(), "/ws?token=" + Token("operator-1", Role::kOperator)));
  asio::io_context io;
  tcp::socket idle = Idle(io);
  const std::string get = kHealthz;
  auto [refused, closed] = Raw(get, std::chrono::seconds(3));
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 429 ")) << refused;
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused;
  EXPECT_NE(refused.find("more than 2 connections open from your address"), std::string::npos)
      << refused;
  EXPECT_TRUE(closed);
  EXPECT_EQ(metrics_.connections_refused_per_address.Value(), 1);
  // The WebSocket goes: its place serves the next (once the server has seen
  // it go, which a loaded machine may take a moment to).
  // (Its address's slot is given back as its session goes, a moment after
  // the count of open WebSockets drops: asked again until served, up to 20 s.)
  push.Close();
  std::string served;
  for (const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       !served.starts_with("HTTP/1.1 200 ") && std::chrono::steady_clock::now() < give_up;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    served = Raw(get, std::chrono::seconds(5)).first;
  }
  EXPECT_TRUE(served.starts_with("HTTP/1.1 200 ")) << served;
  // Past kRefusalsPerKey refusals lingering at once, one more is closed
  // unanswered: an address cannot fill the slots of all with its refusals.
  std::vector<std::unique_ptr<tcp::socket>> refusals;
  for (std::size_t i = 0; i < ConnectionsPerKey::kRefusalsPerKey + 3; ++i) {
    refusals.push_back(std::make_unique<tcp::socket>(io));
    refusals.back()->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  }
  auto [silent, cut] = Raw(get, std::chrono::seconds(3));
  EXPECT_EQ(silent, "") << "answered past the refusals' bound";
  EXPECT_TRUE(cut);
}

TEST_F(LoopbackPeerHttpLimitsTest, LoopbackPeersAreNotBoundedByDefault) {
  asio::io_context io;
  tcp::socket a(io), b(io);
  for (tcp::socket* s : {&a, &b}) {
    s->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  }
  auto [served, closed] = Raw(kHealthz, std::chrono::seconds(5));
  EXPECT_TRUE(served.starts_with("HTTP/1.1 200 ")) << served;
  EXPECT_EQ(metrics_.connections_refused_per_address.Value(), 0);
}

}  // namespace
}  // namespace casegrid
