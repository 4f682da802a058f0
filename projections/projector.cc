#include "projections/projector.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <future>
#include <iostream>
#include <list>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "engine/record_format.h"
#include "engine/subscription.h"
#include "engine/thread_name.h"
#include "projections/case_id_order.h"
#include "projections/case_view.h"
#include "projections/lru_map.h"
#include "projections/run_aside.h"

namespace casegrid {

// A bounded map of case states, least recently used out first. In a
// rebuild an entry may hold a state whose view is not written yet
// (`unwritten`); pushing such an entry out keeps it in `evicted_` until the
// batch writes it.
class Projector::CaseCache {
 public:
  using Entry = CachedCaseState;

  explicit CaseCache(std::size_t capacity) : map_(capacity) {}
  Entry* Find(std::string_view id) { return map_.Find(id); }
  // Returns the cached entry; it stays valid until `capacity` other cases
  // have been put after it.
  Entry* Put(std::string_view id, CaseState state, bool written) {
    if (Entry* cached = map_.Find(id)) {
      cached->state = std::move(state);
      return cached;
    }
    std::optional<std::pair<std::string, Entry>> out;
    Entry* added = map_.Add(id, Entry{std::move(state), false, written, std::nullopt}, &out);
    if (out && out->second.unwritten) evicted_.push_back(std::move(*out));
    return added;
  }
  // The states pushed out before their views were written, oldest first.
  std::vector<std::pair<std::string, Entry>> TakeEvicted() {
    std::vector<std::pair<std::string, Entry>> out;
    out.swap(evicted_);
    return out;
  }
  // Calls f(id, entry) for every cached entry whose view is not written.
  template <typename F>
  void ForEachUnwritten(F&& f) {
    map_.ForEach([&](const std::string& id, Entry& entry) {
      if (entry.unwritten) f(id, entry);
    });
  }
  void Clear() {
    map_.Clear();
    evicted_.clear();
  }

 private:
  LruMap<Entry> map_;
  std::vector<std::pair<std::string, Entry>> evicted_;
};

// What one Apply() accumulates before its single write.
struct Projector::Batch {
  rocksdb::WriteBatch write{4 << 20};
  bool collect_changes = false;  // whether `changes` is wanted
  ViewChanges changes;
  // Cases changed in this batch; their views are rendered once, at its end.
  std::unordered_set<std::string> cases;
  // Dashboard nodes changed: their entries in nodes_.
  std::unordered_set<const std::pair<const std::string, DashboardNode>*> nodes;
  // Disputes reported in this batch: normalized address -> the last one.
  std::map<std::string, Projector::AddressReport> addresses;
};

namespace {
// In the meta family while a rebuild's views are not whole (Finish()).
constexpr const char* kUnfinishedRebuildKey = "unfinished_rebuild";
// In the meta family: what the views hold for a given log. Raised whenever
// a build would fold the same log into other views (2: one alert per person
// per event; 3: addresses folded by Unicode, NormalizeAddress, and a
// DeadlineSet keeping a miss on record; 4: a second CaseReported of a case
// changes nothing; 5: a response-time histogram keeps the longest time of
// its open bucket; 6: a raw append repeating a deadline's miss is not
// counted again; 7: a case view tells `updated_at` and `dispatched`; 8: and
// the callback's `unreached` attempts; 9: an index of the open cases; 10:
// an alert's body kept once for all it is told to; 11: a raw append's miss
// of a deadline met counts nothing; 12: repeat disputes within a district,
// numbers in an address kept apart; 13: a deadline moved back to a due time
// warned of is warned, and a case view lists its misses; 14: a repeat
// dispute's alert names the case it repeats, and a mediation's deadline
// alerts the mediators; 15: a reopening alerts who handles the case; 16: a
// dashboard's open cases overdue and cases mediated; 17: a deadline started
// again after it was met starts afresh, a DeadlineMet meets one missed; 18:
// a dashboard's cases by kind and channel, callbacks unreachable,
// reopenings; no alert to the person whose action it tells of, an assignee
// replaced told so, a warning with no officer to hear it told to the
// supervisors; 19: a raw callback scheduled at a due time missed is missed,
// a raw warning of another due time warns of nothing now; 20: a case view's
// `judicial`; 21: a callback due and a deadline's warning or miss told to
// the officers covering the cell too), so that views of another format are
// rebuilt, not served.
constexpr const char* kViewsFormatKey = "format";
// In the meta family: the hash of the event at the checkpoint, so that views
// folded from another log (a folder put together by hand) are not served.
constexpr const char* kCheckpointHashKey = "checkpoint_hash";
constexpr const char* kViewsFormat = "21";
// Threads that render a rebuild's last case views at most.
constexpr std::size_t kMaxRenderThreads = 4;
// What Apply() and Finish() answer once a rebuild's batch has failed.
constexpr const char* kBrokenRebuild = "a rebuild cannot go on after a failed batch";
constexpr const char* kBrokenFold =
    "the views cannot fold on after a failed batch; reopen them to resume from their checkpoint";
// Cells whose dashboard nodes NodesOf() remembers at most.
constexpr std::size_t kNodeChains = 1 << 16;
// Dispute addresses a rebuild remembers at most (~100 bytes each).
constexpr std::size_t kRebuildAddresses = 1 << 20;
}  // namespace

namespace {

std::string CellCaseKey(std::string_view cell, std::string_view case_id) {
  std::string key(cell);
  key += '\0';
  key += case_id;
  return key;
}

std::string AddressKey(std::string_view normalized, Position position) {
  std::string key(normalized);
  key += '\0';
  key += storage::EncodeBigEndian64(position);
  return key;
}

std::string SnapshotKey(std::string_view node, Position position) {
  std::string key(node);
  key += '\0';
  key += storage::EncodeBigEndian64(position);
  return key;
}

}  // namespace

Projector::Projector(EventStore* store, ProjectorOptions options)
    : store_(store),
      options_(std::move(options)),
      // Live, a batch's cases must all stay cached until its views are
      // rendered; a rebuild writes the states that leave the cache instead.
      cache_(std::make_unique<CaseCache>(
          options_.rebuild
              ? options_.case_cache_entries
              : std::max(options_.case_cache_entries, 2 * options_.batch_events + 1))) {}

Projector::~Projector() {
  Stop();
}

Result<std::unique_ptr<Projector>> Projector::Open(EventStore* store, ProjectorOptions options) {
  std::unique_ptr<Projector> p(new Projector(store, std::move(options)));
  RETURN_IF_ERROR(p->Load());
  return p;
}

namespace {

// The log's damage, found while opening the views, said as the log's: a
// kCorruption is the views' own (OpenOrRebuildViews rebuilds them, which
// would fold the whole log only to fail on the same record; review 96).
Status OfTheLog(Status s) {
  if (s.code() != StatusCode::kCorruption) return s;
  return Status::Internal("the log, not the views: " + s.message());
}
template <typename T>
Result<T> OfTheLog(Result<T> r) {
  if (r.ok()) return r;
  return OfTheLog(r.status());
}

}  // namespace

Status Projector::Load() {
  ASSIGN_OR_RETURN(views_,
                   ViewStore::Open(options_.path, options_.rebuild, options_.max_open_files));
  ASSIGN_OR_RETURN(Position checkpoint, views_->Checkpoint());
  ASSIGN_OR_RETURN(auto unfinished, views_->Get(kViewMeta, kUnfinishedRebuildKey));
  ASSIGN_OR_RETURN(auto format, views_->Get(kViewMeta, kViewsFormatKey));
  const bool fresh = checkpoint == 0 && !unfinished;
  if (options_.rebuild) {
    if (!fresh) {
      return Status::InvalidArgument("a rebuild needs fresh views; " + options_.path +
                                     " already holds some");
    }
  } else if (unfinished) {
    return Status::Corruption("views at " + options_.path +
                              " are a rebuild that did not finish; remove them and rebuild");
  } else if (!fresh && format != kViewsFormat) {
    return Status::Corruption("views at " + options_.path + " are in view format " +
                              format.value_or("1") + ", this build's is " + kViewsFormat +
                              "; remove them and rebuild");
  }
  addresses_complete_ = options_.rebuild && fresh;
  if (options_.rebuild) {
    rebuild_alerts_ =
        std::make_unique<RebuildAlerts>(views_.get(), options_.path, options_.rebuild_alerts_held);
  }
  if (fresh) {
    rocksdb::WriteBatch write;
    write.Put(views_->family(kViewMeta), kViewsFormatKey, kViewsFormat).PermitUncheckedError();
    // A rebuild's views are unfinished until Finish() deletes the mark;
    // it is flushed with the first views (atomic flush).
    if (options_.rebuild) {
      write.Put(views_->family(kViewMeta), kUnfinishedRebuildKey, "").PermitUncheckedError();
    }
    RETURN_IF_ERROR(views_->Write(&write));
  }
  if (checkpoint > store_->Head().position) {
    return Status::Corruption("views at " + options_.path + " are at position " +
                              std::to_string(checkpoint) + ", past the log's head " +
                              std::to_string(store_->Head().position) +
                              "; remove them and rebuild");
  }
  if (checkpoint > 0) {
    ASSIGN_OR_RETURN(auto folded_hash, views_->Get(kViewMeta, kCheckpointHashKey));
    ASSIGN_OR_RETURN(RecordedEvent at_checkpoint, OfTheLog(store_->ReadAt(checkpoint)));
    const std::string_view log_hash(reinterpret_cast<const char*>(at_checkpoint.hash.data()),
                                    at_checkpoint.hash.size());
    if (!folded_hash || *folded_hash != log_hash) {
      return Status::Corruption("views at " + options_.path + " were not folded from this log " +
                                "(the event at their position " + std::to_string(checkpoint) +
                                " is another); remove them and rebuild");
    }
  }
  RETURN_IF_ERROR(OfTheLog(grid_.Load(*store_, checkpoint)));
  Status decoded;
  RETURN_IF_ERROR(
      views_->ForEach(kViewDashboard, [&](std::string_view key, std::string_view value) {
        auto node = DecodeDashboardNode(value);
        if (!node.ok()) {
          decoded = node.status();
          return;
        }
        nodes_.emplace(std::string(key), std::move(node).value());
      }));
  RETURN_IF_ERROR(decoded);
  std::unique_ptr<rocksdb::Iterator> it(
      views_->db()->NewIterator(rocksdb::ReadOptions(), views_->family(kViewTicks)));
  it->SeekToLast();
  if (it->Valid()) last_snapshot_ = storage::DecodeBigEndian64(it->key().ToStringView());
  position_.store(checkpoint, std::memory_order_release);
  return Status::Ok();
}

const std::vector<std::pair<const std::string, DashboardNode>*>& Projector::NodesOf(
    const std::string& cell) {
  if (auto it = node_chains_.find(cell); it != node_chains_.end()) return it->second;
  // Report cells are defined cells, but raw appends were not always held to
  // that: the memo is bounded all the same.
  if (node_chains_.size() >= kNodeChains) node_chains_.clear();
  std::vector<std::pair<const std::string, DashboardNode>*> chain;
  for (std::string& path : DashboardNodesOf(cell)) {
    chain.push_back(&*nodes_.try_emplace(std::move(path)).first);
  }
  return node_chains_.emplace(cell, std::move(chain)).first->second;
}

Result<Projector::CachedCaseState*> Projector::CachedCase(std::string_view case_id,
                                                          const RecordedEvent& event) {
  if (CaseCache::Entry* cached = cache_->Find(case_id)) return cached;
  // A stream's first event starts from nothing: no read needed, and no view
  // of the case written yet.
  if (event.version == 1) return cache_->Put(case_id, CaseState{}, !options_.rebuild);
  ASSIGN_OR_RETURN(CaseState folded, FoldCase(*store_, case_id, event.position - 1));
  // In a rebuild, a case folded again left the cache before, with its view.
  return cache_->Put(case_id, std::move(folded), true);
}

std::optional<std::string> RepeatDisputeAddress(const CaseReported& report) {
  if (report.kind != CaseKind::kDispute || !report.address) return std::nullopt;
  std::string address = NormalizeAddress(*report.address);
  if (address.empty()) return std::nullopt;
  // Within the report's district: the same street name in two districts is
  // two places. ('/' is in no normalized address, nor in a cell's segment.)
  return report.cell.substr(0, report.cell.find('/')) + "/" + address;
}

Result<std::optional<Projector::AddressReport>> Projector::RepeatedDispute(
    const std::string& address, const RecordedEvent& event, Batch* batch) const {
  std::optional<AddressReport> previous;
  if (batch != nullptr) {
    if (auto it = batch->addresses.find(address); it != batch->addresses.end()) {
      previous = it->second;
    }
  }
  if (!previous && options_.rebuild) {
    if (auto it = rebuild_addresses_.find(address); it != rebuild_addresses_.end()) {
      previous = it->second;
    } else if (addresses_complete_) {
      return std::optional<AddressReport>();  // never reported before
    }
  }
  if (!previous) {
    std::unique_ptr<rocksdb::Iterator> it(
        views_->db()->NewIterator(rocksdb::ReadOptions(), views_->family(kViewAddresses)));
    it->SeekForPrev(AddressKey(address, event.position - 1));
    const std::string prefix = address + '\0';
    if (it->Valid() && it->key().starts_with(prefix) && it->value().size() >= 8) {
      const std::string_view value = it->value().ToStringView();
      previous =
          AddressReport{static_cast<std::int64_t>(storage::DecodeBigEndian64(value.substr(0, 8))),
                        std::string(value.substr(8))};
    }
    if (!it->status().ok())
      return Status::Unavailable("reading addresses: " + it->status().ToString());
  }
  if (!previous || !RepeatsWithinWindow(previous->at_ms, event.recorded_at_ms)) {
    return std::optional<AddressReport>();
  }
  return previous;
}

DecodedEvents DecodeEvents(std::vector<RecordedEvent> events) {
  DecodedEvents out;
  out.data.reserve(events.size());
  for (const RecordedEvent& e : events) {
    out.data.push_back(DecodeEventData(e.type, e.data, StoredEventLimits()));
  }
  out.events = std::move(events);
  return out;
}

Status Projector::ApplyOne(const RecordedEvent& e, const Result<CaseEventData>* given, Batch& b) {
  std::optional<Result<CaseEventData>> own;
  if (given == nullptr) own.emplace(DecodeEventData(e.type, e.data, StoredEventLimits()));
  const Result<CaseEventData>& decoded = given != nullptr ? *given : *own;
  if (!decoded.ok()) {
    // Types the engine does not define (raw appends of other types) are not
    // views' business, but in a case stream the case is at their version
    // (CaseState::PassOver); an undecodable event of a known type is corrupt
    // in the streams the views fold (case/, grid/, alerts/), and nothing to
    // them elsewhere (an import's stream).
    const bool folded = e.stream.starts_with("case/") || e.stream.starts_with("grid/") ||
                        e.stream.starts_with("alerts/");
    if (!folded) return Status::Ok();
    if (!IsEngineEventType(e.type)) {
      const std::string_view case_id = CaseIdOfStream(e.stream);
      if (case_id.empty()) return Status::Ok();
      ASSIGN_OR_RETURN(CachedCaseState * cached, CachedCase(case_id, e));
      if (!cached->state.exists) return Status::Ok();
      cached->state.PassOver(e);
      CaseViewChanged(case_id, *cached, b);
      return Status::Ok();
    }
    return Status::Corruption("position " + std::to_string(e.position) + ": " +
                              decoded.status().message());
  }
  const CaseEventData& data = *decoded;
  if (e.stream.starts_with("grid/")) {
    grid_.Apply(e, data);
    return Status::Ok();
  }
  if (e.stream.starts_with("alerts/")) {
    if (const auto* ack = std::get_if<AlertAcknowledged>(&data)) {
      const std::string person = e.stream.substr(7);
      if (const auto id = ParseAlertId(ack->alert)) {
        // An alert a rebuild still holds is dropped there instead.
        if (!rebuild_alerts_ || !rebuild_alerts_->Acknowledge(person, id->position, id->kind)) {
          b.write.Delete(views_->family(kViewAlerts), AlertKey(person, id->position, id->kind))
              .PermitUncheckedError();
        }
        if (b.collect_changes) b.changes.acknowledged.push_back({person, ack->alert, e.position});
      }
    }
    return Status::Ok();
  }
  const std::string_view case_id = CaseIdOfStream(e.stream);
  if (case_id.empty()) return Status::Ok();

  ASSIGN_OR_RETURN(CachedCaseState * cached, CachedCase(case_id, e));
  CaseState* const state = &cached->state;
  const CaseGauges before = CaseGauges::Of(*state);
  const bool repeat = state->Repeats(data);
  std::string previous_assignee;
  if (std::holds_alternative<CaseAssigned>(data)) previous_assignee = state->assignee;
  state->Apply(e, data);
  if (!state->exists) return Status::Ok();  // an event before its case was reported (raw append)
  if (repeat) {
    // A second report, a miss again: nothing changes but the case's version.
    CaseViewChanged(case_id, *cached, b);
    return Status::Ok();
  }
  CaseChange change{
      &e, &data, before, CaseGauges::Of(*state), state, {}, std::move(previous_assignee)};
  if (const auto* report = std::get_if<CaseReported>(&data)) {
    if (auto address = RepeatDisputeAddress(*report)) {
      ASSIGN_OR_RETURN(auto repeated, RepeatedDispute(*address, e, &b));
      if (repeated) change.repeat_of = std::move(repeated->case_id);
      b.addresses[*address] = {e.recorded_at_ms, std::string(case_id)};
      std::string value = storage::EncodeBigEndian64(static_cast<std::uint64_t>(e.recorded_at_ms));
      value += case_id;
      b.write.Put(views_->family(kViewAddresses), AddressKey(*address, e.position), value)
          .PermitUncheckedError();
    }
  }
  for (auto* node : NodesOf(state->report.cell)) {
    ApplyCaseChange(node->second, change);
    b.nodes.insert(node);
  }
  // One body for each kind the event raises (a handful of kinds), shared by
  // its recipients (as many as cover the cell); in the order of their keys.
  std::vector<std::pair<std::string_view, std::string>> bodies;
  std::vector<Alert> alerts = AlertsFor(change, grid_);
  for (const Alert& alert : alerts) {
    if (std::none_of(bodies.begin(), bodies.end(),
                     [&](const auto& body) { return body.first == alert.kind; })) {
      bodies.emplace_back(alert.kind, RenderAlertBody(alert));
    }
    if (rebuild_alerts_) {
      rebuild_alerts_->Hold(alert);
    } else {
      b.write.Put(views_->family(kViewAlerts), AlertKey(alert), alert.cell).PermitUncheckedError();
    }
  }
  std::sort(bodies.begin(), bodies.end());
  for (auto& [kind, body] : bodies) {
    if (rebuild_alerts_) {
      RETURN_IF_ERROR(rebuild_alerts_->AddBody(e.position, kind, std::move(body)));
    } else {
      b.write.Put(views_->family(kViewAlertBodies), AlertBodyKey(e.position, kind), body)
          .PermitUncheckedError();
    }
  }
  if (b.collect_changes) {
    for (Alert& alert : alerts) b.changes.alerts.push_back(std::move(alert));
  }
  CaseViewChanged(case_id, *cached, b);
  return Status::Ok();
}

void Projector::CaseViewChanged(std::string_view case_id, CachedCaseState& cached, Batch& b) const {
  if (options_.rebuild) {
    cached.unwritten = true;  // written when it leaves the cache, or by Finish()
  } else {
    b.cases.emplace(case_id);  // written at the end of the batch
  }
}

void Projector::WriteCaseView(const std::string& case_id, CachedCaseState& cached,
                              rocksdb::WriteBatch& write) const {
  const CaseState& state = cached.state;
  write.Put(views_->family(kViewCases), case_id, RenderCaseView(state)).PermitUncheckedError();
  const std::array<char, 2> index_value = {static_cast<char>(state.status),
                                           static_cast<char>(state.kind)};
  if (cached.indexed == index_value) return;  // the indexes hold it already
  cached.indexed = index_value;
  const std::string key = CellCaseKey(state.report.cell, case_id);
  write.Put(views_->family(kViewCellCases), key, rocksdb::Slice(index_value.data(), 2))
      .PermitUncheckedError();
  if (state.status == CaseStatus::kClosed) {
    // Only an entry that may be there is deleted: a rebuild closes most
    // cases before their first view, and a tombstone each would stay in
    // the way of every walk of the index until compacted.
    if (cached.written) write.Delete(views_->family(kViewOpenCases), key).PermitUncheckedError();
  } else {
    write.Put(views_->family(kViewOpenCases), key, rocksdb::Slice(index_value.data(), 2))
        .PermitUncheckedError();
  }
}

void Projector::WriteEvictedCaseViews(rocksdb::WriteBatch& write) {
  // Oldest first: of a case evicted twice, the later state is put later, and
  // wins. (A rebuild's memtables sort at their flush, so the order of the
  // keys costs nothing.)
  for (auto& [case_id, entry] : cache_->TakeEvicted()) WriteCaseView(case_id, entry, write);
}

Status Projector::IngestCaseViews(
    std::vector<std::pair<const std::string*, const CachedCaseState*>> cases) {
  if (cases.empty()) return Status::Ok();
  // Table files take strictly increasing keys.
  SortByCaseId(cases, [](const auto& c) { return std::string_view(*c.first); });
  // The cell index's keys (cell \0 id) in order: the cases grouped by their
  // cell (a few hundred, sorted as text), in id order within each, as the
  // cases are. The index value (status, kind), and whether an earlier view
  // may be there.
  std::unordered_map<std::string_view, std::vector<std::size_t>> by_cell;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    by_cell[cases[i].second->state.report.cell].push_back(i);
  }
  std::vector<std::string_view> cells;
  cells.reserve(by_cell.size());
  for (const auto& [cell, in_cell] : by_cell) cells.push_back(cell);
  std::sort(cells.begin(), cells.end());
  std::vector<std::pair<std::string, std::array<char, 3>>> index;
  index.reserve(cases.size());
  for (std::string_view cell : cells) {
    for (std::size_t i : by_cell[cell]) {
      const auto& [case_id, cached] = cases[i];
      const CaseState& state = cached->state;
      index.emplace_back(CellCaseKey(cell, *case_id),
                         std::array<char, 3>{static_cast<char>(state.status),
                                             static_cast<char>(state.kind), cached->written});
    }
  }
  auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
  // Only a cell holding the separator (a NUL byte) could order otherwise.
  if (!std::is_sorted(index.begin(), index.end(), by_key)) {
    std::sort(index.begin(), index.end(), by_key);
  }

  // Part k of each sorted list goes to file k of its family: the files of a
  // family do not overlap one another, and none is empty (parts <= cases).
  const std::size_t parts =
      std::min(cases.size(),
               std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, kMaxRenderThreads));
  auto file_of = [&](const char* family, std::size_t k) {
    return options_.path + "/rebuild-" + family + "-" + std::to_string(k) + ".sst";
  };
  // Whether part k's file of open cases has entries (an empty one is not
  // written: a table file needs at least one).
  std::vector<char> open_written(parts, 0);
  auto write_part = [&](std::size_t k) -> Status {
    const std::size_t begin = cases.size() * k / parts, end = cases.size() * (k + 1) / parts;
    ASSIGN_OR_RETURN(auto views, views_->NewTableFile(kViewCases, file_of("cases", k)));
    for (std::size_t i = begin; i < end; ++i) {
      if (auto s = views->Put(*cases[i].first, RenderCaseView(cases[i].second->state)); !s.ok()) {
        return Status::Unavailable("writing a case view table: " + s.ToString());
      }
    }
    ASSIGN_OR_RETURN(auto cells, views_->NewTableFile(kViewCellCases, file_of("cell_cases", k)));
    // The open cases' index; a closed case's entry is deleted if an earlier
    // batch may have written it while the case was open.
    ASSIGN_OR_RETURN(auto open, views_->NewTableFile(kViewOpenCases, file_of("open_cases", k)));
    for (std::size_t i = begin; i < end; ++i) {
      const auto& [key, value] = index[i];
      const rocksdb::Slice slice(value.data(), 2);
      if (auto s = cells->Put(key, slice); !s.ok()) {
        return Status::Unavailable("writing a cell index table: " + s.ToString());
      }
      rocksdb::Status s;
      if (static_cast<CaseStatus>(value[0]) != CaseStatus::kClosed) {
        s = open->Put(key, slice);
      } else if (value[2]) {
        s = open->Delete(key);
      } else {
        continue;
      }
      if (!s.ok()) return Status::Unavailable("writing an open case index table: " + s.ToString());
      open_written[k] = 1;
    }
    for (auto* writer : {views.get(), cells.get(), open.get()}) {
      if (writer == open.get() && !open_written[k]) continue;
      if (auto s = writer->Finish(); !s.ok()) {
        return Status::Unavailable("finishing a view table: " + s.ToString());
      }
    }
    return Status::Ok();
  };
  std::vector<std::future<Status>> helpers;
  for (std::size_t k = 1; k < parts; ++k) {
    helpers.push_back(RunAside([&write_part, k] { return write_part(k); }));
  }
  Status written = write_part(0);
  for (auto& helper : helpers) {
    if (Status s = helper.get(); written.ok()) written = s;
  }
  RETURN_IF_ERROR(written);
  std::vector<std::string> views_files, cells_files, open_files;
  for (std::size_t k = 0; k < parts; ++k) {
    views_files.push_back(file_of("cases", k));
    cells_files.push_back(file_of("cell_cases", k));
    if (open_written[k]) {
      open_files.push_back(file_of("open_cases", k));
    } else {
      std::error_code ec;
      std::filesystem::remove(file_of("open_cases", k), ec);  // opened, left empty
    }
  }
  RETURN_IF_ERROR(views_->Ingest(kViewCases, views_files));
  RETURN_IF_ERROR(views_->Ingest(kViewCellCases, cells_files));
  return views_->Ingest(kViewOpenCases, open_files);
}

Status Projector::Finish() {
  if (!options_.rebuild) return Status::Internal("Finish() is for a projector opened to rebuild");
  if (broken_) return Status::Internal(kBrokenRebuild);
  // A failure is final, as a batch's is: what Finish wrote out before it
  // failed is no longer held, and a second Finish would delete the
  // unfinished mark over views missing it (review 96).
  broken_ = true;
  // Every batch wrote the states its cache pushed out, so what is left
  // unwritten is in the cache, one state per case.
  std::vector<std::pair<const std::string*, const CachedCaseState*>> cases;
  cache_->ForEachUnwritten([&](const std::string& case_id, CachedCaseState& entry) {
    cases.emplace_back(&case_id, &entry);
    entry.unwritten = false;
  });
  // The alerts' table files are written while the case views are rendered:
  // neither touches what the other does.
  auto alerts_written = RunAside([this] { return rebuild_alerts_->Finish(); });
  const Status views_written = IngestCaseViews(std::move(cases));
  const Status alerts_status = alerts_written.get();
  RETURN_IF_ERROR(views_written);
  RETURN_IF_ERROR(alerts_status);
  // Only now are the views whole.
  rocksdb::WriteBatch write;
  write.Delete(views_->family(kViewMeta), kUnfinishedRebuildKey).PermitUncheckedError();
  RETURN_IF_ERROR(views_->Write(&write));
  // The table files are written, and checked (a failed flush would leave
  // the mark on disk, or no checkpoint), while a helper lets go of the cache.
  auto cleared = RunAside([this] { cache_->Clear(); });
  const Status flushed = views_->Flush();
  cleared.get();
  RETURN_IF_ERROR(flushed);
  broken_ = false;
  return Status::Ok();
}

void Projector::Snapshot(Position at, Batch& b) {
  for (const auto& [path, node] : nodes_) {
    if (node.position <= last_snapshot_) continue;  // unchanged since the last tick
    b.write.Put(views_->family(kViewSnapshots), SnapshotKey(path, at), EncodeDashboardNode(node))
        .PermitUncheckedError();
  }
  b.write.Put(views_->family(kViewTicks), storage::EncodeBigEndian64(at), "")
      .PermitUncheckedError();
  last_snapshot_ = at;
}

Status Projector::Apply(const std::vector<RecordedEvent>& events) {
  return ApplyBatch(events, nullptr, nullptr);
}

Status Projector::Apply(const DecodedEvents& decoded) {
  if (decoded.data.size() != decoded.events.size()) {
    return Status::Internal("decoded events without their data");
  }
  return ApplyBatch(decoded.events, &decoded.data, nullptr);
}

Status Projector::ApplyBatch(const std::vector<RecordedEvent>& events,
                             const std::vector<Result<CaseEventData>>* decoded,
                             ViewChanges* changes) {
  if (events.empty()) return Status::Ok();
  if (broken_) return Status::Internal(options_.rebuild ? kBrokenRebuild : kBrokenFold);
  const Position start = position();
  // A failure is final (broken_): a rebuild discards the views it leaves
  // behind; live views are reopened from their checkpoint.
  struct BreakUnlessDone {
    Projector* p;
    bool done = false;
    ~BreakUnlessDone() {
      if (!done) p->broken_ = true;
    }
  } breaker{this};
  Batch b;
  b.collect_changes = changes != nullptr;
  const Position snapshot_before = last_snapshot_;
  const Position snapshot_every = std::max<Position>(options_.snapshot_every, 1);
  Position expected = start + 1;
  for (const RecordedEvent& e : events) {
    if (e.position != expected) {
      return Status::Internal("views at position " + std::to_string(expected - 1) +
                              " were handed position " + std::to_string(e.position));
    }
    Status s = ApplyOne(e, decoded != nullptr ? &(*decoded)[e.position - start - 1] : nullptr, b);
    if (!s.ok()) {
      cache_->Clear();  // it may hold states this batch will not write
      last_snapshot_ = snapshot_before;
      return s;
    }
    if (e.position % snapshot_every == 0) Snapshot(e.position, b);
    ++expected;
  }
  const Position last = events.back().position;
  WriteEvictedCaseViews(b.write);
  for (const std::string& case_id : b.cases) {
    CaseCache::Entry* cached = cache_->Find(case_id);
    if (cached == nullptr) {
      cache_->Clear();  // its entries may say their indexes hold what this batch does not write
      last_snapshot_ = snapshot_before;
      return Status::Internal("case " + case_id + " left the cache mid-batch");
    }
    WriteCaseView(case_id, *cached, b.write);
  }
  if (b.collect_changes) {
    b.changes.cases.assign(b.cases.begin(), b.cases.end());
    for (const std::string& case_id : b.changes.cases) {
      b.changes.case_states.push_back(&cache_->Find(case_id)->state);
    }
  }
  for (const auto* node : b.nodes) {
    const auto& [path, folded] = *node;
    b.write.Put(views_->family(kViewDashboard), path, EncodeDashboardNode(folded))
        .PermitUncheckedError();
    if (b.collect_changes) {
      b.changes.nodes.push_back(path);
      b.changes.node_states.push_back(&folded);
    }
  }
  b.write
      .Put(views_->family(kViewMeta), ViewStore::kCheckpointKey, storage::EncodeBigEndian64(last))
      .PermitUncheckedError();
  const EventHash& last_hash = events.back().hash;
  b.write
      .Put(views_->family(kViewMeta), kCheckpointHashKey,
           rocksdb::Slice(reinterpret_cast<const char*>(last_hash.data()), last_hash.size()))
      .PermitUncheckedError();
  if (Status s = views_->Write(&b.write); !s.ok()) {
    cache_->Clear();
    last_snapshot_ = snapshot_before;
    return s;
  }
  if (rebuild_alerts_) {
    RETURN_IF_ERROR(rebuild_alerts_->WriteBodiesAside());
    if (rebuild_alerts_->full()) RETURN_IF_ERROR(rebuild_alerts_->Spill());
  }
  if (options_.rebuild) {
    // What the batch wrote, remembered; past the bound, only the addresses
    // remembered already are kept up to date, and the others are read.
    for (const auto& [address, report] : b.addresses) {
      auto [it, added] = rebuild_addresses_.try_emplace(address, report);
      if (!added) {
        it->second = report;
      } else if (rebuild_addresses_.size() > kRebuildAddresses) {
        rebuild_addresses_.erase(it);
        addresses_complete_ = false;
      }
    }
  }
  b.changes.position = last;
  {
    std::lock_guard l(progress_mu_);
    position_.store(last, std::memory_order_release);
  }
  progress_cv_.notify_all();
  if (changes != nullptr) *changes = std::move(b.changes);
  breaker.done = true;
  return Status::Ok();
}

Status Projector::CatchUp(const std::function<void(Position, Position)>& progress) {
  const Position head = store_->Head().position;
  while (position() < head) {
    ASSIGN_OR_RETURN(auto events, store_->ReadAll(position(), options_.batch_events));
    if (events.empty()) break;
    RETURN_IF_ERROR(Apply(events));
    if (progress) progress(position(), head);
  }
  return Status::Ok();
}

Status Projector::Start(std::function<void(const ViewChanges&)> on_change) {
  Stop();
  stopping_ = false;
  subscription_ = store_->Subscribe(position(), SubscriptionOptions{});
  Status started = StartThread(&thread_, "cg-project",
                               [this, on_change = std::move(on_change)] { Run(on_change); });
  if (!started.ok()) Stop();
  return started;
}

void Projector::Run(std::function<void(const ViewChanges&)> on_change) {
  std::vector<RecordedEvent> events;
  auto last_batch_end = std::chrono::steady_clock::now() - options_.batch_spacing;
  while (!stopping_) {
    events.clear();
    if (options_.batch_spacing.count() > 0) {
      std::unique_lock l(spacing_mu_);
      spacing_cv_.wait_until(l, last_batch_end + options_.batch_spacing,
                             [&] { return stopping_ || hurry_to_ > position(); });
    }
    Status s = subscription_->Next(&events, options_.batch_events, std::chrono::milliseconds(200));
    if (!s.ok()) {
      if (stopping_) return;
      std::lock_guard l(progress_mu_);
      failure_ = s;
      break;
    }
    if (events.empty()) continue;
    ViewChanges changes;
    Status applied = ApplyBatch(events, nullptr, &changes);
    if (!applied.ok()) {
      std::cerr << "casegrid: projections stopped: " << applied.ToString() << "\n";
      std::lock_guard l(progress_mu_);
      failure_ = applied;
      break;
    }
    changes.events = &events;
    if (on_change) on_change(changes);
    last_batch_end = std::chrono::steady_clock::now();
  }
  progress_cv_.notify_all();
}

void Projector::Stop() {
  {
    std::lock_guard l(spacing_mu_);  // not between the thread's check and its wait
    stopping_ = true;
  }
  spacing_cv_.notify_all();
  if (subscription_) subscription_->Close();
  if (thread_.joinable()) thread_.join();
  subscription_.reset();
}

void Projector::Hurry(Position target) const {
  if (options_.batch_spacing.count() == 0) return;
  {
    std::lock_guard l(spacing_mu_);
    if (target <= hurry_to_) return;
    hurry_to_ = target;
  }
  spacing_cv_.notify_all();
}

bool Projector::WaitFor(Position target, std::chrono::milliseconds timeout) const {
  if (position() < target) Hurry(target);
  std::unique_lock l(progress_mu_);
  return progress_cv_.wait_for(l, timeout, [&] {
    return position() >= target || !failure_.ok();
  }) && position() >= target;
}

Status Projector::failure() const {
  std::lock_guard l(progress_mu_);
  return failure_;
}

// ---------------------------------------------------------------- reads

Result<std::optional<std::string>> Projector::CaseView(std::string_view case_id) const {
  return views_->Get(kViewCases, std::string(case_id));
}

Result<std::string> Projector::Dashboard(std::string_view path, std::int64_t now_ms) const {
  if (!path.empty() && !grid_.HasCell(path)) {
    return Status::NotFound("no cell " + std::string(path));
  }
  // From the views' last write, not the fold's nodes: a batch folds its
  // events into those one by one, and a read between two would show counts
  // of events past the position it names.
  ASSIGN_OR_RETURN(auto stored, views_->GetAtCheckpoint(kViewDashboard, std::string(path)));
  DashboardNode node;
  if (stored.value) {
    ASSIGN_OR_RETURN(node, DecodeDashboardNode(*stored.value));
  }
  return RenderDashboardNode(path, node, stored.checkpoint, now_ms);
}

std::string Projector::RenderDashboardNode(std::string_view path, const DashboardNode& node,
                                           Position position, std::int64_t now_ms) const {
  return RenderDashboard(path, node, position, now_ms, options_.day_offset_hours, LogStartMs());
}

std::int64_t Projector::LogStartMs() const {
  std::int64_t start = log_start_ms_.load(std::memory_order_relaxed);
  if (start != INT64_MIN) return start;
  // Position 1 never changes once written; until then (or if it cannot be
  // read now) the averages are of 7 days, as a log older than a week's.
  auto first = store_->ReadAt(1);
  if (!first.ok()) return INT64_MIN;
  start = first->recorded_at_ms;
  log_start_ms_.store(start, std::memory_order_relaxed);
  return start;
}

Result<CasePage> Projector::ListCases(const CaseQuery& q) const {
  if (!q.cell.empty() && !grid_.HasCell(q.cell)) {
    return Status::NotFound("no cell " + q.cell);  // as the dashboard answers it
  }
  CasePage page;
  const std::size_t limit = std::clamp<std::size_t>(q.limit, 1, 500);
  std::string resume;  // the cursor's key: the page starts after it
  if (!q.after.empty()) {
    const auto bar = q.after.find('|');
    if (bar == std::string::npos) return Status::InvalidArgument("after: not a cursor");
    resume = CellCaseKey(q.after.substr(0, bar), q.after.substr(bar + 1));
  }
  // The subtrees asked for, less those inside another of them.
  std::vector<std::string> subtrees;
  const std::vector<std::string> asked = q.cells ? *q.cells : std::vector<std::string>{q.cell};
  for (const std::string& cell : asked) {
    const bool covered = std::any_of(asked.begin(), asked.end(), [&](const std::string& c) {
      return c != cell && CellWithin(cell, c);
    });
    if (!covered && std::find(subtrees.begin(), subtrees.end(), cell) == subtrees.end()) {
      subtrees.push_back(cell);
    }
  }
  // One walk of the cell index per subtree, merged in key order: subtrees'
  // keys may interleave ("a/b-x" sorts between "a/b" and "a/b/...").
  struct Walk {
    std::string_view subtree;
    std::unique_ptr<rocksdb::Iterator> it;
    bool done = false;
  };
  // To the walk's next entry of its subtree that the query keeps.
  auto settle = [&](Walk& w) -> Status {
    for (; w.it->Valid(); w.it->Next()) {
      const std::string_view key = w.it->key().ToStringView();
      if (!key.starts_with(w.subtree)) break;  // past the subtree
      if (!resume.empty() && key <= std::string_view(resume)) continue;
      const std::string_view cell = key.substr(0, key.find('\0'));
      if (!CellWithin(cell, w.subtree)) continue;
      const std::string_view value = w.it->value().ToStringView();
      if (value.size() != 2) return Status::Corruption("cell index entry " + std::string(key));
      if (q.state && static_cast<CaseStatus>(value[0]) != *q.state) continue;
      if (q.not_closed && static_cast<CaseStatus>(value[0]) == CaseStatus::kClosed) continue;
      if (q.kind && static_cast<CaseKind>(value[1]) != *q.kind) continue;
      return Status::Ok();
    }
    if (!w.it->status().ok()) return Status::Unavailable(w.it->status().ToString());
    w.done = true;
    return Status::Ok();
  };
  // A query that keeps no closed case walks the open cases' index, which
  // holds the same entries less the closed cases'.
  const bool open_only = q.not_closed || (q.state && *q.state != CaseStatus::kClosed);
  const ViewFamily index = open_only ? kViewOpenCases : kViewCellCases;
  // Both indexes read from one snapshot with the case views, so that a page
  // shows the cases as one batch left them.
  const ViewStore::Snapshot held(views_->db());
  const rocksdb::ReadOptions& read = held.ReadOptions();
  std::vector<Walk> walks;
  for (const std::string& subtree : subtrees) {
    Walk& w = walks.emplace_back(
        Walk{subtree, std::unique_ptr<rocksdb::Iterator>(
                          views_->db()->NewIterator(read, views_->family(index)))});
    w.it->Seek(std::max<std::string_view>(subtree, resume));
    RETURN_IF_ERROR(settle(w));
  }
  std::string last_key;
  for (;;) {
    Walk* next = nullptr;
    for (Walk& w : walks) {
      if (!w.done && (next == nullptr || w.it->key().compare(next->it->key()) < 0)) next = &w;
    }
    if (next == nullptr) break;
    if (page.views.size() == limit) {
      page.next = last_key;
      break;
    }
    const std::string_view key = next->it->key().ToStringView();
    const auto zero = key.find('\0');
    const std::string id(key.substr(zero + 1));
    last_key = std::string(key.substr(0, zero)) + "|" + id;
    ASSIGN_OR_RETURN(auto view, views_->Get(kViewCases, id, read));
    if (view) page.views.push_back(std::move(*view));
    next->it->Next();
    RETURN_IF_ERROR(settle(*next));
  }
  return page;
}

namespace {
bool Visible(const AlertFilter& visible, std::string_view cell) {
  return !visible || visible(cell);
}
}  // namespace

Result<std::vector<std::string>> Projector::OpenAlerts(std::string_view person, std::size_t limit,
                                                       const AlertFilter& visible) const {
  ASSIGN_OR_RETURN(auto between, OpenAlertsBetween(person, 0, UINT64_MAX, limit, true, visible));
  std::vector<std::string> out;
  out.reserve(between.size());
  for (auto& [position, alert] : between) out.push_back(std::move(alert));
  return out;
}

Result<bool> Projector::HasOpenAlert(std::string_view person, std::string_view alert_id,
                                     const AlertFilter& visible) const {
  auto key = AlertKeyOfId(person, alert_id);
  if (!key) return false;
  ASSIGN_OR_RETURN(auto value, views_->Get(kViewAlerts, *key));
  return value.has_value() && Visible(visible, *value);
}

Result<std::vector<std::pair<Position, std::string>>> Projector::OpenAlertsBetween(
    std::string_view person, Position after, Position upto, std::size_t limit, bool newest_first,
    const AlertFilter& visible) const {
  std::vector<std::pair<Position, std::string>> out;
  if (upto <= after) return out;
  std::string prefix(person);
  prefix += '\0';
  const ViewStore::Snapshot held(views_->db());
  const rocksdb::ReadOptions& read = held.ReadOptions();
  std::unique_ptr<rocksdb::Iterator> it(
      views_->db()->NewIterator(read, views_->family(kViewAlerts)));
  auto position_of = [&](rocksdb::Slice key) {
    return storage::DecodeBigEndian64(std::string_view(key.data() + prefix.size(), 8));
  };
  auto in_range = [&] {
    return it->Valid() && it->key().starts_with(prefix) && it->key().size() > prefix.size() + 9;
  };
  // The alert's body, read from the same snapshot as its entry (written in
  // one batch with it), composed with the person.
  auto take = [&](Position p) -> Status {
    const std::string_view kind = it->key().ToStringView().substr(prefix.size() + 8 + 1);
    ASSIGN_OR_RETURN(auto body, views_->Get(kViewAlertBodies, AlertBodyKey(p, kind), read));
    if (!body) return Status::Corruption("alert " + AlertId(p, kind) + " has no body");
    out.emplace_back(p, ComposeAlert(person, p, kind, *body));
    return Status::Ok();
  };
  if (newest_first) {
    std::string end = prefix + storage::EncodeBigEndian64(upto) + std::string(1, '\xff');
    for (it->SeekForPrev(end); in_range() && out.size() < limit; it->Prev()) {
      const Position p = position_of(it->key());
      if (p <= after) break;
      if (p <= upto && Visible(visible, it->value().ToStringView())) RETURN_IF_ERROR(take(p));
    }
  } else {
    for (it->Seek(prefix + storage::EncodeBigEndian64(after + 1)); in_range() && out.size() < limit;
         it->Next()) {
      const Position p = position_of(it->key());
      if (p > upto) break;
      if (Visible(visible, it->value().ToStringView())) RETURN_IF_ERROR(take(p));
    }
  }
  if (!it->status().ok()) return Status::Unavailable(it->status().ToString());
  return out;
}

Result<std::optional<std::string>> Projector::CellOfAlert(std::string_view alert_id) const {
  const std::optional<ParsedAlertId> id = ParseAlertId(alert_id);
  if (!id || id->position == 0 || id->position > store_->Head().position) {
    return std::optional<std::string>();
  }
  ASSIGN_OR_RETURN(const RecordedEvent raised, store_->ReadAt(id->position));
  if (CaseIdOfStream(raised.stream).empty()) return std::optional<std::string>();
  ASSIGN_OR_RETURN(auto first, store_->ReadStream(raised.stream, 1, 1, ReadDirection::kForward));
  if (first.empty() || first.front().type != CaseReported::kType) {
    return std::optional<std::string>();
  }
  auto data = DecodeEventData(first.front().type, first.front().data, StoredEventLimits());
  if (!data.ok()) return std::optional<std::string>();
  return std::optional<std::string>(std::get<CaseReported>(*data).cell);
}

Result<Projector::Acknowledgments> Projector::AcknowledgmentsBetween(
    std::string_view person, Position after, Position upto, std::size_t limit,
    const AlertFilter& visible) const {
  Acknowledgments out{{}, upto};
  if (upto <= after) return out;
  if (limit == 0) return Status::InvalidArgument("acknowledgments: a limit of 0 reads nothing");
  const std::string stream = "alerts/" + std::string(person);
  ASSIGN_OR_RETURN(const StreamVersion last, store_->StreamVersionOf(stream));
  // The first version past `after`: positions grow with versions, so a
  // binary search reads log2(acknowledgments) events, not all of them.
  StreamVersion lo = 1, hi = last + 1;
  while (lo < hi) {
    const StreamVersion mid = lo + (hi - lo) / 2;
    ASSIGN_OR_RETURN(auto one, store_->ReadStream(stream, mid, 1, ReadDirection::kForward));
    if (one.empty())
      return Status::Internal("stream " + stream + " has a gap at " + std::to_string(mid));
    if (one.front().position > after) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  if (lo > last) return out;
  ASSIGN_OR_RETURN(auto events, store_->ReadStream(stream, lo, limit, ReadDirection::kForward));
  // A full read that did not pass `upto` may have more after it.
  if (events.size() >= limit && events.back().position < upto) out.through = events.back().position;
  for (const RecordedEvent& e : events) {
    if (e.position > upto) break;
    if (e.type != AlertAcknowledged::kType) continue;
    auto data = DecodeEventData(e.type, e.data, StoredEventLimits());
    if (!data.ok()) continue;  // not the views' business (a raw append)
    std::string& alert = std::get<AlertAcknowledged>(*data).alert;
    if (!AlertKeyOfId(person, alert)) continue;
    if (visible) {
      ASSIGN_OR_RETURN(auto cell, CellOfAlert(alert));
      if (!cell || !visible(*cell)) continue;
    }
    out.acks.emplace_back(e.position, std::move(alert));
  }
  return out;
}

}  // namespace casegrid
