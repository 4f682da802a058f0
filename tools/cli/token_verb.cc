// token: mint a bearer token with the server's secret, for operators and tests.
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "api/auth.h"
#include "engine/clock.h"
#include "tools/cli/verbs.h"

namespace casegrid::cli {
namespace {

// "8h", "30m", "45s", "2d" -> milliseconds.
Result<std::int64_t> ParseDuration(const std::string& text) {
  if (text.size() < 2) return Status::InvalidArgument("ttl: like 8h, 30m, 45s or 2d");
  char* end = nullptr;
  const long long n = std::strtoll(text.c_str(), &end, 10);
  if (n <= 0 || end != text.c_str() + text.size() - 1) {
    return Status::InvalidArgument("ttl: like 8h, 30m, 45s or 2d");
  }
  switch (text.back()) {
    case 's':
      return n * 1000;
    case 'm':
      return n * 60 * 1000;
    case 'h':
      return n * 3600 * 1000;
    case 'd':
      return n * 24 * 3600 * 1000;
  }
  return Status::InvalidArgument("ttl: like 8h, 30m, 45s or 2d");
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
  token->add_option("--cells", a->cells, "grid paths in scope, comma separated; \"\" for all");
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
      Principal who{a->sub, *role, {}, 0};
      std::stringstream cells(a->cells);
      for (std::string cell; std::getline(cells, cell, ',');) who.cells.push_back(cell);
      if (a->cells.empty()) who.cells.push_back("");
      auto minted = authority->Mint(who, SystemClock::Default()->NowMillis(), *ttl);
      if (!minted.ok()) return Fail(minted.status());
      std::cout << *minted << "\n";
      return 0;
    };
  });
}

}  // namespace casegrid::cli
