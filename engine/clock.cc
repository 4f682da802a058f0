#include "engine/clock.h"

#include <chrono>

namespace casegrid {

std::int64_t SystemClock::NowMillis() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

const SystemClock* SystemClock::Default() {
  static const SystemClock* const clock = new SystemClock();
  return clock;
}

}  // namespace casegrid
