// Image analysis as findings. Works on the analysis' objects and totals only (no pixels), so the
// same code serves any scanner that produces a ScanAnalysis.
#include <algorithm>
#include <cmath>

#include "clearsight/fusion.h"
#include "clearsight/text.h"
#include "clearsight/xray_analyze.h"
#include "clearsight/xray_detect.h"
#include "clearsight/xray_manifest.h"
#include "clearsight/xray_tip.h"

namespace clearsight {

namespace {

int Chapter(const Declaration* d) {
  if (!d || d->hs_code.size() < 2) return -1;
  return (d->hs_code[0] - '0') * 10 + (d->hs_code[1] - '0');
}

std::string GoodsName(const Declaration* d) {
  std::string_view name = d ? HsChapterName(d->hs_code) : std::string_view();
  if (!name.empty()) return std::string(name);
  if (d && !d->description.empty()) return d->description;
  return d ? "HS " + d->hs_code : "the declared goods";
}

FindingBox BoxOf(const DetectedObject& o) { return FindingBox{o.x0, o.y0, o.x1, o.y1}; }

std::string Kg(double kg) { return FormatFixed(kg, kg < 10 ? 2 : 1) + " kg"; }

}  // namespace

std::vector<Finding> FindingsFromScanAnalysis(const ScanAnalysis& a, const Declaration* declared,
                                              const ScanFindingOptions& o) {
  std::vector<Finding> out;
  const int chapter = Chapter(declared);
  const bool metal_goods = chapter >= 71 && chapter <= 97;
  const bool metal_or_electronic = chapter >= 71 && chapter <= 85;
  const std::string goods = GoodsName(declared);

  // Opaque objects: whatever is inside cannot be seen.
  for (const auto& obj : a.objects) {
    if (obj.impenetrable_fraction >= o.impenetrable_min_fraction &&
        obj.area_cm2 >= o.impenetrable_min_area_cm2) {
      Finding f;
      f.source = "xray";
      f.kind = "impenetrable";
      f.score = 0.55;
      f.reason = "object the X-ray cannot penetrate (" + FormatFixed(obj.area_cm2, 0) +
                 " cm²): contents unknown";
      f.box = BoxOf(obj);
      f.scan_id = a.scan_id;
      if (o.impenetrable_demands_red) f.floor = Channel::kRed;
      out.push_back(std::move(f));
      break;  // one such reason is enough; the officer sees the rest in the image
    }
  }
  // Metal that the goods do not explain.
  if (declared && !metal_goods) {
    const DetectedObject* heaviest = nullptr;
    for (const auto& obj : a.objects)
      if (obj.material == MaterialClass::kMetal && (!heaviest || obj.mass_kg > heaviest->mass_kg))
        heaviest = &obj;
    if (heaviest && a.materials.metal_kg >= o.metal_min_kg) {
      Finding f;
      f.source = "xray";
      f.kind = "unexpected_metal";
      f.score = std::clamp(0.3 + a.materials.metal_kg, 0.3, 0.7);
      f.reason = "metal " + Kg(a.materials.metal_kg) + " in goods declared as " + goods;
      f.box = BoxOf(*heaviest);
      f.scan_id = a.scan_id;
      out.push_back(std::move(f));
    }
  }
  // Organic mass inside metal or electronic goods (the classic concealment of narcotics).
  double total = a.materials.organic_kg + a.materials.inorganic_kg + a.materials.metal_kg;
  if (declared && metal_or_electronic && a.materials.organic_kg >= o.organic_min_kg && total > 0 &&
      a.materials.organic_kg / total >= 0.6) {
    const DetectedObject* heaviest = nullptr;
    for (const auto& obj : a.objects)
      if (obj.material == MaterialClass::kOrganic && (!heaviest || obj.mass_kg > heaviest->mass_kg))
        heaviest = &obj;
    Finding f;
    f.source = "xray";
    f.kind = "unexpected_organic";
    f.score = 0.5;
    f.reason = "organic mass " + Kg(a.materials.organic_kg) + " inside " + goods;
    if (heaviest) {
      f.box = BoxOf(*heaviest);
      f.scan_id = a.scan_id;
    }
    out.push_back(std::move(f));
  }
  // Image mass against declared mass.
  if (declared && declared->net_mass_kg >= o.min_declared_kg && total > 0) {
    double ratio = total / declared->net_mass_kg;
    if (ratio >= o.mass_mismatch_ratio || ratio <= 1 / o.mass_mismatch_ratio) {
      Finding f;
      f.source = "xray";
      f.kind = "mass_mismatch";
      f.score = ratio > 1 ? std::min(0.6, 0.2 + 0.05 * ratio) : 0.3;
      f.reason = "image shows about " + Kg(total) + " of goods; " + Kg(declared->net_mass_kg) +
                 " declared";
      out.push_back(std::move(f));
    }
  }
  return out;
}

std::vector<Finding> FindingsFromDetections(const std::vector<Detection>& detections,
                                            const std::string& scan_id,
                                            const DetectionFindingOptions& options) {
  std::vector<Finding> out;
  for (const Detection& d : detections) {
    if (d.threat_class.empty() || !(d.score > 0)) continue;
    Finding f;
    f.source = "detector";
    f.kind = "threat:" + d.threat_class;
    f.score = std::clamp(d.score, 0.0, 1.0);
    std::string words = d.threat_class;
    std::replace(words.begin(), words.end(), '_', ' ');
    f.reason = words + "-like object, " + FormatFixed(d.score, 2);
    f.box = FindingBox{d.x0, d.y0, d.x1, d.y1};
    f.scan_id = scan_id;
    if (SeverityOfThreatClass(d.threat_class) == ThreatSeverity::kWeapon &&
        d.score >= options.weapon_red_min_score)
      f.floor = Channel::kRed;
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<Finding> FindingsFromManifest(const ManifestCheck& check) {
  if (check.consistent) return {};
  Finding f;
  f.source = "manifest";
  f.kind = "manifest_mismatch";
  f.score = std::clamp(check.score, 0.0, 1.0);
  f.reason =
      check.reasons.empty() ? "the image does not fit the declared goods" : check.reasons.front();
  return {std::move(f)};
}

}  // namespace clearsight
