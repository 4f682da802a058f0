// LruMap: a bounded map from string keys to values; past its capacity the
// least recently used entry goes out.
//
// It is looked up once per event of a rebuild, tens of thousands of keys at
// random, so the index is one flat table (open addressing, linear probing,
// at most half full) holding each entry's hash beside its place in the
// order: a lookup reads a slot and the entry, not a bucket, the node before
// it and the node (std::unordered_map's chains).
//
// Thread-safety: none; one thread at a time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace casegrid {

template <typename Value, typename Hash = std::hash<std::string_view>>
class LruMap {
 public:
  explicit LruMap(std::size_t capacity)
      : capacity_(std::max<std::size_t>(capacity, 1)), slots_(kFirstSlots) {}

  // The value of `key`, now the most recently used; null if absent.
  Value* Find(std::string_view key) {
    const std::size_t slot = SlotOf(key, HashOf(key));
    if (slots_[slot].hash == 0) return nullptr;
    order_.splice(order_.begin(), order_, slots_[slot].place);
    return &slots_[slot].place->second;
  }
  // Adds `key`, which must be absent, as the most recently used. Past the
  // capacity the least recently used entry goes out, into `*out` if given.
  // The value returned stays valid until `capacity` other keys are added.
  Value* Add(std::string_view key, Value value,
             std::optional<std::pair<std::string, Value>>* out = nullptr) {
    const std::size_t hash = HashOf(key);
    const std::size_t slot = SlotOf(key, hash);
    order_.emplace_front(std::string(key), std::move(value));
    slots_[slot] = Slot{hash, order_.begin()};
    if (++used_ * 2 > slots_.size()) Grow();
    if (order_.size() > capacity_) {
      auto& [old_key, old] = order_.back();
      Erase(SlotOf(old_key, HashOf(old_key)));
      if (out != nullptr) out->emplace(std::move(old_key), std::move(old));
      order_.pop_back();
    }
    return &order_.front().second;
  }
  // Calls f(key, value) for every entry, the most recently used first.
  template <typename F>
  void ForEach(F&& f) {
    for (auto& [key, value] : order_) f(key, value);
  }
  std::size_t size() const { return order_.size(); }
  void Clear() {
    order_.clear();
    slots_.assign(kFirstSlots, Slot{});
    used_ = 0;
  }

 private:
  using Order = std::list<std::pair<std::string, Value>>;
  struct Slot {
    std::size_t hash = 0;  // 0: empty (HashOf is never 0)
    typename Order::iterator place;
  };
  static constexpr std::size_t kFirstSlots = 16;  // a power of two

  static std::size_t HashOf(std::string_view key) { return Hash{}(key) | 1; }
  // The slot holding `key`, or the empty one where it would go.
  std::size_t SlotOf(std::string_view key, std::size_t hash) const {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.hash == 0 || (slot.hash == hash && slot.place->first == key)) return i;
    }
  }
  // Empties slot `i`, moving back each later entry of its run whose home
  // is not between it and `i`, so that no probe stops short of it.
  void Erase(std::size_t i) {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t j = (i + 1) & mask; slots_[j].hash != 0; j = (j + 1) & mask) {
      const std::size_t home = slots_[j].hash & mask;
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = Slot{};
    --used_;
  }
  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.hash == 0) continue;
      std::size_t i = slot.hash & mask;
      while (slots_[i].hash != 0) i = (i + 1) & mask;
      slots_[i] = slot;
    }
  }

  const std::size_t capacity_;
  Order order_;
  std::vector<Slot> slots_;  // a power of two of them
  std::size_t used_ = 0;
};

}  // namespace casegrid
