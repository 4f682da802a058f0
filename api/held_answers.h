// HeldAnswers: the bytes of HTTP answers written and not yet taken by their
// clients, counted in all and per token subject, so that reads can be
// refused before they add more: past the bound of all (a 503: the server's
// memory), and past one subject's share of it (a 429: one user's clients
// that ask for long answers and do not read them, from however many
// connections and addresses, would otherwise fill the bound of all and have
// every other user's reads refused until their answers time out).
//
// Thread-safety: every member may be called from any thread. A Hold may be
// destroyed on any thread, and must be before the HeldAnswers is.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "engine/status.h"

namespace casegrid {

class HeldAnswers {
 public:
  // `per_subject`: 0 for no share bound.
  HeldAnswers(std::size_t bound, std::size_t per_subject)
      : bound_(bound), per_subject_(per_subject) {}
  HeldAnswers(const HeldAnswers&) = delete;
  HeldAnswers& operator=(const HeldAnswers&) = delete;

  // Bytes counted until the Hold is destroyed. Move-only.
  class Hold {
   public:
    Hold() = default;
    Hold(Hold&& other) noexcept;
    Hold& operator=(Hold&& other) noexcept;
    ~Hold();

   private:
    friend class HeldAnswers;
    Hold(HeldAnswers* owner, std::string subject, std::size_t bytes)
        : owner_(owner), subject_(std::move(subject)), bytes_(bytes) {}
    void Release();
    HeldAnswers* owner_ = nullptr;
    std::string subject_;  // empty: counted in all only
    std::size_t bytes_ = 0;
  };

  // May a read by `subject` (empty: a caller without a verified token)
  // start now? OK; kUnavailable while the answers held in all exceed the
  // bound; kRateLimited while `subject`'s exceed its share. Each message
  // names the flag that sets the bound. A read under both is answered
  // whatever its size, so each bound is passed by at most the answers
  // already started.
  Status MayRead(const std::string& subject) const;
  // Counts `bytes` of an answer to `subject` (empty: in all only).
  Hold Take(std::string subject, std::size_t bytes);

 private:
  void Release(const std::string& subject, std::size_t bytes);

  const std::size_t bound_;
  const std::size_t per_subject_;
  std::atomic<std::size_t> held_{0};
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::size_t> by_subject_;  // guarded by mu_; no zeros
};

}  // namespace casegrid
