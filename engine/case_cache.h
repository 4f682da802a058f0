// CaseCache: the latest folded state of recently used cases, shared by every
// command and by the deadline watch, so that loading a case folds only the
// events its stream gained since the cached version, not the whole stream.
//
// Correctness rests on the log alone: an entry is a fold of its stream's
// first `version` events, known to be every event up to a log position
// (`fresh_as_of`). Load() answers from the entry only while the store's
// EventStore::LastChangeBound for the stream is at most that position (no
// I/O); otherwise it reads the stream after the entry's version first. A
// stale entry costs one short read, never a wrong state; an entry is only
// replaced by a fold of more events.
//
// Bounded: at most `capacity` cases (rounded up to whole shards), least
// recently used out first. Each shard has its own mutex; folding happens
// outside it.
//
// Thread-safety: every method is safe from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/case_state.h"
#include "engine/event_store.h"
#include "engine/status.h"

namespace casegrid {

// Whether a call may wait on a storage read (a RocksDB point read or short
// scan, which may go to disk). kCachedOnly: a call that would have to read
// fails with kWouldBlock instead, having changed nothing — for threads that
// serve many connections and must never wait on a disk.
enum class StorageReads { kAllowed, kCachedOnly };

class CaseCache {
 public:
  // `store` is not owned and must outlive the cache. capacity 0 caches
  // nothing (every Load folds the whole stream).
  CaseCache(const EventStore* store, std::size_t capacity);
  CaseCache(const CaseCache&) = delete;
  CaseCache& operator=(const CaseCache&) = delete;

  // The case with every published event of its stream folded in; a state
  // with !exists for a case that has none. kCorruption if an event does not
  // decode. kCachedOnly: kWouldBlock unless the cache holds the case and
  // nothing was written to its stream since (no I/O).
  Result<CaseState> Load(std::string_view case_id, StorageReads reads = StorageReads::kAllowed);

  // The case with at least `events` folded in: events of its stream just
  // published, in the order of the log (as a subscription hands them). When
  // they continue the cached fold, or it holds them already, the answer
  // needs no I/O: a follower of the log that loads each case it sees does not
  // read back what it was just handed. Otherwise as Load() with `reads`.
  Result<CaseState> LoadFollowing(std::string_view case_id,
                                  std::span<const RecordedEvent* const> events,
                                  StorageReads reads = StorageReads::kAllowed);

  // Keeps `state` (a fold of its stream's first state.version events, e.g.
  // the state a command decided on plus the events it just appended), which
  // is every event of the stream up to log position `fresh_as_of` (e.g. the
  // append's last position, when it was appended at an expected version),
  // unless a fold of more events is kept already.
  void Remember(CaseState state, Position fresh_as_of);

  // Cases held now.
  std::size_t size() const;

 private:
  static constexpr std::size_t kShards = 16;
  struct Cached {
    std::shared_ptr<const CaseState> state;
    Position fresh_as_of = 0;  // the stream has no events after state's up to here
  };
  using Entry = std::pair<std::string, Cached>;
  struct Shard {
    mutable std::mutex mu;
    std::list<Entry> order;  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index;  // keys: order's
  };

  Shard& ShardOf(std::string_view case_id);
  Cached Find(std::string_view case_id);
  void Keep(Cached cached);

  const EventStore* const store_;
  const std::size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace casegrid
