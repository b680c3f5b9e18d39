// The threat detector's laboratory: training the network, its operating points, the verifier
// (second stage) and the manifest model into one model file; and the evaluation of analysis
// results against ground truth. The runtime that loads the file is xray_detect.h, which does not
// include this header. docs/xray-detector.md describes the method.
//
// TrainDetector runs named phases in order, each configured by its own options struct:
//   plan (which scans train, which validate, the TIP copies: TrainDataOptions)
//   load (scans and TIP copies to feature grids and cell labels: TrainDataOptions)
//   train network (NetworkTrainOptions)
//   operating points on the validation split (OperatingPointOptions)
//   verifier (VerifierTrainOptions), manifest model, save.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "clearsight/status.h"
#include "clearsight/xray_calibrate.h"

namespace clearsight {

// ---- Training ----------------------------------------------------------------------------------

// One set of training scans and the calibration of the scanner that made them.
struct DetectorTrainSource {
  std::string data_dir;     // scans with truth/ beside them (xray simulate)
  Calibration calibration;  // from that scanner's own wedges
  // Every scan of this source is validation only: never trained on, used with the validation
  // split to choose the operating points and to fit the manifest model. Clean parcels from here
  // make the clean-alarm budget an estimate over many parcels instead of a few hundred.
  bool validation_only = false;
  // The threat library of this source's scanner (xray threats: patches are attenuations of one
  // scanner's spectra) for TIP copies of its clean training scans. Unset: none, except for the
  // first source, which then gets patches simulated at its scans' pixel size.
  std::optional<std::string> threats_dir;
};

// The plan and load phases: which scans train, which validate, and the threat-image-projected
// (TIP) copies of clean training scans.
struct TrainDataOptions {
  // At least one that is not validation only; the first must be a training source. TIP copies are
  // made for the first source and for the other training sources with a threats_dir.
  std::vector<DetectorTrainSource> sources;
  double validation_share = 0.25;        // scans held out of training, by scan id hash
  std::optional<int64_t> max_scans;      // the first this many scans of each source; unset: all
  double tip_rate = 0.5;                 // projected copies per clean training scan (expected)
  std::vector<std::string> tip_classes;  // classes of the projected patches (empty: any class)
  // Only patches of known mass up to this (kg), each put over a goods item (small concealed
  // packets, the hardest case for narcotics). Unset: any patch.
  std::optional<double> tip_max_kg;
  // The share of the copies (by chance) to which tip_classes and tip_max_kg apply; the others take
  // a patch of any class and mass. Below 1 it mixes, e.g., small narcotics packets into the
  // ordinary copies, so that a fine-tune does not forget the other classes.
  double tip_targeted_share = 1;
  // Seed of the first source's simulated threat library (without its threats_dir). Unset: the
  // training seed + 1000.
  std::optional<uint64_t> simulated_threats_seed;
};

// The train-network phase.
struct NetworkTrainOptions {
  // Start from this model's network instead of a random one; epochs may then be 0 (only the
  // operating points, the verifier and the manifest model are made again, on this training data's
  // validation split).
  std::optional<std::string> init_path;
  int epochs = 20;
  int batch = 12;
  int crop_cells = 96;  // training crops of crop x crop input cells (4 px each)
  double learning_rate = 3e-3;
  // Loss weight of some threat classes relative to the others (e.g. {"narcotics", 2}): the class's
  // cells count that many times more against "none". Unnamed classes: 1.
  std::vector<std::pair<std::string, double>> class_weights;
  // Fewer epochs when the first one shows this budget (minutes) would be exceeded. Unset: none.
  std::optional<double> max_minutes;
};

// The operating-points phase, on the validation split: one probability per threat class.
struct OperatingPointOptions {
  // At most this share of clean parcels alarms on any class.
  double target_clean_alarm_rate = 0.01;
  // Priority of some threat classes when the clean-alarm budget is shared out among the classes'
  // operating points (e.g. {"narcotics", 3}): a class's newly found threats count that many times.
  // A site's policy; unnamed classes: 1.
  std::vector<std::pair<std::string, double>> class_priority;
  // Output cells whose threat probability (1 - p(none)) reaches this form the candidate regions
  // (8-connected); lower finds fainter objects and gives the verifier more to reject. Unset: the
  // init model's threshold, or 0.3 for a new network.
  std::optional<double> region_probability;
};

// The verifier phase: a gradient-boosted second stage that re-scores each candidate region from
// region-level and input-channel features, fitted on the validation split (5 folds by scan), with
// its own operating points from out-of-fold probabilities.
struct VerifierTrainOptions {
  bool fit = false;
};

struct DetectorTrainOptions {
  TrainDataOptions data;
  NetworkTrainOptions network;
  OperatingPointOptions points;
  VerifierTrainOptions verifier;
  uint64_t seed = 1;  // network initialisation, crops, augmentation, TIP
  int threads = 2;
  std::string command;  // recorded in the model file ("clearsight xray train ...")
};

// InvalidArgument naming the first option out of range (epochs, batch, crop, shares, rates,
// unknown threat classes, weights, priorities, the region probability, no training source). Reads
// no file. TrainDetector starts with it; a caller may run it first to report bad options as a
// usage error.
Status ValidateDetectorTrainOptions(const DetectorTrainOptions& options);

enum class TrainPhase {
  kLoadingScans,
  kLoadingTipCopies,
  kTraining,
  kValidating,
  kVerifier,
  kManifest
};
// "loading scans", "loading TIP copies", "training", "validating", "verifier", "manifest".
const char* TrainPhaseName(TrainPhase phase);

struct TrainProgress {
  TrainPhase phase = TrainPhase::kLoadingScans;
  int epoch = 0, epochs = 0;
  int64_t done = 0, total = 0;  // steps in this epoch, or scans while loading or validating
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
  double operating_probability = 0;  // the lowest of the per-class ones
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
  std::string manifest_table;  // the manifest model's cross-validated figures
};

// Trains the network and the manifest model and writes them to `out_path` (atomically: a reader
// sees the old file or the new one). `progress` (may be empty) is called from the calling thread.
// InvalidArgument for bad options (ValidateDetectorTrainOptions), a threat library without the
// patches asked for, or a directory without scans and truth; errors reading a scan name the file;
// DataLoss for an init model made with a setting this build does not have.
Status TrainDetector(const DetectorTrainOptions& options, const std::string& out_path,
                     const std::function<void(const TrainProgress&)>& progress,
                     DetectorTrainReport* report);

// ---- Evaluation --------------------------------------------------------------------------------

struct DetectionEvalOptions {
  double min_iou = 0.3;  // a threat is found by a detection of its class overlapping it this much
  // Alarm rates on clean parcels (share with at least one detection) at which detection rates are
  // reported, with the score threshold that gives each.
  std::vector<double> alarm_rates = {0.005, 0.01, 0.02, 0.05};
  double min_score = 0.5;         // the operating point for the headline rates
  double narcotics_min_kg = 0.2;  // the "concealed narcotics >= 200 g" row
};

struct ClassEval {
  // A threat class; "narcotics_concealed_200g"; or "weapons_any_class": firearms, firearm parts and
  // knives, each found by a detection of any of those three classes (a firearm part called a
  // firearm still stops the parcel for a weapon), against the clean parcels' weapon detections.
  std::string name;
  int64_t threats = 0;
  int64_t detected = 0;               // at min_score
  double rate = 0;                    // detected / threats
  std::vector<double> rate_at_alarm;  // per DetectionEvalOptions::alarm_rates
  // The same, with each alarm rate counted on this class's detections alone (the threshold at
  // which that share of clean parcels has a detection of this class; narcotics for the 200 g row,
  // any of the three weapon classes for the weapons row).
  std::vector<double> rate_at_class_alarm;
  int64_t false_alarms = 0;  // detections of this class on clean parcels at min_score
  double ap = 0;             // average precision over all scans (IoU >= min_iou)
};

struct ManifestEval {
  int64_t honest = 0, misdeclared = 0, undervalued = 0;
  int64_t honest_flagged = 0, misdeclared_flagged = 0, undervalued_flagged = 0;
  // Misdeclared flagged at the score threshold that flags this share of honest parcels.
  std::vector<double> honest_rates = {0.02, 0.05, 0.10};
  std::vector<double> misdeclared_rate_at;
  // The same on the parcels without a threat only (honest and mis-declared alike): the traffic the
  // check mostly sees at a site, where threats are rare. Judging sets carry a threat in a large
  // share of their parcels, and a threat's object changes what the image shows of the goods.
  int64_t honest_threat_free = 0, misdeclared_threat_free = 0;
  std::vector<double> misdeclared_rate_at_threat_free;
};

struct DetectionEval {
  int64_t scans = 0, clean_scans = 0, threat_scans = 0;
  int64_t missing_results = 0;  // truth files without a result line (counted as no detections)
  std::vector<ClassEval> classes;
  double false_alarms_per_clean_scan = 0;  // at min_score
  double clean_alarm_rate = 0;             // share of clean scans with a detection at min_score
  int64_t clean_alarmed = 0;               // those clean scans
  std::vector<double> alarm_rates, thresholds;  // thresholds[i] gives alarm_rates[i] (or less)
  double map = 0;                               // mean of the classes' AP (classes with threats)
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
Result<DetectionEval> EvaluateDetections(const std::string& data_dir,
                                         const std::string& results_path,
                                         const DetectionEvalOptions& options = {});
// Several (data_dir, results) pairs pooled into one evaluation (days, sites or scanners together).
Result<DetectionEval> EvaluateDetections(
    const std::vector<std::pair<std::string, std::string>>& sets,
    const DetectionEvalOptions& options = {});

// ---- Site adaptation ---------------------------------------------------------------------------

// A model set on a site's own traffic: a folder of its recent scans (format v1; nearly all clean,
// assumed up to a few percent with threats, unknown which) and their declarations.csv, linked by
// consignment_id; no labels. Analysed with the site's calibration, scored by the base model.
struct SiteAdaptOptions {
  std::string base_model;  // the model file to adapt
  std::string site_dir;
  // The points are raised until at most target_clean_alarm_rate + assumed_threat_share of the
  // site's scans alarm on any class: the site's traffic holds a few threats (unknown which) that
  // should go on alarming, so they are allowed for instead of being cut as if they were clean.
  double target_clean_alarm_rate = 0.01;
  double assumed_threat_share = 0.01;
  int64_t min_scans = 30;  // a smaller folder is refused
  // The manifest model on the site's declared scans (taken as honest), with min_manifest_pairs
  // of them or more. kAuto refits it and keeps the refit only when it explains the site's
  // declarations better: its cross-validated share of scans whose declared goods group fits best
  // is at least manifest_refit_margin above the base model's share on the same scans. On a
  // scanner like the training ones the base model wins (a refit on 300 scans flagged 51 % of
  // mis-declared parcels at 9 % of honest ones, the base 95 % at 2 %); on one whose goods look
  // otherwise a refit can win (docs/xray-detector.md).
  enum class Manifest { kKeep, kAuto, kRefit };
  Manifest manifest = Manifest::kAuto;
  double manifest_refit_margin = 0.05;
  int64_t min_manifest_pairs = 100;  // fewer declared scans: the base manifest model is kept
  int threads = 2;
  // Fine-tuning: the network trained further on the site's scans (as negatives) and copies of them
  // with threats of the product's library projected in, rendered through the site scanner's
  // spectral response (the calibration's wedges must give formulas). The scans are split in two
  // folds; a network tuned on each fold scores the other's scans and copies, and on those
  // out-of-fold scores (and the base network's) the points of the base and the tuned network,
  // each with and without the verifier, are chosen for the clean-alarm budget
  // (target_clean_alarm_rate + assumed_threat_share); the one that finds the most projected
  // threats is kept, a tuned one trained again on all the scans. 0 epochs: the base network, its
  // points raised as above.
  int fine_tune_epochs = 16;
  double tip_copies = 2;  // projected copies per site scan
  double learning_rate = 5e-4;
  double max_minutes = 10;  // for the three trainings together
  uint64_t seed = 1;
  // Recorded in the model file (the caller computes the hashes of what it read).
  std::string command, base_model_sha256, calibration_sha256;
};

struct SiteAdaptClass {
  std::string threat_class;
  double base_probability = 0, site_probability = 0;
  int64_t site_alarms_at_base = 0, site_alarms = 0;  // site scans alarmed on this class
  // Fine-tuning: projected threats of this class on the site's copies, and those found at the
  // chosen points by the base network and by the one kept (out of fold).
  int64_t projected = 0, found_by_base = 0, found = 0;
};

struct SiteAdaptReport {
  int64_t scans = 0, declared_scans = 0;
  double alarm_rate_at_base = 0, alarm_rate = 0;  // site scans alarmed on any class
  std::vector<SiteAdaptClass> classes;
  std::string manifest;  // refitted (with its cross-validated table) or kept, and why
  // Fine-tuning: what was kept ("tuned network with verifier", ...) and the candidates' figures
  // on the site's scans and copies (out of fold); empty when not asked for.
  std::string network;
  std::string candidates_table;
  int64_t scored_copies = 0;
  double train_seconds = 0;
};

// InvalidArgument naming the first option out of range. Reads no file.
Status ValidateSiteAdaptOptions(const SiteAdaptOptions& options);

// Writes a model set on the site. With fine_tune_epochs > 0 the network is fine-tuned and the
// points chosen on held-back site scans as SiteAdaptOptions says (FailedPrecondition when the
// calibration cannot give the scanner's spectral response). With 0, the base network is kept and
// its points raised on all the site's scans (lowest-scoring alarms first, until at most
// target_clean_alarm_rate + assumed_threat_share of them alarm; never lowered). Either way the
// manifest model is refitted on the site's declared scans as `manifest` says when there are
// min_manifest_pairs of them, and a "site_adaptation" record is written (base model and
// calibration hashes, site size, date, points before and after, how the network was tuned).
// NotFound for a missing folder; InvalidArgument for a folder with fewer than min_scans scans;
// errors reading a scan name the file. `progress` gets a phase and (done, total).
Status AdaptDetectorToSite(
    const SiteAdaptOptions& options, const Calibration& calibration, const std::string& out_path,
    const std::function<void(const std::string& phase, int64_t done, int64_t total)>& progress,
    SiteAdaptReport* report);

// ---- Points for unseen scanners -----------------------------------------------------------------

// A model's operating points for scanners it has never seen, set on clean parcels of validation
// scanners it was not trained on (xray unseen-points): the points are raised, lowest-scoring
// alarms first, until on every one of those scanners at most target_clean_alarm_rate of its clean
// parcels alarm. The model then keeps them with the list of scanners it knows, and the runtime
// uses them on a calibration far from every known one (DetectorOptions::scanner_points).
struct UnseenScannerSet {
  std::string data_dir;     // scans of one scanner, with truth/ (xray simulate)
  Calibration calibration;  // that scanner's, from its own wedges
};
struct UnseenPointsOptions {
  std::string base_model;
  std::vector<UnseenScannerSet> scanners;  // never trained on; at least two
  std::vector<Calibration> known;          // the scanners the model was trained on
  double target_clean_alarm_rate = 0.01;   // on each validation scanner's clean parcels
  double max_scanner_distance = 0.015;     // ScannerDistance up to which a scanner is known
  int threads = 2;
  std::string command;  // recorded in the model
};
struct UnseenPointsReport {
  struct Scanner {
    std::string data_dir, device;
    double nearest_known = 0;  // ScannerDistance to the nearest known scanner
    int64_t clean = 0, alarmed_at_base = 0, alarmed = 0;
  };
  std::vector<Scanner> scanners;
  std::vector<std::string> classes;         // the model's threat classes
  std::vector<double> base_points, points;  // per class, as the model compares them
};
// InvalidArgument for a validation scanner the model knows (within max_scanner_distance of a known
// one), fewer than 20 clean parcels in a set, or options out of range; NotFound for a set
// without truth/.
Status SetUnseenScannerPoints(
    const UnseenPointsOptions& options, const std::string& out_path,
    const std::function<void(const std::string& phase, int64_t done, int64_t total)>& progress,
    UnseenPointsReport* report);

// ---- Timing ------------------------------------------------------------------------------------

// Training steps of a fresh network (forward, loss, backward, AdamW) as `xray train` runs them,
// on synthetic crops that change every step; for benchmarks of the step's cost.
struct NetworkStepTimingOptions {
  int steps = 60;
  int warmup_steps = 5;  // untimed, first
  int threads = 2;
  int batch = 12;
  int crop_cells = 96;  // crops of crop x crop input cells (4 px each)
  bool channels_last = true;
  uint64_t seed = 1;
};
struct NetworkStepTimes {
  std::vector<double> step_ms;  // one per timed step
  double last_loss = 0;
};
// InvalidArgument for a count out of range.
Result<NetworkStepTimes> TimeNetworkSteps(const NetworkStepTimingOptions& options);

}  // namespace clearsight
