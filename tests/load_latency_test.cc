// casegrid-load's measuring parts (tools/load/latency.h): the histogram's
// quantiles are nearest-rank, and AckTimes tells which cell a position was
// written to, so that a dashboard counts only the events under its path.
#include "tools/load/latency.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace casegrid::load {
namespace {

// The i-th of the values a test records (i from 1): 4% apart, so that no
// two share a bucket (a bucket spans 1/64 of its power of two).
double Value(int i) {
  return 1e5 * std::pow(1.04, i);
}

// Which of the values 1..n the histogram answers for `q` (0: none of them).
int QuantileOfN(int n, double q) {
  LatencyHistogram h;
  for (int i = 1; i <= n; ++i) h.Record(static_cast<std::int64_t>(Value(i)));
  const double answer = static_cast<double>(h.Quantile(q));
  for (int i = 1; i <= n; ++i) {
    if (std::abs(answer - Value(i)) <= Value(i) * 0.016) return i;
  }
  return 0;
}

TEST(LatencyHistogramTest, QuantilesAreNearestRank) {
  // p99 of 100 values is the 99th, not the largest (review 110 found the
  // rank one high).
  EXPECT_EQ(QuantileOfN(100, 0.99), 99);
  EXPECT_EQ(QuantileOfN(100, 0.5), 50);
  EXPECT_EQ(QuantileOfN(200, 0.99), 198);
  EXPECT_EQ(QuantileOfN(300, 0.999), 300);  // ⌈299.7⌉
  EXPECT_EQ(QuantileOfN(3, 0.5), 2);
  EXPECT_EQ(QuantileOfN(4, 0.5), 2);
  // A rank past the values, or before the first, is the last or the first.
  EXPECT_EQ(QuantileOfN(10, 1.0), 10);
  EXPECT_EQ(QuantileOfN(10, 0.0), 1);
  EXPECT_EQ(QuantileOfN(1, 0.99), 1);
  // q·n that doubles cannot hold exactly (0.999 × 1000 is 999.0000000000001)
  // is taken as the rank it means.
  LatencyHistogram thousand;
  for (int i = 1; i <= 1000; ++i) thousand.Record(i);  // below 64 ns a bucket is one value
  EXPECT_EQ(thousand.Quantile(0.999), 996u);           // 999 ns: the middle of its bucket, 992..999
  LatencyHistogram small;
  for (int i = 1; i <= 50; ++i) small.Record(i);
  EXPECT_EQ(small.Quantile(0.9), 45u);
  EXPECT_EQ(small.Quantile(0.98), 49u);
  LatencyHistogram empty;
  EXPECT_EQ(empty.Quantile(0.99), 0u);
}

TEST(AckTimesTest, APositionKeepsItsTimeAndCell) {
  AckTimes acks({"load", "load/a0", "load/a0/g0", "load/a1/g0", "load/a10"});
  const std::uint32_t a0g0 = acks.CellId("load/a0/g0");
  const std::uint32_t a1g0 = acks.CellId("load/a1/g0");
  EXPECT_EQ(acks.CellId("load/a2"), AckTimes::kNoCell);
  acks.Record(5, 7, 123, a0g0);
  acks.Record(8, 8, 456, a1g0);
  acks.Record(70'000, 70'000, 789);  // another chunk, no cell
  EXPECT_EQ(acks.At(4), 0);
  EXPECT_EQ(acks.At(6), 123);
  EXPECT_EQ(acks.CellAt(6), a0g0);
  EXPECT_EQ(acks.At(8), 456);
  EXPECT_EQ(acks.CellAt(8), a1g0);
  EXPECT_EQ(acks.At(70'000), 789);
  EXPECT_EQ(acks.CellAt(70'000), AckTimes::kNoCell);
  EXPECT_EQ(acks.CellAt(9), AckTimes::kNoCell);
}

TEST(AckTimesTest, CellsWithinAPathAreItAndItsSubtreeOnly) {
  AckTimes acks({"load", "load/a0", "load/a0/g0", "load/a1/g0", "load/a10"});
  EXPECT_EQ(acks.CellsWithin("load/a0"), (std::vector<bool>{false, true, true, false, false}));
  EXPECT_EQ(acks.CellsWithin("load/a1"), (std::vector<bool>{false, false, false, true, false}));
  EXPECT_EQ(acks.CellsWithin("load"), (std::vector<bool>{true, true, true, true, true}));
  EXPECT_EQ(acks.CellsWithin(""), (std::vector<bool>{true, true, true, true, true}));
  EXPECT_EQ(acks.CellsWithin("loa"), (std::vector<bool>{false, false, false, false, false}));
}

}  // namespace
}  // namespace casegrid::load
