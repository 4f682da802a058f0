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

std::string FormatTimestamp(std::int64_t unix_ms);
// The same, appended to `out`.
void AppendTimestamp(std::string& out, std::int64_t unix_ms);
// Accepts `YYYY-MM-DDTHH:MM:SS[.fff]Z`; kInvalidArgument otherwise.
Result<std::int64_t> ParseTimestamp(std::string_view text);

}  // namespace casegrid
