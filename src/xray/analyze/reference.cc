// The straightforward per-pixel analysis: what Analyzer computes, written the obvious way (one
// thread, std::log per pixel, the calibration evaluated per pixel, naive 5x5 smoothing, flood
// fill). It is the benchmark's baseline and the tests' oracle for the fast path.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <queue>

#include "clearsight/xray_analyze.h"
#include "xray/analyze/analysis_internal.h"

namespace clearsight {

Status AnalyzeReference(const Calibration& calib, const AnalyzerOptions& o, const Scan& scan,
                        ScanAnalysis* out) {
  const auto t_start = std::chrono::steady_clock::now();
  if (scan.width <= 0 || scan.height <= 0 || scan.low.size() != scan.pixels() ||
      scan.high.size() != scan.pixels())
    return Status::InvalidArgument("scan '" + scan.meta.scan_id + "' is malformed (page sizes)");
  const int w = scan.width, h = scan.height;
  const size_t n = scan.pixels();
  *out = ScanAnalysis{};
  out->scan_id = scan.meta.scan_id;
  out->consignment_id = scan.meta.consignment_id;
  out->width = w;
  out->height = h;
  out->pixel_mm = scan.meta.pixel_mm;
  ScanChannels& ch = out->channels;
  ch.log_low.resize(n);
  ch.log_high.resize(n);
  ch.z_eff.assign(n, 0);
  ch.areal_density.assign(n, 0);
  ch.material.assign(n, 0);
  ch.labels.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    ch.log_low[i] = static_cast<float>(-std::log(std::max<uint16_t>(scan.low[i], 1) / 65535.0));
    ch.log_high[i] = static_cast<float>(-std::log(std::max<uint16_t>(scan.high[i], 1) / 65535.0));
  }
  float kl[5], kh[5];
  xray::SmoothingKernels(calib, kl, kh);
  std::vector<float> sl(n), sh(n);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double al = 0, ah = 0;
      for (int dy = -2; dy <= 2; ++dy)
        for (int dx = -2; dx <= 2; ++dx) {
          size_t j =
              static_cast<size_t>(std::clamp(y + dy, 0, h - 1)) * w + std::clamp(x + dx, 0, w - 1);
          al += kl[dy + 2] * kl[dx + 2] * ch.log_low[j];
          ah += kh[dy + 2] * kh[dx + 2] * ch.log_high[j];
        }
      sl[static_cast<size_t>(y) * w + x] = static_cast<float>(al);
      sh[static_cast<size_t>(y) * w + x] = static_cast<float>(ah);
    }
  // Packaging level: a low percentile of the thin parcel pixels (see analysis_internal.h).
  std::vector<float> thin;
  double parcel = 0;
  for (int y = 0; y < h; y += 2)
    for (int x = 0; x < w; x += 2) {
      float v = sh[static_cast<size_t>(y) * w + x];
      if (v < o.air_log_high) continue;
      ++parcel;
      if (v < o.max_packaging_log_high) thin.push_back(v);
    }
  double ph = 0, pl = 0;
  if (thin.size() >= std::max(250.0, xray::kPackagingMinShare * parcel)) {
    size_t k = static_cast<size_t>(thin.size() * xray::kPackagingPercentile);
    std::nth_element(thin.begin(), thin.begin() + k, thin.end());
    ph = thin[k];
    double sum_l = 0, sum_h = 0;
    for (int y = 0; y < h; y += 2)
      for (int x = 0; x < w; x += 2) {
        size_t i = static_cast<size_t>(y) * w + x;
        if (sh[i] >= o.air_log_high && sh[i] <= ph) {
          sum_l += sl[i];
          sum_h += sh[i];
        }
      }
    pl = sum_h > 0 ? ph * sum_l / sum_h : ph;
  }
  out->packaging_log_low = pl;
  out->packaging_log_high = ph;
  std::vector<uint8_t> key(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (sh[i] < o.air_log_high) continue;
    double hh = sh[i] - ph, ll = sl[i] - pl;
    bool sub = hh >= 0.5 * o.min_object_log_high;
    double z = calib.ZEff(sub ? ll : sl[i], sub ? hh : sh[i]);
    uint8_t cls = static_cast<uint8_t>(calib.Classify(z));
    if (scan.low[i] <= o.impenetrable_low_pixel || sl[i] > calib.low_saturation_log())
      cls = static_cast<uint8_t>(MaterialClass::kImpenetrable);
    ch.z_eff[i] = static_cast<float>(z);
    ch.material[i] = cls;
    ch.areal_density[i] = static_cast<float>(calib.ArealDensity(sh[i], z));
    if (hh >= o.min_object_log_high) key[i] = cls;
  }
  // Flood fill, 8-connected, per material class.
  std::vector<int32_t> comp(n, 0);
  std::vector<int64_t> size(1, 0);
  int32_t ncomp = 0;
  for (size_t s = 0; s < n; ++s) {
    if (!key[s] || comp[s]) continue;
    comp[s] = ++ncomp;
    size.push_back(0);
    std::queue<size_t> q;
    q.push(s);
    while (!q.empty()) {
      size_t i = q.front();
      q.pop();
      ++size[ncomp];
      int x = static_cast<int>(i % w), y = static_cast<int>(i / w);
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          int xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
          size_t j = static_cast<size_t>(yy) * w + xx;
          if (key[j] == key[s] && !comp[j]) {
            comp[j] = ncomp;
            q.push(j);
          }
        }
    }
  }
  // Neighbouring components of each component (8-connected), for the two merges below.
  auto merge_into = [&](auto choose) {
    std::vector<int32_t> target(ncomp + 1, 0);
    for (size_t i = 0; i < n; ++i) {
      int32_t a = comp[i];
      if (!a) continue;
      int x = static_cast<int>(i % w), y = static_cast<int>(i / w);
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          int xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
          int32_t b = comp[static_cast<size_t>(yy) * w + xx];
          if (b && b != a && choose(a, b, target[a])) target[a] = b;
        }
    }
    for (size_t i = 0; i < n; ++i)
      if (comp[i] && target[comp[i]]) comp[i] = target[comp[i]];
    std::fill(size.begin(), size.end(), 0);
    for (size_t i = 0; i < n; ++i)
      if (comp[i]) ++size[comp[i]];
  };
  std::vector<uint8_t> comp_key(ncomp + 1, 0);
  for (size_t i = 0; i < n; ++i)
    if (comp[i]) comp_key[comp[i]] = key[i];
  // Saturated regions join the densest (then largest) component they touch.
  merge_into([&](int32_t a, int32_t b, int32_t cur) {
    if (comp_key[a] != 4 || comp_key[b] == 4) return false;
    return !cur || comp_key[b] > comp_key[cur] ||
           (comp_key[b] == comp_key[cur] && size[b] > size[cur]);
  });
  // Fragments and halos join the largest touching component that is big enough.
  std::vector<xray::Box> box(ncomp + 1);
  for (size_t i = 0; i < n; ++i)
    if (comp[i]) box[comp[i]].AddPixel(static_cast<int>(i % w), static_cast<int>(i / w));
  merge_into([&](int32_t a, int32_t b, int32_t cur) {
    bool small = size[a] < o.min_object_pixels || xray::IsHalo(size[a], box[a], size[b], box[b]);
    return small && size[b] >= o.min_object_pixels && (!cur || size[b] > size[cur]);
  });
  std::vector<int64_t>& final_size = size;
  std::vector<int32_t> id(ncomp + 1, 0);
  int32_t next = 0;
  for (size_t i = 0; i < n; ++i) {
    int32_t c = comp[i];
    if (!c || final_size[c] < o.min_object_pixels) continue;
    if (!id[c]) id[c] = ++next;
    ch.labels[i] = id[c];
  }
  std::vector<xray::ObjectStats> stats(next + 1);
  for (size_t i = 0; i < n; ++i)
    if (ch.labels[i])
      stats[ch.labels[i]].Add(
          static_cast<int>(i % w), static_cast<int>(i / w), static_cast<float>(ch.log_low[i] - pl),
          static_cast<float>(ch.log_high[i] - ph),
          scan.low[i] <= o.impenetrable_low_pixel || sl[i] > calib.low_saturation_log());
  std::vector<double> zobj(next + 1, 0), mass(next + 1, 0);
  for (int32_t k = 1; k <= next; ++k)
    zobj[k] = xray::MakeObject(calib, k, stats[k], scan.meta.pixel_mm, 0).z_eff;
  const double px_area_cm2 = scan.meta.pixel_mm * scan.meta.pixel_mm / 100.0;
  for (size_t i = 0; i < n; ++i) {
    int32_t k = ch.labels[i];
    if (!k) continue;
    double hh = ch.log_high[i] - ph, hm = std::max(0.01, hh);
    mass[k] += hh * calib.ArealDensity(hm, zobj[k]) / hm * px_area_cm2;
  }
  for (int32_t k = 1; k <= next; ++k)
    out->objects.push_back(xray::MakeObject(calib, k, stats[k], scan.meta.pixel_mm, mass[k]));
  xray::FinishObjects(out);
  out->ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_start).count();
  return Status::Ok();
}

}  // namespace clearsight
