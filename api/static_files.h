// The browser screens (issue 5, docs/screens.md), served by casegrid itself:
// the pages and their scripts are plain files under a web root — the source
// tree's api/web unless HttpApiOptions::web_root says otherwise — read on
// each request, so editing a page needs no rebuild.
//
// What is served, all without a token (the pages hold no data; they call the
// API with the token the user signs in with):
//   /                the command-center dashboard   (index.html)
//   /officer         the officer's screen           (officer.html)
//   /case/{id}       a case, its timeline, replay   (case.html)
//   /ui/{file}       a script, style sheet or image of the web root
//   /ui/lib/echarts.esm.min.mjs   ECharts, from the web root's node_modules
//                    (installed by tools/setup with `npm ci`, not copied in)
//
// Bounds: a path with "..", ".", a segment starting with '.', a '%', a
// backslash or any byte outside [A-Za-z0-9._/-] is refused; only the file
// types below are served; a file resolving (symlinks followed) outside the
// web root is refused; a file larger than kMaxWebFileBytes is refused with
// too_large rather than read.
//
// Thread-safety: pure functions of the request and the files.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/http_api.h"

namespace casegrid {

inline constexpr std::size_t kMaxWebFileBytes = 4 * 1024 * 1024;

// The web root compiled in: the source tree's api/web.
std::string DefaultWebRoot();

// The page or asset `request` (a GET or HEAD) asks for, from `web_root`
// ("" = DefaultWebRoot()); nullopt when its path is none of the paths above,
// so that the API's routes answer it. A path that is one of ours but names
// no file is kNotFound.
std::optional<Result<HttpResponse>> ServeWebFile(const HttpRequest& request,
                                                 std::string_view web_root);

// The Content-Type for a file name by its extension; "" if not one we serve.
std::string_view WebContentType(std::string_view file_name);

}  // namespace casegrid
