// Random but well-formed case commands, for property and crash tests: each
// step picks a case (or a new one) and an action with a plausible body.
// Many steps are refused by the lifecycle; that is part of the point — a
// refused command must write nothing.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "engine/case_service.h"
#include "engine/clock.h"

namespace casegrid::testing {

inline const std::vector<std::string>& RandomCells() {
  static const std::vector<std::string> cells = {"santai",
                                                 "santai/tongchuan",
                                                 "santai/tongchuan/a03",
                                                 "santai/tongchuan/a03/g12",
                                                 "santai/tongchuan/a03/g13",
                                                 "santai/xinhua",
                                                 "santai/xinhua/b01"};
  return cells;
}

// Defines RandomCells() and a few people on them; call once per store.
inline void DefineRandomGrid(CaseService& service) {
  for (const auto& cell : RandomCells()) {
    (void)service.DefineCell("admin", R"({"cell":")" + cell + R"(","name":"n"})", "");
  }
  // officer-7 may take a case anywhere; officer-8 only under santai/tongchuan
  // (an assignee must be on the grid of the case's cell).
  (void)service.AssignOfficer("admin", "santai", R"({"officer":"officer-7","role":"officer"})", "");
  (void)service.AssignOfficer("admin", "santai/tongchuan",
                              R"({"officer":"officer-8","role":"officer"})", "");
  (void)service.AssignOfficer("admin", "santai/xinhua", R"({"officer":"med-1","role":"mediator"})",
                              "");
  (void)service.AssignOfficer("admin", "santai", R"({"officer":"sup-1","role":"supervisor"})", "");
}

class RandomCommands {
 public:
  RandomCommands(CaseService& service, ManualClock* clock, unsigned seed)
      : service_(service), clock_(clock), rng_(seed) {}

  // One random command; returns whether it was written.
  bool Step() {
    if (clock_ != nullptr)
      clock_->Advance(Pick(0, 3) == 0 ? Pick(60000, 6 * 3600000) : Pick(0, 90000));
    if (cases_.empty() || Pick(0, 5) == 0) return Report();
    return StepOn(cases_[static_cast<std::size_t>(Pick(0, static_cast<int>(cases_.size()) - 1))]);
  }

  // One random command on case `id` (or, one time in sixteen, a new case);
  // returns whether it was written. The clock stays where it is.
  bool StepOn(const std::string& id) {
    const std::string officer = Pick(0, 1) ? "officer-7" : "officer-8";
    switch (Pick(0, 15)) {
      case 0:
        return Do(id, "triage", R"({"priority":")" + Priority() + "\"}");
      case 1:
        return Do(id, "assign", R"({"assignee":")" + officer + "\"}");
      case 2:
        return Do(id, "accept", "{}", officer);
      case 3:
        return Do(id, "dispatch", R"({"officer":")" + officer + "\"}");
      case 4:
        return Do(id, "arrive", R"({"officer":")" + officer + "\"}");
      case 5:
        return Do(id, "note", R"({"text":"note"})");
      case 6: {
        auto state = service_.LoadCase(id);
        const int tier = state.ok() ? state->tier : 1;
        const char* outcomes[] = {"agreement", "partial", "no_agreement", "adjourned"};
        return Do(id, "mediate",
                  R"({"tier":)" + std::to_string(tier) +
                      R"(,"participants":["a","b"],"outcome":")" + outcomes[Pick(0, 3)] +
                      R"(","notes":"n"})");
      }
      case 7:
        return Do(id, "escalate", R"({"reason":"r","judicial":"court"})") ||
               Do(id, "escalate", R"({"reason":"r"})");
      case 8: {
        const char* resolutions[] = {"mediated_agreement", "handled_on_site", "rectified",
                                     "withdrawn"};
        return Do(
            id, "resolve",
            R"({"resolution":")" + std::string(resolutions[Pick(0, 3)]) + R"(","summary":"s"})");
      }
      case 9:
        return Do(id, "close");
      case 10:
        return Do(id, "reopen", R"({"reason":"dissatisfied"})");
      case 11:
        return Do(id, "attempt-callback", R"({"reached":false,"note":"n"})");
      case 12: {
        const char* s[] = {"satisfied", "neutral", "dissatisfied"};
        return Do(id, "complete-callback",
                  std::string(R"({"speed":")") + s[Pick(0, 2)] + R"(","attitude":")" +
                      s[Pick(0, 2)] + R"(","outcome":")" + s[Pick(0, 2)] + R"(","comment":"c"})");
      }
      case 13: {
        auto state = service_.LoadCase(id);
        if (!state.ok() || state->deadlines.empty()) return false;
        const auto& d = state->deadlines[static_cast<std::size_t>(
            Pick(0, static_cast<int>(state->deadlines.size()) - 1))];
        return service_.RecordDeadlineMissed(id, d.kind, d.due_at).ok();
      }
      case 14:
        return service_.AcknowledgeAlert("officer-7", std::to_string(Pick(1, 400)) + "-new_case")
            .ok();
      default:
        return Report();
    }
  }

  const std::vector<std::string>& cases() const { return cases_; }

 private:
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  std::string Priority() {
    const char* p[] = {"low", "normal", "high", "urgent"};
    return p[Pick(0, 3)];
  }
  bool Report() {
    const auto& cells = RandomCells();
    const char* kinds[] = {"incident", "dispute", "hazard", "assistance"};
    const char* addresses[] = {"1 Main St", "2 Main St", "3 River Rd", "1 main st."};
    const std::string body =
        std::string(R"({"kind":")") + kinds[Pick(0, 3)] + R"(","channel":"call","cell":")" +
        cells[static_cast<std::size_t>(Pick(0, static_cast<int>(cells.size()) - 1))] +
        R"(","category":"c","priority":")" + Priority() +
        R"(","summary":"s","reporter":{"name":"Li")" +
        // One in four leaves no phone, and is owed no callback.
        (Pick(0, 3) == 0 ? "" : R"(,"phone":"13800000000")") + R"(},"address":")" +
        addresses[Pick(0, 3)] + "\"}";
    auto r = service_.Report("officer-7", body, "");
    if (r.ok()) cases_.push_back(r->case_id);
    return r.ok();
  }
  bool Do(const std::string& id, const std::string& action, const std::string& body = "{}",
          const std::string& actor = "officer-7") {
    return service_.Act(actor, id, action, body, "").ok();
  }

  CaseService& service_;
  ManualClock* clock_;
  std::mt19937 rng_;
  std::vector<std::string> cases_;
};

}  // namespace casegrid::testing
