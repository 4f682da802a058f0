#include "tools/load/grid_plan.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "projections/json_writer.h"
#include "tools/load/api_client.h"

namespace casegrid::load {
namespace {

// Runs `fn` for items [0, n) on `parallel` threads, each with its own
// connection; the first failure stops the rest and is returned.
Status RunParallel(const std::string& host, std::uint16_t port, std::size_t n, int parallel,
                   const std::function<Status(ApiClient&, std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  Status first = Status::Ok();
  std::vector<std::thread> threads;
  const int count = static_cast<int>(std::min<std::size_t>(std::max(1, parallel), n));
  for (int t = 0; t < count; ++t) {
    threads.emplace_back([&] {
      ApiClient client(host, port);
      for (std::size_t i = next++; i < n; i = next++) {
        Status s = fn(client, i);
        if (!s.ok()) {
          std::lock_guard l(mu);
          if (first.ok()) first = s;
          next = n;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return first;
}

}  // namespace

GridPlan::GridPlan(const GridShape& shape) : district_(shape.district) {
  for (int a = 0; a < shape.areas; ++a) {
    const std::string area = district_ + "/a" + std::to_string(a);
    areas_.push_back(area);
    for (int g = 0; g < shape.groups; ++g) {
      const std::string group = area + "/g" + std::to_string(g);
      groups_.push_back(group);
      for (int c = 0; c < shape.clusters; ++c)
        clusters_.push_back(group + "/c" + std::to_string(c));
    }
  }
}

std::vector<std::string> GridPlan::cells() const {
  std::vector<std::string> out{district_};
  out.insert(out.end(), areas_.begin(), areas_.end());
  out.insert(out.end(), groups_.begin(), groups_.end());
  out.insert(out.end(), clusters_.begin(), clusters_.end());
  return out;
}

Result<SetupCounts> SetUpGrid(const std::string& host, std::uint16_t port,
                              const std::string& admin_token, const GridPlan& plan,
                              const std::vector<OfficerAssignment>& assignments, int parallel) {
  SetupCounts counts;
  std::mutex mu;
  auto outcome = [&](const Result<ApiReply>& reply, const std::string& what, std::size_t* made,
                     std::size_t* existing) -> Status {
    if (!reply.ok()) return reply.status();
    std::lock_guard l(mu);
    if (reply->status / 100 == 2) {
      ++*made;
      return Status::Ok();
    }
    if (reply->status == 409) {
      ++*existing;
      return Status::Ok();
    }
    return Status::Internal(what + ": HTTP " + std::to_string(reply->status) + " " + reply->body);
  };
  // Level by level: a cell's parent must exist first.
  const std::vector<std::string> district{plan.district()};
  for (const std::vector<std::string>* level_of :
       {&district, &plan.areas(), &plan.groups(), &plan.clusters()}) {
    const std::vector<std::string>& level = *level_of;
    RETURN_IF_ERROR(
        RunParallel(host, port, level.size(), parallel, [&](ApiClient& client, std::size_t i) {
          JsonWriter body;
          body.BeginObject().Key("cell").String(level[i]).Key("name").String(level[i]).EndObject();
          auto reply = client.Request(ApiClient::Method::kPost, "/api/v1/grid/cells", admin_token,
                                      body.Take());
          return outcome(reply, "define " + level[i], &counts.cells_defined,
                         &counts.cells_existing);
        }));
  }
  RETURN_IF_ERROR(
      RunParallel(host, port, assignments.size(), parallel, [&](ApiClient& client, std::size_t i) {
        const OfficerAssignment& a = assignments[i];
        JsonWriter body;
        body.BeginObject().Key("officer").String(a.officer).Key("role").String("officer");
        body.EndObject();
        auto reply =
            client.Request(ApiClient::Method::kPost, "/api/v1/grid/cells/" + a.cell + "/officers",
                           admin_token, body.Take());
        return outcome(reply, "assign " + a.officer + " to " + a.cell, &counts.officers_assigned,
                       &counts.officers_existing);
      }));
  return counts;
}

}  // namespace casegrid::load
