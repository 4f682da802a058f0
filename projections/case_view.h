// The case view of API.md, rendered from a CaseState.
//
// Personal data — the reporter's name and phone, the parties' names — is
// masked for readers who do not handle the case (`138****0000`, `李**`).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "engine/case_state.h"

namespace casegrid {

enum class PersonalData { kShown, kMasked };

std::string RenderCaseView(const CaseState& state, PersonalData personal = PersonalData::kShown);

// "13800000000" -> "138****0000" (11 characters or more keep 3 and 4); a
// shorter number keeps a quarter of its characters at each end, so at least
// half is hidden: "1234567" -> "1****7", "12345678" -> "12****78", "123" ->
// "****". Always four stars, so the length is not told. UTF-8 aware.
std::string MaskPhone(std::string_view phone);
// Keeps the first character (a whole UTF-8 sequence), the rest becomes '*':
// "李小龙" -> "李**", "Li Wei" -> "L*****"; a one-character name is "*".
std::string MaskName(std::string_view name);

}  // namespace casegrid
