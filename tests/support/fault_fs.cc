#include "tests/support/fault_fs.h"

#include <chrono>
#include <thread>

namespace casegrid::testing {
namespace {

class WalFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  WalFile(std::unique_ptr<rocksdb::FSWritableFile> file, FaultFs* fs)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}

  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    rocksdb::IOStatus s = Fault();
    return s.ok() ? FSWritableFileOwnerWrapper::Sync(o, d) : s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    rocksdb::IOStatus s = Fault();
    return s.ok() ? FSWritableFileOwnerWrapper::Fsync(o, d) : s;
  }

 private:
  rocksdb::IOStatus Fault() {
    fs_->wal_syncs.fetch_add(1);
    if (int us = fs_->sync_delay_us.load(); us > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(us));
    }
    if (fs_->fail_wal_sync.load()) return rocksdb::IOStatus::IOError("injected sync failure");
    return rocksdb::IOStatus::OK();
  }
  FaultFs* fs_;
};

// Any file while the disk is "full": its appends fail as a full disk's do.
class FullDiskFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FullDiskFile(std::unique_ptr<rocksdb::FSWritableFile> file, FaultFs* fs)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* d) override {
    if (fs_->disk_full.load()) return rocksdb::IOStatus::NoSpace("injected full disk");
    return FSWritableFileOwnerWrapper::Append(data, o, d);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v,
                           rocksdb::IODebugContext* d) override {
    if (fs_->disk_full.load()) return rocksdb::IOStatus::NoSpace("injected full disk");
    return FSWritableFileOwnerWrapper::Append(data, o, v, d);
  }
  // Space reserved ahead of writes (fallocate) is refused too.
  rocksdb::IOStatus Allocate(std::uint64_t offset, std::uint64_t len, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override {
    if (fs_->disk_full.load()) return rocksdb::IOStatus::NoSpace("injected full disk");
    return FSWritableFileOwnerWrapper::Allocate(offset, len, o, d);
  }

 private:
  FaultFs* fs_;
};

bool IsWal(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0;
}

}  // namespace

FaultFs::FaultFs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

rocksdb::IOStatus FaultFs::NewWritableFile(const std::string& name,
                                           const rocksdb::FileOptions& options,
                                           std::unique_ptr<rocksdb::FSWritableFile>* file,
                                           rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->NewWritableFile(name, options, file, dbg);
  if (s.ok() && IsWal(name)) *file = std::make_unique<WalFile>(std::move(*file), this);
  if (s.ok()) *file = std::make_unique<FullDiskFile>(std::move(*file), this);
  return s;
}

std::unique_ptr<rocksdb::Env> MakeEnv(const std::shared_ptr<FaultFs>& fs) {
  return rocksdb::NewCompositeEnv(fs);
}

}  // namespace casegrid::testing
