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

std::shared_ptr<void> PeerConnections::TryTake(const std::string& peer) {
  {
    std::lock_guard l(mu_);
    std::size_t& open = open_[peer];
    if (per_peer_ != 0 && open >= per_peer_) return nullptr;  // (open > 0: not left at zero)
    ++open;
  }
  // Made in place: a temporary Lease would release the place as it went.
  class Lease {
   public:
    Lease(PeerConnections* peers, std::string peer) : peers_(peers), peer_(std::move(peer)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { peers_->Release(peer_); }

   private:
    PeerConnections* const peers_;
    const std::string peer_;
  };
  return std::make_shared<Lease>(this, peer);
}

void PeerConnections::Release(const std::string& peer) {
  std::lock_guard l(mu_);
  auto it = open_.find(peer);
  if (it != open_.end() && --it->second == 0) open_.erase(it);
}

}  // namespace casegrid
