#include "engine/deadline_watch.h"
#include "engine/thread_name.h"

#include <algorithm>
#include <iostream>
#include <unordered_map>
#include <utility>

namespace casegrid {
namespace {

// The subscription wakes its reader on every commit and on Close(), so this
// only bounds how long a quiet log keeps the follower inside one Next().
constexpr std::chrono::seconds kFollowWait{60};

}  // namespace

std::int64_t DeadlineWarningLeads::For(DeadlineKind kind) const {
  switch (kind) {
    case DeadlineKind::kAccept:
      return accept_ms;
    case DeadlineKind::kFirstContact:
      return first_contact_ms;
    case DeadlineKind::kCallback:
      return callback_ms;
    case DeadlineKind::kMediation:
      return mediation_ms;
  }
  return 0;
}

DeadlineWatch::DeadlineWatch(CaseService* service, const Clock* clock, DeadlineWatchOptions options)
    : service_(service), clock_(clock), options_(std::move(options)) {}

DeadlineWatch::~DeadlineWatch() {
  Stop();
}

Status DeadlineWatch::Start(Position after) {
  {
    std::lock_guard l(mu_);
    if (started_ || stopping_) return Status::Conflict("the deadline watch was already started");
    started_ = true;
  }
  const Position as_of = std::min(after, service_->store().Head().position);
  if (!options_.load_in_background) {
    Status loaded = LoadAll(as_of);
    std::lock_guard l(mu_);
    if (!loaded.ok()) {
      started_ = false;
      return loaded;
    }
    MarkLoaded(as_of);
  }
  // What commits while the cases load waits in the subscription (which
  // reads the log once it falls behind).
  subscription_ = service_->store().Subscribe(as_of, SubscriptionOptions{});
  Status started = StartThread(&follow_thread_, "cg-watch", [this, as_of] { FollowLoop(as_of); });
  if (started.ok()) started = StartThread(&tick_thread_, "cg-tick", [this] { TickLoop(); });
  if (!started.ok()) Stop();  // what did start stops; the watch is not to be started again
  return started;
}

void DeadlineWatch::Stop() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (subscription_) subscription_->Close();
  if (follow_thread_.joinable()) follow_thread_.join();
  if (tick_thread_.joinable()) tick_thread_.join();
  subscription_.reset();
}

std::size_t DeadlineWatch::open_deadlines() const {
  std::lock_guard l(mu_);
  return queue_.size();
}

Position DeadlineWatch::position() const {
  std::lock_guard l(mu_);
  return position_;
}

bool DeadlineWatch::loaded() const {
  std::lock_guard l(mu_);
  return loaded_;
}

Status DeadlineWatch::LoadAll(Position as_of) {
  const std::size_t page = std::max<std::size_t>(1, options_.page_size);
  std::string after;
  while (true) {
    {
      std::lock_guard l(mu_);
      if (stopping_) return Status::Ok();  // the rest is not needed
    }
    ASSIGN_OR_RETURN(auto streams, service_->store().ListStreams("case/", after, page));
    for (const std::string& stream : streams) {
      const std::string case_id(CaseIdOfStream(stream));
      Status s = Refresh(case_id, as_of);
      if (s.code() == StatusCode::kCorruption) {
        Log("skipping case " + case_id, s);
      } else if (!s.ok()) {
        return s;
      }
    }
    if (streams.size() < page) return Status::Ok();
    after = streams.back();
  }
}

Status DeadlineWatch::Refresh(const std::string& case_id, Position as_of) {
  return Installed(case_id, service_->LoadCase(case_id, as_of));
}

Status DeadlineWatch::Refresh(const std::string& case_id,
                              std::span<const RecordedEvent* const> events) {
  return Installed(case_id, service_->LoadCaseFollowing(case_id, events));
}

Status DeadlineWatch::Installed(const std::string& case_id, const Result<CaseState>& state) {
  if (!state.ok()) {
    std::lock_guard l(mu_);
    if (state.status().code() == StatusCode::kCorruption) {
      // Folding again will not help; stop acting on what we cannot read.
      Install(case_id, CaseState{});
      unread_.erase(case_id);
    } else {
      unread_.insert(case_id);
    }
    return state.status();
  }
  std::lock_guard l(mu_);
  auto known = cases_.find(case_id);
  if (known == cases_.end() || known->second.version <= state->version) {
    Install(case_id, *state);
  }
  unread_.erase(case_id);
  return Status::Ok();
}

std::int64_t DeadlineWatch::Now() const {
  // The time the service decides at (CaseService::DecisionTime): a deadline
  // the store can no longer stamp a step before is passed, not to be warned
  // of (review 103: behind a clock stepped back, its warning was refused
  // every tick, "is due already", and no miss was written).
  return std::max(clock_->NowMillis(), service_->DecisionTime());
}

void DeadlineWatch::Install(const std::string& case_id, const CaseState& state) {
  auto known = cases_.find(case_id);
  if (known != cases_.end()) {
    for (const Entry& e : known->second.entries) queue_.erase(e);
  }
  CaseEntries fresh{state.version, {}};
  const std::int64_t now = Now();
  // A full case takes only misses: no warning is due there.
  const bool full = state.version >= kMaxCaseEvents;
  for (const CaseDeadline& d : state.deadlines) {
    // A closed case owes nothing (CaseService::RecordDeadlineFact).
    if (d.due_at <= 0 || d.met || state.status == CaseStatus::kClosed) continue;
    if (d.missed) {
      // Missed, then moved (a rescheduled callback): its new due time is
      // warned of while it is still to come; a deadline misses once.
      if (full || !d.moved_since_missed() || d.warned || d.due_at <= now) continue;
      fresh.entries.push_back(
          Entry{d.due_at - options_.warning_leads.For(d.kind), case_id, d.kind, d.due_at, true});
      continue;
    }
    const std::int64_t act =
        d.warned || full ? d.due_at : d.due_at - options_.warning_leads.For(d.kind);
    fresh.entries.push_back(Entry{act, case_id, d.kind, d.due_at, false});
  }
  for (const Entry& e : fresh.entries) queue_.insert(e);
  if (fresh.entries.empty()) {
    if (known != cases_.end()) cases_.erase(known);
  } else if (known != cases_.end()) {
    known->second = std::move(fresh);
  } else {
    cases_.emplace(case_id, std::move(fresh));
  }
}

void DeadlineWatch::Tick() {
  std::vector<std::string> unread;
  {
    std::lock_guard l(mu_);
    if (stopping_) return;
    unread.assign(unread_.begin(), unread_.end());
  }
  for (const std::string& case_id : unread) {
    if (Status s = Refresh(case_id); !s.ok()) Log("reading case " + case_id, s);
  }

  const std::int64_t now = Now();
  std::vector<Entry> due;
  {
    std::lock_guard l(mu_);
    for (const Entry& e : queue_) {
      if (e.time_to_act > now) break;
      due.push_back(e);
    }
  }
  for (const Entry& e : due) {
    {
      std::lock_guard l(mu_);
      if (stopping_) return;
    }
    // The clock again, not the tick's start: a tick with many facts to
    // write (after a long stop) would otherwise warn of a deadline that had
    // passed while it wrote the ones before.
    const bool passed = Now() >= e.due_at;
    if (passed && e.warn_only) {  // too late to warn; missed once already
      std::lock_guard l(mu_);
      queue_.erase(e);
      continue;
    }
    auto written = passed ? service_->RecordDeadlineMissed(e.case_id, e.kind, e.due_at)
                          : service_->RecordDeadlineApproaching(e.case_id, e.kind, e.due_at);
    if (!written.ok() && written.status().code() != StatusCode::kConflict) {
      Log(std::string(passed ? "recording a missed " : "recording an approaching ") +
              std::string(Name(e.kind)) + " deadline of " + e.case_id,
          written.status());
      // A store that refuses appends (a failed fsync, a full disk) refuses
      // them all: the rest waits for the next tick, with one line a tick
      // rather than one per deadline due.
      if (written.status().code() == StatusCode::kUnavailable) return;
      continue;
    }
    // Written now, earlier, or no longer open: the case's fold says which.
    if (Status s = Refresh(e.case_id); !s.ok()) Log("reading case " + e.case_id, s);
  }
}

void DeadlineWatch::MarkLoaded(Position as_of) {
  position_ = std::max(position_, as_of);
  loaded_ = true;
}

bool DeadlineWatch::LoadInBackground(Position as_of) {
  while (true) {
    Status s = LoadAll(as_of);
    std::unique_lock l(mu_);
    if (stopping_) return false;
    if (s.ok()) {
      MarkLoaded(as_of);
      return true;
    }
    l.unlock();
    Log("loading the cases", s);
    l.lock();
    if (wake_.wait_for(l, options_.tick_interval, [this] { return stopping_; })) return false;
  }
}

void DeadlineWatch::FollowLoop(Position as_of) {
  if (options_.load_in_background && !LoadInBackground(as_of)) return;  // stopped
  const std::size_t page = std::max<std::size_t>(1, options_.page_size);
  std::vector<RecordedEvent> events;
  while (true) {
    events.clear();
    Status s = subscription_->Next(&events, page, kFollowWait);
    if (!s.ok()) {
      std::unique_lock l(mu_);
      if (stopping_) return;
      l.unlock();
      Log("following the log", s);
      l.lock();
      if (wake_.wait_for(l, options_.tick_interval, [this] { return stopping_; })) return;
      continue;
    }
    if (events.empty()) continue;
    // One load per case however many of its events arrived together, with
    // those events in hand so that the load need not read them back.
    std::vector<std::pair<std::string, std::vector<const RecordedEvent*>>> changed;
    std::unordered_map<std::string_view, std::size_t> seen;
    for (const RecordedEvent& e : events) {
      const std::string_view case_id = CaseIdOfStream(e.stream);
      if (case_id.empty()) continue;
      auto [at, fresh] = seen.emplace(case_id, changed.size());
      if (fresh) changed.emplace_back(std::string(case_id), std::vector<const RecordedEvent*>());
      changed[at->second].second.push_back(&e);
    }
    for (const auto& [case_id, its_events] : changed) {
      if (Status r = Refresh(case_id, its_events); !r.ok()) Log("reading case " + case_id, r);
    }
    std::lock_guard l(mu_);
    position_ = std::max(position_, events.back().position);
  }
}

void DeadlineWatch::TickLoop() {
  std::unique_lock l(mu_);
  while (!stopping_) {
    if (wake_.wait_for(l, options_.tick_interval, [this] { return stopping_; })) return;
    l.unlock();
    Tick();
    l.lock();
  }
}

void DeadlineWatch::Log(std::string_view what, const Status& status) const {
  std::cerr << "casegrid: deadline watch: " << what << ": " << status.ToString() << "\n";
}

}  // namespace casegrid
