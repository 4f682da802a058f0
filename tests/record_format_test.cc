#include "engine/record_format.h"

#include <gtest/gtest.h>
#include <rocksdb/slice_transform.h>

#include "engine/insert_hints.h"
#include "engine/time_format.h"

namespace casegrid {
namespace {

RecordedEvent Sample() {
  RecordedEvent e;
  e.position = 42;
  e.version = 7;
  e.recorded_at_ms = 1795343462123;
  e.stream = "case/C-20261122-000123";
  e.type = "CaseEscalated";
  e.id = "3f1c";
  e.actor = "officer-7";
  e.data = R"({"from_tier":1,"reason":"x","to_tier":2})";
  e.hash.fill(0xAB);
  return e;
}

TEST(RecordFormatTest, RoundTripsEveryField) {
  const RecordedEvent e = Sample();
  auto back = storage::DecodeRecord(42, storage::EncodeRecord(e));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->CanonicalBytes(), e.CanonicalBytes());
  EXPECT_EQ(back->hash, e.hash);
}

TEST(RecordFormatTest, RejectsTruncatedAndPaddedRecords) {
  const std::string bytes = storage::EncodeRecord(Sample());
  EXPECT_EQ(storage::DecodeRecord(42, bytes.substr(0, bytes.size() - 1)).status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(storage::DecodeRecord(42, bytes + "x").status().code(), StatusCode::kCorruption);
  std::string unknown = bytes;
  unknown[0] = 9;
  EXPECT_EQ(storage::DecodeRecord(42, unknown).status().code(), StatusCode::kCorruption);
}

// The hash covers the time as formatted; std::chrono's year is 16 bits, so
// a time 65,536 years on formats as the same text. A record of a time
// outside years 0000 to 9999 is damage, not an event (review 106: one
// forged so passed `casegrid verify`).
TEST(RecordFormatTest, RejectsATimeOutsideTheYearsItsHashCovers) {
  RecordedEvent e = Sample();
  // 23,936,532 days from 2026-11-22 to 67562-11-22.
  const std::int64_t wrapped = e.recorded_at_ms + std::int64_t{23936532} * 86400000;
  RecordedEvent forged = e;
  forged.recorded_at_ms = wrapped;
  ASSERT_EQ(FormatTimestamp(wrapped), FormatTimestamp(e.recorded_at_ms));  // why it matters
  const auto back = storage::DecodeRecord(42, storage::EncodeRecord(forged));
  ASSERT_EQ(back.status().code(), StatusCode::kCorruption);
  EXPECT_NE(back.status().message().find("outside the years 0000 to 9999"), std::string::npos)
      << back.status().message();
  for (const std::int64_t edge : {kFirstFormattableMs, kLastFormattableMs}) {
    e.recorded_at_ms = edge;
    EXPECT_TRUE(storage::DecodeRecord(42, storage::EncodeRecord(e)).ok()) << edge;
  }
  for (const std::int64_t past : {kFirstFormattableMs - 1, kLastFormattableMs + 1}) {
    e.recorded_at_ms = past;
    EXPECT_FALSE(storage::DecodeRecord(42, storage::EncodeRecord(e)).ok()) << past;
  }
}

TEST(RecordFormatTest, KeysSortInNumericOrder) {
  EXPECT_LT(storage::EncodeBigEndian64(255), storage::EncodeBigEndian64(256));
  EXPECT_EQ(storage::DecodeBigEndian64(storage::EncodeBigEndian64(0x0102030405060708)),
            0x0102030405060708u);
  // Every key of "case/a" sorts before any key of "case/a-b" and after "case/".
  EXPECT_LT(storage::StreamIndexKey("case/a", UINT64_MAX), storage::StreamIndexKey("case/a-b", 1));
}

TEST(RecordFormatTest, CanonicalBytesAreTheEnvelopeWithSortedKeys) {
  EXPECT_EQ(
      Sample().CanonicalBytes(),
      R"({"actor":"officer-7","data":{"from_tier":1,"reason":"x","to_tier":2},"id":"3f1c",)"
      R"("position":42,"recorded_at":"2026-11-22T10:31:02.123Z","stream":"case/C-20261122-000123",)"
      R"("type":"CaseEscalated","version":7})");
}

TEST(TimeFormatTest, FormatsAndParsesMilliseconds) {
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00.000Z");
  auto t = ParseTimestamp("2026-11-22T10:31:02.123Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatTimestamp(*t), "2026-11-22T10:31:02.123Z");
  EXPECT_EQ(*ParseTimestamp("2026-11-22T10:31:02Z"), *t - 123);
  // Before 1970, and past the four-digit years.
  EXPECT_EQ(FormatTimestamp(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatTimestamp(253402300800000), "10000-01-01T00:00:00.000Z");
  std::string appended = "at ";
  AppendTimestamp(appended, *t);
  EXPECT_EQ(appended, "at 2026-11-22T10:31:02.123Z");
}

TEST(TimeFormatTest, RejectsWhatIsNotRfc3339Utc) {
  for (const char* bad : {"2026-11-22", "2026-11-22T10:31:02+08:00", "2026-02-30T00:00:00Z",
                          "2026-11-22T24:00:00Z", "2026-11-22T10:31:02.12Z", ""}) {
    EXPECT_EQ(ParseTimestamp(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// Times asked about (as_of) take any RFC 3339 form a client may write.
TEST(TimeFormatTest, ParsesEveryRfc3339FormOfATimeAskedAbout) {
  const std::int64_t t = *ParseTimestamp("2026-11-22T10:31:02.123Z");
  for (const char* same : {"2026-11-22T10:31:02.123Z", "2026-11-22t10:31:02.123z",
                           "2026-11-22T10:31:02.123+00:00", "2026-11-22T10:31:02.123-00:00",
                           "2026-11-22T18:31:02.123+08:00", "2026-11-22T05:01:02.123-05:30",
                           "2026-11-22T10:31:02.123999Z", "2026-11-22T10:31:02.1239Z"}) {
    EXPECT_EQ(*ParseRfc3339(same), t) << same;
  }
  EXPECT_EQ(*ParseRfc3339("2026-11-22T10:31:02.1Z"), t - 23);
  EXPECT_EQ(*ParseRfc3339("2026-11-22T10:31:02Z"), t - 123);
  // Across midnight and the year's end.
  EXPECT_EQ(*ParseRfc3339("2027-01-01T07:00:00+08:00"), *ParseTimestamp("2026-12-31T23:00:00Z"));
  // A leap second, in UTC or local time: the last millisecond before it
  // (it is never stored: the stored form has no second 60).
  EXPECT_EQ(*ParseRfc3339("2016-12-31T23:59:60Z"), *ParseTimestamp("2016-12-31T23:59:59.999Z"));
  EXPECT_EQ(*ParseRfc3339("2017-01-01T07:59:60.5+08:00"),
            *ParseTimestamp("2016-12-31T23:59:59.999Z"));
  EXPECT_FALSE(ParseTimestamp("2016-12-31T23:59:60Z").ok());
  EXPECT_FALSE(ParseTimestamp("2016-12-31T23:59:60.000Z").ok());
  for (const char* bad :
       {"2026-11-22", "2026-11-22T10:31:02", "2026-11-22T10:31:02.Z", "2026-11-22T10:31:02+0800",
        "2026-11-22T10:31:02+24:00", "2026-11-22T10:31:02+08:60", "2026-11-22 10:31:02Z",
        "2026-02-30T00:00:00Z", "2026-11-22T10:31:60Z", "2026-11-22T10:31:61Z",
        "2026-11-22T10:31:02ZZ", ""}) {
    EXPECT_EQ(ParseRfc3339(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(InsertHintsTest, GroupKeysAsTheirInsertsRunInOrder) {
  const std::string first = storage::StreamIndexKey("case/C-1", 1);
  const std::string second = storage::StreamIndexKey("case/C-1", 2);
  const std::string other = storage::StreamIndexKey("case/C-2", 1);
  auto group = [](const std::shared_ptr<const rocksdb::SliceTransform>& t, const std::string& k) {
    EXPECT_TRUE(t->InDomain(k));
    return t->Transform(k).ToString();
  };
  // Every position under one hint.
  EXPECT_EQ(group(storage::HintForAllKeys(), storage::EncodeBigEndian64(1)), "");
  EXPECT_EQ(group(storage::HintForAllKeys(), storage::EncodeBigEndian64(1u << 30)), "");
  // One hint per key rewritten.
  EXPECT_EQ(group(storage::HintPerKey(), "santai/tongchuan"), "santai/tongchuan");
  // One hint per group of `group \0 number` keys, the number not part of it.
  const auto numbered = storage::HintPerGroupOfNumberedKeys();
  EXPECT_EQ(group(numbered, first), group(numbered, second));
  EXPECT_EQ(group(numbered, first), std::string("case/C-1") + '\0');
  EXPECT_NE(group(numbered, first), group(numbered, other));
  EXPECT_FALSE(numbered->InDomain("short"));
}

}  // namespace
}  // namespace casegrid
