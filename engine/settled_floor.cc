#include "engine/settled_floor.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "engine/record_format.h"
#include "engine/time_format.h"

namespace casegrid {
namespace {

constexpr const char* kFloorFile = "/SETTLED";
// The time as a checked word: a write cut short reads as none.
constexpr std::size_t kFloorBytes = storage::kCheckedWordBytes;

std::int64_t Decode(int fd) {
  char bytes[kFloorBytes];
  if (::pread(fd, bytes, kFloorBytes, 0) != static_cast<ssize_t>(kFloorBytes)) return 0;
  const auto word = storage::DecodeCheckedWord(std::string_view(bytes, kFloorBytes));
  const auto ms = static_cast<std::int64_t>(word.value_or(0));
  return Formattable(ms) ? ms : 0;
}

Status SyncFolder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Unavailable("cannot open " + folder + ": " + std::strerror(errno));
  const int synced = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (synced != 0)
    return Status::Unavailable("cannot sync " + folder + ": " + std::strerror(error));
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<SettledFloor>> SettledFloor::Open(const std::string& store_path) {
  const std::string path = store_path + kFloorFile;
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    // Made now: the folder holds its name once synced, before any Raise
    // counts on it.
    if (fd >= 0) {
      if (Status synced = SyncFolder(store_path); !synced.ok()) {
        ::close(fd);
        return synced;
      }
    }
  }
  if (fd < 0) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  return std::unique_ptr<SettledFloor>(new SettledFloor(fd, path, Decode(fd)));
}

SettledFloor::~SettledFloor() {
  ::close(fd_);
}

Status SettledFloor::Raise(std::int64_t at_least, std::int64_t ahead) {
  std::lock_guard l(mu_);
  if (at_least <= floor_) return Status::Ok();
  const std::int64_t floor = std::max(at_least, ahead);
  const std::string bytes = storage::EncodeCheckedWord(static_cast<std::uint64_t>(floor));
  const ssize_t written = ::pwrite(fd_, bytes.data(), kFloorBytes, 0);
  if (written < 0)
    return Status::Unavailable("cannot write " + path_ + ": " + std::strerror(errno));
  if (written != static_cast<ssize_t>(kFloorBytes)) {
    return Status::Unavailable("cannot write " + path_ + ": written short");
  }
  if (::fdatasync(fd_) != 0) {
    return Status::Unavailable("cannot sync " + path_ + ": " + std::strerror(errno));
  }
  floor_ = floor;
  return Status::Ok();
}

}  // namespace casegrid
