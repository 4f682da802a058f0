#include "engine/case_events.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "engine/canonical_json.h"
#include "engine/time_format.h"

namespace casegrid {
namespace {

// One valid `data` per event type, deliberately not in canonical form.
struct Sample {
  std::string_view type;
  std::string_view json;
};

const std::vector<Sample>& Samples() {
  static const std::vector<Sample> samples = {
      {"GridCellDefined",
       R"({"name": "Group 12", "cell": "santai/tongchuan/a03/g12", "level": 4})"},
      {"OfficerAssignedToCell", R"({"role": "community_officer", "officer": "officer-7",
                                    "cell": "santai/tongchuan"})"},
      {"OfficerRemovedFromCell", R"({"cell": "santai", "officer": "officer-7", "role": "aux"})"},
      {"CaseReported", R"({"kind": "dispute", "channel": "contact_plate",
                           "cell": "santai/tongchuan/a03/g12", "category": "neighbour",
                           "priority": "high", "summary": "Water leak from\nflat 302",
                           "reporter": {"phone": "13800000000", "name": "Zhang"},
                           "parties": ["Zhang", "Li"], "address": "3 Tongchuan Rd",
                           "occurred_at": "2026-11-22T10:31:02.123Z"})"},
      {"CaseTriaged", R"({"priority": "urgent", "kind": "hazard"})"},
      {"CaseAssigned", R"({"team": "harmony-2", "assignee": "mediator-3"})"},
      {"CaseAccepted", R"({"by": "officer-7"})"},
      {"OfficerDispatched", R"({"officer": "officer-7"})"},
      {"OfficerArrived", R"({"officer": "officer-7"})"},
      {"NoteAdded", R"({"text": "Both sides agreed\tto meet."})"},
      {"MediationSessionHeld", R"({"tier": 1, "participants": ["Zhang", "Li", "mediator-3"],
                                   "outcome": "no_agreement", "notes": "Adjourned to Monday"})"},
      {"CaseEscalated", R"({"from_tier": 2, "to_tier": 3, "reason": "Damages claimed",
                            "judicial": "Santai People's Court"})"},
      {"CaseResolved", R"({"resolution": "mediated_agreement", "summary": "Li pays for repairs"})"},
      {"CaseClosed", R"({ })"},
      {"CaseReopened", R"({"reason": "Repairs not done"})"},
      {"CallbackScheduled", R"({"due_at": "2026-11-23T10:00:00.000Z"})"},
      {"CallbackAttempted", R"({"reached": false, "note": "No answer"})"},
      {"CallbackCompleted", R"({"speed": "satisfied", "attitude": "neutral",
                                "outcome": "dissatisfied", "comment": "Still leaking"})"},
      {"DeadlineMissed", R"({"deadline": "first_contact", "due_at": "2026-11-23T10:31:02.123Z"})"},
      {"DeadlineSet", R"({"deadline": "mediation", "due_at": "2026-12-08T10:31:02.123Z"})"},
      {"DeadlineApproaching", R"({"deadline": "accept", "due_at": "2026-11-22T10:41:02.123Z"})"},
      {"AlertAcknowledged", R"({"alert": "alert-42", "by": "officer-7"})"},
      {"DeadlineMet", R"({"deadline": "first_contact", "due_at": "2026-11-23T10:31:02.123Z"})"},
  };
  return samples;
}

Result<CaseEventData> Decode(std::string_view type, std::string_view json,
                             const DataLimits& limits = {}) {
  return DecodeEventData(type, json, limits);
}

// The error of decoding `json` as `type`, expecting it to fail with `code`.
std::string ErrorOf(std::string_view type, std::string_view json,
                    StatusCode code = StatusCode::kInvalidArgument, const DataLimits& limits = {}) {
  auto r = Decode(type, json, limits);
  if (r.ok()) {
    ADD_FAILURE() << type << " " << json << " was accepted";
    return "";
  }
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  return r.status().message();
}

// A valid CaseReported with `field` (a JSON member, or empty) added.
std::string Reported(std::string_view extra = "") {
  std::string json = R"({"kind":"incident","channel":"call","cell":"santai/a03","category":"theft",
                         "priority":"normal","summary":"Bike stolen","reporter":{"name":"Wang"})";
  if (!extra.empty()) json += "," + std::string(extra);
  return json + "}";
}

TEST(CaseEventsTest, SamplesCoverEveryType) {
  EXPECT_EQ(Samples().size(), std::variant_size_v<CaseEventData>);
}

TEST(CaseEventsTest, EncodeOfDecodeIsTheCanonicalForm) {
  for (const auto& [type, json] : Samples()) {
    SCOPED_TRACE(type);
    auto decoded = Decode(type, json);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(EventTypeOf(*decoded), type);
    auto canonical = CanonicalizeObject(json);
    ASSERT_TRUE(canonical.ok());
    EXPECT_EQ(EncodeEventData(*decoded), *canonical);
  }
}

TEST(CaseEventsTest, DecodeOfEncodeGivesTheValueBack) {
  for (const auto& [type, json] : Samples()) {
    SCOPED_TRACE(type);
    auto decoded = Decode(type, json);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    auto again = Decode(type, EncodeEventData(*decoded));
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(*again, *decoded);
  }
}

TEST(CaseEventsTest, DecodesTypedValues) {
  auto r = Decode("CaseReported", Samples()[3].json);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& e = std::get<CaseReported>(*r);
  EXPECT_EQ(e.kind, CaseKind::kDispute);
  EXPECT_EQ(e.channel, Channel::kContactPlate);
  EXPECT_EQ(e.priority, Priority::kHigh);
  EXPECT_EQ(e.reporter, (Reporter{"Zhang", "13800000000"}));
  EXPECT_EQ(e.parties, (std::vector<std::string>{"Zhang", "Li"}));
  EXPECT_EQ(e.occurred_at, ParseTimestamp("2026-11-22T10:31:02.123Z").value());
}

TEST(CaseEventsTest, RoundTripsBuiltValues) {
  CaseReported minimal{.kind = CaseKind::kAssistance,
                       .channel = Channel::kWalkIn,
                       .cell = "santai",
                       .category = "registration",
                       .priority = Priority::kLow,
                       .summary = "Newborn registration",
                       .reporter = {.name = "Chen"}};
  const std::vector<CaseEventData> values = {
      minimal,
      CaseTriaged{.category = "wages"},
      CaseEscalated{.from_tier = 1, .to_tier = 2, .reason = "Larger dispute"},
      CaseClosed{},
      CallbackAttempted{.reached = true, .note = "Reached, call back later"},
      DeadlineMissed{.deadline = DeadlineKind::kMediation, .due_at = 1795825862123},
      DeadlineSet{.deadline = DeadlineKind::kAccept, .due_at = 1795825862123},
  };
  for (const auto& value : values) {
    SCOPED_TRACE(EventTypeOf(value));
    const std::string json = EncodeEventData(value);
    auto decoded = Decode(EventTypeOf(value), json);
    ASSERT_TRUE(decoded.ok()) << json << ": " << decoded.status().ToString();
    EXPECT_EQ(*decoded, value);
  }
  EXPECT_EQ(EncodeEventData(CaseClosed{}), "{}");
  EXPECT_EQ(EncodeEventData(minimal),
            R"({"category":"registration","cell":"santai","channel":"walk_in","kind":"assistance",)"
            R"("priority":"low","reporter":{"name":"Chen"},"summary":"Newborn registration"})");
}

TEST(CaseEventsTest, AbsentPartiesAreEmptyAndEmptyPartiesAreOmitted) {
  auto absent = Decode("CaseReported", Reported());
  auto empty = Decode("CaseReported", Reported(R"("parties":[])"));
  ASSERT_TRUE(absent.ok() && empty.ok());
  EXPECT_TRUE(std::get<CaseReported>(*absent).parties.empty());
  EXPECT_EQ(*absent, *empty);
  EXPECT_EQ(EncodeEventData(*empty).find("parties"), std::string::npos);
}

// A reporter reached may answer the three questions and say nothing more
// (probe 96: a client had to make a comment up). Sent, it is prose.
TEST(CaseEventsTest, ACallbacksCommentMayBeLeftOutButNotSentBlank) {
  auto none = Decode("CallbackCompleted",
                     R"({"speed":"satisfied","attitude":"neutral","outcome":"satisfied"})");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(std::get<CallbackCompleted>(*none).comment.empty());
  EXPECT_EQ(EncodeEventData(*none),
            R"({"attitude":"neutral","outcome":"satisfied","speed":"satisfied"})");
  EXPECT_EQ(ErrorOf("CallbackCompleted",
                    R"({"speed":"satisfied","attitude":"neutral","outcome":"satisfied",)"
                    R"("comment":""})")
                .substr(0, 8),
            "comment:");
}

TEST(CaseEventsTest, NamesEveryEnumValueAsTheDomainSpellsIt) {
  EXPECT_EQ(Name(Channel::kWalkIn), "walk_in");
  EXPECT_EQ(Name(Resolution::kReferredToDepartment), "referred_to_department");
  EXPECT_EQ(Name(CellLevel::kCluster), "cluster");
  EXPECT_EQ(ParseCellLevel("area"), CellLevel::kArea);
  EXPECT_EQ(ParsePriority("critical"), std::nullopt);
  for (auto v : {CaseKind::kIncident, CaseKind::kDispute, CaseKind::kHazard, CaseKind::kAssistance})
    EXPECT_EQ(ParseCaseKind(Name(v)), v);
  for (int i = 0; i <= static_cast<int>(Channel::kOnline); ++i)
    EXPECT_EQ(ParseChannel(Name(Channel(i))), Channel(i));
  for (int i = 0; i <= static_cast<int>(Priority::kUrgent); ++i)
    EXPECT_EQ(ParsePriority(Name(Priority(i))), Priority(i));
  for (int i = 0; i <= static_cast<int>(MediationOutcome::kAdjourned); ++i)
    EXPECT_EQ(ParseMediationOutcome(Name(MediationOutcome(i))), MediationOutcome(i));
  for (int i = 0; i <= static_cast<int>(Resolution::kRectified); ++i)
    EXPECT_EQ(ParseResolution(Name(Resolution(i))), Resolution(i));
  for (int i = 0; i <= static_cast<int>(Satisfaction::kDissatisfied); ++i)
    EXPECT_EQ(ParseSatisfaction(Name(Satisfaction(i))), Satisfaction(i));
  for (int i = 0; i <= static_cast<int>(DeadlineKind::kMediation); ++i)
    EXPECT_EQ(ParseDeadlineKind(Name(DeadlineKind(i))), DeadlineKind(i));
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(ParseCellLevel(Name(CellLevel(i))), CellLevel(i));
}

TEST(CaseEventsTest, RejectsUnknownPriorityNamingTheField) {
  EXPECT_EQ(ErrorOf("CaseReported", Reported().replace(Reported().find("normal"), 6, "critical")),
            R"(priority: unknown value "critical"; one of low, normal, high, urgent)");
  EXPECT_EQ(ErrorOf("CallbackCompleted", R"({"speed":"satisfied","attitude":"rude",
                                            "outcome":"neutral","comment":"ok"})"),
            R"(attitude: unknown value "rude"; one of satisfied, neutral, dissatisfied)");
  // Every resolution is named, the hazards' rectified included.
  EXPECT_EQ(ErrorOf("CaseResolved", R"({"resolution":"solved","summary":"s"})"),
            R"(resolution: unknown value "solved"; one of mediated_agreement, handled_on_site, )"
            R"(referred_to_court, referred_to_department, no_action_needed, withdrawn, rectified)");
}

TEST(CaseEventsTest, RejectsMissingFieldsNamingThem) {
  EXPECT_EQ(ErrorOf("CaseAccepted", "{}"), "by: missing");
  EXPECT_EQ(ErrorOf("CaseReported", R"({"kind":"incident"})"), "channel: missing");
  EXPECT_EQ(
      ErrorOf("CaseReported", Reported().replace(Reported().find(R"("name":"Wang")"), 13, "")),
      "reporter.name: missing");
  EXPECT_EQ(ErrorOf("CallbackAttempted", R"({"note":"x"})"), "reached: missing");
}

TEST(CaseEventsTest, RejectsWrongJsonTypesNamingTheField) {
  EXPECT_EQ(ErrorOf("CaseReported", Reported().replace(Reported().find(R"("name":"Wang")"), 13,
                                                       R"("name":"Wang","phone":138)")),
            "reporter.phone: must be a string");
  EXPECT_EQ(ErrorOf("CaseReported",
                    Reported().replace(Reported().find(R"({"name":"Wang"})"), 15, R"("Wang")")),
            "reporter: must be an object");
  EXPECT_EQ(ErrorOf("CaseReported", Reported(R"("parties":"Li")")),
            "parties: must be an array of strings");
  EXPECT_EQ(ErrorOf("CaseReported", Reported(R"("parties":["Li",7])")),
            "parties[1]: must be a string");
  EXPECT_EQ(ErrorOf("CaseAssigned", R"({"assignee":"m-3","team":null})"), "team: must be a string");
  EXPECT_EQ(ErrorOf("CallbackAttempted", R"({"reached":"yes","note":"x"})"),
            "reached: must be true or false");
  EXPECT_EQ(ErrorOf("MediationSessionHeld",
                    R"({"tier":"1","participants":["a"],"outcome":"partial","notes":"n"})"),
            "tier: must be an integer");
  EXPECT_EQ(ErrorOf("CaseTriaged", R"({"priority":1})"), "priority: must be a string");
}

TEST(CaseEventsTest, RejectsTiersOutsideOneToThree) {
  for (std::string_view tier : {"0", "4", "-1", "1.5", "18446744073709551615"}) {
    SCOPED_TRACE(tier);
    const std::string json = R"({"tier":)" + std::string(tier) +
                             R"(,"participants":["a"],"outcome":"partial","notes":"n"})";
    EXPECT_EQ(ErrorOf("MediationSessionHeld", json), "tier: must be an integer from 1 to 3");
  }
  EXPECT_EQ(ErrorOf("CaseEscalated", R"({"from_tier":3,"to_tier":4,"reason":"r"})"),
            "to_tier: must be an integer from 1 to 3");
}

TEST(CaseEventsTest, RejectsUnknownAndRepeatedFields) {
  EXPECT_EQ(ErrorOf("CaseReported", Reported(R"("sumary":"typo")")), "sumary: unknown field");
  EXPECT_EQ(ErrorOf("CaseReported", Reported().replace(Reported().find(R"("name":"Wang")"), 13,
                                                       R"("name":"Wang","email":"w@x")")),
            "reporter.email: unknown field");
  EXPECT_EQ(ErrorOf("CaseClosed", R"({"reason":"done"})"), "reason: unknown field");
  // An unknown field explains a missing one better than "missing" does.
  EXPECT_EQ(ErrorOf("CaseReopened", R"({"reasn":"x"})"), "reasn: unknown field");
  EXPECT_EQ(ErrorOf("CaseAccepted", R"({"by":"a","by":"b"})"), "by: repeated");
  EXPECT_EQ(ErrorOf("CaseAccepted", R"({"by":"a","\n":1})"), R"("\n": unknown field)");
}

TEST(CaseEventsTest, ReplaysMayReadFieldsALaterVersionAdded) {
  DataLimits replay;
  replay.allow_unknown_fields = true;
  auto decoded = DecodeEventData("CaseClosed", R"({"reason":"done"})", replay);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(std::get<CaseClosed>(*decoded), CaseClosed{});
  // Repeated keys stay an error: the stored form never has them.
  EXPECT_FALSE(DecodeEventData("CaseAccepted", R"({"by":"a","by":"b"})", replay).ok());
}

TEST(CaseEventsTest, RejectsEmptyRequiredStrings) {
  EXPECT_EQ(ErrorOf("CaseReported", Reported().replace(Reported().find("Bike stolen"), 11, "")),
            "summary: must not be empty");
  EXPECT_EQ(ErrorOf("CaseAssigned", R"({"assignee":"m-3","team":""})"), "team: must not be empty");
  EXPECT_EQ(ErrorOf("CaseReported", Reported(R"("parties":["Li",""])")),
            "parties[1]: must not be empty");
  EXPECT_EQ(ErrorOf("MediationSessionHeld",
                    R"({"tier":1,"participants":[],"outcome":"partial","notes":"n"})"),
            "participants: must not be empty");
}

TEST(CaseEventsTest, EnforcesSizeLimitsWithTooLarge) {
  const std::string at_limit(4000, 'x');
  EXPECT_TRUE(Decode("NoteAdded", R"({"text":")" + at_limit + R"("})").ok());
  EXPECT_EQ(ErrorOf("NoteAdded", R"({"text":")" + at_limit + R"(x"})", StatusCode::kTooLarge),
            "text: longer than 4000 bytes");
  EXPECT_EQ(ErrorOf("CaseAccepted", R"({"by":")" + std::string(129, 'b') + R"("})",
                    StatusCode::kTooLarge),
            "by: longer than 128 bytes");
  EXPECT_EQ(ErrorOf("CaseReported", Reported(R"("address":")" + std::string(301, 'a') + R"(")"),
                    StatusCode::kTooLarge),
            "address: longer than 300 bytes");
  EXPECT_EQ(ErrorOf("CaseReported",
                    Reported().replace(Reported().find(R"("name":"Wang")"), 13,
                                       R"("name":"Wang","phone":")" + std::string(33, '1') + "\""),
                    StatusCode::kTooLarge),
            "reporter.phone: longer than 32 bytes");
  EXPECT_EQ(ErrorOf("CaseReported",
                    Reported(R"("parties":["a","b","c",")" + std::string(101, 'd') + R"("])"),
                    StatusCode::kTooLarge),
            "parties[3]: longer than 100 bytes");
  std::string fifty_one = R"("parties":["p")";
  for (int i = 1; i < 51; ++i) fifty_one += R"(,"p")";
  EXPECT_EQ(ErrorOf("CaseReported", Reported(fifty_one + "]"), StatusCode::kTooLarge),
            "parties: more than 50 items");
  // Multi-byte text counts bytes: 2 characters of 3 bytes each.
  const DataLimits tight{.max_text_bytes = 5};
  EXPECT_EQ(
      ErrorOf("NoteAdded", "{\"text\":\"\xe8\xb0\x83\xe8\xa7\xa3\"}", StatusCode::kTooLarge, tight),
      "text: longer than 5 bytes");
  EXPECT_EQ(ErrorOf("NoteAdded", R"({"text":"ok"})", StatusCode::kTooLarge,
                    DataLimits{.max_json_bytes = 8}),
            "data: 13 bytes exceeds the 8-byte limit");
}

TEST(CaseEventsTest, RejectsControlCharactersAndInvalidUtf8) {
  EXPECT_EQ(ErrorOf("OfficerDispatched", R"({"officer":"officer\u00017"})"),
            "officer: contains a control character");
  EXPECT_EQ(ErrorOf("CaseReported", Reported().replace(Reported().find("Wang"), 4, R"(Wang\nLi)")),
            "reporter.name: contains a control character");
  EXPECT_EQ(ErrorOf("NoteAdded", R"({"text":"a\u0000b"})"), "text: contains a control character");
  // C1 controls too (U+0085, NEL, breaks lines in some readers), and text
  // that is only white space says nothing; the log of older builds, which
  // took both, still decodes.
  EXPECT_EQ(ErrorOf("NoteAdded", R"({"text":"a\u0085b"})"), "text: contains a control character");
  EXPECT_EQ(ErrorOf("CaseEscalated", R"({"from_tier":1,"to_tier":2,"reason":"r\u009f"})"),
            "reason: contains a control character");
  EXPECT_EQ(ErrorOf("CaseEscalated", R"({"from_tier":1,"to_tier":2,"reason":" \t\u00a0"})"),
            "reason: must not be blank");
  EXPECT_EQ(ErrorOf("CaseReported", Reported(R"("parties":["a","\u3000"])")),
            "parties[1]: must not be blank");
  EXPECT_TRUE(Decode("NoteAdded", R"({"text":"a\u00a0b\u00e9\u0100"})").ok());
  // Invisible text is blank too (probe 96: a zero width space, a byte order
  // mark, a line separator alone were taken), and a line separator is no
  // part of a one-line field; prose may hold it, as it holds line feeds.
  for (const char* invisible :
       {R"({"text":"\u200b"})", R"({"text":"\ufeff"})", R"({"text":" \u2028\u2029\u2060\u00a0"})",
        R"({"text":"\u2003\u200d"})"}) {
    EXPECT_EQ(ErrorOf("NoteAdded", invisible), "text: must not be blank") << invisible;
  }
  EXPECT_TRUE(Decode("NoteAdded", R"({"text":"a\u2028b\u200bc"})").ok());
  // A phone number holds a digit at least (probe 96: "abc" was taken).
  const auto with_phone = [](std::string_view phone) {
    std::string json = Reported();
    return json.replace(json.find(R"("name":"Wang")"), 13,
                        R"("name":"Wang","phone":")" + std::string(phone) + "\"");
  };
  EXPECT_EQ(ErrorOf("CaseReported", with_phone("abc")),
            "reporter.phone: holds no digit; a phone number to call back");
  EXPECT_TRUE(Decode("CaseReported", with_phone("+86 816 1234 ext. 5")).ok());
  EXPECT_TRUE(DecodeEventData("CaseReported", with_phone("abc"), StoredEventLimits()).ok());
  EXPECT_EQ(ErrorOf("OfficerDispatched", R"({"officer":"a\u2028b"})"),
            "officer: contains a line separator");
  EXPECT_EQ(
      ErrorOf("CaseReported", Reported().replace(Reported().find("Wang"), 4, R"(Wang\u2029Li)")),
      "reporter.name: contains a line separator");
  for (const char* older : {R"({"text":"a\u0085b"})", R"({"text":"  "})"}) {
    EXPECT_TRUE(DecodeEventData("NoteAdded", older, StoredEventLimits()).ok()) << older;
  }
  EXPECT_TRUE(Decode("NoteAdded", R"({"text":"line one\r\nline two\tend"})").ok());
  EXPECT_TRUE(Decode("NoteAdded", "{\"text\":\"\xe8\xb0\x83\xe8\xa7\xa3\"}").ok());
  // simdjson rejects invalid UTF-8 while parsing, before any field is known.
  EXPECT_NE(ErrorOf("CaseAccepted", "{\"by\":\"\xff\"}").find("data: not valid JSON"),
            std::string::npos);
}

TEST(CaseEventsTest, ChecksCellPaths) {
  EXPECT_TRUE(ValidateCellPath("santai").ok());
  EXPECT_TRUE(ValidateCellPath("santai/tongchuan/a03/g_12-b").ok());
  EXPECT_EQ(ValidateCellPath("").message(), "cell: must not be empty");
  EXPECT_EQ(ValidateCellPath("santai//a03").message(), "cell: has an empty segment");
  EXPECT_EQ(ValidateCellPath("/santai").message(), "cell: has an empty segment");
  EXPECT_EQ(ValidateCellPath("santai/").message(), "cell: has an empty segment");
  EXPECT_EQ(ValidateCellPath("Santai").message(),
            "cell: segments may hold only a-z, 0-9, '_' and '-'");
  EXPECT_EQ(ValidateCellPath("a/b/c/d/e").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateCellPath(std::string(129, 'a')).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorOf("OfficerAssignedToCell", R"({"cell":"a b","officer":"o","role":"r"})"),
            "cell: segments may hold only a-z, 0-9, '_' and '-'");
}

TEST(CaseEventsTest, RequiresCellLevelToMatchDepth) {
  EXPECT_TRUE(Decode("GridCellDefined", R"({"cell":"santai/a03","name":"A03","level":2})").ok());
  EXPECT_EQ(ErrorOf("GridCellDefined", R"({"cell":"santai/a03","name":"A03","level":3})"),
            "level: must be 2 (area) for a cell 2 segments deep");
  EXPECT_EQ(ErrorOf("GridCellDefined", R"({"cell":"santai","name":"S","level":5})"),
            "level: must be an integer from 1 to 4");
}

TEST(CaseEventsTest, TierThreeEscalationNeedsJudicialDepartment) {
  EXPECT_EQ(ErrorOf("CaseEscalated", R"({"from_tier":2,"to_tier":3,"reason":"major"})"),
            "judicial: missing: an escalation to tier 3 names the judicial department");
  EXPECT_EQ(ErrorOf("CaseEscalated",
                    R"({"from_tier":1,"to_tier":2,"reason":"r","judicial":"Santai Court"})"),
            "judicial: only for an escalation to tier 3");
  EXPECT_EQ(ErrorOf("CaseEscalated", R"({"from_tier":2,"to_tier":3,"reason":"r","judicial":""})"),
            "judicial: must not be empty");
  auto ok = Decode("CaseEscalated",
                   R"({"from_tier":2,"to_tier":3,"reason":"r","judicial":"Santai Court"})");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(std::get<CaseEscalated>(*ok).judicial, "Santai Court");
}

TEST(CaseEventsTest, EscalatesOneTierAtATime) {
  EXPECT_EQ(
      ErrorOf("CaseEscalated", R"({"from_tier":1,"to_tier":3,"reason":"r","judicial":"Court"})"),
      "to_tier: must be from_tier + 1; a case escalates one tier at a time");
  EXPECT_EQ(ErrorOf("CaseEscalated", R"({"from_tier":2,"to_tier":2,"reason":"r"})"),
            "to_tier: must be from_tier + 1; a case escalates one tier at a time");
}

TEST(CaseEventsTest, TriageNeedsAtLeastOneField) {
  EXPECT_EQ(ErrorOf("CaseTriaged", "{}"), "data: needs at least one of priority, category, kind");
  auto r = Decode("CaseTriaged", R"({"category":"wages"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<CaseTriaged>(*r), (CaseTriaged{.category = "wages"}));
}

TEST(CaseEventsTest, AcceptsOnlyCanonicalTimes) {
  for (std::string_view t : {"2026-11-22T10:31:02Z", "2026-11-22 10:31:02.123Z",
                             "2026-11-22T10:31:02.123+08:00", "2026-02-30T00:00:00.000Z"}) {
    SCOPED_TRACE(t);
    EXPECT_EQ(ErrorOf("CallbackScheduled", R"({"due_at":")" + std::string(t) + R"("})"),
              "due_at: must be RFC 3339 UTC with milliseconds, e.g. 2026-11-22T10:31:02.123Z");
  }
  EXPECT_EQ(ErrorOf("CaseReported", Reported(R"("occurred_at":1795825862123)")),
            "occurred_at: must be a string");
}

TEST(CaseEventsTest, RejectsUnknownTypeAndNonObjects) {
  EXPECT_EQ(ErrorOf("CaseExploded", "{}"), R"(type: unknown event type "CaseExploded")");
  EXPECT_EQ(ErrorOf("", "{}"), "type is empty");
  EXPECT_EQ(ErrorOf("CaseClosed", "[]"), "data: must be a JSON object");
  EXPECT_EQ(ErrorOf("CaseClosed", "null"), "data: must be a JSON object");
  EXPECT_NE(ErrorOf("CaseClosed", R"({"a":)").find("data: not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf("CaseClosed", "").find("data: not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace casegrid
