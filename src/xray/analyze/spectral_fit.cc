#include "xray/analyze/spectral_fit.h"

#include <algorithm>
#include <cmath>

namespace clearsight::xray {
namespace {

// Solves min |A x - b| subject to x >= 0 (Lawson and Hanson), A row-major m x n. The inner least
// squares problems go through the normal equations: n is a few dozen here.
bool Nnls(const std::vector<double>& a, const std::vector<double>& b, size_t m, size_t n,
          std::vector<double>* x_out) {
  std::vector<double> x(n, 0), w(n), z(n);
  std::vector<bool> passive(n, false);
  auto gradient = [&] {
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (size_t i = 0; i < m; ++i) {
        double r = b[i];
        for (size_t k = 0; k < n; ++k) r -= a[i * n + k] * x[k];
        s += a[i * n + j] * r;
      }
      w[j] = s;
    }
  };
  // Least squares on the passive set into z (Cholesky of the normal equations, tiny ridge).
  auto solve_passive = [&]() -> bool {
    std::vector<size_t> p;
    for (size_t j = 0; j < n; ++j)
      if (passive[j]) p.push_back(j);
    const size_t q = p.size();
    std::vector<double> g(q * q, 0), h(q, 0);
    for (size_t r = 0; r < q; ++r) {
      for (size_t c = 0; c <= r; ++c) {
        double s = 0;
        for (size_t i = 0; i < m; ++i) s += a[i * n + p[r]] * a[i * n + p[c]];
        g[r * q + c] = g[c * q + r] = s;
      }
      g[r * q + r] += 1e-12;
      for (size_t i = 0; i < m; ++i) h[r] += a[i * n + p[r]] * b[i];
    }
    for (size_t c = 0; c < q; ++c) {  // in-place Cholesky, lower triangle
      double d = g[c * q + c];
      for (size_t k = 0; k < c; ++k) d -= g[c * q + k] * g[c * q + k];
      if (!(d > 0)) return false;
      g[c * q + c] = std::sqrt(d);
      for (size_t r = c + 1; r < q; ++r) {
        double s = g[r * q + c];
        for (size_t k = 0; k < c; ++k) s -= g[r * q + k] * g[c * q + k];
        g[r * q + c] = s / g[c * q + c];
      }
    }
    std::vector<double> y(q);
    for (size_t r = 0; r < q; ++r) {
      double s = h[r];
      for (size_t k = 0; k < r; ++k) s -= g[r * q + k] * y[k];
      y[r] = s / g[r * q + r];
    }
    for (size_t r = q; r-- > 0;) {
      double s = y[r];
      for (size_t k = r + 1; k < q; ++k) s -= g[k * q + r] * y[k];
      y[r] = s / g[r * q + r];
    }
    std::fill(z.begin(), z.end(), 0.0);
    for (size_t r = 0; r < q; ++r) z[p[r]] = y[r];
    return true;
  };
  for (int outer = 0; outer < 3 * static_cast<int>(n); ++outer) {
    gradient();
    size_t best = n;
    double most = 1e-12;
    for (size_t j = 0; j < n; ++j)
      if (!passive[j] && w[j] > most) most = w[best = j];
    if (best == n) break;  // optimal
    passive[best] = true;
    for (int inner = 0; inner < 3 * static_cast<int>(n); ++inner) {
      if (!solve_passive()) return false;
      bool feasible = true;
      for (size_t j = 0; j < n; ++j) feasible &= !passive[j] || z[j] > 0;
      if (feasible) break;
      double alpha = 1;
      for (size_t j = 0; j < n; ++j)
        if (passive[j] && z[j] <= 0) alpha = std::min(alpha, x[j] / (x[j] - z[j]));
      for (size_t j = 0; j < n; ++j) {
        x[j] += alpha * (z[j] - x[j]);
        if (passive[j] && x[j] <= 1e-15) {
          passive[j] = false;
          x[j] = 0;
        }
      }
    }
    x = z;
  }
  *x_out = x;
  return true;
}

}  // namespace

const std::vector<double>& SpectralResponse::Energies() {
  static const std::vector<double> kev = [] {
    std::vector<double> e;
    for (double v = 10; v <= 200; v += 5) e.push_back(v);
    return e;
  }();
  return kev;
}

Result<SpectralResponse> SpectralResponse::Fit(const std::vector<SpectralSample>& samples) {
  // Unknowns: the weight of each energy bin, then a constant floor (scatter reaching the step
  // from around it, dark signal), all non-negative and summing to 1 (the open beam).
  const size_t ne = Energies().size(), n = ne + 1;
  if (samples.size() < 4)
    return Status::InvalidArgument("a spectral fit needs at least 4 steps, got " +
                                   std::to_string(samples.size()));
  // Rows: each step's relative transmission error; the weights' sum; curvature across energy.
  constexpr double kSumWeight = 100, kSmoothness = 2;
  const size_t m = samples.size() + 1 + (ne - 2);
  std::vector<double> a(m * n, 0), b(m, 0);
  size_t row = 0;
  for (const auto& s : samples) {
    const double t = std::exp(-s.log_attenuation);
    for (size_t k = 0; k < ne; ++k) a[row * n + k] = (std::exp(-(*s.mu)[k] * s.g_cm2) - t) / t;
    a[row * n + ne] = (1 - t) / t;
    ++row;
  }
  for (size_t k = 0; k < n; ++k) a[row * n + k] = kSumWeight;
  b[row++] = kSumWeight;
  for (size_t k = 1; k + 1 < ne; ++k, ++row) {
    a[row * n + k - 1] = kSmoothness;
    a[row * n + k] = -2 * kSmoothness;
    a[row * n + k + 1] = kSmoothness;
  }
  SpectralResponse r;
  std::vector<double> x;
  if (!Nnls(a, b, m, n, &x)) return Status::Internal("the spectral fit did not converge");
  double sum = 0;
  for (double v : x) sum += v;
  if (!(sum > 0) || !(x[ne] < sum)) return Status::Internal("the spectral fit found no response");
  r.w_.assign(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(ne));
  for (double& v : r.w_) v /= sum;
  r.floor_ = x[ne] / sum;
  double sq = 0;
  for (const auto& s : samples) {
    const double e = std::abs(r.LogAttenuation(*s.mu, s.g_cm2) - s.log_attenuation);
    sq += e * e;
    r.max_error_ = std::max(r.max_error_, e);
  }
  r.rms_error_ = std::sqrt(sq / samples.size());
  return r;
}

double SpectralResponse::LogAttenuation(const std::vector<double>& mu, double g_cm2) const {
  double t = 0;
  for (size_t k = 0; k < w_.size(); ++k) t += w_[k] * std::exp(-mu[k] * g_cm2);
  return -std::log(std::max(t + floor_, 1e-300));
}

double SpectralResponse::LogAttenuationOfDepth(const std::vector<double>& tau,
                                               bool with_floor) const {
  double t = 0;
  for (size_t k = 0; k < w_.size(); ++k) t += w_[k] * std::exp(-tau[k]);
  return -std::log(std::max(t + (with_floor ? floor_ : 0.0), 1e-300));
}

double SpectralResponse::NoiseTransmissionOfDepth(const std::vector<double>& tau) const {
  const auto& kev = Energies();
  double v = 0, v0 = 0;
  for (size_t k = 0; k < w_.size(); ++k) {
    v += w_[k] * kev[k] * std::exp(-tau[k]);
    v0 += w_[k] * kev[k];
  }
  return v0 > 0 ? v / v0 : 0;
}

}  // namespace clearsight::xray
