// EventStore: the append-only, durable, hash-chained event log on RocksDB.
//
// Guarantees (docs/storage.md has the layout that gives them):
//   - Append returns success only after its events are fsync'd. Concurrent
//     appends are group-committed: one committer thread takes every append
//     queued while it wrote the last group and writes them in one WriteBatch
//     and one fsync (leveldb's DBImpl::Write writer queue, with the leader
//     made a thread of its own so that AppendAsync never parks the caller),
//     each append still checked on its own.
//   - Every event gets the next global position (1, 2, 3, ... no gaps, in
//     commit order) and the next version of its stream.
//   - An append is all or nothing and is checked against an expected version;
//     a mismatch is kConflict naming the stream's actual version.
//   - Event ids are unique over the whole log: an append whose ids are all
//     already in the log, in the same stream, writes nothing and answers with
//     the original positions (`deduplicated`); a partial overlap is kConflict.
//   - Each record carries hash = SHA-256(previous hash || canonical bytes).
//   - After a failed write or fsync the store refuses further appends with
//     kUnavailable (reads still work) until it is reopened: nothing is
//     acknowledged that might not be on disk.
//
// Ownership: Open() hands back the only owner. Subscriptions and readers must
// not outlive the store.
//
// Thread-safety: every method is safe to call from any thread. Reads never
// wait for appends. Reads see only published events (those whose append has
// returned or is about to), so a reader never sees a position that a
// subscriber has not yet been offered.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/canonical_json.h"
#include "engine/clock.h"
#include "engine/event.h"
#include "engine/status.h"

namespace rocksdb {
class Env;
}

namespace casegrid {

class Subscription;
struct SubscriptionOptions;

struct StoreOptions {
  // Folder of the RocksDB database; created if missing (read-write mode).
  std::string path;
  // Where recorded_at comes from. Not owned; must outlive the store.
  const Clock* clock = SystemClock::Default();
  // Tests wrap file I/O here to fail syncs; not owned. nullptr: the default.
  rocksdb::Env* env = nullptr;
  // Table files kept open at most (RocksDB's max_open_files; -1: all of
  // them). A server bounds it, so that the descriptors left for its
  // connections cannot be taken by a log that grows (api/descriptor_budget.h).
  // Ignored by a follower, which RocksDB requires to keep all open.
  int max_open_files = -1;

  // Bounds on what one append may carry; crossing one is kInvalidArgument or
  // kTooLarge and writes nothing.
  std::size_t max_events_per_append = 1000;
  std::size_t max_append_bytes = 4 * 1024 * 1024;
  JsonLimits data_limits;

  // Bounds on one group commit.
  std::size_t max_group_events = 8192;
  std::size_t max_group_bytes = 8 * 1024 * 1024;

  // Told, during Open, what it repaired for the operator: a last group
  // of the write-ahead log cut short by a crash, with its length but not
  // all its bytes, dropped (engine/torn_tail.h). May be empty.
  std::function<void(const std::string&)> on_repair;
};

// Another stream's version an append was decided on (AppendRequest::unchanged).
struct StreamPin {
  std::string stream;
  StreamVersion version = 0;  // 0: the stream has no events
  bool operator==(const StreamPin&) const = default;
};

struct AppendRequest {
  std::string stream;
  ExpectedVersion expected;
  std::string actor;
  std::vector<NewEvent> events;
  // The most events the stream may hold once this append is written (0: no
  // bound); past it the append is kConflict and writes nothing, checked
  // with the expected version, so that appends racing cannot cross it.
  StreamVersion max_version = 0;
  // The append is kConflict and writes nothing when its events would be
  // stamped (recorded_at) at or after this time, unix ms (0: no bound).
  // Checked at the stamp, in the committer, after the event ids (a repeat
  // is still answered). A step decided before a deadline passed must not be
  // written after it with no miss before it (CaseService::Decide).
  std::int64_t stamp_before_ms = 0;
  // Other streams the append was decided on: each must still be at its
  // version when the append is written, else kConflict and nothing written
  // (checked in the committer, with the expected version), so that what
  // was decided from several streams is written only if none has moved
  // meanwhile (a case assigned to someone the grid has just let go).
  std::vector<StreamPin> unchanged{};
};

struct AppendResult;
// Called once with the outcome of an AppendAsync, on the store's committer
// thread (or on the caller's, for input refused before queueing). It must be
// quick: hand work elsewhere, do not block.
using AppendCallback = std::function<void(Result<AppendResult>)>;

struct AppendResult {
  Position first_position = 0;
  Position last_position = 0;
  StreamVersion first_version = 0;
  StreamVersion last_version = 0;
  // True when every id was already in the log: nothing was written and the
  // positions are the original ones.
  bool deduplicated = false;
  // The events' recorded_at, when written by this append (0 when deduplicated).
  std::int64_t recorded_at_ms = 0;
};

// The newest published event: its position and hash (position 0, zero hash
// for an empty log).
struct LogHead {
  Position position = 0;
  EventHash hash{};
};

enum class ReadDirection { kForward, kBackward };

// What `Verify` found.
struct VerifyReport {
  bool intact = true;
  Position events_checked = 0;  // positions 1..events_checked are intact
  Position broken_at = 0;       // first bad position when !intact; 0: the events are intact,
                                // an index beside them is not (`reason` names it)
  std::string reason;           // why it is bad
  LogHead head;                 // the recomputed head when intact
  bool stopped = false;         // the walk was stopped (VerifyOptions::step): intact so far
};

// How `Verify` walks.
struct VerifyOptions {
  // Called every `step_every` events and at the end with (checked, head),
  // from the walking thread; it may sleep, to pace the walk. Returning false
  // stops the walk: the report then says `stopped`, intact up to
  // events_checked.
  std::function<bool(Position checked, Position head)> step;
  Position step_every = 65536;
};

class EventStore {
 public:
  // Opens (creating if missing) for reading and writing. Only one process may
  // hold a store open for writing; a second gets kUnavailable.
  static Result<std::unique_ptr<EventStore>> Open(const StoreOptions& options);

  // Opens a read-only follower of a store that another process may be writing
  // (RocksDB secondary instance). It sees new events after CatchUp().
  static Result<std::unique_ptr<EventStore>> OpenFollower(const std::string& path);

  // Whether every table file the store at `path` lists is there and opens
  // (its footer and index read), as of now: kCorruption naming the first
  // that does not. A follower leaves such a file out of what it reads
  // without a word, so a walk of one (Verify) does not see it gone (black-box
  // probe 98: an index's file deleted, "intact"; the events' file cut at its
  // end, "intact: 0 events"); a writer's open refuses the store. Opens the
  // store read-only beside any writer; a file a writer's compaction removes
  // meanwhile is tried again, three times.
  static Status CheckTableFiles(const std::string& path);

  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Appends `request.events` to `request.stream`, all or nothing, durably.
  // Errors: kInvalidArgument (names, JSON, duplicate ids in the request),
  // kTooLarge, kConflict (expected version, id reuse), kUnavailable (storage
  // failed, or follower).
  Result<AppendResult> Append(AppendRequest request);

  // The same, without blocking the caller: `done` gets the outcome once the
  // events are fsync'd (or refused), on the committer's thread: it must be
  // quick and must not throw (a throw there, or an allocation failing in
  // the committer, ends the process: where a group stands, written or
  // answered, is then not known, and a restart recovers what was fsync'd).
  // For servers that must not park a thread per request.
  void AppendAsync(AppendRequest request, AppendCallback done);

  // Events of `stream` from `from_version` (inclusive) on, forward or
  // backward, at most `max_count`. Backward from a version past the end
  // starts at the last event. An unknown stream reads as empty.
  Result<std::vector<RecordedEvent>> ReadStream(const std::string& stream,
                                                StreamVersion from_version, std::size_t max_count,
                                                ReadDirection direction) const;

  // Events with positions after `after`, oldest first, at most `max_count`.
  Result<std::vector<RecordedEvent>> ReadAll(Position after, std::size_t max_count) const;

  // Where the event with `id` is, if it is in the log.
  Result<std::optional<Position>> PositionOfEventId(const std::string& id) const;

  // The event at `position`; kNotFound past the head.
  Result<RecordedEvent> ReadAt(Position position) const;

  // The last version of `stream` published (as the reads see it), 0 when it
  // has none.
  Result<StreamVersion> StreamVersionOf(const std::string& stream) const;

  // For caches of folded streams: a bound on the position of `stream`'s last
  // published event, never below it, possibly above (streams share 65,536
  // slots, and a store just opened counts every stream as changed at its
  // head; a follower always answers UINT64_MAX). A fold of the stream that
  // read every event up to position p is current while this is <= p. No
  // I/O, no lock.
  Position LastChangeBound(std::string_view stream) const;

  // Names of streams that start with `prefix` and sort after `after`, in
  // byte order, at most `max_count`.
  Result<std::vector<std::string>> ListStreams(const std::string& prefix, const std::string& after,
                                               std::size_t max_count) const;
  // The greatest stream name starting with `prefix` that `accept` keeps
  // (any, without it); empty when there is none. Names `accept` refuses are
  // read past one by one, so it should refuse few.
  Result<std::string> LastStreamWithPrefix(
      const std::string& prefix, const std::function<bool(std::string_view)>& accept = {}) const;

  LogHead Head() const;

  // Settles the time `unix_ms` (no later than the clock's now): once it
  // returns Ok, every event the log will ever hold with recorded_at at or
  // before `unix_ms` is already in Head(), so a question "as of that time"
  // gets the same answer whenever it is asked again. Events stamped later
  // get at least `unix_ms` + 1 (one millisecond past the clock at most;
  // after a restart within a second of it, up to a second); a group already
  // stamped at or before it is waited for, up to `wait`, then kUnavailable.
  // A time after the clock's now is kInvalidArgument. The floor is durable
  // before it returns, so this holds across restarts too
  // (engine/settled_floor.h); kUnavailable when it cannot be written, or
  // for the last millisecond of the year 9999 or after (no event may be
  // stamped past it).
  // A follower settles nothing: it answers what it has caught up.
  // Thread-safe; blocks for at most `wait` (an fsync, normally), plus an
  // fsync of the floor for a time past the log's last event (one per
  // second asked about, at most).
  Status SettleThrough(std::int64_t unix_ms, std::chrono::milliseconds wait);

  // The least recorded_at the next group can get, the clock aside: stamps
  // never go back, and none comes at or before a settled time. The next
  // group is stamped max(the clock's now, this). Thread-safe.
  std::int64_t StampFloor() const;

  // Walks the whole log, recomputing the hash chain; reports the first
  // position that is missing, undecodable or does not match its hash. Then
  // reads the indexes beside the events whole (each block's checksum), and
  // reports one that cannot be read. `step` is called every `step_every`
  // events, then every `step_every` index entries (with the events' count).
  // `progress(checked, head)` is called now and then. Not an error when the
  // log is broken: that is the report.
  Result<VerifyReport> Verify(
      const std::function<void(Position, Position)>& progress = nullptr) const;
  // The same, paced or stopped by `options.step`.
  Result<VerifyReport> Verify(const VerifyOptions& options) const;

  // Every committed event after `after`: first from the log, then live, in
  // order, with no gap or duplicate. See subscription.h.
  std::unique_ptr<Subscription> Subscribe(Position after, const SubscriptionOptions& options);

  // Follower only: picks up what the writing process has committed since.
  Status CatchUp();

  class Impl;

 private:
  explicit EventStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace casegrid
