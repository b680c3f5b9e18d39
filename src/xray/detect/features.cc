// Detector features on the cell grid.
#include "xray/detect/features.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace clearsight::xray {

namespace {

int RoundUp(int v, int m) { return (v + m - 1) / m * m; }

}  // namespace

Status ComputeFeatures(const ScanAnalysis& a, int threads, FeatureGrid* out) {
  const ScanChannels& ch = a.channels;
  const size_t n = static_cast<size_t>(a.width) * a.height;
  if (a.width <= 0 || a.height <= 0 || ch.areal_density.size() != n || ch.z_eff.size() != n ||
      ch.material.size() != n)
    return Status::FailedPrecondition(
        "scan '" + a.scan_id +
        "': the detector needs the analysis channels (AnalyzerOptions::keep_channels)");
  const int cw = (a.width + kCellPx - 1) / kCellPx, chh = (a.height + kCellPx - 1) / kCellPx;
  const int gw = RoundUp(cw, kNetInputMultiple), gh = RoundUp(chh, kNetInputMultiple);
  out->gh = gh;
  out->gw = gw;
  out->width = a.width;
  out->height = a.height;
  const size_t plane = static_cast<size_t>(gh) * gw;
  out->data.assign(plane * kFeatureChannels, 0.0f);
  float* f_mean = out->data.data();
  float* f_max = f_mean + plane;
  float* f_z = f_max + plane;
  float* f_metal = f_z + plane;
  float* f_imp = f_metal + plane;
  // Rows of cells split over the threads; per cell row: sums over the cell's pixels, then the
  // transforms.
  const auto metal_class = static_cast<uint8_t>(MaterialClass::kMetal);
  const auto imp_class = static_cast<uint8_t>(MaterialClass::kImpenetrable);
  auto rows = [&](int row0, int row1) {
    std::vector<float> sum_ad(cw), max_ad(cw), sum_zad(cw), sum_zw(cw), cnt(cw), metal(cw), imp(cw);
    for (int cy = row0; cy < row1; ++cy) {
      std::fill(sum_ad.begin(), sum_ad.end(), 0.0f);
      std::fill(max_ad.begin(), max_ad.end(), 0.0f);
      std::fill(sum_zad.begin(), sum_zad.end(), 0.0f);
      std::fill(sum_zw.begin(), sum_zw.end(), 0.0f);
      std::fill(cnt.begin(), cnt.end(), 0.0f);
      std::fill(metal.begin(), metal.end(), 0.0f);
      std::fill(imp.begin(), imp.end(), 0.0f);
      const int y1 = std::min(a.height, (cy + 1) * kCellPx);
      for (int y = cy * kCellPx; y < y1; ++y) {
        const size_t row = static_cast<size_t>(y) * a.width;
        const float* ad = ch.areal_density.data() + row;
        const float* z = ch.z_eff.data() + row;
        const uint8_t* m = ch.material.data() + row;
        for (int x = 0; x < a.width; ++x) {
          const int cx = x / kCellPx;
          const float d = std::max(0.0f, ad[x]);
          sum_ad[cx] += d;
          max_ad[cx] = std::max(max_ad[cx], d);
          const float zw = z[x] > 0 ? d : 0.0f;
          sum_zad[cx] += z[x] * zw;
          sum_zw[cx] += zw;
          cnt[cx] += 1;
          metal[cx] += m[x] == metal_class;
          imp[cx] += m[x] == imp_class;
        }
      }
      for (int cx = 0; cx < cw; ++cx) {
        const size_t i = static_cast<size_t>(cy) * gw + cx;
        const float mean = sum_ad[cx] / cnt[cx];
        f_mean[i] = std::log1p(mean);
        f_max[i] = std::log1p(max_ad[cx]);
        if (sum_zw[cx] > 0) {
          const float z = sum_zad[cx] / sum_zw[cx];
          f_z[i] = (z - 8.0f) / 8.0f * std::min(1.0f, mean / 0.5f);
        }
        f_metal[i] = metal[cx] / cnt[cx];
        f_imp[i] = imp[cx] / cnt[cx];
      }
    }
  };
  if (threads <= 1 || chh < 16) {
    rows(0, chh);
  } else {
    const int half = chh / 2;
    std::thread other(rows, half, chh);
    rows(0, half);
    other.join();
  }
  return Status::Ok();
}

}  // namespace clearsight::xray
