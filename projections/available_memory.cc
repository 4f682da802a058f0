#include "projections/available_memory.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string_view>

namespace casegrid {
namespace {

std::string ReadWhole(const char* path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The leading decimal number of `text` (after blanks); nullopt if none
// ("max", an empty file).
std::optional<std::uint64_t> LeadingNumber(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::uint64_t> AvailableMemoryBytesFrom(const std::string& meminfo,
                                                      const std::string& limit,
                                                      const std::string& usage) {
  std::optional<std::uint64_t> available;
  constexpr std::string_view kKey = "MemAvailable:";
  if (const auto at = meminfo.find(kKey); at != std::string::npos) {
    if (auto kib = LeadingNumber(std::string_view(meminfo).substr(at + kKey.size()))) {
      available = *kib * 1024;
    }
  }
  const auto cap = LeadingNumber(limit), used = LeadingNumber(usage);
  // cgroup v1 says "no limit" with a number near 2^63: no smaller than what
  // the machine has, so the minimum below takes the machine's.
  if (cap && used) {
    const std::uint64_t left = *cap > *used ? *cap - *used : 0;
    available = available ? std::min(*available, left) : left;
  }
  return available;
}

std::optional<std::uint64_t> AvailableMemoryBytesAt(const std::string& cgroup_mount,
                                                    const std::string& self_cgroup,
                                                    const std::string& meminfo) {
  std::optional<std::uint64_t> available = AvailableMemoryBytesFrom(meminfo, "", "");
  // Each limit from `group`'s folder up to the hierarchy's root: a group may
  // set none and its parent one (a container inside a systemd slice).
  const auto under_limits = [&](const std::string& root, std::string_view group,
                                const char* limit_file, const char* usage_file) {
    std::string path(group);
    while (true) {
      const std::string dir = root + path + (path.ends_with('/') ? "" : "/");
      const std::string limit = ReadWhole((dir + limit_file).c_str());
      const std::string usage = ReadWhole((dir + usage_file).c_str());
      if (!limit.empty() && !usage.empty()) {
        if (auto left = AvailableMemoryBytesFrom("", limit, usage)) {
          available = available ? std::min(*available, *left) : *left;
        }
      }
      if (path.empty() || path == "/") break;
      const std::size_t slash = path.find_last_of('/', path.size() - 1);
      path = slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
    }
  };
  // /proc/self/cgroup: "0::/path" (v2), "N:controllers:/path" (v1, the
  // memory controller's line); a hybrid machine has both, and the limits of
  // whichever is mounted are read.
  std::string_view lines(self_cgroup);
  bool any = false;
  while (!lines.empty()) {
    const std::size_t end = std::min(lines.find('\n'), lines.size());
    const std::string_view line = lines.substr(0, end);
    lines.remove_prefix(std::min(end + 1, lines.size()));
    const std::size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string_view::npos || second == std::string_view::npos) continue;
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string_view group = line.substr(second + 1);
    if (!group.starts_with('/')) continue;
    if (controllers.empty()) {
      any = true;
      under_limits(cgroup_mount, group, "memory.max", "memory.current");
    } else if (("," + std::string(controllers) + ",").find(",memory,") != std::string::npos) {
      any = true;
      under_limits(cgroup_mount + "/memory", group, "memory.limit_in_bytes",
                   "memory.usage_in_bytes");
    }
  }
  if (!any) {  // no /proc/self/cgroup: the mounts' roots, as a container sees its own
    under_limits(cgroup_mount, "/", "memory.max", "memory.current");
    under_limits(cgroup_mount + "/memory", "/", "memory.limit_in_bytes", "memory.usage_in_bytes");
  }
  return available;
}

std::optional<std::uint64_t> AvailableMemoryBytes() {
  return AvailableMemoryBytesAt("/sys/fs/cgroup", ReadWhole("/proc/self/cgroup"),
                                ReadWhole("/proc/meminfo"));
}

}  // namespace casegrid
