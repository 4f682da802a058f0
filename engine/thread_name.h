// Names the calling thread, so that `top -H`, `perf` and /proc/<pid>/task
// show what each of casegrid's threads is: cg-commit (the log's group
// commit), cg-project (the projector), cg-io (HTTP and WebSocket), cg-watch
// and cg-tick (the deadline watch). Threads RocksDB starts keep its names.
//
// Linux keeps at most 15 bytes of a name; longer ones are cut. Never fails:
// a name the kernel refuses leaves the thread as it was.
#pragma once

#include <string_view>

namespace casegrid {

void NameThisThread(std::string_view name);

}  // namespace casegrid
