// Retraining on the store's inspection outcomes without the bias of how they were chosen, and the
// promotion gate that decides whether a retrained candidate may replace the live model.
//
// Outcomes exist only for inspected consignments, and inspection was chosen mostly by the model
// itself. Every decision records the probability it had of being inspected (its propensity,
// SelectionResult::propensity): 1 for what its score or a finding sent to red or yellow, the draw's
// chance for the random control sample and for exploration. Retraining weights each labelled row by
// the inverse of that probability (clipped), so the weighted rows stand for the whole traffic; the
// control sample, drawn regardless of score, is the unbiased yardstick of the period after the
// cut-off. docs/model.md, "Retraining" and "Promotion gate", says why and with which numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "clearsight/declarations.h"
#include "clearsight/risk_model.h"
#include "clearsight/status.h"
#include "clearsight/store.h"

namespace clearsight {

// Decided declarations with what selection and inspection made of them, one entry per row of
// `batch` in each vector. Outcomes are in batch.rows[i].fraud / critical (-1 when none).
struct LabelledData {
  DeclarationBatch batch;
  std::vector<double> propensity;  // of inspection when decided (estimated when not recorded)
  std::vector<uint8_t> control;    // drawn for the random control sample
  std::vector<uint8_t> exploration;
  std::vector<uint8_t> randomly_drawn;  // control or exploration: propensity < 1 possible
  int64_t estimated_propensities = 0;   // rows decided before propensities were recorded

  void Add(Declaration d, double propensity, bool control, bool exploration);
  size_t size() const { return batch.rows.size(); }
};

// An outcome result as a label: fraud for anything but "nothing"; critical (public safety) for
// narcotics and weapon. -1 for "" (no outcome) and for "not_inspected" (kNotInspected).
int8_t OutcomeFraud(std::string_view result);
int8_t OutcomeCritical(std::string_view result);

// Reads the decided declarations dated from .. to (inclusive) with their decisions and latest
// outcomes. A decision stored before propensities were recorded (schema 8) gets an estimate: the
// share of its lane-day's decisions that were control draws for a control one, 1 otherwise.
// DataLoss naming the declaration when a stored body does not parse.
Result<LabelledData> LoadLabelledData(Store& store, int32_t from, int32_t to);

// The training weight of each row: 1 / max(propensity, min_propensity) for random draws, 1 for
// rows selected by score (their propensity is 1), 0 for rows without an outcome; then scaled so
// the labelled rows' weights average 1 (the trees' regularisation keeps its meaning).
std::vector<float> InversePropensityWeights(const LabelledData& data, double min_propensity);

// A statistic with its two-sided confidence interval.
struct Interval {
  double value = 0, low = 0, high = 0;
};

// The Wilson score interval of a proportion `successes` / `n` (0.90, 0.95 or 0.99 confidence);
// all zero when n is 0.
Interval Wilson(double successes, double n, double confidence = 0.95);

// How a model ranks the labelled rows of one set (the control sample, or all inspected rows).
struct RankingMetrics {
  int64_t rows = 0, frauds = 0;
  Interval auc;                  // bootstrap percentile interval
  Interval precision_at_budget;  // frauds among the top `budget` share by score; bootstrap
  Interval hit_rate;             // frauds / rows, whatever the model says; Wilson interval
  std::string ToJson() const;
};

struct EvaluationOptions {
  double budget = 0.05;  // share of the rows inspected by score: the red budget
  int bootstrap = 1000;
  double confidence = 0.95;
  uint64_t seed = 1;
};

// Metrics of `scores` (one per row of data) on the rows listed (rows without an outcome skipped).
RankingMetrics EvaluateRows(const std::vector<float>& scores, const LabelledData& data,
                            const std::vector<size_t>& rows, const EvaluationOptions& options);

struct RetrainOptions {
  RiskModelOptions model;  // the same trainer and features as `model train` (FeatureSpec::Full)
  bool inverse_propensity = true;  // false: every labelled row weighs 1 (the biased baseline)
  double min_propensity = 0.01;    // clipping: a weight is at most 100
  EvaluationOptions evaluation;
};

// The evaluation of one model on the period after the cut-off.
struct PeriodEvaluation {
  RankingMetrics control;    // the random control sample: unbiased
  RankingMetrics inspected;  // every inspected row: biased towards what the live model flagged
};

struct RetrainReport {
  int32_t cutoff = 0;
  int64_t history_rows = 0;    // declarations up to the cut-off (all feed the key statistics)
  int64_t train_labelled = 0;  // of those, with an outcome (the training examples)
  int64_t train_control = 0;   // of those, control draws
  int64_t train_explored = 0;  // of those, exploration draws
  double max_weight = 0;       // the largest training weight after scaling
  int64_t estimated_propensities = 0;
  bool inverse_propensity = true;
  double min_propensity = 0;
  int64_t eval_rows = 0;  // declarations after the cut-off
  PeriodEvaluation candidate;
  std::optional<PeriodEvaluation> live;  // the live model on the same rows, when there is one
  std::optional<int64_t> live_version;
  std::string ToJson() const;  // the retrain.json of `model retrain`
};

// Trains a candidate on the rows dated up to `cutoff` (features from all of them, examples the
// labelled ones, weighted by InversePropensityWeights unless turned off) and evaluates it, and
// `live` when given, on the rows after the cut-off. InvalidArgument when no row up to the cut-off
// has an outcome.
Result<RiskModel> Retrain(const LabelledData& data, int32_t cutoff, const RiskModel* live,
                          std::optional<int64_t> live_version, const RetrainOptions& options,
                          RetrainReport* report);

// ---- The promotion gate ----------------------------------------------------------------------

struct GateOptions {
  // The candidate may be at most this much worse in AUC on the control sample...
  double auc_margin = 0.02;
  // ...at this one-sided confidence (paired bootstrap of the AUC difference).
  double confidence = 0.95;
  int bootstrap = 2000;
  uint64_t seed = 1;
  double budget = 0.05;    // precision at this share is reported beside it
  int64_t min_rows = 30;   // control rows with outcomes needed to test at all
  int64_t min_frauds = 3;  // and frauds among them (and as many non-frauds)
};

enum class GateVerdict { kPromote, kReject, kUndecided };

struct GateResult {
  GateVerdict verdict = GateVerdict::kUndecided;
  int64_t rows = 0, frauds = 0;  // control rows with outcomes after the cut-off
  double candidate_auc = 0, live_auc = 0;
  Interval auc_difference;  // candidate - live; low is the one-sided lower bound
  Interval precision_difference;
  std::string reason;  // the numbers, in words: what RejectModel or PromoteModel records
  std::string ToJson() const;
};

// Compares candidate and live scores on the control rows listed: promote when the one-sided lower
// confidence bound of AUC(candidate) - AUC(live) is at least -auc_margin, reject otherwise;
// undecided when there are too few control rows with outcomes (or no fraud, or no non-fraud) to
// test. Without a live model (`live_scores` empty) the candidate is compared with chance (AUC 0.5).
// Deterministic for a seed.
GateResult GateCompare(const std::vector<float>& candidate_scores,
                       const std::vector<float>& live_scores, const LabelledData& data,
                       const std::vector<size_t>& control_rows, const GateOptions& options);

// The gate over the registry: loads the candidate `version` and the live version, scores the
// decided declarations dated after the candidate's training cut-off (up to `until`, when given),
// and promotes (PromoteModel) or rejects (RejectModel) it by GateCompare, as `actor`, with the
// numbers as the reason. Undecided leaves it a candidate and says why in the result.
// FailedPrecondition for a version that is not a candidate or has no training cut-off.
Result<GateResult> RunPromotionGate(Store& store, int64_t version, const std::string& actor,
                                    const GateOptions& options,
                                    std::optional<int32_t> until = std::nullopt);

}  // namespace clearsight
