#include "valuation/reference_choice.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace clearsight::valuation {

namespace {

// Share of the Gaussian tail in a calibrator: small, so the empirical tail decides within the
// honest range, and the Gaussian ranks what lies beyond it.
constexpr double kGaussianShare = 0.01;
constexpr double kInjectLow = 0.2, kInjectHigh = 0.6;
constexpr int kInjectionsPerRow = 2;

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// log P(Z >= z) for a standard Gaussian, without underflow far out.
double LogGaussianTail(double z) {
  if (z < 25) return std::log(0.5 * std::erfc(z / std::sqrt(2.0)));
  return -0.5 * z * z - std::log(z) - 0.5 * std::log(2 * M_PI);
}

// Recall of injected rows at the statistic threshold that lets through 5 % of the honest rows.
std::vector<bool> Hits(std::vector<double> honest, const std::vector<double>& injected) {
  std::sort(honest.begin(), honest.end(), std::greater<>());
  double thr = honest[static_cast<size_t>(std::floor(0.05 * honest.size()))];
  std::vector<bool> hit(injected.size());
  for (size_t i = 0; i < injected.size(); ++i) hit[i] = injected[i] > thr;
  return hit;
}

}  // namespace

const char* ReferenceName(Reference r) {
  switch (r) {
    case Reference::kMedian:
      return "median";
    case Reference::kImporter:
      return "importer";
    default:
      return "price lines";
  }
}

double RobustSpread(std::vector<double> v) {
  if (v.empty()) return 1e-3;
  double med = Median(v);
  for (double& x : v) x = std::fabs(x - med);
  return std::max(1.4826 * Median(std::move(v)), 1e-3);
}

TailCalibrator TailCalibrator::Fit(std::vector<double> honest) {
  TailCalibrator c;
  std::sort(honest.begin(), honest.end());
  c.center_ = honest.empty() ? 0 : honest[honest.size() / 2];
  c.scale_ = RobustSpread(honest);
  c.sorted_ = std::move(honest);
  return c;
}

TailCalibrator TailCalibrator::Gaussian() { return TailCalibrator(); }

double TailCalibrator::LogUpperTail(double t) const {
  double log_gauss = LogGaussianTail((t - center_) / scale_);
  const size_t n = sorted_.size();
  if (n == 0) return log_gauss;
  // Plotting positions: the i-th smallest honest value has upper tail (n - i - 0.5) / n.
  double emp;
  if (t <= sorted_.front()) {
    emp = 1;
  } else if (t > sorted_.back()) {
    emp = 0;
  } else {
    size_t i =
        static_cast<size_t>(std::upper_bound(sorted_.begin(), sorted_.end(), t) - sorted_.begin()) -
        1;
    double qi = (n - i - 0.5) / n;
    if (i + 1 >= n) {
      emp = qi;
    } else {
      double q1 = (n - i - 1.5) / n, span = sorted_[i + 1] - sorted_[i];
      emp = span > 0 ? qi + (q1 - qi) * (t - sorted_[i]) / span : q1;
    }
  }
  if (emp <= 0) return std::log(kGaussianShare) + log_gauss;
  return std::log((1 - kGaussianShare) * emp + kGaussianShare * std::exp(log_gauss));
}

ReferenceModel ReferenceModel::Fit(Reference kind, const std::vector<Flow>& flows, int dims,
                                   const ReferenceOptions& options) {
  ReferenceModel m;
  m.kind_ = kind;
  std::vector<double> y;
  y.reserve(flows.size());
  for (const Flow& f : flows) y.push_back(f.p.y);
  m.median_ = Median(y);
  if (kind == Reference::kLines) {
    std::vector<Point> pts;
    pts.reserve(flows.size());
    for (const Flow& f : flows) pts.push_back(f.p);
    // Large groups are fitted on a seeded sample: the lines are as clear in 3,000 flows.
    if (pts.size() > 3000) {
      std::mt19937_64 rng(options.seed);
      std::shuffle(pts.begin(), pts.end(), rng);
      pts.resize(3000);
    }
    PriceLinesOptions po;
    po.seed = options.seed;
    po.max_lines =
        static_cast<int>(flows.size()) >= options.min_mixture_flows ? options.max_lines : 1;
    m.lines_ = PriceLines::Fit(pts, dims, po);
  }
  if (kind != Reference::kImporter || flows.size() < 10) return m;
  // Importers' own price levels, by empirical Bayes: each importer's clipped mean log price
  // relative to the median is shrunk by tau^2 / (tau^2 + sigma^2 / n), where tau^2 is the spread
  // of true importer levels beyond what chance gives. Where importers do not really differ
  // (tau^2 ~ 0) the offsets vanish; where they do, a trader is compared with itself.
  std::unordered_map<std::string, std::vector<double>> res;
  for (const Flow& f : flows) res[f.importer].push_back(f.p.y - m.median_);
  double sigma = RobustSpread(y);
  // The noise of an importer's clipped mean: the clipped residuals' own variance (heavier tails
  // than the MAD suggests would otherwise pass for importer differences).
  double sigma2 = 0;
  for (double v : y) {
    double c = std::clamp(v - m.median_, -3 * sigma, 3 * sigma);
    sigma2 += c * c;
  }
  sigma2 = std::max(sigma2 / y.size(), 1e-6);
  std::vector<std::pair<std::string, std::pair<double, int>>> means;
  for (auto& [imp, r] : res) {
    if (static_cast<int>(r.size()) < options.importer_min_flows) continue;
    double s = 0;
    for (double v : r) s += std::clamp(v, -3 * sigma, 3 * sigma);
    means.push_back({imp, {s / r.size(), static_cast<int>(r.size())}});
  }
  if (means.size() < 3) return m;
  // Spread of the importers' means around their own average (a skewed residual distribution
  // moves every clipped mean alike; that is not an importer effect).
  double avg = 0, var = 0, noise = 0;
  for (const auto& [imp, mn] : means) avg += mn.first / means.size();
  for (auto& [imp, mn] : means) {
    mn.first -= avg;
    var += mn.first * mn.first;
    noise += sigma2 / mn.second;
  }
  double tau2 = std::max(0.0, (var - noise) / means.size());
  for (const auto& [imp, mn] : means) {
    double shrink = tau2 / (tau2 + sigma2 / mn.second);
    if (shrink > 0.05) m.importers_[imp] = mn.first * shrink;
  }
  return m;
}

double ReferenceModel::ExpectedLogPrice(const Flow& f, double* offset) const {
  *offset = 0;
  if (kind_ == Reference::kLines) return lines_.ExpectedLogPrice(f.p.x);
  if (kind_ == Reference::kImporter) {
    auto it = importers_.find(f.importer);
    if (it != importers_.end()) *offset = it->second;
  }
  return median_ + *offset;
}

double ReferenceModel::Statistic(const Flow& f) const {
  if (kind_ == Reference::kLines) return lines_.Score(f.p.x, f.p.y);
  double offset;
  return ExpectedLogPrice(f, &offset) - f.p.y;
}

ReferenceChoice ChooseReference(const std::vector<Flow>& flows, int dims,
                                const ReferenceOptions& options) {
  const size_t n = flows.size();
  const bool compare = static_cast<int>(n) >= options.choice_min_flows;
  const std::vector<Reference> kinds =
      compare ? std::vector<Reference>{Reference::kMedian, Reference::kImporter, Reference::kLines}
              : std::vector<Reference>{Reference::kMedian};
  std::mt19937_64 rng(options.seed);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  const size_t folds = std::max<size_t>(1, std::min<size_t>(options.folds, n));
  std::vector<size_t> fold(n);
  for (size_t i = 0; i < n; ++i) fold[order[i]] = i % folds;
  std::uniform_real_distribution<double> u(kInjectLow, kInjectHigh);
  std::vector<double> log_factor(n * kInjectionsPerRow);
  for (double& lf : log_factor) lf = std::log(u(rng));
  std::vector<std::vector<double>> honest(kinds.size(), std::vector<double>(n));
  std::vector<std::vector<double>> injected(kinds.size(),
                                            std::vector<double>(n * kInjectionsPerRow));
  for (size_t f = 0; f < folds; ++f) {
    std::vector<Flow> train;
    train.reserve(n);
    for (size_t i = 0; i < n; ++i)
      if (fold[i] != f || folds == 1) train.push_back(flows[i]);
    for (size_t k = 0; k < kinds.size(); ++k) {
      ReferenceOptions o = options;
      o.seed = options.seed + 131 * f + k;
      ReferenceModel m = ReferenceModel::Fit(kinds[k], train, dims, o);
      for (size_t i = 0; i < n; ++i) {
        if (fold[i] != f) continue;
        honest[k][i] = m.Statistic(flows[i]);
        for (int j = 0; j < kInjectionsPerRow; ++j) {
          Flow g = flows[i];
          g.p.y += log_factor[i * kInjectionsPerRow + j];
          injected[k][i * kInjectionsPerRow + j] = m.Statistic(g);
        }
      }
    }
  }
  ReferenceChoice c;
  size_t chosen = 0;
  if (compare) {
    // Another candidate replaces the median only if it finds more injected rows by a margin that
    // chance (two standard errors of the paired difference) and noise (1 point) do not explain.
    std::vector<std::vector<bool>> hits;
    for (size_t k = 0; k < kinds.size(); ++k) {
      hits.push_back(Hits(honest[k], injected[k]));
      double r = 0;
      for (bool h : hits[k]) r += h;
      c.recall.push_back(r / hits[k].size());
    }
    double best_gain = 0;
    const double m = static_cast<double>(hits[0].size());
    for (size_t k = 1; k < kinds.size(); ++k) {
      double mean = 0, sq = 0;
      for (size_t i = 0; i < hits[0].size(); ++i) {
        double d = static_cast<double>(hits[k][i]) - static_cast<double>(hits[0][i]);
        mean += d;
        sq += d * d;
      }
      mean /= m;
      double se = std::sqrt(std::max(sq / m - mean * mean, 0.0) / m);
      if (mean > std::max(0.01, 2 * se) && mean > best_gain) best_gain = mean, chosen = k;
    }
  }
  c.model = ReferenceModel::Fit(kinds[chosen], flows, dims, options);
  c.oof_statistic = std::move(honest[chosen]);
  c.oof_median_residual.resize(n);
  // The median candidate is always first; its statistic is minus the residual.
  for (size_t i = 0; i < n; ++i)
    c.oof_median_residual[i] = chosen == 0 ? -c.oof_statistic[i] : -honest[0][i];
  return c;
}

}  // namespace clearsight::valuation
