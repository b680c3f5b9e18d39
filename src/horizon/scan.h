// Horizon scanning's internals shared by its files (horizon.cc: the windows, the series, the
// declaration kinds and the ranking; seasons.cc: the count series' own seasons; findings.cc: the
// X-ray finding shifts). Not a public header.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clearsight/horizon.h"

namespace clearsight::horizon_internal {

using Key = std::vector<std::pair<std::string, std::string>>;

inline double NormalUpper(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

// The series' key as words ("HS 6109, from IN"): what a signal's summary starts with.
std::string Describe(const Key& key);

// FNV-1a over the fields, each closed by 0x1f: a series' key in its family (a collision between
// two keys of one family would merge their series: about one in 10^8 for a million keys).
inline constexpr uint64_t kFnvBasis = 1469598103934665603ull;
inline uint64_t HashField(uint64_t h, std::string_view field) {
  for (unsigned char c : field) h = (h ^ c) * 1099511628211ull;
  return (h ^ 0x1f) * 1099511628211ull;
}

// One series of declarations: its counts, prices and inspections in the two windows.
struct Acc {
  size_t row = 0;  // a row with this key, to name it
  int64_t before = 0, baseline = 0, recent = 0;
  int32_t first_recent = INT32_MAX;
  std::vector<int32_t> weekly;
  std::vector<double> price_baseline, price_recent;    // log unit prices
  std::vector<std::pair<int32_t, float>> price_weeks;  // (week, log unit price), both windows
  int64_t inspected[2] = {0, 0}, hits[2] = {0, 0};     // [baseline, recent]
};

// The two windows in weeks, the market's weekly counts and the candidate signals per kind: what
// every kind's tests share.
struct Scan {
  Scan(const HorizonOptions& options, HorizonReport& out) : o(options), report(out) {}
  const HorizonOptions& o;
  HorizonReport& report;
  int32_t base_from = 0;
  double base_days = 0, recent_days = 0;
  // Weeks from base_from's week (w0) to the last (w1); week w starts at since + 7 w.
  int32_t w0 = 0, w1 = 0;
  size_t nweeks = 0;
  int64_t total_baseline = 0, total_recent = 0;
  std::vector<double> market_weekly;
  std::map<std::string, std::vector<HorizonSignal>> by_kind;

  int32_t WeekOf(int32_t date) const {
    return static_cast<int32_t>(std::floor((date - o.since) / 7.0));
  }
  size_t Index(int32_t week) const { return static_cast<size_t>(week - w0); }
  int32_t WeekStart(size_t index) const { return o.since + 7 * (static_cast<int32_t>(index) + w0); }
  bool InBaseline(int32_t date) const { return date < o.since && date >= base_from; }
  // The full baseline weeks Pearson's dispersion is taken over (the first may be partial).
  size_t FirstFullBaselineWeek() const { return Index(std::max(w0 + 1, -o.baseline_weeks)); }

  std::vector<std::pair<int32_t, double>> Series(const std::vector<int32_t>& weekly) const {
    std::vector<std::pair<int32_t, double>> out;
    for (size_t w = 0; w < nweeks; ++w) out.push_back({WeekStart(w), weekly[w]});
    return out;
  }
  // Where a count series changes most: the end of the largest cumulative deviation from its share
  // of a reference's weekly counts (the market's, so the seasons all series share are not taken
  // for a change; a route's scans for its findings).
  int32_t ChangePoint(const std::vector<int32_t>& weekly,
                      const std::vector<double>& reference) const {
    double series_total = 0, reference_total = 0;
    for (size_t w = 0; w < nweeks; ++w) {
      series_total += weekly[w];
      reference_total += reference[w];
    }
    const double share = reference_total > 0 ? series_total / reference_total : 0;
    double s = 0, best = -1;
    size_t at = static_cast<size_t>(-w0);
    for (size_t w = 0; w + 1 < nweeks; ++w) {
      s += weekly[w] - share * reference[w];
      if (std::abs(s) > best) {
        best = std::abs(s);
        at = w + 1;
      }
    }
    return WeekStart(at);
  }
  void Add(HorizonSignal s) {
    s.p_value = std::clamp(s.p_value, 0.0, 1.0);
    s.summary = Describe(s.key) + ": " + s.summary;
    by_kind[s.kind].push_back(std::move(s));
  }
};

// ---- Seasons of their own (seasons.cc) ----------------------------------------------------------

// The baseline weeks that were the recent window's weeks in the years before (52, 104, ...
// weeks back; the same weeks exactly, since a steep season makes any weeks beside them a bias): a
// year only counts when the baseline holds at least half of its weeks.
std::vector<size_t> SeasonWeeks(const Scan& c);

// What a series' baseline weeks say of a season of its own, beside the market's (its share of the
// market, week by week):
//  - how much its share moves slowly (a season, or a drift) over the whole baseline: Pearson's
//    statistic around its mean share (P, n - 1 degrees of freedom) beyond what its week-to-week
//    noise explains (the local fit's phi_l = P_l / df_l): sum of e_w d_w^2 = P - phi_l (n - 1),
//    unbiased; over a quarter a yearly season keeps about 0.7 of that variance, so its own view of
//    the variance of its log seasonal factor is tau_own^2 = 0.7 max(0, P - phi_l (n - 1)) / B;
//  - its share in the season's weeks (S of the market's M_S) against its share over the baseline
//    (B of M_B): l = log((S + 1/2) / M_S) - log(B / M_B), with sampling variance
//    v = phi_l (1 / S - 1 / B).
struct SeasonEvidence {
  bool available = false;  // the baseline holds the season's weeks
  double s = 0, l = 0, v = 0, tau2_own = 0, phi_local = 1;
};
SeasonEvidence SeasonOf(const Scan& c, const Acc& a, const std::vector<size_t>& season_weeks,
                        double season_market, double flat_pearson, int flat_weeks);

// The variance of the log seasonal factors among a family's series, less their sampling noise
// (DerSimonian and Laird's moment estimator over the series with the season's weeks): how much
// the series of the family move apart with the seasons at all.
double FamilySeasonVariance(const std::vector<SeasonEvidence>& evidence);

// What the baseline leads a series to expect in the recent window, beyond the market's own change.
struct Expectation {
  double factor = 1;          // times the flat expectation: the series' own season, shrunk
  double weight = 0;          // how far it follows its season (0 = flat)
  double baseline_count = 0;  // the baseline count the expectation rests on, in effect
  double phi = 1;             // the over-dispersion the test allows
};

// The expectation follows exp(w l), w = tau^2 / (tau^2 + v), the posterior mean of the log
// seasonal factor under a prior variance tau^2, the larger of the family's and the series' own
// (too little of a season followed flags the season; too much costs power only): flat for a
// series whose share does not move in a family whose series do not, its season as the evidence
// for one grows. The expectation's own variance counts, the counts' noise and what remains
// unknown of the season (the posterior variance, w v):
// var(log E) / phi = S ((1 - w) / B + w / S)^2 + (B - S) ((1 - w) / B)^2 + w (1 - w) (1 / S - 1 /
// B), the baseline count of a flat comparison as precise. The test allows phi_l + (1 - w) (phi -
// phi_l): the slow moves not followed count as noise, as they do in the flat test.
Expectation Expect(const SeasonEvidence& e, double family_tau2, const Acc& a, double flat_pearson,
                   int flat_weeks);

// ---- Finding shifts (findings.cc) ---------------------------------------------------------------

// Per finding class over all scans, by origin and by route: the share of scans with the finding,
// before and since (report.scans, the finding_shift candidates and their count tested).
void TestFindings(const std::vector<HorizonScan>& scans, Scan& c);

}  // namespace clearsight::horizon_internal
