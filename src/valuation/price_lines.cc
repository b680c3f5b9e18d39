#include "valuation/price_lines.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>

namespace clearsight::valuation {

namespace {

constexpr double kLn2PiHalf = 0.91893853320467274;  // 0.5 * log(2 pi)
constexpr int kMaxD = 3;

struct Gauss {
  double mu[kMaxD];
  double s[kMaxD][kMaxD];
  double chol[kMaxD][kMaxD];
  double log_det_half;  // sum log diag(chol)
};

// Cholesky of s (d x d) into g->chol; false if not positive definite.
bool Factor(Gauss* g, int d) {
  for (int i = 0; i < d; ++i) {
    for (int j = 0; j <= i; ++j) {
      double v = g->s[i][j];
      for (int k = 0; k < j; ++k) v -= g->chol[i][k] * g->chol[j][k];
      if (i == j) {
        if (v <= 0) return false;
        g->chol[i][i] = std::sqrt(v);
      } else {
        g->chol[i][j] = v / g->chol[j][j];
      }
    }
  }
  g->log_det_half = 0;
  for (int i = 0; i < d; ++i) g->log_det_half += std::log(g->chol[i][i]);
  return true;
}

double LogPdf(const Gauss& g, const double* z, int d) {
  double v[kMaxD], q = 0;
  for (int i = 0; i < d; ++i) {
    double t = z[i] - g.mu[i];
    for (int k = 0; k < i; ++k) t -= g.chol[i][k] * v[k];
    v[i] = t / g.chol[i][i];
    q += v[i] * v[i];
  }
  return -0.5 * q - g.log_det_half - d * kLn2PiHalf;
}

double LogSumExp(const double* a, int n) {
  double m = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; ++i) m = std::max(m, a[i]);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(a[i] - m);
  return m + std::log(s);
}

struct Fit {
  double ll = -std::numeric_limits<double>::infinity();
  int k = 0;
  std::vector<double> weight;
  std::vector<Gauss> comp;
  double eps = 0;
};

Fit RunEm(const std::vector<std::array<double, kMaxD>>& z, int d, int k, const PriceLinesOptions& o,
          const double* var, double log_bg, std::mt19937_64& rng) {
  const size_t n = z.size();
  double sd[kMaxD];
  for (int j = 0; j < d; ++j) sd[j] = std::sqrt(var[j]) + 1e-12;
  Fit best;
  std::vector<double> r(n * k), rb(n), ll(k + 1);
  for (int start = 0; start < o.starts; ++start) {
    // k-means++ seeds in standardised coordinates.
    std::vector<size_t> seeds{std::uniform_int_distribution<size_t>(0, n - 1)(rng)};
    std::vector<double> dist(n, std::numeric_limits<double>::infinity());
    while (static_cast<int>(seeds.size()) < k) {
      double total = 0;
      for (size_t i = 0; i < n; ++i) {
        double dd = 0;
        for (int j = 0; j < d; ++j) {
          double t = (z[i][j] - z[seeds.back()][j]) / sd[j];
          dd += t * t;
        }
        dist[i] = std::min(dist[i], dd);
        total += dist[i];
      }
      if (total <= 0) {
        seeds.push_back(std::uniform_int_distribution<size_t>(0, n - 1)(rng));
        continue;
      }
      double u = std::uniform_real_distribution<double>(0, total)(rng), acc = 0;
      size_t pick = n - 1;
      for (size_t i = 0; i < n; ++i) {
        acc += dist[i];
        if (acc >= u) {
          pick = i;
          break;
        }
      }
      seeds.push_back(pick);
    }
    for (size_t i = 0; i < n; ++i) {
      int lab = 0;
      double bd = std::numeric_limits<double>::infinity();
      for (int c = 0; c < k; ++c) {
        double dd = 0;
        for (int j = 0; j < d; ++j) {
          double t = (z[i][j] - z[seeds[c]][j]) / sd[j];
          dd += t * t;
        }
        if (dd < bd) bd = dd, lab = c;
      }
      for (int c = 0; c < k; ++c) r[i * k + c] = c == lab ? 1 - o.background_start : 0;
      rb[i] = o.background_start;
    }
    Fit fit;
    fit.k = k;
    fit.weight.assign(k, 0);
    fit.comp.assign(k, Gauss{});
    double prev = -std::numeric_limits<double>::infinity(), obj = prev;
    bool degenerate = false;
    for (int it = 0; it < o.max_iterations; ++it) {
      // M step.
      double rb_sum = 0;
      for (size_t i = 0; i < n; ++i) rb_sum += rb[i];
      fit.eps = std::max(rb_sum / n, 1e-4);
      for (int c = 0; c < k; ++c) {
        Gauss& g = fit.comp[c];
        double nk = 1e-9;
        for (int j = 0; j < d; ++j) g.mu[j] = 0;
        for (size_t i = 0; i < n; ++i) {
          double w = r[i * k + c];
          nk += w;
          for (int j = 0; j < d; ++j) g.mu[j] += w * z[i][j];
        }
        for (int j = 0; j < d; ++j) g.mu[j] /= nk;
        for (int a = 0; a < d; ++a)
          for (int b = 0; b < d; ++b) g.s[a][b] = 0;
        for (size_t i = 0; i < n; ++i) {
          double w = r[i * k + c];
          if (w == 0) continue;
          double dz[kMaxD];
          for (int j = 0; j < d; ++j) dz[j] = z[i][j] - g.mu[j];
          for (int a = 0; a < d; ++a)
            for (int b = 0; b <= a; ++b) g.s[a][b] += w * dz[a] * dz[b];
        }
        for (int a = 0; a < d; ++a) {
          for (int b = 0; b <= a; ++b) {
            g.s[a][b] /= nk;
            g.s[b][a] = g.s[a][b];
          }
          g.s[a][a] += o.variance_floor * var[a];
        }
        fit.weight[c] = nk / n;
        if (!Factor(&g, d)) degenerate = true;
      }
      if (degenerate) break;
      // E step.
      obj = 0;
      for (size_t i = 0; i < n; ++i) {
        for (int c = 0; c < k; ++c)
          ll[c] = std::log(fit.weight[c] + 1e-300) + LogPdf(fit.comp[c], z[i].data(), d);
        ll[k] =
            o.background ? std::log(fit.eps) + log_bg : -std::numeric_limits<double>::infinity();
        double tot = LogSumExp(ll.data(), k + 1);
        obj += tot;
        for (int c = 0; c < k; ++c) r[i * k + c] = std::exp(ll[c] - tot);
        rb[i] = o.background ? std::exp(ll[k] - tot) : 0;
      }
      if (obj - prev < 1e-7 * std::fabs(obj)) break;
      prev = obj;
    }
    if (degenerate) continue;
    fit.ll = obj;
    if (fit.ll > best.ll) best = fit;
  }
  return best;
}

}  // namespace

PriceLines PriceLines::Fit(const std::vector<Point>& points, int dims, const PriceLinesOptions& o) {
  PriceLines pl;
  pl.dims_ = dims;
  pl.background_ = o.background;
  const int d = dims + 1;
  const size_t n = points.size();
  std::vector<std::array<double, kMaxD>> z(n);
  double lo[kMaxD], hi[kMaxD], mean[kMaxD] = {}, var[kMaxD] = {};
  for (int j = 0; j < d; ++j) lo[j] = std::numeric_limits<double>::infinity(), hi[j] = -lo[j];
  for (size_t i = 0; i < n; ++i) {
    for (int j = 0; j < dims; ++j) z[i][j] = points[i].x[j];
    z[i][dims] = points[i].y;
    for (int j = 0; j < d; ++j) {
      lo[j] = std::min(lo[j], z[i][j]);
      hi[j] = std::max(hi[j], z[i][j]);
      mean[j] += z[i][j];
    }
  }
  for (int j = 0; j < d; ++j) mean[j] /= std::max<size_t>(n, 1);
  for (size_t i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) var[j] += (z[i][j] - mean[j]) * (z[i][j] - mean[j]);
  for (int j = 0; j < d; ++j) var[j] = std::max(var[j] / std::max<size_t>(n, 1), 1e-6);
  double log_bg = 0;
  for (int j = 0; j < d; ++j) log_bg -= std::log(1.5 * (hi[j] - lo[j]) + 1e-6);
  std::mt19937_64 rng(o.seed);
  const PriceLinesOptions& opts = o;
  int max_k =
      std::max(1, std::min<int>(std::min(o.max_lines, kMaxLines), static_cast<int>(n / (3 * d))));
  double best_bic = std::numeric_limits<double>::infinity();
  struct Fit best;
  for (int k = 1; k <= max_k; ++k) {
    struct Fit f = RunEm(z, d, k, opts, var, log_bg, rng);
    if (f.k == 0) continue;
    double params = k * (d + d * (d + 1) / 2.0) + k;
    double bic = -2 * f.ll + params * std::log(static_cast<double>(n));
    if (bic < best_bic) best_bic = bic, best = f;
  }
  if (best.k == 0) {
    // Degenerate data (all identical): one tight line at the mean.
    best.k = 1;
    best.weight = {1.0};
    best.comp.assign(1, Gauss{});
    for (int j = 0; j < d; ++j) {
      best.comp[0].mu[j] = mean[j];
      for (int b = 0; b < d; ++b) best.comp[0].s[j][b] = j == b ? var[j] + 1e-4 : 0;
    }
    Factor(&best.comp[0], d);
    best.eps = 1e-4;
  }
  for (int c = 0; c < best.k; ++c) {
    const Gauss& g = best.comp[c];
    Line line{};
    line.my = g.mu[dims];
    double syy = g.s[dims][dims];
    if (dims == 1) {
      double sxx = g.s[0][0];
      line.mx[0] = g.mu[0];
      line.sxx_inv[0][0] = 1 / sxx;
      line.log_norm_x = -0.5 * std::log(sxx) - kLn2PiHalf;
      line.beta[0] = g.s[0][1] / sxx;
      line.sd = std::sqrt(std::max(syy - g.s[0][1] * line.beta[0], 1e-8));
    } else {
      double a = g.s[0][0], b = g.s[0][1], cc = g.s[1][1];
      double det = a * cc - b * b;
      line.mx[0] = g.mu[0];
      line.mx[1] = g.mu[1];
      line.sxx_inv[0][0] = cc / det;
      line.sxx_inv[0][1] = line.sxx_inv[1][0] = -b / det;
      line.sxx_inv[1][1] = a / det;
      line.log_norm_x = -0.5 * std::log(det) - 2 * kLn2PiHalf;
      double sxy0 = g.s[0][2], sxy1 = g.s[1][2];
      line.beta[0] = line.sxx_inv[0][0] * sxy0 + line.sxx_inv[0][1] * sxy1;
      line.beta[1] = line.sxx_inv[1][0] * sxy0 + line.sxx_inv[1][1] * sxy1;
      line.sd = std::sqrt(std::max(syy - (sxy0 * line.beta[0] + sxy1 * line.beta[1]), 1e-8));
    }
    line.log_weight = std::log(best.weight[c] + 1e-300);
    pl.lines_.push_back(line);
  }
  double ry = hi[dims] - lo[dims];
  pl.y_lo_ = lo[dims] - 0.25 * ry;
  pl.y_hi_ = hi[dims] + 0.25 * ry;
  // Background: joint density eps * uniform; its x-marginal and its y-conditional.
  pl.log_bg_x_ = std::log(best.eps) + log_bg + std::log(1.5 * ry + 1e-6);
  pl.log_bg_y_ = -std::log(1.5 * ry + 1e-6);
  return pl;
}

void PriceLines::Prepare(const double* x, double* log_wx, double* mean) const {
  const int k = static_cast<int>(lines_.size());
  for (int c = 0; c < k; ++c) {
    const Line& l = lines_[c];
    double dx0 = x[0] - l.mx[0], dx1 = dims_ == 2 ? x[1] - l.mx[1] : 0;
    double q = dims_ == 1 ? dx0 * dx0 * l.sxx_inv[0][0]
                          : dx0 * dx0 * l.sxx_inv[0][0] + 2 * dx0 * dx1 * l.sxx_inv[0][1] +
                                dx1 * dx1 * l.sxx_inv[1][1];
    log_wx[c] = l.log_weight + l.log_norm_x - 0.5 * q;
    mean[c] = l.my + dx0 * l.beta[0] + dx1 * l.beta[1];
  }
  log_wx[k] = log_bg_x_;
}

double PriceLines::LogHonest(double y, const double* log_wx, const double* mean) const {
  double t[kMaxLines + 1];
  const int k = static_cast<int>(lines_.size());
  for (int c = 0; c < k; ++c) {
    double u = (y - mean[c]) / lines_[c].sd;
    t[c] = log_wx[c] - 0.5 * u * u - std::log(lines_[c].sd) - kLn2PiHalf;
  }
  int n = k;
  if (background_)
    t[n++] = (y >= y_lo_ && y <= y_hi_) ? log_wx[k] + log_bg_y_
                                        : -std::numeric_limits<double>::infinity();
  return LogSumExp(t, n);
}

double PriceLines::Score(const double* x, double y) const {
  double log_wx[kMaxLines + 1], mean[kMaxLines + 1];
  Prepare(x, log_wx, mean);
  // The alternative: the declared price is an honest one times f, f log-spaced in [0.1, 0.7].
  constexpr int kGrid = 10;
  double alt[kGrid];
  for (int g = 0; g < kGrid; ++g) {
    double log_f = std::log(0.1) + (std::log(0.7) - std::log(0.1)) * g / (kGrid - 1);
    alt[g] = LogHonest(y - log_f, log_wx, mean);
  }
  double log_alt = LogSumExp(alt, kGrid) - std::log(static_cast<double>(kGrid));
  double score = log_alt - LogHonest(y, log_wx, mean);
  // Every comparison with an honest line is a likelihood ratio of finite densities, except far
  // outside the history's price range, where both can vanish: there, how far below counts.
  if (!std::isfinite(score)) score = y < y_lo_ ? 50.0 + (y_lo_ - y) : -50.0;
  return score;
}

double PriceLines::ExpectedLogPrice(const double* x) const {
  double log_wx[kMaxLines + 1], mean[kMaxLines + 1];
  Prepare(x, log_wx, mean);
  int best = 0;
  for (int c = 1; c < static_cast<int>(lines_.size()); ++c)
    if (log_wx[c] > log_wx[best]) best = c;
  return mean[best];
}

}  // namespace clearsight::valuation
