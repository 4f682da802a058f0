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
//   alerts     person \0 position \0 kind -> the alert's cell (open alerts)
//   alert_bodies position \0 kind -> what an event tells everyone it alerts
//              of that kind, as JSON (alerts.h: ComposeAlert)
//   addresses  normalized address \0 position -> recorded_at (8 bytes) + case id
//   open_cases cell \0 case id -> [status byte, kind byte], of the cases not
//              closed: cell_cases less the closed ones, so that a board or a
//              list by an open state walks only open cases
//
// Thread-safety: RocksDB's: reads and writes from any thread; a table file's
// writer is for one thread.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/sst_file_writer.h>

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
  kViewOpenCases,
  kViewAlertBodies,
  kViewFamilyCount,
};

class ViewStore {
 public:
  // `bulk_load` is for a rebuild that nobody reads until it is done: the
  // families it only writes (all but the meta and address families) take
  // their writes unsorted and sort them when flushed, in smaller memtables
  // that flush while the rebuild goes on. Reads of those families are slow
  // until the store is reopened without it. `max_open_files` bounds the table
  // files kept open (RocksDB's; -1: all of them).
  static Result<std::unique_ptr<ViewStore>> Open(const std::string& path, bool bulk_load = false,
                                                 int max_open_files = -1);
  ~ViewStore();

  rocksdb::DB* db() const { return db_; }
  rocksdb::ColumnFamilyHandle* family(ViewFamily f) const {
    return families_[static_cast<std::size_t>(f)];
  }
  Result<Position> Checkpoint() const;
  Status Write(rocksdb::WriteBatch* batch);
  // Writes every family's memtable to table files, and waits for them.
  Status Flush();
  // Bulk loading: a table file of family `f` at `file`, whose keys must be
  // Put in strictly increasing order and which the caller Finish()es; then
  // Ingest() puts such files, which must not overlap one another, into `f`,
  // where they override what the family held (moving them: they are gone
  // from `files`' paths afterwards).
  Result<std::unique_ptr<rocksdb::SstFileWriter>> NewTableFile(ViewFamily f,
                                                               const std::string& file) const;
  Status Ingest(ViewFamily f, const std::vector<std::string>& files);
  // One key, written as Write() writes (no write-ahead log).
  Status Put(ViewFamily f, const std::string& key, const std::string& value);
  // Point lookup; nullopt when absent. With `read`, as it reads (a
  // Snapshot's ReadOptions()).
  Result<std::optional<std::string>> Get(ViewFamily f, const std::string& key) const;
  Result<std::optional<std::string>> Get(ViewFamily f, const std::string& key,
                                         const rocksdb::ReadOptions& read) const;
  // `key`'s value (nullopt when absent) and the checkpoint, read from one
  // snapshot: the value as it stood at that checkpoint, never a batch later.
  struct AtCheckpoint {
    Position checkpoint = 0;
    std::optional<std::string> value;
  };
  Result<AtCheckpoint> GetAtCheckpoint(ViewFamily f, const std::string& key) const;
  // Reads of every family as one write left them: what ReadOptions() reads
  // is the views of one batch, whole, until the snapshot is destroyed
  // (which must happen before the store's).
  class Snapshot {
   public:
    explicit Snapshot(rocksdb::DB* db) : db_(db) { options_.snapshot = db_->GetSnapshot(); }
    ~Snapshot() { db_->ReleaseSnapshot(options_.snapshot); }
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;
    const rocksdb::ReadOptions& ReadOptions() const { return options_; }

   private:
    rocksdb::DB* const db_;
    rocksdb::ReadOptions options_;
  };
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
