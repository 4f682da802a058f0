// RebuildAlerts: a rebuild's alerts and alert bodies, written straight to
// table files instead of through the views' memtables, where they were two
// thirds of a rebuild's writes, each sorted again when flushed and then
// compacted.
//
// Bodies come in position order, which is their key order (the kinds of one
// event are put in order by the caller): they are gathered, and each
// WriteBodiesAside() hands what was gathered to a thread of its own that
// appends it to a table file (compressing its blocks), one hand-over at a
// time, while the caller folds on. A person's alerts come in position order
// too, which is their key order within the person: they are held in memory,
// person by person, and written without sorting. An acknowledgment of a held alert drops it,
// so that neither the alert nor a deletion of it is written.
//
// Past `capacity` held alerts, Spill() writes and ingests them, and holding
// starts again: an alert that was spilled is acknowledged by a deletion
// written after it, as live. Finish() ingests what is held and the bodies.
// Ingested files override what their family held before (ViewStore::Ingest).
//
// Thread-safety: none; the projector's controlling thread. The table file of
// bodies is written by one helper thread at a time, which only the calls
// here wait for.
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/status.h"
#include "projections/alerts.h"
#include "projections/view_store.h"

namespace rocksdb {
class SstFileWriter;
}

namespace casegrid {

class RebuildAlerts {
 public:
  // `dir` is the views folder, where the table files are written.
  RebuildAlerts(ViewStore* views, std::string dir, std::size_t capacity);
  ~RebuildAlerts();
  RebuildAlerts(const RebuildAlerts&) = delete;
  RebuildAlerts& operator=(const RebuildAlerts&) = delete;

  // Holds `alert` (its person, position, kind and cell).
  void Hold(const Alert& alert);
  // Drops `person`'s held alert of `position` and `kind`; false if it is not
  // held (never raised, spilled already, or acknowledged before).
  bool Acknowledge(std::string_view person, Position position, std::string_view kind);
  // Adds the body of an event's alerts of `kind`; bodies must come in
  // strictly increasing key order (AlertBodyKey), else kInternal.
  Status AddBody(Position position, std::string_view kind, std::string body);
  // Waits for the bodies handed over before to be written (their error, if
  // any, is returned: the rebuild cannot go on), then hands over those added
  // since.
  Status WriteBodiesAside();
  bool full() const { return held_ >= capacity_; }
  // Writes the held alerts not acknowledged to a table file and ingests it.
  Status Spill();
  // Spill(), writes the bodies left, and ingests them. Nothing may be added
  // after it.
  Status Finish();

 private:
  struct Held {
    Position position;
    std::uint32_t cell;  // in cells_
    std::uint8_t kind;   // in kinds_
    bool acknowledged;
  };
  std::string NextFile(const char* family);
  // Waits for the bodies handed over last; their writing's status.
  Status BodiesWritten();

  ViewStore* const views_;
  const std::string dir_;
  const std::size_t capacity_;
  std::map<std::string, std::vector<Held>, std::less<>> by_person_;
  std::size_t held_ = 0;
  std::vector<std::string> kinds_;  // the few kinds of alerts
  std::vector<std::string> cells_;
  std::unordered_map<std::string, std::uint32_t> cell_numbers_;
  std::unique_ptr<rocksdb::SstFileWriter> bodies_;
  std::string bodies_file_;
  std::string last_body_key_;
  // Added and not handed over yet: (key, body), in key order.
  std::vector<std::pair<std::string, std::string>> gathered_;
  // The bodies being written into bodies_ (declared after it: it is waited
  // for before bodies_ goes).
  std::future<Status> writing_;
  int files_ = 0;
};

}  // namespace casegrid
