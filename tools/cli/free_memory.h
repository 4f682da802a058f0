// ReturnFreeMemory: gives the allocator's free pages back to the system once
// more than `keep_bytes` of them are held. tcmalloc keeps what it frees for
// reuse, so one burst (large answers, many connections at once) set serve's
// resident size for the rest of its life: 63 MB grew to 1.5 GB and stayed
// there, idle (black-box probe 72).
//
// Uses gperftools' C interface when the program is linked with tcmalloc, and
// does nothing when it is not (the sanitizer builds bring their own
// allocator). Thread-safety: safe from any thread (tcmalloc locks).
#pragma once

#include <cstddef>

namespace casegrid::cli {

// The free bytes returned (0 when there were `keep_bytes` or fewer, or
// without tcmalloc).
std::size_t ReturnFreeMemory(std::size_t keep_bytes);

}  // namespace casegrid::cli
