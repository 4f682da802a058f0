// ViewStore: the RocksDB database that holds the views (`<data>/views`),
// separate from the log so that it can be dropped and rebuilt.
//
// Every write is one WriteBatch that carries the views it changes and the
// checkpoint (the position they reflect). Writes skip the write-ahead log and
// all families flush together, so after a crash the views are those of some
// whole earlier batch, with its checkpoint, and the projector catches up from
// there: the log is the truth.
//
// Layout (docs/views.md):
//   default    "checkpoint" -> position (8 bytes big-endian)
//   cases      case id -> case view JSON
//   cell_cases cell \0 case id -> [status byte, kind byte]
//   dashboard  node path -> encoded DashboardNode
//   snapshots  node path \0 position -> encoded DashboardNode at that tick
//   ticks      position -> "" (the positions snapshots were taken at)
//   alerts     person \0 position \0 kind -> alert JSON (open alerts)
//   addresses  normalized address \0 position -> recorded_at (8 bytes) + case id
//
// Thread-safety: RocksDB's: reads and writes from any thread.
#pragma once

#include <rocksdb/db.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/event.h"
#include "engine/status.h"

namespace casegrid {

enum ViewFamily {
  kViewMeta = 0,
  kViewCases,
  kViewCellCases,
  kViewDashboard,
  kViewSnapshots,
  kViewTicks,
  kViewAlerts,
  kViewAddresses,
  kViewFamilyCount,
};

class ViewStore {
 public:
  static Result<std::unique_ptr<ViewStore>> Open(const std::string& path);
  ~ViewStore();

  rocksdb::DB* db() const { return db_; }
  rocksdb::ColumnFamilyHandle* family(ViewFamily f) const {
    return families_[static_cast<std::size_t>(f)];
  }
  Result<Position> Checkpoint() const;
  Status Write(rocksdb::WriteBatch* batch);
  // Starts writing every family's memtable to table files, without waiting
  // (the destructor's flush waits for it).
  Status StartFlush();
  // One key, written as Write() writes (no write-ahead log).
  Status Put(ViewFamily f, const std::string& key, const std::string& value);
  // Point lookup; nullopt when absent.
  Result<std::optional<std::string>> Get(ViewFamily f, const std::string& key) const;
  // Every key and value of `f`, for comparing two view stores.
  Status ForEach(ViewFamily f,
                 const std::function<void(std::string_view, std::string_view)>& visit) const;

  static const char* FamilyName(ViewFamily f);
  static constexpr const char* kCheckpointKey = "checkpoint";

 private:
  ViewStore() = default;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;
};

}  // namespace casegrid
