// Telling a RocksDB folder in use by another open from one the file system
// refuses: both fail DB::Open on its LOCK file, with an IOError each.
//
// Thread-safety: a pure function.
#pragma once

#include <rocksdb/status.h>

#include <cctype>
#include <string>

namespace casegrid {

// True when `open` failed because another open holds the folder's LOCK
// (another process: "While lock file: …: Resource temporarily unavailable";
// this one: "lock hold by current process"). False for any other failure,
// such as a LOCK file that cannot be opened at all ("While open a file for
// lock: …: Permission denied", "Read-only file system"), which names the
// file system's own reason.
inline bool HeldByAnotherOpen(const rocksdb::Status& open) {
  if (!open.IsIOError() && !open.IsBusy()) return false;
  std::string text = open.ToString();
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text.find("while lock file") != std::string::npos ||
         text.find("by current process") != std::string::npos;
}

}  // namespace casegrid
