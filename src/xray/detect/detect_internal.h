// Shared by the detector, its training and its evaluation (not public).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "clearsight/xray_detect.h"
#include "clearsight/xray_simulate.h"
#include "xray/detect/features.h"
#include "xray/detect/verifier.h"

namespace clearsight::xray {

inline constexpr char kDetectorFormat[] = "clearsight-xray-detector/1";

struct DetectorMeta {
  std::vector<std::string> threat_classes, goods_classes;
  double operating_probability = 0.5;
  // Per threat class (threat_classes order); empty: operating_probability for every class.
  std::vector<double> class_operating_probability;
  double OperatingProbability(size_t k) const {
    return k < class_operating_probability.size() ? class_operating_probability[k] : operating_probability;
  }
  // Output cells whose threat probability (1 - p(none)) reaches this form a detection's region.
  double region_probability = 0.3;
};

// Settings of experiments that were measured, not adopted and removed after commit e4fb95c (test-time
// views, the network on the contents' box, a bag of verifier fold models, distillation, averaged
// networks, recomputed normalisation statistics, other network widths, operating points under
// tilted goods mixes, verifier TIP copies). DataLoss naming `path` and the setting when the model's
// metadata `m` (or the training record of a model it started from) holds one with a value other
// than the one this build runs: such a model would not detect here as it was measured. For the
// detector and for a model training starts from alike.
Status CheckNoRemovedSettings(const nlohmann::json& m, const std::string& path);

// Reported score from network probability: piecewise linear, `op` maps to 0.5.
double ScoreFromProbability(double p, double op);
double ProbabilityFromScore(double s, double op);

// Intersection over union of a detection's box and a truth object's.
double DetectionIou(const Detection& d, const TruthObject& t);

// 95 % Wilson score interval of a rate of k in n (both ends 0 when n is 0): what held-out rates
// of a few dozen threats can and cannot tell apart.
std::pair<double, double> WilsonInterval95(int64_t k, int64_t n);

// Per-class operating probabilities from validation scores: clean[k] holds, per clean parcel,
// the highest probability of a class-k detection (-1: none); threats[k], per true threat of class
// k, that of its best matching detection (-1: missed). Every class starts above all its clean
// scores; then, step by step, the class whose next lowering finds the largest share of its
// threats per newly alarmed clean parcel (times the class's `priority`, 1 where not given) is
// lowered, while at most `allowed` clean parcels alarm on any class. Results lie in
// [floor_p, cap_p]; clean parcels scoring at or above cap_p alarm anyway and use up the budget
// first.
std::vector<double> ChooseClassOperatingPoints(const std::vector<std::vector<double>>& clean,
                                               const std::vector<std::vector<double>>& threats, double floor_p,
                                               double cap_p, size_t allowed, const std::vector<double>& priority = {});

// The distinct non-empty categories of `main_goods`, sorted.
std::vector<std::string> DistinctGoodsCategories(std::vector<std::string> main_goods);

// Regions of the threat output grid (oh x ow cells of kOutCellPx pixels) and the classes proposed
// for each, before operating points; region features from `grid` when it has data (and from the
// goods planes when given).
void DecodeCandidates(const std::vector<float>& threat_prob, const std::vector<float>& goods_prob, int oh, int ow,
                      int width, int height, double pixel_mm, const DetectorMeta& meta, const GridView& grid,
                      std::vector<Candidate>* out);

// Detections and goods shares from the network's output grids (softmax planes) for a scan of
// width x height pixels. With a verifier (and the input grid) each candidate's score comes from
// the verifier's probability and its operating points, else from the network's peak probability
// and meta's points.
void DecodeOutputs(const std::vector<float>& threat_prob, const std::vector<float>& goods_prob, int oh, int ow,
                   int width, int height, double pixel_mm, const DetectorMeta& meta, double min_score,
                   DetectionResult* out, const GridView& grid = {}, const RegionVerifier* verifier = nullptr);

// One scan's ground truth and results, for the evaluation.
struct EvalScan {
  std::string scan_id;
  std::vector<TruthObject> threats;  // truth objects with threat = true
  std::vector<Detection> detections;
  bool has_result = false;
  // Manifest: truth and the check (flag -1 when the results have none).
  DeclarationTruth declaration_truth = DeclarationTruth::kHonest;
  bool has_declaration_truth = false;
  int manifest_flagged = -1;
  double manifest_score = 0;
};

DetectionEval EvaluateScans(const std::vector<EvalScan>& scans, const std::vector<std::string>& threat_classes,
                            const DetectionEvalOptions& options);

}  // namespace clearsight::xray
