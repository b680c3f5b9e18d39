// Features of a threat's region and the classifiers of the realism measurement.
#include "training/realism_classify.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace clearsight::realism {

namespace {

constexpr int kFar = 1 << 20;

// City-block distance of every pixel to the nearest pixel where `target` is set (two passes).
std::vector<int> DistanceTo(const std::vector<uint8_t>& target, bool value, int w, int h) {
  std::vector<int> d(target.size(), kFar);
  for (size_t i = 0; i < d.size(); ++i)
    if ((target[i] != 0) == value) d[i] = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int& v = d[static_cast<size_t>(y) * w + x];
      if (x > 0) v = std::min(v, d[static_cast<size_t>(y) * w + x - 1] + 1);
      if (y > 0) v = std::min(v, d[static_cast<size_t>(y - 1) * w + x] + 1);
    }
  for (int y = h - 1; y >= 0; --y)
    for (int x = w - 1; x >= 0; --x) {
      int& v = d[static_cast<size_t>(y) * w + x];
      if (x + 1 < w) v = std::min(v, d[static_cast<size_t>(y) * w + x + 1] + 1);
      if (y + 1 < h) v = std::min(v, d[static_cast<size_t>(y + 1) * w + x] + 1);
    }
  return d;
}

double Mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double Sd(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = Mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

// A robust standard deviation: 1.4826 x the median absolute value (the residuals centre on 0).
double RobustSd(std::vector<double> v) {
  if (v.empty()) return 0;
  for (double& x : v) x = std::abs(x);
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return 1.4826 * v[v.size() / 2];
}

double Sigmoid(double z) { return 1 / (1 + std::exp(-std::clamp(z, -40.0, 40.0))); }

// Solves a x = b (n x n, row-major) by Gaussian elimination with partial pivoting.
std::vector<double> Solve(std::vector<double> a, std::vector<double> b) {
  const size_t n = b.size();
  for (size_t c = 0; c < n; ++c) {
    size_t p = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::abs(a[r * n + c]) > std::abs(a[p * n + c])) p = r;
    if (std::abs(a[p * n + c]) < 1e-12) continue;
    if (p != c) {
      for (size_t k = 0; k < n; ++k) std::swap(a[c * n + k], a[p * n + k]);
      std::swap(b[c], b[p]);
    }
    for (size_t r = c + 1; r < n; ++r) {
      const double f = a[r * n + c] / a[c * n + c];
      for (size_t k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(n, 0.0);
  for (size_t c = n; c-- > 0;) {
    double s = b[c];
    for (size_t k = c + 1; k < n; ++k) s -= a[c * n + k] * x[k];
    x[c] = std::abs(a[c * n + c]) < 1e-12 ? 0 : s / a[c * n + c];
  }
  return x;
}

}  // namespace

const std::vector<std::string>& FeatureNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const char* ch : {"low", "high"})
      for (const char* f : {"edge_gradient", "edge_curvature", "noise_inside_vs_outside",
                            "noise_inside", "noise_correlation_inside",
                            "noise_correlation_inside_minus_outside", "texture", "log_contrast"})
        out.push_back(std::string(f) + "_" + ch);
    out.push_back("ratio_inside");
    out.push_back("ratio_spread_inside");
    out.push_back("ratio_inside_minus_outside");
    return out;
  }();
  return names;
}

std::vector<double> FeaturesOf(const ThreatRegion& r) {
  const int w = r.width, h = r.height;
  if (w < 8 || h < 8) return {};
  const std::vector<int> d_in = DistanceTo(r.mask, false, w, h);  // mask pixels: to the outside
  const std::vector<int> d_out = DistanceTo(r.mask, true, w, h);  // others: to the mask
  auto at = [w](int x, int y) { return static_cast<size_t>(y) * w + x; };
  // Regions: the inside away from the edge (all of the mask when it is thin), the band 2 pixels
  // either side of the edge, and a ring 4..12 pixels outside.
  size_t deep = 0;
  for (size_t i = 0; i < r.mask.size(); ++i) deep += r.mask[i] && d_in[i] >= 3;
  const int inside_min = deep >= 16 ? 3 : 1;
  enum Kind : uint8_t { kNone, kInside, kEdge, kOutside };
  std::vector<uint8_t> kind(r.mask.size(), kNone);
  size_t counts[4] = {0, 0, 0, 0};
  for (int y = 1; y + 1 < h; ++y)
    for (int x = 1; x + 1 < w; ++x) {
      const size_t i = at(x, y);
      uint8_t k = kNone;
      if (r.mask[i]) k = d_in[i] >= inside_min ? kInside : kNone;
      if ((r.mask[i] && d_in[i] <= 2) || (!r.mask[i] && d_out[i] <= 2))
        k = k == kInside ? kInside : kEdge;
      if (!r.mask[i] && d_out[i] >= 4 && d_out[i] <= 12) k = kOutside;
      kind[i] = k;
      ++counts[k];
    }
  if (counts[kInside] < 8 || counts[kEdge] < 8 || counts[kOutside] < 16) return {};

  std::vector<double> out;
  for (int c = 0; c < 2; ++c) {
    const std::vector<float>& l = r.log_att[c];
    const std::vector<float>& t = r.transmission[c];
    std::vector<double> mask_l, out_l, in_l, grad, curv, res_in, res_out, t_in, t_out;
    double corr_in[2] = {0, 0}, corr_out[2] = {0, 0};  // sum r r', sum r^2
    auto residual = [&](int x, int y) {
      return t[at(x, y)] -
             (t[at(x - 1, y)] + t[at(x + 1, y)] + t[at(x, y - 1)] + t[at(x, y + 1)]) / 4.0;
    };
    for (int y = 2; y + 2 < h; ++y)
      for (int x = 2; x + 2 < w; ++x) {
        const size_t i = at(x, y);
        if (r.mask[i]) mask_l.push_back(l[i]);
        const uint8_t k = kind[i];
        if (k == kNone) continue;
        if (k == kEdge) {
          const double gx = (l[at(x + 1, y)] - l[at(x - 1, y)]) / 2,
                       gy = (l[at(x, y + 1)] - l[at(x, y - 1)]) / 2;
          grad.push_back(std::hypot(gx, gy));
          curv.push_back(std::abs(l[at(x + 1, y)] + l[at(x - 1, y)] + l[at(x, y + 1)] +
                                  l[at(x, y - 1)] - 4.0 * l[i]));
          continue;
        }
        const double res = residual(x, y);
        // Lag-1 correlation of the residual with its right and lower neighbours in the region.
        double* acc = k == kInside ? corr_in : corr_out;
        for (auto [nx, ny] : {std::pair{x + 1, y}, std::pair{x, y + 1}})
          if (kind[at(nx, ny)] == k) acc[0] += res * residual(nx, ny);
        acc[1] += res * res;
        if (k == kInside) {
          in_l.push_back(l[i]);
          res_in.push_back(res);
          t_in.push_back(t[i]);
        } else {
          out_l.push_back(l[i]);
          res_out.push_back(res);
          t_out.push_back(t[i]);
        }
      }
    if (in_l.size() < 4 || out_l.size() < 4 || grad.empty()) return {};
    const double contrast = Mean(mask_l) - Mean(out_l);
    const double scale = std::max(std::abs(contrast), 0.02);
    // Quantum noise grows as the square root of the transmission: compare noise per sqrt(T).
    const double noise_in = RobustSd(res_in) / std::sqrt(std::max(Mean(t_in), 1e-4));
    const double noise_out = RobustSd(res_out) / std::sqrt(std::max(Mean(t_out), 1e-4));
    const double c_in = corr_in[1] > 0 ? corr_in[0] / (2 * corr_in[1]) : 0;
    const double c_out = corr_out[1] > 0 ? corr_out[0] / (2 * corr_out[1]) : 0;
    out.push_back(Mean(grad) / scale);
    out.push_back(Mean(curv) / scale);
    out.push_back(std::log(std::max(noise_in, 1e-6) / std::max(noise_out, 1e-6)));
    out.push_back(std::log(std::max(noise_in, 1e-6)));
    out.push_back(c_in);
    out.push_back(c_in - c_out);
    out.push_back(Sd(in_l) / scale);
    out.push_back(std::log(std::max(contrast, 1e-3)));
  }
  // The low/high ratio of log attenuations, where the high image attenuates enough to divide by.
  std::vector<double> ratio_in, ratio_out;
  for (size_t i = 0; i < kind.size(); ++i) {
    if (r.log_att[1][i] < 0.05) continue;
    const double q = r.log_att[0][i] / r.log_att[1][i];
    if (r.mask[i]) ratio_in.push_back(q);
    if (kind[i] == kOutside) ratio_out.push_back(q);
  }
  const double q_in = ratio_in.empty() ? 1 : Mean(ratio_in);
  const double q_out = ratio_out.empty() ? q_in : Mean(ratio_out);
  out.push_back(q_in);
  out.push_back(Sd(ratio_in));
  out.push_back(q_in - q_out);
  for (double v : out)
    if (!std::isfinite(v)) return {};
  return out;
}

double LogisticModel::Score(const std::vector<double>& x) const {
  double z = weights[0];
  for (size_t j = 0; j < x.size(); ++j) z += weights[j + 1] * (x[j] - mean[j]) / sd[j];
  return z;
}

LogisticModel FitLogistic(const std::vector<std::vector<double>>& x, const std::vector<int>& y,
                          double lambda) {
  LogisticModel m;
  const size_t n = x.size(), p = n ? x[0].size() : 0, q = p + 1;
  m.mean.assign(p, 0.0);
  m.sd.assign(p, 1.0);
  for (size_t j = 0; j < p; ++j) {
    std::vector<double> col(n);
    for (size_t i = 0; i < n; ++i) col[i] = x[i][j];
    m.mean[j] = Mean(col);
    m.sd[j] = std::max(Sd(col), 1e-9);
  }
  std::vector<std::vector<double>> z(n, std::vector<double>(q, 1.0));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < p; ++j) z[i][j + 1] = (x[i][j] - m.mean[j]) / m.sd[j];
  m.weights.assign(q, 0.0);
  for (int iter = 0; iter < 30; ++iter) {
    std::vector<double> hess(q * q, 0.0), grad(q, 0.0);
    for (size_t i = 0; i < n; ++i) {
      double s = 0;
      for (size_t j = 0; j < q; ++j) s += m.weights[j] * z[i][j];
      const double pr = Sigmoid(s), wgt = std::max(pr * (1 - pr), 1e-9);
      for (size_t j = 0; j < q; ++j) {
        grad[j] += (y[i] - pr) * z[i][j];
        for (size_t k = 0; k < q; ++k) hess[j * q + k] += wgt * z[i][j] * z[i][k];
      }
    }
    for (size_t j = 1; j < q; ++j) {
      grad[j] -= lambda * m.weights[j];
      hess[j * q + j] += lambda;
    }
    const std::vector<double> step = Solve(hess, grad);
    double change = 0;
    for (size_t j = 0; j < q; ++j) {
      m.weights[j] += step[j];
      change = std::max(change, std::abs(step[j]));
    }
    if (change < 1e-8) break;
  }
  return m;
}

double BoostedStumps::Score(const std::vector<double>& x) const {
  double s = base;
  for (const Stump& st : stumps) s += x[st.feature] <= st.threshold ? st.left : st.right;
  return s;
}

BoostedStumps FitBoostedStumps(const std::vector<std::vector<double>>& x, const std::vector<int>& y,
                               int rounds, double shrinkage, int min_leaf) {
  BoostedStumps m;
  const size_t n = x.size(), p = n ? x[0].size() : 0;
  if (n == 0) return m;
  const double pos = std::accumulate(y.begin(), y.end(), 0.0);
  const double prior = std::clamp(pos / static_cast<double>(n), 1e-3, 1 - 1e-3);
  m.base = std::log(prior / (1 - prior));
  std::vector<std::vector<size_t>> order(p, std::vector<size_t>(n));
  for (size_t j = 0; j < p; ++j) {
    std::iota(order[j].begin(), order[j].end(), size_t{0});
    std::sort(order[j].begin(), order[j].end(),
              [&](size_t a, size_t b) { return x[a][j] < x[b][j]; });
  }
  std::vector<double> f(n, m.base), g(n), hs(n);
  for (int round = 0; round < rounds; ++round) {
    double g_total = 0, h_total = 0;
    for (size_t i = 0; i < n; ++i) {
      const double pr = Sigmoid(f[i]);
      g[i] = y[i] - pr;
      hs[i] = std::max(pr * (1 - pr), 1e-9);
      g_total += g[i];
      h_total += hs[i];
    }
    // The split with the largest gain of the second-order approximation of the loss.
    double best_gain = 0;
    BoostedStumps::Stump best;
    bool found = false;
    for (size_t j = 0; j < p; ++j) {
      double gl = 0, hl = 0;
      for (size_t k = 0; k + 1 < n; ++k) {
        const size_t i = order[j][k];
        gl += g[i];
        hl += hs[i];
        const double a = x[i][j], b = x[order[j][k + 1]][j];
        if (!(a < b) || static_cast<int>(k + 1) < min_leaf ||
            static_cast<int>(n - k - 1) < min_leaf)
          continue;
        const double gr = g_total - gl, hr = h_total - hl;
        const double gain = gl * gl / hl + gr * gr / hr - g_total * g_total / h_total;
        if (gain > best_gain) {
          best_gain = gain;
          best = {static_cast<int>(j), (a + b) / 2, shrinkage * gl / hl, shrinkage * gr / hr};
          found = true;
        }
      }
    }
    if (!found) break;
    for (size_t i = 0; i < n; ++i)
      f[i] += x[i][best.feature] <= best.threshold ? best.left : best.right;
    m.stumps.push_back(best);
  }
  return m;
}

}  // namespace clearsight::realism
