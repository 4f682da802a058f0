#include "engine/thread_name.h"

#include <pthread.h>

#include <string>
#include <system_error>

namespace casegrid {

Status StartThread(std::thread* thread, std::string_view name, std::function<void()> body) {
  try {
    *thread = std::thread(std::move(body));
  } catch (const std::system_error& e) {
    return Status::Unavailable("cannot start thread " + std::string(name) + ": " + e.what());
  }
  NameThread(*thread, name);
  return Status::Ok();
}

void NameThread(std::thread& thread, std::string_view name) {
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(thread.native_handle(), cut.c_str());
}

}  // namespace casegrid
