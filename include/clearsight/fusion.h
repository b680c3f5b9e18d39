// Fusion: one score, one channel and plain-words reasons per consignment, from declaration risk
// (learned model, valuation, analyst rules) and image findings (material analysis, threat
// detections, manifest checks).
//
// Fusion consumes Findings, never pixels: any sensor (X-ray, CT, trace detection) or any
// declaration check can add evidence by producing Findings. The combination is a noisy-OR: a
// finding of source s and strength p counts as evidence e = -ln(1 - w_s * p), evidences add, and
// the fused score is 1 - exp(-sum e). Each reason's weight is its evidence, so the reasons of a
// decision add up to its score and the largest weight is the strongest reason.
//
// OnlineSelector turns fused scores into channels as consignments arrive, under a daily
// inspection capacity per lane, with a random control sample marked as such.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "clearsight/channel.h"
#include "clearsight/declarations.h"
#include "clearsight/status.h"
#include "clearsight/valuation.h"

namespace clearsight {

class RiskModel;
class RuleSet;
struct Detection;
struct ManifestCheck;
struct ScanAnalysis;

// A box in scan pixels, [x0,x1) x [y0,y1).
struct FindingBox {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool operator==(const FindingBox&) const = default;
};

// One piece of evidence about a consignment.
struct Finding {
  std::string source;  // "model", "valuation", "rules", "xray", "detector", "manifest", ...
  std::string kind;    // "fraud_risk", "undervaluation", "rule:<name>", "threat:knife", ...
  double score = 0;    // strength in [0, 1]; read as a probability that it signals a real case
  std::string reason;  // plain words: "knife-like object, 0.93"
  std::vector<std::string> details;  // supporting lines (the model's top feature reasons)
  std::optional<FindingBox> box;     // where in the scan, for image findings
  std::string scan_id;               // the scan the box refers to
  Channel floor = Channel::kGreen;   // the least channel this finding demands (rule, weapon)

  bool operator==(const Finding&) const = default;
};

// JSON object / array round trips (the store keeps findings as JSON text).
std::string FindingsToJson(const std::vector<Finding>& findings);
Result<std::vector<Finding>> FindingsFromJson(std::string_view json);

struct FusionOptions {
  // How much a finding of score 1 from a source counts (0..1); sources not listed use
  // default_weight.
  std::map<std::string, double> source_weight = {{"model", 1.0},    {"valuation", 0.8},
                                                 {"rules", 1.0},    {"xray", 0.8},
                                                 {"detector", 1.0}, {"manifest", 0.8}};
  double default_weight = 0.7;
  size_t max_reasons = 8;
};

struct FusedReason {
  std::string text;
  std::string source;
  std::string kind;
  double weight = 0;  // evidence -ln(1 - w_s * p); reasons sum to -ln(1 - score)
  std::vector<std::string> details;
  std::optional<FindingBox> box;
  std::string scan_id;
};

struct FusedRisk {
  double score = 0;                  // 1 - exp(-sum of evidence), in [0, 1)
  Channel floor = Channel::kGreen;   // the highest channel any finding demands
  std::vector<FusedReason> reasons;  // by weight, largest first; at most max_reasons
};

// Combines all findings of one consignment. Pure; no state.
FusedRisk Fuse(const std::vector<Finding>& findings, const FusionOptions& options = {});

// ---- Declaration risk as findings ----------------------------------------------------------

struct DeclarationRiskOptions {
  // Model feature reasons per declaration (Finding::details); 0 leaves the details empty, for
  // callers that explain only what needs it (ExplainModel), since explaining costs more than
  // scoring.
  int explain_reasons = 3;
  int threads = 1;  // for scoring batches
};

// Load once, assess many: holds the loaded model, valuation and rules (each optional) and turns
// a declaration into findings. Immutable and shareable between threads.
class DeclarationRisk {
 public:
  DeclarationRisk(std::shared_ptr<const RiskModel> model,
                  std::shared_ptr<const ValuationModel> valuation,
                  std::shared_ptr<const RuleSet> rules, DeclarationRiskOptions options = {});

  struct Assessment {
    std::vector<Finding> findings;
    std::vector<std::string> rule_hits;  // names of the rules that matched
    std::vector<int> rule_indexes;       // the same rules as indexes into rules()->rules()
    double model_score = kMissing;
    bool valued = false;  // a valuation model scored it: `valuation` holds the figures
    ValuationResult valuation;
  };
  // One Assessment per row of the batch. A missing model, valuation or rule set contributes no
  // findings (a declaration nothing is known about gets score 0 and goes green).
  std::vector<Assessment> Assess(const DeclarationBatch& batch) const;

  // The model's top `k` reasons for one row, as Finding::details lines (what Assess adds when
  // explain_reasons > 0); empty without a model.
  std::vector<std::string> ExplainModel(const DeclarationBatch& batch, size_t row, int k) const;

  const RiskModel* model() const { return model_.get(); }
  const ValuationModel* valuation() const { return valuation_.get(); }
  const RuleSet* rules() const { return rules_.get(); }

 private:
  std::shared_ptr<const RiskModel> model_;
  std::shared_ptr<const ValuationModel> valuation_;
  std::shared_ptr<const RuleSet> rules_;
  DeclarationRiskOptions options_;
};

// ---- Image analysis as findings -------------------------------------------------------------

struct ScanFindingOptions {
  double impenetrable_min_fraction = 0.3;  // of an object's pixels
  double impenetrable_min_area_cm2 = 4;
  // What the X-ray cannot see through can hide anything: such a parcel goes red whatever the
  // lane's budget says (as a detected weapon does).
  bool impenetrable_demands_red = true;
  double metal_min_kg = 0.15;        // metal mass that needs explaining in non-metal goods
  double organic_min_kg = 0.3;       // organic mass that needs explaining in metal/electronic goods
  double mass_mismatch_ratio = 2.0;  // image mass vs declared net mass, either way
  double min_declared_kg = 0.2;      // below this the mass check is skipped
};

// Findings from a material analysis: opaque objects, metal or organic mass that the declared goods
// do not explain, image mass against declared mass. `declared` may be null (no declaration yet).
std::vector<Finding> FindingsFromScanAnalysis(const ScanAnalysis& analysis,
                                              const Declaration* declared,
                                              const ScanFindingOptions& options = {});

struct DetectionFindingOptions {
  // A weapon (SeverityOfThreatClass) detected at or above this score demands red; 0.5 is the
  // model's operating point for the class.
  double weapon_red_min_score = 0.5;
};

// One "detector" finding per detection of the threat detector in scan `scan_id`, with its box.
std::vector<Finding> FindingsFromDetections(const std::vector<Detection>& detections,
                                            const std::string& scan_id,
                                            const DetectionFindingOptions& options = {});

// A "manifest" finding when the image does not fit the declared goods; none when it does.
std::vector<Finding> FindingsFromManifest(const ManifestCheck& check);

// "knitted or crocheted clothing" for HS chapter 61; "" when unknown.
std::string_view HsChapterName(std::string_view hs_code);

// ---- Online selection -----------------------------------------------------------------------

struct LaneCapacity {
  // Physical inspections (red) per lane and day: a share of the lane's consignments, or a fixed
  // count when red_count >= 0.
  double red_share = 0.05;
  int64_t red_count = -1;
  double yellow_share = 0.05;  // document checks, the next share by score
};

// What happens to a consignment whose score earns red when the lane-day's red budget is used up.
// It never leaves silently: it is marked over budget and either
//   kCarryOver  inspected, counted against the next day's red budget of its lane (while that has
//               room; then it goes to the supervisor's list), or
//   kSupervisor given the channel the budget allows and kept pending for a supervisor to decide.
enum class OverBudget { kCarryOver, kSupervisor };
Result<OverBudget> ParseOverBudget(std::string_view name);  // "carry-over", "supervisor"
std::string_view OverBudgetName(OverBudget o);

struct OnlineSelectionOptions {
  LaneCapacity capacity;  // every lane not listed below
  OverBudget over_budget = OverBudget::kCarryOver;
  // A score at or above this earns red whatever the lane's recent scores put the red threshold at
  // (when most of a lane scores high, the quantile threshold rises above plainly high-risk
  // scores); over budget it is carried over or listed like any other. Above 1: off.
  double high_risk_score = 0.9;
  std::map<std::string, LaneCapacity> lanes;  // per-lane overrides
  double control_share = 0.10;                // part of the red budget drawn uniformly at random
  // Part of the red budget spent on exploration (0 = none): consignments the model is unsure about
  // (a score below the red threshold but in the document-check band, at or above the yellow one)
  // or has not seen the like of (SelectionInput::novel), drawn at random among those by a seeded
  // hash independent of the control draw, so the model keeps learning about what it does not yet
  // flag. Kept apart from the control sample: exploration is not uniform over the traffic.
  double exploration_share = 0.0;
  uint64_t seed = 1;
  // Thresholds are the score quantiles of the lane's last `window` consignments; until a lane has
  // `warmup` scores the fixed thresholds apply.
  int window = 2000;
  int warmup = 50;
  double warmup_red_score = 0.5;
  double warmup_yellow_score = 0.3;
  // For count budgets: the volume assumed for a lane-day whose previous day is unknown (turns a
  // count into a control-draw probability).
  int64_t expected_daily_volume = 1000;
};

struct SelectionInput {
  std::string consignment_id;
  std::string lane;
  int32_t day = 0;  // days since 1970-01-01
  double score = 0;
  Channel floor = Channel::kGreen;
  // The model has no inspection outcome for the like of it (RiskModel::Novel): a new importer, or
  // goods from an origin it has no outcome for. Eligible for exploration.
  bool novel = false;
  // When the consignment already has a decision (a scan arrived later): its channel, flag and
  // the lane-day it was counted in (a scan that came before its declaration counts in lane "" on
  // the day it arrived; the declaration then moves it to its own lane-day).
  std::optional<Channel> previous;
  bool previous_control = false;
  bool previous_exploration = false;
  // The previous decision's inspection propensity, when it was recorded.
  std::optional<double> previous_propensity;
  std::string previous_lane;
  int32_t previous_day = 0;
};

struct SelectionResult {
  Channel channel = Channel::kGreen;
  bool control = false;
  // Drawn for exploration (OnlineSelectionOptions::exploration_share); never also control.
  bool exploration = false;
  // The probability that this consignment is inspected (red), given its score and the lane-day's
  // state when it was decided: 1 when its score or a finding sends it red; otherwise the chance of
  // the control draw plus, when it is eligible for exploration, the chance of that draw. What
  // retraining weights an outcome by (docs/model.md, "Retraining").
  double propensity = 0;
  // Its score (or a finding) asked for more than the lane-day's budget had left (OverBudget).
  bool over_budget = false;
  // Counted against the next day's budget of the lane (OverBudget::kCarryOver): the decision
  // belongs to that lane-day.
  bool carried = false;
  std::string why;  // "top 5 % of lane 30 on 2021-01-03", "random control sample", ...
};

// Thread-safe (one mutex); the service calls it from its single writer thread.
class OnlineSelector {
 public:
  explicit OnlineSelector(OnlineSelectionOptions options);
  ~OnlineSelector();

  // Decides a channel and counts it against the lane-day budget. A control consignment stays red
  // and control on later updates (the control sample must not depend on what was found). A
  // finding's floor is always honoured, over budget if need be (the reason says so).
  SelectionResult Select(const SelectionInput& input);

  // Rebuilding state after a restart: counts per lane-day and recent scores.
  void RestoreCounts(const std::string& lane, int32_t day, Channel channel, bool control,
                     int64_t count, bool exploration = false);
  void RestoreScore(const std::string& lane, double score);

  struct Counts {
    int64_t seen = 0, red = 0, yellow = 0, control = 0, exploration = 0, over_budget = 0,
            carried_in = 0;
  };
  Counts LaneDay(const std::string& lane, int32_t day) const;
  // Sets a lane-day's channel counts (seen, red, yellow, control, exploration) to `counts`, as
  // counted over the database that several deciding processes share; its over-budget and
  // carried-in tallies stay this process's own.
  void ReplaceCounts(const std::string& lane, int32_t day, const Counts& counts);
  const OnlineSelectionOptions& options() const { return options_; }
  // Replaces the capacity settings (admin); counts are kept.
  void SetCapacity(const LaneCapacity& capacity, const std::map<std::string, LaneCapacity>& lanes);

 private:
  struct Lane;
  const LaneCapacity& CapacityOf(const std::string& lane) const;
  Lane& LaneOf(const std::string& lane);
  void Thresholds(Lane& lane, const LaneCapacity& cap, double* red, double* yellow);
  // The thresholds last computed (the warm-up ones before), without recomputing them.
  void CachedThresholds(const Lane& lane, double* red, double* yellow) const;
  // The part of the red budget left to scores: what the control and exploration parts leave.
  double TargetedFraction() const;

  OnlineSelectionOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<Lane>> lanes_;
};

}  // namespace clearsight
