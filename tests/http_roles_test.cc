// The role × route matrix of API.md: every role against every route, in
// scope and out of it. Each row says which roles get the 2xx.
#include <gtest/gtest.h>

#include "tests/http_api_fixture.h"

namespace casegrid {
namespace {

const std::vector<Role> kAllRoles = {Role::kOperator,   Role::kOfficer,   Role::kMediator,
                                     Role::kGridWorker, Role::kVolunteer, Role::kSupervisor,
                                     Role::kAuditor,    Role::kAdmin};
const std::vector<Role> kHandlers = {Role::kOperator,   Role::kOfficer,   Role::kMediator,
                                     Role::kGridWorker, Role::kVolunteer, Role::kSupervisor};
// Readers of cases and dashboards: all but the admin, whose part is the grid.
const std::vector<Role> kReaders = {Role::kOperator,   Role::kOfficer,   Role::kMediator,
                                    Role::kGridWorker, Role::kVolunteer, Role::kSupervisor,
                                    Role::kAuditor};

class HttpRolesTest : public testing::HttpApiFixture {};
namespace http = boost::beast::http;

TEST_F(HttpRolesTest, EachRouteAnswersTheRolesAPIMdGivesIt) {
  const std::string id = NewCase();
  struct Row {
    http::verb method;
    std::string target;
    std::string body;
    std::vector<Role> allowed;
    unsigned ok_status;
  };
  int cell = 0;
  const std::vector<Row> rows = {
      {http::verb::post, "/api/v1/cases", testing::ReportBody(), kHandlers, 201},
      {http::verb::post, "/api/v1/cases/" + id + "/note", R"({"text":"n"})", kHandlers, 200},
      {http::verb::get, "/api/v1/cases/" + id, "", kReaders, 200},
      {http::verb::get, "/api/v1/cases/" + id + "/history", "", kReaders, 200},
      {http::verb::get, "/api/v1/cases?cell=santai", "", kReaders, 200},
      {http::verb::get, "/api/v1/dashboard/santai/tongchuan", "", kReaders, 200},
      {http::verb::get, "/api/v1/alerts", "", kAllRoles, 200},
      {http::verb::get, "/api/v1/events?after=0&limit=5", "", {Role::kAuditor}, 200},
      {http::verb::get, "/api/v1/audit/digest", "", kAllRoles, 200},
      {http::verb::post, "/api/v1/grid/cells", "", {Role::kAdmin}, 201},
      {http::verb::post, "/api/v1/streams/import/x", "", {Role::kAdmin}, 200},
  };
  for (const Row& row : rows) {
    for (Role role : kAllRoles) {
      const bool allowed =
          std::find(row.allowed.begin(), row.allowed.end(), role) != row.allowed.end();
      std::string body = row.body;
      if (row.target == "/api/v1/grid/cells") {
        body = R"({"cell":"santai/c)" + std::to_string(++cell) + R"(","name":"n"})";
      }
      if (row.target.rfind("/api/v1/streams/", 0) == 0) {
        body = R"({"events":[{"type":"Imported","data":{"n":)" + std::to_string(++cell) + "}}]}";
      }
      auto reply = Send(row.method, row.target, Token(std::string(Name(role)) + "-1", role), body);
      EXPECT_EQ(reply.status, allowed ? row.ok_status : 403u)
          << http::to_string(row.method) << " " << row.target << " as " << Name(role) << ": "
          << reply.body;
    }
  }
}

TEST_F(HttpRolesTest, ScopeBoundsWhatEachHandlerMayReadAndDo) {
  const std::string id = NewCase();  // in santai/tongchuan/a03/g12
  for (Role role : kHandlers) {
    const std::string outside = Token("o-1", role, {"santai/xinhua"});
    const std::string inside = Token("i-1", role, {"santai/tongchuan/a03"});
    for (const auto& [method, target, body] :
         std::vector<std::tuple<http::verb, std::string, std::string>>{
             {http::verb::get, "/api/v1/cases/" + id, ""},
             {http::verb::post, "/api/v1/cases/" + id + "/note", R"({"text":"n"})"},
             {http::verb::post, "/api/v1/cases", testing::ReportBody()},
             {http::verb::get, "/api/v1/dashboard/santai/tongchuan/a03", ""},
             {http::verb::get, "/api/v1/cases?cell=santai/tongchuan/a03", ""}}) {
      EXPECT_EQ(Send(method, target, outside, body).status, 403u) << Name(role) << " " << target;
      EXPECT_LT(Send(method, target, inside, body).status, 300u) << Name(role) << " " << target;
    }
    // A dashboard above the token's cells is outside it too.
    EXPECT_EQ(Send(http::verb::get, "/api/v1/dashboard/santai", inside).status, 403u);
    // A list that names no cell is of the token's cells.
    auto mine = Send(http::verb::get, "/api/v1/cases", inside);
    EXPECT_EQ(mine.status, 200u) << mine.body;
    EXPECT_NE(mine.body.find(id), std::string::npos) << mine.body;
    auto none = Send(http::verb::get, "/api/v1/cases", outside);
    EXPECT_EQ(none.status, 200u) << none.body;
    EXPECT_EQ(none.body.find(id), std::string::npos) << none.body;
  }
  // An auditor's cells bound the cases it reads, and so the raw log, which
  // holds every case, is for auditors of the whole jurisdiction.
  const std::string scoped = Token("aud-1", Role::kAuditor, {"santai/xinhua"});
  EXPECT_EQ(Send(http::verb::get, "/api/v1/cases/" + id, scoped).status, 403u);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/events?after=0", scoped).status, 403u);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/events?after=0", Token("aud-2", Role::kAuditor)).status,
            200u);
}

TEST_F(HttpRolesTest, AHistoryIsWholeForThoseWhoHandleTheCaseAndAuditorsAndWithoutDataForOthers) {
  const std::string id = NewCase();
  auto data_of = [&](const std::string& token) {
    auto reply = Send(http::verb::get, "/api/v1/cases/" + id + "/history", token);
    EXPECT_EQ(reply.status, 200u) << reply.body;
    return std::make_pair(reply.body.find("\"data\"") != std::string::npos,
                          reply.body.find("\"hash\"") != std::string::npos);
  };
  EXPECT_EQ(data_of(Token("op-1", Role::kOperator)), std::make_pair(true, true));
  EXPECT_EQ(data_of(Token("aud-1", Role::kAuditor)), std::make_pair(true, true));
  EXPECT_EQ(data_of(Token("vol-1", Role::kVolunteer, {"santai/tongchuan"})),
            std::make_pair(false, true));
}

}  // namespace
}  // namespace casegrid
