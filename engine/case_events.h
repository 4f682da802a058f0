// The typed `data` of every event type in DOMAIN.md ("Events"), and the one
// place where that data is checked, read from JSON and written back.
//
// DecodeEventData() is the gate for data a client or an import hands in: it
// accepts exactly the fields a type defines, with the JSON type, value set and
// size each allows, and rejects anything else. Every error names the field by
// its dotted path (`reporter.phone: must be a string`, `parties[3]: longer
// than 100 bytes`); codes are kInvalidArgument, or kTooLarge for a size
// limit. EncodeEventData() writes the canonical JSON (RFC 8785) the log
// stores, so Decode(Encode(x)) == x and Encode(Decode(json)) ==
// CanonicalizeObject(json) for any json Decode accepts, with one exception:
// an empty `parties` is written as absent (absent means empty).
//
// Enum values are written by their DOMAIN.md names (`walk_in`), times as RFC
// 3339 UTC with milliseconds (`2026-11-22T10:31:02.123Z`), cell levels as
// the integers 1 to 4. Optional fields are omitted when absent, never null.
//
// Thread-safety: plain values and free functions; DecodeEventData keeps a
// per-thread parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/status.h"

namespace casegrid {

// ---- Value sets. Name() gives the DOMAIN.md spelling; Parse*() its inverse.

enum class CaseKind { kIncident, kDispute, kHazard, kAssistance };
enum class Channel {
  kCall,
  kWalkIn,
  kContactPlate,
  kWatchPoint,
  kVolunteer,
  kGridPatrol,
  kOnline,
};
enum class Priority { kLow, kNormal, kHigh, kUrgent };
enum class MediationOutcome { kAgreement, kPartial, kNoAgreement, kAdjourned };
enum class Resolution {
  kMediatedAgreement,
  kHandledOnSite,
  kReferredToCourt,
  kReferredToDepartment,
  kNoActionNeeded,
  kWithdrawn,
  kRectified,
};
enum class Satisfaction { kSatisfied, kNeutral, kDissatisfied };
enum class DeadlineKind { kAccept, kFirstContact, kCallback, kMediation };
// A cell's depth below the root; in JSON the integer itself.
enum class CellLevel { kDistrict = 1, kArea = 2, kGroup = 3, kCluster = 4 };

std::string_view Name(CaseKind v);
std::string_view Name(Channel v);
std::string_view Name(Priority v);
std::string_view Name(MediationOutcome v);
std::string_view Name(Resolution v);
std::string_view Name(Satisfaction v);
std::string_view Name(DeadlineKind v);
std::string_view Name(CellLevel v);  // "district", "area", "group", "cluster"

std::optional<CaseKind> ParseCaseKind(std::string_view name);
std::optional<Channel> ParseChannel(std::string_view name);
std::optional<Priority> ParsePriority(std::string_view name);
std::optional<MediationOutcome> ParseMediationOutcome(std::string_view name);
std::optional<Resolution> ParseResolution(std::string_view name);
std::optional<Satisfaction> ParseSatisfaction(std::string_view name);
std::optional<DeadlineKind> ParseDeadlineKind(std::string_view name);
std::optional<CellLevel> ParseCellLevel(std::string_view name);

// ---- Grid cells.

inline constexpr std::size_t kMaxCellPathBytes = 128;
inline constexpr std::size_t kMaxCellDepth = 4;

// `santai/tongchuan/a03/g12`: 1 to 4 segments of [a-z0-9_-] joined by '/',
// at most 128 bytes. kInvalidArgument, the message starting "cell: ".
Status ValidateCellPath(std::string_view cell);

// ---- Event data, one struct per type. Times are Unix epoch milliseconds.
// Every member has a default, so designated initializers may leave any out
// (-Wmissing-field-initializers).

struct GridCellDefined {
  static constexpr std::string_view kType = "GridCellDefined";
  std::string cell{};
  std::string name{};
  CellLevel level = CellLevel::kDistrict;  // must match the depth of `cell`
  bool operator==(const GridCellDefined&) const = default;
};

struct OfficerAssignedToCell {
  static constexpr std::string_view kType = "OfficerAssignedToCell";
  std::string cell{};
  std::string officer{};
  std::string role{};
  bool operator==(const OfficerAssignedToCell&) const = default;
};

struct OfficerRemovedFromCell {
  static constexpr std::string_view kType = "OfficerRemovedFromCell";
  std::string cell{};
  std::string officer{};
  std::string role{};
  bool operator==(const OfficerRemovedFromCell&) const = default;
};

struct Reporter {
  std::string name{};
  std::optional<std::string> phone{};
  bool operator==(const Reporter&) const = default;
};

struct CaseReported {
  static constexpr std::string_view kType = "CaseReported";
  CaseKind kind = CaseKind::kIncident;
  Channel channel = Channel::kCall;
  std::string cell{};
  std::string category{};
  Priority priority = Priority::kNormal;
  std::string summary{};
  Reporter reporter{};
  std::vector<std::string> parties{};  // optional in JSON: absent is empty
  std::optional<std::string> address{};
  std::optional<std::int64_t> occurred_at{};  // absent: unknown
  // Set by the server at intake from the deadline policy in force (never by
  // the client), so that replays show the due times of their day.
  std::optional<std::int64_t> accept_due_at{};
  std::optional<std::int64_t> first_contact_due_at{};
  bool operator==(const CaseReported&) const = default;
};

// At least one of the three is present.
struct CaseTriaged {
  static constexpr std::string_view kType = "CaseTriaged";
  std::optional<Priority> priority{};
  std::optional<std::string> category{};
  std::optional<CaseKind> kind{};
  bool operator==(const CaseTriaged&) const = default;
};

struct CaseAssigned {
  static constexpr std::string_view kType = "CaseAssigned";
  std::string assignee{};
  std::optional<std::string> team{};
  bool operator==(const CaseAssigned&) const = default;
};

struct CaseAccepted {
  static constexpr std::string_view kType = "CaseAccepted";
  std::string by{};
  bool operator==(const CaseAccepted&) const = default;
};

struct OfficerDispatched {
  static constexpr std::string_view kType = "OfficerDispatched";
  std::string officer{};
  bool operator==(const OfficerDispatched&) const = default;
};

struct OfficerArrived {
  static constexpr std::string_view kType = "OfficerArrived";
  std::string officer{};
  bool operator==(const OfficerArrived&) const = default;
};

struct NoteAdded {
  static constexpr std::string_view kType = "NoteAdded";
  std::string text{};
  bool operator==(const NoteAdded&) const = default;
};

struct MediationSessionHeld {
  static constexpr std::string_view kType = "MediationSessionHeld";
  int tier = 1;                             // 1 to 3
  std::vector<std::string> participants{};  // at least one
  MediationOutcome outcome = MediationOutcome::kAgreement;
  std::string notes{};
  bool operator==(const MediationSessionHeld&) const = default;
};

// One tier up at a time (to_tier == from_tier + 1). An escalation to tier 3
// names the judicial department in `judicial`; no other escalation has one.
struct CaseEscalated {
  static constexpr std::string_view kType = "CaseEscalated";
  int from_tier = 1;
  int to_tier = 2;
  std::string reason{};
  std::optional<std::string> judicial{};
  bool operator==(const CaseEscalated&) const = default;
};

struct CaseResolved {
  static constexpr std::string_view kType = "CaseResolved";
  Resolution resolution = Resolution::kHandledOnSite;
  std::string summary{};
  bool operator==(const CaseResolved&) const = default;
};

struct CaseClosed {
  static constexpr std::string_view kType = "CaseClosed";
  bool operator==(const CaseClosed&) const = default;
};

struct CaseReopened {
  static constexpr std::string_view kType = "CaseReopened";
  std::string reason{};
  bool operator==(const CaseReopened&) const = default;
};

struct CallbackScheduled {
  static constexpr std::string_view kType = "CallbackScheduled";
  std::int64_t due_at = 0;
  bool operator==(const CallbackScheduled&) const = default;
};

struct CallbackAttempted {
  static constexpr std::string_view kType = "CallbackAttempted";
  bool reached = false;
  std::string note{};
  bool operator==(const CallbackAttempted&) const = default;
};

struct CallbackCompleted {
  static constexpr std::string_view kType = "CallbackCompleted";
  Satisfaction speed = Satisfaction::kSatisfied;
  Satisfaction attitude = Satisfaction::kSatisfied;
  Satisfaction outcome = Satisfaction::kSatisfied;
  std::string comment{};  // optional in JSON: absent is empty (a reporter may give none)
  bool operator==(const CallbackCompleted&) const = default;
};

struct DeadlineMissed {
  static constexpr std::string_view kType = "DeadlineMissed";
  DeadlineKind deadline = DeadlineKind::kAccept;
  std::int64_t due_at = 0;
  bool operator==(const DeadlineMissed&) const = default;
};

// Written by the engine beside the event that starts or moves a deadline (a
// priority change before acceptance, a tier-1 mediation without agreement).
// Not in DOMAIN.md's list; added so that replays need no policy or clock.
struct DeadlineSet {
  static constexpr std::string_view kType = "DeadlineSet";
  DeadlineKind deadline = DeadlineKind::kAccept;
  std::int64_t due_at = 0;
  bool operator==(const DeadlineSet&) const = default;
};

// Written by the engine's deadline watch when a deadline is about to pass
// (its warning lead before due_at), so that the alert it raises is part of
// the history and replays the same. Not in DOMAIN.md's list; added.
struct DeadlineApproaching {
  static constexpr std::string_view kType = "DeadlineApproaching";
  DeadlineKind deadline = DeadlineKind::kAccept;
  std::int64_t due_at = 0;
  bool operator==(const DeadlineApproaching&) const = default;
};

// Written by the engine beside a step that meets a deadline it does not meet
// by its own type: a mediation session held while the first contact is still
// due (the parties were met; black-box probe 74). Meets the deadline of that
// kind while it is due at `due_at`, neither met nor missed; else changes
// nothing. Not in DOMAIN.md's list; added, so that the logs written before
// it replay as they were (a mediation there met nothing).
struct DeadlineMet {
  static constexpr std::string_view kType = "DeadlineMet";
  DeadlineKind deadline = DeadlineKind::kAccept;
  std::int64_t due_at = 0;
  bool operator==(const DeadlineMet&) const = default;
};

struct AlertAcknowledged {
  static constexpr std::string_view kType = "AlertAcknowledged";
  std::string alert{};
  std::string by{};
  bool operator==(const AlertAcknowledged&) const = default;
};

using CaseEventData =
    std::variant<GridCellDefined, OfficerAssignedToCell, OfficerRemovedFromCell, CaseReported,
                 CaseTriaged, CaseAssigned, CaseAccepted, OfficerDispatched, OfficerArrived,
                 NoteAdded, MediationSessionHeld, CaseEscalated, CaseResolved, CaseClosed,
                 CaseReopened, CallbackScheduled, CallbackAttempted, CallbackCompleted,
                 DeadlineMissed, DeadlineSet, DeadlineApproaching, AlertAcknowledged, DeadlineMet>;

// ---- Reading and writing.

// Sizes in bytes of UTF-8; lists in items.
struct DataLimits {
  std::size_t max_json_bytes = 64 * 1024;  // the whole `data` text
  // name, category, officer, assignee, team, by, role, alert, judicial,
  // reporter.name
  std::size_t max_short_bytes = 128;
  // summary, reason, notes, comment, note, text
  std::size_t max_text_bytes = 4000;
  std::size_t max_phone_bytes = 32;
  std::size_t max_address_bytes = 300;
  std::size_t max_list_items = 50;  // parties, participants
  std::size_t max_list_item_bytes = 100;
  // Replays of stored events pass true, so that fields a later version adds
  // do not make old events unreadable; input from clients never does.
  bool allow_unknown_fields = false;
  // Replays of stored events pass true as well: text that is blank or holds
  // a C1 control character (U+0080 to U+009F), which builds before session 21
  // took, still decodes; input from clients never does.
  bool allow_older_text = false;
};

// The data of an event of `type`, read from the JSON object `json` and
// checked: every defined field present unless optional, no other field, each
// of its JSON type and within `limits`, enum values by name, tiers 1 to 3,
// times as RFC 3339 UTC with milliseconds, strings neither empty nor blank, no
// control characters, C0 or C1 (prose fields allow tab and line breaks), duplicate keys
// rejected. An unknown `type` is kInvalidArgument `type: unknown event type`.
Result<CaseEventData> DecodeEventData(std::string_view type, std::string_view json,
                                      const DataLimits& limits = {});

// Whether `type` is one of the engine's own event types (DOMAIN.md), whose
// data DecodeEventData checks; other types are an integration's own.
bool IsEngineEventType(std::string_view type);
// Whether `type` is one of the engine's events of a case's stream: all but
// the grid's (grid/ streams) and AlertAcknowledged (alerts/ streams).
bool IsCaseEventType(std::string_view type);

// The limits for decoding events already in the log: allow_unknown_fields,
// allow_older_text, and no size limit below what the store itself accepted.
const DataLimits& StoredEventLimits();

// Canonical JSON of `data`, which must satisfy what DecodeEventData checks
// (strings valid UTF-8 in particular).
std::string EncodeEventData(const CaseEventData& data);

// The DOMAIN.md type name: "CaseReported".
std::string_view EventTypeOf(const CaseEventData& data);

}  // namespace casegrid
