#include <gtest/gtest.h>

#include <rocksdb/write_batch.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "engine/grid_history.h"
#include "engine/time_format.h"
#include "projections/available_memory.h"
#include "projections/case_view.h"
#include "projections/projector.h"
#include "projections/rebuild.h"
#include "tests/support/case_fixture.h"
#include "tests/support/raw_store.h"
#include "tests/support/temp_dir.h"

namespace casegrid {
namespace {

using testing::ReportBody;

// Reads a number or string at a JSON pointer ("/open/total") of `json`.
std::string At(const std::string& json, const std::string& pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_FALSE(parser.parse(json).get(root)) << json;
  simdjson::dom::element e;
  if (root.at_pointer(pointer).get(e)) return "<missing " + pointer + ">";
  return simdjson::minify(e);
}

class ProjectionTest : public testing::CaseTest {
 protected:
  void SetUp() override {
    CaseTest::SetUp();
    OpenProjector();
  }
  void TearDown() override {
    projector_.reset();
    CaseTest::TearDown();
  }
  void OpenProjector() {
    projector_.reset();
    ProjectorOptions options;
    options.path = dir_.Sub("views");
    options.snapshot_every = 8;
    auto opened = Projector::Open(store_.get(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    projector_ = std::move(opened).value();
  }
  void CatchUp() { ASSERT_TRUE(projector_->CatchUp().ok()); }
  // A rebuild of the whole log (with the live views' snapshot interval)
  // equals the live views.
  void ExpectRebuildEqualsLive() {
    ASSERT_TRUE(RebuildViews(store_.get(), dir_.Sub("rebuilt"), nullptr, UINT64_MAX, 8).ok());
    auto rebuilt = ViewStore::Open(dir_.Sub("rebuilt"));
    ASSERT_TRUE(rebuilt.ok());
    Status same = CompareViews(projector_->views(), **rebuilt);
    EXPECT_TRUE(same.ok()) << same.ToString();
  }
  std::string Dash(const std::string& path) {
    CatchUp();
    auto d = projector_->Dashboard(path, clock_.NowMillis());
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? *d : "{}";
  }
  std::string View(const std::string& id) {
    CatchUp();
    auto v = projector_->CaseView(id);
    EXPECT_TRUE(v.ok() && v->has_value());
    return v.ok() && v->has_value() ? **v : "{}";
  }
  std::string ReportIn(const std::string& cell, const std::string& kind = "dispute",
                       const std::string& address = "12 Tongchuan Rd") {
    std::string body = ReportBody(cell, "normal", kind);
    body.replace(body.find("12 Tongchuan Rd"), 15, address);
    return Must(service_->Report("officer-7", body, "")).case_id;
  }
  // A case reported by an operator, so that its alerts reach officer-7 (no
  // one is told of their own report).
  std::string OperatorsCase() {
    return Must(service_->Report("operator-1", ReportBody(), "")).case_id;
  }
  // A case resolved, its callback's deadline passed and recorded missed.
  std::string ResolvedWithItsCallbackMissed() {
    const std::string id = CaseInProgress();
    Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
    const std::int64_t due = Load(id).Deadline(DeadlineKind::kCallback)->due_at;
    clock_.Set(due);
    Must(service_->RecordDeadlineMissed(id, DeadlineKind::kCallback, due));
    return id;
  }
  std::unique_ptr<Projector> projector_;
};

TEST_F(ProjectionTest, CaseViewFollowsEveryStep) {
  PutOnGrid("aux-2");
  const std::string id = NewCase("high");
  EXPECT_EQ(At(View(id), "/state"), "\"reported\"");
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  clock_.Advance(90000);
  Must(Act(id, "accept"));
  const std::string view = View(id);
  EXPECT_EQ(At(view, "/state"), "\"in_progress\"");
  EXPECT_EQ(At(view, "/assignee"), "\"officer-7\"");
  EXPECT_EQ(At(view, "/priority"), "\"high\"");
  EXPECT_EQ(At(view, "/accepted_at"), "\"2026-11-22T10:32:32.123Z\"");
  EXPECT_EQ(At(view, "/deadlines/0/deadline"), "\"accept\"");
  EXPECT_EQ(At(view, "/deadlines/0/met"), "true");
  EXPECT_EQ(At(view, "/reporter/phone"), "\"13800000000\"");
  EXPECT_EQ(At(view, "/version"), "3");
  EXPECT_EQ(At(view, "/updated_at"), "\"2026-11-22T10:32:32.123Z\"");
  EXPECT_EQ(At(view, "/dispatched"), "[]");
  // Who is on the way: dispatched, until each arrives.
  Must(Act(id, "dispatch", R"({"officer":"officer-7"})"));
  Must(Act(id, "dispatch", R"({"officer":"aux-2"})"));
  EXPECT_EQ(At(View(id), "/dispatched"), R"(["officer-7","aux-2"])");
  clock_.Advance(60000);
  Must(Act(id, "arrive", R"({"officer":"officer-7"})"));
  const std::string arrived = View(id);
  EXPECT_EQ(At(arrived, "/dispatched"), R"(["aux-2"])");
  EXPECT_EQ(At(arrived, "/updated_at"), "\"2026-11-22T10:33:32.123Z\"");
  EXPECT_EQ(At(arrived, "/arrived_at"), "\"2026-11-22T10:33:32.123Z\"");
}

TEST_F(ProjectionTest, DashboardCountsEachCaseUpTheTree) {
  ReportIn("santai/tongchuan/a03/g12");
  ReportIn("santai/tongchuan/a03/g13", "hazard");
  EXPECT_EQ(At(Dash(""), "/open/total"), "2");
  EXPECT_EQ(At(Dash("santai/tongchuan/a03"), "/open/total"), "2");
  EXPECT_EQ(At(Dash("santai/tongchuan/a03/g12"), "/open/total"), "1");
  EXPECT_EQ(At(Dash("santai/tongchuan/a03/g13"), "/hazards/open"), "1");
  EXPECT_EQ(At(Dash("santai"), "/open/by_kind/dispute"), "1");
  EXPECT_EQ(At(Dash("santai"), "/today/reported"), "2");
  EXPECT_EQ(At(Dash("santai"), "/open/by_state/reported"), "2");
  EXPECT_EQ(projector_->Dashboard("santai/nowhere", 0).status().code(), StatusCode::kNotFound);
}

TEST(DashboardRenderTest, TodayIsTheLocalDayOfTheOffset) {
  auto ms = [](const char* t) { return *ParseTimestamp(t); };
  DashboardNode node;
  // Reported 17:00 UTC on the 22nd: 01:00 on the 23rd at UTC+8.
  node.hourly[ms("2026-11-22T17:00:00.000Z") / 3600000] = {1, 0};
  // Resolved 15:00 UTC on the 22nd: 23:00 on the 22nd at UTC+8.
  node.hourly[ms("2026-11-22T15:00:00.000Z") / 3600000] = {0, 1};
  const std::int64_t now = ms("2026-11-23T01:00:00.000Z");  // 09:00 on the 23rd at UTC+8
  const std::string utc = RenderDashboard("santai", node, 9, now);
  EXPECT_EQ(At(utc, "/today/reported"), "0");  // the 22nd, yesterday in UTC
  EXPECT_EQ(At(utc, "/today/resolved"), "0");
  EXPECT_EQ(At(utc, "/intake_hourly/previous_7_days_average/17"), "0.14285714285714285");
  const std::string china = RenderDashboard("santai", node, 9, now, 8);
  EXPECT_EQ(At(china, "/today/reported"), "1");  // 01:00 today, local
  EXPECT_EQ(At(china, "/today/resolved"), "0");  // 23:00 yesterday, local
  EXPECT_EQ(At(china, "/intake_hourly/today/1"), "1");
  EXPECT_EQ(At(china, "/day_offset_hours"), "8");  // so that a screen labels its hours
  EXPECT_EQ(At(utc, "/day_offset_hours"), "0");
  const std::string west = RenderDashboard("santai", node, 9, now, -10);  // 15:00 on the 22nd
  EXPECT_EQ(At(west, "/today/reported"), "1");                            // 07:00 today, local
  EXPECT_EQ(At(west, "/today/resolved"), "1");                            // 05:00 today, local
}

// The intake curve of the previous days is averaged over those the log has:
// a store two days old showed a seventh of its intake all week long.
TEST(DashboardRenderTest, ThePreviousDaysAverageIsOverTheDaysTheLogHas) {
  auto ms = [](const char* t) { return *ParseTimestamp(t); };
  DashboardNode node;
  node.hourly[ms("2026-11-21T09:00:00.000Z") / 3600000] = {3, 0};
  node.hourly[ms("2026-11-22T09:00:00.000Z") / 3600000] = {1, 0};
  const std::int64_t now = ms("2026-11-23T12:00:00.000Z");
  // The log's start, what each hour is averaged to and over how many days.
  const struct {
    const char* log_start;
    const char* average;
    const char* days;
  } cases[] = {
      {"2026-11-21T08:00:00.000Z", "2", "2"},  // began on the 21st: two previous days
      {"2026-11-23T08:00:00.000Z", "0", "0"},  // began today: none, nothing averaged
      {"2026-10-01T00:00:00.000Z", "0.5714285714285714", "7"},  // older than a week
  };
  for (const auto& c : cases) {
    const std::string view = RenderDashboard("santai", node, 9, now, 0, ms(c.log_start));
    EXPECT_EQ(At(view, "/intake_hourly/previous_7_days_average/9"), c.average) << c.log_start;
    EXPECT_EQ(At(view, "/intake_hourly/previous_days"), c.days) << c.log_start;
  }
  // By the local day: at UTC+14 the log's 08:00 UTC on the 21st is the 21st
  // still (22:00), and now is the 24th (02:00): three previous days.
  const std::string east =
      RenderDashboard("santai", node, 9, now, 14, ms("2026-11-21T08:00:00.000Z"));
  EXPECT_EQ(At(east, "/intake_hourly/previous_days"), "3");
}

// An intake eight days before today is outside the previous seven days'
// average (mutation testing, review 116).
TEST(DashboardRenderTest, AnIntakeEightDaysAgoIsOutsideThePreviousWeeksAverage) {
  auto ms = [](const char* t) { return *ParseTimestamp(t); };
  DashboardNode node;
  node.hourly[ms("2026-11-15T09:00:00.000Z") / 3600000] = {7, 0};   // eight days ago
  node.hourly[ms("2026-11-16T09:00:00.000Z") / 3600000] = {14, 0};  // seven days ago
  const std::int64_t now = ms("2026-11-23T12:00:00.000Z");
  const std::string view =
      RenderDashboard("santai", node, 9, now, 0, ms("2026-10-01T00:00:00.000Z"));
  EXPECT_EQ(At(view, "/intake_hourly/previous_days"), "7");
  EXPECT_EQ(At(view, "/intake_hourly/previous_7_days_average/9"), "2");
}

// The projector reads the log's start from its first event: live, and as of
// a past position alike.
TEST_F(ProjectionTest, TheDashboardAveragesTheDaysItsLogHas) {
  ReportIn("santai/tongchuan/a03/g12");
  EXPECT_EQ(At(Dash("santai"), "/intake_hourly/previous_days"), "0");
  clock_.Advance(2 * 86400000LL);
  ReportIn("santai/tongchuan/a03/g12");
  EXPECT_EQ(At(Dash("santai"), "/intake_hourly/previous_days"), "2");
  auto past = projector_->DashboardAsOf("santai", store_->Head().position);
  ASSERT_TRUE(past.ok()) << past.status().ToString();
  EXPECT_EQ(At(*past, "/intake_hourly/previous_days"), "2");
}

// A dashboard as of a past position folds only the cases of its subtree:
// one reported elsewhere is passed over unfolded (review 104: every case of
// the window was folded from its stream first, so a leaf's cost the root's),
// and it answers as the live fold does.
TEST_F(ProjectionTest, ADashboardAsOfFoldsOnlyTheCasesOfItsSubtree) {
  const std::string here = ReportIn("santai/tongchuan/a03/g12");
  const std::string there = ReportIn("santai/tongchuan/a03/g13");
  for (int i = 0; i < 40; ++i) {
    Must(Act(here, "note", R"({"text":"n"})"));
    Must(Act(there, "note", R"({"text":"n"})"));
  }
  CatchUp();
  // A position past a snapshot tick (one every 8 here), with both cases'
  // notes after it.
  const Position head = store_->Head().position;
  const Position at = head - head % 8 + 7 <= head ? head - head % 8 + 7 : head - head % 8 - 1;
  std::uint64_t leaf = 0, whole = 0;
  auto g12 = projector_->DashboardAsOf("santai/tongchuan/a03/g12", at, std::nullopt, &leaf);
  auto root = projector_->DashboardAsOf("", at, std::nullopt, &whole);
  ASSERT_TRUE(g12.ok() && root.ok());
  EXPECT_GT(leaf, 40u);    // the window's events and its case's fold
  EXPECT_LT(leaf, whole);  // the other case's fold is not counted: not made
  EXPECT_EQ(At(*g12, "/open/total"), "1") << *g12;
  EXPECT_EQ(At(*root, "/open/total"), "2") << *root;
  const std::string live = Dash("santai/tongchuan/a03/g12");
  EXPECT_EQ(At(*g12, "/open"), At(live, "/open"));
}

// A percentile past the last bucket (4320 minutes) is the longest time that
// bucket holds, not a bound made up for it (it was 8640 whatever the time).
TEST_F(ProjectionTest, AResponseTimeBeyondTheLastBucketIsShownAsTheLongestItHolds) {
  const std::string slow = NewCase("urgent");
  const std::string slower = NewCase("urgent");
  clock_.Advance(47159 * 60000LL + 1);  // 47,159 minutes and a millisecond: 47,160 begun
  Must(Act(slow, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(slow, "accept"));
  std::string d = Dash("santai");
  EXPECT_EQ(At(d, "/response_minutes/urgent/p50"), "47160");
  EXPECT_EQ(At(d, "/response_minutes/urgent/p90"), "47160");
  clock_.Advance(3 * 24 * 60 * 60000LL);
  Must(Act(slower, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(slower, "accept"));
  d = Dash("santai");
  EXPECT_EQ(At(d, "/response_minutes/urgent/p50"), "51480");  // both in the open bucket
  EXPECT_EQ(At(d, "/response_minutes/urgent/count"), "2");
}

// Percentiles are nearest-rank: of three response times in three buckets
// the p50 is the second and the p90 the third; of five, the third and the
// fifth (mutation testing, review 116).
TEST_F(ProjectionTest, ResponsePercentilesAreOfTheNearestRank) {
  const auto respond = [&](int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) ids.push_back(NewCase("high"));
    for (int i = 0; i < n; ++i) {
      clock_.Advance(60000);  // the i-th waited i+1 minutes
      Must(Act(ids[i], "assign", R"({"assignee":"officer-7"})"));
      Must(Act(ids[i], "accept"));
    }
  };
  respond(3);
  std::string d = Dash("santai");
  EXPECT_EQ(At(d, "/response_minutes/high/count"), "3");
  EXPECT_EQ(At(d, "/response_minutes/high/p50"), "2");
  EXPECT_EQ(At(d, "/response_minutes/high/p90"), "3");
  respond(2);  // 1 and 2 minutes: 1, 1, 2, 2, 3
  d = Dash("santai");
  EXPECT_EQ(At(d, "/response_minutes/high/count"), "5");
  EXPECT_EQ(At(d, "/response_minutes/high/p50"), "2");
  EXPECT_EQ(At(d, "/response_minutes/high/p90"), "3");
}

TEST_F(ProjectionTest, DashboardTracksMediationCallbacksAndResponseTimes) {
  const std::string id = NewCase("urgent");
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  clock_.Advance(5 * 60000);
  Must(Act(id, "accept"));
  Must(Act(id, "mediate",
           R"({"tier":1,"participants":["a"],"outcome":"no_agreement","notes":"n"})"));
  Must(Act(id, "escalate", R"({"reason":"bigger"})"));
  Must(Act(id, "mediate", R"({"tier":2,"participants":["a"],"outcome":"agreement","notes":"n"})"));
  Must(Act(id, "resolve", R"({"resolution":"mediated_agreement","summary":"s"})"));
  std::string d = Dash("santai");
  EXPECT_EQ(At(d, "/mediation/sessions"), "2");
  EXPECT_EQ(At(d, "/mediation/success_rate"), "0.5");
  EXPECT_EQ(At(d, "/escalations"), "1");
  EXPECT_EQ(At(d, "/callbacks/due"), "1");
  EXPECT_EQ(At(d, "/callbacks/overdue"), "0");  // due, not missed (mutation testing, review 116)
  EXPECT_EQ(At(d, "/response_minutes/urgent/p50"), "5");
  EXPECT_EQ(At(d, "/open/total"), "0");
  EXPECT_EQ(At(d, "/today/resolved"), "1");
  Must(Act(
      id, "complete-callback",
      R"({"speed":"satisfied","attitude":"dissatisfied","outcome":"satisfied","comment":"c"})"));
  d = Dash("santai");
  EXPECT_EQ(At(d, "/callbacks/due"), "0");
  EXPECT_EQ(At(d, "/callbacks/completed"), "1");
  EXPECT_EQ(At(d, "/callbacks/satisfied/speed"), "1");
  EXPECT_EQ(At(d, "/callbacks/satisfied/attitude"), "0");
  // The outcome's own answer, not the attitude's (mutation testing, review 116).
  EXPECT_EQ(At(d, "/callbacks/satisfied/outcome"), "1");
}

// A reporter who left no phone is owed no callback: none due, none overdue
// a day later, and the case view says so (session 29).
TEST_F(ProjectionTest, AResolutionForAReporterWithoutAPhoneOwesNoCallback) {
  std::string body = testing::ReportBody();
  const std::string phone = R"(,"phone":"13800000000")";
  body.erase(body.find(phone), phone.size());
  const std::string id = Must(service_->Report("officer-7", body, "")).case_id;
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(id, "accept"));
  Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
  clock_.Advance(25 * 3600000LL);
  const std::string d = Dash("santai");
  EXPECT_EQ(At(d, "/callbacks/due"), "0");
  EXPECT_EQ(At(d, "/callbacks/overdue"), "0");
  EXPECT_EQ(At(View(id), "/callback/state"), "\"none\"");
  Must(Act(id, "close"));
  CatchUp();
  ExpectRebuildEqualsLive();
}

// The overdue work now: open cases with a deadline missed whose step is
// still not done; and mediation per case, as DOMAIN.md counts it (black-box
// probe 79 found neither on the dashboard).
TEST_F(ProjectionTest, TheDashboardCountsOpenCasesOverdueAndMediationPerCase) {
  const std::string late = NewCase();
  const std::int64_t due = Load(late).Deadline(DeadlineKind::kAccept)->due_at;
  clock_.Set(due);
  Must(service_->RecordDeadlineMissed(late, DeadlineKind::kAccept, due));
  std::string d = Dash("santai");
  EXPECT_EQ(At(d, "/open/overdue"), "1");
  EXPECT_EQ(At(Dash("santai/tongchuan/a03/g13"), "/open/overdue"), "0");
  Must(Act(late, "assign", R"({"assignee":"officer-7"})"));
  EXPECT_EQ(At(Dash("santai"), "/open/overdue"), "1");  // assigned, still not accepted
  Must(Act(late, "accept"));                            // met late
  EXPECT_EQ(At(Dash("santai"), "/open/overdue"), "0");

  const auto session = [](const char* outcome) {
    return std::string(R"({"tier":1,"participants":["a"],"outcome":")") + outcome +
           R"(","notes":"n"})";
  };
  Must(Act(late, "mediate", session("no_agreement")));
  Must(Act(late, "mediate", session("agreement")));
  const std::string other = CaseInProgress();
  Must(Act(other, "mediate", session("no_agreement")));
  d = Dash("santai");
  EXPECT_EQ(At(d, "/mediation/sessions"), "3");
  EXPECT_EQ(At(d, "/mediation/cases/mediated"), "2");
  EXPECT_EQ(At(d, "/mediation/cases/agreed"), "1");
  EXPECT_EQ(At(d, "/mediation/cases/success_rate"), "0.5");
  ExpectRebuildEqualsLive();
}

// Every case by its kind now and by its channel, and of those resolved or
// closed now; callbacks that did not reach the reporter; reopenings (a
// probe of session 29 found the field's figures of DOMAIN.md — disputes and
// hazards in a year, matters solved at watch points — not on the dashboard).
TEST_F(ProjectionTest, TheDashboardCountsCasesByKindAndChannel) {
  std::string body = ReportBody("santai/tongchuan/a03/g12", "normal", "hazard");
  body.replace(body.find("walk_in"), 7, "watch_point");
  const std::string hazard = Must(service_->Report("officer-7", body, "")).case_id;
  const std::string dispute = CaseInProgress();  // a walk-in dispute
  ReportIn("santai/tongchuan/a03/g13", "incident", "3 Other Rd");
  Must(Act(hazard, "triage", R"({"kind":"assistance"})"));  // counted by its kind now
  Must(Act(hazard, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(hazard, "accept"));
  Must(Act(hazard, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
  Must(Act(hazard, "attempt-callback", R"({"reached":false,"note":"no answer"})"));
  Must(Act(dispute, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
  Must(Act(
      dispute, "complete-callback",
      R"({"speed":"satisfied","attitude":"satisfied","outcome":"dissatisfied","comment":"c"})"));
  Must(Act(dispute, "reopen", R"({"reason":"the leak came back"})"));
  std::string d = Dash("santai");
  EXPECT_EQ(At(d, "/cases/by_kind/assistance"), R"({"total":1,"resolved":1})");
  EXPECT_EQ(At(d, "/cases/by_kind/hazard"), R"({"total":0,"resolved":0})");
  EXPECT_EQ(At(d, "/cases/by_kind/dispute"), R"({"total":1,"resolved":0})");  // reopened
  EXPECT_EQ(At(d, "/cases/by_kind/incident"), R"({"total":1,"resolved":0})");
  EXPECT_EQ(At(d, "/cases/by_channel/watch_point"), R"({"total":1,"resolved":1})");
  EXPECT_EQ(At(d, "/cases/by_channel/walk_in"), R"({"total":2,"resolved":0})");
  EXPECT_EQ(At(d, "/cases/by_channel/online"), R"({"total":0,"resolved":0})");
  EXPECT_EQ(At(d, "/callbacks/unreachable"), "1");
  EXPECT_EQ(At(d, "/totals/reopened"), "1");
  EXPECT_EQ(At(d, "/totals/resolved"), "2");
  EXPECT_EQ(At(Dash("santai/tongchuan/a03/g13"), "/cases/by_channel/walk_in"),
            R"({"total":1,"resolved":0})");
  Must(Act(hazard, "complete-callback",
           R"({"speed":"satisfied","attitude":"satisfied","outcome":"satisfied","comment":"c"})"));
  Must(Act(hazard, "close"));  // closed still counts as resolved
  d = Dash("santai");
  EXPECT_EQ(At(d, "/cases/by_kind/assistance"), R"({"total":1,"resolved":1})");
  ExpectRebuildEqualsLive();
}

// A callback attempt that reached the reporter is no unreachable callback
// (mutation testing, review 116).
TEST_F(ProjectionTest, AReachedCallbackAttemptIsNotUnreachable) {
  const std::string id = CaseInProgress();
  Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
  Must(Act(id, "attempt-callback", R"({"reached":true,"note":"call back later"})"));
  EXPECT_EQ(At(Dash("santai"), "/callbacks/unreachable"), "0");
}

// A case closed after three callback attempts that reached no one owes no
// callback any more (mutation testing, review 116).
TEST_F(ProjectionTest, ACaseClosedAfterThreeUnreachedCallbacksOwesNone) {
  const std::string id = CaseInProgress();
  Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
  for (int i = 0; i < 3; ++i) {
    Must(Act(id, "attempt-callback", R"({"reached":false,"note":"no answer"})"));
  }
  EXPECT_EQ(At(Dash("santai"), "/callbacks/unreachable"), "3");
  Must(Act(id, "close"));
  const std::string d = Dash("santai");
  EXPECT_EQ(At(d, "/callbacks/due"), "0");
  EXPECT_EQ(At(d, "/callbacks/overdue"), "0");
}

// A hazard resolved with no action needed was not rectified (mutation
// testing, review 116).
TEST_F(ProjectionTest, AHazardNeedingNoActionIsNotRectified) {
  const std::string id = CaseInProgress();
  Must(Act(id, "triage", R"({"kind":"hazard"})"));
  Must(Act(id, "resolve", R"({"resolution":"no_action_needed","summary":"s"})"));
  const std::string d = Dash("");
  EXPECT_EQ(At(d, "/hazards/rectified"), "0");
  EXPECT_EQ(At(d, "/hazards/open"), "0");
}

// A reopened case whose only miss is its callback's is not overdue work:
// the callback is no step of an open case (mutation testing, review 116).
TEST_F(ProjectionTest, AMissedCallbackIsNoOverdueWorkOnceReopened) {
  const std::string id = ResolvedWithItsCallbackMissed();
  Must(Act(id, "reopen", R"({"reason":"the pipe leaks again"})", "operator-1"));
  const std::string d = Dash("santai");
  EXPECT_EQ(At(d, "/open/total"), "1");
  EXPECT_EQ(At(d, "/open/overdue"), "0");
}

TEST_F(ProjectionTest, MissedCallbackDeadlineCountsAsOverdue) {
  const std::string id = ResolvedWithItsCallbackMissed();
  const std::string d = Dash("");
  EXPECT_EQ(At(d, "/callbacks/overdue"), "1");
  EXPECT_EQ(At(d, "/deadlines_missed"), "1");
  EXPECT_EQ(At(d, "/deadlines_missed_by_kind/callback"), "1");
}

// The case view keeps each miss with the due time it was missed at: a
// callback rescheduled after its miss showed the new due time as missed,
// and a reopening then a new resolution dropped the miss from the view
// (black-box probe, session 25).
TEST_F(ProjectionTest, TheCaseViewListsEachMissWithItsDueTime) {
  const std::string id = CaseInProgress();
  Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
  const std::int64_t due = Load(id).Deadline(DeadlineKind::kCallback)->due_at;
  clock_.Set(due + 1000);
  Must(service_->RecordDeadlineMissed(id, DeadlineKind::kCallback, due));
  const std::string later = FormatTimestamp(clock_.NowMillis() + 3600000);
  Must(Act(id, "schedule-callback", R"({"due_at":")" + later + R"("})"));
  const std::string missed = FormatTimestamp(due);
  std::string v = View(id);
  EXPECT_EQ(At(v, "/misses/0/deadline"), "\"callback\"") << v;
  EXPECT_EQ(At(v, "/misses/0/due_at"), "\"" + missed + "\"") << v;
  EXPECT_EQ(At(v, "/deadlines/2/due_at"), "\"" + later + "\"") << v;  // callback
  Must(Act(id, "reopen", R"({"reason":"the pipe leaks again"})", "operator-1"));
  Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
  v = View(id);
  EXPECT_EQ(At(v, "/misses/0/due_at"), "\"" + missed + "\"") << v;
  EXPECT_EQ(At(v, "/misses/1"), "<missing /misses/1>") << v;
  ExpectRebuildEqualsLive();
}

// Hazards rectified is a gauge: a reopened hazard is rectified no more, and
// rectified again it counts once. Resolutions count each time.
TEST_F(ProjectionTest, AHazardRectifiedReopenedAndRectifiedAgainCountsOnce) {
  const std::string id = CaseInProgress();
  Must(Act(id, "triage", R"({"kind":"hazard"})"));
  const std::string rectified = R"({"resolution":"rectified","summary":"s"})";
  Must(Act(id, "resolve", rectified));
  EXPECT_EQ(At(Dash(""), "/hazards/rectified"), "1");
  Must(Act(id, "reopen", R"({"reason":"the exit is blocked again"})"));
  EXPECT_EQ(At(Dash(""), "/hazards/rectified"), "0");
  EXPECT_EQ(At(Dash(""), "/hazards/open"), "1");
  Must(Act(id, "resolve", rectified));
  Must(Act(id, "complete-callback",
           R"({"speed":"satisfied","attitude":"satisfied","outcome":"satisfied","comment":"c"})"));
  Must(Act(id, "close"));
  const std::string d = Dash("");
  EXPECT_EQ(At(d, "/hazards/rectified"), "1");
  EXPECT_EQ(At(d, "/hazards/open"), "0");
  EXPECT_EQ(At(d, "/totals/resolved"), "2");
}

TEST_F(ProjectionTest, SameAddressTwiceWithin30DaysIsARepeatDispute) {
  ReportIn("santai/tongchuan/a03/g12", "dispute", "12 Tongchuan Rd");
  clock_.Advance(10LL * 24 * 3600000);
  ReportIn("santai/tongchuan/a03/g12", "dispute", "12  tongchuan rd.");
  EXPECT_EQ(At(Dash(""), "/repeat_disputes"), "1");
  clock_.Advance(31LL * 24 * 3600000);
  ReportIn("santai/tongchuan/a03/g12", "dispute", "12 Tongchuan Rd");
  ReportIn("santai/tongchuan/a03/g12", "incident", "12 Tongchuan Rd");  // not a dispute
  EXPECT_EQ(At(Dash(""), "/repeat_disputes"), "1");
}

// The same street name in another district is another place (it counted as
// a repeat, with an alert to everyone in the cell; black-box probe, session 23).
TEST_F(ProjectionTest, ARepeatDisputeIsOneInTheSameDistrict) {
  Must(service_->DefineCell("admin", R"({"cell":"xinde","name":"x"})", ""));
  Must(service_->DefineCell("admin", R"({"cell":"xinde/a1","name":"x"})", ""));
  ReportIn("santai/tongchuan/a03/g12", "dispute", "West Street 5, Flat 2");
  ReportIn("xinde/a1", "dispute", "west street 5 flat 2");
  EXPECT_EQ(At(Dash(""), "/repeat_disputes"), "0");
  ReportIn("santai/tongchuan/a03/g13", "dispute", "west street 5 flat 2");  // same district
  EXPECT_EQ(At(Dash(""), "/repeat_disputes"), "1");
  ASSERT_NO_FATAL_FAILURE(ExpectRebuildEqualsLive());
}

TEST(AddressTest, AnAddressIsItsLettersAndDigitsOfAnyScriptFoldedByUnicode) {
  // Spaces and punctuation of any script, full-width forms and case.
  EXPECT_EQ(NormalizeAddress("西街5号楼201室"), "西街5号楼201室");
  EXPECT_EQ(NormalizeAddress("西街5号楼，201室。"), "西街5号楼201室");
  EXPECT_EQ(NormalizeAddress("西街５号楼\u3000２０１室"), "西街5号楼201室");
  EXPECT_EQ(NormalizeAddress("西街5号楼、201室（东）"), "西街5号楼201室东");
  EXPECT_EQ(NormalizeAddress("Rue ÉCOLE 5"), NormalizeAddress("rue école 5"));
  EXPECT_EQ(NormalizeAddress("Rue E\u0301cole 5"),
            NormalizeAddress("rue école 5"));  // é decomposed
  EXPECT_EQ(NormalizeAddress("PROBE road 7 room-301!!"), "proberoad7room301");
  EXPECT_EQ(NormalizeAddress("Lane_7-B"), NormalizeAddress("lane 7b"));
  // Marks that letters need stay: Hindi is not reduced to its consonants.
  EXPECT_NE(NormalizeAddress("किताब"), NormalizeAddress("कतब"));
  EXPECT_EQ(NormalizeAddress(" ，。!? "), "");
  // Two numbers with something between them stay apart.
  EXPECT_NE(NormalizeAddress("Block 1-23"), NormalizeAddress("Block 12-3"));
  EXPECT_NE(NormalizeAddress("west street 5 2 flat"), NormalizeAddress("west street 52 flat"));
  EXPECT_EQ(NormalizeAddress("Block 1-23"), "block1 23");
  EXPECT_EQ(NormalizeAddress("Block 1 / 23"), NormalizeAddress("block 1-23"));
  EXPECT_EQ(NormalizeAddress("１２-３"), "12 3");
}

TEST_F(ProjectionTest, AddressesThatDifferOnlyInPunctuationWidthOrCaseAreOneAddress) {
  ReportIn("santai/tongchuan/a03/g12", "dispute", "西街5号楼201室");
  ReportIn("santai/tongchuan/a03/g12", "dispute", "西街5号楼，201室");
  ReportIn("santai/tongchuan/a03/g12", "dispute", "西街５号楼\u3000201室");
  ReportIn("santai/tongchuan/a03/g12", "dispute", "Rue ÉCOLE 5");
  ReportIn("santai/tongchuan/a03/g12", "dispute", "rue école 5");
  EXPECT_EQ(At(Dash(""), "/repeat_disputes"), "3");
}

TEST_F(ProjectionTest, LongOpenCasesAgeIntoOneCountAndStillLeaveIt) {
  // A case per day for 60 days, all open: the dashboard keeps at most
  // kOpenReportDays days apart, the rest as one count, and the age buckets and
  // totals are the same as if every day were kept.
  std::vector<std::string> ids;
  for (int day = 0; day < 60; ++day) {
    ids.push_back(day == 0 ? CaseInProgress() : NewCase());
    clock_.Advance(24LL * 3600000);
  }
  const std::string dash = Dash("santai");
  EXPECT_EQ(At(dash, "/open/total"), "60");
  EXPECT_EQ(At(dash, "/open/by_age/over_30d"), "31");  // 30 to 60 days old
  EXPECT_EQ(At(dash, "/open/by_age/7d_to_30d"), "23");
  // Each bucket's bounds: ages 1-2, 3-6 and none under a day (mutation
  // testing, review 116).
  EXPECT_EQ(At(dash, "/open/by_age/under_1d"), "0");
  EXPECT_EQ(At(dash, "/open/by_age/1d_to_3d"), "2");
  EXPECT_EQ(At(dash, "/open/by_age/3d_to_7d"), "4");
  // Resolving a case from the first day takes it out of the earlier count.
  const Position before_resolve = store_->Head().position;
  Must(Act(ids.front(), "resolve", R"({"resolution":"mediated_agreement","summary":"done"})"));
  EXPECT_EQ(At(Dash("santai"), "/open/by_age/over_30d"), "30");
  // The same figures from a rebuild and as of a past position.
  const std::string rebuilt = dir_.Sub("rebuilt");
  ASSERT_TRUE(RebuildViews(store_.get(), rebuilt, nullptr, UINT64_MAX, 8).ok());
  projector_.reset();
  {
    auto a = ViewStore::Open(dir_.Sub("views"));
    auto b = ViewStore::Open(rebuilt);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(CompareViews(**a, **b).ok());
  }
  OpenProjector();
  auto as_of = projector_->DashboardAsOf("santai", before_resolve);
  ASSERT_TRUE(as_of.ok()) << as_of.status().ToString();
  EXPECT_EQ(At(*as_of, "/open/total"), "60");
}

// A swap of rebuilt views killed anywhere leaves whole views: cut between
// its two renames, the views before it come back; cut after both, the new
// ones stay and the old are removed. (It used to remove the live views file
// by file first, and a kill then left neither whole.)
TEST_F(ProjectionTest, ASwapOfViewsCutShortLeavesWholeViews) {
  namespace fs = std::filesystem;
  ReportIn("santai/tongchuan/a03/g12");
  CatchUp();
  projector_.reset();
  const std::string live = dir_.Sub("views");
  ProjectorOptions options;
  options.path = live;
  std::vector<std::string> notes;
  auto note = [&](const std::string& w) { notes.push_back(w); };

  // Cut between the renames: no live views, the old ones beside them.
  fs::rename(live, live + ".old");
  auto back = OpenOrRebuildViews(store_.get(), options, note);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ((*back)->position(), store_->Head().position);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("the views before it are back"), std::string::npos) << notes[0];
  EXPECT_FALSE(fs::exists(live + ".old"));
  back->reset();

  // Cut after both: the old views are leftovers, removed without a word.
  notes.clear();
  fs::create_directories(live + ".old/junk");
  ASSERT_TRUE(OpenOrRebuildViews(store_.get(), options, note).ok());
  EXPECT_TRUE(notes.empty());
  EXPECT_FALSE(fs::exists(live + ".old"));

  // A whole swap leaves the fresh views in place and nothing beside them; a
  // rebuild's leftover folder is named, not removed.
  ASSERT_TRUE(RebuildViews(store_.get(), live + ".rebuild").ok());
  ASSERT_TRUE(ReplaceViews(live + ".rebuild", live).ok());
  EXPECT_FALSE(fs::exists(live + ".old"));
  EXPECT_FALSE(fs::exists(live + ".rebuild"));
  fs::create_directories(live + ".rebuild");
  ASSERT_TRUE(OpenOrRebuildViews(store_.get(), options, note).ok());
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("left from a rebuild"), std::string::npos) << notes[0];
  EXPECT_TRUE(fs::exists(live + ".rebuild"));
}

// The comparison names the first key where two views differ, whether one
// lacks it or both hold it with other values, and each side's count.
TEST_F(ProjectionTest, ComparedViewsNameTheirFirstDifference) {
  const std::string a = ReportIn("santai/tongchuan/a03/g12");
  const std::string b = ReportIn("santai/tongchuan/a03/g13");
  CatchUp();
  projector_.reset();
  const std::string rebuilt = dir_.Sub("rebuilt");
  ASSERT_TRUE(RebuildViews(store_.get(), rebuilt, nullptr, UINT64_MAX, 8).ok());
  auto live = ViewStore::Open(dir_.Sub("views"));
  auto other = ViewStore::Open(rebuilt);
  ASSERT_TRUE(live.ok() && other.ok());
  ASSERT_TRUE(CompareViews(**live, **other).ok());
  auto put = [](ViewStore& v, ViewFamily f, const std::string& key, const std::string* value) {
    rocksdb::WriteBatch batch;
    if (value != nullptr) {
      ASSERT_TRUE(batch.Put(v.family(f), key, *value).ok());
    } else {
      ASSERT_TRUE(batch.Delete(v.family(f), key).ok());
    }
    ASSERT_TRUE(v.Write(&batch).ok());
  };
  const std::string changed = "{}";
  put(**other, kViewCases, b, &changed);  // both hold b, with other values
  Status differ = CompareViews(**live, **other);
  EXPECT_EQ(differ.code(), StatusCode::kCorruption);
  EXPECT_EQ(differ.message(), "views differ in cases at key \"" + b + "\" (2 vs 2 entries)");
  put(**live, kViewCases, a, nullptr);  // and only the other holds a
  differ = CompareViews(**live, **other);
  EXPECT_EQ(differ.message(), "views differ in cases at key \"" + a + "\" (1 vs 2 entries)");
  EXPECT_EQ(CompareViews(**other, **live).message(),
            "views differ in cases at key \"" + a + "\" (2 vs 1 entries)");
}

TEST_F(ProjectionTest, ViewsThatCannotBeReadAreRebuiltFromTheLog) {
  ReportIn("santai/tongchuan/a03/g12");
  ReportIn("santai/tongchuan/a03/g13", "hazard");
  CatchUp();
  projector_.reset();
  {
    // A dashboard node as an older build (or a damaged disk) left it.
    auto views = ViewStore::Open(dir_.Sub("views"));
    ASSERT_TRUE(views.ok());
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put((*views)->family(kViewDashboard), "santai", "\x02\x01").ok());
    ASSERT_TRUE((*views)->Write(&batch).ok());
  }
  ProjectorOptions options;
  options.path = dir_.Sub("views");
  options.snapshot_every = 8;
  EXPECT_EQ(Projector::Open(store_.get(), options).status().code(), StatusCode::kCorruption);
  std::string why;
  auto reopened = OpenOrRebuildViews(store_.get(), options, [&](const std::string& w) { why = w; });
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_NE(why.find("rebuilding them from the log"), std::string::npos) << why;
  auto dash = (*reopened)->Dashboard("santai", clock_.NowMillis());
  ASSERT_TRUE(dash.ok());
  EXPECT_EQ(At(*dash, "/open/total"), "2");
  EXPECT_EQ((*reopened)->position(), store_->Head().position);
  // Readable views are opened as they are.
  why.clear();
  reopened->reset();
  ASSERT_TRUE(
      OpenOrRebuildViews(store_.get(), options, [&](const std::string& w) { why = w; }).ok());
  EXPECT_TRUE(why.empty());
}

// The log's damage found while opening the views is the log's: the views
// are not blamed, and no rebuild is started that would fold the whole log
// only to fail on the same record (review 96).
TEST_F(ProjectionTest, ALogDamagedAtTheViewsPositionIsNotTakenForTheViews) {
  ReportIn("santai/tongchuan/a03/g12");
  CatchUp();
  const Position checkpoint = projector_->position();
  ReportIn("santai/tongchuan/a03/g13");  // the head is past the views
  projector_.reset();
  service_.reset();
  store_.reset();
  {
    testing::RawStore raw(dir_.Sub("store"));
    ASSERT_TRUE(raw.ok());
    raw.Put(checkpoint, "not a record");
    ASSERT_TRUE(raw.ok());
  }
  Reopen();
  ProjectorOptions options;
  options.path = dir_.Sub("views");
  options.snapshot_every = 8;
  std::vector<std::string> notes;
  auto opened =
      OpenOrRebuildViews(store_.get(), options, [&](const std::string& w) { notes.push_back(w); });
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kInternal) << opened.status().ToString();
  EXPECT_NE(opened.status().message().find("the log, not the views"), std::string::npos)
      << opened.status().ToString();
  EXPECT_TRUE(notes.empty()) << notes.front();
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("views") + ".rebuild"));
}

TEST_F(ProjectionTest, ViewsFoldedFromAnotherLogAreRebuiltNotServed) {
  // Another log, as long as this one, with other events: a folder put together by hand.
  ReportIn("santai/tongchuan/a03/g12");
  CatchUp();
  const Position head = store_->Head().position;
  projector_.reset();
  StoreOptions other_options;
  other_options.path = dir_.Sub("other-log");
  auto other = EventStore::Open(other_options);
  ASSERT_TRUE(other.ok());
  for (Position p = 0; p < head + 3; ++p) {
    ASSERT_TRUE(
        (*other)
            ->Append({"import/x", ExpectedVersion::Any(), "admin", {{"", "Imported", "{}"}}})
            .ok());
  }
  ProjectorOptions options;
  options.path = dir_.Sub("views");
  options.snapshot_every = 8;
  auto opened = Projector::Open(other->get(), options);
  EXPECT_EQ(opened.status().code(), StatusCode::kCorruption);
  EXPECT_NE(opened.status().message().find("not folded from this log"), std::string::npos)
      << opened.status().ToString();
  std::string why;
  auto rebuilt = OpenOrRebuildViews(other->get(), options, [&](const std::string& w) { why = w; });
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_NE(why.find("rebuilding them from the log"), std::string::npos) << why;
  auto dash = (*rebuilt)->Dashboard("", clock_.NowMillis());
  EXPECT_EQ(dash.status().code(), StatusCode::kOk);
  EXPECT_EQ((*rebuilt)->position(), head + 3);
  // Its own log's views still open as they are.
  rebuilt->reset();
  EXPECT_TRUE(Projector::Open(other->get(), options).ok());
}

TEST_F(ProjectionTest, ARebuildThatDidNotFinishIsNeverOpenedAsViews) {
  ReportIn("santai/tongchuan/a03/g12");
  ReportIn("santai/tongchuan/a03/g13", "hazard");
  CatchUp();
  ProjectorOptions options;
  options.path = dir_.Sub("rebuilding");
  options.snapshot_every = 8;
  options.rebuild = true;
  {
    auto rebuild = Projector::Open(store_.get(), options);
    ASSERT_TRUE(rebuild.ok()) << rebuild.status().ToString();
    ASSERT_TRUE((*rebuild)->CatchUp().ok());
    // Stopped here, before Finish(): the views it wrote are not whole.
  }
  options.rebuild = false;
  auto opened = Projector::Open(store_.get(), options);
  EXPECT_EQ(opened.status().code(), StatusCode::kCorruption);
  EXPECT_NE(opened.status().message().find("did not finish"), std::string::npos)
      << opened.status().ToString();
  // A rebuild does not start on views that are there.
  options.rebuild = true;
  EXPECT_EQ(Projector::Open(store_.get(), options).status().code(), StatusCode::kInvalidArgument);
  projector_.reset();
  options.path = dir_.Sub("views");
  EXPECT_EQ(Projector::Open(store_.get(), options).status().code(), StatusCode::kInvalidArgument);
  OpenProjector();
  // serve's open rebuilds the unfinished views, and they equal the live ones.
  options.path = dir_.Sub("rebuilding");
  options.rebuild = false;
  std::string why;
  auto reopened = OpenOrRebuildViews(store_.get(), options, [&](const std::string& w) { why = w; });
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_NE(why.find("did not finish"), std::string::npos) << why;
  EXPECT_TRUE(CompareViews(projector_->views(), (*reopened)->views()).ok());
  // Finish() is only for a rebuild.
  EXPECT_EQ((*reopened)->Finish().code(), StatusCode::kInternal);
}

// An alert's JSON is API.md's, whether pushed (RenderAlert) or read back
// from its two parts in the views (ComposeAlert of the shared body).
TEST(AlertJsonTest, RenderedAndComposedAlertsAreTheSame) {
  const Alert a{"officer-7", "new_case",    "C-20261122-000001",  "santai/tongchuan",
                42,          1795343462123, "New \"normal\" case"};
  const std::string expected =
      R"({"id":"42-new_case","kind":"new_case","person":"officer-7",)"
      R"("case_id":"C-20261122-000001","cell":"santai/tongchuan","position":42,)"
      R"("at":"2026-11-22T10:31:02.123Z","message":"New \"normal\" case"})";
  EXPECT_EQ(RenderAlert(a), expected);
  EXPECT_EQ(ComposeAlert("officer-7", 42, "new_case", RenderAlertBody(a)), expected);
  EXPECT_EQ(ComposeAlert("p", 1, "k", "{}"), R"({"id":"1-k","kind":"k","person":"p"})");
}

// Everyone an event alerts of one kind shares one body in the views; each
// reads it back as their own alert.
TEST_F(ProjectionTest, AnEventsAlertsOfOneKindShareOneBody) {
  Must(
      service_->AssignOfficer("admin", "santai", R"({"officer":"sup-1","role":"supervisor"})", ""));
  const Position before = store_->Head().position;
  OperatorsCase();
  CatchUp();
  std::size_t bodies = 0, entries = 0;
  ASSERT_TRUE(projector_->views().ForEach(kViewAlertBodies, [&](auto, auto) { ++bodies; }).ok());
  ASSERT_TRUE(projector_->views().ForEach(kViewAlerts, [&](auto, auto) { ++entries; }).ok());
  EXPECT_EQ(bodies, 1u);
  EXPECT_GE(entries, 2u);
  auto mine = projector_->OpenAlerts("officer-7", 10);
  auto sups = projector_->OpenAlerts("sup-1", 10);
  ASSERT_TRUE(mine.ok() && sups.ok());
  ASSERT_EQ(mine->size(), 1u);
  ASSERT_EQ(sups->size(), 1u);
  EXPECT_EQ(At(mine->at(0), "/position"), std::to_string(before + 1));
  std::string as_sup = mine->at(0);
  as_sup.replace(as_sup.find(R"("person":"officer-7")"), 20, R"("person":"sup-1")");
  EXPECT_EQ(as_sup, sups->at(0));
  ExpectRebuildEqualsLive();
}

TEST_F(ProjectionTest, AlertsReachThePeopleCoveringTheCellAndCloseOnAcknowledgment) {
  Must(
      service_->AssignOfficer("admin", "santai", R"({"officer":"sup-1","role":"supervisor"})", ""));
  const std::string id = OperatorsCase();
  CatchUp();
  auto alerts = projector_->OpenAlerts("officer-7", 10);
  ASSERT_TRUE(alerts.ok());
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ(At(alerts->at(0), "/kind"), "\"new_case\"");
  EXPECT_EQ(At(alerts->at(0), "/case_id"), "\"" + id + "\"");
  Must(Act(id, "assign", R"({"assignee":"officer-7"})", "operator-1"));
  Must(Act(id, "accept"));
  Must(Act(id, "escalate", R"({"reason":"r"})", "operator-1"));
  Must(Act(id, "escalate", R"({"reason":"r","judicial":"court"})", "operator-1"));
  CatchUp();
  auto sup = projector_->OpenAlerts("sup-1", 10);
  ASSERT_TRUE(sup.ok());
  ASSERT_EQ(sup->size(), 2u);  // newest first: the tier-3 escalation, then the new case
  EXPECT_EQ(At(sup->at(0), "/kind"), "\"escalation\"");
  auto mine = projector_->OpenAlerts("officer-7", 10);
  EXPECT_EQ(mine->size(), 4u);  // new case, assigned, two escalations
  const std::string alert_id = At(mine->back(), "/id");
  const std::string unquoted = alert_id.substr(1, alert_id.size() - 2);
  EXPECT_TRUE(*projector_->HasOpenAlert("officer-7", unquoted));
  Must(service_->AcknowledgeAlert("officer-7", unquoted));
  CatchUp();
  EXPECT_FALSE(*projector_->HasOpenAlert("officer-7", unquoted));
  EXPECT_EQ(projector_->OpenAlerts("officer-7", 10)->size(), 3u);
}

// A tier-3 case's view names its judicial department (DOMAIN.md: the
// supervisor follows "tier-3 cases with judicial departments"; black-box
// probe 105 found it only in the history).
TEST_F(ProjectionTest, ATierThreeCasesViewNamesItsJudicialDepartment) {
  const std::string id = NewCase();
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(id, "accept"));
  EXPECT_EQ(At(View(id), "/judicial"), "null");
  Must(Act(id, "escalate", R"({"reason":"larger than the station"})"));
  EXPECT_EQ(At(View(id), "/judicial"), "null");
  Must(Act(id, "escalate", R"({"reason":"needs the court","judicial":"Santai People's Court"})",
           "operator-1"));
  EXPECT_EQ(At(View(id), "/tier"), "3");
  EXPECT_EQ(At(View(id), "/judicial"), R"("Santai People's Court")");
  ExpectRebuildEqualsLive();
}

// A tier-1 mediation running out of time is told to the mediators covering
// the cell too, warned and missed (black-box probe 74: only the assignee and
// the supervisors heard of it).
TEST_F(ProjectionTest, AMediationsDeadlineIsToldToTheMediators) {
  Must(service_->AssignOfficer("admin", "santai/tongchuan/a03",
                               R"({"officer":"med-1","role":"mediator"})", ""));
  const std::string id = NewCase();
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(id, "accept"));
  Must(Act(id, "mediate",
           R"({"tier":1,"participants":["both parties"],"outcome":"no_agreement","notes":"n"})"));
  ASSERT_TRUE(Load(id).Deadline(DeadlineKind::kMediation));
  const std::int64_t due = Load(id).Deadline(DeadlineKind::kMediation)->due_at;
  Must(service_->RecordDeadlineApproaching(id, DeadlineKind::kMediation, due));
  clock_.Set(due);
  Must(service_->RecordDeadlineMissed(id, DeadlineKind::kMediation, due));
  CatchUp();
  auto told = projector_->OpenAlerts("med-1", 10);
  ASSERT_TRUE(told.ok());
  ASSERT_EQ(told->size(), 3u);  // newest first: missed, approaching, the new case
  EXPECT_EQ(At(told->at(0), "/kind"), "\"deadline_missed\"");
  EXPECT_EQ(At(told->at(1), "/kind"), "\"deadline_approaching\"");
  ExpectRebuildEqualsLive();
}

// A reopened case is owed work again: its assignee and the cell's
// supervisors hear of it (black-box probe 74: a reopening alerted no one),
// from the day the rule came on (a rebuild would have raised one for every
// reopening in a store's history; review 80).
TEST_F(ProjectionTest, AReopeningIsToldToTheAssigneeAndTheSupervisors) {
  Must(
      service_->AssignOfficer("admin", "santai", R"({"officer":"sup-1","role":"supervisor"})", ""));
  const std::string earlier = NewCase();  // 2026-11-22: before the rule
  Must(Act(earlier, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(earlier, "accept"));
  Must(Act(earlier, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
  CatchUp();
  const auto sups = projector_->OpenAlerts("sup-1", 10)->size();
  Must(Act(earlier, "reopen", R"({"reason":"back"})"));
  CatchUp();
  EXPECT_EQ(projector_->OpenAlerts("sup-1", 10)->size(), sups);

  clock_.Advance(14 * 86400000LL);  // 2026-12-06T10:31:02.123Z
  const std::string id = NewCase();
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(id, "accept"));
  Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
  CatchUp();
  const auto before = projector_->OpenAlerts("officer-7", 10)->size();
  Must(Act(id, "reopen", R"({"reason":"the pipe leaks again"})", "operator-1"));
  CatchUp();
  for (const char* person : {"officer-7", "sup-1"}) {
    auto told = projector_->OpenAlerts(person, 10);
    ASSERT_TRUE(told.ok());
    ASSERT_FALSE(told->empty());
    EXPECT_EQ(At(told->at(0), "/kind"), "\"reopened\"") << person;
    EXPECT_NE(told->at(0).find("is reopened: the pipe leaks again"), std::string::npos) << person;
  }
  EXPECT_EQ(projector_->OpenAlerts("officer-7", 10)->size(), before + 1);
  ExpectRebuildEqualsLive();
}

// No one is told of their own action: a case they reported, assigned to
// themselves, escalated or reopened (black-box probe 84 found each on the
// actor's phone); what falls due later — a callback — they are told of.
TEST_F(ProjectionTest, NoOneIsAlertedOfTheirOwnAction) {
  Must(
      service_->AssignOfficer("admin", "santai", R"({"officer":"sup-1","role":"supervisor"})", ""));
  clock_.Advance(14 * 86400000LL);  // 2026-12-06: reopenings alert
  const auto kinds = [&](const std::string& person) {
    CatchUp();
    std::vector<std::string> out;
    auto open = projector_->OpenAlerts(person, 20);
    EXPECT_TRUE(open.ok());
    for (const std::string& a : *open) out.push_back(At(a, "/kind"));
    return out;
  };
  const std::string id = Must(service_->Report("officer-7", ReportBody(), "")).case_id;
  EXPECT_TRUE(kinds("officer-7").empty());
  EXPECT_EQ(kinds("sup-1"), std::vector<std::string>{"\"new_case\""});
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(id, "accept"));
  Must(Act(id, "escalate", R"({"reason":"r"})"));
  Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
  EXPECT_EQ(kinds("officer-7"), std::vector<std::string>{"\"callback_due\""});
  Must(Act(id, "reopen", R"({"reason":"back"})", "sup-1"));
  EXPECT_EQ(kinds("officer-7"), (std::vector<std::string>{"\"reopened\"", "\"callback_due\""}));
  EXPECT_EQ(kinds("sup-1"), std::vector<std::string>{"\"new_case\""});  // not its own reopening
  ExpectRebuildEqualsLive();
}

// An assignee replaced is told the case is no longer theirs (black-box probe
// 84: they kept "assigned to you" and learned of it from a 409), from the
// day the rule came on (a rebuild raises none for older reassignments).
TEST_F(ProjectionTest, AnAssigneeReplacedIsToldSo) {
  PutOnGrid("officer-8");
  const std::string earlier = OperatorsCase();  // 2026-11-22: before the rule
  Must(Act(earlier, "assign", R"({"assignee":"officer-7"})", "operator-1"));
  Must(Act(earlier, "assign", R"({"assignee":"officer-8"})", "operator-1"));
  CatchUp();
  const auto count = [&](const std::string& person) {
    CatchUp();
    return projector_->OpenAlerts(person, 50)->size();
  };
  const std::size_t before = count("officer-7");
  clock_.Advance(15 * 86400000LL);  // 2026-12-07: after the rule came
  const std::string id = OperatorsCase();
  Must(Act(id, "assign", R"({"assignee":"officer-7"})", "operator-1"));
  Must(Act(id, "accept"));
  EXPECT_EQ(count("officer-7"), before + 2);  // new case, assigned
  Must(Act(id, "assign", R"({"assignee":"officer-8"})", "operator-1"));
  CatchUp();
  auto told = projector_->OpenAlerts("officer-7", 1);
  ASSERT_TRUE(told.ok() && told->size() == 1u);
  EXPECT_EQ(At(told->at(0), "/kind"), "\"unassigned\"");
  EXPECT_NE(told->at(0).find("is reassigned to officer-8; it is no longer yours"),
            std::string::npos)
      << told->at(0);
  EXPECT_EQ(At(projector_->OpenAlerts("officer-8", 1)->at(0), "/kind"), "\"assigned\"");
  EXPECT_EQ(count("officer-7"), before + 3);
  ExpectRebuildEqualsLive();
}

// An escalation is told to the officers covering the cell too (DOMAIN.md:
// an officer's alerts for their own grids include escalations; black-box
// probe 84 found only the assignee heard), from the hour the rule came.
TEST_F(ProjectionTest, AnEscalationIsToldToTheOfficersOfTheCell) {
  PutOnGrid("officer-8");
  const auto escalations = [&](const std::string& person) {
    CatchUp();
    auto open = projector_->OpenAlerts(person, 50);
    EXPECT_TRUE(open.ok());
    return std::count_if(open->begin(), open->end(),
                         [](const std::string& a) { return At(a, "/kind") == "\"escalation\""; });
  };
  const std::string earlier = CaseInProgress();  // assigned to officer-7
  Must(Act(earlier, "escalate", R"({"reason":"r"})", "operator-1"));
  EXPECT_EQ(escalations("officer-8"), 0);  // before the rule
  clock_.Advance(15 * 86400000LL);
  const std::string id = CaseInProgress();
  Must(Act(id, "escalate", R"({"reason":"bigger"})", "operator-1"));
  EXPECT_EQ(escalations("officer-8"), 1);
  EXPECT_EQ(escalations("officer-7"), 2);  // the assignee, as before
  ExpectRebuildEqualsLive();
}

// What falls due on a case in an officer's cell — a deadline's warning and
// miss, a callback — is told to that officer as well as to the grid worker
// it is assigned to (DOMAIN.md: an officer's alerts for their own grids
// include "callbacks due, deadlines about to break"; review 115 found the
// cell's officer heard nothing of them), from the hour the rule came.
TEST_F(ProjectionTest, WhatFallsDueIsToldToTheOfficersOfTheCell) {
  Must(service_->AssignOfficer("admin", "santai/tongchuan/a03/g12",
                               R"({"officer":"gw-1","role":"grid_worker"})", ""));
  const auto kinds = [&](const std::string& person, const std::string& id) {
    CatchUp();
    std::vector<std::string> out;
    auto open = projector_->OpenAlerts(person, 50);
    EXPECT_TRUE(open.ok());
    for (const std::string& a : *open) {
      if (At(a, "/case_id") == "\"" + id + "\"") out.push_back(At(a, "/kind"));
    }
    return out;
  };
  // Walks a case assigned to gw-1 through an accept deadline warned and
  // missed, then to its resolution and the callback it owes.
  const auto walk = [&] {
    const std::string id =
        Must(service_->Report("operator-1",
                              ReportBody("santai/tongchuan/a03/g12", "urgent", "incident"), ""))
            .case_id;  // an incident: no repeat dispute in place of new_case
    Must(Act(id, "assign", R"({"assignee":"gw-1"})", "operator-1"));
    const std::int64_t due = Load(id).Deadline(DeadlineKind::kAccept)->due_at;
    Must(service_->RecordDeadlineApproaching(id, DeadlineKind::kAccept, due));
    clock_.Set(due);
    Must(service_->RecordDeadlineMissed(id, DeadlineKind::kAccept, due));
    Must(Act(id, "accept", "{}", "gw-1"));
    Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"s"})", "gw-1"));
    return id;
  };
  const std::vector<std::string> owed = {"\"callback_due\"", "\"deadline_missed\"",
                                         "\"deadline_approaching\""};
  const std::string earlier = walk();  // 2026-11-22: before the rule
  EXPECT_EQ(kinds("officer-7", earlier), std::vector<std::string>{"\"new_case\""});
  EXPECT_EQ(kinds("gw-1", earlier).size(), 5u);  // new case, assigned, and what is owed
  clock_.Set(1796670000000);                     // 2026-12-07T19:00:00Z: the rule came
  const std::string id = walk();
  std::vector<std::string> officers = owed;
  officers.push_back("\"new_case\"");
  EXPECT_EQ(kinds("officer-7", id), officers);
  std::vector<std::string> workers = owed;
  workers.insert(workers.end(), {"\"assigned\"", "\"new_case\""});
  EXPECT_EQ(kinds("gw-1", id), workers);  // as before
  ExpectRebuildEqualsLive();
}

// A warning of a case no one handles yet, in a cell no officer covers, goes
// to the supervisors (black-box probe 84: an urgent case there warned no
// one before its deadline passed); where an officer covers it, to them.
// A missed deadline is the supervisors' to hear even when the case is
// assigned and its cell's officer hears it too (mutation testing, review 116).
TEST_F(ProjectionTest, AMissedDeadlineOfAnAssignedCaseIsToldToTheSupervisors) {
  Must(
      service_->AssignOfficer("admin", "santai", R"({"officer":"sup-1","role":"supervisor"})", ""));
  const std::string id = OperatorsCase();
  Must(Act(id, "assign", R"({"assignee":"officer-7"})", "operator-1"));
  const std::int64_t due = Load(id).Deadline(DeadlineKind::kAccept)->due_at;
  clock_.Set(due);
  Must(service_->RecordDeadlineMissed(id, DeadlineKind::kAccept, due));
  CatchUp();
  auto told = projector_->OpenAlerts("sup-1", 50);
  ASSERT_TRUE(told.ok());
  ASSERT_FALSE(told->empty());
  EXPECT_EQ(At(told->at(0), "/kind"), "\"deadline_missed\"");
  EXPECT_EQ(At(told->at(0), "/case_id"), "\"" + id + "\"");
}

TEST_F(ProjectionTest, AWarningWithNoOfficerToHearItGoesToTheSupervisors) {
  Must(
      service_->AssignOfficer("admin", "santai", R"({"officer":"sup-1","role":"supervisor"})", ""));
  const auto report_bare = [&] {
    return Must(
               service_->Report("operator-1", ReportBody("santai/tongchuan/a03/g13", "urgent"), ""))
        .case_id;
  };
  // Before the rule came (2026-12-06T12:00Z), such a warning reached no one,
  // and a rebuild raises none for it.
  const std::string earlier = report_bare();
  CatchUp();
  const std::size_t before = projector_->OpenAlerts("sup-1", 50)->size();
  Must(service_->RecordDeadlineApproaching(earlier, DeadlineKind::kAccept,
                                           Load(earlier).Deadline(DeadlineKind::kAccept)->due_at));
  CatchUp();
  EXPECT_EQ(projector_->OpenAlerts("sup-1", 50)->size(), before);
  clock_.Advance(15 * 86400000LL);
  const std::string bare = report_bare();
  const std::string covered = OperatorsCase();  // officer-7's cell
  CatchUp();
  const std::size_t sups = projector_->OpenAlerts("sup-1", 50)->size();
  for (const std::string& id : {bare, covered}) {
    const std::int64_t due = Load(id).Deadline(DeadlineKind::kAccept)->due_at;
    Must(service_->RecordDeadlineApproaching(id, DeadlineKind::kAccept, due));
  }
  CatchUp();
  auto told = projector_->OpenAlerts("sup-1", 50);
  ASSERT_TRUE(told.ok());
  ASSERT_EQ(told->size(), sups + 1);
  EXPECT_EQ(At(told->at(0), "/kind"), "\"deadline_approaching\"");
  EXPECT_EQ(At(told->at(0), "/case_id"), "\"" + bare + "\"");
  EXPECT_EQ(At(projector_->OpenAlerts("officer-7", 1)->at(0), "/case_id"), "\"" + covered + "\"");
  ExpectRebuildEqualsLive();
}

// A rebuild holds alerts in memory and writes them to a table file; holding
// at most one, in batches of two events, it writes them out after nearly
// every batch, so that acknowledgments meet both held and written alerts.
TEST_F(ProjectionTest, ARebuildHoldingFewAlertsWritesThemOutAndStillEqualsLive) {
  Must(
      service_->AssignOfficer("admin", "santai", R"({"officer":"sup-1","role":"supervisor"})", ""));
  auto acknowledge_newest = [&](const std::string& person) {
    CatchUp();
    auto open = projector_->OpenAlerts(person, 1);
    ASSERT_TRUE(open.ok() && open->size() == 1u);
    const std::string id = At(open->at(0), "/id");
    Must(service_->AcknowledgeAlert(person, id.substr(1, id.size() - 2)));
  };
  std::vector<std::string> cases;
  for (int i = 0; i < 6; ++i) {
    cases.push_back(OperatorsCase());
    acknowledge_newest(i % 2 == 0 ? "officer-7" : "sup-1");  // right after it was raised
    // One event more between the third and the fourth case: of the alerts
    // acknowledged right away, some are in their acknowledgment's batch
    // (held), the others written out before it.
    if (i == 2) Must(Act(cases[0], "note", R"({"text":"seen"})"));
  }
  Must(Act(cases[0], "assign", R"({"assignee":"officer-7"})", "operator-1"));
  acknowledge_newest("officer-7");
  acknowledge_newest("sup-1");  // raised long before
  CatchUp();

  ProjectorOptions options;
  options.path = dir_.Sub("rebuilt");
  options.snapshot_every = 8;
  options.rebuild = true;
  options.batch_events = 2;
  options.rebuild_alerts_held = 1;
  auto rebuild = Projector::Open(store_.get(), options);
  ASSERT_TRUE(rebuild.ok()) << rebuild.status().ToString();
  ASSERT_TRUE((*rebuild)->CatchUp().ok());
  ASSERT_TRUE((*rebuild)->Finish().ok());
  rebuild->reset();
  auto rebuilt = ViewStore::Open(dir_.Sub("rebuilt"));
  ASSERT_TRUE(rebuilt.ok());
  Status same = CompareViews(projector_->views(), **rebuilt);
  EXPECT_TRUE(same.ok()) << same.ToString();
  std::size_t open = 0;
  ASSERT_TRUE((*rebuilt)->ForEach(kViewAlerts, [&](auto, auto) { ++open; }).ok());
  EXPECT_EQ(open, 13u - 8u);  // two alerts per case (officer-7, sup-1), an assignment; 8 acks
  for (const auto& entry : std::filesystem::directory_iterator(dir_.Sub("rebuilt"))) {
    EXPECT_FALSE(entry.path().filename().string().starts_with("rebuild-")) << entry.path();
  }
}

// What a rebuild holds unwritten (case states, alerts) does not survive a
// failed batch, so a rebuild does not go on after one.
TEST_F(ProjectionTest, ARebuildDoesNotGoOnAfterAFailedBatch) {
  NewCase();
  auto events = store_->ReadAll(0, 1000);
  ASSERT_TRUE(events.ok() && events->size() > 1u);
  ProjectorOptions options;
  options.path = dir_.Sub("rebuilt");
  options.rebuild = true;
  auto rebuild = Projector::Open(store_.get(), options);
  ASSERT_TRUE(rebuild.ok()) << rebuild.status().ToString();
  const std::vector<RecordedEvent> gap(events->begin() + 1, events->end());
  EXPECT_EQ((*rebuild)->Apply(gap).code(), StatusCode::kInternal);
  const Status again = (*rebuild)->Apply(*events);
  EXPECT_EQ(again.code(), StatusCode::kInternal);
  EXPECT_NE(again.message().find("cannot go on"), std::string::npos) << again.ToString();
  EXPECT_EQ((*rebuild)->Finish().code(), StatusCode::kInternal);
}

// A Finish that failed is final, as a failed batch is: what it wrote out
// before failing is no longer held, so a second Finish would have deleted
// the unfinished mark over views missing their last case views (review 96).
TEST_F(ProjectionTest, ARebuildWhoseFinishFailedCannotFinishAgain) {
  NewCase();
  ProjectorOptions options;
  options.path = dir_.Sub("rebuilt");
  options.rebuild = true;
  auto rebuild = Projector::Open(store_.get(), options);
  ASSERT_TRUE(rebuild.ok()) << rebuild.status().ToString();
  ASSERT_TRUE((*rebuild)->CatchUp().ok());
  // The case views' table file cannot be made: a folder holds its name.
  const std::string in_the_way = options.path + "/rebuild-cases-0.sst";
  std::filesystem::create_directories(in_the_way + "/x");
  const Status failed = (*rebuild)->Finish();
  EXPECT_FALSE(failed.ok());
  std::filesystem::remove_all(in_the_way);
  const Status again = (*rebuild)->Finish();
  EXPECT_EQ(again.code(), StatusCode::kInternal) << again.ToString();
  EXPECT_NE(again.message().find("cannot go on"), std::string::npos) << again.ToString();
  rebuild->reset();
  ProjectorOptions live;
  live.path = options.path;
  EXPECT_EQ(Projector::Open(store_.get(), live).status().code(), StatusCode::kCorruption);
}

TEST_F(ProjectionTest, ListsCasesOfASubtreePagedAndFiltered) {
  Must(service_->DefineCell("admin", R"({"cell":"santai/tongchuan/a03/g1","name":"x"})", ""));
  for (int i = 0; i < 5; ++i) ReportIn("santai/tongchuan/a03/g12");
  ReportIn("santai/tongchuan/a03/g1");
  const std::string hazard = ReportIn("santai/tongchuan/a03/g13", "hazard");
  CatchUp();
  CaseQuery q;
  q.cell = "santai/tongchuan/a03/g12";
  q.limit = 2;
  std::size_t seen = 0;
  for (int page = 0; page < 10; ++page) {
    auto p = projector_->ListCases(q);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    seen += p->views.size();
    for (const auto& v : p->views) EXPECT_EQ(At(v, "/cell"), "\"santai/tongchuan/a03/g12\"");
    if (!p->next) break;
    q.after = *p->next;
  }
  EXPECT_EQ(seen, 5u);  // g1 is not under g12
  CaseQuery hazards;
  hazards.cell = "santai";
  hazards.kind = CaseKind::kHazard;
  auto h = projector_->ListCases(hazards);
  ASSERT_EQ(h->views.size(), 1u);
  EXPECT_EQ(At(h->views[0], "/case_id"), "\"" + hazard + "\"");
  CaseQuery all;
  all.state = CaseStatus::kReported;
  EXPECT_EQ(projector_->ListCases(all)->views.size(), 7u);
}

// The board and the lists by an open state read the open cases' index
// (open_cases), which a closing leaves and a reopening enters again; a
// rebuild whose small cache wrote a case's view while it was open, and then
// closed it in its last views, leaves it out too.
TEST_F(ProjectionTest, TheOpenCasesIndexFollowsClosingAndReopening) {
  auto ids = [&](CaseQuery q) {
    std::vector<std::string> out;
    auto page = projector_->ListCases(q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (!page.ok()) return out;
    for (const auto& v : page->views) out.push_back(At(v, "/case_id"));
    return out;
  };
  auto quoted = [](const std::string& id) { return "\"" + id + "\""; };
  auto open_entries = [&] {
    std::size_t n = 0;
    EXPECT_TRUE(projector_->views().ForEach(kViewOpenCases, [&](auto, auto) { ++n; }).ok());
    return n;
  };
  const std::string closed = CaseInProgress();
  const std::string working = CaseInProgress();
  const std::string reported = NewCase();
  Must(Act(closed, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
  Must(Act(closed, "complete-callback",
           R"({"speed":"satisfied","attitude":"satisfied","outcome":"satisfied","comment":"c"})"));
  Must(Act(closed, "close"));
  CatchUp();
  CaseQuery board;
  board.not_closed = true;
  EXPECT_EQ(ids(board), (std::vector<std::string>{quoted(working), quoted(reported)}));
  CaseQuery by_state;
  by_state.state = CaseStatus::kClosed;
  EXPECT_EQ(ids(by_state), std::vector<std::string>{quoted(closed)});
  by_state.state = CaseStatus::kInProgress;
  EXPECT_EQ(ids(by_state), std::vector<std::string>{quoted(working)});
  EXPECT_EQ(ids(CaseQuery{}).size(), 3u);
  EXPECT_EQ(open_entries(), 2u);
  // A rebuild that keeps one case state in memory writes `closed` while open
  // (the later cases push it out), and its last views close it.
  ASSERT_TRUE(RebuildViews(store_.get(), dir_.Sub("one"), nullptr, UINT64_MAX, 8, 1).ok());
  {
    auto rebuilt = ViewStore::Open(dir_.Sub("one"));
    ASSERT_TRUE(rebuilt.ok());
    Status same = CompareViews(projector_->views(), **rebuilt);
    EXPECT_TRUE(same.ok()) << same.ToString();
  }
  Must(Act(closed, "reopen", R"({"reason":"they argue again"})"));
  CatchUp();
  EXPECT_EQ(ids(board).size(), 3u);
  EXPECT_EQ(open_entries(), 3u);
  ExpectRebuildEqualsLive();
}

// A rebuild whose last views are all closed cases never written before has
// no open case to index and no earlier entry to delete.
TEST_F(ProjectionTest, ARebuildOfClosedCasesAloneIndexesNoOpenCase) {
  for (int i = 0; i < 2; ++i) {
    const std::string id = CaseInProgress();
    Must(Act(id, "resolve", R"({"resolution":"handled_on_site","summary":"s"})"));
    Must(
        Act(id, "complete-callback",
            R"({"speed":"satisfied","attitude":"satisfied","outcome":"satisfied","comment":"c"})"));
    Must(Act(id, "close"));
  }
  CatchUp();
  ExpectRebuildEqualsLive();
  auto rebuilt = ViewStore::Open(dir_.Sub("rebuilt"));
  ASSERT_TRUE(rebuilt.ok());
  std::size_t open = 0, indexed = 0;
  ASSERT_TRUE((*rebuilt)->ForEach(kViewOpenCases, [&](auto, auto) { ++open; }).ok());
  ASSERT_TRUE((*rebuilt)->ForEach(kViewCellCases, [&](auto, auto) { ++indexed; }).ok());
  EXPECT_EQ(open, 0u);
  EXPECT_EQ(indexed, 2u);
  for (const auto& entry : std::filesystem::directory_iterator(dir_.Sub("rebuilt"))) {
    EXPECT_FALSE(entry.path().filename().string().starts_with("rebuild-")) << entry.path();
  }
}

TEST_F(ProjectionTest, ListsCasesOfSeveralSubtreesTogetherInOrderEachOnce) {
  // g1-x's keys sort between g1's and g12's; a subtree inside another is one.
  for (const char* cell : {"santai/tongchuan/a03/g1", "santai/tongchuan/a03/g1-x"}) {
    Must(
        service_->DefineCell("admin", std::string(R"({"cell":")") + cell + R"(","name":"x"})", ""));
  }
  std::vector<std::string> wanted;
  for (int i = 0; i < 3; ++i) wanted.push_back(ReportIn("santai/tongchuan/a03/g1"));
  for (int i = 0; i < 2; ++i) ReportIn("santai/tongchuan/a03/g1-x");
  for (int i = 0; i < 2; ++i) ReportIn("santai/tongchuan/a03/g12");
  for (int i = 0; i < 2; ++i) wanted.push_back(ReportIn("santai/tongchuan/a03/g13"));
  CatchUp();
  auto list = [&](std::vector<std::string> cells, std::size_t limit) {
    CaseQuery q;
    q.cells = std::move(cells);
    q.limit = limit;
    std::vector<std::string> ids;
    for (int page = 0; page < 20; ++page) {
      auto p = projector_->ListCases(q);
      EXPECT_TRUE(p.ok()) << p.status().ToString();
      if (!p.ok()) break;
      for (const auto& v : p->views) {
        const std::string id = At(v, "/case_id");
        ids.push_back(id.substr(1, id.size() - 2));
      }
      if (!p->next) break;
      q.after = *p->next;
    }
    return ids;
  };
  EXPECT_EQ(list({"santai/tongchuan/a03/g13", "santai/tongchuan/a03/g1"}, 2), wanted);
  EXPECT_EQ(list({"santai/tongchuan/a03/g1", "santai/tongchuan/a03/g13"}, 500), wanted);
  EXPECT_EQ(list({"santai/tongchuan/a03/g12", "santai/tongchuan/a03"}, 3).size(), 9u);
}

TEST_F(ProjectionTest, RestartResumesFromTheCheckpointAndEqualsARebuild) {
  for (int i = 0; i < 5; ++i) CaseInProgress();
  CatchUp();
  const Position first = projector_->position();
  OpenProjector();  // as after a restart
  EXPECT_EQ(projector_->position(), first);
  for (int i = 0; i < 5; ++i) NewCase();
  CatchUp();
  ASSERT_NO_FATAL_FAILURE(ExpectRebuildEqualsLive());
}

// Older builds' raw appends could define a cell before its parent: the
// fold, in the log's order, refused it. A restart's grid, the as_of views
// and the grid's history must refuse it alike (review 96: the restart took
// the grid in the order of the streams' names, parents first, and as_of took
// the stream's first event for the definition).
TEST_F(ProjectionTest, ACellDefinedBeforeItsParentIsNoCellAfterARestartOrAsOf) {
  auto raw = [&](const std::string& stream, const std::string& type, const std::string& data) {
    AppendRequest r{stream, ExpectedVersion::Any(), "admin", {}};
    r.events.push_back({"", type, data});
    ASSERT_TRUE(store_->Append(std::move(r)).ok());
  };
  raw("grid/zz/child", "GridCellDefined", R"({"cell":"zz/child","name":"c","level":2})");
  raw("grid/zz", "GridCellDefined", R"({"cell":"zz","name":"z","level":1})");
  const Position defined = store_->Head().position;
  CatchUp();
  EXPECT_EQ(projector_->Dashboard("zz", 0).status().code(), StatusCode::kOk);
  EXPECT_EQ(projector_->Dashboard("zz/child", 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(projector_->DashboardAsOf("zz/child", defined).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(GridCellAt(*store_, "zz/child", defined).status().code(), StatusCode::kNotFound);
  auto children = GridChildrenAt(*store_, "zz", defined, 10);
  ASSERT_TRUE(children.ok()) << children.status().ToString();
  EXPECT_TRUE(children->empty());

  OpenProjector();  // as after a restart
  raw("grid/zz/child", "OfficerAssignedToCell",
      R"({"cell":"zz/child","officer":"officer-9","role":"officer"})");
  raw("case/C-20261122-900001", "CaseReported", ReportBody("santai/tongchuan/a03/g12"));
  CatchUp();
  EXPECT_EQ(projector_->Dashboard("zz/child", 0).status().code(), StatusCode::kNotFound)
      << "after a restart the cell the fold refused is defined";
  ASSERT_NO_FATAL_FAILURE(ExpectRebuildEqualsLive());

  // Defined again once its parent is, it is a cell from then on.
  raw("grid/zz/child", "GridCellDefined", R"({"cell":"zz/child","name":"c","level":2})");
  const Position again = store_->Head().position;
  CatchUp();
  EXPECT_EQ(projector_->Dashboard("zz/child", 0).status().code(), StatusCode::kOk);
  EXPECT_EQ(projector_->DashboardAsOf("zz/child", again).status().code(), StatusCode::kOk);
  EXPECT_EQ(projector_->DashboardAsOf("zz/child", again - 1).status().code(),
            StatusCode::kNotFound);
  auto at = GridCellAt(*store_, "zz/child", again);
  ASSERT_TRUE(at.ok()) << at.status().ToString();
  EXPECT_EQ(at->defined_at, again);
  children = GridChildrenAt(*store_, "zz", again, 10);
  ASSERT_TRUE(children.ok());
  EXPECT_EQ(*children, std::vector<std::string>{"zz/child"});
  OpenProjector();
  EXPECT_EQ(projector_->Dashboard("zz/child", 0).status().code(), StatusCode::kOk);
  std::filesystem::remove_all(dir_.Sub("rebuilt"));
  ASSERT_NO_FATAL_FAILURE(ExpectRebuildEqualsLive());
}

TEST_F(ProjectionTest, ASecondReportOfACaseChangesNothingButItsVersion) {
  // Older builds let a raw append write one; the store itself takes any
  // event, so write it there, as those builds did.
  const std::string id = NewCase();  // in g12
  CatchUp();
  const std::string before = Dash("santai/tongchuan/a03/g12");
  const auto alerts = projector_->OpenAlerts("officer-7", 10)->size();
  AppendRequest again{CaseStream(id), ExpectedVersion::Any(), "admin", {}};
  again.events.push_back({"", "CaseReported", ReportBody("santai/tongchuan/a03/g13")});
  ASSERT_TRUE(store_->Append(std::move(again)).ok());
  const std::string view = View(id);
  EXPECT_EQ(At(view, "/cell"), "\"santai/tongchuan/a03/g12\"") << view;
  EXPECT_EQ(At(view, "/version"), "2") << view;
  EXPECT_EQ(At(Dash("santai/tongchuan/a03/g12"), "/open/total"), At(before, "/open/total"));
  EXPECT_EQ(At(Dash("santai/tongchuan/a03/g12"), "/totals/reported"),
            At(before, "/totals/reported"));
  EXPECT_EQ(At(Dash("santai/tongchuan/a03/g13"), "/open/total"), "0");
  EXPECT_EQ(projector_->OpenAlerts("officer-7", 10)->size(), alerts);
  // The case still takes commands, at its new version.
  Must(Act(id, "note", R"({"text":"after"})"));
  EXPECT_EQ(At(View(id), "/version"), "3");
  // And a dashboard as of the second report, and a rebuild, agree.
  auto as_of = projector_->DashboardAsOf("santai/tongchuan/a03/g12", store_->Head().position);
  ASSERT_TRUE(as_of.ok()) << as_of.status().ToString();
  EXPECT_EQ(At(*as_of, "/open/total"), At(before, "/open/total"));
  ASSERT_NO_FATAL_FAILURE(ExpectRebuildEqualsLive());
}

TEST_F(ProjectionTest, AMissRepeatedByARawAppendIsCountedOnce) {
  // The engine writes a deadline's miss once; a raw append may write it
  // again, which changes nothing but the case's version.
  const std::string cell = "santai/tongchuan/a03/g12";
  const std::string id = NewCase();  // in g12
  auto loaded = service_->LoadCase(id);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const CaseDeadline* accept = loaded->Deadline(DeadlineKind::kAccept);
  ASSERT_NE(accept, nullptr);
  const std::int64_t due = accept->due_at;
  const std::string before = Dash(cell);
  clock_.Set(due);
  Must(service_->RecordDeadlineMissed(id, DeadlineKind::kAccept, due));
  const std::string once = Dash(cell);
  ASSERT_EQ(std::stoi(At(once, "/deadlines_missed")),
            std::stoi(At(before, "/deadlines_missed")) + 1);
  const auto alerts = projector_->OpenAlerts("officer-7", 100)->size();
  const std::string version = At(View(id), "/version");

  AppendRequest again{CaseStream(id), ExpectedVersion::Any(), "admin", {}};
  again.events.push_back(
      {"", "DeadlineMissed", R"({"deadline":"accept","due_at":")" + FormatTimestamp(due) + "\"}"});
  ASSERT_TRUE(store_->Append(std::move(again)).ok());
  const std::string twice = Dash(cell);
  EXPECT_EQ(At(twice, "/deadlines_missed"), At(once, "/deadlines_missed")) << twice;
  EXPECT_EQ(At(twice, "/deadlines_missed_by_kind/accept"),
            At(once, "/deadlines_missed_by_kind/accept"));
  EXPECT_EQ(At(Dash(""), "/deadlines_missed"), At(once, "/deadlines_missed"));
  EXPECT_EQ(projector_->OpenAlerts("officer-7", 100)->size(), alerts);
  EXPECT_EQ(std::stoi(At(View(id), "/version")), std::stoi(version) + 1);
  EXPECT_EQ(At(View(id), "/deadlines/0/missed"), "true");
  // The same as of the repeat, and in a rebuild.
  auto as_of = projector_->DashboardAsOf(cell, store_->Head().position);
  ASSERT_TRUE(as_of.ok()) << as_of.status().ToString();
  EXPECT_EQ(At(*as_of, "/deadlines_missed"), At(once, "/deadlines_missed"));
  ASSERT_NO_FATAL_FAILURE(ExpectRebuildEqualsLive());
}

// A raw append may write the miss of a deadline the case met; it changes
// nothing (the case view said both met and missed, and the dashboard counted
// a miss; black-box probe, session 23).
TEST_F(ProjectionTest, AMissOfADeadlineMetWrittenByARawAppendCountsNothing) {
  const std::string cell = "santai/tongchuan/a03/g12";
  const std::string id = NewCase();
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(id, "accept"));
  auto loaded = service_->LoadCase(id);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const CaseDeadline* accept = loaded->Deadline(DeadlineKind::kAccept);
  ASSERT_TRUE(accept != nullptr && accept->met);
  ASSERT_TRUE(projector_->CatchUp().ok());
  const std::string before = Dash(cell);
  const auto alerts = projector_->OpenAlerts("officer-7", 100)->size();
  AppendRequest miss{CaseStream(id), ExpectedVersion::Any(), "admin", {}};
  miss.events.push_back(
      {"", "DeadlineMissed",
       R"({"deadline":"accept","due_at":")" + FormatTimestamp(accept->due_at) + "\"}"});
  ASSERT_TRUE(store_->Append(std::move(miss)).ok());
  const std::string after = Dash(cell);
  EXPECT_EQ(At(after, "/deadlines_missed"), At(before, "/deadlines_missed")) << after;
  EXPECT_EQ(projector_->OpenAlerts("officer-7", 100)->size(), alerts);
  const std::string view = View(id);
  EXPECT_EQ(At(view, "/deadlines/0/deadline"), "\"accept\"") << view;
  EXPECT_EQ(At(view, "/deadlines/0/met"), "true");
  EXPECT_EQ(At(view, "/deadlines/0/missed"), "false");
  auto as_of = projector_->DashboardAsOf(cell, store_->Head().position);
  ASSERT_TRUE(as_of.ok()) << as_of.status().ToString();
  EXPECT_EQ(At(*as_of, "/deadlines_missed"), At(before, "/deadlines_missed"));
  ASSERT_NO_FATAL_FAILURE(ExpectRebuildEqualsLive());
}

TEST_F(ProjectionTest, ADashboardReadWhileABatchIsFoldedIsAsOfThePositionItNames) {
  // A batch folds its events into the dashboards one by one; a read in
  // between must still be the dashboard as of the position it names.
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < 100; ++i) ReportIn("santai/tongchuan/a03/g12");
    });
  }
  for (auto& w : writers) w.join();
  std::atomic<bool> done{false};
  std::vector<std::string> reads;
  std::thread reader([&] {
    do {  // at least one read, however late the thread starts
      auto d = projector_->Dashboard("", clock_.NowMillis());
      if (d.ok()) reads.push_back(*d);
    } while (!done.load());
  });
  ASSERT_TRUE(projector_->CatchUp().ok());
  done = true;
  reader.join();
  ASSERT_FALSE(reads.empty());
  std::map<std::string, std::string> as_of;  // position -> reported then
  for (const std::string& read : reads) {
    const std::string position = At(read, "/position");
    if (!as_of.contains(position)) {
      auto then = projector_->DashboardAsOf("", std::stoull(position));
      ASSERT_TRUE(then.ok()) << then.status().ToString();
      as_of[position] = At(*then, "/totals/reported");
    }
    ASSERT_EQ(At(read, "/totals/reported"), as_of[position]) << "at position " << position;
  }
}

TEST_F(ProjectionTest, AnEventOfAForeignTypeInACaseStreamIsPassedOver) {
  // Older builds let a raw append put one there; write it as they did.
  const std::string id = NewCase();
  AppendRequest foreign{CaseStream(id), ExpectedVersion::Any(), "admin", {}};
  foreign.events.push_back({"", "Imported", R"({"x":1})"});
  ASSERT_TRUE(store_->Append(std::move(foreign)).ok());
  const Position passed = store_->Head().position;
  // The case is still read and acted on, at the stream's version.
  auto loaded = service_->LoadCase(id);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->version, 2u);
  EXPECT_EQ(At(View(id), "/version"), "2");
  Must(Act(id, "note", R"({"text":"after"})"));
  EXPECT_EQ(At(View(id), "/version"), "3");
  auto as_of = projector_->CaseViewAsOf(id, passed);
  ASSERT_TRUE(as_of.ok()) << as_of.status().ToString();
  EXPECT_EQ(At(*as_of, "/version"), "2");
  ASSERT_NO_FATAL_FAILURE(ExpectRebuildEqualsLive());
}

TEST_F(ProjectionTest, LiveThreadKeepsViewsCurrent) {
  std::atomic<int> batches{0};
  ASSERT_TRUE(projector_
                  ->Start([&](const ViewChanges& c) {
                    if (!c.cases.empty()) ++batches;
                  })
                  .ok());
  const auto written = Must(service_->Report("officer-7", ReportBody(), ""));
  ASSERT_TRUE(projector_->WaitFor(written.position, std::chrono::seconds(10)));
  auto view = projector_->CaseView(written.case_id);
  ASSERT_TRUE(view.ok() && view->has_value());
  // The listener runs on the projector's thread just after the views land.
  for (int i = 0; i < 500 && batches.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(batches.load(), 1);
  projector_->Stop();
}

// With batch_spacing, what commits while the views wait out the spacing is
// folded in one batch (one write of each view for all of it), and every
// event is still folded, in order, as the views equal a rebuild.
TEST_F(ProjectionTest, SpacedBatchesFoldWhatCommittedMeanwhileAtOnce) {
  projector_.reset();
  ProjectorOptions options;
  options.path = dir_.Sub("views");
  options.snapshot_every = 8;
  // Long enough for six fsync'd writes under ASan on a busy disk (at 1.5 s,
  // a run that took 3.6-7.2 s left little margin: the flake audit).
  options.batch_spacing = std::chrono::milliseconds(4000);
  auto opened = Projector::Open(store_.get(), options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  projector_ = std::move(opened).value();
  std::mutex mu;
  std::vector<std::pair<Position, std::size_t>> batches;  // first position, events
  ASSERT_TRUE(projector_
                  ->Start([&](const ViewChanges& c) {
                    std::lock_guard l(mu);
                    batches.emplace_back(c.events->front().position, c.events->size());
                  })
                  .ok());
  const auto first = Must(service_->Report("officer-7", ReportBody(), ""));
  ASSERT_TRUE(projector_->WaitFor(first.position, std::chrono::seconds(10)));
  // Six writes, each its own group commit, within the spacing.
  Position last = 0;
  for (int i = 0; i < 3; ++i) {
    last = Must(service_->Report("officer-7", ReportBody(), "")).position;
    last = Must(Act(first.case_id, "note", R"({"text":"n"})")).position;
  }
  ASSERT_TRUE(projector_->WaitFor(last, std::chrono::seconds(20)));
  projector_->Stop();
  {
    // The listener runs after the views land (and WaitFor returns): read
    // the batches once the thread has stopped.
    std::lock_guard l(mu);
    std::vector<std::size_t> after_first;
    for (const auto& [from, events] : batches) {
      if (from > first.position) after_first.push_back(events);
    }
    EXPECT_EQ(after_first, std::vector<std::size_t>{6});
  }
  EXPECT_EQ(At(View(first.case_id), "/notes"), "3");
  ASSERT_NO_FATAL_FAILURE(ExpectRebuildEqualsLive());
}

// Someone waiting for the views (WaitFor) does not wait out the spacing:
// the next batch starts at once (black-box probe 92: each of an auditor's
// subscribes waited a whole spacing for the one before's record).
TEST_F(ProjectionTest, AWaitForTheViewsCutsTheSpacingShort) {
  projector_.reset();
  ProjectorOptions options;
  options.path = dir_.Sub("views");
  options.batch_spacing = std::chrono::seconds(60);
  auto opened = Projector::Open(store_.get(), options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  projector_ = std::move(opened).value();
  ASSERT_TRUE(projector_->Start().ok());
  const auto first = Must(service_->Report("officer-7", ReportBody(), ""));
  ASSERT_TRUE(projector_->WaitFor(first.position, std::chrono::seconds(20)));
  // The spacing runs from here: a minute, far past the waits below.
  const auto second = Must(Act(first.case_id, "note", R"({"text":"n"})"));
  EXPECT_TRUE(projector_->WaitFor(second.position, std::chrono::seconds(20)));
  const auto third = Must(Act(first.case_id, "note", R"({"text":"n"})"));
  EXPECT_TRUE(projector_->WaitFor(third.position, std::chrono::seconds(20)));
  EXPECT_EQ(At(View(first.case_id), "/notes"), "2");
  projector_->Stop();  // at once, though the spacing has most of a minute to run
}

TEST_F(ProjectionTest, AsOfAnswersTheViewsOfAPastPosition) {
  const std::string id = NewCase();
  const Position reported = store_->Head().position;
  Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
  Must(Act(id, "accept"));
  for (int i = 0; i < 20; ++i) NewCase();  // cross a few snapshot ticks
  CatchUp();
  auto then = projector_->CaseViewAsOf(id, reported);
  ASSERT_TRUE(then.ok());
  EXPECT_EQ(At(*then, "/state"), "\"reported\"");
  auto dash_then = projector_->DashboardAsOf("santai", reported);
  ASSERT_TRUE(dash_then.ok()) << dash_then.status().ToString();
  EXPECT_EQ(At(*dash_then, "/open/total"), "1");
  EXPECT_EQ(At(*dash_then, "/position"), std::to_string(reported));
  auto dash_now = projector_->DashboardAsOf("santai", projector_->position());
  EXPECT_EQ(At(*dash_now, "/open/total"), "21");
  EXPECT_EQ(projector_->DashboardAsOf("santai", projector_->position() + 5).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(*projector_->PositionAt(testing::kStartMs - 1), 0u);
  EXPECT_EQ(*projector_->PositionAt(testing::kStartMs), store_->Head().position);
}

// A rebuild's bulk load: table files ingested into a family override what
// it held (as Finish's case views override the views cases wrote when they
// left the cache), files must be written in key order, and what a bulk-load
// store wrote reads the same once reopened without it.
TEST(CaseViewTest, MaskingLeavesNoShortNameOrNumberReadable) {
  EXPECT_EQ(MaskName("李小龙"), "李**");
  EXPECT_EQ(MaskName("Li Wei"), "L*****");
  EXPECT_EQ(MaskName("王"), "*");
  EXPECT_EQ(MaskName("x"), "*");
  EXPECT_EQ(MaskName(""), "");
  EXPECT_EQ(MaskPhone("13800000000"), "138****0000");
  // Landlines are 7 and 8 digits: at least half of a short number is hidden.
  EXPECT_EQ(MaskPhone("1234567"), "1****7");
  EXPECT_EQ(MaskPhone("12345678"), "12****78");
  EXPECT_EQ(MaskPhone("0816-1234567"), "081****4567");
  EXPECT_EQ(MaskPhone("123"), "****");
  EXPECT_EQ(MaskPhone(""), "");
  // No character is cut in two.
  EXPECT_EQ(MaskPhone("电话12345678901"), "电话1****8901");
  EXPECT_EQ(MaskPhone("电话电话"), "电****话");
}

// A rebuild keeps as many case states as a quarter of the available memory
// holds, within its bounds; the available memory is the machine's, or its
// control group's when that allows less.
TEST(RebuildMemoryTest, TheCaseCacheIsSizedToAQuarterOfTheAvailableMemory) {
  const std::string meminfo = "MemTotal:       32000000 kB\nMemAvailable:   24000000 kB\n";
  EXPECT_EQ(AvailableMemoryBytesFrom(meminfo, "", ""), 24000000ull * 1024);
  EXPECT_EQ(AvailableMemoryBytesFrom(meminfo, "max\n", "1000\n"), 24000000ull * 1024);
  EXPECT_EQ(AvailableMemoryBytesFrom(meminfo, "2147483648\n", "1073741824\n"), 1073741824ull);
  EXPECT_EQ(AvailableMemoryBytesFrom(meminfo, "1000\n", "2000\n"), 0u);  // over its limit
  EXPECT_EQ(AvailableMemoryBytesFrom("", "", ""), std::nullopt);
  EXPECT_EQ(AvailableMemoryBytesFrom("MemFree: 10 kB\n", "", ""), std::nullopt);

  // The process's own group is read, and each group above it (review 115:
  // only the hierarchy's root was, so a limit set on a container's or a
  // unit's group went unseen).
  testing::TempDir root;
  const auto put = [&](const std::string& dir, const char* file, const std::string& text) {
    std::filesystem::create_directories(root.path() + dir);
    std::ofstream(root.path() + dir + "/" + file) << text;
  };
  put("/slice", "memory.max", "3000000000\n");  // v2: the parent limits, the group does not
  put("/slice", "memory.current", "1000000000\n");
  put("/slice/unit", "memory.max", "max\n");
  put("/slice/unit", "memory.current", "500000000\n");
  EXPECT_EQ(AvailableMemoryBytesAt(root.path(), "0::/slice/unit\n", meminfo), 2000000000ull);
  put("/slice/unit", "memory.max", "1200000000\n");
  EXPECT_EQ(AvailableMemoryBytesAt(root.path(), "0::/slice/unit\n", meminfo), 700000000ull);
  EXPECT_EQ(AvailableMemoryBytesAt(root.path(), "0::/elsewhere\n", meminfo), 24000000ull * 1024);
  put("/memory/pod", "memory.limit_in_bytes", "900000000\n");  // v1's memory controller
  put("/memory/pod", "memory.usage_in_bytes", "100000000\n");
  put("/memory", "memory.limit_in_bytes", "9223372036854771712\n");
  put("/memory", "memory.usage_in_bytes", "5000000000\n");
  EXPECT_EQ(AvailableMemoryBytesAt(root.path(), "4:memory:/pod\n3:cpu:/\n0::/\n", meminfo),
            800000000ull);
  EXPECT_EQ(AvailableMemoryBytesAt(root.path(), "4:cpuacct,memory:/pod\n", meminfo), 800000000ull);
  EXPECT_EQ(AvailableMemoryBytesAt(root.path(), "", meminfo), 24000000ull * 1024);

  EXPECT_EQ(RebuildCaseCacheEntriesFor(std::nullopt), kRebuildCaseCacheEntries);
  EXPECT_EQ(RebuildCaseCacheEntriesFor(0), kRebuildCaseCacheEntries);
  EXPECT_EQ(RebuildCaseCacheEntriesFor(24ull << 30), (24ull << 30) / 4 / kRebuildCaseStateBytes);
  EXPECT_EQ(RebuildCaseCacheEntriesFor(1ull << 50), kMaxRebuildCaseCacheEntries);
  const std::size_t here = DefaultRebuildCaseCacheEntries();
  EXPECT_GE(here, kRebuildCaseCacheEntries);
  EXPECT_LE(here, kMaxRebuildCaseCacheEntries);
}

// A batch refused after some of its events were folded leaves them in the
// fold (its dashboards, its case states), though not in the views: applied
// again, they were counted twice, or (their reports taken for repeats) not
// at all. A failed fold is final; reopened, the views resume from their
// checkpoint and equal a rebuild (a white-box review of session 24).
TEST_F(ProjectionTest, AFailedBatchIsFinalAndReopenedViewsResumeFromTheirCheckpoint) {
  CatchUp();
  const Position before = store_->Head().position;
  NewCase();
  NewCase();
  auto events = store_->ReadAll(before, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_GE(events->size(), 2u);
  // Its second event is not the next position: refused after the first was folded.
  Status refused = projector_->Apply(std::vector<RecordedEvent>{(*events)[0], (*events)[0]});
  EXPECT_EQ(refused.code(), StatusCode::kInternal) << refused.ToString();
  EXPECT_EQ(projector_->position(), before);
  Status again = projector_->CatchUp();
  EXPECT_EQ(again.code(), StatusCode::kInternal) << again.ToString();
  EXPECT_NE(again.message().find("reopen"), std::string::npos) << again.message();
  OpenProjector();
  CatchUp();
  ExpectRebuildEqualsLive();
}

TEST(ViewStoreTest, IngestedTableFilesOverrideWhatTheFamilyHeld) {
  testing::TempDir dir;
  const std::string path = dir.Sub("views");
  {
    auto views = ViewStore::Open(path, /*bulk_load=*/true);
    ASSERT_TRUE(views.ok()) << views.status().ToString();
    ASSERT_TRUE((*views)->Put(kViewCases, "C-1", "old").ok());
    ASSERT_TRUE((*views)->Put(kViewCases, "C-3", "kept").ok());
    std::vector<std::string> files;
    for (const auto& [name, keys] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"a", {"C-1", "C-2"}}, {"b", {"C-4"}}}) {
      files.push_back(dir.Sub(name + ".sst"));
      auto table = (*views)->NewTableFile(kViewCases, files.back());
      ASSERT_TRUE(table.ok()) << table.status().ToString();
      for (const std::string& key : keys) ASSERT_TRUE((*table)->Put(key, "new " + key).ok());
      ASSERT_TRUE((*table)->Finish().ok());
    }
    auto unordered = (*views)->NewTableFile(kViewCases, dir.Sub("c.sst"));
    ASSERT_TRUE(unordered.ok());
    ASSERT_TRUE((*unordered)->Put("C-9", "x").ok());
    EXPECT_FALSE((*unordered)->Put("C-5", "x").ok()) << "keys out of order";
    ASSERT_TRUE((*views)->Ingest(kViewCases, files).ok());
    EXPECT_FALSE(std::filesystem::exists(files[0])) << "ingesting moves the files";
  }
  auto views = ViewStore::Open(path);
  ASSERT_TRUE(views.ok()) << views.status().ToString();
  std::map<std::string, std::string> seen;
  ASSERT_TRUE((*views)
                  ->ForEach(kViewCases,
                            [&](std::string_view k, std::string_view v) {
                              seen.emplace(std::string(k), std::string(v));
                            })
                  .ok());
  const std::map<std::string, std::string> expected = {
      {"C-1", "new C-1"}, {"C-2", "new C-2"}, {"C-3", "kept"}, {"C-4", "new C-4"}};
  EXPECT_EQ(seen, expected);
}

}  // namespace
}  // namespace casegrid
