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

struct ValuationModel::Impl {
  struct Group {
    int level = 0;
    std::string key;
    int flows = 0;
    int dims = 1;
    valuation::PriceLines lines;
    // Importer -> (shrunk median offset of its own log prices from the group's lines, flows).
    std::unordered_map<std::string, std::pair<double, int>> importers;
  };
  ValuationOptions options;
  std::vector<Group> groups;
  std::unordered_map<std::string, int> index[kLevels];
  int64_t skipped = 0;
  double threshold = 0;

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

  // Score of a declaration against a group, with the importer's own price level applied.
  double RawScore(const Group& g, const Declaration& d, double* expected_log_price,
                  double* offset) const {
    valuation::Point p;
    ToPoint(d, g.dims, &p);
    *offset = 0;
    auto it = g.importers.find(d.importer_id);
    if (it != g.importers.end() && it->second.second >= options.importer_min_flows)
      *offset = it->second.first;
    *expected_log_price = g.lines.ExpectedLogPrice(p.x) + *offset;
    return g.lines.Score(p.x, p.y - *offset);
  }
};

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
    if (d.net_mass_kg > 0 && d.declared_value > 0) {
      rows.push_back(&d);
    } else {
      ++im.skipped;
    }
  }
  // A history too thin for any group is not an error: every declaration then gets "no reference".
  // Groups at every level with enough flows (HS2 takes what there is: the last resort).
  std::vector<std::pair<int, std::string>> group_keys;
  std::vector<std::vector<const Declaration*>> members;
  for (int l = 0; l < kLevels; ++l) {
    std::map<std::string, std::vector<const Declaration*>> by_key;
    for (const Declaration* d : rows) by_key[GroupKey(*d, l)].push_back(d);
    for (auto& [key, v] : by_key) {
      int need = l == kHs2 ? 3 : options.min_group_flows;
      if (static_cast<int>(v.size()) < need) continue;
      group_keys.emplace_back(l, key);
      members.push_back(std::move(v));
    }
  }
  im.groups.resize(group_keys.size());
  ParallelFor(group_keys.size(), options.threads, [&](size_t b, size_t e) {
    for (size_t gi = b; gi < e; ++gi) {
      Impl::Group& g = im.groups[gi];
      g.level = group_keys[gi].first;
      g.key = group_keys[gi].second;
      const auto& v = members[gi];
      g.flows = static_cast<int>(v.size());
      g.dims = std::all_of(v.begin(), v.end(), [](const Declaration* d) { return HasUnits(*d); })
                   ? 2
                   : 1;
      std::vector<valuation::Point> pts;
      pts.reserve(v.size());
      for (const Declaration* d : v) {
        valuation::Point p;
        if (ToPoint(*d, g.dims, &p)) pts.push_back(p);
      }
      // Large groups are fitted on a seeded sample: the lines are as clear in 3,000 flows.
      std::mt19937_64 rng(options.seed + gi);
      if (pts.size() > 3000) {
        std::shuffle(pts.begin(), pts.end(), rng);
        pts.resize(3000);
      }
      valuation::PriceLinesOptions po;
      po.seed = options.seed + gi;
      po.max_lines =
          static_cast<int>(v.size()) >= options.min_mixture_flows ? options.max_lines : 1;
      g.lines = valuation::PriceLines::Fit(pts, g.dims, po);
      // Importers' own price levels, by empirical Bayes: each importer's mean log price relative
      // to the lines is shrunk by tau^2 / (tau^2 + sigma^2 / n), where tau^2 is the spread of
      // true importer levels beyond what chance gives. Where importers do not really differ
      // (tau^2 ~ 0) the offsets vanish; where they do, a trader is compared with itself.
      std::vector<double> all_res;
      std::unordered_map<std::string, std::vector<double>> res;
      for (const Declaration* d : v) {
        valuation::Point p;
        if (!ToPoint(*d, g.dims, &p)) continue;
        double r = p.y - g.lines.ExpectedLogPrice(p.x);
        res[d->importer_id].push_back(r);
        all_res.push_back(r);
      }
      if (all_res.size() >= 10) {
        std::vector<double> sorted = all_res;
        std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
        double med = sorted[sorted.size() / 2];
        for (double& x : sorted) x = std::fabs(x - med);
        std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
        double sigma = std::max(1.4826 * sorted[sorted.size() / 2], 1e-3);
        // The noise of an importer's clipped mean: the clipped residuals' own variance (heavier
        // tails than the MAD suggests would otherwise pass for importer differences).
        double sigma2 = 0;
        for (double x : all_res) {
          double c = std::clamp(x, med - 3 * sigma, med + 3 * sigma) - med;
          sigma2 += c * c;
        }
        sigma2 = std::max(sigma2 / all_res.size(), 1e-6);
        // Clip at 3 sigma so a few extreme flows do not make an importer look different.
        std::vector<std::pair<std::string, std::pair<double, int>>> means;
        for (auto& [imp, r] : res) {
          if (static_cast<int>(r.size()) < options.importer_min_flows) continue;
          double m = 0;
          for (double x : r) m += std::clamp(x, med - 3 * sigma, med + 3 * sigma);
          means.push_back({imp, {m / r.size() - med, static_cast<int>(r.size())}});
        }
        if (means.size() >= 3) {
          // Spread of the importers' means around their own average (a skewed residual
          // distribution moves every clipped mean alike; that is not an importer effect).
          double avg = 0;
          for (const auto& [imp, mn] : means) avg += mn.first / means.size();
          double var = 0, noise = 0;
          for (auto& [imp, mn] : means) {
            mn.first -= avg;
            var += mn.first * mn.first;
            noise += sigma2 / mn.second;
          }
          double tau2 = std::max(0.0, var / means.size() - noise / means.size());
          for (const auto& [imp, mn] : means) {
            double shrink = tau2 / (tau2 + sigma2 / mn.second);
            if (shrink > 0.05) g.importers[imp] = {mn.first * shrink, mn.second};
          }
        }
      }
    }
  });
  for (size_t gi = 0; gi < im.groups.size(); ++gi)
    im.index[im.groups[gi].level][im.groups[gi].key] = static_cast<int>(gi);
  // The flag threshold: the history's own flows are (mostly) honest; flag_rate of them may pass.
  std::vector<double> scores;
  scores.reserve(rows.size());
  for (const Declaration* d : rows) {
    int level;
    const Impl::Group* g = im.Find(*d, &level);
    if (!g) continue;
    double e, off;
    scores.push_back(im.RawScore(*g, *d, &e, &off));
  }
  if (!scores.empty()) {
    size_t q = static_cast<size_t>(std::floor((1 - options.flag_rate) * (scores.size() - 1)));
    std::nth_element(scores.begin(), scores.begin() + q, scores.end());
    im.threshold = scores[q];
  }
  return m;
}

ValuationResult ValuationModel::Score(const Declaration& d) const {
  const Impl& im = *impl_;
  ValuationResult r;
  int level = -1;
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
  double expected, offset;
  r.undervaluation_score = im.RawScore(*g, d, &expected, &offset);
  r.level = kLevelNames[level];
  r.per_unit = g->dims == 2;
  r.reference_unit_price = std::exp(expected);
  double qty = r.per_unit ? d.supplementary_units : d.net_mass_kg;
  double declared_unit = d.declared_value / qty;
  r.unit_price_ratio = declared_unit / r.reference_unit_price;
  r.flagged = r.undervaluation_score > im.threshold;
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
  r.reason += " (" + std::to_string(g->flows) + " flows, " + std::to_string(g->lines.lines()) +
              (g->lines.lines() == 1 ? " price line" : " price lines");
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
double ValuationModel::flag_threshold() const { return impl_->threshold; }

std::string ValuationModel::SummaryJson() const {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& g : impl_->groups) {
    a.push_back({{"level", kLevelNames[g.level]},
                 {"key", g.key},
                 {"flows", g.flows},
                 {"per_unit", g.dims == 2},
                 {"price_lines", g.lines.lines()},
                 {"importers_with_own_level", g.importers.size()}});
  }
  return nlohmann::json{
      {"groups", a}, {"flag_threshold", impl_->threshold}, {"skipped_rows", impl_->skipped}}
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
