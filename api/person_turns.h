// PersonTurns: one request at a time per person, for writes the store cannot
// order alone (an alert acknowledgment under an Idempotency-Key, whose event
// id is the key's, so the store no longer keeps a second acknowledgment of
// the alert out). Each person has a turn of their own: one person's requests
// never wait on another's. A person with `max_waiting` requests waiting
// already is refused at once rather than parking more of the server's
// worker threads.
//
// Thread-safety: Take may run on any thread; a Turn must be released (or
// destroyed) on the thread that took it, as a std::mutex is.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace casegrid {

class PersonTurns {
  struct Queue;

 public:
  explicit PersonTurns(std::size_t max_waiting) : max_waiting_(max_waiting) {}

  // A person's turn, held until destroyed.
  class Turn {
   public:
    Turn(Turn&&) = default;
    Turn& operator=(Turn&&) = delete;
    ~Turn();

   private:
    friend class PersonTurns;
    Turn(PersonTurns* turns, std::string person, std::shared_ptr<Queue> queue);
    PersonTurns* turns_;
    std::string person_;
    std::shared_ptr<Queue> queue_;
    std::unique_lock<std::mutex> held_;
  };

  // Waits for `person`'s turn; nullopt at once if max_waiting of theirs wait.
  std::optional<Turn> Take(const std::string& person);
  // How many of `person`'s requests hold or wait for their turn.
  std::size_t Takers(const std::string& person);

 private:
  struct Queue {
    std::mutex turn;
    std::size_t takers = 0;  // holding or waiting; guarded by PersonTurns::mu_
  };
  void Leave(const std::string& person);

  const std::size_t max_waiting_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Queue>> queues_;  // guarded by mu_
};

}  // namespace casegrid
