#include "api/static_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace casegrid {
namespace {

namespace fs = std::filesystem;

#ifndef CASEGRID_WEB_ROOT
#define CASEGRID_WEB_ROOT "api/web"
#endif

constexpr std::string_view kAssetPrefix = "/ui/";
constexpr std::string_view kCasePrefix = "/case/";

// ECharts, served from the web root's node_modules under a short name.
constexpr std::string_view kEchartsAsset = "lib/echarts.esm.min.mjs";
constexpr std::string_view kEchartsFile = "node_modules/echarts/dist/echarts.esm.min.mjs";

bool SafeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '/';
}

// A relative file path that cannot leave the directory it is read in:
// segments of [A-Za-z0-9._-], none empty, none starting with '.', and no
// node_modules (served only through the names above).
bool SafeRelativePath(std::string_view rel) {
  if (rel.empty() || rel.size() > 200) return false;
  for (char c : rel) {
    if (!SafeChar(c)) return false;
  }
  std::size_t start = 0;
  while (start <= rel.size()) {
    const auto slash = rel.find('/', start);
    const auto end = slash == std::string_view::npos ? rel.size() : slash;
    const std::string_view segment = rel.substr(start, end - start);
    if (segment.empty() || segment.front() == '.' || segment == "node_modules") return false;
    if (slash == std::string_view::npos) break;
    start = end + 1;
  }
  return true;
}

// A case id as the page route takes it: C-yyyymmdd-nnnnnn, loosely.
bool LooksLikeCaseId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

Result<HttpResponse> ReadFile(const HttpRequest& req, const fs::path& root, std::string_view rel) {
  const std::string_view type = WebContentType(rel);
  if (type.empty()) return Status::NotFound("no such file: " + std::string(rel));
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(root, ec);
  if (ec) return Status::NotFound("no such file: " + std::string(rel));
  const fs::path file = fs::weakly_canonical(base / fs::path(std::string(rel)), ec);
  if (ec) return Status::NotFound("no such file: " + std::string(rel));
  // Symlinks followed: the file must still lie under the web root.
  if (std::mismatch(base.begin(), base.end(), file.begin(), file.end()).first != base.end()) {
    return Status::NotFound("no such file: " + std::string(rel));
  }
  const auto status = fs::status(file, ec);
  if (ec || !fs::is_regular_file(status)) {
    return Status::NotFound("no such file: " + std::string(rel));
  }
  const auto size = fs::file_size(file, ec);
  if (ec) return Status::NotFound("no such file: " + std::string(rel));
  if (size > kMaxWebFileBytes) {
    return Status::TooLarge(std::string(rel) + ": larger than " + std::to_string(kMaxWebFileBytes) +
                            " bytes");
  }
  std::string body;
  if (req.method() == http::verb::get) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::NotFound("cannot read " + std::string(rel));
    body.resize(static_cast<std::size_t>(size));
    in.read(body.data(), static_cast<std::streamsize>(body.size()));
    if (in.gcount() != static_cast<std::streamsize>(body.size())) {
      return Status::Unavailable("short read of " + std::string(rel));
    }
  }
  HttpResponse res{http::status::ok, req.version()};
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  if (type.starts_with("text/html")) {
    // The pages run only their own scripts and talk only to this server.
    res.set("Content-Security-Policy",
            "default-src 'self'; script-src 'self'; connect-src 'self'; "
            "img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    res.set("Referrer-Policy", "no-referrer");
  }
  res.keep_alive(req.keep_alive());
  if (req.method() == http::verb::get) {
    res.body() = std::move(body);
    res.prepare_payload();
  } else {
    res.content_length(size);
  }
  return res;
}

}  // namespace

std::string DefaultWebRoot() {
  return CASEGRID_WEB_ROOT;
}

std::string_view WebContentType(std::string_view name) {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return {};
  const std::string_view ext = name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "woff2") return "font/woff2";
  if (ext == "wav") return "audio/wav";
  return {};
}

std::optional<Result<HttpResponse>> ServeWebFile(const HttpRequest& req,
                                                 std::string_view web_root) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) return std::nullopt;
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const fs::path root(web_root.empty() ? DefaultWebRoot() : std::string(web_root));

  if (path == "/" || path == "/index.html") return ReadFile(req, root, "index.html");
  if (path == "/officer") return ReadFile(req, root, "officer.html");
  if (path.starts_with(kCasePrefix)) {
    const std::string_view id = path.substr(kCasePrefix.size());
    if (!LooksLikeCaseId(id)) return Result<HttpResponse>(Status::NotFound("no such page"));
    return ReadFile(req, root, "case.html");
  }
  if (path.starts_with(kAssetPrefix)) {
    const std::string_view rel = path.substr(kAssetPrefix.size());
    if (rel == kEchartsAsset) return ReadFile(req, root, kEchartsFile);
    if (!SafeRelativePath(rel)) {
      return Result<HttpResponse>(
          Status::NotFound("no such file: " + std::string(path.substr(0, 200))));
    }
    return ReadFile(req, root, rel);
  }
  return std::nullopt;
}

}  // namespace casegrid
