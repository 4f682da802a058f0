// What a stream name, event type, event id and actor may look like.
//
// These four are stored and hashed verbatim and written into JSON without
// escaping, so each is restricted to a small ASCII alphabet and a length.
// Every check returns kInvalidArgument with a message naming the field.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "engine/status.h"

namespace casegrid {

inline constexpr std::size_t kMaxStreamNameBytes = 200;
inline constexpr std::size_t kMaxEventTypeBytes = 64;
inline constexpr std::size_t kMaxEventIdBytes = 64;
inline constexpr std::size_t kMaxActorBytes = 128;

// `category/rest`, e.g. `case/C-20261122-000123` or `grid/santai/a03`:
// [A-Za-z0-9_.:@-] segments joined by single '/', at least two segments
// ('@' so that every actor, an e-mail address too, names its audit/<actor>).
Status ValidateStreamName(std::string_view stream);
// `CaseReported`: a letter, then letters, digits and '_'.
Status ValidateEventType(std::string_view type);
// [A-Za-z0-9_.:-], 1 to 64 bytes (a UUID fits).
Status ValidateEventId(std::string_view id);
// [A-Za-z0-9_.:@-], 1 to 128 bytes.
Status ValidateActor(std::string_view actor);
// The engine's own actor (the deadline watch's facts). No person may be it:
// not a token's sub, an actor of `casegrid append`, nor a person id.
inline constexpr std::string_view kSystemActor = "system";

// A person named in a command (an officer assigned to a cell, a case's
// assignee, an officer dispatched or arrived): letters, digits and _ . : -
// only, 1 to 128 bytes, not `.` or `..`, so that the
// person's alert stream alerts/<person> is one path segment and the person
// can be named in a route (DELETE …/officers/{officer}); not `system`.
// kInvalidArgument naming `field`.
Status ValidatePersonId(std::string_view field, std::string_view person);

}  // namespace casegrid
