// TornTail: telling a write cut short at the very end of the write-ahead log
// from damage before its end, and dropping the first.
//
// A power loss in the middle of a group's write can leave the WAL's file
// with the group's length but not all of its bytes (sectors never written
// read back as zeros or as garbage). RocksDB refuses such a log
// (kTolerateCorruptedTailRecords drops only a record cut short by the file's
// end), and the store's open then asked an operator to restore a copy,
// which loses what was acknowledged since (review 86). Those events were
// never acknowledged: the answer waits for the fsync, and a group whose
// fsync returned was on the disk whole.
//
// A tail is torn when the newest WAL's records are whole up to a damaged
// one (a checksum that does not match, a length past its block or the
// file, a fragment out of order) and no whole record starts anywhere after
// it: damage with a whole record after it is damage before the end, and is
// left for the operator. The format read is RocksDB's (leveldb's) log
// format: 32 KiB blocks of records, each a masked CRC-32C of its type and
// payload, a length, a type (full, first, middle, last); a log of any other
// record type (recycled or compressed logs, which the store does not make)
// is not judged.
//
// Thread-safety: pure functions of the files; the caller keeps the store
// closed while they run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/status.h"

namespace casegrid {

struct TornTail {
  std::string wal;                // the newest write-ahead log's file
  std::uint64_t whole_bytes = 0;  // where its last whole record ends
  std::uint64_t file_bytes = 0;   // its size
};

// The torn tail of the store's newest WAL, if that is what its damage is;
// nullopt when it is not (no damage in the newest WAL, a group starting
// after the damage, more than `max_group_wal_bytes` — what one group can
// take in the WAL — from the last whole record to the file's end, a record
// type not judged, no WAL). An error only when the files cannot be read.
Result<std::optional<TornTail>> FindTornTail(const std::string& store_path,
                                             std::uint64_t max_group_wal_bytes);

// Moves the torn bytes out of the log: writes them to `keep_as` (through a
// temporary file, synced, renamed, its folder synced), then cuts the WAL to
// its whole records (synced). On an error before the cut the WAL is as it
// was. The caller decides before: once cut, the bytes are in `keep_as` only.
Status DropTornTail(const TornTail& tail, const std::string& keep_as);

}  // namespace casegrid
