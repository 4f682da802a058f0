#include "api/person_turns.h"

#include <utility>

namespace casegrid {

PersonTurns::Turn::Turn(PersonTurns* turns, std::string person, std::shared_ptr<Queue> queue)
    : turns_(turns), person_(std::move(person)), queue_(std::move(queue)), held_(queue_->turn) {}

PersonTurns::Turn::~Turn() {
  if (!held_.owns_lock()) return;  // moved from
  turns_->Leave(person_);          // first: a request that comes now counts only those waiting
  held_.unlock();
}

std::optional<PersonTurns::Turn> PersonTurns::Take(const std::string& person) {
  // Allocated before the count is raised, so that a failed allocation
  // leaves no count behind.
  std::string name = person;
  auto fresh = std::make_shared<Queue>();
  std::shared_ptr<Queue> queue;
  {
    std::lock_guard l(mu_);
    auto [it, added] = queues_.try_emplace(person, std::move(fresh));
    if (it->second->takers > max_waiting_) return std::nullopt;  // one holds, max_waiting wait
    ++it->second->takers;
    queue = it->second;
  }
  return Turn(this, std::move(name), std::move(queue));  // waits for the turn
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
