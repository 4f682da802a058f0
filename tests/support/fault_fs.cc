#include "tests/support/fault_fs.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

namespace casegrid::testing {
namespace {

class WalFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  WalFile(std::unique_ptr<rocksdb::FSWritableFile> file, FaultFs* fs, std::string name)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), name_(std::move(name)) {
    std::lock_guard l(fs_->wal_mu);
    fs_->wals[name_] = {};
  }

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* d) override {
    return Appended(data.size(), FSWritableFileOwnerWrapper::Append(data, o, d));
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v,
                           rocksdb::IODebugContext* d) override {
    return Appended(data.size(), FSWritableFileOwnerWrapper::Append(data, o, v, d));
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    const std::uintmax_t covered = AppendedSoFar();
    rocksdb::IOStatus s = Fault(covered);
    if (s.ok()) s = FSWritableFileOwnerWrapper::Sync(o, d);
    return Synced(covered, s);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    const std::uintmax_t covered = AppendedSoFar();
    rocksdb::IOStatus s = Fault(covered);
    if (s.ok()) s = FSWritableFileOwnerWrapper::Fsync(o, d);
    return Synced(covered, s);
  }

 private:
  rocksdb::IOStatus Fault(std::uintmax_t covered) {
    const int count = fs_->wal_syncs.fetch_add(1) + 1;
    for (int after; (after = fs_->hold_wal_syncs_after.load()) >= 0 && count > after;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (int us = fs_->sync_delay_us.load(); us > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(us));
    }
    if (const int at = fs_->crash_at_sync.load(); at > 0 && count >= at && covered > Synced()) {
      fs_->crash_at_sync = 0;
      fs_->Crash();
    }
    if (fs_->fail_wal_sync.load()) return rocksdb::IOStatus::IOError("injected sync failure");
    if (fs_->crashed.load()) return rocksdb::IOStatus::IOError("injected power loss");
    return rocksdb::IOStatus::OK();
  }
  std::uintmax_t Synced() {
    std::lock_guard l(fs_->wal_mu);
    return fs_->wals[name_].synced;
  }
  std::uintmax_t AppendedSoFar() {
    std::lock_guard l(fs_->wal_mu);
    return fs_->wals[name_].appended;
  }
  rocksdb::IOStatus Appended(std::size_t n, rocksdb::IOStatus s) {
    if (s.ok()) {
      std::lock_guard l(fs_->wal_mu);
      fs_->wals[name_].appended += n;
    }
    return s;
  }
  // A sync that succeeded covers what was appended before it began; one
  // that ended after the crash is not known to have reached the disk.
  rocksdb::IOStatus Synced(std::uintmax_t covered, rocksdb::IOStatus s) {
    if (s.ok() && fs_->crashed.load()) s = rocksdb::IOStatus::IOError("injected power loss");
    if (s.ok()) {
      std::lock_guard l(fs_->wal_mu);
      auto& sizes = fs_->wals[name_];
      sizes.synced = std::max(sizes.synced, covered);
    }
    return s;
  }
  FaultFs* fs_;
  const std::string name_;
};

// Any file while the disk is "full": its appends fail as a full disk's do.
class FullDiskFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FullDiskFile(std::unique_ptr<rocksdb::FSWritableFile> file, FaultFs* fs)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* d) override {
    if (fs_->disk_full.load()) return rocksdb::IOStatus::NoSpace("injected full disk");
    if (fs_->crashed.load()) return rocksdb::IOStatus::IOError("injected power loss");
    return FSWritableFileOwnerWrapper::Append(data, o, d);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v,
                           rocksdb::IODebugContext* d) override {
    if (fs_->disk_full.load()) return rocksdb::IOStatus::NoSpace("injected full disk");
    if (fs_->crashed.load()) return rocksdb::IOStatus::IOError("injected power loss");
    return FSWritableFileOwnerWrapper::Append(data, o, v, d);
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
  if (s.ok() && IsWal(name)) *file = std::make_unique<WalFile>(std::move(*file), this, name);
  if (s.ok()) *file = std::make_unique<FullDiskFile>(std::move(*file), this);
  return s;
}

std::uintmax_t FaultFs::DropUnsyncedWalData() {
  std::uintmax_t dropped = 0;
  std::lock_guard l(wal_mu);
  for (auto& [name, sizes] : wals) {
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(name, ec);
    if (ec || size <= sizes.synced) continue;  // gone (an old WAL deleted), or whole
    std::filesystem::resize_file(name, sizes.synced, ec);
    if (!ec) dropped += size - sizes.synced;
    sizes.appended = sizes.synced;
  }
  crashed = false;
  return dropped;
}

std::unique_ptr<rocksdb::Env> MakeEnv(const std::shared_ptr<FaultFs>& fs) {
  return rocksdb::NewCompositeEnv(fs);
}

}  // namespace casegrid::testing
