#include "engine/info_log.h"

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

namespace casegrid {
namespace {

class DroppingFileLogger final : public rocksdb::Logger {
 public:
  DroppingFileLogger(std::string dir, std::size_t rotate_bytes)
      : path_(dir + "/LOG"), old_path_(dir + "/LOG.old"), rotate_bytes_(rotate_bytes) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path_, ec);
    if (!ec && size >= rotate_bytes_) {
      std::filesystem::rename(path_, old_path_, ec);
    } else if (!ec) {
      written_ = size;
    }
    file_ = std::fopen(path_.c_str(), "a");
  }
  ~DroppingFileLogger() override {
    if (file_ != nullptr) std::fclose(file_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[1024];
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            now.time_since_epoch() % std::chrono::seconds(1))
                            .count();
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    int n = std::snprintf(line, sizeof line, "%04d/%02d/%02d-%02d:%02d:%02d.%06lld %zx ",
                          utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                          utc.tm_sec, static_cast<long long>(micros),
                          std::hash<std::thread::id>{}(std::this_thread::get_id()) & 0xffffff);
    if (n < 0) return;
    va_list copy;
    va_copy(copy, ap);
    const int m = std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n), format, copy);
    va_end(copy);
    if (m < 0) return;
    std::size_t length = std::min(sizeof line - 2, static_cast<std::size_t>(n) + m);
    line[length++] = '\n';
    std::lock_guard l(mu_);
    if (written_ >= rotate_bytes_) Rotate();
    if (file_ == nullptr) return;
    // A line that cannot be written (a full disk) is dropped; the stream's
    // error is cleared so that the next line is tried.
    if (std::fwrite(line, 1, length, file_) != length || std::fflush(file_) != 0) {
      std::clearerr(file_);
      return;
    }
    written_ += length;
  }

  std::size_t GetLogFileSize() const override {
    std::lock_guard l(mu_);
    return written_;
  }

 private:
  void Rotate() {
    if (file_ != nullptr) std::fclose(file_);
    std::error_code ec;
    std::filesystem::rename(path_, old_path_, ec);
    file_ = std::fopen(path_.c_str(), "a");
    written_ = 0;
  }

  const std::string path_, old_path_;
  const std::size_t rotate_bytes_;
  mutable std::mutex mu_;
  std::FILE* file_ = nullptr;
  std::size_t written_ = 0;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> OpenInfoLog(const std::string& dir, std::size_t rotate_bytes) {
  return std::make_shared<DroppingFileLogger>(dir, rotate_bytes);
}

}  // namespace casegrid
