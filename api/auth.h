// Who is asking, and what they may do: HS256 JWTs signed with the server's
// secret (API.md, "Authentication and scope"), verified and minted with
// libjwt.
//
// Claims: sub (user id), role, cells (grid paths in scope; a path covers its
// subtree; "" covers everything), exp (seconds since the epoch).
//
// Thread-safety: TokenAuthority is immutable after construction; every
// method is safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace casegrid {

enum class Role {
  kOperator,
  kOfficer,
  kMediator,
  kGridWorker,
  kVolunteer,
  kSupervisor,
  kAuditor,
  kAdmin,
};
std::string_view Name(Role role);
std::optional<Role> ParseRole(std::string_view name);

// The most cells a token may name: what a request does with them (a case
// list walks each) is bounded by it.
inline constexpr std::size_t kMaxTokenCells = 256;
// The longest token a server takes (a header line holds it, under the 16 KiB
// header bound); `casegrid token` will not mint a longer one.
inline constexpr std::size_t kMaxTokenBytes = 8192;

struct Principal {
  std::string sub;
  Role role = Role::kOfficer;
  std::vector<std::string> cells;
  std::int64_t expires_at_ms = 0;
};

class TokenAuthority {
 public:
  // `secret` must be at least 32 bytes (HS256 wants a key as long as its hash).
  static Result<TokenAuthority> Create(std::string secret);

  // kUnauthenticated for a token that is malformed, not HS256, badly signed,
  // expired, missing a claim, holding a member twice in its header or claims
  // (which one counts would be a guess, and JWT libraries differ), or naming
  // cells ValidateTokenCells refuses; the message says which.
  Result<Principal> Verify(std::string_view token, std::int64_t now_ms) const;
  // A token for `who`, valid for `ttl_ms` from `now_ms`. kInvalidArgument
  // for cells ValidateTokenCells refuses, or a token longer than
  // kMaxTokenBytes (too many or too long cells): never one Verify refuses.
  Result<std::string> Mint(const Principal& who, std::int64_t now_ms, std::int64_t ttl_ms) const;

 private:
  explicit TokenAuthority(std::string secret) : secret_(std::move(secret)) {}
  std::string secret_;
};

// The HS256 secret: the contents of `secret_file` (trailing line breaks
// dropped) when one is named, else CASEGRID_JWT_SECRET; kInvalidArgument
// when neither gives one, kNotFound for a file that cannot be read.
Result<std::string> ReadJwtSecret(const std::string& secret_file);

// A token's `sub` is the actor of what it writes and names its audit stream
// (audit/<sub>), so it must be an actor (names.h: 1 to 128 of A-Za-z0-9_.:@-)
// and not "." or ".."; kInvalidArgument naming the rule otherwise. Verify refuses such a token
// (401) and `casegrid token` will not mint one.
Status ValidateTokenSub(std::string_view sub);

// A token's cells: at most kMaxTokenCells grid paths (ValidateCellPath),
// or "" alone, the whole jurisdiction (none: a scope that covers nothing);
// kInvalidArgument naming the rule.
Status ValidateTokenCells(const std::vector<std::string>& cells);

// Does `who`'s scope cover `cell`? A scope path covers itself and its subtree.
bool InScope(const Principal& who, std::string_view cell);

// Roles that report and handle cases (all but auditor and admin).
bool HandlesCases(Role role);
// kPermissionDenied unless `who` may read cases and dashboards (in scope):
// every role but admin, whose part is the grid and its assignments.
Status MayReadCases(const Principal& who);
// kPermissionDenied unless `who` may read the raw log (/events, the events
// channel): an auditor whose cells cover the whole jurisdiction, since the
// log holds every case.
Status MayReadTheLog(const Principal& who);

// Does `who` handle the case assigned to `assignee`, and so see its personal
// data? Operators, supervisors and its assignee (of a role that handles
// cases: an auditor or admin whose `sub` is the assignee's does not).
bool HandlesTheCase(const Principal& who, std::string_view assignee);
// Does `who` see the data of the case's events (its history, the events of
// case/{id})? Those who handle it, and auditors, who read the raw log, whose
// bytes are what was hashed. Others get each envelope without its data.
bool SeesCaseEvents(const Principal& who, std::string_view assignee);
// Is `who` given events' hashes (in histories, on case/{id}, the digest)?
// The roles that never see a case masked — operator, supervisor, auditor —
// and the admin, who sees no case. The field roles (officer, mediator, grid
// worker, volunteer) see the cases they do not handle masked, and a hash
// beside a masked view, or the hashes of the events on either side of one,
// let a search recover what the mask hides (a few digits, a character of a
// name: seconds). They do not read the log, so a hash verifies nothing for
// them.
bool SeesHashes(const Principal& who);

}  // namespace casegrid
