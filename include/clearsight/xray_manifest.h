// Manifest verification: does what the image shows fit the declared goods?
//
// A ManifestModel learns from honest pairs of scan and declaration what each kind of goods looks
// like: the goods classes the detector sees, the material mix (organic / inorganic / metal mass
// and the mass-weighted z_eff of the objects), densities, and the image mass against the declared
// net mass. HS chapters of one goods class of the catalogue (61 and 62 are both clothing) form
// one group; a boosted-tree classifier per group (one against the rest) says how well the image
// fits it. Check() then scores a new pair: how much less likely the declared chapter's group is
// than the group the image fits best, and how far the mass is from what that chapter's honest
// parcels show. It is fitted by TrainDetector (xray_train.h) on scans the network never trained on
// and travels in the detector's model file. Immutable once built; Check is thread-safe.
#pragma once

#include <map>
#include <memory>
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
  ScanAnalysis analysis;      // objects and totals are used; channels may be empty
  DetectionResult detection;  // goods_share, goods_area_cm2
  Declaration declaration;
};

struct ManifestFitOptions {
  // Per group, boosted trees of this depth and number (chosen on the validation scans: depth 2-4
  // and 100-300 trees all gave 96-97 % of mis-declared pairs at 5 % of honest ones).
  int trees = 100;
  int max_depth = 3;
  double learning_rate = 0.05;
  int threads = 2;
  int min_examples = 3;                   // chapters with fewer honest examples are not modelled
  double target_honest_flag_rate = 0.03;  // operating point from cross-validation
  int folds = 5;
  uint64_t seed = 1;
  // Compare goods classes, not chapters: chapters of one goods class of the catalogue (61 and 62
  // are both clothing) look alike in an image, so an honest 61 parcel that fits 62 a little better
  // is not evidence against its declaration. Chapters outside the catalogue stay on their own.
  bool group_by_goods_class = true;
};

struct ManifestFitReport {
  int64_t examples = 0;
  int chapters = 0;
  int groups = 0;  // goods groups the classifier tells apart
  double threshold = 0;
  // Cross-validated: share of held-out honest pairs flagged at the threshold, and how often the
  // best-fitting goods group is the declared chapter's.
  double cv_honest_flag_rate = 0;
  double cv_top1 = 0;
  std::string ToTable() const;
};

class ManifestModel {
 public:
  // Fits from honest pairs (the declared goods are what was packed). InvalidArgument when fewer
  // than two chapters have min_examples examples.
  static Result<ManifestModel> Fit(const std::vector<ManifestExample>& honest,
                                   const ManifestFitOptions& options, ManifestFitReport* report);
  static Result<ManifestModel> FromJson(std::string_view json);
  std::string ToJson() const;
  // The manifest model fitted with a detector and stored in its model file; null when the file
  // has none, DataLoss when the stored one is corrupt.
  static Result<std::unique_ptr<const ManifestModel>> FromDetector(const Detector& detector);

  // Scores a pair. A declaration whose HS chapter the model has no reference for is reported as
  // consistent with score 0 and a reason saying so.
  ManifestCheck Check(const ScanAnalysis& analysis, const DetectionResult& detection,
                      const Declaration& declaration) const;

  const std::vector<std::string>& chapters() const { return chapters_; }
  double threshold() const { return threshold_; }

 private:
  std::vector<std::string> chapters_;       // two-digit HS chapters
  std::vector<std::string> goods_classes_;  // the detector's goods classes the features use
  std::vector<int> groups_;                 // per chapter: its group; the score compares groups
  std::vector<std::string> group_names_;    // per group: "clothing (HS 61/62)"
  std::vector<int> group_chapter_;  // per group: its commonest chapter (index into chapters_)
  struct Trees;                     // per group: the one-against-the-rest classifier
  std::shared_ptr<const Trees> trees_;
  std::vector<double> mass_log_ratio_mean_, mass_log_ratio_sd_;  // per chapter
  double threshold_ = 0.5;
  double mass_z_flag_ = 3.5;  // |z| of log(image mass / declared mass) that flags
};

// Declarations by consignment_id from a native CSV or JSONL file (ReadDeclarations); rejected
// rows are counted in *report. A consignment_id that occurs twice keeps the first row.
Result<std::map<std::string, Declaration>> ReadDeclarationsByConsignment(const std::string& path,
                                                                         IngestReport* report);

}  // namespace clearsight
