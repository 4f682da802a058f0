// casegrid-bench: throughput and latency of the event store, against a plain RocksDB baseline.
//
// One run measures, each on a fresh store folder:
//   raw_batched_fsync     plain RocksDB (one default column family), one thread writing
//                         WriteBatches of 256 casegrid event records with sync=true: the ceiling.
//   append_1/16/256       EventStore::Append of one event per call from 1, 16 and 256 threads
//                         (group commit), with per-append latency p50/p99.
//   catchup_read          EventStore::ReadAll in pages of 1000 over a filled log.
//   catchup_subscription  the same log through Subscribe(0) and Subscription::Next.
// The last line is append_256 / raw_batched_fsync.
//
// Run: build/bin/casegrid-bench [--seconds 3] [--catchup-events 200000] [--dir /tmp] [--quick]
// --dir is where the temporary store folders go (inside a fresh casegrid-bench-XXXXXX folder,
// removed at the end); --quick is a smoke run (1 second each, 20000 catch-up events).

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
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/canonical_json.h"
#include "engine/event.h"
#include "engine/event_store.h"
#include "engine/record_format.h"
#include "engine/status.h"
#include "engine/subscription.h"

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
  for (int i = 1; i < argc; ++i) {
    const std::string_view name = argv[i];
    if (name == "--quick") {
      flags.quick = true;
      continue;
    }
    if (name != "--dir" && name != "--seconds" && name != "--catchup-events") {
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
      catchup = std::strtoull(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || *catchup == 0) {
        std::fprintf(stderr, "--catchup-events wants a positive integer, not %s\n", value.c_str());
        return std::nullopt;
      }
    }
  }
  if (flags.quick) {
    flags.seconds = 1;
    flags.catchup_events = 20000;
  }
  // Explicit values win over --quick whatever the order.
  if (seconds) flags.seconds = *seconds;
  if (catchup) flags.catchup_events = *catchup;
  return flags;
}

// Warm-up before each timed phase: long enough to create threads, fill caches and let the
// group commit settle into its rhythm.
double WarmupSeconds(const Flags& flags) {
  return flags.quick ? 0.25 : 0.5;
}

// ---------------------------------------------------------------- raw RocksDB

// Returns events/s, or nullopt after printing why it failed.
std::optional<double> RunRaw(const Flags& flags, const std::string& path, const std::string& data) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw_db = nullptr;
  const rocksdb::Status open = rocksdb::DB::Open(options, path, &raw_db);
  if (!open.ok()) {
    std::fprintf(stderr, "raw: opening %s: %s\n", path.c_str(), open.ToString().c_str());
    return std::nullopt;
  }
  std::unique_ptr<rocksdb::DB> db(raw_db);

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
      batch
          .Put(casegrid::storage::EncodeBigEndian64(position),
               casegrid::storage::EncodeRecord(event))
          .PermitUncheckedError();
    }
    const rocksdb::Status s = db->Write(wo, &batch);
    if (!s.ok()) {
      std::fprintf(stderr, "raw: write failed: %s\n", s.ToString().c_str());
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
  const rocksdb::Status closed = db->Close();
  if (!closed.ok()) {
    std::fprintf(stderr, "raw: close failed: %s\n", closed.ToString().c_str());
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
          failure = "append_" + std::to_string(threads) + ": Append to " +
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
  std::this_thread::sleep_for(std::chrono::duration<double>(WarmupSeconds(flags)));
  int expected_phase = 0;
  phase.compare_exchange_strong(expected_phase, 1);
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  // Appends that complete after this store are outside the window and are not counted.
  phase.store(2);
  const double elapsed = SecondsSince(start);
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
                 "usage: casegrid-bench [--seconds N] [--catchup-events N] [--dir DIR] "
                 "[--quick]\n");
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
  std::fprintf(stderr, "casegrid-bench: %.2f s per run, %" PRIu64 " catch-up events, in %s\n",
               flags.seconds, flags.catchup_events, run_dir.c_str());

  const std::string data = EventData();

  const auto raw = RunRaw(flags, scratch.Fresh("raw"), data);
  if (!raw) return 1;
  std::printf("raw_batched_fsync: %.0f events/s (batches of %zu)\n", *raw, kRawBatch);
  std::fflush(stdout);

  double append_256 = 0;
  for (std::size_t threads : {std::size_t{1}, std::size_t{16}, std::size_t{256}}) {
    const std::string name = "append_" + std::to_string(threads);
    const auto stats = RunAppends(flags, scratch.Fresh(name), threads, data);
    if (!stats) return 1;
    std::printf("%s: %.0f events/s p50 %.0f us p99 %.0f us\n", name.c_str(),
                stats->events_per_second, stats->p50_us, stats->p99_us);
    std::fflush(stdout);
    if (threads == 256) append_256 = stats->events_per_second;
  }

  const auto catchup = RunCatchup(flags, scratch.Fresh("catchup"), data);
  if (!catchup) return 1;
  std::printf("catchup_read: %.0f events/s\n", catchup->read_per_second);
  std::printf("catchup_subscription: %.0f events/s\n", catchup->subscription_per_second);

  std::printf("append_vs_raw_ratio: %.3f\n", append_256 / *raw);
  return 0;
}
