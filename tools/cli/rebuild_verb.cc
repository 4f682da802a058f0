// rebuild: fold the whole log into fresh views, prove they equal the views
// kept live, and put them in place.
#include <chrono>
#include <filesystem>
#include <iostream>

#include "engine/event_store.h"
#include "projections/projector.h"
#include "projections/rebuild.h"
#include "tools/cli/verbs.h"

namespace casegrid::cli {

void AddRebuildVerb(CLI::App& app, VerbAction* action) {
  auto data = std::make_shared<std::string>(kDefaultDataDir);
  CLI::App* rebuild = app.add_subcommand(
      "rebuild", "rebuild every view from the log, check it equals the live views, swap it in");
  rebuild->add_option("--data", *data, "data folder (log/ and views/)")->capture_default_str();
  // 0: not given; the default is sized to the memory available when it runs.
  auto cached_cases = std::make_shared<std::size_t>(0);
  rebuild
      ->add_option("--cached-cases", *cached_cases,
                   "case states kept in memory while folding (about 1 KiB each; fewer: less "
                   "memory, more folds of a case's stream); default: as many as a quarter of "
                   "the available memory holds at 2 KiB each, 262144 to 16777216")
      ->check(CLI::Range(std::size_t{1}, kMaxRebuildCaseCacheEntries));
  rebuild->callback([data, cached_cases, action] {
    *action = [data, cached_cases]() -> int {
      namespace fs = std::filesystem;
      const StoreOptions options = WriterStoreOptions(*data);
      std::error_code ec;
      // A folder without a store's CURRENT file holds no log: rebuild makes
      // none (probe 98: an empty log/ got a new, empty store, "rebuilt 0
      // events", where verify had said there was no store).
      if (!fs::exists(fs::path(options.path) / "CURRENT", ec)) {
        return Fail(
            Status::NotFound("no log at " + options.path + (ec ? ": " + ec.message() : "")));
      }
      auto store = EventStore::Open(options);
      if (!store.ok()) return Fail(store.status());
      const std::string live_path = ViewsDir(*data);
      if (Status s =
              RecoverViewsSwap(live_path, [](const std::string& why) { std::cerr << why << "\n"; });
          !s.ok()) {
        return Fail(s);
      }
      // Said before the rebuild, not after its success line (probe 98).
      if (fs::exists(live_path, ec) && !fs::is_directory(live_path, ec)) {
        return Fail(Status::InvalidArgument("the views " + live_path +
                                            " are not a folder: move that file away first"));
      }
      const std::string fresh_path = live_path + ".rebuild";
      if (fs::remove_all(fresh_path, ec); ec) {
        return Fail(Status::Unavailable("cannot remove " + fresh_path + ": " + ec.message()));
      }

      const auto start = std::chrono::steady_clock::now();
      const std::size_t cached =
          *cached_cases > 0 ? *cached_cases : DefaultRebuildCaseCacheEntries();
      std::cerr << "rebuilding " << (*store)->Head().position << " events, keeping up to " << cached
                << " case states in memory\n";
      if (Status s = RebuildViews(store->get(), fresh_path, ShowProgress, UINT64_MAX,
                                  ProjectorOptions{}.snapshot_every, cached);
          !s.ok()) {
        return Fail(s);
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cout << "rebuilt " << (*store)->Head().position << " events in " << seconds << " s ("
                << static_cast<long>(static_cast<double>((*store)->Head().position) /
                                     std::max(seconds, 1e-9))
                << " events/s)\n";

      if (fs::exists(live_path, ec)) {
        // Bring the live views to the same position, then compare.
        ProjectorOptions live_options;
        live_options.path = live_path;
        auto live = Projector::Open(store->get(), live_options);
        if (!live.ok() && live.status().code() == StatusCode::kCorruption) {
          // Views of another format (an older build) or damaged: nothing to
          // compare with; the log is the truth, so the rebuild replaces them.
          std::cout << "the live views cannot be read (" << live.status().message()
                    << "); replacing them without a comparison\n";
        } else {
          if (!live.ok()) return Fail(live.status());
          if (Status s = (*live)->CatchUp(); !s.ok()) return Fail(s);
          auto fresh = ViewStore::Open(fresh_path);
          if (!fresh.ok()) return Fail(fresh.status());
          if (Status same = CompareViews((*live)->views(), **fresh); !same.ok()) {
            std::cout << "the rebuilt views differ from the live ones: " << same.message()
                      << "\nthe rebuilt views are kept at " << fresh_path
                      << "; the live ones are untouched\n";
            return 1;
          }
          std::cout << "equal to the live views at position " << (*live)->position() << "\n";
        }
      }
      if (Status s = ReplaceViews(fresh_path, live_path); !s.ok()) return Fail(s);
      return 0;
    };
  });
}

}  // namespace casegrid::cli
