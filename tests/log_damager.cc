// For scrub_cli_test.sh: damages a closed log the way a disk might, with a
// bit flipped in the table file holding the events.
// Usage: log_damager LOG_DIR FRACTION (where in the file, 0 to 1)
#include <cstdio>
#include <string>

#include "tests/support/raw_store.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  if (!casegrid::testing::FlipABitInTheLargestTableFile(argv[1], std::stod(argv[2]))) {
    std::fprintf(stderr, "log_damager: no table file to damage in %s\n", argv[1]);
    return 1;
  }
  return 0;
}
