#include "engine/torn_tail.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace casegrid {
namespace {

constexpr std::uint64_t kBlockBytes = 32768;
constexpr std::size_t kHeaderBytes = 7;  // masked CRC-32C (4), length (2), type (1)
enum RecordType : std::uint8_t { kFull = 1, kFirst = 2, kMiddle = 3, kLast = 4 };

std::uint32_t Fixed32(const unsigned char* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

// RocksDB's masked CRC-32C (Castagnoli) of a record's type and payload.
std::uint32_t MaskedCrc(std::uint8_t type, const unsigned char* payload, std::size_t n) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_byte(type);
  crc.process_bytes(payload, n);
  const std::uint32_t c = crc.checksum();
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

// The payload length a record header at `at` says (little-endian, 2 bytes).
std::size_t PayloadBytes(const unsigned char* block, std::size_t at) {
  return std::size_t{block[at + 4]} | std::size_t{block[at + 5]} << 8;
}

// The type of the whole record of a judged type that starts at `at` of a
// block of `size` bytes, or 0.
std::uint8_t WholeRecordAt(const unsigned char* block, std::size_t size, std::size_t at) {
  if (size < at + kHeaderBytes) return 0;
  const std::uint8_t type = block[at + 6];
  if (type < kFull || type > kLast) return 0;
  const std::size_t length = PayloadBytes(block, at);
  if (at + kHeaderBytes + length > size) return 0;
  return MaskedCrc(type, block + at + kHeaderBytes, length) == Fixed32(block + at) ? type : 0;
}

class File {
 public:
  explicit File(int fd) : fd_(fd) {}
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  int fd() const { return fd_; }

 private:
  const int fd_;
};

Status Failed(const std::string& what, const std::string& path) {
  return Status::Unavailable(what + " " + path + ": " + std::strerror(errno));
}

Status ReadAt(int fd, std::uint64_t offset, std::size_t n, unsigned char* into,
              const std::string& path) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, into + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return r < 0 ? Failed("reading", path) : Status::Unavailable(path + " shrank");
    got += static_cast<std::size_t>(r);
  }
  return Status::Ok();
}

Status WriteAt(int fd, std::uint64_t offset, const std::vector<unsigned char>& bytes,
               const std::string& path) {
  std::size_t put = 0;
  while (put < bytes.size()) {
    const ssize_t w =
        ::pwrite(fd, bytes.data() + put, bytes.size() - put, static_cast<off_t>(offset + put));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Failed("writing", path);
    put += static_cast<std::size_t>(w);
  }
  return ::fsync(fd) == 0 ? Status::Ok() : Failed("syncing", path);
}

// The newest WAL: the *.log file with the highest number ("LOG" is
// RocksDB's diagnostics, not a WAL).
Result<std::optional<std::filesystem::path>> NewestWal(const std::string& store_path) {
  std::error_code ec;
  std::optional<std::filesystem::path> newest;
  std::uint64_t newest_number = 0;
  for (auto it = std::filesystem::directory_iterator(store_path, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= 4 || name.compare(name.size() - 4, 4, ".log") != 0) continue;
    const std::string digits = name.substr(0, name.size() - 4);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        digits.size() > 18) {
      continue;
    }
    const std::uint64_t number = std::stoull(digits);
    if (!newest || number > newest_number) newest = it->path(), newest_number = number;
  }
  if (ec) return Status::Unavailable("listing store " + store_path + ": " + ec.message());
  return newest;
}

// Where the first damage of the log is, and where its last whole record
// (a full one, or a first..last run) ends.
struct Walk {
  std::optional<std::uint64_t> damage;
  std::uint64_t whole_bytes = 0;
};

Result<Walk> WalkRecords(int fd, std::uint64_t size, const std::string& path) {
  Walk walk;
  std::vector<unsigned char> block(kBlockBytes);
  bool in_fragments = false;
  for (std::uint64_t start = 0; start < size && !walk.damage; start += kBlockBytes) {
    const std::size_t n = static_cast<std::size_t>(std::min(kBlockBytes, size - start));
    RETURN_IF_ERROR(ReadAt(fd, start, n, block.data(), path));
    std::size_t at = 0;
    while (at < n) {
      if (n - at < kHeaderBytes &&
          std::all_of(block.begin() + at, block.begin() + n, [](unsigned char b) { return !b; })) {
        break;  // a block's zero trailer (or, at the file's end, nothing)
      }
      const std::uint8_t type = WholeRecordAt(block.data(), n, at);
      const bool in_order = type == kFull || type == kFirst    ? !in_fragments
                            : type == kMiddle || type == kLast ? in_fragments
                                                               : false;
      if (!in_order) {
        walk.damage = start + at;
        break;
      }
      at += kHeaderBytes + PayloadBytes(block.data(), at);
      in_fragments = type == kFirst || type == kMiddle;
      if (!in_fragments) walk.whole_bytes = start + at;
    }
  }
  return walk;
}

// Whether a record that starts a group (a whole full or first record)
// begins anywhere after `damage`: a group written after the damaged one,
// which the committer writes only once the one before was fsync'd. Middle
// and last pieces may be the torn group's own (sectors reach the disk in
// any order), so they do not count.
Result<bool> AGroupStartsAfter(int fd, std::uint64_t damage, std::uint64_t size,
                               const std::string& path) {
  std::vector<unsigned char> block(kBlockBytes);
  for (std::uint64_t start = damage / kBlockBytes * kBlockBytes; start < size;
       start += kBlockBytes) {
    const std::size_t n = static_cast<std::size_t>(std::min(kBlockBytes, size - start));
    RETURN_IF_ERROR(ReadAt(fd, start, n, block.data(), path));
    for (std::size_t at = start < damage ? damage - start + 1 : 0; at + kHeaderBytes <= n; ++at) {
      const std::uint8_t type = WholeRecordAt(block.data(), n, at);
      if (type == kFull || type == kFirst) return true;
    }
  }
  return false;
}

}  // namespace

Result<std::optional<TornTail>> FindTornTail(const std::string& store_path,
                                             std::uint64_t max_group_wal_bytes) {
  ASSIGN_OR_RETURN(std::optional<std::filesystem::path> wal, NewestWal(store_path));
  if (!wal) return std::optional<TornTail>();
  const std::string path = wal->string();
  File file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.fd() < 0) return Failed("opening", path);
  struct stat st;
  if (::fstat(file.fd(), &st) != 0) return Failed("reading the size of", path);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  ASSIGN_OR_RETURN(Walk walk, WalkRecords(file.fd(), size, path));
  if (!walk.damage || size - walk.whole_bytes > max_group_wal_bytes) {
    return std::optional<TornTail>();
  }
  ASSIGN_OR_RETURN(bool later_group, AGroupStartsAfter(file.fd(), *walk.damage, size, path));
  if (later_group) return std::optional<TornTail>();
  return std::optional<TornTail>(TornTail{path, walk.whole_bytes, size});
}

Status DropTornTail(const TornTail& tail, const std::string& keep_as) {
  File wal(::open(tail.wal.c_str(), O_RDWR | O_CLOEXEC));
  if (wal.fd() < 0) return Failed("opening", tail.wal);
  std::vector<unsigned char> torn(tail.file_bytes - tail.whole_bytes);
  RETURN_IF_ERROR(ReadAt(wal.fd(), tail.whole_bytes, torn.size(), torn.data(), tail.wal));
  const std::string partial = keep_as + ".partial";
  {
    File kept(::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (kept.fd() < 0) return Failed("making", partial);
    if (Status s = WriteAt(kept.fd(), 0, torn, partial); !s.ok()) {
      ::unlink(partial.c_str());
      return s;
    }
  }
  if (::rename(partial.c_str(), keep_as.c_str()) != 0) {
    const Status failed = Failed("naming", keep_as);
    ::unlink(partial.c_str());
    return failed;
  }
  const std::string folder = std::filesystem::path(keep_as).parent_path().string();
  File dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd() < 0 || ::fsync(dir.fd()) != 0) return Failed("syncing", folder);
  if (::ftruncate(wal.fd(), static_cast<off_t>(tail.whole_bytes)) != 0 || ::fsync(wal.fd()) != 0) {
    return Failed("cutting", tail.wal);
  }
  return Status::Ok();
}

}  // namespace casegrid
