// A CaseService on a fresh store with a small grid and a manual clock.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/case_service.h"
#include "engine/time_format.h"
#include "tests/support/store_fixture.h"

namespace casegrid::testing {

// 2026-11-22T10:31:02.123Z
inline constexpr std::int64_t kStartMs = 1795343462123;

inline std::string ReportBody(const std::string& cell = "santai/tongchuan/a03/g12",
                              const std::string& priority = "normal",
                              const std::string& kind = "dispute") {
  return R"({"kind":")" + kind + R"(","channel":"walk_in","cell":")" + cell +
         R"(","category":"neighbour","priority":")" + priority +
         R"(","summary":"Water leaking from upstairs","reporter":{"name":"Li Wei","phone":"13800000000"},)"
         R"("parties":["Li Wei","Zhang San"],"address":"12 Tongchuan Rd"})";
}

class CaseTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    OpenService();
    for (const char* cell : {"santai", "santai/tongchuan", "santai/tongchuan/a03",
                             "santai/tongchuan/a03/g12", "santai/tongchuan/a03/g13"}) {
      Must(service_->DefineCell("admin", R"({"cell":")" + std::string(cell) + R"(","name":"x"})",
                                ""));
    }
    Must(service_->AssignOfficer("admin", "santai/tongchuan/a03/g12",
                                 R"({"officer":"officer-7","role":"officer"})", ""));
  }
  // Puts `person` on the grid of `cell` as an officer: a case there may be
  // assigned to them.
  void PutOnGrid(const std::string& person, const std::string& cell = "santai/tongchuan/a03/g12") {
    Must(service_->AssignOfficer("admin", cell,
                                 R"({"officer":")" + person + R"(","role":"officer"})", ""));
  }

  void TearDown() override {
    service_.reset();
    StoreTest::TearDown();
  }

  StoreOptions Options() override {
    StoreOptions o = StoreTest::Options();
    o.clock = &clock_;
    return o;
  }

  void OpenService() {
    CaseServiceOptions options;
    options.clock = &clock_;
    auto opened = CaseService::Open(store_.get(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    service_ = std::move(opened).value();
  }

  WriteResult Must(Result<WriteResult> r) {
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : WriteResult{};
  }

  // A case in officer-7's cell, reported by an operator (so that officer-7,
  // who acts on it, is alerted of it: no one is told of their own report).
  std::string NewCase(const std::string& priority = "normal") {
    return Must(
               service_->Report("operator-1", ReportBody("santai/tongchuan/a03/g12", priority), ""))
        .case_id;
  }

  Result<WriteResult> Act(const std::string& id, const std::string& action,
                          const std::string& body = "{}", const std::string& actor = "officer-7") {
    return service_->Act(actor, id, action, body, "");
  }

  // A case whose stream holds `events` events (at least 2): its report, a
  // note, and copies of the note written straight into the stream, past
  // every case rule, as an older build could write. Check HasFatalFailure.
  std::string CaseOfNotes(StreamVersion events) {
    const std::string id = NewCase();
    Must(Act(id, "note", R"({"text":"n"})"));
    const auto read = store_->ReadStream(CaseStream(id), 2, 1, ReadDirection::kForward);
    EXPECT_TRUE(read.ok() && read->size() == 1);
    if (read.ok() && read->size() == 1) AppendCopies(*store_, read->front(), 2, events);
    return id;
  }

  // A case walked to in_progress, assigned to officer-7.
  std::string CaseInProgress() {
    const std::string id = NewCase();
    Must(Act(id, "assign", R"({"assignee":"officer-7"})"));
    Must(Act(id, "accept"));
    return id;
  }

  CaseState Load(const std::string& id) {
    auto state = service_->LoadCase(id);
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    return state.ok() ? *state : CaseState{};
  }

  ManualClock clock_{kStartMs};
  std::unique_ptr<CaseService> service_;
};

}  // namespace casegrid::testing
