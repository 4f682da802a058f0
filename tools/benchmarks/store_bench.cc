// casegrid-bench: throughput and latency of the event store, against a plain RocksDB baseline,
// and of the views built from a log the real case engine wrote.
//
// One run measures, each on a fresh store folder:
//   raw_batched_fsync_records  plain RocksDB (one default column family), one thread writing
//                              WriteBatches of 256 casegrid event records with sync=true.
//   raw_batched_fsync_layout   plain RocksDB with casegrid's five column families, one thread
//                              writing WriteBatches of 256 events with sync=true, each event the
//                              four key-values casegrid writes for it (record, stream index entry,
//                              event id, stream head): the same bytes, the machine's limit for
//                              casegrid's layout.
//   append_threads_1/16/256    EventStore::Append of one event per call from 1, 16 and 256
//                              threads (group commit), with per-append latency p50/p99.
//   append_async_1/16/256      EventStore::AppendAsync of one event per call with 1, 16 and 256
//                              appends kept in flight (each completion, on the committer thread,
//                              issues its slot's next append), with per-append latency p50/p99.
//   catchup_read               EventStore::ReadAll in pages of 1000 over a filled log.
//   catchup_subscription       the same log through Subscribe(0) and Subscription::Next.
// Then, on a log of --view-events events written through CaseService by random commands
// (tests/support/random_commands.h, 8 threads, a manual clock), unless --skip-views:
//   raw_scan                   a plain rocksdb::Iterator over the events column family (the folder
//                              opened read-only), decoding nothing; the median of three scans.
//   rebuild                    RebuildViews of the whole log into fresh views.
//   case_history_latency       ReadStream(case stream, 1, 1000, forward) of 1000 random cases,
//                              p50/p99.
//   dashboard_as_of_latency    Projector::DashboardAsOf at 200 random positions, of the root ("")
//                              and of santai/tongchuan, p50/p99 each.
//   rebuild_vs_scan_ratio      rebuild / raw_scan (the very last line).
// Before the catch-up and the views: append_async_256 / raw_batched_fsync_records
// (append_vs_raw_records_ratio) and append_async_256 / raw_batched_fsync_layout
// (append_vs_raw_ratio). The latencies are of a warm page cache: the log was
// just scanned and rebuilt.
//
// Run: build/bin/casegrid-bench [--seconds 3] [--catchup-events 200000] [--view-events 200000]
//                               [--skip-views] [--dir /tmp] [--quick]
// --dir is where the temporary store folders go (inside a fresh casegrid-bench-XXXXXX folder,
// removed at the end); --quick is a smoke run (1 second each, 20000 catch-up and view events).

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/canonical_json.h"
#include "engine/case_service.h"
#include "engine/case_state.h"
#include "engine/clock.h"
#include "engine/event.h"
#include "engine/event_store.h"
#include "engine/record_format.h"
#include "engine/status.h"
#include "engine/subscription.h"
#include "projections/projector.h"
#include "projections/rebuild.h"
#include "tests/support/random_commands.h"

namespace {

using Clock = std::chrono::steady_clock;
using casegrid::Position;

constexpr std::size_t kRawBatch = 256;
constexpr std::size_t kStreamPool = 1000;
constexpr std::size_t kFillBatch = 500;
constexpr std::size_t kReadPage = 1000;
constexpr const char* kType = "NoteAdded";
constexpr const char* kActor = "officer-7";

struct Flags {
  std::string dir = "/tmp";
  double seconds = 3;
  std::uint64_t catchup_events = 200000;
  std::uint64_t view_events = 200000;
  bool skip_views = false;
  bool quick = false;
};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string StreamName(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "case/C-20261122-%06zu", i);
  return buf;
}

// A canonical JSON object of about 200 bytes, as a typical note.
std::string EventData() {
  std::string text =
      "Officer visited the applicant at home; documents reviewed and copied. Follow-up "
      "scheduled with the housing office, reference pending. Applicant asked for an update by "
      "mail.";
  auto canonical = casegrid::CanonicalizeObject("{\"text\":\"" + text + "\"}");
  if (!canonical.ok()) {
    std::fprintf(stderr, "event data is not valid JSON: %s\n",
                 canonical.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(canonical).value();
}

std::optional<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  std::optional<double> seconds;
  std::optional<std::uint64_t> catchup;
  std::optional<std::uint64_t> view_events;
  for (int i = 1; i < argc; ++i) {
    const std::string_view name = argv[i];
    if (name == "--quick") {
      flags.quick = true;
      continue;
    }
    if (name == "--skip-views") {
      flags.skip_views = true;
      continue;
    }
    if (name != "--dir" && name != "--seconds" && name != "--catchup-events" &&
        name != "--view-events") {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return std::nullopt;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", argv[i]);
      return std::nullopt;
    }
    const std::string value = argv[++i];
    char* end = nullptr;
    if (name == "--dir") {
      flags.dir = value;
    } else if (name == "--seconds") {
      seconds = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0' || !(*seconds > 0)) {
        std::fprintf(stderr, "--seconds wants a positive number, not %s\n", value.c_str());
        return std::nullopt;
      }
    } else {
      const std::uint64_t n = std::strtoull(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || n == 0 || value[0] == '-') {
        std::fprintf(stderr, "%s wants a positive integer, not %s\n", argv[i - 1], value.c_str());
        return std::nullopt;
      }
      (name == "--catchup-events" ? catchup : view_events) = n;
    }
  }
  if (flags.quick) {
    flags.seconds = 1;
    flags.catchup_events = 20000;
    flags.view_events = 20000;
  }
  // Explicit values win over --quick whatever the order.
  if (seconds) flags.seconds = *seconds;
  if (catchup) flags.catchup_events = *catchup;
  if (view_events) flags.view_events = *view_events;
  return flags;
}

// Warm-up before each timed phase: long enough to create threads, fill caches and let the
// group commit settle into its rhythm.
double WarmupSeconds(const Flags& flags) {
  return flags.quick ? 0.25 : 0.5;
}

// Runs the measuring window of an append run whose appenders are already
// going: warm-up, then phase 1 (count) for flags.seconds, then phase 2
// (stop). An append counts when it completes in phase 1. Returns the
// window's length in seconds.
double MeasureWindow(const Flags& flags, std::atomic<int>& phase) {
  std::this_thread::sleep_for(std::chrono::duration<double>(WarmupSeconds(flags)));
  int expected_phase = 0;
  phase.compare_exchange_strong(expected_phase, 1);
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  phase.store(2);
  return SecondsSince(start);
}

// ---------------------------------------------------------------- raw RocksDB

enum class RawLayout {
  kRecords,  // one default column family, the event record only
  kCasegrid  // casegrid's five column families and its four key-values per event
};

// Returns events/s, or nullopt after printing why it failed.
std::optional<double> RunRaw(const Flags& flags, const std::string& path, const std::string& data,
                             RawLayout layout) {
  const char* const label =
      layout == RawLayout::kRecords ? "raw_batched_fsync_records" : "raw_batched_fsync_layout";
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  if (layout == RawLayout::kCasegrid) {
    for (const char* name :
         {casegrid::storage::kMetaFamily, casegrid::storage::kEventsFamily,
          casegrid::storage::kStreamsFamily, casegrid::storage::kStreamIndexFamily,
          casegrid::storage::kEventIdsFamily}) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions(options));
    }
  } else {
    descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                             rocksdb::ColumnFamilyOptions(options));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  const rocksdb::Status open = rocksdb::DB::Open(options, path, descriptors, &handles, &raw_db);
  if (!open.ok()) {
    std::fprintf(stderr, "%s: opening %s: %s\n", label, path.c_str(), open.ToString().c_str());
    return std::nullopt;
  }
  std::unique_ptr<rocksdb::DB> db(raw_db);
  // Handles go before the database does, however this returns.
  struct Handles {
    rocksdb::DB* db;
    std::vector<rocksdb::ColumnFamilyHandle*>& handles;
    ~Handles() {
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
  } handles_guard{db.get(), handles};
  rocksdb::ColumnFamilyHandle* const events_cf =
      layout == RawLayout::kCasegrid ? handles[1] : handles[0];

  // The bytes casegrid stores for one event; position, version, id and hash vary per record.
  casegrid::RecordedEvent event;
  event.type = kType;
  event.actor = kActor;
  event.data = data;
  event.recorded_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  std::vector<std::string> streams;
  for (std::size_t i = 0; i < kStreamPool; ++i) streams.push_back(StreamName(i));

  rocksdb::WriteOptions wo;
  wo.sync = true;
  Position position = 0;
  auto write_batch = [&]() -> bool {
    rocksdb::WriteBatch batch;
    for (std::size_t i = 0; i < kRawBatch; ++i) {
      ++position;
      event.position = position;
      // Position p goes to stream p % kStreamPool, which gets one event per kStreamPool
      // positions: this is its version.
      event.version = position / kStreamPool + 1;
      event.stream = streams[position % kStreamPool];
      char id[33];
      std::snprintf(id, sizeof id, "%016" PRIx64 "%016" PRIx64,
                    static_cast<std::uint64_t>(position * 0x9E3779B97F4A7C15ULL),
                    static_cast<std::uint64_t>(position * 0xC2B2AE3D27D4EB4FULL));
      event.id = id;
      for (std::size_t b = 0; b < event.hash.size(); ++b) {
        event.hash[b] = static_cast<std::uint8_t>((position >> (8 * (b % 8))) + b);
      }
      const std::string pos_key = casegrid::storage::EncodeBigEndian64(position);
      batch.Put(events_cf, pos_key, casegrid::storage::EncodeRecord(event)).PermitUncheckedError();
      if (layout == RawLayout::kCasegrid) {
        batch
            .Put(handles[3], casegrid::storage::StreamIndexKey(event.stream, event.version),
                 pos_key)
            .PermitUncheckedError();
        batch.Put(handles[4], event.id, pos_key).PermitUncheckedError();
        batch
            .Put(handles[2], event.stream,
                 casegrid::storage::EncodeStreamHead({event.version, position}))
            .PermitUncheckedError();
      }
    }
    const rocksdb::Status s = db->Write(wo, &batch);
    if (!s.ok()) {
      std::fprintf(stderr, "%s: write failed: %s\n", label, s.ToString().c_str());
      return false;
    }
    return true;
  };

  const auto warmup_start = Clock::now();
  while (SecondsSince(warmup_start) < WarmupSeconds(flags)) {
    if (!write_batch()) return std::nullopt;
  }
  const Position before = position;
  const auto start = Clock::now();
  double elapsed = 0;
  while ((elapsed = SecondsSince(start)) < flags.seconds) {
    if (!write_batch()) return std::nullopt;
  }
  elapsed = SecondsSince(start);
  const double rate = static_cast<double>(position - before) / elapsed;
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  handles.clear();
  const rocksdb::Status closed = db->Close();
  if (!closed.ok()) {
    std::fprintf(stderr, "%s: close failed: %s\n", label, closed.ToString().c_str());
    return std::nullopt;
  }
  return rate;
}

// ---------------------------------------------------------------- appends

std::optional<std::unique_ptr<casegrid::EventStore>> OpenStore(const std::string& path) {
  casegrid::StoreOptions options;
  options.path = path;
  auto store = casegrid::EventStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "opening store %s: %s\n", path.c_str(), store.status().ToString().c_str());
    return std::nullopt;
  }
  return std::move(store).value();
}

struct AppendStats {
  double events_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
};

double Percentile(const std::vector<std::int64_t>& sorted_ns, double q) {
  if (sorted_ns.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted_ns.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted_ns.size());
  return static_cast<double>(sorted_ns[rank - 1]) / 1000.0;
}

// `threads` appenders, one event per Append, for flags.seconds after the warm-up.
std::optional<AppendStats> RunAppends(const Flags& flags, const std::string& path,
                                      std::size_t threads, const std::string& data) {
  auto opened = OpenStore(path);
  if (!opened) return std::nullopt;
  std::unique_ptr<casegrid::EventStore> store = std::move(*opened);

  // Phases: 0 warm-up, 1 measuring, 2 stop. An append counts (events and latency) when it
  // completes during the measuring phase.
  std::atomic<int> phase{0};
  std::atomic<bool> failed{false};
  std::mutex failure_mu;
  std::string failure;
  // One latency list per thread, each on its own cache line; its size is the thread's count.
  struct alignas(64) ThreadLatencies {
    std::vector<std::int64_t> ns;
  };
  std::vector<ThreadLatencies> latencies(threads);

  auto appender = [&](std::size_t t) {
    std::vector<std::string> streams;
    for (std::size_t s = t; s < kStreamPool; s += threads) streams.push_back(StreamName(s));
    if (streams.empty()) streams.push_back(StreamName(t % kStreamPool));
    latencies[t].ns.reserve(4096);
    for (std::size_t i = 0; phase.load(std::memory_order_relaxed) != 2; ++i) {
      casegrid::AppendRequest request;
      request.stream = streams[i % streams.size()];
      request.expected = casegrid::ExpectedVersion::Any();
      request.actor = kActor;
      request.events.push_back(casegrid::NewEvent{"", kType, data});
      const auto begin = Clock::now();
      auto result = store->Append(std::move(request));
      const auto end = Clock::now();
      if (!result.ok()) {
        std::lock_guard l(failure_mu);
        if (!failed.exchange(true)) {
          failure = "append_threads_" + std::to_string(threads) + ": Append to " +
                    streams[i % streams.size()] + " failed: " + result.status().ToString();
        }
        phase.store(2);
        return;
      }
      if (phase.load(std::memory_order_acquire) == 1) {
        latencies[t].ns.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(end - begin).count());
      }
    }
  };

  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (std::size_t t = 0; t < threads; ++t) workers.emplace_back(appender, t);
  const double elapsed = MeasureWindow(flags, phase);
  for (auto& w : workers) w.join();
  if (failed) {
    std::fprintf(stderr, "%s\n", failure.c_str());
    return std::nullopt;
  }

  std::vector<std::int64_t> all;
  std::uint64_t events = 0;
  for (std::size_t t = 0; t < threads; ++t) {
    all.insert(all.end(), latencies[t].ns.begin(), latencies[t].ns.end());
    events += latencies[t].ns.size();
  }
  std::sort(all.begin(), all.end());
  AppendStats stats;
  stats.events_per_second = static_cast<double>(events) / elapsed;
  stats.p50_us = Percentile(all, 0.50);
  stats.p99_us = Percentile(all, 0.99);
  return stats;
}

// `in_flight` appends kept going through AppendAsync: each completion (on the committer thread)
// issues the next append of its slot. Measured like RunAppends: an append counts when it completes
// during the measuring phase.
std::optional<AppendStats> RunAsyncAppends(const Flags& flags, const std::string& path,
                                           std::size_t in_flight, const std::string& data) {
  auto opened = OpenStore(path);
  if (!opened) return std::nullopt;
  std::unique_ptr<casegrid::EventStore> store = std::move(*opened);

  // One slot per append kept in flight. A slot has one append outstanding at a time, and its
  // completion happens after its issue (through the store's queue lock), so a slot's fields need
  // no lock of their own.
  struct alignas(64) Slot {
    std::vector<std::string> streams;
    std::size_t next = 0;
    Clock::time_point issued;
    std::vector<std::int64_t> ns;
  };
  std::vector<Slot> slots(in_flight);
  // Phases as in RunAppends: 0 warm-up, 1 measuring, 2 stop.
  std::atomic<int> phase{0};
  std::atomic<std::size_t> outstanding{0};
  std::atomic<bool> failed{false};
  std::mutex failure_mu;
  std::string failure;
  const std::string label = "append_async_" + std::to_string(in_flight);

  std::function<void(std::size_t)> issue;
  issue = [&](std::size_t s) {
    Slot& slot = slots[s];
    casegrid::AppendRequest request;
    request.stream = slot.streams[slot.next++ % slot.streams.size()];
    request.expected = casegrid::ExpectedVersion::Any();
    request.actor = kActor;
    request.events.push_back(casegrid::NewEvent{"", kType, data});
    slot.issued = Clock::now();
    store->AppendAsync(std::move(request), [&, s](casegrid::Result<casegrid::AppendResult> result) {
      const auto end = Clock::now();
      Slot& done = slots[s];
      const int now_phase = phase.load(std::memory_order_acquire);
      // After the stop, outcomes (including "the store is closing") are not looked at.
      if (now_phase != 2 && !result.ok()) {
        std::lock_guard l(failure_mu);
        if (!failed.exchange(true)) {
          failure = label + ": AppendAsync to " +
                    done.streams[(done.next - 1) % done.streams.size()] +
                    " failed: " + result.status().ToString();
        }
        phase.store(2);
      } else if (now_phase == 1) {
        done.ns.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(end - done.issued).count());
      }
      if (phase.load(std::memory_order_acquire) != 2) {
        issue(s);
      } else {
        outstanding.fetch_sub(1, std::memory_order_acq_rel);
      }
    });
  };

  for (std::size_t s = 0; s < in_flight; ++s) {
    for (std::size_t k = s; k < kStreamPool; k += in_flight) {
      slots[s].streams.push_back(StreamName(k));
    }
    if (slots[s].streams.empty()) slots[s].streams.push_back(StreamName(s % kStreamPool));
    slots[s].ns.reserve(4096);
  }
  outstanding.store(in_flight);
  for (std::size_t s = 0; s < in_flight; ++s) issue(s);
  const double elapsed = MeasureWindow(flags, phase);
  // Every slot's last append answered: nothing refers to this frame any more once the store is
  // gone (closing it also joins the committer thread).
  while (outstanding.load(std::memory_order_acquire) != 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  store.reset();
  if (failed) {
    std::fprintf(stderr, "%s\n", failure.c_str());
    return std::nullopt;
  }

  std::vector<std::int64_t> all;
  for (const Slot& slot : slots) all.insert(all.end(), slot.ns.begin(), slot.ns.end());
  std::sort(all.begin(), all.end());
  AppendStats stats;
  stats.events_per_second = static_cast<double>(all.size()) / elapsed;
  stats.p50_us = Percentile(all, 0.50);
  stats.p99_us = Percentile(all, 0.99);
  return stats;
}

// ---------------------------------------------------------------- catch-up

struct CatchupStats {
  double read_per_second = 0;
  double subscription_per_second = 0;
};

std::optional<CatchupStats> RunCatchup(const Flags& flags, const std::string& path,
                                       const std::string& data) {
  auto opened = OpenStore(path);
  if (!opened) return std::nullopt;
  std::unique_ptr<casegrid::EventStore> store = std::move(*opened);

  // Fill: kFillBatch events per Append, round robin over the stream pool.
  const auto fill_start = Clock::now();
  std::uint64_t filled = 0;
  for (std::size_t i = 0; filled < flags.catchup_events; ++i) {
    casegrid::AppendRequest request;
    request.stream = StreamName(i % kStreamPool);
    request.expected = casegrid::ExpectedVersion::Any();
    request.actor = kActor;
    const std::uint64_t n = std::min<std::uint64_t>(kFillBatch, flags.catchup_events - filled);
    for (std::uint64_t k = 0; k < n; ++k) {
      request.events.push_back(casegrid::NewEvent{"", kType, data});
    }
    auto result = store->Append(std::move(request));
    if (!result.ok()) {
      std::fprintf(stderr, "catch-up fill: Append failed: %s\n",
                   result.status().ToString().c_str());
      return std::nullopt;
    }
    filled += n;
  }
  std::fprintf(stderr, "  (filled %" PRIu64 " events in %.2f s)\n", filled,
               SecondsSince(fill_start));

  const Position head = store->Head().position;
  if (head != flags.catchup_events) {
    std::fprintf(stderr, "catch-up fill: head is %" PRIu64 ", expected %" PRIu64 "\n", head,
                 flags.catchup_events);
    return std::nullopt;
  }

  // Reopen, so that the reads find the log as a catching-up reader usually does: in table files
  // (RocksDB flushes the recovered log on open), with no flush or compaction of the fill racing
  // the measurement.
  store.reset();
  opened = OpenStore(path);
  if (!opened) return std::nullopt;
  store = std::move(*opened);
  if (store->Head().position != head) {
    std::fprintf(stderr, "catch-up: head after reopening is %" PRIu64 ", expected %" PRIu64 "\n",
                 store->Head().position, head);
    return std::nullopt;
  }
  ::sync();

  CatchupStats stats;
  {
    const auto start = Clock::now();
    Position after = 0;
    while (after < head) {
      auto page = store->ReadAll(after, kReadPage);
      if (!page.ok()) {
        std::fprintf(stderr, "catchup_read: ReadAll(%" PRIu64 ") failed: %s\n", after,
                     page.status().ToString().c_str());
        return std::nullopt;
      }
      if (page->empty() || page->front().position != after + 1) {
        std::fprintf(stderr, "catchup_read: ReadAll(%" PRIu64 ") did not continue the log\n",
                     after);
        return std::nullopt;
      }
      after = page->back().position;
    }
    stats.read_per_second = static_cast<double>(head) / SecondsSince(start);
  }
  {
    const auto start = Clock::now();
    std::unique_ptr<casegrid::Subscription> sub = store->Subscribe(0, {});
    std::vector<casegrid::RecordedEvent> out;
    out.reserve(kReadPage);
    Position seen = 0;
    while (seen < head) {
      out.clear();
      const casegrid::Status s = sub->Next(&out, kReadPage, std::chrono::milliseconds(0));
      if (!s.ok()) {
        std::fprintf(stderr, "catchup_subscription: Next failed: %s\n", s.ToString().c_str());
        return std::nullopt;
      }
      if (out.empty() || out.front().position != seen + 1) {
        std::fprintf(stderr, "catchup_subscription: Next did not continue the log at %" PRIu64 "\n",
                     seen + 1);
        return std::nullopt;
      }
      seen = out.back().position;
    }
    stats.subscription_per_second = static_cast<double>(head) / SecondsSince(start);
  }
  return stats;
}

// ---------------------------------------------------------------- views

// 2026-11-22T10:31:02.123Z, as the tests start their manual clocks.
constexpr std::int64_t kViewClockStartMs = 1795343462123;
constexpr std::size_t kFillThreads = 8;
constexpr std::size_t kHistorySamples = 1000;
constexpr std::size_t kAsOfSamples = 200;
constexpr const char* kAsOfCell = "santai/tongchuan";
constexpr int kScanRuns = 3;

struct ViewStats {
  Position events = 0;
  double scan_per_second = 0;
  double scan_mb = 0;  // keys and values of the events column family
  double rebuild_per_second = 0;
  std::size_t cases = 0;
  double history_p50_us = 0, history_p99_us = 0, history_mean_events = 0;
  double root_p50_us = 0, root_p99_us = 0;
  double cell_p50_us = 0, cell_p99_us = 0;
};

std::optional<std::unique_ptr<casegrid::EventStore>> OpenStoreWithClock(
    const std::string& path, const casegrid::Clock* clock) {
  casegrid::StoreOptions options;
  options.path = path;
  options.clock = clock;
  auto store = casegrid::EventStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "opening store %s: %s\n", path.c_str(), store.status().ToString().c_str());
    return std::nullopt;
  }
  return std::move(store).value();
}

// Fills `path` with flags.view_events events (a few more: the fillers stop once the head
// reaches it) from random case commands. Returns the position of the last grid event, which
// every as_of sample comes after.
std::optional<Position> FillViewLog(const Flags& flags, const std::string& path) {
  casegrid::ManualClock clock(kViewClockStartMs);
  auto opened = OpenStoreWithClock(path, &clock);
  if (!opened) return std::nullopt;
  std::unique_ptr<casegrid::EventStore> store = std::move(*opened);
  casegrid::CaseServiceOptions service_options;
  service_options.clock = &clock;
  auto service = casegrid::CaseService::Open(store.get(), service_options);
  if (!service.ok()) {
    std::fprintf(stderr, "views: opening the case service: %s\n",
                 service.status().ToString().c_str());
    return std::nullopt;
  }
  casegrid::testing::DefineRandomGrid(**service);
  const Position grid_head = store->Head().position;

  const auto fill_start = Clock::now();
  std::atomic<std::uint64_t> steps{0};
  std::vector<std::thread> fillers;
  for (std::size_t t = 0; t < kFillThreads; ++t) {
    fillers.emplace_back([&, t] {
      casegrid::testing::RandomCommands commands(**service, &clock,
                                                 static_cast<unsigned>(1000 + t));
      std::uint64_t n = 0;
      while (store->Head().position < flags.view_events) {
        commands.Step();
        ++n;
      }
      steps.fetch_add(n);
    });
  }
  for (auto& f : fillers) f.join();
  const Position head = store->Head().position;
  std::fprintf(stderr,
               "  (views: filled %" PRIu64 " events from %" PRIu64
               " random commands on %zu threads in %.2f s)\n",
               head, steps.load(), kFillThreads, SecondsSince(fill_start));
  if (head < flags.view_events) {
    std::fprintf(stderr, "views: fill stopped at %" PRIu64 "\n", head);
    return std::nullopt;
  }
  if (head <= grid_head) {
    std::fprintf(stderr, "views: no event after the grid's\n");
    return std::nullopt;
  }
  return grid_head;
}

// A plain iterator over the events column family of the store at `path`, opened read-only.
// Returns what it saw, or nullopt after printing why it failed.
struct ScanResult {
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;  // of the iteration, without opening and closing
};

std::optional<ScanResult> RawScan(const std::string& path) {
  rocksdb::Options options;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : {casegrid::storage::kMetaFamily, casegrid::storage::kEventsFamily,
                           casegrid::storage::kStreamsFamily, casegrid::storage::kStreamIndexFamily,
                           casegrid::storage::kEventIdsFamily}) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions(options));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  const rocksdb::Status open =
      rocksdb::DB::OpenForReadOnly(options, path, descriptors, &handles, &raw_db);
  if (!open.ok()) {
    std::fprintf(stderr, "raw_scan: opening %s read-only: %s\n", path.c_str(),
                 open.ToString().c_str());
    return std::nullopt;
  }
  std::unique_ptr<rocksdb::DB> db(raw_db);
  ScanResult result;
  rocksdb::Status iterated;
  {
    const auto start = Clock::now();
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[1]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++result.events;
      result.bytes += it->key().size() + it->value().size();
    }
    iterated = it->status();
    result.seconds = SecondsSince(start);
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  db->Close().PermitUncheckedError();
  if (!iterated.ok()) {
    std::fprintf(stderr, "raw_scan: %s\n", iterated.ToString().c_str());
    return std::nullopt;
  }
  return result;
}

std::optional<ViewStats> RunViews(const Flags& flags, const std::string& log_path,
                                  const std::string& views_path) {
  const std::optional<Position> grid_head = FillViewLog(flags, log_path);
  if (!grid_head) return std::nullopt;

  // Reopen once, so that the log is in table files (RocksDB flushes the recovered WAL on a
  // read-write open; a read-only open would replay it into a memtable) and no flush or compaction
  // of the fill races the measurements.
  Position head = 0;
  {
    auto opened = OpenStore(log_path);
    if (!opened) return std::nullopt;
    head = (*opened)->Head().position;
  }
  ::sync();

  ViewStats stats;
  stats.events = head;
  {
    // The median of three scans: one scan is a fraction of a second, and on
    // a shared machine one alone moved from 0.9 to 1.7 million events/s
    // between runs, which the ratio below would carry.
    std::vector<double> speeds;
    for (int run = 0; run < kScanRuns; ++run) {
      const auto scanned = RawScan(log_path);
      if (!scanned) return std::nullopt;
      if (scanned->events != head) {
        std::fprintf(stderr, "raw_scan: saw %" PRIu64 " events, the head is %" PRIu64 "\n",
                     scanned->events, head);
        return std::nullopt;
      }
      speeds.push_back(static_cast<double>(scanned->events) / scanned->seconds);
      stats.scan_mb = static_cast<double>(scanned->bytes) / 1e6;
    }
    std::sort(speeds.begin(), speeds.end());
    stats.scan_per_second = speeds[speeds.size() / 2];
  }

  auto opened = OpenStore(log_path);
  if (!opened) return std::nullopt;
  std::unique_ptr<casegrid::EventStore> store = std::move(*opened);
  {
    const auto start = Clock::now();
    const casegrid::Status rebuilt = casegrid::RebuildViews(store.get(), views_path);
    if (!rebuilt.ok()) {
      std::fprintf(stderr, "rebuild: %s\n", rebuilt.ToString().c_str());
      return std::nullopt;
    }
    stats.rebuild_per_second = static_cast<double>(head) / SecondsSince(start);
  }

  std::mt19937_64 rng(42);
  {
    std::vector<std::string> cases;
    std::string after;
    while (true) {
      auto page = store->ListStreams("case/", after, 10000);
      if (!page.ok()) {
        std::fprintf(stderr, "case_history_latency: ListStreams: %s\n",
                     page.status().ToString().c_str());
        return std::nullopt;
      }
      if (page->empty()) break;
      after = page->back();
      for (auto& c : *page) cases.push_back(std::move(c));
    }
    stats.cases = cases.size();
    if (cases.empty()) {
      std::fprintf(stderr, "case_history_latency: the log has no case\n");
      return std::nullopt;
    }
    std::vector<std::int64_t> ns;
    std::uint64_t events = 0;
    for (std::size_t i = 0; i < kHistorySamples; ++i) {
      const std::string& stream =
          cases[std::uniform_int_distribution<std::size_t>(0, cases.size() - 1)(rng)];
      const auto begin = Clock::now();
      auto history = store->ReadStream(stream, 1, 1000, casegrid::ReadDirection::kForward);
      const auto end = Clock::now();
      if (!history.ok() || history->empty()) {
        std::fprintf(stderr, "case_history_latency: ReadStream(%s): %s\n", stream.c_str(),
                     history.ok() ? "empty" : history.status().ToString().c_str());
        return std::nullopt;
      }
      events += history->size();
      ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - begin).count());
    }
    std::sort(ns.begin(), ns.end());
    stats.history_p50_us = Percentile(ns, 0.50);
    stats.history_p99_us = Percentile(ns, 0.99);
    stats.history_mean_events = static_cast<double>(events) / kHistorySamples;
  }

  {
    casegrid::ProjectorOptions options;
    options.path = views_path;
    auto projector = casegrid::Projector::Open(store.get(), options);
    if (!projector.ok()) {
      std::fprintf(stderr, "dashboard_as_of_latency: opening the projector: %s\n",
                   projector.status().ToString().c_str());
      return std::nullopt;
    }
    if ((*projector)->position() != head) {
      std::fprintf(stderr,
                   "dashboard_as_of_latency: views at %" PRIu64 ", the log's head is %" PRIu64 "\n",
                   (*projector)->position(), head);
      return std::nullopt;
    }
    std::uniform_int_distribution<Position> at(*grid_head + 1, head);
    for (const std::string_view path : {std::string_view(""), std::string_view(kAsOfCell)}) {
      std::vector<std::int64_t> ns;
      for (std::size_t i = 0; i < kAsOfSamples; ++i) {
        const Position position = at(rng);
        const auto begin = Clock::now();
        auto dashboard = (*projector)->DashboardAsOf(path, position);
        const auto end = Clock::now();
        if (!dashboard.ok()) {
          std::fprintf(stderr,
                       "dashboard_as_of_latency: DashboardAsOf(\"%.*s\", %" PRIu64 "): %s\n",
                       static_cast<int>(path.size()), path.data(), position,
                       dashboard.status().ToString().c_str());
          return std::nullopt;
        }
        ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - begin).count());
      }
      std::sort(ns.begin(), ns.end());
      (path.empty() ? stats.root_p50_us : stats.cell_p50_us) = Percentile(ns, 0.50);
      (path.empty() ? stats.root_p99_us : stats.cell_p99_us) = Percentile(ns, 0.99);
    }
  }
  return stats;
}

// ---------------------------------------------------------------- main

// Removes the run folder however main returns.
class ScratchFolder {
 public:
  explicit ScratchFolder(std::string path) : path_(std::move(path)) {}
  ~ScratchFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec) std::fprintf(stderr, "could not remove %s: %s\n", path_.c_str(), ec.message().c_str());
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;

  // A fresh subfolder path for one measurement. Earlier ones stay until the end: deleting
  // hundreds of MB mid-run (ext4 with online discard) stalls the next run's fsyncs for seconds.
  // Dirty pages are written back first so that one run's writeback does not land in the next.
  std::string Fresh(const std::string& name) {
    ::sync();
    return path_ + "/" + name;
  }

 private:
  std::string path_;
};

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Flags> parsed = ParseFlags(argc, argv);
  if (!parsed) {
    std::fprintf(stderr,
                 "usage: casegrid-bench [--seconds N] [--catchup-events N] [--view-events N] "
                 "[--skip-views] [--dir DIR] [--quick]\n");
    return 2;
  }
  const Flags& flags = *parsed;

  std::error_code ec;
  std::filesystem::create_directories(flags.dir, ec);
  std::string run_dir = flags.dir + "/casegrid-bench-XXXXXX";
  if (mkdtemp(run_dir.data()) == nullptr) {
    std::fprintf(stderr, "cannot make a temp folder under %s\n", flags.dir.c_str());
    return 1;
  }
  ScratchFolder scratch(run_dir);
  std::fprintf(
      stderr, "casegrid-bench: %.2f s per run, %" PRIu64 " catch-up events, %s, in %s\n",
      flags.seconds, flags.catchup_events,
      flags.skip_views ? "no views" : (std::to_string(flags.view_events) + " view events").c_str(),
      run_dir.c_str());

  const std::string data = EventData();

  const auto raw_records = RunRaw(flags, scratch.Fresh("raw_records"), data, RawLayout::kRecords);
  if (!raw_records) return 1;
  std::printf("raw_batched_fsync_records: %.0f events/s (batches of %zu)\n", *raw_records,
              kRawBatch);
  std::fflush(stdout);
  const auto raw_layout = RunRaw(flags, scratch.Fresh("raw_layout"), data, RawLayout::kCasegrid);
  if (!raw_layout) return 1;
  std::printf("raw_batched_fsync_layout: %.0f events/s (batches of %zu, 4 key-values each)\n",
              *raw_layout, kRawBatch);
  std::fflush(stdout);

  const std::size_t kConcurrency[] = {1, 16, 256};
  for (std::size_t threads : kConcurrency) {
    const std::string name = "append_threads_" + std::to_string(threads);
    const auto stats = RunAppends(flags, scratch.Fresh(name), threads, data);
    if (!stats) return 1;
    std::printf("%s: %.0f events/s p50 %.0f us p99 %.0f us\n", name.c_str(),
                stats->events_per_second, stats->p50_us, stats->p99_us);
    std::fflush(stdout);
  }
  double async_256 = 0;
  for (std::size_t in_flight : kConcurrency) {
    const std::string name = "append_async_" + std::to_string(in_flight);
    const auto stats = RunAsyncAppends(flags, scratch.Fresh(name), in_flight, data);
    if (!stats) return 1;
    std::printf("%s: %.0f events/s p50 %.0f us p99 %.0f us\n", name.c_str(),
                stats->events_per_second, stats->p50_us, stats->p99_us);
    std::fflush(stdout);
    if (in_flight == 256) async_256 = stats->events_per_second;
  }
  std::printf("append_vs_raw_records_ratio: %.3f\n", async_256 / *raw_records);
  std::printf("append_vs_raw_ratio: %.3f\n", async_256 / *raw_layout);
  std::fflush(stdout);

  const auto catchup = RunCatchup(flags, scratch.Fresh("catchup"), data);
  if (!catchup) return 1;
  std::printf("catchup_read: %.0f events/s\n", catchup->read_per_second);
  std::printf("catchup_subscription: %.0f events/s\n", catchup->subscription_per_second);
  std::fflush(stdout);

  if (!flags.skip_views) {
    const std::string log_path = scratch.Fresh("views_log");
    const auto views = RunViews(flags, log_path, scratch.Fresh("views"));
    if (!views) return 1;
    std::printf("raw_scan: %.0f events/s (%" PRIu64 " events, %.1f MB)\n", views->scan_per_second,
                views->events, views->scan_mb);
    std::printf("rebuild: %.0f events/s\n", views->rebuild_per_second);
    std::printf(
        "case_history_latency: p50 %.0f us p99 %.0f us (%zu reads over %zu cases, %.1f "
        "events each on average)\n",
        views->history_p50_us, views->history_p99_us, kHistorySamples, views->cases,
        views->history_mean_events);
    std::printf(
        "dashboard_as_of_latency: root p50 %.0f us p99 %.0f us, %s p50 %.0f us p99 %.0f "
        "us (%zu positions each; the page cache warm from the rebuild)\n",
        views->root_p50_us, views->root_p99_us, kAsOfCell, views->cell_p50_us, views->cell_p99_us,
        kAsOfSamples);
    std::printf("rebuild_vs_scan_ratio: %.3f\n",
                views->rebuild_per_second / views->scan_per_second);
    std::fflush(stdout);
  }
  return 0;
}
