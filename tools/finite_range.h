// FiniteRange: a CLI11 check for a floating-point flag, shared by the
// casegrid verbs and casegrid-load.
//
// Thread-safety: a value.
#pragma once

#include <CLI/CLI.hpp>

#include <cmath>
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

}  // namespace casegrid
