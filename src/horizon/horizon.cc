#include "clearsight/horizon.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <unordered_map>

#include "clearsight/text.h"
#include "horizon/scan.h"

namespace clearsight {

namespace horizon_internal {

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

}  // namespace horizon_internal

namespace {

using namespace horizon_internal;

// ---- Tests --------------------------------------------------------------------------------------

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

// ---- The windows and the series -----------------------------------------------------------------

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

// ---- Volume shifts, with the series' own season (seasons.cc) ------------------------------------

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
