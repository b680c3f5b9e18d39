// The detector's second stage (verifier.h): region features and prediction.
#include "xray/detect/verifier.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "xray/detect/features.h"

namespace clearsight::xray {

static_assert(kRegionFeatures == 28,
              "RegionFeatures fills one value per name in kRegionFeatureNames");

void RegionFeatures(const std::vector<float>& threat_prob, const std::vector<float>& goods_prob,
                    int oh, int ow, int nt, int ng, const std::vector<int32_t>& cells, size_t k,
                    int bx0, int by0, int bx1, int by1, double pixel_mm, const GridView& grid,
                    float* f) {
  const size_t plane = static_cast<size_t>(oh) * ow;
  const double n = static_cast<double>(cells.size());
  double peak = 0, sum_k = 0, sum_all = 0, other_peak = 0, threat = 0;
  for (int32_t c : cells) {
    threat += 1.0 - threat_prob[static_cast<size_t>(c)];
    for (int j = 0; j < nt; ++j) {
      const double p = threat_prob[static_cast<size_t>(j + 1) * plane + c];
      sum_all += p;
      if (static_cast<size_t>(j) == k) {
        sum_k += p;
        peak = std::max(peak, p);
      } else {
        other_peak = std::max(other_peak, p);
      }
    }
  }
  const double cell_mm = kOutCellPx * pixel_mm;
  const double bw = (bx1 - bx0) * cell_mm, bh = (by1 - by0) * cell_mm;
  f[0] = static_cast<float>(k);
  f[1] = static_cast<float>(peak);
  f[2] = static_cast<float>(sum_k / n);
  f[3] = static_cast<float>(sum_k / std::max(sum_all, 1e-9));
  f[4] = static_cast<float>(other_peak);
  f[5] = static_cast<float>(threat / n);
  f[6] = static_cast<float>(std::log(n));
  f[7] = static_cast<float>(std::min(bw, bh));
  f[8] = static_cast<float>(std::max(bw, bh));
  f[9] = static_cast<float>(n / ((bx1 - bx0) * (by1 - by0)));
  if (!goods_prob.empty() && ng > 0) {
    std::vector<double> g(static_cast<size_t>(ng), 0.0);
    double seen = 0, total = 0;
    for (int32_t c : cells) {
      seen += 1.0 - goods_prob[static_cast<size_t>(c)];
      for (int j = 0; j < ng; ++j) g[j] += goods_prob[static_cast<size_t>(j + 1) * plane + c];
    }
    for (double v : g) total += v;
    const size_t top = static_cast<size_t>(std::max_element(g.begin(), g.end()) - g.begin());
    f[25] = static_cast<float>(seen / n);
    f[26] = static_cast<float>(top);
    f[27] = static_cast<float>(total > 0 ? g[top] / total : 0.0);
  } else {
    f[25] = f[26] = f[27] = std::numeric_limits<float>::quiet_NaN();
  }
  if (!grid.data) {
    std::fill(f + 10, f + 25, std::numeric_limits<float>::quiet_NaN());
    return;
  }

  // The region at input resolution (each output cell is 2 x 2 input cells), in a local mask over
  // the box grown by the ring.
  const int gh = grid.gh, gw = grid.gw;
  const size_t gplane = static_cast<size_t>(gh) * gw;
  const int r = std::max(2, static_cast<int>(0.25 * 2 * std::max(bx1 - bx0, by1 - by0)));
  const int x0 = std::max(0, 2 * bx0 - r), y0 = std::max(0, 2 * by0 - r);
  const int x1 = std::min(gw, 2 * bx1 + r), y1 = std::min(gh, 2 * by1 + r);
  const int lw = x1 - x0, lh = y1 - y0;
  std::vector<uint8_t> mask(static_cast<size_t>(std::max(0, lw)) * std::max(0, lh), 0);
  auto in_mask = [&](int y, int x) {
    return x >= x0 && x < x1 && y >= y0 && y < y1 &&
           mask[static_cast<size_t>(y - y0) * lw + (x - x0)];
  };
  for (int32_t c : cells) {
    const int cy = c / ow, cx = c % ow;
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx) {
        const int y = 2 * cy + dy, x = 2 * cx + dx;
        if (x >= x0 && x < x1 && y >= y0 && y < y1)
          mask[static_cast<size_t>(y - y0) * lw + (x - x0)] = 1;
      }
  }
  auto at = [&](int ch, int y, int x) {
    return static_cast<double>(grid.data[ch * gplane + static_cast<size_t>(y) * gw + x]);
  };
  double in_n = 0, ring_n = 0, texture_n = 0, edge_n = 0;
  double s[5] = {0, 0, 0, 0, 0}, ss0 = 0, ss2 = 0, dmax = 0, ring[3] = {0, 0, 0}, texture = 0,
         edge = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      if (!mask[static_cast<size_t>(y - y0) * lw + (x - x0)]) {
        ring[0] += at(0, y, x), ring[1] += at(2, y, x), ring[2] += at(3, y, x);
        ring_n += 1;
        continue;
      }
      in_n += 1;
      for (int ch = 0; ch < 5; ++ch) s[ch] += at(ch, y, x);
      const double d = at(0, y, x), z = at(2, y, x);
      ss0 += d * d, ss2 += z * z;
      dmax = std::max(dmax, at(1, y, x));
      if (x + 1 < gw && in_mask(y, x + 1)) texture += std::abs(d - at(0, y, x + 1)), texture_n += 1;
      if (y + 1 < gh && in_mask(y + 1, x)) texture += std::abs(d - at(0, y + 1, x)), texture_n += 1;
      const int nb[4][2] = {{0, 1}, {0, -1}, {1, 0}, {-1, 0}};
      for (const auto& o : nb) {
        const int ny = y + o[0], nx = x + o[1];
        if (ny < 0 || nx < 0 || ny >= gh || nx >= gw || in_mask(ny, nx)) continue;
        edge += d - at(0, ny, nx), edge_n += 1;
      }
    }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto mean = [&](double v, double cnt) { return cnt > 0 ? v / cnt : nan; };
  const double dm = mean(s[0], in_n), zm = mean(s[2], in_n);
  const double rd = mean(ring[0], ring_n), rz = mean(ring[1], ring_n);
  f[10] = static_cast<float>(dm);
  f[11] = static_cast<float>(mean(s[1], in_n));
  f[12] = static_cast<float>(zm);
  f[13] = static_cast<float>(mean(s[3], in_n));
  f[14] = static_cast<float>(mean(s[4], in_n));
  f[15] = static_cast<float>(in_n > 0 ? std::sqrt(std::max(0.0, ss0 / in_n - dm * dm)) : nan);
  f[16] = static_cast<float>(in_n > 0 ? std::sqrt(std::max(0.0, ss2 / in_n - zm * zm)) : nan);
  f[17] = static_cast<float>(in_n > 0 ? dmax : nan);
  f[18] = static_cast<float>(rd);
  f[19] = static_cast<float>(rz);
  f[20] = static_cast<float>(mean(ring[2], ring_n));
  f[21] = static_cast<float>(dm - rd);
  f[22] = static_cast<float>(zm - rz);
  f[23] = static_cast<float>(mean(texture, texture_n));
  f[24] = static_cast<float>(mean(edge, edge_n));
}

void RegionVerifier::Predict(const std::vector<Candidate>& candidates,
                             std::vector<float>* out) const {
  std::vector<float> x(candidates.size() * kRegionFeatures);
  for (size_t i = 0; i < candidates.size(); ++i)
    std::copy(candidates[i].features.begin(), candidates[i].features.end(),
              x.begin() + i * kRegionFeatures);
  out->assign(candidates.size(), 0.f);
  if (candidates.empty()) return;
  forest.PredictProbability(x.data(), candidates.size(), kRegionFeatures, out->data());
}

}  // namespace clearsight::xray
