// Opens a casegrid store's RocksDB directly, bypassing the engine: what an
// attacker or a broken disk could do. For tamper tests only.
#pragma once

#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/record_format.h"

namespace casegrid::testing {

class RawStore {
 public:
  explicit RawStore(const std::string& path) {
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {storage::kMetaFamily, storage::kEventsFamily, storage::kStreamsFamily,
                             storage::kStreamIndexFamily, storage::kEventIdsFamily}) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    rocksdb::DB* db = nullptr;
    status_ = rocksdb::DB::Open(rocksdb::Options(), path, families, &handles_, &db);
    db_.reset(db);
  }
  ~RawStore() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  }
  bool ok() const { return status_.ok(); }
  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* events() const { return handles_[1]; }

  std::string Get(Position p) {
    std::string v;
    status_ = db_->Get(rocksdb::ReadOptions(), events(), storage::EncodeBigEndian64(p), &v);
    return v;
  }
  void Put(Position p, const std::string& value) {
    status_ = db_->Put(rocksdb::WriteOptions(), events(), storage::EncodeBigEndian64(p), value);
  }
  void Delete(Position p) {
    status_ = db_->Delete(rocksdb::WriteOptions(), events(), storage::EncodeBigEndian64(p));
  }
  void FlushAll() {
    rocksdb::FlushOptions fo;
    status_ = db_->Flush(fo, handles_);
  }

 private:
  rocksdb::Status status_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

// Flips one bit of the byte at `fraction` of `file`, `size` bytes long.
inline bool FlipABitOf(const std::filesystem::path& file, std::uintmax_t size, double fraction) {
  std::fstream out(file, std::ios::in | std::ios::out | std::ios::binary);
  const auto at = static_cast<std::streamoff>(static_cast<double>(size) * fraction);
  out.seekg(at);
  char c;
  out.get(c);
  out.seekp(at);
  out.put(static_cast<char>(c ^ 0x10));
  return static_cast<bool>(out);
}

// Flushes the store at `path` (closed) to table files and flips one bit at
// `fraction` of the largest table file of family `family` (its data blocks
// come first). False if that family has no table file.
inline bool FlipABitInATableFileOf(const std::string& path, const std::string& family,
                                   double fraction) {
  std::string file;
  std::uint64_t size = 0;
  {
    RawStore raw(path);
    if (!raw.ok()) return false;
    raw.FlushAll();
    std::vector<rocksdb::LiveFileMetaData> files;
    raw.db()->GetLiveFilesMetaData(&files);
    for (const auto& f : files) {
      if (f.column_family_name == family && f.size > size) {
        file = f.db_path + f.name;
        size = f.size;
      }
    }
  }
  return !file.empty() && FlipABitOf(file, size, fraction);
}

// Flushes the store at `path` (closed) to table files and flips one bit at
// `fraction` of the largest, the one holding the events: damage RocksDB
// finds only when it reads that block. False if there was no table file.
inline bool FlipABitInTheLargestTableFile(const std::string& path, double fraction = 0.25) {
  {
    RawStore raw(path);
    if (!raw.ok()) return false;
    raw.FlushAll();
  }
  std::filesystem::path biggest;
  std::uintmax_t size = 0;
  for (const auto& f : std::filesystem::directory_iterator(path)) {
    if (f.path().extension() == ".sst" && f.file_size() > size) {
      biggest = f.path();
      size = f.file_size();
    }
  }
  return !biggest.empty() && FlipABitOf(biggest, size, fraction);
}

}  // namespace casegrid::testing
