// The browser screens' files: what the guards of static_files.h refuse, each
// in a case only that guard stops (a served type, a file that exists).
#include "api/static_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace casegrid {
namespace {

namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_ / "css");
    Write(root_ / "css" / "screen.css", "body{}");
    Write(root_ / "index.html", "<html></html>");
    // A file of a served type outside the web root, and a way to it.
    Write(outside_ / "secret.png", "not for the web");
    fs::create_symlink(outside_ / "secret.png", root_ / "leak.png");
  }
  static void Write(const fs::path& file, const std::string& text) {
    std::ofstream(file, std::ios::binary) << text;
  }
  Result<HttpResponse> Get(const std::string& target) {
    HttpRequest req{http::verb::get, target, 11};
    auto served = ServeWebFile(req, root_.string());
    if (!served) return Status::Internal("not a web path: " + target);
    return std::move(*served);
  }

  testing::TempDir dir_;
  const fs::path root_ = fs::path(dir_.path()) / "web";
  const fs::path outside_ = fs::path(dir_.path());
};

TEST_F(StaticFilesTest, ServesFilesOfTheWebRoot) {
  auto css = Get("/ui/css/screen.css");
  ASSERT_TRUE(css.ok()) << css.status().ToString();
  EXPECT_EQ(css->body(), "body{}");
  EXPECT_TRUE(Get("/").ok());
}

TEST_F(StaticFilesTest, ASymlinkOutOfTheWebRootIsNotFollowedOut) {
  EXPECT_EQ(Get("/ui/leak.png").status().code(), StatusCode::kNotFound);
}

TEST_F(StaticFilesTest, DotDotCannotLeaveTheWebRoot) {
  EXPECT_EQ(Get("/ui/../secret.png").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Get("/ui/css/../../secret.png").status().code(), StatusCode::kNotFound);
}

TEST_F(StaticFilesTest, AFileOverTheBoundIsTooLargeAndNotRead) {
  {
    std::ofstream big(root_ / "big.png", std::ios::binary);
    big.seekp(static_cast<std::streamoff>(kMaxWebFileBytes));
    big.put('x');
  }
  EXPECT_EQ(Get("/ui/big.png").status().code(), StatusCode::kTooLarge);
}

TEST_F(StaticFilesTest, OtherPathsAreLeftToTheApi) {
  HttpRequest req{http::verb::get, "/api/v1/alerts", 11};
  EXPECT_FALSE(ServeWebFile(req, root_.string()).has_value());
}

}  // namespace
}  // namespace casegrid
