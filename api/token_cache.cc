#include "api/token_cache.h"

#include <functional>

namespace casegrid {

TokenCache::TokenCache(const TokenAuthority* authority, std::size_t capacity)
    : authority_(authority), per_shard_((capacity + kShards - 1) / kShards) {}

Result<Principal> TokenCache::Verify(std::string_view token, std::int64_t now_ms) {
  Shard& shard = shards_[std::hash<std::string_view>()(token) % kShards];
  {
    std::lock_guard l(shard.mu);
    // Heterogeneous lookup needs C++20 transparent hashing; a copy of the
    // token is cheaper than the HMAC it saves.
    if (auto it = shard.verified.find(std::string(token)); it != shard.verified.end()) {
      if (it->second.expires_at_ms > now_ms) return it->second;
      shard.verified.erase(it);
    }
  }
  ASSIGN_OR_RETURN(Principal who, authority_->Verify(token, now_ms));
  if (per_shard_ > 0) {
    std::lock_guard l(shard.mu);
    if (shard.verified.size() >= per_shard_) shard.verified.clear();
    shard.verified.emplace(std::string(token), who);
  }
  return who;
}

std::size_t TokenCache::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard l(shard.mu);
    n += shard.verified.size();
  }
  return n;
}

}  // namespace casegrid
