#include "common/xgboost_adapter.h"

#include <xgboost/c_api.h>

#include <cstdio>
#include <limits>

namespace clearsight::model {

namespace {
Status XgbError(const char* what) {
  return Status::Internal(std::string("xgboost ") + what + ": " + XGBGetLastError());
}

struct DMatrixGuard {
  DMatrixHandle h = nullptr;
  ~DMatrixGuard() {
    if (h) XGDMatrixFree(h);
  }
};

std::string ArrayInterface(const float* x, size_t rows, size_t cols) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "{\"data\":[%llu,true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\",\"version\":3}",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(x)), rows, cols);
  return buf;
}
}  // namespace

void XgbBooster::Deleter::operator()(void* handle) const {
  if (handle) XGBoosterFree(static_cast<BoosterHandle>(handle));
}

Result<XgbBooster> XgbBooster::Train(const float* x, size_t rows, size_t cols, const float* labels,
                                     const float* weights, const GbtParams& p,
                                     const std::function<void(int)>& progress) {
  if (rows == 0 || cols == 0) return Status::InvalidArgument("no training rows");
  DMatrixGuard dtrain;
  if (XGDMatrixCreateFromMat(x, rows, cols, std::numeric_limits<float>::quiet_NaN(), &dtrain.h) !=
      0)
    return XgbError("creating the training matrix");
  if (XGDMatrixSetFloatInfo(dtrain.h, "label", labels, rows) != 0)
    return XgbError("setting labels");
  if (weights && XGDMatrixSetFloatInfo(dtrain.h, "weight", weights, rows) != 0)
    return XgbError("setting weights");
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(&dtrain.h, 1, &booster) != 0) return XgbError("creating the booster");
  XgbBooster out;
  out.handle_.reset(booster);
  auto set = [&](const char* k, const std::string& v) {
    return XGBoosterSetParam(booster, k, v.c_str());
  };
  int rc = 0;
  rc |= set("objective", "binary:logistic");
  rc |= set("eval_metric", "auc");
  rc |= set("tree_method", "hist");
  rc |= set("max_depth", std::to_string(p.max_depth));
  rc |= set("eta", std::to_string(p.eta));
  rc |= set("subsample", std::to_string(p.subsample));
  rc |= set("colsample_bytree", std::to_string(p.colsample_bytree));
  rc |= set("min_child_weight", std::to_string(p.min_child_weight));
  rc |= set("lambda", std::to_string(p.lambda));
  rc |= set("gamma", std::to_string(p.gamma));
  rc |= set("scale_pos_weight", std::to_string(p.scale_pos_weight));
  rc |= set("nthread", std::to_string(p.threads));
  rc |= set("seed", std::to_string(p.seed));
  rc |= set("verbosity", "0");
  if (rc != 0) return XgbError("setting parameters");
  for (int i = 0; i < p.trees; ++i) {
    if (XGBoosterUpdateOneIter(booster, i, dtrain.h) != 0) return XgbError("training");
    if (progress) progress(i + 1);
  }
  return out;
}

Result<XgbBooster> XgbBooster::FromJson(std::string_view json) {
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) return XgbError("creating the booster");
  XgbBooster out;
  out.handle_.reset(booster);
  if (XGBoosterLoadModelFromBuffer(booster, json.data(), json.size()) != 0)
    return XgbError("loading the model");
  return out;
}

Result<std::string> XgbBooster::ToJson() const {
  bst_ulong len = 0;
  const char* buf = nullptr;
  if (XGBoosterSaveModelToBuffer(static_cast<BoosterHandle>(handle_.get()), "{\"format\":\"json\"}",
                                 &len, &buf) != 0)
    return XgbError("saving the model");
  return std::string(buf, len);
}

Result<std::vector<float>> XgbBooster::Predict(const float* x, size_t rows, size_t cols,
                                               PredictType type, int threads) const {
  if (rows == 0) return std::vector<float>{};
  auto* booster = static_cast<BoosterHandle>(handle_.get());
  XGBoosterSetParam(booster, "nthread", std::to_string(threads).c_str());
  std::string array = ArrayInterface(x, rows, cols);
  // "cache_id": 0 is required by 1.7's inplace predictor (DEPENDENCIES.md).
  std::string config = "{\"type\":" + std::to_string(static_cast<int>(type)) +
                       ",\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
                       "\"strict_shape\":false,\"cache_id\":0,\"missing\":NaN}";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  int rc;
  if (type == PredictType::kProbability || type == PredictType::kMargin) {
    rc = XGBoosterPredictFromDense(booster, array.c_str(), config.c_str(), nullptr, &shape, &dim,
                                   &result);
  } else {
    // Contributions need a DMatrix.
    DMatrixGuard m;
    if (XGDMatrixCreateFromMat(x, rows, cols, std::numeric_limits<float>::quiet_NaN(), &m.h) != 0)
      return XgbError("creating the prediction matrix");
    rc = XGBoosterPredictFromDMatrix(booster, m.h, config.c_str(), &shape, &dim, &result);
    if (rc == 0) {
      size_t n = 1;
      for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
      return std::vector<float>(result, result + n);
    }
  }
  if (rc != 0) return XgbError("predicting");
  size_t n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  return std::vector<float>(result, result + n);
}

}  // namespace clearsight::model
