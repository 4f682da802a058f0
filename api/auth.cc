#include "api/auth.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <simdjson.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "engine/canonical_json.h"
#include "engine/case_events.h"
#include "engine/grid_directory.h"
#include "engine/names.h"

namespace casegrid {
namespace {

constexpr std::array<std::pair<Role, std::string_view>, 8> kRoles = {{
    {Role::kOperator, "operator"},
    {Role::kOfficer, "officer"},
    {Role::kMediator, "mediator"},
    {Role::kGridWorker, "grid_worker"},
    {Role::kVolunteer, "volunteer"},
    {Role::kSupervisor, "supervisor"},
    {Role::kAuditor, "auditor"},
    {Role::kAdmin, "admin"},
}};

struct JwtFree {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

// The bytes of one base64url segment of a compact JWS (RFC 7515 §2: no
// padding); nullopt if it is not base64url.
std::optional<std::string> DecodeSegment(std::string_view segment) {
  std::string b64(segment);
  for (char& c : b64) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (c == '+' || c == '/' || c == '=')
      return std::nullopt;
  }
  const std::size_t pad = (4 - b64.size() % 4) % 4;
  if (pad == 3) return std::nullopt;
  b64.append(pad, '=');
  std::string out(b64.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0 || static_cast<std::size_t>(n) < pad) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

// A token's header and claims are each one JSON object with no member twice
// (RFC 7515 §4 and RFC 7519 §4 let a parser take the last or refuse; libjwt
// takes the last, others the first, so a token read two ways is refused).
Status CheckSegments(std::string_view token) {
  const std::size_t dot = token.find('.');
  const std::size_t dot2 = dot == std::string_view::npos ? dot : token.find('.', dot + 1);
  if (dot2 == std::string_view::npos) return Status::Unauthenticated("token is malformed");
  const std::pair<std::string_view, std::string_view> parts[] = {
      {"header", token.substr(0, dot)}, {"claims", token.substr(dot + 1, dot2 - dot - 1)}};
  for (const auto& [what, segment] : parts) {
    auto json = DecodeSegment(segment);
    if (!json) return Status::Unauthenticated("token " + std::string(what) + " is not base64url");
    if (auto canonical = CanonicalizeObject(*json); !canonical.ok()) {
      return Status::Unauthenticated("token " + std::string(what) + ": " +
                                     canonical.status().message());
    }
  }
  return Status::Ok();
}

// A NumericDate claim (RFC 7519 §2: seconds since 1970, "can be
// non-integer") in milliseconds, cut to the millisecond at or before it;
// nullopt when the claim is absent. Up to 9999-12-31T23:59:59Z: in
// milliseconds, later ones would overflow (and spun the WebSocket's expiry
// timer). Some libraries write fractions ("exp": 1795343462.5), which were
// refused until session 29 (black-box probe 78).
// `after_1970`: at or before 1970 is refused (exp); else taken (nbf 0 or
// less: valid since then, as RFC 7519 allows).
Result<std::optional<std::int64_t>> NumericDateMs(jwt_t* jwt, const char* name, bool after_1970) {
  char* raw = jwt_get_grants_json(jwt, name);
  if (raw == nullptr) return std::optional<std::int64_t>();
  const std::string text(raw);
  std::free(raw);  // libjwt 1.10 allocates with malloc
  const std::string what = std::string("token ") + name;
  simdjson::dom::parser parser;
  simdjson::dom::element number;
  double seconds = 0;
  if (parser.parse(text).get(number) || !number.is_number() || number.get_double().get(seconds)) {
    return Status::Unauthenticated(what + " is not a number of seconds since 1970");
  }
  if (!(seconds > 0)) {
    if (after_1970) return Status::Unauthenticated(what + " is not after 1970");
    return std::optional<std::int64_t>(0);
  }
  if (seconds >= 253402300800.0) return Status::Unauthenticated(what + " is past the year 9999");
  if (std::int64_t whole = 0; number.get_int64().get(whole) == simdjson::SUCCESS) {
    return std::optional<std::int64_t>(whole * 1000);  // exact, however large
  }
  return std::optional<std::int64_t>(static_cast<std::int64_t>(std::floor(seconds * 1000)));
}

}  // namespace

std::string_view Name(Role role) {
  for (const auto& [r, name] : kRoles) {
    if (r == role) return name;
  }
  return "officer";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (const auto& [r, n] : kRoles) {
    if (n == name) return r;
  }
  return std::nullopt;
}

Result<TokenAuthority> TokenAuthority::Create(std::string secret) {
  if (secret.size() < 32) {
    return Status::InvalidArgument("the JWT secret must be at least 32 bytes");
  }
  return TokenAuthority(std::move(secret));
}

Result<Principal> TokenAuthority::Verify(std::string_view token, std::int64_t now_ms) const {
  if (token.empty()) return Status::Unauthenticated("a bearer token is required");
  if (token.size() > kMaxTokenBytes) {
    return Status::Unauthenticated("token too long (more than " + std::to_string(kMaxTokenBytes) +
                                   " bytes)");
  }
  jwt_t* raw = nullptr;
  const std::string text(token);
  if (jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(secret_.data()),
                 static_cast<int>(secret_.size())) != 0 ||
      raw == nullptr) {
    return Status::Unauthenticated("token is malformed or its signature does not verify");
  }
  JwtPtr jwt(raw);
  RETURN_IF_ERROR(CheckSegments(token));
  // JWS algorithm names are case-sensitive (RFC 7515 §4.1.1); libjwt's are not.
  const char* alg = jwt_get_header(jwt.get(), "alg");
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256 || alg == nullptr ||
      std::string_view(alg) != "HS256") {
    return Status::Unauthenticated("token must be signed with HS256");
  }
  // Critical extensions this server cannot honour make the token invalid
  // (RFC 7515 §4.1.11); it understands none.
  if (char* crit = jwt_get_headers_json(jwt.get(), "crit"); crit != nullptr) {
    std::free(crit);
    return Status::Unauthenticated(
        "token has critical header extensions (crit) this server does "
        "not understand");
  }
  Principal who;
  const char* sub = jwt_get_grant(jwt.get(), "sub");
  const char* role = jwt_get_grant(jwt.get(), "role");
  if (sub == nullptr || *sub == '\0') return Status::Unauthenticated("token has no sub");
  if (Status s = ValidateTokenSub(sub); !s.ok()) {
    return Status::Unauthenticated("token " + s.message());
  }
  if (role == nullptr) return Status::Unauthenticated("token has no role");
  auto parsed = ParseRole(role);
  if (!parsed) return Status::Unauthenticated("token has an unknown role");
  who.sub = sub;
  who.role = *parsed;
  ASSIGN_OR_RETURN(std::optional<std::int64_t> exp, NumericDateMs(jwt.get(), "exp", true));
  if (!exp) return Status::Unauthenticated("token has no exp");
  who.expires_at_ms = *exp;
  if (who.expires_at_ms <= now_ms) return Status::Unauthenticated("token has expired");
  // Not before (RFC 7519 §4.1.5): optional, but when present a number, and
  // no leeway, as for exp.
  ASSIGN_OR_RETURN(std::optional<std::int64_t> nbf, NumericDateMs(jwt.get(), "nbf", false));
  if (nbf && *nbf > now_ms) return Status::Unauthenticated("token is not valid yet (nbf)");
  char* cells_json = jwt_get_grants_json(jwt.get(), "cells");
  if (cells_json == nullptr) return Status::Unauthenticated("token has no cells");
  const std::string cells(cells_json);
  std::free(cells_json);  // libjwt 1.10 allocates with malloc
  simdjson::dom::parser parser;
  simdjson::dom::array array;
  if (parser.parse(cells).get(array)) return Status::Unauthenticated("token cells is not a list");
  if (array.size() > kMaxTokenCells) {
    return Status::Unauthenticated("token names more than " + std::to_string(kMaxTokenCells) +
                                   " cells");
  }
  for (auto item : array) {
    std::string_view cell;
    if (item.get(cell)) return Status::Unauthenticated("token cells must be strings");
    who.cells.emplace_back(cell);
  }
  if (Status s = ValidateTokenCells(who.cells); !s.ok()) {
    return Status::Unauthenticated("token " + s.message());
  }
  return who;
}

Result<std::string> TokenAuthority::Mint(const Principal& who, std::int64_t now_ms,
                                         std::int64_t ttl_ms) const {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return Status::Internal("jwt_new failed");
  JwtPtr jwt(raw);
  RETURN_IF_ERROR(ValidateTokenCells(who.cells));
  std::string cells = "[";
  for (std::size_t i = 0; i < who.cells.size(); ++i) {
    if (i > 0) cells += ',';
    AppendJsonString(cells, who.cells[i]);
  }
  cells += ']';
  const std::string grants = "{\"cells\":" + cells + "}";
  if (jwt_add_grant(jwt.get(), "sub", who.sub.c_str()) != 0 ||
      jwt_add_grant(jwt.get(), "role", std::string(Name(who.role)).c_str()) != 0 ||
      jwt_add_grant_int(jwt.get(), "exp", static_cast<long>((now_ms + ttl_ms) / 1000)) != 0 ||
      jwt_add_grants_json(jwt.get(), grants.c_str()) != 0 ||
      jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret_.data()),
                  static_cast<int>(secret_.size())) != 0) {
    return Status::Internal("could not build the token");
  }
  char* encoded = jwt_encode_str(jwt.get());
  if (encoded == nullptr) return Status::Internal("could not sign the token");
  std::string token(encoded);
  std::free(encoded);
  if (token.size() > kMaxTokenBytes) {
    return Status::InvalidArgument("the token would be " + std::to_string(token.size()) +
                                   " bytes, more than the " + std::to_string(kMaxTokenBytes) +
                                   " a server takes: name fewer cells, or a cell above them");
  }
  return token;
}

Status ValidateTokenCells(const std::vector<std::string>& cells) {
  if (cells.size() > kMaxTokenCells) {
    return Status::InvalidArgument("cells: at most " + std::to_string(kMaxTokenCells));
  }
  for (const std::string& cell : cells) {
    if (cell.empty()) {
      if (cells.size() > 1) {
        return Status::InvalidArgument("cells: \"\" (the whole jurisdiction) must be the only one");
      }
      continue;
    }
    RETURN_IF_ERROR(ValidateCellPath(cell));
  }
  return Status::Ok();
}

Status ValidateTokenSub(std::string_view sub) {
  if (!ValidateActor(sub).ok()) {
    return Status::InvalidArgument(
        "sub must be 1 to 128 of the letters, digits and _ . : @ - (an actor)");
  }
  // An auditor's reads go to audit/<sub>; "." and ".." would name streams
  // that read as paths, which raw appends refuse for the same reason.
  if (sub == "." || sub == "..") return Status::InvalidArgument("sub may not be . or ..");
  // The engine's own actor (the deadline watch's facts): a person signing
  // as it would be read as the watch, in every history and by the rule
  // that lets a pinned expected_version pass over the watch's facts.
  if (sub == kSystemActor)
    return Status::InvalidArgument("sub may not be system, the engine's own");
  return Status::Ok();
}

bool InScope(const Principal& who, std::string_view cell) {
  for (const std::string& scope : who.cells) {
    if (CellWithin(cell, scope)) return true;
  }
  return false;
}

bool HandlesCases(Role role) {
  return role != Role::kAuditor && role != Role::kAdmin;
}

Status MayReadCases(const Principal& who) {
  if (who.role == Role::kAdmin) {
    return Status::PermissionDenied(
        "an admin defines the grid and its assignments; "
        "cases and dashboards are for the other roles");
  }
  return Status::Ok();
}

Status MayReadTheLog(const Principal& who) {
  if (who.role != Role::kAuditor) return Status::PermissionDenied("the raw log is for auditors");
  if (!InScope(who, "")) {
    return Status::PermissionDenied(
        "the raw log holds every case: it is for auditors whose cells cover the whole "
        "jurisdiction (\"\")");
  }
  return Status::Ok();
}

bool HandlesTheCase(const Principal& who, std::string_view assignee) {
  return who.role == Role::kOperator || who.role == Role::kSupervisor ||
         (HandlesCases(who.role) && !assignee.empty() && assignee == who.sub);
}

bool SeesCaseEvents(const Principal& who, std::string_view assignee) {
  return HandlesTheCase(who, assignee) || who.role == Role::kAuditor;
}

bool SeesHashes(const Principal& who) {
  return who.role == Role::kOperator || who.role == Role::kSupervisor ||
         who.role == Role::kAuditor || who.role == Role::kAdmin;
}

Result<std::string> ReadJwtSecret(const std::string& secret_file) {
  if (!secret_file.empty()) {
    std::ifstream in(secret_file);
    if (!in) return Status::NotFound("cannot read the secret file " + secret_file);
    std::stringstream text;
    text << in.rdbuf();
    std::string secret = text.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    return secret;
  }
  if (const char* env = std::getenv("CASEGRID_JWT_SECRET"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  return Status::InvalidArgument("no JWT secret: set CASEGRID_JWT_SECRET or name a secret file");
}

}  // namespace casegrid
