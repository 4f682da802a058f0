// Subscription: an in-process reader that receives every committed event
// after a position, first from the log and then live, in order, exactly once.
//
// How it stays gap-free and bounded: the store pushes each committed batch to
// every subscription (the batch is shared, not copied). A subscription keeps
// at most `max_buffered_events` of them; past that it drops its buffer and
// reads the rest from the log, which is the history anyway. Whatever the
// buffer does not hold, Next() reads from the log up to the published head.
// So a slow consumer costs bounded memory and loses nothing.
//
// Ownership: created by EventStore::Subscribe; must not outlive the store.
//
// Thread-safety: Next() is for one consumer thread at a time; Close() may be
// called from any thread and wakes a waiting Next().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

#include "engine/event.h"
#include "engine/event_store.h"
#include "engine/status.h"

namespace casegrid {

struct SubscriptionOptions {
  // Live events held for a consumer that has not caught up; past this the
  // buffer is dropped and the log is read instead.
  std::size_t max_buffered_events = 65536;
};

class Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Appends to `out` the next events in position order, at most `max_count`,
  // waiting up to `wait` when none is committed yet. Appends nothing on
  // timeout. kUnavailable after Close(); other errors come from reading.
  Status Next(std::vector<RecordedEvent>* out, std::size_t max_count,
              std::chrono::milliseconds wait);

  // Ends the subscription; a waiting Next() returns kUnavailable.
  void Close();

  // True if the live buffer ever overflowed and the log was read instead.
  bool fell_back_to_log() const;

 private:
  friend class EventStore;
  friend class EventStore::Impl;
  Subscription(EventStore::Impl* store, Position after, const SubscriptionOptions& options);

  // Called by the store, in commit order, with each committed batch.
  void OnCommit(const EventBatch& batch);

  EventStore::Impl* const store_;
  const SubscriptionOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  Position next_ = 1;
  std::deque<EventBatch> live_;
  std::size_t live_events_ = 0;
  bool closed_ = false;
  bool fell_back_ = false;
};

}  // namespace casegrid
