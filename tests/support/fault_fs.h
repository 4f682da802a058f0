// A RocksDB file system for tests: counts the syncs of the write-ahead log,
// can make each one slow, and can make them fail (the disk "goes bad"), or
// make every write fail as on a full disk. It can also "lose power": from
// Crash() on every write and sync fails, and DropUnsyncedWalData() then cuts
// each write-ahead log back to what its syncs made durable, as a machine
// that lost power would find it (a SIGKILL keeps the page cache, so it
// cannot tell a write from a synced one).
//
// Thread-safety: all knobs and counters are atomics, the WAL sizes are
// under a lock; safe from any thread.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

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
  // When >= 0: each WAL sync past this many (counted as wal_syncs, from 1)
  // waits, once counted, until the gate is moved past it or opened (-1), so
  // that a test can look at the store while a group's sync is under way
  // without a race against a delay.
  std::atomic<int> hold_wal_syncs_after{-1};
  std::atomic<bool> fail_wal_sync{false};
  // Every file's appends fail with NoSpace, as on a full disk.
  std::atomic<bool> disk_full{false};

  // From now on every write and sync fails, as if the machine lost power.
  void Crash() { crashed = true; }
  // When nonzero: the power goes during the first WAL sync counted at or
  // past this number that has appended bytes to cover (they stay unsynced),
  // so that a test loses power with a group's write not yet durable.
  std::atomic<int> crash_at_sync{0};
  // Once the store using it is closed: cuts each WAL to the bytes its syncs
  // covered (those appended before a sync that succeeded began), and undoes
  // Crash(). Returns how many bytes were dropped.
  std::uintmax_t DropUnsyncedWalData();

  std::atomic<bool> crashed{false};
  // Bytes of each WAL appended, and covered by a sync that succeeded.
  struct WalSizes {
    std::uintmax_t appended = 0;
    std::uintmax_t synced = 0;
  };
  std::mutex wal_mu;
  std::map<std::string, WalSizes> wals;  // guarded by wal_mu
};

// An Env that does its file I/O through `fs`; give it to StoreOptions::env.
std::unique_ptr<rocksdb::Env> MakeEnv(const std::shared_ptr<FaultFs>& fs);

}  // namespace casegrid::testing
