// Property: whatever commands run, the live views equal a rebuild from the
// log, and the views as_of any position equal a rebuild of the log cut there.
#include <gtest/gtest.h>

#include <random>

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
    {
      auto rebuilt = ViewStore::Open(whole);
      ASSERT_TRUE(rebuilt.ok());
      Status same = CompareViews(live->views(), **rebuilt);
      ASSERT_TRUE(same.ok()) << "step " << step << ": " << same.ToString();
    }
    // A rebuild that keeps 3 case states: most leave the cache before their
    // views are written, and come back by a fold of their stream.
    const std::string small = dir_.Sub("rebuild-small-" + std::to_string(rebuilds_));
    ASSERT_TRUE(RebuildViews(store_.get(), small, nullptr, UINT64_MAX, 16, 3).ok());
    {
      auto rebuilt = ViewStore::Open(small);
      ASSERT_TRUE(rebuilt.ok());
      Status same = CompareViews(live->views(), **rebuilt);
      ASSERT_TRUE(same.ok()) << "step " << step << ", 3 cases cached: " << same.ToString();
    }
    const std::string few_alerts = dir_.Sub("rebuild-few-alerts-" + std::to_string(rebuilds_));
    ASSERT_TRUE(RebuildHoldingFewAlerts(few_alerts).ok());
    {
      auto rebuilt = ViewStore::Open(few_alerts);
      ASSERT_TRUE(rebuilt.ok());
      Status same = CompareViews(live->views(), **rebuilt);
      ASSERT_TRUE(same.ok()) << "step " << step << ", 2 alerts held: " << same.ToString();
    }

    // as_of at a random past position equals a rebuild cut there.
    const Position head = store_->Head().position;
    const Position cut = std::uniform_int_distribution<Position>(1, head)(rng);
    const std::string cut_path = dir_.Sub("cut-" + std::to_string(rebuilds_));
    ASSERT_TRUE(RebuildViews(store_.get(), cut_path, nullptr, cut, 16).ok());
    auto at_cut = OpenViews(cut_path);
    ASSERT_EQ(at_cut->position(), cut);
    auto cut_event = store_->ReadAt(cut);
    ASSERT_TRUE(cut_event.ok());
    for (const std::string& node :
         {std::string(), std::string("santai/tongchuan"), std::string("santai/xinhua/b01")}) {
      auto expected = at_cut->Dashboard(node, cut_event->recorded_at_ms);
      auto actual = live->DashboardAsOf(node, cut);
      if (!expected.ok()) {  // the cell was not defined yet at the cut
        ASSERT_EQ(expected.status().code(), StatusCode::kNotFound);
        ASSERT_EQ(actual.status().code(), StatusCode::kNotFound) << node << " as of " << cut;
        continue;
      }
      ASSERT_TRUE(actual.ok()) << actual.status().ToString();
      ASSERT_EQ(*actual, *expected) << "node '" << node << "' as of " << cut;
    }
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

INSTANTIATE_TEST_SUITE_P(Seeds, ProjectionPropertyTest, ::testing::Values(1u, 2u, 3u));

}  // namespace
}  // namespace casegrid
