#include "api/auth.h"

#include "api/token_cache.h"

#include <gtest/gtest.h>
#include <jwt.h>

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
  // alg "none" with the same claims: refused.
  const std::string payload =
      token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
  EXPECT_EQ(Authority()
                .Verify("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + ".", kNow)
                .status()
                .code(),
            StatusCode::kUnauthenticated);
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
