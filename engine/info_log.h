// OpenInfoLog: RocksDB's diagnostic LOG of a database folder, written so that
// a failing disk cannot stop the database.
//
// RocksDB 7.8's own file logger aborts (an assertion Debian's build keeps) on
// the next line after one it could not write: on a full disk the first error
// RocksDB logged took the whole server down, before the store could refuse
// appends with 503 (black-box probe, session 21). This logger drops the lines
// it cannot write and goes on. It writes <dir>/LOG, moved to <dir>/LOG.old
// (replacing the one before) when it passes kInfoLogRotateBytes, at open or
// while running, so that it holds at most twice that.
//
// Thread-safety: the logger may be used from any thread.
#pragma once

#include <rocksdb/env.h>

#include <cstddef>
#include <memory>
#include <string>

namespace casegrid {

inline constexpr std::size_t kInfoLogRotateBytes = 8 << 20;

// Never null: if the file cannot be opened, a logger that drops every line.
std::shared_ptr<rocksdb::Logger> OpenInfoLog(const std::string& dir,
                                             std::size_t rotate_bytes = kInfoLogRotateBytes);

}  // namespace casegrid
