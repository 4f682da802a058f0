#include "engine/case_cache.h"

#include <algorithm>
#include <functional>

namespace casegrid {

CaseCache::CaseCache(const EventStore* store, std::size_t capacity)
    : store_(store), per_shard_((capacity + kShards - 1) / kShards) {}

CaseCache::Shard& CaseCache::ShardOf(std::string_view case_id) {
  return shards_[std::hash<std::string_view>()(case_id) % kShards];
}

CaseCache::Cached CaseCache::Find(std::string_view case_id) {
  if (per_shard_ == 0) return {};
  Shard& shard = ShardOf(case_id);
  std::lock_guard l(shard.mu);
  auto it = shard.index.find(case_id);
  if (it == shard.index.end()) return {};
  shard.order.splice(shard.order.begin(), shard.order, it->second);
  return it->second->second;
}

void CaseCache::Keep(Cached cached) {
  if (per_shard_ == 0 || !cached.state->exists) return;
  Shard& shard = ShardOf(cached.state->case_id);
  std::lock_guard l(shard.mu);
  if (auto it = shard.index.find(cached.state->case_id); it != shard.index.end()) {
    // Another thread may have folded further meanwhile: keep the newer fold;
    // of two folds of the same events, the later knowledge of freshness.
    Cached& kept = it->second->second;
    if (kept.state->version < cached.state->version) {
      kept = std::move(cached);
    } else if (kept.state->version == cached.state->version) {
      kept.fresh_as_of = std::max(kept.fresh_as_of, cached.fresh_as_of);
    }
    shard.order.splice(shard.order.begin(), shard.order, it->second);
    return;
  }
  std::string id = cached.state->case_id;
  shard.order.emplace_front(std::move(id), std::move(cached));
  shard.index.emplace(shard.order.front().first, shard.order.begin());
  if (shard.order.size() > per_shard_) {
    shard.index.erase(shard.order.back().first);
    shard.order.pop_back();
  }
}

Result<CaseState> CaseCache::Load(std::string_view case_id, StorageReads reads) {
  const Cached cached = Find(case_id);
  if (cached.state && store_->LastChangeBound(CaseStream(case_id)) <= cached.fresh_as_of) {
    return *cached.state;  // nothing was written to the stream since
  }
  if (reads == StorageReads::kCachedOnly) {
    return Status(StatusCode::kWouldBlock, "case " + std::string(case_id) + " must be read");
  }
  // Read before the fold: every event up to here is published, so the fold
  // reads it.
  const Position head = store_->Head().position;
  CaseState state = cached.state ? *cached.state : CaseState{};
  RETURN_IF_ERROR(FoldCaseOnto(*store_, case_id, UINT64_MAX, &state));
  // Kept even when the fold found nothing new: it now knows that to `head`.
  Keep({cached.state && cached.state->version == state.version
            ? cached.state
            : std::make_shared<const CaseState>(state),
        head});
  return state;
}

Result<CaseState> CaseCache::LoadFollowing(std::string_view case_id,
                                           std::span<const RecordedEvent* const> events,
                                           StorageReads reads) {
  if (events.empty()) return Load(case_id, reads);
  const Cached cached = Find(case_id);
  const StreamVersion have = cached.state ? cached.state->version : 0;
  if (have >= events.back()->version) return *cached.state;  // folded in already
  // The handed events must continue the fold without a gap; else read.
  auto next = std::find_if(events.begin(), events.end(),
                           [have](const RecordedEvent* e) { return e->version == have + 1; });
  if (next == events.end()) return Load(case_id, reads);
  for (auto e = next; e + 1 != events.end(); ++e) {
    if ((*(e + 1))->version != (*e)->version + 1) return Load(case_id, reads);
  }
  CaseState state = cached.state ? *cached.state : CaseState{};
  for (; next != events.end(); ++next) {
    const RecordedEvent& e = **next;
    if (!IsEngineEventType(e.type)) {
      state.PassOver(e);
      continue;
    }
    auto data = DecodeEventData(e.type, e.data, StoredEventLimits());
    if (!data.ok()) {
      return Status::Corruption("event at position " + std::to_string(e.position) +
                                " does not decode: " + data.status().message());
    }
    state.Apply(e, *data);
  }
  // The stream's events up to the last one handed are all folded in, and any
  // later event of the stream comes after it in the log.
  Keep({std::make_shared<const CaseState>(state), events.back()->position});
  return state;
}

void CaseCache::Remember(CaseState state, Position fresh_as_of) {
  Keep({std::make_shared<const CaseState>(std::move(state)), fresh_as_of});
}

std::size_t CaseCache::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard l(shard.mu);
    n += shard.order.size();
  }
  return n;
}

}  // namespace casegrid
