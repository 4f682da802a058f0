// Rebuilding the views from the log, and proving a rebuild equals the views
// that were kept live.
//
// Thread-safety: free functions; each opens what it works on.
#pragma once

#include <functional>
#include <string>

#include "engine/event_store.h"
#include "projections/projector.h"
#include "projections/view_store.h"

namespace casegrid {

// Folds `store`'s whole log, up to `up_to` (its head by default), into fresh
// views at `path` (which must not exist yet).
Status RebuildViews(EventStore* store, const std::string& path,
                    const std::function<void(Position, Position)>& progress = nullptr,
                    Position up_to = UINT64_MAX);

// Compares every view two stores hold — case views, cell boards, dashboards,
// alerts, the address index and the checkpoint — but not the as_of snapshots,
// whose ticks depend on how events were batched. Ok if equal; otherwise
// kCorruption naming the first difference.
Status CompareViews(const ViewStore& a, const ViewStore& b);

}  // namespace casegrid
