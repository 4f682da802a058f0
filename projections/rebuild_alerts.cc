#include "projections/rebuild_alerts.h"

#include <rocksdb/sst_file_writer.h>

#include <algorithm>

#include "projections/run_aside.h"

namespace casegrid {

RebuildAlerts::RebuildAlerts(ViewStore* views, std::string dir, std::size_t capacity)
    : views_(views), dir_(std::move(dir)), capacity_(std::max<std::size_t>(capacity, 1)) {}

RebuildAlerts::~RebuildAlerts() {
  // The helper writes into bodies_: it is done before bodies_ goes.
  if (writing_.valid()) writing_.wait();
}

std::string RebuildAlerts::NextFile(const char* family) {
  return dir_ + "/rebuild-" + family + "-" + std::to_string(files_++) + ".sst";
}

void RebuildAlerts::Hold(const Alert& alert) {
  auto kind = std::find(kinds_.begin(), kinds_.end(), alert.kind);
  if (kind == kinds_.end()) kind = kinds_.insert(kinds_.end(), alert.kind);
  auto [cell, added] =
      cell_numbers_.try_emplace(alert.cell, static_cast<std::uint32_t>(cells_.size()));
  if (added) cells_.push_back(alert.cell);
  auto person = by_person_.find(alert.person);
  if (person == by_person_.end())
    person = by_person_.emplace(alert.person, std::vector<Held>{}).first;
  person->second.push_back(
      Held{alert.position, cell->second, static_cast<std::uint8_t>(kind - kinds_.begin()), false});
  ++held_;
}

bool RebuildAlerts::Acknowledge(std::string_view person, Position position, std::string_view kind) {
  auto held = by_person_.find(person);
  if (held == by_person_.end()) return false;
  // A person's alerts are held in position order, one per position.
  auto& alerts = held->second;
  auto it = std::lower_bound(alerts.begin(), alerts.end(), position,
                             [](const Held& h, Position p) { return h.position < p; });
  if (it == alerts.end() || it->position != position || it->acknowledged ||
      kinds_[it->kind] != kind) {
    return false;
  }
  it->acknowledged = true;
  return true;
}

Status RebuildAlerts::AddBody(Position position, std::string_view kind, std::string body) {
  std::string key = AlertBodyKey(position, kind);
  if (!last_body_key_.empty() && key <= last_body_key_) {
    return Status::Internal("alert bodies out of order at position " + std::to_string(position));
  }
  last_body_key_ = key;
  gathered_.emplace_back(std::move(key), std::move(body));
  return Status::Ok();
}

Status RebuildAlerts::BodiesWritten() {
  if (!writing_.valid()) return Status::Ok();
  return writing_.get();
}

Status RebuildAlerts::WriteBodiesAside() {
  RETURN_IF_ERROR(BodiesWritten());
  if (gathered_.empty()) return Status::Ok();
  if (!bodies_) {
    bodies_file_ = NextFile("alert_bodies");
    ASSIGN_OR_RETURN(bodies_, views_->NewTableFile(kViewAlertBodies, bodies_file_));
  }
  writing_ = RunAside([table = bodies_.get(), bodies = std::move(gathered_)]() -> Status {
    for (const auto& [key, body] : bodies) {
      if (auto s = table->Put(key, body); !s.ok()) {
        return Status::Unavailable("writing an alert body table: " + s.ToString());
      }
    }
    return Status::Ok();
  });
  gathered_.clear();
  return Status::Ok();
}

Status RebuildAlerts::Spill() {
  const std::string file = NextFile("alerts");
  std::unique_ptr<rocksdb::SstFileWriter> table;
  // The map's order of persons is the keys' (a person, then \0).
  for (const auto& [person, alerts] : by_person_) {
    for (const Held& h : alerts) {
      if (h.acknowledged) continue;
      if (!table) {
        ASSIGN_OR_RETURN(table, views_->NewTableFile(kViewAlerts, file));
      }
      if (auto s = table->Put(AlertKey(person, h.position, kinds_[h.kind]), cells_[h.cell]);
          !s.ok()) {
        return Status::Unavailable("writing an alerts table: " + s.ToString());
      }
    }
  }
  by_person_.clear();
  held_ = 0;
  if (!table) return Status::Ok();  // nothing open: a table file needs an entry
  if (auto s = table->Finish(); !s.ok()) {
    return Status::Unavailable("finishing an alerts table: " + s.ToString());
  }
  return views_->Ingest(kViewAlerts, {file});
}

Status RebuildAlerts::Finish() {
  RETURN_IF_ERROR(Spill());
  RETURN_IF_ERROR(WriteBodiesAside());
  RETURN_IF_ERROR(BodiesWritten());
  if (!bodies_) return Status::Ok();
  if (auto s = bodies_->Finish(); !s.ok()) {
    return Status::Unavailable("finishing an alert body table: " + s.ToString());
  }
  bodies_.reset();
  return views_->Ingest(kViewAlertBodies, {bodies_file_});
}

}  // namespace casegrid
