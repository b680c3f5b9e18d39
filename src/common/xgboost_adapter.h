// The only place that talks to XGBoost's C API. Training, (de)serialisation, and XGBoost's own
// predictor (the baseline the flattened Forest is checked and benchmarked against).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/status.h"

namespace clearsight::model {

struct GbtParams {
  int trees = 300;
  int max_depth = 6;
  double eta = 0.1;
  double subsample = 1.0;
  double colsample_bytree = 1.0;
  double min_child_weight = 1.0;
  double lambda = 1.0;
  double gamma = 0.0;
  double scale_pos_weight = 1.0;
  int threads = 2;
  uint64_t seed = 0;
};

enum class PredictType {
  kProbability = 0,
  kMargin = 1,
  kContributions = 2,
  kApproxContributions = 3
};

class XgbBooster {
 public:
  // Trains binary:logistic on a dense row-major float matrix (NaN = missing). `progress` is called
  // after each tree with the number of trees done.
  // `weights` (one per row) may be null.
  static Result<XgbBooster> Train(const float* x, size_t rows, size_t cols, const float* labels,
                                  const float* weights, const GbtParams& params,
                                  const std::function<void(int)>& progress = nullptr);
  // Loads a model saved by ToJson() (XGBoost's own JSON model format).
  static Result<XgbBooster> FromJson(std::string_view json);

  Result<std::string> ToJson() const;

  // XGBoost's inplace predictor (XGBoosterPredictFromDense). Output is rows values for
  // probabilities/margins, rows x (cols + 1) for contributions (bias last).
  Result<std::vector<float>> Predict(const float* x, size_t rows, size_t cols, PredictType type,
                                     int threads) const;

 private:
  struct Deleter {
    void operator()(void* handle) const;
  };
  std::unique_ptr<void, Deleter> handle_;
};

}  // namespace clearsight::model
