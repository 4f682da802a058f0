// The Date header of every HTTP answer. RFC 9110 §6.6.1: an origin server
// with a clock sends one in its 2xx, 3xx and 4xx answers (and may in the
// others), in the IMF-fixdate form "Sun, 06 Nov 1994 08:49:37 GMT".
//
// Thread-safety: FormatHttpDate is a pure function; HttpDateNow may be called
// from any thread (each thread keeps the text of the last second it formatted).
#pragma once

#include <cstdint>
#include <string>

namespace casegrid {

// `unix_seconds` (seconds since 1970-01-01T00:00:00Z, years 1970–9999) as an
// IMF-fixdate.
std::string FormatHttpDate(std::int64_t unix_seconds);

// The system clock's current second as an IMF-fixdate; formatted at most
// once a second per thread. The reference stays valid until this thread's
// next call.
const std::string& HttpDateNow();

}  // namespace casegrid
