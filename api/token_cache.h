// TokenCache: remembers tokens already verified, so that a client sending the
// same bearer token on every request pays for the HMAC and the claims parse
// once, not per request.
//
// Only tokens that verified are kept, keyed by their exact bytes (signature
// included), so a hit is a token the authority accepted. Expiry is checked on
// every hit against the caller's clock, as Verify would; an expired entry is
// dropped and the token verified again (which then says why it fails).
//
// Bounded: at most `capacity` tokens, in shards that are emptied whole when
// full (tokens are few and long-lived; the next request re-verifies).
//
// Thread-safety: every method is safe from any thread. The authority is not
// owned and must outlive the cache.
#pragma once

#include <array>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/auth.h"

namespace casegrid {

class TokenCache {
 public:
  TokenCache(const TokenAuthority* authority, std::size_t capacity);
  TokenCache(const TokenCache&) = delete;
  TokenCache& operator=(const TokenCache&) = delete;

  // What TokenAuthority::Verify answers for `token` at `now_ms`.
  Result<Principal> Verify(std::string_view token, std::int64_t now_ms);

  std::size_t size() const;

 private:
  static constexpr std::size_t kShards = 8;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Principal> verified;
  };

  const TokenAuthority* const authority_;
  const std::size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace casegrid
