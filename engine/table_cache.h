// TableCacheShardBits: how many shards RocksDB's table cache is split into
// when a store bounds the table files it keeps open (max_open_files).
//
// The cache holds max_open_files - 10 table readers over
// 2^table_cache_numshardbits shards (64 by default), each an LRU of its own:
// at a bound of 64 each shard would hold one reader, and two files hashing to
// it would evict each other on every read (an append's id and stream-head
// lookups among them; review 75). Fewer shards, each holding ~16 or more.
//
// Thread-safety: a pure function.
#pragma once

#include <algorithm>
#include <bit>

namespace casegrid {

inline int TableCacheShardBits(int max_open_files) {
  if (max_open_files <= 0) return 6;  // all files kept open: RocksDB's default
  const auto per_16 = static_cast<unsigned>(std::max(1, (max_open_files - 10) / 16));
  return std::clamp(static_cast<int>(std::bit_width(per_16)) - 1, 0, 6);
}

}  // namespace casegrid
