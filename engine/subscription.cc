#include "engine/subscription.h"

#include "engine/event_store_impl.h"

namespace casegrid {

Subscription::Subscription(EventStore::Impl* store, Position after,
                           const SubscriptionOptions& options)
    : store_(store), options_(options), next_(after + 1) {}

Subscription::~Subscription() {
  store_->RemoveSubscriber(this);
}

void Subscription::OnCommit(const EventBatch& batch) {
  std::lock_guard l(mu_);
  if (closed_) return;
  if (live_events_ + batch->size() > options_.max_buffered_events) {
    // The consumer is behind: stop holding memory for it; Next() reads the log.
    live_.clear();
    live_events_ = 0;
    fell_back_ = true;
    if (batch->size() > options_.max_buffered_events) {
      cv_.notify_one();  // the log holds it: a waiting Next reads it now, not at its deadline
      return;
    }
  }
  live_.push_back(batch);
  live_events_ += batch->size();
  cv_.notify_one();
}

Status Subscription::Next(std::vector<RecordedEvent>* out, std::size_t max_count,
                          std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::unique_lock l(mu_);
  while (true) {
    if (closed_) return Status::Unavailable("subscription closed");
    while (!live_.empty() && live_.front()->back().position < next_) {
      live_events_ -= live_.front()->size();
      live_.pop_front();
    }
    if (max_count == 0) return Status::Ok();
    if (!live_.empty() && live_.front()->front().position <= next_) {
      // Live: batches are contiguous and in order, so deliver straight on.
      std::size_t given = 0;
      while (!live_.empty() && given < max_count) {
        const auto& batch = *live_.front();
        if (batch.front().position > next_) break;  // a gap the log must fill
        for (const RecordedEvent& e : batch) {
          if (e.position < next_) continue;
          if (given == max_count) break;
          out->push_back(e);
          ++next_;
          ++given;
        }
        if (batch.back().position < next_) {
          live_events_ -= batch.size();
          live_.pop_front();
        }
      }
      return Status::Ok();
    }
    // Catch-up: whatever is published but not buffered is in the log.
    if (next_ <= store_->published_position_.load(std::memory_order_acquire)) {
      const Position from = next_;
      l.unlock();
      auto events = store_->ReadAll(from - 1, max_count);
      l.lock();
      if (!events.ok()) return events.status();
      if (events->empty() || events->front().position != from) {
        return Status::Corruption("the log has no event at position " + std::to_string(from));
      }
      for (RecordedEvent& e : *events) {
        out->push_back(std::move(e));
      }
      next_ = out->back().position + 1;
      return Status::Ok();
    }
    if (cv_.wait_until(l, deadline) == std::cv_status::timeout && live_.empty() && !closed_) {
      return Status::Ok();
    }
  }
}

void Subscription::Close() {
  std::lock_guard l(mu_);
  closed_ = true;
  live_.clear();
  live_events_ = 0;
  cv_.notify_all();
}

bool Subscription::fell_back_to_log() const {
  std::lock_guard l(mu_);
  return fell_back_;
}

}  // namespace casegrid
