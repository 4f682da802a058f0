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
      {http::verb::get, "/api/v1/cases/" + id, "", kAllRoles, 200},
      {http::verb::get,
       "/api/v1/cases/" + id + "/history",
       "",
       {Role::kOperator, Role::kSupervisor, Role::kAuditor},
       200},
      {http::verb::get, "/api/v1/cases?cell=santai", "", kAllRoles, 200},
      {http::verb::get, "/api/v1/dashboard/santai/tongchuan", "", kAllRoles, 200},
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
  }
}

}  // namespace
}  // namespace casegrid
