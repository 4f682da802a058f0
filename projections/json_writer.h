// JsonWriter: builds compact JSON text for views, with the escaping and
// number forms of engine/canonical_json.h. It writes keys in the order given;
// views are not hashed, so they need not be canonical.
//
// Usage: JsonWriter w; w.BeginObject(); w.Key("a"); w.Int(1); w.EndObject();
// A writer writes one value (an object or an array and what it holds).
//
// Thread-safety: a value; one writer per thread.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/canonical_json.h"
#include "engine/time_format.h"

namespace casegrid {

class JsonWriter {
 public:
  // `reserve`: the bytes expected, so that the text is not moved as it grows.
  explicit JsonWriter(std::size_t reserve = 512) { out_.reserve(reserve); }
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view key) {
    Separate();
    // Keys are mostly short names needing no escape: written in one append.
    char quoted[kShortKey + 3];
    bool plain = key.size() <= kShortKey;
    for (std::size_t i = 0; plain && i < key.size(); ++i) {
      const auto c = static_cast<unsigned char>(key[i]);
      plain = c >= 0x20 && c != '"' && c != '\\';
      quoted[i + 1] = key[i];
    }
    if (plain) {
      quoted[0] = '"';
      quoted[key.size() + 1] = '"';
      quoted[key.size() + 2] = ':';
      out_.append(quoted, key.size() + 3);
    } else {
      AppendJsonString(out_, key);
      out_ += ':';
    }
    comma_ = false;  // the value follows the colon
    return *this;
  }
  JsonWriter& String(std::string_view v) {
    Separate();
    AppendJsonString(out_, v);
    return *this;
  }
  JsonWriter& Int(std::int64_t v) {
    Separate();
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, static_cast<std::size_t>(end - buf));
    return *this;
  }
  JsonWriter& Double(double v) {
    Separate();
    AppendJsonNumber(out_, v);
    return *this;
  }
  JsonWriter& Bool(bool v) {
    Separate();
    out_ += v ? "true" : "false";
    return *this;
  }
  JsonWriter& Null() {
    Separate();
    out_ += "null";
    return *this;
  }
  // Already-encoded JSON, written as it is.
  JsonWriter& Raw(std::string_view json) {
    Separate();
    out_ += json;
    return *this;
  }
  // A time of a view as RFC 3339, where 0 means "not yet" (null).
  JsonWriter& Time(std::int64_t unix_ms) {
    if (unix_ms == 0) return Null();
    return Timestamp(unix_ms);
  }
  // A time that is always one, the epoch included (the time a view was read at).
  JsonWriter& Timestamp(std::int64_t unix_ms) {
    Separate();
    out_ += '"';
    AppendTimestamp(out_, unix_ms);
    out_ += '"';
    return *this;
  }
  JsonWriter& OptString(const std::optional<std::string>& v) { return v ? String(*v) : Null(); }

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  static constexpr std::size_t kShortKey = 32;

  JsonWriter& Open(char c) {
    Separate();
    out_ += c;
    comma_ = false;
    return *this;
  }
  JsonWriter& Close(char c) {
    out_ += c;
    comma_ = true;
    return *this;
  }
  // Before a key or a value: a comma unless it opens its object or array,
  // or is a key's value.
  void Separate() {
    if (comma_) out_ += ',';
    comma_ = true;
  }

  std::string out_;
  bool comma_ = false;  // whether the next key or value follows a sibling
};

}  // namespace casegrid
