// Detector features on the cell grid.
#include "xray/detect/features.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <tuple>

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

bool NeedsResampling(double scan_pixel_mm, double input_pixel_mm) {
  return scan_pixel_mm > 0 && input_pixel_mm > 0 &&
         std::abs(scan_pixel_mm / input_pixel_mm - 1) > kPixelTolerance;
}

int ResampledSize(int n, double from_mm, double to_mm) {
  return std::max(1, static_cast<int>(std::lround(n * from_mm / to_mm)));
}

ScanAnalysis ResampleChannels(const ScanAnalysis& a, double pixel_mm) {
  ScanAnalysis r;
  r.scan_id = a.scan_id;
  r.consignment_id = a.consignment_id;
  r.packaging_log_low = a.packaging_log_low;
  r.packaging_log_high = a.packaging_log_high;
  r.objects = a.objects;
  r.pixel_mm = pixel_mm;
  r.width = ResampledSize(a.width, a.pixel_mm, pixel_mm);
  r.height = ResampledSize(a.height, a.pixel_mm, pixel_mm);
  const ScanChannels& in = a.channels;
  const size_t n_in = static_cast<size_t>(a.width) * a.height;
  if (in.areal_density.size() != n_in || in.z_eff.size() != n_in || in.material.size() != n_in)
    return r;  // no channels: ComputeFeatures says so
  const size_t n = static_cast<size_t>(r.width) * r.height;
  ScanChannels& out = r.channels;
  out.areal_density.assign(n, 0.0f);
  out.z_eff.assign(n, 0.0f);
  out.material.assign(n, 0);
  // Source coordinates of each new pixel centre, per axis.
  const double sx = static_cast<double>(a.width) / r.width,
               sy = static_cast<double>(a.height) / r.height;
  auto axis = [](int nn, double scale, int limit, std::vector<int>* i0, std::vector<float>* f,
                 std::vector<int>* nearest) {
    i0->resize(static_cast<size_t>(nn));
    f->resize(static_cast<size_t>(nn));
    nearest->resize(static_cast<size_t>(nn));
    for (int k = 0; k < nn; ++k) {
      const double u = (k + 0.5) * scale - 0.5;
      const int lo = std::clamp(static_cast<int>(std::floor(u)), 0, limit - 1);
      (*i0)[static_cast<size_t>(k)] = lo;
      (*f)[static_cast<size_t>(k)] =
          lo + 1 < limit ? static_cast<float>(std::clamp(u - lo, 0.0, 1.0)) : 0.0f;
      (*nearest)[static_cast<size_t>(k)] =
          std::clamp(static_cast<int>(std::floor((k + 0.5) * scale)), 0, limit - 1);
    }
  };
  std::vector<int> x0, y0, xn, yn;
  std::vector<float> fx, fy;
  axis(r.width, sx, a.width, &x0, &fx, &xn);
  axis(r.height, sy, a.height, &y0, &fy, &yn);
  for (int y = 0; y < r.height; ++y) {
    const int ya = y0[static_cast<size_t>(y)];
    const int yb = std::min(ya + 1, a.height - 1);
    const float wy = fy[static_cast<size_t>(y)];
    for (int x = 0; x < r.width; ++x) {
      const int xa = x0[static_cast<size_t>(x)];
      const int xb = std::min(xa + 1, a.width - 1);
      const float wx = fx[static_cast<size_t>(x)];
      float d = 0, zd = 0, wd = 0;
      for (auto [xx, yy, w] :
           {std::tuple{xa, ya, (1 - wx) * (1 - wy)}, std::tuple{xb, ya, wx * (1 - wy)},
            std::tuple{xa, yb, (1 - wx) * wy}, std::tuple{xb, yb, wx * wy}}) {
        const size_t i = static_cast<size_t>(yy) * a.width + xx;
        const float di = std::max(0.0f, in.areal_density[i]);
        d += w * di;
        if (in.z_eff[i] > 0) {
          zd += w * di * in.z_eff[i];
          wd += w * di;
        }
      }
      const size_t j = static_cast<size_t>(y) * r.width + x;
      out.areal_density[j] = d;
      out.z_eff[j] = wd > 0 ? zd / wd : 0.0f;
      out.material[j] = in.material[static_cast<size_t>(yn[static_cast<size_t>(y)]) * a.width +
                                    xn[static_cast<size_t>(x)]];
    }
  }
  return r;
}

std::vector<uint32_t> ResampleMaskRle(const std::vector<uint32_t>& rle, int w, int h, int nw,
                                      int nh) {
  std::vector<uint8_t> mask(static_cast<size_t>(w) * h, 0);
  for (size_t k = 0; k + 1 < rle.size(); k += 2)
    for (uint32_t i = rle[k]; i < rle[k] + rle[k + 1] && i < mask.size(); ++i) mask[i] = 1;
  std::vector<uint32_t> out;
  const double sx = static_cast<double>(w) / nw, sy = static_cast<double>(h) / nh;
  for (int y = 0; y < nh; ++y) {
    const int oy = std::clamp(static_cast<int>(std::floor((y + 0.5) * sy)), 0, h - 1);
    int run = -1;
    for (int x = 0; x <= nw; ++x) {
      bool in = false;
      if (x < nw) {
        const int ox = std::clamp(static_cast<int>(std::floor((x + 0.5) * sx)), 0, w - 1);
        in = mask[static_cast<size_t>(oy) * w + ox] != 0;
      }
      if (in && run < 0) run = x;
      if (!in && run >= 0) {
        out.push_back(static_cast<uint32_t>(static_cast<size_t>(y) * nw + run));
        out.push_back(static_cast<uint32_t>(x - run));
        run = -1;
      }
    }
  }
  return out;
}

}  // namespace clearsight::xray
