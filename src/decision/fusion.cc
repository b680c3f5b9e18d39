#include "clearsight/fusion.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace clearsight {

namespace {
using nlohmann::json;

json FindingToJsonValue(const Finding& f) {
  json j = {{"source", f.source}, {"kind", f.kind}, {"score", f.score}, {"reason", f.reason}};
  if (!f.details.empty()) j["details"] = f.details;
  if (f.box) j["box"] = {f.box->x0, f.box->y0, f.box->x1, f.box->y1};
  if (!f.scan_id.empty()) j["scan_id"] = f.scan_id;
  if (f.floor != Channel::kGreen) j["floor"] = std::string(ChannelName(f.floor));
  return j;
}
}  // namespace

std::string FindingsToJson(const std::vector<Finding>& findings) {
  json a = json::array();
  for (const auto& f : findings) a.push_back(FindingToJsonValue(f));
  return a.dump();
}

Result<std::vector<Finding>> FindingsFromJson(std::string_view text) {
  json a = json::parse(text, nullptr, false);
  if (a.is_discarded() || !a.is_array()) return Status::DataLoss("findings: not a JSON array");
  std::vector<Finding> out;
  for (const auto& j : a) {
    if (!j.is_object() || !j.contains("source") || !j.contains("score"))
      return Status::DataLoss("findings: an element lacks source or score");
    Finding f;
    f.source = j.value("source", "");
    f.kind = j.value("kind", "");
    f.score = j.value("score", 0.0);
    f.reason = j.value("reason", "");
    if (j.contains("details")) f.details = j["details"].get<std::vector<std::string>>();
    if (j.contains("box") && j["box"].is_array() && j["box"].size() == 4)
      f.box = FindingBox{j["box"][0].get<int>(), j["box"][1].get<int>(), j["box"][2].get<int>(),
                         j["box"][3].get<int>()};
    f.scan_id = j.value("scan_id", "");
    if (j.contains("floor")) {
      auto c = ParseChannel(j["floor"].get<std::string>());
      if (!c.ok()) return Status::DataLoss("findings: " + c.status().message());
      f.floor = *c;
    }
    out.push_back(std::move(f));
  }
  return out;
}

FusedRisk Fuse(const std::vector<Finding>& findings, const FusionOptions& options) {
  FusedRisk out;
  double evidence = 0;
  for (const auto& f : findings) {
    auto it = options.source_weight.find(f.source);
    double w = it == options.source_weight.end() ? options.default_weight : it->second;
    // Capped below 1 so that no single finding is certainty and evidence stays finite.
    double p = std::clamp(w * (std::isfinite(f.score) ? f.score : 0.0), 0.0, 0.999);
    double e = -std::log1p(-p);
    evidence += e;
    out.floor = std::max(out.floor, f.floor);
    out.reasons.push_back(FusedReason{f.reason, f.source, f.kind, e, f.details, f.box, f.scan_id});
  }
  out.score = -std::expm1(-evidence);
  // Demanding findings (a rule or a weapon that requires red) come first at equal weight.
  std::stable_sort(out.reasons.begin(), out.reasons.end(),
                   [](const FusedReason& a, const FusedReason& b) { return a.weight > b.weight; });
  if (out.reasons.size() > options.max_reasons) out.reasons.resize(options.max_reasons);
  return out;
}

std::string_view HsChapterName(std::string_view hs) {
  if (hs.size() < 2) return {};
  static const std::map<int, const char*> kChapters = {{1, "live animals"},
                                                       {2, "meat"},
                                                       {3, "fish and seafood"},
                                                       {4, "dairy, eggs, honey"},
                                                       {6, "live plants"},
                                                       {7, "vegetables"},
                                                       {8, "fruit and nuts"},
                                                       {9, "coffee, tea, spices"},
                                                       {10, "cereals"},
                                                       {12, "oil seeds"},
                                                       {15, "fats and oils"},
                                                       {16, "prepared meat and fish"},
                                                       {17, "sugar and confectionery"},
                                                       {18, "cocoa and chocolate"},
                                                       {19, "bakery products"},
                                                       {20, "prepared vegetables and fruit"},
                                                       {21, "food preparations"},
                                                       {22, "beverages"},
                                                       {24, "tobacco"},
                                                       {25, "salt, stone, cement"},
                                                       {27, "mineral fuels"},
                                                       {28, "inorganic chemicals"},
                                                       {29, "organic chemicals"},
                                                       {30, "pharmaceuticals"},
                                                       {33, "cosmetics and perfume"},
                                                       {34, "soap and waxes"},
                                                       {38, "chemical products"},
                                                       {39, "plastics"},
                                                       {40, "rubber"},
                                                       {42, "leather goods and bags"},
                                                       {44, "wood"},
                                                       {48, "paper and board"},
                                                       {49, "books and printed matter"},
                                                       {50, "silk"},
                                                       {52, "cotton"},
                                                       {54, "man-made filaments"},
                                                       {61, "knitted clothing"},
                                                       {62, "woven clothing"},
                                                       {63, "textile articles"},
                                                       {64, "footwear"},
                                                       {65, "headgear"},
                                                       {69, "ceramics"},
                                                       {70, "glass"},
                                                       {71, "jewellery and precious metals"},
                                                       {72, "iron and steel"},
                                                       {73, "articles of iron or steel"},
                                                       {74, "copper"},
                                                       {76, "aluminium"},
                                                       {82, "tools and cutlery"},
                                                       {83, "articles of base metal"},
                                                       {84, "machinery"},
                                                       {85, "electrical and electronic equipment"},
                                                       {87, "vehicles and parts"},
                                                       {90, "optical and medical instruments"},
                                                       {91, "clocks and watches"},
                                                       {92, "musical instruments"},
                                                       {93, "arms and ammunition"},
                                                       {94, "furniture and lamps"},
                                                       {95, "toys and sports goods"},
                                                       {96, "miscellaneous manufactured articles"},
                                                       {97, "works of art"}};
  if (hs[0] < '0' || hs[0] > '9' || hs[1] < '0' || hs[1] > '9') return {};
  auto it = kChapters.find((hs[0] - '0') * 10 + (hs[1] - '0'));
  return it == kChapters.end() ? std::string_view() : std::string_view(it->second);
}

}  // namespace clearsight
