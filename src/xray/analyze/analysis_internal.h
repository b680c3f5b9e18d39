// Pieces shared by the fast analyzer and the per-pixel reference implementation.
#pragma once

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>

#include "clearsight/xray_analyze.h"

namespace clearsight::xray {

// Object mass is integrated over a histogram of the pixels' log_high (grams per unit log_high
// depend on log_high through beam hardening), so one pass over the pixels is enough.
inline constexpr int kMassBins = 48;
inline constexpr double kMassBinWidth = 0.25;

struct ObjectStats {
  int64_t n = 0, impenetrable = 0;
  double sum_l = 0, sum_h = 0;  // packaging level subtracted
  int64_t n_ok = 0;             // pixels whose low image is not saturated: z_eff comes from these
  double sum_l_ok = 0, sum_h_ok = 0;
  int x0 = INT_MAX, y0 = INT_MAX, x1 = -1, y1 = -1;
  std::array<double, kMassBins> bin_h{};
  std::array<int32_t, kMassBins> bin_n{};

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
    }
  }
};

// Builds the object from its statistics. mass_g < 0: integrate over the histogram.
DetectedObject MakeObject(const Calibration& calib, int id, const ObjectStats& s, double pixel_mm,
                          double mass_g);
// Sorts objects by mass and sums the material totals.
void FinishObjects(ScanAnalysis* out);

// Packaging level: a low percentile of the smoothed log_high over the parcel, capped, with the
// matching log_low from the ratio of those pixels.
inline constexpr int kPackagingBins = 1000;
inline constexpr double kPackagingBinWidth = 0.0005;  // covers 0..0.5
inline constexpr double kPackagingPercentile = 0.05;

}  // namespace clearsight::xray
