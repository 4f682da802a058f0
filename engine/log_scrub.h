// LogScrub: walks the log's hash chain in the background, at a bounded pace,
// once when started and then every `every`, so that damage where no one
// reads is found by the server itself.
//
// Why: RocksDB checks a table block's checksum only when the block is read.
// A flipped bit in an old part of the log (a disk's silent corruption) goes
// unnoticed by a server that serves the head, until an auditor's read, a
// replay or a rebuild hits it. Each walk is EventStore::Verify: every
// record decoded, every hash recomputed and chained, every block's checksum
// checked, up to the head the walk started at.
//
// Pace: at most `events_per_second` entries a second (the events, then the
// entries of the indexes beside them: about three per event), slept in
// steps of 4,096, so a walk takes a bounded share of a core and of the disk
// (a 10-million-event log at the default 100,000/s: about 300 s). Blocks it
// reads are not kept in the store's cache.
//
// What it reports: `on_walk` gets each walk's report (intact, or the first
// bad position and why), from the scrub's thread; Last() holds the latest.
// A stopped walk (Stop) is not reported.
//
// Ownership: the store is not owned and must outlive the scrub (Stop, or the
// destructor, joins its thread).
//
// Thread-safety: Start and Stop from the owner's thread, once each; Last()
// from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/event_store.h"
#include "engine/status.h"

namespace casegrid {

struct LogScrubOptions {
  std::chrono::seconds every{24 * 3600};  // from one walk's start to the next's
  double events_per_second = 100000;      // > 0
};

class LogScrub {
 public:
  using OnWalk = std::function<void(const VerifyReport&)>;
  LogScrub(const EventStore* store, LogScrubOptions options, OnWalk on_walk);
  ~LogScrub();
  LogScrub(const LogScrub&) = delete;
  LogScrub& operator=(const LogScrub&) = delete;

  // Starts the thread; its first walk begins at once. kInvalidArgument for a
  // pace that is not > 0 or an `every` that is not > 0.
  Status Start();
  // Stops a walk at its next step (within 4,096 events or index entries) and
  // joins the thread.
  void Stop();

  // The latest finished walk's report, if any. A walk that could not read
  // the store at all (an I/O error before its first record) is reported as
  // broken at position 1 with the error.
  std::optional<VerifyReport> Last() const;
  // Walks finished since Start.
  std::uint64_t walks() const;

 private:
  void Run();
  // Sleeps until `until` or Stop; false once stopping.
  bool SleepUntil(std::chrono::steady_clock::time_point until);

  const EventStore* const store_;
  const LogScrubOptions options_;
  const OnWalk on_walk_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;             // guarded by mu_
  std::optional<VerifyReport> last_;  // guarded by mu_
  std::uint64_t walks_ = 0;           // guarded by mu_
  std::thread thread_;
};

}  // namespace casegrid
