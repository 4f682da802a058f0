#include "engine/case_cache.h"

#include <functional>

namespace casegrid {

CaseCache::CaseCache(const EventStore* store, std::size_t capacity)
    : store_(store), per_shard_((capacity + kShards - 1) / kShards) {}

CaseCache::Shard& CaseCache::ShardOf(std::string_view case_id) {
  return shards_[std::hash<std::string_view>()(case_id) % kShards];
}

std::shared_ptr<const CaseState> CaseCache::Find(std::string_view case_id) {
  if (per_shard_ == 0) return nullptr;
  Shard& shard = ShardOf(case_id);
  std::lock_guard l(shard.mu);
  auto it = shard.index.find(case_id);
  if (it == shard.index.end()) return nullptr;
  shard.order.splice(shard.order.begin(), shard.order, it->second);
  return it->second->second;
}

void CaseCache::Keep(std::shared_ptr<const CaseState> state) {
  if (per_shard_ == 0 || !state->exists) return;
  Shard& shard = ShardOf(state->case_id);
  std::lock_guard l(shard.mu);
  if (auto it = shard.index.find(state->case_id); it != shard.index.end()) {
    // Another thread may have folded further meanwhile: keep the newer fold.
    if (it->second->second->version < state->version) it->second->second = std::move(state);
    shard.order.splice(shard.order.begin(), shard.order, it->second);
    return;
  }
  std::string id = state->case_id;
  shard.order.emplace_front(std::move(id), std::move(state));
  shard.index.emplace(shard.order.front().first, shard.order.begin());
  if (shard.order.size() > per_shard_) {
    shard.index.erase(shard.order.back().first);
    shard.order.pop_back();
  }
}

Result<CaseState> CaseCache::Load(std::string_view case_id) {
  std::shared_ptr<const CaseState> cached = Find(case_id);
  CaseState state = cached ? *cached : CaseState{};
  RETURN_IF_ERROR(FoldCaseOnto(*store_, case_id, UINT64_MAX, &state));
  if (cached == nullptr || state.version > cached->version) {
    Keep(std::make_shared<const CaseState>(state));
  }
  return state;
}

void CaseCache::Remember(CaseState state) {
  Keep(std::make_shared<const CaseState>(std::move(state)));
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
