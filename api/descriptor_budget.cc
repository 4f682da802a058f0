#include "api/descriptor_budget.h"

#include <algorithm>
#include <string>

namespace casegrid {

Result<DescriptorBudget> PlanDescriptors(std::uint64_t limit, std::size_t max_connections) {
  const std::uint64_t store_files = std::clamp(limit / 8, kMinStoreFiles, kMaxStoreFiles);
  const std::uint64_t kept = 2 * store_files + kDescriptorReserve;
  const std::uint64_t fit = limit > kept ? limit - kept : 0;
  const std::uint64_t wanted = max_connections == 0 ? kMinConnections : max_connections;
  if (fit < wanted || fit < kMinConnections) {
    const std::uint64_t needed = kept + std::max<std::uint64_t>(wanted, kMinConnections);
    return Status::InvalidArgument(
        "serving " + std::to_string(wanted) + " connections needs at least " +
        std::to_string(needed) + " file descriptors (" + std::to_string(2 * store_files) +
        " for the stores' table files, " + std::to_string(kDescriptorReserve) +
        " for the rest); this process may open " + std::to_string(limit) + " (ulimit -n)");
  }
  DescriptorBudget budget;
  budget.store_files = static_cast<int>(store_files);
  budget.connections = max_connections == 0 ? static_cast<std::size_t>(fit) : max_connections;
  return budget;
}

}  // namespace casegrid
