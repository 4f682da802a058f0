// How much memory this process may still take: what the kernel says is
// available (MemAvailable of /proc/meminfo), or less when the process's own
// memory control group, or any group above it, allows less (a container's
// or a systemd unit's limit; cgroup v2 or v1, the group named in
// /proc/self/cgroup). For sizing caches a run may fill, such as a rebuild's
// case states.
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

// The same as AvailableMemoryBytes, with the cgroup file systems mounted at
// `cgroup_mount` (v2 there, v1's memory controller at `cgroup_mount`/memory)
// and the given /proc/self/cgroup and /proc/meminfo texts, for tests: the
// least left under any limit from the process's group up to the root.
std::optional<std::uint64_t> AvailableMemoryBytesAt(const std::string& cgroup_mount,
                                                    const std::string& self_cgroup,
                                                    const std::string& meminfo);

}  // namespace casegrid
