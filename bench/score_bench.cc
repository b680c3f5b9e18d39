// Scoring benchmark: features + trees for the validation rows replicated to >= 1M rows, 1 and 2
// threads, our flattened evaluator side by side with XGBoost's inplace predictor on the same
// model and the same feature matrix.
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.h"
#include "clearsight/risk_model.h"

using namespace clearsight;

int main(int argc, char** argv) {
  const bench::Flags flags(
      argc, argv,
      "usage: score_bench [--rows 1000000] [--model DIR] [--data " CS_DATA
      "]\n"
      "Scoring throughput (features + trees) on the validation rows replicated to --rows, on 1\n"
      "and 2 threads, beside XGBoost's inplace predictor on the same model and features.\n"
      "--model scores with a saved risk model instead of training the 300-tree one first;\n"
      "--data is the public data folder (customs/df_syn_*_eng.csv).\n",
      {"--rows", "--model", "--data"});
  const size_t target = static_cast<size_t>(flags.Int("--rows", 1'000'000, 1, 100'000'000));
  const std::string model_dir = flags.Text("--model", "");
  const std::string data = flags.Text("--data", CS_DATA);
  ReadOptions o;
  o.format = DeclarationFormat::kKcs;
  auto valid = ReadDeclarations(data + "/customs/df_syn_valid_eng.csv", o, nullptr);
  if (!valid.ok()) return std::fprintf(stderr, "error: %s\n", valid.status().message().c_str()), 1;
  Result<RiskModel> model = Status::NotFound("");
  if (!model_dir.empty()) {
    model = RiskModel::Load(model_dir);
  } else {
    auto train = ReadDeclarations(data + "/customs/df_syn_train_eng.csv", o, nullptr);
    if (!train.ok())
      return std::fprintf(stderr, "error: %s\n", train.status().message().c_str()), 1;
    RiskModelOptions mo;  // 300 trees, depth 6: the model's defaults
    mo.threads = 2;
    model = RiskModel::Train(*train, mo);
  }
  if (!model.ok()) return std::fprintf(stderr, "error: %s\n", model.status().message().c_str()), 1;
  DeclarationBatch big;
  big.extra_columns = valid->extra_columns;
  big.rows.reserve(target);
  while (big.rows.size() < target)
    for (const auto& d : valid->rows) {
      if (big.rows.size() >= target) break;
      big.rows.push_back(d);
    }
  const double n = static_cast<double>(big.rows.size());
  std::printf("scoring benchmark: %zu rows (validation rows replicated), %d features, 300 trees\n",
              big.rows.size(), model->num_features());
  std::printf("machine: %s\n\n", bench::Machine().c_str());
  std::printf("%-48s %8s %14s\n", "path", "threads", "rows/s");
  struct Row {
    std::string name;
    int threads;
    double rate;
  };
  std::vector<Row> rows;
  for (int t : {1, 2}) {
    std::vector<float> s;
    double full = bench::BestOf(3, [&] { s = model->Score(big, t); });
    std::vector<float> x;
    double feat = bench::BestOf(3, [&] { x = model->Features(big, t); });
    double trees = bench::BestOf(3, [&] { s = model->PredictFeatures(x, t); });
    double xgb = bench::BestOf(3, [&] {
      auto r = model->PredictFeaturesXgboost(x, t);
      if (!r.ok()) std::abort();
    });
    rows.push_back({"clearsight: features + flattened trees", t, n / full});
    rows.push_back({"clearsight: features only", t, n / feat});
    rows.push_back({"clearsight: flattened trees only", t, n / trees});
    rows.push_back({"xgboost inplace predict (trees only)", t, n / xgb});
    rows.push_back({"features + xgboost inplace predict", t, n / (feat + xgb)});
  }
  {
    // Reasons in words (approximate contributions through our evaluator), one thread, as `score`
    // computes them for the flagged rows only.
    const size_t n_explain = std::min<size_t>(20000, big.rows.size());
    size_t words = 0;
    double t = bench::BestOf(2, [&] {
      for (size_t i = 0; i < n_explain; ++i) words += model->Explain(big, i, 3).size();
    });
    rows.push_back({"explain: top-3 reasons in words (per row)", 1, n_explain / t});
    if (words == 0) std::printf("(no reasons produced)\n");
  }
  for (const auto& r : rows) std::printf("%-48s %8d %14.0f\n", r.name.c_str(), r.threads, r.rate);
  auto find = [&](const std::string& name, int t) {
    for (const auto& r : rows)
      if (r.name == name && r.threads == t) return r.rate;
    return 0.0;
  };
  double ours2 = find("clearsight: features + flattened trees", 2);
  double xgb2 = find("features + xgboost inplace predict", 2);
  double trees_ratio =
      find("clearsight: flattened trees only", 2) / find("xgboost inplace predict (trees only)", 2);
  std::printf(
      "\n2 threads: %.0f declarations/s end to end (target >= 1,000,000: %s); %.2fx XGBoost end to "
      "end, "
      "%.2fx on trees alone (target >= 2x)\n\n",
      ours2, ours2 >= 1e6 ? "met" : "NOT met", ours2 / xgb2, trees_ratio);
  std::printf(
      "{\"bench\":\"score\",\"rows\":%zu,\"features\":%d,\"rows_per_s_1t\":%.0f,\"rows_per_s_2t\":%"
      ".0f,"
      "\"xgboost_rows_per_s_2t\":%.0f,\"speedup_end_to_end_2t\":%.2f,\"speedup_trees_2t\":%.2f,"
      "\"features_rows_per_s_1t\":%.0f,\"features_rows_per_s_2t\":%.0f,\"trees_rows_per_s_1t\":%."
      "0f,"
      "\"trees_rows_per_s_2t\":%.0f,\"explain_rows_per_s_1t\":%.0f}\n",
      big.rows.size(), model->num_features(), find("clearsight: features + flattened trees", 1),
      ours2, xgb2, ours2 / xgb2, trees_ratio, find("clearsight: features only", 1),
      find("clearsight: features only", 2), find("clearsight: flattened trees only", 1),
      find("clearsight: flattened trees only", 2),
      find("explain: top-3 reasons in words (per row)", 1));
  return 0;
}
