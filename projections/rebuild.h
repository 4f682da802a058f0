// Rebuilding the views from the log, and proving a rebuild equals the views
// that were kept live.
//
// Thread-safety: free functions; each opens what it works on.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "engine/event_store.h"
#include "projections/projector.h"
#include "projections/view_store.h"

namespace casegrid {

// Case states a rebuild keeps in memory. A case whose events all fall within
// this many cases' reach is folded and rendered once; one that left the
// cache is folded again from its stream when its next event comes, which is
// what slows a rebuild of a log with many more cases than that.
//
// At least kRebuildCaseCacheEntries (measured at about 0.9 KiB each with
// their strings, so ~220 MiB when full), at most kMaxRebuildCaseCacheEntries;
// between, DefaultRebuildCaseCacheEntries() takes as many as a quarter of the
// memory available when it is called holds, at kRebuildCaseStateBytes each
// (AvailableMemoryBytes: the machine's, or its control group's if less).
inline constexpr std::size_t kRebuildCaseCacheEntries = 1 << 18;
inline constexpr std::size_t kMaxRebuildCaseCacheEntries = 1 << 24;
inline constexpr std::size_t kRebuildCaseStateBytes = 2048;  // twice the measured, for long texts
std::size_t DefaultRebuildCaseCacheEntries();
// The same for a given number of available bytes (nullopt: unknown).
std::size_t RebuildCaseCacheEntriesFor(std::optional<std::uint64_t> available_bytes);

// Folds `store`'s whole log, up to `up_to` (its head by default), into fresh
// views at `path` (which must not exist yet), with as_of snapshots every
// `snapshot_every` positions (the projector's default; a rebuild compared
// with live views must use theirs), keeping at most `case_cache_entries`
// case states in memory.
Status RebuildViews(EventStore* store, const std::string& path,
                    const std::function<void(Position, Position)>& progress = nullptr,
                    Position up_to = UINT64_MAX,
                    Position snapshot_every = ProjectorOptions{}.snapshot_every,
                    std::size_t case_cache_entries = DefaultRebuildCaseCacheEntries(),
                    int max_open_files = -1);

// Puts the views at `fresh` in the place of those at `live`: `live` renamed
// to `live`.old, `fresh` renamed to `live`, then `live`.old removed, so that
// a process killed anywhere in it leaves whole views (RecoverViewsSwap).
Status ReplaceViews(const std::string& fresh, const std::string& live);

// After a ReplaceViews cut short: the views before it moved back if the new
// ones never reached `live`, the old ones removed if they did; nothing to
// do otherwise. `note` hears when views are moved back.
Status RecoverViewsSwap(const std::string& live,
                        const std::function<void(const std::string&)>& note = nullptr);

// Opens the live views at options.path. Views that do not open as views —
// written by a build with another view format, or damaged — are rebuilt
// from the log (beside them, then swapped in): they are derived from the
// log, so nothing is lost. `note` hears why, when that happens. Errors of
// the log itself are returned as they are.
Result<std::unique_ptr<Projector>> OpenOrRebuildViews(
    EventStore* store, const ProjectorOptions& options,
    const std::function<void(const std::string&)>& note = nullptr,
    const std::function<void(Position, Position)>& progress = nullptr);

// Compares every view two stores hold — case views, cell boards, dashboards,
// alerts, the address index, the as_of snapshots and their ticks, and the
// checkpoint. Ok if equal; otherwise kCorruption naming the first difference.
Status CompareViews(const ViewStore& a, const ViewStore& b);

}  // namespace casegrid
