// The event: what an appender hands in (NewEvent) and what the log holds
// (RecordedEvent), and the expected version an append is checked against.
//
// A RecordedEvent is immutable once built; the store shares committed events
// with subscribers as `EventBatch`, one allocation however many receive it.
//
// Thread-safety: plain values; a const RecordedEvent may be read from any
// thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace casegrid {

// A global position in the log: 1 for the first event, no gaps.
using Position = std::uint64_t;
// A version within one stream: 1 for the stream's first event.
using StreamVersion = std::uint64_t;

// SHA-256 output; see hash_chain.h for what it covers.
using EventHash = std::array<std::uint8_t, 32>;

// What an append must find the stream at, or it writes nothing.
struct ExpectedVersion {
  enum class Kind {
    kAny,       // no check
    kNoStream,  // the stream has no events yet
    kExists,    // the stream has at least one event
    kExact,     // the stream's last version is exactly `version`
  };
  Kind kind = Kind::kAny;
  StreamVersion version = 0;

  static ExpectedVersion Any() { return {Kind::kAny, 0}; }
  static ExpectedVersion NoStream() { return {Kind::kNoStream, 0}; }
  static ExpectedVersion Exists() { return {Kind::kExists, 0}; }
  static ExpectedVersion Exact(StreamVersion v) { return {Kind::kExact, v}; }

  // "any", "no_stream", "exists" or the decimal version.
  std::string ToString() const;
};

// One event as an appender hands it in. `data` is JSON text of an object; the
// store validates it and keeps it in canonical form (RFC 8785). An empty `id`
// is replaced by a fresh random one.
struct NewEvent {
  std::string id;
  std::string type;
  std::string data;
};

// One event as committed. Fields are stored verbatim; see docs/storage.md.
struct RecordedEvent {
  Position position = 0;
  StreamVersion version = 0;
  std::int64_t recorded_at_ms = 0;  // Unix epoch milliseconds, UTC
  std::string stream;
  std::string type;
  std::string id;
  std::string actor;
  std::string data;  // canonical JSON object
  EventHash hash{};

  // The envelope without `hash`, in canonical JSON: the bytes that are hashed.
  std::string CanonicalBytes() const;
  // The envelope as API.md returns it: CanonicalBytes plus "hash" (hex).
  std::string EnvelopeJson() const;
  // The envelope with or without "data" and "hash": "data" for readers who
  // may see what an event says about people, "hash" for those who may be
  // given the chain (auth.h, SeesHashes). EnvelopeJson() is (true, true).
  std::string EnvelopeJson(bool with_data, bool with_hash) const;

 private:
  // The envelope's members up to "version" in RFC 8785 order, "data" only
  // `with_data`, and no closing brace.
  void AppendEnvelope(std::string& out, bool with_data) const;
};

using EventBatch = std::shared_ptr<const std::vector<RecordedEvent>>;

}  // namespace casegrid
