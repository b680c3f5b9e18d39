// Calibration: from step-wedge scans to (log_low, log_high) -> (z_eff, areal density).
//
// Nothing here knows the scanner. Each wedge material gives a measured curve: for every step the
// median log attenuations in both images. At a given log_high the ratio log_low/log_high rises
// with Z (photoelectric absorption ~ Z^3 / E^3 hits the low image harder); z_eff of a pixel is
// interpolated between the materials' ratios at its log_high, linearly in Z^p. Areal density
// comes from the same curves: grams per unit log_high, interpolated between the neighbouring
// materials. Beam hardening is in the data, so it needs no model.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "clearsight/xray_calibrate.h"
#include "xray/analyze/spectral_fit.h"

namespace clearsight {

using nlohmann::json;

namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + m, v.end());
  double hi = v[m];
  if (v.size() % 2) return hi;
  double lo = *std::max_element(v.begin(), v.begin() + m);
  return (lo + hi) / 2;
}

double LogOf(uint16_t v) { return -std::log(std::max<uint16_t>(v, 1) / 65535.0); }

// Fits r(u) = (alpha + beta u) / (1 + gamma u) through three points and returns its inverse at r.
// False when the fit is singular or not monotone over the points (then the caller stays linear).
bool MoebiusInverse(double u1, double r1, double u2, double r2, double u3, double r3, double r,
                    double* u) {
  // alpha + beta u_k - gamma u_k r_k = r_k
  double m[3][4] = {{1, u1, -u1 * r1, r1}, {1, u2, -u2 * r2, r2}, {1, u3, -u3 * r3, r3}};
  for (int c = 0; c < 3; ++c) {
    int piv = c;
    for (int k = c + 1; k < 3; ++k)
      if (std::abs(m[k][c]) > std::abs(m[piv][c])) piv = k;
    if (std::abs(m[piv][c]) < 1e-300) return false;
    for (int k = 0; k < 4; ++k) std::swap(m[c][k], m[piv][k]);
    for (int k = 0; k < 3; ++k) {
      if (k == c) continue;
      double f = m[k][c] / m[c][c];
      for (int j = c; j < 4; ++j) m[k][j] -= f * m[c][j];
    }
  }
  double alpha = m[0][3] / m[0][0], beta = m[1][3] / m[1][1], gamma = m[2][3] / m[2][2];
  // Monotone increasing over [0, max u] needs beta > alpha * gamma and 1 + gamma u > 0 there.
  double umax = std::max({u1, u2, u3});
  if (!(beta - alpha * gamma > 0) || 1 + gamma * umax <= 0 || 1 + gamma * 0 <= 0) return false;
  double den = beta - gamma * r;
  if (den <= 0) {  // r at or beyond the saturation ratio beta/gamma: as large as can be
    *u = 1e12;
    return true;
  }
  *u = (r - alpha) / den;
  return std::isfinite(*u);
}

}  // namespace

double Calibration::RatioAt(size_t i, double h) const {
  const auto& p = curves_[i].points;
  if (h <= p.front().log_high) return p.front().log_low / p.front().log_high;
  if (h >= p.back().log_high) return p.back().log_low / p.back().log_high;
  size_t k = 1;
  while (p[k].log_high < h) ++k;
  // In log(log_high): wedge steps grow geometrically and beam hardening bends the curves.
  double t = std::log(h / p[k - 1].log_high) / std::log(p[k].log_high / p[k - 1].log_high);
  double r0 = p[k - 1].log_low / p[k - 1].log_high, r1 = p[k].log_low / p[k].log_high;
  return r0 + t * (r1 - r0);
}

double Calibration::KappaAt(size_t i, double h) const {
  const auto& p = curves_[i].points;
  if (h <= p.front().log_high) return p.front().areal_density_g_cm2 / p.front().log_high;
  if (h >= p.back().log_high) return p.back().areal_density_g_cm2 / p.back().log_high;
  size_t k = 1;
  while (p[k].log_high < h) ++k;
  double t = std::log(h / p[k - 1].log_high) / std::log(p[k].log_high / p[k - 1].log_high);
  double k0 = p[k - 1].areal_density_g_cm2 / p[k - 1].log_high,
         k1 = p[k].areal_density_g_cm2 / p[k].log_high;
  return k0 + t * (k1 - k0);
}

double Calibration::min_z() const { return std::max(1.0, curves_.front().z_eff * 0.5); }
double Calibration::max_z() const { return std::min(100.0, curves_.back().z_eff * 1.6); }

double Calibration::ZEff(double log_low, double log_high) const {
  if (!(log_high > 1e-6) || curves_.size() < 2) return 0;
  const double p = options_.z_exponent;
  const double r = log_low / log_high;
  const size_t n = curves_.size();
  // Ratios of the materials at this log_high, made non-decreasing in Z (pool adjacent violators)
  // so noise in a calibration can never make the mapping fold back.
  double rs[16], qs[16];
  size_t m = std::min<size_t>(n, 16);
  for (size_t i = 0; i < m; ++i) {
    rs[i] = RatioAt(i, log_high);
    qs[i] = std::pow(curves_[i].z_eff, p);
  }
  for (size_t i = 1; i < m; ++i)
    if (rs[i] < rs[i - 1]) {
      // Merge backwards while violated.
      size_t j = i;
      double sum = rs[i];
      size_t cnt = 1;
      while (j > 0 && rs[j - 1] > sum / cnt) {
        --j;
        sum += rs[j];
        ++cnt;
      }
      for (size_t k = j; k <= i; ++k) rs[k] = sum / cnt;
    }
  size_t seg = 0;  // the pixel's ratio lies on [seg, seg+1] (or beyond an end)
  if (r >= rs[m - 1]) {
    seg = m - 2;
  } else if (r > rs[0]) {
    while (seg + 2 < m && r > rs[seg + 1]) ++seg;
  }
  size_t a = seg, b = seg + 1;
  while (b + 1 < m && rs[b] - rs[a] < 1e-9) ++b;
  while (a > 0 && rs[b] - rs[a] < 1e-9) --a;
  double q;
  if (rs[b] - rs[a] < 1e-9) {
    q = r < rs[a] ? qs[a] : qs[b];
  } else {
    // Linear in u = Z^p, refined by the rational (Moebius) form through three materials when there
    // are three: r(u) = (alpha + beta u) / (1 + gamma u) is what a thin absorber gives for any
    // spectrum (Compton + photoelectric ~ Z^p per electron), so it interpolates and extrapolates
    // between materials far better than a straight line.
    q = qs[a] + (r - rs[a]) * (qs[b] - qs[a]) / (rs[b] - rs[a]);
    double sum = 0;
    int used = 0;
    // Outside the wedge materials' range the rational form can run away: stay linear there.
    const bool inside = r >= rs[0] && r <= rs[m - 1];
    for (int side = 0; side < 2 && m >= 3 && inside; ++side) {
      size_t c = side == 0 ? (b + 1 < m ? b + 1 : m) : (a > 0 ? a - 1 : m);
      if (c >= m) continue;
      double qm;
      if (MoebiusInverse(qs[a], rs[a], qs[b], rs[b], qs[c], rs[c], r, &qm)) {
        sum += qm;
        ++used;
      }
    }
    if (used) q = sum / used;
  }
  double z = std::pow(std::max(q, 1.0), 1.0 / p);
  return std::clamp(z, min_z(), max_z());
}

double Calibration::ArealDensity(double log_high, double z_eff) const {
  if (!(log_high > 0) || curves_.empty()) return 0;
  const double p = options_.z_exponent;
  const size_t n = curves_.size();
  if (z_eff <= curves_.front().z_eff) return log_high * KappaAt(0, log_high);
  if (z_eff >= curves_.back().z_eff) return log_high * KappaAt(n - 1, log_high);
  size_t i = 1;
  while (curves_[i].z_eff < z_eff) ++i;
  double q = std::pow(z_eff, p), q0 = std::pow(curves_[i - 1].z_eff, p),
         q1 = std::pow(curves_[i].z_eff, p);
  double w = (q - q0) / (q1 - q0);
  // The mass attenuation (1/kappa: Compton plus photoelectric ~ Z^p) is what is near linear in Z^p.
  return log_high / ((1 - w) / KappaAt(i - 1, log_high) + w / KappaAt(i, log_high));
}

MaterialClass Calibration::Classify(double z_eff) const {
  return ClassifyZEff(z_eff, options_.organic_max_z, options_.metal_min_z);
}

Result<Calibration> Calibration::Fit(const std::vector<WedgeScan>& wedges,
                                     const CalibrationOptions& options) {
  if (!(options.z_exponent > 1 && options.z_exponent < 5))
    return Status::InvalidArgument("z_exponent out of range");
  if (!(options.organic_max_z < options.metal_min_z))
    return Status::InvalidArgument("class bounds out of order");
  if (wedges.empty()) return Status::InvalidArgument("calibration needs wedge scans, got none");
  struct Acc {
    std::string formula;
    std::vector<double> z;
    std::vector<CalibrationPoint> pts;
    std::vector<double> edge_var[2];
    int skipped_dark = 0, skipped_thin = 0;
  };
  std::map<std::string, Acc> by_material;
  std::string notes;
  for (const auto& w : wedges) {
    const Scan& s = w.scan;
    CS_RETURN_IF_ERROR(ValidateScan(s));
    // Air reference: pixels away from every step (a scanner's flat field is rarely exactly 1).
    std::vector<uint8_t> near(s.pixels(), 0);
    for (const auto& st : w.steps)
      for (int y = std::max(0, st.y0 - 6); y < std::min(s.height, st.y1 + 6); ++y)
        for (int x = std::max(0, st.x0 - 6); x < std::min(s.width, st.x1 + 6); ++x)
          near[static_cast<size_t>(y) * s.width + x] = 1;
    std::vector<double> air_l, air_h;
    for (size_t i = 0; i < s.pixels(); ++i)
      if (!near[i]) {
        air_l.push_back(LogOf(s.low[i]));
        air_h.push_back(LogOf(s.high[i]));
      }
    double l0 = air_l.size() >= 100 ? Median(air_l) : 0,
           h0 = air_h.size() >= 100 ? Median(air_h) : 0;
    for (const auto& st : w.steps) {
      int mg = options.region_margin_px;
      int x0 = st.x0 + mg, x1 = st.x1 - mg, y0 = st.y0 + mg, y1 = st.y1 - mg;
      if (x1 - x0 < 2 || y1 - y0 < 2) {
        x0 = st.x0;
        x1 = st.x1;
        y0 = st.y0;
        y1 = st.y1;
      }
      std::vector<double> l, h;
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
          size_t i = static_cast<size_t>(y) * s.width + x;
          l.push_back(LogOf(s.low[i]));
          h.push_back(LogOf(s.high[i]));
        }
      double z = st.z_eff, ad = st.areal_density_g_cm2;
      if (z <= 0 && !st.formula.empty()) {
        auto fz = FormulaZEff(st.formula);
        if (fz.ok()) z = *fz;
      }
      if (ad <= 0) ad = st.density_g_cm3 * st.thickness_mm / 10.0;
      if (!(z > 0) || !(ad > 0))
        return Status::InvalidArgument("wedge step of '" + st.material +
                                       "' needs z_eff (or formula) and areal density");
      CalibrationPoint p{Median(l) - l0, Median(h) - h0, ad};
      Acc& acc = by_material[ToLower(st.material)];
      acc.z.push_back(z);
      if (acc.formula.empty()) acc.formula = st.formula;
      // Edge spread: the profile across the step's left edge, averaged over the middle rows.
      if (st.x0 >= 8 && st.x0 + 8 <= s.width && st.y1 - st.y0 >= 12) {
        for (int c = 0; c < 2; ++c) {
          const auto& page = c == 0 ? s.low : s.high;
          double prof[16] = {0};
          int rows = 0;
          for (int y = st.y0 + (st.y1 - st.y0) / 4; y < st.y1 - (st.y1 - st.y0) / 4; ++y, ++rows)
            for (int k = 0; k < 16; ++k)
              prof[k] += LogOf(page[static_cast<size_t>(y) * s.width + st.x0 - 8 + k]);
          double lo = (prof[0] + prof[1]) / (2 * rows), hi = (prof[14] + prof[15]) / (2 * rows);
          double contrast = hi - lo;
          if (contrast < 0.3 || hi > options.max_log_attenuation * 0.6) continue;
          double w = 0, m1 = 0, m2 = 0;
          for (int k = 1; k < 16; ++k) {
            double d = (prof[k] - prof[k - 1]) / rows / contrast;  // line spread
            if (d <= 0) continue;
            w += d;
            m1 += d * k;
            m2 += d * k * k;
          }
          if (w > 0.5) acc.edge_var[c].push_back(m2 / w - (m1 / w) * (m1 / w));
        }
      }
      if (Median(l) > options.max_log_attenuation || Median(h) > options.max_log_attenuation) {
        ++acc.skipped_dark;
        continue;
      }
      if (p.log_high < 0.01 || p.log_low < 0.01) {
        ++acc.skipped_thin;
        continue;
      }
      acc.pts.push_back(p);
    }
  }
  Calibration c;
  c.options_ = options;
  c.device_ = wedges.front().scan.meta.device;
  for (auto& [name, acc] : by_material) {
    std::sort(acc.pts.begin(), acc.pts.end(), [](const auto& a, const auto& b) {
      return a.areal_density_g_cm2 < b.areal_density_g_cm2;
    });
    // Attenuation must grow with thickness; a step that does not is dropped (noise or a mislabel).
    CalibrationCurve curve;
    curve.material = name;
    curve.z_eff = Median(acc.z);
    curve.formula = acc.formula;
    int saturated = 0;
    for (const auto& p : acc.pts) {
      if (!curve.points.empty() &&
          !(p.log_high > curve.points.back().log_high + 1e-4 &&
            p.areal_density_g_cm2 > curve.points.back().areal_density_g_cm2))
        continue;
      // The low image attenuates more than the high one for every material, step by step. When a
      // thicker step adds clearly less low than high attenuation, the low image has hit its floor
      // (scatter, dark signal): this step and every thicker one are unusable.
      if (!curve.points.empty()) {
        double dl = p.log_low - curve.points.back().log_low,
               dh = p.log_high - curve.points.back().log_high;
        if (dl < 0.85 * dh) {
          saturated = static_cast<int>(acc.pts.size()) - static_cast<int>(curve.points.size());
          c.low_saturation_log_ = std::min(c.low_saturation_log_, curve.points.back().log_low);
          break;
        }
      }
      curve.points.push_back(p);
    }
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "  %-10s z_eff %5.2f: %zu steps used, %d too dark, %d saturated, %d too thin\n",
                  name.c_str(), curve.z_eff, curve.points.size(), acc.skipped_dark, saturated,
                  acc.skipped_thin);
    notes += buf;
    if (curve.points.size() < 2)
      return Status::InvalidArgument("wedge material '" + name + "' has " +
                                     std::to_string(curve.points.size()) +
                                     " usable steps; calibration needs at least 2 per material");
    c.curves_.push_back(std::move(curve));
  }
  std::sort(c.curves_.begin(), c.curves_.end(),
            [](const auto& a, const auto& b) { return a.z_eff < b.z_eff; });
  for (size_t i = 1; i < c.curves_.size(); ++i)
    if (c.curves_[i].z_eff - c.curves_[i - 1].z_eff < 0.3)
      return Status::InvalidArgument("wedge materials '" + c.curves_[i - 1].material + "' and '" +
                                     c.curves_[i].material +
                                     "' have the same z_eff; use one of them");
  if (c.curves_.size() < 2)
    return Status::InvalidArgument(
        "calibration needs wedges of at least 2 materials with different z_eff, got " +
        std::to_string(c.curves_.size()));
  if (c.curves_.size() > 16) return Status::InvalidArgument("at most 16 wedge materials");
  const std::string extension = c.ExtendCurves();
  // Leave-one-material-out: how well do the others predict each material's z_eff?
  std::string loo;
  if (c.curves_.size() >= 3) {
    for (size_t i = 0; i < c.curves_.size(); ++i) {
      Calibration other = c;
      other.curves_.erase(other.curves_.begin() + i);
      double err = 0;
      int steps = 0;
      for (const auto& p : c.curves_[i].points)
        if (!p.modelled) {
          err += std::abs(other.ZEff(p.log_low, p.log_high) - c.curves_[i].z_eff);
          ++steps;
        }
      err /= std::max(steps, 1);
      char buf[160];
      std::snprintf(buf, sizeof buf,
                    "  without %-10s its z_eff is predicted within %.2f on average%s\n",
                    c.curves_[i].material.c_str(), err,
                    (i == 0 || i + 1 == c.curves_.size()) ? " (extrapolated)" : "");
      loo += buf;
    }
  }
  // Edge spread per image: the median over all steps; a pixel-centred sharp edge measures ~1/12.
  for (int ch = 0; ch < 2; ++ch) {
    std::vector<double> v;
    for (const auto& [name, acc] : by_material)
      v.insert(v.end(), acc.edge_var[ch].begin(), acc.edge_var[ch].end());
    c.blur_sigma_[ch] = v.size() >= 3 ? std::sqrt(std::max(0.0, Median(v) - 1.0 / 12)) : 0;
  }
  {
    char buf[120];
    std::snprintf(buf, sizeof buf, "  edge spread: low image %.2f px, high image %.2f px\n",
                  c.blur_sigma_[0], c.blur_sigma_[1]);
    notes += buf;
  }
  if (c.low_saturation_log_ < 1e299) {
    char buf[120];
    std::snprintf(
        buf, sizeof buf,
        "  low image saturates above log attenuation %.2f (pixels beyond: impenetrable)\n",
        c.low_saturation_log_);
    notes += buf;
  }
  c.summary_ = "calibration from " + std::to_string(wedges.size()) + " wedge scans (" + c.device_ +
               ")\n" + notes + extension + loo;
  return c;
}

Result<Calibration> Calibration::FromCurves(std::vector<CalibrationCurve> curves,
                                            const CalibrationOptions& options) {
  Calibration c;
  c.options_ = options;
  std::sort(curves.begin(), curves.end(),
            [](const auto& a, const auto& b) { return a.z_eff < b.z_eff; });
  if (curves.size() < 2 || curves.size() > 16)
    return Status::InvalidArgument("calibration needs 2..16 materials, got " +
                                   std::to_string(curves.size()));
  for (size_t i = 0; i < curves.size(); ++i) {
    const auto& p = curves[i].points;
    if (p.size() < 2)
      return Status::InvalidArgument("curve '" + curves[i].material + "' has < 2 points");
    for (size_t k = 1; k < p.size(); ++k)
      if (!(p[k].log_high > p[k - 1].log_high))
        return Status::InvalidArgument("curve '" + curves[i].material +
                                       "' is not increasing in log_high");
    if (i > 0 && !(curves[i].z_eff > curves[i - 1].z_eff))
      return Status::InvalidArgument("curves '" + curves[i - 1].material + "' and '" +
                                     curves[i].material + "' have the same z_eff");
  }
  c.curves_ = std::move(curves);
  c.summary_ =
      "calibration from " + std::to_string(c.curves_.size()) + " curves\n" + c.ExtendCurves();
  return c;
}

namespace {

constexpr double kFloorMargin = 0.5;  // log attenuation below the low image's floor

// Both images' spectral responses fitted to the curves' measured steps (`mu` receives each
// curve's mass attenuation on SpectralResponse::Energies()), with a line saying how well they met
// the steps; FailedPrecondition saying why they cannot be used.
struct ResponseFit {
  xray::SpectralResponse low, high;
  std::string line;
};
Result<ResponseFit> FitResponses(const std::vector<CalibrationCurve>& curves,
                                 double low_saturation_log, std::vector<std::vector<double>>* mu) {
  const auto& kev = xray::SpectralResponse::Energies();
  mu->assign(curves.size(), {});
  std::vector<xray::SpectralSample> low, high;
  for (size_t i = 0; i < curves.size(); ++i) {
    const auto& c = curves[i];
    if (c.formula.empty()) return Status::FailedPrecondition("'" + c.material + "' has no formula");
    auto m = FormulaMassAttenuation(c.formula, kev);
    if (!m.ok()) return Status::FailedPrecondition(m.status().message());
    (*mu)[i] = std::move(*m);
    // Steps near the low image's floor (scatter, dark signal) are not what the model describes.
    for (const auto& p : c.points)
      if (!p.modelled && p.log_low < low_saturation_log - kFloorMargin) {
        low.push_back({&(*mu)[i], p.areal_density_g_cm2, p.log_low});
        high.push_back({&(*mu)[i], p.areal_density_g_cm2, p.log_high});
      }
  }
  auto fl = xray::SpectralResponse::Fit(low);
  auto fh = xray::SpectralResponse::Fit(high);
  if (!fl.ok() || !fh.ok())
    return Status::FailedPrecondition((fl.ok() ? fh.status() : fl.status()).message());
  char fit[200];
  std::snprintf(fit, sizeof fit,
                "spectral fit to %zu steps misses by at most %.3f (low) and %.3f (high) in log "
                "attenuation",
                low.size(), fl->max_error(), fh->max_error());
  // A step's log attenuation is known to about 0.01 (0.1 for the darkest steps, in few photons).
  constexpr double kMaxRms = 0.02, kMaxFitError = 0.1;
  if (fl->rms_error() > kMaxRms || fh->rms_error() > kMaxRms || fl->max_error() > kMaxFitError ||
      fh->max_error() > kMaxFitError)
    return Status::FailedPrecondition(std::string("the ") + fit);
  return ResponseFit{std::move(*fl), std::move(*fh), fit};
}

}  // namespace

std::string Calibration::ExtendCurves() {
  std::vector<std::vector<double>> mu;
  auto responses = FitResponses(curves_, low_saturation_log_, &mu);
  if (!responses.ok())
    return "  curves not extended beyond the steps: " + responses.status().message() + "\n";
  const xray::SpectralResponse* fl = &responses->low;
  const xray::SpectralResponse* fh = &responses->high;
  const std::string fit = responses->line;
  const double top = std::min(options_.max_log_attenuation, low_saturation_log_ - kFloorMargin);
  constexpr double kStep = 1.4;  // areal density factor between modelled points
  for (size_t i = 0; i < curves_.size(); ++i) {
    auto& points = curves_[i].points;
    auto model = [&](double g) {
      return CalibrationPoint{fl->LogAttenuation(mu[i], g), fh->LogAttenuation(mu[i], g), g, true};
    };
    std::vector<CalibrationPoint> out;
    const double g0 = points.front().areal_density_g_cm2, g1 = points.back().areal_density_g_cm2;
    for (double g = g0 / 8; g < g0 / 1.2; g *= kStep)
      if (CalibrationPoint p = model(g); p.log_high >= 0.002) out.push_back(p);
    for (const auto& p : points) out.push_back(p);
    for (double g = g1 * kStep; out.size() < 200; g *= kStep) {
      CalibrationPoint p = model(g);
      if (p.log_low > top) break;
      out.push_back(p);
    }
    // Keep log_high strictly increasing (a modelled point next to a noisy step may not be).
    points.clear();
    for (const auto& p : out)
      if (points.empty() || p.log_high > points.back().log_high + 1e-6) points.push_back(p);
  }
  return "  curves extended below and beyond the steps: the " + fit + "\n";
}

struct ScannerResponse::Impl {
  xray::SpectralResponse low, high;
};

Result<ScannerResponse> ScannerResponse::Fit(const Calibration& calibration) {
  std::vector<std::vector<double>> mu;
  auto fit = FitResponses(calibration.curves(), calibration.low_saturation_log(), &mu);
  if (!fit.ok())
    return Status::FailedPrecondition(
        "the calibration's wedges do not give the scanner's spectral response (" +
        fit.status().message() + "); calibrate from wedges whose sidecars give each formula");
  ScannerResponse r;
  r.impl_ = std::make_shared<const Impl>(Impl{std::move(fit->low), std::move(fit->high)});
  return r;
}

const std::vector<double>& ScannerResponse::Energies() {
  return xray::SpectralResponse::Energies();
}

std::pair<double, double> ScannerResponse::LogAttenuations(const std::vector<double>& tau) const {
  return {impl_->low.LogAttenuationOfDepth(tau), impl_->high.LogAttenuationOfDepth(tau)};
}

std::pair<double, double> ScannerResponse::PrimaryLogAttenuations(
    const std::vector<double>& tau) const {
  return {impl_->low.LogAttenuationOfDepth(tau, false),
          impl_->high.LogAttenuationOfDepth(tau, false)};
}

std::pair<double, double> ScannerResponse::NoiseTransmissions(
    const std::vector<double>& tau) const {
  return {impl_->low.NoiseTransmissionOfDepth(tau), impl_->high.NoiseTransmissionOfDepth(tau)};
}

double ScannerDistance(const Calibration& site, const Calibration& known) {
  std::vector<double> rel;
  for (const auto& c : known.curves())
    for (const auto& p : c.points)
      if (!p.modelled && p.log_high > 0)
        rel.push_back(std::abs(site.ZEff(p.log_low, p.log_high) - c.z_eff) / c.z_eff);
  return rel.empty() ? 1e300 : Median(std::move(rel));
}

std::string Calibration::Summary() const { return summary_; }

std::string Calibration::ToJson() const {
  json curves = json::array();
  for (const auto& c : curves_) {
    json pts = json::array();
    for (const auto& p : c.points) {
      json pt = {p.log_low, p.log_high, p.areal_density_g_cm2};
      if (p.modelled) pt.push_back(1);  // a fourth element: modelled, not measured
      pts.push_back(pt);
    }
    json curve = {{"material", c.material}, {"z_eff", c.z_eff}, {"points", pts}};
    if (!c.formula.empty()) curve["formula"] = c.formula;
    curves.push_back(curve);
  }
  json j = {{"format", "clearsight-calibration"},
            {"version", 1},
            {"device", device_},
            {"z_exponent", options_.z_exponent},
            {"organic_max_z", options_.organic_max_z},
            {"metal_min_z", options_.metal_min_z},
            {"low_saturation_log",
             low_saturation_log_ < 1e299 ? json(low_saturation_log_) : json(nullptr)},
            {"blur_sigma_low", blur_sigma_[0]},
            {"blur_sigma_high", blur_sigma_[1]},
            {"summary", summary_},
            {"curves", curves}};
  return j.dump(1);
}

Status Calibration::Save(const std::string& path) const {
  return WriteFileAtomic(path, ToJson() + "\n");
}

Result<Calibration> Calibration::FromJson(std::string_view text, std::string_view name) {
  std::string where(name);
  Calibration c;
  try {
    json j = json::parse(text);
    if (j.value("format", "") != "clearsight-calibration")
      return Status::InvalidArgument(where + ": not a clearsight calibration file");
    if (j.value("version", 0) != 1)
      return Status::InvalidArgument(where + ": unsupported calibration version");
    c.device_ = j.value("device", "");
    c.summary_ = j.value("summary", "");
    c.options_.z_exponent = j.at("z_exponent").get<double>();
    c.options_.organic_max_z = j.at("organic_max_z").get<double>();
    c.options_.metal_min_z = j.at("metal_min_z").get<double>();
    c.blur_sigma_[0] = j.value("blur_sigma_low", 0.0);
    c.blur_sigma_[1] = j.value("blur_sigma_high", 0.0);
    if (!(c.blur_sigma_[0] >= 0 && c.blur_sigma_[0] < 10 && c.blur_sigma_[1] >= 0 &&
          c.blur_sigma_[1] < 10))
      return Status::InvalidArgument(where + ": blur sigmas out of range");
    if (j.contains("low_saturation_log") && j["low_saturation_log"].is_number())
      c.low_saturation_log_ = j["low_saturation_log"].get<double>();
    for (const auto& cj : j.at("curves")) {
      CalibrationCurve curve;
      curve.material = cj.at("material").get<std::string>();
      curve.z_eff = cj.at("z_eff").get<double>();
      curve.formula = cj.value("formula", "");
      for (const auto& p : cj.at("points")) {
        CalibrationPoint pt{p.at(0).get<double>(), p.at(1).get<double>(), p.at(2).get<double>(),
                            p.size() > 3 && p.at(3).get<int>() == 1};
        if (!(pt.log_high > 0 && pt.log_low > 0 && pt.areal_density_g_cm2 > 0))
          return Status::InvalidArgument(where + ": curve '" + curve.material +
                                         "' has a non-positive point");
        if (!curve.points.empty() && pt.log_high <= curve.points.back().log_high)
          return Status::InvalidArgument(where + ": curve '" + curve.material +
                                         "' is not increasing in log_high");
        curve.points.push_back(pt);
      }
      if (curve.points.size() < 2)
        return Status::InvalidArgument(where + ": curve '" + curve.material + "' has < 2 points");
      c.curves_.push_back(std::move(curve));
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(where + ": malformed calibration (" + e.what() + ")");
  }
  if (c.curves_.size() < 2 || c.curves_.size() > 16)
    return Status::InvalidArgument(where + ": calibration needs 2..16 materials");
  for (size_t i = 1; i < c.curves_.size(); ++i)
    if (c.curves_[i].z_eff <= c.curves_[i - 1].z_eff)
      return Status::InvalidArgument(where + ": curves must be sorted by increasing z_eff");
  return c;
}

Result<Calibration> Calibration::Load(const std::string& path) {
  CS_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 64 << 20));
  return FromJson(text, path);
}

}  // namespace clearsight
