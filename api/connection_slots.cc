#include "api/connection_slots.h"

#include <utility>

namespace casegrid {

ConnectionSlots::Slot ConnectionSlots::TryTake(std::function<void()> on_free) {
  {
    std::lock_guard l(mu_);
    if (stopped_) return nullptr;  // `on_free` goes with this frame, outside the lock
    if (taken_ >= bound_) {
      on_free_ = std::move(on_free);
      return nullptr;
    }
    ++taken_;
  }
  // Any non-null pointer does: the deleter is what counts.
  return Slot(this, [](void* slots) { static_cast<ConnectionSlots*>(slots)->Free(); });
}

void ConnectionSlots::StopWaking() {
  std::function<void()> dropped;
  std::lock_guard l(mu_);
  stopped_ = true;
  dropped.swap(on_free_);  // destroyed after the lock is let go
}

std::size_t ConnectionSlots::taken() const {
  std::lock_guard l(mu_);
  return taken_;
}

void ConnectionSlots::Free() {
  std::function<void()> wake;
  {
    std::lock_guard l(mu_);
    --taken_;
    wake.swap(on_free_);
  }
  if (wake) wake();
}

}  // namespace casegrid
