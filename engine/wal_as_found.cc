#include "engine/wal_as_found.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

namespace casegrid {
namespace {
constexpr const char* kOpening = ".opening";
}  // namespace

WalAsFound WalAsFound::Take(const std::string& store_path) {
  namespace fs = std::filesystem;
  WalAsFound taken;
  std::error_code ec;
  std::vector<fs::path> wals;
  for (fs::directory_iterator it(store_path, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() == ".log") {
      wals.push_back(p);
    } else if (p.extension() == kOpening) {
      fs::remove(p, ec);  // a crashed open's
      ec.clear();
    }
  }
  for (const fs::path& wal : wals) {
    const std::string link = wal.string() + kOpening;
    if (::link(wal.c_str(), link.c_str()) == 0) taken.links_.push_back(link);
  }
  return taken;
}

WalAsFound::~WalAsFound() {
  Remove();
}

WalAsFound& WalAsFound::operator=(WalAsFound&& other) noexcept {
  if (this != &other) {
    Remove();
    links_ = std::move(other.links_);
    other.links_.clear();
  }
  return *this;
}

std::vector<std::string> WalAsFound::Keep(std::int64_t now_ms) {
  std::vector<std::string> kept;
  for (const std::string& link : links_) {
    const std::string name = link.substr(0, link.size() - std::string(kOpening).size()) +
                             ".as-found-" + std::to_string(now_ms);
    std::error_code ec;
    std::filesystem::rename(link, name, ec);
    if (!ec) kept.push_back(name);
  }
  links_.clear();
  return kept;
}

void WalAsFound::Remove() {
  for (const std::string& link : links_) ::unlink(link.c_str());
  links_.clear();
}

}  // namespace casegrid
