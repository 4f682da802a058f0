// GridPlan: the small grid casegrid-load works on — one district, `areas`
// areas, `groups` groups in each, `clusters` clusters in each — and the
// set-up that defines it on the server and assigns officers to clusters,
// as the admin, over HTTP.
//
// Cell paths: <district>/a<i>/g<j>/c<k>. A cell or an assignment that is
// there already (409) is fine, so a run may set up over an earlier one.
//
// Thread-safety: a GridPlan is immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/status.h"

namespace casegrid::load {

struct GridShape {
  std::string district = "load";
  int areas = 4;
  int groups = 4;    // per area
  int clusters = 4;  // per group
};

class GridPlan {
 public:
  explicit GridPlan(const GridShape& shape);
  const std::string& district() const { return district_; }
  const std::vector<std::string>& areas() const { return areas_; }
  const std::vector<std::string>& groups() const { return groups_; }
  const std::vector<std::string>& clusters() const { return clusters_; }
  // Every cell, each after its parent.
  std::vector<std::string> cells() const;

 private:
  std::string district_;
  std::vector<std::string> areas_, groups_, clusters_;
};

struct OfficerAssignment {
  std::string cell;
  std::string officer;
};

struct SetupCounts {
  std::size_t cells_defined = 0, cells_existing = 0;
  std::size_t officers_assigned = 0, officers_existing = 0;
};

// Defines the plan's cells and makes the assignments with `parallel`
// connections; kUnavailable or the server's refusal (other than 409) on
// failure.
Result<SetupCounts> SetUpGrid(const std::string& host, std::uint16_t port,
                              const std::string& admin_token, const GridPlan& plan,
                              const std::vector<OfficerAssignment>& assignments, int parallel);

}  // namespace casegrid::load
