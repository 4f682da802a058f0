#include "engine/canonical_json.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace casegrid {
namespace {

// Integers beyond ±2^53 are not exact in ECMAScript; RFC 8785 prints them as
// the double they round to.
constexpr std::int64_t kMaxExactInteger = (std::int64_t{1} << 53);
// 2^64: numbers of this magnitude or more are refused (Writer::WriteNumber).
constexpr double kNumberBound = 18446744073709551616.0;
constexpr const char* kOutOfRange =
    ": number out of range; a number, rounded to a double, must be of magnitude below 2^64";

// Whether `token` is a number as JSON writes one (RFC 8259 section 6):
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? — not 01, 0x1, 1., .5 or +1.
bool IsJsonNumber(std::string_view token) {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t start = i;
    while (i < token.size() && token[i] >= '0' && token[i] <= '9') ++i;
    return i > start;
  };
  if (i < token.size() && token[i] == '-') ++i;
  if (i < token.size() && token[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < token.size() && token[i] == '.' && (++i, !digits())) return false;
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == token.size();
}

// The path of the first number in `v` that simdjson cannot read, or "" if
// there is none (or the text is broken before one is found); `*malformed`
// says whether it is no JSON number at all (01, 0x1) rather than one out of
// range. `path` is `v`'s, extended in place for each child and cut back
// after it (a copy for each value cost the path's length times the values
// under it).
std::string FindUnreadableNumber(simdjson::ondemand::value v, std::string& path, int depth,
                                 bool* malformed) {
  namespace od = simdjson::ondemand;
  od::json_type type;
  if (depth > 64 || v.type().get(type)) return "";
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if (v.get_object().get(object)) return "";
      for (auto field : object) {
        std::string_view key;
        od::value child;
        if (field.unescaped_key().get(key) || field.value().get(child)) return "";
        const std::size_t mark = path.size();
        path.append(".").append(key);
        std::string found = FindUnreadableNumber(child, path, depth + 1, malformed);
        path.resize(mark);
        if (!found.empty()) return found;
      }
      return "";
    }
    case od::json_type::array: {
      od::array array;
      if (v.get_array().get(array)) return "";
      std::size_t i = 0;
      for (auto item : array) {
        od::value child;
        if (item.get(child)) return "";
        const std::size_t mark = path.size();
        path.append("[").append(std::to_string(i++)).append("]");
        std::string found = FindUnreadableNumber(child, path, depth + 1, malformed);
        path.resize(mark);
        if (!found.empty()) return found;
      }
      return "";
    }
    case od::json_type::number: {
      od::number n;
      if (!v.get_number().get(n)) return "";
      std::string_view token = v.raw_json_token();
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t' ||
                                token.back() == '\n' || token.back() == '\r')) {
        token.remove_suffix(1);
      }
      *malformed = !IsJsonNumber(token);
      return path;
    }
    default:
      return "";
  }
}

// UTF-8 to UTF-16 code units, for ordering keys as RFC 8785 section 3.2.3 asks.
std::u16string ToUtf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    char32_t cp;
    std::size_t n;
    if (c < 0x80) {
      cp = c, n = 1;
    } else if ((c >> 5) == 0x6) {
      cp = c & 0x1F, n = 2;
    } else if ((c >> 4) == 0xE) {
      cp = c & 0x0F, n = 3;
    } else {
      cp = c & 0x07, n = 4;
    }
    for (std::size_t k = 1; k < n && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    i += n;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

class Writer {
 public:
  Writer(std::string& out, std::size_t max_depth) : out_(out), max_depth_(max_depth) {}

  // The path of each value is kept as steps and spelled out ("$.a[2]") only
  // in an error: built for every value, it cost the key's length times the
  // values under it (a 32 KB key over 16,000 items took 67 ms of an io
  // thread; a white-box review of session 24).
  Status Write(simdjson::dom::element e, std::size_t depth) {
    using simdjson::dom::element_type;
    switch (e.type()) {
      case element_type::OBJECT:
        return WriteObject(e.get_object().value_unsafe(), depth + 1);
      case element_type::ARRAY:
        return WriteArray(e.get_array().value_unsafe(), depth + 1);
      case element_type::STRING:
        AppendJsonString(out_, e.get_string().value_unsafe());
        return Status::Ok();
      case element_type::INT64: {
        const std::int64_t v = e.get_int64().value_unsafe();
        if (v > kMaxExactInteger || v < -kMaxExactInteger) {
          AppendJsonNumber(out_, static_cast<double>(v));
        } else {
          out_ += std::to_string(v);
        }
        return Status::Ok();
      }
      case element_type::UINT64:
        return WriteNumber(static_cast<double>(e.get_uint64().value_unsafe()));
      case element_type::DOUBLE:
        return WriteNumber(e.get_double().value_unsafe());
      case element_type::BOOL:
        out_ += e.get_bool().value_unsafe() ? "true" : "false";
        return Status::Ok();
      case element_type::NULL_VALUE:
        out_ += "null";
        return Status::Ok();
    }
    return Status::Internal("unknown JSON element type");
  }

 private:
  // RFC 8785 prints a number below 10^21 in whole digits; one of 2^64 or
  // more would then read back (here, and in many a client) as no number at
  // all, so it is refused rather than stored.
  Status WriteNumber(double v) {
    if (std::fabs(v) >= kNumberBound) return Status::InvalidArgument(Path() + kOutOfRange);
    AppendJsonNumber(out_, v);
    return Status::Ok();
  }

  // One step of the path to the value being written: a member's key, or an
  // item's index.
  struct Step {
    std::string_view key;
    std::size_t index = 0;
    bool is_key = true;
  };
  std::string Path() const {
    std::string path = "$";
    for (const Step& s : steps_) {
      if (s.is_key) {
        path += '.';
        path += s.key;
      } else {
        path += '[' + std::to_string(s.index) + ']';
      }
    }
    return path;
  }

  Status CheckDepth(std::size_t depth) const {
    if (depth > max_depth_) {
      return Status::InvalidArgument("JSON nested deeper than " + std::to_string(max_depth_) +
                                     " levels at " + Path());
    }
    return Status::Ok();
  }

  Status WriteObject(simdjson::dom::object obj, std::size_t depth) {
    RETURN_IF_ERROR(CheckDepth(depth));
    struct Member {
      std::u16string order;
      std::string_view key;
      simdjson::dom::element value;
    };
    std::vector<Member> members;
    members.reserve(obj.size());
    for (auto field : obj) members.push_back({ToUtf16(field.key), field.key, field.value});
    std::sort(members.begin(), members.end(),
              [](const Member& a, const Member& b) { return a.order < b.order; });
    out_ += '{';
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (i > 0 && members[i].order == members[i - 1].order) {
        return Status::InvalidArgument("duplicate key \"" + std::string(members[i].key) + "\" in " +
                                       Path());
      }
      if (i > 0) out_ += ',';
      AppendJsonString(out_, members[i].key);
      out_ += ':';
      steps_.push_back({members[i].key});
      RETURN_IF_ERROR(Write(members[i].value, depth));
      steps_.pop_back();
    }
    out_ += '}';
    return Status::Ok();
  }

  Status WriteArray(simdjson::dom::array arr, std::size_t depth) {
    RETURN_IF_ERROR(CheckDepth(depth));
    out_ += '[';
    std::size_t i = 0;
    for (auto item : arr) {
      if (i > 0) out_ += ',';
      steps_.push_back({{}, i, false});
      RETURN_IF_ERROR(Write(item, depth));
      steps_.pop_back();
      ++i;
    }
    out_ += ']';
    return Status::Ok();
  }

  std::string& out_;
  std::size_t max_depth_;
  std::vector<Step> steps_;  // from the root to the value being written
};

}  // namespace

namespace {

// Whether any of the eight bytes of `word` must be escaped: below 0x20, '"'
// or '\\'. Bytes of 0x80 and up (UTF-8 beyond ASCII) never are. Exact as a
// yes or no (the "has a byte less than n" and "has a zero byte" tricks: a
// borrow only ever runs from a byte that matched).
bool EightBytesNeedEscape(std::uint64_t word) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
  const auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHighBits; };
  const std::uint64_t below_space = (word - kOnes * 0x20) & ~word & kHighBits;
  return (below_space | has_zero(word ^ (kOnes * '"')) | has_zero(word ^ (kOnes * '\\'))) != 0;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  // Runs of characters that need no escape are copied whole; they are
  // found eight bytes at a time.
  std::size_t run = 0;
  std::size_t i = 0;
  while (i < value.size()) {
    if (value.size() - i >= 8) {
      std::uint64_t word;
      std::memcpy(&word, value.data() + i, 8);
      if (!EightBytesNeedEscape(word)) {
        i += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(value[i++]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(value.data() + run, i - 1 - run);
    run = i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(value.data() + run, value.size() - run);
  out += '"';
}

void AppendJsonNumber(std::string& out, double value) {
  if (value == 0) {  // both +0 and -0 print as 0
    out += '0';
    return;
  }
  // Shortest round-trip digits in scientific form: "-d.ddde+XX".
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(end - buf));
  if (sci.front() == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  const std::size_t e_at = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_at)) {
    if (c != '.') digits += c;
  }
  const int exponent = std::atoi(std::string(sci.substr(e_at + 1)).c_str());
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;  // ECMAScript's n: value = 0.digits × 10^n
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out += '.';
    out.append(digits, static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += (n - 1 >= 0) ? '+' : '-';
    out += std::to_string(std::abs(n - 1));
  }
}

std::string WhyNotJson(std::string_view json) {
  simdjson::dom::parser dom;
  simdjson::dom::element root;
  const simdjson::padded_string padded(json);
  const auto err = dom.parse(padded).get(root);
  if (!err) return "valid JSON";
  if (err == simdjson::NUMBER_ERROR) {
    simdjson::ondemand::parser parser;
    simdjson::ondemand::document doc;
    simdjson::ondemand::value value;
    if (!parser.iterate(padded).get(doc) && !doc.get_value().get(value)) {
      std::string root_path = "$";
      bool malformed = false;
      const std::string path = FindUnreadableNumber(value, root_path, 0, &malformed);
      if (malformed) return path + ": not a JSON number (no leading zeros, hex, or bare dot)";
      if (!path.empty()) return path + kOutOfRange;
    }
  }
  return std::string("not valid JSON: ") + simdjson::error_message(err);
}

Result<std::string> CanonicalizeObject(std::string_view json, const JsonLimits& limits) {
  if (json.size() > limits.max_bytes) {
    return Status::TooLarge("JSON of " + std::to_string(json.size()) + " bytes exceeds the " +
                            std::to_string(limits.max_bytes) + "-byte limit");
  }
  thread_local simdjson::dom::parser parser;
  // simdjson's own depth limit stops runaway nesting before our writer sees it.
  if (parser.max_depth() < limits.max_depth + 2 || parser.capacity() < json.size()) {
    if (auto err =
            parser.allocate(std::max(json.size(), std::size_t{4096}), limits.max_depth + 2)) {
      return Status::Internal(std::string("JSON parser allocation failed: ") +
                              simdjson::error_message(err));
    }
  }
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root)) {
    if (err == simdjson::DEPTH_ERROR) {
      return Status::InvalidArgument("JSON nested deeper than " + std::to_string(limits.max_depth) +
                                     " levels");
    }
    return Status::InvalidArgument(WhyNotJson(json));
  }
  if (root.type() != simdjson::dom::element_type::OBJECT) {
    return Status::InvalidArgument("not a JSON object");
  }
  std::string out;
  out.reserve(json.size());
  Writer writer(out, limits.max_depth);
  RETURN_IF_ERROR(writer.Write(root, 0));
  return out;
}

}  // namespace casegrid
