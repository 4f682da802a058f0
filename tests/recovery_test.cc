// What a writer does when it opens a log whose write-ahead log was damaged:
// a record cut short at the very end (a crash mid-write, never acknowledged)
// is dropped, but damage before the end refuses the open and changes
// nothing, so that no acknowledged event is dropped and no position reused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "engine/event_store.h"
#include "tests/support/store_fixture.h"
#include "tests/support/temp_dir.h"

namespace casegrid {
namespace {

using testing::OneEvent;

// The store's write-ahead log: its one *.log file (LOG is RocksDB's own).
std::filesystem::path WalOf(const std::string& store) {
  std::filesystem::path wal;
  for (const auto& f : std::filesystem::directory_iterator(store)) {
    if (f.path().extension() == ".log") {
      EXPECT_TRUE(wal.empty()) << "more than one WAL";
      wal = f.path();
    }
  }
  return wal;
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteFile(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// 200 notes, each its own append (its own WAL record), left in the WAL.
void Fill(const std::string& path) {
  StoreOptions options;
  options.path = path;
  auto store = EventStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int i = 1; i <= 200; ++i) {
    auto r = (*store)->Append(OneEvent("case/A", ExpectedVersion::Any(), "", "NoteAdded",
                                       R"({"text":"note-)" + std::to_string(i) + "\"}"));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
}

// A store of 200 notes left in its WAL, and the WAL's bytes to damage.
class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Fill(path_);
    wal_ = WalOf(path_);
    ASSERT_FALSE(wal_.empty());
    bytes_ = ReadFile(wal_);
  }

  Result<std::unique_ptr<EventStore>> Reopen() {
    StoreOptions options;
    options.path = path_;
    return EventStore::Open(options);
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.Sub("store");
  std::filesystem::path wal_;
  std::string bytes_;
};

TEST_F(RecoveryTest, DamageBeforeTheLogsEndRefusesTheOpenAndChangesNothing) {
  const auto at = bytes_.find("note-100\"");
  ASSERT_NE(at, std::string::npos) << "the events are not in the WAL";
  bytes_[at + 5] ^= 0x01;  // "note-100" becomes "note-000": one bit
  WriteFile(wal_, bytes_);

  auto reopened = Reopen();
  ASSERT_FALSE(reopened.ok()) << "opened at position " << (*reopened)->Head().position
                              << ": the events after the damage were dropped";
  EXPECT_EQ(reopened.status().code(), StatusCode::kCorruption);
  EXPECT_NE(reopened.status().message().find("damaged before its end"), std::string::npos)
      << reopened.status().ToString();
  // Nothing was truncated or rewritten: a copy can still be salvaged.
  EXPECT_EQ(ReadFile(wal_), bytes_);
  // A follower (verify, read) reports it too, rather than a shorter log.
  auto follower = EventStore::OpenFollower(path_);
  EXPECT_FALSE(follower.ok()) << "a follower opened the damaged log at position "
                              << (*follower)->Head().position;
}

TEST_F(RecoveryTest, ARecordCutShortAtTheLogsEndIsDroppedAndTheRestOpens) {
  const auto last = bytes_.rfind("note-200\"");
  ASSERT_NE(last, std::string::npos);
  bytes_.resize(last);  // the crash came in the middle of writing the last append
  WriteFile(wal_, bytes_);

  auto reopened = Reopen();
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->Head().position, 199u);
  auto report = (*reopened)->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->reason;
  // The next append takes the position the cut record never got to own.
  auto next = (*reopened)->Append(OneEvent("case/A", ExpectedVersion::Any()));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->first_position, 200u);
}

}  // namespace
}  // namespace casegrid
