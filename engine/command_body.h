// The body of a write request, split into what the client controls and what
// the server adds.
//
// API.md: an action's body is "that event's data plus optional
// expected_version". SplitCommandBody takes the expected_version out, and
// AddServerFields puts in what the server derives (escalate's from_tier,
// accept's by) — refusing a body that tries to set those itself.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/canonical_json.h"
#include "engine/event.h"
#include "engine/status.h"

namespace casegrid {

struct CommandBody {
  std::optional<StreamVersion> expected_version;  // absent: the version the server read
  std::string data;                               // canonical JSON object, the rest
};

// `body` must be a JSON object (an empty body counts as {}); errors about it
// as a whole begin "body: ". expected_version, if present, is an integer >= 0
// (0 means the case must not exist yet).
Result<CommandBody> SplitCommandBody(std::string_view body, const JsonLimits& limits = {});

// Returns `data` (a canonical object) with `fields` added; each value is JSON
// text. A field the body already has is kInvalidArgument "<name>: set by the
// server".
Result<std::string> AddServerFields(std::string_view data,
                                    const std::vector<std::pair<std::string, std::string>>& fields);

// The string member `key` of the JSON object `data`: nullopt when absent,
// kInvalidArgument "<key>: must be a string" when it is not a string.
Result<std::optional<std::string>> StringField(std::string_view data, std::string_view key);

// Whether the JSON object `data` has a member `key`.
bool HasField(std::string_view data, std::string_view key);

// Whether a request that repeats an Idempotency-Key is the request that first
// carried it: each member of the client's `data` (a canonical object) must
// have the same value in `decided` (this request's event data as the server
// decoded it, so that values the server normalizes, such as times, compare as
// written) as in `stored` (the data of the event the first request wrote),
// and each member of `stored` must be in `decided` with that value too (a
// member the first request sent and the repeat leaves out is another body;
// one the server derives from the case compares as derived), unless it is
// one of `server_only` (the server adds it at the decision, from the time:
// a client may not send it). kConflict naming the first member that
// differs; kInternal if an argument is not a JSON object.
Status SameClientFields(std::string_view data, std::string_view decided, std::string_view stored,
                        std::span<const std::string_view> server_only = {});

}  // namespace casegrid
