#include "clearsight/risk_model.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "common/forest.h"
#include "common/parallel.h"
#include "common/xgboost_adapter.h"
#include "model/features.h"

namespace clearsight {

struct RiskModel::Impl {
  model::FeatureBuilder features;
  model::Forest forest;
  model::XgbBooster booster;
  std::string booster_json;
  nlohmann::json meta;
  bool baseline = false;
  std::vector<uint64_t> templates;  // sorted goods-template hashes of the training rows
  // The plain baseline trained on the same rows (DIR/baseline): scores, with the model, the rows
  // whose goods template the training rows never had. Null when there is none.
  std::shared_ptr<const RiskModel> generalist;
};

namespace {

// FNV-1a over the template's fields, each followed by a separator byte.
uint64_t TemplateHash(const Declaration& d, std::string_view tax_type) {
  uint64_t h = 1469598103934665603ull;
  auto add = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0x1f) * 1099511628211ull;
  };
  add(std::string_view(d.hs_code).substr(0, 6));
  add(FormatDouble(d.net_mass_kg));
  add(FormatDouble(d.declared_value));
  add(std::string_view(d.origin_country));
  add(tax_type);
  add(FormatDouble(d.tax_rate));
  return h;
}

std::vector<uint64_t> TemplateHashes(const DeclarationBatch& batch, size_t begin, size_t end) {
  const int tax_type = batch.ExtraIndex("tax_type");
  std::vector<uint64_t> out;
  out.reserve(end - begin);
  for (size_t r = begin; r < end; ++r)
    out.push_back(TemplateHash(batch.rows[r], batch.Extra(batch.rows[r], tax_type)));
  return out;
}

std::vector<uint64_t> TemplateHashes(const DeclarationBatch& batch) {
  return TemplateHashes(batch, 0, batch.rows.size());
}

double Logit(double p) {
  constexpr double kEps = 1e-7;
  p = std::clamp(p, kEps, 1 - kEps);
  return std::log(p / (1 - p));
}

constexpr char kTemplatesMagic[8] = {'C', 'S', 'T', 'M', 'P', 'L', '0', '1'};

}  // namespace

float BlendUnseenTemplate(float model_probability, float baseline_probability) {
  const double z = (1 - kUnseenTemplateBaselineWeight) * Logit(model_probability) +
                   kUnseenTemplateBaselineWeight * Logit(baseline_probability);
  return static_cast<float>(1 / (1 + std::exp(-z)));
}

RiskModel::RiskModel() = default;
RiskModel::~RiskModel() = default;
RiskModel::RiskModel(RiskModel&&) noexcept = default;
RiskModel& RiskModel::operator=(RiskModel&&) noexcept = default;

Result<RiskModel> RiskModel::Train(const DeclarationBatch& train, const RiskModelOptions& options) {
  model::FeatureSpec spec =
      options.baseline ? model::FeatureSpec::Baseline() : model::FeatureSpec::Full();
  spec.description_quality = options.description_feature && !options.baseline;
  std::vector<float> x;
  CS_ASSIGN_OR_RETURN(auto fb, model::FeatureBuilder::Fit(train, spec, &x));
  std::vector<float> labels, weights;
  std::vector<float> xl;
  const int nf = fb.num_features();
  labels.reserve(train.rows.size());
  xl.reserve(x.size());
  if (!options.row_weights.empty() && options.row_weights.size() != train.rows.size())
    return Status::InvalidArgument("row_weights has " + std::to_string(options.row_weights.size()) +
                                   " weights for " + std::to_string(train.rows.size()) + " rows");
  for (float w : options.row_weights)
    if (!std::isfinite(w) || w < 0)
      return Status::InvalidArgument("row weights must be finite and >= 0, not " + FormatDouble(w));
  int32_t first_day = INT32_MAX;
  for (const auto& d : train.rows) first_day = std::min(first_day, d.date);
  for (size_t r = 0; r < train.rows.size(); ++r) {
    const Declaration& d = train.rows[r];
    const float w = options.row_weights.empty() ? 1.f : options.row_weights[r];
    if (d.fraud < 0 || d.date < first_day + options.warmup_days || w <= 0) continue;
    labels.push_back(static_cast<float>(d.fraud));
    weights.push_back(w * (d.critical == 1 ? static_cast<float>(options.critical_weight) : 1.f));
    xl.insert(xl.end(), x.begin() + r * nf, x.begin() + (r + 1) * nf);
  }
  if (labels.empty()) return Status::InvalidArgument("no training row has a fraud outcome");
  model::GbtParams p;
  p.trees = options.trees;
  p.max_depth = options.max_depth;
  p.eta = options.learning_rate;
  p.subsample = options.subsample;
  p.colsample_bytree = options.colsample_bytree;
  p.min_child_weight = options.min_child_weight;
  p.threads = options.threads;
  p.seed = options.seed;
  std::function<void(int)> progress;
  if (options.progress) progress = [&](int done) { options.progress(done, options.trees); };
  CS_ASSIGN_OR_RETURN(auto booster,
                      model::XgbBooster::Train(xl.data(), labels.size(), nf, labels.data(),
                                               weights.data(), p, progress));
  CS_ASSIGN_OR_RETURN(std::string json, booster.ToJson());
  CS_ASSIGN_OR_RETURN(auto forest, model::Forest::FromXgboostJson(json));
  RiskModel m;
  m.impl_ = std::make_unique<Impl>();
  m.impl_->features = std::move(fb);
  m.impl_->forest = std::move(forest);
  m.impl_->booster = std::move(booster);
  m.impl_->booster_json = std::move(json);
  m.impl_->baseline = options.baseline;
  int32_t first = train.rows.front().date, last = first;
  for (const auto& d : train.rows) {
    first = std::min(first, d.date);
    last = std::max(last, d.date);
  }
  m.impl_->meta = {{"format", "clearsight-risk-model"},
                   {"version", 1},
                   {"baseline", options.baseline},
                   {"trees", options.trees},
                   {"max_depth", options.max_depth},
                   {"learning_rate", options.learning_rate},
                   {"subsample", options.subsample},
                   {"colsample_bytree", options.colsample_bytree},
                   {"min_child_weight", options.min_child_weight},
                   {"seed", options.seed},
                   {"critical_weight", options.critical_weight},
                   {"warmup_days", options.warmup_days},
                   {"train_rows", labels.size()},
                   {"train_from", FormatDate(first)},
                   {"train_to", FormatDate(last)},
                   {"features", m.impl_->features.names()}};
  m.impl_->templates = TemplateHashes(train);
  std::sort(m.impl_->templates.begin(), m.impl_->templates.end());
  m.impl_->templates.erase(std::unique(m.impl_->templates.begin(), m.impl_->templates.end()),
                           m.impl_->templates.end());
  return m;
}

std::vector<bool> RiskModel::Novel(const DeclarationBatch& batch) const {
  std::vector<bool> out(batch.rows.size(), false);
  const auto& fb = impl_->features;
  std::vector<int> keys;
  for (const char* name : {"importer_id", "hs6*origin_country"}) {
    std::vector<model::FieldRef> key;
    for (auto part : Split(name, '*')) key.push_back(*model::FieldRef::Parse(part));
    if (int k = fb.KeyIndex(key); k >= 0) keys.push_back(k);
  }
  for (size_t r = 0; r < batch.rows.size(); ++r)
    for (int k : keys)
      if (fb.KeyLabelled(k, batch, r) == 0) {
        out[r] = true;
        break;
      }
  return out;
}

std::vector<bool> RiskModel::SeenTemplates(const DeclarationBatch& batch) const {
  if (impl_->templates.empty()) return {};
  std::vector<bool> seen;
  seen.reserve(batch.rows.size());
  for (uint64_t h : TemplateHashes(batch))
    seen.push_back(std::binary_search(impl_->templates.begin(), impl_->templates.end(), h));
  return seen;
}

Status RiskModel::Save(const std::string& dir) const {
  CS_RETURN_IF_ERROR(MakeDirs(dir));
  CS_RETURN_IF_ERROR(WriteFileAtomic(dir + "/model.json", impl_->booster_json));
  CS_RETURN_IF_ERROR(WriteFileAtomic(dir + "/features.json", impl_->features.ToJson()));
  // templates.bin: the magic, then the sorted template hashes, 8 bytes each, little-endian.
  std::string bin(kTemplatesMagic, sizeof kTemplatesMagic);
  for (uint64_t h : impl_->templates)
    for (int b = 0; b < 8; ++b) bin += static_cast<char>((h >> (8 * b)) & 0xff);
  CS_RETURN_IF_ERROR(WriteFileAtomic(dir + "/templates.bin", bin));
  if (impl_->generalist) CS_RETURN_IF_ERROR(impl_->generalist->Save(dir + "/baseline"));
  return WriteFileAtomic(dir + "/meta.json", impl_->meta.dump(2) + "\n");
}

Result<RiskModel> RiskModel::Load(const std::string& dir) {
  auto meta_text = ReadFile(dir + "/meta.json", 64 << 20);
  if (!meta_text.ok()) {
    return Status::NotFound(dir +
                            ": not a model directory (no meta.json); train one with "
                            "'clearsight model train'");
  }
  RiskModel m;
  m.impl_ = std::make_unique<Impl>();
  m.impl_->meta = nlohmann::json::parse(*meta_text, nullptr, false);
  if (m.impl_->meta.is_discarded() || m.impl_->meta.value("format", "") != "clearsight-risk-model")
    return Status::DataLoss(dir + "/meta.json: not a clearsight risk model");
  m.impl_->baseline = m.impl_->meta.value("baseline", false);
  CS_ASSIGN_OR_RETURN(std::string fj, ReadFile(dir + "/features.json", size_t{1} << 31));
  auto fb = model::FeatureBuilder::FromJson(fj);
  if (!fb.ok()) return fb.status().WithContext(dir);
  m.impl_->features = std::move(fb).value();
  CS_ASSIGN_OR_RETURN(m.impl_->booster_json, ReadFile(dir + "/model.json", size_t{1} << 31));
  auto forest = model::Forest::FromXgboostJson(m.impl_->booster_json);
  if (!forest.ok()) return forest.status().WithContext(dir + "/model.json");
  if (forest->num_features() != m.impl_->features.num_features())
    return Status::DataLoss(dir + ": model.json expects " + std::to_string(forest->num_features()) +
                            " features, features.json makes " +
                            std::to_string(m.impl_->features.num_features()));
  m.impl_->forest = std::move(forest).value();
  auto booster = model::XgbBooster::FromJson(m.impl_->booster_json);
  if (!booster.ok()) return booster.status().WithContext(dir + "/model.json");
  m.impl_->booster = std::move(booster).value();
  if (auto bin = ReadFile(dir + "/templates.bin", size_t{1} << 30); bin.ok()) {
    if (bin->size() < sizeof kTemplatesMagic || (bin->size() - sizeof kTemplatesMagic) % 8 != 0 ||
        bin->compare(0, sizeof kTemplatesMagic, kTemplatesMagic, sizeof kTemplatesMagic) != 0)
      return Status::DataLoss(dir + "/templates.bin: not a template list (magic or length)");
    for (size_t at = sizeof kTemplatesMagic; at < bin->size(); at += 8) {
      uint64_t h = 0;
      for (int b = 7; b >= 0; --b) h = (h << 8) | static_cast<unsigned char>((*bin)[at + b]);
      m.impl_->templates.push_back(h);
    }
    if (!std::is_sorted(m.impl_->templates.begin(), m.impl_->templates.end()))
      return Status::DataLoss(dir + "/templates.bin: hashes out of order");
  }
  if (!m.impl_->baseline && !m.impl_->templates.empty() &&
      FileExists(dir + "/baseline/meta.json")) {
    auto g = Load(dir + "/baseline");
    if (!g.ok()) return g.status();
    if (Status st = m.AttachBaseline(std::move(g).value()); !st.ok())
      return Status::DataLoss(dir + "/baseline: " + st.message() +
                              "; remove it or train both again with 'clearsight model train'");
  }
  return m;
}

Status RiskModel::AttachBaseline(RiskModel baseline) {
  if (impl_->baseline) return Status::InvalidArgument("a baseline blends in no other baseline");
  const nlohmann::json& gm = baseline.impl_->meta;
  const nlohmann::json& mm = impl_->meta;
  if (!baseline.impl_->baseline)
    return Status::InvalidArgument("not a baseline model (meta.json says baseline: false)");
  for (const char* key : {"train_from", "train_to", "train_rows"})
    if (gm.value(key, nlohmann::json()) != mm.value(key, nlohmann::json()))
      return Status::InvalidArgument("trained on other rows than the model (" + std::string(key) +
                                     " " + gm.value(key, nlohmann::json()).dump() + " vs " +
                                     mm.value(key, nlohmann::json()).dump() + ")");
  impl_->generalist = std::make_shared<const RiskModel>(std::move(baseline));
  return Status::Ok();
}

std::vector<float> RiskModel::Features(const DeclarationBatch& batch, int threads) const {
  const size_t nf = static_cast<size_t>(num_features());
  std::vector<float> x(batch.rows.size() * nf);
  ParallelFor(batch.rows.size(), threads,
              [&](size_t b, size_t e) { impl_->features.Compute(batch, b, e, x.data() + b * nf); });
  return x;
}

std::vector<float> RiskModel::PredictFeatures(const std::vector<float>& x, int threads) const {
  const size_t nf = static_cast<size_t>(num_features());
  const size_t rows = nf ? x.size() / nf : 0;
  std::vector<float> out(rows);
  ParallelFor(rows, threads, [&](size_t b, size_t e) {
    impl_->forest.PredictProbability(x.data() + b * nf, e - b, nf, out.data() + b);
  });
  return out;
}

Result<std::vector<float>> RiskModel::PredictFeaturesXgboost(const std::vector<float>& x,
                                                             int threads) const {
  const size_t nf = static_cast<size_t>(num_features());
  return impl_->booster.Predict(x.data(), nf ? x.size() / nf : 0, nf,
                                model::PredictType::kProbability, threads);
}

std::vector<float> RiskModel::Score(const DeclarationBatch& batch, int threads) const {
  const size_t nf = static_cast<size_t>(num_features());
  const RiskModel* generalist = impl_->generalist.get();
  const size_t gnf = generalist ? static_cast<size_t>(generalist->num_features()) : 0;
  std::vector<float> out(batch.rows.size());
  ParallelFor(batch.rows.size(), threads, [&](size_t b, size_t e) {
    // Blocks keep the feature rows hot in cache between computing and scoring them.
    constexpr size_t kBlock = 256;
    std::vector<float> x(kBlock * nf), gx(kBlock * gnf), gp(kBlock);
    for (size_t s = b; s < e; s += kBlock) {
      size_t n = std::min(kBlock, e - s);
      impl_->features.Compute(batch, s, s + n, x.data());
      impl_->forest.PredictProbability(x.data(), n, nf, out.data() + s);
      if (generalist == nullptr) continue;
      const std::vector<uint64_t> hashes = TemplateHashes(batch, s, s + n);
      std::vector<size_t> unseen;
      for (size_t i = 0; i < n; ++i)
        if (!std::binary_search(impl_->templates.begin(), impl_->templates.end(), hashes[i]))
          unseen.push_back(i);
      if (unseen.empty()) continue;
      generalist->impl_->features.Compute(batch, s, s + n, gx.data());
      generalist->impl_->forest.PredictProbability(gx.data(), n, gnf, gp.data());
      for (size_t i : unseen) out[s + i] = BlendUnseenTemplate(out[s + i], gp[i]);
    }
  });
  return out;
}

std::vector<Reason> RiskModel::Explain(const DeclarationBatch& batch, size_t row, int k) const {
  if (k <= 0) return {};
  const int nf = num_features();
  std::vector<float> x(static_cast<size_t>(nf)), contrib(static_cast<size_t>(nf) + 1);
  impl_->features.Compute(batch, row, row + 1, x.data());
  impl_->forest.Contributions(x.data(), contrib.data());
  std::vector<int> idx(static_cast<size_t>(nf));
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return contrib[a] > contrib[b]; });
  std::vector<Reason> out;
  for (int i : idx) {
    if (static_cast<int>(out.size()) >= k || contrib[i] <= 0.01f) break;
    if (!impl_->features.ReadsAsRisk(i, x[i])) continue;
    out.push_back(Reason{impl_->features.Describe(i, x[i], batch.rows[row], batch),
                         impl_->features.names()[i], contrib[i]});
  }
  return out;
}

int RiskModel::num_features() const { return impl_->features.num_features(); }
const std::vector<std::string>& RiskModel::feature_names() const { return impl_->features.names(); }
bool RiskModel::is_baseline() const { return impl_->baseline; }
bool RiskModel::blends_unseen_templates() const { return impl_->generalist != nullptr; }

// ---------------------------------------------------------------------------------------------

EvalReport EvaluateRanking(const std::vector<float>& scores, const DeclarationBatch& batch) {
  EvalReport rep;
  std::vector<size_t> idx;
  double total_revenue = 0;
  for (size_t i = 0; i < batch.rows.size() && i < scores.size(); ++i) {
    const auto& d = batch.rows[i];
    if (d.fraud < 0) continue;
    idx.push_back(i);
    rep.frauds += d.fraud == 1;
    rep.criticals += d.critical == 1;
    if (d.fraud == 1 && !std::isnan(d.tax_rate))
      total_revenue += d.declared_value * d.tax_rate / 100;
  }
  rep.rows = static_cast<int64_t>(idx.size());
  if (idx.empty()) return rep;
  std::stable_sort(idx.begin(), idx.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  // AUC by ranks, ties counted half.
  {
    double pos = static_cast<double>(rep.frauds), neg = static_cast<double>(rep.rows) - pos;
    double rank_sum = 0;
    size_t i = 0;
    const size_t n = idx.size();
    while (i < n) {
      size_t j = i;
      while (j < n && scores[idx[j]] == scores[idx[i]]) ++j;
      // Descending order: positions i..j-1 have ascending ranks n-j+1 .. n-i.
      double avg_rank = (static_cast<double>(n - j + 1) + static_cast<double>(n - i)) / 2;
      for (size_t k = i; k < j; ++k)
        if (batch.rows[idx[k]].fraud == 1) rank_sum += avg_rank;
      i = j;
    }
    rep.auc = pos > 0 && neg > 0 ? (rank_sum - pos * (pos + 1) / 2) / (pos * neg) : 0.5;
  }
  for (int pct : {1, 2, 5, 10}) {
    size_t top = std::max<size_t>(1, static_cast<size_t>(std::ceil(idx.size() * pct / 100.0)));
    int64_t f = 0, c = 0;
    double rev = 0;
    for (size_t k = 0; k < top; ++k) {
      const auto& d = batch.rows[idx[k]];
      f += d.fraud == 1;
      c += d.critical == 1;
      if (d.fraud == 1 && !std::isnan(d.tax_rate)) rev += d.declared_value * d.tax_rate / 100;
    }
    rep.precision_at[pct] = static_cast<double>(f) / top;
    rep.recall_at[pct] = rep.frauds ? static_cast<double>(f) / rep.frauds : 0;
    rep.critical_recall_at[pct] = rep.criticals ? static_cast<double>(c) / rep.criticals : 0;
    rep.revenue_at[pct] = total_revenue > 0 ? rev / total_revenue : 0;
  }
  return rep;
}

std::string EvalReport::ToJson() const {
  auto m = [](const std::map<int, double>& v) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [k, x] : v) o[std::to_string(k)] = std::round(x * 1e4) / 1e4;
    return o;
  };
  nlohmann::json j = {{"rows", rows},
                      {"frauds", frauds},
                      {"criticals", criticals},
                      {"auc", std::round(auc * 1e4) / 1e4},
                      {"precision_at", m(precision_at)},
                      {"recall_at", m(recall_at)},
                      {"critical_recall_at", m(critical_recall_at)},
                      {"revenue_at", m(revenue_at)}};
  return j.dump();
}

}  // namespace clearsight
