#include "projections/case_id_order.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace casegrid {
namespace {

std::string Id(int date, int sequence) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "C-%08d-%06d", date, sequence);
  return buf;
}

TEST(CaseIdOrderTest, OrdinalsOnlyForTheEnginesForm) {
  EXPECT_EQ(CaseIdOrdinal("C-20261101-000123"), 20261101000123u);
  EXPECT_EQ(CaseIdOrdinal("C-99999999-999999"), 99999999999999u);
  for (const char* other :
       {"", "C-20261101-00012", "C-20261101-0001234", "D-20261101-000123", "C-20261101_000123",
        "C-2026110x-000123", "C-20261101-00012 ", "c-20261101-000123"}) {
    EXPECT_FALSE(CaseIdOrdinal(other).has_value()) << other;
  }
}

// Sorted as numbers or as text, the order is the text's.
TEST(CaseIdOrderTest, SortsAsTheTextWouldWhateverTheIds) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::string> ids;
    for (int i = 0; i < 300; ++i) {
      ids.push_back(Id(20260101 + static_cast<int>(rng() % 400), static_cast<int>(rng() % 1000)));
    }
    if (round % 2 == 1) ids.push_back(round % 4 == 1 ? "C-legacy-1" : "case 7");  // as text
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::vector<std::pair<std::string, int>> items;
    for (std::size_t i = 0; i < ids.size(); ++i) items.emplace_back(ids[i], static_cast<int>(i));
    std::shuffle(items.begin(), items.end(), rng);
    SortByCaseId(items, [](const auto& item) { return std::string_view(item.first); });
    ASSERT_EQ(items.size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      ASSERT_EQ(items[i].first, ids[i]) << "round " << round << " at " << i;
      ASSERT_EQ(items[i].second, static_cast<int>(i));  // each item moved whole
    }
  }
}

}  // namespace
}  // namespace casegrid
