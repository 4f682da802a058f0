// How much memory this process may still take: what the kernel says is
// available (MemAvailable of /proc/meminfo), or less when the process's
// control group (a container's memory limit, cgroup v2 or v1) allows less.
// For sizing caches a run may fill, such as a rebuild's case states.
//
// Thread-safety: reads files; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace casegrid {

// nullopt when none of the sources can be read.
std::optional<std::uint64_t> AvailableMemoryBytes();

// The same from given file contents (empty: not readable), for tests:
// `meminfo` as /proc/meminfo, `limit` and `usage` as cgroup v2's
// memory.max and memory.current (or v1's limit_in_bytes and usage_in_bytes).
std::optional<std::uint64_t> AvailableMemoryBytesFrom(const std::string& meminfo,
                                                      const std::string& limit,
                                                      const std::string& usage);

}  // namespace casegrid
