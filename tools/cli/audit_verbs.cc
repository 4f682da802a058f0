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

// verify's exit when it could not check the log at all (no store there, a
// store it cannot open or read for another reason than damage): not 1, which
// says the log is broken, so that a monitor with a typo in --data does not
// report a broken log.
constexpr int kVerifyCannotCheck = 3;

int FailVerify(const Status& status) {
  const int broken = Fail(status);  // a damaged log (kCorruption) is a broken one
  return status.code() == StatusCode::kCorruption ? broken : kVerifyCannotCheck;
}

void AddAuditVerbs(CLI::App& app, VerbAction* action) {
  auto data = std::make_shared<std::string>(kDefaultDataDir);
  CLI::App* verify = app.add_subcommand(
      "verify",
      "walk the hash chain; exit 0 if intact, 1 naming the first broken position, 3 if the log "
      "cannot be checked (no store there)");
  verify->add_option("--data", *data, "store folder")->capture_default_str();
  verify->callback([data, action] {
    *action = [data]() -> int {
      auto store = EventStore::OpenFollower(LogDir(*data));
      if (!store.ok()) return FailVerify(store.status());
      auto report = (*store)->Verify(ShowProgress);
      if (!report.ok()) return FailVerify(report.status());
      if (!report->intact) {
        std::cout << "broken at position " << report->broken_at << ": " << report->reason << "\n";
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
