#include "engine/info_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "engine/event_store.h"
#include "tests/support/temp_dir.h"

namespace casegrid {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// RocksDB's own LOG writer aborted the process on the line after one it
// could not write, so a full disk took the server down before the store could
// answer 503 (black-box probe, session 21). OpenInfoLog drops such lines.
TEST(InfoLogTest, LinesThatCannotBeWrittenAreDroppedNotFatal) {
  testing::TempDir dir;
  std::filesystem::create_symlink("/dev/full", dir.Sub("LOG"));  // every write: ENOSPC
  auto log = OpenInfoLog(dir.path());
  for (int i = 0; i < 1000; ++i) {
    rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, log, "line %d of a full disk", i);
  }
  rocksdb::Header(log.get(), "a header line");
  EXPECT_EQ(log->GetLogFileSize(), 0u);
}

TEST(InfoLogTest, TheLogIsMovedAsideWhenItPassesItsBound) {
  testing::TempDir dir;
  {
    auto log = OpenInfoLog(dir.path(), 1000);
    for (int i = 0; i < 100; ++i) {
      rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, log, "line %03d", i);
    }
  }
  const std::string now = Slurp(dir.Sub("LOG")), old = Slurp(dir.Sub("LOG.old"));
  EXPECT_NE(now.find("line 099"), std::string::npos);
  EXPECT_FALSE(old.empty());
  EXPECT_LT(now.size() + old.size(), 2000u + 200u);
  // Reopened past the bound, the log starts afresh.
  auto log = OpenInfoLog(dir.path(), now.size());
  rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, log, "after");
  EXPECT_EQ(Slurp(dir.Sub("LOG.old")), now);
}

TEST(InfoLogTest, TheStoreWritesRocksDbsDiagnosticsThere) {
  testing::TempDir dir;
  StoreOptions options;
  options.path = dir.Sub("store");
  {
    auto store = EventStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  EXPECT_NE(Slurp(dir.Sub("store/LOG")).find("RocksDB version"), std::string::npos);
}

}  // namespace
}  // namespace casegrid
