#include "api/person_turns.h"

#include <utility>

namespace casegrid {

PersonTurns::Turn::Turn(PersonTurns* turns, std::string person, std::shared_ptr<Queue> queue)
    : turns_(turns), person_(std::move(person)), queue_(std::move(queue)), held_(queue_->turn) {}

PersonTurns::Turn::~Turn() {
  if (!held_.owns_lock()) return;  // moved from
  held_.unlock();
  turns_->Leave(person_);
}

std::optional<PersonTurns::Turn> PersonTurns::Take(const std::string& person) {
  std::shared_ptr<Queue> queue;
  {
    std::lock_guard l(mu_);
    auto& slot = queues_[person];
    if (!slot) slot = std::make_shared<Queue>();
    if (slot->takers > max_waiting_) return std::nullopt;  // one holds, max_waiting wait
    ++slot->takers;
    queue = slot;
  }
  return Turn(this, person, std::move(queue));  // waits for the turn
}

std::size_t PersonTurns::Takers(const std::string& person) {
  std::lock_guard l(mu_);
  auto it = queues_.find(person);
  return it == queues_.end() ? 0 : it->second->takers;
}

void PersonTurns::Leave(const std::string& person) {
  std::lock_guard l(mu_);
  auto it = queues_.find(person);
  if (it != queues_.end() && --it->second->takers == 0) queues_.erase(it);
}

}  // namespace casegrid
