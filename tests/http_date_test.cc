// The Date header's text (RFC 9110 §5.6.7, IMF-fixdate), and that every
// answer of the real server carries it.
#include "api/http_date.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>

namespace casegrid {
namespace {

TEST(HttpDateTest, IsTheImfFixdateOfTheSecond) {
  EXPECT_EQ(FormatHttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's example
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(1798761599), "Thu, 31 Dec 2026 23:59:59 GMT");
  EXPECT_EQ(FormatHttpDate(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT");
}

TEST(HttpDateTest, NowIsTheSystemClocksSecond) {
  const auto seconds = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const std::int64_t before = seconds();
  const std::string now = HttpDateNow();
  const std::int64_t after = seconds();
  EXPECT_TRUE(now == FormatHttpDate(before) || now == FormatHttpDate(after)) << now;
}

}  // namespace
}  // namespace casegrid
