// SettledFloor: the floor of a writing store's stamps that outlives the
// process, so that a time once settled keeps its answer after a restart.
//
// A question "as of a time" T is answered only once no event can be stamped
// at or before T any more (EventStore::SettleThrough raises the floor of
// later stamps past T). That floor was the process's alone: a restart took
// its stamps from the log's last event, and a clock stepped back over the
// restart (an NTP correction after a reboot) stamped a new event before T,
// which then joined T's answer (review 106). The writer now makes the floor
// durable before a settle returns, and takes it back at its open.
//
// The file, <store>/SETTLED, holds a time in milliseconds and its
// complement (a half-written file reads as none), written in place and
// fsync'd. Raise writes a little past what it must (`ahead`), so that a
// busy stream of questions costs an fsync now and then, not one each.
//
// Thread-safety: Raise may be called from any thread (it serializes its
// writes); at_open is constant.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "engine/status.h"

namespace casegrid {

class SettledFloor {
 public:
  // The floor of the store at `store_path` (a folder that exists), for its
  // writer; the file is made if missing (and its folder synced).
  static Result<std::unique_ptr<SettledFloor>> Open(const std::string& store_path);
  ~SettledFloor();
  SettledFloor(const SettledFloor&) = delete;
  SettledFloor& operator=(const SettledFloor&) = delete;

  // The floor as the last writer left it, read by Open: 0 when there is
  // none, or none whole, or one that is no time an event may carry
  // (Formattable). For the open, before any Raise.
  std::int64_t at_open() const { return at_open_; }

  // Once it returns OK, a writer opened later stamps at `at_least` or after:
  // when the floor is below it, max(`at_least`, `ahead`) is written and
  // fsync'd. Both no later than kLastFormattableMs (a floor past it reads
  // as none). kUnavailable when the write or its fsync failed; the floor on
  // disk may then be either.
  Status Raise(std::int64_t at_least, std::int64_t ahead);

 private:
  SettledFloor(int fd, std::string path, std::int64_t floor)
      : fd_(fd), path_(std::move(path)), at_open_(floor), floor_(floor) {}
  const int fd_;
  const std::string path_;
  const std::int64_t at_open_;
  std::mutex mu_;
  std::int64_t floor_;  // guarded by mu_: on disk, and durable
};

}  // namespace casegrid
