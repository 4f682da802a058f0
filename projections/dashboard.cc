#include "projections/dashboard.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "engine/grid_directory.h"
#include "projections/json_writer.h"

namespace casegrid {
namespace {

constexpr std::int64_t kHourMs = 3600 * 1000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && (a < 0));
}

// Counts a response time of `ms` in `h`.
void Record(DashboardNode::Histogram& h, std::int64_t ms) {
  const std::int64_t minutes_ceil = (std::max<std::int64_t>(ms, 0) + 59999) / 60000;
  const auto it =
      std::lower_bound(kResponseBucketMinutes.begin(), kResponseBucketMinutes.end(), minutes_ceil);
  const auto bucket = static_cast<std::size_t>(it - kResponseBucketMinutes.begin());
  ++h[bucket];
  if (bucket == kResponseBuckets - 1) {
    h[kResponseBuckets] = std::max(h[kResponseBuckets], minutes_ceil);
  }
}

// The gauges `s` contributes, added (sign +1) or removed (-1).
void Contribute(DashboardNode& n, const CaseGauges& s, int sign) {
  if (!s.exists) return;
  if (s.open) {
    const auto state = static_cast<std::size_t>(s.status);  // reported, assigned, in_progress
    n.open_by_state[state] += sign;
    n.open_by_tier[static_cast<std::size_t>(std::clamp(s.tier, 1, 3) - 1)] += sign;
    n.open_by_kind[static_cast<std::size_t>(s.kind)] += sign;
    const std::int64_t day = FloorDiv(s.reported_at, kDayMs);
    if (day < n.report_day_floor) {
      n.open_reported_earlier += sign;
    } else if ((n.open_by_report_day[day] += sign) == 0) {
      n.open_by_report_day.erase(day);
    }
    if (s.kind == CaseKind::kHazard) n.hazards_open += sign;
    if (s.overdue) n.open_overdue += sign;
  }
  n.cases_by_kind[static_cast<std::size_t>(s.kind)][0] += sign;
  n.cases_by_channel[static_cast<std::size_t>(s.channel)][0] += sign;
  if (s.done) {
    n.cases_by_kind[static_cast<std::size_t>(s.kind)][1] += sign;
    n.cases_by_channel[static_cast<std::size_t>(s.channel)][1] += sign;
  }
  if (s.mediated) n.cases_mediated += sign;
  if (s.agreed) n.cases_agreed += sign;
  if (s.rectified_hazard) n.hazards_rectified += sign;
  if (s.callback_open) {
    n.callbacks_due += sign;
    if (s.callback_missed) n.callbacks_overdue += sign;
  }
}

void CountHour(DashboardNode& n, std::int64_t at_ms, int which) {
  const std::int64_t hour = FloorDiv(at_ms, kHourMs);
  n.hourly[hour][static_cast<std::size_t>(which)] += 1;
  // Keep a bounded window behind the newest event (by event time, not clock).
  const std::int64_t oldest =
      FloorDiv(n.hourly.rbegin()->first * kHourMs - kHourlyDays * kDayMs, kHourMs);
  n.hourly.erase(n.hourly.begin(), n.hourly.lower_bound(oldest));
}

// Moves the open cases reported more than kOpenReportDays before `at_ms`
// (an event's time) into the one earlier count.
void RaiseReportDayFloor(DashboardNode& n, std::int64_t at_ms) {
  const std::int64_t floor = FloorDiv(at_ms, kDayMs) - kOpenReportDays;
  if (floor <= n.report_day_floor) return;
  n.report_day_floor = floor;
  const auto end = n.open_by_report_day.lower_bound(floor);
  for (auto it = n.open_by_report_day.begin(); it != end; ++it) {
    n.open_reported_earlier += it->second;
  }
  n.open_by_report_day.erase(n.open_by_report_day.begin(), end);
}

void Percentiles(JsonWriter& w, const std::array<DashboardNode::Histogram, 4>& by_priority) {
  w.BeginObject();
  for (std::size_t p = 0; p < 4; ++p) {
    const auto& h = by_priority[p];
    std::int64_t total = 0;
    for (std::size_t b = 0; b < kResponseBuckets; ++b) total += h[b];
    if (total == 0) continue;
    // The bound of the bucket the nearest-rank value falls in; the open
    // bucket's is the longest time it holds.
    auto at = [&](double q) -> std::int64_t {
      const std::int64_t rank =
          static_cast<std::int64_t>(q * static_cast<double>(total) + 0.999999);
      std::int64_t seen = 0;
      for (std::size_t b = 0; b < kResponseBucketMinutes.size(); ++b) {
        seen += h[b];
        if (seen >= std::max<std::int64_t>(rank, 1)) return kResponseBucketMinutes[b];
      }
      return h[kResponseBuckets];
    };
    w.Key(Name(static_cast<Priority>(p)));
    w.BeginObject().Key("p50").Int(at(0.5)).Key("p90").Int(at(0.9)).Key("count").Int(total);
    w.EndObject();
  }
  w.EndObject();
}

void Share(JsonWriter& w, std::int64_t part, std::int64_t whole) {
  if (whole == 0) {
    w.Null();
  } else {
    w.Double(static_cast<double>(part) / static_cast<double>(whole));
  }
}

}  // namespace

std::vector<std::string> DashboardNodesOf(std::string_view cell) {
  std::vector<std::string> nodes = CellAndAncestors(cell);
  nodes.emplace_back();
  return nodes;
}

CaseGauges CaseGauges::Of(const CaseState& s) {
  CaseGauges g;
  g.exists = s.exists;
  g.open = s.is_open();
  g.status = s.status;
  g.tier = s.tier;
  g.kind = s.kind;
  g.channel = s.report.channel;
  g.priority = s.priority;
  g.done = s.status == CaseStatus::kResolved || s.status == CaseStatus::kClosed;
  g.reported_at = s.reported_at;
  g.accepted_at = s.accepted_at;
  g.arrived_at = s.arrived_at;
  // A case closed after its callback was tried in vain owes none.
  g.callback_open = s.callback.is_open() && s.status != CaseStatus::kClosed;
  const CaseDeadline* d = s.Deadline(DeadlineKind::kCallback);
  g.callback_missed = g.callback_open && d != nullptr && d->missed;
  g.rectified_hazard =
      s.kind == CaseKind::kHazard && s.resolution == Resolution::kRectified && g.done;
  g.overdue = g.open && std::any_of(s.deadlines.begin(), s.deadlines.end(), [](const auto& d) {
                return d.kind != DeadlineKind::kCallback && d.missed && !d.met;
              });
  g.mediated = s.mediation_sessions > 0;
  g.agreed = s.mediation_agreements > 0;
  return g;
}

void ApplyCaseChange(DashboardNode& n, const CaseChange& c) {
  const CaseGauges& before = c.before;
  const CaseGauges& after = c.after;
  const std::int64_t at = c.event->recorded_at_ms;
  RaiseReportDayFloor(n, at);
  Contribute(n, before, -1);
  Contribute(n, after, +1);
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, CaseReported>) {
          ++n.reported;
          CountHour(n, at, 0);
          if (c.repeat_dispute()) ++n.repeat_disputes;
        } else if constexpr (std::is_same_v<T, CaseResolved>) {
          ++n.resolved;
          CountHour(n, at, 1);
        } else if constexpr (std::is_same_v<T, MediationSessionHeld>) {
          const auto tier = static_cast<std::size_t>(std::clamp(e.tier, 1, 3) - 1);
          ++n.mediation_sessions[tier];
          if (e.outcome == MediationOutcome::kAgreement) ++n.mediation_agreements[tier];
        } else if constexpr (std::is_same_v<T, CaseEscalated>) {
          ++n.escalations;
        } else if constexpr (std::is_same_v<T, CaseReopened>) {
          ++n.reopened;
        } else if constexpr (std::is_same_v<T, CallbackAttempted>) {
          n.callbacks_unreachable += !e.reached;
        } else if constexpr (std::is_same_v<T, CallbackCompleted>) {
          ++n.callbacks_completed;
          n.callbacks_satisfied[0] += e.speed == Satisfaction::kSatisfied;
          n.callbacks_satisfied[1] += e.attitude == Satisfaction::kSatisfied;
          n.callbacks_satisfied[2] += e.outcome == Satisfaction::kSatisfied;
        } else if constexpr (std::is_same_v<T, DeadlineMissed>) {
          ++n.deadlines_missed[static_cast<std::size_t>(e.deadline)];
        }
      },
      *c.data);
  const auto priority = static_cast<std::size_t>(after.priority);
  if (before.accepted_at == 0 && after.accepted_at != 0) {
    Record(n.to_accept[priority], after.accepted_at - after.reported_at);
  }
  if (before.arrived_at == 0 && after.arrived_at != 0) {
    Record(n.to_arrival[priority], after.arrived_at - after.reported_at);
  }
  n.position = c.event->position;
}

// ---------------------------------------------------------------- encoding

namespace {

// The most bytes a varint takes: 64 bits, 7 a byte.
constexpr std::size_t kMaxVarintBytes = 10;

// Writes `signed_value` zigzagged at `p`, which has room for
// kMaxVarintBytes; returns the byte after it.
char* PutVarint(char* p, std::int64_t signed_value) {
  auto v = static_cast<std::uint64_t>((signed_value << 1) ^ (signed_value >> 63));  // zigzag
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

class VarintReader {
 public:
  explicit VarintReader(std::string_view in) : in_(in) {}
  std::int64_t Next() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) {
        bad_ = true;
        return 0;
      }
      const auto b = static_cast<unsigned char>(in_.front());
      in_.remove_prefix(1);
      v |= std::uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
    }
    bad_ = true;
    return 0;
  }
  bool done_cleanly() const { return !bad_ && in_.empty(); }
  bool bad() const { return bad_; }
  void Fail() { bad_ = true; }

 private:
  std::string_view in_;
  bool bad_ = false;
};

// Visits every field in one fixed order, for both directions.
template <typename Node, typename Scalar, typename Map, typename HourMap>
void VisitFields(Node& n, Scalar&& scalar, Map&& map, HourMap&& hours) {
  for (auto& v : n.open_by_state) scalar(v);
  for (auto& v : n.open_by_tier) scalar(v);
  for (auto& v : n.open_by_kind) scalar(v);
  map(n.open_by_report_day);
  scalar(n.open_reported_earlier);
  scalar(n.report_day_floor);
  scalar(n.callbacks_due);
  scalar(n.callbacks_overdue);
  scalar(n.hazards_open);
  hours(n.hourly);
  scalar(n.reported);
  scalar(n.resolved);
  for (auto& v : n.mediation_sessions) scalar(v);
  for (auto& v : n.mediation_agreements) scalar(v);
  scalar(n.escalations);
  scalar(n.callbacks_completed);
  for (auto& v : n.callbacks_satisfied) scalar(v);
  for (auto& v : n.deadlines_missed) scalar(v);
  scalar(n.repeat_disputes);
  scalar(n.hazards_rectified);
  for (auto& h : n.to_accept) {
    for (auto& v : h) scalar(v);
  }
  for (auto& h : n.to_arrival) {
    for (auto& v : h) scalar(v);
  }
  scalar(n.open_overdue);
  scalar(n.cases_mediated);
  scalar(n.cases_agreed);
  for (auto& v : n.cases_by_kind) scalar(v[0]), scalar(v[1]);
  for (auto& v : n.cases_by_channel) scalar(v[0]), scalar(v[1]);
  scalar(n.callbacks_unreachable);
  scalar(n.reopened);
}

// 2: open cases reported before the report-day floor are one count; 3: a
// histogram keeps the longest time of its open bucket; 4: open cases
// overdue, cases mediated and agreed; 5: cases by kind and channel,
// callbacks unreachable, reopenings.
constexpr std::int64_t kEncodingVersion = 5;

}  // namespace

std::string EncodeDashboardNode(const DashboardNode& node) {
  // Written in place, in room for the most bytes its varints can take, then
  // copied as long as they took: an append each cost ~40 instructions, a node
  // ~700 of them, in every batch that changes it (callgrind of a serve).
  std::size_t varints = 2;
  VisitFields(
      node, [&](std::int64_t) { ++varints; },
      [&](const std::map<std::int64_t, std::int64_t>& m) { varints += 1 + 2 * m.size(); },
      [&](const std::map<std::int64_t, std::array<std::int64_t, 2>>& m) {
        varints += 1 + 3 * m.size();
      });
  // A buffer of this thread's, grown and never zeroed again: a string of
  // the bound, zeroed for each node, cost more than the varints.
  thread_local std::vector<char> buffer;
  if (buffer.size() < varints * kMaxVarintBytes) buffer.resize(varints * kMaxVarintBytes);
  char* p = buffer.data();
  p = PutVarint(p, kEncodingVersion);
  p = PutVarint(p, static_cast<std::int64_t>(node.position));
  VisitFields(
      node, [&](std::int64_t v) { p = PutVarint(p, v); },
      [&](const std::map<std::int64_t, std::int64_t>& m) {
        p = PutVarint(p, static_cast<std::int64_t>(m.size()));
        for (const auto& [k, v] : m) p = PutVarint(PutVarint(p, k), v);
      },
      [&](const std::map<std::int64_t, std::array<std::int64_t, 2>>& m) {
        p = PutVarint(p, static_cast<std::int64_t>(m.size()));
        for (const auto& [k, v] : m) p = PutVarint(PutVarint(PutVarint(p, k), v[0]), v[1]);
      });
  return std::string(buffer.data(), p);
}

Result<DashboardNode> DecodeDashboardNode(std::string_view bytes) {
  VarintReader r(bytes);
  if (const std::int64_t version = r.Next(); version != kEncodingVersion) {
    return Status::Corruption("dashboard node: encoding " + std::to_string(version) +
                              ", this build reads " + std::to_string(kEncodingVersion) +
                              "; remove the views folder and rebuild");
  }
  DashboardNode node;
  node.position = static_cast<Position>(r.Next());
  auto count = [&]() -> std::int64_t {
    const std::int64_t c = r.Next();
    if (c >= 0 && c <= static_cast<std::int64_t>(bytes.size())) return c;
    r.Fail();
    return 0;
  };
  VisitFields(
      node, [&](std::int64_t& v) { v = r.Next(); },
      [&](std::map<std::int64_t, std::int64_t>& m) {
        for (std::int64_t i = count(); i > 0 && !r.bad(); --i) {
          const std::int64_t k = r.Next();
          m[k] = r.Next();
        }
      },
      [&](std::map<std::int64_t, std::array<std::int64_t, 2>>& m) {
        for (std::int64_t i = count(); i > 0 && !r.bad(); --i) {
          const std::int64_t k = r.Next();
          auto& v = m[k];
          v[0] = r.Next();
          v[1] = r.Next();
        }
      });
  if (!r.done_cleanly()) return Status::Corruption("dashboard node: truncated or padded");
  return node;
}

// ---------------------------------------------------------------- rendering

std::string RenderDashboard(std::string_view path, const DashboardNode& n, Position position,
                            std::int64_t now_ms, int day_offset_hours, std::int64_t log_start_ms) {
  JsonWriter w;
  w.BeginObject();
  w.Key("cell").String(path);
  w.Key("position").Int(static_cast<std::int64_t>(position));
  w.Key("as_of").Timestamp(now_ms);  // the epoch is a time too, not "none"
  // "today" and the hourly intake are of the day of UTC+day_offset_hours.
  w.Key("day_offset_hours").Int(day_offset_hours);

  std::int64_t open_total = 0;
  for (auto v : n.open_by_state) open_total += v;
  w.Key("open").BeginObject();
  w.Key("total").Int(open_total);
  w.Key("by_state").BeginObject();
  for (std::size_t i = 0; i < n.open_by_state.size(); ++i) {
    w.Key(Name(static_cast<CaseStatus>(i))).Int(n.open_by_state[i]);
  }
  w.EndObject();
  w.Key("by_tier").BeginObject();
  for (std::size_t i = 0; i < n.open_by_tier.size(); ++i) {
    w.Key(std::to_string(i + 1)).Int(n.open_by_tier[i]);
  }
  w.EndObject();
  w.Key("by_kind").BeginObject();
  for (std::size_t i = 0; i < n.open_by_kind.size(); ++i) {
    w.Key(Name(static_cast<CaseKind>(i))).Int(n.open_by_kind[i]);
  }
  w.EndObject();
  // Age of open cases by the day they were reported, measured at now_ms.
  std::array<std::int64_t, 5> ages{};  // <1d, 1-3d, 3-7d, 7-30d, >=30d
  ages[4] = n.open_reported_earlier;   // reported over 31 days before the node's newest event
  const std::int64_t today = FloorDiv(now_ms, kDayMs);
  for (const auto& [day, count] : n.open_by_report_day) {
    const std::int64_t age = today - day;
    ages[age < 1 ? 0 : age < 3 ? 1 : age < 7 ? 2 : age < 30 ? 3 : 4] += count;
  }
  w.Key("by_age").BeginObject();
  const char* age_names[] = {"under_1d", "1d_to_3d", "3d_to_7d", "7d_to_30d", "over_30d"};
  for (std::size_t i = 0; i < ages.size(); ++i) w.Key(std::string_view(age_names[i])).Int(ages[i]);
  w.EndObject();
  w.Key("overdue").Int(n.open_overdue);
  w.EndObject();

  // Today and the hourly intake of today against the seven days before, by
  // the local day.
  std::array<std::int64_t, 24> intake_today{}, intake_week{};
  std::int64_t reported_today = 0, resolved_today = 0;
  const std::int64_t local_today = FloorDiv(now_ms + day_offset_hours * kHourMs, kDayMs);
  for (const auto& [utc_hour, counts] : n.hourly) {
    const std::int64_t hour = utc_hour + day_offset_hours;
    const std::int64_t day = FloorDiv(hour, 24);
    const auto hour_of_day = static_cast<std::size_t>(hour - day * 24);
    if (day == local_today) {
      reported_today += counts[0];
      resolved_today += counts[1];
      intake_today[hour_of_day] += counts[0];
    } else if (day < local_today && day >= local_today - 7) {
      intake_week[hour_of_day] += counts[0];
    }
  }
  w.Key("today")
      .BeginObject()
      .Key("reported")
      .Int(reported_today)
      .Key("resolved")
      .Int(resolved_today);
  w.EndObject();
  w.Key("intake_hourly").BeginObject();
  w.Key("today").BeginArray();
  for (auto v : intake_today) w.Int(v);
  w.EndArray();
  // The previous days the log has, of the last 7: a store a day old has one
  // (its intake was divided by 7, a seventh of the truth all week).
  std::int64_t previous_days = 7;
  if (log_start_ms != INT64_MIN) {
    const std::int64_t first_day = FloorDiv(log_start_ms + day_offset_hours * kHourMs, kDayMs);
    previous_days = std::clamp<std::int64_t>(local_today - first_day, 0, 7);
  }
  w.Key("previous_7_days_average").BeginArray();
  for (auto v : intake_week) {
    w.Double(previous_days == 0 ? 0.0
                                : static_cast<double>(v) / static_cast<double>(previous_days));
  }
  w.EndArray();
  w.Key("previous_days").Int(previous_days);
  w.EndObject();
  w.Key("totals").BeginObject().Key("reported").Int(n.reported).Key("resolved").Int(n.resolved);
  w.Key("reopened").Int(n.reopened);
  w.EndObject();
  // Every case by its kind now and by its channel, and of those resolved or
  // closed now.
  const auto counts = [&w](const std::array<std::int64_t, 2>& c) {
    w.BeginObject().Key("total").Int(c[0]).Key("resolved").Int(c[1]);
    w.EndObject();
  };
  w.Key("cases").BeginObject();
  w.Key("by_kind").BeginObject();
  for (std::size_t i = 0; i < n.cases_by_kind.size(); ++i) {
    w.Key(Name(static_cast<CaseKind>(i)));
    counts(n.cases_by_kind[i]);
  }
  w.EndObject();
  w.Key("by_channel").BeginObject();
  for (std::size_t i = 0; i < n.cases_by_channel.size(); ++i) {
    w.Key(Name(static_cast<Channel>(i)));
    counts(n.cases_by_channel[i]);
  }
  w.EndObject();
  w.EndObject();

  std::int64_t sessions = 0, agreements = 0;
  for (std::size_t t = 0; t < 3; ++t) sessions += n.mediation_sessions[t];
  for (std::size_t t = 0; t < 3; ++t) agreements += n.mediation_agreements[t];
  w.Key("mediation").BeginObject();
  w.Key("sessions").Int(sessions).Key("agreements").Int(agreements).Key("success_rate");
  Share(w, agreements, sessions);
  w.Key("by_tier").BeginObject();
  for (std::size_t t = 0; t < 3; ++t) {
    w.Key(std::to_string(t + 1)).BeginObject();
    w.Key("sessions").Int(n.mediation_sessions[t]).Key("agreements").Int(n.mediation_agreements[t]);
    w.Key("success_rate");
    Share(w, n.mediation_agreements[t], n.mediation_sessions[t]);
    w.EndObject();
  }
  w.EndObject();
  // Per case, as DOMAIN.md counts it: cases mediated, and with an agreement.
  w.Key("cases").BeginObject();
  w.Key("mediated").Int(n.cases_mediated).Key("agreed").Int(n.cases_agreed);
  w.Key("success_rate");
  Share(w, n.cases_agreed, n.cases_mediated);
  w.EndObject();
  w.EndObject();

  w.Key("callbacks").BeginObject();
  w.Key("due").Int(n.callbacks_due).Key("completed").Int(n.callbacks_completed);
  w.Key("overdue").Int(n.callbacks_overdue);
  w.Key("unreachable").Int(n.callbacks_unreachable);
  w.Key("satisfied").BeginObject();
  const char* dims[] = {"speed", "attitude", "outcome"};
  for (std::size_t i = 0; i < 3; ++i) {
    w.Key(std::string_view(dims[i]));
    Share(w, n.callbacks_satisfied[i], n.callbacks_completed);
  }
  w.EndObject();
  w.EndObject();

  std::int64_t missed = 0;
  for (auto v : n.deadlines_missed) missed += v;
  w.Key("escalations").Int(n.escalations);
  w.Key("deadlines_missed").Int(missed);
  w.Key("deadlines_missed_by_kind").BeginObject();
  for (std::size_t i = 0; i < n.deadlines_missed.size(); ++i) {
    w.Key(Name(static_cast<DeadlineKind>(i))).Int(n.deadlines_missed[i]);
  }
  w.EndObject();
  w.Key("repeat_disputes").Int(n.repeat_disputes);
  w.Key("hazards")
      .BeginObject()
      .Key("open")
      .Int(n.hazards_open)
      .Key("rectified")
      .Int(n.hazards_rectified);
  w.EndObject();
  w.Key("response_minutes");
  Percentiles(w, n.to_accept);
  w.Key("arrival_minutes");
  Percentiles(w, n.to_arrival);
  w.EndObject();
  return w.Take();
}

}  // namespace casegrid
