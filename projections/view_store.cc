#include "projections/view_store.h"

#include <rocksdb/memtablerep.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <functional>

#include "engine/info_log.h"
#include "engine/insert_hints.h"
#include "engine/record_format.h"
#include "engine/rocks_lock.h"
#include "engine/table_cache.h"

namespace casegrid {

namespace {
constexpr const char* kFamilyNames[kViewFamilyCount] = {
    "default", "cases",  "cell_cases", "dashboard",  "snapshots",
    "ticks",   "alerts", "addresses",  "open_cases", "alert_bodies"};

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::Unavailable(what + ": " + s.ToString());
}
}  // namespace

const char* ViewStore::FamilyName(ViewFamily f) {
  return kFamilyNames[f];
}

namespace {

// Where a view write lands next to the one before (insert_hints.h): the
// checkpoint and the dashboard nodes are a few keys rewritten in every batch,
// the snapshots of a node and the ticks grow by position. The families with a
// key per case, person or address get no hint: a hint each would cost more
// memtable than it saves.
std::shared_ptr<const rocksdb::SliceTransform> InsertHint(ViewFamily f) {
  switch (f) {
    case kViewMeta:
    case kViewDashboard:
      return storage::HintPerKey();
    case kViewSnapshots:
      return storage::HintPerGroupOfNumberedKeys();
    case kViewTicks:
    case kViewAlertBodies:
      return storage::HintForAllKeys();
    case kViewCases:
    case kViewCellCases:
    case kViewAlerts:
    case kViewAddresses:
    case kViewOpenCases:
    case kViewFamilyCount:
      break;
  }
  return nullptr;
}

}  // namespace

Result<std::unique_ptr<ViewStore>> ViewStore::Open(const std::string& path, bool bulk_load,
                                                   int max_open_files) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  options.max_open_files = max_open_files;
  options.table_cache_numshardbits = TableCacheShardBits(max_open_files);
  options.info_log = OpenInfoLog(path);  // a full disk does not abort (engine/info_log.h)
  // Views are written without a write-ahead log: every family is flushed
  // together (atomic_flush), so what survives a crash is some whole earlier
  // batch with its checkpoint, and the projector catches up from there.
  options.atomic_flush = true;
  // The memtables of all ten families together (each family's own 64 MiB,
  // two of them, would allow 1.25 GiB): flushed past this, so that the
  // views' memory is bounded however long a server runs.
  options.db_write_buffer_size = 256 << 20;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  // A vector memtable takes a write as an append and sorts at the flush,
  // where a skip list sorts on every insert; it cannot take writes from
  // several threads at once.
  if (bulk_load) options.allow_concurrent_memtable_write = false;
  for (int f = 0; f < kViewFamilyCount; ++f) {
    rocksdb::ColumnFamilyOptions family;
    // The projector reads the address family while it writes it (repeat
    // disputes) and the meta family when it opens.
    if (bulk_load && f != kViewAddresses && f != kViewMeta) {
      family.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
      // Smaller memtables are flushed while the rebuild goes on, rather than
      // all at its end.
      family.write_buffer_size = 8 << 20;
    }
    if (auto hint = InsertHint(static_cast<ViewFamily>(f))) {
      family.memtable_insert_with_hint_prefix_extractor = std::move(hint);
    }
    descriptors.emplace_back(kFamilyNames[f], family);
  }
  std::unique_ptr<ViewStore> store(new ViewStore());
  rocksdb::Status s = rocksdb::DB::Open(options, path, descriptors, &store->families_, &store->db_);
  if (!s.ok()) {
    if (HeldByAnotherOpen(s)) {
      return Status::Unavailable("views " + path + " are open in another process");
    }
    return FromRocks(s, "opening views " + path);
  }
  return store;
}

ViewStore::~ViewStore() {
  if (db_ == nullptr) return;
  // Without a WAL, what is only in memory would be caught up again; flushing
  // on a clean close saves that work.
  db_->Flush(rocksdb::FlushOptions(), families_).PermitUncheckedError();
  for (auto* h : families_) db_->DestroyColumnFamilyHandle(h);
  db_->Close().PermitUncheckedError();
  delete db_;
}

Result<Position> ViewStore::Checkpoint() const {
  ASSIGN_OR_RETURN(auto value, Get(kViewMeta, kCheckpointKey));
  return value ? storage::DecodeBigEndian64(*value) : Position{0};
}

Status ViewStore::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions options;
  options.disableWAL = true;
  return FromRocks(db_->Write(options, batch), "writing views");
}

Status ViewStore::Flush() {
  return FromRocks(db_->Flush(rocksdb::FlushOptions(), families_), "flushing views");
}

Result<std::unique_ptr<rocksdb::SstFileWriter>> ViewStore::NewTableFile(
    ViewFamily f, const std::string& file) const {
  rocksdb::ColumnFamilyHandle* handle = family(f);
  auto writer = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(),
                                                         db_->GetOptions(handle), handle);
  RETURN_IF_ERROR(FromRocks(writer->Open(file), "opening table file " + file));
  return writer;
}

Status ViewStore::Ingest(ViewFamily f, const std::vector<std::string>& files) {
  if (files.empty()) return Status::Ok();
  rocksdb::IngestExternalFileOptions options;
  options.move_files = true;
  return FromRocks(db_->IngestExternalFile(family(f), files, options),
                   std::string("ingesting table files into ") + FamilyName(f));
}

Status ViewStore::Put(ViewFamily f, const std::string& key, const std::string& value) {
  rocksdb::WriteBatch batch;
  if (rocksdb::Status s = batch.Put(family(f), key, value); !s.ok()) {
    return FromRocks(s, "writing views");
  }
  return Write(&batch);
}

Result<std::optional<std::string>> ViewStore::Get(ViewFamily f, const std::string& key) const {
  return Get(f, key, rocksdb::ReadOptions());
}

Result<std::optional<std::string>> ViewStore::Get(ViewFamily f, const std::string& key,
                                                  const rocksdb::ReadOptions& read) const {
  std::string value;
  rocksdb::Status s = db_->Get(read, family(f), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocks(s, "reading views"));
  return std::optional<std::string>(std::move(value));
}

Result<ViewStore::AtCheckpoint> ViewStore::GetAtCheckpoint(ViewFamily f,
                                                           const std::string& key) const {
  const Snapshot held(db_);
  const rocksdb::ReadOptions& options = held.ReadOptions();
  AtCheckpoint out;
  ASSIGN_OR_RETURN(auto checkpoint, Get(kViewMeta, kCheckpointKey, options));
  if (checkpoint) out.checkpoint = storage::DecodeBigEndian64(*checkpoint);
  ASSIGN_OR_RETURN(out.value, Get(f, key, options));
  return out;
}

Status ViewStore::ForEach(
    ViewFamily f, const std::function<void(std::string_view, std::string_view)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(f)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    visit(it->key().ToStringView(), it->value().ToStringView());
  }
  return FromRocks(it->status(), "scanning views");
}

}  // namespace casegrid
