// A flattened evaluator for gradient-boosted trees trained by XGBoost.
//
// Each tree is padded to a complete binary tree of the ensemble's depth and stored as arrays of
// (feature, threshold) in heap order from 1 plus one array of leaves, so evaluation is a fixed
// number of branch-free steps: node = 2*node + (x[feature] < threshold) (docs/model.md). Rows are
// evaluated in small interleaved blocks so the dependent loads of several rows overlap (the idea
// behind QuickScorer and treelite's compiled trees, without code generation). Predictions equal
// XGBoost's (same float comparisons, same missing-value directions).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "clearsight/status.h"

namespace clearsight::model {

class Forest {
 public:
  // Parses XGBoost's JSON model (binary:logistic, gbtree).
  static Result<Forest> FromXgboostJson(std::string_view json);
  // XGBoost's JSON model less the per-node arrays this evaluator never reads (gains, weights,
  // parents, categorical splits): a third of the bytes a model file carries. `what` names the
  // model in errors.
  static Result<std::string> SlimJson(std::string_view xgboost_json, const std::string& what);

  int num_features() const { return num_features_; }
  int num_trees() const { return static_cast<int>(trees_.size()); }
  int depth() const { return depth_; }
  float base_margin() const { return base_margin_; }

  // Margins (log-odds) for `rows` rows of a row-major matrix with `stride` floats per row.
  void PredictMargin(const float* x, size_t rows, size_t stride, float* out) const;
  // Probabilities: 1 / (1 + exp(-margin)).
  void PredictProbability(const float* x, size_t rows, size_t stride, float* out) const;

  // Approximate per-feature contributions to the margin for one row (Saabas: the change of the
  // cover-weighted node mean along the row's path), as XGBoost's approx_contribs. `out` gets
  // num_features() + 1 values, the bias last; they sum to the margin.
  void Contributions(const float* x, float* out) const;

 private:
  // Rows walk the trees in interleaved groups of kLanes, their features transposed so that lane k
  // of feature f sits at [f * kLanes + k]. Ten lanes keep every lane's node index in a register
  // (16 spilled five of them to the stack; 8 leave too few loads in flight).
  static constexpr size_t kLanes = 10;
  struct OrigNode {  // the original tree, for explanations and missing values
    int32_t left = -1, right = -1;
    uint32_t feature = 0;
    float threshold = 0;
    bool default_left = true;
    float value = 0;  // leaf value, or cover-weighted mean of the leaves below
  };
  struct Tree {
    std::vector<OrigNode> nodes;
  };

  template <int kDepth>
  static void WalkGroup(const float* xg, const uint32_t* offsets, const float* thresholds,
                        const float* leaves, size_t ntrees, float* sum);
  template <int kDepth>
  void PredictBlock(const float* x, size_t rows, size_t stride, float* out) const;
  float PredictOneExact(const float* x) const;  // for rows with missing values
  void Flatten();

  std::vector<Tree> trees_;
  // The padded, flattened form, trees x 2^depth node slots each (heap order from 1, slot 0
  // unused): a node's feature as its offset in a transposed group (feature * kLanes), and its
  // threshold.
  std::vector<uint32_t> flat_offsets_;
  std::vector<float> flat_thresholds_;
  std::vector<float> flat_leaves_;  // trees x 2^depth leaves
  int depth_ = 0;
  int num_features_ = 0;
  float base_margin_ = 0;
};

}  // namespace clearsight::model
