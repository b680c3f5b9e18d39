// Threat detection on dual-energy scans: a small convolutional network (LibTorch, CPU) over the
// calibrated material channels of an analysis, trained in C++ on simulated and threat-image-
// projected scans; its training command; and the evaluation against ground truth.
//
// Load once, run many: Detector::Load(path, options) reads the weights once; Detect(analysis) is
// const and may be called from several threads at once. The model file (LibTorch archive) also
// carries the detector's settings, the training command and seed, its validation figures and the
// manifest model (xray_manifest.h) fitted with it. docs/xray-detector.md describes the method.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "clearsight/status.h"
#include "clearsight/xray_analyze.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_tip.h"

namespace clearsight {

class ManifestModel;

struct DetectorOptions {
  int threads = 2;  // intra-op threads of the network
  // Detections scoring below this are not reported. Scores are mapped so that 0.5 is the model's
  // operating point (the probability threshold chosen on the training validation split for at most
  // 1 % alarms on clean parcels); lower it (e.g. 0.05) to evaluate over all operating points.
  double min_score = 0.5;
};

struct Detection {
  std::string threat_class;  // one of the model's threat classes (ThreatClasses())
  double score = 0;          // 0..1, 0.5 = operating point
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // box in scan pixels, [x0,x1) x [y0,y1)
};

struct DetectionResult {
  std::vector<Detection> detections;  // highest score first
  // Goods classes seen: per class of goods_classes(), its share of the parcel's goods area (sums
  // to 1 when goods_area_cm2 > 0).
  std::vector<double> goods_share;
  double goods_area_cm2 = 0;
  // Wall time per stage (the analysis itself is ScanAnalysis::ms).
  double ms_features = 0, ms_network = 0, ms_decode = 0;
};

class Detector {
 public:
  // NotFound when the file is missing; DataLoss when it is not a detector model or is corrupt;
  // InvalidArgument when the options are out of range.
  static Result<std::unique_ptr<Detector>> Load(const std::string& path, const DetectorOptions& options = {});
  ~Detector();

  // Detects threats in an analysed scan. The analysis must keep its channels
  // (AnalyzerOptions::keep_channels, the default): FailedPrecondition otherwise.
  Status Detect(const ScanAnalysis& analysis, DetectionResult* out) const;
  Result<DetectionResult> Detect(const ScanAnalysis& analysis) const;

  const std::vector<std::string>& threat_classes() const;
  const std::vector<std::string>& goods_classes() const;
  // The manifest model trained together with the detector; nullptr when the file has none.
  const ManifestModel* manifest() const;
  // The settings, training command, seed and validation figures stored in the file (JSON).
  const std::string& metadata_json() const;
  const DetectorOptions& options() const;
  int64_t parameters() const;
  // The probability the network must reach for a detection to score 0.5: per threat class (in
  // threat_classes() order), and the lowest of them (the one point of a model without per-class
  // points). With a verifier (second stage) both are the verifier's probabilities instead.
  double operating_probability() const;
  std::vector<double> class_operating_probabilities() const;
  // Whether the model has the second stage that re-scores each candidate region.
  bool has_verifier() const;

  struct Impl;

 private:
  Detector();
  std::unique_ptr<Impl> impl_;
};

// [{"class":"knife","score":0.93,"box":[x0,y0,x1,y1]}, ...] (the shape fusion reads).
std::string DetectionsToJson(const std::vector<Detection>& detections);

// ---- Training ----------------------------------------------------------------------------------

// One set of training scans and the calibration of the scanner that made them.
struct DetectorTrainSource {
  std::string data_dir;     // scans with truth/ beside them (xray simulate)
  Calibration calibration;  // from that scanner's own wedges
  // Every scan of this source is validation only: never trained on, used with the validation
  // split to choose the operating points and to fit the manifest model. Clean parcels from here
  // make the clean-alarm budget an estimate over many parcels instead of a few hundred.
  bool validation_only = false;
  // A training source after the first: its scanner's own threat library (patches simulated or
  // recorded with the same scanner; null: none). Its clean training scans then get TIP copies as
  // the first source's do with `threats`.
  const ThreatLibrary* threats = nullptr;
};

struct DetectorTrainOptions {
  // At least one that is not validation only; the first must be a training source. Threat image
  // projection uses the first source with `threats` and the other training sources that have a
  // library of their own scanner (patches are attenuations of one scanner's spectra); the others
  // add scans of other scanners without projected copies.
  std::vector<DetectorTrainSource> sources;
  // Threat image projection: patches projected into copies of clean training scans of the first
  // source (and of the other sources with a library of their own). May be null.
  const ThreatLibrary* threats = nullptr;
  double tip_rate = 0.5;    // projected copies per clean training scan (expected)
  std::vector<std::string> tip_classes;  // classes of the projected patches (empty: any class)
  // > 0: only patches of known mass up to this (kg), each put over a goods item (small concealed
  // packets, the hardest case for narcotics).
  double tip_max_kg = 0;
  // The share of those copies (by chance) to which tip_classes and tip_max_kg apply; the others
  // take a patch of any class and mass. Below 1 it mixes, e.g., small narcotics packets into the
  // ordinary copies, so that a fine-tune does not forget the other classes.
  double tip_targeted_share = 1;
  double validation_share = 0.25;  // scans held out of training, by scan id hash
  int epochs = 20;
  int batch = 12;
  int crop_cells = 96;      // training crops of crop x crop input cells (4 px each)
  double learning_rate = 3e-3;
  // Loss weight of some threat classes relative to the others (e.g. {"narcotics", 2}): the class's
  // cells count that many times more against "none". Unnamed classes: 1.
  std::vector<std::pair<std::string, double>> class_weights;
  // Priority of some threat classes when the clean-alarm budget is shared out among the classes'
  // operating points (e.g. {"narcotics", 3}): a class's newly found threats count that many times.
  // A site's policy; unnamed classes: 1.
  std::vector<std::pair<std::string, double>> class_priority;
  uint64_t seed = 1;
  int threads = 2;
  int64_t max_scans = 0;    // 0 = all scans of each source
  double max_minutes = 0;   // > 0: fewer epochs when the first one shows the budget would be exceeded
  // Start from this model's network instead of a random one (epochs may then be 0: only the
  // operating points and the manifest model are made again, on this training data's validation
  // split).
  std::string init_path;
  // Operating points on the validation split: one probability per threat class, chosen so that
  // at most this share of clean parcels alarms on any class.
  double target_clean_alarm_rate = 0.01;
  // Fit the second stage: a gradient-boosted verifier that re-scores each candidate region from
  // region-level and input-channel features, trained on the validation split (5 folds by scan),
  // with its own operating points from out-of-fold probabilities.
  bool verifier = false;
  // Output cells whose threat probability (1 - p(none)) reaches this form the candidate regions
  // (8-connected). Lower finds fainter objects and gives the verifier more to reject. 0: the
  // --init model's threshold, or 0.3 for a new network.
  double region_probability = 0;
  std::string command;      // recorded in the model file ("clearsight xray train ...")
};

struct TrainProgress {
  std::string phase;  // "loading", "training", "validating", "verifier", "manifest"
  int epoch = 0, epochs = 0;
  int64_t done = 0, total = 0;  // steps in this epoch, or scans while loading
  double loss = 0;              // running mean over the epoch
  double elapsed_s = 0, eta_s = 0;
};

struct DetectorTrainReport {
  int64_t train_scans = 0, validation_scans = 0, tip_scans = 0;
  // The training TIP copies by projected class, and how many were small packets over goods.
  std::vector<std::pair<std::string, int64_t>> tip_by_class;
  int64_t tip_small_packets = 0;
  int epochs = 0;
  double seconds = 0;
  double operating_probability = 0;                   // the lowest of the per-class ones
  std::vector<std::pair<std::string, double>> class_operating_probability;
  int64_t parameters = 0;
  std::string validation_table;  // the evaluation of the validation split, as text
  // With validation scans of several scanners: the main figures for each, as text ("" otherwise).
  std::string validation_by_scanner_table;
  // The validation clean parcels alarmed at the operating points, by main goods category, as text.
  std::string validation_by_goods_table;
  // With a verifier: the network alone on the same split (validation_table is then the verifier's,
  // from out-of-fold probabilities).
  std::string network_validation_table;
  std::string manifest_table;    // the manifest model's cross-validated figures
};

// Trains the network and the manifest model and writes them to `out_path`. `progress` (may be
// empty) is called from the calling thread. InvalidArgument for bad options or a directory
// without scans and truth; errors reading a scan name the file.
Status TrainDetector(const DetectorTrainOptions& options, const std::string& out_path,
                     const std::function<void(const TrainProgress&)>& progress, DetectorTrainReport* report);

// ---- Evaluation --------------------------------------------------------------------------------

struct DetectionEvalOptions {
  double min_iou = 0.3;  // a threat is found by a detection of its class overlapping it this much
  // Alarm rates on clean parcels (share with at least one detection) at which detection rates are
  // reported, with the score threshold that gives each.
  std::vector<double> alarm_rates = {0.005, 0.01, 0.02, 0.05};
  double min_score = 0.5;     // the operating point for the headline rates
  double narcotics_min_kg = 0.2;  // the "concealed narcotics >= 200 g" row
};

struct ClassEval {
  // A threat class; "narcotics_concealed_200g"; or "weapons_any_class": firearms, firearm parts and
  // knives, each found by a detection of any of those three classes (a firearm part called a
  // firearm still stops the parcel for a weapon), against the clean parcels' weapon detections.
  std::string name;
  int64_t threats = 0;
  int64_t detected = 0;         // at min_score
  double rate = 0;              // detected / threats
  std::vector<double> rate_at_alarm;  // per DetectionEvalOptions::alarm_rates
  // The same, with each alarm rate counted on this class's detections alone (the threshold at
  // which that share of clean parcels has a detection of this class; narcotics for the 200 g row,
  // any of the three weapon classes for the weapons row).
  std::vector<double> rate_at_class_alarm;
  int64_t false_alarms = 0;     // detections of this class on clean parcels at min_score
  double ap = 0;                // average precision over all scans (IoU >= min_iou)
};

struct ManifestEval {
  int64_t honest = 0, misdeclared = 0, undervalued = 0;
  int64_t honest_flagged = 0, misdeclared_flagged = 0, undervalued_flagged = 0;
  // Misdeclared flagged at the score threshold that flags this share of honest parcels.
  std::vector<double> honest_rates = {0.02, 0.05, 0.10};
  std::vector<double> misdeclared_rate_at;
};

struct DetectionEval {
  int64_t scans = 0, clean_scans = 0, threat_scans = 0;
  int64_t missing_results = 0;  // truth files without a result line (counted as no detections)
  std::vector<ClassEval> classes;
  double false_alarms_per_clean_scan = 0;  // at min_score
  double clean_alarm_rate = 0;             // share of clean scans with a detection at min_score
  int64_t clean_alarmed = 0;               // those clean scans
  std::vector<double> alarm_rates, thresholds;  // thresholds[i] gives alarm_rates[i] (or less)
  double map = 0;                          // mean of the classes' AP (classes with threats)
  bool has_manifest = false;
  ManifestEval manifest;
  DetectionEvalOptions options;

  std::string ToJson() const;   // one line
  std::string ToTable() const;  // for people
};

// Scores results (JSON lines of xray analyze --model, with "detections" and optionally
// "manifest") against data_dir/truth/<scan_id>.json and data_dir/declarations_truth.csv.
// NotFound when the results or truth are missing; InvalidArgument naming the line that does not
// parse.
Result<DetectionEval> EvaluateDetections(const std::string& data_dir, const std::string& results_path,
                                         const DetectionEvalOptions& options = {});
// Several (data_dir, results) pairs pooled into one evaluation (days, sites or scanners together).
Result<DetectionEval> EvaluateDetections(const std::vector<std::pair<std::string, std::string>>& sets,
                                         const DetectionEvalOptions& options = {});

}  // namespace clearsight
