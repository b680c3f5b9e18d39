// The detector's laboratory (not public): training labels, the evaluation's parts, the verifier's
// fit, and the phases TrainDetector (xray_train.h) runs in order: PlanTraining, LoadTrainingData,
// TrainNetwork, ChooseOperatingPoints, FitVerifier, FitManifest, then the model file is saved.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "clearsight/xray_detect.h"
#include "clearsight/xray_simulate.h"
#include "clearsight/xray_tip.h"
#include "clearsight/xray_train.h"
#include "xray/detect/detect_internal.h"
#include "xray/detect/net.h"
#include "xray/detect/verifier.h"
#include "xray/physics/random.h"

namespace clearsight::xray {

// ---- Labels
// --------------------------------------------------------------------------------------

// Per output cell ((gh/2) x (gw/2)) training labels from ground truth: threat class index + 1
// (0 none, -1 ignore: a cell only partly covered) and goods class index + 1 (same convention).
// `threat_classes` / `goods_classes` name the classes in order; objects of other classes are
// ignored. `extra` adds projected threats (TIP) as (class, mask RLE) pairs.
struct CellLabels {
  std::vector<int8_t> threat, goods;
};
struct ExtraThreat {
  std::string threat_class;
  std::vector<uint32_t> mask_rle;
};
Status ComputeCellLabels(const ScanTruth& truth, const std::vector<ExtraThreat>& extra, int gh,
                         int gw, const std::vector<std::string>& threat_classes,
                         const std::vector<std::string>& goods_classes, CellLabels* out);

// ---- Evaluation
// ----------------------------------------------------------------------------------

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
                                               const std::vector<std::vector<double>>& threats,
                                               double floor_p, double cap_p, size_t allowed,
                                               const std::vector<double>& priority = {});

// The distinct non-empty categories of `main_goods`, sorted.
std::vector<std::string> DistinctGoodsCategories(std::vector<std::string> main_goods);

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

DetectionEval EvaluateScans(const std::vector<EvalScan>& scans,
                            const std::vector<std::string>& threat_classes,
                            const DetectionEvalOptions& options);

// ---- The verifier's fit
// --------------------------------------------------------------------------

// Fits the verifier on rows x kRegionFeatures features with 0/1 labels. Rows are split into
// `folds` folds by `fold` (0..folds-1, by scan so that a scan's regions stay together): each
// fold's rows are predicted by trees fitted on the others (`out_of_fold`, for choosing and
// reporting operating points honestly), then the final trees are fitted on all rows.
struct VerifierFit {
  std::string booster_json;  // XGBoost's JSON model
  std::vector<float> out_of_fold;
};
Result<VerifierFit> FitRegionVerifier(const std::vector<float>& x, const std::vector<float>& labels,
                                      const std::vector<int>& fold, int folds, uint64_t seed,
                                      int threads);

// ---- Training phases
// -----------------------------------------------------------------------------

// What every phase shares: the seed, the threads and the progress report, timed from the start.
struct TrainContext {
  uint64_t seed = 1;
  int threads = 2;
  std::function<void(const TrainProgress&)> progress;  // may be empty
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  double Elapsed() const;
  // Calls `progress` (when given) with p and the elapsed time.
  void Report(TrainProgress p) const;
};

// Index of a class in ThreatClasses(); their number when it is not one of them.
size_t ClassIndex(const std::string& c);

// Whether `name` is one of ThreatClasses(); InvalidArgument naming `what`, the class and the known
// ones otherwise.
Status CheckThreatClass(const std::string& name, const std::string& what);
// Per threat class (ThreatClasses() order) the factor `given` names for it, 1 for the others.
std::vector<double> PerClassFactor(const std::vector<std::pair<std::string, double>>& given);
// The same as a JSON object of the classes given.
nlohmann::json PerClassJson(const std::vector<std::pair<std::string, double>>& given);

// FNV-1a of a scan id: the validation split and the verifier's folds by scan.
uint64_t HashId(const std::string& s);

// The loading work list's items: a scan, or a TIP copy of a clean training scan.
struct WorkItem {
  std::string path;
  int source = 0;  // index into TrainDataOptions::sources
  bool validation = false;
  int tip_copy = -1;      // >= 0: the copy number
  std::string tip_class;  // a TIP copy: a patch of this class ("" = any)
  double tip_max_kg = 0;  // > 0: a patch of at most this mass (kg), over a goods item
};

// Plan: the scans of each source that have truth, the work list (every scan, then for each clean
// training scan its TIP copies, drawn by a generator of the seed's) and the threat libraries.
struct TrainPlan {
  std::vector<std::vector<std::string>> paths;  // per source, in ListScans order
  std::vector<WorkItem> work;
  std::vector<std::optional<ThreatLibrary>> libraries;  // per source: its TIP copies' patches
  const ThreatLibrary* TipLibrary(size_t source) const {
    return source < libraries.size() && libraries[source] ? &*libraries[source] : nullptr;
  }
};
// `training`: whether the network trains (epochs > 0); without, no training copies are loaded.
// InvalidArgument for a library without the patches asked for or a source with fewer than 10
// scans with truth.
Result<TrainPlan> PlanTraining(const TrainDataOptions& options, bool training,
                               const TrainContext& ctx);

// A loaded scan or TIP copy: features (16-bit codes) and labels on the cell grid.
struct Sample {
  std::string scan_id;
  bool validation = false;
  bool tip = false;
  std::string tip_class;  // a TIP copy: the projected patch's class
  int gh = 0, gw = 0, width = 0, height = 0;
  double pixel_mm = 0;
  std::vector<uint16_t> features;     // C x gh x gw
  std::vector<int8_t> threat, goods;  // (gh/2) x (gw/2)
  std::vector<int32_t> threat_cells;  // output cells labelled with a threat (a sample of them)
  // Validation only: truth threats and the analysis summary (no channels) for the manifest.
  std::vector<TruthObject> truth_threats;
  ScanAnalysis summary;
  std::string main_goods;  // validation: the goods category of most of the parcel's goods items
  // The features as floats (C x gh x gw).
  void Input(std::vector<float>* out) const;
};

// A sample's features and cell labels from a scan's analysis, its truth and projected threats
// (scan_id, sizes, features, threat and goods labels, threat_cells; the other fields untouched).
Status SampleFromAnalysis(const ScanAnalysis& analysis, const ScanTruth& truth,
                          const std::vector<ExtraThreat>& extra,
                          const std::vector<std::string>& goods_classes, Sample* out);

// Load: the work list on ctx.threads threads, the scans first, then the TIP copies of the scans
// without a threat (one threat per parcel, as the simulator makes them).
struct TrainData {
  std::vector<Sample> samples;  // per work item; copies of scans with a threat stay empty
  std::vector<size_t> train_idx, val_idx;
  int64_t tip_used = 0, tip_small = 0;
  std::map<std::string, int64_t> tip_by_class;  // training TIP copies kept, by projected class
  std::vector<int64_t> tip_by_source;
};
Status LoadTrainingData(const TrainPlan& plan, const TrainDataOptions& options,
                        const TrainContext& ctx, TrainData* out);

// Fills batch element b with a crop of sample s: random (or around a threat) position, one of the
// 8 flips/rotations, and the calibration-error augmentation (density gain, z_eff offset and
// gain, noise) that stands in for other scanners.
void MakeCrop(const Sample& s, int crop, Rng* rng, NetBatch* batch, int b);

// Train network: a new network or the init model's, trained for the epochs asked (fewer when
// max_minutes would be exceeded).
struct TrainedNetwork {
  std::unique_ptr<Net> net;
  nlohmann::json init_record;  // {"path", "trained"} of the init model; null for a new network
  std::optional<double> init_region_probability;
  int epochs = 0;
};
Result<TrainedNetwork> TrainNetwork(const TrainData& data, const NetworkTrainOptions& options,
                                    const TrainContext& ctx);

// The validation split with the network's outputs on it.
struct ValidationSplit {
  const TrainData* data = nullptr;
  std::vector<DetectionResult> results;  // the network's detections, scored as probabilities
  std::vector<std::vector<Candidate>> candidates;  // the candidate regions (for the verifier)
  std::vector<std::string> clean_main_goods;       // each clean parcel's main goods, in order
  size_t size() const { return data->val_idx.size(); }
  const Sample& scan(size_t i) const { return data->samples[data->val_idx[i]]; }
};
// Validation scan i's detections, scored as probabilities.
using DetectionsOf = std::function<const std::vector<Detection>&(size_t)>;

// Operating points: the network on every validation scan, then one probability per class for the
// clean-alarm budget. Fills `split` (with candidates when `candidates`) and `eval` (the split's
// figures at those points).
Result<DetectorMeta> ChooseOperatingPoints(const Net& net, const TrainData& data,
                                           const OperatingPointOptions& options,
                                           std::optional<double> init_region_probability,
                                           bool candidates, const TrainContext& ctx,
                                           ValidationSplit* split, DetectionEval* eval);
// The points for `dets` (probabilities at least floor_p) and the split's figures with them.
std::vector<double> ChoosePoints(const ValidationSplit& split, const DetectionsOf& dets,
                                 double floor_p, const OperatingPointOptions& options);
DetectionEval EvaluateSplit(const ValidationSplit& split, const DetectionsOf& dets,
                            const std::vector<double>& points,
                            const std::function<bool(size_t)>& keep = nullptr);

// Verifier: fitted on the split's candidate regions (folds by scan), with its own points from
// out-of-fold probabilities. `model` stays null when it cannot be fitted (`note` says why).
struct TrainedVerifier {
  nlohmann::json model;  // the "verifier" metadata: features, points, booster
  std::vector<double> points;
  std::vector<std::vector<Detection>> verified;  // per validation scan, out-of-fold probabilities
  DetectionEval eval;
  std::string note;
};
TrainedVerifier FitVerifier(const ValidationSplit& split, const OperatingPointOptions& options,
                            const TrainContext& ctx);

// The split's figures for each scanner (sources sharing a calibration device; only with several)
// and its clean parcels alarmed by main goods category, at the final points.
struct SplitFigures {
  std::string by_scanner_table, by_goods_table;
  nlohmann::json by_scanner = nlohmann::json::array(), by_goods = nlohmann::json::object();
};
SplitFigures FiguresBySubset(const ValidationSplit& split, const TrainPlan& plan,
                             const TrainDataOptions& options, const DetectionsOf& dets,
                             const std::vector<double>& points);

// Manifest model from the validation split's honest pairs (the network never trained on them).
struct TrainedManifest {
  std::string model_json;  // empty when not fitted
  std::string table;
};
TrainedManifest FitManifest(const ValidationSplit& split, const TrainDataOptions& options,
                            const TrainContext& ctx);

}  // namespace clearsight::xray
