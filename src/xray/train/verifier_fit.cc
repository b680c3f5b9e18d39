// Fitting the detector's second stage (verifier.h) on the validation split's candidate regions.
#include "common/xgboost_adapter.h"
#include "xray/train/train_internal.h"

namespace clearsight::xray {

namespace {

model::GbtParams VerifierParams(uint64_t seed, int threads) {
  model::GbtParams p;
  p.trees = 200;
  p.max_depth = 4;
  p.eta = 0.08;
  p.subsample = 0.8;
  p.colsample_bytree = 0.8;
  p.min_child_weight = 2;
  p.threads = threads;
  p.seed = seed;
  return p;
}

}  // namespace

Result<VerifierFit> FitRegionVerifier(const std::vector<float>& x, const std::vector<float>& labels,
                                      const std::vector<int>& fold, int folds, uint64_t seed,
                                      int threads) {
  const size_t rows = labels.size();
  if (x.size() != rows * kRegionFeatures || fold.size() != rows)
    return Status::InvalidArgument("region features, labels and folds differ in length");
  size_t positives = 0;
  for (float l : labels) positives += l > 0.5f;
  if (positives < 10 || rows - positives < 10)
    return Status::InvalidArgument("too few true and false regions on validation (" +
                                   std::to_string(positives) + " true of " + std::to_string(rows) +
                                   ")");
  const model::GbtParams params = VerifierParams(seed, threads);
  VerifierFit fit;
  fit.out_of_fold.assign(rows, 0.f);
  for (int k = 0; k < folds; ++k) {
    std::vector<float> tx, ty, px;
    std::vector<size_t> idx;
    for (size_t i = 0; i < rows; ++i) {
      const float* row = x.data() + i * kRegionFeatures;
      if (fold[i] == k) {
        px.insert(px.end(), row, row + kRegionFeatures);
        idx.push_back(i);
      } else {
        tx.insert(tx.end(), row, row + kRegionFeatures);
        ty.push_back(labels[i]);
      }
    }
    if (idx.empty()) continue;
    CS_ASSIGN_OR_RETURN(auto booster,
                        model::XgbBooster::Train(tx.data(), ty.size(), kRegionFeatures, ty.data(),
                                                 nullptr, params));
    CS_ASSIGN_OR_RETURN(auto p, booster.Predict(px.data(), idx.size(), kRegionFeatures,
                                                model::PredictType::kProbability, threads));
    for (size_t i = 0; i < idx.size(); ++i) fit.out_of_fold[idx[i]] = p[i];
  }
  CS_ASSIGN_OR_RETURN(auto booster, model::XgbBooster::Train(x.data(), rows, kRegionFeatures,
                                                             labels.data(), nullptr, params));
  CS_ASSIGN_OR_RETURN(fit.booster_json, booster.ToJson());
  return fit;
}

}  // namespace clearsight::xray
