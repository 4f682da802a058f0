// Names a thread, so that `top -H`, `perf` and /proc/<pid>/task
// show what each of casegrid's threads is: cg-commit (the log's group
// commit), cg-project (the projector), cg-io (HTTP and WebSocket), cg-watch
// and cg-tick (the deadline watch). Threads RocksDB starts keep its names.
//
// Linux keeps at most 15 bytes of a name; longer ones are cut. Never fails:
// a name the kernel refuses leaves the thread as it was. The thread that
// starts another names it, so the name is there once the start returns.
//
// StartThread starts `body` on a new thread, named: std::thread throws when
// the system has no thread to give (EAGAIN), and no exception leaves the
// engine's API (review 112), so that is kUnavailable here, nothing started
// and `*thread` left as it was.
//
// Thread-safety: each call on its own std::thread.
#pragma once

#include <functional>
#include <string_view>
#include <thread>

#include "engine/status.h"

namespace casegrid {

void NameThread(std::thread& thread, std::string_view name);

[[nodiscard]] Status StartThread(std::thread* thread, std::string_view name,
                                 std::function<void()> body);

}  // namespace casegrid
