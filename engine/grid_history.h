// GridCellAt: a cell of the grid as it stood at a position of the log — its
// name and level, when it was defined, and who was assigned to it and to the
// cells above it, each since when — folded from its own `grid/<path>` stream
// and its ancestors' (the grid is event-sourced: DOMAIN.md's "an audit
// replay shows who was responsible for a cell on any past day").
//
// Reads a few streams (one per level, at most four), never the whole log.
// Thread-safety: a pure function of the store, which is safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/case_events.h"
#include "engine/event.h"
#include "engine/event_store.h"
#include "engine/status.h"

namespace casegrid {

// One person's assignment to a cell, in force at the position asked for.
struct CellAssignment {
  std::string person;
  std::string role;
  std::string cell;           // where they are assigned
  std::int64_t since_ms = 0;  // recorded_at of the assignment in force
  Position since = 0;         // its position
  bool operator==(const CellAssignment&) const = default;
};

struct CellAt {
  std::string cell;
  std::string name;
  CellLevel level = CellLevel::kDistrict;
  std::int64_t defined_at_ms = 0;
  Position defined_at = 0;
  // The version of the cell's `grid/` stream then: what a grid write pins
  // in its expected_version (review 113: no read gave it).
  StreamVersion version = 0;
  // Assigned to the cell itself, in the order they were assigned.
  std::vector<CellAssignment> people;
  // Assigned to the cells above it, nearest first (those who also hear of
  // its cases), each cell's in the order they were assigned.
  std::vector<CellAssignment> above;
};

// `cell` as it stood once the log held positions 1..`at`. kNotFound when it
// was not defined by then, or is no cell's path (ValidateCellPath).
Result<CellAt> GridCellAt(const EventStore& store, std::string_view cell, Position at);

// The paths of the cells defined directly under `cell` ("": the districts)
// once the log held positions 1..`at`, in byte order, at most `max`: what a
// screen lists below a node, cases or none. Reads the names of the grid's
// streams, one seek per child and per child's subtree, and each child's own
// stream. kNotFound when `cell` is no cell's path.
Result<std::vector<std::string>> GridChildrenAt(const EventStore& store, std::string_view cell,
                                                Position at, std::size_t max);

}  // namespace casegrid
