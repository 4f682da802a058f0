#include "engine/time_format.h"

#include <chrono>
#include <cstdio>

namespace casegrid {
namespace {

bool ReadDigits(std::string_view s, std::size_t at, std::size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::string FormatTimestamp(std::int64_t unix_ms) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(unix_ms)));
  const std::int64_t ms_of_day =
      unix_ms - duration_cast<milliseconds>(day.time_since_epoch()).count();
  const year_month_day ymd(day);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(ms_of_day / 3600000),
                static_cast<int>(ms_of_day / 60000 % 60), static_cast<int>(ms_of_day / 1000 % 60),
                static_cast<int>(ms_of_day % 1000));
  return buf;
}

Result<std::int64_t> ParseTimestamp(std::string_view s) {
  using namespace std::chrono;
  int y, mo, d, h, mi, sec, ms = 0;
  const bool fixed =
      ReadDigits(s, 0, 4, &y) && s.size() > 4 && s[4] == '-' && ReadDigits(s, 5, 2, &mo) &&
      s.size() > 7 && s[7] == '-' && ReadDigits(s, 8, 2, &d) && s.size() > 10 && s[10] == 'T' &&
      ReadDigits(s, 11, 2, &h) && s.size() > 13 && s[13] == ':' && ReadDigits(s, 14, 2, &mi) &&
      s.size() > 16 && s[16] == ':' && ReadDigits(s, 17, 2, &sec);
  std::size_t at = 19;
  bool ok = fixed;
  if (ok && at < s.size() && s[at] == '.') {
    ok = ReadDigits(s, at + 1, 3, &ms);
    at += 4;
  }
  ok = ok && at + 1 == s.size() && s[at] == 'Z';
  const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)),
                           day(static_cast<unsigned>(d))};
  if (!ok || !ymd.ok() || h > 23 || mi > 59 || sec > 59) {
    return Status::InvalidArgument("time must be RFC 3339 UTC, e.g. 2026-11-22T10:31:02.123Z");
  }
  const auto days_ms = duration_cast<milliseconds>(sys_days(ymd).time_since_epoch()).count();
  return days_ms + ((h * 60 + mi) * 60 + sec) * std::int64_t{1000} + ms;
}

}  // namespace casegrid
