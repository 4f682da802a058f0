// The grid's routes (API.md), the admin's: define a cell, assign an
// officer to one and remove them (HttpApi::RouteGrid); and, for every role
// in its cells, a cell as it stands or stood (GET, `as_of`: who was
// responsible for it on a past day, and the cells defined under it; the
// root's GET lists the districts).
#include "api/http_call.h"
#include "engine/grid_history.h"
#include "projections/json_writer.h"

namespace casegrid {
namespace {

// The most children one answer lists (the demo city's nodes have at most 8).
constexpr std::size_t kMaxChildrenListed = 1000;

void WriteAssignment(JsonWriter& j, const CellAssignment& a, bool with_cell) {
  j.BeginObject().Key("person").String(a.person).Key("role").String(a.role);
  if (with_cell) j.Key("cell").String(a.cell);
  j.Key("since").Time(a.since_ms);
  j.Key("since_position").Int(static_cast<std::int64_t>(a.since));
  j.EndObject();
}

}  // namespace

Result<HttpResponse> HttpApi::RouteGrid(Call& call) {
  const HttpRequest& req = call.req;
  const auto& s = call.segments;
  const Principal& who = call.who;
  const std::string key = call.IdempotencyKey();
  if (s.size() < 4 || s[3] != "cells") return NoSuchRoute(req);
  if (call.Get()) {
    // A cell, or the grid's root ("cells" or "cells/"): the districts.
    const std::string cell = s.size() >= 5 ? call.Rest(4) : std::string();
    if (!InScope(who, cell)) {
      return Status::PermissionDenied(cell.empty() ? std::string("the root is outside your cells")
                                                   : "cell " + cell + " is outside your cells");
    }
    ASSIGN_OR_RETURN(std::optional<AsOf> as_of, AsOfQuery(call));
    const Position at = as_of ? as_of->position : service_->store().Head().position;
    // What a screen lists below the node, whether or not it had cases.
    ASSIGN_OR_RETURN(std::vector<std::string> children,
                     GridChildrenAt(service_->store(), cell, at, kMaxChildrenListed));
    const auto write_children = [&](JsonWriter& j) {
      j.Key("children").BeginArray();
      for (const std::string& child : children) j.String(child);
      j.EndArray();
    };
    if (cell.empty()) {
      JsonWriter j;
      j.BeginObject().Key("cell").String("").Key("position").Int(static_cast<std::int64_t>(at));
      write_children(j);
      j.EndObject();
      return Json(http::status::ok, j.Take(), req);
    }
    ASSIGN_OR_RETURN(CellAt c, GridCellAt(service_->store(), cell, at));
    JsonWriter j;
    j.BeginObject().Key("cell").String(c.cell).Key("name").String(c.name);
    j.Key("level").String(Name(c.level));
    j.Key("defined_at").Time(c.defined_at_ms);
    j.Key("position").Int(static_cast<std::int64_t>(at));
    j.Key("version").Int(static_cast<std::int64_t>(c.version));
    j.Key("people").BeginArray();
    for (const CellAssignment& a : c.people) WriteAssignment(j, a, false);
    j.EndArray();
    j.Key("above").BeginArray();
    for (const CellAssignment& a : c.above) WriteAssignment(j, a, true);
    j.EndArray();
    write_children(j);
    j.EndObject();
    return Json(http::status::ok, j.Take(), req);
  }
  if (who.role != Role::kAdmin) return Status::PermissionDenied("the grid is the admin's");
  if (s.size() == 4 && call.Post()) {
    ASSIGN_OR_RETURN(auto cell, StringField(req.body().empty() ? "{}" : req.body(), "cell"));
    if (cell && !InScope(who, *cell)) {
      return Status::PermissionDenied("cell " + *cell + " is outside your cells");
    }
    ASSIGN_OR_RETURN(WriteResult w,
                     Timed([&] { return service_->DefineCell(who.sub, req.body(), key); }));
    return Json(http::status::created, WriteAnswer(w, false), req);
  }
  // POST .../cells/{path...}/officers, DELETE .../cells/{path...}/officers/{officer}:
  // "officers" is read where the method puts it, so that neither a cell
  // named so nor a person whose id is "officers" is misread (the last
  // "officers" was taken, and such a person could not be removed).
  std::size_t officers = 0;
  if (call.Post() && s.size() > 5 && s.back() == "officers") {
    officers = s.size() - 1;
  } else if (req.method() == http::verb::delete_ && s.size() > 6 && s[s.size() - 2] == "officers") {
    officers = s.size() - 2;
  }
  if (officers > 4) {
    std::string cell;
    for (std::size_t i = 4; i < officers; ++i) cell += (i > 4 ? "/" : "") + s[i];
    if (!InScope(who, cell))
      return Status::PermissionDenied("cell " + cell + " is outside your cells");
    if (call.Post() && officers + 1 == s.size()) {
      ASSIGN_OR_RETURN(WriteResult w, Timed([&] {
                         return service_->AssignOfficer(who.sub, cell, req.body(), key);
                       }));
      return Json(http::status::created, WriteAnswer(w, false), req);
    }
    if (req.method() == http::verb::delete_ && officers + 2 == s.size()) {
      ASSIGN_OR_RETURN(WriteResult w, Timed([&] {
                         return service_->RemoveOfficer(who.sub, cell, s[officers + 1], key);
                       }));
      return Json(http::status::ok, WriteAnswer(w, false), req);
    }
  }
  return NoSuchRoute(req);
}

}  // namespace casegrid
