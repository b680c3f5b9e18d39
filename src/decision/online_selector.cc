// Online selection: channels as consignments arrive, under a daily capacity per lane.
//
// The batch selector (selection.h) sees a whole day at once and ranks it. A live service cannot
// wait for the day to end, so here each lane keeps a window of its recent scores: the red
// threshold is the score quantile that, on recent traffic, sends the red share to red, and a
// running budget (share x consignments seen today, or a fixed count) caps what the threshold
// lets through. The control sample is drawn by a seeded hash of the consignment id with the
// probability that fills the control part of the budget, independent of the score.
#include <algorithm>
#include <cmath>

#include "clearsight/fusion.h"
#include "clearsight/selection.h"
#include "clearsight/text.h"

namespace clearsight {

Result<OverBudget> ParseOverBudget(std::string_view name) {
  if (name == "carry-over") return OverBudget::kCarryOver;
  if (name == "supervisor") return OverBudget::kSupervisor;
  return Status::InvalidArgument("over-budget handling must be carry-over or supervisor, not '" +
                                 std::string(name) + "'");
}

std::string_view OverBudgetName(OverBudget o) {
  return o == OverBudget::kCarryOver ? "carry-over" : "supervisor";
}

struct OnlineSelector::Lane {
  std::vector<double> window;  // ring buffer of recent scores
  size_t next = 0;
  int since_thresholds = 1 << 30;  // inserts since the thresholds were computed
  double red_threshold = 0, yellow_threshold = 0;
  bool thresholds_computed = false;
  std::map<int32_t, Counts> days;
  // New consignments seen, and those of them eligible for exploration (by the thresholds as they
  // stood): the eligible share that sets the exploration draw's probability.
  int64_t consignments = 0, eligible = 0;

  void Add(double score, size_t cap) {
    if (window.size() < cap) {
      window.push_back(score);
    } else if (cap > 0) {
      window[next] = score;
      next = (next + 1) % cap;
    }
    ++since_thresholds;
  }
};

OnlineSelector::OnlineSelector(OnlineSelectionOptions options) : options_(std::move(options)) {}
OnlineSelector::~OnlineSelector() = default;

const LaneCapacity& OnlineSelector::CapacityOf(const std::string& lane) const {
  auto it = options_.lanes.find(lane);
  return it == options_.lanes.end() ? options_.capacity : it->second;
}

OnlineSelector::Lane& OnlineSelector::LaneOf(const std::string& lane) {
  auto& p = lanes_[lane];
  if (!p) p = std::make_unique<Lane>();
  return *p;
}

namespace {
// The lane-day volume a count budget is spread over: the previous day's when known.
double VolumeEstimate(const std::map<int32_t, OnlineSelector::Counts>& days, int32_t day,
                      int64_t fallback) {
  auto it = days.find(day - 1);
  if (it != days.end() && it->second.seen > 0) return static_cast<double>(it->second.seen);
  return static_cast<double>(std::max<int64_t>(1, fallback));
}
}  // namespace

void OnlineSelector::Thresholds(Lane& lane, const LaneCapacity& cap, double* red, double* yellow) {
  // An empty window has no quantiles, whatever the warm-up says.
  if (static_cast<int>(lane.window.size()) < std::max(1, options_.warmup)) {
    *red = options_.warmup_red_score;
    *yellow = options_.warmup_yellow_score;
    return;
  }
  if (lane.since_thresholds >= 32) {
    double red_share;
    if (cap.red_count >= 0) {
      // Spread over yesterday's volume (or the expected one) when the budget is a count.
      int32_t latest = lane.days.empty() ? 0 : lane.days.rbegin()->first;
      red_share = cap.red_count / VolumeEstimate(lane.days, latest, options_.expected_daily_volume);
    } else {
      red_share = cap.red_share;
    }
    red_share = std::clamp(red_share * TargetedFraction(), 0.0, 1.0);
    double yellow_share = std::clamp(red_share + cap.yellow_share, 0.0, 1.0);
    std::vector<double> w = lane.window;
    auto quantile = [&](double q) {
      if (q >= 1) return 2.0;  // nothing passes
      size_t k = std::min(w.size() - 1,
                          static_cast<size_t>(std::floor(q * static_cast<double>(w.size()))));
      std::nth_element(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(k), w.end());
      return w[k];
    };
    lane.red_threshold = quantile(1 - red_share);
    lane.yellow_threshold = quantile(1 - yellow_share);
    lane.since_thresholds = 0;
    lane.thresholds_computed = true;
  }
  *red = lane.red_threshold;
  *yellow = lane.yellow_threshold;
}

void OnlineSelector::CachedThresholds(const Lane& lane, double* red, double* yellow) const {
  if (static_cast<int>(lane.window.size()) < options_.warmup || !lane.thresholds_computed) {
    *red = options_.warmup_red_score;
    *yellow = options_.warmup_yellow_score;
    return;
  }
  *red = lane.red_threshold;
  *yellow = lane.yellow_threshold;
}

double OnlineSelector::TargetedFraction() const {
  return std::max(0.0, 1 - options_.control_share - options_.exploration_share);
}

SelectionResult OnlineSelector::Select(const SelectionInput& in) {
  std::lock_guard lock(mu_);
  const LaneCapacity& cap = CapacityOf(in.lane);
  Lane& lane = LaneOf(in.lane);
  Counts& c = lane.days[in.day];
  const std::string where =
      "lane " + (in.lane.empty() ? std::string("(none)") : in.lane) + " on " + FormatDate(in.day);
  SelectionResult out;
  const bool moved =
      in.previous.has_value() && (in.previous_lane != in.lane || in.previous_day != in.day);
  // A consignment new to this lane-day takes part in its control draw and its score window.
  const bool update = in.previous.has_value() && !moved;
  if (in.previous.has_value()) {
    Counts& before = moved ? LaneOf(in.previous_lane).days[in.previous_day] : c;
    // A random draw (control or exploration) stays what it was: the sample must not depend on
    // what was found, and its propensity is the one it was drawn with.
    if (in.previous_control || in.previous_exploration) {
      if (moved) {  // the draw stays; it is counted where the consignment now belongs
        --before.seen, --before.red;
        ++c.seen, ++c.red;
        if (in.previous_control) --before.control, ++c.control;
        if (in.previous_exploration) --before.exploration, ++c.exploration;
      }
      out.channel = Channel::kRed;
      out.control = in.previous_control;
      out.exploration = !in.previous_control;
      out.propensity = in.previous_propensity.value_or(0);
      out.why =
          (in.previous_control ? "random control sample of " : "exploration sample of ") + where;
      return out;
    }
    if (*in.previous == Channel::kRed) --before.red;
    if (*in.previous == Channel::kYellow) --before.yellow;
    if (moved) {
      --before.seen;
      ++c.seen;
    }
  } else {
    ++c.seen;
  }
  const bool by_count = cap.red_count >= 0;
  const double seen = static_cast<double>(c.seen);
  const double volume =
      by_count ? VolumeEstimate(lane.days, in.day, options_.expected_daily_volume) : seen;
  const ControlRule rule =
      ControlRuleFor(options_.control_share, cap.red_share, cap.red_count, volume);
  const double control_p = rule.probability, control_cap = rule.cap;
  // The exploration part of the budget, as the control part: a count's share over the volume, or
  // the share of the lane-day's consignments so far.
  const double explore_cap =
      by_count ? std::ceil(options_.exploration_share * static_cast<double>(cap.red_count) - 1e-9)
               : std::ceil(options_.exploration_share * cap.red_share * seen - 1e-9);
  const double explore_rate = by_count ? (volume > 0 ? explore_cap / volume : 0)
                                       : options_.exploration_share * cap.red_share;
  const double targeted_budget =
      by_count ? static_cast<double>(cap.red_count) - control_cap - explore_cap
               : std::ceil(cap.red_share * TargetedFraction() * seen - 1e-9);
  const double targeted_used = static_cast<double>(c.red - c.control - c.exploration);
  // The chance of each draw for this consignment now (none once its part of the budget is spent).
  const double p_control = static_cast<double>(c.control) < control_cap ? control_p : 0;
  // Exploration draws among the eligible with the probability that spends its part of the budget
  // on the lane's share of eligible consignments so far.
  auto explore_probability = [&]() {
    if (options_.exploration_share <= 0 || static_cast<double>(c.exploration) >= explore_cap)
      return 0.0;
    const double eligible_rate =
        (static_cast<double>(lane.eligible) + 1) / (static_cast<double>(lane.consignments) + 1);
    return std::min(1.0, explore_rate / eligible_rate);
  };
  auto eligible_for_exploration = [&](double red_threshold, double yellow_threshold) {
    return in.novel || (in.score > 0 && in.score < red_threshold && in.score >= yellow_threshold);
  };
  if (!update) {
    ++lane.consignments;
    double r, y;
    CachedThresholds(lane, &r, &y);
    if (eligible_for_exploration(r, y)) ++lane.eligible;
  }
  if (!update && ControlDraw(options_.seed, in.consignment_id) < control_p &&
      static_cast<double>(c.control) < control_cap) {
    ++c.red;
    ++c.control;
    lane.Add(in.score, static_cast<size_t>(std::max(1, options_.window)));
    out.channel = Channel::kRed;
    out.control = true;
    // Inspected for sure when its score would have sent it red anyway (the thresholds as they
    // stand; they are not recomputed for a control draw).
    double r, y;
    CachedThresholds(lane, &r, &y);
    const bool targeted = in.floor == Channel::kRed ||
                          (in.score > 0 && in.score >= r && targeted_used < targeted_budget);
    const double p_explore = eligible_for_exploration(r, y) ? explore_probability() : 0;
    out.propensity = targeted ? 1.0 : control_p + (1 - control_p) * p_explore;
    out.why = "random control sample of " + where;
    return out;
  }
  double red_threshold, yellow_threshold;
  Thresholds(lane, cap, &red_threshold, &yellow_threshold);
  const double yellow_budget = std::ceil(cap.yellow_share * seen - 1e-9);
  bool red_full = false;
  const bool high_risk = in.score >= options_.high_risk_score;
  if (in.score > 0 && (in.score >= red_threshold || high_risk)) {
    const std::string earned =
        in.score >= red_threshold
            ? "score " + FormatFixed(in.score, 3) + " at or above the red threshold " +
                  FormatFixed(red_threshold, 3) + " of " + where
            : "score " + FormatFixed(in.score, 3) + " at or above the high-risk level " +
                  FormatFixed(options_.high_risk_score, 2) + " (the red threshold of " + where +
                  " is " + FormatFixed(red_threshold, 3) + ")";
    if (targeted_used < targeted_budget) {
      out.channel = Channel::kRed;
      out.propensity = 1;
      out.why = earned;
    } else {
      red_full = true;
      out.over_budget = true;
      ++c.over_budget;
      // Carried over while the next day's targeted budget (as large as today's: the same count,
      // or the same share of today's volume) has room; it then belongs to that lane-day.
      Counts& next = lane.days[in.day + 1];
      if (options_.over_budget == OverBudget::kCarryOver && in.floor < Channel::kRed &&
          static_cast<double>(next.red - next.control - next.exploration) < targeted_budget) {
        --c.seen;
        ++next.seen, ++next.red, ++next.carried_in;
        if (!update) lane.Add(in.score, static_cast<size_t>(std::max(1, options_.window)));
        out.channel = Channel::kRed;
        out.carried = true;
        out.propensity = 1;
        out.why = earned + "; the red budget of " + where +
                  " is used up: carried over to the budget of " + FormatDate(in.day + 1);
        return out;
      }
    }
  }
  // Exploration: a consignment the scores do not send red, drawn among the eligible by a hash
  // independent of the control draw's.
  const double p_explore = out.channel != Channel::kRed && in.floor < Channel::kRed &&
                                   eligible_for_exploration(red_threshold, yellow_threshold)
                               ? explore_probability()
                               : 0;
  if (out.channel != Channel::kRed)
    out.propensity = update ? in.previous_propensity.value_or(p_control)
                            : p_control + (1 - p_control) * p_explore;
  if (!update && p_explore > 0 &&
      ControlDraw(options_.seed ^ 0x9e3779b97f4a7c15ull, in.consignment_id) < p_explore) {
    ++c.red;
    ++c.exploration;
    lane.Add(in.score, static_cast<size_t>(std::max(1, options_.window)));
    out.channel = Channel::kRed;
    out.exploration = true;
    out.why = std::string(in.novel ? "exploration sample (a kind the model has no outcome for)"
                                   : "exploration sample (score near the red threshold)") +
              " of " + where;
    return out;
  }
  if (out.channel == Channel::kGreen && in.score > 0 && in.score >= yellow_threshold &&
      static_cast<double>(c.yellow) < yellow_budget) {
    out.channel = Channel::kYellow;
    out.why = red_full
                  ? "red budget of " + where + " used up; document check instead"
                  : "score " + FormatFixed(in.score, 3) + " at or above the yellow threshold " +
                        FormatFixed(yellow_threshold, 3) + " of " + where;
  }
  if (out.channel == Channel::kGreen)
    out.why = red_full ? "red and yellow budgets of " + where + " used up"
                       : "score below the thresholds of " + where;
  if (red_full && in.floor < Channel::kRed)
    out.why += options_.over_budget == OverBudget::kCarryOver
                   ? "; the next day's budget is full too: on the supervisor's list"
                   : "; on the supervisor's list";
  if (in.floor > out.channel) {
    out.channel = in.floor;
    bool over = in.floor == Channel::kRed ? targeted_used >= targeted_budget
                                          : static_cast<double>(c.yellow) >= yellow_budget;
    if (over && !out.over_budget) ++c.over_budget;
    out.over_budget = out.over_budget || over;
    out.why = std::string("a finding demands ") + std::string(ChannelName(in.floor)) +
              (over ? " (over the budget of " + where + ")" : "");
    if (in.floor == Channel::kRed) out.propensity = 1;
  }
  if (out.channel == Channel::kRed) ++c.red;
  if (out.channel == Channel::kYellow) ++c.yellow;
  if (!update) lane.Add(in.score, static_cast<size_t>(std::max(1, options_.window)));
  return out;
}

void OnlineSelector::RestoreCounts(const std::string& lane_name, int32_t day, Channel channel,
                                   bool control, int64_t count, bool exploration) {
  std::lock_guard lock(mu_);
  Counts& c = LaneOf(lane_name).days[day];
  c.seen += count;
  if (channel == Channel::kRed) c.red += count;
  if (channel == Channel::kYellow) c.yellow += count;
  if (control) c.control += count;
  if (exploration) c.exploration += count;
}

void OnlineSelector::ReplaceCounts(const std::string& lane_name, int32_t day,
                                   const Counts& counts) {
  std::lock_guard lock(mu_);
  Counts& c = LaneOf(lane_name).days[day];
  c.seen = counts.seen;
  c.red = counts.red;
  c.yellow = counts.yellow;
  c.control = counts.control;
  c.exploration = counts.exploration;
}

void OnlineSelector::RestoreScore(const std::string& lane_name, double score) {
  std::lock_guard lock(mu_);
  LaneOf(lane_name).Add(score, static_cast<size_t>(std::max(1, options_.window)));
}

OnlineSelector::Counts OnlineSelector::LaneDay(const std::string& lane_name, int32_t day) const {
  std::lock_guard lock(mu_);
  auto it = lanes_.find(lane_name);
  if (it == lanes_.end()) return {};
  auto d = it->second->days.find(day);
  return d == it->second->days.end() ? Counts{} : d->second;
}

void OnlineSelector::SetCapacity(const LaneCapacity& capacity,
                                 const std::map<std::string, LaneCapacity>& lanes) {
  std::lock_guard lock(mu_);
  options_.capacity = capacity;
  options_.lanes = lanes;
  for (auto& [name, lane] : lanes_) lane->since_thresholds = 1 << 30;
}

}  // namespace clearsight
