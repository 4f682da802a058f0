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

ConnectionSlots::Slot Both(ConnectionSlots::Slot first, ConnectionSlots::Slot second) {
  return std::make_shared<std::pair<ConnectionSlots::Slot, ConnectionSlots::Slot>>(
      std::move(first), std::move(second));
}

// A place of ConnectionsPerKey: given back when destroyed, once counted.
class ConnectionsPerKey::Place {
 public:
  Place(ConnectionsPerKey* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
  Place(const Place&) = delete;
  Place& operator=(const Place&) = delete;
  ~Place() {
    if (counted) owner_->Release(key_);
  }
  const std::string& key() const { return key_; }
  bool counted = false;

 private:
  ConnectionsPerKey* const owner_;
  const std::string key_;
};

ConnectionSlots::Slot ConnectionsPerKey::TryTake(const std::string& key) {
  return Take(key, per_key_);
}

ConnectionSlots::Slot ConnectionsPerKey::TryTakeRefusal(const std::string& key) {
  return Take("refused " + key, kRefusalsPerKey);
}

ConnectionSlots::Slot ConnectionsPerKey::Take(std::string key, std::size_t bound) {
  // Allocated first: nothing is counted that could not be given back.
  auto place = std::make_shared<Place>(this, std::move(key));
  std::lock_guard l(mu_);
  std::size_t& open = open_[place->key()];
  if (bound != 0 && open >= bound) return nullptr;  // (open > 0: not left at zero)
  ++open;
  place->counted = true;
  return place;
}

void ConnectionsPerKey::Release(const std::string& key) {
  std::lock_guard l(mu_);
  auto it = open_.find(key);
  if (it != open_.end() && --it->second == 0) open_.erase(it);
}

}  // namespace casegrid
