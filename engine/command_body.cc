#include "engine/command_body.h"

#include <simdjson.h>

#include <algorithm>

namespace casegrid {
namespace {

// `expected_version` as the client wrote it in `body` (valid JSON with one
// such member at the top), not as canonical JSON rounds it (to a double:
// 2^53 + 1 would become 2^53, and 2.0 would become 2). Canonical JSON carries
// integers exactly up to 2^53, and so far no stream will ever reach.
Result<std::uint64_t> ExpectedVersionAsSent(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element value;
  if (parser.parse(simdjson::padded_string(body)).at_key("expected_version").get(value)) {
    return Status::Internal("expected_version: not found in the body as sent");
  }
  std::uint64_t v = 0;
  if (value.get_uint64().get(v) || v > (std::uint64_t{1} << 53)) {
    return Status::InvalidArgument("expected_version: must be an integer from 0 to 2^53");
  }
  return v;
}

}  // namespace

Result<CommandBody> SplitCommandBody(std::string_view body, const JsonLimits& limits) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) body = "{}";
  auto canonical_body = CanonicalizeObject(body, limits);
  if (!canonical_body.ok()) {  // the body as a whole: say so
    return Status(canonical_body.status().code(), "body: " + canonical_body.status().message());
  }
  const std::string canonical = std::move(canonical_body).value();
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(canonical).get(obj)) return Status::Internal("canonical JSON did not re-parse");
  CommandBody out;
  std::string rest = "{";
  for (auto [key, value] : obj) {
    if (key == "expected_version") {
      ASSIGN_OR_RETURN(out.expected_version, ExpectedVersionAsSent(body));
      continue;
    }
    if (rest.size() > 1) rest += ',';
    AppendJsonString(rest, key);
    rest += ':';
    rest += simdjson::minify(value);
  }
  rest += '}';
  // simdjson's serializer is not RFC 8785's; canonicalize what it wrote.
  ASSIGN_OR_RETURN(out.data, CanonicalizeObject(rest, limits));
  return out;
}

Result<std::string> AddServerFields(
    std::string_view data, const std::vector<std::pair<std::string, std::string>>& fields) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  simdjson::padded_string padded(data);
  if (parser.parse(padded).get(obj)) return Status::InvalidArgument("data: not a JSON object");
  std::string merged = "{";
  for (auto [key, value] : obj) {
    for (const auto& f : fields) {
      if (f.first == key) return Status::InvalidArgument(f.first + ": set by the server");
    }
    if (merged.size() > 1) merged += ',';
    AppendJsonString(merged, key);
    merged += ':';
    merged += simdjson::minify(value);
  }
  for (const auto& [key, value] : fields) {
    if (merged.size() > 1) merged += ',';
    AppendJsonString(merged, key);
    merged += ':';
    merged += value;
  }
  merged += '}';
  return CanonicalizeObject(merged);
}

Result<std::optional<std::string>> StringField(std::string_view data, std::string_view key) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::object obj;
  simdjson::padded_string padded(data);
  if (parser.parse(padded).get(root)) return Status::InvalidArgument("body: " + WhyNotJson(data));
  if (root.get(obj)) return Status::InvalidArgument("body: not a JSON object");
  auto field = obj[key];
  if (field.error() == simdjson::NO_SUCH_FIELD) return std::optional<std::string>();
  std::string_view value;
  if (field.get(value)) return Status::InvalidArgument(std::string(key) + ": must be a string");
  return std::optional<std::string>(std::string(value));
}

bool HasField(std::string_view data, std::string_view key) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  simdjson::padded_string padded(data);
  if (parser.parse(padded).get(obj)) return false;
  return obj[key].error() != simdjson::NO_SUCH_FIELD;
}

Status SameClientFields(std::string_view data, std::string_view decided, std::string_view stored,
                        std::span<const std::string_view> server_only) {
  simdjson::dom::parser data_parser, decided_parser, stored_parser;
  const simdjson::padded_string data_text(data), decided_text(decided), stored_text(stored);
  simdjson::dom::object client, mine, first;
  if (data_parser.parse(data_text).get(client) || decided_parser.parse(decided_text).get(mine) ||
      stored_parser.parse(stored_text).get(first)) {
    return Status::Internal("comparing a repeated request: event data is not a JSON object");
  }
  for (auto [key, ignored] : client) {
    simdjson::dom::element now, then;
    const bool has_now = !mine[key].get(now);
    const bool has_then = !first[key].get(then);
    if (has_now != has_then || (has_now && simdjson::minify(now) != simdjson::minify(then))) {
      return Status::Conflict("Idempotency-Key was first used with another body (" +
                              std::string(key) + " differs)");
    }
  }
  // What the first request sent and this one leaves out (probe 96: an
  // intake repeated without its address was answered as the first).
  for (auto [key, then] : first) {
    simdjson::dom::element ignored, now;
    if (!client[key].get(ignored)) continue;  // compared above
    if (!mine[key].get(now)) {
      if (simdjson::minify(now) == simdjson::minify(then)) continue;  // derived alike
    } else if (std::find(server_only.begin(), server_only.end(), key) != server_only.end()) {
      continue;
    }
    return Status::Conflict("Idempotency-Key was first used with another body (" +
                            std::string(key) + " differs)");
  }
  return Status::Ok();
}

}  // namespace casegrid
