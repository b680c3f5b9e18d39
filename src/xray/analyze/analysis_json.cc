// Objects from their statistics, and the analysis as one JSON line.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "clearsight/xray_analyze.h"
#include "xray/analyze/analysis_internal.h"

namespace clearsight {

namespace xray {

DetectedObject MakeObject(const Calibration& calib, int id, const ObjectStats& s, double pixel_mm,
                          double mass_g) {
  DetectedObject d;
  d.id = id;
  d.x0 = s.x0;
  d.y0 = s.y0;
  d.x1 = s.x1;
  d.y1 = s.y1;
  d.pixels = s.n;
  d.log_low = s.sum_l / std::max<int64_t>(1, s.n);
  d.log_high = s.sum_h / std::max<int64_t>(1, s.n);
  // z_eff from the pixels whose low image is not saturated; an object that is all saturated is as
  // dense as the calibration can tell.
  // Only the object's body counts, not its rim: pixels partly covering the object sit at lower
  // log_high where the same ratio means a lower Z (beam hardening).
  if (s.n_ok * 20 >= s.n && s.n_ok > 0 && s.sum_h_ok > 1e-4 * s.n_ok) {
    double mean_h = s.sum_h_ok / s.n_ok, l = 0, h = 0, cnt = 0;
    const double core = 0.5 * mean_h;  // the rim (partly covered pixels) stays out
    for (int b = 0; b < kMassBins; ++b)
      if (s.bin_n_ok[b] && s.bin_h_ok[b] / s.bin_n_ok[b] >= core) {
        l += s.bin_l_ok[b];
        h += s.bin_h_ok[b];
        cnt += s.bin_n_ok[b];
      }
    d.z_eff = h > 0 ? calib.ZEff(l / cnt, h / cnt) : calib.ZEff(s.sum_l_ok / s.n_ok, mean_h);
  } else if (s.n_ok * 20 < s.n)
    d.z_eff = calib.max_z();
  else
    d.z_eff = calib.min_z();
  const double px_area_cm2 = pixel_mm * pixel_mm / 100.0;
  if (mass_g < 0) {
    mass_g = 0;
    for (int b = 0; b < kMassBins; ++b) {
      if (!s.bin_n[b]) continue;
      double hm = std::max(0.01, s.bin_h[b] / s.bin_n[b]);
      mass_g += s.bin_h[b] * calib.ArealDensity(hm, d.z_eff) / hm * px_area_cm2;
    }
  }
  d.mass_kg = std::max(0.0, mass_g / 1000.0);
  d.area_cm2 = s.n * px_area_cm2;
  d.areal_density_g_cm2 = d.area_cm2 > 0 ? d.mass_kg * 1000.0 / d.area_cm2 : 0;
  d.impenetrable_fraction = s.n ? static_cast<double>(s.impenetrable) / s.n : 0;
  d.material = d.impenetrable_fraction > 0.5 ? MaterialClass::kMetal : calib.Classify(d.z_eff);
  if (d.material == MaterialClass::kNone) d.material = MaterialClass::kOrganic;
  return d;
}

void FinishObjects(ScanAnalysis* out) {
  std::stable_sort(
      out->objects.begin(), out->objects.end(),
      [](const DetectedObject& a, const DetectedObject& b) { return a.mass_kg > b.mass_kg; });
  out->materials = {};
  for (const auto& o : out->objects) {
    if (o.material == MaterialClass::kOrganic) out->materials.organic_kg += o.mass_kg;
    if (o.material == MaterialClass::kInorganic) out->materials.inorganic_kg += o.mass_kg;
    if (o.material == MaterialClass::kMetal) out->materials.metal_kg += o.mass_kg;
  }
}

}  // namespace xray

namespace {
double Round(double v, double scale) { return std::round(v * scale) / scale; }
}  // namespace

std::string ScanAnalysis::ToJson() const {
  using nlohmann::json;
  json objs = json::array();
  for (const auto& o : objects)
    objs.push_back({{"id", o.id},
                    {"box", {o.x0, o.y0, o.x1, o.y1}},
                    {"material", MaterialClassName(o.material)},
                    {"z_eff", Round(o.z_eff, 100)},
                    {"mass_kg", Round(o.mass_kg, 1e5)},
                    {"area_cm2", Round(o.area_cm2, 100)},
                    {"areal_density_g_cm2", Round(o.areal_density_g_cm2, 1000)},
                    {"pixels", o.pixels},
                    {"impenetrable_fraction", Round(o.impenetrable_fraction, 1000)}});
  json j = {{"scan_id", scan_id},
            {"width", width},
            {"height", height},
            {"objects", objs},
            {"materials",
             {{"organic_kg", Round(materials.organic_kg, 1e4)},
              {"inorganic_kg", Round(materials.inorganic_kg, 1e4)},
              {"metal_kg", Round(materials.metal_kg, 1e4)}}},
            {"packaging_log_high", Round(packaging_log_high, 1e4)},
            {"ms", Round(ms, 1000)}};
  if (!consignment_id.empty()) j["consignment_id"] = consignment_id;
  std::string s = j.dump();
  if (!extra_fields.empty()) {
    s.pop_back();  // '}'
    for (const auto& [key, value] : extra_fields) s += "," + json(key).dump() + ":" + value;
    s += "}";
  }
  return s;
}

}  // namespace clearsight
