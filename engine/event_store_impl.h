// Internal to the engine: the state behind EventStore. Not a public header.
//
// Threads and locks:
//   queue_mu_   guards the appends queue. One committer thread takes every
//               append queued (within bounds) as a group, and it alone
//               touches the "leader state" below, holding no lock while it
//               writes and fsyncs; then it answers each append's callback.
//   publish_mu_ guards the published head and the subscriber list. The
//               leader takes it after a successful write to advance the head
//               and hand the batch to subscribers, so both happen in commit
//               order and a new subscriber sees either the head before a
//               batch or the batch itself, never neither.
//   stamp_mu_   guards the stamp of the group being committed and the floor
//               of later stamps (SettleThrough). Taken by the committer
//               twice a group, briefly: to stamp, and once it is published.
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/durable_mark.h"
#include "engine/event_store.h"
#include "engine/hash_chain.h"
#include "engine/record_format.h"
#include "engine/settled_floor.h"
#include "engine/wal_as_found.h"

namespace casegrid {

class EventStore::Impl {
 public:
  // One append waiting in the queue, owned by the queue until answered.
  struct PendingAppend {
    AppendRequest request;
    std::size_t bytes = 0;
    Result<AppendResult> result = Status::Internal("not committed");
    AppendCallback done;
  };

  Impl(StoreOptions options, bool follower);
  ~Impl();

  Status OpenDb(const std::string& secondary_path);
  // A writer's open that met a damaged WAL: moves a torn last group out of
  // it (engine/torn_tail.h) when the durable mark says it was not
  // acknowledged, decided before any file is touched; true when it did,
  // and the open may be tried again.
  Result<bool> DropTornTail(const rocksdb::Options& db_options,
                            const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors);
  Status LoadHead();

  Result<AppendResult> Append(AppendRequest request);
  void AppendAsync(AppendRequest request, AppendCallback done);
  Status Prepare(AppendRequest& request, std::size_t* bytes) const;
  [[nodiscard]] Status StartCommitter();
  void StopCommitter();
  void CommitterLoop();
  // Committer only: checks and writes `group` in one batch and one fsync.
  void CommitGroup(const std::vector<PendingAppend*>& group);

  Result<std::vector<RecordedEvent>> ReadStream(const std::string& stream, StreamVersion from,
                                                std::size_t max_count, ReadDirection dir) const;
  Result<std::vector<RecordedEvent>> ReadAll(Position after, std::size_t max_count) const;
  Result<RecordedEvent> ReadAt(Position position) const;
  Result<StreamVersion> StreamVersionOf(const std::string& stream) const;
  Result<std::vector<std::string>> ListStreams(const std::string& prefix, const std::string& after,
                                               std::size_t max_count) const;
  Result<std::string> LastStreamWithPrefix(
      const std::string& prefix, const std::function<bool(std::string_view)>& accept) const;
  Result<VerifyReport> Verify(const VerifyOptions& options) const;
  Status CatchUp();

  LogHead Head() const;
  Status SettleThrough(std::int64_t unix_ms, std::chrono::milliseconds wait);
  std::int64_t StampFloor() const;
  void AddSubscriber(Subscription* sub);
  void RemoveSubscriber(Subscription* sub);

  rocksdb::ColumnFamilyHandle* family(int i) const {
    return families_[static_cast<std::size_t>(i)];
  }

  // Constant after Open.
  const StoreOptions options_;
  const bool follower_;
  std::string secondary_path_;  // follower's scratch folder, removed on close
  // A follower's: the durable mark a stopped writer left, read before the
  // log was (nullopt while a writer held the store); Verify's floor.
  std::optional<Position> mark_at_open_;
  // A writer's, during its open: the WAL as found, kept if the open is
  // refused after RocksDB's recovery used it up.
  WalAsFound wal_as_found_;
  // The writer's: set by the committer once each group's fsync succeeded,
  // for followers in other processes (engine/durable_mark.h).
  std::unique_ptr<DurableMark> durable_mark_;
  // The writer's: stamp_floor_ made durable by SettleThrough, taken back at
  // the open (engine/settled_floor.h).
  std::unique_ptr<SettledFloor> settled_floor_;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;  // in kFamilyOrder order

  // Guarded by queue_mu_.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<PendingAppend>> queue_;
  bool stopping_ = false;
  bool failed_ = false;  // a write failed: refuse appends until reopened
  std::string failure_;
  std::thread committer_;

  // Leader state: touched only by the appender at the front of the queue.
  Position leader_position_ = 0;
  EventHash leader_hash_{};
  // The last stamp given, to a group that wrote or not: stamps never
  // decrease, even if the clock steps back after a group that wrote nothing.
  // Written under stamp_mu_ (and at the open), so StampFloor reads it there.
  std::int64_t leader_last_recorded_ms_ = 0;
  HashChain chain_;

  // Guarded by publish_mu_. published_position_ mirrors head_.position for
  // readers that must not take the lock (Subscription::Next holds its own).
  mutable std::mutex publish_mu_;
  LogHead head_;
  std::atomic<Position> published_position_{0};
  // The stamp of the last event published (so durable): a restart stamps no
  // earlier (LoadHead). Set with published_position_.
  std::atomic<std::int64_t> published_last_ms_{0};
  std::vector<Subscription*> subscribers_;

  // Guarded by stamp_mu_. A group is stamped max(clock, last stamp,
  // stamp_floor_); `stamping_` holds that stamp from then until the group
  // is published (or its write failed).
  mutable std::mutex stamp_mu_;
  std::condition_variable stamp_cv_;  // stamping_ was cleared
  std::int64_t stamp_floor_ = 0;
  std::optional<std::int64_t> stamping_;

  // LastChangeBound's slots: the highest position written to any stream
  // hashing to each. Set to the head by LoadHead, raised only by the
  // committer, after its group's write and before the group is published
  // or answered.
  static constexpr std::size_t kChangeSlots = std::size_t{1} << 16;
  std::atomic<Position>& ChangeSlot(std::string_view stream) const;
  std::unique_ptr<std::atomic<Position>[]> changed_at_ =
      std::make_unique<std::atomic<Position>[]>(kChangeSlots);
};

// Order of column families in Impl::families_.
enum FamilyIndex { kMeta = 0, kEvents = 1, kStreams = 2, kStreamIndex = 3, kEventIds = 4 };

}  // namespace casegrid
