#include "api/descriptor_budget.h"

#include <algorithm>
#include <string>

namespace casegrid {

namespace {

std::uint64_t StoreFiles(std::uint64_t limit) {
  return std::clamp(limit / 8, kMinStoreFiles, kMaxStoreFiles);
}
// The connections `limit` descriptors leave.
std::uint64_t Fit(std::uint64_t limit) {
  const std::uint64_t kept = 2 * StoreFiles(limit) + kDescriptorReserve;
  return limit > kept ? limit - kept : 0;
}

}  // namespace

Result<DescriptorBudget> PlanDescriptors(std::uint64_t limit, std::size_t max_connections,
                                         std::uint64_t metrics_connections) {
  const std::uint64_t fit = Fit(limit > metrics_connections ? limit - metrics_connections : 0);
  const std::uint64_t wanted = std::max<std::uint64_t>(max_connections, kMinConnections);
  if (fit < wanted) {
    // The fewest descriptors from which on every limit leaves `wanted`: the
    // stores' share grows with the limit, so it is found by trying (it was
    // computed from the current limit's share, and an operator who raised
    // the limit to it was refused again; probe 76). A limit one past a
    // multiple of 8 can leave one fewer than the one before it (the
    // share's step), never fewer than its block's first.
    const auto fits_from = [wanted](std::uint64_t limit) {
      return Fit(limit) >= wanted && Fit((limit / 8 + 1) * 8) >= wanted;
    };
    std::uint64_t needed = wanted + 2 * kMinStoreFiles + kDescriptorReserve;
    while (!fits_from(needed)) ++needed;
    return Status::InvalidArgument(
        "serving " + std::string(max_connections == 0 ? "at least " : "") + std::to_string(wanted) +
        " connections needs at least " + std::to_string(needed + metrics_connections) +
        " file descriptors (" + std::to_string(2 * StoreFiles(needed)) +
        " for the stores' table files, " + std::to_string(kDescriptorReserve) + " for the rest" +
        (metrics_connections == 0
             ? std::string()
             : ", " + std::to_string(metrics_connections) + " for --metrics-listen's connections") +
        "); this process may open " + std::to_string(limit) + " (ulimit -n)");
  }
  DescriptorBudget budget;
  budget.store_files = static_cast<int>(StoreFiles(limit - metrics_connections));
  budget.connections = max_connections == 0 ? static_cast<std::size_t>(fit) : max_connections;
  const std::size_t n = budget.connections;
  budget.connections_per_address =
      std::max<std::size_t>({1, n / 8, std::min<std::size_t>(64, n / 4)});
  return budget;
}

}  // namespace casegrid
