// Count series against their own seasons: the same weeks of the years before, shrunk toward flat
// (docs/horizon.md, "Seasons of their own"; scan.h says what each part is).
#include <algorithm>
#include <cmath>

#include "horizon/scan.h"

namespace clearsight::horizon_internal {
namespace {

// Pearson's statistic of a count series' full baseline weeks around its own slow changes: each
// week against the series' share of the market in the nine weeks around it, and the degrees of
// freedom that leaves (each week less its own part in that share).
struct LocalFit {
  double pearson = 0, df = 0;
};
LocalFit LocalDispersion(const Scan& c, const std::vector<int32_t>& weekly) {
  LocalFit fit;
  const size_t first = c.FirstFullBaselineWeek(), end = c.Index(0);
  if (end <= first + 1) return fit;
  std::vector<double> series_sum(end - first + 1, 0), market_sum(end - first + 1, 0);
  for (size_t w = first; w < end; ++w) {
    series_sum[w - first + 1] = series_sum[w - first] + weekly[w];
    market_sum[w - first + 1] = market_sum[w - first] + c.market_weekly[w];
  }
  for (size_t w = first; w < end; ++w) {
    const size_t lo = std::max(w, first + 4) - 4 - first, hi = std::min(w + 5, end) - first;
    const double m = market_sum[hi] - market_sum[lo], x = series_sum[hi] - series_sum[lo];
    if (m <= 0 || x <= 0 || c.market_weekly[w] <= 0) continue;
    const double e = c.market_weekly[w] * x / m;
    fit.pearson += std::pow(weekly[w] - e, 2) / e;
    fit.df += 1 - c.market_weekly[w] / m;
  }
  return fit;
}

}  // namespace

std::vector<size_t> SeasonWeeks(const Scan& c) {
  std::vector<size_t> out;
  if (!c.o.seasonal) return out;
  const int32_t recent_weeks = c.w1 + 1;
  for (int32_t back = 52; c.w1 - back >= c.w0; back += 52) {
    const int32_t lo = std::max(-back, c.w0), hi = std::min(c.w1 - back, -1);
    if (2 * (hi - lo + 1) < recent_weeks) continue;
    for (int32_t w = lo; w <= hi; ++w) out.push_back(c.Index(w));
  }
  std::sort(out.begin(), out.end());  // a recent window of a year or more: years overlap
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

SeasonEvidence SeasonOf(const Scan& c, const Acc& a, const std::vector<size_t>& season_weeks,
                        double season_market, double flat_pearson, int flat_weeks) {
  SeasonEvidence e;
  if (season_weeks.empty() || season_market <= 0 || flat_weeks <= 1) return e;
  // A series that had not begun by then has no season to show there.
  int64_t until_season = 0;
  for (size_t w = 0; w <= season_weeks.back(); ++w) until_season += a.weekly[w];
  if (until_season == 0) return e;
  const LocalFit local = LocalDispersion(c, a.weekly);
  if (local.df <= 1) return e;
  const double b = static_cast<double>(a.baseline);
  e.available = true;
  e.phi_local = std::max(1.0, local.pearson / local.df);
  e.tau2_own = 0.7 * std::max(0.0, flat_pearson - e.phi_local * (flat_weeks - 1)) / b;
  for (size_t w : season_weeks) e.s += a.weekly[w];
  e.l = std::log((e.s + 0.5) / season_market) - std::log(b / c.total_baseline);
  e.v = e.phi_local * std::max(1 / std::max(e.s, 0.5) - 1 / b, 1e-12);
  return e;
}

double FamilySeasonVariance(const std::vector<SeasonEvidence>& evidence) {
  double sw = 0, sw2 = 0, swl = 0;
  int k = 0;
  for (const auto& e : evidence) {
    if (!e.available) continue;
    const double w = 1 / e.v;
    sw += w;
    sw2 += w * w;
    swl += w * e.l;
    ++k;
  }
  if (k < 3 || !(sw > 0)) return 0;
  const double mean = swl / sw;
  double q = 0;
  for (const auto& e : evidence)
    if (e.available) q += std::pow(e.l - mean, 2) / e.v;
  return std::max(0.0, (q - (k - 1)) / (sw - sw2 / sw));
}

Expectation Expect(const SeasonEvidence& e, double family_tau2, const Acc& a, double flat_pearson,
                   int flat_weeks) {
  Expectation x;
  const double b = static_cast<double>(a.baseline);
  const double flat_phi = flat_weeks > 1 ? std::max(1.0, flat_pearson / (flat_weeks - 1)) : 1.0;
  x.baseline_count = b;
  x.phi = flat_phi;
  const double tau2 = std::max(family_tau2, e.tau2_own);
  if (!e.available || !(tau2 > 0)) return x;
  const double w = tau2 / (tau2 + e.v), s_half = std::max(e.s, 0.5);
  x.weight = w;
  x.factor = std::exp(w * e.l);
  x.phi = e.phi_local + (1 - w) * std::max(0.0, flat_phi - e.phi_local);
  // (S + 1/2 for S in the variance of its log: a season of no declarations is not a precise one.)
  const double d_season = (1 - w) / b + w / s_half, d_rest = (1 - w) / b;
  x.baseline_count = 1 / (s_half * d_season * d_season + (b - e.s) * d_rest * d_rest +
                          w * (1 - w) * std::max(1 / s_half - 1 / b, 0.0));
  return x;
}

}  // namespace clearsight::horizon_internal
