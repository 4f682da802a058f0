#include "api/http_date.h"

#include <chrono>
#include <cstdio>

namespace casegrid {

std::string FormatHttpDate(std::int64_t unix_seconds) {
  using namespace std::chrono;
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const sys_days day = floor<days>(sys_seconds(seconds(unix_seconds)));
  const std::int64_t second_of_day = unix_seconds - day.time_since_epoch().count() * 86400;
  const year_month_day ymd(day);
  const weekday wd(day);
  char text[40];
  std::snprintf(text, sizeof text, "%s, %02u %s %04d %02d:%02d:%02d GMT", kDays[wd.c_encoding()],
                static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()), static_cast<int>(second_of_day / 3600),
                static_cast<int>(second_of_day / 60 % 60), static_cast<int>(second_of_day % 60));
  return text;
}

const std::string& HttpDateNow() {
  thread_local std::int64_t formatted_second = -1;
  thread_local std::string text;
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  if (now != formatted_second) {
    text = FormatHttpDate(now);
    formatted_second = now;
  }
  return text;
}

}  // namespace casegrid
