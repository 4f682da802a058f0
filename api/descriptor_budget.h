// How a server shares the file descriptors it may open (RLIMIT_NOFILE):
// each store's table files, a reserve for what else a process opens (the
// write-ahead logs, manifests and RocksDB's own logs, the files of a flush or
// compaction under way, the event loop's, a web file being served), and the
// rest for connections, HTTP and WebSocket together.
//
// Without it a client that opened connections until the process had no
// descriptor left made the views' next flush fail ("Too many open files"),
// and the server stopped (session 28).
//
// Thread-safety: a pure function.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/status.h"

namespace casegrid {

struct DescriptorBudget {
  int store_files = 0;          // each store's table files open at most (max_open_files)
  std::size_t connections = 0;  // connections open at once
  // Of those, from one peer address: an eighth, or up to 64 where that is
  // fewer, but never more than a quarter (at 144 connections, 36).
  std::size_t connections_per_address = 0;
};

// Descriptors kept for what is neither a table file nor a connection.
inline constexpr std::uint64_t kDescriptorReserve = 128;
// Each store's table files: an eighth of the descriptors, within these.
inline constexpr std::uint64_t kMinStoreFiles = 64;
inline constexpr std::uint64_t kMaxStoreFiles = 4096;
// The fewest connections a server is started for.
inline constexpr std::uint64_t kMinConnections = 16;

// The budget of two stores and the connections for `limit` descriptors.
// `max_connections` (0: as many as fit) lowers the connections' share.
// `metrics_connections`: descriptors kept off the top for the metrics
// port's connections (serve --metrics-listen; 0: none).
// kInvalidArgument, saying how many are needed, when the limit leaves room
// for fewer than kMinConnections, or for fewer than `max_connections`.
Result<DescriptorBudget> PlanDescriptors(std::uint64_t limit, std::size_t max_connections,
                                         std::uint64_t metrics_connections = 0);

}  // namespace casegrid
