// The learned declaration risk model: gradient-boosted trees (trained with XGBoost) over
// time-respecting features, scored by a flattened tree evaluator, explained per declaration.
//
// Load once, score many: a loaded RiskModel is immutable and may be shared by threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "clearsight/declarations.h"
#include "clearsight/status.h"

namespace clearsight {

struct RiskModelOptions {
  int trees = 300;
  int max_depth = 6;
  double learning_rate = 0.1;
  double subsample = 1.0;
  double colsample_bytree = 1.0;
  double min_child_weight = 1.0;
  int threads = 2;
  uint64_t seed = 0;
  bool baseline = false;  // the plain baseline: frequency-ranked raw codes only
  // Per row of the training batch, a factor on the row's training weight (inverse-propensity
  // weights in retraining: docs/model.md, "Retraining"); empty = 1 for every row. Must have one
  // entry per row when not empty, each finite and >= 0.
  std::vector<float> row_weights;
  // Adds the description quality feature (RateDescription): for traffic with goods descriptions,
  // such as postal items. Off by default; the KCS data has no descriptions.
  bool description_feature = false;
  // Training weight of a critical fraud (public-safety case) relative to other rows: ranks the
  // critical cases first among the likely frauds.
  double critical_weight = 100.0;
  // Rows of the first days of the history have almost no history of their own; they feed the
  // statistics but are not training examples.
  int warmup_days = 0;
  // Called with (trees done, trees in all) while training.
  std::function<void(int, int)> progress;
};

struct Reason {
  std::string text;     // "importer QLRUBN9: fraud rate 62 % over 14 inspected declarations"
  std::string feature;  // "fraud_rate:importer_id"
  double weight = 0;    // contribution to the log-odds
};

// Ranking quality on labelled declarations; `_at` maps percent inspected (1, 2, 5, 10) to a value.
struct EvalReport {
  int64_t rows = 0;
  int64_t frauds = 0;
  int64_t criticals = 0;
  double auc = 0;
  std::map<int, double> precision_at, recall_at, critical_recall_at, revenue_at;

  std::string ToJson() const;  // {"rows":..,"auc":..,"precision_at":{"1":..},...}
};

// Ranks `scores` (higher = riskier) against the outcomes in `batch` (rows with fraud < 0 are
// skipped). revenue_at is the share of the frauds' duty at stake (value x tax rate) caught.
EvalReport EvaluateRanking(const std::vector<float>& scores, const DeclarationBatch& batch);

// Rows whose goods template the main model never saw in training are scored with the plain
// baseline as well: the main model ranks them near chance (it leans on repeat consignments), the
// baseline's raw codes generalize a little better. The blend is the weighted mean of the two
// log-odds; the weight was fixed before any figure was run (docs/model.md, "Goods never seen").
inline constexpr double kUnseenTemplateBaselineWeight = 0.5;
// sigmoid((1 - w) * logit(model_probability) + w * logit(baseline_probability)), w as above.
float BlendUnseenTemplate(float model_probability, float baseline_probability);

class RiskModel {
 public:
  RiskModel();
  ~RiskModel();
  RiskModel(RiskModel&&) noexcept;
  RiskModel& operator=(RiskModel&&) noexcept;

  // Trains on `train` (rows need fraud outcomes). Features of the training rows are computed out
  // of time (a row only sees earlier days).
  static Result<RiskModel> Train(const DeclarationBatch& train, const RiskModelOptions& options);

  // Loads a model directory written by Save(): model.json (XGBoost), features.json, meta.json.
  // When DIR/baseline holds the plain baseline trained on the same rows (as `clearsight model
  // train` writes it) and the model keeps its templates, the loaded model blends it in for rows
  // with an unseen template (Score). A DIR/baseline trained on other rows is an error (DataLoss).
  static Result<RiskModel> Load(const std::string& dir);
  // Writes the model; with an attached baseline, that too into DIR/baseline.
  Status Save(const std::string& dir) const;
  // Attaches the plain baseline trained on the same rows, to blend in for unseen templates, as
  // Load does from DIR/baseline. Refused for a baseline of other rows, or on a baseline.
  Status AttachBaseline(RiskModel baseline);

  // Whether each row's goods template (HS6, net mass, declared value, origin, tax type and tax
  // rate) occurs in the training data: a repeat of goods the model has seen, as opposed to goods
  // it has to generalize to. Empty for a model saved before templates were kept.
  std::vector<bool> SeenTemplates(const DeclarationBatch& batch) const;

  // Whether each row is of a kind the model has no inspection outcome for: its importer, or its
  // HS6 x origin combination, had no row with an outcome in the training history (new traders,
  // new goods routes). What exploration draws among (OnlineSelectionOptions::exploration_share).
  // All false for a model without those keys (the baseline).
  std::vector<bool> Novel(const DeclarationBatch& batch) const;

  // Fraud probability per row of batch, using `threads` threads. Rows whose goods template is
  // unseen get BlendUnseenTemplate(model, baseline) when blends_unseen_templates(); the others
  // (and every row otherwise) the model's own probability. Explain() explains the model's part.
  std::vector<float> Score(const DeclarationBatch& batch, int threads = 1) const;

  // Feature matrix of the batch (row-major, num_features() per row), for benchmarks and tests.
  std::vector<float> Features(const DeclarationBatch& batch, int threads = 1) const;
  // Probabilities from a feature matrix with the flattened evaluator / with XGBoost's predictor.
  std::vector<float> PredictFeatures(const std::vector<float>& features, int threads = 1) const;
  Result<std::vector<float>> PredictFeaturesXgboost(const std::vector<float>& features,
                                                    int threads = 1) const;

  // The top `k` reasons that raised this row's risk, in plain words, largest first.
  std::vector<Reason> Explain(const DeclarationBatch& batch, size_t row, int k = 3) const;

  int num_features() const;
  const std::vector<std::string>& feature_names() const;
  bool is_baseline() const;
  // Whether Score blends in the baseline for unseen templates (see Load).
  bool blends_unseen_templates() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace clearsight
