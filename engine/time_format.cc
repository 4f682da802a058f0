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

void AppendTimestamp(std::string& out, std::int64_t unix_ms) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(unix_ms)));
  const std::int64_t ms_of_day =
      unix_ms - duration_cast<milliseconds>(day.time_since_epoch()).count();
  const year_month_day ymd(day);
  const int year = static_cast<int>(ymd.year());
  const int hour = static_cast<int>(ms_of_day / 3600000);
  const int minute = static_cast<int>(ms_of_day / 60000 % 60);
  const int second = static_cast<int>(ms_of_day / 1000 % 60);
  const int milli = static_cast<int>(ms_of_day % 1000);
  if (year < 0 || year > 9999) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", year,
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), hour,
                  minute, second, milli);
    out += buf;
    return;
  }
  // The common case without printf: YYYY-MM-DDTHH:MM:SS.mmmZ.
  char buf[24];
  auto put = [&buf](int at, int value, int digits) {
    for (int i = digits - 1; i >= 0; --i) {
      buf[at + i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  put(0, year, 4);
  buf[4] = '-';
  put(5, static_cast<int>(static_cast<unsigned>(ymd.month())), 2);
  buf[7] = '-';
  put(8, static_cast<int>(static_cast<unsigned>(ymd.day())), 2);
  buf[10] = 'T';
  put(11, hour, 2);
  buf[13] = ':';
  put(14, minute, 2);
  buf[16] = ':';
  put(17, second, 2);
  buf[19] = '.';
  put(20, milli, 3);
  buf[23] = 'Z';
  out.append(buf, sizeof buf);
}

std::string FormatTimestamp(std::int64_t unix_ms) {
  std::string out;
  AppendTimestamp(out, unix_ms);
  return out;
}

Result<std::int64_t> ParseTimestamp(std::string_view s) {
  // The one form each instant is stored in: RFC 3339 with `T`, seconds or
  // milliseconds, and `Z`; the rest is ParseRfc3339's.
  const Status invalid =
      Status::InvalidArgument("time must be RFC 3339 UTC, e.g. 2026-11-22T10:31:02.123Z");
  const bool one_form = (s.size() == 20 || (s.size() == 24 && s[19] == '.')) && s[10] == 'T' &&
                        s.back() == 'Z' && s.substr(17, 2) != "60";  // no leap second stored
  if (!one_form) return invalid;
  auto t = ParseRfc3339(s);
  if (!t.ok()) return invalid;
  return t;
}

Result<std::int64_t> ParseRfc3339(std::string_view s) {
  using namespace std::chrono;
  const Status invalid = Status::InvalidArgument(
      "time must be RFC 3339, e.g. 2026-11-22T10:31:02.123Z or 2026-11-22T18:31:02+08:00");
  int y, mo, d, h, mi, sec;
  const bool fixed =
      ReadDigits(s, 0, 4, &y) && s.size() > 4 && s[4] == '-' && ReadDigits(s, 5, 2, &mo) &&
      s.size() > 7 && s[7] == '-' && ReadDigits(s, 8, 2, &d) && s.size() > 10 &&
      (s[10] == 'T' || s[10] == 't') && ReadDigits(s, 11, 2, &h) && s.size() > 13 && s[13] == ':' &&
      ReadDigits(s, 14, 2, &mi) && s.size() > 16 && s[16] == ':' && ReadDigits(s, 17, 2, &sec);
  if (!fixed) return invalid;
  std::size_t at = 19;
  int ms = 0;
  if (at < s.size() && s[at] == '.') {
    const std::size_t first = ++at;
    for (; at < s.size() && s[at] >= '0' && s[at] <= '9'; ++at) {
      if (at - first < 3) ms = ms * 10 + (s[at] - '0');
    }
    if (at == first) return invalid;
    for (std::size_t n = at - first; n < 3; ++n) ms *= 10;
  }
  int offset_minutes = 0;
  if (at + 1 == s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    ++at;
  } else if (at == s.size()) {
    return invalid;  // a local time without its offset is no instant
  } else if (at + 6 == s.size() && (s[at] == '+' || s[at] == '-') && s[at + 3] == ':') {
    int oh, om;
    if (!ReadDigits(s, at + 1, 2, &oh) || !ReadDigits(s, at + 4, 2, &om) || oh > 23 || om > 59) {
      return invalid;
    }
    offset_minutes = (oh * 60 + om) * (s[at] == '-' ? -1 : 1);
    at += 6;
  }
  const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)),
                           day(static_cast<unsigned>(d))};
  if (at != s.size() || !ymd.ok() || h > 23 || mi > 59 || sec > 60) return invalid;
  // A leap second (RFC 3339 5.7: "23:59:60Z", or its local equivalent) has
  // no instant of its own in Unix time: the last millisecond before it, the
  // instant at or before it (black-box probe 90 found it refused).
  if (sec == 60) {
    if (mi != 59) return invalid;
    sec = 59;
    ms = 999;
  }
  const auto days_ms = duration_cast<milliseconds>(sys_days(ymd).time_since_epoch()).count();
  return days_ms + ((h * 60 + mi - offset_minutes) * 60 + sec) * std::int64_t{1000} + ms;
}

}  // namespace casegrid
