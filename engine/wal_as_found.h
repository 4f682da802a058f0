// WalAsFound: hard links to a store's write-ahead log files as a writer's
// open found them, taken before RocksDB's recovery, which moves the WAL's
// whole groups to a table file and deletes the WAL. An open refused after
// that recovery (a log that ends before its durable mark: the disk lost
// bytes it had fsync'd) keeps them, so that the WAL's bytes stay as they
// were for a salvage (review 97: the refusal had used the cut WAL up);
// otherwise they are removed.
//
// Best effort: a file system without hard links keeps nothing, and the open
// goes on as it would have. Links (`<wal>.opening`) a crash left behind are
// removed by the next Take.
//
// Thread-safety: a value, used by one open.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace casegrid {

class WalAsFound {
 public:
  WalAsFound() = default;
  // Links each `*.log` of `store_path` (RocksDB's WAL files).
  static WalAsFound Take(const std::string& store_path);
  ~WalAsFound();
  WalAsFound(WalAsFound&& other) noexcept : links_(std::move(other.links_)) {
    other.links_.clear();
  }
  WalAsFound& operator=(WalAsFound&& other) noexcept;
  WalAsFound(const WalAsFound&) = delete;
  WalAsFound& operator=(const WalAsFound&) = delete;

  // Renames the links to `<wal>.as-found-<now_ms>`, where they stay; returns
  // the names kept.
  std::vector<std::string> Keep(std::int64_t now_ms);

 private:
  void Remove();

  std::vector<std::string> links_;  // each `<wal>.opening`
};

}  // namespace casegrid
