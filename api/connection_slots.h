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

// Both held until the returned slot's last copy is destroyed.
ConnectionSlots::Slot Both(ConnectionSlots::Slot first, ConnectionSlots::Slot second);

// A bound on the connections open at once under one key: a peer address (so
// that one client cannot hold every slot of ConnectionSlots, its idle
// connections kept until the request timeout and taken again), a token
// subject's WebSockets.
//
// Thread-safety: as ConnectionSlots. A place may be destroyed on any thread,
// and must be before the ConnectionsPerKey is.
class ConnectionsPerKey {
 public:
  // `per_key`: 0 for no bound.
  explicit ConnectionsPerKey(std::size_t per_key) : per_key_(per_key) {}
  ConnectionsPerKey(const ConnectionsPerKey&) = delete;
  ConnectionsPerKey& operator=(const ConnectionsPerKey&) = delete;

  // A place for one more connection under `key`, held until its last copy
  // is destroyed; null when `per_key` under it are open already.
  ConnectionSlots::Slot TryTake(const std::string& key);
  // A place for one more connection under `key` being refused (answered and
  // lingering, which holds a slot of all for a moment); null past
  // kRefusalsPerKey: such a connection is closed at once, unanswered, so
  // that one address opening connections faster than they are refused
  // cannot fill the slots with refusals (review 77).
  ConnectionSlots::Slot TryTakeRefusal(const std::string& key);
  std::size_t per_key() const { return per_key_; }

  static constexpr std::size_t kRefusalsPerKey = 4;

 private:
  class Place;
  ConnectionSlots::Slot Take(std::string key, std::size_t bound);
  void Release(const std::string& key);

  const std::size_t per_key_;
  std::mutex mu_;
  std::unordered_map<std::string, std::size_t> open_;  // guarded by mu_; no zero counts
};

}  // namespace casegrid
