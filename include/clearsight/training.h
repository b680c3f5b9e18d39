// Screener training (docs/training.md): sessions of images with threats projected by the physics
// TIP (clearsight/xray_tip.h), the signal-detection scores of a trainee's responses, and the
// staircase that sets the next image's difficulty from the trainee's record. Sessions, assignments
// and trials are the store's rows (clearsight/store.h); the service's /api/training routes
// translate requests onto this.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/status.h"
#include "clearsight/store.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_scan.h"
#include "clearsight/xray_tip.h"

namespace clearsight {

// ---- Settings ---------------------------------------------------------------------------------

// Where a session's backgrounds come from: parcels simulated for it, stored scans of
// consignments inspected and found clean (outcome "nothing"), or both (half each; simulated when
// the store has no clean scans).
enum class TrainingSource { kSimulated, kStored, kMixed };
std::string_view TrainingSourceName(TrainingSource source);  // "simulated", "stored", "mixed"

struct TrainingSettings {
  int images = 20;                          // per trainee, 1..500
  double threat_share = 0.5;                // share of images with a projected threat, 0..1
  std::vector<std::string> threat_classes;  // of ThreatClasses(); empty = all
  // The threat's size factor on the library patch (1 = as simulated), easiest (size_max) to
  // hardest (size_min), and the clutter level 0..1, easiest (clutter_min) to hardest.
  double size_min = 0.6, size_max = 1.2;
  double clutter_min = 0.0, clutter_max = 1.0;
  int time_limit_s = 20;  // per image, 3..600
  TrainingSource source = TrainingSource::kSimulated;
  uint64_t seed = 1;  // with the trainee and the image index, picks backgrounds and places
  // Cases of the case library (consignment ids) shown among the `images`, each once per trainee:
  // the real stored scan unchanged, with the truth the inspection found (CaseTruthOf). At most
  // `images`; the threat share applies to the other, projected images.
  std::vector<std::string> cases;
};

// Reads {"images", "threat_share", "threat_classes", "size_min", "size_max", "clutter_min",
// "clutter_max", "time_limit_s", "source", "seed", "cases"} (each optional); InvalidArgument naming
// the field that is out of range or of the wrong type, or an unknown threat class.
Result<TrainingSettings> TrainingSettingsFromJson(std::string_view json);
std::string TrainingSettingsToJson(const TrainingSettings& settings);
// The classes a session tests: its own, or all of ThreatClasses() when it names none.
std::vector<std::string> SessionClasses(const TrainingSettings& settings);

// How a threat class looks in each channel, for the truth shown after a response.
struct ThreatLook {
  std::string summary;
  std::string high_energy;
  std::string low_energy;
  std::string material;
};
ThreatLook ThreatClassLook(std::string_view threat_class);

// ---- Staircase --------------------------------------------------------------------------------

// 2-down/1-up (Levitt 1971): two hits in a row make the next image of the class one level
// harder, a miss one level easier; it holds the trainee near a 70.7 % hit rate. Level 0 is the
// easiest (largest threat, least clutter); odd steps shrink the threat, even steps add clutter.
struct StaircaseOptions {
  int levels = 9;      // 0..levels-1
  int down_after = 2;  // hits in a row before a step down (harder)
};
// The level after the outcomes of a class's threat images in order (true = hit), from level 0.
int StaircaseLevel(const std::vector<bool>& hits, const StaircaseOptions& options = {});

struct TrainingDifficulty {
  double size_scale = 1;
  double clutter = 0;
};
// Level 0: size_max and clutter_min; the last level: size_min and clutter_max (sizes
// geometrically, clutter linearly between them).
TrainingDifficulty DifficultyAt(int level, const TrainingSettings& settings,
                                const StaircaseOptions& options = {});

// ---- Scores -----------------------------------------------------------------------------------

// One answered image as the scores see it.
struct TrialOutcome {
  std::string threat_class;  // "" without a threat
  bool threat = false;
  bool suspect = false;  // the trainee's decision
  bool hit = false;      // threat, suspect, and the mark on the threat
  int64_t response_ms = 0;
  int64_t session_id = 0;
};
TrialOutcome OutcomeOfTrial(const TrainingTrialRow& row);

// Signal detection scores of one class over a set of answered images. Hits are the class's
// threat images decided suspect with the mark on the threat; false alarms are the images without
// a threat decided suspect, pooled over every class (the trainee cannot know which class an empty
// image stands for). d', c and A' use the log-linear correction (Hautus 1995):
// H = (hits + 0.5) / (signal + 1), F = (false alarms + 0.5) / (noise + 1), so that rates of 0 or 1
// stay finite; the raw rates are reported beside them.
struct DetectionScores {
  std::string threat_class;  // "" = all classes together
  int64_t signal_trials = 0, hits = 0;
  int64_t noise_trials = 0, false_alarms = 0;
  std::optional<double> hit_rate, false_alarm_rate;  // raw; none without trials
  double hit_rate_corrected = 0, false_alarm_rate_corrected = 0;
  double d_prime = 0;    // z(H) - z(F)
  double criterion = 0;  // c = -(z(H) + z(F)) / 2; positive = conservative
  double a_prime = 0.5;  // Pollack & Norman's non-parametric sensitivity on H and F
  std::optional<double> median_response_ms;  // of the class's threat images (all images for "")
};
// The scores of every class that has a threat image among `trials` (by name), then "" for all.
std::vector<DetectionScores> ScoreTrials(const std::vector<TrialOutcome>& trials);

// The standard normal quantile (Acklam's rational approximation with one Halley step: relative
// error below 1e-12); p in (0, 1).
double NormalQuantile(double p);
// A' (Pollack & Norman 1964, Grier's form) of hit rate h and false-alarm rate f.
double APrime(double h, double f);

// The trainer's certification rule: d' at least min_d_prime on every class the window's images
// tested, over the trainee's last `window` answered images (and at least that many).
struct CertificationRule {
  double min_d_prime = 2.5;
  int window = 100;
};
Result<CertificationRule> CertificationRuleFromJson(std::string_view json);
std::string CertificationRuleToJson(const CertificationRule& rule);

struct Certification {
  bool certified = false;
  std::string reason;  // "d' >= 2.5 on every class over the last 100 images" or what is missing
};
// `window_scores`: ScoreTrials of the last rule.window answered images; `answered`: how many the
// trainee has answered in all.
Certification Certify(const std::vector<DetectionScores>& window_scores, int64_t answered,
                      const CertificationRule& rule);

// ---- Cases in sessions ------------------------------------------------------------------------

// What image `index` of a trainee's run is: one of the session's cases, or a projected image with
// or without a threat. The run is shuffled by `base_seed` (the session's seed mixed with the
// session and the trainee): the cases take settings.cases.size() places, and exactly
// round(threat_share x the other images) of the others have a threat. Without cases it is the
// order every session had before cases existed.
struct RunSlot {
  std::optional<size_t> case_index;  // into settings.cases
  bool threat = false;               // a projected image with a threat
  int threat_rank = -1;              // among the run's projected threat images, in index order
};
RunSlot RunSlotAt(const TrainingSettings& settings, uint64_t base_seed, int index);

// The truth of a case's image, from what its inspection found: `result` (the latest outcome) and
// the detections stored in the scan's analysis (ScanAnalysis JSON, "detections"). "nothing" and
// "undervaluation" (the goods are what was declared) are images without a threat. Narcotics,
// weapons (firearm, firearm part, knife), cigarettes, currency and lithium batteries are threats
// of their class, boxed by the stored detection of a matching class with the highest score
// (class: the detector's); other findings (misdeclaration, counterfeit, other) are threats
// without a box: the trainee's Suspect is a hit wherever the mark is.
struct CaseTruth {
  bool threat = false;
  std::string threat_class;               // a ThreatClasses() name, or the outcome result
  std::optional<std::array<int, 4>> box;  // x0, y0, x1, y1
};
CaseTruth CaseTruthOf(std::string_view result, std::string_view analysis_json);
// A trial made from a case (its source is "case:<consignment id>"), and that case's id.
bool IsCaseTrial(const TrainingTrialRow& trial);
std::string CaseOfTrial(const TrainingTrialRow& trial);
// Whether the trial's truth has a box to mark (a case with a finding may have none).
bool TrialHasBox(const TrainingTrialRow& trial);

// ---- Marks ------------------------------------------------------------------------------------

// Where a trainee marked the threat, in image pixels: a point (x0 = x1, y0 = y1) or a box
// [x0,x1] x [y0,y1].
struct TrainingMark {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool box = false;
};

// Whether a mark is on the threat, judged on the threat's mask (run-length encoded over a
// width-wide image, as TruthObject::mask_rle), not its box. A point is on the threat when it falls
// on a mask pixel or within kMarkPointTolerancePx of one (the edge is blurred). A box is on it when
// the mask covers at least half of the box or the box at least half of the mask (overlap >=
// min(box, mask) / 2) and the box is at most kMarkBoxMaxAreaRatio times the area of the mask's
// bounding box (a box over the whole parcel points at nothing). No mask pixel: never on it.
inline constexpr int kMarkPointTolerancePx = 2;
inline constexpr double kMarkBoxMaxAreaRatio = 4;
bool MarkOnThreat(const TrainingMark& mark, const std::vector<uint32_t>& mask_rle, int width);

// ---- Images -----------------------------------------------------------------------------------

// What one training image is made of: a background, maybe a threat of a class at a size and
// clutter level.
struct TrainingImageRequest {
  uint64_t seed = 0;  // picks the background candidates, the patch, the place and rotation
  bool threat = false;
  std::string threat_class;
  TrainingDifficulty difficulty;
  // Stored clean scans to choose the background from; empty = simulate candidates.
  std::vector<Scan> stored_candidates;
  std::vector<std::string> stored_ids;  // parallel to stored_candidates
};

struct TrainingImage {
  Scan scan;  // meta.scan_id and consignment_id are the caller's to set
  std::string source;
  double clutter_measured = 0;  // share of the background's pixels below 50 % transmission
  std::optional<ProjectedThreat> projected;
};

// Load once, run many: Create simulates the threat library (threats as materials, at the
// simulator's pixel size) and fits the simulator's scanner response to its own wedges once; Make
// is const and thread-safe. Create fails when options.calibration cannot be fitted
// (ScannerResponse::Fit).
class TrainingImageMaker {
 public:
  struct Options {
    int width = 1024, height = 768;  // simulated backgrounds
    int candidates = 3;              // backgrounds a clutter level is chosen among
    int patches_per_class = 5;
    uint64_t seed = 1;  // the simulator's: backgrounds and the threat library
    // The calibration of the scanner the stored scans come from: threats projected into them are
    // rendered through its spectral response (ScannerResponse::Fit). None: through the
    // simulator's scanner, as into simulated backgrounds.
    std::optional<Calibration> calibration;
  };
  static Result<std::unique_ptr<TrainingImageMaker>> Create(const Options& options);
  ~TrainingImageMaker();

  // The candidates (simulated, or the request's stored scans) ranked by their share of dense
  // pixels; the clutter level picks one (0 = the least cluttered). A threat is projected by
  // ProjectMaterialThreat (its materials added to the goods under it through the background's
  // scanner response, resampled to the background's pixel size, with the scanner's blur, noise
  // and scatter) over a goods pixel (transmission 0.2..0.9), rotated at random. InvalidArgument
  // for an unknown class.
  Result<TrainingImage> Make(const TrainingImageRequest& request) const;

 private:
  struct Impl;
  explicit TrainingImageMaker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Share of pixels below 50 % high-energy transmission: the clutter measure.
double ClutterOf(const Scan& scan);

// ---- Realism of the projection ----------------------------------------------------------------

// How realistic projected threats look, measured: classifiers are trained to tell threats
// simulated inside the scene (the simulator's own concealed threats, truth box and mask) from the
// same classes projected by TrainingImageMaker into clean simulated parcels, on features of the
// region around the threat (edge sharpness, noise level and correlation inside against outside,
// the low/high ratio, texture). The held-out images come from another simulator seed (other
// parcels, other threat patches) than the training images. An AUC near 0.5 means the classifiers
// cannot tell the two kinds apart; docs/training.md holds the figure and the rule applied to it.
enum class ProjectionFault {
  kNone,          // the product's projection
  kPasted,        // the threat's transmission replaces the scan's (no attenuation added)
  kDoubledNoise,  // the noise the projection adds, added twice over
};

struct RealismOptions {
  int images = 200;  // of each kind (in-scene, projected) for training; as many again held out
  uint64_t seed = 1;
  std::vector<std::string> threat_classes;  // of ThreatClasses(); empty = all
  int width = 1024, height = 768;           // simulated parcels
  int patches_per_class = 20;
  ProjectionFault fault = ProjectionFault::kNone;  // a control: a broken projection to detect
  int bootstrap = 1000;                            // resamples for the confidence intervals
  // A third classifier: a small CNN on 48 x 48 crops of both images and the mask around the
  // threat (four per image), which sees the pixels rather than hand features.
  bool cnn = true;
  int cnn_epochs = 24;
  int threads = 2;  // the CNN's
};

struct AucEstimate {
  double auc = 0.5;
  double low = 0, high = 1;  // 95 % bootstrap percentile interval (stratified by kind)
};

struct RealismClass {
  std::string threat_class;
  int in_scene = 0, projected = 0;  // held-out images
  AucEstimate auc;                  // of the better classifier overall, on this class's images
};

struct RealismReport {
  int train_images = 0, held_out_images = 0;  // both kinds together
  AucEstimate logistic;                       // L2-regularised logistic regression
  AucEstimate boosted;                        // gradient-boosted stumps
  std::optional<AucEstimate> cnn;             // the CNN on crops, when asked for
  AucEstimate best;                           // the highest of them
  std::string best_classifier;                // "logistic", "boosted" or "cnn"
  std::vector<RealismClass> classes;
  // The logistic regression's weights on the standardised features, largest magnitude first:
  // what gives a projection away.
  std::vector<std::pair<std::string, double>> weights;
  double seconds = 0;
  // Every image's features, for a look at what tells the kinds apart: a header line
  // (split, threat_class, projected, then the feature names) and one line per image.
  std::string features_csv;
  std::string ToJson() const;
};

// InvalidArgument for images outside 20..5000, an unknown class or sizes the simulator refuses.
Result<RealismReport> MeasureProjectionRealism(const RealismOptions& options);

// The area under the ROC curve of scores against labels (1 = positive), ties counted half; 0.5
// when either kind is missing.
double AreaUnderRoc(const std::vector<double>& scores, const std::vector<int>& labels);

}  // namespace clearsight
