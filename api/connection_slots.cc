#include "api/connection_slots.h"

#include <functional>
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

namespace {

// A place of PeerConnections: given back when destroyed, once counted.
class PeerLease {
 public:
  PeerLease(std::function<void(const std::string&)> release, std::string key)
      : release_(std::move(release)), key_(std::move(key)) {}
  PeerLease(const PeerLease&) = delete;
  PeerLease& operator=(const PeerLease&) = delete;
  ~PeerLease() {
    if (counted) release_(key_);
  }
  const std::string& key() const { return key_; }
  bool counted = false;

 private:
  const std::function<void(const std::string&)> release_;
  const std::string key_;
};

}  // namespace

std::shared_ptr<void> PeerConnections::TryTake(const std::string& peer) {
  return Take(peer, per_peer_);
}

std::shared_ptr<void> PeerConnections::TryTakeRefusal(const std::string& peer) {
  return Take("refused " + peer, kRefusalsPerPeer);
}

std::shared_ptr<void> PeerConnections::Take(std::string key, std::size_t bound) {
  // Allocated first: nothing is counted that could not be given back.
  auto lease = std::make_shared<PeerLease>([this](const std::string& counted) { Release(counted); },
                                           std::move(key));
  std::lock_guard l(mu_);
  std::size_t& open = open_[lease->key()];
  if (bound != 0 && open >= bound) return nullptr;  // (open > 0: not left at zero)
  ++open;
  lease->counted = true;
  return lease;
}

void PeerConnections::Release(const std::string& peer) {
  std::lock_guard l(mu_);
  auto it = open_.find(peer);
  if (it != open_.end() && --it->second == 0) open_.erase(it);
}

}  // namespace casegrid
