// A bound on the connections a server holds open at once, HTTP and WebSocket
// together: each is a file descriptor, and the stores need theirs
// (api/descriptor_budget.h). The listener takes a slot before each accept;
// when none is free it stops accepting, so that clients wait in the kernel's
// backlog, and is called back once one frees.
//
// Thread-safety: every member may be called from any thread. A Slot may be
// destroyed on any thread, and must be before the ConnectionSlots is.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace casegrid {

class ConnectionSlots {
 public:
  // Held until its last copy is destroyed.
  using Slot = std::shared_ptr<void>;

  explicit ConnectionSlots(std::size_t bound) : bound_(bound) {}
  ConnectionSlots(const ConnectionSlots&) = delete;
  ConnectionSlots& operator=(const ConnectionSlots&) = delete;

  // A slot, or null when all are taken: then `on_free` (replacing one given
  // before) is called once, when a slot frees, on the thread that frees it
  // and outside the lock. Null, and `on_free` dropped, once StopWaking ran.
  Slot TryTake(std::function<void()> on_free);
  // No `on_free` is called from now on, nor any slot given (a server
  // stopping).
  void StopWaking();

  std::size_t taken() const;
  std::size_t bound() const { return bound_; }

 private:
  void Free();

  const std::size_t bound_;
  mutable std::mutex mu_;
  std::size_t taken_ = 0;          // guarded by mu_
  bool stopped_ = false;           // guarded by mu_
  std::function<void()> on_free_;  // guarded by mu_; set while a taker waits
};

// A bound on the connections open at once from one peer address, so that
// one client cannot hold every slot of ConnectionSlots (its idle
// connections kept until the request timeout, 30 s, and taken again).
//
// Thread-safety: as ConnectionSlots. A lease may be destroyed on any thread,
// and must be before the PeerConnections is.
class PeerConnections {
 public:
  // `per_peer`: 0 for no bound.
  explicit PeerConnections(std::size_t per_peer) : per_peer_(per_peer) {}
  PeerConnections(const PeerConnections&) = delete;
  PeerConnections& operator=(const PeerConnections&) = delete;

  // A place for one more connection from `peer`, held until its last copy is
  // destroyed; null when `per_peer` from it are open already.
  std::shared_ptr<void> TryTake(const std::string& peer);
  // A place for one more connection from `peer` being refused (answered and
  // lingering, which holds a slot of all for a moment); null past
  // kRefusalsPerPeer: such a connection is closed at once, unanswered, so
  // that one address opening connections faster than they are refused
  // cannot fill the slots with refusals (review 77).
  std::shared_ptr<void> TryTakeRefusal(const std::string& peer);
  std::size_t per_peer() const { return per_peer_; }

  static constexpr std::size_t kRefusalsPerPeer = 4;

 private:
  std::shared_ptr<void> Take(std::string key, std::size_t bound);
  void Release(const std::string& key);

  const std::size_t per_peer_;
  std::mutex mu_;
  std::unordered_map<std::string, std::size_t> open_;  // guarded by mu_; no zero counts
};

}  // namespace casegrid
