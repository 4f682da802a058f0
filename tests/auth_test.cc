#include "api/auth.h"

#include "api/token_cache.h"

#include <gtest/gtest.h>
#include <jwt.h>

#include <openssl/hmac.h>
#include <simdjson.h>

#include <cstdlib>

namespace casegrid {
namespace {

constexpr std::int64_t kNow = 1795343462123;
const std::string kSecret = "0123456789abcdef0123456789abcdef-test";

TokenAuthority Authority(const std::string& secret = kSecret) {
  auto a = TokenAuthority::Create(secret);
  EXPECT_TRUE(a.ok());
  return *a;
}

TEST(AuthTest, MintedTokenVerifiesWithItsClaims) {
  Principal who{"officer-7", Role::kOfficer, {"santai/tongchuan", "santai/xinhua"}, 0};
  auto token = Authority().Mint(who, kNow, 3600000);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  auto back = Authority().Verify(*token, kNow + 1000);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->sub, "officer-7");
  EXPECT_EQ(back->role, Role::kOfficer);
  EXPECT_EQ(back->cells, who.cells);
  EXPECT_EQ(back->expires_at_ms, (kNow + 3600000) / 1000 * 1000);
}

TEST(AuthTest, RejectsExpiredForgedAndMalformedTokens) {
  Principal who{"officer-7", Role::kOfficer, {""}, 0};
  const std::string token = *Authority().Mint(who, kNow, 60000);
  EXPECT_EQ(Authority().Verify(token, kNow + 61000).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(Authority("another-secret-of-at-least-32-bytes!").Verify(token, kNow).status().code(),
            StatusCode::kUnauthenticated);
  std::string tampered = token;
  tampered[tampered.find('.') + 3] ^= 0x01;  // inside the claims
  EXPECT_EQ(Authority().Verify(tampered, kNow).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(Authority().Verify("", kNow).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(Authority().Verify("not.a.token", kNow).status().code(), StatusCode::kUnauthenticated);
  // A sub that could not be the actor of a write nor name its audit stream
  // (a space, another script, over 128 bytes, a path's . or ..) is refused,
  // as is the engine's own actor, system (whose facts a pinned
  // expected_version passes over); an e-mail is not.
  for (const std::string& sub : {std::string("x y"), std::string("李审计"), std::string(129, 'a'),
                                 std::string("."), std::string(".."), std::string("system")}) {
    const std::string odd = *Authority().Mint({sub, Role::kAuditor, {""}, 0}, kNow, 60000);
    auto refused = Authority().Verify(odd, kNow);
    EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated) << sub;
    EXPECT_NE(refused.status().message().find("token sub"), std::string::npos);
  }
  EXPECT_TRUE(
      Authority()
          .Verify(*Authority().Mint({"aud@example.org", Role::kAuditor, {""}, 0}, kNow, 60000),
                  kNow)
          .ok());
  // alg "none" with the same claims: refused.
  const std::string payload =
      token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
  EXPECT_EQ(Authority()
                .Verify("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + ".", kNow)
                .status()
                .code(),
            StatusCode::kUnauthenticated);
}

std::string Base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : bytes) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) out += kAlphabet[(bits >> (count -= 6)) & 0x3F];
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 0x3F];
  return out;
}

// A token signed with the test secret by hand, so that its header says
// exactly `header`.
std::string HandSigned(const std::string& header, const std::string& claims) {
  const std::string input = Base64Url(header) + "." + Base64Url(claims);
  unsigned char mac[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return input + "." + Base64Url(std::string_view(reinterpret_cast<const char*>(mac), length));
}

std::string Claims(const std::string& extra = "") {
  return R"({"sub":"officer-7","role":"officer","cells":[""],"exp":)" +
         std::to_string(kNow / 1000 + 600) + extra + "}";
}

TEST(AuthTest, OnlyTheHeaderAndClaimsOfTheStandardPass) {
  // The hand signer signs as the authority does.
  EXPECT_TRUE(
      Authority().Verify(HandSigned(R"({"alg":"HS256","typ":"JWT"})", Claims()), kNow).ok());
  // Algorithm names are case-sensitive (RFC 7515 §4.1.1).
  auto lower = Authority().Verify(HandSigned(R"({"alg":"hs256","typ":"JWT"})", Claims()), kNow);
  EXPECT_EQ(lower.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(lower.status().message().find("HS256"), std::string::npos);
  // A critical extension this server does not know (RFC 7515 §4.1.11).
  auto crit = Authority().Verify(
      HandSigned(R"({"alg":"HS256","typ":"JWT","crit":["exp-x"],"exp-x":1})", Claims()), kNow);
  EXPECT_EQ(crit.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(crit.status().message().find("crit"), std::string::npos);
  // Not before (RFC 7519 §4.1.5): a second too early is refused, on time passes.
  const std::string header = R"({"alg":"HS256","typ":"JWT"})";
  const std::int64_t now_s = kNow / 1000;
  auto early =
      Authority().Verify(HandSigned(header, Claims(",\"nbf\":" + std::to_string(now_s + 1))), kNow);
  EXPECT_EQ(early.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(early.status().message().find("not valid yet"), std::string::npos);
  EXPECT_TRUE(Authority()
                  .Verify(HandSigned(header, Claims(",\"nbf\":" + std::to_string(now_s))), kNow)
                  .ok());
  EXPECT_EQ(
      Authority().Verify(HandSigned(header, Claims(R"(,"nbf":"soon")")), kNow).status().code(),
      StatusCode::kUnauthenticated);
  // An exp past the year 9999 would overflow in milliseconds (and spun the
  // WebSocket's expiry timer); the last second of 9999 passes.
  auto far = [&](const std::string& exp) {
    return Authority().Verify(
        HandSigned(header,
                   R"({"sub":"officer-7","role":"officer","cells":[""],"exp":)" + exp + "}"),
        kNow);
  };
  EXPECT_EQ(far("253402300800").status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(far("9300000000000000").status().message().find("9999"), std::string::npos);
  auto last = far("253402300799");
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->expires_at_ms, 253402300799000LL);
  // A NumericDate "can be non-integer" (RFC 7519 §2), as some libraries
  // write it: taken to the millisecond (black-box probe 78: refused).
  auto fraction = far(std::to_string(kNow / 1000 + 600) + ".5");
  ASSERT_TRUE(fraction.ok()) << fraction.status().ToString();
  EXPECT_EQ(fraction->expires_at_ms, (kNow / 1000 + 600) * 1000 + 500);
  for (const char* bad : {R"("2026-11-22")", "true", "-5", "0", "2.6e11", "null"}) {
    EXPECT_EQ(far(bad).status().code(), StatusCode::kUnauthenticated) << bad;
  }
  for (const char* since_1970 : {"0", "-5", "0.0"}) {  // valid since then (review 81)
    EXPECT_TRUE(Authority()
                    .Verify(HandSigned(header, Claims(std::string(",\"nbf\":") + since_1970)), kNow)
                    .ok())
        << since_1970;
  }
  EXPECT_EQ(
      Authority()
          .Verify(HandSigned(header, Claims(",\"nbf\":" + std::to_string(now_s) + ".5")), kNow)
          .status()
          .message(),
      "token is not valid yet (nbf)");
}

// A member twice in the header or the claims is read two ways by JWT
// libraries (libjwt takes the last, others the first): refused, whichever
// comes first. (A black-box probe got an admin's scope from
// "role":"admin","role":"operator".)
TEST(AuthTest, AMemberTwiceInTheHeaderOrTheClaimsIsRefused) {
  const std::string header = R"({"alg":"HS256","typ":"JWT"})";
  const std::string exp = std::to_string(kNow / 1000 + 600);
  for (const auto& [h, claims] : std::vector<std::pair<std::string, std::string>>{
           {header,
            R"({"sub":"s","role":"admin","role":"operator","cells":[""],"exp":)" + exp + "}"},
           {header,
            R"({"sub":"s","role":"operator","role":"admin","cells":[""],"exp":)" + exp + "}"},
           {header, R"({"sub":"s","role":"officer","cells":["a"],"cells":[""],"exp":)" + exp + "}"},
           {header, R"({"sub":"s","role":"officer","cells":[""],"exp":1,"exp":)" + exp + "}"},
           {R"({"alg":"none","alg":"HS256","typ":"JWT"})", Claims()},
       }) {
    auto refused = Authority().Verify(HandSigned(h, claims), kNow);
    EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated) << h << claims;
    EXPECT_NE(refused.status().message().find("duplicate key"), std::string::npos)
        << refused.status().message();
  }
  // The same members once each pass.
  EXPECT_TRUE(Authority()
                  .Verify(HandSigned(header, R"({"sub":"s","role":"admin","cells":[""],"exp":)" +
                                                 exp + "}"),
                          kNow)
                  .ok());
}

// A token's cells follow the rules `casegrid token` mints by: grid paths of
// at most four segments of 128 bytes, or "" alone.
TEST(AuthTest, CellsThatAreNotGridPathsAreRefusedInATokenAsAtItsMinting) {
  const std::string header = R"({"alg":"HS256","typ":"JWT"})";
  const std::string exp = std::to_string(kNow / 1000 + 600);
  for (const std::string& cells :
       {std::string(R"(["/santai"])"), std::string(R"(["Santai"])"),
        std::string(R"(["a/b/c/d/e"])"), std::string(R"(["santai//luxi"])"),
        "[\"" + std::string(300, 'a') + "\"]", std::string(R"(["","santai"])")}) {
    auto refused = Authority().Verify(HandSigned(header, R"({"sub":"s","role":"officer","cells":)" +
                                                             cells + ",\"exp\":" + exp + "}"),
                                      kNow);
    EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated) << cells;
    EXPECT_NE(refused.status().message().find("token cell"), std::string::npos)
        << refused.status().message();
    Principal who{"s", Role::kOfficer, {}, 0};
    simdjson::dom::parser parser;
    auto parsed = parser.parse(cells);
    for (auto c : parsed.get_array()) who.cells.emplace_back(std::string_view(c.get_string()));
    EXPECT_EQ(Authority().Mint(who, kNow, 60000).status().code(), StatusCode::kInvalidArgument)
        << cells;
  }
  for (const std::string& cells :
       {std::string(R"([""])"), std::string(R"(["santai","santai/luxi/g1/c2"])"),
        std::string("[]")}) {
    EXPECT_TRUE(Authority()
                    .Verify(HandSigned(header, R"({"sub":"s","role":"officer","cells":)" + cells +
                                                   ",\"exp\":" + exp + "}"),
                            kNow)
                    .ok())
        << cells;
  }
}

// What `casegrid token` mints, a server takes: a token past kMaxTokenBytes
// (256 cells of realistic paths make one) is refused at its minting.
TEST(AuthTest, ATokenTooLongForAServerIsNotMinted) {
  Principal who{"officer-7", Role::kOfficer, {}, 0};
  for (int i = 0; i < 256; ++i) {
    who.cells.push_back("santai/tongchuan/g" + std::to_string(i) + "/c" + std::to_string(i));
  }
  auto refused = Authority().Mint(who, kNow, 60000);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("8192"), std::string::npos)
      << refused.status().message();
  // The most that fits passes both ways.
  while (!Authority().Mint(who, kNow, 60000).ok()) who.cells.pop_back();
  auto longest = Authority().Mint(who, kNow, 60000);
  EXPECT_LE(longest->size(), kMaxTokenBytes);
  EXPECT_GT(longest->size(), kMaxTokenBytes - 64);
  EXPECT_TRUE(Authority().Verify(*longest, kNow).ok());
}

TEST(AuthTest, TokenCacheAnswersAsTheAuthorityAndForgetsExpiredTokens) {
  const TokenAuthority authority = Authority();
  TokenCache cache(&authority, 16);
  Principal who{"officer-7", Role::kOfficer, {"santai"}, 0};
  const std::string token = *authority.Mint(who, kNow, 60000);
  for (int i = 0; i < 3; ++i) {
    auto back = cache.Verify(token, kNow + 1000);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->sub, "officer-7");
    EXPECT_EQ(back->cells, who.cells);
  }
  EXPECT_EQ(cache.size(), 1u);
  // A remembered token still expires on time, with the authority's message.
  auto expired = cache.Verify(token, kNow + 61000);
  EXPECT_EQ(expired.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);
  EXPECT_EQ(cache.size(), 0u);
  // A tampered copy of a remembered token is not a hit.
  ASSERT_TRUE(cache.Verify(token, kNow).ok());
  std::string tampered = token;
  char& c = tampered[tampered.size() - 10];  // inside the signature
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(cache.Verify(tampered, kNow).status().code(), StatusCode::kUnauthenticated);
  // Bounded: many tokens never hold more than the capacity.
  for (int i = 0; i < 100; ++i) {
    Principal other{"officer-" + std::to_string(i), Role::kOfficer, {""}, 0};
    ASSERT_TRUE(cache.Verify(*authority.Mint(other, kNow, 60000), kNow).ok());
  }
  EXPECT_LE(cache.size(), 16u);
}

TEST(AuthTest, ATokenNamesAtMostKMaxTokenCellsCells) {
  Principal who{"officer-7", Role::kOfficer, std::vector<std::string>(kMaxTokenCells, "santai"), 0};
  auto most = Authority().Mint(who, kNow, 60000);
  ASSERT_TRUE(most.ok()) << most.status().ToString();
  EXPECT_TRUE(Authority().Verify(*most, kNow).ok());
  who.cells.push_back("santai");
  EXPECT_EQ(Authority().Mint(who, kNow, 60000).status().code(), StatusCode::kInvalidArgument);
  // Signed with the secret by another minter: refused all the same.
  jwt_t* jwt = nullptr;
  ASSERT_EQ(jwt_new(&jwt), 0);
  std::string grants = R"({"sub":"officer-7","role":"officer","exp":)" +
                       std::to_string(kNow / 1000 + 60) + R"(,"cells":[)";
  for (std::size_t i = 0; i <= kMaxTokenCells; ++i) grants += i == 0 ? "\"a\"" : ",\"a\"";
  grants += "]}";
  ASSERT_EQ(jwt_add_grants_json(jwt, grants.c_str()), 0);
  ASSERT_EQ(jwt_set_alg(jwt, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(kSecret.data()),
                        static_cast<int>(kSecret.size())),
            0);
  char* encoded = jwt_encode_str(jwt);
  ASSERT_NE(encoded, nullptr);
  const std::string token(encoded);
  std::free(encoded);
  jwt_free(jwt);
  auto verified = Authority().Verify(token, kNow);
  EXPECT_EQ(verified.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(verified.status().message().find("more than 256 cells"), std::string::npos);
}

TEST(AuthTest, ShortSecretsAreRefused) {
  EXPECT_EQ(TokenAuthority::Create("short").status().code(), StatusCode::kInvalidArgument);
}

TEST(AuthTest, ScopeCoversAPathAndItsSubtreeOnly) {
  Principal who{"o", Role::kOfficer, {"santai/tong"}, 0};
  EXPECT_TRUE(InScope(who, "santai/tong"));
  EXPECT_TRUE(InScope(who, "santai/tong/a03/g12"));
  EXPECT_FALSE(InScope(who, "santai/tongchuan"));
  EXPECT_FALSE(InScope(who, "santai"));
  EXPECT_FALSE(InScope(who, ""));
  Principal all{"a", Role::kAuditor, {""}, 0};
  EXPECT_TRUE(InScope(all, "anything/at/all"));
  Principal none{"n", Role::kOfficer, {}, 0};
  EXPECT_FALSE(InScope(none, "santai"));
}

TEST(AuthTest, RolesHaveTheirApiNames) {
  for (Role r : {Role::kOperator, Role::kOfficer, Role::kMediator, Role::kGridWorker,
                 Role::kVolunteer, Role::kSupervisor, Role::kAuditor, Role::kAdmin}) {
    EXPECT_EQ(ParseRole(Name(r)), r);
  }
  EXPECT_EQ(Name(Role::kGridWorker), "grid_worker");
  EXPECT_FALSE(ParseRole("root").has_value());
  EXPECT_FALSE(HandlesCases(Role::kAuditor));
  EXPECT_TRUE(HandlesCases(Role::kVolunteer));
}

}  // namespace
}  // namespace casegrid
