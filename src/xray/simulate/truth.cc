// Ground truth of simulated scans as JSON.
#include <nlohmann/json.hpp>

#include "clearsight/xray_simulate.h"

namespace clearsight {

using nlohmann::json;

std::string ScanTruth::ToJson() const {
  json objs = json::array();
  for (const auto& o : objects) {
    json parts = json::array();
    for (const auto& p : o.parts)
      parts.push_back({{"material", p.material}, {"mass_kg", p.mass_kg}});
    objs.push_back({{"id", o.id},
                    {"name", o.name},
                    {"category", o.category},
                    {"hs_code", o.hs_code},
                    {"threat", o.threat},
                    {"threat_class", o.threat_class},
                    {"packaging", o.packaging},
                    {"isolated", o.isolated},
                    {"concealed", o.concealed},
                    {"material", o.material},
                    {"material_class", MaterialClassName(o.material_class)},
                    {"z_eff", o.z_eff},
                    {"class_purity", o.class_purity},
                    {"mass_kg", o.mass_kg},
                    {"box", {o.x0, o.y0, o.x1, o.y1}},
                    {"mask_rle", o.mask_rle},
                    {"parts", parts}});
  }
  json j = {{"scan_id", scan_id},
            {"consignment_id", consignment_id},
            {"declaration_id", declaration_id},
            {"container", container},
            {"width", width},
            {"height", height},
            {"pixel_mm", pixel_mm},
            {"objects", objs},
            {"declaration_truth", DeclarationTruthName(declaration_truth)},
            {"true_hs_code", true_hs_code},
            {"true_description", true_description},
            {"true_value", true_value},
            {"true_net_mass_kg", true_net_mass_kg}};
  return j.dump(1);
}

Result<ScanTruth> ScanTruth::FromJson(std::string_view text, std::string_view name) {
  ScanTruth t;
  try {
    json j = json::parse(text);
    t.scan_id = j.at("scan_id").get<std::string>();
    t.consignment_id = j.value("consignment_id", "");
    t.declaration_id = j.value("declaration_id", "");
    t.container = j.value("container", "");
    t.width = j.at("width").get<int>();
    t.height = j.at("height").get<int>();
    t.pixel_mm = j.at("pixel_mm").get<double>();
    std::string dt = j.value("declaration_truth", "honest");
    t.declaration_truth = dt == "misdeclared"   ? DeclarationTruth::kMisdeclared
                          : dt == "undervalued" ? DeclarationTruth::kUndervalued
                                                : DeclarationTruth::kHonest;
    t.true_hs_code = j.value("true_hs_code", "");
    t.true_description = j.value("true_description", "");
    t.true_value = j.value("true_value", 0.0);
    t.true_net_mass_kg = j.value("true_net_mass_kg", 0.0);
    for (const auto& o : j.at("objects")) {
      TruthObject x;
      x.id = o.at("id").get<int>();
      x.name = o.value("name", "");
      x.category = o.value("category", "");
      x.hs_code = o.value("hs_code", "");
      x.threat = o.value("threat", false);
      x.threat_class = o.value("threat_class", "");
      x.packaging = o.value("packaging", false);
      x.isolated = o.value("isolated", false);
      x.concealed = o.value("concealed", false);
      x.material = o.value("material", "");
      auto mc = ParseMaterialClass(o.value("material_class", "none"));
      if (!mc.ok()) return mc.status().WithContext(name);
      x.material_class = *mc;
      x.z_eff = o.value("z_eff", 0.0);
      x.class_purity = o.value("class_purity", 1.0);
      x.mass_kg = o.value("mass_kg", 0.0);
      const auto& box = o.at("box");
      x.x0 = box.at(0);
      x.y0 = box.at(1);
      x.x1 = box.at(2);
      x.y1 = box.at(3);
      x.mask_rle = o.value("mask_rle", std::vector<uint32_t>{});
      if (o.contains("parts"))
        for (const auto& p : o["parts"])
          x.parts.push_back({p.value("material", ""), p.value("mass_kg", 0.0)});
      t.objects.push_back(std::move(x));
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string(name) + ": not a scan truth file (" + e.what() +
                                   ")");
  }
  return t;
}

Result<std::vector<uint8_t>> DecodeMaskRle(const std::vector<uint32_t>& rle, int width,
                                           int height) {
  if (width <= 0 || height <= 0) return Status::InvalidArgument("mask: bad image size");
  if (rle.size() % 2) return Status::InvalidArgument("mask: odd number of RLE values");
  const size_t n = static_cast<size_t>(width) * height;
  std::vector<uint8_t> mask(n, 0);
  for (size_t i = 0; i < rle.size(); i += 2) {
    size_t start = rle[i], len = rle[i + 1];
    if (start + len > n) return Status::InvalidArgument("mask: run leaves the image");
    std::fill(mask.begin() + start, mask.begin() + start + len, 1);
  }
  return mask;
}

}  // namespace clearsight
