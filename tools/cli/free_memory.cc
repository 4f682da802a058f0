#include "tools/cli/free_memory.h"

// gperftools' C interface (gperftools/malloc_extension_c.h), declared weak:
// resolved when libtcmalloc is linked, null otherwise.
extern "C" {
__attribute__((weak)) int MallocExtension_GetNumericProperty(const char* property,
                                                             std::size_t* value);
__attribute__((weak)) void MallocExtension_ReleaseFreeMemory(void);
}

namespace casegrid::cli {

std::size_t ReturnFreeMemory(std::size_t keep_bytes) {
  if (MallocExtension_GetNumericProperty == nullptr ||
      MallocExtension_ReleaseFreeMemory == nullptr) {
    return 0;
  }
  std::size_t free_bytes = 0;
  if (!MallocExtension_GetNumericProperty("tcmalloc.pageheap_free_bytes", &free_bytes) ||
      free_bytes <= keep_bytes) {
    return 0;
  }
  MallocExtension_ReleaseFreeMemory();
  return free_bytes;
}

}  // namespace casegrid::cli
