// For scrub_cli_test.sh: damages a closed log the way a disk might, with a
// bit flipped in the table file holding the events, or one of FAMILY's.
// Usage: log_damager LOG_DIR FRACTION [FAMILY] (FRACTION: where in the file, 0 to 1)
#include <cstdio>
#include <string>

#include "tests/support/raw_store.h"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) return 2;
  const bool flipped =
      argc == 4 ? casegrid::testing::FlipABitInATableFileOf(argv[1], argv[3], std::stod(argv[2]))
                : casegrid::testing::FlipABitInTheLargestTableFile(argv[1], std::stod(argv[2]));
  if (!flipped) {
    std::fprintf(stderr, "log_damager: no table file to damage in %s\n", argv[1]);
    return 1;
  }
  return 0;
}
