#include <gtest/gtest.h>

#include "engine/hash_chain.h"
#include "tests/support/raw_store.h"
#include "tests/support/store_fixture.h"

namespace casegrid {
namespace {

using testing::OneEvent;

class VerifyTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    AppendNotes(100);
  }
  // Closes the store, lets `tamper` at the raw database, reopens and verifies.
  VerifyReport TamperAndVerify(const std::function<void(testing::RawStore&)>& tamper) {
    store_.reset();
    {
      testing::RawStore raw(dir_.Sub("store"));
      EXPECT_TRUE(raw.ok());
      tamper(raw);
      EXPECT_TRUE(raw.ok());
    }
    Reopen();
    auto report = store_->Verify();
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : VerifyReport{};
  }
};

TEST_F(VerifyTest, IntactLogVerifiesToItsHead) {
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->reason;
  EXPECT_EQ(report->events_checked, 100u);
  EXPECT_EQ(report->head.hash, store_->Head().hash);
}

TEST_F(VerifyTest, ChainMatchesAnIndependentComputation) {
  // API.md: hash = SHA-256(previous hash || canonical bytes), zero hash first.
  auto events = store_->ReadAll(0, 100);
  EventHash previous{};
  HashChain chain;
  for (const auto& e : *events) {
    ASSERT_EQ(chain.Next(previous, e.CanonicalBytes()), e.hash) << "at " << e.position;
    previous = e.hash;
  }
}

TEST_F(VerifyTest, NamesTheEventWhoseDataByteWasFlipped) {
  auto report = TamperAndVerify([](testing::RawStore& raw) {
    std::string record = raw.Get(37);
    record[record.size() - 3] ^= 0x01;  // inside the data JSON
    raw.Put(37, record);
  });
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.broken_at, 37u);
  EXPECT_EQ(report.events_checked, 36u);
}

TEST_F(VerifyTest, NamesTheEventWhoseStoredHashWasFlipped) {
  auto report = TamperAndVerify([](testing::RawStore& raw) {
    std::string record = raw.Get(80);
    record[5] ^= 0x40;  // inside the 32 hash bytes
    raw.Put(80, record);
  });
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.broken_at, 80u);
}

TEST_F(VerifyTest, RewritingAnEventWithAFreshHashBreaksTheNextLink) {
  auto report = TamperAndVerify([](testing::RawStore& raw) {
    auto e = storage::DecodeRecord(50, raw.Get(50));
    ASSERT_TRUE(e.ok());
    RecordedEvent forged = *e;
    forged.actor = "someone-else";
    auto previous = storage::DecodeRecord(49, raw.Get(49));
    forged.hash = HashChain().Next(previous->hash, forged.CanonicalBytes());
    raw.Put(50, storage::EncodeRecord(forged));
  });
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.broken_at, 51u);
}

TEST_F(VerifyTest, NamesADeletedEvent) {
  auto report = TamperAndVerify([](testing::RawStore& raw) { raw.Delete(64); });
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.broken_at, 64u);
}

TEST_F(VerifyTest, NamesATruncatedRecord) {
  auto report = TamperAndVerify([](testing::RawStore& raw) {
    std::string record = raw.Get(12);
    raw.Put(12, record.substr(0, 20));
  });
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.broken_at, 12u);
}

TEST_F(VerifyTest, ReportsAByteFlippedInATableFileOnDisk) {
  store_.reset();
  ASSERT_TRUE(testing::FlipABitInTheLargestTableFile(dir_.Sub("store")));
  Reopen();
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->intact);
  EXPECT_GE(report->broken_at, 1u);
  EXPECT_LE(report->broken_at, 100u);
}

}  // namespace
}  // namespace casegrid
