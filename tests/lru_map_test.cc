#include "projections/lru_map.h"

#include <gtest/gtest.h>

#include <list>
#include <random>
#include <string>
#include <vector>

namespace casegrid {
namespace {

// Few distinct hashes: long runs in the table, wrapping past its end, so
// that every erase has entries to move back.
struct CrowdedHash {
  std::size_t operator()(std::string_view key) const {
    return std::hash<std::string_view>{}(key) % 5 * 0x9E3779B97F4A7C15ull;
  }
};

// The model: a list, most recently used first.
class ModelLru {
 public:
  explicit ModelLru(std::size_t capacity) : capacity_(capacity) {}
  int* Find(const std::string& key) {
    for (auto it = order_.begin(); it != order_.end(); ++it) {
      if (it->first == key) {
        order_.splice(order_.begin(), order_, it);
        return &order_.front().second;
      }
    }
    return nullptr;
  }
  std::optional<std::pair<std::string, int>> Add(const std::string& key, int value) {
    order_.emplace_front(key, value);
    if (order_.size() <= capacity_) return std::nullopt;
    auto out = order_.back();
    order_.pop_back();
    return out;
  }
  std::list<std::pair<std::string, int>> order_;

 private:
  std::size_t capacity_;
};

template <typename Hash>
void CompareWithTheModel(unsigned seed, std::size_t capacity) {
  std::mt19937 rng(seed);
  LruMap<int, Hash> map(capacity);
  ModelLru model(capacity);
  for (int step = 0; step < 20000; ++step) {
    const std::string key = "C-20261101-" + std::to_string(rng() % 200);
    int* found = map.Find(key);
    int* expected = model.Find(key);
    ASSERT_EQ(found == nullptr, expected == nullptr) << "step " << step << " " << key;
    if (found != nullptr) {
      ASSERT_EQ(*found, *expected) << "step " << step;
      *found = *expected = step;  // a value changed in place stays changed
      continue;
    }
    std::optional<std::pair<std::string, int>> out;
    int* added = map.Add(key, step, &out);
    ASSERT_EQ(*added, step);
    ASSERT_EQ(out, model.Add(key, step)) << "step " << step;
    ASSERT_EQ(map.size(), model.order_.size());
    if (step % 997 == 0) {
      std::vector<std::pair<std::string, int>> entries;
      map.ForEach([&](const std::string& k, int v) { entries.emplace_back(k, v); });
      ASSERT_EQ(entries, std::vector(model.order_.begin(), model.order_.end())) << step;
    }
  }
  map.Clear();
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.Find("C-20261101-1"), nullptr);
}

TEST(LruMapTest, BehavesAsTheModel) {
  for (std::size_t capacity : {1u, 3u, 40u, 150u, 500u}) {
    CompareWithTheModel<std::hash<std::string_view>>(capacity, capacity);
  }
}

TEST(LruMapTest, BehavesAsTheModelWhenHashesCollide) {
  for (std::size_t capacity : {1u, 3u, 40u, 150u, 500u}) {
    CompareWithTheModel<CrowdedHash>(capacity + 1, capacity);
  }
}

}  // namespace
}  // namespace casegrid
