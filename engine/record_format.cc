#include "engine/record_format.h"

#include <cstring>

#include "engine/time_format.h"

namespace casegrid::storage {
namespace {

void PutLittleEndian(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

// Reads fields off the front of a record; any overrun marks it bad.
class RecordReader {
 public:
  explicit RecordReader(std::string_view in) : in_(in) {}
  std::uint64_t Fixed(int bytes) {
    if (bad_ || in_.size() < static_cast<std::size_t>(bytes)) return Fail();
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= std::uint64_t{static_cast<unsigned char>(in_[i])} << (8 * i);
    in_.remove_prefix(static_cast<std::size_t>(bytes));
    return v;
  }
  std::string Bytes(int length_bytes) {
    const std::uint64_t n = Fixed(length_bytes);
    if (bad_ || in_.size() < n) return Fail(), std::string();
    std::string out(in_.substr(0, n));
    in_.remove_prefix(n);
    return out;
  }
  bool done_cleanly() const { return !bad_ && in_.empty(); }

 private:
  std::uint64_t Fail() {
    bad_ = true;
    return 0;
  }
  std::string_view in_;
  bool bad_ = false;
};

}  // namespace

std::string EncodeBigEndian64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
  return out;
}

std::uint64_t DecodeBigEndian64(std::string_view b) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < b.size(); ++i)
    v = (v << 8) | static_cast<unsigned char>(b[i]);
  return v;
}

std::string EncodeCheckedWord(std::uint64_t v) {
  return EncodeBigEndian64(v) + EncodeBigEndian64(~v);
}

std::optional<std::uint64_t> DecodeCheckedWord(std::string_view b) {
  if (b.size() != kCheckedWordBytes) return std::nullopt;
  const std::uint64_t v = DecodeBigEndian64(b.substr(0, 8));
  if (~v != DecodeBigEndian64(b.substr(8, 8))) return std::nullopt;
  return v;
}

std::string StreamIndexKey(std::string_view stream, StreamVersion version) {
  std::string key;
  key.reserve(stream.size() + 9);
  key.append(stream);
  key += '\0';
  key += EncodeBigEndian64(version);
  return key;
}

std::string EncodeStreamHead(const StreamHead& head) {
  std::string out;
  PutLittleEndian(out, head.version, 8);
  PutLittleEndian(out, head.position, 8);
  return out;
}

Result<StreamHead> DecodeStreamHead(std::string_view value) {
  RecordReader r(value);
  StreamHead head;
  head.version = r.Fixed(8);
  head.position = r.Fixed(8);
  if (!r.done_cleanly()) return Status::Corruption("stream head is not 16 bytes");
  return head;
}

std::string EncodeRecord(const RecordedEvent& e) {
  std::string out;
  out.reserve(1 + 32 + 16 + 2 + e.stream.size() + 3 + e.type.size() + e.id.size() + e.actor.size() +
              4 + e.data.size());
  out += static_cast<char>(kRecordFormatV1);
  out.append(reinterpret_cast<const char*>(e.hash.data()), e.hash.size());
  PutLittleEndian(out, e.version, 8);
  PutLittleEndian(out, static_cast<std::uint64_t>(e.recorded_at_ms), 8);
  PutLittleEndian(out, e.stream.size(), 2);
  out += e.stream;
  PutLittleEndian(out, e.type.size(), 1);
  out += e.type;
  PutLittleEndian(out, e.id.size(), 1);
  out += e.id;
  PutLittleEndian(out, e.actor.size(), 1);
  out += e.actor;
  PutLittleEndian(out, e.data.size(), 4);
  out += e.data;
  return out;
}

Result<RecordedEvent> DecodeRecord(Position position, std::string_view value) {
  RecordReader r(value);
  RecordedEvent e;
  e.position = position;
  if (r.Fixed(1) != kRecordFormatV1) {
    return Status::Corruption("record at position " + std::to_string(position) +
                              " has an unknown format byte");
  }
  for (auto& b : e.hash) b = static_cast<std::uint8_t>(r.Fixed(1));
  e.version = r.Fixed(8);
  e.recorded_at_ms = static_cast<std::int64_t>(r.Fixed(8));
  e.stream = r.Bytes(2);
  e.type = r.Bytes(1);
  e.id = r.Bytes(1);
  e.actor = r.Bytes(1);
  e.data = r.Bytes(4);
  if (!r.done_cleanly()) {
    return Status::Corruption("record at position " + std::to_string(position) +
                              " is truncated or has trailing bytes");
  }
  // Its hash covers the time as formatted, which is one instant's only in
  // years 0000 to 9999: a time outside them is damage its hash would not
  // show (review 106).
  if (!Formattable(e.recorded_at_ms)) {
    return Status::Corruption("record at position " + std::to_string(position) +
                              " was recorded at " + std::to_string(e.recorded_at_ms) +
                              " ms, outside the years 0000 to 9999");
  }
  return e;
}

}  // namespace casegrid::storage
