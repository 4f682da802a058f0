#include "engine/event_store.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "engine/event_store_impl.h"
#include "engine/info_log.h"
#include "engine/insert_hints.h"
#include "engine/names.h"
#include "engine/rocks_lock.h"
#include "engine/subscription.h"
#include "engine/table_cache.h"
#include "engine/thread_name.h"
#include "engine/time_format.h"
#include "engine/torn_tail.h"

namespace casegrid {
namespace {

constexpr const char* kFamilyOrder[] = {storage::kMetaFamily, storage::kEventsFamily,
                                        storage::kStreamsFamily, storage::kStreamIndexFamily,
                                        storage::kEventIdsFamily};

// Whether `it` is at an index key of the stream whose keys start with
// `prefix` (its name and a NUL): a longer stream's name shares the prefix
// only up to the NUL, and its keys are longer.
bool AtStreamKey(const rocksdb::Iterator& it, const std::string& prefix) {
  return it.Valid() && it.key().size() == prefix.size() + 8 &&
         it.key().starts_with(rocksdb::Slice(prefix));
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::Unavailable(what + ": " + s.ToString());
}

// 128 random bits from OpenSSL's CSPRNG as 32 hex digits: unpredictable,
// so nobody can claim an id before the store generates it. Each thread draws
// 4 KiB at a time, which spreads RAND_bytes' fixed cost over 256 ids.
std::string RandomEventId() {
  struct Pool {
    unsigned char bytes[4096];
    std::size_t used = sizeof bytes;
  };
  thread_local Pool pool;
  if (pool.used + 16 > sizeof pool.bytes) {
    if (RAND_bytes(pool.bytes, sizeof pool.bytes) != 1) std::abort();  // no entropy: stop
    pool.used = 0;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (std::size_t i = 0; i < 16; ++i) {
    const unsigned char b = pool.bytes[pool.used + i];
    id[2 * i] = kHex[b >> 4];
    id[2 * i + 1] = kHex[b & 0xF];
  }
  OPENSSL_cleanse(pool.bytes + pool.used, 16);
  pool.used += 16;
  return id;
}

rocksdb::ColumnFamilyOptions FamilyOptions(const char* name) {
  rocksdb::ColumnFamilyOptions cf;
  rocksdb::BlockBasedTableOptions table;
  const std::string n = name;
  // Point lookups by key (stream heads, event ids) skip files with a bloom
  // filter; the memtable gets one too, since appends look there first.
  if (n == storage::kStreamsFamily || n == storage::kEventIdsFamily) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    cf.memtable_whole_key_filtering = true;
    cf.memtable_prefix_bloom_size_ratio = 0.05;
  }
  if (n == storage::kEventIdsFamily) {
    cf.prefix_extractor.reset(rocksdb::NewNoopTransform());
    cf.memtable_factory.reset(rocksdb::NewHashSkipListRepFactory(262144));
  }
  // Positions only grow: each record lands right after the one before
  // (insert_hints.h). The other families' keys are spread over many streams
  // and ids, where a hint each would cost more memtable than it saves.
  if (n == storage::kEventsFamily) {
    cf.memtable_insert_with_hint_prefix_extractor = storage::HintForAllKeys();
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

constexpr std::size_t kLogMemtableBytes = 128 << 20;
// How far past the clock SettleThrough makes its floor durable: a restart
// within this of a question stamps ahead of the clock by as much, at most.
constexpr std::int64_t kSettledAheadMs = 1000;

rocksdb::Options DbOptions(rocksdb::Env* env, int max_open_files) {
  rocksdb::Options o;
  o.max_open_files = max_open_files;
  o.table_cache_numshardbits = TableCacheShardBits(max_open_files);
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  // Every group is one WriteBatch across families; recover all or none of it.
  o.atomic_flush = true;
  // A record cut short at the WAL's end (a crash in the middle of a write:
  // never acknowledged) is dropped; damage anywhere else refuses the open.
  // Point-in-time recovery would stop at the damage and drop every event
  // after it, acknowledged ones too, and the next append would take their
  // positions: a log that silently forgot, and a chain that verifies.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  o.IncreaseParallelism(2);
  // One committer writes; event_ids' hash memtable cannot take concurrent writers.
  o.allow_concurrent_memtable_write = false;
  // The memtables of all five families together, flushed past this (each
  // family's own 64 MiB, two of them, would allow 640 MiB): a long-running
  // server's memory is bounded by design, not by how much it has written.
  o.db_write_buffer_size = kLogMemtableBytes;
  if (env != nullptr) o.env = env;
  return o;
}

}  // namespace

// ---------------------------------------------------------------- opening

EventStore::Impl::Impl(StoreOptions options, bool follower)
    : options_(std::move(options)), follower_(follower) {}

EventStore::Impl::~Impl() {
  StopCommitter();  // answers what is queued before the database closes
  for (auto* h : families_) {
    if (db_ != nullptr) db_->DestroyColumnFamilyHandle(h);
  }
  if (db_ != nullptr) {
    // A clean close: flush nothing extra; the WAL is already synced.
    db_->Close().PermitUncheckedError();
    delete db_;
  }
  if (!secondary_path_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(secondary_path_, ec);
  }
}

Status EventStore::Impl::OpenDb(const std::string& secondary_path) {
  rocksdb::Options db_options = DbOptions(options_.env, options_.max_open_files);
  // RocksDB's diagnostics, written so that a full disk cannot abort the
  // process (engine/info_log.h); a follower's go to its own folder.
  {
    const std::string log_dir = follower_ ? secondary_path : options_.path;
    std::error_code ec;
    std::filesystem::create_directories(log_dir, ec);
    db_options.info_log = OpenInfoLog(log_dir);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kFamilyOrder) descriptors.emplace_back(name, FamilyOptions(name));
  rocksdb::Status s;
  if (follower_) {
    db_options.max_open_files = -1;  // required of a secondary instance
    // It tails a WAL the writer may be in the middle of; it reports damage
    // before the end as an error all the same (docs/storage.md, "Recovery").
    db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
    db_options.create_if_missing = false;
    s = rocksdb::DB::OpenAsSecondary(db_options, options_.path, secondary_path, descriptors,
                                     &families_, &db_);
  } else {
    std::error_code ec;
    std::filesystem::create_directories(options_.path, ec);
    wal_as_found_ = WalAsFound::Take(options_.path);
    s = rocksdb::DB::Open(db_options, options_.path, descriptors, &families_, &db_);
    if (s.IsCorruption()) {
      ASSIGN_OR_RETURN(const bool dropped, DropTornTail(db_options, descriptors));
      if (dropped) {
        families_.clear();
        s = rocksdb::DB::Open(db_options, options_.path, descriptors, &families_, &db_);
      }
    }
  }
  if (!s.ok()) {
    if (HeldByAnotherOpen(s)) {
      return Status::Unavailable(
          "store " + options_.path +
          " is open in another process (is a casegrid serve, rebuild or seed running?)");
    }
    if (s.IsCorruption() && !follower_) {
      // RocksDB names the MANIFEST, where a table file is listed (probe 98):
      // a table file or MANIFEST that is gone or damaged is named as such.
      if (Status tables = EventStore::CheckTableFiles(options_.path);
          tables.code() == StatusCode::kCorruption) {
        return Status::Corruption("opening store " + options_.path + ": " + tables.message() +
                                  " (it is not opened for writing: restore the data folder "
                                  "from a copy, and see docs/storage.md, \"Recovery\")");
      }
      return Status::Corruption(
          "opening store " + options_.path + ": " + s.ToString() +
          " (the log is damaged before its end; it is not opened for writing, which would "
          "drop the events after the damage: restore the data folder from a copy, and see "
          "docs/storage.md, \"Recovery\")");
    }
    return FromRocks(s, "opening store " + options_.path);
  }
  std::string format;
  s = db_->Get(rocksdb::ReadOptions(), family(kMeta), storage::kFormatKey, &format);
  if (s.IsNotFound() && !follower_) {
    rocksdb::WriteOptions sync_write;
    sync_write.sync = true;
    return FromRocks(
        db_->Put(sync_write, family(kMeta), storage::kFormatKey, storage::kFormatValue),
        "writing format marker");
  }
  if (!s.ok()) return FromRocks(s, "reading format marker");
  if (format != storage::kFormatValue) {
    return Status::Corruption("store " + options_.path + " has format '" + format +
                              "', this build reads '" + std::string(storage::kFormatValue) + "'");
  }
  return Status::Ok();
}

namespace {

// The head position of the log at `path` as an open with `db_options` would
// recover it, read without writing anything (a read-only open replays the
// WAL in memory).
Result<Position> ReadOnlyHead(const rocksdb::Options& db_options, const std::string& path,
                              const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors) {
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s =
      rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, &handles, &db, false);
  if (!s.ok()) return FromRocks(s, "reading the log up to its damage");
  Position head = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions(), handles[kEvents]));
    it->SeekToLast();
    if (it->Valid()) head = storage::DecodeBigEndian64(it->key().ToStringView());
    s = it->status();
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
  if (!s.ok()) return FromRocks(s, "reading the log up to its damage");
  return head;
}

}  // namespace

Result<bool> EventStore::Impl::DropTornTail(
    const rocksdb::Options& db_options,
    const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors) {
  // The judge reads RocksDB's log format as the store writes it: neither
  // recycled nor compressed logs (DbOptions).
  if (db_options.recycle_log_file_num != 0 ||
      db_options.wal_compression != rocksdb::CompressionType::kNoCompression) {
    return false;
  }
  // What one group can take in the WAL: its appends' bytes (one append may
  // pass the group bound alone), written twice over with the indexes, and
  // each event's keys and record around them.
  const std::uint64_t max_group_wal_bytes =
      2 * std::max(options_.max_group_bytes, options_.max_append_bytes) +
      options_.max_group_events * 1024 + (1 << 20);
  ASSIGN_OR_RETURN(const std::optional<TornTail> tail,
                   FindTornTail(options_.path, max_group_wal_bytes));
  if (!tail) return false;
  // Decided before any file is touched, so that a crash or a failure on the
  // way leaves either the log as found or the decision carried out: the
  // log's head without the torn group (point-in-time recovery, read-only,
  // stops at the damage), against the mark of what its writer had fsync'd.
  rocksdb::Options up_to_the_damage = db_options;
  up_to_the_damage.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  const Result<Position> head = ReadOnlyHead(up_to_the_damage, options_.path, descriptors);
  if (!head.ok()) {
    if (head.status().code() == StatusCode::kCorruption) return false;  // damaged elsewhere too
    return head.status();
  }
  const std::string refused = "opening store " + options_.path + ": the last group of " +
                              tail->wal + " is damaged, as a write cut short by a crash leaves it";
  const std::string what_to_do =
      "; it is not opened for writing: restore the data folder from a copy, and see "
      "docs/storage.md, \"Recovery\"";
  const std::optional<Position> mark = DurableMark::Read(options_.path);
  if (!mark) {
    return Status::Corruption(refused + ", but there is no durable mark (" + options_.path +
                              "/DURABLE missing or not whole: a store last written by a build "
                              "before it, or the mark damaged too) to tell whether its events "
                              "were acknowledged" +
                              what_to_do);
  }
  if (*mark > *head) {
    return Status::Corruption(refused +
                              ", and it held events acknowledged as durable (the durable "
                              "mark is at " +
                              std::to_string(*mark) + ", the log without that group ends at " +
                              std::to_string(*head) +
                              "): the disk's damage, not a write cut short" + what_to_do);
  }
  const std::string keep_as = tail->wal + ".torn-" + std::to_string(options_.clock->NowMillis());
  RETURN_IF_ERROR(casegrid::DropTornTail(*tail, keep_as));
  if (options_.on_repair) {
    options_.on_repair("the write-ahead log's last group was cut short by a crash (" +
                       std::to_string(tail->file_bytes - tail->whole_bytes) +
                       " bytes, never acknowledged: its fsync had not returned, the durable "
                       "mark is at " +
                       std::to_string(*mark) + "); it is dropped, the log opens at position " +
                       std::to_string(*head) + ", and the bytes are kept in " + keep_as);
  }
  return true;
}

Status EventStore::Impl::LoadHead() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kEvents)));
  it->SeekToLast();
  // A follower beside a writer of another process reads no further than
  // what the writer made durable: the log's file shows a group's bytes
  // before its fsync returns, and after one that failed (review 86).
  if (const auto durable = follower_ ? DurableMark::ReadWhileWritten(options_.path) : std::nullopt;
      durable && it->Valid() && storage::DecodeBigEndian64(it->key().ToStringView()) > *durable) {
    it->SeekForPrev(storage::EncodeBigEndian64(*durable));  // none at 0: positions start at 1
  }
  LogHead head;
  std::int64_t last_ms = 0;
  if (it->Valid()) {
    const Position p = storage::DecodeBigEndian64(it->key().ToStringView());
    ASSIGN_OR_RETURN(RecordedEvent e, storage::DecodeRecord(p, it->value().ToStringView()));
    head = {p, e.hash};
    last_ms = e.recorded_at_ms;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading the log head"));
  leader_position_ = head.position;
  leader_hash_ = head.hash;
  {
    std::lock_guard l(stamp_mu_);
    leader_last_recorded_ms_ = last_ms;
  }
  for (std::size_t i = 0; i < kChangeSlots; ++i) {
    changed_at_[i].store(head.position, std::memory_order_release);
  }
  std::lock_guard l(publish_mu_);
  head_ = head;
  published_position_.store(head.position, std::memory_order_release);
  published_last_ms_.store(last_ms, std::memory_order_release);
  return Status::Ok();
}

Result<std::unique_ptr<EventStore>> EventStore::Open(const StoreOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("store path is empty");
  auto impl = std::make_unique<Impl>(options, /*follower=*/false);
  RETURN_IF_ERROR(impl->OpenDb(""));
  RETURN_IF_ERROR(impl->LoadHead());
  // A log that ends before the mark its last writer left lost events that
  // were acknowledged as durable: the disk lost bytes it had fsync'd (a WAL
  // cut short rather than torn, which RocksDB's recovery takes as a write
  // cut short), or the folder was copied while a writer ran. Opened, it
  // would give those positions, and their case ids, to other events, and
  // set the mark back over the evidence (black-box probe 94).
  if (const std::optional<Position> mark = DurableMark::Read(options.path);
      mark && *mark > impl->Head().position) {
    std::string kept;
    for (const std::string& name : impl->wal_as_found_.Keep(impl->options_.clock->NowMillis())) {
      kept += (kept.empty() ? "" : ", ") + std::filesystem::path(name).filename().string();
    }
    return Status::Corruption(
        "opening store " + options.path + ": the log ends at position " +
        std::to_string(impl->Head().position) + ", but its durable mark says events through " +
        std::to_string(*mark) +
        " were acknowledged as durable: the disk lost bytes it had fsync'd, or the folder was "
        "copied while a writer ran; it is not opened for writing, which would give those "
        "positions to other events" +
        (kept.empty() ? std::string() : " (the write-ahead log as found is kept in " + kept + ")") +
        ": restore the data folder from a copy, and see docs/storage.md, \"Recovery\"");
  }
  impl->wal_as_found_ = WalAsFound();  // the open goes on: the links go
  // What the open recovered is durable: RocksDB flushed it to synced tables.
  ASSIGN_OR_RETURN(impl->durable_mark_, DurableMark::Open(options.path));
  impl->durable_mark_->Set(impl->Head().position);
  // Times settled before a restart keep their answers (review 106: the
  // floor was the process's alone, and a clock stepped back over the
  // restart stamped a new event into a settled time).
  ASSIGN_OR_RETURN(impl->settled_floor_, SettledFloor::Open(options.path));
  impl->stamp_floor_ = impl->settled_floor_->at_open();
  RETURN_IF_ERROR(impl->StartCommitter());
  return std::unique_ptr<EventStore>(new EventStore(std::move(impl)));
}

Result<std::unique_ptr<EventStore>> EventStore::OpenFollower(const std::string& path) {
  std::error_code ec;
  const bool there = std::filesystem::exists(std::filesystem::path(path) / "CURRENT", ec);
  if (ec) {
    // Not "no store": one may be there, unreadable (a folder without search
    // permission); `verify` tells the two apart by this.
    return Status::Unavailable("cannot read store " + path + " (" + ec.message() + ")");
  }
  if (!there) return Status::NotFound("no store at " + path);
  StoreOptions options;
  options.path = path;
  auto impl = std::make_unique<Impl>(options, /*follower=*/true);
  std::filesystem::path temp = std::filesystem::temp_directory_path(ec);
  if (ec) temp = "/tmp";  // TMPDIR names no folder
  std::string scratch = (temp / "casegrid-follower-XXXXXX").string();
  if (mkdtemp(scratch.data()) == nullptr) return Status::Unavailable("cannot make a temp folder");
  impl->secondary_path_ = scratch;
  // The mark a stopped writer left, read before the log is: a writer that
  // comes and goes later only makes the log longer than what this follower
  // reads, never shorter than this mark (review 97: read after the walk, a
  // writer's appends in between made verify call the whole log broken).
  impl->mark_at_open_ = DurableMark::ReadWhenNotWritten(path);
  RETURN_IF_ERROR(impl->OpenDb(scratch));
  RETURN_IF_ERROR(impl->LoadHead());
  return std::unique_ptr<EventStore>(new EventStore(std::move(impl)));
}

Status EventStore::CheckTableFiles(const std::string& path) {
  std::error_code ec;
  std::filesystem::path temp = std::filesystem::temp_directory_path(ec);
  if (ec) temp = "/tmp";
  std::string scratch = (temp / "casegrid-check-XXXXXX").string();
  if (mkdtemp(scratch.data()) == nullptr) return Status::Unavailable("cannot make a temp folder");
  rocksdb::Options db_options = DbOptions(nullptr, -1);  // -1: every table file opened now
  db_options.create_if_missing = false;
  db_options.info_log = OpenInfoLog(scratch);  // not the writer's LOG, which it would move
  // As a follower's: a writer may be in the middle of the WAL's last record
  // (Verify's walk finds damage before the end).
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kFamilyOrder) descriptors.emplace_back(name, FamilyOptions(name));
  rocksdb::Status s;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<rocksdb::ColumnFamilyHandle*> families;
    rocksdb::DB* db = nullptr;
    s = rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, &families, &db);
    if (s.ok()) {
      for (auto* f : families) db->DestroyColumnFamilyHandle(f).PermitUncheckedError();
      db->Close().PermitUncheckedError();
      delete db;
      break;
    }
    if (!s.IsCorruption() && !s.IsIOError() && !s.IsNotFound()) break;
  }
  std::filesystem::remove_all(scratch, ec);
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption() || s.IsIOError() || s.IsNotFound()) {
    return Status::Corruption(
        "the MANIFEST or a table file it lists is missing or cannot be opened: " + s.ToString());
  }
  return FromRocks(s, "opening store " + path + " read-only");
}

Status EventStore::Impl::CatchUp() {
  if (!follower_) return Status::Ok();
  RETURN_IF_ERROR(FromRocks(db_->TryCatchUpWithPrimary(), "catching up with the writer"));
  return LoadHead();
}

// ---------------------------------------------------------------- appending

Status EventStore::Impl::Prepare(AppendRequest& r, std::size_t* bytes) const {
  RETURN_IF_ERROR(ValidateStreamName(r.stream));
  RETURN_IF_ERROR(ValidateActor(r.actor));
  if (r.events.empty()) return Status::InvalidArgument("events: an append needs at least one");
  if (r.events.size() > options_.max_events_per_append) {
    return Status::TooLarge("events: " + std::to_string(r.events.size()) +
                            " exceeds the limit of " +
                            std::to_string(options_.max_events_per_append) + " per append");
  }
  if (r.expected.kind == ExpectedVersion::Kind::kExact && r.expected.version == 0) {
    return Status::InvalidArgument("expected_version: exact versions start at 1; use no_stream");
  }
  std::unordered_set<std::string_view> ids;
  std::size_t total = r.stream.size() + r.actor.size();
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    NewEvent& e = r.events[i];
    const std::string at = "events[" + std::to_string(i) + "].";
    if (e.id.empty()) e.id = RandomEventId();
    if (Status s = ValidateEventId(e.id); !s.ok()) return Status::InvalidArgument(at + s.message());
    if (Status s = ValidateEventType(e.type); !s.ok()) {
      return Status::InvalidArgument(at + s.message());
    }
    if (!ids.insert(e.id).second) {
      return Status::InvalidArgument(at + "id " + e.id + " appears twice in one append");
    }
    auto canonical = CanonicalizeObject(e.data, options_.data_limits);
    if (!canonical.ok()) {
      return Status(canonical.status().code(), at + "data: " + canonical.status().message());
    }
    e.data = std::move(canonical).value();
    total += e.id.size() + e.type.size() + e.data.size() + 64;
  }
  if (total > options_.max_append_bytes) {
    return Status::TooLarge("append of " + std::to_string(total) + " bytes exceeds the limit of " +
                            std::to_string(options_.max_append_bytes));
  }
  *bytes = total;
  return Status::Ok();
}

void EventStore::Impl::AppendAsync(AppendRequest request, AppendCallback done) {
  if (follower_) return done(Status::Unavailable("a follower cannot append"));
  auto p = std::make_unique<PendingAppend>();
  if (Status s = Prepare(request, &p->bytes); !s.ok()) return done(std::move(s));
  p->request = std::move(request);
  p->done = std::move(done);
  std::unique_lock lock(queue_mu_);
  if (stopping_) {
    lock.unlock();
    return p->done(Status::Unavailable("the store is closing"));
  }
  queue_.push_back(std::move(p));
  if (queue_.size() == 1) queue_cv_.notify_one();
}

Status EventStore::Impl::StartCommitter() {
  return StartThread(&committer_, "cg-commit", [this] { CommitterLoop(); });
}

void EventStore::Impl::StopCommitter() {
  {
    std::lock_guard l(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_one();
  if (committer_.joinable()) committer_.join();
}

void EventStore::Impl::CommitterLoop() {
  std::vector<std::unique_ptr<PendingAppend>> owned;
  std::vector<PendingAppend*> group;
  while (true) {
    std::unique_lock lock(queue_mu_);
    queue_cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, and everything queued is answered
    // Take everything queued, within bounds: one batch, one fsync.
    std::size_t events = 0, bytes = 0;
    while (!queue_.empty()) {
      PendingAppend& next = *queue_.front();
      const std::size_t n = next.request.events.size();
      if (!owned.empty() && (events + n > options_.max_group_events ||
                             bytes + next.bytes > options_.max_group_bytes)) {
        break;
      }
      events += n;
      bytes += next.bytes;
      owned.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    const bool failed = failed_;
    const std::string failure = failure_;
    lock.unlock();

    for (auto& p : owned) group.push_back(p.get());
    if (failed) {
      for (PendingAppend* p : group) p->result = Status::Unavailable(failure);
    } else {
      CommitGroup(group);
    }
    for (PendingAppend* p : group) p->done(std::move(p->result));
    group.clear();
    owned.clear();
  }
}

Result<AppendResult> EventStore::Impl::Append(AppendRequest request) {
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Result<AppendResult> result = Status::Internal("not answered");
  } w;
  AppendAsync(std::move(request), [&w](Result<AppendResult> r) {
    std::lock_guard l(w.mu);  // w cannot go away before we let go
    w.result = std::move(r);
    w.done = true;
    w.cv.notify_one();
  });
  std::unique_lock l(w.mu);
  w.cv.wait(l, [&] { return w.done; });
  return std::move(w.result);
}

void EventStore::Impl::CommitGroup(const std::vector<PendingAppend*>& group) {
  struct IdHit {
    Position position;
    StreamVersion version;
    std::string stream;
  };
  std::unordered_map<std::string, storage::StreamHead> streams;  // this group's view
  std::unordered_map<std::string, IdHit> ids;                    // ids this group writes
  rocksdb::WriteBatch batch;
  auto committed = std::make_shared<std::vector<RecordedEvent>>();
  std::vector<PendingAppend*> accepted;

  Position position = leader_position_;
  EventHash previous = leader_hash_;
  std::int64_t now = 0;
  {
    std::lock_guard l(stamp_mu_);
    now = std::max({options_.clock->NowMillis(), leader_last_recorded_ms_, stamp_floor_});
    // Also for a group that writes nothing; not a time no event may carry
    // (each append is refused below), which would refuse every later one.
    if (Formattable(now)) leader_last_recorded_ms_ = now;
    stamping_ = now;
  }
  // However this ends: after the group is published (declared before the
  // publishing lock below, so let go after it), or its write failed.
  struct Unstamp {
    Impl* impl;
    ~Unstamp() {
      {
        std::lock_guard l(impl->stamp_mu_);
        impl->stamping_.reset();
      }
      impl->stamp_cv_.notify_all();
    }
  } unstamp{this};
  const rocksdb::ReadOptions ro;

  auto find_id = [&](const std::string& id) -> Result<std::optional<IdHit>> {
    if (auto it = ids.find(id); it != ids.end()) return std::optional<IdHit>(it->second);
    std::string value;
    rocksdb::Status s = db_->Get(ro, family(kEventIds), id, &value);
    if (s.IsNotFound()) return std::optional<IdHit>();
    RETURN_IF_ERROR(FromRocks(s, "looking up event id"));
    const Position p = storage::DecodeBigEndian64(value);
    ASSIGN_OR_RETURN(RecordedEvent original, ReadAt(p));
    return std::optional<IdHit>(IdHit{p, original.version, original.stream});
  };
  auto stream_head = [&](const std::string& stream) -> Result<storage::StreamHead> {
    if (auto it = streams.find(stream); it != streams.end()) return it->second;
    std::string value;
    rocksdb::Status s = db_->Get(ro, family(kStreams), stream, &value);
    if (s.IsNotFound()) return storage::StreamHead{};
    RETURN_IF_ERROR(FromRocks(s, "reading stream head"));
    return storage::DecodeStreamHead(value);
  };

  for (PendingAppend* p : group) {
    AppendRequest& r = p->request;
    // Idempotency first, so that a retried append succeeds whatever its
    // expected version says now.
    std::vector<IdHit> hits;
    Status status;
    for (const NewEvent& e : r.events) {
      auto hit = find_id(e.id);
      if (!hit.ok()) {
        status = hit.status();
        break;
      }
      if (hit->has_value()) hits.push_back(**hit);
    }
    if (!status.ok()) {
      p->result = status;
      continue;
    }
    if (!hits.empty()) {
      const auto foreign = std::find_if(hits.begin(), hits.end(),
                                        [&](const IdHit& h) { return h.stream != r.stream; });
      // A repeat: every id in the log, in its stream, at consecutive
      // positions in its order, so that the range answered holds them and
      // nothing else (ids apart in the log, or listed in another order,
      // answered one that did not; review 86).
      const auto apart = std::adjacent_find(
          hits.begin(), hits.end(),
          [](const IdHit& a, const IdHit& b) { return b.position != a.position + 1; });
      if (foreign != hits.end()) {
        p->result =
            Status::Conflict("event id already in the log at position " +
                             std::to_string(foreign->position) + " of stream " + foreign->stream);
      } else if (hits.size() != r.events.size()) {
        p->result = Status::Conflict(
            "some event ids of this append are already in the log (first at position " +
            std::to_string(hits.front().position) + ") and some are not; nothing written");
      } else if (apart != hits.end()) {
        p->result = Status::Conflict(
            "the event ids of this append are in the log, but not one after another in this "
            "order (first at position " +
            std::to_string(hits.front().position) + "); nothing written");
      } else {
        p->result = AppendResult{hits.front().position, hits.back().position, hits.front().version,
                                 hits.back().version, true};
      }
      continue;
    }

    auto head = stream_head(r.stream);
    if (!head.ok()) {
      p->result = head.status();
      continue;
    }
    const StreamVersion current = head->version;
    const ExpectedVersion& ex = r.expected;
    const std::string at = "stream " + r.stream + " is at version " + std::to_string(current);
    if (ex.kind == ExpectedVersion::Kind::kNoStream && current != 0) {
      p->result = Status::Conflict(at + ", expected no_stream");
      continue;
    }
    if (ex.kind == ExpectedVersion::Kind::kExists && current == 0) {
      p->result = Status::Conflict("stream " + r.stream + " does not exist, expected exists");
      continue;
    }
    if (ex.kind == ExpectedVersion::Kind::kExact && current != ex.version) {
      p->result = Status::Conflict(at + ", expected " + std::to_string(ex.version));
      continue;
    }
    if (r.max_version != 0 && current + r.events.size() > r.max_version) {
      p->result = Status::Conflict(at + "; " + std::to_string(r.events.size()) +
                                   " more would take it past " + std::to_string(r.max_version) +
                                   " events, the most it may hold");
      continue;
    }
    Status moved;
    for (const StreamPin& pin : r.unchanged) {
      auto other = stream_head(pin.stream);
      if (!other.ok()) {
        moved = other.status();
      } else if (other->version != pin.version) {
        moved = Status::Conflict("stream " + pin.stream + " is at version " +
                                 std::to_string(other->version) + ", not " +
                                 std::to_string(pin.version) + " as when this append was decided");
      }
      if (!moved.ok()) break;
    }
    if (!moved.ok()) {
      p->result = moved;
      continue;
    }
    if (!Formattable(now)) {
      // Written, it would be read back as damage (DecodeRecord).
      p->result = Status::Unavailable("the clock reads " + std::to_string(now) +
                                      " ms, outside the years 0000 to 9999; nothing written");
      continue;
    }
    if (r.stamp_before_ms != 0 && now >= r.stamp_before_ms) {
      p->result = Status::Conflict("its events would be recorded at " + FormatTimestamp(now) +
                                   ", not before " + FormatTimestamp(r.stamp_before_ms) +
                                   " as the append requires");
      continue;
    }

    AppendResult result{position + 1, 0, current + 1, 0, false, now};
    StreamVersion version = current;
    for (NewEvent& e : r.events) {
      RecordedEvent rec;
      rec.position = ++position;
      rec.version = ++version;
      rec.recorded_at_ms = now;
      rec.stream = r.stream;
      rec.type = std::move(e.type);
      rec.id = std::move(e.id);
      rec.actor = r.actor;
      rec.data = std::move(e.data);
      rec.hash = chain_.Next(previous, rec.CanonicalBytes());
      previous = rec.hash;
      const std::string pos_key = storage::EncodeBigEndian64(rec.position);
      // A WriteBatch cannot fail to take a Put short of running out of memory.
      batch.Put(family(kEvents), pos_key, storage::EncodeRecord(rec)).PermitUncheckedError();
      batch.Put(family(kStreamIndex), storage::StreamIndexKey(rec.stream, rec.version), pos_key)
          .PermitUncheckedError();
      batch.Put(family(kEventIds), rec.id, pos_key).PermitUncheckedError();
      ids[rec.id] = IdHit{rec.position, rec.version, rec.stream};
      committed->push_back(std::move(rec));
    }
    streams[r.stream] = storage::StreamHead{version, position};
    batch.Put(family(kStreams), r.stream, storage::EncodeStreamHead(streams[r.stream]))
        .PermitUncheckedError();
    result.last_position = position;
    result.last_version = version;
    p->result = result;
    accepted.push_back(p);
  }

  if (accepted.empty()) return;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  const rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) {
    const std::string why = "storage cannot write (" + s.ToString() +
                            "); appends are refused until the store is reopened";
    // Every append of the group, not only those that wrote: a repeat of an
    // id this group wrote was answered from the group's own writes (its
    // positions were never made durable), and a conflict from the heads the
    // group moved would send its writer to state that is not there.
    for (PendingAppend* p : group) p->result = Status::Unavailable(why);
    std::lock_guard l(queue_mu_);
    failed_ = true;
    failure_ = why;
    return;
  }
  leader_position_ = position;
  leader_hash_ = previous;
  durable_mark_->Set(position);
  for (const PendingAppend* p : accepted) {
    std::atomic<Position>& slot = ChangeSlot(p->request.stream);
    const Position last = p->result->last_position;
    if (slot.load(std::memory_order_relaxed) < last) slot.store(last, std::memory_order_release);
  }

  std::lock_guard l(publish_mu_);
  head_ = {position, previous};
  published_position_.store(position, std::memory_order_release);
  published_last_ms_.store(now, std::memory_order_release);
  const EventBatch shared = std::move(committed);
  for (Subscription* sub : subscribers_) sub->OnCommit(shared);
}

std::atomic<Position>& EventStore::Impl::ChangeSlot(std::string_view stream) const {
  return changed_at_[std::hash<std::string_view>()(stream) & (kChangeSlots - 1)];
}

// ---------------------------------------------------------------- reading

Status EventStore::Impl::SettleThrough(std::int64_t unix_ms, std::chrono::milliseconds wait) {
  const std::int64_t now = options_.clock->NowMillis();
  if (unix_ms > now) {
    return Status::InvalidArgument(FormatTimestamp(unix_ms) + " is after now");
  }
  if (follower_) return Status::Ok();
  if (unix_ms >= kLastFormattableMs) {
    // No event may be stamped after it (CommitGroup): a floor past it would
    // refuse every append, the clock's reading right again or not.
    return Status::Unavailable(FormatTimestamp(unix_ms) +
                               " is the last time an event may carry, or past it: the clock "
                               "reads wrong");
  }
  // Durable first, unless the log is: a restart stamps no earlier than the
  // last event made durable, so a time before it needs no more (review
  // 108: an auditor stepping through a past month wrote and fsync'd the
  // floor at each step). Past it, a second ahead (of the clock, and of the
  // time asked: a clock read a year ahead once is not kept), so that
  // questions about one second cost one fsync.
  if (unix_ms >= published_last_ms_.load(std::memory_order_acquire)) {
    RETURN_IF_ERROR(settled_floor_->Raise(
        unix_ms + 1,
        std::min({now + kSettledAheadMs, unix_ms + 1 + kSettledAheadMs, kLastFormattableMs})));
  }
  std::unique_lock l(stamp_mu_);
  stamp_floor_ = std::max(stamp_floor_, unix_ms + 1);
  if (!stamp_cv_.wait_for(l, wait, [&] { return !stamping_ || *stamping_ > unix_ms; })) {
    return Status::Unavailable("the events stamped " + FormatTimestamp(*stamping_) +
                               " are still being written; try again");
  }
  return Status::Ok();
}

std::int64_t EventStore::Impl::StampFloor() const {
  std::lock_guard l(stamp_mu_);
  return std::max(leader_last_recorded_ms_, stamp_floor_);
}

LogHead EventStore::Impl::Head() const {
  std::lock_guard l(publish_mu_);
  return head_;
}

Result<RecordedEvent> EventStore::Impl::ReadAt(Position position) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), family(kEvents),
                               storage::EncodeBigEndian64(position), &value);
  if (s.IsNotFound()) return Status::NotFound("no event at position " + std::to_string(position));
  RETURN_IF_ERROR(FromRocks(s, "reading position " + std::to_string(position)));
  return storage::DecodeRecord(position, value);
}

Result<std::vector<RecordedEvent>> EventStore::Impl::ReadAll(Position after,
                                                             std::size_t max_count) const {
  const Position head = published_position_.load(std::memory_order_acquire);
  std::vector<RecordedEvent> out;
  if (after >= head || max_count == 0) return out;
  out.reserve(std::min<std::size_t>(max_count, head - after));
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kEvents)));
  for (it->Seek(storage::EncodeBigEndian64(after + 1)); it->Valid() && out.size() < max_count;
       it->Next()) {
    const Position p = storage::DecodeBigEndian64(it->key().ToStringView());
    if (p > head) break;
    ASSIGN_OR_RETURN(RecordedEvent e, storage::DecodeRecord(p, it->value().ToStringView()));
    out.push_back(std::move(e));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading the log"));
  return out;
}

Result<std::vector<RecordedEvent>> EventStore::Impl::ReadStream(const std::string& stream,
                                                                StreamVersion from,
                                                                std::size_t max_count,
                                                                ReadDirection dir) const {
  RETURN_IF_ERROR(ValidateStreamName(stream));
  const Position head = published_position_.load(std::memory_order_acquire);
  std::string prefix = stream;
  prefix += '\0';
  std::vector<Position> positions;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), family(kStreamIndex)));
  auto in_stream = [&] { return AtStreamKey(*it, prefix); };
  // Events past the head are committing right now, not published yet: not
  // read, nor counted against max_count (a backward read of one event while
  // the stream's next committed found none; review 86).
  if (dir == ReadDirection::kForward) {
    for (it->Seek(storage::StreamIndexKey(stream, std::max<StreamVersion>(from, 1)));
         in_stream() && positions.size() < max_count; it->Next()) {
      const Position p = storage::DecodeBigEndian64(it->value().ToStringView());
      if (p > head) break;  // and every later version
      positions.push_back(p);
    }
  } else {
    for (it->SeekForPrev(storage::StreamIndexKey(stream, from));
         in_stream() && positions.size() < max_count; it->Prev()) {
      const Position p = storage::DecodeBigEndian64(it->value().ToStringView());
      if (p <= head) positions.push_back(p);
    }
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading stream " + stream));
  std::vector<RecordedEvent> out;
  out.reserve(positions.size());
  for (Position p : positions) {
    ASSIGN_OR_RETURN(RecordedEvent e, ReadAt(p));
    out.push_back(std::move(e));
  }
  return out;
}

Result<StreamVersion> EventStore::Impl::StreamVersionOf(const std::string& stream) const {
  RETURN_IF_ERROR(ValidateStreamName(stream));
  // Loaded before the stream's head is read: a head past it was written by
  // a group not yet published (its write returned a moment ago), or refused.
  const Position published = published_position_.load(std::memory_order_acquire);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), family(kStreams), stream, &value);
  if (s.IsNotFound()) return StreamVersion{0};
  RETURN_IF_ERROR(FromRocks(s, "reading stream head"));
  ASSIGN_OR_RETURN(storage::StreamHead head, storage::DecodeStreamHead(value));
  if (head.position <= published) return head.version;
  // Step back to the last version published: past the events of that group.
  std::string prefix = stream;
  prefix += '\0';
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), family(kStreamIndex)));
  for (it->SeekForPrev(storage::StreamIndexKey(stream, head.version)); AtStreamKey(*it, prefix);
       it->Prev()) {
    if (storage::DecodeBigEndian64(it->value().ToStringView()) <= published) {
      return storage::DecodeBigEndian64(it->key().ToStringView().substr(prefix.size()));
    }
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading stream " + stream));
  return StreamVersion{0};
}

Result<std::vector<std::string>> EventStore::Impl::ListStreams(const std::string& prefix,
                                                               const std::string& after,
                                                               std::size_t max_count) const {
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kStreams)));
  it->Seek(after.empty() || after < prefix ? prefix : after);
  for (; it->Valid() && out.size() < max_count && it->key().starts_with(prefix); it->Next()) {
    if (it->key().ToStringView() == after) continue;
    out.push_back(it->key().ToString());
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "listing streams"));
  return out;
}

Result<std::string> EventStore::Impl::LastStreamWithPrefix(
    const std::string& prefix, const std::function<bool(std::string_view)>& accept) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kStreams)));
  // Stream names are ASCII, so every name with the prefix sorts before prefix + 0xFF.
  std::string found;
  for (it->SeekForPrev(prefix + '\xff'); it->Valid() && it->key().starts_with(prefix); it->Prev()) {
    if (!accept || accept(it->key().ToStringView())) {
      found = it->key().ToString();
      break;
    }
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "listing streams"));
  return found;
}

Result<VerifyReport> EventStore::Impl::Verify(const VerifyOptions& options) const {
  const auto& step = options.step;
  const Position every = std::max<Position>(1, options.step_every);
  const LogHead head = Head();
  VerifyReport report;
  HashChain chain;
  EventHash previous{};
  Position expected = 1;
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  auto broken = [&](Position at, std::string why) {
    report.intact = false;
    report.broken_at = at;
    report.reason = std::move(why);
    return report;
  };
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, family(kEvents)));
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
    if (it->key().size() != 8) return broken(expected, "a key in the log is not a position");
    const Position p = storage::DecodeBigEndian64(it->key().ToStringView());
    if (p > head.position) break;  // committed after we started
    if (p != expected) {
      return broken(expected, "position " + std::to_string(expected) + " is missing (next is " +
                                  std::to_string(p) + ")");
    }
    auto e = storage::DecodeRecord(p, it->value().ToStringView());
    if (!e.ok()) return broken(p, e.status().message());
    const EventHash recomputed = chain.Next(previous, e->CanonicalBytes());
    if (recomputed != e->hash) {
      return broken(p, "stored hash does not match the event's contents and the chain before it");
    }
    previous = recomputed;
    report.events_checked = p;
    if (step && p % every == 0 && !step(p, head.position)) {
      report.stopped = true;
      return report;
    }
  }
  if (!it->status().ok()) {
    return broken(expected, "storage read failed: " + it->status().ToString());
  }
  if (report.events_checked < head.position) {
    return broken(report.events_checked + 1,
                  "the log ends before its head position " + std::to_string(head.position));
  }
  // A follower of a store no writer held when it opened: a log that ends
  // before the mark its last writer left lost acknowledged events, which a
  // writer's open refuses (black-box probe 94: verify said intact).
  if (follower_) {
    if (const std::optional<Position> mark = mark_at_open_; mark && *mark > report.events_checked) {
      return broken(report.events_checked + 1,
                    "the log ends at position " + std::to_string(report.events_checked) +
                        ", but its durable mark says events through " + std::to_string(*mark) +
                        " were acknowledged as durable");
    }
  }
  // The indexes beside the events (streams' heads, their events' positions,
  // event ids): every block's checksum, read in order. A flipped bit there
  // stopped writes or reads (the deadline watch's next append, a case's
  // history) while the events walked intact (black-box probe 73).
  it.reset();  // the events' files and memtables are not held through the indexes' walk
  // event_ids is hashed by prefix: a walk in order first copies its memtable
  // (up to the memtable's size) into a sorted one.
  ro.total_order_seek = true;
  struct Index {
    FamilyIndex family;
    const char* what;
  };
  for (const Index& index : {Index{kStreams, "the streams' heads"},
                             Index{kStreamIndex, "the streams' index of positions"},
                             Index{kEventIds, "the event ids' index"}, Index{kMeta, "the meta"}}) {
    std::unique_ptr<rocksdb::Iterator> walk(db_->NewIterator(ro, family(index.family)));
    Position entries = 0;
    for (walk->SeekToFirst(); walk->Valid(); walk->Next()) {
      if (step && ++entries % every == 0 && !step(report.events_checked, head.position)) {
        report.stopped = true;
        return report;
      }
    }
    if (!walk->status().ok()) {
      report.intact = false;
      report.reason = std::string(index.what) + " (family " + family(index.family)->GetName() +
                      ") cannot be read: " + walk->status().ToString() +
                      "; the events are intact up to position " +
                      std::to_string(report.events_checked);
      return report;
    }
  }
  if (step) step(report.events_checked, head.position);
  report.head = {report.events_checked, previous};
  return report;
}

void EventStore::Impl::AddSubscriber(Subscription* sub) {
  std::lock_guard l(publish_mu_);
  subscribers_.push_back(sub);
}

void EventStore::Impl::RemoveSubscriber(Subscription* sub) {
  std::lock_guard l(publish_mu_);
  subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), sub),
                     subscribers_.end());
}

// ---------------------------------------------------------------- facade

EventStore::EventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventStore::~EventStore() = default;

Result<AppendResult> EventStore::Append(AppendRequest request) {
  return impl_->Append(std::move(request));
}
void EventStore::AppendAsync(AppendRequest request, AppendCallback done) {
  impl_->AppendAsync(std::move(request), std::move(done));
}
Result<std::vector<RecordedEvent>> EventStore::ReadStream(const std::string& stream,
                                                          StreamVersion from_version,
                                                          std::size_t max_count,
                                                          ReadDirection direction) const {
  return impl_->ReadStream(stream, from_version, max_count, direction);
}
Result<std::vector<RecordedEvent>> EventStore::ReadAll(Position after,
                                                       std::size_t max_count) const {
  return impl_->ReadAll(after, max_count);
}
Position EventStore::LastChangeBound(std::string_view stream) const {
  if (impl_->follower_) return UINT64_MAX;
  return impl_->ChangeSlot(stream).load(std::memory_order_acquire);
}

Result<StreamVersion> EventStore::StreamVersionOf(const std::string& stream) const {
  return impl_->StreamVersionOf(stream);
}
Result<std::vector<std::string>> EventStore::ListStreams(const std::string& prefix,
                                                         const std::string& after,
                                                         std::size_t max_count) const {
  return impl_->ListStreams(prefix, after, max_count);
}
Result<std::string> EventStore::LastStreamWithPrefix(
    const std::string& prefix, const std::function<bool(std::string_view)>& accept) const {
  return impl_->LastStreamWithPrefix(prefix, accept);
}
Result<std::optional<Position>> EventStore::PositionOfEventId(const std::string& id) const {
  std::string value;
  rocksdb::Status s = impl_->db_->Get(rocksdb::ReadOptions(), impl_->family(kEventIds), id, &value);
  if (s.IsNotFound()) return std::optional<Position>();
  RETURN_IF_ERROR(FromRocks(s, "looking up event id"));
  const Position p = storage::DecodeBigEndian64(value);
  if (p > impl_->published_position_.load(std::memory_order_acquire)) {
    return std::optional<Position>();  // committing now; not yet acknowledged
  }
  return std::optional<Position>(p);
}

Result<RecordedEvent> EventStore::ReadAt(Position position) const {
  if (position > impl_->published_position_.load(std::memory_order_acquire)) {
    return Status::NotFound("no event at position " + std::to_string(position));
  }
  return impl_->ReadAt(position);
}
LogHead EventStore::Head() const {
  return impl_->Head();
}
Status EventStore::SettleThrough(std::int64_t unix_ms, std::chrono::milliseconds wait) {
  return impl_->SettleThrough(unix_ms, wait);
}
std::int64_t EventStore::StampFloor() const {
  return impl_->StampFloor();
}
Result<VerifyReport> EventStore::Verify(
    const std::function<void(Position, Position)>& progress) const {
  VerifyOptions options;
  if (progress) {
    options.step = [&progress](Position checked, Position head) {
      progress(checked, head);
      return true;
    };
  }
  return impl_->Verify(options);
}

Result<VerifyReport> EventStore::Verify(const VerifyOptions& options) const {
  return impl_->Verify(options);
}
Status EventStore::CatchUp() {
  return impl_->CatchUp();
}

std::unique_ptr<Subscription> EventStore::Subscribe(Position after,
                                                    const SubscriptionOptions& options) {
  std::unique_ptr<Subscription> sub(new Subscription(impl_.get(), after, options));
  impl_->AddSubscriber(sub.get());
  return sub;
}

}  // namespace casegrid
