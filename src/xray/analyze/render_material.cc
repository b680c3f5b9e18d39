// The standard screening colours: organic orange, inorganic green, metal blue, brightness from
// attenuation (thin = pale, thick = dark), impenetrable black, air white.
#include <algorithm>
#include <cmath>

#include "clearsight/xray_analyze.h"

namespace clearsight {

Result<std::string> RenderMaterialPng(const ScanAnalysis& a, const MaterialRenderOptions& options) {
  const size_t n = static_cast<size_t>(a.width) * a.height;
  const ScanChannels& c = a.channels;
  if (n == 0 || c.log_high.size() != n || c.material.size() != n)
    return Status::FailedPrecondition(
        "material rendering needs an analysis with channels (keep_channels)");
  static constexpr uint8_t kHue[5][3] = {
      {255, 255, 255}, {255, 140, 0}, {40, 170, 40}, {40, 90, 230}, {0, 0, 0}};
  // Brightness table over log_high: exp(-gamma * h), 1024 steps up to 10.
  std::vector<float> bright(1024);
  for (int i = 0; i < 1024; ++i)
    bright[i] = static_cast<float>(std::exp(-options.brightness_gamma * (i + 0.5) * 10.0 / 1024));
  std::vector<uint8_t> rgb(n * 3);
  for (size_t i = 0; i < n; ++i) {
    uint8_t m = std::min<uint8_t>(c.material[i], 4);
    float hh = std::max(0.0f, c.log_high[i]);
    float b = bright[std::min(1023, static_cast<int>(hh * 102.4f))];
    float sat = std::min(1.0f, hh / 0.3f);  // thin objects fade to white
    for (int k = 0; k < 3; ++k) {
      float col = (1 - sat) * 255.0f + sat * kHue[m][k];
      float v = m == 4 ? 0.0f : (m == 0 ? 255.0f * (0.25f + 0.75f * b) : col * (0.15f + 0.85f * b));
      rgb[i * 3 + k] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
    }
  }
  if (options.outline_objects)
    for (const auto& o : a.objects) {
      for (int x = o.x0; x < o.x1; ++x)
        for (int y : {o.y0, o.y1 - 1})
          std::fill_n(&rgb[(static_cast<size_t>(y) * a.width + x) * 3], 3, 255);
      for (int y = o.y0; y < o.y1; ++y)
        for (int x : {o.x0, o.x1 - 1})
          std::fill_n(&rgb[(static_cast<size_t>(y) * a.width + x) * 3], 3, 255);
    }
  return EncodePngRgb8(a.width, a.height, rgb);
}

}  // namespace clearsight
