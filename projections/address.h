// How addresses are compared for repeat disputes.
//
// Thread-safety: a pure function, safe from any thread. The program aborts
// if ICU's normalization data cannot be loaded (a broken installation).
#pragma once

#include <string>
#include <string_view>

namespace casegrid {

// `address` (valid UTF-8) reduced to what tells one place from another: its
// letters, digits and combining marks, after Unicode NFKC case folding (ICU),
// so that full-width and half-width forms, upper and lower case of any
// script, and spaces and punctuation of any script (",", "，", "。", "、",
// U+3000 …) do not matter: "西街5号楼，201室", "西街５号楼 201室" and
// "西街5号楼201室" are one address; "Rue ÉCOLE 5" and "rue école 5" too.
// Two numbers that something stood between stay apart, by one space:
// "Block 1-23" is "block1 23", not "Block 12-3"'s "block12 3".
// Empty if nothing is left.
std::string NormalizeAddress(std::string_view address);

}  // namespace casegrid
