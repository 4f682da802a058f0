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

std::optional<std::uint64_t> AvailableMemoryBytes() {
  std::string limit = ReadWhole("/sys/fs/cgroup/memory.max");
  std::string usage = ReadWhole("/sys/fs/cgroup/memory.current");
  if (limit.empty() || usage.empty()) {
    limit = ReadWhole("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    usage = ReadWhole("/sys/fs/cgroup/memory/memory.usage_in_bytes");
  }
  return AvailableMemoryBytesFrom(ReadWhole("/proc/meminfo"), limit, usage);
}

}  // namespace casegrid
