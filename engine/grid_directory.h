// GridDirectory: the grid as it stands — which cells are defined and who is
// assigned to each — folded from the `grid/<cell path>` streams.
//
// The case service asks it whether a cell exists (a case belongs to a defined
// cell; a cell's parent must exist) and projections ask it who should hear
// about a cell (its people and those of the cells above it).
//
// Thread-safety: all methods are safe from any thread (a shared mutex).
#pragma once

#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/case_events.h"
#include "engine/event.h"
#include "engine/event_store.h"
#include "engine/status.h"

namespace casegrid {

struct CellPerson {
  std::string person;
  std::string role;
  std::string cell;  // where they are assigned
  bool operator==(const CellPerson&) const = default;
};

class GridDirectory {
 public:
  // Folds every event of the `grid/` streams of `store` up to `up_to`.
  Status Load(const EventStore& store, Position up_to = UINT64_MAX);

  // Folds one grid event; events already folded (by position) are skipped,
  // so the same event may arrive from the writer and from a subscription.
  void Apply(const RecordedEvent& event, const CaseEventData& data);
  // Counts an event of a grid stream that folds to nothing (a type of no
  // grid's) in its stream's version (CoveringGrant), changing nothing else.
  void PassOver(const RecordedEvent& event);

  // Checks a raw append to a `grid/` stream (`casegrid append`) as the grid
  // commands would: a cell defined once, under a defined parent, at its
  // level; people assigned to and removed from a defined cell, with a role of
  // the grid's; nothing but those three types; each event in its cell's own
  // stream (`data.cell` is the stream's path after grid/). Folds what it
  // checked into this directory as it goes (so that a batch defining a cell
  // and assigning people to it passes): use a directory of its own. Streams other
  // than grid/ pass.
  Status CheckAppend(const AppendRequest& request);

  bool HasCell(std::string_view cell) const;
  // kInvalidArgument/kConflict if `cell` cannot be defined now: bad path,
  // level not its depth, parent undefined, already defined.
  Status CheckNewCell(const GridCellDefined& cell) const;
  // People assigned to `cell` or to any cell above it, nearest first.
  std::vector<CellPerson> PeopleCovering(std::string_view cell) const;
  // Is `person` assigned, in any role, to `cell` or to a cell above it?
  // (PeopleCovering's question for one person, without copying them all.)
  // Answered with what to pin a write decided on it to: the stream of the
  // nearest cell (`cell` or one above it) that puts `person` on the grid,
  // at the version this directory has folded of it; nullopt if none does.
  // An append pinned to it (AppendRequest::unchanged) is refused if that
  // cell's people changed since.
  std::optional<StreamPin> CoveringGrant(std::string_view cell, std::string_view person) const;
  // Is `person` assigned to `cell` with `role`?
  bool IsAssigned(std::string_view cell, std::string_view person, std::string_view role) const;

  static std::string Stream(std::string_view cell) { return "grid/" + std::string(cell); }

 private:
  struct Cell {
    std::string name;
    CellLevel level = CellLevel::kDistrict;
    std::vector<CellPerson> people;
  };
  mutable std::shared_mutex mu_;
  std::map<std::string, Cell, std::less<>> cells_;  // guarded by mu_
  struct Folded {
    Position position = 0;
    StreamVersion version = 0;
  };
  std::map<std::string, Folded, std::less<>> applied_;  // stream -> last event folded
  // mu_ held: takes `event` as its stream's last folded; false if an event
  // at or past its position was folded already.
  bool Advance(const RecordedEvent& event);
};

// The cell paths from `cell` up to its district: "a/b/c" -> {"a/b/c","a/b","a"}.
std::vector<std::string> CellAndAncestors(std::string_view cell);

// Is `cell` the grid path `subtree` or under it? "" (the root) covers all.
bool CellWithin(std::string_view cell, std::string_view subtree);

// kInvalidArgument naming `role` unless a person may hold it in a cell: the
// roles of API.md that handle cases (operator, officer, mediator,
// grid_worker, volunteer, supervisor).
Status ValidateCellRole(std::string_view role);

}  // namespace casegrid
