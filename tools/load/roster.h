// Who takes part in a casegrid-load run, and with what token: the officers
// assigned to each cluster, the WebSocket subscribers (dashboards, officers,
// auditors) and the writers. Distinct token subjects throughout, like real
// people, so that per-token limits apply as they would in the field.
//
//   officer-<cluster>-<k>  assigned to cluster <cluster>; subscriber j of
//                          --officers is officer-<j mod clusters>-<j div
//                          clusters>, on cell/<its cluster> and alerts
//   dashboard-<j>          a supervisor of the district, on dashboard/ of the
//                          district (j mod (areas+1) == 0) or of an area
//   auditor-<j>            on events, after the log's head at start
//   writer-<i>             an officer of the district who reports its k-th
//                          case in cluster (i + k * writers) mod clusters and
//                          assigns its cases to itself; assigned on the grid
//                          to each of those clusters (an assignee must be)
//
// Pure functions of the options and the plan.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api/auth.h"
#include "tools/load/grid_plan.h"
#include "tools/load/http_writer.h"
#include "tools/load/load_run.h"
#include "tools/load/ws_subscriber.h"

namespace casegrid::load {

// A token for `sub` with `role` over `cells`.
using Mint = std::function<std::string(const std::string& sub, Role role,
                                       const std::vector<std::string>& cells)>;

// Every --officers subscriber, at least one officer in each cluster, and
// each writer on the clusters it reports in.
std::vector<OfficerAssignment> OfficerAssignments(const LoadOptions& o, const GridPlan& plan);
// Dashboards, then officers, then auditors (subscribed after `start_head`).
std::vector<SubscriberSpec> SubscriberSpecs(const LoadOptions& o, const GridPlan& plan,
                                            const Mint& mint, std::uint64_t start_head);
std::vector<WriterIdentity> WriterIdentities(const LoadOptions& o, const GridPlan& plan,
                                             const Mint& mint);

}  // namespace casegrid::load
