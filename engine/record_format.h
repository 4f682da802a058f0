// The on-disk format of the event log: column families, key encodings and
// the event record. docs/storage.md describes the same layout in prose; the
// constants here are the definition, change both together.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/event.h"
#include "engine/status.h"

namespace casegrid::storage {

// Column families.
inline constexpr const char* kMetaFamily = "default";              // kFormatKey → kFormatValue
inline constexpr const char* kEventsFamily = "events";             // position → record
inline constexpr const char* kStreamsFamily = "streams";           // stream → StreamHead
inline constexpr const char* kStreamIndexFamily = "stream_index";  // stream \0 version → position
inline constexpr const char* kEventIdsFamily = "event_ids";        // event id → position

inline constexpr std::string_view kFormatKey = "casegrid/format";
inline constexpr std::string_view kFormatValue = "casegrid-log-1";

// First byte of every event record.
inline constexpr std::uint8_t kRecordFormatV1 = 1;

// 8 bytes, big-endian, so that RocksDB's byte order is numeric order.
std::string EncodeBigEndian64(std::uint64_t v);
std::uint64_t DecodeBigEndian64(std::string_view eight_bytes);

// A word of a small file written in place (the durable mark, the settled
// floor): 16 bytes, the word big-endian then its complement, so that a
// reader that meets a write half done (not atomic for readers, by POSIX)
// sees the two disagree: nullopt.
inline constexpr std::size_t kCheckedWordBytes = 16;
std::string EncodeCheckedWord(std::uint64_t v);
std::optional<std::uint64_t> DecodeCheckedWord(std::string_view sixteen_bytes);

// Key of the stream index: the stream name, a 0 byte (which no stream name
// contains, so every stream's keys are contiguous), the version big-endian.
std::string StreamIndexKey(std::string_view stream, StreamVersion version);

// Value in the streams family: the stream's last version and that event's
// position, each 8 bytes little-endian.
struct StreamHead {
  StreamVersion version = 0;
  Position position = 0;
};
std::string EncodeStreamHead(const StreamHead& head);
Result<StreamHead> DecodeStreamHead(std::string_view value);

// The record: format byte, hash, then the envelope fields (layout in
// docs/storage.md). The position is the key, not part of the record.
std::string EncodeRecord(const RecordedEvent& event);
// Decodes `value`, stored at `position`. kCorruption if it is not a record.
Result<RecordedEvent> DecodeRecord(Position position, std::string_view value);

}  // namespace casegrid::storage
