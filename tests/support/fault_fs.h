// A RocksDB file system for tests: counts the syncs of the write-ahead log,
// can make each one slow, and can make them fail (the disk "goes bad"), or
// make every write fail as on a full disk.
//
// Thread-safety: all knobs and counters are atomics; safe from any thread.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <memory>

namespace casegrid::testing {

class FaultFs : public rocksdb::FileSystemWrapper {
 public:
  FaultFs();
  const char* Name() const override { return "CasegridFaultFs"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override;

  // Counted on write-ahead-log files (*.log) only.
  std::atomic<int> wal_syncs{0};
  std::atomic<int> sync_delay_us{0};
  std::atomic<bool> fail_wal_sync{false};
  // Every file's appends fail with NoSpace, as on a full disk.
  std::atomic<bool> disk_full{false};
};

// An Env that does its file I/O through `fs`; give it to StoreOptions::env.
std::unique_ptr<rocksdb::Env> MakeEnv(const std::shared_ptr<FaultFs>& fs);

}  // namespace casegrid::testing
