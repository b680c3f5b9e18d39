// X-ray finding shifts: per finding class over all scans, by origin and by route, the share of
// scans with the finding before and since (docs/horizon.md).
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "clearsight/text.h"
#include "horizon/scan.h"

namespace clearsight::horizon_internal {
namespace {

// Fisher's exact test, two-sided (twice the smaller tail): of the `with` scans that have a
// finding, `k` fall among the `recent` of all `total` scans (hypergeometric).
double FisherTwoSided(int64_t k, int64_t with, int64_t recent, int64_t total) {
  auto log_choose = [](int64_t n, int64_t r) {
    return std::lgamma(n + 1.0) - std::lgamma(r + 1.0) - std::lgamma(n - r + 1.0);
  };
  const double denominator = log_choose(total, recent);
  auto term = [&](int64_t i) {
    return std::exp(log_choose(with, i) + log_choose(total - with, recent - i) - denominator);
  };
  const int64_t lo = std::max<int64_t>(0, recent - (total - with)), hi = std::min(with, recent);
  double upper = 0, lower = 0;
  for (int64_t i = std::max(k, lo); i <= hi; ++i) upper += term(i);
  for (int64_t i = lo; i <= std::min(k, hi); ++i) lower += term(i);
  return std::min(1.0, 2 * std::min(upper, lower));
}

// Where a share (weeks with / weeks all) changes most: the week that splits the weeks into two
// with the largest likelihood of a binomial share of their own each (CUSUM places a change in
// counts of one or two a week poorly).
int32_t ShareChangePoint(const Scan& c, const std::vector<int32_t>& with,
                         const std::vector<int32_t>& all) {
  auto log_likelihood = [](double x, double n) {
    if (n <= 0) return 0.0;
    return (x > 0 ? x * std::log(x / n) : 0.0) + (n - x > 0 ? (n - x) * std::log1p(-x / n) : 0.0);
  };
  double x_total = 0, n_total = 0;
  for (size_t w = 0; w < c.nweeks; ++w) {
    x_total += with[w];
    n_total += all[w];
  }
  double x = 0, n = 0, best = -1e300;
  size_t at = static_cast<size_t>(-c.w0);
  for (size_t w = 0; w + 1 < c.nweeks; ++w) {
    x += with[w];
    n += all[w];
    if (n <= 0 || n >= n_total) continue;
    const double l = log_likelihood(x, n) + log_likelihood(x_total - x, n_total - n);
    if (l > best) {
      best = l;
      at = w + 1;
    }
  }
  return c.WeekStart(at);
}

// Per route (all scans, per origin, per origin -> office) the scans, and per route and finding
// class the scans with that finding, weekly.
struct ScanCounts {
  std::vector<int32_t> weekly;
  int64_t baseline = 0, recent = 0;
};
struct FindingSeries {
  ScanCounts counts;
  uint32_t route = 0;  // in its family's routes
  std::string finding;
};
struct RouteFamily {
  std::vector<ScanCounts> routes;
  std::vector<Key> route_keys;
  std::unordered_map<uint64_t, uint32_t> route_index;
  std::vector<FindingSeries> findings;
  std::unordered_map<uint64_t, uint32_t> finding_index;
};

}  // namespace

void TestFindings(const std::vector<HorizonScan>& scans, Scan& c) {
  constexpr int kRouteFields[] = {0, 1, 2};  // none, origin, origin and office
  RouteFamily families[3];
  int64_t in_windows = 0;
  std::vector<std::string> classes;
  for (const HorizonScan& scan : scans) {
    const bool recent = scan.date >= c.o.since;
    if (!recent && !c.InBaseline(scan.date)) continue;
    if (scan.date > c.report.to) continue;
    ++in_windows;
    const size_t week = c.Index(c.WeekOf(scan.date));
    classes = scan.findings;
    std::sort(classes.begin(), classes.end());
    classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
    for (int f : kRouteFields) {
      RouteFamily& fam = families[f];
      uint64_t h = kFnvBasis;
      if (f >= 1) h = HashField(h, scan.origin_country);
      if (f >= 2) h = HashField(h, scan.office_id);
      auto [it, added] = fam.route_index.try_emplace(h, static_cast<uint32_t>(fam.routes.size()));
      if (added) {
        fam.routes.emplace_back().weekly.assign(c.nweeks, 0);
        Key key;
        if (f >= 1) key.emplace_back("origin_country", scan.origin_country);
        if (f >= 2) key.emplace_back("office_id", scan.office_id);
        fam.route_keys.push_back(std::move(key));
      }
      auto count = [&](ScanCounts& n) {
        ++n.weekly[week];
        ++(recent ? n.recent : n.baseline);
      };
      count(fam.routes[it->second]);
      for (const std::string& finding : classes) {
        if (finding.empty()) continue;
        const uint64_t fh = HashField(h, finding);
        auto [fit, fadded] =
            fam.finding_index.try_emplace(fh, static_cast<uint32_t>(fam.findings.size()));
        if (fadded) {
          FindingSeries series;
          series.counts.weekly.assign(c.nweeks, 0);
          series.route = it->second;
          series.finding = finding;
          fam.findings.push_back(std::move(series));
        }
        count(fam.findings[fit->second].counts);
      }
    }
  }
  c.report.scans = in_windows;
  const double weeks_recent = c.recent_days / 7;
  for (const RouteFamily& fam : families) {
    for (const FindingSeries& fs : fam.findings) {
      const ScanCounts& route = fam.routes[fs.route];
      const int64_t n0 = route.baseline, n1 = route.recent;
      const int64_t x0 = fs.counts.baseline, x1 = fs.counts.recent;
      // Too few scans for a share, or too few findings for any test to tell (with fewer than 3
      // the smallest p is too large to matter; the tests condition on that total anyway).
      if (n0 < 20 || n1 < 10 || x0 + x1 < 3) continue;
      c.report.tested["finding_shift"]++;
      const double p0 = static_cast<double>(x0) / n0, p1 = static_cast<double>(x1) / n1;
      // Over-dispersion beyond binomial of the weekly findings around the baseline share (a
      // shipper's containers found alike, week after week), Pearson's over the full weeks.
      double pearson = 0;
      int weeks = 0;
      if (p0 > 0 && p0 < 1)
        for (size_t w = c.FirstFullBaselineWeek(); w < c.Index(0); ++w) {
          if (route.weekly[w] == 0) continue;
          const double e = route.weekly[w] * p0;
          pearson += std::pow(fs.counts.weekly[w] - e, 2) / (e * (1 - p0));
          ++weeks;
        }
      const double phi = weeks > 1 ? std::max(1.0, pearson / (weeks - 1)) : 1.0;
      const int64_t with = x0 + x1, total = n0 + n1;
      const double pi0 = static_cast<double>(n1) / total;
      double p;
      if (phi < 1.5 && with * pi0 * (1 - pi0) < 200) {
        p = FisherTwoSided(x1, with, n1, total);
      } else {
        const double pooled = static_cast<double>(with) / total;
        const double se = std::sqrt(phi * pooled * (1 - pooled) * (1.0 / n0 + 1.0 / n1));
        p = se > 0 ? 2 * NormalUpper(std::abs(p1 - p0) / se) : 1;
      }
      HorizonSignal s;
      s.kind = "finding_shift";
      s.key = fam.route_keys[fs.route];
      s.key.emplace_back("finding", fs.finding);
      s.p_value = p;
      // Each share with half a finding added, so that a finding new on the route has an effect.
      s.effect = ((x1 + 0.5) / n1) / ((x0 + 0.5) / n0) - 1;
      s.first_date = ShareChangePoint(c, fs.counts.weekly, route.weekly);
      s.summary = "in " + FormatFixed(100 * p0, 1) + " % of " + std::to_string(n0) +
                  " scans before, " + FormatFixed(100 * p1, 1) + " % of " + std::to_string(n1) +
                  " since (" + FormatFixed(x1 / weeks_recent, 1) + " a week)";
      s.series_unit = "share of scans with the finding a week";
      for (size_t w = 0; w < c.nweeks; ++w)
        if (route.weekly[w] > 0)
          s.series.push_back(
              {c.WeekStart(w), static_cast<double>(fs.counts.weekly[w]) / route.weekly[w]});
      s.recent_count = x1;
      s.expected_count = n1 * p0;
      c.Add(std::move(s));
    }
  }
}

}  // namespace clearsight::horizon_internal
