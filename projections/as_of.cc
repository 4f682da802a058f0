// Views as they stood at a past position, from snapshots plus the events
// after them — never a replay of the whole log.
//
// Dashboard of node N at position P: take the last snapshot tick S <= P; N's
// newest snapshot at or before S is N as of S (a node with no snapshot in
// (its snapshot, S] did not change there); then fold the events in (S, P]
// whose case lies under N. At most `snapshot_every` events, each case folded
// from its own stream once.
//
// Case view at P: the case's own stream folded up to P.
#include <unordered_map>
#include <unordered_set>

#include "engine/grid_history.h"
#include "engine/record_format.h"
#include "projections/case_view.h"
#include "projections/projector.h"

namespace casegrid {

namespace {

// The cell case `case_id` was reported in, from the first event of its
// stream (`first`, if that is it, or read), or nullopt if that is not its
// report (a raw import's stream): a case keeps the cell it was reported in
// (case_stream_rules.h).
Result<std::optional<std::string>> ReportedCell(const EventStore& store, const std::string& case_id,
                                                const RecordedEvent& first_or_later) {
  RecordedEvent read;
  const RecordedEvent* first = &first_or_later;
  if (first_or_later.version != 1) {
    ASSIGN_OR_RETURN(auto events,
                     store.ReadStream(CaseStream(case_id), 1, 1, ReadDirection::kForward));
    if (events.empty()) return std::optional<std::string>();
    read = std::move(events.front());
    first = &read;
  }
  if (first->type != CaseReported::kType) return std::optional<std::string>();
  auto data = DecodeEventData(first->type, first->data, StoredEventLimits());
  if (!data.ok()) return std::optional<std::string>();
  return std::optional<std::string>(std::get<CaseReported>(*data).cell);
}

}  // namespace

Result<std::string> Projector::DashboardAsOf(std::string_view path, Position target,
                                             std::optional<std::int64_t> read_at_ms,
                                             std::uint64_t* cost_in_events) const {
  // What it costs: each event decoded or folded, and a sixteenth of each
  // read past unfolded (a raw read is about that much cheaper).
  std::uint64_t worked = 0, read_past = 0;
  if (!path.empty()) {
    // The cell must have been defined by then, as a rebuild cut there would
    // say: by the grid fold's rule (under a parent defined before it), and
    // a read that fails is said as such, not as "no cell" (review 96).
    auto defined = GridCellAt(*store_, path, target);
    if (!defined.ok()) {
      if (defined.status().code() != StatusCode::kNotFound) return defined.status();
      return Status::NotFound("no cell " + std::string(path) + " at position " +
                              std::to_string(target));
    }
  }
  const Position head = position();
  if (target > head) {
    return Status::InvalidArgument("as_of: position " + std::to_string(target) +
                                   " is past the views' position " + std::to_string(head));
  }
  // The last snapshot tick at or before the target.
  Position tick = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(
        views_->db()->NewIterator(rocksdb::ReadOptions(), views_->family(kViewTicks)));
    it->SeekForPrev(storage::EncodeBigEndian64(target));
    if (it->Valid()) tick = storage::DecodeBigEndian64(it->key().ToStringView());
  }
  DashboardNode node;
  if (tick > 0) {
    std::string prefix(path);
    prefix += '\0';
    std::unique_ptr<rocksdb::Iterator> it(
        views_->db()->NewIterator(rocksdb::ReadOptions(), views_->family(kViewSnapshots)));
    it->SeekForPrev(prefix + storage::EncodeBigEndian64(tick));
    if (it->Valid() && it->key().starts_with(prefix)) {
      ASSIGN_OR_RETURN(node, DecodeDashboardNode(it->value().ToStringView()));
    }
  }

  std::unordered_map<std::string, CaseState> cases;
  // Cases reported outside `path`: passed over unfolded (review 104: every
  // case of the window was folded from its stream before its cell was
  // looked at, so a leaf's dashboard cost the root's).
  std::unordered_set<std::string> outside;
  Position at = tick;
  std::int64_t time_at_target = 0;
  while (at < target) {
    ASSIGN_OR_RETURN(auto events, store_->ReadAll(at, std::min<Position>(1000, target - at)));
    if (events.empty()) break;
    read_past += events.size();
    for (const RecordedEvent& e : events) {
      at = e.position;
      time_at_target = e.recorded_at_ms;
      const std::string case_id(CaseIdOfStream(e.stream));
      if (case_id.empty() || outside.contains(case_id)) continue;
      auto found = cases.find(case_id);
      if (found == cases.end() && !path.empty()) {
        ASSIGN_OR_RETURN(const std::optional<std::string> cell, ReportedCell(*store_, case_id, e));
        ++worked;
        if (cell && !CellWithin(*cell, path)) {
          outside.insert(case_id);
          continue;
        }
      }
      auto data = DecodeEventData(e.type, e.data, StoredEventLimits());
      ++worked;
      if (!data.ok()) continue;  // not a case event type; the live fold skips it too
      if (found == cases.end()) {
        CaseState before;  // a stream's first event needs no fold
        if (e.version > 1) {
          ASSIGN_OR_RETURN(before, FoldCase(*store_, case_id, e.position - 1));
          worked += before.version;
        }
        found = cases.emplace(case_id, std::move(before)).first;
      }
      const CaseGauges before = CaseGauges::Of(found->second);
      const bool repeat = found->second.Repeats(*data);
      found->second.Apply(e, *data);
      const CaseState& after = found->second;
      if (!after.exists || !CellWithin(after.report.cell, path)) continue;
      if (repeat) continue;  // nothing but the version changed
      CaseChange change{&e, &*data, before, CaseGauges::Of(after), &after, {}, {}};
      if (const auto* report = std::get_if<CaseReported>(&*data)) {
        if (auto address = RepeatDisputeAddress(*report)) {
          ASSIGN_OR_RETURN(auto repeated, RepeatedDispute(*address, e, nullptr));
          if (repeated) change.repeat_of = std::move(repeated->case_id);
        }
      }
      ApplyCaseChange(node, change);
    }
  }
  if (read_at_ms) {
    time_at_target = *read_at_ms;
  } else if (time_at_target == 0 && target > 0) {
    ASSIGN_OR_RETURN(RecordedEvent e, store_->ReadAt(target));
    time_at_target = e.recorded_at_ms;
  }
  if (cost_in_events) *cost_in_events += worked + read_past / 16;
  return RenderDashboardNode(path, node, target, time_at_target);
}

Result<std::string> Projector::CaseViewAsOf(std::string_view case_id, Position target) const {
  ASSIGN_OR_RETURN(CaseState state, FoldCase(*store_, case_id, target));
  if (!state.exists) {
    return Status::NotFound("no case " + std::string(case_id) + " at position " +
                            std::to_string(target));
  }
  return RenderCaseView(state);
}

Result<Position> Projector::PositionAt(std::int64_t unix_ms) const {
  // recorded_at never decreases along the log, so search by halves.
  Position lo = 0, hi = store_->Head().position;  // answer in [lo, hi]
  while (lo < hi) {
    const Position mid = lo + (hi - lo + 1) / 2;
    ASSIGN_OR_RETURN(RecordedEvent e, store_->ReadAt(mid));
    if (e.recorded_at_ms <= unix_ms) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

}  // namespace casegrid
