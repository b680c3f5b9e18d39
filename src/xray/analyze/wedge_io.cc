// Wedge scans: format-v1 scans whose sidecar carries a "wedge" object listing the steps.
#include <cmath>
#include <nlohmann/json.hpp>

#include "clearsight/text.h"
#include "clearsight/xray_calibrate.h"

namespace clearsight {

using nlohmann::json;

Result<WedgeScan> ReadWedgeScan(const std::string& tiff_path, const ScanReadOptions& options) {
  CS_ASSIGN_OR_RETURN(Scan scan, ReadScan(tiff_path, options));
  json extra = scan.meta.extra_json.empty() ? json::object()
                                            : json::parse(scan.meta.extra_json, nullptr, false);
  if (!extra.is_object() || !extra.contains("wedge"))
    return Status::InvalidArgument(tiff_path +
                                   ": sidecar has no \"wedge\" object (not a wedge scan)");
  WedgeScan out;
  const json& wedge = extra["wedge"];
  if (!wedge.is_object() || !wedge.contains("steps") || !wedge["steps"].is_array() ||
      wedge["steps"].empty())
    return Status::InvalidArgument(tiff_path + ": \"wedge\" needs a non-empty \"steps\" array");
  int n = 0;
  for (const json& s : wedge["steps"]) {
    const std::string step = tiff_path + ": wedge step " + std::to_string(n++);
    const std::string where = step + ": ";
    if (!s.is_object()) return Status::InvalidArgument(where + "not an object");
    WedgeStep st;
    try {
      st.material = s.at("material").get<std::string>();
      st.formula = s.value("formula", "");
      st.z_eff = s.value("z_eff", 0.0);
      st.density_g_cm3 = s.value("density_g_cm3", 0.0);
      st.thickness_mm = s.value("thickness_mm", 0.0);
      st.areal_density_g_cm2 = s.value("areal_density_g_cm2", 0.0);
      const json& r = s.at("region");
      if (!r.is_array() || r.size() != 4)
        return Status::InvalidArgument(where + "\"region\" must be [x0,y0,x1,y1]");
      st.x0 = r[0].get<int>();
      st.y0 = r[1].get<int>();
      st.x1 = r[2].get<int>();
      st.y1 = r[3].get<int>();
    } catch (const json::exception& e) {
      return Status::InvalidArgument(where + "bad field (" + e.what() + ")");
    }
    if (st.material.empty()) return Status::InvalidArgument(where + "\"material\" is empty");
    if (st.x0 < 0 || st.y0 < 0 || st.x1 > scan.width || st.y1 > scan.height || st.x1 - st.x0 < 3 ||
        st.y1 - st.y0 < 3)
      return Status::InvalidArgument(where +
                                     "region must lie inside the image and be at least 3x3 pixels");
    if (st.areal_density_g_cm2 <= 0) {
      if (!(st.thickness_mm > 0 && st.density_g_cm3 > 0))
        return Status::InvalidArgument(
            where + "needs areal_density_g_cm2, or thickness_mm and density_g_cm3");
      st.areal_density_g_cm2 = st.density_g_cm3 * st.thickness_mm / 10.0;
    }
    if (st.z_eff <= 0) {
      if (st.formula.empty()) return Status::InvalidArgument(where + "needs z_eff or formula");
      auto z = FormulaZEff(st.formula);
      if (!z.ok()) return z.status().WithContext(step);
      st.z_eff = *z;
    }
    if (!(st.z_eff >= 1 && st.z_eff <= 100))
      return Status::InvalidArgument(where + "z_eff out of range 1..100");
    out.steps.push_back(st);
  }
  out.scan = std::move(scan);
  return out;
}

Result<std::vector<WedgeScan>> ReadWedgeDir(const std::string& dir) {
  CS_ASSIGN_OR_RETURN(auto files, ListScans(dir));
  std::vector<WedgeScan> out;
  for (const auto& f : files) {
    CS_ASSIGN_OR_RETURN(Scan scan, ReadScan(f));
    json extra = scan.meta.extra_json.empty() ? json::object()
                                              : json::parse(scan.meta.extra_json, nullptr, false);
    if (!extra.is_object() || !extra.contains("wedge")) continue;
    CS_ASSIGN_OR_RETURN(WedgeScan w, ReadWedgeScan(f));
    out.push_back(std::move(w));
  }
  if (out.empty())
    return Status::NotFound(dir + ": no wedge scans (scans whose sidecar has \"wedge\")");
  return out;
}

Status WriteWedgeScan(const WedgeScan& wedge, const std::string& tiff_path) {
  json steps = json::array();
  for (const auto& s : wedge.steps) {
    json j = {{"material", s.material},
              {"thickness_mm", s.thickness_mm},
              {"areal_density_g_cm2", s.areal_density_g_cm2},
              {"region", {s.x0, s.y0, s.x1, s.y1}}};
    if (!s.formula.empty()) j["formula"] = s.formula;
    if (s.z_eff > 0) j["z_eff"] = s.z_eff;
    if (s.density_g_cm3 > 0) j["density_g_cm3"] = s.density_g_cm3;
    steps.push_back(j);
  }
  Scan scan = wedge.scan;
  json extra = scan.meta.extra_json.empty() ? json::object()
                                            : json::parse(scan.meta.extra_json, nullptr, false);
  if (!extra.is_object()) extra = json::object();
  extra["wedge"] = {{"steps", steps}};
  scan.meta.extra_json = extra.dump();
  return WriteScan(scan, tiff_path);
}

}  // namespace clearsight
