#include "projections/address.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf16.h>

#include <cstdio>
#include <cstdlib>

namespace casegrid {
namespace {

// ICU's NFKC_Casefold data is built into libicudata; without it the program
// is broken, and folding addresses another way would make views that a
// rebuild elsewhere would not reproduce.
const icu::Normalizer2& Fold() {
  static const icu::Normalizer2* const fold = [] {
    UErrorCode error = U_ZERO_ERROR;
    const icu::Normalizer2* f = icu::Normalizer2::getNFKCCasefoldInstance(error);
    if (U_FAILURE(error) || f == nullptr) {
      std::fprintf(stderr, "casegrid: ICU's NFKC_Casefold data is missing: %s\n",
                   u_errorName(error));
      std::abort();
    }
    return f;
  }();
  return *fold;
}

}  // namespace

std::string NormalizeAddress(std::string_view address) {
  UErrorCode error = U_ZERO_ERROR;
  const icu::UnicodeString folded =
      Fold().normalize(icu::UnicodeString::fromUTF8(icu::StringPiece(
                           address.data(), static_cast<std::int32_t>(address.size()))),
                       error);
  if (U_FAILURE(error)) {  // only when memory is exhausted
    std::fprintf(stderr, "casegrid: folding an address: %s\n", u_errorName(error));
    std::abort();
  }
  icu::UnicodeString kept;
  bool dropped = false;         // something was left out since the last kept character
  bool last_was_digit = false;  // the last kept character is a number
  for (std::int32_t i = 0; i < folded.length();) {
    const UChar32 c = folded.char32At(i);
    i += U16_LENGTH(c);
    const auto mask = U_GET_GC_MASK(c);
    if ((mask & (U_GC_L_MASK | U_GC_N_MASK | U_GC_M_MASK)) == 0) {
      dropped = true;
      continue;
    }
    const bool digit = (mask & U_GC_N_MASK) != 0;
    // Two numbers apart stay apart: "Block 1-23" is not "Block 12-3", nor
    // "5 2" "52" (the space is never kept otherwise).
    if (digit && last_was_digit && dropped) kept.append(UChar32(' '));
    kept.append(c);
    last_was_digit = digit;
    dropped = false;
  }
  std::string out;
  kept.toUTF8String(out);
  return out;
}

}  // namespace casegrid
