#include "engine/event.h"

#include "engine/canonical_json.h"
#include "engine/hash_chain.h"
#include "engine/time_format.h"

namespace casegrid {

std::string ExpectedVersion::ToString() const {
  switch (kind) {
    case Kind::kAny:
      return "any";
    case Kind::kNoStream:
      return "no_stream";
    case Kind::kExists:
      return "exists";
    case Kind::kExact:
      return std::to_string(version);
  }
  return "any";
}

// Keys in RFC 8785 order: actor, data, id, position, recorded_at, stream,
// type, version. Names are from a restricted alphabet (names.h) and need no
// escaping, but go through AppendJsonString so that the form is exact
// anyway. `hash`, outside the hashed bytes, comes last, as API.md shows it.
void RecordedEvent::AppendEnvelope(std::string& out, bool with_data) const {
  out.reserve(out.size() + 200 + stream.size() + type.size() + id.size() + actor.size() +
              data.size());
  out += "{\"actor\":";
  AppendJsonString(out, actor);
  if (with_data) {
    out += ",\"data\":";
    out += data;
  }
  out += ",\"id\":";
  AppendJsonString(out, id);
  out += ",\"position\":";
  out += std::to_string(position);
  out += ",\"recorded_at\":";
  AppendJsonString(out, FormatTimestamp(recorded_at_ms));
  out += ",\"stream\":";
  AppendJsonString(out, stream);
  out += ",\"type\":";
  AppendJsonString(out, type);
  out += ",\"version\":";
  out += std::to_string(version);
}

std::string RecordedEvent::CanonicalBytes() const {
  std::string out;
  AppendEnvelope(out, true);
  out += '}';
  return out;
}

std::string RecordedEvent::EnvelopeJson() const {
  return EnvelopeJson(true, true);
}

std::string RecordedEvent::EnvelopeJson(bool with_data, bool with_hash) const {
  std::string out;
  AppendEnvelope(out, with_data);
  if (with_hash) out += ",\"hash\":\"" + HashToHex(hash) + "\"";
  return std::move(out) + "}";
}

}  // namespace casegrid
