#include "projections/view_store.h"

#include <rocksdb/write_batch.h>

#include <filesystem>
#include <functional>

#include "engine/record_format.h"

namespace casegrid {

namespace {
constexpr const char* kFamilyNames[kViewFamilyCount] = {
    "default", "cases", "cell_cases", "dashboard", "snapshots", "ticks", "alerts", "addresses"};

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::Unavailable(what + ": " + s.ToString());
}
}  // namespace

const char* ViewStore::FamilyName(ViewFamily f) {
  return kFamilyNames[f];
}

Result<std::unique_ptr<ViewStore>> ViewStore::Open(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  // Views are written without a write-ahead log: every family is flushed
  // together (atomic_flush), so what survives a crash is some whole earlier
  // batch with its checkpoint, and the projector catches up from there.
  options.atomic_flush = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kFamilyNames) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::unique_ptr<ViewStore> store(new ViewStore());
  rocksdb::Status s = rocksdb::DB::Open(options, path, descriptors, &store->families_, &store->db_);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
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

Status ViewStore::StartFlush() {
  rocksdb::FlushOptions options;
  options.wait = false;
  return FromRocks(db_->Flush(options, families_), "flushing views");
}

Status ViewStore::Put(ViewFamily f, const std::string& key, const std::string& value) {
  rocksdb::WriteBatch batch;
  if (rocksdb::Status s = batch.Put(family(f), key, value); !s.ok()) {
    return FromRocks(s, "writing views");
  }
  return Write(&batch);
}

Result<std::optional<std::string>> ViewStore::Get(ViewFamily f, const std::string& key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), family(f), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocks(s, "reading views"));
  return std::optional<std::string>(std::move(value));
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
