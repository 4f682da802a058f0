#include "tools/cli/demo_city.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <optional>
#include <random>
#include <string_view>
#include <utility>

#include "engine/canonical_json.h"
#include "engine/case_events.h"

namespace casegrid::cli {
namespace {

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;

std::int64_t Minutes(double m) {
  return static_cast<std::int64_t>(m * static_cast<double>(kMinute));
}
std::int64_t Hours(double h) {
  return Minutes(h * 60);
}
std::int64_t Days(double d) {
  return Minutes(d * 24 * 60);
}
int HourOf(std::int64_t ms) {
  return static_cast<int>((ms / kHour) % 24);
}
// 0 is Sunday (1970-01-01 was a Thursday).
int WeekdayOf(std::int64_t ms) {
  return static_cast<int>((ms / kDay + 4) % 7);
}

// Random numbers that are the same on every standard library: the engine's
// output is specified by the standard, the distributions are ours.
class Dice {
 public:
  explicit Dice(std::uint64_t seed) : engine_(seed) {}

  std::uint64_t Next() { return engine_(); }
  // [0, 1), from 53 random bits.
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double Between(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // [0, n); n > 0.
  std::size_t Below(std::size_t n) {
    return std::min(n - 1, static_cast<std::size_t>(Uniform() * static_cast<double>(n)));
  }
  bool Chance(double p) { return Uniform() < p; }
  // Standard normal (Box–Muller).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  // Half the draws below `median`, spread by `sigma` (of the logarithm).
  double LogNormal(double median, double sigma) { return median * std::exp(sigma * Normal()); }
  // Knuth's method; fine for the small means used here.
  int Poisson(double mean) {
    const double limit = std::exp(-mean);
    int k = 0;
    for (double p = Uniform(); p > limit; p *= Uniform()) ++k;
    return k;
  }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }
  template <std::size_t N>
  std::string_view Pick(const std::array<std::string_view, N>& items) {
    return items[Below(N)];
  }

 private:
  std::mt19937_64 engine_;
};

template <typename T>
struct Weighted {
  T value;
  double weight;
};

template <typename T>
const T& Choose(Dice& dice, const std::vector<Weighted<T>>& choices) {
  double total = 0;
  for (const auto& c : choices) total += c.weight;
  double x = dice.Uniform() * total;
  for (const auto& c : choices) {
    if (x < c.weight) return c.value;
    x -= c.weight;
  }
  return choices.back().value;
}

// ---- The jurisdiction.

struct ClusterSpec {
  std::string_view area, group, id, name;
  bool community;
};

constexpr std::string_view kDistrict = "santai";
constexpr std::string_view kDistrictName = "Santai Police Station";
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kAreas = {{
    {"tongchuan", "Tongchuan Area"},
    {"luxi", "Luxi Area"},
    {"qiuling", "Qiuling Area"},
    {"xinde", "Xinde Area"},
}};
// 13 villages and 10 communities (DOMAIN.md, "What the seeds report").
constexpr std::array<ClusterSpec, 23> kClusters = {{
    {"tongchuan", "g1", "dongjie", "Dongjie Community", true},
    {"tongchuan", "g1", "xijie", "Xijie Community", true},
    {"tongchuan", "g1", "nanmen", "Nanmen Community", true},
    {"tongchuan", "g2", "beita", "Beita Community", true},
    {"tongchuan", "g2", "huancheng", "Huancheng Community", true},
    {"tongchuan", "g2", "qinglong", "Qinglong Community", true},
    {"luxi", "g1", "jiangbin", "Jiangbin Community", true},
    {"luxi", "g1", "binhe", "Binhe Community", true},
    {"luxi", "g1", "huangjia", "Huangjia Village", false},
    {"luxi", "g2", "wangjiawan", "Wangjiawan Village", false},
    {"luxi", "g2", "shiqiao", "Shiqiao Village", false},
    {"luxi", "g2", "baima", "Baima Community", true},
    {"qiuling", "g1", "liujia", "Liujia Village", false},
    {"qiuling", "g1", "zhoujia", "Zhoujia Village", false},
    {"qiuling", "g1", "shuangshu", "Shuangshu Village", false},
    {"qiuling", "g2", "gaoping", "Gaoping Village", false},
    {"qiuling", "g2", "lijiagou", "Lijiagou Village", false},
    {"qiuling", "g2", "songlin", "Songlin Village", false},
    {"xinde", "g1", "chenjia", "Chenjia Village", false},
    {"xinde", "g1", "hetao", "Hetao Village", false},
    {"xinde", "g1", "xinde", "Xinde Community", true},
    {"xinde", "g2", "yangliu", "Yangliu Village", false},
    {"xinde", "g2", "tianba", "Tianba Village", false},
}};

struct Cluster {
  std::string path, name;
  bool community = false;
  std::string officer;    // the cluster's community officer
  std::string auxiliary;  // the group's auxiliary officer
  std::string mediator;   // the area's station mediator (tier 1)
  std::vector<std::string> grid_workers, volunteers;
};

std::string Numbered(std::string_view prefix, std::size_t n, int width) {
  std::string digits = std::to_string(n);
  while (static_cast<int>(digits.size()) < width) digits.insert(digits.begin(), '0');
  return std::string(prefix) + "-" + digits;
}

std::string CellBody(std::string_view cell, std::string_view name) {
  std::string body = "{\"cell\":";
  AppendJsonString(body, cell);
  body += ",\"name\":";
  AppendJsonString(body, name);
  body += "}";
  return body;
}

std::string PersonBody(std::string_view person, std::string_view role) {
  std::string body = "{\"officer\":";
  AppendJsonString(body, person);
  body += ",\"role\":";
  AppendJsonString(body, role);
  body += "}";
  return body;
}

constexpr std::string_view kAdmin = "admin";
constexpr std::string_view kHarmonyTeam = "mediator-05";    // tier 2, at the district
constexpr std::string_view kMediationRoom = "mediator-06";  // tier 3, at the district
constexpr std::string_view kSupervisor = "supervisor-1";
constexpr std::string_view kCourt = "Santai County People's Court";

// ---- People who report: names, phones, addresses.

constexpr std::array<std::string_view, 20> kSurnames = {"王", "李", "张", "刘", "陈", "杨", "黄",
                                                        "赵", "吴", "周", "徐", "孙", "马", "朱",
                                                        "胡", "郭", "何", "罗", "高", "林"};
constexpr std::array<std::string_view, 24> kGivenNames = {
    "伟", "芳", "娜", "敏", "静",   "强",   "磊",   "军",   "洋",   "勇",   "艳",   "杰",
    "娟", "涛", "明", "超", "秀英", "桂英", "建华", "志强", "春梅", "海燕", "国平", "小红"};

// (Each draw is its own statement: the operands of + are evaluated in an
// unspecified order, and the plan must not depend on the compiler.)
std::string PersonName(Dice& d) {
  std::string name(d.Pick(kSurnames));
  name += d.Pick(kGivenNames);
  return name;
}

std::string Phone(Dice& d) {
  constexpr std::array<std::string_view, 8> kPrefixes = {"138", "139", "135", "136",
                                                         "150", "158", "187", "189"};
  std::string phone(d.Pick(kPrefixes));
  for (int i = 0; i < 8; ++i) phone += static_cast<char>('0' + d.Below(10));
  return phone;
}

std::string Address(Dice& d, const Cluster& c) {
  std::string address = c.name;
  if (c.community) {
    address += ", Building " + std::to_string(1 + d.Below(24));
    address += ", Unit " + std::to_string(1 + d.Below(4));
    address += ", Room " + std::to_string(1 + d.Below(7));
    address += "0" + std::to_string(1 + d.Below(4));
  } else {
    address += ", Group " + std::to_string(1 + d.Below(9));
    address += ", No. " + std::to_string(1 + d.Below(80));
  }
  return address;
}

// ---- What cases are made of.

struct Category {
  CaseKind kind;
  std::string_view name;
  double weight;
  std::array<double, 4> priority;  // low, normal, high, urgent
  std::array<double, 7> channel;   // call, walk_in, contact_plate, watch_point, volunteer,
                                   // grid_patrol, online
  std::array<std::string_view, 3> summaries;
};

// Weights are within a kind. Channels follow the kind: 110 calls for
// incidents, walk-ins and contact plates for disputes, grid patrols and
// volunteers for hazards, watch points for help.
constexpr std::array<double, 7> kIncidentChannels = {60, 8, 10, 8, 4, 4, 6};
constexpr std::array<double, 7> kDisputeChannels = {25, 30, 20, 3, 4, 10, 8};
constexpr std::array<double, 7> kHazardChannels = {8, 4, 12, 4, 17, 45, 10};
constexpr std::array<double, 7> kAssistanceChannels = {20, 20, 20, 25, 5, 2, 8};

const std::vector<Category>& Categories() {
  static const std::vector<Category> kAll = {
      // clang-format off
      {CaseKind::kIncident, "theft", 22, {15, 60, 25, 0}, kIncidentChannels,
       {"Electric bike stolen from outside the building",
        "Phone snatched at the night market",
        "Shop reports cash missing from the till"}},
      {CaseKind::kIncident, "fight", 14, {0, 30, 50, 20}, kIncidentChannels,
       {"Two men fighting outside a restaurant",
        "Scuffle at a late-night barbecue stall",
        "Drunk customer hit a shop owner"}},
      {CaseKind::kIncident, "traffic", 16, {0, 50, 40, 10}, kIncidentChannels,
       {"Car and electric bike collided at the crossroads",
        "Van scraped a parked car and drove off",
        "Tricycle overturned on the village road"}},
      {CaseKind::kIncident, "fall_injury", 8, {0, 0, 50, 50}, kIncidentChannels,
       {"Elderly man fell in the street and cannot stand",
        "Worker fell from a ladder at a building site",
        "Woman slipped on the market steps"}},
      {CaseKind::kIncident, "fraud", 12, {0, 60, 40, 0}, kIncidentChannels,
       {"Resident lost money to a fake customer-service call",
        "Online shopping refund scam reported",
        "Fake investment group took a pensioner's savings"}},
      {CaseKind::kIncident, "noise", 18, {50, 50, 0, 0}, kIncidentChannels,
       {"Loud music from a neighbour's flat after midnight",
        "Square-dance speakers too loud in the evening",
        "Renovation drilling late at night"}},
      {CaseKind::kIncident, "rescue", 1, {0, 0, 0, 100}, kIncidentChannels,
       {"Child locked in a car in the sun",
        "Person trapped in a lift",
        "Man stranded on the river bank by rising water"}},

      {CaseKind::kDispute, "neighbour", 30, {20, 70, 10, 0}, kDisputeChannels,
       {"Water leaking from the flat upstairs",
        "Neighbour's extension blocks the shared lane",
        "Quarrel over a parking space"}},
      {CaseKind::kDispute, "family", 18, {15, 65, 20, 0}, kDisputeChannels,
       {"Brothers quarrel over the care of their mother",
        "Couple in dispute over household debts",
        "Family split over the old house"}},
      {CaseKind::kDispute, "landlord_tenant", 14, {20, 70, 10, 0}, kDisputeChannels,
       {"Landlord keeps the deposit after move-out",
        "Tenant three months behind on rent",
        "Landlord changed the locks on a tenant"}},
      {CaseKind::kDispute, "wages", 12, {10, 70, 20, 0}, kDisputeChannels,
       {"Workers say a contractor owes six months' wages",
        "Restaurant staff unpaid after the owner left",
        "Farm hands paid less than agreed"}},
      {CaseKind::kDispute, "property_management", 14, {25, 70, 5, 0}, kDisputeChannels,
       {"Residents dispute the property fee increase",
        "Lift broken for weeks, residents withhold fees",
        "Parking charges in the compound disputed"}},
      {CaseKind::kDispute, "consumer", 12, {30, 65, 5, 0}, kDisputeChannels,
       {"Customer disputes a gym membership refund",
        "Dispute over a faulty appliance repair",
        "Wedding photographer kept the deposit"}},

      {CaseKind::kHazard, "unsafe_building", 15, {15, 55, 30, 0}, kHazardChannels,
       {"Cracks in the wall of an old self-built house",
        "Loose balcony railing over the footpath",
        "Old compound roof tiles falling"}},
      {CaseKind::kHazard, "fire_exit", 20, {20, 55, 25, 0}, kHazardChannels,
       {"Fire exit blocked by stored goods",
        "Bicycles chained across the stairwell exit",
        "Fire door propped open and broken"}},
      {CaseKind::kHazard, "unregistered_rental", 30, {30, 60, 10, 0}, kHazardChannels,
       {"Rental rooms not registered with the police station",
        "New tenants in a self-built house not registered",
        "Short-term rental flat with no guest records"}},
      {CaseKind::kHazard, "electrical", 20, {10, 55, 35, 0}, kHazardChannels,
       {"Electric bikes charged in the corridor on bare wires",
        "Overloaded sockets in a rental room",
        "Street cabinet door hanging open"}},
      {CaseKind::kHazard, "gas", 10, {0, 20, 60, 20}, kHazardChannels,
       {"Smell of gas in a stairwell",
        "Gas cylinder stored next to a stove in a shop",
        "Old gas hose cracked in a restaurant kitchen"}},

      {CaseKind::kAssistance, "lost_child", 6, {0, 0, 0, 100}, kAssistanceChannels,
       {"Parent lost a child at the market",
        "Child found alone at the watch point",
        "Boy did not come home from school"}},
      {CaseKind::kAssistance, "registration", 30, {60, 40, 0, 0}, kAssistanceChannels,
       {"Question about registering a newborn's household",
        "Resident asks how to move a household registration",
        "ID card renewal question"}},
      {CaseKind::kAssistance, "directions", 12, {100, 0, 0, 0}, kAssistanceChannels,
       {"Visitor asks the way to the county hospital",
        "Driver lost looking for the new market",
        "Tourist asks for the bus to the old town"}},
      {CaseKind::kAssistance, "elderly_help", 20, {0, 70, 30, 0}, kAssistanceChannels,
       {"Elderly woman needs help getting home",
        "Elderly man with dementia wandering",
        "Pensioner living alone has not been seen for days"}},
      {CaseKind::kAssistance, "lost_property", 20, {50, 50, 0, 0}, kAssistanceChannels,
       {"Wallet lost on the bus",
        "ID card found and handed in",
        "Bag left at the watch point"}},
      {CaseKind::kAssistance, "document_help", 12, {60, 40, 0, 0}, kAssistanceChannels,
       {"Resident needs help with a residence permit",
        "Migrant worker asks about a temporary residence card",
        "Help filling in a no-criminal-record certificate request"}},
      // clang-format on
  };
  return kAll;
}

constexpr std::array<Channel, 7> kChannels = {
    Channel::kCall,      Channel::kWalkIn,     Channel::kContactPlate, Channel::kWatchPoint,
    Channel::kVolunteer, Channel::kGridPatrol, Channel::kOnline};
constexpr std::array<Priority, 4> kPriorities = {Priority::kLow, Priority::kNormal, Priority::kHigh,
                                                 Priority::kUrgent};

template <typename T, std::size_t N>
T ChooseFrom(Dice& d, const std::array<T, N>& values, const std::array<double, N>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  double x = d.Uniform() * total;
  for (std::size_t i = 0; i < N; ++i) {
    if (x < weights[i]) return values[i];
    x -= weights[i];
  }
  return values[N - 1];
}

// ---- When cases come in: UTC is the city's time (the engine has no zone).

// Relative intake by hour of day: quiet before dawn, busy late morning and
// in the evening.
constexpr std::array<double, 24> kHourly = {0.55, 0.4, 0.3, 0.25, 0.25, 0.3,  0.55, 0.9,
                                            1.3,  1.6, 1.8, 1.75, 1.45, 1.35, 1.45, 1.55,
                                            1.55, 1.5, 1.6, 1.8,  1.9,  1.6,  1.2,  0.85};
// Sunday … Saturday; mean 1: Mondays bring the weekend's disputes, Sundays
// are quiet.
constexpr std::array<double, 7> kWeekday = {0.85, 1.15, 1.05, 1.0, 1.0, 1.05, 0.9};

bool IsNight(std::int64_t t) {
  const int h = HourOf(t);
  return h >= 22 || h < 7;
}

// Kinds by time of day: fights and noise at night, disputes and help by day.
CaseKind ChooseKind(Dice& d, std::int64_t t) {
  const bool night = IsNight(t);
  return ChooseFrom<CaseKind, 4>(
      d, {CaseKind::kIncident, CaseKind::kDispute, CaseKind::kHazard, CaseKind::kAssistance},
      night ? std::array<double, 4>{80, 10.5, 3, 12} : std::array<double, 4>{40, 30, 10, 20});
}

// `t` if it falls within [from, to) o'clock, else a moment in the first
// `spread` minutes after `from` on the next such morning.
std::int64_t Daytime(Dice& d, std::int64_t t, int from, int to, double spread = 120) {
  const int h = HourOf(t);
  if (h >= from && h < to) return t;
  std::int64_t morning = t - t % kDay + from * kHour;
  if (h >= to) morning += kDay;
  return morning + Minutes(d.Between(0, spread));
}

// The command center's operators, in three shifts.
std::string OperatorAt(std::int64_t t) {
  const int h = HourOf(t);
  return h < 8 ? "operator-3" : h < 16 ? "operator-1" : "operator-2";
}

// ---- One case, step by step.

struct Dispute {
  std::int64_t at;
  std::string address;
  const Category* category;
  std::string summary;
  std::vector<std::string> parties;
};

class Script {
 public:
  Script(std::vector<DemoCommand>* out, std::size_t case_index)
      : out_(out), case_index_(case_index) {}

  std::int64_t Report(std::int64_t at, std::string_view actor, std::string body) {
    return Add(at, DemoStep::kReport, actor, "", std::move(body));
  }
  // Sends `action` at `at`, or a second after the step before if that is
  // later; returns when it was sent.
  std::int64_t Do(std::int64_t at, std::string_view actor, std::string_view action,
                  std::string body) {
    return Add(at, DemoStep::kAct, actor, action, std::move(body));
  }
  std::int64_t last() const { return last_; }

 private:
  std::int64_t Add(std::int64_t at, DemoStep step, std::string_view actor, std::string_view action,
                   std::string body) {
    at = std::max(at, last_ + kSecond);
    DemoCommand c;
    c.at = at;
    c.step = step;
    c.actor = std::string(actor);
    c.case_index = case_index_;
    c.action = std::string(action);
    c.body = std::move(body);
    out_->push_back(std::move(c));
    last_ = at;
    return at;
  }

  std::vector<DemoCommand>* out_;
  std::size_t case_index_;
  std::int64_t last_ = 0;
};

std::string Body(const CaseEventData& data) {
  return EncodeEventData(data);
}

// DOMAIN.md: 99.6% of the disputes mediated end with success. Whether a
// tier-3 mediation fails is not left to chance, so that the figure shows in a
// month's city too (a tier-3 case takes weeks, so only the early ones end
// within it): one fails whenever the referrals to court so far are fewer
// than 0.4% of the disputes mediated so far, rounded up.
struct MediationQuota {
  static constexpr double kToCourt = 0.004;
  std::size_t mediated = 0, to_court = 0;
  bool NextFails() const {
    return static_cast<double>(to_court) < std::ceil(kToCourt * static_cast<double>(mediated));
  }
};

class CasePlanner {
 public:
  CasePlanner(Dice& dice, const std::vector<Cluster>& clusters,
              std::vector<std::vector<Dispute>>& disputes, MediationQuota& quota,
              std::vector<DemoCommand>* out)
      : d_(dice), clusters_(clusters), disputes_(disputes), quota_(quota), out_(out) {}

  void Plan(std::size_t case_index, std::int64_t t0);

 private:
  struct Case {
    const Cluster* cluster = nullptr;
    const Category* category = nullptr;
    CaseKind kind = CaseKind::kIncident;
    Channel channel = Channel::kCall;
    Priority priority = Priority::kNormal;
    std::string summary;
    std::vector<std::string> parties;
    std::string assignee;
    bool slow = false;  // a step took long enough to show in the callback
    Resolution resolution = Resolution::kHandledOnSite;  // the last one
  };

  // Report, triage, assign, accept; returns when the case was accepted.
  std::int64_t Intake(Script& s, Case& c, std::int64_t t0);
  // Everything after acceptance, to the close (and beyond, if reopened).
  void Handle(Script& s, Case& c, std::int64_t t);
  std::int64_t Mediate(Script& s, Case& c, std::int64_t t, int* tier, bool* agreed);
  // The callback after a resolution at `t` and what follows it: close, or a
  // reopening handled and called back again (at most once).
  void Callback(Script& s, Case& c, std::int64_t t, int tier, Resolution resolution,
                bool may_reopen);
  // A mediation session at `tier` with its people and the parties; the
  // outcome and notes are left to the caller.
  MediationSessionHeld Session(const Case& c, int tier);
  std::int64_t Resolve(Script& s, Case& c, std::int64_t t, Resolution r, std::string summary);
  // Who mediates at `tier`: the area's station mediator, the harmony team,
  // the mediation room.
  std::string MediatorAt(const Case& c, int tier) const;

  Dice& d_;
  const std::vector<Cluster>& clusters_;
  std::vector<std::vector<Dispute>>& disputes_;  // per cluster, in time order
  MediationQuota& quota_;
  std::vector<DemoCommand>* out_;
};

void CasePlanner::Plan(std::size_t case_index, std::int64_t t0) {
  Script s(out_, case_index);
  Case c;
  Handle(s, c, Intake(s, c, t0));
}

std::int64_t CasePlanner::Intake(Script& s, Case& c, std::int64_t t0) {
  // Busier communities: twice a village's share.
  std::vector<Weighted<const Cluster*>> where;
  for (const Cluster& cl : clusters_) where.push_back({&cl, cl.community ? 2.0 : 1.0});
  c.cluster = Choose(d_, where);
  c.kind = ChooseKind(d_, t0);
  std::vector<Weighted<const Category*>> categories;
  for (const Category& cat : Categories()) {
    if (cat.kind == c.kind) categories.push_back({&cat, cat.weight});
  }
  c.category = Choose(d_, categories);
  c.channel = ChooseFrom(d_, kChannels, c.category->channel);
  c.priority = ChooseFrom(d_, kPriorities, c.category->priority);
  c.summary = std::string(d_.Pick(c.category->summaries));

  std::optional<std::string> address = Address(d_, *c.cluster);
  const std::size_t cluster_index = static_cast<std::size_t>(c.cluster - clusters_.data());
  if (c.kind == CaseKind::kDispute) {
    c.parties = {PersonName(d_), PersonName(d_)};
    if (d_.Chance(0.2)) c.parties.push_back(PersonName(d_));
    // The same quarrel again: a dispute at an address where one was reported
    // within the last four weeks.
    std::vector<const Dispute*> recent;
    for (const Dispute& past : disputes_[cluster_index]) {
      if (past.at >= t0 - Days(28)) recent.push_back(&past);
    }
    std::string summary = c.summary;
    if (!recent.empty() && d_.Chance(0.08)) {
      const Dispute& past = *d_.Pick(recent);
      address = past.address;
      c.category = past.category;
      c.parties = past.parties;
      summary = past.summary;
      c.summary = "Again: " + past.summary;
    }
    disputes_[cluster_index].push_back(Dispute{t0, *address, c.category, summary, c.parties});
  } else if ((c.category->name == "fight" || c.category->name == "traffic") && d_.Chance(0.6)) {
    c.parties = {PersonName(d_), PersonName(d_)};
  } else if (c.kind == CaseKind::kAssistance && d_.Chance(0.4)) {
    address.reset();  // asked at a desk or a watch point, no address to it
  }

  CaseReported report;
  report.kind = c.kind;
  report.channel = c.channel;
  report.cell = c.cluster->path;
  report.category = std::string(c.category->name);
  report.priority = c.priority;
  report.summary = c.summary;
  // A dispute is mostly reported by one of its parties.
  report.reporter = Reporter{c.parties.empty() ? PersonName(d_) : c.parties.front(), Phone(d_)};
  report.parties = c.parties;
  report.address = address;
  if (c.kind == CaseKind::kIncident) report.occurred_at = t0 - Minutes(d_.Between(2, 40));

  // Who types it in: the command center for calls, plates and the web; the
  // desk officer for walk-ins; grid workers and volunteers for what they find.
  std::string reporter_actor;
  switch (c.channel) {
    case Channel::kWalkIn:
      reporter_actor = c.cluster->officer;
      break;
    case Channel::kGridPatrol:
      reporter_actor = d_.Pick(c.cluster->grid_workers);
      break;
    case Channel::kWatchPoint:
    case Channel::kVolunteer:
      reporter_actor = d_.Pick(c.cluster->volunteers);
      break;
    default:
      reporter_actor = OperatorAt(t0);
  }
  std::int64_t t = s.Report(t0, reporter_actor, Body(report));

  // Triage: the operator corrects a priority now and then, mostly upwards.
  if (d_.Chance(0.08)) {
    const int p = static_cast<int>(c.priority);
    const int to = (p == 0 || (p < 3 && d_.Chance(0.6))) ? p + 1 : p - 1;
    c.priority = kPriorities[static_cast<std::size_t>(to)];
    CaseTriaged triage;
    triage.priority = c.priority;
    t = s.Do(t + Minutes(d_.Between(1, 4)), OperatorAt(t), "triage", Body(triage));
  }

  const bool urgent = c.priority == Priority::kHigh || c.priority == Priority::kUrgent;
  const double night = IsNight(t) ? 1.4 : 1.0;
  c.assignee = c.cluster->officer;
  const double assign = urgent ? d_.LogNormal(1.2, 0.5) : d_.LogNormal(3, 0.6);
  t = s.Do(t + Minutes(assign * night), OperatorAt(t), "assign",
           Body(CaseAssigned{c.assignee, std::nullopt}));
  // The cluster's officer does not answer: the group's auxiliary takes it.
  if (d_.Chance(0.03)) {
    c.assignee = c.cluster->auxiliary;
    c.slow = true;
    t = s.Do(t + Minutes(d_.Between(25, 70)), OperatorAt(t), "assign",
             Body(CaseAssigned{c.assignee, std::nullopt}));
  }
  const double accept = urgent ? d_.LogNormal(2.5, 0.45) : d_.LogNormal(18, 0.8);
  if (accept * night > (urgent ? 8 : 100)) c.slow = true;
  return s.Do(t + Minutes(accept * night), c.assignee, "accept", "{}");
}

std::string CasePlanner::MediatorAt(const Case& c, int tier) const {
  return tier == 1 ? c.cluster->mediator : std::string(tier == 2 ? kHarmonyTeam : kMediationRoom);
}

std::int64_t CasePlanner::Resolve(Script& s, Case& c, std::int64_t t, Resolution r,
                                  std::string summary) {
  c.resolution = r;
  return s.Do(t, c.assignee, "resolve", Body(CaseResolved{r, std::move(summary)}));
}

void CasePlanner::Handle(Script& s, Case& c, std::int64_t t) {
  const std::string_view cat = c.category->name;
  // First contact: does an officer go there, and how soon?
  bool visit = true;
  if (c.kind == CaseKind::kAssistance) {
    visit = cat == "lost_child" || cat == "elderly_help";
  } else if (cat == "fraud") {
    visit = d_.Chance(0.4);
  }
  if (visit) {
    t = s.Do(t + Minutes(d_.Between(0.5, 2)), c.assignee, "dispatch",
             Body(OfficerDispatched{c.assignee}));
    double travel = 0;  // minutes
    const bool scheduled = c.kind == CaseKind::kDispute || c.kind == CaseKind::kHazard;
    switch (c.priority) {
      case Priority::kUrgent:
        travel = d_.LogNormal(7, 0.4);
        break;
      case Priority::kHigh:
        travel = d_.LogNormal(scheduled ? 45 : 12, 0.5);
        break;
      case Priority::kNormal:
        travel = scheduled ? d_.LogNormal(180, 0.9) : d_.LogNormal(30, 0.6);
        break;
      case Priority::kLow:
        travel = scheduled ? d_.LogNormal(300, 0.9) : d_.LogNormal(60, 0.7);
        break;
    }
    std::int64_t arrive = t + Minutes(travel);
    if (scheduled && c.priority != Priority::kUrgent) arrive = Daytime(d_, arrive, 8, 21);
    if (arrive - t > Hours(12)) c.slow = true;
    t = s.Do(arrive, c.assignee, "arrive", Body(OfficerArrived{c.assignee}));
  }
  if (d_.Chance(0.3)) {
    constexpr std::array<std::string_view, 6> kNotes = {
        "Spoke with the reporter on site",   "Photos taken and added to the file",
        "Checked the street cameras",        "Neighbours asked what they saw",
        "Owner informed and will call back", "Grid worker will keep an eye on it"};
    t = s.Do(t + Minutes(d_.Between(5, 40)), c.assignee, "note",
             Body(NoteAdded{std::string(d_.Pick(kNotes))}));
  }

  int tier = 1;
  switch (c.kind) {
    case CaseKind::kIncident: {
      Resolution r = Resolution::kHandledOnSite;
      double minutes = d_.LogNormal(50, 0.7);
      std::string summary = "Handled on site";
      if (d_.Chance(0.04)) {
        r = Resolution::kWithdrawn;
        summary = "The reporter withdrew the report";
      } else if ((cat == "theft" || cat == "fraud") && d_.Chance(0.5)) {
        r = Resolution::kReferredToDepartment;
        minutes = d_.LogNormal(240, 0.8);
        summary = "Referred to the criminal investigation team";
      } else if (cat == "traffic" && d_.Chance(0.3)) {
        r = Resolution::kReferredToDepartment;
        summary = "Handed to the traffic police";
      } else if (cat == "noise" && d_.Chance(0.15)) {
        r = Resolution::kNoActionNeeded;
        minutes = d_.LogNormal(20, 0.5);
        summary = "Quiet on arrival; no action needed";
      } else if (cat == "fall_injury" || cat == "rescue") {
        minutes = d_.LogNormal(40, 0.5);
        summary = cat == "rescue" ? "Rescued; nobody hurt" : "Taken to hospital; family informed";
      } else if (cat == "fight") {
        summary = "Parties separated, warned and statements taken";
      }
      t = Resolve(s, c, t + Minutes(minutes), r, summary);
      break;
    }
    case CaseKind::kHazard: {
      if (d_.Chance(0.85)) {
        const std::int64_t done = Daytime(d_, t + Days(d_.LogNormal(2, 0.7)), 8, 19);
        t = Resolve(s, c, done, Resolution::kRectified,
                    cat == "unregistered_rental" ? "Tenants registered; owner signed the pledge"
                                                 : "Rectified and checked by the grid worker");
      } else {
        t = Resolve(s, c, t + Minutes(d_.LogNormal(360, 0.6)), Resolution::kReferredToDepartment,
                    "Referred to the housing and safety department");
      }
      break;
    }
    case CaseKind::kAssistance: {
      Resolution r = Resolution::kHandledOnSite;
      double minutes = visit ? d_.LogNormal(30, 0.6) : d_.LogNormal(40, 0.8);
      std::string summary = "Helped on the spot";
      if ((cat == "registration" || cat == "document_help") && d_.Chance(0.4)) {
        r = Resolution::kReferredToDepartment;
        summary = "Referred to the household registration office";
      } else if (cat == "lost_property") {
        minutes = d_.LogNormal(180, 1.0);
        if (d_.Chance(0.4)) {
          r = Resolution::kNoActionNeeded;
          summary = "Logged; nothing found yet";
        } else {
          summary = "Returned to its owner";
        }
      } else if (cat == "lost_child") {
        summary = "Child back with the family";
      }
      t = Resolve(s, c, t + Minutes(minutes), r, summary);
      break;
    }
    case CaseKind::kDispute: {
      const double way = d_.Uniform();
      if (way < 0.08) {
        t = Resolve(s, c, Daytime(d_, t + Days(d_.LogNormal(1, 0.5)), 9, 18),
                    Resolution::kReferredToDepartment,
                    cat == "wages" ? "Referred to labour inspection"
                                   : "Referred to the department in charge");
      } else if (way < 0.14) {
        t = Resolve(s, c, t + Days(d_.LogNormal(1, 0.6)), Resolution::kWithdrawn,
                    "The parties settled it between themselves");
      } else {
        bool agreed = false;
        ++quota_.mediated;
        t = Mediate(s, c, t, &tier, &agreed);
        if (agreed) {
          t = Resolve(s, c, t + Minutes(d_.Between(10, 60)), Resolution::kMediatedAgreement,
                      "Agreement signed at tier " + std::to_string(tier));
        } else {
          t = Resolve(s, c, t + Hours(d_.Between(1, 4)), Resolution::kReferredToCourt,
                      "No agreement at the mediation room; the parties were helped to go to court");
        }
      }
      break;
    }
  }
  Callback(s, c, t, tier, c.resolution, /*may_reopen=*/true);
}

// Mediation from tier 1 up, one tier at a time. Returns when the last session
// (or escalation) was held; `tier` is the tier reached, `agreed` whether the
// last session reached an agreement.
std::int64_t CasePlanner::Mediate(Script& s, Case& c, std::int64_t t, int* tier, bool* agreed) {
  struct TierPlan {
    double agree;                  // chance of an agreement at a session
    double give_up;                // chance, after a session without one, of escalating at once
    int sessions;                  // at most, before escalating (at tier 3: before going to court)
    double first_days, next_days;  // median days to the first session, between sessions
  };
  // About 6-9% of mediated disputes go to tier 2 and 2% to tier 3; at tier 3
  // the quota decides whether the last session fails too.
  constexpr TierPlan kTiers[3] = {
      {0.72, 0.25, 4, 1.5, 3},
      {0.55, 0.12, 2, 3, 4},
      {0.5, 0.0, 3, 3, 4},
  };
  constexpr std::array<std::string_view, 3> kAgreements = {
      "Both sides agreed to share the repair cost", "Apology made and compensation agreed",
      "Agreed on a payment plan"};
  constexpr std::array<std::string_view, 3> kPartial = {
      "Agreed on the repair, not yet on compensation", "Agreed on the facts, not on the amount",
      "One point settled, two open"};
  constexpr std::array<std::string_view, 3> kAdjourned = {
      "One party did not come", "Adjourned to fetch documents", "Adjourned at a party's request"};
  constexpr std::array<std::string_view, 3> kNoAgreement = {
      "The parties are far apart on the amount", "One party refuses to talk",
      "No agreement; tempers high"};

  *tier = 1;
  *agreed = false;
  // The first tier-1 session without agreement: the engine starts the 15-day
  // mediation deadline there.
  std::int64_t flagged_at = 0;
  for (;;) {
    const TierPlan& p = kTiers[*tier - 1];
    const std::string mediator = MediatorAt(c, *tier);
    const bool to_court = *tier == 3 && quota_.NextFails();
    if (to_court) ++quota_.to_court;
    std::int64_t at = t;
    // A dispute bound for court gets two sessions at tier 3.
    const int sessions = to_court ? 2 : p.sessions;
    for (int session = 0; session < sessions; ++session) {
      at = Daytime(d_, at + Days(d_.LogNormal(session == 0 ? p.first_days : p.next_days, 0.4)), 9,
                   19);
      // With the deadline near, tier 1 stops holding sessions and escalates.
      if (*tier == 1 && flagged_at != 0 && at > flagged_at + Days(14)) break;
      MediationSessionHeld held = Session(c, *tier);
      bool agree = d_.Chance(p.agree);
      if (*tier == 3) agree = !to_court && (agree || session + 1 == sessions);
      if (agree) {
        held.outcome = MediationOutcome::kAgreement;
        held.notes = std::string(d_.Pick(kAgreements));
        *agreed = true;
        return s.Do(at, mediator, "mediate", Body(held));
      }
      const double o = d_.Uniform();
      held.outcome = o < 0.4   ? MediationOutcome::kPartial
                     : o < 0.7 ? MediationOutcome::kAdjourned
                               : MediationOutcome::kNoAgreement;
      held.notes =
          std::string(held.outcome == MediationOutcome::kPartial     ? d_.Pick(kPartial)
                      : held.outcome == MediationOutcome::kAdjourned ? d_.Pick(kAdjourned)
                                                                     : d_.Pick(kNoAgreement));
      t = s.Do(at, mediator, "mediate", Body(held));
      if (*tier == 1 && flagged_at == 0) flagged_at = t;
      if (d_.Chance(p.give_up)) break;
    }
    if (*tier == 3) return t;
    // Escalate soon after the last session; a few tier-1 cases only once
    // the mediation deadline has passed.
    std::int64_t when = t + Days(d_.Between(0.5, 3));
    if (*tier == 1) {
      when = d_.Chance(0.2) ? std::max(when, flagged_at + Days(d_.Between(15.5, 18)))
                            : std::min(when, flagged_at + Days(14));
    }
    std::string body = "{\"reason\":";
    if (*tier == 1) {
      AppendJsonString(body, "No agreement at the station; needs the harmony team");
    } else {
      AppendJsonString(body, "Major dispute; needs the judicial and law-enforcement departments");
      body += ",\"judicial\":";
      AppendJsonString(body, kCourt);
    }
    body += "}";
    t = s.Do(Daytime(d_, when, 9, 19), mediator, "escalate", std::move(body));
    ++*tier;
  }
}

MediationSessionHeld CasePlanner::Session(const Case& c, int tier) {
  MediationSessionHeld held;
  held.tier = tier;
  held.participants = {MediatorAt(c, tier)};
  if (tier == 1) {
    held.participants.push_back(d_.Pick(c.cluster->grid_workers));
  } else if (tier == 2) {
    for (const char* member :
         {"community committee", "people's deputy", "CPPCC member", "conduct supervisor"}) {
      held.participants.emplace_back(member);
    }
  } else {
    for (const char* member : {"county court judge", "justice bureau", "police station"}) {
      held.participants.emplace_back(member);
    }
  }
  for (const std::string& party : c.parties) held.participants.push_back(party);
  return held;
}

void CasePlanner::Callback(Script& s, Case& c, std::int64_t t, int tier, Resolution resolution,
                           bool may_reopen) {
  // Most callbacks go out within hours, in the working day; a few are late.
  // The callback desk works 8:00 to 21:00 and starts the day with the
  // calls left from the evening before.
  std::int64_t at = d_.Chance(0.012) ? t + Hours(d_.Between(25, 40))
                                     : Daytime(d_, t + Minutes(d_.LogNormal(150, 0.6)), 8, 21, 60);
  constexpr std::array<std::string_view, 3> kNoAnswer = {"No answer", "Line busy",
                                                         "Phone switched off"};
  bool reached = false;
  for (int attempt = 0; attempt < 3 && !reached; ++attempt) {
    at = std::max(at, s.last() + kSecond);
    if (d_.Chance(0.86)) {
      reached = true;
    } else {
      at = s.Do(at, OperatorAt(at), "attempt-callback",
                Body(CallbackAttempted{false, std::string(d_.Pick(kNoAnswer))}));
      at = Daytime(d_, at + Hours(d_.Between(2, 5)), 8, 21, 60);
    }
  }
  if (!reached) {
    t = s.Do(at, c.assignee, "note", Body(NoteAdded{"Reporter unreachable after three calls"}));
    s.Do(t + Hours(d_.Between(1, 4)), c.assignee, "close", "{}");
    return;
  }
  // Most people are satisfied on all three counts; a few are not, and a slow
  // response shows in the answer on speed.
  auto answer = [&](bool slow) {
    if (d_.Chance(slow ? 0.7 : 0.95)) return Satisfaction::kSatisfied;
    const double x = d_.Uniform();
    return x < 0.55   ? Satisfaction::kSatisfied
           : x < 0.85 ? Satisfaction::kNeutral
                      : Satisfaction::kDissatisfied;
  };
  CallbackCompleted done;
  done.speed = answer(c.slow);
  done.attitude = answer(false);
  done.outcome = answer(false);
  done.comment = done.outcome == Satisfaction::kDissatisfied ? "The problem is back"
                 : done.speed == Satisfaction::kDissatisfied ? "It took too long"
                 : done.attitude == Satisfaction::kSatisfied ? "Thanked the officers"
                                                             : "Sorted, more or less";
  t = s.Do(at, OperatorAt(at), "complete-callback", Body(done));

  // A dissatisfied answer on the outcome may reopen the case: handled again
  // a day or three later, and called back again.
  if (may_reopen && resolution != Resolution::kReferredToCourt &&
      done.outcome == Satisfaction::kDissatisfied && d_.Chance(0.6)) {
    t = s.Do(t + Minutes(d_.Between(20, 120)), OperatorAt(t), "reopen",
             Body(CaseReopened{"Callback: the reporter says the problem is not solved"}));
    const std::int64_t again = Daytime(d_, t + Days(d_.Between(1, 3)), 9, 19);
    Resolution second =
        c.kind == CaseKind::kHazard ? Resolution::kRectified : Resolution::kHandledOnSite;
    if (c.kind == CaseKind::kDispute) {
      MediationSessionHeld held = Session(c, tier);
      held.outcome = MediationOutcome::kAgreement;
      held.notes = "The agreement was explained again and its terms fixed in writing";
      t = s.Do(again, MediatorAt(c, tier), "mediate", Body(held));
      second = Resolution::kMediatedAgreement;
      t = Resolve(s, c, t + Minutes(d_.Between(10, 60)), second,
                  "Agreement renewed at tier " + std::to_string(tier));
    } else {
      t = s.Do(again, c.assignee, "note", Body(NoteAdded{"Went back and fixed what was left"}));
      t = Resolve(s, c, t + Minutes(d_.Between(30, 180)), second,
                  "Handled again after the callback");
    }
    Callback(s, c, t, tier, second, /*may_reopen=*/false);
    return;
  }
  t = s.Do(Daytime(d_, t + Hours(d_.Between(1, 6)), 8, 22), c.assignee, "close", "{}");

  // Now and then an agreement does not hold and the dispute comes back.
  if (may_reopen && resolution == Resolution::kMediatedAgreement && d_.Chance(0.02)) {
    t = s.Do(Daytime(d_, t + Days(d_.Between(5, 20)), 9, 19), c.assignee, "reopen",
             Body(CaseReopened{"The parties broke the agreement; the quarrel flared up again"}));
    MediationSessionHeld held = Session(c, tier);
    held.outcome = MediationOutcome::kAgreement;
    held.notes = "New terms agreed and signed";
    t = s.Do(Daytime(d_, t + Days(d_.Between(1, 4)), 9, 19), MediatorAt(c, tier), "mediate",
             Body(held));
    t = Resolve(s, c, t + Minutes(d_.Between(10, 60)), Resolution::kMediatedAgreement,
                "New agreement signed at tier " + std::to_string(tier));
    Callback(s, c, t, tier, Resolution::kMediatedAgreement, /*may_reopen=*/false);
  }
}

}  // namespace

DemoCity PlanDemoCity(const DemoCityOptions& options) {
  DemoCity city;
  Dice dice(options.seed);
  city.end_ms = options.end_ms;
  city.start_ms = options.end_ms - Days(options.days);
  // The grid is set up the evening before the first day, at 18:00.
  city.setup_ms = city.start_ms - city.start_ms % kDay - Hours(6);

  // ---- The grid and its people.
  std::vector<Cluster> clusters;
  city.cells.push_back({std::string(kDistrict), std::string(kDistrictName)});
  city.people.push_back({std::string(kSupervisor), "supervisor", std::string(kDistrict)});
  city.people.push_back({std::string(kHarmonyTeam), "mediator", std::string(kDistrict)});
  city.people.push_back({std::string(kMediationRoom), "mediator", std::string(kDistrict)});
  std::size_t auxiliaries = 0, grid_workers = 0, volunteers = 0;
  for (std::size_t a = 0; a < kAreas.size(); ++a) {
    const std::string area = std::string(kDistrict) + "/" + std::string(kAreas[a].first);
    const std::string mediator = Numbered("mediator", a + 1, 2);
    city.cells.push_back({area, std::string(kAreas[a].second)});
    city.people.push_back({mediator, "mediator", area});
    for (std::string_view group : {"g1", "g2"}) {
      const std::string group_path = area + "/" + std::string(group);
      const std::string auxiliary = Numbered("aux", ++auxiliaries, 2);
      city.cells.push_back(
          {group_path, std::string(kAreas[a].second.substr(0, kAreas[a].second.find(' '))) +
                           " Group " + std::string(group.substr(1))});
      city.people.push_back({auxiliary, "officer", group_path});
      for (std::size_t k = 0; k < kClusters.size(); ++k) {
        const ClusterSpec& spec = kClusters[k];
        if (spec.area != kAreas[a].first || spec.group != group) continue;
        Cluster c;
        c.path = group_path + "/" + std::string(spec.id);
        c.name = std::string(spec.name);
        c.community = spec.community;
        c.officer = Numbered("officer", k + 1, 2);
        c.auxiliary = auxiliary;
        c.mediator = mediator;
        city.cells.push_back({c.path, c.name});
        city.people.push_back({c.officer, "officer", c.path});
        for (int i = 0; i < (c.community ? 2 : 1); ++i) {
          c.grid_workers.push_back(Numbered("gridworker", ++grid_workers, 2));
          city.people.push_back({c.grid_workers.back(), "grid_worker", c.path});
        }
        const std::size_t n = 1 + dice.Below(3);
        for (std::size_t i = 0; i < n; ++i) {
          c.volunteers.push_back(Numbered("volunteer", ++volunteers, 3));
          city.people.push_back({c.volunteers.back(), "volunteer", c.path});
        }
        clusters.push_back(std::move(c));
      }
    }
  }
  std::int64_t at = city.setup_ms;
  for (const DemoCell& cell : city.cells) {
    DemoCommand c;
    c.at = at += kSecond;
    c.step = DemoStep::kDefineCell;
    c.actor = std::string(kAdmin);
    c.body = CellBody(cell.path, cell.name);
    city.commands.push_back(std::move(c));
  }
  for (const DemoPerson& person : city.people) {
    DemoCommand c;
    c.at = at += kSecond;
    c.step = DemoStep::kAssignPerson;
    c.actor = std::string(kAdmin);
    c.cell = person.cell;
    c.body = PersonBody(person.id, person.role);
    city.commands.push_back(std::move(c));
  }

  // ---- When the cases come in: a Poisson count per hour, by hour of day
  // and day of week.
  double hourly_total = 0;
  for (double w : kHourly) hourly_total += w;
  std::vector<std::int64_t> arrivals;
  for (std::int64_t hour = city.start_ms - city.start_ms % kHour; hour < city.end_ms;
       hour += kHour) {
    const double mean = options.cases_per_day *
                        kWeekday[static_cast<std::size_t>(WeekdayOf(hour))] *
                        kHourly[static_cast<std::size_t>(HourOf(hour))] / hourly_total;
    const int n = dice.Poisson(mean);
    for (int i = 0; i < n; ++i) {
      const std::int64_t t = hour + static_cast<std::int64_t>(dice.Below(kHour));
      if (t >= city.start_ms && t < city.end_ms) arrivals.push_back(t);
    }
  }
  std::sort(arrivals.begin(), arrivals.end());

  // ---- Each case's story, from its own stream of random numbers, so that
  // one case's length does not shift the next one's.
  std::vector<DemoCommand> steps;
  std::vector<std::vector<Dispute>> disputes(clusters.size());
  MediationQuota quota;
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    Dice case_dice(dice.Next());
    CasePlanner planner(case_dice, clusters, disputes, quota, &steps);
    planner.Plan(i, arrivals[i]);
  }
  city.cases = arrivals.size();
  // In time order; at the same millisecond, in the order planned.
  std::stable_sort(steps.begin(), steps.end(),
                   [](const DemoCommand& a, const DemoCommand& b) { return a.at < b.at; });
  for (DemoCommand& c : steps) {
    if (c.at >= city.end_ms) continue;
    city.commands.push_back(std::move(c));
  }
  return city;
}

}  // namespace casegrid::cli
