#include "tools/load/roster.h"

#include <algorithm>

namespace casegrid::load {
namespace {

std::string OfficerName(std::size_t cluster, std::size_t k) {
  return "officer-" + std::to_string(cluster) + "-" + std::to_string(k);
}

// The clusters writer `i` of `writers` reports in: i, i + writers, … (mod
// the clusters' count), each once.
std::vector<std::string> WriterClusters(std::size_t i, std::size_t writers,
                                        const std::vector<std::string>& clusters) {
  std::vector<std::string> cells;
  const std::size_t first = i % clusters.size();
  std::size_t c = first;
  do {
    cells.push_back(clusters[c]);
    c = (c + writers) % clusters.size();
  } while (c != first);
  return cells;
}

}  // namespace

std::vector<OfficerAssignment> OfficerAssignments(const LoadOptions& o, const GridPlan& plan) {
  const auto& clusters = plan.clusters();
  std::vector<OfficerAssignment> out;
  if (clusters.empty()) return out;
  const std::size_t per_cluster = std::max<std::size_t>(
      1,
      (static_cast<std::size_t>(std::max(0, o.officers)) + clusters.size() - 1) / clusters.size());
  for (std::size_t k = 0; k < per_cluster; ++k) {
    for (std::size_t c = 0; c < clusters.size(); ++c) {
      out.push_back({clusters[c], OfficerName(c, k)});
    }
  }
  // Each writer on the clusters it reports in: an assignee must be on the
  // grid of the case's cell, and writers assign their cases to themselves.
  const std::size_t writers = static_cast<std::size_t>(std::max(0, o.writers));
  for (std::size_t i = 0; i < writers; ++i) {
    for (std::string& cell : WriterClusters(i, writers, clusters)) {
      out.push_back({std::move(cell), "writer-" + std::to_string(i)});
    }
  }
  return out;
}

std::vector<SubscriberSpec> SubscriberSpecs(const LoadOptions& o, const GridPlan& plan,
                                            const Mint& mint, std::uint64_t start_head) {
  const auto& clusters = plan.clusters();
  std::vector<SubscriberSpec> out;
  for (int j = 0; j < o.dashboards; ++j) {
    const std::size_t node = static_cast<std::size_t>(j) % (plan.areas().size() + 1);
    const std::string cell = node == 0 ? plan.district() : plan.areas()[node - 1];
    const std::string sub = "dashboard-" + std::to_string(j);
    out.push_back({sub,
                   mint(sub, Role::kSupervisor, {plan.district()}),
                   {"dashboard/" + cell},
                   std::nullopt});
  }
  for (int j = 0; j < o.officers && !clusters.empty(); ++j) {
    const std::size_t c = static_cast<std::size_t>(j) % clusters.size();
    const std::string sub = OfficerName(c, static_cast<std::size_t>(j) / clusters.size());
    out.push_back({sub,
                   mint(sub, Role::kOfficer, {clusters[c]}),
                   {"cell/" + clusters[c], "alerts"},
                   std::nullopt});
  }
  for (int j = 0; j < o.auditors; ++j) {
    const std::string sub = "auditor-" + std::to_string(j);
    out.push_back({sub, mint(sub, Role::kAuditor, {""}), {"events"}, start_head});
  }
  return out;
}

std::vector<WriterIdentity> WriterIdentities(const LoadOptions& o, const GridPlan& plan,
                                             const Mint& mint) {
  const auto& clusters = plan.clusters();
  std::vector<WriterIdentity> out;
  const std::size_t writers = static_cast<std::size_t>(std::max(0, o.writers));
  for (std::size_t i = 0; i < writers && !clusters.empty(); ++i) {
    const std::string sub = "writer-" + std::to_string(i);
    out.push_back(
        {sub, mint(sub, Role::kOfficer, {plan.district()}), WriterClusters(i, writers, clusters)});
  }
  return out;
}

}  // namespace casegrid::load
