#include "engine/case_events.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>

#include "engine/canonical_json.h"
#include "engine/names.h"
#include "engine/time_format.h"

namespace casegrid {
namespace {

using simdjson::dom::element;

// ---- Value names, indexed by the enum's value.

constexpr std::string_view kCaseKindNames[] = {"incident", "dispute", "hazard", "assistance"};
constexpr std::string_view kChannelNames[] = {
    "call", "walk_in", "contact_plate", "watch_point", "volunteer", "grid_patrol", "online"};
constexpr std::string_view kPriorityNames[] = {"low", "normal", "high", "urgent"};
constexpr std::string_view kMediationOutcomeNames[] = {"agreement", "partial", "no_agreement",
                                                       "adjourned"};
constexpr std::string_view kResolutionNames[] = {
    "mediated_agreement", "handled_on_site", "referred_to_court", "referred_to_department",
    "no_action_needed",   "withdrawn",       "rectified"};
constexpr std::string_view kSatisfactionNames[] = {"satisfied", "neutral", "dissatisfied"};
constexpr std::string_view kDeadlineKindNames[] = {"accept", "first_contact", "callback",
                                                   "mediation"};
constexpr std::string_view kCellLevelNames[] = {"district", "area", "group", "cluster"};  // 1..4

template <typename E>
constexpr std::span<const std::string_view> kNames = {};
template <>
constexpr std::span<const std::string_view> kNames<CaseKind> = kCaseKindNames;
template <>
constexpr std::span<const std::string_view> kNames<Channel> = kChannelNames;
template <>
constexpr std::span<const std::string_view> kNames<Priority> = kPriorityNames;
template <>
constexpr std::span<const std::string_view> kNames<MediationOutcome> = kMediationOutcomeNames;
template <>
constexpr std::span<const std::string_view> kNames<Resolution> = kResolutionNames;
template <>
constexpr std::span<const std::string_view> kNames<Satisfaction> = kSatisfactionNames;
template <>
constexpr std::span<const std::string_view> kNames<DeadlineKind> = kDeadlineKindNames;

template <typename E>
std::optional<E> ParseName(std::string_view name) {
  const auto it = std::find(kNames<E>.begin(), kNames<E>.end(), name);
  if (it == kNames<E>.end()) return std::nullopt;
  return static_cast<E>(it - kNames<E>.begin());
}

// ---- Error messages: "<path>: <what>".

// `s` as a JSON string for a message, cut to 64 bytes on a character boundary.
std::string Quoted(std::string_view s) {
  constexpr std::size_t kMax = 64;
  const bool cut = s.size() > kMax;
  if (cut) {
    std::size_t n = kMax;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s = s.substr(0, n);
  }
  std::string out;
  AppendJsonString(out, s);
  if (cut) out += "...";
  return out;
}

bool IsPlainKey(std::string_view key) {
  return !key.empty() && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// Where a value sits: `data` itself, `reporter.phone`, `parties[3]`. Built
// into text only when there is an error to report.
struct Path {
  const Path* parent = nullptr;
  std::string_view key;  // with a parent: empty for item `index` of the parent
  std::size_t index = 0;

  Path Field(std::string_view k) const { return {this, k, 0}; }
  Path Item(std::size_t i) const { return {this, {}, i}; }

  std::string ToString() const {
    if (parent == nullptr) return "data";
    if (key.empty()) return parent->ToString() + "[" + std::to_string(index) + "]";
    std::string name = IsPlainKey(key) ? std::string(key) : Quoted(key);
    return parent->parent == nullptr ? name : parent->ToString() + "." + name;
  }
};

Status Invalid(const Path& path, std::string_view what) {
  return Status::InvalidArgument(path.ToString() + ": " + std::string(what));
}

Status TooLarge(const Path& path, std::string_view what) {
  return Status::TooLarge(path.ToString() + ": " + std::string(what));
}

// ---- Checks shared by the codecs.

enum class Charset {
  kLine,   // no control characters
  kProse,  // also tab, line feed and carriage return
};

// Whether `s` holds nothing a reader can see: white space (ASCII's and
// Unicode's: no-break, en to hair, line and paragraph separators, ideographic
// spaces) and the invisible format characters (zero width space, joiners,
// word joiner, byte order mark). A note of "\u200b" was taken (probe 96).
bool IsBlank(std::string_view s) {
  // UTF-8 of the code points above U+007F that count as blank here.
  static constexpr std::string_view kBlank[] = {
      "\xC2\xA0",      // U+00A0 no-break space
      "\xE1\x9A\x80",  // U+1680 ogham space mark
      "\xE1\xA0\x8E",  // U+180E mongolian vowel separator
      "\xE2\x80\x80", "\xE2\x80\x81", "\xE2\x80\x82", "\xE2\x80\x83",
      "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87",
      "\xE2\x80\x88", "\xE2\x80\x89", "\xE2\x80\x8A",  // U+2000..U+200A
      "\xE2\x80\x8B", "\xE2\x80\x8C", "\xE2\x80\x8D",  // U+200B..U+200D zero widths
      "\xE2\x80\xA8", "\xE2\x80\xA9",                  // U+2028, U+2029
      "\xE2\x80\xAF",                                  // U+202F narrow no-break
      "\xE2\x81\x9F", "\xE2\x81\xA0",                  // U+205F, U+2060 word joiner
      "\xE3\x80\x80",                                  // U+3000 ideographic space
      "\xEF\xBB\xBF",                                  // U+FEFF byte order mark
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      i += 1;
      continue;
    }
    if (c < 0x80) return false;  // any other ASCII is seen
    const auto* blank = std::find_if(std::begin(kBlank), std::end(kBlank), [&](std::string_view b) {
      return s.substr(i).starts_with(b);
    });
    if (blank == std::end(kBlank)) return false;
    i += blank->size();
  }
  return true;
}

// `older`: an event already in the log, which older builds let hold blank
// text and C1 control characters; it still decodes.
Status CheckText(const Path& path, std::string_view s, std::size_t max_bytes, Charset charset,
                 bool older) {
  if (s.empty()) return Invalid(path, "must not be empty");
  if (s.size() > max_bytes) {
    return TooLarge(path, "longer than " + std::to_string(max_bytes) + " bytes");
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool line_break = c == '\t' || c == '\n' || c == '\r';
    if ((c < 0x20 || c == 0x7F) && !(charset == Charset::kProse && line_break)) {
      return Invalid(path, "contains a control character");
    }
    // U+0080 to U+009F, the C1 controls (NEL among them), in UTF-8, which
    // simdjson has checked: 0xC2 is a lead byte there.
    if (c == 0xC2 && !older && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      return Invalid(path, "contains a control character");
    }
    // U+2028 and U+2029 break lines as NEL does (probe 96): prose may
    // hold line breaks, a one-line field may not.
    if (c == 0xE2 && charset == Charset::kLine && !older &&
        (s.substr(i, 3) == "\xE2\x80\xA8" || s.substr(i, 3) == "\xE2\x80\xA9")) {
      return Invalid(path, "contains a line separator");
    }
  }
  if (!older && IsBlank(s)) return Invalid(path, "must not be blank");
  return Status::Ok();
}

// Why `cell` is not a grid cell path; nullopt if it is one.
std::optional<std::string> CellPathProblem(std::string_view cell) {
  if (cell.empty()) return "must not be empty";
  if (cell.size() > kMaxCellPathBytes) {
    return "longer than " + std::to_string(kMaxCellPathBytes) + " bytes";
  }
  std::size_t segments = 1;
  for (std::size_t i = 0; i < cell.size(); ++i) {
    const char c = cell[i];
    if (c == '/') {
      if (i == 0 || i + 1 == cell.size() || cell[i - 1] == '/') return "has an empty segment";
      ++segments;
    } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return "segments may hold only a-z, 0-9, '_' and '-'";
    }
  }
  if (segments > kMaxCellDepth) {
    return "more than " + std::to_string(kMaxCellDepth) +
           " segments; the grid has four levels (district/area/group/cluster)";
  }
  return std::nullopt;
}

// ---- Codecs: how one field's value is read from JSON and written back.
// Each has `Value`, Read(element, path, limits, Value*) and Write(out, value).

template <typename S>
Status ReadObject(simdjson::dom::object obj, const Path& path, const DataLimits& limits, S* out);
template <typename S>
void WriteObject(std::string& out, const S& value);

struct Text {
  using Value = std::string;
  std::size_t DataLimits::*max_bytes;
  Charset charset = Charset::kLine;
  // A phone number: at least one digit, so that "abc" is no number to call
  // back (probe 96); what else it holds (+, spaces, "ext. 12") is the caller's.
  bool needs_digit = false;

  Status Read(element e, const Path& path, const DataLimits& limits, Value* out) const {
    std::string_view s;
    if (e.get_string().get(s)) return Invalid(path, "must be a string");
    RETURN_IF_ERROR(CheckText(path, s, limits.*max_bytes, charset, limits.allow_older_text));
    if (needs_digit && !limits.allow_older_text &&
        std::none_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Invalid(path, "holds no digit; a phone number to call back");
    }
    *out = s;
    return Status::Ok();
  }
  void Write(std::string& out, const Value& v) const { AppendJsonString(out, v); }
};

struct TextList {
  using Value = std::vector<std::string>;
  bool may_be_empty = false;

  Status Read(element e, const Path& path, const DataLimits& limits, Value* out) const {
    simdjson::dom::array items;
    if (e.get_array().get(items)) return Invalid(path, "must be an array of strings");
    if (items.size() > limits.max_list_items) {
      return TooLarge(path, "more than " + std::to_string(limits.max_list_items) + " items");
    }
    if (items.size() == 0 && !may_be_empty) return Invalid(path, "must not be empty");
    out->clear();
    for (element item : items) {
      const Path item_path = path.Item(out->size());
      std::string_view s;
      if (item.get_string().get(s)) return Invalid(item_path, "must be a string");
      RETURN_IF_ERROR(CheckText(item_path, s, limits.max_list_item_bytes, Charset::kLine,
                                limits.allow_older_text));
      out->emplace_back(s);
    }
    return Status::Ok();
  }
  void Write(std::string& out, const Value& v) const {
    out += '[';
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonString(out, v[i]);
    }
    out += ']';
  }
};

struct CellPath {
  using Value = std::string;

  Status Read(element e, const Path& path, const DataLimits&, Value* out) const {
    std::string_view s;
    if (e.get_string().get(s)) return Invalid(path, "must be a string");
    if (auto problem = CellPathProblem(s)) return Invalid(path, *problem);
    *out = s;
    return Status::Ok();
  }
  void Write(std::string& out, const Value& v) const { AppendJsonString(out, v); }
};

template <typename E>
struct Enum {
  using Value = E;

  Status Read(element e, const Path& path, const DataLimits&, Value* out) const {
    std::string_view s;
    if (e.get_string().get(s)) return Invalid(path, "must be a string");
    if (auto v = ParseName<E>(s)) {
      *out = *v;
      return Status::Ok();
    }
    std::string what = "unknown value " + Quoted(s) + "; one of ";
    for (std::size_t i = 0; i < kNames<E>.size(); ++i) {
      if (i > 0) what += ", ";
      what += kNames<E>[i];
    }
    return Invalid(path, what);
  }
  void Write(std::string& out, Value v) const { AppendJsonString(out, Name(v)); }
};

// A JSON integer from kMin to kMax: a mediation tier, a cell level.
template <typename T, int kMin, int kMax>
struct Integer {
  using Value = T;

  Status Read(element e, const Path& path, const DataLimits&, Value* out) const {
    if (!e.is_number()) return Invalid(path, "must be an integer");
    std::int64_t v = 0;
    if (e.get_int64().get(v) || v < kMin || v > kMax) {
      return Invalid(
          path, "must be an integer from " + std::to_string(kMin) + " to " + std::to_string(kMax));
    }
    *out = static_cast<T>(v);
    return Status::Ok();
  }
  void Write(std::string& out, Value v) const { out += std::to_string(static_cast<int>(v)); }
};

struct Flag {
  using Value = bool;

  Status Read(element e, const Path& path, const DataLimits&, Value* out) const {
    if (e.get_bool().get(*out)) return Invalid(path, "must be true or false");
    return Status::Ok();
  }
  void Write(std::string& out, Value v) const { out += v ? "true" : "false"; }
};

// Only the canonical form, so that Encode(Decode(json)) gives json back.
struct Time {
  using Value = std::int64_t;

  Status Read(element e, const Path& path, const DataLimits&, Value* out) const {
    std::string_view s;
    if (e.get_string().get(s)) return Invalid(path, "must be a string");
    Result<std::int64_t> t = ParseTimestamp(s);
    if (!t.ok() || FormatTimestamp(*t) != s) {
      return Invalid(path, "must be RFC 3339 UTC with milliseconds, e.g. 2026-11-22T10:31:02.123Z");
    }
    *out = *t;
    return Status::Ok();
  }
  void Write(std::string& out, Value v) const { AppendJsonString(out, FormatTimestamp(v)); }
};

template <typename S>
struct Nested {
  using Value = S;

  Status Read(element e, const Path& path, const DataLimits& limits, Value* out) const {
    simdjson::dom::object obj;
    if (e.get_object().get(obj)) return Invalid(path, "must be an object");
    return ReadObject(obj, path, limits, out);
  }
  void Write(std::string& out, const Value& v) const { WriteObject(out, v); }
};

// ---- The fields of each type: key, member and codec.

enum class Presence {
  kRequired,
  kOptional,  // absent: nullopt, or for a plain member its default (then omitted when written)
};

template <typename S, typename M, typename C>
struct Field {
  std::string_view key;
  M S::*member;
  C codec;
  Presence presence;
};

template <typename S, typename M, typename C>
constexpr Field<S, M, C> Req(std::string_view key, M S::*member, C codec) {
  static_assert(std::is_same_v<M, typename C::Value>);
  return {key, member, codec, Presence::kRequired};
}

template <typename S, typename M, typename C>
constexpr Field<S, M, C> Opt(std::string_view key, M S::*member, C codec) {
  static_assert(std::is_same_v<M, std::optional<typename C::Value>> ||
                std::is_same_v<M, typename C::Value>);
  return {key, member, codec, Presence::kOptional};
}

constexpr CellPath kCell{};
constexpr Text kShort{&DataLimits::max_short_bytes};
constexpr Text kProse{&DataLimits::max_text_bytes, Charset::kProse};
constexpr Text kPhone{&DataLimits::max_phone_bytes, Charset::kLine, /*needs_digit=*/true};
constexpr Text kAddress{&DataLimits::max_address_bytes};
constexpr TextList kParties{.may_be_empty = true};
constexpr TextList kParticipants{.may_be_empty = false};
constexpr Integer<int, 1, 3> kTier{};
constexpr Integer<CellLevel, 1, 4> kLevel{};
constexpr Flag kFlag{};
constexpr Time kTime{};
template <typename E>
constexpr Enum<E> kEnum{};

template <typename S>
using Of = std::type_identity<S>;

constexpr auto FieldsOf(Of<GridCellDefined>) {
  using S = GridCellDefined;
  return std::tuple{Req("cell", &S::cell, kCell), Req("name", &S::name, kShort),
                    Req("level", &S::level, kLevel)};
}
constexpr auto FieldsOf(Of<OfficerAssignedToCell>) {
  using S = OfficerAssignedToCell;
  return std::tuple{Req("cell", &S::cell, kCell), Req("officer", &S::officer, kShort),
                    Req("role", &S::role, kShort)};
}
constexpr auto FieldsOf(Of<OfficerRemovedFromCell>) {
  using S = OfficerRemovedFromCell;
  return std::tuple{Req("cell", &S::cell, kCell), Req("officer", &S::officer, kShort),
                    Req("role", &S::role, kShort)};
}
constexpr auto FieldsOf(Of<Reporter>) {
  using S = Reporter;
  return std::tuple{Req("name", &S::name, kShort), Opt("phone", &S::phone, kPhone)};
}
constexpr auto FieldsOf(Of<CaseReported>) {
  using S = CaseReported;
  return std::tuple{Req("kind", &S::kind, kEnum<CaseKind>),
                    Req("channel", &S::channel, kEnum<Channel>),
                    Req("cell", &S::cell, kCell),
                    Req("category", &S::category, kShort),
                    Req("priority", &S::priority, kEnum<Priority>),
                    Req("summary", &S::summary, kProse),
                    Req("reporter", &S::reporter, Nested<Reporter>{}),
                    Opt("parties", &S::parties, kParties),
                    Opt("address", &S::address, kAddress),
                    Opt("occurred_at", &S::occurred_at, kTime),
                    Opt("accept_due_at", &S::accept_due_at, kTime),
                    Opt("first_contact_due_at", &S::first_contact_due_at, kTime)};
}
constexpr auto FieldsOf(Of<CaseTriaged>) {
  using S = CaseTriaged;
  return std::tuple{Opt("priority", &S::priority, kEnum<Priority>),
                    Opt("category", &S::category, kShort), Opt("kind", &S::kind, kEnum<CaseKind>)};
}
constexpr auto FieldsOf(Of<CaseAssigned>) {
  using S = CaseAssigned;
  return std::tuple{Req("assignee", &S::assignee, kShort), Opt("team", &S::team, kShort)};
}
constexpr auto FieldsOf(Of<CaseAccepted>) {
  return std::tuple{Req("by", &CaseAccepted::by, kShort)};
}
constexpr auto FieldsOf(Of<OfficerDispatched>) {
  return std::tuple{Req("officer", &OfficerDispatched::officer, kShort)};
}
constexpr auto FieldsOf(Of<OfficerArrived>) {
  return std::tuple{Req("officer", &OfficerArrived::officer, kShort)};
}
constexpr auto FieldsOf(Of<NoteAdded>) {
  return std::tuple{Req("text", &NoteAdded::text, kProse)};
}
constexpr auto FieldsOf(Of<MediationSessionHeld>) {
  using S = MediationSessionHeld;
  return std::tuple{
      Req("tier", &S::tier, kTier), Req("participants", &S::participants, kParticipants),
      Req("outcome", &S::outcome, kEnum<MediationOutcome>), Req("notes", &S::notes, kProse)};
}
constexpr auto FieldsOf(Of<CaseEscalated>) {
  using S = CaseEscalated;
  return std::tuple{Req("from_tier", &S::from_tier, kTier), Req("to_tier", &S::to_tier, kTier),
                    Req("reason", &S::reason, kProse), Opt("judicial", &S::judicial, kShort)};
}
constexpr auto FieldsOf(Of<CaseResolved>) {
  using S = CaseResolved;
  return std::tuple{Req("resolution", &S::resolution, kEnum<Resolution>),
                    Req("summary", &S::summary, kProse)};
}
constexpr auto FieldsOf(Of<CaseClosed>) {
  return std::tuple{};
}
constexpr auto FieldsOf(Of<CaseReopened>) {
  return std::tuple{Req("reason", &CaseReopened::reason, kProse)};
}
constexpr auto FieldsOf(Of<CallbackScheduled>) {
  return std::tuple{Req("due_at", &CallbackScheduled::due_at, kTime)};
}
constexpr auto FieldsOf(Of<CallbackAttempted>) {
  using S = CallbackAttempted;
  return std::tuple{Req("reached", &S::reached, kFlag), Req("note", &S::note, kProse)};
}
constexpr auto FieldsOf(Of<CallbackCompleted>) {
  using S = CallbackCompleted;
  return std::tuple{Req("speed", &S::speed, kEnum<Satisfaction>),
                    Req("attitude", &S::attitude, kEnum<Satisfaction>),
                    Req("outcome", &S::outcome, kEnum<Satisfaction>),
                    Opt("comment", &S::comment, kProse)};  // a reporter may give none
}
constexpr auto FieldsOf(Of<DeadlineMissed>) {
  using S = DeadlineMissed;
  return std::tuple{Req("deadline", &S::deadline, kEnum<DeadlineKind>),
                    Req("due_at", &S::due_at, kTime)};
}
constexpr auto FieldsOf(Of<DeadlineSet>) {
  using S = DeadlineSet;
  return std::tuple{Req("deadline", &S::deadline, kEnum<DeadlineKind>),
                    Req("due_at", &S::due_at, kTime)};
}
constexpr auto FieldsOf(Of<DeadlineApproaching>) {
  using S = DeadlineApproaching;
  return std::tuple{Req("deadline", &S::deadline, kEnum<DeadlineKind>),
                    Req("due_at", &S::due_at, kTime)};
}
constexpr auto FieldsOf(Of<DeadlineMet>) {
  using S = DeadlineMet;
  return std::tuple{Req("deadline", &S::deadline, kEnum<DeadlineKind>),
                    Req("due_at", &S::due_at, kTime)};
}
constexpr auto FieldsOf(Of<AlertAcknowledged>) {
  using S = AlertAcknowledged;
  return std::tuple{Req("alert", &S::alert, kShort), Req("by", &S::by, kShort)};
}

// ---- Rules across fields, checked once every field has been read.

template <typename S>
Status CheckWhole(const S&, const Path&) {
  return Status::Ok();
}

Status CheckWhole(const GridCellDefined& e, const Path& path) {
  const auto depth = static_cast<int>(std::count(e.cell.begin(), e.cell.end(), '/') + 1);
  if (static_cast<int>(e.level) != depth) {
    return Invalid(path.Field("level"), "must be " + std::to_string(depth) + " (" +
                                            std::string(Name(static_cast<CellLevel>(depth))) +
                                            ") for a cell " + std::to_string(depth) +
                                            " segments deep");
  }
  return Status::Ok();
}

Status CheckWhole(const CaseTriaged& e, const Path& path) {
  if (!e.priority && !e.category && !e.kind) {
    return Invalid(path, "needs at least one of priority, category, kind");
  }
  return Status::Ok();
}

Status CheckWhole(const CaseEscalated& e, const Path& path) {
  if (e.to_tier != e.from_tier + 1) {
    return Invalid(path.Field("to_tier"),
                   "must be from_tier + 1; a case escalates one tier at a time");
  }
  if (e.to_tier == 3 && !e.judicial) {
    return Invalid(path.Field("judicial"),
                   "missing: an escalation to tier 3 names the judicial department");
  }
  if (e.to_tier != 3 && e.judicial) {
    return Invalid(path.Field("judicial"), "only for an escalation to tier 3");
  }
  return Status::Ok();
}

// ---- Reading and writing whole objects.

// Reads one JSON object's members by key and remembers which keys the type
// defines, so that Finish() can reject the others. Keeps the first error.
class FieldReader {
 public:
  FieldReader(simdjson::dom::object obj, const Path& path, bool allow_unknown)
      : obj_(obj), path_(path), allow_unknown_(allow_unknown) {}

  const Path& path() const { return path_; }
  bool ok() const { return status_.ok(); }

  // The value under `key`, if present; `key` is now a defined field.
  std::optional<element> Take(std::string_view key) {
    defined_.push_back(key);
    element e;
    if (obj_.at_key(key).get(e)) return std::nullopt;
    return e;
  }

  void Check(Status s) {
    if (status_.ok() && !s.ok()) status_ = std::move(s);
  }

  // An unknown or repeated key first (it explains a "missing" best), then
  // the first error seen.
  Status Finish() {
    std::vector<bool> seen(defined_.size(), false);
    for (auto [key, value] : obj_) {
      const auto it = std::find(defined_.begin(), defined_.end(), key);
      if (it == defined_.end()) {
        if (allow_unknown_) continue;
        return Invalid(path_.Field(key), "unknown field");
      }
      if (seen[it - defined_.begin()]) return Invalid(path_.Field(key), "repeated");
      seen[it - defined_.begin()] = true;
    }
    return status_;
  }

 private:
  simdjson::dom::object obj_;
  const Path& path_;
  const bool allow_unknown_;
  std::vector<std::string_view> defined_;
  Status status_;
};

template <typename T>
constexpr bool kIsOptional = false;
template <typename T>
constexpr bool kIsOptional<std::optional<T>> = true;

template <typename S, typename M, typename C>
void ReadField(FieldReader& reader, const Field<S, M, C>& field, const DataLimits& limits, S* out) {
  const std::optional<element> e = reader.Take(field.key);
  if (!reader.ok()) return;
  const Path path = reader.path().Field(field.key);
  if (!e) {
    if (field.presence == Presence::kRequired) reader.Check(Invalid(path, "missing"));
    return;
  }
  if constexpr (kIsOptional<M>) {
    typename C::Value v{};
    reader.Check(field.codec.Read(*e, path, limits, &v));
    out->*field.member = std::move(v);
  } else {
    reader.Check(field.codec.Read(*e, path, limits, &(out->*field.member)));
  }
}

template <typename S>
Status ReadObject(simdjson::dom::object obj, const Path& path, const DataLimits& limits, S* out) {
  FieldReader reader(obj, path, limits.allow_unknown_fields);
  std::apply([&](const auto&... field) { (ReadField(reader, field, limits, out), ...); },
             FieldsOf(Of<S>{}));
  if (reader.ok()) reader.Check(CheckWhole(*out, path));
  return reader.Finish();
}

using Members = std::vector<std::pair<std::string_view, std::string>>;

template <typename S, typename M, typename C>
void WriteField(Members& members, const Field<S, M, C>& field, const S& value) {
  const M& m = value.*field.member;
  if constexpr (kIsOptional<M>) {
    if (m) field.codec.Write(members.emplace_back(field.key, "").second, *m);
  } else if (field.presence == Presence::kRequired || m != M{}) {
    field.codec.Write(members.emplace_back(field.key, "").second, m);
  }
}

// RFC 8785 orders keys by UTF-16 code units; ours are ASCII, so bytes do.
template <typename S>
void WriteObject(std::string& out, const S& value) {
  Members members;
  std::apply([&](const auto&... field) { (WriteField(members, field, value), ...); },
             FieldsOf(Of<S>{}));
  std::sort(members.begin(), members.end());
  out += '{';
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, members[i].first);
    out += ':';
    out += members[i].second;
  }
  out += '}';
}

// ---- Dispatch on the type name.

using Decoder = Result<CaseEventData> (*)(simdjson::dom::object, const DataLimits&);

template <typename S>
Result<CaseEventData> DecodeAs(simdjson::dom::object obj, const DataLimits& limits) {
  S value;
  RETURN_IF_ERROR(ReadObject(obj, Path{}, limits, &value));
  return CaseEventData(std::move(value));
}

template <std::size_t... I>
constexpr auto MakeDecoders(std::index_sequence<I...>) {
  return std::array{std::pair<std::string_view, Decoder>{
      std::variant_alternative_t<I, CaseEventData>::kType,
      &DecodeAs<std::variant_alternative_t<I, CaseEventData>>}...};
}

constexpr auto kDecoders =
    MakeDecoders(std::make_index_sequence<std::variant_size_v<CaseEventData>>{});

}  // namespace

std::string_view Name(CaseKind v) {
  return kNames<CaseKind>[static_cast<std::size_t>(v)];
}
std::string_view Name(Channel v) {
  return kNames<Channel>[static_cast<std::size_t>(v)];
}
std::string_view Name(Priority v) {
  return kNames<Priority>[static_cast<std::size_t>(v)];
}
std::string_view Name(MediationOutcome v) {
  return kNames<MediationOutcome>[static_cast<std::size_t>(v)];
}
std::string_view Name(Resolution v) {
  return kNames<Resolution>[static_cast<std::size_t>(v)];
}
std::string_view Name(Satisfaction v) {
  return kNames<Satisfaction>[static_cast<std::size_t>(v)];
}
std::string_view Name(DeadlineKind v) {
  return kNames<DeadlineKind>[static_cast<std::size_t>(v)];
}
std::string_view Name(CellLevel v) {
  return kCellLevelNames[static_cast<std::size_t>(v) - 1];
}

std::optional<CaseKind> ParseCaseKind(std::string_view n) {
  return ParseName<CaseKind>(n);
}
std::optional<Channel> ParseChannel(std::string_view n) {
  return ParseName<Channel>(n);
}
std::optional<Priority> ParsePriority(std::string_view n) {
  return ParseName<Priority>(n);
}
std::optional<MediationOutcome> ParseMediationOutcome(std::string_view n) {
  return ParseName<MediationOutcome>(n);
}
std::optional<Resolution> ParseResolution(std::string_view n) {
  return ParseName<Resolution>(n);
}
std::optional<Satisfaction> ParseSatisfaction(std::string_view n) {
  return ParseName<Satisfaction>(n);
}
std::optional<DeadlineKind> ParseDeadlineKind(std::string_view n) {
  return ParseName<DeadlineKind>(n);
}
std::optional<CellLevel> ParseCellLevel(std::string_view n) {
  const auto* it = std::find(std::begin(kCellLevelNames), std::end(kCellLevelNames), n);
  if (it == std::end(kCellLevelNames)) return std::nullopt;
  return static_cast<CellLevel>(it - std::begin(kCellLevelNames) + 1);
}

Status ValidateCellPath(std::string_view cell) {
  if (auto problem = CellPathProblem(cell)) return Status::InvalidArgument("cell: " + *problem);
  return Status::Ok();
}

const DataLimits& StoredEventLimits() {
  static const DataLimits limits = [] {
    DataLimits l;
    l.max_json_bytes = SIZE_MAX;
    l.allow_unknown_fields = true;
    l.allow_older_text = true;
    return l;
  }();
  return limits;
}

bool IsEngineEventType(std::string_view type) {
  return std::any_of(kDecoders.begin(), kDecoders.end(),
                     [&](const auto& d) { return d.first == type; });
}

bool IsCaseEventType(std::string_view type) {
  return IsEngineEventType(type) && type != GridCellDefined::kType &&
         type != OfficerAssignedToCell::kType && type != OfficerRemovedFromCell::kType &&
         type != AlertAcknowledged::kType;
}

Result<CaseEventData> DecodeEventData(std::string_view type, std::string_view json,
                                      const DataLimits& limits) {
  const auto decoder = std::find_if(kDecoders.begin(), kDecoders.end(),
                                    [&](const auto& d) { return d.first == type; });
  if (decoder == kDecoders.end()) {
    RETURN_IF_ERROR(ValidateEventType(type));  // so that the message may quote it
    return Status::InvalidArgument("type: unknown event type " + Quoted(type));
  }
  if (json.size() > limits.max_json_bytes) {
    return Status::TooLarge("data: " + std::to_string(json.size()) + " bytes exceeds the " +
                            std::to_string(limits.max_json_bytes) + "-byte limit");
  }
  thread_local simdjson::dom::parser parser;
  element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root)) {
    return Status::InvalidArgument(std::string("data: not valid JSON: ") +
                                   simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return Status::InvalidArgument("data: must be a JSON object");
  return decoder->second(obj, limits);
}

std::string EncodeEventData(const CaseEventData& data) {
  std::string out;
  std::visit([&](const auto& value) { WriteObject(out, value); }, data);
  return out;
}

std::string_view EventTypeOf(const CaseEventData& data) {
  return std::visit([](const auto& value) { return std::decay_t<decltype(value)>::kType; }, data);
}

}  // namespace casegrid
