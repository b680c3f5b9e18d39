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
  // Test-time views the network's probabilities are averaged over (Net::Infer); the verifier and
  // the operating points were fitted on those averages. With views_on_candidates, only on crops
  // around the cells that may join a candidate region (InferWithViews).
  int views = 1;
  bool views_on_candidates = false;
  // The network sees only the contents' box (ContentBox) of the grid; the cells outside it are
  // background (probability 1 of "none" in both heads). The verifier and the points were fitted so.
  bool network_on_contents = false;
};

// The contents' box: the bounding rectangle of the input cells that hold material (largest areal
// density above kContentDensity), widened by kContentMargin cells and aligned outwards to
// kNetInputMultiple, in input cells [y0, y1) x [x0, x1). Empty (y0 == y1) when no cell does.
inline constexpr double kContentDensity = 0.05;  // g/cm^2 (0.5 mm of water), above the air's noise
inline constexpr int kContentMargin = 8;          // cells (32 px) of the parcel's surroundings kept
struct CellBox {
  int y0 = 0, x0 = 0, y1 = 0, x1 = 0;
  bool empty() const { return y1 <= y0 || x1 <= x0; }
};
CellBox ContentBox(const float* input, int gh, int gw);

class Net;

// How a model's metadata `m` says its network is run (test_time_views, test_time_views_on,
// network_on; absent: one view of the whole scan) into meta's views, views_on_candidates and
// network_on_contents; DataLoss naming `path` for values this build does not know. For the
// detector and for a model training starts from alike.
Status ReadInferenceSettings(const nlohmann::json& m, const std::string& path, DetectorMeta* meta);

// The network's probabilities (threat and goods planes, as Net::Infer, over the whole grid) as
// meta says: on the whole grid or (network_on_contents) on its contents' box only, background
// elsewhere; within that, meta's test-time views: over all of it, or with views_on_candidates its
// single view, then `views` views of crops around the cells whose threat probability reaches
// meta.region_probability (each with a neighbour that does: a lone cell makes no region), written
// back over those cells and a margin of 32 px; the crops add 64 px of context around that. Crops are aligned to 32 px (8 input
// cells), so their cells coincide with the whole grid's. `view_cells`, when given, receives the
// input cells the extra views covered.
Status InferWithViews(const Net& net, const float* input, int gh, int gw, int threads, const DetectorMeta& meta,
                      std::vector<float>* threat_prob, std::vector<float>* goods_prob, int64_t* view_cells = nullptr);

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
// first. Each of `budgets` is a further limit: the clean parcels alarmed, each counted with its
// weight in `weight` (one per clean parcel), may sum to at most `allowed` (the budget under a
// goods mix other than the validation's; see TiltedGoodsBudgets).
struct WeightedBudget {
  std::vector<double> weight;
  double allowed = 0;
};
std::vector<double> ChooseClassOperatingPoints(const std::vector<std::vector<double>>& clean,
                                               const std::vector<std::vector<double>>& threats, double floor_p,
                                               double cap_p, size_t allowed, const std::vector<double>& priority = {},
                                               const std::vector<WeightedBudget>& budgets = {});

// The clean-alarm budget (`rate` of the clean parcels) under mixes of goods that give one goods
// category `tilt` times its share in the validation parcels: one budget per category found in
// `main_goods` (each clean parcel's main goods category), its parcels weighted `tilt`, the
// others 1. Importance weights: a site where that category is `tilt` times as common.
// The distinct non-empty categories of `main_goods`, sorted.
std::vector<std::string> DistinctGoodsCategories(std::vector<std::string> main_goods);
std::vector<WeightedBudget> TiltedGoodsBudgets(const std::vector<std::string>& main_goods, double tilt, double rate);

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
