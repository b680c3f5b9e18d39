#include "imaging.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace indsim {

namespace {

struct Raster {
  int w, h;
  double pitch, source_y, source_h;
  std::vector<std::vector<float>> planes;  // per material id (empty when unused), g/cm2
};

// Adds one part's areal density to its material plane and to the object's buffer (bbox x0,y0,bw).
// Returns the part's mass in kg.
double RasterPart(const Part& p, Raster* r, std::vector<float>* obj, int ox0, int oy0, int obw,
                  int obh) {
  const double mag = r->source_h / std::max(1.0, r->source_h - p.z);
  const double rad = p.shape.Radius();
  const int x0 = std::max(0, static_cast<int>(std::floor((p.x - rad) / r->pitch)));
  const int x1 = std::min(r->w, static_cast<int>(std::ceil((p.x + rad) / r->pitch)) + 1);
  const double yd0 = r->source_y + (p.y - rad - r->source_y) * mag;
  const double yd1 = r->source_y + (p.y + rad - r->source_y) * mag;
  const int y0 = std::max(0, static_cast<int>(std::floor(yd0 / r->pitch)));
  const int y1 = std::min(r->h, static_cast<int>(std::ceil(yd1 / r->pitch)) + 1);
  if (x0 >= x1 || y0 >= y1) return 0;
  auto& plane = r->planes[static_cast<size_t>(p.material)];
  if (plane.empty()) plane.assign(static_cast<size_t>(r->w) * r->h, 0.0f);
  const double c = std::cos(p.angle), s = std::sin(p.angle);
  double mass_g = 0;
  const double pixel_cm2 = (r->pitch / 10) * (r->pitch / 10) / mag;
  for (int y = y0; y < y1; ++y) {
    const double yc = (y + 0.5) * r->pitch;
    const double dy = yc - r->source_y;
    const double oblique = std::sqrt(r->source_h * r->source_h + dy * dy) / r->source_h;
    for (int x = x0; x < x1; ++x) {
      double t = 0;
      for (int j = 0; j < 2; ++j) {
        const double yo = r->source_y + ((y + 0.25 + 0.5 * j) * r->pitch - r->source_y) / mag;
        const double dv0 = yo - p.y;
        for (int i = 0; i < 2; ++i) {
          const double du0 = (x + 0.25 + 0.5 * i) * r->pitch - p.x;
          t += p.shape.Thickness(c * du0 + s * dv0, -s * du0 + c * dv0);
        }
      }
      if (t <= 0) continue;
      const double g = t / 4 / 10 * p.density;  // g/cm2 along the vertical
      mass_g += g * pixel_cm2;
      const float a = static_cast<float>(g * oblique);
      plane[static_cast<size_t>(y) * r->w + x] += a;
      const int bx = x - ox0, by = y - oy0;
      if (bx >= 0 && by >= 0 && bx < obw && by < obh)
        (*obj)[static_cast<size_t>(by) * obw + bx] += a;
    }
  }
  return mass_g / 1000;
}

void BoxOfObject(const SceneObject& o, const Raster& r, int* bx) {
  double xmin = 1e18, xmax = -1e18, ymin = 1e18, ymax = -1e18;
  for (const auto& p : o.parts) {
    const double mag = r.source_h / std::max(1.0, r.source_h - p.z);
    const double rad = p.shape.Radius();
    xmin = std::min(xmin, p.x - rad);
    xmax = std::max(xmax, p.x + rad);
    ymin = std::min(ymin, r.source_y + (p.y - rad - r.source_y) * mag);
    ymax = std::max(ymax, r.source_y + (p.y + rad - r.source_y) * mag);
  }
  bx[0] = std::clamp(static_cast<int>(std::floor(xmin / r.pitch)), 0, r.w);
  bx[1] = std::clamp(static_cast<int>(std::floor(ymin / r.pitch)), 0, r.h);
  bx[2] = std::clamp(static_cast<int>(std::ceil(xmax / r.pitch)) + 1, 0, r.w);
  bx[3] = std::clamp(static_cast<int>(std::ceil(ymax / r.pitch)) + 1, 0, r.h);
}

// Separable 1D convolution with a symmetric kernel, edges clamped.
void Convolve(std::vector<float>* img, int w, int h, const std::vector<float>& k) {
  const int rad = static_cast<int>(k.size()) / 2;
  std::vector<float> tmp(img->size());
  std::vector<float> line;
  for (int y = 0; y < h; ++y) {
    const float* row = img->data() + static_cast<size_t>(y) * w;
    line.assign(static_cast<size_t>(w + 2 * rad), 0.f);
    for (int x = -rad; x < w + rad; ++x)
      line[static_cast<size_t>(x + rad)] = row[std::clamp(x, 0, w - 1)];
    for (int x = 0; x < w; ++x) {
      float s = 0;
      for (int i = 0; i <= 2 * rad; ++i)
        s += k[static_cast<size_t>(i)] * line[static_cast<size_t>(x + i)];
      tmp[static_cast<size_t>(y) * w + x] = s;
    }
  }
  std::vector<float> acc(static_cast<size_t>(w), 0.f);
  for (int y = 0; y < h; ++y) {
    std::fill(acc.begin(), acc.end(), 0.f);
    for (int i = -rad; i <= rad; ++i) {
      const float kv = k[static_cast<size_t>(i + rad)];
      const float* src = tmp.data() + static_cast<size_t>(std::clamp(y + i, 0, h - 1)) * w;
      for (int x = 0; x < w; ++x) acc[static_cast<size_t>(x)] += kv * src[x];
    }
    std::copy(acc.begin(), acc.end(), img->begin() + static_cast<std::ptrdiff_t>(y) * w);
  }
}

std::vector<float> Kernel(double scale, bool lorentz, int rad) {
  std::vector<float> k(static_cast<size_t>(2 * rad + 1));
  double s = 0;
  for (int i = -rad; i <= rad; ++i) {
    const double x = i / scale;
    const double v = lorentz ? 1 / (1 + x * x) : std::exp(-0.5 * x * x);
    k[static_cast<size_t>(i + rad)] = static_cast<float>(v);
    s += v;
  }
  for (auto& v : k) v = static_cast<float>(v / s);
  return k;
}

void Blur(std::vector<float>* img, int w, int h, double sigma, double tail_share, double gamma) {
  std::vector<float> tail;
  if (tail_share > 0) {
    tail = *img;
    Convolve(&tail, w, h, Kernel(gamma, true, static_cast<int>(std::ceil(6 * gamma))));
  }
  if (sigma > 0.05)
    Convolve(img, w, h, Kernel(sigma, false, std::max(1, static_cast<int>(std::ceil(3 * sigma)))));
  if (tail_share > 0)
    for (size_t i = 0; i < img->size(); ++i)
      (*img)[i] = static_cast<float>((1 - tail_share) * (*img)[i] + tail_share * tail[i]);
}

// Scatter: a share of the transmitted signal spread over ~`spread_mm`, plus a constant floor;
// the flat field (open beam) holds both, so the image is divided by 1 + share + floor.
void AddScatter(std::vector<float>* img, int w, int h, double pitch, double share, double floor,
                double spread_mm) {
  const int f = 8;
  const int sw = (w + f - 1) / f, sh = (h + f - 1) / f;
  std::vector<float> small(static_cast<size_t>(sw) * sh, 0.f), cnt(small.size(), 0.f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      small[static_cast<size_t>(y / f) * sw + x / f] += (*img)[static_cast<size_t>(y) * w + x];
      cnt[static_cast<size_t>(y / f) * sw + x / f] += 1;
    }
  for (size_t i = 0; i < small.size(); ++i) small[i] /= cnt[i];
  const double sigma = spread_mm / pitch / f;
  Convolve(&small, sw, sh, Kernel(sigma, false, static_cast<int>(std::ceil(3 * sigma))));
  const double norm = 1 + share + floor;
  for (int y = 0; y < h; ++y) {
    const double fy = std::clamp((y + 0.5) / f - 0.5, 0.0, sh - 1.0);
    const int y0 = static_cast<int>(fy), y1 = std::min(sh - 1, y0 + 1);
    const double ty = fy - y0;
    for (int x = 0; x < w; ++x) {
      const double fx = std::clamp((x + 0.5) / f - 0.5, 0.0, sw - 1.0);
      const int x0 = static_cast<int>(fx), x1 = std::min(sw - 1, x0 + 1);
      const double tx = fx - x0;
      const double v = (1 - ty) * ((1 - tx) * small[static_cast<size_t>(y0) * sw + x0] +
                                   tx * small[static_cast<size_t>(y0) * sw + x1]) +
                       ty * ((1 - tx) * small[static_cast<size_t>(y1) * sw + x0] +
                             tx * small[static_cast<size_t>(y1) * sw + x1]);
      float& p = (*img)[static_cast<size_t>(y) * w + x];
      p = static_cast<float>((p + share * v + floor) / norm);
    }
  }
}

uint64_t HashName(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

void Encode(const std::vector<float>& img, std::vector<uint16_t>* out) {
  out->resize(img.size());
  for (size_t i = 0; i < img.size(); ++i) {
    const double v = std::round(65535.0 * img[i]);
    (*out)[i] = static_cast<uint16_t>(std::clamp(v, 1.0, 65535.0));
  }
}

struct ChannelSums {
  double n = 0, e1 = 0, e2 = 0;  // sum p T, sum p g T, sum p g^2 T
};

// Quantum noise of an energy-integrating pixel: Poisson photon count, each photon depositing the
// spectrum-weighted energy with its spread and the scintillator's light-yield (Swank) spread.
float NoisyValue(const ChannelSums& s, const ChannelResponse& c, double open_e1, Rng& rng,
                 bool noise) {
  if (!noise) return static_cast<float>(s.e1 / open_e1);
  const double mean_count = c.quanta * s.n;
  const double k = static_cast<double>(rng.Poisson(mean_count));
  if (k <= 0) return 0.f;
  const double gbar = s.e1 / s.n;
  const double var_g = std::max(0.0, s.e2 / s.n - gbar * gbar) + c.swank_excess * gbar * gbar;
  const double signal = k * gbar + std::sqrt(k * var_g) * rng.N();
  return static_cast<float>(signal / (c.quanta * open_e1));
}

}  // namespace

double HighLog(const Material& m, double g_cm2, const ScannerResponse& resp) {
  double t = 0;
  for (size_t k = 0; k < m.mu.size(); ++k) t += resp.high.weight[k] * std::exp(-m.mu[k] * g_cm2);
  return -std::log(std::max(t, 1e-300));
}

Image Render(const std::vector<SceneObject>& objects, const MaterialTable& mats,
             const EnergyGrid& grid, const ScannerParams& sp, const ScannerResponse& resp,
             const RenderOptions& o, Rng& rng) {
  Image img;
  const int w = o.width, h = o.height;
  img.width = w, img.height = h;
  Raster r{w, h, sp.pixel_mm, h * sp.pixel_mm / 2, sp.source_height_mm, {}};
  r.planes.resize(mats.size());
  std::vector<uint8_t> count(static_cast<size_t>(w) * h, 0);
  // Rasterise every object into the material planes; truth per object.
  for (const auto& obj : objects) {
    TruthObject t;
    t.source = &obj;
    int bx[4];
    BoxOfObject(obj, r, bx);
    const int bw = std::max(0, bx[2] - bx[0]), bh = std::max(0, bx[3] - bx[1]);
    std::vector<float> buf(static_cast<size_t>(bw) * bh, 0.f);
    std::map<int, double> mass_by_mat;
    for (const auto& p : obj.parts)
      mass_by_mat[p.material] += RasterPart(p, &r, &buf, bx[0], bx[1], bw, bh);
    int x0 = w, y0 = h, x1 = 0, y1 = 0;
    for (int y = 0; y < bh; ++y) {
      int run = -1;
      for (int x = 0; x <= bw; ++x) {
        const bool in = x < bw && buf[static_cast<size_t>(y) * bw + x] >= o.mask_min_g_cm2;
        if (in) {
          const int gx = x + bx[0], gy = y + bx[1];
          x0 = std::min(x0, gx), x1 = std::max(x1, gx + 1), y0 = std::min(y0, gy),
          y1 = std::max(y1, gy + 1);
          if (!obj.packaging) {
            auto& c = count[static_cast<size_t>(gy) * w + gx];
            if (c < 255) ++c;
          }
          if (run < 0) run = x;
        } else if (run >= 0) {
          t.mask_rle.push_back(static_cast<uint32_t>((y + bx[1]) * w + run + bx[0]));
          t.mask_rle.push_back(static_cast<uint32_t>(x - run));
          run = -1;
        }
      }
    }
    t.visible = x1 > x0;
    if (t.visible) t.box[0] = x0, t.box[1] = y0, t.box[2] = x1, t.box[3] = y1;
    // Composition: most-mass material, z_eff of the whole, class purity.
    double total = 0, num = 0, den = 0, best = -1;
    for (const auto& [m, kg] : mass_by_mat) {
      const Material& mat = mats[m];
      total += kg;
      num += kg * mat.electrons_per_gram * std::pow(mat.z_eff, 2.94);
      den += kg * mat.electrons_per_gram;
      if (kg > best) best = kg, t.material = mat.name;
      t.parts.push_back({mat.name, kg});
    }
    t.mass_kg = total;
    t.z_eff = den > 0 ? std::pow(num / den, 1 / 2.94) : 0;
    t.material_class = ClassOfZ(t.z_eff);
    double same = 0;
    for (const auto& [m, kg] : mass_by_mat)
      if (mats[m].cls == t.material_class) same += kg;
    t.class_purity = total > 0 ? same / total : 1;
    img.truth.push_back(std::move(t));
  }
  // Isolation and concealment from the overlap counts of non-packaging objects.
  for (auto& t : img.truth) {
    if (!t.visible || t.source->packaging) continue;
    const int bw = t.box[2] - t.box[0], bh = t.box[3] - t.box[1];
    std::vector<uint8_t> own(static_cast<size_t>(bw) * bh, 0);
    size_t pixels = 0, shared = 0;
    for (size_t i = 0; i < t.mask_rle.size(); i += 2)
      for (uint32_t p = t.mask_rle[i]; p < t.mask_rle[i] + t.mask_rle[i + 1]; ++p) {
        const int x = static_cast<int>(p % static_cast<uint32_t>(w)) - t.box[0];
        const int y = static_cast<int>(p / static_cast<uint32_t>(w)) - t.box[1];
        own[static_cast<size_t>(y) * bw + x] = 1;
        ++pixels;
        if (count[p] > 1) ++shared;
      }
    // Another object within 3 pixels: the blur joins them, so the object is not isolated.
    bool touching = false;
    for (int y = 0; y < bh && !touching; ++y)
      for (int x = 0; x < bw && !touching; ++x) {
        if (!own[static_cast<size_t>(y) * bw + x]) continue;
        for (const auto& [dx, dy] : {std::pair{3, 0}, {-3, 0}, {0, 3}, {0, -3}}) {
          const int nx = x + dx, ny = y + dy, gx = nx + t.box[0], gy = ny + t.box[1];
          if (gx < 0 || gy < 0 || gx >= w || gy >= h) continue;
          const bool mine =
              nx >= 0 && ny >= 0 && nx < bw && ny < bh && own[static_cast<size_t>(ny) * bw + nx];
          if (!mine && count[static_cast<size_t>(gy) * w + gx] > 0) touching = true;
        }
      }
    t.isolated = shared == 0 && !touching;
    t.concealed = t.source->threat && pixels > 0 && shared > 0.3 * pixels;
  }
  // Transmission per pixel over the spectrum.
  std::vector<int> used;
  for (size_t m = 0; m < r.planes.size(); ++m)
    if (!r.planes[m].empty()) used.push_back(static_cast<int>(m));
  const size_t nb = grid.size();
  double open_low = 0, open_high = 0;
  for (size_t k = 0; k < nb; ++k) {
    open_low += resp.low.photons[k] * resp.low.deposit_kev[k];
    open_high += resp.high.photons[k] * resp.high.deposit_kev[k];
  }
  std::vector<double> gl2(nb), gh2(nb), pgl(nb), pgh(nb);
  for (size_t k = 0; k < nb; ++k) {
    pgl[k] = resp.low.photons[k] * resp.low.deposit_kev[k];
    pgh[k] = resp.high.photons[k] * resp.high.deposit_kev[k];
    gl2[k] = pgl[k] * resp.low.deposit_kev[k];
    gh2[k] = pgh[k] * resp.high.deposit_kev[k];
  }
  std::vector<float> low(static_cast<size_t>(w) * h), high(low.size());
  std::vector<float> prev(used.size(), -1.f), cur(used.size());
  std::vector<double> att(nb);
  ChannelSums sl, sh;
  for (size_t i = 0; i < low.size(); ++i) {
    for (size_t u = 0; u < used.size(); ++u) cur[u] = r.planes[static_cast<size_t>(used[u])][i];
    if (cur != prev) {
      std::fill(att.begin(), att.end(), 0.0);
      for (size_t u = 0; u < used.size(); ++u) {
        if (cur[u] == 0) continue;
        const auto& mu = mats[used[u]].mu;
        for (size_t k = 0; k < nb; ++k) att[k] += mu[k] * cur[u];
      }
      sl = {}, sh = {};
      for (size_t k = 0; k < nb; ++k) {
        const double t = std::exp(-att[k]);
        sl.n += resp.low.photons[k] * t, sl.e1 += pgl[k] * t, sl.e2 += gl2[k] * t;
        sh.n += resp.high.photons[k] * t, sh.e1 += pgh[k] * t, sh.e2 += gh2[k] * t;
      }
      prev = cur;
    }
    low[i] = NoisyValue(sl, resp.low, open_low, rng, o.noise);
    high[i] = NoisyValue(sh, resp.high, open_high, rng, o.noise);
  }
  Blur(&low, w, h, sp.blur_sigma_low, sp.tail_share, sp.tail_gamma_px);
  Blur(&high, w, h, sp.blur_sigma_high, sp.tail_share, sp.tail_gamma_px);
  AddScatter(&low, w, h, sp.pixel_mm, sp.scatter_share * 1.3, sp.scatter_floor, 60);
  AddScatter(&high, w, h, sp.pixel_mm, sp.scatter_share, sp.scatter_floor * 0.7, 60);
  // Residual gain per detector row after the flat field: a fixed pattern of the scanner's boards
  // and channels, drifting a little from scan to scan.
  Rng fixed(HashName(sp.name));
  for (auto* ch : {&low, &high}) {
    std::vector<double> gain(static_cast<size_t>(h));
    double board = 0;
    for (int y = 0; y < h; ++y) {
      if (y % 32 == 0) board = fixed.N() * sp.gain_stripe_sd;
      gain[static_cast<size_t>(y)] =
          1 + board + fixed.N() * sp.gain_stripe_sd * 0.5 + rng.N() * sp.gain_stripe_sd * 0.2;
    }
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        float& p = (*ch)[static_cast<size_t>(y) * w + x];
        p = static_cast<float>(p * gain[static_cast<size_t>(y)] +
                               (o.noise ? rng.N() * sp.electronic_sd : 0.0));
      }
  }
  Encode(low, &img.low);
  Encode(high, &img.high);
  return img;
}

}  // namespace indsim
