// How long each step of a case may take (DOMAIN.md, "Deadlines"). Policy,
// configurable; the decider turns it into DeadlineSet events when a clock
// starts, so that a replay shows the due times that were in force then, not
// the policy of the day it is replayed.
//
// Thread-safety: a value.
#pragma once

#include <cstdint>

#include "engine/case_events.h"

namespace casegrid {

struct DeadlinePolicy {
  static constexpr std::int64_t kMinute = 60 * 1000;
  std::int64_t accept_urgent_ms = 10 * kMinute;  // high and urgent priority
  std::int64_t accept_ms = 120 * kMinute;        // any other case
  std::int64_t first_contact_ms = 24 * 60 * kMinute;
  std::int64_t callback_ms = 24 * 60 * kMinute;        // after resolution
  std::int64_t mediation_ms = 15 * 24 * 60 * kMinute;  // tier 1 without agreement

  std::int64_t AcceptWindow(Priority p) const {
    return (p == Priority::kHigh || p == Priority::kUrgent) ? accept_urgent_ms : accept_ms;
  }
};

}  // namespace casegrid
