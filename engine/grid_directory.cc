#include "engine/grid_directory.h"

#include <algorithm>
#include <mutex>

#include "engine/names.h"

namespace casegrid {

namespace {

// Calls fn with the cell and each of its ancestors, nearest first, as views
// into `cell` (CellAndAncestors without a string each).
template <class Fn>
void ForCellAndAncestors(std::string_view cell, Fn&& fn) {
  std::string_view rest = cell;
  while (!rest.empty()) {
    fn(rest);
    const auto slash = rest.rfind('/');
    if (slash == std::string_view::npos) break;
    rest = rest.substr(0, slash);
  }
}

}  // namespace

std::vector<std::string> CellAndAncestors(std::string_view cell) {
  std::vector<std::string> out;
  ForCellAndAncestors(cell, [&](std::string_view c) { out.emplace_back(c); });
  return out;
}

bool CellWithin(std::string_view cell, std::string_view subtree) {
  return subtree.empty() || (cell.starts_with(subtree) &&
                             (cell.size() == subtree.size() || cell[subtree.size()] == '/'));
}

Status ValidateCellRole(std::string_view role) {
  static constexpr std::string_view kRoles[] = {"operator",    "officer",   "mediator",
                                                "grid_worker", "volunteer", "supervisor"};
  if (std::find(std::begin(kRoles), std::end(kRoles), role) != std::end(kRoles)) {
    return Status::Ok();
  }
  return Status::InvalidArgument("role: unknown value \"" + std::string(role) +
                                 "\"; one of operator, officer, mediator, grid_worker, "
                                 "volunteer, supervisor");
}

Status GridDirectory::Load(const EventStore& store, Position up_to) {
  // The grid's events in the order of the log, as the projector folded
  // them: in the order of the streams' names, a cell defined before its
  // parent (older builds' `casegrid append` could write one) would be taken
  // here and refused by the fold (review 96).
  std::vector<RecordedEvent> grid;
  std::string after;
  while (true) {
    ASSIGN_OR_RETURN(auto streams, store.ListStreams("grid/", after, 1000));
    if (streams.empty()) break;
    for (const std::string& stream : streams) {
      StreamVersion from = 1;
      while (true) {
        ASSIGN_OR_RETURN(auto events,
                         store.ReadStream(stream, from, 1000, ReadDirection::kForward));
        for (RecordedEvent& e : events) {
          if (e.position <= up_to) grid.push_back(std::move(e));
        }
        if (events.size() < 1000) break;
        from = events.back().version + 1;
      }
    }
    after = streams.back();
  }
  std::sort(grid.begin(), grid.end(),
            [](const RecordedEvent& a, const RecordedEvent& b) { return a.position < b.position; });
  for (const RecordedEvent& e : grid) {
    // A type of no grid's (older builds' `casegrid append` let one in) is
    // passed over, as the projector passes over it; its stream's version
    // still counts it, for a write pinned to that stream (review 117: a
    // legacy event last in a cell's stream left every assignment pinned a
    // version short, refused after each retry and each restart).
    if (!IsEngineEventType(e.type)) {
      PassOver(e);
      continue;
    }
    auto data = DecodeEventData(e.type, e.data, StoredEventLimits());
    if (!data.ok()) {
      return Status::Corruption("grid event at position " + std::to_string(e.position) + ": " +
                                data.status().message());
    }
    Apply(e, *data);
  }
  return Status::Ok();
}

bool GridDirectory::Advance(const RecordedEvent& event) {
  Folded& last = applied_[event.stream];
  if (event.position <= last.position) return false;
  last = Folded{event.position, event.version};
  return true;
}

void GridDirectory::PassOver(const RecordedEvent& event) {
  std::unique_lock l(mu_);
  Advance(event);
}

void GridDirectory::Apply(const RecordedEvent& event, const CaseEventData& data) {
  std::unique_lock l(mu_);
  if (!Advance(event)) return;
  // What the grid commands would refuse, and older builds' `casegrid append`
  // could write, changes nothing: a cell is defined once, under a defined
  // parent; people are assigned to and removed from a defined cell.
  if (const auto* d = std::get_if<GridCellDefined>(&data)) {
    const auto slash = d->cell.rfind('/');
    if (cells_.count(d->cell) != 0 ||
        (slash != std::string::npos && cells_.count(d->cell.substr(0, slash)) == 0)) {
      return;
    }
    Cell& c = cells_[d->cell];
    c.name = d->name;
    c.level = d->level;
  } else if (const auto* a = std::get_if<OfficerAssignedToCell>(&data)) {
    auto cell = cells_.find(a->cell);
    if (cell == cells_.end()) return;
    auto& people = cell->second.people;
    CellPerson p{a->officer, a->role, a->cell};
    if (std::find(people.begin(), people.end(), p) == people.end()) people.push_back(p);
  } else if (const auto* r = std::get_if<OfficerRemovedFromCell>(&data)) {
    auto cell = cells_.find(r->cell);
    if (cell == cells_.end()) return;
    std::erase(cell->second.people, CellPerson{r->officer, r->role, r->cell});
  }
}

Status GridDirectory::CheckAppend(const AppendRequest& request) {
  if (!request.stream.starts_with("grid/")) return Status::Ok();
  const std::string_view stream_cell = std::string_view(request.stream).substr(5);
  Position position = UINT64_MAX - request.events.size();  // past any real one
  for (std::size_t i = 0; i < request.events.size(); ++i) {
    const NewEvent& e = request.events[i];
    const std::string at = "events[" + std::to_string(i) + "]: ";
    auto data = DecodeEventData(e.type, e.data);
    if (!data.ok()) return Status(data.status().code(), at + data.status().message());
    Status s;
    // A cell's events are in its own stream, as its commands write them:
    // the grid is loaded stream by stream (parents first), and the commands
    // find a cell's stream by its path.
    const auto* defined = std::get_if<GridCellDefined>(&*data);
    const auto* assigned = std::get_if<OfficerAssignedToCell>(&*data);
    const auto* removed = std::get_if<OfficerRemovedFromCell>(&*data);
    const std::string* cell = defined    ? &defined->cell
                              : assigned ? &assigned->cell
                              : removed  ? &removed->cell
                                         : nullptr;
    if (cell == nullptr) {
      s = Status::InvalidArgument(
          "type: a grid stream holds GridCellDefined, "
          "OfficerAssignedToCell and OfficerRemovedFromCell only");
    } else if (*cell != stream_cell) {
      s = Status::InvalidArgument("data.cell: " + *cell + " is not the cell of " + request.stream +
                                  "; a cell's events go in grid/<its path>");
    } else if (defined != nullptr) {
      s = CheckNewCell(*defined);
    } else if (!HasCell(*cell)) {
      s = Status::NotFound("no cell " + *cell);
    } else if (assigned != nullptr) {
      // As the commands: a person once per role (409), a role of the grid.
      s = ValidateCellRole(assigned->role);
      if (s.ok()) s = ValidatePersonId("officer", assigned->officer);
      if (s.ok() && IsAssigned(*cell, assigned->officer, assigned->role)) {
        s = Status::Conflict(assigned->officer + " is already assigned to " + *cell + " as " +
                             assigned->role);
      }
    } else if (!IsAssigned(*cell, removed->officer, removed->role)) {
      // As DELETE …/officers/{officer}: removing whom the cell has not is 404.
      s = Status::NotFound(removed->officer + " is not assigned to " + *cell + " as " +
                           removed->role);
    }
    if (!s.ok()) return Status(s.code(), at + s.message());
    RecordedEvent folded;
    folded.stream = request.stream;
    folded.position = ++position;
    Apply(folded, *data);
  }
  return Status::Ok();
}

bool GridDirectory::HasCell(std::string_view cell) const {
  std::shared_lock l(mu_);
  return cells_.find(cell) != cells_.end();
}

Status GridDirectory::CheckNewCell(const GridCellDefined& cell) const {
  RETURN_IF_ERROR(ValidateCellPath(cell.cell));
  const auto depth = static_cast<int>(std::count(cell.cell.begin(), cell.cell.end(), '/')) + 1;
  if (static_cast<int>(cell.level) != depth) {
    return Status::InvalidArgument("level: a cell at depth " + std::to_string(depth) + " is " +
                                   std::string(Name(static_cast<CellLevel>(depth))));
  }
  std::shared_lock l(mu_);
  if (cells_.count(cell.cell) != 0) {
    return Status::Conflict("cell " + cell.cell + " is already defined");
  }
  if (depth > 1) {
    const std::string parent = cell.cell.substr(0, cell.cell.rfind('/'));
    if (cells_.count(parent) == 0) {
      return Status::Conflict("cell " + cell.cell + " needs its parent " + parent +
                              " defined first");
    }
  }
  return Status::Ok();
}

std::vector<CellPerson> GridDirectory::PeopleCovering(std::string_view cell) const {
  std::shared_lock l(mu_);
  std::vector<CellPerson> out;
  ForCellAndAncestors(cell, [&](std::string_view c) {
    auto it = cells_.find(c);
    if (it == cells_.end()) return;
    out.insert(out.end(), it->second.people.begin(), it->second.people.end());
  });
  return out;
}

std::optional<StreamPin> GridDirectory::CoveringGrant(std::string_view cell,
                                                      std::string_view person) const {
  std::shared_lock l(mu_);
  std::optional<StreamPin> grant;
  ForCellAndAncestors(cell, [&](std::string_view c) {
    auto it = cells_.find(c);
    if (grant || it == cells_.end()) return;
    if (std::none_of(it->second.people.begin(), it->second.people.end(),
                     [&](const CellPerson& p) { return p.person == person; })) {
      return;
    }
    grant = StreamPin{Stream(c), 0};
    if (auto folded = applied_.find(grant->stream); folded != applied_.end()) {
      grant->version = folded->second.version;
    }
  });
  return grant;
}

bool GridDirectory::IsAssigned(std::string_view cell, std::string_view person,
                               std::string_view role) const {
  std::shared_lock l(mu_);
  auto it = cells_.find(cell);
  if (it == cells_.end()) return false;
  return std::any_of(it->second.people.begin(), it->second.people.end(),
                     [&](const CellPerson& p) { return p.person == person && p.role == role; });
}

}  // namespace casegrid
