#include "clearsight/horizon.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <unordered_map>

#include "clearsight/text.h"

namespace clearsight {
namespace {

// ---- Tests --------------------------------------------------------------------------------------

double NormalUpper(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

// P(X >= k) and P(X <= k) for X ~ Binomial(n, p), by summing terms in log space.
double BinomialTerm(int64_t i, int64_t n, double p) {
  return std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) +
                  i * std::log(p) + (n - i) * std::log1p(-p));
}
double BinomialUpper(int64_t k, int64_t n, double p) {
  double sum = 0;
  for (int64_t i = std::max<int64_t>(k, 0); i <= n; ++i) sum += BinomialTerm(i, n, p);
  return std::min(1.0, sum);
}
double BinomialLower(int64_t k, int64_t n, double p) {
  double sum = 0;
  for (int64_t i = 0; i <= std::min(k, n); ++i) sum += BinomialTerm(i, n, p);
  return std::min(1.0, sum);
}

// Two-sided p of k successes in n trials of probability pi0: exact (twice the smaller tail) where
// the series shows no over-dispersion and the counts are small, else normal with the binomial
// variance times phi. `n` may be an effective count, not whole: the exact sums take it rounded.
double TwoSidedBinomial(int64_t k, double n, double pi0, double phi) {
  if (phi < 1.5 && n * pi0 * (1 - pi0) < 200) {
    const int64_t whole = std::max<int64_t>(std::llround(n), k);
    return 2 * std::min(BinomialUpper(k, whole, pi0), BinomialLower(k, whole, pi0));
  }
  const double z = std::abs(k - n * pi0) / std::sqrt(phi * n * pi0 * (1 - pi0));
  return 2 * NormalUpper(z);
}

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

// One-sided Mann-Whitney: p that `recent` is not lower than `before` (normal approximation with
// the tie correction).
double MannWhitneyLower(const std::vector<double>& before, const std::vector<double>& recent) {
  const size_t n1 = recent.size(), n2 = before.size(), n = n1 + n2;
  std::vector<std::pair<double, int>> all;
  all.reserve(n);
  for (double v : recent) all.push_back({v, 1});
  for (double v : before) all.push_back({v, 0});
  std::sort(all.begin(), all.end());
  double rank_sum = 0, ties = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && all[j].first == all[i].first) ++j;
    const double rank = (i + j + 1) / 2.0;
    for (size_t k = i; k < j; ++k)
      if (all[k].second) rank_sum += rank;
    const double t = static_cast<double>(j - i);
    ties += t * t * t - t;
    i = j;
  }
  const double u = rank_sum - n1 * (n1 + 1) / 2.0;
  const double mean = n1 * n2 / 2.0;
  const double var = n1 * n2 / 12.0 * ((n + 1) - ties / (static_cast<double>(n) * (n - 1)));
  if (!(var > 0)) return 1;
  return 1 - NormalUpper((u - mean + 0.5) / std::sqrt(var));  // P(U <= u)
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + m, v.end());
  return v[m];
}

// ---- Series -------------------------------------------------------------------------------------

using Key = std::vector<std::pair<std::string, std::string>>;

enum Field : uint8_t { kHs, kOrigin, kOffice, kImporter };
struct Family {
  std::vector<Field> fields;
  int hs_digits = 0;
};
// Every family any kind tests; indexes below refer to this list.
const std::vector<Family>& Families() {
  static const std::vector<Family> f = {
      {{kHs}, 2},          {{kHs}, 4},     {{kHs, kOrigin}, 2},     {{kHs, kOrigin}, 4},
      {{kHs, kOrigin}, 6}, {{kOrigin}, 0}, {{kOrigin, kOffice}, 0}, {{kImporter}, 0}};
  return f;
}
constexpr int kHs2 = 0, kHs4 = 1, kHs2Origin = 2, kHs4Origin = 3, kHs6Origin = 4, kOriginOnly = 5,
              kRoute = 6, kImporterOnly = 7;

struct Acc {
  size_t row = 0;  // a row with this key, to name it
  int64_t before = 0, baseline = 0, recent = 0;
  int32_t first_recent = INT32_MAX;
  std::vector<int32_t> weekly;
  std::vector<double> price_baseline, price_recent;    // log unit prices
  std::vector<std::pair<int32_t, float>> price_weeks;  // (week, log unit price), both windows
  int64_t inspected[2] = {0, 0}, hits[2] = {0, 0};     // [baseline, recent]
};

std::string_view FieldValue(const Declaration& d, Field f, int hs_digits) {
  switch (f) {
    case kHs:
      return std::string_view(d.hs_code).substr(0, static_cast<size_t>(hs_digits));
    case kOrigin:
      return d.origin_country;
    case kOffice:
      return d.office_id;
    case kImporter:
      return d.importer_id;
  }
  return {};
}

const char* FieldName(Field f) {
  switch (f) {
    case kHs:
      return "hs_code";
    case kOrigin:
      return "origin_country";
    case kOffice:
      return "office_id";
    case kImporter:
      return "importer_id";
  }
  return "";
}

Key KeyOf(const Declaration& d, const Family& f) {
  Key key;
  for (Field x : f.fields)
    key.emplace_back(FieldName(x), std::string(FieldValue(d, x, f.hs_digits)));
  return key;
}

std::string Describe(const Key& key) {
  std::string out;
  for (const auto& [k, v] : key) {
    if (!out.empty()) out += ", ";
    out += (k == "hs_code"          ? "HS "
            : k == "origin_country" ? "from "
            : k == "office_id"      ? "to office "
            : k == "finding"        ? "finding "
                                    : "importer ") +
           v;
  }
  return out;
}

// FNV-1a over the fields, each closed by 0x1f: a series' key in its family (a collision between
// two keys of one family would merge their series: about one in 10^8 for a million keys).
constexpr uint64_t kFnvBasis = 1469598103934665603ull;
uint64_t HashField(uint64_t h, std::string_view field) {
  for (unsigned char c : field) h = (h ^ c) * 1099511628211ull;
  return (h ^ 0x1f) * 1099511628211ull;
}

// Benjamini-Hochberg q-values, in the order of `p`.
std::vector<double> QValues(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  for (size_t i = 0; i < m; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> q(m);
  double running = 1;
  for (size_t r = m; r-- > 0;) {
    running = std::min(running, p[order[r]] * m / (r + 1));
    q[order[r]] = running;
  }
  return q;
}

// Whether `child` names a part of `parent`'s series: every field of the parent, with the same
// value (a longer HS code under the parent's), and more.
bool Refines(const HorizonSignal& child, const HorizonSignal& parent) {
  if (child.key.size() < parent.key.size()) return false;
  bool finer = child.key.size() > parent.key.size();
  for (const auto& field : parent.key) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
    const auto& k = field.first;
    const auto& v = field.second;
    auto it = std::find_if(child.key.begin(), child.key.end(),
                           [&](const auto& c) { return c.first == k; });
    if (it == child.key.end()) return false;
    if (k == "hs_code") {
      if (it->second.compare(0, v.size(), v) != 0) return false;
      finer |= it->second.size() > v.size();
    } else if (it->second != v) {
      return false;
    }
  }
  return finer;
}

// A signal another one of the same kind explains: a finer series that carries at least 80 % of
// its excess (declarations beyond the expected, or the recent count).
std::vector<HorizonSignal> WithoutNestedEchoes(std::vector<HorizonSignal> signals) {
  auto excess = [](const HorizonSignal& s) { return s.recent_count - s.expected_count; };
  std::vector<bool> drop(signals.size(), false);
  for (size_t p = 0; p < signals.size(); ++p)
    for (size_t c = 0; c < signals.size() && !drop[p]; ++c) {
      if (c == p || !Refines(signals[c], signals[p])) continue;
      const double ep = excess(signals[p]), ec = excess(signals[c]);
      if ((ep >= 0) == (ec >= 0) && std::abs(ec) >= 0.8 * std::abs(ep)) drop[p] = true;
    }
  std::vector<HorizonSignal> out;
  for (size_t i = 0; i < signals.size(); ++i)
    if (!drop[i]) out.push_back(std::move(signals[i]));
  return out;
}

// ---- The scan -----------------------------------------------------------------------------------

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
  // Where a share (weeks with / weeks all) changes most: the week that splits the weeks into two
  // with the largest likelihood of a binomial share of their own each (CUSUM places a change in
  // counts of one or two a week poorly).
  int32_t ShareChangePoint(const std::vector<int32_t>& with,
                           const std::vector<int32_t>& all) const {
    auto log_likelihood = [](double x, double n) {
      if (n <= 0) return 0.0;
      return (x > 0 ? x * std::log(x / n) : 0.0) + (n - x > 0 ? (n - x) * std::log1p(-x / n) : 0.0);
    };
    double x_total = 0, n_total = 0;
    for (size_t w = 0; w < nweeks; ++w) {
      x_total += with[w];
      n_total += all[w];
    }
    double x = 0, n = 0, best = -1e300;
    size_t at = static_cast<size_t>(-w0);
    for (size_t w = 0; w + 1 < nweeks; ++w) {
      x += with[w];
      n += all[w];
      if (n <= 0 || n >= n_total) continue;
      const double l = log_likelihood(x, n) + log_likelihood(x_total - x, n_total - n);
      if (l > best) {
        best = l;
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

Status MakeWindows(const DeclarationBatch& batch, Scan& c) {
  const HorizonOptions& o = c.o;
  HorizonReport& report = c.report;
  report.from = INT32_MAX;
  report.to = INT32_MIN;
  for (const auto& d : batch.rows) {
    report.from = std::min(report.from, d.date);
    report.to = std::max(report.to, d.date);
  }
  report.since = o.since;
  report.declarations = static_cast<int64_t>(batch.rows.size());
  report.baseline_weeks = o.baseline_weeks;
  report.fdr = o.fdr;
  c.base_from = std::max(report.from, o.since - 7 * o.baseline_weeks);
  if (o.since <= report.from || o.since - c.base_from < 28)
    return Status::InvalidArgument("--since " + FormatDate(o.since) +
                                   " leaves less than 4 weeks of history before it (the history "
                                   "starts " +
                                   FormatDate(report.from) + ")");
  if (o.since > report.to)
    return Status::InvalidArgument("--since " + FormatDate(o.since) +
                                   " is after the last declaration (" + FormatDate(report.to) +
                                   ")");
  c.base_days = o.since - c.base_from;
  c.recent_days = report.to - o.since + 1;
  c.w0 = c.WeekOf(c.base_from);
  c.w1 = c.WeekOf(report.to);
  c.nweeks = static_cast<size_t>(c.w1 - c.w0 + 1);
  c.market_weekly.assign(c.nweeks, 0);
  for (const Declaration& d : batch.rows) {
    const bool recent = d.date >= o.since, in_baseline = c.InBaseline(d.date);
    c.total_baseline += in_baseline;
    c.total_recent += recent;
    if (recent || in_baseline) ++c.market_weekly[c.Index(c.WeekOf(d.date))];
  }
  if (c.total_baseline == 0 || c.total_recent == 0)
    return Status::InvalidArgument("no declarations in the baseline or in the recent window");
  return Status::Ok();
}

// Every family's series over every row; families are independent, so the threads share them.
std::vector<std::vector<Acc>> AggregateDeclarations(const DeclarationBatch& batch, const Scan& c) {
  const auto& families = Families();
  std::vector<std::vector<Acc>> maps(families.size());
  std::vector<std::unordered_map<uint64_t, uint32_t>> index(families.size());
  auto aggregate = [&](size_t f) {
    const bool priced_family = f == kHs4 || f == kHs4Origin || f == kHs6Origin;
    for (size_t r = 0; r < batch.rows.size(); ++r) {
      const Declaration& d = batch.rows[r];
      const bool recent = d.date >= c.o.since, in_baseline = c.InBaseline(d.date);
      uint64_t h = kFnvBasis;
      for (Field x : families[f].fields) h = HashField(h, FieldValue(d, x, families[f].hs_digits));
      auto [it, added] = index[f].try_emplace(h, static_cast<uint32_t>(maps[f].size()));
      if (added) {
        maps[f].emplace_back();
        maps[f].back().row = r;
        maps[f].back().weekly.assign(c.nweeks, 0);
      }
      Acc& a = maps[f][it->second];
      if (!recent) ++a.before;
      if (in_baseline) ++a.baseline;
      if (recent) {
        ++a.recent;
        a.first_recent = std::min(a.first_recent, d.date);
      }
      if (!recent && !in_baseline) continue;
      const int32_t week = c.WeekOf(d.date);
      ++a.weekly[c.Index(week)];
      if (priced_family && d.net_mass_kg > 0 && d.declared_value > 0) {
        const double log_price = std::log(d.declared_value / d.net_mass_kg);
        (recent ? a.price_recent : a.price_baseline).push_back(log_price);
        a.price_weeks.push_back({week, static_cast<float>(log_price)});
      }
      if (d.inspected == 1 && d.fraud >= 0) {
        ++a.inspected[recent];
        a.hits[recent] += d.fraud == 1;
      }
    }
  };
  const size_t nthreads = static_cast<size_t>(std::clamp(c.o.threads, 1, 8));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < nthreads; ++t)
    pool.emplace_back([&, t] {
      for (size_t f = t; f < families.size(); f += nthreads) aggregate(f);
    });
  for (size_t f = 0; f < families.size(); f += nthreads) aggregate(f);
  for (auto& th : pool) th.join();
  return maps;
}

// ---- Volume shifts, with the series' own season -------------------------------------------------

// The baseline weeks that were the recent window's weeks in the years before (52, 104, ...
// weeks back; the same weeks exactly, since a steep season makes any weeks beside them a bias): a
// year only counts when the baseline holds at least half of its weeks.
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

// The variance of the log seasonal factors among a family's series, less their sampling noise
// (DerSimonian and Laird's moment estimator over the series with the season's weeks): how much
// the series of the family move apart with the seasons at all.
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

void TestVolumes(const DeclarationBatch& batch, const std::vector<std::vector<Acc>>& maps,
                 Scan& c) {
  // The market's own change: every series is expected to move with it.
  const double market =
      (c.total_recent / c.recent_days) / (static_cast<double>(c.total_baseline) / c.base_days);
  const double weeks_recent = c.recent_days / 7, weeks_base = c.base_days / 7;
  std::vector<size_t> season_weeks = SeasonWeeks(c);
  double season_market = 0;
  for (size_t w : season_weeks) season_market += c.market_weekly[w];
  // A market far thinner in those weeks than over the baseline is one still filling (a store that
  // began keeping declarations since, a history cut short), not a season: compared flat.
  if (!season_weeks.empty() &&
      season_market / season_weeks.size() < c.total_baseline / (3 * c.base_days / 7)) {
    season_weeks.clear();
    season_market = 0;
  }
  for (int f : {kHs2, kHs4, kHs2Origin, kHs4Origin, kOriginOnly, kRoute, kImporterOnly}) {
    // First what every series' baseline says of its season, for the family's view of seasons.
    struct Tested {
      const Acc* acc = nullptr;
      double pearson = 0;
      int weeks = 0;
      SeasonEvidence season;
    };
    std::vector<Tested> tested;
    std::vector<SeasonEvidence> evidence;
    for (const Acc& a : maps[f]) {
      if (a.baseline < 20) continue;  // too thin for a rate; new series are tested below
      // Over-dispersion beyond Poisson, of the weekly counts around the market's own weekly
      // profile scaled to this series (Pearson's statistic over the full baseline weeks): the
      // seasons every series shares are not taken for noise of its own.
      Tested t;
      t.acc = &a;
      const double share = static_cast<double>(a.baseline) / c.total_baseline;
      for (size_t w = c.FirstFullBaselineWeek(); w < c.Index(0); ++w) {
        const double e = share * c.market_weekly[w];
        if (e <= 0) continue;
        t.pearson += std::pow(a.weekly[w] - e, 2) / e;
        ++t.weeks;
      }
      t.season = SeasonOf(c, a, season_weeks, season_market, t.pearson, t.weeks);
      evidence.push_back(t.season);
      tested.push_back(std::move(t));
    }
    const double family_tau2 = FamilySeasonVariance(evidence);
    for (const Tested& t : tested) {
      const Acc& a = *t.acc;
      const Expectation season = Expect(t.season, family_tau2, a, t.pearson, t.weeks);
      const double expected = a.baseline * (c.recent_days / c.base_days) * market * season.factor;
      // The baseline's own count is noisy too: conditional on the series' total n, the recent
      // share is Binomial(n, pi0) under "the series moves with the market" (and its season): the
      // two-sample rate test, exact where it is small, else normal with the over-dispersion.
      const double total = static_cast<double>(a.recent) + season.baseline_count;
      const double pi0 = expected / (season.baseline_count + expected);
      HorizonSignal s;
      s.kind = "volume_shift";
      s.key = KeyOf(batch.rows[a.row], Families()[f]);
      s.p_value = TwoSidedBinomial(a.recent, total, pi0, season.phi);
      s.effect = a.recent / expected - 1;
      s.season_weight = season.weight;
      s.first_date = c.ChangePoint(a.weekly, c.market_weekly);
      s.summary = FormatFixed(a.baseline / weeks_base, 1) + " declarations a week before, " +
                  FormatFixed(a.recent / weeks_recent, 1) + " since (" +
                  (s.effect >= 0 ? "+" : "") + FormatFixed(100 * s.effect, 0) +
                  " % against the market's own change" +
                  (season.weight >= 0.05 ? std::string(" and the series' season") : "") + ")";
      s.series_unit = "declarations a week";
      s.series = c.Series(a.weekly);
      s.recent_count = a.recent;
      s.expected_count = expected;
      c.Add(std::move(s));
      c.report.tested["volume_shift"]++;
    }
  }
}

// ---- New routes and importers, prices, hit rates ------------------------------------------------

void TestNovelty(const DeclarationBatch& batch, const std::vector<std::vector<Acc>>& maps,
                 Scan& c) {
  const double history_days = c.o.since - c.report.from, weeks_recent = c.recent_days / 7;
  auto novelty = [&](const std::string& kind, int f) {
    // Every series of the family could have been new: all of them count as tested.
    c.report.tested[kind] += static_cast<int64_t>(maps[f].size());
    for (const Acc& a : maps[f]) {
      if (a.before > 0 || a.recent < c.o.min_recent_count) continue;
      // Under "a steady series, sparse by chance", each of its declarations falls in the recent
      // window with the window's share of the history: all n of them with that share to the n.
      HorizonSignal s;
      s.kind = kind;
      s.key = KeyOf(batch.rows[a.row], Families()[f]);
      s.p_value = std::pow(c.recent_days / (c.recent_days + history_days), a.recent);
      s.effect = a.recent / weeks_recent;
      s.first_date = a.first_recent;
      s.summary = "first declared " + FormatDate(a.first_recent) + ", " + std::to_string(a.recent) +
                  " declarations since (" + FormatFixed(a.recent / weeks_recent, 1) + " a week)";
      s.series_unit = "declarations a week";
      s.series = c.Series(a.weekly);
      s.recent_count = a.recent;
      c.Add(std::move(s));
    }
  };
  for (int f : {kHs4Origin, kHs6Origin, kRoute}) novelty("new_route", f);
  novelty("new_importer", kImporterOnly);
}

void TestPrices(const DeclarationBatch& batch, const std::vector<std::vector<Acc>>& maps, Scan& c) {
  // Weekly median unit price (weeks without a priced declaration are left out).
  auto price_series = [&](const Acc& a) {
    std::vector<std::vector<double>> by_week(c.nweeks);
    for (const auto& [w, lp] : a.price_weeks) by_week[c.Index(w)].push_back(lp);
    std::vector<std::pair<int32_t, double>> out;
    for (size_t w = 0; w < c.nweeks; ++w)
      if (!by_week[w].empty()) out.push_back({c.WeekStart(w), std::exp(Median(by_week[w]))});
    return out;
  };
  for (int f : {kHs4, kHs4Origin, kHs6Origin}) {
    for (const Acc& a : maps[f]) {
      if (a.price_baseline.size() < 10 || a.price_recent.size() < 5) continue;
      c.report.tested["price_drop"]++;
      HorizonSignal s;
      s.kind = "price_drop";
      s.key = KeyOf(batch.rows[a.row], Families()[f]);
      s.effect = std::exp(Median(a.price_recent) - Median(a.price_baseline)) - 1;
      s.p_value = MannWhitneyLower(a.price_baseline, a.price_recent);
      s.first_date = a.first_recent;
      s.summary = "median unit price " + FormatFixed(100 * s.effect, 0) + " % (" +
                  std::to_string(a.price_baseline.size()) + " declarations before, " +
                  std::to_string(a.price_recent.size()) + " since)";
      s.series_unit = "median unit price a week";
      s.series = price_series(a);
      s.recent_count = static_cast<int64_t>(a.price_recent.size());
      c.Add(std::move(s));
    }
  }
}

void TestHitRates(const DeclarationBatch& batch, const std::vector<std::vector<Acc>>& maps,
                  Scan& c) {
  for (int f : {kHs2, kHs4, kOriginOnly, kRoute, kImporterOnly}) {
    for (const Acc& a : maps[f]) {
      if (a.inspected[0] < 10 || a.inspected[1] < 10) continue;
      c.report.tested["hit_rate_shift"]++;
      const double p0 = static_cast<double>(a.hits[0]) / a.inspected[0],
                   p1 = static_cast<double>(a.hits[1]) / a.inspected[1];
      const double pooled = static_cast<double>(a.hits[0] + a.hits[1]) /
                            static_cast<double>(a.inspected[0] + a.inspected[1]);
      const double se =
          std::sqrt(pooled * (1 - pooled) * (1.0 / a.inspected[0] + 1.0 / a.inspected[1]));
      HorizonSignal s;
      s.kind = "hit_rate_shift";
      s.key = KeyOf(batch.rows[a.row], Families()[f]);
      s.p_value = se > 0 ? 2 * NormalUpper(std::abs(p1 - p0) / se) : 1;
      s.effect = p1 - p0;
      s.first_date = c.o.since;
      s.summary = "fraud found in " + FormatFixed(100 * p0, 0) + " % of " +
                  std::to_string(a.inspected[0]) + " inspections before, " +
                  FormatFixed(100 * p1, 0) + " % of " + std::to_string(a.inspected[1]) + " since";
      s.series_unit = "declarations a week";
      s.series = c.Series(a.weekly);
      s.recent_count = a.inspected[1];
      c.Add(std::move(s));
    }
  }
}

// ---- Finding shifts -----------------------------------------------------------------------------

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
      s.first_date = c.ShareChangePoint(fs.counts.weekly, route.weekly);
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

// ---- Ranking ------------------------------------------------------------------------------------

// Per kind: q-values over every series tested, the discoveries ranked, the weakest effects
// dropped (a discovery must also be large enough to matter).
void RankSignals(Scan& c) {
  for (auto& [kind, list] : c.by_kind) {
    std::vector<double> p;
    for (const auto& s : list) p.push_back(s.p_value);
    // Series tested without a candidate (new ones below the count) count towards m too.
    const size_t m = std::max<size_t>(list.size(), static_cast<size_t>(c.report.tested[kind]));
    p.resize(m, 1.0);
    const std::vector<double> q = QValues(p);
    std::vector<HorizonSignal> kept;
    for (size_t i = 0; i < list.size(); ++i) {
      HorizonSignal& s = list[i];
      s.q_value = q[i];
      s.score = -std::log10(std::max(q[i], 1e-300));
      const bool large = kind == "volume_shift"     ? std::abs(s.effect) >= 0.2
                         : kind == "price_drop"     ? s.effect <= -0.1
                         : kind == "hit_rate_shift" ? std::abs(s.effect) >= 0.05
                         : kind == "finding_shift"  ? std::abs(s.effect) >= 0.25
                                                    : true;
      if (s.q_value <= c.o.fdr && large) kept.push_back(std::move(s));
    }
    kept = WithoutNestedEchoes(std::move(kept));
    // Ties (Benjamini-Hochberg gives many signals one q-value) by effect, then by key, so the
    // order does not depend on the order the rows came in (a file, SQLite, PostgreSQL).
    std::sort(kept.begin(), kept.end(), [](const HorizonSignal& a, const HorizonSignal& b) {
      if (a.score != b.score) return a.score > b.score;
      if (std::abs(a.effect) != std::abs(b.effect)) return std::abs(a.effect) > std::abs(b.effect);
      return a.key < b.key;
    });
    if (static_cast<int>(kept.size()) > c.o.max_signals_per_kind)
      kept.resize(static_cast<size_t>(c.o.max_signals_per_kind));
    for (size_t i = 0; i < kept.size(); ++i) {
      kept[i].rank = static_cast<int>(i) + 1;
      c.report.signals.push_back(std::move(kept[i]));
    }
  }
}

Result<HorizonReport> Run(const DeclarationBatch& batch, const std::vector<HorizonScan>* scans,
                          const HorizonOptions& o) {
  if (batch.rows.empty()) return Status::InvalidArgument("no declarations to scan");
  if (!(o.fdr > 0 && o.fdr < 1)) return Status::InvalidArgument("fdr must be in (0, 1)");
  if (o.baseline_weeks < 4 || o.baseline_weeks > 520)
    return Status::InvalidArgument("baseline_weeks must be 4..520");
  HorizonReport report;
  Scan c(o, report);
  CS_RETURN_IF_ERROR(MakeWindows(batch, c));
  const std::vector<std::vector<Acc>> maps = AggregateDeclarations(batch, c);
  TestVolumes(batch, maps, c);
  TestNovelty(batch, maps, c);
  TestPrices(batch, maps, c);
  TestHitRates(batch, maps, c);
  if (scans) TestFindings(*scans, c);
  RankSignals(c);
  return report;
}

}  // namespace

Result<HorizonReport> ScanHorizon(const DeclarationBatch& batch, const HorizonOptions& options) {
  return Run(batch, nullptr, options);
}

Result<HorizonReport> ScanHorizon(const DeclarationBatch& batch,
                                  const std::vector<HorizonScan>& scans,
                                  const HorizonOptions& options) {
  return Run(batch, &scans, options);
}

}  // namespace clearsight
