#include "engine/grid_history.h"

#include <algorithm>
#include <optional>
#include <type_traits>
#include <variant>

#include "engine/grid_directory.h"

namespace casegrid {
namespace {

constexpr std::size_t kPage = 1000;

// One cell's stream folded up to `at`: its definition, if any by then, and
// its assignments in force.
struct Folded {
  std::optional<GridCellDefined> defined;
  std::int64_t defined_at_ms = 0;
  Position defined_at = 0;
  StreamVersion version = 0;  // of the cell's stream, at the position asked for
  std::vector<CellAssignment> people;
};

// `after`: the position its parent was defined at (0 for a district). As
// the grid folds (GridDirectory::Apply), a definition counts only under a
// parent defined before it: an older build's `casegrid append` could define
// a cell before its parent, which changed nothing then (review 96).
Result<Folded> FoldCell(const EventStore& store, const std::string& cell, Position at,
                        Position after) {
  Folded f;
  const std::string stream = GridDirectory::Stream(cell);
  for (StreamVersion from = 1;;) {
    ASSIGN_OR_RETURN(std::vector<RecordedEvent> events,
                     store.ReadStream(stream, from, kPage, ReadDirection::kForward));
    for (const RecordedEvent& e : events) {
      if (e.position > at) return f;
      f.version = e.version;
      // As GridDirectory folds the grid (what older `casegrid append` builds
      // could write): another type is passed over, a second definition and
      // an assignment before the definition change nothing, and an event
      // counts for the cell its data names.
      if (e.type != GridCellDefined::kType && e.type != OfficerAssignedToCell::kType &&
          e.type != OfficerRemovedFromCell::kType) {
        continue;
      }
      auto data = DecodeEventData(e.type, e.data, StoredEventLimits());
      // The store checked every grid event as it was appended; one that does
      // not decode now is the log's damage, said as such.
      if (!data.ok()) {
        return Status::Internal("grid/" + cell + " at position " + std::to_string(e.position) +
                                ": " + data.status().message());
      }
      std::visit(
          [&](const auto& d) {
            using T = std::decay_t<decltype(d)>;
            if constexpr (std::is_same_v<T, GridCellDefined>) {
              if (f.defined || d.cell != cell || e.position <= after) return;
              f.defined = d;
              f.defined_at_ms = e.recorded_at_ms;
              f.defined_at = e.position;
            } else if constexpr (std::is_same_v<T, OfficerAssignedToCell>) {
              if (!f.defined || d.cell != cell) return;
              const bool held = std::any_of(f.people.begin(), f.people.end(), [&](const auto& p) {
                return p.person == d.officer && p.role == d.role;
              });
              if (!held) {
                f.people.push_back(
                    CellAssignment{d.officer, d.role, cell, e.recorded_at_ms, e.position});
              }
            } else if constexpr (std::is_same_v<T, OfficerRemovedFromCell>) {
              if (d.cell != cell) return;
              std::erase_if(f.people, [&](const CellAssignment& p) {
                return p.person == d.officer && p.role == d.role;
              });
            }
          },
          *data);
    }
    if (events.size() < kPage) return f;
    from = events.back().version + 1;
  }
}

// The cell and its ancestors folded, nearest first, each defined after its
// parent; empty when the cell was not defined by `at` (it or an ancestor).
Result<std::vector<Folded>> FoldChain(const EventStore& store, std::string_view cell, Position at) {
  const std::vector<std::string> cells = CellAndAncestors(cell);
  std::vector<Folded> chain(cells.size());
  Position after = 0;
  for (std::size_t i = cells.size(); i-- > 0;) {
    ASSIGN_OR_RETURN(chain[i], FoldCell(store, cells[i], at, after));
    if (!chain[i].defined) return std::vector<Folded>{};
    after = chain[i].defined_at;
  }
  return chain;
}

}  // namespace

Result<CellAt> GridCellAt(const EventStore& store, std::string_view cell, Position at) {
  // A path no cell could have (five levels, an empty step, a capital) is
  // no cell, as the dashboard of one is: not found, and no stream is read.
  if (!ValidateCellPath(cell).ok()) {
    return Status::NotFound("no cell " + std::string(cell.substr(0, kMaxCellPathBytes)));
  }
  ASSIGN_OR_RETURN(std::vector<Folded> chain, FoldChain(store, cell, at));
  if (chain.empty()) {
    return Status::NotFound("no cell " + std::string(cell) + " at position " + std::to_string(at));
  }
  CellAt out;
  Folded& f = chain.front();
  out.cell = std::string(cell);
  out.name = f.defined->name;
  out.level = f.defined->level;
  out.defined_at_ms = f.defined_at_ms;
  out.defined_at = f.defined_at;
  out.version = f.version;
  out.people = std::move(f.people);
  for (std::size_t i = 1; i < chain.size(); ++i) {
    for (CellAssignment& p : chain[i].people) out.above.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<std::string>> GridChildrenAt(const EventStore& store, std::string_view cell,
                                                Position at, std::size_t max) {
  if (!cell.empty() && !ValidateCellPath(cell).ok()) {
    return Status::NotFound("no cell " + std::string(cell.substr(0, kMaxCellPathBytes)));
  }
  // The children count only if defined after `cell` was (a district: any).
  Position parent_at = 0;
  if (!cell.empty()) {
    ASSIGN_OR_RETURN(std::vector<Folded> chain, FoldChain(store, cell, at));
    if (chain.empty()) return std::vector<std::string>{};
    parent_at = chain.front().defined_at;
  }
  const std::string prefix = GridDirectory::Stream(cell) + (cell.empty() ? "" : "/");
  std::vector<std::string> children;
  // The grid's streams in byte order: a child's own ("grid/a/b"), then, in
  // among its siblings, its subtree's ("grid/a/b/c", after "grid/a/b-x",
  // since '-' sorts before '/'), which is passed over in one seek: past
  // "grid/a/b/\x7f", as a path holds only a-z, 0-9, '_' and '-'.
  for (std::string after; children.size() < max;) {
    ASSIGN_OR_RETURN(std::vector<std::string> next, store.ListStreams(prefix, after, 1));
    if (next.empty()) break;
    const std::string_view rest = std::string_view(next[0]).substr(prefix.size());
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
      after = prefix + std::string(rest.substr(0, slash)) + "/\x7f";
      continue;
    }
    after = next[0];
    std::string child = next[0].substr(GridDirectory::Stream("").size());  // less "grid/"
    ASSIGN_OR_RETURN(Folded f, FoldCell(store, child, at, parent_at));
    if (f.defined) children.push_back(std::move(child));
  }
  return children;
}

}  // namespace casegrid
