#include "projections/rebuild.h"

#include <algorithm>
#include <filesystem>
#include <future>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include "projections/available_memory.h"
#include "projections/run_aside.h"

namespace casegrid {

std::size_t RebuildCaseCacheEntriesFor(std::optional<std::uint64_t> available_bytes) {
  if (!available_bytes) return kRebuildCaseCacheEntries;
  const std::uint64_t fit = *available_bytes / 4 / kRebuildCaseStateBytes;
  return static_cast<std::size_t>(
      std::clamp<std::uint64_t>(fit, kRebuildCaseCacheEntries, kMaxRebuildCaseCacheEntries));
}

std::size_t DefaultRebuildCaseCacheEntries() {
  return RebuildCaseCacheEntriesFor(AvailableMemoryBytes());
}

Status RebuildViews(EventStore* store, const std::string& path,
                    const std::function<void(Position, Position)>& progress, Position up_to,
                    Position snapshot_every, std::size_t case_cache_entries, int max_open_files) {
  if (std::filesystem::exists(path)) return Status::InvalidArgument(path + " already exists");
  ProjectorOptions options;
  options.path = path;
  // Nobody reads a rebuild until it is done: larger batches render each case
  // and dashboard fewer times on the way.
  options.batch_events = 20000;
  options.snapshot_every = snapshot_every;
  options.rebuild = true;
  options.case_cache_entries = case_cache_entries;
  options.max_open_files = max_open_files;
  ASSIGN_OR_RETURN(auto projector, Projector::Open(store, options));
  const Position head = std::min(up_to, store->Head().position);
  // A reader thread reads and decodes the next page while the projector
  // folds this one. It first frees the page folded before: the memory goes
  // back to the thread that allocates the next page, not through the
  // allocator's central lists.
  auto read = [store, head, batch = options.batch_events](Position after) -> Result<DecodedEvents> {
    ASSIGN_OR_RETURN(auto events, store->ReadAll(after, std::min<Position>(batch, head - after)));
    return DecodeEvents(std::move(events));
  };
  std::future<Result<DecodedEvents>> next;
  DecodedEvents spent;
  auto read_next = [&](Position after) {
    next = RunAside([read, after, spent = std::move(spent)]() mutable {
      spent = DecodedEvents{};
      return read(after);
    });
    spent = DecodedEvents{};
  };
  if (projector->position() < head) read_next(projector->position());
  while (next.valid()) {
    ASSIGN_OR_RETURN(DecodedEvents page, next.get());
    if (page.events.empty()) break;
    const Position last = page.events.back().position;
    if (last < head) read_next(last);
    RETURN_IF_ERROR(projector->Apply(page));
    if (progress) progress(projector->position(), head);
    spent = std::move(page);
  }
  return projector->Finish();
}

Result<std::unique_ptr<Projector>> OpenOrRebuildViews(
    EventStore* store, const ProjectorOptions& options,
    const std::function<void(const std::string&)>& note,
    const std::function<void(Position, Position)>& progress) {
  RETURN_IF_ERROR(RecoverViewsSwap(options.path, note));
  {
    std::error_code ec;
    if (note && std::filesystem::exists(options.path + ".rebuild", ec)) {
      note(options.path + ".rebuild is left from a rebuild that was interrupted or refused " +
           "(kept for a look: remove it when done; the next rebuild replaces it)");
    }
  }
  auto opened = Projector::Open(store, options);
  if (opened.ok() || opened.status().code() != StatusCode::kCorruption) return opened;
  if (!std::filesystem::exists(options.path)) return opened;  // not the views' fault
  if (note) {
    note("the views at " + options.path + " cannot be used (" + opened.status().message() +
         "); rebuilding them from the log");
  }
  const std::string fresh = options.path + ".rebuild";
  std::error_code ec;
  std::filesystem::remove_all(fresh, ec);
  if (Status s = RebuildViews(store, fresh, progress, UINT64_MAX, options.snapshot_every,
                              DefaultRebuildCaseCacheEntries(), options.max_open_files);
      !s.ok()) {
    std::filesystem::remove_all(fresh, ec);  // no half-built views left behind
    return s;
  }
  RETURN_IF_ERROR(ReplaceViews(fresh, options.path));
  return Projector::Open(store, options);
}

namespace {

// Makes the renames in `folder` durable (a folder's entries are its data).
void SyncFolder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the views are rebuilt from the log if a rename is lost
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

// Two renames, each atomic: live -> live.old, fresh -> live; then live.old
// is removed. Cut short anywhere, RecoverViewsSwap finds either the old views
// or the new ones whole, never a half-removed folder (before, the live views
// were removed file by file first, and a kill then left neither).
Status ReplaceViews(const std::string& fresh, const std::string& live) {
  namespace fs = std::filesystem;
  const std::string old = live + ".old";
  std::error_code ec;
  fs::remove_all(old, ec);
  if (ec) return Status::Unavailable("removing " + old + ": " + ec.message());
  if (fs::exists(live, ec)) {
    fs::rename(live, old, ec);
    if (ec) return Status::Unavailable("moving " + live + " aside: " + ec.message());
  }
  fs::rename(fresh, live, ec);
  if (ec) return Status::Unavailable("moving the rebuilt views in place: " + ec.message());
  SyncFolder(fs::path(live).parent_path());
  fs::remove_all(old, ec);
  if (ec) return Status::Unavailable("removing " + old + ": " + ec.message());
  return Status::Ok();
}

Status RecoverViewsSwap(const std::string& live,
                        const std::function<void(const std::string&)>& note) {
  namespace fs = std::filesystem;
  const std::string old = live + ".old";
  std::error_code ec;
  if (!fs::exists(old, ec)) return Status::Ok();
  if (!fs::exists(live, ec)) {
    // Cut between the two renames: the views before the swap are whole.
    fs::rename(old, live, ec);
    if (ec) return Status::Unavailable("moving " + old + " back: " + ec.message());
    SyncFolder(fs::path(live).parent_path());
    if (note)
      note("a swap of rebuilt views was cut short; the views before it are back in " + live);
    return Status::Ok();
  }
  // Cut after both: the new views are in place; the old ones are leftovers.
  fs::remove_all(old, ec);
  if (ec) return Status::Unavailable("removing " + old + ": " + ec.message());
  return Status::Ok();
}

namespace {

// The number of entries from `it` on (it is left at the end).
std::size_t CountRest(rocksdb::Iterator& it) {
  std::size_t n = 0;
  for (; it.Valid(); it.Next()) ++n;
  return n;
}

}  // namespace

// Both stores' families walked side by side in key order: memory does not
// grow with the views (each family was read whole into a map, about 2 KB a
// case on top of the rebuild; review 96).
Status CompareViews(const ViewStore& a, const ViewStore& b) {
  rocksdb::ReadOptions read;
  read.fill_cache = false;  // each block is read once
  read.readahead_size = 2 << 20;
  for (ViewFamily f : {kViewMeta, kViewCases, kViewCellCases, kViewOpenCases, kViewDashboard,
                       kViewAlerts, kViewAlertBodies, kViewAddresses, kViewSnapshots, kViewTicks}) {
    std::unique_ptr<rocksdb::Iterator> l(a.db()->NewIterator(read, a.family(f)));
    std::unique_ptr<rocksdb::Iterator> r(b.db()->NewIterator(read, b.family(f)));
    std::size_t same = 0;
    for (l->SeekToFirst(), r->SeekToFirst();
         l->Valid() && r->Valid() && l->key() == r->key() && l->value() == r->value();
         l->Next(), r->Next()) {
      ++same;
    }
    // A walk that stopped on an error, not at its end, is said as such.
    auto read_failed = [&]() -> Status {
      for (auto* it : {l.get(), r.get()}) {
        if (rocksdb::Status s = it->status(); !s.ok()) {
          return Status::Unavailable(std::string("reading the views' ") + ViewStore::FamilyName(f) +
                                     " to compare them: " + s.ToString());
        }
      }
      return Status::Ok();
    };
    RETURN_IF_ERROR(read_failed());
    if (!l->Valid() && !r->Valid()) continue;
    // The first key where they differ: the smaller of the two (the one the
    // other lacks), or the one both hold with other values.
    std::string key;
    if (!r->Valid() || (l->Valid() && l->key().compare(r->key()) <= 0)) {
      key = l->key().ToString();
    } else {
      key = r->key().ToString();
    }
    for (char& c : key) {
      if (c == '\0') c = '|';
    }
    const std::size_t left = same + CountRest(*l), right = same + CountRest(*r);
    RETURN_IF_ERROR(read_failed());
    return Status::Corruption(std::string("views differ in ") + ViewStore::FamilyName(f) +
                              " at key \"" + key + "\" (" + std::to_string(left) + " vs " +
                              std::to_string(right) + " entries)");
  }
  return Status::Ok();
}

}  // namespace casegrid
