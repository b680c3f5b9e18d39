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

std::vector<std::pair<std::string, std::string>> KeyOf(const Declaration& d, const Family& f) {
  std::vector<std::pair<std::string, std::string>> key;
  for (Field x : f.fields)
    key.emplace_back(FieldName(x), std::string(FieldValue(d, x, f.hs_digits)));
  return key;
}

std::string Describe(const std::vector<std::pair<std::string, std::string>>& key) {
  std::string out;
  for (const auto& [k, v] : key) {
    if (!out.empty()) out += ", ";
    out += (k == "hs_code"          ? "HS "
            : k == "origin_country" ? "from "
            : k == "office_id"      ? "to office "
                                    : "importer ") +
           v;
  }
  return out;
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

}  // namespace

Result<HorizonReport> ScanHorizon(const DeclarationBatch& batch, const HorizonOptions& o) {
  if (batch.rows.empty()) return Status::InvalidArgument("no declarations to scan");
  if (!(o.fdr > 0 && o.fdr < 1)) return Status::InvalidArgument("fdr must be in (0, 1)");
  if (o.baseline_weeks < 4 || o.baseline_weeks > 520)
    return Status::InvalidArgument("baseline_weeks must be 4..520");
  HorizonReport report;
  report.from = INT32_MAX;
  report.to = INT32_MIN;
  for (const auto& d : batch.rows) {
    report.from = std::min(report.from, d.date);
    report.to = std::max(report.to, d.date);
  }
  report.since = o.since;
  report.declarations = static_cast<int64_t>(batch.rows.size());
  const int32_t base_from = std::max(report.from, o.since - 7 * o.baseline_weeks);
  if (o.since <= report.from || o.since - base_from < 28)
    return Status::InvalidArgument("--since " + FormatDate(o.since) +
                                   " leaves less than 4 weeks of history before it (the history "
                                   "starts " +
                                   FormatDate(report.from) + ")");
  if (o.since > report.to)
    return Status::InvalidArgument("--since " + FormatDate(o.since) +
                                   " is after the last declaration (" + FormatDate(report.to) +
                                   ")");
  const double base_days = o.since - base_from, recent_days = report.to - o.since + 1;
  // Weeks from base_from's week to the last; week w starts at since + 7 w.
  auto week_of = [&](int32_t date) {
    return static_cast<int32_t>(std::floor((date - o.since) / 7.0));
  };
  const int32_t w0 = week_of(base_from), w1 = week_of(report.to);
  const size_t nweeks = static_cast<size_t>(w1 - w0 + 1);

  const auto& families = Families();
  // Per family, the series by a 64-bit hash of their key fields (a collision between two keys
  // of one family would merge their series: about one in 10^8 for a million keys).
  std::vector<std::vector<Acc>> maps(families.size());
  std::vector<std::unordered_map<uint64_t, uint32_t>> index(families.size());
  int64_t total_baseline = 0, total_recent = 0;
  std::vector<double> market_weekly(nweeks, 0);
  for (const Declaration& d : batch.rows) {
    const bool recent = d.date >= o.since, in_baseline = !recent && d.date >= base_from;
    total_baseline += in_baseline;
    total_recent += recent;
    if (recent || in_baseline) ++market_weekly[static_cast<size_t>(week_of(d.date) - w0)];
  }
  // One family's series over every row; families are independent, so the threads share them.
  auto aggregate = [&](size_t f) {
    const bool priced_family = f == kHs4 || f == kHs4Origin || f == kHs6Origin;
    for (size_t r = 0; r < batch.rows.size(); ++r) {
      const Declaration& d = batch.rows[r];
      const bool recent = d.date >= o.since, in_baseline = !recent && d.date >= base_from;
      uint64_t h = 1469598103934665603ull;  // FNV-1a over the fields, each closed by 0x1f
      for (Field x : families[f].fields) {
        for (unsigned char c : FieldValue(d, x, families[f].hs_digits))
          h = (h ^ c) * 1099511628211ull;
        h = (h ^ 0x1f) * 1099511628211ull;
      }
      auto [it, added] = index[f].try_emplace(h, static_cast<uint32_t>(maps[f].size()));
      if (added) {
        maps[f].emplace_back();
        maps[f].back().row = r;
        maps[f].back().weekly.assign(nweeks, 0);
      }
      Acc& a = maps[f][it->second];
      if (!recent) ++a.before;
      if (in_baseline) ++a.baseline;
      if (recent) {
        ++a.recent;
        a.first_recent = std::min(a.first_recent, d.date);
      }
      if (!recent && !in_baseline) continue;
      const int32_t week = week_of(d.date);
      ++a.weekly[static_cast<size_t>(week - w0)];
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
  {
    const size_t nthreads = static_cast<size_t>(std::clamp(o.threads, 1, 8));
    std::vector<std::thread> pool;
    for (size_t t = 1; t < nthreads; ++t)
      pool.emplace_back([&, t] {
        for (size_t f = t; f < families.size(); f += nthreads) aggregate(f);
      });
    for (size_t f = 0; f < families.size(); f += nthreads) aggregate(f);
    for (auto& th : pool) th.join();
  }
  if (total_baseline == 0 || total_recent == 0)
    return Status::InvalidArgument("no declarations in the baseline or in the recent window");
  // The market's own change: every series is expected to move with it.
  const double market = (total_recent / recent_days) / (total_baseline / base_days);

  std::map<std::string, std::vector<HorizonSignal>> by_kind;
  auto series_of = [&](const Acc& a) {
    std::vector<std::pair<int32_t, double>> out;
    for (size_t w = 0; w < nweeks; ++w)
      out.push_back({o.since + 7 * (static_cast<int32_t>(w) + w0), a.weekly[w]});
    return out;
  };
  // Weekly median unit price (weeks without a priced declaration are left out).
  auto price_series = [&](const Acc& a) {
    std::vector<std::vector<double>> by_week(nweeks);
    for (const auto& [w, lp] : a.price_weeks) by_week[static_cast<size_t>(w - w0)].push_back(lp);
    std::vector<std::pair<int32_t, double>> out;
    for (size_t w = 0; w < nweeks; ++w)
      if (!by_week[w].empty())
        out.push_back({o.since + 7 * (static_cast<int32_t>(w) + w0), std::exp(Median(by_week[w]))});
    return out;
  };
  // Where a count series changes most: the end of the largest cumulative deviation from its share
  // of the market's weekly counts (so the seasons all series share are not taken for a change).
  auto change_point = [&](const Acc& a) {
    double series_total = 0, market_total = 0;
    for (size_t w = 0; w < nweeks; ++w) {
      series_total += a.weekly[w];
      market_total += market_weekly[w];
    }
    const double share = market_total > 0 ? series_total / market_total : 0;
    double s = 0, best = -1;
    size_t at = static_cast<size_t>(-w0);
    for (size_t w = 0; w + 1 < nweeks; ++w) {
      s += a.weekly[w] - share * market_weekly[w];
      if (std::abs(s) > best) {
        best = std::abs(s);
        at = w + 1;
      }
    }
    return o.since + 7 * (static_cast<int32_t>(at) + w0);
  };
  auto add = [&](const std::string& kind, const Acc& a, const Family& f, double p, double effect,
                 int32_t first_date, std::string summary, std::string unit,
                 std::vector<std::pair<int32_t, double>> series, int64_t recent_count,
                 double expected_count) {
    HorizonSignal s;
    s.kind = kind;
    s.recent_count = recent_count;
    s.expected_count = expected_count;
    s.key = KeyOf(batch.rows[a.row], f);
    s.p_value = std::clamp(p, 0.0, 1.0);
    s.effect = effect;
    s.first_date = first_date;
    s.summary = Describe(s.key) + ": " + summary;
    s.series_unit = std::move(unit);
    s.series = std::move(series);
    by_kind[kind].push_back(std::move(s));
  };

  const double weeks_recent = recent_days / 7, weeks_base = base_days / 7;
  for (int f : {kHs2, kHs4, kHs2Origin, kHs4Origin, kOriginOnly, kRoute, kImporterOnly}) {
    for (const Acc& a : maps[f]) {
      if (a.baseline < 20) continue;  // too thin for a rate; new series are tested below
      const double expected = a.baseline * (recent_days / base_days) * market;
      // Over-dispersion beyond Poisson, of the weekly counts around the market's own weekly
      // profile scaled to this series (Pearson's statistic over the full baseline weeks): the
      // seasons every series shares are not taken for noise of its own.
      const double share = static_cast<double>(a.baseline) / total_baseline;
      double pearson = 0;
      int n = 0;
      for (int32_t w = std::max(w0 + 1, -o.baseline_weeks); w < 0; ++w) {
        const double e = share * market_weekly[static_cast<size_t>(w - w0)];
        if (e <= 0) continue;
        pearson += std::pow(a.weekly[static_cast<size_t>(w - w0)] - e, 2) / e;
        ++n;
      }
      const double phi = n > 1 ? std::max(1.0, pearson / (n - 1)) : 1.0;
      // The baseline's own count is noisy too: conditional on the series' total n, the recent
      // share is Binomial(n, pi0) under "the series moves with the market" (the two-sample rate
      // test), exact where it is small, else normal with the over-dispersion.
      const int64_t total = a.baseline + a.recent;
      const double pi0 = expected / (a.baseline + expected);
      double p;
      if (phi < 1.5 && total * pi0 * (1 - pi0) < 200) {
        p = 2 * std::min(BinomialUpper(a.recent, total, pi0), BinomialLower(a.recent, total, pi0));
      } else {
        const double z =
            std::abs(a.recent - total * pi0) / std::sqrt(phi * total * pi0 * (1 - pi0));
        p = 2 * NormalUpper(z);
      }
      const double effect = a.recent / expected - 1;
      add("volume_shift", a, Families()[f], p, effect, change_point(a),
          FormatFixed(a.baseline / weeks_base, 1) + " declarations a week before, " +
              FormatFixed(a.recent / weeks_recent, 1) + " since (" + (effect >= 0 ? "+" : "") +
              FormatFixed(100 * effect, 0) + " % against the market's own change)",
          "declarations a week", series_of(a), a.recent, expected);
      report.tested["volume_shift"]++;
    }
  }
  const double history_days = o.since - report.from;
  auto novelty = [&](const std::string& kind, int f) {
    // Every series of the family could have been new: all of them count as tested.
    report.tested[kind] += static_cast<int64_t>(maps[f].size());
    for (const Acc& a : maps[f]) {
      if (a.before > 0 || a.recent < o.min_recent_count) continue;
      // Under "a steady series, sparse by chance", each of its declarations falls in the recent
      // window with the window's share of the history: all n of them with that share to the n.
      const double p = std::pow(recent_days / (recent_days + history_days), a.recent);
      add(kind, a, Families()[f], p, a.recent / weeks_recent, a.first_recent,
          "first declared " + FormatDate(a.first_recent) + ", " + std::to_string(a.recent) +
              " declarations since (" + FormatFixed(a.recent / weeks_recent, 1) + " a week)",
          "declarations a week", series_of(a), a.recent, 0);
    }
  };
  for (int f : {kHs4Origin, kHs6Origin, kRoute}) novelty("new_route", f);
  novelty("new_importer", kImporterOnly);
  for (int f : {kHs4, kHs4Origin, kHs6Origin}) {
    for (const Acc& a : maps[f]) {
      if (a.price_baseline.size() < 10 || a.price_recent.size() < 5) continue;
      report.tested["price_drop"]++;
      const double effect = std::exp(Median(a.price_recent) - Median(a.price_baseline)) - 1;
      const double p = MannWhitneyLower(a.price_baseline, a.price_recent);
      add("price_drop", a, Families()[f], p, effect, a.first_recent,
          "median unit price " + FormatFixed(100 * effect, 0) + " % (" +
              std::to_string(a.price_baseline.size()) + " declarations before, " +
              std::to_string(a.price_recent.size()) + " since)",
          "median unit price a week", price_series(a), static_cast<int64_t>(a.price_recent.size()),
          0);
    }
  }
  for (int f : {kHs2, kHs4, kOriginOnly, kRoute, kImporterOnly}) {
    for (const Acc& a : maps[f]) {
      if (a.inspected[0] < 10 || a.inspected[1] < 10) continue;
      report.tested["hit_rate_shift"]++;
      const double p0 = static_cast<double>(a.hits[0]) / a.inspected[0],
                   p1 = static_cast<double>(a.hits[1]) / a.inspected[1];
      const double pooled = static_cast<double>(a.hits[0] + a.hits[1]) /
                            static_cast<double>(a.inspected[0] + a.inspected[1]);
      const double se =
          std::sqrt(pooled * (1 - pooled) * (1.0 / a.inspected[0] + 1.0 / a.inspected[1]));
      const double p = se > 0 ? 2 * NormalUpper(std::abs(p1 - p0) / se) : 1;
      add("hit_rate_shift", a, Families()[f], p, p1 - p0, o.since,
          "fraud found in " + FormatFixed(100 * p0, 0) + " % of " + std::to_string(a.inspected[0]) +
              " inspections before, " + FormatFixed(100 * p1, 0) + " % of " +
              std::to_string(a.inspected[1]) + " since",
          "declarations a week", series_of(a), a.inspected[1], 0);
    }
  }
  // Per kind: q-values over every series tested, the discoveries ranked, the weakest effects
  // dropped (a discovery must also be large enough to matter).
  for (auto& [kind, list] : by_kind) {
    std::vector<double> p;
    for (const auto& s : list) p.push_back(s.p_value);
    // Series tested without a candidate (new ones below the count) count towards m too.
    const size_t m = std::max<size_t>(list.size(), static_cast<size_t>(report.tested[kind]));
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
                                                    : true;
      if (s.q_value <= o.fdr && large) kept.push_back(std::move(s));
    }
    kept = WithoutNestedEchoes(std::move(kept));
    std::sort(kept.begin(), kept.end(), [](const HorizonSignal& a, const HorizonSignal& b) {
      if (a.score != b.score) return a.score > b.score;
      return std::abs(a.effect) > std::abs(b.effect);
    });
    if (static_cast<int>(kept.size()) > o.max_signals_per_kind)
      kept.resize(static_cast<size_t>(o.max_signals_per_kind));
    for (size_t i = 0; i < kept.size(); ++i) {
      kept[i].rank = static_cast<int>(i) + 1;
      report.signals.push_back(std::move(kept[i]));
    }
  }
  return report;
}

}  // namespace clearsight
