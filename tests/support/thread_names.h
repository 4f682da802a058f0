// The names of this process's threads, as /proc/self/task/*/comm gives them
// (what `top -H` and `perf` show).
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace casegrid::testing {

inline std::vector<std::string> ThreadNames() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.push_back(name);
  }
  return names;
}

}  // namespace casegrid::testing
