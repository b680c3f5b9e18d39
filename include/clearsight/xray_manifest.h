// Manifest verification: does what the image shows fit the declared goods?
//
// A ManifestModel learns from honest pairs of scan and declaration what each HS chapter looks
// like: the goods classes the detector sees, the material mix (organic / inorganic / metal mass
// and the mass-weighted z_eff of the objects), densities, and the image mass against the declared
// net mass. Check() then scores a new pair: how much less likely the declared chapter is than the
// chapter the image fits best, and how far the mass is from what that chapter's honest parcels
// show. It is fitted by TrainDetector (xray_detect.h) on scans the network never trained on and
// travels in the detector's model file. Immutable once built; Check is thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/declarations.h"
#include "clearsight/status.h"
#include "clearsight/xray_analyze.h"
#include "clearsight/xray_detect.h"

namespace clearsight {

struct ManifestCheck {
  bool consistent = true;
  double score = 0;                  // 0 = fits the declaration, 1 = does not fit at all
  std::string declared_chapter;      // "61"
  std::string best_chapter;          // the chapter the image fits best
  std::vector<std::string> reasons;  // for the officer, most important first

  // {"consistent":false,"score":0.93,"reason":"...","reasons":[...],"declared_chapter":"49",
  //  "best_chapter":"85"} ("reason" is the first reason, for readers that take one).
  std::string ToJson() const;
};

// One training pair.
struct ManifestExample {
  ScanAnalysis analysis;     // objects and totals are used; channels may be empty
  DetectionResult detection; // goods_share, goods_area_cm2
  Declaration declaration;
};

struct ManifestFitOptions {
  double l2 = 1e-2;        // ridge penalty of the chapter classifier (standardised features)
  int iterations = 400;    // full-batch gradient steps
  int min_examples = 3;    // chapters with fewer honest examples are not modelled
  double target_honest_flag_rate = 0.03;  // operating point from cross-validation
  int folds = 5;
  uint64_t seed = 1;
};

struct ManifestFitReport {
  int64_t examples = 0;
  int chapters = 0;
  double threshold = 0;
  // Cross-validated: share of held-out honest pairs flagged at the threshold, and how often the
  // best-fitting chapter is the declared one.
  double cv_honest_flag_rate = 0;
  double cv_top1 = 0;
  std::string ToTable() const;
};

class ManifestModel {
 public:
  // Fits from honest pairs (the declared goods are what was packed). InvalidArgument when fewer
  // than two chapters have min_examples examples.
  static Result<ManifestModel> Fit(const std::vector<ManifestExample>& honest, const ManifestFitOptions& options,
                                   ManifestFitReport* report);
  static Result<ManifestModel> FromJson(std::string_view json);
  std::string ToJson() const;

  // Scores a pair. A declaration whose HS chapter the model has no reference for is reported as
  // consistent with score 0 and a reason saying so.
  ManifestCheck Check(const ScanAnalysis& analysis, const DetectionResult& detection,
                      const Declaration& declaration) const;

  const std::vector<std::string>& chapters() const { return chapters_; }
  double threshold() const { return threshold_; }

 private:
  std::vector<std::string> chapters_;      // two-digit HS chapters
  std::vector<std::string> goods_classes_; // the detector's goods classes the features use
  std::vector<double> mean_, scale_;       // feature standardisation
  std::vector<std::vector<double>> weights_;  // per chapter: bias then one per feature
  std::vector<double> mass_log_ratio_mean_, mass_log_ratio_sd_;  // per chapter
  double threshold_ = 0.5;
  double mass_z_flag_ = 3.5;               // |z| of log(image mass / declared mass) that flags
};

// Declarations by consignment_id from a native CSV or JSONL file (ReadDeclarations); rejected
// rows are counted in *report. A consignment_id that occurs twice keeps the first row.
Result<std::map<std::string, Declaration>> ReadDeclarationsByConsignment(const std::string& path,
                                                                        IngestReport* report);

}  // namespace clearsight
