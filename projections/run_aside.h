// RunAside: runs a task on a thread of its own while the caller goes on.
//
// Thread-safety: the task runs on another thread (or, when none can be had,
// on the thread that waits for its future): what it touches must be safe for
// that, and must outlive the wait.
#pragma once

#include <future>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

namespace casegrid {

// Starts `task` on a new thread; when the system has no thread to give, the
// task runs when its future is waited for (get or wait) instead, and not at
// all if the future is dropped unwaited. Either way get() returns what the
// task returned, and destroying the future of a started task waits for it.
// The task is moved, never copied.
template <typename Task>
std::future<std::invoke_result_t<Task&>> RunAside(Task task) {
  // Held apart, so that a thread that cannot be started leaves it whole.
  auto held = std::make_shared<Task>(std::move(task));
  auto run = [held] { return (*held)(); };
  try {
    return std::async(std::launch::async, run);
  } catch (const std::system_error&) {
    return std::async(std::launch::deferred, run);
  }
}

}  // namespace casegrid
