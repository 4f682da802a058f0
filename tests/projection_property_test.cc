// Property: whatever commands run, the live views equal a rebuild from the
// log, and the views as_of any position equal a rebuild of the log cut there.
#include <gtest/gtest.h>

#include <random>

#include "engine/time_format.h"
#include "projections/case_view.h"
#include "projections/projector.h"
#include "projections/rebuild.h"
#include "tests/support/case_fixture.h"
#include "tests/support/random_commands.h"

namespace casegrid {
namespace {

class ProjectionPropertyTest : public testing::CaseTest,
                               public ::testing::WithParamInterface<unsigned> {
 protected:
  std::unique_ptr<Projector> OpenViews(const std::string& path) {
    ProjectorOptions options;
    options.path = path;
    options.snapshot_every = 16;
    auto p = Projector::Open(store_.get(), options);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  }
  // A rebuild in batches of 5 events that holds at most 2 alerts: they are
  // written out after nearly every batch, so that the random
  // acknowledgments meet alerts still held and alerts written already.
  Status RebuildHoldingFewAlerts(const std::string& path) {
    ProjectorOptions options;
    options.path = path;
    options.snapshot_every = 16;
    options.rebuild = true;
    options.batch_events = 5;
    options.rebuild_alerts_held = 2;
    ASSIGN_OR_RETURN(auto rebuild, Projector::Open(store_.get(), options));
    RETURN_IF_ERROR(rebuild->CatchUp());
    return rebuild->Finish();
  }
  // The live views equal those rebuilt at `path`.
  void ExpectEqualToRebuilt(const Projector& live, const std::string& path,
                            const std::string& what) {
    auto rebuilt = ViewStore::Open(path);
    ASSERT_TRUE(rebuilt.ok());
    Status same = CompareViews(live.views(), **rebuilt);
    ASSERT_TRUE(same.ok()) << what << ": " << same.ToString();
  }
  // Each node's dashboard as of `cut`, read at `read_ms`, equals a rebuild
  // of the log cut there read at that time (the time of the event at the
  // cut when none is given).
  void ExpectDashboardsAsOf(const Projector& live, Position cut,
                            std::optional<std::int64_t> read_ms = std::nullopt) {
    const std::string cut_path = dir_.Sub("cut-" + std::to_string(++rebuilds_));
    ASSERT_TRUE(RebuildViews(store_.get(), cut_path, nullptr, cut, 16).ok());
    auto at_cut = OpenViews(cut_path);
    ASSERT_EQ(at_cut->position(), cut);
    auto cut_event = store_->ReadAt(cut);
    ASSERT_TRUE(cut_event.ok());
    const std::int64_t at = read_ms.value_or(cut_event->recorded_at_ms);
    for (const std::string& node :
         {std::string(), std::string("santai"), std::string("santai/tongchuan"),
          std::string("santai/tongchuan/a03/g12"), std::string("santai/xinhua/b01")}) {
      auto expected = at_cut->Dashboard(node, at);
      auto actual =
          read_ms ? live.DashboardAsOf(node, cut, *read_ms) : live.DashboardAsOf(node, cut);
      if (!expected.ok()) {  // the cell was not defined yet at the cut
        ASSERT_EQ(expected.status().code(), StatusCode::kNotFound);
        ASSERT_EQ(actual.status().code(), StatusCode::kNotFound) << node << " as of " << cut;
        continue;
      }
      ASSERT_TRUE(actual.ok()) << actual.status().ToString();
      ASSERT_EQ(*actual, *expected) << "node '" << node << "' as of " << cut << " at " << at;
    }
  }
  int Pick(std::mt19937& rng, int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  }
  // An event appended raw (as an admin's import may) onto case `id`,
  // well-formed but past every rule of the lifecycle: a close of a case
  // never resolved, a second acceptance, a callback nobody owed, a deadline
  // met that was never set...
  void AppendOddEvent(std::mt19937& rng, const std::string& id) {
    auto state = service_->LoadCase(id);
    ASSERT_TRUE(state.ok());
    if (!state->exists) return;
    const std::string due = FormatTimestamp(clock_.NowMillis() + Pick(rng, -3, 3) * 3600000LL);
    const char* answers[] = {"satisfied", "neutral", "dissatisfied"};
    auto deadline = [&](const char* type) -> std::pair<std::string, std::string> {
      if (state->deadlines.empty() || Pick(rng, 0, 1) == 0) {
        const char* kinds[] = {"accept", "first_contact", "callback", "mediation"};
        return {type, std::string(R"({"deadline":")") + kinds[Pick(rng, 0, 3)] + R"(","due_at":")" +
                          due + "\"}"};
      }
      const CaseDeadline& d =
          state->deadlines[Pick(rng, 0, static_cast<int>(state->deadlines.size()) - 1)];
      return {type, std::string(R"({"deadline":")") + std::string(Name(d.kind)) +
                        R"(","due_at":")" + FormatTimestamp(d.due_at) + "\"}"};
    };
    std::pair<std::string, std::string> odd;
    switch (Pick(rng, 0, 14)) {
      case 0:
        odd = {"CaseClosed", "{}"};
        break;
      case 1:
        odd = {"CaseReopened", R"({"reason":"r"})"};
        break;
      case 2:
        odd = {"CaseResolved", R"({"resolution":"rectified","summary":"s"})"};
        break;
      case 3:
        odd = {"CaseAccepted", R"({"by":"x"})"};
        break;
      case 4:
        odd = {"OfficerArrived", R"({"officer":"x"})"};
        break;
      case 5: {
        const int from = Pick(rng, 1, 2);
        odd = {"CaseEscalated", R"({"from_tier":)" + std::to_string(from) + R"(,"to_tier":)" +
                                    std::to_string(from + 1) + R"(,"reason":"r")" +
                                    (from == 2 ? R"(,"judicial":"court"})" : "}")};
        break;
      }
      case 6:
        odd = {"MediationSessionHeld",
               R"({"tier":)" + std::to_string(Pick(rng, 1, 3)) +
                   R"(,"participants":["a"],"outcome":"agreement","notes":"n"})"};
        break;
      case 7:
        odd = {"CallbackScheduled", R"({"due_at":")" + due + "\"}"};
        break;
      case 8:
        odd = {"CallbackCompleted", std::string(R"({"speed":")") + answers[Pick(rng, 0, 2)] +
                                        R"(","attitude":")" + answers[Pick(rng, 0, 2)] +
                                        R"(","outcome":")" + answers[Pick(rng, 0, 2)] + "\"}"};
        break;
      case 9:
        odd = {"CallbackAttempted", R"({"reached":false,"note":"n"})"};
        break;
      case 10:
        odd = deadline("DeadlineMissed");
        break;
      case 11:
        odd = deadline("DeadlineSet");
        break;
      case 12:
        if (state->deadlines.empty()) return;
        odd = deadline("DeadlineMet");
        break;
      case 13: {
        const char* kinds[] = {"incident", "dispute", "hazard", "assistance"};
        odd = {"CaseTriaged", std::string(R"({"kind":")") + kinds[Pick(rng, 0, 3)] + "\"}"};
        break;
      }
      default:
        odd = {"CaseAssigned", R"({"assignee":"officer-7"})"};
        break;
    }
    AppendRequest raw{CaseStream(id), ExpectedVersion::Any(), "admin", {}};
    raw.events.push_back({"", odd.first, odd.second});
    auto appended = store_->Append(std::move(raw));
    ASSERT_TRUE(appended.ok()) << odd.first << " " << odd.second << ": "
                               << appended.status().ToString();
  }
  int rebuilds_ = 0;
};

TEST_P(ProjectionPropertyTest, LiveViewsEqualARebuildAndAsOfEqualsACutRebuild) {
  testing::DefineRandomGrid(*service_);
  testing::RandomCommands commands(*service_, &clock_, GetParam());
  auto live = OpenViews(dir_.Sub("live"));
  ASSERT_NE(live, nullptr);
  std::mt19937 rng(GetParam() * 7 + 1);
  int written = 0;
  for (int step = 1; step <= 240; ++step) {
    written += commands.Step();
    // The live projector sees the log in uneven batches, as it would live.
    if (step % 7 == 0) {
      ASSERT_TRUE(live->CatchUp().ok());
    }
    if (step % 60 != 0) continue;
    ASSERT_TRUE(live->CatchUp().ok());

    const std::string whole = dir_.Sub("rebuild-" + std::to_string(++rebuilds_));
    ASSERT_TRUE(RebuildViews(store_.get(), whole, nullptr, UINT64_MAX, 16).ok());
    ASSERT_NO_FATAL_FAILURE(ExpectEqualToRebuilt(*live, whole, "step " + std::to_string(step)));
    // A rebuild that keeps 3 case states: most leave the cache before their
    // views are written, and come back by a fold of their stream.
    const std::string small = dir_.Sub("rebuild-small-" + std::to_string(rebuilds_));
    ASSERT_TRUE(RebuildViews(store_.get(), small, nullptr, UINT64_MAX, 16, 3).ok());
    ASSERT_NO_FATAL_FAILURE(
        ExpectEqualToRebuilt(*live, small, "step " + std::to_string(step) + ", 3 cases cached"));
    const std::string few_alerts = dir_.Sub("rebuild-few-alerts-" + std::to_string(rebuilds_));
    ASSERT_TRUE(RebuildHoldingFewAlerts(few_alerts).ok());
    ASSERT_NO_FATAL_FAILURE(ExpectEqualToRebuilt(
        *live, few_alerts, "step " + std::to_string(step) + ", 2 alerts held"));

    // as_of at a random past position equals a rebuild cut there.
    const Position head = store_->Head().position;
    const Position cut = std::uniform_int_distribution<Position>(1, head)(rng);
    ASSERT_NO_FATAL_FAILURE(ExpectDashboardsAsOf(*live, cut));
    auto at_cut = OpenViews(dir_.Sub("cut-" + std::to_string(rebuilds_)));
    for (const std::string& id : commands.cases()) {
      auto expected = at_cut->CaseView(id);
      ASSERT_TRUE(expected.ok());
      auto actual = live->CaseViewAsOf(id, cut);
      if (!expected->has_value()) {
        EXPECT_EQ(actual.status().code(), StatusCode::kNotFound);
        continue;
      }
      ASSERT_TRUE(actual.ok());
      ASSERT_EQ(*actual, **expected) << id << " as of " << cut;
    }
  }
  EXPECT_GT(written, 60) << "too few commands were accepted to prove anything";
}

// The same, over a log the rules did not write alone: events appended raw
// past the lifecycle (an import's), quiet spells of up to three days (the
// report-day and hourly counters roll over), the live views reopened now
// and then (a restart), and dashboards as of a time as well as a position
// (review 100: 35 seeds of this found no difference).
TEST_P(ProjectionPropertyTest, AnOddLogQuietSpellsAndRestartsKeepTheLiveViewsEqualToARebuild) {
  testing::DefineRandomGrid(*service_);
  testing::RandomCommands commands(*service_, &clock_, GetParam());
  auto live = OpenViews(dir_.Sub("live"));
  ASSERT_NE(live, nullptr);
  std::mt19937 rng(GetParam() * 11 + 5);
  int odd = 0;
  for (int step = 1; step <= 300; ++step) {
    if (Pick(rng, 0, 9) == 0) clock_.Advance(Pick(rng, 1, 72) * 3600000LL);
    commands.Step();
    if (!commands.cases().empty() && Pick(rng, 0, 3) == 0) {
      const auto& cases = commands.cases();
      ASSERT_NO_FATAL_FAILURE(
          AppendOddEvent(rng, cases[Pick(rng, 0, static_cast<int>(cases.size()) - 1)]));
      ++odd;
    }
    if (step % 7 == 0) {
      ASSERT_TRUE(live->CatchUp().ok());
    }
    if (step % 45 == 0) {
      live.reset();
      live = OpenViews(dir_.Sub("live"));
      ASSERT_NE(live, nullptr);
    }
    if (step % 100 != 0) continue;
    ASSERT_TRUE(live->CatchUp().ok());
    const std::string whole = dir_.Sub("rebuild-" + std::to_string(++rebuilds_));
    ASSERT_TRUE(RebuildViews(store_.get(), whole, nullptr, UINT64_MAX, 16).ok());
    ASSERT_NO_FATAL_FAILURE(ExpectEqualToRebuilt(*live, whole, "step " + std::to_string(step)));
    // A live read at a time to come equals the views as of the head then.
    const std::int64_t later = clock_.NowMillis() + Pick(rng, 0, 5) * 3600000LL;
    for (const std::string& node : {std::string(), std::string("santai/tongchuan")}) {
      auto now = live->Dashboard(node, later);
      auto as_of = live->DashboardAsOf(node, live->position(), later);
      ASSERT_TRUE(now.ok() && as_of.ok());
      ASSERT_EQ(*now, *as_of) << "node '" << node << "'";
      EXPECT_EQ(now->find(":-"), std::string::npos) << "a negative figure: " << *now;
    }
    // As of a random position, and as of a random time.
    const Position head = store_->Head().position;
    ASSERT_NO_FATAL_FAILURE(
        ExpectDashboardsAsOf(*live, std::uniform_int_distribution<Position>(1, head)(rng)));
    auto first = store_->ReadAt(1);
    ASSERT_TRUE(first.ok());
    const std::int64_t t =
        std::uniform_int_distribution<std::int64_t>(first->recorded_at_ms, clock_.NowMillis())(rng);
    auto at_t = live->PositionAt(t);
    ASSERT_TRUE(at_t.ok());
    ASSERT_NO_FATAL_FAILURE(ExpectDashboardsAsOf(*live, *at_t, t));
  }
  EXPECT_GT(odd, 40) << "too few odd events to prove anything";
}

INSTANTIATE_TEST_SUITE_P(Seeds, ProjectionPropertyTest, ::testing::Values(1u, 2u, 3u));

}  // namespace
}  // namespace casegrid
