// Canonical JSON (RFC 8785, the JSON Canonicalization Scheme): the one form in
// which event data is stored, hashed and pushed.
//
// Canonicalize() parses JSON text with simdjson, checks it against the limits
// and writes it back with object keys sorted by UTF-16 code units, no
// insignificant white space, minimal string escapes and numbers in the
// ECMAScript shortest form. Duplicate keys are rejected rather than resolved.
//
// Thread-safety: free functions; Canonicalize keeps a per-thread parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace casegrid {

struct JsonLimits {
  std::size_t max_bytes = 64 * 1024;  // of the input text
  std::size_t max_depth = 32;         // nesting of arrays and objects
};

// Canonical form of `json`, which must be one JSON object. Errors are
// kInvalidArgument (not JSON, not an object, duplicate key, too deep) or
// kTooLarge; the message says what and where.
Result<std::string> CanonicalizeObject(std::string_view json, const JsonLimits& limits = {});

// Why `json` does not parse, for an error message: "$.a[2]: number out of
// range; …" when a number cannot be read (2^64 or more written out in full,
// 1e400), else "not valid JSON: <reason>".
std::string WhyNotJson(std::string_view json);

// Appends `value` to `out` as a JSON string with RFC 8785 escaping. `value`
// must be valid UTF-8.
void AppendJsonString(std::string& out, std::string_view value);

// Appends a finite double in the ECMAScript Number.prototype.toString form
// RFC 8785 requires (1, 0.5, 1e+21, 1.5e-7).
void AppendJsonNumber(std::string& out, double value);

}  // namespace casegrid
