// WriterFleet: casegrid-load's writers — `count` keep-alive HTTP/1.1
// connections, each walking cases through their lifecycle (report, assign
// to itself, accept, notes, a mediation for disputes, resolve, close) with
// the case's expected_version, until a deadline.
//
// Each write's latency (request sent -> 2xx answer read) goes into
// WriteStats; the positions a 2xx answer acknowledges (an answer names the
// last position and the case's version, so an answer for n events
// acknowledges the n positions ending there) go into AckTimes with the time
// the answer was read. A non-2xx answer is counted by status with a sample of
// its body, and the writer starts a new case: the generator never races
// itself, so any non-2xx is a failure to report.
//
// A connection that fails (connect, write or read) is counted in
// WriteStats::connection_errors and opened again after a backoff: 50 ms,
// doubling up to 1 s while the failures follow one another, back to 50 ms
// once an answer comes.
//
// Asynchronous Beast on the caller's io_context (one strand per writer); a
// writer paces itself to `rate_per_writer` writes a second when that is set.
// A paced writer sends every write its schedule makes due before the end,
// however late (an open loop: latency counts from when a write was due), for
// at most as long again as the run or 30 s, whichever is less; writes due
// and never sent by then are counted in WriteStats::unsent.
//
// Thread-safety: Start once; running() and the stats from any thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tools/load/latency.h"

namespace casegrid::load {

struct WriterIdentity {
  std::string subject;             // the assignee it gives its cases to, and who accepts them
  std::string token;               // an officer token covering `cells`
  std::vector<std::string> cells;  // its cases are reported in these, in turn
};

struct WriterOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  double rate_per_writer = 0;  // writes a second per writer; 0: as fast as answers come
  int notes_per_case = 2;
};

struct WriteStats {
  std::atomic<std::uint64_t> ok{0};      // 2xx answers
  std::atomic<std::uint64_t> events{0};  // positions they acknowledged
  std::atomic<std::uint64_t> non2xx{0};
  std::atomic<std::uint64_t> connection_errors{0};
  std::atomic<std::uint64_t> cases_closed{0};
  std::atomic<std::uint64_t> unsent{0};  // paced: due before the end, never sent
  LatencyHistogram latency;

  // A non-2xx answer (`what` describes it).
  void RecordRefusal(unsigned status, const std::string& what);
  // A connection that failed (connect, write or read).
  void RecordConnectionError(const std::string& what);
  std::map<unsigned, std::uint64_t> ByStatus() const;
  std::vector<std::string> Samples() const;

 private:
  mutable std::mutex mu_;
  std::map<unsigned, std::uint64_t> by_status_;  // guarded by mu_
  std::vector<std::string> samples_;             // guarded by mu_; the first few
};

class WriterFleet {
 public:
  WriterFleet(boost::asio::io_context& io, WriterOptions options,
              std::vector<WriterIdentity> writers, AckTimes* acks, WriteStats* stats);
  ~WriterFleet();

  // Starts every writer. An unpaced one stops at `until` once its request in
  // flight is answered; a paced one once every write due before `until` is
  // answered (or at its drain's bound, above).
  void Start(Clock::time_point until);
  // Writers still running.
  int running() const { return running_.load(); }

  class Writer;

 private:
  boost::asio::io_context& io_;
  const WriterOptions options_;
  const std::vector<WriterIdentity> identities_;
  AckTimes* const acks_;
  WriteStats* const stats_;
  std::atomic<int> running_{0};
  std::vector<std::shared_ptr<Writer>> writers_;
};

}  // namespace casegrid::load
