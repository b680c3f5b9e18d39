#include "clearsight/valuation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_map>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "common/parallel.h"
#include "valuation/price_lines.h"
#include "valuation/reference_choice.h"

namespace clearsight {

namespace {

enum Level { kHsOrigin = 0, kHs6, kHs4, kHs2, kLevels };
const char* kLevelNames[] = {"hs+origin", "hs6", "hs4", "hs2"};

// Prices are compared within one currency only (no exchange rates are assumed).
std::string GroupKey(const Declaration& d, int level) {
  switch (level) {
    case kHsOrigin:
      return d.currency + "|" + d.hs_code + "|" + d.origin_country;
    case kHs6:
      return d.currency + "|" + d.hs_code.substr(0, 6);
    case kHs4:
      return d.currency + "|" + d.hs_code.substr(0, 4);
    default:
      return d.currency + "|" + d.hs_code.substr(0, 2);
  }
}

std::string LevelWords(const Declaration& d, int level) {
  switch (level) {
    case kHsOrigin:
      return "HS " + d.hs_code + " from " + d.origin_country;
    case kHs6:
      return "HS " + d.hs_code.substr(0, 6);
    case kHs4:
      return "HS " + d.hs_code.substr(0, 4);
    default:
      return "HS chapter " + d.hs_code.substr(0, 2);
  }
}

bool HasUnits(const Declaration& d) {
  return !std::isnan(d.supplementary_units) && d.supplementary_units > 0;
}

// Model coordinates of a declaration: per kg (dims 1) or per unit with kg/unit (dims 2).
bool ToPoint(const Declaration& d, int dims, valuation::Point* p) {
  const double value = std::max(d.declared_value, 0.01);  // a zero value is the extreme case
  if (dims == 1) {
    if (!(d.net_mass_kg > 0)) return false;
    p->x[0] = std::log(d.net_mass_kg);
    p->x[1] = 0;
    p->y = std::log(value / d.net_mass_kg);
    return true;
  }
  if (!HasUnits(d) || !(d.net_mass_kg > 0)) return false;
  p->x[0] = std::log(d.net_mass_kg / d.supplementary_units);
  p->x[1] = std::log(d.supplementary_units);
  p->y = std::log(value / d.supplementary_units);
  return true;
}

}  // namespace

// Flows a group counts as when its spread and tail are shrunk toward its parent's.
constexpr double kPriorFlows = 20;

struct ValuationModel::Impl {
  struct Group {
    int level = 0;
    std::string key;
    int flows = 0;
    int dims = 1;
    int parent = -1;  // the group at the next coarser level (it holds every flow of this one)
    valuation::ReferenceModel reference;
    std::vector<double> recall;  // cross-validated, per candidate (empty: no comparison)
    std::vector<double> oof_statistic, oof_median_residual;
    // Calibration: the chosen reference's log ratios over `sigma` (or the price lines'
    // likelihood ratio) have upper tail `own_weight` x own + the rest x the parent's tail.
    double sigma = 1, median_sigma = 1, own_weight = 1;
    valuation::TailCalibrator own, median_tail;
  };
  ValuationOptions options;
  std::vector<Group> groups;
  std::unordered_map<std::string, int> index[kLevels];
  int64_t skipped = 0;
  valuation::TailCalibrator gaussian = valuation::TailCalibrator::Gaussian();

  const Group* Find(const Declaration& d, int* level) const {
    for (int l = 0; l < kLevels; ++l) {
      auto it = index[l].find(GroupKey(d, l));
      if (it == index[l].end()) continue;
      const Group& g = groups[it->second];
      if (g.dims == 2 && !HasUnits(d)) continue;
      if (g.dims == 1 && !(d.net_mass_kg > 0)) continue;
      *level = l;
      return &g;
    }
    return nullptr;
  }

  // Spreads and tails, coarse groups first: a small group leans on its parent's.
  void Calibrate(Group& g) {
    const Group* parent = g.parent >= 0 ? &groups[g.parent] : nullptr;
    const double w = parent ? g.flows / (g.flows + kPriorFlows) : 1;
    auto shrunk = [&](double own) {
      return parent
                 ? std::sqrt(w * own * own + (1 - w) * parent->median_sigma * parent->median_sigma)
                 : own;
    };
    g.median_sigma = shrunk(valuation::RobustSpread(g.oof_median_residual));
    std::vector<double> z(g.oof_median_residual.size());
    for (size_t i = 0; i < z.size(); ++i) z[i] = -g.oof_median_residual[i] / g.median_sigma;
    g.median_tail = valuation::TailCalibrator::Fit(std::move(z));
    if (g.reference.kind() == valuation::Reference::kLines) {
      g.own = valuation::TailCalibrator::Fit(g.oof_statistic);
      return;
    }
    g.sigma = shrunk(valuation::RobustSpread(g.oof_statistic));
    for (double& t : g.oof_statistic) t /= g.sigma;
    g.own = valuation::TailCalibrator::Fit(std::move(g.oof_statistic));
    g.own_weight = w;
  }

  // -log10 of the calibrated probability that an honest flow of the group scores as high.
  double Score(const Group& g, const valuation::Flow& f) const {
    double t = g.reference.Statistic(f);
    double log_p;
    if (g.reference.kind() == valuation::Reference::kLines) {
      log_p = g.own.LogUpperTail(t);
    } else {
      t /= g.sigma;
      const valuation::TailCalibrator& prior =
          g.parent >= 0 ? groups[g.parent].median_tail : gaussian;
      double a = g.own.LogUpperTail(t), b = prior.LogUpperTail(t);
      if (g.own_weight >= 1) {
        log_p = a;
      } else {
        double m = std::max(a, b);
        log_p = m + std::log(g.own_weight * std::exp(a - m) + (1 - g.own_weight) * std::exp(b - m));
      }
    }
    return -log_p / std::log(10.0);
  }
};

namespace {

valuation::Flow ToFlow(const Declaration& d, int dims) {
  valuation::Flow f;
  ToPoint(d, dims, &f.p);
  f.importer = std::string(d.importer_id);
  return f;
}

}  // namespace

ValuationModel::ValuationModel() : impl_(std::make_unique<Impl>()) {}
ValuationModel::~ValuationModel() = default;
ValuationModel::ValuationModel(ValuationModel&&) noexcept = default;
ValuationModel& ValuationModel::operator=(ValuationModel&&) noexcept = default;

Result<ValuationModel> ValuationModel::Fit(const DeclarationBatch& history,
                                           const ValuationOptions& options) {
  ValuationModel m;
  Impl& im = *m.impl_;
  im.options = options;
  std::vector<const Declaration*> rows;
  for (const auto& d : history.rows) {
    // HS "00" is the placeholder of a postal piece declared without an HS code: its goods have
    // nothing in common to price them by.
    if (d.net_mass_kg > 0 && d.declared_value > 0 && d.hs_code != kNoHsCode) {
      rows.push_back(&d);
    } else {
      ++im.skipped;
    }
  }
  // A history too thin for any group is not an error: every declaration then gets "no reference".
  // Groups at every level with enough flows (HS2 takes what there is: the last resort).
  std::vector<std::vector<const Declaration*>> members;
  for (int l = 0; l < kLevels; ++l) {
    std::map<std::string, std::vector<const Declaration*>> by_key;
    for (const Declaration* d : rows) by_key[GroupKey(*d, l)].push_back(d);
    for (auto& [key, v] : by_key) {
      int need = l == kHs2 ? 3 : options.min_group_flows;
      if (static_cast<int>(v.size()) < need) continue;
      Impl::Group g;
      g.level = l;
      g.key = key;
      g.flows = static_cast<int>(v.size());
      im.index[l][key] = static_cast<int>(im.groups.size());
      im.groups.push_back(std::move(g));
      members.push_back(std::move(v));
    }
  }
  // A coarser group with the same flows as a finer one is the same fit: it is copied.
  std::vector<int> same_as(im.groups.size(), -1);
  for (size_t gi = 0; gi < im.groups.size(); ++gi) {
    Impl::Group& g = im.groups[gi];
    if (g.level == kHs2) continue;
    g.parent = im.index[g.level + 1].at(GroupKey(*members[gi][0], g.level + 1));
    if (im.groups[g.parent].flows == g.flows) same_as[g.parent] = static_cast<int>(gi);
  }
  valuation::ReferenceOptions ro;
  ro.min_mixture_flows = options.min_mixture_flows;
  ro.max_lines = options.max_lines;
  ro.importer_min_flows = options.importer_min_flows;
  ro.choice_min_flows = options.choice_min_flows;
  ParallelFor(im.groups.size(), options.threads, [&](size_t b, size_t e) {
    for (size_t gi = b; gi < e; ++gi) {
      if (same_as[gi] >= 0) continue;
      Impl::Group& g = im.groups[gi];
      const auto& v = members[gi];
      g.dims = std::all_of(v.begin(), v.end(), [](const Declaration* d) { return HasUnits(*d); })
                   ? 2
                   : 1;
      std::vector<valuation::Flow> flows;
      flows.reserve(v.size());
      for (const Declaration* d : v) flows.push_back(ToFlow(*d, g.dims));
      valuation::ReferenceOptions o = ro;
      o.seed = options.seed + gi;
      valuation::ReferenceChoice c = valuation::ChooseReference(flows, g.dims, o);
      g.reference = std::move(c.model);
      g.recall = std::move(c.recall);
      g.oof_statistic = std::move(c.oof_statistic);
      g.oof_median_residual = std::move(c.oof_median_residual);
    }
  });
  // Aliases point at finer groups, fitted above; chains (hs6 = hs4 = hs2) resolve finest first.
  for (size_t gi = im.groups.size(); gi-- > 0;) {
    if (same_as[gi] < 0) continue;
    int src = same_as[gi];
    while (same_as[src] >= 0) src = same_as[src];
    Impl::Group& g = im.groups[gi];
    const Impl::Group& s = im.groups[src];
    g.dims = s.dims;
    g.reference = s.reference;
    g.recall = s.recall;
    g.oof_statistic = s.oof_statistic;
    g.oof_median_residual = s.oof_median_residual;
  }
  for (int l = kHs2; l >= 0; --l)
    for (Impl::Group& g : im.groups)
      if (g.level == l) im.Calibrate(g);
  return m;
}

ValuationResult ValuationModel::Score(const Declaration& d) const {
  const Impl& im = *impl_;
  ValuationResult r;
  int level = -1;
  if (d.hs_code == kNoHsCode) {
    r.level = "none";
    r.undervaluation_score = 0;
    r.reason = "no reference price: no HS code declared";
    return r;
  }
  const Impl::Group* g = im.Find(d, &level);
  if (g == nullptr) {
    r.level = "none";
    r.undervaluation_score = 0;
    r.reason = d.net_mass_kg > 0
                   ? "no reference price: too few comparable flows for HS " + d.hs_code +
                         (d.currency.empty() ? "" : " in " + d.currency) + " in the history"
                   : "no reference price: net mass is 0 and no supplementary units";
    return r;
  }
  valuation::Flow f = ToFlow(d, g->dims);
  double offset;
  double expected = g->reference.ExpectedLogPrice(f, &offset);
  r.undervaluation_score = im.Score(*g, f);
  r.level = kLevelNames[level];
  r.per_unit = g->dims == 2;
  r.reference_unit_price = std::exp(expected);
  double qty = r.per_unit ? d.supplementary_units : d.net_mass_kg;
  double declared_unit = d.declared_value / qty;
  r.unit_price_ratio = declared_unit / r.reference_unit_price;
  r.flagged = r.undervaluation_score > flag_threshold();
  double missing = r.reference_unit_price * qty - d.declared_value;
  if (r.flagged && missing > 0 && !std::isnan(d.tax_rate))
    r.revenue_at_risk = d.tax_rate / 100 * missing;
  const char* unit = r.per_unit ? "unit" : "kg";
  std::string cur = d.currency.empty() ? "" : " " + d.currency;
  if (r.unit_price_ratio < 1) {
    r.reason = "unit price " + FormatFixed(declared_unit, 2) + cur + "/" + unit + " is " +
               FormatFixed(100 * (1 - r.unit_price_ratio), 0) + " % below the reference " +
               FormatFixed(r.reference_unit_price, 2) + cur + "/" + unit + " for " +
               LevelWords(d, level);
  } else {
    r.reason = "unit price " + FormatFixed(declared_unit, 2) + cur + "/" + unit + " is " +
               FormatFixed(100 * (r.unit_price_ratio - 1), 0) + " % above the reference " +
               FormatFixed(r.reference_unit_price, 2) + cur + "/" + unit + " for " +
               LevelWords(d, level);
  }
  r.reason += " (" + std::to_string(g->flows) + " flows, ";
  if (g->reference.kind() == valuation::Reference::kLines) {
    int k = g->reference.lines().lines();
    r.reason += std::to_string(k) + (k == 1 ? " price line" : " price lines");
  } else {
    r.reason += "median price";
  }
  if (offset != 0)
    r.reason +=
        ", importer's own price level " + FormatFixed(100 * (std::exp(offset) - 1), 0) + " %";
  r.reason += ")";
  if (r.flagged && std::isnan(d.tax_rate))
    r.reason += "; no tax rate declared, revenue at risk unknown";
  return r;
}

std::vector<ValuationResult> ValuationModel::ScoreAll(const DeclarationBatch& batch) const {
  std::vector<ValuationResult> out(batch.rows.size());
  ParallelFor(batch.rows.size(), impl_->options.threads, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) out[i] = Score(batch.rows[i]);
  });
  return out;
}

int64_t ValuationModel::skipped_rows() const { return impl_->skipped; }
size_t ValuationModel::num_groups() const { return impl_->groups.size(); }
double ValuationModel::flag_threshold() const { return -std::log10(impl_->options.flag_rate); }

std::string ValuationModel::SummaryJson() const {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& g : impl_->groups) {
    a.push_back(
        {{"level", kLevelNames[g.level]},
         {"key", g.key},
         {"flows", g.flows},
         {"per_unit", g.dims == 2},
         {"reference", valuation::ReferenceName(g.reference.kind())},
         {"price_lines",
          g.reference.kind() == valuation::Reference::kLines ? g.reference.lines().lines() : 0},
         {"cv_recall", g.recall},
         {"importers_with_own_level", g.reference.importers_with_own_level()}});
  }
  return nlohmann::json{
      {"groups", a}, {"flag_threshold", flag_threshold()}, {"skipped_rows", impl_->skipped}}
      .dump();
}

}  // namespace clearsight

namespace clearsight {

Result<std::vector<TradeFlow>> ReadTradeFlows(const std::string& path) {
  CS_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 30));
  std::vector<TradeFlow> out;
  int64_t line = 0;
  size_t p = 0;
  while (p < text.size()) {
    size_t e = text.find('\n', p);
    if (e == std::string::npos) e = text.size();
    std::string_view l = Trim(std::string_view(text).substr(p, e - p));
    p = e + 1;
    ++line;
    if (l.empty()) continue;
    std::vector<double> v;
    size_t i = 0;
    while (i < l.size()) {
      while (i < l.size() && (l[i] == ' ' || l[i] == '\t' || l[i] == ',' || l[i] == ';')) ++i;
      size_t b = i;
      while (i < l.size() && !(l[i] == ' ' || l[i] == '\t' || l[i] == ',' || l[i] == ';')) ++i;
      if (i > b) {
        double x;
        if (!ParseDouble(l.substr(b, i - b), &x))
          return Status::InvalidArgument(path + ":" + std::to_string(line) + ": '" +
                                         Excerpt(l.substr(b, i - b), 40) + "' is not a number");
        v.push_back(x);
      }
    }
    if (v.size() != 2 && v.size() != 3)
      return Status::InvalidArgument(path + ":" + std::to_string(line) +
                                     ": expected 2 or 3 numbers, found " +
                                     std::to_string(v.size()));
    TradeFlow f;
    f.quantity_kg = v[0];
    f.units = v.size() == 3 ? v[1] : kMissing;
    f.value = v.back();
    if (f.quantity_kg > 0 && f.value > 0) out.push_back(f);
  }
  if (out.size() < 10) return Status::InvalidArgument(path + ": fewer than 10 usable flows");
  return out;
}

InjectionResult EvaluateInjectedUndervaluation(const std::vector<TradeFlow>& flows, int seeds,
                                               const ValuationOptions& options) {
  InjectionResult res;
  res.seeds = seeds;
  auto recall = [](std::vector<double> honest, const std::vector<double>& under) {
    std::sort(honest.begin(), honest.end(), std::greater<>());
    double thr = honest[static_cast<size_t>(std::floor(0.05 * honest.size()))];
    double hit = 0;
    for (double s : under) hit += s > thr;
    return hit / under.size();
  };
  for (int seed = 0; seed < seeds; ++seed) {
    std::mt19937_64 rng(1000 + seed);
    std::vector<TradeFlow> f = flows;
    std::shuffle(f.begin(), f.end(), rng);
    size_t cut = static_cast<size_t>(std::llround(0.7 * f.size()));
    auto make = [&](const TradeFlow& t, const std::string& id, double factor) {
      Declaration d;
      d.declaration_id = id;
      d.importer_id = "I" + std::to_string(std::hash<std::string>()(id) % 50);
      d.hs_code = "999999";
      d.origin_country = "XX";
      d.net_mass_kg = t.quantity_kg;
      d.supplementary_units = t.units;
      d.declared_value = factor == 1 ? t.value : std::round(t.value * factor * 100) / 100;
      d.tax_rate = 10;
      return d;
    };
    DeclarationBatch hist, fresh;
    for (size_t i = 0; i < cut; ++i) hist.rows.push_back(make(f[i], "H" + std::to_string(i), 1));
    std::uniform_real_distribution<double> u(0.2, 0.6);
    std::vector<bool> under;
    for (size_t i = cut; i < f.size(); ++i) {
      fresh.rows.push_back(make(f[i], "N" + std::to_string(i), 1));
      under.push_back(false);
      fresh.rows.push_back(make(f[i], "U" + std::to_string(i), u(rng)));
      under.push_back(true);
    }
    auto model = ValuationModel::Fit(hist, options);
    if (!model.ok()) continue;
    std::vector<double> median_up;
    for (const auto& d : hist.rows) median_up.push_back(d.declared_value / d.net_mass_kg);
    std::nth_element(median_up.begin(), median_up.begin() + median_up.size() / 2, median_up.end());
    double med = median_up[median_up.size() / 2];
    std::vector<double> ours_h, ours_u, base_h, base_u;
    auto scored = model->ScoreAll(fresh);
    for (size_t i = 0; i < fresh.rows.size(); ++i) {
      double base = -(fresh.rows[i].declared_value / fresh.rows[i].net_mass_kg) / med;
      (under[i] ? ours_u : ours_h).push_back(scored[i].undervaluation_score);
      (under[i] ? base_u : base_h).push_back(base);
    }
    double r = recall(ours_h, ours_u), b = recall(base_h, base_u);
    res.recall_mean += r / seeds;
    res.recall_min = std::min(res.recall_min, r);
    res.baseline_mean += b / seeds;
    res.baseline_min = std::min(res.baseline_min, b);
    res.honest_rows += static_cast<int64_t>(ours_h.size());
    res.undervalued_rows += static_cast<int64_t>(ours_u.size());
  }
  return res;
}

}  // namespace clearsight
