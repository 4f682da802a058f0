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
      {http::verb::get, "/api/v1/alerts", "", kReaders, 200},
      {http::verb::post, "/api/v1/alerts/1-new_case/ack", "", kHandlers, 404},
      {http::verb::get, "/api/v1/events?after=0&limit=5", "", {Role::kAuditor}, 200},
      {http::verb::get,
       "/api/v1/audit/digest",
       "",
       {Role::kOperator, Role::kSupervisor, Role::kAuditor, Role::kAdmin},
       200},
      {http::verb::post, "/api/v1/grid/cells", "", {Role::kAdmin}, 201},
      {http::verb::get, "/api/v1/grid/cells/santai/tongchuan", "", kAllRoles, 200},
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
  // A token of no cells has nothing in scope: its list is empty (it was the
  // whole jurisdiction's, the query's "no cells" read as the root).
  for (Role role : {Role::kOperator, Role::kVolunteer, Role::kAuditor}) {
    auto nothing = Send(http::verb::get, "/api/v1/cases", Token("n-1", role, {}));
    EXPECT_EQ(nothing.status, 200u) << nothing.body;
    EXPECT_EQ(nothing.body, R"({"cases":[],"next":null})") << Name(role);
    EXPECT_EQ(Send(http::verb::get, "/api/v1/cases/" + id, Token("n-1", role, {})).status, 403u);
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
  // A field role gets no hash, not even of a case it handles: a hash beside a
  // masked view, or on either side of one, let a search unmask it (security
  // probe: a reporter's name and phone in seconds).
  EXPECT_EQ(data_of(Token("vol-1", Role::kVolunteer, {"santai/tongchuan"})),
            std::make_pair(false, false));
  const std::string op = Token("op-1", Role::kOperator);
  ASSERT_LT(
      Send(http::verb::post, "/api/v1/cases/" + id + "/assign", op, R"({"assignee":"officer-7"})")
          .status,
      300u);
  EXPECT_EQ(data_of(Token("officer-7", Role::kOfficer)), std::make_pair(true, false));
  // An auditor whose sub is the assignee's does not handle the case: its view
  // is masked as any auditor's.
  auto view = Send(http::verb::get, "/api/v1/cases/" + id, Token("officer-7", Role::kAuditor));
  ASSERT_EQ(view.status, 200u) << view.body;
  EXPECT_EQ(testing::At(view.body, "/reporter/phone"), "\"138****0000\"");
  auto handled = Send(http::verb::get, "/api/v1/cases/" + id, Token("officer-7", Role::kOfficer));
  EXPECT_EQ(testing::At(handled.body, "/reporter/phone"), "\"13800000000\"");
}

// A supervisor handles the cases of its cells: it reads a case and its
// history whole, the reporter's phone and each event's data (mutation
// testing, review 116).
TEST_F(HttpRolesTest, ASupervisorReadsACaseAndItsHistoryUnmasked) {
  const std::string id = NewCase();
  const std::string sup = Token("sup-1", Role::kSupervisor, {"santai"});
  auto view = Send(http::verb::get, "/api/v1/cases/" + id, sup);
  ASSERT_EQ(view.status, 200u) << view.body;
  EXPECT_EQ(testing::At(view.body, "/reporter/phone"), "\"13800000000\"");
  auto history = Send(http::verb::get, "/api/v1/cases/" + id + "/history", sup);
  ASSERT_EQ(history.status, 200u) << history.body;
  EXPECT_NE(history.body.find("\"data\""), std::string::npos) << history.body;
  EXPECT_NE(history.body.find("13800000000"), std::string::npos) << history.body;
}

// A raw append for imports: one case per case stream, reported once, in the
// admin's cells; the streams the server writes itself are not open to it.
class RawAppendTest : public testing::HttpApiFixture {
 protected:
  static std::string Events(const std::string& events) { return R"({"events":[)" + events + "]}"; }
  static std::string Report(const std::string& cell) {
    return R"({"type":"CaseReported","data":)" + testing::ReportBody(cell) + "}";
  }
  static std::string Note() { return R"({"type":"NoteAdded","data":{"text":"imported"}})"; }
  Reply Raw(const std::string& stream, const std::string& body, const std::string& token) {
    return Send(http::verb::post, "/api/v1/streams/" + stream, token, body);
  }
};

TEST_F(RawAppendTest, ACaseStreamOpensWithItsReportAndOnlyWithIt) {
  const std::string admin = Token("admin-1", Role::kAdmin);
  const std::string id = NewCase();  // in g12
  const Position head = store_->Head().position;
  // A second report would move the case to another cell.
  auto again = Raw("case/" + id, Events(Report("santai/tongchuan/a03/g13")), admin);
  EXPECT_EQ(again.status, 409u) << again.body;
  EXPECT_NE(again.body.find("is reported already"), std::string::npos) << again.body;
  // Events of a case never reported fold into nothing.
  auto orphan = Raw("case/C-20240101-000001", Events(Note()), admin);
  EXPECT_EQ(orphan.status, 409u) << orphan.body;
  EXPECT_NE(orphan.body.find("was never reported"), std::string::npos) << orphan.body;
  auto opening = Raw("case/C-20240101-000001",
                     R"({"expected_version":"no_stream","events":[)" + Note() + "]}", admin);
  EXPECT_EQ(opening.status, 400u) << opening.body;
  EXPECT_EQ(testing::At(opening.body, "/error/code"), "\"bad_request\"");
  // A case id of another form: the next intake's id is read from the day's last.
  auto odd = Raw("case/C-20240101-abcdef", Events(Report("santai/tongchuan/a03/g13")), admin);
  EXPECT_EQ(odd.status, 400u) << odd.body;
  EXPECT_NE(odd.body.find("is not a case id"), std::string::npos) << odd.body;
  auto no_day = Raw("case/C-20241301-000001", Events(Report("santai/tongchuan/a03/g13")), admin);
  EXPECT_EQ(no_day.status, 400u) << no_day.body;
  EXPECT_NE(no_day.body.find("is not a case id"), std::string::npos) << no_day.body;
  // The numbers above 899999 are the intake's: an import could use up a day.
  auto reserved = Raw("case/C-20240101-999999", Events(Report("santai/tongchuan/a03/g13")), admin);
  EXPECT_EQ(reserved.status, 400u) << reserved.body;
  EXPECT_NE(reserved.body.find("the intake keeps"), std::string::npos) << reserved.body;
  // A report anywhere but first.
  auto twice = Raw("case/C-20240101-000001",
                   Events(Report("santai/tongchuan/a03/g13") + "," + Report("santai")), admin);
  EXPECT_EQ(twice.status, 400u) << twice.body;
  EXPECT_NE(twice.body.find("events[1]"), std::string::npos) << twice.body;
  // A report opens a stream that does not exist: no other expected version
  // can hold, and its cell is a defined one, as at intake.
  for (const std::string expected : {"5", "\"exists\""}) {
    auto stale = Raw("case/C-20240101-000009",
                     R"({"expected_version":)" + expected + R"(,"events":[)" +
                         Report("santai/tongchuan/a03/g13") + "]}",
                     admin);
    EXPECT_EQ(stale.status, 409u) << expected << ": " << stale.body;
  }
  auto nowhere = Raw("case/C-20240101-000009", Events(Report("santai/nowhere")), admin);
  EXPECT_EQ(nowhere.status, 400u) << nowhere.body;
  EXPECT_NE(nowhere.body.find("not a defined cell"), std::string::npos) << nowhere.body;
  // A type of no case: the case folds would pass over it.
  auto foreign = Raw("case/" + id, Events(R"({"type":"Imported","data":{}})"), admin);
  EXPECT_EQ(foreign.status, 400u) << foreign.body;
  EXPECT_NE(foreign.body.find("events[0].type"), std::string::npos) << foreign.body;
  // The engine's events of other streams: a grid's, an alert's acknowledgment.
  const std::string ack = R"({"type":"AlertAcknowledged","data":{"alert":"1-new_case","by":"x"}})";
  const std::string cell =
      R"({"type":"GridCellDefined","data":{"cell":"santai/x","name":"x","level":2}})";
  for (const std::string& other : {ack, cell}) {
    auto elsewhere = Raw("case/" + id, Events(other), admin);
    EXPECT_EQ(elsewhere.status, 400u) << elsewhere.body;
    EXPECT_NE(elsewhere.body.find("is not an event of a case"), std::string::npos)
        << elsewhere.body;
  }
  // The server's own streams.
  EXPECT_EQ(Raw("alerts/officer-7", Events(ack), admin).status, 400u);
  const std::string read = R"({"type":"AuditRead","data":{"by":"auditor-1","target":"/x"}})";
  EXPECT_EQ(Raw("audit/auditor-1", Events(read), admin).status, 400u);
  // Nor their look-alikes, which a reader of the log would take for them
  // (security probe: AUDIT/x and ./audit/x were written).
  for (const char* alike : {"AUDIT/auditor-1", "Audit/x", "./audit/x", "import/../audit",
                            "CASE/C-20240101-000009", "Grid/santai"}) {
    auto refused = Raw(std::string(alike), Events(Note()), admin);
    EXPECT_EQ(refused.status, 400u) << alike << ": " << refused.body;
  }
  EXPECT_EQ(store_->Head().position, head) << "a refused append wrote something";
  EXPECT_EQ(Raw("import/audit.x", Events(Note()), admin).status, 200u);
  // An import that opens with the report is a case like any other.
  auto imported = Raw("case/C-20240101-000001",
                      Events(Report("santai/tongchuan/a03/g13") + "," + Note()), admin);
  ASSERT_EQ(imported.status, 200u) << imported.body;
  auto view =
      Send(http::verb::get, "/api/v1/cases/C-20240101-000001", Token("op-1", Role::kOperator));
  ASSERT_EQ(view.status, 200u) << view.body;
  EXPECT_EQ(testing::At(view.body, "/cell"), "\"santai/tongchuan/a03/g13\"");
  EXPECT_EQ(testing::At(view.body, "/version"), "2");
  EXPECT_EQ(Raw("case/C-20240101-000001", Events(Note()), admin).status, 200u);
}

TEST_F(RawAppendTest, AnAdminAppendsInItsCellsOnly) {
  const std::string g13 = Token("admin-2", Role::kAdmin, {"santai/tongchuan/a03/g13"});
  const std::string in_g12 = NewCase();
  const Position head = store_->Head().position;
  EXPECT_EQ(Raw("case/" + in_g12, Events(Note()), g13).status, 403u);
  EXPECT_EQ(Raw("case/C-20240101-000002", Events(Report("santai/tongchuan/a03/g12")), g13).status,
            403u);
  // A stream of no cell needs the whole grid.
  auto nowhere = Raw("import/x", Events(R"({"type":"Imported","data":{}})"), g13);
  EXPECT_EQ(nowhere.status, 403u) << nowhere.body;
  EXPECT_NE(nowhere.body.find("lies in no cell"), std::string::npos) << nowhere.body;
  EXPECT_EQ(store_->Head().position, head) << "a refused append wrote something";
  EXPECT_EQ(Raw("case/C-20240101-000002", Events(Report("santai/tongchuan/a03/g13")), g13).status,
            200u);
  EXPECT_EQ(Raw("case/C-20240101-000002", Events(Note()), g13).status, 200u);
  EXPECT_EQ(
      Raw("import/x", Events(R"({"type":"Imported","data":{}})"), Token("admin-1", Role::kAdmin))
          .status,
      200u);
}

// An engine type's data is checked whatever its text says: a bad value that
// quotes "unknown event type" used to pass, and stopped the views for good.
TEST_F(RawAppendTest, AnEngineTypeWithBadDataIsRefusedWhateverItsTextSays) {
  const std::string admin = Token("admin-1", Role::kAdmin);
  const Position head = store_->Head().position;
  auto bad = Raw("import/y",
                 Events(R"({"type":"DeadlineMissed","data":{"deadline":"unknown event type",)"
                        R"("due_at":"2026-01-01T00:00:00.000Z"}})"),
                 admin);
  EXPECT_EQ(bad.status, 400u) << bad.body;
  EXPECT_NE(bad.body.find("events[0].data"), std::string::npos) << bad.body;
  EXPECT_EQ(store_->Head().position, head);
  // Such an event already in a log (an older build took it) is nothing to
  // the views outside the streams they fold: they go on.
  AppendRequest old{"import/y", ExpectedVersion::Any(), "import", {}};
  old.events.push_back({"", "DeadlineMissed", R"({"deadline":"unknown event type"})"});
  ASSERT_TRUE(store_->Append(old).ok());
  const std::string id = NewCase();
  ASSERT_TRUE(projector_->WaitFor(store_->Head().position, std::chrono::seconds(10)));
  EXPECT_TRUE(projector_->failure().ok()) << projector_->failure().ToString();
  EXPECT_EQ(Send(http::verb::get, "/api/v1/cases/" + id, Token("op-1", Role::kOperator)).status,
            200u);
}

TEST_F(HttpRolesTest, AnAsOfOutsideTheCellsTellsNothingNotEvenWhenTheCaseBegan) {
  const std::string id = NewCase();  // in g12
  const Position reported = store_->Head().position;
  const std::string outside = Token("o-1", Role::kOperator, {"santai/tongchuan/a03/g13"});
  const std::string inside = Token("i-1", Role::kOperator, {"santai/tongchuan/a03/g12"});
  for (Position p : {Position{1}, reported}) {
    auto r = Send(http::verb::get, "/api/v1/cases/" + id + "?as_of=" + std::to_string(p), outside);
    EXPECT_EQ(r.status, 403u) << "as_of " << p << ": " << r.body;
  }
  EXPECT_EQ(Send(http::verb::get, "/api/v1/cases/" + id + "?as_of=1", inside).status, 404u);
  EXPECT_EQ(
      Send(http::verb::get, "/api/v1/cases/" + id + "?as_of=" + std::to_string(reported), inside)
          .status,
      200u);
}

}  // namespace
}  // namespace casegrid
