// The threat detector: features from the analysis, the network, and decoding of its output grid
// into boxes with class and score.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "clearsight/text.h"
#include "clearsight/xray_detect.h"
#include "xray/detect/detect_internal.h"
#include "xray/detect/features.h"
#include "xray/detect/net.h"

namespace clearsight {

using json = nlohmann::json;

namespace xray {

double ScoreFromProbability(double p, double op) {
  p = std::clamp(p, 0.0, 1.0);
  if (p < op) return 0.5 * p / op;
  return op >= 1 ? 1.0 : 0.5 + 0.5 * (p - op) / (1 - op);
}

double ProbabilityFromScore(double s, double op) {
  s = std::clamp(s, 0.0, 1.0);
  if (s < 0.5) return 2 * s * op;
  return op + (s - 0.5) * 2 * (1 - op);
}

void DecodeCandidates(const std::vector<float>& threat_prob, const std::vector<float>& goods_prob,
                      int oh, int ow, int width, int height, double pixel_mm,
                      const DetectorMeta& meta, const GridView& grid, std::vector<Candidate>* out) {
  out->clear();
  const size_t plane = static_cast<size_t>(oh) * ow;
  const int nt = static_cast<int>(meta.threat_classes.size());
  // Only the cells that map into the scan (the grid is padded with air).
  const int vh = std::min(oh, (height + kOutCellPx - 1) / kOutCellPx);
  const int vw = std::min(ow, (width + kOutCellPx - 1) / kOutCellPx);

  // Regions: 8-connected cells whose threat probability reaches region_probability.
  const float region_p = static_cast<float>(meta.region_probability);
  std::vector<int32_t> comp(plane, -1);
  std::vector<int32_t> stack;
  std::vector<int32_t> cells;
  int ncomp = 0;
  for (int y = 0; y < vh; ++y)
    for (int x = 0; x < vw; ++x) {
      const size_t i = static_cast<size_t>(y) * ow + x;
      if (comp[i] >= 0 || 1.0f - threat_prob[i] < region_p) continue;
      // Flood fill this region.
      cells.clear();
      stack.assign(1, static_cast<int32_t>(i));
      comp[i] = ncomp;
      while (!stack.empty()) {
        const int32_t c = stack.back();
        stack.pop_back();
        cells.push_back(c);
        const int cy = c / ow, cx = c % ow;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int ny = cy + dy, nx = cx + dx;
            if (ny < 0 || nx < 0 || ny >= vh || nx >= vw) continue;
            const size_t j = static_cast<size_t>(ny) * ow + nx;
            if (comp[j] >= 0 || 1.0f - threat_prob[j] < region_p) continue;
            comp[j] = ncomp;
            stack.push_back(static_cast<int32_t>(j));
          }
      }
      ++ncomp;
      // Class evidence over the region: summed and peak probability per class.
      std::vector<double> sum(nt, 0.0), peak(nt, 0.0);
      int x0 = ow, y0 = oh, x1 = 0, y1 = 0;
      for (int32_t c : cells) {
        const int cy = c / ow, cx = c % ow;
        x0 = std::min(x0, cx), y0 = std::min(y0, cy), x1 = std::max(x1, cx + 1),
        y1 = std::max(y1, cy + 1);
        for (int k = 0; k < nt; ++k) {
          const float p = threat_prob[static_cast<size_t>(k + 1) * plane + c];
          sum[k] += p;
          peak[k] = std::max(peak[k], static_cast<double>(p));
        }
      }
      if (cells.size() < 2) continue;  // a single cell (8x8 px) is noise, not a threat
      Candidate cand;
      Detection& d = cand.detection;
      d.x0 = x0 * kOutCellPx;
      d.y0 = y0 * kOutCellPx;
      d.x1 = std::min(width, x1 * kOutCellPx);
      d.y1 = std::min(height, y1 * kOutCellPx);
      const int best = static_cast<int>(std::max_element(sum.begin(), sum.end()) - sum.begin());
      // The best class, and a second one when the region is split between two (a pistol frame
      // read as a firearm part): both are proposed, each with its own peak.
      for (int k = 0; k < nt; ++k) {
        if (k != best && !(sum[k] >= 0.3 * sum[best] && peak[k] >= region_p)) continue;
        d.threat_class = meta.threat_classes[k];
        d.score = peak[k];
        cand.cls = static_cast<size_t>(k);
        RegionFeatures(threat_prob, goods_prob, oh, ow, nt,
                       static_cast<int>(meta.goods_classes.size()), cells, cand.cls, x0, y0, x1, y1,
                       pixel_mm, grid, cand.features.data());
        out->push_back(cand);
      }
    }
}

void DecodeOutputs(const std::vector<float>& threat_prob, const std::vector<float>& goods_prob,
                   int oh, int ow, int width, int height, double pixel_mm, const DetectorMeta& meta,
                   double min_score, DetectionResult* out, const GridView& grid,
                   const RegionVerifier* verifier) {
  out->detections.clear();
  const size_t plane = static_cast<size_t>(oh) * ow;
  const int ng = static_cast<int>(meta.goods_classes.size());
  const int vh = std::min(oh, (height + kOutCellPx - 1) / kOutCellPx);
  const int vw = std::min(ow, (width + kOutCellPx - 1) / kOutCellPx);
  if (verifier && !grid.data) verifier = nullptr;  // its features need the input grid
  std::vector<Candidate> candidates;
  DecodeCandidates(threat_prob, goods_prob, oh, ow, width, height, pixel_mm, meta,
                   verifier ? grid : GridView{}, &candidates);
  std::vector<float> verified;
  if (verifier) verifier->Predict(candidates, &verified);
  for (size_t i = 0; i < candidates.size(); ++i) {
    Detection d = candidates[i].detection;
    const size_t k = candidates[i].cls;
    d.score = verifier ? ScoreFromProbability(verified[i], verifier->class_operating_probability[k])
                       : ScoreFromProbability(d.score, meta.OperatingProbability(k));
    if (d.score >= min_score) out->detections.push_back(std::move(d));
  }
  std::stable_sort(out->detections.begin(), out->detections.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });

  // Goods classes seen: over cells the goods head calls goods, its class probabilities.
  out->goods_share.assign(ng, 0.0);
  double goods_cells = 0;
  for (int y = 0; y < vh; ++y)
    for (int x = 0; x < vw; ++x) {
      const size_t i = static_cast<size_t>(y) * ow + x;
      const double g = 1.0 - goods_prob[i];
      if (g < 0.5) continue;
      goods_cells += 1;
      for (int k = 0; k < ng; ++k)
        out->goods_share[k] += goods_prob[static_cast<size_t>(k + 1) * plane + i] / g;
    }
  if (goods_cells > 0)
    for (auto& s : out->goods_share) s /= goods_cells;
  const double cell_cm = kOutCellPx * pixel_mm / 10.0;
  out->goods_area_cm2 = goods_cells * cell_cm * cell_cm;
}

Status CheckNoRemovedSettings(const json& m, const std::string& path) {
  auto removed = [&](const std::string& setting, const std::string& value) {
    return Status::DataLoss(
        path + ": made with " + setting + " = " + value +
        ", an experiment this build no longer has (removed after commit e4fb95c); the model "
        "would not detect here as it was measured");
  };
  if (!m.is_object()) return Status::Ok();
  if (m.contains("test_time_views") && m["test_time_views"] != json(1))
    return removed("test_time_views", m["test_time_views"].dump());
  if (m.contains("test_time_views_on") && m["test_time_views_on"] != json("scan"))
    return removed("test_time_views_on", m["test_time_views_on"].dump());
  if (m.contains("network_on") && m["network_on"] != json("scan"))
    return removed("network_on", m["network_on"].dump());
  if (m.contains("verifier") && m["verifier"].is_object()) {
    const json& v = m["verifier"];
    if (v.contains("fold_boosters"))
      return removed("verifier.fold_boosters",
                     "a bag of " + std::to_string(v["fold_boosters"].size()) + " fold models");
    if (v.contains("tip_scans") && v["tip_scans"].is_number() && v["tip_scans"].get<double>() != 0)
      return removed("verifier.tip_scans", v["tip_scans"].dump());
  }
  // The training record, and those of the models it started from.
  std::string where = "trained.";
  for (const json* t = m.contains("trained") ? &m["trained"] : nullptr; t && t->is_object();) {
    if (t->contains("points_goods_tilt") && (*t)["points_goods_tilt"] != json(1) &&
        (*t)["points_goods_tilt"] != json(1.0))
      return removed(where + "points_goods_tilt", (*t)["points_goods_tilt"].dump());
    if (t->contains("distilled")) return removed(where + "distilled", (*t)["distilled"].dump());
    if (t->contains("widths") && (*t)["widths"] != json::array({16, 32, 48}))
      return removed(where + "widths", (*t)["widths"].dump());
    if (!t->contains("init") || !(*t)["init"].is_object()) break;
    const json& init = (*t)["init"];
    if (init.contains("averaged_models") && init["averaged_models"] != json(1))
      return removed(where + "init.averaged_models", init["averaged_models"].dump());
    if (init.contains("norm_stats_batches") && init["norm_stats_batches"] != json(0))
      return removed(where + "init.norm_stats_batches", init["norm_stats_batches"].dump());
    t = init.contains("trained") ? &init["trained"] : nullptr;
    where += "init.trained.";
  }
  return Status::Ok();
}

}  // namespace xray

struct Detector::Impl {
  std::unique_ptr<xray::Net> net;
  xray::DetectorMeta meta;
  std::string meta_json;
  DetectorOptions options;
  std::optional<xray::RegionVerifier> verifier;  // the second stage, when the model has one
  bool unseen_scanner = false;
  std::string scanner_note;
};

namespace {

// The unseen-scanner points in place of the model's own, when options.scanner_points says so or
// (kAuto) the calibration is far from every scanner the model knows.
Status ChooseScannerPoints(const json& m, const std::string& path, Detector::Impl* im) {
  const json& u = m.at("unseen_scanner");
  std::vector<double> points;
  double tolerance = 0;
  std::vector<Calibration> known;
  try {
    const std::string stage = u.at("operating_points").get<std::string>();
    if (stage != (im->verifier ? "verifier" : "network"))
      return Status::DataLoss(path + ": the unseen-scanner points are the " + stage +
                              "'s, and the model " +
                              (im->verifier ? "has a verifier" : "has no verifier"));
    for (const auto& c : im->meta.threat_classes) {
      const double p = u.at("class_operating_probability").at(c).get<double>();
      if (!(p > 0 && p < 1))
        return Status::DataLoss(path + ": unseen-scanner operating probability of " + c +
                                " out of range");
      points.push_back(p);
    }
    tolerance = u.at("max_scanner_distance").get<double>();
    for (const auto& k : u.at("known_scanners")) {
      auto cal = Calibration::FromJson(k.dump(), path + ": known scanner");
      if (!cal.ok()) return Status::DataLoss(cal.status().message());
      known.push_back(std::move(*cal));
    }
  } catch (const std::exception& e) {
    return Status::DataLoss(path + ": bad unseen-scanner metadata: " + e.what());
  }
  using SP = DetectorOptions::ScannerPoints;
  const DetectorOptions& o = im->options;
  std::string why;
  bool unseen = o.scanner_points == SP::kUnseen;
  if (o.scanner_points == SP::kAuto) {
    if (!o.calibration) {
      why = "no calibration given";
    } else {
      double nearest = 1e300;
      for (const auto& k : known) nearest = std::min(nearest, ScannerDistance(*o.calibration, k));
      unseen = !(nearest <= tolerance);
      why = "the calibration is " + FormatFixed(nearest, 3) + " from the nearest of the " +
            std::to_string(known.size()) + " scanners the model knows (tolerance " +
            FormatFixed(tolerance, 3) + ")";
    }
  } else {
    why = "chosen by the caller";
  }
  im->unseen_scanner = unseen;
  im->scanner_note = (unseen ? "unseen-scanner points: " : "the model's own points: ") + why;
  if (!unseen) return Status::Ok();
  if (im->verifier) {
    im->verifier->class_operating_probability = points;
  } else {
    im->meta.class_operating_probability = points;
    im->meta.operating_probability = *std::min_element(points.begin(), points.end());
  }
  return Status::Ok();
}

}  // namespace

Detector::Detector() : impl_(std::make_unique<Impl>()) {}
Detector::~Detector() = default;

Result<std::unique_ptr<Detector>> Detector::Load(const std::string& path,
                                                 const DetectorOptions& options) {
  if (options.threads < 1 || options.threads > 256)
    return Status::InvalidArgument("detector threads must be 1..256");
  if (!(options.min_score >= 0 && options.min_score <= 1))
    return Status::InvalidArgument("min_score must lie in 0..1");
  std::string meta_text;
  CS_ASSIGN_OR_RETURN(auto net, xray::Net::Load(path, &meta_text));
  std::unique_ptr<Detector> d(new Detector());
  Impl& im = *d->impl_;
  im.net = std::move(net);
  im.options = options;
  im.meta_json = meta_text;
  json m = json::parse(meta_text, nullptr, false);
  if (m.is_discarded() || !m.is_object() || m.value("format", "") != xray::kDetectorFormat)
    return Status::DataLoss(path + ": not a " + std::string(xray::kDetectorFormat) +
                            " model (metadata)");
  CS_RETURN_IF_ERROR(xray::CheckNoRemovedSettings(m, path));
  try {
    im.meta.threat_classes = m.at("threat_classes").get<std::vector<std::string>>();
    im.meta.goods_classes = m.at("goods_classes").get<std::vector<std::string>>();
    im.meta.operating_probability = m.at("operating_probability").get<double>();
    im.meta.region_probability = m.at("region_probability").get<double>();
    if (m.contains("class_operating_probability")) {
      const json& cop = m.at("class_operating_probability");
      for (const auto& c : im.meta.threat_classes) {
        const double p = cop.at(c).get<double>();
        if (!(p > 0 && p < 1))
          return Status::DataLoss(path + ": operating probability of " + c + " out of range");
        im.meta.class_operating_probability.push_back(p);
      }
    }
    if (m.value("cell_px", 0) != xray::kCellPx ||
        m.value("feature_channels", 0) != xray::kFeatureChannels)
      return Status::DataLoss(path +
                              ": the model expects other input features than this build computes");
  } catch (const std::exception& e) {
    return Status::DataLoss(path + ": bad detector metadata: " + e.what());
  }
  const auto& cfg = im.net->config();
  if (cfg.threat_classes != static_cast<int>(im.meta.threat_classes.size()) + 1 ||
      cfg.goods_classes != static_cast<int>(im.meta.goods_classes.size()) + 1 ||
      cfg.in_channels != xray::kFeatureChannels)
    return Status::DataLoss(path + ": network outputs do not match the class lists");
  if (!(im.meta.operating_probability > 0 && im.meta.operating_probability < 1))
    return Status::DataLoss(path + ": operating probability out of range");
  if (m.contains("verifier")) {
    const json& v = m["verifier"];
    try {
      if (v.at("features").get<std::vector<std::string>>() !=
          std::vector<std::string>(std::begin(xray::kRegionFeatureNames),
                                   std::end(xray::kRegionFeatureNames)))
        return Status::DataLoss(
            path + ": the model's verifier expects other region features than this build computes");
      xray::RegionVerifier rv;
      auto forest = model::Forest::FromXgboostJson(v.at("booster").dump());
      if (!forest.ok()) return forest.status().WithContext(path + ": verifier");
      if (forest->num_features() != xray::kRegionFeatures)
        return Status::DataLoss(path + ": verifier trees have " +
                                std::to_string(forest->num_features()) + " features, expected " +
                                std::to_string(xray::kRegionFeatures));
      rv.forest = std::move(*forest);
      for (const auto& c : im.meta.threat_classes) {
        const double p = v.at("class_operating_probability").at(c).get<double>();
        if (!(p > 0 && p < 1))
          return Status::DataLoss(path + ": verifier operating probability of " + c +
                                  " out of range");
        rv.class_operating_probability.push_back(p);
      }
      im.verifier = std::move(rv);
    } catch (const std::exception& e) {
      return Status::DataLoss(path + ": bad verifier metadata: " + e.what());
    }
  }
  if (m.contains("unseen_scanner")) CS_RETURN_IF_ERROR(ChooseScannerPoints(m, path, &im));
  return d;
}

Status Detector::Detect(const ScanAnalysis& analysis, DetectionResult* out) const {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  xray::FeatureGrid grid;
  CS_RETURN_IF_ERROR(xray::ComputeFeatures(analysis, impl_->options.threads, &grid));
  const auto t1 = clock::now();
  std::vector<float> tp, gp;
  CS_RETURN_IF_ERROR(
      impl_->net->Infer(grid.data.data(), grid.gh, grid.gw, impl_->options.threads, &tp, &gp));
  const auto t2 = clock::now();
  xray::DecodeOutputs(tp, gp, grid.gh / 2, grid.gw / 2, analysis.width, analysis.height,
                      analysis.pixel_mm, impl_->meta, impl_->options.min_score, out,
                      xray::GridView{grid.data.data(), grid.gh, grid.gw},
                      impl_->verifier ? &*impl_->verifier : nullptr);
  const auto t3 = clock::now();
  out->ms_features = std::chrono::duration<double, std::milli>(t1 - t0).count();
  out->ms_network = std::chrono::duration<double, std::milli>(t2 - t1).count();
  out->ms_decode = std::chrono::duration<double, std::milli>(t3 - t2).count();
  return Status::Ok();
}

Result<DetectionResult> Detector::Detect(const ScanAnalysis& analysis) const {
  DetectionResult r;
  CS_RETURN_IF_ERROR(Detect(analysis, &r));
  return r;
}

const std::vector<std::string>& Detector::threat_classes() const {
  return impl_->meta.threat_classes;
}
const std::vector<std::string>& Detector::goods_classes() const {
  return impl_->meta.goods_classes;
}
const std::string& Detector::metadata_json() const { return impl_->meta_json; }
const DetectorOptions& Detector::options() const { return impl_->options; }
int64_t Detector::parameters() const { return impl_->net->parameters(); }
double Detector::operating_probability() const {
  if (impl_->verifier)
    return *std::min_element(impl_->verifier->class_operating_probability.begin(),
                             impl_->verifier->class_operating_probability.end());
  return impl_->meta.operating_probability;
}
bool Detector::has_verifier() const { return impl_->verifier.has_value(); }
bool Detector::unseen_scanner() const { return impl_->unseen_scanner; }
const std::string& Detector::scanner_note() const { return impl_->scanner_note; }
std::vector<double> Detector::class_operating_probabilities() const {
  if (impl_->verifier) return impl_->verifier->class_operating_probability;
  std::vector<double> out;
  for (size_t k = 0; k < impl_->meta.threat_classes.size(); ++k)
    out.push_back(impl_->meta.OperatingProbability(k));
  return out;
}

std::string DetectionsToJson(const std::vector<Detection>& detections) {
  std::string s = "[";
  for (size_t i = 0; i < detections.size(); ++i) {
    const Detection& d = detections[i];
    if (i) s += ',';
    s += "{\"class\":" + json(d.threat_class).dump() + ",\"score\":" + FormatFixed(d.score, 3) +
         ",\"box\":[" + std::to_string(d.x0) + ',' + std::to_string(d.y0) + ',' +
         std::to_string(d.x1) + ',' + std::to_string(d.y1) + "]}";
  }
  return s + "]";
}

}  // namespace clearsight
