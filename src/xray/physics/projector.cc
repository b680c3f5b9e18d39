#include "xray/physics/projector.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "clearsight/xray_scan.h"

namespace clearsight::xray {
namespace {

// Eigen-decomposition of a symmetric matrix (cyclic Jacobi). a is n x n row-major and is
// destroyed; returns eigenvalues (descending) and eigenvectors as rows of *vecs.
std::vector<double> SymmetricEigen(std::vector<double> a, int n, std::vector<double>* vecs) {
  std::vector<double> v(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) v[i * n + i] = 1;
  for (int sweep = 0; sweep < 60; ++sweep) {
    double off = 0, diag = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) (i == j ? diag : off) += a[i * n + j] * a[i * n + j];
    if (off <= 1e-22 * diag) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        double apq = a[p * n + q];
        if (std::abs(apq) < 1e-300) continue;
        double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        double t = (theta >= 0 ? 1 : -1) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // columns p, q
          double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // rows p, q
          double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (int k = 0; k < n; ++k) {
          double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int x, int y) { return a[x * n + x] > a[y * n + y]; });
  std::vector<double> values(n);
  vecs->assign(static_cast<size_t>(n) * n, 0.0);
  for (int r = 0; r < n; ++r) {
    values[r] = a[order[r] * n + order[r]];
    for (int k = 0; k < n; ++k) (*vecs)[r * n + k] = v[k * n + order[r]];
  }
  return values;
}

ChannelWeights MakeChannel(const EnergyGrid& grid, const std::vector<double>& photons,
                           const std::vector<double>& absorbed, double photons_per_px,
                           double blur) {
  const size_t n = grid.kev.size();
  std::vector<double> p(n);
  double sp = 0;
  for (size_t e = 0; e < n; ++e) sp += (p[e] = photons[e] * absorbed[e]);
  double spe = 0;
  for (size_t e = 0; e < n; ++e) spe += (p[e] /= sp) * grid.kev[e];
  ChannelWeights c;
  c.mean.resize(n);
  c.var.resize(n);
  c.count.resize(n);
  double mean_e = 0, var_sum = 0;
  for (size_t e = 0; e < n; ++e) {
    double E = grid.kev[e];
    c.mean[e] = static_cast<float>(p[e] * E / spe);
    c.var[e] = static_cast<float>(p[e] * E * E / (spe * spe));
    c.count[e] = static_cast<float>(p[e]);
    mean_e += p[e] * E * E / spe;
    var_sum += p[e] * E * E / (spe * spe);
  }
  c.photons_per_px = photons_per_px;
  c.blur_sigma_px = blur;
  c.mean_kev = mean_e;
  c.air_sd = std::sqrt(var_sum / photons_per_px);
  return c;
}

}  // namespace

void GaussianBlur(std::vector<float>* img, int w, int h, double sigma, std::vector<float>* tmp) {
  if (sigma <= 0.05) return;
  int r = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  std::vector<float> k(2 * r + 1);
  double sum = 0;
  for (int i = -r; i <= r; ++i)
    sum += (k[i + r] = static_cast<float>(std::exp(-0.5 * i * i / (sigma * sigma))));
  for (auto& v : k) v = static_cast<float>(v / sum);
  tmp->resize(img->size());
  float* src = img->data();
  float* dst = tmp->data();
  for (int y = 0; y < h; ++y) {
    const float* row = src + static_cast<size_t>(y) * w;
    float* out = dst + static_cast<size_t>(y) * w;
    for (int x = 0; x < w; ++x) {
      float acc = 0;
      for (int i = -r; i <= r; ++i) acc += k[i + r] * row[std::clamp(x + i, 0, w - 1)];
      out[x] = acc;
    }
  }
  for (int y = 0; y < h; ++y) {
    float* out = src + static_cast<size_t>(y) * w;
    std::fill(out, out + w, 0.0f);
    for (int i = -r; i <= r; ++i) {
      const float* row = dst + static_cast<size_t>(std::clamp(y + i, 0, h - 1)) * w;
      const float ki = k[i + r];
      for (int x = 0; x < w; ++x) out[x] += ki * row[x];
    }
  }
}

void AddScatter(const std::vector<float>& primary, int w, int h, double fraction,
                std::vector<float>* img) {
  if (fraction <= 0) return;
  const int b = 8;
  int cw = (w + b - 1) / b, ch = (h + b - 1) / b;
  std::vector<float> c(static_cast<size_t>(cw) * ch, 0.0f), t(c.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      c[(y / b) * cw + x / b] += 1.0f - primary[static_cast<size_t>(y) * w + x];
  for (auto& v : c) v /= b * b;
  const int r = 4;
  for (int pass = 0; pass < 2; ++pass) {
    for (int y = 0; y < ch; ++y)
      for (int x = 0; x < cw; ++x) {
        float acc = 0;
        for (int i = -r; i <= r; ++i) acc += c[y * cw + std::clamp(x + i, 0, cw - 1)];
        t[y * cw + x] = acc / (2 * r + 1);
      }
    for (int y = 0; y < ch; ++y)
      for (int x = 0; x < cw; ++x) {
        float acc = 0;
        for (int i = -r; i <= r; ++i) acc += t[std::clamp(y + i, 0, ch - 1) * cw + x];
        c[y * cw + x] = acc / (2 * r + 1);
      }
  }
  for (int y = 0; y < h; ++y) {
    float fy = std::clamp((y + 0.5f) / b - 0.5f, 0.0f, static_cast<float>(ch - 1));
    int y0 = static_cast<int>(fy), y1 = std::min(y0 + 1, ch - 1);
    float ay = fy - y0;
    for (int x = 0; x < w; ++x) {
      float fx = std::clamp((x + 0.5f) / b - 0.5f, 0.0f, static_cast<float>(cw - 1));
      int x0 = static_cast<int>(fx), x1 = std::min(x0 + 1, cw - 1);
      float ax = fx - x0;
      float v = (1 - ay) * ((1 - ax) * c[y0 * cw + x0] + ax * c[y0 * cw + x1]) +
                ay * ((1 - ax) * c[y1 * cw + x0] + ax * c[y1 * cw + x1]);
      (*img)[static_cast<size_t>(y) * w + x] += static_cast<float>(fraction) * v;
    }
  }
}

namespace {

// Log attenuation of a ray given by basis coefficients, into a[] = exp(-A(E)).
inline void RayExp(const PhysicsModel& m, const float* coef, float* a) {
  const int ne = static_cast<int>(m.grid.kev.size());
  for (int e = 0; e < ne; ++e) a[e] = 0;
  for (int k = 0; k < m.rank; ++k) {
    const float c = coef[k];
    const float* v = m.vectors.data() + static_cast<size_t>(k) * ne;
    for (int e = 0; e < ne; ++e) a[e] += c * v[e];
  }
  for (int e = 0; e < ne; ++e) a[e] = FastExpNeg(-a[e]);
}

}  // namespace

double ExactTransmission(const PhysicsModel& model, const std::vector<double>& mu,
                         double areal_density, int channel) {
  double t = 0;
  for (size_t e = 0; e < mu.size(); ++e)
    t += model.channel[channel].mean[e] * std::exp(-mu[e] * areal_density);
  return t;
}

Result<PhysicsModel> BuildPhysics(const ScannerModel& s, double pixel_mm) {
  if (!(pixel_mm > 0)) return Status::InvalidArgument("pixel_mm must be positive");
  double kvp_max = s.kind == DetectorKind::kDualKvp ? std::max(s.tube_low.kvp, s.tube_high.kvp)
                                                    : s.tube_high.kvp;
  if (!(kvp_max > 20 && kvp_max <= 450))
    return Status::InvalidArgument("tube voltage out of range 20..450 kVp");
  if (!(s.energy_step_kev >= 0.5 && s.energy_step_kev <= 10))
    return Status::InvalidArgument("energy_step_kev out of range 0.5..10");
  if (!(s.photons_per_mm2_low > 0 && s.photons_per_mm2_high > 0))
    return Status::InvalidArgument("photon counts must be positive");
  PhysicsModel m;
  m.grid = MakeEnergyGrid(10.0, kvp_max, s.energy_step_kev);
  CS_ASSIGN_OR_RETURN(Composition scint, ParseRecipe(s.scintillator_formula));
  static const Composition cu = *ParseRecipe("Cu");
  const size_t ne = m.grid.kev.size();
  std::vector<double> photons[2], absorbed[2];
  auto t_low = LayerTransmission(m.grid, scint, s.scintillator_density, s.detector_low_mm);
  auto t_high = LayerTransmission(m.grid, scint, s.scintillator_density, s.detector_high_mm);
  absorbed[0].resize(ne);
  absorbed[1].resize(ne);
  if (s.kind == DetectorKind::kDualKvp) {
    photons[0] = TubePhotons(m.grid, s.tube_low);
    photons[1] = TubePhotons(m.grid, s.tube_high);
    for (size_t e = 0; e < ne; ++e) {
      absorbed[0][e] = 1 - t_low[e];
      absorbed[1][e] = 1 - t_high[e];
    }
  } else {
    photons[0] = photons[1] = TubePhotons(m.grid, s.tube_high);
    auto t_cu = LayerTransmission(m.grid, cu, 8.96, s.interlayer_cu_mm);
    for (size_t e = 0; e < ne; ++e) {
      absorbed[0][e] = 1 - t_low[e];
      absorbed[1][e] = t_low[e] * t_cu[e] * (1 - t_high[e]);
    }
  }
  const double area = pixel_mm * pixel_mm;
  m.channel[0] = MakeChannel(m.grid, photons[0], absorbed[0], s.photons_per_mm2_low * area,
                             s.blur_sigma_px_low);
  m.channel[1] = MakeChannel(m.grid, photons[1], absorbed[1], s.photons_per_mm2_high * area,
                             s.blur_sigma_px_high);
  m.scatter_fraction = s.scatter_fraction;
  m.electronic_noise = s.electronic_noise;
  m.gain_stripe_sd = s.gain_stripe_sd;

  // Basis over the catalogue materials.
  const auto& cat = MaterialCatalog();
  const size_t nm = cat.size();
  std::vector<std::vector<double>> mu(nm);
  for (size_t i = 0; i < nm; ++i) mu[i] = MassAttenuation(cat[i].composition, m.grid.kev);
  std::vector<double> cw(ne);
  double wmax = 0;
  for (size_t e = 0; e < ne; ++e)
    wmax = std::max(wmax, cw[e] = m.channel[0].mean[e] + m.channel[1].mean[e]);
  for (auto& v : cw) v = std::sqrt(v / wmax) + 1e-2;
  std::vector<double> scale(nm);
  for (size_t i = 0; i < nm; ++i) {
    double eff = 0;
    for (size_t e = 0; e < ne; ++e)
      eff += mu[i][e] * (m.channel[0].mean[e] + m.channel[1].mean[e]) / 2;
    scale[i] = 1 / eff;
  }
  std::vector<double> g(ne * ne, 0.0);
  for (size_t i = 0; i < nm; ++i)
    for (size_t a = 0; a < ne; ++a) {
      double xa = mu[i][a] * scale[i] * cw[a];
      for (size_t b = 0; b < ne; ++b) g[a * ne + b] += xa * mu[i][b] * scale[i] * cw[b];
    }
  std::vector<double> vecs;
  SymmetricEigen(g, static_cast<int>(ne), &vecs);
  // Smallest rank whose transmissions match the exact ones within 0.2 % of -ln T.
  for (int rank = 2; rank <= kMaxBasisRank; ++rank) {
    m.rank = rank;
    m.vectors.assign(static_cast<size_t>(rank) * ne, 0.0f);
    for (int k = 0; k < rank; ++k)
      for (size_t e = 0; e < ne; ++e)
        m.vectors[k * ne + e] = static_cast<float>(vecs[k * ne + e] / cw[e]);
    m.material_coef.assign(nm * rank, 0.0f);
    for (size_t i = 0; i < nm; ++i)
      for (int k = 0; k < rank; ++k) {
        double c = 0;
        for (size_t e = 0; e < ne; ++e) c += mu[i][e] * cw[e] * vecs[k * ne + e];
        m.material_coef[i * rank + k] = static_cast<float>(c);
      }
    double worst = 0;
    std::vector<float> a(ne), coef(rank);
    for (size_t i = 0; i < nm; ++i)
      for (double target : {0.05, 0.5, 2.0, 5.0}) {
        double ad = target * scale[i];  // g/cm^2 with an effective -ln T of about `target`
        for (int k = 0; k < rank; ++k)
          coef[k] = static_cast<float>(m.material_coef[i * rank + k] * ad);
        RayExp(m, coef.data(), a.data());
        for (int c = 0; c < 2; ++c) {
          double approx = 0;
          for (size_t e = 0; e < ne; ++e) approx += m.channel[c].mean[e] * a[e];
          double exact = ExactTransmission(m, mu[i], ad, c);
          worst = std::max(worst, std::abs(std::log(approx) - std::log(exact)) / -std::log(exact));
        }
      }
    m.basis_max_log_error = worst;
    if (worst < 2e-3) break;
  }
  return m;
}

void ProjectLog(const PhysicsModel& model, const std::vector<float>& coef, size_t n,
                std::vector<float>* log_low, std::vector<float>* log_high) {
  const int ne = static_cast<int>(model.grid.kev.size());
  log_low->assign(n, 0.0f);
  log_high->assign(n, 0.0f);
  std::vector<float> a(ne);
  for (size_t i = 0; i < n; ++i) {
    const float* c = coef.data() + i * model.rank;
    bool any = false;
    for (int k = 0; k < model.rank; ++k) any |= c[k] != 0;
    if (!any) continue;
    RayExp(model, c, a.data());
    float t[2] = {0, 0};
    for (int ch = 0; ch < 2; ++ch)
      for (int e = 0; e < ne; ++e) t[ch] += model.channel[ch].mean[e] * a[e];
    (*log_low)[i] = -std::log(std::max(t[0], 1e-30f));
    (*log_high)[i] = -std::log(std::max(t[1], 1e-30f));
  }
}

void FormImage(const PhysicsModel& model, const std::vector<float>& coef,
               const std::vector<uint8_t>& touched, int width, int height, Rng* rng,
               const FormOptions& options, std::vector<uint16_t>* low,
               std::vector<uint16_t>* high) {
  const size_t n = static_cast<size_t>(width) * height;
  const int ne = static_cast<int>(model.grid.kev.size());
  std::vector<float> primary[2], noisy[2];
  for (int c = 0; c < 2; ++c) {
    primary[c].assign(n, 1.0f);
    noisy[c].assign(n, 1.0f);
  }
  std::vector<float> a(ne);
  const double e2 = model.electronic_noise * model.electronic_noise;
  for (size_t i = 0; i < n; ++i) {
    for (int c = 0; c < 2; ++c) {
      const ChannelWeights& ch = model.channel[c];
      if (!touched[i]) {
        if (options.noise)
          noisy[c][i] =
              static_cast<float>(1.0 + std::sqrt(ch.air_sd * ch.air_sd + e2) * rng->Normal());
        continue;
      }
      if (c == 0) RayExp(model, coef.data() + i * model.rank, a.data());
      float t = 0, v = 0, q = 0;
      for (int e = 0; e < ne; ++e) {
        t += ch.mean[e] * a[e];
        v += ch.var[e] * a[e];
        q += ch.count[e] * a[e];
      }
      primary[c][i] = t;
      double out = t;
      if (options.noise) {
        double photons = q * ch.photons_per_px;
        if (photons < 64) {
          int64_t k = rng->Poisson(photons);
          out = photons > 0 ? t * static_cast<double>(k) / photons : 0.0;
          out += model.electronic_noise * rng->Normal();
        } else {
          out = t + std::sqrt(v / ch.photons_per_px + e2) * rng->Normal();
        }
      }
      noisy[c][i] = static_cast<float>(out);
    }
  }
  std::vector<float> tmp;
  for (int c = 0; c < 2; ++c) {
    if (options.blur) GaussianBlur(&noisy[c], width, height, model.channel[c].blur_sigma_px, &tmp);
    if (options.scatter) AddScatter(primary[c], width, height, model.scatter_fraction, &noisy[c]);
    // Gain stripes: one residual gain per detector row (the belt runs along x). Drawn only when
    // the scanner has them, so scanners without keep their bytes.
    if (options.noise && model.gain_stripe_sd > 0)
      for (int y = 0; y < height; ++y) {
        const float gain = static_cast<float>(1.0 + model.gain_stripe_sd * rng->Normal());
        for (int x = 0; x < width; ++x) noisy[c][static_cast<size_t>(y) * width + x] *= gain;
      }
  }
  low->resize(n);
  high->resize(n);
  for (size_t i = 0; i < n; ++i) {
    (*low)[i] = EncodeTransmission(noisy[0][i]);
    (*high)[i] = EncodeTransmission(noisy[1][i]);
  }
}

}  // namespace clearsight::xray
