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
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "engine/canonical_json.h"
#include "engine/time_format.h"

namespace casegrid {

// The text of a key and whether it needs no escape. From a literal the
// check is made when compiled; from any other text, when it is made.
class KeyName {
 public:
  // A literal, whole: an array holding a NUL before its end (a constexpr
  // buffer larger than its text) does not compile (review 97).
  template <std::size_t N>
  consteval KeyName(const char (&literal)[N])  // NOLINT: implicit by design
      : text_(literal, N - 1), plain_(Plain(text_)) {
    if (text_.find('\0') != std::string_view::npos) throw "a key literal holds a NUL";
  }
  KeyName(std::string_view text) : text_(text), plain_(Plain(text)) {}   // NOLINT
  KeyName(const std::string& text) : KeyName(std::string_view(text)) {}  // NOLINT

  std::string_view text() const { return text_; }
  bool plain() const { return plain_; }

 private:
  static constexpr bool Plain(std::string_view text) {
    for (const char ch : text) {
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c == '"' || c == '\\') return false;
    }
    return true;
  }

  std::string_view text_;
  bool plain_;
};

class JsonWriter {
 public:
  // `reserve`: the bytes expected, so that the text is not moved as it grows.
  explicit JsonWriter(std::size_t reserve = 512) { out_.reserve(reserve); }
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  // A key: a literal's escaping is settled when compiled (KeyName), so the
  // views' keys, nearly all literals, are each written in one append.
  JsonWriter& Key(KeyName key) {
    Separate();
    comma_ = false;  // the value follows the colon
    const std::string_view text = key.text();
    if (!key.plain()) {
      AppendJsonString(out_, text);
      out_ += ':';
      return *this;
    }
    if (text.size() > kShortKey) {
      out_ += '"';
      out_ += text;
      out_ += "\":";
      return *this;
    }
    char quoted[kShortKey + 3];
    quoted[0] = '"';
    std::memcpy(quoted + 1, text.data(), text.size());
    quoted[text.size() + 1] = '"';
    quoted[text.size() + 2] = ':';
    out_.append(quoted, text.size() + 3);
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
  // The bytes written so far.
  std::size_t size() const { return out_.size(); }

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
