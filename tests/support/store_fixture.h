// Shared helpers for tests that open an EventStore in a temp folder.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/event_store.h"
#include "tests/support/temp_dir.h"

namespace casegrid::testing {

inline AppendRequest OneEvent(const std::string& stream, ExpectedVersion expected,
                              const std::string& id = "", const std::string& type = "NoteAdded",
                              const std::string& data = R"({"text":"hello"})") {
  return AppendRequest{stream, expected, "officer-7", {NewEvent{id, type, data}}};
}

// Copies of `event` written straight into its stream, past every case rule:
// the stream holds `from` events, and copies go in until it holds `to`, at
// most 1,000 to an append (the store's bound), each at its exact version.
inline void AppendCopies(EventStore& store, const RecordedEvent& event, StreamVersion from,
                         StreamVersion to) {
  for (StreamVersion at = from; at < to;) {
    AppendRequest raw{event.stream, ExpectedVersion::Exact(at), event.actor, {}};
    for (; at < to && raw.events.size() < 1000; ++at) {
      raw.events.push_back({"", event.type, event.data});
    }
    ASSERT_TRUE(store.Append(raw).ok());
  }
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  // Close before derived fixtures destroy what the store uses (an Env, a clock).
  void TearDown() override { store_.reset(); }

  void Reopen() {
    store_.reset();
    StoreOptions options = Options();
    auto opened = EventStore::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }

  virtual StoreOptions Options() {
    StoreOptions o;
    o.path = dir_.Sub("store");
    return o;
  }

  // `count` notes spread over seven case streams, one append each.
  void AppendNotes(int count) {
    for (int i = 0; i < count; ++i) {
      MustAppend(OneEvent("case/" + std::to_string(i % 7), ExpectedVersion::Any(), "", "NoteAdded",
                          R"({"text":"note )" + std::to_string(i) + "\"}"));
    }
  }
  // `batches` appends of 100 notes each to one stream.
  void AppendNoteBatches(const std::string& stream, int batches) {
    for (int i = 0; i < batches; ++i) {
      AppendRequest many{stream, ExpectedVersion::Any(), "officer-7", {}};
      for (int j = 0; j < 100; ++j) many.events.push_back({"", "NoteAdded", R"({"text":"x"})"});
      MustAppend(std::move(many));
    }
  }

  AppendResult MustAppend(AppendRequest r) {
    auto result = store_->Append(std::move(r));
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : AppendResult{};
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

}  // namespace casegrid::testing
