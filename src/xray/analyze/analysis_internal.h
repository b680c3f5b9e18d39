// Pieces shared by the fast analyzer and the per-pixel reference implementation.
#pragma once

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdint>

#include "clearsight/xray_analyze.h"

namespace clearsight::xray {

// Object mass is integrated over a histogram of the pixels' log_high (grams per unit log_high
// depend on log_high through beam hardening), so one pass over the pixels is enough.
inline constexpr int kMassBins = 96;
inline constexpr double kMassBinWidth = 0.1;

struct ObjectStats {
  int64_t n = 0, impenetrable = 0;
  double sum_l = 0, sum_h = 0;  // packaging level subtracted
  int64_t n_ok = 0;             // pixels whose low image is not saturated: z_eff comes from these
  double sum_l_ok = 0, sum_h_ok = 0;
  int x0 = INT_MAX, y0 = INT_MAX, x1 = -1, y1 = -1;
  std::array<double, kMassBins> bin_h{};
  std::array<int32_t, kMassBins> bin_n{};
  std::array<double, kMassBins> bin_l_ok{}, bin_h_ok{};  // unsaturated pixels, for z_eff
  std::array<int32_t, kMassBins> bin_n_ok{};

  void Add(int x, int y, float l, float h, bool imp) {
    ++n;
    impenetrable += imp;
    sum_l += l;
    sum_h += h;
    if (!imp) {
      ++n_ok;
      sum_l_ok += l;
      sum_h_ok += h;
    }
    x0 = std::min(x0, x);
    x1 = std::max(x1, x + 1);
    y0 = std::min(y0, y);
    y1 = std::max(y1, y + 1);
    int b = h <= 0 ? 0 : std::min(kMassBins - 1, static_cast<int>(h * (1.0 / kMassBinWidth)));
    bin_h[b] += h;
    ++bin_n[b];
    if (!imp) {
      bin_l_ok[b] += l;
      bin_h_ok[b] += h;
      ++bin_n_ok[b];
    }
  }
  void Merge(const ObjectStats& o) {
    n += o.n;
    impenetrable += o.impenetrable;
    sum_l += o.sum_l;
    sum_h += o.sum_h;
    n_ok += o.n_ok;
    sum_l_ok += o.sum_l_ok;
    sum_h_ok += o.sum_h_ok;
    x0 = std::min(x0, o.x0);
    y0 = std::min(y0, o.y0);
    x1 = std::max(x1, o.x1);
    y1 = std::max(y1, o.y1);
    for (int b = 0; b < kMassBins; ++b) {
      bin_h[b] += o.bin_h[b];
      bin_n[b] += o.bin_n[b];
      bin_l_ok[b] += o.bin_l_ok[b];
      bin_h_ok[b] += o.bin_h_ok[b];
      bin_n_ok[b] += o.bin_n_ok[b];
    }
  }
};

// Builds the object from its statistics. mass_g < 0: integrate over the histogram.
DetectedObject MakeObject(const Calibration& calib, int id, const ObjectStats& s, double pixel_mm,
                          double mass_g);
// Sorts objects by mass and sums the material totals.
void FinishObjects(ScanAnalysis* out);

// Bounding box of a component while labelling.
struct Box {
  int x0 = INT_MAX, y0 = INT_MAX, x1 = -1, y1 = -1;  // [x0,x1) x [y0,y1)
  template <typename Run>
  void Add(const Run& r) {
    x0 = std::min(x0, static_cast<int>(r.x0));
    x1 = std::max(x1, static_cast<int>(r.x1));
    y0 = std::min(y0, static_cast<int>(r.y));
    y1 = std::max(y1, static_cast<int>(r.y) + 1);
  }
  void AddPixel(int x, int y) {
    x0 = std::min(x0, x);
    x1 = std::max(x1, x + 1);
    y0 = std::min(y0, y);
    y1 = std::max(y1, y + 1);
  }
};

// A halo: a component no more than about two pixels wide (pixels under twice the box perimeter)
// that encloses a larger neighbour (the neighbour's box lies inside its own, give or take 2 px).
inline bool IsHalo(int64_t size, const Box& b, int64_t other_size, const Box& other) {
  int64_t perimeter = 2 * static_cast<int64_t>((b.x1 - b.x0) + (b.y1 - b.y0));
  return size < 2 * perimeter && other_size > size && other.x0 >= b.x0 - 2 &&
         other.y0 >= b.y0 - 2 && other.x1 <= b.x1 + 2 && other.y1 <= b.y1 + 2;
}

// Separable 5-tap smoothing kernels for the low and high images: a 3-pixel box, convolved for the
// sharper image with the Gaussian that brings it to the other image's edge spread (from the
// calibration), so that thin objects keep their true low/high ratio on dual-layer detectors.
inline void SmoothingKernels(const Calibration& c, float low[5], float high[5]) {
  const double sl = c.blur_sigma_low(), sh = c.blur_sigma_high();
  float* sharper = sl < sh ? low : high;
  double extra = std::sqrt(std::abs(sh * sh - sl * sl));
  double g[3] = {0, 1, 0};
  if (extra > 0.25) {
    double e = std::exp(-0.5 / (extra * extra));
    g[0] = g[2] = e / (1 + 2 * e);
    g[1] = 1 / (1 + 2 * e);
  }
  for (int k = 0; k < 5; ++k) low[k] = high[k] = (k >= 1 && k <= 3) ? 1.0f / 3 : 0.0f;
  for (int k = 0; k < 5; ++k) {
    double v = 0;
    for (int j = 0; j < 3; ++j) {
      int b = k - j;  // box index 0..2 at offsets -1..1; g index j at offsets -1..1
      if (b >= 0 && b < 3) v += g[j] / 3.0;
    }
    sharper[k] = static_cast<float>(v);
  }
}

// Packaging level: the 20th percentile of the smoothed log_high over the parcel's thin pixels
// (below max_packaging_log_high), with the matching log_low from the ratio of those pixels; 0 when
// thin pixels are under 5 % of the parcel (nothing there looks like packaging alone). The
// histogram samples every other row and column.
inline constexpr int kPackagingBins = 1000;
inline constexpr double kPackagingBinWidth = 0.0005;  // covers 0..0.5
inline constexpr double kPackagingPercentile = 0.2;
inline constexpr double kPackagingMinShare = 0.05;

}  // namespace clearsight::xray
