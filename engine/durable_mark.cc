#include "engine/durable_mark.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/record_format.h"

namespace casegrid {
namespace {

constexpr const char* kMarkFile = "/DURABLE";
// The position as a checked word: a reader that meets a write half done
// sees it as none, and reads again.
constexpr std::size_t kMarkBytes = storage::kCheckedWordBytes;

// Whether a writer of another process holds a write lock on the store's LOCK file, as a
// RocksDB writer does for as long as it has the store open: read from
// /proc/locks ("1: POSIX  ADVISORY  WRITE <pid> <major>:<minor>:<inode> 0
// EOF", the device in hex), not by opening the file, since closing any
// descriptor of a file drops every fcntl lock this process holds on it — a
// writer in this process would lose its own (review 87). With
// `this_process_too`, a writer in this process counts as well.
bool HeldByAWriter(const std::string& store_path, bool this_process_too = false) {
  struct stat lock;
  if (::stat((store_path + "/LOCK").c_str(), &lock) != 0) return false;
  char device[32];
  std::snprintf(device, sizeof device, "%02x:%02x:", ::major(lock.st_dev), ::minor(lock.st_dev));
  const std::string file = device + std::to_string(lock.st_ino);
  const std::string self = std::to_string(::getpid());
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string number, kind, mode, access, pid, where;
    fields >> number >> kind >> mode >> access >> pid >> where;
    if (kind == "POSIX" && access == "WRITE" && where == file &&
        (this_process_too || pid != self)) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<std::unique_ptr<DurableMark>> DurableMark::Open(const std::string& store_path) {
  const std::string path = store_path + kMarkFile;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<DurableMark>(new DurableMark(fd));
}

DurableMark::~DurableMark() {
  ::close(fd_);
}

void DurableMark::Set(Position position) {
  const std::string bytes = storage::EncodeCheckedWord(position);
  [[maybe_unused]] const ssize_t written = ::pwrite(fd_, bytes.data(), kMarkBytes, 0);
}

std::optional<Position> DurableMark::ReadWhileWritten(const std::string& store_path) {
  if (!HeldByAWriter(store_path)) return std::nullopt;
  return Read(store_path);
}

std::optional<Position> DurableMark::ReadWhenNotWritten(const std::string& store_path) {
  // Looked for on both sides of the read: a writer that opened in between
  // may have set a mark past what the caller read of the log.
  if (HeldByAWriter(store_path, true)) return std::nullopt;
  std::optional<Position> mark = Read(store_path);
  if (HeldByAWriter(store_path, true)) return std::nullopt;
  return mark;
}

std::optional<Position> DurableMark::Read(const std::string& store_path) {
  const int fd = ::open((store_path + kMarkFile).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<Position> mark;
  for (int attempt = 0; attempt < 100 && !mark; ++attempt) {
    char bytes[kMarkBytes];
    if (::pread(fd, bytes, kMarkBytes, 0) != static_cast<ssize_t>(kMarkBytes)) break;
    mark = storage::DecodeCheckedWord(std::string_view(bytes, kMarkBytes));
  }
  ::close(fd);
  return mark;
}

}  // namespace casegrid
