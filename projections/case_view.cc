#include "projections/case_view.h"

#include <vector>

#include "projections/json_writer.h"

namespace casegrid {

namespace {
// A case view is about a kilobyte (1,081 bytes for a case with two
// deadlines and a two-line summary): room for that and a longer text.
constexpr std::size_t kCaseViewBytes = 1536;
}  // namespace

std::string MaskPhone(std::string_view phone) {
  if (phone.empty()) return {};
  // Where each character starts (UTF-8), so that no character is cut.
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < phone.size(); ++i) {
    if ((static_cast<unsigned char>(phone[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  const std::size_t n = starts.size();
  // 11 characters or more (a mobile number) keep 3 and 4, as API.md shows;
  // a shorter one keeps a quarter at each end, so at least half is hidden.
  const std::size_t front = n >= 11 ? 3 : n / 4, back = n >= 11 ? 4 : n / 4;
  std::string out(phone.substr(0, front < n ? starts[front] : phone.size()));
  out += "****";
  if (back > 0) out += phone.substr(starts[n - back]);
  return out;
}

std::string MaskName(std::string_view name) {
  if (name.empty()) return {};
  std::size_t first = 1;
  const auto lead = static_cast<unsigned char>(name[0]);
  if (lead >= 0xF0) {
    first = 4;
  } else if (lead >= 0xE0) {
    first = 3;
  } else if (lead >= 0xC0) {
    first = 2;
  }
  first = std::min(first, name.size());
  std::size_t rest = 0;  // characters after the first
  for (std::size_t i = first; i < name.size(); ++i) {
    if ((static_cast<unsigned char>(name[i]) & 0xC0) != 0x80) ++rest;
  }
  // A one-character name would be shown whole: it is all masked.
  if (rest == 0) return "*";
  return std::string(name.substr(0, first)) + std::string(rest, '*');
}

std::string RenderCaseView(const CaseState& s, PersonalData personal) {
  const bool mask = personal == PersonalData::kMasked;
  JsonWriter w(kCaseViewBytes);
  w.BeginObject();
  w.Key("case_id").String(s.case_id);
  w.Key("version").Int(static_cast<std::int64_t>(s.version));
  w.Key("position").Int(static_cast<std::int64_t>(s.position));
  w.Key("state").String(Name(s.status));
  w.Key("kind").String(Name(s.kind));
  w.Key("channel").String(Name(s.report.channel));
  w.Key("priority").String(Name(s.priority));
  w.Key("category").String(s.category);
  w.Key("cell").String(s.report.cell);
  w.Key("tier").Int(s.tier);
  w.Key("judicial").OptString(s.judicial);
  if (s.assignee.empty()) {
    w.Key("assignee").Null();
  } else {
    w.Key("assignee").String(s.assignee);
  }
  w.Key("team").OptString(s.team);
  w.Key("summary").String(s.report.summary);
  w.Key("address").OptString(s.report.address);
  w.Key("reporter").BeginObject();
  w.Key("name").String(mask ? MaskName(s.report.reporter.name) : s.report.reporter.name);
  if (s.report.reporter.phone) {
    w.Key("phone").String(mask ? MaskPhone(*s.report.reporter.phone) : *s.report.reporter.phone);
  } else {
    w.Key("phone").Null();
  }
  w.EndObject();
  w.Key("parties").BeginArray();
  for (const auto& p : s.report.parties) w.String(mask ? MaskName(p) : p);
  w.EndArray();
  w.Key("occurred_at");
  if (s.report.occurred_at) {
    w.Time(*s.report.occurred_at);
  } else {
    w.Null();
  }
  w.Key("reported_at").Time(s.reported_at);
  w.Key("accepted_at").Time(s.accepted_at);
  w.Key("arrived_at").Time(s.arrived_at);
  w.Key("resolved_at").Time(s.resolved_at);
  w.Key("closed_at").Time(s.closed_at);
  w.Key("updated_at").Time(s.updated_at);  // its last event's
  w.Key("dispatched").BeginArray();        // dispatched and not arrived yet
  for (const std::string& officer : s.dispatched) w.String(officer);
  w.EndArray();
  w.Key("resolution");
  if (s.resolution) {
    w.String(Name(*s.resolution));
  } else {
    w.Null();
  }
  w.Key("deadlines").BeginArray();
  for (const CaseDeadline& d : s.deadlines) {
    w.BeginObject();
    w.Key("deadline").String(Name(d.kind));
    w.Key("due_at").Time(d.due_at);
    w.Key("missed").Bool(d.missed);
    w.Key("met").Bool(d.met);
    w.Key("warned").Bool(d.warned);
    w.EndObject();
  }
  w.EndArray();
  // Each miss on record, with the due time it was missed at (views format
  // 13): a deadline's entry above shows its current due time only.
  w.Key("misses").BeginArray();
  for (const auto& [kind, due_at] : s.misses) {
    w.BeginObject().Key("deadline").String(Name(kind)).Key("due_at").Time(due_at).EndObject();
  }
  w.EndArray();
  w.Key("callback").BeginObject();
  w.Key("state").String(Name(s.callback.status));
  w.Key("due_at");
  if (s.callback.due_at) {
    w.Time(*s.callback.due_at);
  } else {
    w.Null();
  }
  w.Key("attempts").Int(s.callback.attempts);
  w.Key("unreached").Int(s.callback.unreached);
  for (const auto& [key, value] :
       {std::pair{"speed", s.callback.speed}, std::pair{"attitude", s.callback.attitude},
        std::pair{"outcome", s.callback.outcome}}) {
    w.Key(std::string_view(key));
    if (value) {
      w.String(Name(*value));
    } else {
      w.Null();
    }
  }
  w.EndObject();
  w.Key("mediation").BeginObject();
  w.Key("sessions").Int(s.mediation_sessions).Key("agreements").Int(s.mediation_agreements);
  w.EndObject();
  w.Key("escalations").Int(s.escalations);
  w.Key("reopenings").Int(s.reopenings);
  w.Key("notes").Int(s.notes);
  w.EndObject();
  return w.Take();
}

}  // namespace casegrid
