#include "api/http_call.h"

#include <algorithm>
#include <charconv>

#include "engine/canonical_json.h"
#include "projections/json_writer.h"

namespace casegrid {

HttpResponse Json(http::status status, std::string body, unsigned version, bool keep_alive) {
  HttpResponse res{status, version};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

HttpResponse Json(http::status status, std::string body, const HttpRequest& req) {
  return Json(status, std::move(body), req.version(), req.keep_alive());
}

std::string WriteAnswer(const WriteResult& w, bool with_case) {
  JsonWriter j;
  j.BeginObject();
  if (with_case) j.Key("case_id").String(w.case_id);
  j.Key("position").Int(static_cast<std::int64_t>(w.position));
  j.Key("version").Int(static_cast<std::int64_t>(w.version));
  j.EndObject();
  return j.Take();
}

Result<std::uint64_t> ParseCount(const std::string& text, std::string_view field) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) {
    return Status::InvalidArgument(std::string(field) +
                                   ": too large (at most 18446744073709551615)");
  }
  if (ec != std::errc() || p != text.data() + text.size()) {
    return Status::InvalidArgument(std::string(field) + ": must be a non-negative integer");
  }
  return v;
}

Result<std::uint64_t> ParseLimit(const std::string& text) {
  ASSIGN_OR_RETURN(std::uint64_t v, ParseCount(text, "limit"));
  if (v == 0) return Status::InvalidArgument("limit: must be at least 1");
  return v;
}

Status OnlyFields(simdjson::dom::element e, std::initializer_list<std::string_view> allowed,
                  std::string_view name, std::string_view members) {
  simdjson::dom::object object;
  if (e.get(object)) return Status::InvalidArgument(std::string(name) + ": must be an object");
  for (auto [key, value] : object) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Status::InvalidArgument(std::string(members) + std::string(key) + ": unknown field");
    }
  }
  return Status::Ok();
}

Status NoFields(const std::string& body) {
  if (body.empty()) return Status::Ok();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body).get(root)) return Status::InvalidArgument("body: " + WhyNotJson(body));
  return OnlyFields(root, {}, "body", "");
}

Status NoSuchRoute(const HttpRequest& req) {
  // The path only: the query may hold a token (?token=), which an error
  // body would hand to every log and proxy on the way.
  const std::string_view target = req.target();
  return Status::NotFound(
      "no such route: " + std::string(http::to_string(req.method())) + " " +
      std::string(target.substr(0, std::min<std::size_t>(target.find('?'), 200))));
}

}  // namespace casegrid
