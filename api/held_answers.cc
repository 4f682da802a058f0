#include "api/held_answers.h"

#include <utility>

namespace casegrid {

HeldAnswers::Hold::Hold(Hold&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      subject_(std::move(other.subject_)),
      bytes_(std::exchange(other.bytes_, 0)) {}

HeldAnswers::Hold& HeldAnswers::Hold::operator=(Hold&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::exchange(other.owner_, nullptr);
    subject_ = std::move(other.subject_);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

HeldAnswers::Hold::~Hold() {
  Release();
}

void HeldAnswers::Hold::Release() {
  if (owner_ != nullptr) owner_->Release(subject_, bytes_);
  owner_ = nullptr;
}

Status HeldAnswers::MayRead(const std::string& subject) const {
  if (const std::size_t held = held_.load(); held > bound_) {
    return Status::Unavailable("the server holds " + std::to_string(held) +
                               " bytes of answers its clients have not read yet "
                               "(serve --max-answer-bytes-held); try again");
  }
  if (per_subject_ == 0 || subject.empty()) return Status::Ok();
  std::lock_guard lock(mu_);
  const auto it = by_subject_.find(subject);
  if (it != by_subject_.end() && it->second > per_subject_) {
    return Status::RateLimited("this token's clients have " + std::to_string(it->second) +
                               " bytes of answers not read yet, past its share of " +
                               std::to_string(per_subject_) +
                               " (serve --max-answer-bytes-held-per-token): read them, or try "
                               "again once they are dropped");
  }
  return Status::Ok();
}

HeldAnswers::Hold HeldAnswers::Take(std::string subject, std::size_t bytes) {
  held_.fetch_add(bytes);
  if (bytes == 0) subject.clear();  // (no zeros among the subjects)
  if (!subject.empty()) {
    std::lock_guard lock(mu_);
    by_subject_[subject] += bytes;
  }
  return Hold(this, std::move(subject), bytes);
}

void HeldAnswers::Release(const std::string& subject, std::size_t bytes) {
  held_.fetch_sub(bytes);
  if (subject.empty()) return;
  std::lock_guard lock(mu_);
  const auto it = by_subject_.find(subject);
  if (it == by_subject_.end()) return;
  it->second -= bytes;
  if (it->second == 0) by_subject_.erase(it);
}

}  // namespace casegrid
