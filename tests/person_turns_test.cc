#include "api/person_turns.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace casegrid {
namespace {

// A person's requests take turns; another person's never wait on them; past
// `max_waiting` waiting, a request is refused at once instead of parking a
// thread.
TEST(PersonTurnsTest, OneAtATimePerPersonAndABoundOnThoseWaiting) {
  PersonTurns turns(2);
  auto first = turns.Take("officer-7");
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(turns.Take("officer-8").has_value()) << "another person waited";
  std::atomic<int> inside{0}, most{0};
  std::vector<std::thread> waiting;
  for (int i = 0; i < 2; ++i) {
    waiting.emplace_back([&] {
      auto turn = turns.Take("officer-7");
      ASSERT_TRUE(turn.has_value());
      const int now = ++inside;
      most = std::max(most.load(), now);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      --inside;
    });
  }
  // Once both wait, a third is refused at once.
  for (int i = 0; i < 10000 && turns.Takers("officer-7") < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(turns.Takers("officer-7"), 3u);
  EXPECT_FALSE(turns.Take("officer-7").has_value());
  first.reset();
  for (auto& t : waiting) t.join();
  EXPECT_EQ(most.load(), 1) << "two held the person's turn at once";
  EXPECT_TRUE(turns.Take("officer-7").has_value());
  EXPECT_EQ(turns.Takers("officer-7"), 0u) << "a person's queue outlived their requests";
}

}  // namespace
}  // namespace casegrid
