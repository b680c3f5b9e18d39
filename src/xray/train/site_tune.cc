// Fine-tuning a detector on a site's own scans: threats of known composition rendered through the
// site scanner's fitted spectral response and projected into its clean traffic (the positives),
// the traffic itself as the negatives; operating points chosen on held-back site scans and their
// projected copies.
#include "xray/train/site_tune.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "clearsight/text.h"
#include "clearsight/xray_simulate.h"

namespace clearsight::xray {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::vector<std::string> ScanPaths(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".tif" || ext == ".tiff")) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<ThreatLibrary> SiteThreatLibrary(const Calibration& calibration, double pixel_mm,
                                        int per_class, uint64_t seed) {
  CS_ASSIGN_OR_RETURN(const ScannerResponse response, ScannerResponse::Fit(calibration));
  SimulateOptions so;
  so.seed = seed;
  so.pixel_mm = pixel_mm;
  CS_ASSIGN_OR_RETURN(auto sim, Simulator::Create(so));
  CS_ASSIGN_OR_RETURN(const std::vector<MaterialThreat> threats,
                      sim->MakeMaterialThreats(per_class));
  ThreatLibrary library;
  for (const auto& t : threats) {
    CS_ASSIGN_OR_RETURN(ThreatPatch patch, RenderThreat(t, response, calibration));
    CS_RETURN_IF_ERROR(library.Add(std::move(patch)));
  }
  return library;
}

Result<ProjectedThreat> ProjectSiteThreat(const ThreatLibrary& library,
                                          const ScanAnalysis& analysis, uint64_t seed, Scan* scan) {
  Rng rng(seed);
  const auto& classes = ThreatClasses();
  const std::string& cls = classes[rng.Int(0, static_cast<int>(classes.size()) - 1)];
  const auto patches = library.OfClass(cls);
  if (patches.empty()) return Status::Internal("the site's threat library has no " + cls);
  const ThreatPatch& patch = *patches[rng.Int(0, static_cast<int>(patches.size()) - 1)];
  // Where the parcel is: the extent of the objects the analysis found (the whole scan's middle
  // when it found none); concealed over one of them 70 % of the time.
  ProjectOptions po;
  const auto& objects = analysis.objects;
  if (!objects.empty() && rng.Chance(0.7)) {
    const DetectedObject& o = objects[rng.Int(0, static_cast<int>(objects.size()) - 1)];
    po.x = o.x0 + (o.x1 - o.x0) * rng.Uniform(0.2, 0.8);
    po.y = o.y0 + (o.y1 - o.y0) * rng.Uniform(0.2, 0.8);
  } else if (!objects.empty()) {
    int x0 = scan->width, y0 = scan->height, x1 = 0, y1 = 0;
    for (const auto& o : objects) {
      x0 = std::min(x0, o.x0), y0 = std::min(y0, o.y0);
      x1 = std::max(x1, o.x1), y1 = std::max(y1, o.y1);
    }
    po.x = x0 + (x1 - x0) * rng.Uniform(0.15, 0.85);
    po.y = y0 + (y1 - y0) * rng.Uniform(0.15, 0.85);
  } else {
    po.x = scan->width * rng.Uniform(0.25, 0.75);
    po.y = scan->height * rng.Uniform(0.25, 0.75);
  }
  po.rotation_deg = rng.Uniform(0, 360);
  po.scale = rng.Uniform(0.85, 1.15);
  po.photons_per_pixel = 15000;
  po.seed = rng.Next();
  return ProjectThreat(patch, po, scan);
}

Status SiteSample(const ScanAnalysis& analysis, const ProjectedThreat* threat, Sample* out) {
  ScanTruth truth;
  truth.scan_id = analysis.scan_id;
  truth.width = analysis.width;
  truth.height = analysis.height;
  std::vector<ExtraThreat> extra;
  if (threat) extra.push_back({threat->threat_class, threat->mask_rle});
  CS_RETURN_IF_ERROR(SampleFromAnalysis(analysis, truth, extra, GoodsCategoryNames(), out));
  // The site's goods are unknown: the goods head is not trained on them.
  std::fill(out->goods.begin(), out->goods.end(), int8_t{-1});
  out->tip = threat != nullptr;
  if (threat) out->tip_class = threat->threat_class;
  return Status::Ok();
}

int64_t AlarmedScans(const std::vector<std::vector<double>>& best,
                     const std::vector<double>& points) {
  int64_t n = 0;
  for (const auto& b : best) {
    bool any = false;
    for (size_t k = 0; k < points.size(); ++k) any = any || (b[k] >= 0 && b[k] >= points[k]);
    n += any;
  }
  return n;
}

void RaisePointsToBudgets(const std::vector<std::vector<std::vector<double>>>& best,
                          const std::vector<int64_t>& budget, std::vector<double>* points) {
  const size_t nc = points->size();
  for (;;) {
    size_t worst = best.size();
    int64_t over = 0;
    for (size_t g = 0; g < best.size(); ++g)
      if (const int64_t e = AlarmedScans(best[g], *points) - budget[g]; e > over)
        over = e, worst = g;
    if (worst == best.size()) return;
    double lowest = 2;
    size_t cls = nc;
    for (const auto& b : best[worst])
      for (size_t k = 0; k < nc; ++k)
        if (b[k] >= 0 && b[k] >= (*points)[k] && b[k] < lowest) lowest = b[k], cls = k;
    if (cls == nc) return;
    (*points)[cls] = std::nextafter(lowest, 2.0);
  }
}

SiteScores ScoreSiteScan(const Detector& detector, const ScanAnalysis& analysis,
                         const ProjectedThreat* threat) {
  const auto& classes = ThreatClasses();
  const std::vector<double> points = detector.class_operating_probabilities();
  SiteScores out;
  out.best.assign(classes.size(), -1.0);
  auto det = detector.Detect(analysis);
  if (!det.ok()) return out;
  out.goods_share = det->goods_share;
  out.goods_area_cm2 = det->goods_area_cm2;
  TruthObject box;
  if (threat) {
    box.x0 = threat->x0, box.y0 = threat->y0, box.x1 = threat->x1, box.y1 = threat->y1;
    out.threat_class = threat->threat_class;
  }
  const double min_iou = DetectionEvalOptions{}.min_iou;
  for (const auto& d : det->detections) {
    const size_t k = static_cast<size_t>(std::find(classes.begin(), classes.end(), d.threat_class) -
                                         classes.begin());
    if (k >= classes.size()) continue;
    const double p = ProbabilityFromScore(d.score, points[k]);
    out.best[k] = std::max(out.best[k], p);
    if (threat && d.threat_class == threat->threat_class && DetectionIou(d, box) >= min_iou)
      out.threat_score = std::max(out.threat_score, p);
  }
  return out;
}

}  // namespace clearsight::xray
