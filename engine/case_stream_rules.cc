#include "engine/case_stream_rules.h"

#include <cctype>
#include <string>

#include "engine/case_events.h"
#include "engine/case_state.h"

namespace casegrid {
namespace {

bool OpensTheStream(const ExpectedVersion& e) {
  return e.kind == ExpectedVersion::Kind::kNoStream ||
         (e.kind == ExpectedVersion::Kind::kExact && e.version == 0);
}

}  // namespace

Status PinCaseStreamOpening(AppendRequest& request) {
  const std::string_view case_id = CaseIdOfStream(request.stream);
  if (case_id.empty()) return Status::Ok();
  if (!IsCaseId(case_id)) {
    return Status::InvalidArgument("stream: " + std::string(case_id.substr(0, 40)) +
                                   " is not a case id; case ids are C-<yyyymmdd>-<6 digits>");
  }
  request.max_version = kCaseEventsTakingNotes;
  for (std::size_t i = 0; i < request.events.size(); ++i) {
    if (!IsCaseEventType(request.events[i].type)) {
      return Status::InvalidArgument("events[" + std::to_string(i) +
                                     "].type: " + request.events[i].type +
                                     " is not an event of a case, and a case stream holds only "
                                     "those (DOMAIN.md)");
    }
    if (i > 0 && request.events[i].type == CaseReported::kType) {
      return Status::InvalidArgument("events[" + std::to_string(i) +
                                     "]: CaseReported opens a case stream, so it can only be "
                                     "the first event of an append");
    }
  }
  if (!request.events.empty() && request.events.front().type == CaseReported::kType) {
    if (CaseSequenceOf(case_id) > kLastImportedCaseSequence) {
      return Status::InvalidArgument("stream: " + std::string(case_id) +
                                     " takes a number the intake keeps for itself; " +
                                     "an import opens a case numbered at most " +
                                     std::to_string(kLastImportedCaseSequence) + " in its day");
    }
    if (request.expected.kind != ExpectedVersion::Kind::kAny && !OpensTheStream(request.expected)) {
      return Status::Conflict("expected_version: " + request.expected.ToString() +
                              ", but a CaseReported opens case " + std::string(case_id) +
                              "'s stream, which must not exist yet");
    }
    request.expected = ExpectedVersion::NoStream();
    return Status::Ok();
  }
  if (OpensTheStream(request.expected)) {
    return Status::InvalidArgument("expected_version: no_stream would open case " +
                                   std::string(case_id) +
                                   "'s stream, which only a CaseReported does");
  }
  if (request.expected.kind == ExpectedVersion::Kind::kAny) {
    request.expected = ExpectedVersion::Exists();
  }
  return Status::Ok();
}

Status RefuseTheServersStreams(std::string_view stream) {
  const std::string category(stream.substr(0, stream.find('/')));
  std::string lower = category;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != category &&
      (lower == "case" || lower == "grid" || lower == "alerts" || lower == "audit")) {
    return Status::InvalidArgument("stream: " + category + "/ looks like the " + lower +
                                   "/ streams; their names are lower case");
  }
  // `./audit/x` or `import/../audit` would read as another stream's path.
  const std::string with_ends = "/" + std::string(stream) + "/";
  if (with_ends.find("/./") != std::string::npos || with_ends.find("/../") != std::string::npos) {
    return Status::InvalidArgument("stream: a '.' or '..' path segment");
  }
  if (stream.starts_with("alerts/")) {
    return Status::InvalidArgument(
        "stream: alerts are acknowledged through /api/v1/alerts/{id}/ack");
  }
  if (stream.starts_with("audit/")) {
    return Status::InvalidArgument("stream: audit records are written by the server alone");
  }
  return Status::Ok();
}

Status ExplainCaseStreamConflict(const AppendRequest& pinned, Status status) {
  const std::string_view case_id = CaseIdOfStream(pinned.stream);
  // The store's version conflicts begin "stream "; its event-id ones do not.
  if (case_id.empty() || status.code() != StatusCode::kConflict ||
      !status.message().starts_with("stream ")) {
    return status;
  }
  if (pinned.expected.kind == ExpectedVersion::Kind::kNoStream) {
    return Status::Conflict("case " + std::string(case_id) +
                            " is reported already, and a case is reported once (" +
                            status.message() + ")");
  }
  if (status.message().find("does not exist") != std::string::npos) {
    return Status::Conflict("case " + std::string(case_id) +
                            " was never reported: a case stream opens with CaseReported (" +
                            status.message() + ")");
  }
  return status;
}

Result<std::optional<CaseEventData>> CheckImportedData(NewEvent& event) {
  if (!IsEngineEventType(event.type)) return std::optional<CaseEventData>();
  ASSIGN_OR_RETURN(CaseEventData data, DecodeEventData(event.type, event.data));
  event.data = EncodeEventData(data);
  return std::optional<CaseEventData>(std::move(data));
}

}  // namespace casegrid
