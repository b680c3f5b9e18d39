// Threat detection on dual-energy scans, the runtime: a small convolutional network (LibTorch, CPU)
// over the calibrated material channels of an analysis, and an optional second stage (verifier)
// that re-scores each candidate region. Training and evaluation are in xray_train.h.
//
// Load once, run many: Detector::Load(path, options) reads the weights once; Detect(analysis) is
// const and may be called from several threads at once. The model file (LibTorch archive) also
// carries the detector's settings, the training command and seed, its validation figures and the
// manifest model (xray_manifest.h, ManifestModel::FromDetector) fitted with it.
// docs/xray-detector.md describes the method.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clearsight/status.h"
#include "clearsight/xray_analyze.h"

namespace clearsight {

struct DetectorOptions {
  int threads = 2;  // intra-op threads of the network
  // Detections scoring below this are not reported. Scores are mapped so that 0.5 is the model's
  // operating point (the probability threshold chosen on the training validation split for at most
  // 1 % alarms on clean parcels); lower it (e.g. 0.05) to evaluate over all operating points.
  double min_score = 0.5;
  // Operating points for a scanner the model has never seen. A model that has them (set by
  // `xray unseen-points` on scanners it was not trained on) lists the scanners it knows: those it
  // was trained on, or the site it was adapted to. kAuto uses the unseen-scanner points when
  // `calibration` (the scans' scanner) is farther than the model's tolerance from every known
  // scanner (ScannerDistance), the model's own points otherwise or when no calibration is given;
  // kKnown and kUnseen choose one set. A model without unseen-scanner points ignores both.
  enum class ScannerPoints { kAuto, kKnown, kUnseen };
  ScannerPoints scanner_points = ScannerPoints::kAuto;
  std::optional<Calibration> calibration;  // read by Load only
};

struct Detection {
  std::string threat_class;            // one of the model's threat classes (ThreatClasses())
  double score = 0;                    // 0..1, 0.5 = operating point
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
  // NotFound when the file is missing; DataLoss when it is not a detector model, is corrupt, or
  // was made with an experiment this build no longer has (the message names the setting: test-time
  // views, the network on the contents' box, a verifier bag, ...; the last build with them is
  // e4fb95c); InvalidArgument when the options are out of range.
  static Result<std::unique_ptr<Detector>> Load(const std::string& path,
                                                const DetectorOptions& options = {});
  ~Detector();

  // Detects threats in an analysed scan. The analysis must keep its channels
  // (AnalyzerOptions::keep_channels, the default): FailedPrecondition otherwise.
  Status Detect(const ScanAnalysis& analysis, DetectionResult* out) const;
  Result<DetectionResult> Detect(const ScanAnalysis& analysis) const;

  const std::vector<std::string>& threat_classes() const;
  const std::vector<std::string>& goods_classes() const;
  // The settings, training command, seed and validation figures stored in the file (JSON), and
  // the manifest model fitted with it (ManifestModel::FromDetector reads it from here).
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
  // Whether the points for an unseen scanner are in use (DetectorOptions::scanner_points), and
  // one line saying which points are in use and why ("" for a model without unseen-scanner
  // points), e.g. "unseen-scanner points: the calibration is 0.084 from the nearest of the 7
  // scanners the model knows (tolerance 0.03)".
  bool unseen_scanner() const;
  const std::string& scanner_note() const;

  struct Impl;

 private:
  Detector();
  std::unique_ptr<Impl> impl_;
};

// [{"class":"knife","score":0.93,"box":[x0,y0,x1,y1]}, ...] (the shape fusion reads).
std::string DetectionsToJson(const std::vector<Detection>& detections);

}  // namespace clearsight
