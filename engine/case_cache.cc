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
