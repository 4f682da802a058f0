// verify, digest: prove the log was not altered.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "engine/event_store.h"
#include "engine/hash_chain.h"
#include "tools/cli/verbs.h"

namespace casegrid::cli {

void ShowProgress(std::uint64_t done, std::uint64_t total) {
  if (!isatty(STDERR_FILENO) || total == 0) return;
  const int width = 40;
  const int filled = static_cast<int>(width * done / total);
  std::cerr << "\r[" << std::string(static_cast<std::size_t>(filled), '#')
            << std::string(static_cast<std::size_t>(width - filled), ' ') << "] " << done << "/"
            << total << (done == total ? "\n" : "") << std::flush;
}

// verify's exit when there is no store at --data (no CURRENT file: a typo):
// not 1, which says the log is broken, so that a monitor does not report a
// broken log for it. A store there that cannot be opened or read is 1.
constexpr int kVerifyNoStore = 3;

void AddAuditVerbs(CLI::App& app, VerbAction* action) {
  auto data = std::make_shared<std::string>(kDefaultDataDir);
  CLI::App* verify = app.add_subcommand(
      "verify",
      "walk the hash chain; exit 0 if intact, 1 naming the first broken position (or a store "
      "that cannot be read), 3 if there is no store at --data");
  verify->add_option("--data", *data, "store folder")->capture_default_str();
  verify->callback([data, action] {
    *action = [data]() -> int {
      auto store = EventStore::OpenFollower(LogDir(*data));
      if (!store.ok()) {
        const int broken = Fail(store.status());
        return store.status().code() == StatusCode::kNotFound ? kVerifyNoStore : broken;
      }
      // A follower does not see a table file gone or unopenable: checked
      // first, read-only (probe 98).
      if (Status files = EventStore::CheckTableFiles(LogDir(*data)); !files.ok()) {
        if (files.code() != StatusCode::kCorruption) return Fail(files);
        std::cout << "damaged: " << files.message() << "\n";
        return 1;
      }
      auto report = (*store)->Verify(ShowProgress);
      if (!report.ok()) return Fail(report.status());
      if (!report->intact) {
        if (report->broken_at == 0) {
          std::cout << "damaged: " << report->reason << "\n";
        } else {
          std::cout << "broken at position " << report->broken_at << ": " << report->reason << "\n";
        }
        return 1;
      }
      std::cout << "intact: " << report->events_checked << " events, head hash "
                << HashToHex(report->head.hash) << "\n";
      return 0;
    };
  });

  auto digest_data = std::make_shared<std::string>(kDefaultDataDir);
  CLI::App* digest = app.add_subcommand("digest", "print the log head: {\"position\",\"hash\"}");
  digest->add_option("--data", *digest_data, "store folder")->capture_default_str();
  digest->callback([digest_data, action] {
    *action = [digest_data]() -> int {
      auto store = EventStore::OpenFollower(LogDir(*digest_data));
      if (!store.ok()) return Fail(store.status());
      const LogHead head = (*store)->Head();
      std::cout << "{\"position\":" << head.position << ",\"hash\":\"" << HashToHex(head.hash)
                << "\"}\n";
      return 0;
    };
  });
}

}  // namespace casegrid::cli
