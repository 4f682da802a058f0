// End to end: the real server on a free loopback port, spoken to with
// Beast's HTTP client over real sockets.
#include <gtest/gtest.h>

#include <filesystem>

#include <simdjson.h>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "engine/time_format.h"
#include "tests/http_api_fixture.h"
#include "tests/support/fault_fs.h"
#include "tests/support/thread_names.h"

namespace casegrid {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

using testing::At;

class HttpApiTest : public testing::HttpApiFixture {
 protected:
  // POST /api/v1/cases with each of `keys` as an Idempotency-Key header (the
  // fixture's Send sends one at most), on a connection of its own.
  http::response<http::string_body> ReportWithKeys(const std::string& token,
                                                   const std::vector<std::string>& keys) {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    http::request<http::string_body> req{http::verb::post, "/api/v1/cases", 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::authorization, "Bearer " + token);
    for (const std::string& key : keys) req.insert("Idempotency-Key", key);
    req.body() = testing::ReportBody();
    req.prepare_payload();
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    return res;
  }
};

// A header or query parameter sent twice: which one counts would be a guess.
TEST_F(HttpApiTest, AnIdempotencyKeyOrAQueryParameterSentTwiceIsRefused) {
  const std::string officer = Token("officer-7", Role::kOfficer);
  const Position before = store_->Head().position;
  const auto res = ReportWithKeys(officer, {"first", "second"});
  EXPECT_EQ(res.result_int(), 400u) << res.body();
  EXPECT_NE(res.body().find("Idempotency-Key: sent more than once"), std::string::npos)
      << res.body();
  EXPECT_EQ(store_->Head().position, before);
  for (const std::string target : {"/api/v1/cases?limit=1&limit=2",
                                   "/api/v1/cases?state=reported&kind=dispute&state=closed"}) {
    auto r = Send(http::verb::get, target, officer);
    EXPECT_EQ(r.status, 400u) << target << ": " << r.body;
    EXPECT_NE(r.body.find("is sent more than once"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Send(http::verb::get, "/api/v1/cases?limit=1&state=reported", officer).status, 200u);
}

// An empty Idempotency-Key is refused, not taken for none (black-box probe
// 104: its repeat wrote again).
TEST_F(HttpApiTest, AnEmptyIdempotencyKeyIsRefused) {
  const std::string officer = Token("officer-7", Role::kOfficer);
  const Position before = store_->Head().position;
  for (const char* value : {"", "   "}) {
    const auto res = ReportWithKeys(officer, {value});
    EXPECT_EQ(res.result_int(), 400u) << res.body();
    EXPECT_NE(res.body().find("Idempotency-Key: empty; leave the header out to send none"),
              std::string::npos)
        << res.body();
  }
  EXPECT_EQ(store_->Head().position, before);
}

// An Idempotency-Key holds visible characters and spaces: the server's own
// keys (an acknowledgment's without a key) hold a newline, which keeps them
// apart from every key a client sends; a tab or a NUL is refused too.
TEST_F(HttpApiTest, AnIdempotencyKeyWithAControlCharacterIsRefused) {
  const std::string officer = Token("officer-7", Role::kOfficer);
  const Position before = store_->Head().position;
  auto r =
      Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody(), std::string("a\tb"));
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_NE(r.body.find("control characters are not allowed"), std::string::npos) << r.body;
  EXPECT_EQ(store_->Head().position, before);
  EXPECT_EQ(Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody(), "a b").status,
            201u);
}

// A stray & names nothing and is passed over (twice, it was "query:  is sent
// more than once"); a value without a name is refused.
TEST_F(HttpApiTest, StrayAmpersandsArePassedOverAndANamelessValueIsRefused) {
  const std::string officer = Token("officer-7", Role::kOfficer);
  for (const std::string target :
       {"/api/v1/cases?&&", "/api/v1/cases?limit=1&&&", "/api/v1/cases?=&="}) {
    auto r = Send(http::verb::get, target, officer);
    EXPECT_EQ(r.status, 200u) << target << ": " << r.body;
  }
  auto nameless = Send(http::verb::get, "/api/v1/cases?=5", officer);
  EXPECT_EQ(nameless.status, 400u) << nameless.body;
  EXPECT_NE(nameless.body.find("without a parameter name"), std::string::npos) << nameless.body;
  // A % not followed by two hex digits is malformed, not a literal (it read
  // as "no case %zz").
  for (const std::string target : {"/api/v1/cases/%zz", "/api/v1/cases?cell=%zz",
                                   "/api/v1/cases?cell=%", "/api/v1/cases?cell=%4"}) {
    auto r = Send(http::verb::get, target, officer);
    EXPECT_EQ(r.status, 400u) << target << ": " << r.body;
    EXPECT_NE(r.body.find("two hex digits"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Send(http::verb::get, "/api/v1/cases?cell=santai%2Ftongchuan", officer).status, 200u);
  // A screen's page takes nothing from its query: one the API would refuse
  // still gets the page (a damaged link), and a damaged page path does not.
  for (const std::string target : {"/?cell=%ff", "/?cell=%zz", "/officer?x=%", "/case/C-1?a=%4"}) {
    auto r = Send(http::verb::get, target, "");
    EXPECT_EQ(r.status, 200u) << target << ": " << r.body;
    EXPECT_NE(r.body.find("<html"), std::string::npos) << target;
  }
  EXPECT_EQ(Send(http::verb::get, "/case/C-1%zz", "").status, 400u);
  // A parameter the API does not take is refused, not ignored: a misspelled
  // as_of answered the present.
  for (const std::string name : {"asof", "as-of", "AS_OF", "asOf", "_"}) {
    auto r =
        Send(http::verb::get, "/api/v1/dashboard/?" + name + "=1", Token("op-1", Role::kOperator));
    EXPECT_EQ(r.status, 400u) << name << ": " << r.body;
    EXPECT_NE(r.body.find("no parameter " + name), std::string::npos) << r.body;
  }
}

// Only a case's view and history and a dashboard are answered as of the
// past; elsewhere as_of is refused rather than answered with the present
// (an auditor's digest as of a position was the head's), and a write that
// names one writes nothing.
TEST_F(HttpApiTest, AsOfWhereThePastIsNotAnsweredIsRefused) {
  const std::string officer = Token("officer-7", Role::kOfficer);
  auto created = Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody());
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string quoted = At(created.body, "/case_id");
  const std::string id = quoted.substr(1, quoted.size() - 2);
  const Position before = store_->Head().position;
  const std::string auditor = Token("auditor-1", Role::kAuditor);
  for (const auto& [method, target, token] :
       std::vector<std::tuple<http::verb, std::string, std::string>>{
           {http::verb::get, "/api/v1/alerts?as_of=1", officer},
           {http::verb::get, "/api/v1/audit/digest?as_of=1", auditor},
           {http::verb::get, "/api/v1/events?as_of=1", auditor},
           {http::verb::post, "/api/v1/cases/" + id + "/note?as_of=1", officer},
       }) {
    auto r = Send(method, target, token, method == http::verb::post ? R"({"text":"x"})" : "");
    EXPECT_EQ(r.status, 400u) << target << ": " << r.body;
    EXPECT_NE(r.body.find("as_of: only"), std::string::npos) << r.body;
  }
  EXPECT_EQ(store_->Head().position, before);  // neither the note nor an audit record
  EXPECT_EQ(Send(http::verb::get, "/api/v1/cases/" + id + "?as_of=1", officer).status, 404u);
  auto history = Send(http::verb::get,
                      "/api/v1/cases/" + id + "/history?as_of=" + std::to_string(before), officer);
  EXPECT_EQ(history.status, 200u) << history.body;
}

// A parameter of the API on a route that does not take it is refused, not
// ignored: `?limit=2` on a history answered every event, `?cell=` on a
// dashboard another cell's than the caller meant to ask (black-box probe,
// session 25). Nothing is written, not even an auditor's record.
TEST_F(HttpApiTest, AParameterSentWhereItIsNotTakenIsRefused) {
  const std::string officer = Token("officer-7", Role::kOfficer);
  const std::string id = NewCase();
  const std::string auditor = Token("auditor-1", Role::kAuditor);
  const Position before = store_->Head().position;
  for (const auto& [method, target, takes] :
       std::vector<std::tuple<http::verb, std::string, std::string>>{
           {http::verb::get, "/api/v1/cases/" + id + "/history?limit=2", "as_of only"},
           {http::verb::get, "/api/v1/cases/" + id + "/history?after=3", "as_of only"},
           {http::verb::get, "/api/v1/cases/" + id + "?state=closed", "as_of only"},
           {http::verb::get, "/api/v1/dashboard/santai?cell=santai/luxi", "as_of only"},
           {http::verb::get, "/api/v1/dashboard/?kind=dispute", "as_of only"},
           {http::verb::get, "/api/v1/events?after=1&limit=1&cell=x", "after, limit only"},
           {http::verb::get, "/api/v1/alerts?state=open", "after, limit only"},
           {http::verb::get, "/api/v1/audit/digest?limit=1", "no parameter"},
           {http::verb::post, "/api/v1/cases/" + id + "/note?limit=1", "no parameter"},
           {http::verb::post, "/api/v1/cases?cell=santai", "no parameter"},
       }) {
    const bool post = method == http::verb::post;
    const std::string body = !post                                       ? std::string()
                             : target.find("/note") != std::string::npos ? R"({"text":"x"})"
                                                                         : testing::ReportBody();
    auto r = Send(method, target, post ? officer : auditor, body);
    EXPECT_EQ(r.status, 400u) << target << ": " << r.body;
    EXPECT_NE(r.body.find("this route takes " + takes), std::string::npos)
        << target << ": " << r.body;
  }
  EXPECT_EQ(store_->Head().position, before);
  // What each route takes still works, with a token in the query too.
  EXPECT_EQ(Send(http::verb::get, "/api/v1/events?after=1&limit=1", auditor).status, 200u);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/cases?cell=santai&state=reported&kind=dispute&limit=5",
                 officer)
                .status,
            200u);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts?limit=5&token=" + officer, "").status, 200u);
}

// A list's filter or cursor sent empty asks for nothing, as if not sent (a
// client fills API.md's `?cell=&state=&kind=&limit=&after=` from what it
// has): `cell` and a case list's `after` were so, the others 400 (black-box
// probe 78). An empty `as_of` is still refused: the present is no answer to
// a question about the past.
TEST_F(HttpApiTest, AListsParameterSentEmptyIsAsIfNotSent) {
  const std::string officer = Token("officer-7", Role::kOfficer);
  const std::string auditor = Token("auditor-1", Role::kAuditor);
  const std::string id = NewCase();
  // The list is the views': folded once the projector has the case.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (projector_->position() < store_->Head().position &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto all = Send(http::verb::get, "/api/v1/cases", officer);
  ASSERT_EQ(all.status, 200u) << all.body;
  ASSERT_NE(all.body.find(id), std::string::npos) << all.body;
  auto empty = Send(http::verb::get, "/api/v1/cases?cell=&state=&kind=&limit=&after=", officer);
  EXPECT_EQ(empty.status, 200u) << empty.body;
  EXPECT_EQ(empty.body, all.body);
  auto events = Send(http::verb::get, "/api/v1/events?after=&limit=", auditor);
  EXPECT_EQ(events.status, 200u) << events.body;
  EXPECT_EQ(At(events.body, "/events/0/position"), "1");
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts?after=&limit=", officer).status, 200u);
  // Still a parameter: sent twice, or where the route takes none, is 400
  // (review 81).
  EXPECT_EQ(Send(http::verb::get, "/api/v1/events?after=&after=1", auditor).status, 400u);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/dashboard/?cell=", officer).status, 400u);
  auto as_of = Send(http::verb::get, "/api/v1/cases/" + id + "?as_of=", officer);
  EXPECT_EQ(as_of.status, 400u) << as_of.body;
  EXPECT_NE(as_of.body.find("as_of"), std::string::npos) << as_of.body;
}

// An operator's `top -H` tells the server's threads apart: one io thread per
// io_threads, the projector, the log's committer.
TEST_F(HttpApiTest, TheServersThreadsAreNamed) {
  auto names = testing::ThreadNames();
  EXPECT_GE(std::count(names.begin(), names.end(), "cg-io"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "cg-project"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "cg-commit"), 1);
}

TEST_F(HttpApiTest, HealthNeedsNoTokenAndEverythingElseDoes) {
  EXPECT_EQ(Send(http::verb::get, "/healthz", "").status, 200u);
  auto r = Send(http::verb::get, "/api/v1/alerts", "");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(At(r.body, "/error/code"), "\"unauthorized\"");
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts", "forged.token.here").status, 401u);
  // Two Authorization headers, each valid: which one acts would be a guess.
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  http::request<http::string_body> req{http::verb::get, "/api/v1/alerts", 11};
  req.set(http::field::host, "localhost");
  req.insert(http::field::authorization, "Bearer " + Token("officer-7", Role::kOfficer));
  req.insert(http::field::authorization, "Bearer " + Token("auditor-1", Role::kAuditor, {""}));
  http::write(socket, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  EXPECT_EQ(res.result_int(), 401u) << res.body();
  EXPECT_NE(res.body().find("Authorization must be sent once"), std::string::npos) << res.body();
  // A token in the header and another in the query, or two in the query: the same guess.
  const std::string officer = Token("officer-7", Role::kOfficer);
  auto sent = [&](const std::string& target, const std::string& authorization) {
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    http::request<http::string_body> r{http::verb::get, target, 11};
    r.set(http::field::host, "localhost");
    if (!authorization.empty()) r.set(http::field::authorization, authorization);
    http::write(s, r);
    beast::flat_buffer b;
    http::response<http::string_body> answer;
    http::read(s, b, answer);
    return std::make_pair(answer.result_int(), answer.body());
  };
  auto both = sent("/api/v1/alerts?token=" + officer, "Bearer " + officer);
  EXPECT_EQ(both.first, 401u) << both.second;
  EXPECT_NE(both.second.find("send it once"), std::string::npos) << both.second;
  auto twice = sent("/api/v1/alerts?token=" + officer + "&token=" + officer, "");
  EXPECT_EQ(twice.first, 401u) << twice.second;
  EXPECT_EQ(sent("/api/v1/alerts?token=" + officer, "").first, 200u);
  // The scheme's name is case-insensitive (RFC 7235 §2.1).
  EXPECT_EQ(sent("/api/v1/alerts", "bearer " + officer).first, 200u);
  EXPECT_EQ(sent("/api/v1/alerts", "BEARER " + officer).first, 200u);
  EXPECT_EQ(sent("/api/v1/alerts", "Bearer" + officer).first, 401u);
}

// The list of cases masks the reporter for whoever does not handle a case:
// a grid worker of the cell or an auditor reads it as on a case's own read
// (mutation testing, review 116).
TEST_F(HttpApiTest, TheListOfCasesIsMaskedForThoseWhoDoNotHandleTheCase) {
  const std::string id = NewCase();
  ASSERT_TRUE(projector_->WaitFor(store_->Head().position, std::chrono::seconds(10)));
  for (const std::string& token :
       {Token("worker-3", Role::kGridWorker, {"santai/tongchuan/a03/g12"}),
        Token("auditor-1", Role::kAuditor)}) {
    auto list = Send(http::verb::get, "/api/v1/cases?cell=santai/tongchuan/a03/g12", token);
    ASSERT_EQ(list.status, 200u) << list.body;
    ASSERT_NE(list.body.find(id), std::string::npos) << list.body;
    EXPECT_EQ(list.body.find("13800000000"), std::string::npos) << list.body;
    EXPECT_NE(list.body.find("\"138****0000\""), std::string::npos) << list.body;
  }
  // An operator handles every case: shown.
  auto shown = Send(http::verb::get, "/api/v1/cases?cell=santai", Token("op-1", Role::kOperator));
  EXPECT_NE(shown.body.find("13800000000"), std::string::npos) << shown.body;
}

// A token is good until its exp and not at it: no leeway (mutation testing,
// review 116).
TEST_F(HttpApiTest, ATokenIsRefusedAtExactlyItsExp) {
  const std::string token = Token("officer-7", Role::kOfficer);
  auto who = authority_->Verify(token, clock_.NowMillis());
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  const std::int64_t exp = who->expires_at_ms;
  EXPECT_TRUE(authority_->Verify(token, exp - 1).ok());
  auto at_exp = authority_->Verify(token, exp);
  EXPECT_EQ(at_exp.status().code(), StatusCode::kUnauthenticated);
  clock_.Set(exp);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts", token).status, 401u);
}

TEST_F(HttpApiTest, IntakeThenReadTheCaseAsAnOfficerInScope) {
  const std::string op = Token("operator-1", Role::kOperator);
  auto created = Send(http::verb::post, "/api/v1/cases", op, testing::ReportBody());
  ASSERT_EQ(created.status, 201u) << created.body;
  EXPECT_EQ(At(created.body, "/version"), "1");
  const std::string id = At(created.body, "/case_id");
  const std::string bare = id.substr(1, id.size() - 2);
  auto view = Send(http::verb::get, "/api/v1/cases/" + bare, op);
  ASSERT_EQ(view.status, 200u) << view.body;
  EXPECT_EQ(At(view.body, "/state"), "\"reported\"");
  EXPECT_EQ(At(view.body, "/reporter/phone"), "\"13800000000\"");
  // A volunteer in scope reads it masked.
  auto masked = Send(http::verb::get, "/api/v1/cases/" + bare,
                     Token("vol-1", Role::kVolunteer, {"santai/tongchuan"}));
  ASSERT_EQ(masked.status, 200u);
  EXPECT_EQ(At(masked.body, "/reporter/phone"), "\"138****0000\"");
  EXPECT_EQ(At(masked.body, "/reporter/name"), "\"L*****\"");
  // Out of scope: 403.
  auto outside = Send(http::verb::get, "/api/v1/cases/" + bare,
                      Token("o-2", Role::kOfficer, {"santai/xinhua"}));
  EXPECT_EQ(outside.status, 403u);
  EXPECT_EQ(At(outside.body, "/error/code"), "\"forbidden\"");
  auto history = Send(http::verb::get, "/api/v1/cases/" + bare + "/history", op);
  ASSERT_EQ(history.status, 200u);
  EXPECT_EQ(At(history.body, "/events/0/type"), "\"CaseReported\"");
}

// A history answers a whole case, and a case holds at most kMaxCaseEvents
// (case_rules_test.cc); a longer stream, as an older build could write, is
// 413 rather than a history cut short or an answer without bound.
TEST_F(HttpApiTest, AHistoryLongerThanACaseHoldsIsTooLargeNotCut) {
  const std::string op = Token("operator-1", Role::kOperator);
  const std::string id = CaseOfNotes(kMaxCaseHistory);
  ASSERT_FALSE(HasFatalFailure());
  const auto read = store_->ReadStream(CaseStream(id), 2, 1, ReadDirection::kForward);
  ASSERT_TRUE(read.ok() && read->size() == 1);
  const RecordedEvent& note = read->front();
  const std::string history = "/api/v1/cases/" + id + "/history";
  auto whole = Send(http::verb::get, history, op);
  ASSERT_EQ(whole.status, 200u);
  EXPECT_EQ(At(whole.body, "/events/" + std::to_string(kMaxCaseHistory - 1) + "/version"),
            std::to_string(kMaxCaseHistory));
  AppendRequest one_more{CaseStream(id), ExpectedVersion::Any(), note.actor, {}};
  one_more.events.push_back({"", note.type, note.data});
  ASSERT_TRUE(store_->Append(one_more).ok());
  auto too_long = Send(http::verb::get, history, op);
  EXPECT_EQ(too_long.status, 413u);
  EXPECT_EQ(At(too_long.body, "/error/code"), "\"too_large\"");
}

TEST_F(HttpApiTest, ErrorsHaveTheStatusAndCodeOfTheContract) {
  const std::string op = Token("officer-7", Role::kOperator);
  auto bad = Send(http::verb::post, "/api/v1/cases", op,
                  testing::ReportBody("santai/tongchuan/a03/g12", "critical"));
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(At(bad.body, "/error/code"), "\"bad_request\"");
  EXPECT_NE(bad.body.find("priority"), std::string::npos);
  EXPECT_EQ(Send(http::verb::post, "/api/v1/cases", op, "{not json").status, 400u);
  const std::string id = NewCase();
  // A number whose canonical digits would not read back: 400 naming where.
  const Position before_big = store_->Head().position;
  auto big = Send(http::verb::post, "/api/v1/cases/" + id + "/note", op,
                  R"({"text":"x","expected_version":1e20})");
  EXPECT_EQ(big.status, 400u) << big.body;
  EXPECT_NE(big.body.find("expected_version: number out of range"), std::string::npos) << big.body;
  // Written out in full it does not even parse; the error still says where.
  auto full = Send(http::verb::post, "/api/v1/cases", op, R"({"a":{"n":18446744073709551616}})");
  EXPECT_EQ(full.status, 400u) << full.body;
  EXPECT_NE(full.body.find("$.a.n: number out of range"), std::string::npos) << full.body;
  auto version = Send(http::verb::post, "/api/v1/cases/" + id + "/note", op,
                      R"({"text":"x","expected_version":1e17})");
  EXPECT_EQ(version.status, 400u) << version.body;
  EXPECT_NE(version.body.find("expected_version: must be an integer from 0 to 2^53"),
            std::string::npos)
      << version.body;
  // As sent, not as canonical JSON rounds it: 2^53 + 1 is not 2^53, 2.0 is no integer.
  for (const char* sent : {"9007199254740993", "2.0", "1e0"}) {
    auto rounded = Send(http::verb::post, "/api/v1/cases/" + id + "/note", op,
                        std::string(R"({"text":"x","expected_version":)") + sent + "}");
    EXPECT_EQ(rounded.status, 400u) << sent << ": " << rounded.body;
    EXPECT_NE(rounded.body.find("expected_version: must be an integer from 0 to 2^53"),
              std::string::npos)
        << sent << ": " << rounded.body;
  }
  EXPECT_EQ(store_->Head().position, before_big);
  auto conflict = Send(http::verb::post, "/api/v1/cases/" + id + "/close", op, "{}");
  EXPECT_EQ(conflict.status, 409u);
  EXPECT_EQ(At(conflict.body, "/error/code"), "\"conflict\"");
  EXPECT_EQ(Send(http::verb::post, "/api/v1/cases/" + id + "/teleport", op, "{}").status, 404u);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/nothing", op).status, 404u);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/cases/C-20990101-000001", op).status, 404u);
  auto huge = Send(http::verb::post, "/api/v1/cases", op, std::string(70000, ' '));
  EXPECT_EQ(huge.status, 413u);
  EXPECT_EQ(At(huge.body, "/error/code"), "\"too_large\"");

  // Each writes nothing: a page of no cases, fields an acknowledgment does
  // not take, a role nobody holds in a cell.
  const Position head = store_->Head().position;
  // A cell that is not defined is not found, in a list as on a dashboard.
  auto nowhere = Send(http::verb::get, "/api/v1/cases?cell=santai/nowhere", op);
  EXPECT_EQ(nowhere.status, 404u) << nowhere.body;
  EXPECT_EQ(Send(http::verb::get, "/api/v1/dashboard/santai/nowhere", op).status, 404u);
  auto none = Send(http::verb::get, "/api/v1/cases?cell=santai&limit=0", op);
  EXPECT_EQ(none.status, 400u);
  EXPECT_NE(none.body.find("limit: must be at least 1"), std::string::npos) << none.body;
  EXPECT_EQ(Send(http::verb::get, "/api/v1/events?limit=0", Token("aud-1", Role::kAuditor)).status,
            400u);
  auto ack = Send(http::verb::post, "/api/v1/alerts/1-new_case/ack", op, R"({"x":1})");
  EXPECT_EQ(ack.status, 400u);
  EXPECT_NE(ack.body.find("x: unknown field"), std::string::npos) << ack.body;
  auto king = Send(http::verb::post, "/api/v1/grid/cells/santai/officers",
                   Token("admin-1", Role::kAdmin), R"({"officer":"o-1","role":"king"})");
  EXPECT_EQ(king.status, 400u);
  auto extra =
      Send(http::verb::post, "/api/v1/streams/import/extra", Token("admin-1", Role::kAdmin),
           R"({"events":[{"type":"Imported","data":{},"colour":"red"}]})");
  EXPECT_EQ(extra.status, 400u);
  EXPECT_NE(extra.body.find("events[0].colour: unknown field"), std::string::npos) << extra.body;
  // A member sent twice, in an event or in its data: which one counts would be a guess.
  for (const char* twice : {R"({"events":[{"type":"Imported","data":{"a":1},"data":{"b":2}}]})",
                            R"({"events":[{"type":"Imported","data":{"a":1,"a":2}}]})"}) {
    auto repeated = Send(http::verb::post, "/api/v1/streams/import/twice",
                         Token("admin-1", Role::kAdmin), twice);
    EXPECT_EQ(repeated.status, 400u) << twice;
    EXPECT_NE(repeated.body.find("duplicate key"), std::string::npos) << repeated.body;
  }
  EXPECT_NE(king.body.find("role: unknown value \\\"king\\\""), std::string::npos) << king.body;
  EXPECT_EQ(store_->Head().position, head);
}

TEST_F(HttpApiTest, IdempotencyKeyAnswersTheFirstAnswerAndWritesNothing) {
  const std::string op = Token("operator-1", Role::kOperator);
  auto first = Send(http::verb::post, "/api/v1/cases", op, testing::ReportBody(), "intake-42");
  const Position head = store_->Head().position;
  auto again = Send(http::verb::post, "/api/v1/cases", op, testing::ReportBody(), "intake-42");
  EXPECT_EQ(first.status, 201u);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(store_->Head().position, head);

  // A key reused for another request is a conflict that writes nothing, not
  // the other request's answer: an intake's key on an action, an action's
  // on an intake or on another case, a grid write's on an intake.
  const std::string id = testing::At(first.body, "/case_id");
  const std::string path = "/api/v1/cases/" + id.substr(1, id.size() - 2);
  auto noted = Send(http::verb::post, path + "/note", op, R"({"text":"a"})", "note-7");
  ASSERT_EQ(noted.status, 200u) << noted.body;
  auto other = Send(http::verb::post, "/api/v1/cases", op, testing::ReportBody());
  const std::string other_id = testing::At(other.body, "/case_id");
  const Position written = store_->Head().position;
  auto reused = Send(http::verb::post, path + "/note", op, R"({"text":"a"})", "intake-42");
  EXPECT_EQ(reused.status, 409u) << reused.body;
  EXPECT_NE(reused.body.find("another request (CaseReported"), std::string::npos) << reused.body;
  EXPECT_EQ(Send(http::verb::post, "/api/v1/cases", op, testing::ReportBody(), "note-7").status,
            409u);
  EXPECT_EQ(Send(http::verb::post, path + "/triage", op, R"({"priority":"high"})", "note-7").status,
            409u);  // another action on the same case

  EXPECT_EQ(
      Send(http::verb::post, "/api/v1/cases/" + other_id.substr(1, other_id.size() - 2) + "/note",
           op, R"({"text":"a"})", "note-7")
          .status,
      409u);
  const std::string admin = Token("admin-1", Role::kAdmin);
  ASSERT_EQ(Send(http::verb::post, "/api/v1/grid/cells", admin,
                 R"({"cell":"santai/keyed","name":"k"})", "cell-1")
                .status,
            201u);
  const Position with_cell = store_->Head().position;
  EXPECT_EQ(Send(http::verb::post, "/api/v1/grid/cells", admin,
                 R"({"cell":"santai/other","name":"k"})", "cell-1")
                .status,
            409u);
  EXPECT_EQ(store_->Head().position, with_cell);
  EXPECT_EQ(with_cell, written + 1);
  EXPECT_EQ(Send(http::verb::post, path + "/note", op, R"({"text":"a"})", "note-7").body,
            noted.body);  // and the right request still gets its first answer
  // The same route with another body is another request, too.
  auto changed = Send(http::verb::post, path + "/note", op, R"({"text":"b"})", "note-7");
  EXPECT_EQ(changed.status, 409u) << changed.body;
  EXPECT_EQ(testing::At(changed.body, "/error/code"), R"("conflict")");
  EXPECT_NE(changed.body.find("another body (text differs)"), std::string::npos) << changed.body;
  EXPECT_EQ(store_->Head().position, with_cell);
}

TEST_F(HttpApiTest, ConcurrentWritesToOneCaseAllLandOrConflictAndRetriesAnswerOnce) {
  // Sixteen notes at once on one case, each decided again after a lost race
  // (up to three times): each is 200 or 409, every 200 is in the log exactly
  // once, and the same Idempotency-Key sent eight times at once writes one
  // event and gets one answer.
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  auto created = Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody());
  ASSERT_EQ(created.status, 201u);
  const std::string id = testing::At(created.body, "/case_id");
  const std::string path = "/api/v1/cases/" + id.substr(1, id.size() - 2);
  std::atomic<int> ok{0}, conflict{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      auto r = Send(http::verb::post, path + "/note", officer, R"({"text":"seen"})");
      (r.status == 200 ? ok : r.status == 409 ? conflict : other)++;
    });
  }
  for (auto& th : threads) th.join();
  threads.clear();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GE(ok.load(), 1);
  const CaseState after_notes = *FoldCase(*store_, id.substr(1, id.size() - 2));
  EXPECT_EQ(after_notes.notes, ok.load());

  std::vector<std::string> answers(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto r = Send(http::verb::post, path + "/note", officer, R"({"text":"once"})", "note-once");
      answers[t] = std::to_string(r.status) + " " + r.body;
    });
  }
  for (auto& th : threads) th.join();
  for (const std::string& a : answers) EXPECT_EQ(a, answers.front());
  EXPECT_EQ(answers.front().substr(0, 3), "200");
  EXPECT_EQ(FoldCase(*store_, id.substr(1, id.size() - 2))->notes, after_notes.notes + 1);
}

TEST_F(HttpApiTest, ADashboardAsOfATimeIsReadAtThatTimeNotAtItsLastEvent) {
  auto created =
      Send(http::verb::post, "/api/v1/cases",
           Token("officer-7", Role::kOfficer, {"santai/tongchuan"}), testing::ReportBody());
  ASSERT_EQ(created.status, 201u) << created.body;
  ASSERT_TRUE(projector_->WaitFor(store_->Head().position, std::chrono::seconds(10)));
  const std::string position = At(created.body, "/position");
  // Two days and an hour later, nothing having happened since.
  clock_.Advance(49LL * 3600000);
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  const std::string then = FormatTimestamp(clock_.NowMillis() - 3600000);
  auto by_time = Send(http::verb::get, "/api/v1/dashboard/santai/tongchuan?as_of=" + then, officer);
  ASSERT_EQ(by_time.status, 200u) << by_time.body;
  EXPECT_EQ(At(by_time.body, "/position"), position);  // the last event by then
  EXPECT_EQ(At(by_time.body, "/as_of"), "\"" + then + "\"");
  EXPECT_EQ(At(by_time.body, "/today/reported"), "0");  // reported two days before
  EXPECT_EQ(At(by_time.body, "/open/by_age/under_1d"), "0");
  EXPECT_EQ(At(by_time.body, "/open/by_age/1d_to_3d"), "1");
  // The same moment written with an offset (`+` sent as %2B) and a longer
  // fraction is the same answer, its as_of in UTC.
  std::string offset = FormatTimestamp(clock_.NowMillis() - 3600000 + 8 * 3600000);
  offset.replace(offset.size() - 1, 1, "999%2B08:00");
  auto by_offset =
      Send(http::verb::get, "/api/v1/dashboard/santai/tongchuan?as_of=" + offset, officer);
  ASSERT_EQ(by_offset.status, 200u) << offset << " " << by_offset.body;
  EXPECT_EQ(by_offset.body, by_time.body);
  // And with the `+` as written: a query's `+` is a `+` (RFC 3986), not a
  // space (HTML forms'), which made such an offset a 400.
  offset.replace(offset.find("%2B"), 3, "+");
  auto by_plus =
      Send(http::verb::get, "/api/v1/dashboard/santai/tongchuan?as_of=" + offset, officer);
  ASSERT_EQ(by_plus.status, 200u) << offset << " " << by_plus.body;
  EXPECT_EQ(by_plus.body, by_time.body);
  // By position, the moment is the event's own.
  auto by_position =
      Send(http::verb::get, "/api/v1/dashboard/santai/tongchuan?as_of=" + position, officer);
  ASSERT_EQ(by_position.status, 200u) << by_position.body;
  EXPECT_EQ(At(by_position.body, "/today/reported"), "1");
  EXPECT_EQ(At(by_position.body, "/open/by_age/under_1d"), "1");
  // The epoch is a time like any other, not "none" (it answered as_of null).
  auto epoch = Send(http::verb::get, "/api/v1/dashboard/?as_of=1970-01-01T00:00:00Z",
                    Token("op-1", Role::kOperator, {""}));
  ASSERT_EQ(epoch.status, 200u) << epoch.body;
  EXPECT_EQ(At(epoch.body, "/as_of"), "\"1970-01-01T00:00:00.000Z\"") << epoch.body;
}

TEST_F(HttpApiTest, LifecycleOverHttpAndTheDashboardSeesIt) {
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  auto created = Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody());
  const std::string id = At(created.body, "/case_id").substr(1, 17);
  ASSERT_EQ(Send(http::verb::post, "/api/v1/cases/" + id + "/assign", officer,
                 R"({"assignee":"officer-7"})")
                .status,
            200u);
  auto accepted = Send(http::verb::post, "/api/v1/cases/" + id + "/accept", officer, "{}");
  ASSERT_EQ(accepted.status, 200u) << accepted.body;
  ASSERT_TRUE(projector_->WaitFor(store_->Head().position, std::chrono::seconds(10)));
  auto dash = Send(http::verb::get, "/api/v1/dashboard/santai/tongchuan", officer);
  ASSERT_EQ(dash.status, 200u) << dash.body;
  EXPECT_EQ(At(dash.body, "/open/by_state/in_progress"), "1");
  EXPECT_EQ(Send(http::verb::get, "/api/v1/dashboard/", officer).status, 403u);
  auto then =
      Send(http::verb::get,
           "/api/v1/dashboard/santai/tongchuan?as_of=" + At(created.body, "/position"), officer);
  ASSERT_EQ(then.status, 200u) << then.body;
  EXPECT_EQ(At(then.body, "/open/by_state/reported"), "1");
  auto case_then = Send(http::verb::get,
                        "/api/v1/cases/" + id + "?as_of=" + At(created.body, "/position"), officer);
  EXPECT_EQ(At(case_then.body, "/state"), "\"reported\"") << case_then.body;
  // A position past the head is no moment yet: 400 on every as_of route.
  const std::string future = std::to_string(store_->Head().position + 10);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/cases/" + id + "?as_of=" + future, officer).status,
            400u);
  EXPECT_EQ(
      Send(http::verb::get, "/api/v1/dashboard/santai/tongchuan?as_of=" + future, officer).status,
      400u);
  // A position past 2^64 - 1 is said to be too large, not to be no number.
  auto huge = Send(http::verb::get, "/api/v1/cases/" + id + "?as_of=18446744073709551616", officer);
  EXPECT_EQ(huge.status, 400u);
  EXPECT_NE(huge.body.find("as_of: too large"), std::string::npos) << huge.body;
  // Nor is a time after now; now itself is.
  const std::string tomorrow = FormatTimestamp(clock_.NowMillis() + 24 * 3600000);
  auto later = Send(http::verb::get, "/api/v1/cases/" + id + "?as_of=" + tomorrow, officer);
  EXPECT_EQ(later.status, 400u) << later.body;
  EXPECT_NE(later.body.find("is in the future"), std::string::npos) << later.body;
  EXPECT_EQ(Send(http::verb::get,
                 "/api/v1/dashboard/santai/tongchuan?as_of=" + FormatTimestamp(clock_.NowMillis()),
                 officer)
                .status,
            200u);
  auto list =
      Send(http::verb::get, "/api/v1/cases?cell=santai/tongchuan&state=in_progress", officer);
  ASSERT_EQ(list.status, 200u) << list.body;
  EXPECT_EQ(At(list.body, "/cases/0/case_id"), "\"" + id + "\"");
  EXPECT_EQ(At(list.body, "/next"), "null");
  // A list answers the present only, and says so rather than ignore as_of.
  auto list_then = Send(http::verb::get, "/api/v1/cases?cell=santai/tongchuan&as_of=1", officer);
  EXPECT_EQ(list_then.status, 400u);
  EXPECT_NE(list_then.body.find("as_of: case lists answer the present only"), std::string::npos)
      << list_then.body;
  // A history as_of is the events up to then; before the case, 404.
  const std::string reported_at = At(created.body, "/position");
  auto history_then =
      Send(http::verb::get, "/api/v1/cases/" + id + "/history?as_of=" + reported_at, officer);
  ASSERT_EQ(history_then.status, 200u) << history_then.body;
  EXPECT_EQ(At(history_then.body, "/events/0/type"), "\"CaseReported\"");
  EXPECT_EQ(At(history_then.body, "/events/1/type"), "<none>") << history_then.body;
  auto history_now = Send(http::verb::get, "/api/v1/cases/" + id + "/history", officer);
  EXPECT_EQ(At(history_now.body, "/events/2/type"), "\"CaseAccepted\"") << history_now.body;
  EXPECT_EQ(
      Send(http::verb::get,
           "/api/v1/cases/" + id + "/history?as_of=" + std::to_string(std::stoull(reported_at) - 1),
           officer)
          .status,
      404u);
  EXPECT_EQ(
      Send(http::verb::get, "/api/v1/cases/" + id + "/history?as_of=" + future, officer).status,
      400u);
}

// Tier 3 is a supervisor's decision, refused (403) only for an escalation
// that would go there: a bad body is 400 and a closed case 409 first, as
// for every other step (review 98: the role was checked before anything).
TEST_F(HttpApiTest, AnOfficersEscalationToTierThreeIsForbiddenOnlyWhereItWouldGo) {
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  auto created = Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody());
  const std::string id = At(created.body, "/case_id").substr(1, 17);
  const std::string at = "/api/v1/cases/" + id + "/";
  auto act = [&](const std::string& action, const std::string& body) {
    return Send(http::verb::post, at + action, officer, body);
  };
  ASSERT_EQ(act("assign", R"({"assignee":"officer-7"})").status, 200u);
  ASSERT_EQ(act("accept", "{}").status, 200u);
  ASSERT_EQ(act("escalate", R"({"reason":"r"})").status, 200u);  // 1 -> 2: an officer's
  auto bad = act("escalate", R"({"reason":"r","to_tier":"x"})");
  EXPECT_EQ(bad.status, 400u) << bad.body;
  auto forbidden = act("escalate", R"({"reason":"r","judicial":"court"})");
  EXPECT_EQ(forbidden.status, 403u) << forbidden.body;
  EXPECT_NE(forbidden.body.find("escalation to tier 3 is a supervisor's decision"),
            std::string::npos)
      << forbidden.body;
  ASSERT_EQ(act("resolve", R"({"resolution":"handled_on_site","summary":"s"})").status, 200u);
  ASSERT_EQ(act("complete-callback",
                R"({"speed":"satisfied","attitude":"satisfied","outcome":"satisfied"})")
                .status,
            200u);
  ASSERT_EQ(act("close", "{}").status, 200u);
  auto closed = act("escalate", R"({"reason":"r","judicial":"court"})");
  EXPECT_EQ(closed.status, 409u) << closed.body;
  EXPECT_NE(closed.body.find("case is closed"), std::string::npos) << closed.body;
  const std::string supervisor = Token("chief-1", Role::kSupervisor, {"santai"});
  ASSERT_EQ(act("reopen", R"({"reason":"r"})").status, 200u);
  const std::string to_three = R"({"reason":"r","judicial":"court"})";
  auto by_supervisor = Send(http::verb::post, at + "escalate", supervisor, to_three, "esc3");
  EXPECT_EQ(by_supervisor.status, 200u) << by_supervisor.body;
  // Its repeat under the key is the supervisor's too (probe 99: a token of
  // the same subject with an officer's role got the first answer's 200).
  const std::string as_officer = Token("chief-1", Role::kOfficer, {"santai"});
  auto repeated = Send(http::verb::post, at + "escalate", as_officer, to_three, "esc3");
  EXPECT_EQ(repeated.status, 403u) << repeated.body;
  auto again = Send(http::verb::post, at + "escalate", supervisor, to_three, "esc3");
  EXPECT_EQ(again.status, 200u) << again.body;
  EXPECT_EQ(again.body, by_supervisor.body);
}

// An auditor's "as it stood then" must not change when asked again. Asked
// as of the very millisecond of the clock (which stands still here), a case
// reported after used to be stamped in that millisecond and to join the
// history and the dashboard on the next asking.
TEST_F(HttpApiTest, AnAsOfTimeGivesTheSameAnswerWhenAskedAgain) {
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  auto created = Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody());
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string id = At(created.body, "/case_id").substr(1, 17);
  ASSERT_TRUE(projector_->WaitFor(store_->Head().position, std::chrono::seconds(10)));
  const std::string now = FormatTimestamp(clock_.NowMillis());
  const std::string dash = "/api/v1/dashboard/santai/tongchuan?as_of=" + now;
  const std::string history = "/api/v1/cases/" + id + "/history?as_of=" + now;
  auto dash_first = Send(http::verb::get, dash, officer);
  auto history_first = Send(http::verb::get, history, officer);
  ASSERT_EQ(dash_first.status, 200u) << dash_first.body;
  ASSERT_EQ(history_first.status, 200u) << history_first.body;
  EXPECT_EQ(At(dash_first.body, "/open/by_state/reported"), "1") << dash_first.body;
  // Written after the question, in the same millisecond of the clock.
  ASSERT_EQ(Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody()).status, 201u);
  ASSERT_EQ(Send(http::verb::post, "/api/v1/cases/" + id + "/note", officer, R"({"text":"later"})")
                .status,
            200u);
  ASSERT_TRUE(projector_->WaitFor(store_->Head().position, std::chrono::seconds(10)));
  auto dash_again = Send(http::verb::get, dash, officer);
  auto history_again = Send(http::verb::get, history, officer);
  EXPECT_EQ(dash_again.body, dash_first.body);
  EXPECT_EQ(history_again.body, history_first.body);
  // The present has both.
  auto live = Send(http::verb::get, "/api/v1/dashboard/santai/tongchuan", officer);
  EXPECT_EQ(At(live.body, "/open/by_state/reported"), "2") << live.body;
}

TEST_F(HttpApiTest, AlertsAreListedAndAcknowledged) {
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  NewCase();
  ASSERT_TRUE(projector_->WaitFor(store_->Head().position, std::chrono::seconds(10)));
  auto alerts = Send(http::verb::get, "/api/v1/alerts", officer);
  ASSERT_EQ(alerts.status, 200u);
  const std::string alert = At(alerts.body, "/alerts/0/id");
  ASSERT_NE(alert, "<none>") << alerts.body;
  const std::string bare = alert.substr(1, alert.size() - 2);
  // Only the id as issued: a padded position names the same alert, but would
  // be written and pushed as typed, and never match the id clients hold.
  const Position before_padded = store_->Head().position;
  EXPECT_EQ(Send(http::verb::post, "/api/v1/alerts/00" + bare + "/ack", officer, "").status, 404u);
  EXPECT_EQ(store_->Head().position, before_padded);
  auto acked = Send(http::verb::post, "/api/v1/alerts/" + bare + "/ack", officer, "");
  EXPECT_EQ(acked.status, 200u) << acked.body;
  // Read your write: the list read right after the answer no longer holds it.
  EXPECT_EQ(At(Send(http::verb::get, "/api/v1/alerts", officer).body, "/alerts/0/id"), "<none>");
  EXPECT_EQ(Send(http::verb::post, "/api/v1/alerts/" + bare + "/ack", officer, "").status, 404u);
  // With an Idempotency-Key, a repeat gets the first answer and writes nothing.
  const Position head = store_->Head().position;
  auto repeat = Send(http::verb::post, "/api/v1/alerts/" + bare + "/ack", officer, "", "ack-1");
  EXPECT_EQ(repeat.status, 200u) << repeat.body;
  EXPECT_EQ(repeat.body, acked.body);
  EXPECT_EQ(store_->Head().position, head);
  EXPECT_EQ(Send(http::verb::post, "/api/v1/alerts/no-such-alert/ack", officer, "", "ack-2").status,
            404u);
}

// Two new cases, and the ids (unquoted) of the alerts they raised for the
// officer whose token is `officer`.
class AcknowledgmentTest : public HttpApiTest {
 protected:
  void TwoOpenAlerts(const std::string& officer, std::string* first, std::string* second) {
    NewCase();
    NewCase();
    ASSERT_TRUE(projector_->WaitFor(store_->Head().position, std::chrono::seconds(10)));
    auto alerts = Send(http::verb::get, "/api/v1/alerts", officer);
    const std::string a = At(alerts.body, "/alerts/0/id"), b = At(alerts.body, "/alerts/1/id");
    ASSERT_NE(b, "<none>") << alerts.body;
    *first = a.substr(1, a.size() - 2);
    *second = b.substr(1, b.size() - 2);
  }
};

// An acknowledgment's Idempotency-Key is kept: the key again on another
// alert is a 409 and writes nothing (a black-box probe, session 26: it wrote
// a second acknowledgment, the key only switching repeats on), and the key
// again on its alert answers the first acknowledgment. Another key cannot
// acknowledge the alert again.
TEST_F(AcknowledgmentTest, AnAcknowledgmentsKeyIsKeptForItsAlert) {
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  std::string first, second;
  ASSERT_NO_FATAL_FAILURE(TwoOpenAlerts(officer, &first, &second));
  auto acked = Send(http::verb::post, "/api/v1/alerts/" + first + "/ack", officer, "", "K");
  ASSERT_EQ(acked.status, 200u) << acked.body;
  const Position head = store_->Head().position;
  auto reused = Send(http::verb::post, "/api/v1/alerts/" + second + "/ack", officer, "", "K");
  EXPECT_EQ(reused.status, 409u) << reused.body;
  EXPECT_NE(reused.body.find("first used to acknowledge another alert"), std::string::npos)
      << reused.body;
  EXPECT_EQ(store_->Head().position, head) << "the key reused on another alert wrote";
  auto repeat = Send(http::verb::post, "/api/v1/alerts/" + first + "/ack", officer, "", "K");
  EXPECT_EQ(repeat.status, 200u) << repeat.body;
  EXPECT_EQ(repeat.body, acked.body);
  // Another key on the alert acknowledged under K: not open, nothing written.
  EXPECT_EQ(Send(http::verb::post, "/api/v1/alerts/" + first + "/ack", officer, "", "K2").status,
            404u);
  EXPECT_EQ(store_->Head().position, head);
  // The second alert is still open, and takes its own key.
  EXPECT_EQ(Send(http::verb::post, "/api/v1/alerts/" + second + "/ack", officer, "", "K3").status,
            200u);
}

// A client's key cannot take the id of an acknowledgment written without a
// key: "ack:<alert>" was that id's key, and a client sending it as its key
// for one alert left the other answered with the first's acknowledgment and
// open for ever (a white-box review, session 26).
TEST_F(AcknowledgmentTest, AClientsKeyCannotTakeAKeylessAcknowledgmentsId) {
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  std::string first, second;
  ASSERT_NO_FATAL_FAILURE(TwoOpenAlerts(officer, &first, &second));
  auto keyed =
      Send(http::verb::post, "/api/v1/alerts/" + first + "/ack", officer, "", "ack:" + second);
  ASSERT_EQ(keyed.status, 200u) << keyed.body;
  const Position head = store_->Head().position;
  auto keyless = Send(http::verb::post, "/api/v1/alerts/" + second + "/ack", officer, "");
  ASSERT_EQ(keyless.status, 200u) << keyless.body;
  EXPECT_NE(keyless.body, keyed.body);
  EXPECT_EQ(store_->Head().position, head + 1) << "the second alert was not acknowledged";
  EXPECT_EQ(At(Send(http::verb::get, "/api/v1/alerts", officer).body, "/alerts/0/id"), "<none>");
}

// Under keys the store no longer keeps a second acknowledgment of an alert
// out (the event's id is the key's): acknowledgments of one person run one
// at a time, so of many keys sent at once one acknowledges and the others
// find the alert acknowledged (or, past the 4 a person may have waiting, are
// told to try again).
TEST_F(HttpApiTest, ManyKeysAtOnceAcknowledgeAnAlertOnce) {
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  NewCase();
  ASSERT_TRUE(projector_->WaitFor(store_->Head().position, std::chrono::seconds(10)));
  const std::string a = At(Send(http::verb::get, "/api/v1/alerts", officer).body, "/alerts/0/id");
  ASSERT_NE(a, "<none>");
  const std::string alert = a.substr(1, a.size() - 2);
  const Position head = store_->Head().position;
  std::atomic<int> ok{0}, not_open{0}, waiting_already{0};
  std::vector<std::thread> senders;
  for (int i = 0; i < 8; ++i) {
    senders.emplace_back([&, i] {
      auto r = Send(http::verb::post, "/api/v1/alerts/" + alert + "/ack", officer, "",
                    "key-" + std::to_string(i));
      if (r.status == 200u) ++ok;
      if (r.status == 404u) ++not_open;
      if (r.status == 429u) ++waiting_already;  // past the 4 a person may have waiting
    });
  }
  for (auto& t : senders) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(not_open.load() + waiting_already.load(), 7);
  EXPECT_EQ(store_->Head().position, head + 1);
}

// The list of open alerts is paged like the case list, newest first; before,
// it stopped at the page cap with nothing to say more were open.
TEST_F(HttpApiTest, OpenAlertsArePagedNewestFirstAndNoneIsLeftOut) {
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  for (int i = 0; i < 5; ++i) NewCase();
  ASSERT_TRUE(projector_->WaitFor(store_->Head().position, std::chrono::seconds(10)));
  auto all = Send(http::verb::get, "/api/v1/alerts", officer);
  ASSERT_EQ(all.status, 200u) << all.body;
  EXPECT_EQ(At(all.body, "/next"), "null");
  std::vector<std::string> whole;
  for (int i = 0; At(all.body, "/alerts/" + std::to_string(i) + "/id") != "<none>"; ++i) {
    whole.push_back(At(all.body, "/alerts/" + std::to_string(i) + "/id"));
  }
  ASSERT_EQ(whole.size(), 5u) << all.body;
  std::vector<std::string> paged;
  std::string after;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = Send(http::verb::get,
                     "/api/v1/alerts?limit=2" + (after.empty() ? "" : "&after=" + after), officer);
    ASSERT_EQ(page.status, 200u) << page.body;
    for (int i = 0; At(page.body, "/alerts/" + std::to_string(i) + "/id") != "<none>"; ++i) {
      paged.push_back(At(page.body, "/alerts/" + std::to_string(i) + "/id"));
    }
    const std::string next = At(page.body, "/next");
    if (next == "null") break;
    after = next.substr(1, next.size() - 2);
  }
  EXPECT_EQ(paged, whole);  // newest first, each once
  EXPECT_GT(std::stoull(whole.front().substr(1)), std::stoull(whole.back().substr(1)));
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts?limit=0", officer).status, 400u);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts?after=x", officer).status, 400u);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts?after=0", officer).status, 400u);
}

// Who was responsible for a cell on a past day (DOMAIN.md: the grid is
// event-sourced "so an audit replay shows who was responsible for a cell on
// any past day"; black-box probe 71 found no route that showed it).
TEST_F(HttpApiTest, ACellIsReadAsItStandsAndAsItStoodOnAPastDay) {
  const std::string admin = Token("admin-1", Role::kAdmin);
  const std::string op = Token("op-1", Role::kOperator);
  const std::string cell = "/api/v1/grid/cells/santai/tongchuan/a03/g13";
  auto assign = [&](const std::string& person) {
    auto r = Send(http::verb::post, cell + "/officers", admin,
                  R"({"officer":")" + person + R"(","role":"officer"})");
    EXPECT_EQ(r.status, 201u) << r.body;
    return store_->Head().position;
  };
  auto definition =
      store_->ReadStream("grid/santai/tongchuan/a03/g13", 1, 1, ReadDirection::kForward);
  ASSERT_TRUE(definition.ok() && definition->size() == 1u);
  const Position defined = definition->front().position;
  clock_.Advance(60000);
  const Position first = assign("officer-a");
  const std::string first_time = FormatTimestamp(clock_.NowMillis());
  clock_.Advance(1800000);  // (the tokens live an hour)
  const Position second = assign("officer-b");
  auto removed = Send(http::verb::delete_, cell + "/officers/officer-a", admin);
  ASSERT_EQ(removed.status, 200u) << removed.body;
  const Position now = store_->Head().position;

  auto live = Send(http::verb::get, cell, op);
  ASSERT_EQ(live.status, 200u) << live.body;
  EXPECT_EQ(At(live.body, "/position"), std::to_string(now));
  // The cell's stream's version, which a grid write pins (review 113: no
  // read gave it): defined, two assignments, a removal.
  EXPECT_EQ(At(live.body, "/version"), "4");
  auto pinned = Send(http::verb::post, cell + "/officers", admin,
                     R"({"officer":"officer-c","role":"officer","expected_version":4})");
  EXPECT_EQ(pinned.status, 201u) << pinned.body;
  EXPECT_EQ(At(pinned.body, "/version"), "5");
  auto stale = Send(http::verb::post, cell + "/officers", admin,
                    R"({"officer":"officer-d","role":"officer","expected_version":4})");
  EXPECT_EQ(stale.status, 409u) << stale.body;
  ASSERT_EQ(Send(http::verb::delete_, cell + "/officers/officer-c", admin).status, 200u);
  live = Send(http::verb::get, cell, op);
  EXPECT_EQ(At(live.body, "/level"), "\"cluster\"");
  EXPECT_EQ(At(live.body, "/people/0/person"), "\"officer-b\"");
  EXPECT_EQ(At(live.body, "/people/0/since_position"), std::to_string(second));
  EXPECT_EQ(At(live.body, "/people/1"), "<none>");
  // The cells above: nobody is assigned to them in this grid.
  EXPECT_EQ(At(live.body, "/above/0"), "<none>");

  // As of the first assignment, by position and by its time.
  for (const std::string& as_of : {std::to_string(first), first_time}) {
    auto past = Send(http::verb::get, cell + "?as_of=" + as_of, op);
    ASSERT_EQ(past.status, 200u) << as_of << " -> " << past.body;
    EXPECT_EQ(At(past.body, "/version"), "2") << as_of;
    EXPECT_EQ(At(past.body, "/people/0/person"), "\"officer-a\"") << as_of;
    EXPECT_EQ(At(past.body, "/people/0/since"), "\"" + first_time + "\"") << as_of;
    EXPECT_EQ(At(past.body, "/people/1"), "<none>") << as_of;
  }
  // Before the assignment, nobody; before the cell was defined, no cell.
  auto empty = Send(http::verb::get, cell + "?as_of=" + std::to_string(first - 1), op);
  EXPECT_EQ(At(empty.body, "/people/0"), "<none>") << empty.body;
  auto before = Send(http::verb::get, cell + "?as_of=" + std::to_string(defined - 1), op);
  EXPECT_EQ(before.status, 404u) << before.body;
  EXPECT_NE(before.body.find("no cell santai/tongchuan/a03/g13 at position"), std::string::npos);

  // The cell's own people and those of the cells above, nearest first.
  Send(http::verb::post, "/api/v1/grid/cells/santai/officers", admin,
       R"({"officer":"chief-1","role":"supervisor"})");
  auto covered = Send(http::verb::get, cell, op);
  EXPECT_EQ(At(covered.body, "/above/0/person"), "\"chief-1\"") << covered.body;
  EXPECT_EQ(At(covered.body, "/above/0/cell"), "\"santai\"") << covered.body;

  // Every role reads the cells in its scope; outside them is 403; a path
  // no cell could have is 404, as its dashboard; another parameter is 400.
  EXPECT_EQ(
      Send(http::verb::get, cell, Token("officer-7", Role::kOfficer, {"santai/tongchuan"})).status,
      200u);
  EXPECT_EQ(Send(http::verb::get, cell, admin).status, 200u);
  EXPECT_EQ(Send(http::verb::get, cell, Token("officer-9", Role::kOfficer, {"santai/luxi"})).status,
            403u);
  for (const char* path : {"/x/y", "//x", "/", "/X"}) {
    auto r = Send(http::verb::get, cell + path, op);
    EXPECT_EQ(r.status, 404u) << path << " -> " << r.body;
    EXPECT_NE(r.body.find("no cell santai/tongchuan/a03/g13"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Send(http::verb::get, "/api/v1/grid/cells/santai/nowhere", op).status, 404u);
  EXPECT_EQ(Send(http::verb::get, cell + "?limit=1", op).status, 400u);
  EXPECT_EQ(Send(http::verb::get, cell + "?as_of=" + std::to_string(now + 5), op).status, 400u);
  // An auditor's read of it is recorded, as any of its reads.
  const Position head = store_->Head().position;
  auto audited = Send(http::verb::get, cell + "?as_of=" + std::to_string(first),
                      Token("aud-6", Role::kAuditor));
  ASSERT_EQ(audited.status, 200u) << audited.body;
  auto record = store_->ReadAt(head + 1);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->data,
            R"({"by":"aud-6","target":")" + cell + "?as_of=" + std::to_string(first) + R"("})");
}

// A cell's answer lists the cells defined under it, and the root's the
// districts, cases or none, as of any position: what a screen lists below a
// node (it listed only the children its cases were in, and a child whose
// cases were all closed could not be reached but by typing its path:
// black-box probe 91).
TEST_F(HttpApiTest, ACellListsTheCellsUnderItAsTheyStood) {
  const std::string admin = Token("admin-1", Role::kAdmin);
  const std::string op = Token("op-1", Role::kOperator);
  const auto define = [&](const std::string& cell) {
    ASSERT_EQ(Send(http::verb::post, "/api/v1/grid/cells", admin,
                   R"({"cell":")" + cell + R"(","name":"n"})")
                  .status,
              201u)
        << cell;
  };
  // Siblings around a subtree in byte order: "b" < "b-x" < "b/c" < "b0".
  ASSERT_NO_FATAL_FAILURE(define("santai/b"));
  const Position with_b = store_->Head().position;
  for (const char* cell :
       {"santai/b/c", "santai/b-x", "santai/b-x/y", "santai/b0", "santai/b/c/d"}) {
    ASSERT_NO_FATAL_FAILURE(define(cell));
  }
  ASSERT_NO_FATAL_FAILURE(define("xinde"));
  const auto children = [&](const std::string& target) {
    auto r = Send(http::verb::get, target, op);
    EXPECT_EQ(r.status, 200u) << target << " -> " << r.body;
    return At(r.body, "/children");
  };
  EXPECT_EQ(children("/api/v1/grid/cells/santai"),
            R"(["santai/b","santai/b-x","santai/b0","santai/tongchuan"])");
  EXPECT_EQ(children("/api/v1/grid/cells/santai/b"), R"(["santai/b/c"])");
  EXPECT_EQ(children("/api/v1/grid/cells/santai/b/c/d"), "[]");
  for (const char* root : {"/api/v1/grid/cells", "/api/v1/grid/cells/"}) {
    EXPECT_EQ(children(root), R"(["santai","xinde"])") << root;
  }
  // As the grid stood: before b's siblings and children were defined.
  EXPECT_EQ(children("/api/v1/grid/cells/santai?as_of=" + std::to_string(with_b)),
            R"(["santai/b","santai/tongchuan"])");
  EXPECT_EQ(children("/api/v1/grid/cells?as_of=" + std::to_string(with_b)), R"(["santai"])");
  // The root is in the scope of a token of the whole grid only.
  EXPECT_EQ(Send(http::verb::get, "/api/v1/grid/cells",
                 Token("officer-7", Role::kOfficer, {"santai/tongchuan"}))
                .status,
            403u);
  // An auditor's read of the root is recorded in one form.
  const Position head = store_->Head().position;
  ASSERT_EQ(Send(http::verb::get, "/api/v1/grid/cells", Token("aud-7", Role::kAuditor)).status,
            200u);
  auto record = store_->ReadAt(head + 1);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->data, R"({"by":"aud-7","target":"/api/v1/grid/cells/"})");
}

TEST_F(HttpApiTest, TheRawLogAndTheGridBelongToTheirRoles) {
  const std::string officer = Token("officer-7", Role::kOfficer);
  const std::string auditor = Token("aud-1", Role::kAuditor);
  const std::string admin = Token("admin-1", Role::kAdmin);
  // Assigns `person` to santai/new as an officer; the answer's status.
  auto assign = [&](const std::string& person) {
    return Send(http::verb::post, "/api/v1/grid/cells/santai/new/officers", admin,
                R"({"officer":")" + person + R"(","role":"officer"})")
        .status;
  };
  EXPECT_EQ(Send(http::verb::get, "/api/v1/events?after=0", officer).status, 403u);
  auto events = Send(http::verb::get, "/api/v1/events?after=0&limit=2", auditor);
  ASSERT_EQ(events.status, 200u);
  EXPECT_EQ(At(events.body, "/events/1/position"), "2");
  EXPECT_EQ(At(events.body, "/events/2/position"), "<none>");
  const Position before = store_->Head().position;
  auto digest = Send(http::verb::get, "/api/v1/audit/digest", auditor);
  // The head as read; the read's own record comes after it.
  EXPECT_EQ(At(digest.body, "/position"), std::to_string(before));
  EXPECT_EQ(store_->Head().position, before + 1);
  EXPECT_EQ(
      Send(http::verb::post, "/api/v1/grid/cells", officer, R"({"cell":"santai/new","name":"n"})")
          .status,
      403u);
  EXPECT_EQ(
      Send(http::verb::post, "/api/v1/grid/cells", admin, R"({"cell":"santai/new","name":"n"})")
          .status,
      201u);
  EXPECT_EQ(assign("o-9"), 201u);
  EXPECT_EQ(Send(http::verb::delete_, "/api/v1/grid/cells/santai/new/officers/o-9", admin).status,
            200u);
  // A person whose id is "officers" is assigned and removed like any other
  // (the route took the last "officers" segment for its own: 404).
  EXPECT_EQ(assign("officers"), 201u);
  EXPECT_EQ(
      Send(http::verb::delete_, "/api/v1/grid/cells/santai/new/officers/officers", admin).status,
      200u);
  auto raw = Send(
      http::verb::post, "/api/v1/streams/import/batch-1", admin,
      R"({"expected_version":"no_stream","events":[{"type":"Imported","id":"imp-1","data":{"n":1}}]})");
  EXPECT_EQ(raw.status, 200u) << raw.body;
  auto again = Send(
      http::verb::post, "/api/v1/streams/import/batch-1", admin,
      R"({"expected_version":"no_stream","events":[{"type":"Imported","id":"imp-1","data":{"n":1}}]})");
  EXPECT_EQ(again.body, raw.body);  // the same ids: the first answer, nothing written
  // Events without ids under an Idempotency-Key get the key's ids, so a
  // retry writes nothing: the key was ignored, and the retry wrote twice.
  const std::string keyed = R"({"events":[{"type":"Imported","data":{"n":1}},)"
                            R"({"type":"Imported","id":"","data":{"n":2}}]})";
  auto first = Send(http::verb::post, "/api/v1/streams/import/keyed", admin, keyed, "import-7");
  ASSERT_EQ(first.status, 200u) << first.body;
  const Position head = store_->Head().position;
  auto retry = Send(http::verb::post, "/api/v1/streams/import/keyed", admin, keyed, "import-7");
  EXPECT_EQ(retry.status, 200u) << retry.body;
  EXPECT_EQ(retry.body, first.body);
  EXPECT_EQ(store_->Head().position, head);
  EXPECT_EQ(*store_->StreamVersionOf("import/keyed"), 2u);
  // Without a key, each append is its own.
  ASSERT_EQ(Send(http::verb::post, "/api/v1/streams/import/keyed", admin, keyed).status, 200u);
  EXPECT_EQ(*store_->StreamVersionOf("import/keyed"), 4u);
  // A key reused to remove another person is a conflict: it answered the
  // first removal's 200 and left the second person assigned.
  ASSERT_EQ(assign("p-1"), 201u);
  ASSERT_EQ(assign("p-2"), 201u);
  ASSERT_EQ(
      Send(http::verb::delete_, "/api/v1/grid/cells/santai/new/officers/p-1", admin, "", "remove-k")
          .status,
      200u);
  auto other = Send(http::verb::delete_, "/api/v1/grid/cells/santai/new/officers/p-2", admin, "",
                    "remove-k");
  EXPECT_EQ(other.status, 409u) << other.body;
  EXPECT_TRUE(service_->grid().IsAssigned("santai/new", "p-2", "officer"));
  // A route that is none does not echo the query, where a token may be.
  const std::string echo = Send(http::verb::get, "/api/v1/nope?token=" + admin, "").body;
  EXPECT_NE(echo.find("no such route: GET /api/v1/nope"), std::string::npos) << echo;
  EXPECT_EQ(echo.find(admin), std::string::npos) << echo;
}

TEST_F(HttpApiTest, EveryAuditReadIsRecordedBeforeItIsAnswered) {
  const std::string auditor = Token("aud-1", Role::kAuditor);
  ASSERT_EQ(Send(http::verb::get, "/api/v1/events?after=0&limit=1", auditor).status, 200u);
  ASSERT_EQ(Send(http::verb::get, "/api/v1/audit/digest", auditor).status, 200u);
  auto recorded = store_->ReadStream("audit/aud-1", 1, 10, ReadDirection::kForward);
  ASSERT_TRUE(recorded.ok());
  ASSERT_EQ(recorded->size(), 2u);
  EXPECT_EQ(recorded->at(0).type, "AuditRead");
  // after=0, the log's start, is as if not sent (black-box probe 95).
  EXPECT_EQ(recorded->at(0).data, R"({"by":"aud-1","target":"/api/v1/events?limit=1"})");
  // Others' reads are not audit reads.
  Send(http::verb::get, "/api/v1/alerts", Token("officer-7", Role::kOfficer));
  EXPECT_EQ(*store_->StreamVersionOf("audit/officer-7"), 0u);
  // An auditor named by an e-mail address: its reads are recorded too (they
  // were 400, '@' being outside the stream names' alphabet).
  const std::string mail = Token("aud@example.org", Role::kAuditor);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/audit/digest", mail).status, 200u);
  EXPECT_EQ(*store_->StreamVersionOf("audit/aud@example.org"), 1u);
}

// The target an audit record holds is cut at 1000 bytes between characters:
// cut inside one, it was not UTF-8, the store refused the record, and the
// read was answered 400 about a field the auditor never sent (a white-box
// review of session 24).
TEST_F(HttpApiTest, AnAuditRecordOfALongTargetIsCutBetweenCharacters) {
  const std::string auditor = Token("aud-3", Role::kAuditor);
  // A cursor ("<cell>|<case>"), recorded decoded after the limit.
  std::string kept = "/api/v1/cases?limit=1&after=zz|";
  const std::string padding(999 - kept.size(), 'z');
  kept += padding;
  // é, two bytes each: byte 1000 of the record is inside the first.
  const std::string target = "/api/v1/cases?after=zz%7C" + padding + "\u00e9\u00e9\u00e9&limit=1";
  auto r = Send(http::verb::get, target, auditor);
  EXPECT_EQ(r.status, 200u) << r.body;
  auto recorded = store_->ReadStream("audit/aud-3", 1, 10, ReadDirection::kForward);
  ASSERT_TRUE(recorded.ok());
  ASSERT_EQ(recorded->size(), 1u);
  EXPECT_EQ(recorded->at(0).data, R"({"by":"aud-3","target":")" + kept + "\u2026\"}");
}

// An audit record says what was read however the request was written: the
// path decoded, the API's parameters in one form and order, short ones
// first. Padded or encoded, a read hid from its record the moment read (a
// fraction pushed its offset past the cut: 8 hours off), the position (all
// zeros kept), the cell of a list, or the case id (kept encoded; black-box
// probe 71).
TEST_F(HttpApiTest, AnAuditRecordSaysWhatWasReadHoweverTheRequestIsWritten) {
  const std::string id = NewCase();
  std::string encoded_id;
  for (const char c : id) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    encoded_id += '%';
    encoded_id += kHex[static_cast<unsigned char>(c) >> 4];
    encoded_id += kHex[c & 0xf];
  }
  const Position at = store_->Head().position;
  clock_.Advance(5000);
  const std::string read_at = FormatTimestamp(clock_.NowMillis() - 1000);  // ...Z
  // The same instant at +08:00, with a fraction 1,100 digits long.
  const std::int64_t local_ms = clock_.NowMillis() - 1000 + 8 * 3600000;
  const std::string local = FormatTimestamp(local_ms).substr(0, 23) + std::string(1100, '0');
  const std::string zeros(1100, '0');
  const std::string auditor = Token("aud-5", Role::kAuditor);
  const std::vector<std::pair<std::string, std::string>> reads = {
      {"/api/v1/cases/" + encoded_id, "/api/v1/cases/" + id},
      {"/api/v1/cases/" + id + "?as_of=" + local + "%2B08:00",
       "/api/v1/cases/" + id + "?as_of=" + read_at},
      {"/api/v1/cases/" + id + "/history?%61s_of=" + zeros + std::to_string(at),
       "/api/v1/cases/" + id + "/history?as_of=" + std::to_string(at)},
      {"/api/v1/dashboard/santai?as_of=" + zeros + std::to_string(at),
       "/api/v1/dashboard/santai?as_of=" + std::to_string(at)},
      {"/api/v1/cases?limit=" + zeros + "3&cell=santai/tongchuan",
       "/api/v1/cases?limit=3&cell=santai/tongchuan"},
      // A cell path's slashes, however written, split it alike (probe 90).
      {"/api/v1/dashboard/santai%2Ftongchuan", "/api/v1/dashboard/santai/tongchuan"},
      {"/api/v1/dashboard/santai%2ftongchuan", "/api/v1/dashboard/santai/tongchuan"},
      {"/api/v1/grid/cells/santai%2Ftongchuan", "/api/v1/grid/cells/santai/tongchuan"},
      {"/api/v1/dashboard", "/api/v1/dashboard/"},
      {"/api/v1/dashboard/", "/api/v1/dashboard/"},
      // A page as answered: a parameter at its default is as if not sent, a
      // limit past the page bound is the bound (black-box probe 95).
      {"/api/v1/events?after=0&limit=2", "/api/v1/events?limit=2"},
      {"/api/v1/events?limit=99999999", "/api/v1/events"},
      {"/api/v1/cases?cell=santai/tongchuan&limit=50", "/api/v1/cases?cell=santai/tongchuan"},
      {"/api/v1/alerts?limit=1000", "/api/v1/alerts"},
  };
  for (const auto& [target, said] : reads) {
    const Position head = store_->Head().position;
    auto r = Send(http::verb::get, target, auditor);
    ASSERT_EQ(r.status, 200u) << target.substr(0, 80) << " -> " << r.body;
    auto record = store_->ReadAt(head + 1);
    ASSERT_TRUE(record.ok()) << target.substr(0, 80);
    EXPECT_EQ(record->data, R"({"by":"aud-5","target":")" + said + R"("})") << target.substr(0, 80);
  }
}

// A target that is not a path (origin form) is refused: it was routed
// without its first byte, so "Xapi/v1/audit/digest" answered as the digest,
// past any proxy's rule on the path (a white-box review of session 24).
TEST_F(HttpApiTest, ATargetThatIsNotAPathIsRefused) {
  const std::string op = Token("op-1", Role::kOperator);
  for (const char* target : {"Xapi/v1/audit/digest", "*healthz", "api/v1/cases"}) {
    auto r = Send(http::verb::get, target, op);
    EXPECT_EQ(r.status, 400u) << target << " -> " << r.body;
    EXPECT_NE(r.body.find("must be a path"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Send(http::verb::get, "/api/v1/audit/digest", op).status, 200u);
}

TEST_F(HttpApiTest, AnAuditRecordHoldsNoTokenAndARejectedReadWritesNothing) {
  const std::string auditor = Token("aud-2", Role::kAuditor);
  // A token in the query (as browsers send it) is not written into the log.
  ASSERT_EQ(Send(http::verb::get, "/api/v1/alerts?token=" + auditor + "&limit=5", "").status, 200u);
  ASSERT_EQ(Send(http::verb::get, "/api/v1/audit/digest?token=" + auditor, "").status, 200u);
  auto recorded = store_->ReadStream("audit/aud-2", 1, 10, ReadDirection::kForward);
  ASSERT_TRUE(recorded.ok());
  ASSERT_EQ(recorded->size(), 2u);
  EXPECT_EQ(recorded->at(0).data, R"({"by":"aud-2","target":"/api/v1/alerts?limit=5"})");
  EXPECT_EQ(recorded->at(1).data, R"({"by":"aud-2","target":"/api/v1/audit/digest"})");
  // Rejected reads answer their error and write nothing.
  const Position head = store_->Head().position;
  EXPECT_EQ(Send(http::verb::get, "/api/v1/events?after=abc", auditor).status, 400u);
  // Past the head is a position this log never had, as on the events
  // channel and for `casegrid tail` (it answered an empty page).
  auto beyond = Send(http::verb::get, "/api/v1/events?after=" + std::to_string(head + 5), auditor);
  EXPECT_EQ(beyond.status, 400u) << beyond.body;
  EXPECT_NE(beyond.body.find("beyond the log's head"), std::string::npos) << beyond.body;
  // An unknown value names the values there are (black-box probe 74).
  const auto bogus = Send(http::verb::get, "/api/v1/cases?state=open", auditor);
  EXPECT_EQ(bogus.status, 400u);
  EXPECT_NE(bogus.body.find("(one of reported, assigned, in_progress, resolved, closed)"),
            std::string::npos)
      << bogus.body;
  const auto kind = Send(http::verb::get, "/api/v1/cases?kind=fight", auditor);
  EXPECT_NE(kind.body.find("(one of dispute, incident, hazard, assistance)"), std::string::npos)
      << kind.body;
  EXPECT_EQ(Send(http::verb::get, "/api/v1/cases/C-20990101-000001", auditor).status, 404u);
  EXPECT_EQ(store_->Head().position, head);
}

TEST_F(HttpApiTest, PagingTheLogToItsEndEndsThoughEachPageReadIsRecorded) {
  const std::string auditor = Token("aud-3", Role::kAuditor);
  Position after = 0;
  int pages = 0, empty = 0;
  for (; pages < 50 && empty == 0; ++pages) {
    auto page =
        Send(http::verb::get, "/api/v1/events?limit=100&after=" + std::to_string(after), auditor);
    ASSERT_EQ(page.status, 200u) << page.body;
    simdjson::dom::parser parser;
    simdjson::dom::array events = parser.parse(page.body)["events"].get_array();
    if (events.size() == 0) ++empty;
    for (auto e : events) after = e["position"].get_uint64();
  }
  // The log's pages, then one of the reads of them (a page of nothing but
  // audit reads is not recorded itself), then the end, an empty page, which
  // is recorded (black-box probe 71: "has anything happened since?" left no
  // trace): its record is the next page, the auditor's own.
  EXPECT_EQ(empty, 1) << "paging did not end after " << pages << " pages";
  EXPECT_EQ(after + 1, store_->Head().position);
  auto last = store_->ReadAt(after + 1);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->data, R"({"by":"aud-3","target":"/api/v1/events?limit=100&after=)" +
                            std::to_string(after) + R"("})");
  auto own = Send(http::verb::get, "/api/v1/events?after=" + std::to_string(after), auditor);
  EXPECT_NE(own.body.find("audit/aud-3"), std::string::npos) << own.body;
  EXPECT_EQ(store_->Head().position, after + 1);  // its own record only: not recorded
  // Another auditor's page of those records (who read what) is recorded.
  const Position head = store_->Head().position;
  auto theirs = Send(http::verb::get, "/api/v1/events?after=" + std::to_string(head - 2),
                     Token("aud-4", Role::kAuditor));
  ASSERT_EQ(theirs.status, 200u) << theirs.body;
  EXPECT_NE(theirs.body.find("audit/aud-3"), std::string::npos) << theirs.body;
  ASSERT_EQ(store_->Head().position, head + 1);
  auto record = store_->ReadAt(head + 1);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->stream, "audit/aud-4");
}

// Views that fold a batch at most every 800 ms (serve --view-batch-ms), so
// that they are behind the log for a while after a write.
class LaggingViewsHttpApiTest : public HttpApiTest {
 protected:
  void AdjustViews(ProjectorOptions& o) override {
    o.batch_spacing = std::chrono::milliseconds(800);
  }
};

// A dashboard as of the position a write was just acknowledged at is that
// position's, though the views have not folded it yet: it waits for them
// (it was 400 "past the views' position", a client error for the server's lag).
TEST_F(LaggingViewsHttpApiTest, ADashboardAsOfAPositionTheViewsHaveNotFoldedYetWaitsForThem) {
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  ASSERT_EQ(Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody()).status, 201u);
  auto second = Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody());
  ASSERT_EQ(second.status, 201u) << second.body;
  const std::string position = At(second.body, "/position");
  const bool behind = projector_->position() < std::stoull(position);
  auto then =
      Send(http::verb::get, "/api/v1/dashboard/santai/tongchuan?as_of=" + position, officer);
  ASSERT_EQ(then.status, 200u) << then.body;
  EXPECT_EQ(At(then.body, "/position"), position);
  EXPECT_EQ(At(then.body, "/open/total"), "2");
  // (Whether the views were behind when asked depends on the scheduler; they
  // almost always are, 800 ms being far longer than a request.)
  if (!behind) GTEST_LOG_(INFO) << "the views had caught up before the read";
}

// A cell just defined is read as it stands, empty, not "no cell": its
// dashboard and case list wait for the views to fold its definition
// (black-box probe 107: 404 for up to the spacing after its 201).
TEST_F(LaggingViewsHttpApiTest, ACellJustDefinedIsReadNotAnsweredNoCell) {
  const std::string admin = Token("admin-1", Role::kAdmin);
  const std::string operator_ = Token("op-1", Role::kOperator);
  for (const char* cell : {"santai/xinde", "santai/xinde/g2"}) {
    const std::string body = std::string(R"({"cell":")") + cell + R"(","name":"New"})";
    auto defined = Send(http::verb::post, "/api/v1/grid/cells", admin, body);
    ASSERT_EQ(defined.status, 201u) << defined.body;
    auto dashboard = Send(http::verb::get, std::string("/api/v1/dashboard/") + cell, operator_);
    EXPECT_EQ(dashboard.status, 200u) << dashboard.body;
    EXPECT_EQ(At(dashboard.body, "/open/total"), "0");
    auto list = Send(http::verb::get, std::string("/api/v1/cases?cell=") + cell, operator_);
    EXPECT_EQ(list.status, 200u) << list.body;
  }
  EXPECT_EQ(Send(http::verb::get, "/api/v1/dashboard/santai/nowhere", operator_).status, 404u);
}

// An imported case of today's (a raw append opening its stream) moves a
// running server's intake past it, as a restart would (which reads the day's
// greatest id): ids follow the order cases were opened (black-box probe,
// session 23: the next intakes were 000004, 000005 after an import of 000050).
TEST_F(HttpApiTest, AnImportedCaseIdMovesTheIntakePastIt) {
  const std::string officer = Token("officer-7", Role::kOfficer);
  auto first = Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody());
  ASSERT_EQ(first.status, 201u) << first.body;
  const std::string first_id = At(first.body, "/case_id");  // "C-<day>-000001"
  const std::string day = first_id.substr(3, 8);
  const std::string imported = "C-" + day + "-000050";
  auto import =
      Send(http::verb::post, "/api/v1/streams/case%2F" + imported, Token("admin-1", Role::kAdmin),
           R"({"expected_version":"no_stream","events":[{"type":"CaseReported","data":)" +
               testing::ReportBody() + "}]}");
  ASSERT_EQ(import.status, 200u) << import.body;
  auto next = Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody());
  ASSERT_EQ(next.status, 201u) << next.body;
  EXPECT_EQ(At(next.body, "/case_id"), "\"C-" + day + "-000051\"");
}

// The same data has one form in the log whoever wrote it: an imported report
// with an empty `parties` is stored as the engine writes one, without it
// (review 112: the import kept `"parties":[]`, so the same report had two
// forms and two hashes).
TEST_F(HttpApiTest, AnImportedEventIsStoredAsTheEngineWritesIt) {
  const std::string officer = Token("officer-7", Role::kOfficer);
  std::string body = testing::ReportBody();
  body.replace(body.find(R"("parties":["Li Wei","Zhang San"])"), 32, R"("parties":[])");
  auto reported = Send(http::verb::post, "/api/v1/cases", officer, body);
  ASSERT_EQ(reported.status, 201u) << reported.body;
  const std::string day = At(reported.body, "/case_id").substr(3, 8);
  const std::string imported = "C-" + day + "-000050";
  auto import = Send(
      http::verb::post, "/api/v1/streams/case%2F" + imported, Token("admin-1", Role::kAdmin),
      R"({"expected_version":"no_stream","events":[{"type":"CaseReported","data":)" + body + "}]}");
  ASSERT_EQ(import.status, 200u) << import.body;
  auto stored = [&](const std::string& id) {
    auto events = store_->ReadStream(CaseStream(id), 1, 1, ReadDirection::kForward);
    EXPECT_TRUE(events.ok() && events->size() == 1u);
    return events.ok() && !events->empty() ? events->front().data : std::string();
  };
  const std::string engines = stored(At(reported.body, "/case_id").substr(1, 17));
  EXPECT_EQ(engines.find("parties"), std::string::npos) << engines;
  // The intake's data holds the due times it derived; the rest is the same.
  const std::string imports = stored(imported);
  EXPECT_EQ(imports.find("parties"), std::string::npos) << imports;
  EXPECT_NE(imports.find(R"("reporter":{"name":"Li Wei","phone":"13800000000"})"),
            std::string::npos)
      << imports;
}

class RateLimitedHttpApiTest : public HttpApiTest {
 protected:
  HttpApiOptions ApiOptions() override {
    HttpApiOptions o;
    o.requests_per_second = 0.5;  // fractional: the 429 says it as it is
    o.burst = 3;
    return o;
  }
};

TEST_F(RateLimitedHttpApiTest, TooManyRequestsFromOneTokenGet429AndOthersDoNot) {
  const std::string busy = Token("busy-1", Role::kOfficer);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts", busy).status, 200u);
  auto limited = Send(http::verb::get, "/api/v1/alerts", busy);
  EXPECT_EQ(limited.status, 429u);
  EXPECT_EQ(At(limited.body, "/error/code"), "\"rate_limited\"");
  EXPECT_NE(limited.body.find("more than 0.5 requests a second"), std::string::npos)
      << limited.body;
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts", Token("calm-1", Role::kOfficer)).status, 200u);
  clock_.Advance(2000);  // the bucket refills at one every two seconds
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts", busy).status, 200u);
}

// An answer counts as one request per bytes_per_request of its body: one
// officer asking for a case's long history at half its rate took the
// server's CPU from everyone (black-box probe 72).
class CostlyAnswersHttpApiTest : public HttpApiTest {
 protected:
  HttpApiOptions ApiOptions() override {
    HttpApiOptions o;
    o.requests_per_second = 1;
    o.burst = 10;
    o.bytes_per_request = 1024;
    return o;
  }
};

TEST_F(CostlyAnswersHttpApiTest, ALargeAnswerCostsAsManyRequestsAsItIsLarge) {
  const std::string id = NewCase();
  for (int i = 0; i < 30; ++i)
    Must(Act(id, "note", R"({"text":")" + std::string(500, 'n') + "\"}"));
  const std::string reader = Token("reader-1", Role::kOperator);
  auto history = Send(http::verb::get, "/api/v1/cases/" + id + "/history", reader);
  ASSERT_EQ(history.status, 200u) << history.body;
  ASSERT_GT(history.body.size(), 15u * 1024);  // 15 requests' worth and more: past the burst
  auto after = Send(http::verb::get, "/api/v1/alerts", reader);
  EXPECT_EQ(after.status, 429u) << after.body;
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts", Token("other-1", Role::kOperator)).status,
            200u);
  // Small answers cost one each, as ever.
  const std::string small = Token("small-1", Role::kOperator);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts", small).status, 200u);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts", small).status, 429u);
}

TEST_F(RateLimitedHttpApiTest, CommandsThatMustReadAreRoutedAgainOffTheIoThreadsAndAdmittedOnce) {
  // A case the server's case cache has never seen (written by another
  // service on the same log), and an intake while the server does not know
  // the day's last case id: both must read, so each is routed again on a
  // worker — and still counts as one request against the token's rate.
  CaseServiceOptions options;
  options.clock = &clock_;
  auto other = CaseService::Open(store_.get(), options);
  ASSERT_TRUE(other.ok());
  auto written = (*other)->Report("officer-7", testing::ReportBody(), "");
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  const std::string busy = Token("busy-1", Role::kOfficer);
  auto noted = Send(http::verb::post, "/api/v1/cases/" + written->case_id + "/note", busy,
                    R"({"text":"a"})");
  EXPECT_EQ(noted.status, 200u) << noted.body;
  EXPECT_EQ(At(noted.body, "/version"), "2");
  auto reported = Send(http::verb::post, "/api/v1/cases", busy, testing::ReportBody());
  EXPECT_EQ(reported.status, 201u) << reported.body;
  EXPECT_EQ(At(reported.body, "/case_id"), "\"C-20261122-000002\"");
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts", busy).status, 200u);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/alerts", busy).status, 429u);
}

TEST(RateLimiterTest, RefillsAtItsRateUpToTheBurst) {
  RateLimiter limiter(2, 2);
  EXPECT_TRUE(limiter.Admit("a", 0).ok());
  EXPECT_TRUE(limiter.Admit("a", 0).ok());
  EXPECT_EQ(limiter.Admit("a", 0).code(), StatusCode::kRateLimited);
  EXPECT_TRUE(limiter.Admit("a", 500).ok());  // one token back after half a second
  EXPECT_EQ(limiter.Admit("a", 500).code(), StatusCode::kRateLimited);
  EXPECT_TRUE(limiter.Admit("a", 60000).ok());
  EXPECT_TRUE(limiter.Admit("a", 60000).ok());
  EXPECT_EQ(limiter.Admit("a", 60000).code(), StatusCode::kRateLimited);  // never past the burst
}

// A request that cost more (a large answer) is charged as many: the bucket
// goes into debt, at most a minute of the rate, and refills from there.
TEST(RateLimiterTest, AChargeIsADebtPaidBackAtTheRate) {
  RateLimiter limiter(10, 10);
  EXPECT_TRUE(limiter.Admit("a", 0).ok());
  limiter.Charge("a", 30, 0);  // 9 - 30: 21 in debt
  EXPECT_EQ(limiter.Admit("a", 0).code(), StatusCode::kRateLimited);
  EXPECT_EQ(limiter.Admit("a", 2000).code(), StatusCode::kRateLimited);  // -1
  EXPECT_TRUE(limiter.Admit("a", 2200).ok());                            // +1
  EXPECT_TRUE(limiter.Admit("b", 2200).ok());                            // others untouched
  limiter.Charge("a", 1e9, 2200);  // at most a minute's debt: -600
  EXPECT_EQ(limiter.Admit("a", 2200 + 60000).code(), StatusCode::kRateLimited);
  EXPECT_TRUE(limiter.Admit("a", 2200 + 60100).ok());
}

// A wall clock stepped back (NTP, a restored VM) neither refills a bucket
// nor digs it into debt: it refills from the new time on (review 101: an
// hour's step back at 200 a second shut a subject out for three hours).
TEST(RateLimiterTest, AClockSteppedBackNeitherRefillsNorDigsIntoDebt) {
  RateLimiter limiter(200, 400);
  const std::int64_t t = 10 * 3600 * 1000;
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(limiter.Admit("a", t).ok()) << i;
  EXPECT_EQ(limiter.Admit("a", t).code(), StatusCode::kRateLimited);
  const std::int64_t back = t - 3600 * 1000;
  EXPECT_EQ(limiter.Admit("a", back).code(), StatusCode::kRateLimited);  // nothing earned
  EXPECT_EQ(limiter.Admit("a", back).code(), StatusCode::kRateLimited);
  EXPECT_TRUE(limiter.Admit("a", back + 5).ok());  // a token in 5 ms, from the new time
  EXPECT_EQ(limiter.Admit("a", back + 5).code(), StatusCode::kRateLimited);
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(limiter.Admit("a", back + 2005).ok()) << i;
  // A subject first seen after the step starts with its burst, as any.
  EXPECT_TRUE(limiter.Admit("b", back).ok());
}

// Requests read the clock before they take the limiter's lock, so their
// times may come a millisecond out of order: one behind earns nothing and
// does not move the bucket's time back, to earn that millisecond twice
// (review 102).
TEST(RateLimiterTest, ATimeJustBehindTheBucketsEarnsNothingTwice) {
  RateLimiter limiter(1000, 1);  // a token a millisecond, one at most
  EXPECT_TRUE(limiter.Admit("a", 1000).ok());
  EXPECT_TRUE(limiter.Admit("a", 1001).ok());
  EXPECT_EQ(limiter.Admit("a", 1000).code(), StatusCode::kRateLimited);
  EXPECT_EQ(limiter.Admit("a", 1001).code(), StatusCode::kRateLimited);
  EXPECT_TRUE(limiter.Admit("a", 1002).ok());
}

TEST(RateLimiterTest, ForgetsRefilledSubjectsToStayBounded) {
  RateLimiter limiter(1000, 1, /*max_subjects=*/2);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(limiter.Admit("s" + std::to_string(i), i * 10).ok()) << i;
  }
}

TEST_F(HttpApiTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  beast::flat_buffer buffer;
  for (int i = 0; i < 3; ++i) {
    http::request<http::string_body> req{http::verb::get, "/healthz", 11};
    req.set(http::field::host, "localhost");
    http::write(socket, req);
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    EXPECT_EQ(res.result_int(), 200u);
  }
}

TEST_F(HttpApiTest, StopClosesIdleKeepAliveConnectionsAndReturns) {
  asio::io_context io;
  tcp::socket idle(io);
  idle.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  {  // one request, so that the connection is a live keep-alive session
    http::request<http::string_body> req{http::verb::get, "/healthz", 11};
    req.set(http::field::host, "localhost");
    http::write(idle, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(idle, buffer, res);
    ASSERT_EQ(res.result_int(), 200u);
  }
  server_->Stop();  // must not wait out the 30 s idle timeout (ctest's timeout would catch it)
  char byte;
  beast::error_code ec;
  idle.read_some(asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
}

TEST_F(HttpApiTest, StopAnswersEveryWriteItAppended) {
  // Eight keep-alive writers post notes while the server stops: every note
  // in the log was answered 2xx (what was in flight finished), and every
  // connection ends closed, not hung.
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  auto created = Send(http::verb::post, "/api/v1/cases", officer, testing::ReportBody());
  ASSERT_EQ(created.status, 201u);
  std::string id = testing::At(created.body, "/case_id");
  id = id.substr(1, id.size() - 2);
  std::atomic<int> answered{0}, started{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&] {
      asio::io_context io;
      tcp::socket socket(io);
      socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
      beast::flat_buffer buffer;
      for (;;) {
        http::request<http::string_body> req{http::verb::post, "/api/v1/cases/" + id + "/note", 11};
        req.set(http::field::host, "localhost");
        req.set(http::field::authorization, "Bearer " + officer);
        req.body() = R"({"text":"in flight"})";
        req.prepare_payload();
        beast::error_code ec;
        http::write(socket, req, ec);
        http::response<http::string_body> res;
        if (!ec) http::read(socket, buffer, res, ec);
        if (ec) return;  // closed by the stopping server
        if (res.result_int() == 200) ++answered;
        ++started;
      }
    });
  }
  while (started.load() < 40) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->Stop();
  for (auto& t : writers) t.join();
  EXPECT_EQ(FoldCase(*store_, id)->notes, answered.load());
}

// A server whose store's fsyncs can be held, and whose requests' deadline
// is a second.
class StalledStoreHttpApiTest : public HttpApiTest {
 protected:
  StoreOptions Options() override {
    StoreOptions o = HttpApiTest::Options();
    o.env = env_.get();
    return o;
  }
  void AdjustServer(HttpServerOptions& o) override { o.request_timeout = std::chrono::seconds(1); }
  std::shared_ptr<testing::FaultFs> fs_ = std::make_shared<testing::FaultFs>();
  std::unique_ptr<rocksdb::Env> env_ = testing::MakeEnv(fs_);
};

// A write still in a stalled group commit when the server stops is waited
// for past every deadline and answered once its fsync is done (review 101:
// Stop returned after its deadlines, the server was destroyed, and the
// commit then posted the answer into the freed io_context; the client saw
// its connection closed, its intake in the log).
TEST_F(StalledStoreHttpApiTest, StopWaitsForAWriteInAStalledCommitAndAnswersIt) {
  const std::string token = Token("operator-1", Role::kOperator);
  const Position head = store_->Head().position;
  const int synced = fs_->wal_syncs.load();
  fs_->hold_wal_syncs_after = synced;
  Reply reply;
  std::thread client(
      [&] { reply = Send(http::verb::post, "/api/v1/cases", token, testing::ReportBody()); });
  while (fs_->wal_syncs.load() == synced) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::atomic<bool> stopped{false};
  std::thread stop([&] {
    server_->Stop();
    stopped = true;
  });
  // Past the request deadline (1 s) and the 2 s after it, Stop is still
  // waiting on the store.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_FALSE(stopped.load());
  fs_->hold_wal_syncs_after = -1;
  stop.join();
  client.join();
  EXPECT_EQ(reply.status, 201u) << reply.body;
  EXPECT_EQ(store_->Head().position, head + 1) << "the intake is in the log";
}

// One subject's reads as of a past moment are bounded while under way (here
// 1): the next is 429, another subject's goes (review 104: 64 of one
// officer's at once, each tens of milliseconds of CPU for a few KB, made
// every other reader's p50 50 times longer). The one under way waits here
// for a write stalled in its fsync, which its time must settle.
class OneAsOfReadHttpApiTest : public StalledStoreHttpApiTest {
 protected:
  HttpApiOptions ApiOptions() override {
    HttpApiOptions o;
    o.max_as_of_reads_per_token = 1;
    return o;
  }
};

TEST_F(OneAsOfReadHttpApiTest, ASubjectsReadsAsOfAPastMomentAreBoundedWhileUnderWay) {
  // Operators: an auditor's reads are recorded in the log, which is stalled.
  const std::string reader = Token("operator-1", Role::kOperator, {""});
  const std::string other = Token("operator-2", Role::kOperator, {""});
  const std::string by_position = "/api/v1/dashboard/santai?as_of=1";
  ASSERT_EQ(Send(http::verb::get, by_position, reader).status, 200u);  // one at a time goes
  const int synced = fs_->wal_syncs.load();
  fs_->hold_wal_syncs_after = synced;
  Reply written, settled;
  std::thread writer([&] {
    written = Send(http::verb::post, "/api/v1/cases", Token("operator-3", Role::kOperator),
                   testing::ReportBody());
  });
  while (fs_->wal_syncs.load() == synced) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const std::string by_time =
      "/api/v1/dashboard/santai?as_of=" + FormatTimestamp(clock_.NowMillis());
  std::thread settling([&] { settled = Send(http::verb::get, by_time, reader); });
  Reply refused;
  for (int i = 0; i < 200 && refused.status != 429u; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    refused = Send(http::verb::get, by_position, reader);
  }
  EXPECT_EQ(refused.status, 429u) << refused.body;
  EXPECT_NE(refused.body.find("--max-as-of-reads-per-token"), std::string::npos) << refused.body;
  EXPECT_EQ(Send(http::verb::get, by_position, other).status, 200u);
  fs_->hold_wal_syncs_after = -1;
  writer.join();
  settling.join();
  EXPECT_EQ(written.status, 201u) << written.body;
  EXPECT_EQ(settled.status, 200u) << settled.body;
  EXPECT_EQ(Send(http::verb::get, by_position, reader).status, 200u);  // its place is free again
}

// A read as of a past moment costs its subject a request per 64 events it
// read or folded, beyond its bytes (review 104): a case of 400 notes, read
// as of its end, is charged 6 requests more; a burst of 10 is spent in two.
class ChargedAsOfHttpApiTest : public HttpApiTest {
 protected:
  HttpApiOptions ApiOptions() override {
    HttpApiOptions o;
    o.requests_per_second = 0.001;
    o.burst = 10;
    o.as_of_events_per_request = 64;
    return o;
  }
};

TEST_F(ChargedAsOfHttpApiTest, AReadAsOfAPastMomentIsChargedByTheEventsItTook) {
  const std::string id = NewCase();
  for (int i = 0; i < 400; ++i) Must(Act(id, "note", R"({"text":"n"})"));
  const std::string officer = Token("officer-7", Role::kOfficer, {"santai/tongchuan"});
  const std::string view = "/api/v1/cases/" + id;
  const std::string as_of = view + "?as_of=" + std::to_string(store_->Head().position);
  EXPECT_EQ(Send(http::verb::get, as_of, officer).status, 200u);  // 1 + 6: 3 of 10 left
  EXPECT_EQ(Send(http::verb::get, as_of, officer).status, 200u);  // admitted, then in debt
  auto refused = Send(http::verb::get, view, officer);
  EXPECT_EQ(refused.status, 429u) << refused.body;
  // As it is now, a case costs one request: another subject reads it 10 times.
  const std::string other = Token("officer-8", Role::kOfficer, {"santai/tongchuan"});
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Send(http::verb::get, view, other).status, 200u);
}

// A read as of a past moment that does its work and is then refused is
// charged that work all the same (review 105: a history `as_of` answered 413
// after folding and reading 10,101 events cost nothing).
TEST_F(ChargedAsOfHttpApiTest, AReadAsOfAPastMomentRefusedAfterItsWorkIsChargedToo) {
  const std::string op = Token("operator-1", Role::kOperator);
  const std::string id = CaseOfNotes(kMaxCaseHistory + 1);
  ASSERT_FALSE(HasFatalFailure());
  const std::string history = "/api/v1/cases/" + id + "/history?as_of=";
  const std::string auditor = Token("auditor-1", Role::kAuditor, {""});
  auto refused = Send(http::verb::get, history + std::to_string(store_->Head().position), auditor);
  ASSERT_EQ(refused.status, 413u) << refused.body;
  EXPECT_EQ(Send(http::verb::get, "/api/v1/cases/" + id, auditor).status, 429u);
  // Another subject's reads go on.
  EXPECT_EQ(Send(http::verb::get, "/api/v1/cases/" + id, op).status, 200u);
}

TEST_F(HttpApiTest, MalformedHttpGetsABadRequestAndTheServerGoesOn) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  const double errors_before = metrics_.errors.Value();
  const std::string garbage = "NOT HTTP AT ALL\r\n\r\n";
  asio::write(socket, asio::buffer(garbage));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(socket, buffer, res, ec);
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_EQ(metrics_.errors.Value(), errors_before + 1);  // counted, though never routed
  EXPECT_EQ(Send(http::verb::get, "/healthz", "").status, 200u);
}

TEST_F(HttpApiTest, ATargetThatIsNotUtf8IsABadRequestAndEveryErrorBodyIsUtf8) {
  const std::string auditor = Token("auditor-1", Role::kAuditor, {""});
  for (const std::string target : {"/api/v1/cases/%ff", "/api/v1/cases/\xff",
                                   "/api/v1/dashboard/santai%c0%af", "/api/v1/cases?cell=%fe"}) {
    auto res = Send(http::verb::get, target, auditor);
    EXPECT_EQ(res.status, 400u) << target << ": " << res.body;
    EXPECT_NE(res.body.find("not valid UTF-8"), std::string::npos) << res.body;
    EXPECT_TRUE(simdjson::validate_utf8(res.body.data(), res.body.size())) << res.body;
  }
  // Whatever a message quotes, the error body is UTF-8: bytes that are not
  // become U+FFFD.
  const std::string error = ErrorJson(Status::NotFound("no case \xff\xfe end"));
  EXPECT_TRUE(simdjson::validate_utf8(error.data(), error.size())) << error;
  EXPECT_NE(error.find("no case \xef\xbf\xbd"), std::string::npos) << error;
  EXPECT_NE(error.find(" end"), std::string::npos) << error;
}

// A failure of the server's own is told without the server's file paths
// (black-box probe 78: a full disk's 503 showed the data folder); a client's
// error keeps what it quotes.
TEST(ErrorJsonTest, AServersFailureIsToldWithoutItsPaths) {
  const std::string full = ErrorJson(Status::Unavailable(
      "storage cannot write (IO error: No space left on device: While appending to file: "
      "/srv/casegrid/data/log/000004.log: No space left on device); appends are refused"));
  EXPECT_EQ(full.find("/srv"), std::string::npos) << full;
  EXPECT_NE(full.find("While appending to file: 000004.log: No space left"), std::string::npos)
      << full;
  const std::string internal = ErrorJson(Status::Internal("cannot open '/var/lib/x/views/LOCK'"));
  EXPECT_NE(internal.find("cannot open 'LOCK'"), std::string::npos) << internal;
  const std::string client = ErrorJson(Status::NotFound("no route /api/v1/nowhere"));
  EXPECT_NE(client.find("/api/v1/nowhere"), std::string::npos) << client;
  // A data folder given relative (serve's default is var/data) is dropped
  // too, once serve names it; and paths in brackets, after a colon, or
  // ending with a slash (review 81).
  HideInServerErrors("var/test-data-folder/");
  const std::string relative = ErrorJson(Status::Unavailable(
      "IO error: While appending to file: var/test-data-folder/log/000004.log: full"));
  EXPECT_EQ(relative.find("test-data-folder"), std::string::npos) << relative;
  EXPECT_NE(relative.find("file: log/000004.log: full"), std::string::npos) << relative;
  const std::string absolute = ErrorJson(Status::Unavailable(
      "at " + std::filesystem::absolute("var/test-data-folder").string() + "/views/LOCK"));
  EXPECT_NE(absolute.find("at views/LOCK"), std::string::npos) << absolute;
  const std::string odd =
      ErrorJson(Status::Internal("[/srv/a/b.sst] file:/srv/a/c.log cannot open /srv/a/dir/"));
  EXPECT_EQ(odd.find("/srv"), std::string::npos) << odd;
  EXPECT_NE(odd.find("[b.sst] file:c.log cannot open dir"), std::string::npos) << odd;
}

}  // namespace
}  // namespace casegrid
