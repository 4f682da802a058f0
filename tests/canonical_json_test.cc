#include "engine/canonical_json.h"

#include <gtest/gtest.h>

namespace casegrid {
namespace {

std::string Canon(std::string_view in) {
  auto r = CanonicalizeObject(in);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "";
}

TEST(CanonicalJsonTest, SortsKeysAndDropsWhiteSpace) {
  EXPECT_EQ(Canon(R"({ "b" : 1, "a" : { "d": true, "c": null } })"),
            R"({"a":{"c":null,"d":true},"b":1})");
}

TEST(CanonicalJsonTest, SortsKeysByUtf16CodeUnits) {
  // U+1F600 (surrogates D83D DE00) sorts before U+FB01 in UTF-16, after it in UTF-8.
  EXPECT_EQ(Canon("{\"\xef\xac\x81\":1,\"\xf0\x9f\x98\x80\":2}"),
            "{\"\xf0\x9f\x98\x80\":2,\"\xef\xac\x81\":1}");
}

TEST(CanonicalJsonTest, WritesNumbersInEcmaScriptForm) {
  EXPECT_EQ(
      Canon(R"({"a":1.0,"b":-0.0,"c":1e-21,"d":1e19,"e":0.000001,"f":1.5e-7,"g":123.456})"),
      R"({"a":1,"b":0,"c":1e-21,"d":10000000000000000000,"e":0.000001,"f":1.5e-7,"g":123.456})");
  EXPECT_EQ(Canon(R"({"big":9007199254740993,"neg":-42})"),
            R"({"big":9007199254740992,"neg":-42})");
}

// RFC 8785 writes whole digits up to 10^21, and from 2^64 on those digits
// read back as no number at all: such numbers are refused, naming where.
TEST(CanonicalJsonTest, RefusesNumbersWhoseCanonicalFormWouldNotReadBack) {
  for (const char* in : {R"({"x":{"n":1e20}})", R"({"x":{"n":-1e20}})",
                         R"({"x":{"n":18446744073709551615}})", R"({"x":{"n":1.5e300}})"}) {
    auto r = CanonicalizeObject(in);
    ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument) << in;
    EXPECT_NE(r.status().message().find("$.x.n: number out of range"), std::string::npos)
        << r.status().message();
  }
  // Written out in full, such numbers do not even parse: the error says where.
  for (const char* in : {R"({"x":{"n":18446744073709551616}})", R"({"x":{"n":1e400}})",
                         R"({"x":{"n":123456789012345678901234567890}})"}) {
    auto r = CanonicalizeObject(in);
    ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument) << in;
    EXPECT_NE(r.status().message().find("$.x.n: number out of range"), std::string::npos)
        << in << " -> " << r.status().message();
  }
  EXPECT_EQ(WhyNotJson(R"({"a":[1,{"b":18446744073709551616}]})"),
            std::string("$.a[1].b: number out of range; a number, rounded to a double, must be of "
                        "magnitude below 2^64"));
  EXPECT_EQ(WhyNotJson("{\"a\":").rfind("not valid JSON: ", 0), 0u);
  // No JSON number at all is said so, not "out of range" (a black-box probe,
  // session 26: {"tier":01} read as a number too large).
  for (const char* in : {R"({"t":01})", R"({"t":0x1})", R"({"t":[1,-01]})", R"({"t":1.})"}) {
    const std::string why = WhyNotJson(in);
    EXPECT_NE(why.find(": not a JSON number"), std::string::npos) << in << " -> " << why;
    EXPECT_EQ(why.find("out of range"), std::string::npos) << in << " -> " << why;
  }
  // Just below the bound: written, and read back as the same object.
  const std::string below = Canon(R"({"n":18446744073709549568})");
  EXPECT_EQ(below, R"({"n":18446744073709550000})");
  EXPECT_EQ(Canon(below), below);
}

TEST(CanonicalJsonTest, EscapesOnlyWhatItMust) {
  EXPECT_EQ(Canon(R"({"s":"\u0041\/\u00e9\n\u001f\"\\"})"),
            "{\"s\":\"A/\xc3\xa9\\n\\u001f\\\"\\\\\"}");
  // Escapes between, before and after runs of plain characters.
  std::string out;
  AppendJsonString(out, std::string_view("\"ab\tc\x01\x7f\\", 8));
  EXPECT_EQ(out, "\"\\\"ab\\tc\\u0001\x7f\\\\\"");
  out.clear();
  AppendJsonString(out, "");
  EXPECT_EQ(out, "\"\"");
}

// AppendJsonString looks at eight bytes at a time: every byte that needs an
// escape, at every place in a word, among bytes that do not (0x20, 0x7f and
// the high bytes of UTF-8 included), is escaped as one byte at a time would.
TEST(CanonicalJsonTest, EscapesEveryByteThatMustBeWhereverItFalls) {
  auto one_at_a_time = [](std::string_view value) {
    std::string out = "\"";
    for (const char ch : value) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == '"') {
        out += "\\\"";
      } else if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
      } else {
        out += ch;
      }
    }
    return out + "\"";
  };
  const std::string plain = "ab \x7f\x80\xe4\xbd\xa0\xff~";
  const std::string escaped = std::string("\"\\\n\t\x01\x1f") + '\0';
  std::uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1103515245u + 12345u; };
  for (int round = 0; round < 5000; ++round) {
    std::string value(next() % 40, ' ');
    for (char& c : value) {
      c = next() % 8 == 0 ? escaped[next() % escaped.size()] : plain[next() % plain.size()];
    }
    std::string out;
    AppendJsonString(out, value);
    ASSERT_EQ(out, one_at_a_time(value)) << "round " << round;
  }
  for (std::size_t at = 0; at < 24; ++at) {
    for (const char c : escaped) {
      std::string value(24, 'x');
      value[at] = c;
      std::string out;
      AppendJsonString(out, value);
      EXPECT_EQ(out, one_at_a_time(value)) << at;
    }
  }
}

TEST(CanonicalJsonTest, RejectsWhatIsNotOneObject) {
  EXPECT_EQ(CanonicalizeObject("[1,2]").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CanonicalizeObject("{\"a\":").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CanonicalizeObject("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CanonicalizeObject("{} {}").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CanonicalizeObject("{\"a\":\"\xff\"}").status().code(), StatusCode::kInvalidArgument);
}

TEST(CanonicalJsonTest, RejectsDuplicateKeysNamingThem) {
  auto r = CanonicalizeObject(R"({"x":{"k":1,"k":2}})");
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("\"k\""), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("$.x"), std::string::npos) << r.status().message();
}

// A path names the value where it is, after siblings of every kind: the
// path is kept as steps and spelled out only for an error (session 24: a
// path built for every value cost a long key times the values under it,
// 67 ms of an io thread for a 64 KB body; not timed here).
TEST(CanonicalJsonTest, ErrorPathsNameTheValueAfterItsSiblings) {
  auto r = CanonicalizeObject(R"({"a":[1,{"b":2}],"c":{"d":[0,1e20]}})");
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("$.c.d[1]: number out of range"), std::string::npos)
      << r.status().message();
  r = CanonicalizeObject(R"({"a":[1,2],"x":{"y":[{"k":1,"k":2}]}})");
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("in $.x.y[0]"), std::string::npos) << r.status().message();
  EXPECT_EQ(
      WhyNotJson(R"({"a":[1,2],"c":{"d":[0,1e400]}})").rfind("$.c.d[1]: number out of range", 0),
      0u);
  // A long key over many items: written whole.
  std::string body = "{\"" + std::string(32000, 'a') + "\":[";
  for (int i = 0; i < 16000; ++i) body += i ? ",0" : "0";
  body += "]}";
  auto long_key = CanonicalizeObject(body, {1 << 20, 64});
  ASSERT_TRUE(long_key.ok()) << long_key.status().ToString();
  EXPECT_EQ(*long_key, body);
}

TEST(CanonicalJsonTest, EnforcesSizeAndDepthLimits) {
  JsonLimits limits{.max_bytes = 16, .max_depth = 3};
  EXPECT_EQ(CanonicalizeObject(R"({"a":"0123456789abcdef"})", limits).status().code(),
            StatusCode::kTooLarge);
  EXPECT_TRUE(CanonicalizeObject(R"({"a":{"b":[]}})", limits).ok());
  EXPECT_EQ(CanonicalizeObject(R"({"a":{"b":[[]]}})", limits).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(CanonicalJsonTest, IsIdempotent) {
  const std::string once = Canon(R"({"z":[3,2,{"y":1,"x":2.50}],"a":"\u00e9"})");
  EXPECT_EQ(Canon(once), once);
}

}  // namespace
}  // namespace casegrid
