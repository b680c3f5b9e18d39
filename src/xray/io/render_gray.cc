// Grayscale rendering of one energy with window/level, for the viewer.
#include <algorithm>
#include <array>
#include <cmath>

#include "clearsight/xray_scan.h"

namespace clearsight {

Result<std::string> RenderGrayPng(const Scan& scan, const GrayRenderOptions& options) {
  if (scan.width <= 0 || scan.height <= 0 || scan.low.size() != scan.pixels() ||
      scan.high.size() != scan.pixels())
    return Status::InvalidArgument("render: malformed scan");
  const auto& page = options.use_low ? scan.low : scan.high;
  double window = options.window, level = options.level;
  if (!(window > 0)) {
    // Automatic: stretch the 2nd..99.8th percentile of transmission.
    std::vector<uint32_t> hist(65536, 0);
    for (uint16_t v : page) ++hist[v];
    auto pct = [&](double q) {
      uint64_t target = static_cast<uint64_t>(q * page.size()), acc = 0;
      for (int v = 0; v < 65536; ++v)
        if ((acc += hist[v]) > target) return v / 65535.0;
      return 1.0;
    };
    double lo = pct(0.02), hi = pct(0.998);
    if (hi - lo < 1e-3) hi = lo + 1e-3;
    window = hi - lo;
    level = (hi + lo) / 2;
  }
  const double gamma = options.gamma > 0 ? options.gamma : 1.0;
  // 65536-entry table: every pixel value maps once.
  std::vector<uint8_t> lut(65536);
  for (int v = 0; v < 65536; ++v) {
    double d = std::clamp((v / 65535.0 - level) / window + 0.5, 0.0, 1.0);
    lut[v] = static_cast<uint8_t>(std::lround(255.0 * std::pow(d, 1.0 / gamma)));
  }
  std::vector<uint8_t> out(page.size());
  for (size_t i = 0; i < page.size(); ++i) out[i] = lut[page[i]];
  return EncodePngGray8(scan.width, scan.height, out);
}

}  // namespace clearsight
