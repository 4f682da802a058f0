// Checks of CLI11 flags that CLI11's own let through, shared by the casegrid
// verbs and casegrid-load.
//
// Thread-safety: a value.
#pragma once

#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace casegrid {

// A flag's number from `lo` to `hi`, finite: CLI::Range lets nan through
// (every comparison with it is false) and reads inf as a number.
inline CLI::Validator FiniteRange(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) {
        double v = 0;
        try {
          std::size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return "not a number: " + text;
        } catch (const std::exception&) {
          return "not a number: " + text;
        }
        if (!std::isfinite(v) || v < lo || v > hi) {
          return text + " is not a number from " + CLI::detail::to_string(lo) + " to " +
                 CLI::detail::to_string(hi);
        }
        return std::string();
      },
      "FINITE in [" + CLI::detail::to_string(lo) + " - " + CLI::detail::to_string(hi) + "]",
      "FiniteRange");
}

// An unsigned flag's whole number, 0 to `max` (2^64-1 unless said): CLI11
// reads "-1" into an unsigned as 2^64-1 (a seed, a count "never" reached),
// caps a number past the type's largest at it (two seeds, one log), and its
// NonNegativeNumber names a range of 309 digits.
inline CLI::Validator UnsignedNumber(std::uint64_t max = UINT64_MAX) {
  return CLI::Validator(
      [max](std::string& text) {
        // from_chars takes digits alone (no sign, no space) and says when
        // they are past 2^64-1.
        std::uint64_t v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        const bool fits = ec == std::errc() && end == text.data() + text.size();
        return fits && v <= max ? std::string()
                                : text + " is not a whole number from 0 to " + std::to_string(max);
      },
      "UINT", "UnsignedNumber");
}

// A flag that may be left out but not given empty; `why` says what it takes.
inline CLI::Validator NotEmpty(std::string why) {
  return CLI::Validator(
      [why = std::move(why)](std::string& text) { return text.empty() ? why : std::string(); }, "",
      "NotEmpty");
}

// A validator's message as CLI11 will say it, after the flag's own name:
// `message` less a leading "<flag>: " (the verbs' parsers name the flag for
// their other callers; "--until: --until: must not be in the future").
inline std::string AfterTheFlag(std::string message, std::string_view flag) {
  const std::string prefix = std::string(flag) + ": ";
  if (message.starts_with(prefix)) message.erase(0, prefix.size());
  return message;
}

}  // namespace casegrid
