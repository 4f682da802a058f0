// RFC 3339 UTC timestamps with milliseconds, the only time format of API.md:
// 2026-11-22T10:31:02.123Z.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace casegrid {

// The instants of years 0000 to 9999, each formatted as no other is: the
// hash of an event covers its time as formatted, so a stored time outside
// them is damage (review 106: one 65,536 years later formatted the same,
// std::chrono's year being 16 bits, and the chain did not see it).
inline constexpr std::int64_t kFirstFormattableMs = -62167219200000;  // 0000-01-01
inline constexpr std::int64_t kLastFormattableMs = 253402300799999;   // 9999-12-31T23:59:59.999
constexpr bool Formattable(std::int64_t unix_ms) {
  return unix_ms >= kFirstFormattableMs && unix_ms <= kLastFormattableMs;
}

std::string FormatTimestamp(std::int64_t unix_ms);
// The same, appended to `out`.
void AppendTimestamp(std::string& out, std::int64_t unix_ms);
// Accepts `YYYY-MM-DDTHH:MM:SS[.fff]Z`; kInvalidArgument otherwise. For
// times stored in events: one form for each instant.
Result<std::int64_t> ParseTimestamp(std::string_view text);
// Any RFC 3339 date-time (section 5.6): `T` or `t`, a fraction of any
// length (cut to the millisecond: the instant at or before it), `Z`, `z` or
// an offset `+HH:MM` / `-HH:MM`, a leap second (`:59:60`, read as `:59.999`
// of the minute); for times asked about (as_of), where a client's library
// may write any of them. kInvalidArgument otherwise.
Result<std::int64_t> ParseRfc3339(std::string_view text);

}  // namespace casegrid
