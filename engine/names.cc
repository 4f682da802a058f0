#include "engine/names.h"

#include <algorithm>
#include <string>

namespace casegrid {
namespace {

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '-';
}

Status CheckToken(std::string_view field, std::string_view value, std::size_t max,
                  bool (*allowed)(char)) {
  if (value.empty()) return Status::InvalidArgument(std::string(field) + " is empty");
  if (value.size() > max) {
    return Status::InvalidArgument(std::string(field) + " is longer than " + std::to_string(max) +
                                   " bytes");
  }
  for (char c : value) {
    if (!allowed(c)) {
      return Status::InvalidArgument(std::string(field) + " has a character outside its alphabet");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateStreamName(std::string_view stream) {
  RETURN_IF_ERROR(CheckToken("stream", stream, kMaxStreamNameBytes,
                             [](char c) { return IsIdChar(c) || c == '@' || c == '/'; }));
  if (stream.find('/') == std::string_view::npos) {
    return Status::InvalidArgument("stream must be category/name, e.g. case/C-20261122-000123");
  }
  if (stream.front() == '/' || stream.back() == '/' ||
      stream.find("//") != std::string_view::npos) {
    return Status::InvalidArgument("stream has an empty path segment");
  }
  return Status::Ok();
}

Status ValidateEventType(std::string_view type) {
  RETURN_IF_ERROR(CheckToken("type", type, kMaxEventTypeBytes, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }));
  const char first = type.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z'))) {
    return Status::InvalidArgument("type must start with a letter");
  }
  return Status::Ok();
}

Status ValidateEventId(std::string_view id) {
  return CheckToken("id", id, kMaxEventIdBytes, IsIdChar);
}

Status ValidatePersonId(std::string_view field, std::string_view person) {
  if (person.empty() || person.size() > 128 ||
      !std::all_of(person.begin(), person.end(), IsIdChar)) {
    return Status::InvalidArgument(std::string(field) +
                                   ": not a person id (1 to 128 letters, digits and _ . : -)");
  }
  if (person == "." || person == "..") {
    // alerts/. would read as a path, and no token may carry it (auth.h).
    return Status::InvalidArgument(std::string(field) + ": a person id may not be . or ..");
  }
  if (person == kSystemActor) {
    // No token may carry it: a case assigned to `system` could never be
    // accepted, nor its alerts read (black-box probe, session 25).
    return Status::InvalidArgument(std::string(field) +
                                   ": a person id may not be system, the engine's own actor");
  }
  return Status::Ok();
}

Status ValidateActor(std::string_view actor) {
  return CheckToken("actor", actor, kMaxActorBytes, [](char c) { return IsIdChar(c) || c == '@'; });
}

}  // namespace casegrid
