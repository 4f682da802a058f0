// token: mint a bearer token with the server's secret, for operators and tests.
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "api/auth.h"
#include "engine/case_events.h"
#include "engine/clock.h"
#include "tools/cli/verbs.h"

namespace casegrid::cli {
namespace {

// "8h", "30m", "45s", "2d" -> milliseconds. The number is digits only: no
// sign, no space, no leading zero (as the other whole-number flags).
Result<std::int64_t> ParseDuration(const std::string& text) {
  if (text.size() < 2 || text[0] == '0')
    return Status::InvalidArgument("ttl: like 8h, 30m, 45s or 2d");
  long long n = 0;
  const char* last = text.data() + text.size() - 1;
  const auto [end, ec] = std::from_chars(text.data(), last, n);
  if (ec == std::errc::result_out_of_range) return Status::InvalidArgument("ttl: at most 366d");
  if (ec != std::errc() || end != last || n <= 0) {
    return Status::InvalidArgument("ttl: like 8h, 30m, 45s or 2d");
  }
  std::int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1000;
      break;
    case 'm':
      unit = 60 * 1000;
      break;
    case 'h':
      unit = 3600 * 1000;
      break;
    case 'd':
      unit = 24 * 3600 * 1000;
      break;
    default:
      return Status::InvalidArgument("ttl: like 8h, 30m, 45s or 2d");
  }
  // A bearer token is a key to the cases of its cells: a year at most (and
  // no product that overflows into an exp in the past).
  constexpr std::int64_t kMaxTtlMs = 366LL * 24 * 3600 * 1000;
  if (n > kMaxTtlMs / unit) return Status::InvalidArgument("ttl: at most 366d");
  return n * unit;
}

// "a,b" -> the token's cells; "" alone is the whole jurisdiction. An empty
// entry among others (a stray comma) or a malformed path is refused rather
// than read as "all" or as a cell nobody has.
Result<std::vector<std::string>> ParseCells(const std::string& text) {
  if (text.empty()) return std::vector<std::string>{""};
  std::vector<std::string> cells;
  std::stringstream in(text);
  for (std::string cell; std::getline(in, cell, ',');) {
    if (cell.empty()) {
      return Status::InvalidArgument(
          "cells: an empty entry in \"" + text +
          "\" (a stray comma?); the whole jurisdiction is --cells \"\" alone");
    }
    cells.push_back(cell);
  }
  if (text.back() == ',') {
    return Status::InvalidArgument("cells: \"" + text + "\" ends with a comma");
  }
  RETURN_IF_ERROR(ValidateTokenCells(cells));
  return cells;
}

}  // namespace

void AddTokenVerb(CLI::App& app, VerbAction* action) {
  struct TokenArgs {
    std::string sub, role, cells, ttl = "8h", secret_file;
  };
  auto a = std::make_shared<TokenArgs>();
  CLI::App* token = app.add_subcommand("token", "mint a bearer token with the server's secret");
  token->add_option("--sub", a->sub, "user id")->required();
  token
      ->add_option(
          "--role", a->role,
          "operator, officer, mediator, grid_worker, volunteer, supervisor, auditor, admin")
      ->required();
  token
      ->add_option("--cells", a->cells,
                   "grid paths in scope, comma separated; \"\" for the whole jurisdiction")
      ->required();
  token->add_option("--ttl", a->ttl, "lifetime: 8h, 30m, 45s, 2d")->capture_default_str();
  token->add_option("--secret-file", a->secret_file, "file holding the secret (else the env)");
  token->callback([a, action] {
    *action = [a]() -> int {
      auto secret = ReadJwtSecret(a->secret_file);
      if (!secret.ok()) return Fail(secret.status());
      auto authority = TokenAuthority::Create(*secret);
      if (!authority.ok()) return Fail(authority.status());
      auto role = ParseRole(a->role);
      if (!role) return Fail(Status::InvalidArgument("role: unknown role " + a->role));
      auto ttl = ParseDuration(a->ttl);
      if (!ttl.ok()) return Fail(ttl.status());
      if (Status s = ValidateTokenSub(a->sub); !s.ok()) return Fail(s);
      auto cells = ParseCells(a->cells);
      if (!cells.ok()) return Fail(cells.status());
      Principal who{a->sub, *role, std::move(cells).value(), 0};
      auto minted = authority->Mint(who, SystemClock::Default()->NowMillis(), *ttl);
      if (!minted.ok()) return Fail(minted.status());
      std::cout << *minted << "\n";
      return 0;
    };
  });
}

}  // namespace casegrid::cli
