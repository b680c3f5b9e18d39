// Manifest verification: boosted trees per goods group (one against the rest) on image features
// (goods classes seen, material mix, z_eff histogram, densities), fitted on honest pairs, plus a
// per-chapter model of image mass against declared net mass.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "clearsight/text.h"
#include "clearsight/xray_manifest.h"
#include "clearsight/xray_simulate.h"
#include "common/forest.h"
#include "common/xgboost_adapter.h"
#include "xray/physics/random.h"

namespace clearsight {

using json = nlohmann::json;

namespace {

constexpr char kManifestFormat[] = "clearsight-manifest/2";
constexpr double kZEdges[] = {7.5, 9.0, 12.0, 18.0, 28.0};  // z_eff histogram bins (6)

std::string ChapterOf(const std::string& hs) {
  if (hs.size() < 2 || !std::isdigit(static_cast<unsigned char>(hs[0])) ||
      !std::isdigit(static_cast<unsigned char>(hs[1])))
    return "";
  return hs.substr(0, 2);
}

std::string ChapterName(const std::string& chapter) {
  std::string c = GoodsCategoryOfHs(chapter + "0000");
  return (c.empty() ? std::string("goods") : c) + " (HS " + chapter + ")";
}

double TotalKg(const ScanAnalysis& a) {
  return a.materials.organic_kg + a.materials.inorganic_kg + a.materials.metal_kg;
}

// The classifier's features; names in FeatureNames(). goods_classes: how many goods shares.
std::vector<double> Features(const ScanAnalysis& a, const DetectionResult& d,
                             size_t goods_classes) {
  std::vector<double> f;
  for (size_t k = 0; k < goods_classes; ++k)
    f.push_back(k < d.goods_share.size() ? d.goods_share[k] : 0.0);
  const double total = TotalKg(a);
  f.push_back(std::log1p(a.materials.organic_kg));
  f.push_back(std::log1p(a.materials.inorganic_kg));
  f.push_back(std::log1p(a.materials.metal_kg));
  f.push_back(std::log1p(total));
  f.push_back(total > 0 ? a.materials.organic_kg / total : 0);
  f.push_back(total > 0 ? a.materials.inorganic_kg / total : 0);
  f.push_back(total > 0 ? a.materials.metal_kg / total : 0);
  // Mass-weighted z_eff histogram and areal density of the objects.
  double hist[std::size(kZEdges) + 1] = {};
  double mass = 0, density = 0;
  for (const auto& o : a.objects) {
    if (o.mass_kg <= 0) continue;
    size_t b = 0;
    while (b < std::size(kZEdges) && o.z_eff >= kZEdges[b]) ++b;
    hist[b] += o.mass_kg;
    mass += o.mass_kg;
    density += o.mass_kg * o.areal_density_g_cm2;
  }
  for (double h : hist) f.push_back(mass > 0 ? h / mass : 0);
  f.push_back(std::log1p(mass > 0 ? density / mass : 0));
  f.push_back(std::log1p(static_cast<double>(a.objects.size())));
  f.push_back(std::log1p(a.objects.empty() ? 0 : total / a.objects.size()));
  f.push_back(std::log1p(d.goods_area_cm2 / 100));
  f.push_back(std::log1p(d.goods_area_cm2 > 0 ? 1000 * total / d.goods_area_cm2
                                              : 0));  // g/cm^2 over the goods
  return f;
}

double MassLogRatio(const ScanAnalysis& a, const Declaration& d) {
  const double image = std::max(TotalKg(a), 0.01), declared = std::max(d.net_mass_kg, 0.01);
  return std::log(image / declared);
}

// Piecewise-linear map that sends `flag` to 0.5 (0 -> 0, flag -> 0.5, 2 flag and beyond -> 1 for
// unbounded values; 1 -> 1 for values in 0..1).
double ToScore(double v, double flag, double top) {
  if (v < flag) return 0.5 * v / flag;
  return std::min(1.0, 0.5 + 0.5 * (v - flag) / std::max(1e-9, top - flag));
}

// Per chapter mean and sd of log(image / declared mass), shrunk towards the pooled values.
void FitMass(const std::vector<double>& mass_r, const std::vector<int>& chapter, int chapters,
             std::vector<double>* mean_out, std::vector<double>* sd_out) {
  const double n = static_cast<double>(mass_r.size());
  double pooled_mean = 0, pooled_var = 0;
  for (double r : mass_r) pooled_mean += r / n;
  for (double r : mass_r) pooled_var += (r - pooled_mean) * (r - pooled_mean) / n;
  mean_out->assign(chapters, pooled_mean);
  sd_out->assign(chapters, std::sqrt(pooled_var));
  for (int c = 0; c < chapters; ++c) {
    double s = 0, ss = 0, k = 0;
    for (size_t i = 0; i < mass_r.size(); ++i)
      if (chapter[i] == c) s += mass_r[i], ss += mass_r[i] * mass_r[i], k += 1;
    const double prior = 5;  // pseudo-examples of the pooled distribution
    const double mean = (s + prior * pooled_mean) / (k + prior);
    const double var = (ss - 2 * mean * s + k * mean * mean +
                        prior * (pooled_var + (pooled_mean - mean) * (pooled_mean - mean))) /
                       (k + prior);
    (*mean_out)[c] = mean;
    (*sd_out)[c] = std::max(0.05, std::sqrt(std::max(0.0, var)));
  }
}

model::GbtParams TreeParams(const ManifestFitOptions& o) {
  model::GbtParams gp;
  gp.trees = o.trees;
  gp.max_depth = o.max_depth;
  gp.eta = o.learning_rate;
  gp.subsample = 0.8;
  gp.colsample_bytree = 0.8;
  gp.min_child_weight = 2;
  gp.threads = o.threads;
  gp.seed = o.seed;
  return gp;
}

// One booster per group (rows of `group` g against the rest) on rows x p features.
Result<std::vector<model::XgbBooster>> FitGroupTrees(const std::vector<float>& x, size_t p,
                                                     const std::vector<int>& group, int groups,
                                                     const ManifestFitOptions& o) {
  std::vector<model::XgbBooster> out;
  std::vector<float> label(group.size());
  for (int g = 0; g < groups; ++g) {
    for (size_t i = 0; i < group.size(); ++i) label[i] = group[i] == g ? 1.0f : 0.0f;
    CS_ASSIGN_OR_RETURN(auto b, model::XgbBooster::Train(x.data(), group.size(), p, label.data(),
                                                         nullptr, TreeParams(o)));
    out.push_back(std::move(b));
  }
  return out;
}

// Goods score from per-group probabilities: 1 - p(declared group) / p(best group).
double GoodsScore(const std::vector<float>& prob, int declared_group, int* best_group) {
  *best_group = static_cast<int>(std::max_element(prob.begin(), prob.end()) - prob.begin());
  if (prob[static_cast<size_t>(*best_group)] <= prob[static_cast<size_t>(declared_group)])
    *best_group = declared_group;
  return 1.0 - prob[static_cast<size_t>(declared_group)] /
                   std::max(1e-9f, prob[static_cast<size_t>(*best_group)]);
}

// Group per chapter: chapters of one goods class of the catalogue share a group; the others (and
// all chapters when `by_goods_class` is off) have their own. *names: "clothing (HS 61/62)".
std::vector<int> ChapterGroups(const std::vector<std::string>& chapters, bool by_goods_class,
                               std::vector<std::string>* names) {
  std::vector<int> groups;
  std::vector<std::string> keys,
      members;  // per group: its goods class ("": a chapter on its own), chapters
  for (const auto& ch : chapters) {
    const std::string cls = by_goods_class ? GoodsCategoryOfHs(ch + "0000") : std::string();
    auto it = cls.empty() ? keys.end() : std::find(keys.begin(), keys.end(), cls);
    if (it == keys.end()) {
      keys.push_back(cls);
      members.push_back(ch);
      groups.push_back(static_cast<int>(keys.size()) - 1);
    } else {
      const size_t g = static_cast<size_t>(it - keys.begin());
      members[g] += "/" + ch;
      groups.push_back(static_cast<int>(g));
    }
  }
  names->clear();
  for (const auto& m : members) {
    const std::string c = GoodsCategoryOfHs(m.substr(0, 2) + "0000");
    names->push_back((c.empty() ? std::string("goods") : c) + " (HS " + m + ")");
  }
  return groups;
}

std::vector<float> AsFloats(const std::vector<double>& v) {
  return std::vector<float>(v.begin(), v.end());
}

}  // namespace

struct ManifestModel::Trees {
  std::vector<model::Forest> forests;  // per group
  std::vector<std::string> json;       // XGBoost's JSON of each, as saved
  // Probability per group that the image shows that group's goods.
  std::vector<float> Predict(const std::vector<float>& x) const {
    std::vector<float> p(forests.size());
    for (size_t g = 0; g < forests.size(); ++g)
      forests[g].PredictProbability(x.data(), 1, x.size(), &p[g]);
    return p;
  }
};

std::string ManifestCheck::ToJson() const {
  json j;
  j["consistent"] = consistent;
  j["score"] = std::round(score * 1000) / 1000;
  j["reason"] = reasons.empty() ? std::string() : reasons.front();
  j["reasons"] = reasons;
  j["declared_chapter"] = declared_chapter;
  j["best_chapter"] = best_chapter;
  return j.dump();
}

std::string ManifestFitReport::ToTable() const {
  return "manifest model: " + std::to_string(examples) + " honest pairs, " +
         std::to_string(chapters) + " HS chapters in " + std::to_string(groups) +
         " goods groups; cross-validated: declared goods fit best " +
         FormatFixed(100 * cv_top1, 1) + " %, honest pairs flagged " +
         FormatFixed(100 * cv_honest_flag_rate, 1) + " % (goods threshold " +
         FormatFixed(threshold, 3) + ")\n";
}

Result<ManifestModel> ManifestModel::Fit(const std::vector<ManifestExample>& honest,
                                         const ManifestFitOptions& o, ManifestFitReport* report) {
  if (o.folds < 2 || o.trees < 1 || o.trees > 2000 || o.max_depth < 1 || o.max_depth > 8 ||
      !(o.learning_rate > 0 && o.learning_rate <= 1) || o.threads < 1 ||
      !(o.target_honest_flag_rate > 0 && o.target_honest_flag_rate < 1))
    return Status::InvalidArgument("manifest fit options out of range");
  // Chapters with enough examples.
  std::map<std::string, int> counts;
  for (const auto& ex : honest) ++counts[ChapterOf(ex.declaration.hs_code)];
  ManifestModel m;
  for (const auto& [ch, n] : counts)
    if (!ch.empty() && n >= o.min_examples) m.chapters_.push_back(ch);
  if (m.chapters_.size() < 2)
    return Status::InvalidArgument(
        "manifest fit: fewer than two HS chapters have enough honest pairs");
  m.groups_ = ChapterGroups(m.chapters_, o.group_by_goods_class, &m.group_names_);
  const int groups = static_cast<int>(m.group_names_.size());
  if (groups < 2)
    return Status::InvalidArgument(
        "manifest fit: the honest pairs show fewer than two kinds of goods");
  m.group_chapter_.assign(groups, -1);
  for (int g = 0; g < groups; ++g) {
    int best = -1;
    for (size_t c = 0; c < m.chapters_.size(); ++c)
      if (m.groups_[c] == g &&
          (best < 0 || counts[m.chapters_[c]] > counts[m.chapters_[static_cast<size_t>(best)]]))
        best = static_cast<int>(c);
    m.group_chapter_[static_cast<size_t>(g)] = best;
  }
  size_t goods = 0;
  for (const auto& ex : honest) goods = std::max(goods, ex.detection.goods_share.size());
  m.goods_classes_ = GoodsCategoryNames();
  m.goods_classes_.resize(goods);
  std::vector<float> X;  // rows x p
  std::vector<int> chapter, group;
  std::vector<double> mass_r;
  size_t p = 0;
  for (const auto& ex : honest) {
    auto it = std::find(m.chapters_.begin(), m.chapters_.end(), ChapterOf(ex.declaration.hs_code));
    if (it == m.chapters_.end()) continue;
    const auto f = Features(ex.analysis, ex.detection, goods);
    p = f.size();
    X.insert(X.end(), f.begin(), f.end());
    chapter.push_back(static_cast<int>(it - m.chapters_.begin()));
    group.push_back(m.groups_[static_cast<size_t>(chapter.back())]);
    mass_r.push_back(MassLogRatio(ex.analysis, ex.declaration));
  }
  const size_t n = chapter.size();
  const int chapters = static_cast<int>(m.chapters_.size());
  // Cross-validation: goods scores and mass z of held-out honest pairs give the threshold.
  std::vector<int> fold(n);
  xray::Rng rng(xray::MixSeed(o.seed, 41));
  for (size_t i = 0; i < n; ++i) fold[i] = static_cast<int>(i % o.folds);
  for (size_t i = n; i > 1; --i)
    std::swap(fold[i - 1], fold[static_cast<size_t>(rng.Uniform() * i)]);
  std::vector<double> cv_goods(n), cv_z(n);
  int64_t top1 = 0;
  for (int k = 0; k < o.folds; ++k) {
    std::vector<float> xk, xt;
    std::vector<int> ck, gk;
    std::vector<double> rk;
    std::vector<size_t> test;
    for (size_t i = 0; i < n; ++i) {
      auto row = X.begin() + static_cast<std::ptrdiff_t>(i * p);
      if (fold[i] == k) {
        xt.insert(xt.end(), row, row + static_cast<std::ptrdiff_t>(p));
        test.push_back(i);
      } else {
        xk.insert(xk.end(), row, row + static_cast<std::ptrdiff_t>(p));
        ck.push_back(chapter[i]), gk.push_back(group[i]), rk.push_back(mass_r[i]);
      }
    }
    if (test.empty()) continue;
    std::vector<double> mass_mean, mass_sd;
    FitMass(rk, ck, chapters, &mass_mean, &mass_sd);
    CS_ASSIGN_OR_RETURN(auto boosters, FitGroupTrees(xk, p, gk, groups, o));
    std::vector<std::vector<float>> prob;  // per group, per test row
    for (const auto& b : boosters) {
      CS_ASSIGN_OR_RETURN(auto pr, b.Predict(xt.data(), test.size(), p,
                                             model::PredictType::kProbability, o.threads));
      prob.push_back(std::move(pr));
    }
    for (size_t t = 0; t < test.size(); ++t) {
      const size_t i = test[t];
      std::vector<float> pi(static_cast<size_t>(groups));
      for (int g = 0; g < groups; ++g) pi[static_cast<size_t>(g)] = prob[static_cast<size_t>(g)][t];
      int best;
      cv_goods[i] = GoodsScore(pi, group[i], &best);
      top1 += best == group[i];
      cv_z[i] = std::abs(mass_r[i] - mass_mean[chapter[i]]) / mass_sd[chapter[i]];
    }
  }
  // The mass check alone may flag up to a third of the budget; the goods threshold takes the rest.
  std::vector<double> zs = cv_z;
  std::sort(zs.begin(), zs.end(), std::greater<>());
  const size_t mass_budget =
      static_cast<size_t>(std::floor(o.target_honest_flag_rate / 3 * zs.size()));
  m.mass_z_flag_ =
      std::max(3.0, mass_budget < zs.size() ? std::nextafter(zs[mass_budget], 1e9) : 3.0);
  std::vector<double> remaining;
  for (size_t i = 0; i < n; ++i)
    if (cv_z[i] < m.mass_z_flag_) remaining.push_back(cv_goods[i]);
  std::sort(remaining.begin(), remaining.end(), std::greater<>());
  int64_t mass_flags = static_cast<int64_t>(n - remaining.size());
  const int64_t allowed =
      static_cast<int64_t>(std::floor(o.target_honest_flag_rate * n)) - mass_flags;
  m.threshold_ = allowed >= 0 && static_cast<size_t>(allowed) < remaining.size()
                     ? std::min(0.999, std::nextafter(remaining[allowed], 2.0))
                     : 0.999;
  m.threshold_ = std::max(m.threshold_, 0.5);
  int64_t flagged = 0;
  for (size_t i = 0; i < n; ++i)
    flagged += cv_goods[i] >= m.threshold_ || cv_z[i] >= m.mass_z_flag_;
  // The final model on every pair.
  FitMass(mass_r, chapter, chapters, &m.mass_log_ratio_mean_, &m.mass_log_ratio_sd_);
  CS_ASSIGN_OR_RETURN(auto boosters, FitGroupTrees(X, p, group, groups, o));
  auto trees = std::make_shared<Trees>();
  for (const auto& b : boosters) {
    CS_ASSIGN_OR_RETURN(std::string full, b.ToJson());
    CS_ASSIGN_OR_RETURN(std::string js, model::Forest::SlimJson(full, "manifest trees"));
    CS_ASSIGN_OR_RETURN(auto forest, model::Forest::FromXgboostJson(js));
    trees->forests.push_back(std::move(forest));
    trees->json.push_back(std::move(js));
  }
  m.trees_ = std::move(trees);
  if (report) {
    report->examples = static_cast<int64_t>(n);
    report->chapters = chapters;
    report->groups = groups;
    report->threshold = m.threshold_;
    report->cv_honest_flag_rate = n == 0 ? 0 : static_cast<double>(flagged) / n;
    report->cv_top1 = n == 0 ? 0 : static_cast<double>(top1) / n;
  }
  return m;
}

Result<std::unique_ptr<const ManifestModel>> ManifestModel::FromDetector(const Detector& detector) {
  const auto m = nlohmann::json::parse(detector.metadata_json(), nullptr, false);
  if (m.is_discarded() || !m.is_object())
    return Status::DataLoss("the detector's metadata is not a JSON object");
  if (!m.contains("manifest") || !m["manifest"].is_object())
    return std::unique_ptr<const ManifestModel>();
  auto model = FromJson(m["manifest"].dump());
  if (!model.ok()) return model.status().WithContext("manifest model");
  return std::unique_ptr<const ManifestModel>(std::make_unique<ManifestModel>(std::move(*model)));
}

std::string ManifestModel::ToJson() const {
  json j;
  j["format"] = kManifestFormat;
  j["chapters"] = chapters_;
  j["goods_classes"] = goods_classes_;
  j["chapter_groups"] = groups_;
  j["group_names"] = group_names_;
  j["group_chapter"] = group_chapter_;
  json trees = json::array();
  if (trees_)
    for (const auto& t : trees_->json) trees.push_back(json::parse(t));
  j["group_trees"] = std::move(trees);
  j["mass_log_ratio_mean"] = mass_log_ratio_mean_;
  j["mass_log_ratio_sd"] = mass_log_ratio_sd_;
  j["threshold"] = threshold_;
  j["mass_z_flag"] = mass_z_flag_;
  return j.dump();
}

Result<ManifestModel> ManifestModel::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_object() && j.value("format", "") == "clearsight-manifest/1")
    return Status::DataLoss(
        "manifest model of format clearsight-manifest/1 (the linear classifier of earlier "
        "versions) is no longer read: "
        "refit it with `clearsight xray train --init MODEL --epochs 0 --verifier ...` on the same "
        "validation scans");
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != kManifestFormat)
    return Status::DataLoss("not a " + std::string(kManifestFormat) + " model");
  ManifestModel m;
  auto trees = std::make_shared<Trees>();
  try {
    m.chapters_ = j.at("chapters").get<std::vector<std::string>>();
    m.goods_classes_ = j.at("goods_classes").get<std::vector<std::string>>();
    m.groups_ = j.at("chapter_groups").get<std::vector<int>>();
    m.group_names_ = j.at("group_names").get<std::vector<std::string>>();
    m.group_chapter_ = j.at("group_chapter").get<std::vector<int>>();
    m.mass_log_ratio_mean_ = j.at("mass_log_ratio_mean").get<std::vector<double>>();
    m.mass_log_ratio_sd_ = j.at("mass_log_ratio_sd").get<std::vector<double>>();
    m.threshold_ = j.at("threshold").get<double>();
    m.mass_z_flag_ = j.at("mass_z_flag").get<double>();
    for (const auto& t : j.at("group_trees")) {
      trees->json.push_back(t.dump());
      auto forest = model::Forest::FromXgboostJson(trees->json.back());
      if (!forest.ok()) return forest.status().WithContext("manifest model: group trees");
      trees->forests.push_back(std::move(*forest));
    }
  } catch (const std::exception& e) {
    return Status::DataLoss(std::string("manifest model: ") + e.what());
  }
  const size_t c = m.chapters_.size(), g = m.group_names_.size();
  const size_t p = Features(ScanAnalysis{}, DetectionResult{}, m.goods_classes_.size()).size();
  bool ok = c >= 2 && g >= 2 && m.groups_.size() == c && m.group_chapter_.size() == g &&
            trees->forests.size() == g && m.mass_log_ratio_mean_.size() == c &&
            m.mass_log_ratio_sd_.size() == c;
  for (int v : m.groups_) ok = ok && v >= 0 && static_cast<size_t>(v) < g;
  for (size_t k = 0; ok && k < g; ++k) {
    const int ch = m.group_chapter_[k];
    ok = ch >= 0 && static_cast<size_t>(ch) < c &&
         m.groups_[static_cast<size_t>(ch)] == static_cast<int>(k);
  }
  for (const auto& f : trees->forests) ok = ok && static_cast<size_t>(f.num_features()) <= p;
  for (double s : m.mass_log_ratio_sd_) ok = ok && s > 0;
  if (!ok) return Status::DataLoss("manifest model: sizes do not match");
  m.trees_ = std::move(trees);
  return m;
}

ManifestCheck ManifestModel::Check(const ScanAnalysis& a, const DetectionResult& d,
                                   const Declaration& decl) const {
  ManifestCheck r;
  r.declared_chapter = ChapterOf(decl.hs_code);
  auto it = std::find(chapters_.begin(), chapters_.end(), r.declared_chapter);
  if (it == chapters_.end()) {
    r.reasons.push_back("no reference images for HS chapter " +
                        (r.declared_chapter.empty() ? "?" : r.declared_chapter) +
                        ": contents not checked");
    return r;
  }
  const int declared = static_cast<int>(it - chapters_.begin());
  const int declared_group = groups_[static_cast<size_t>(declared)];
  int best_group = declared_group;
  const double goods = GoodsScore(trees_->Predict(AsFloats(Features(a, d, goods_classes_.size()))),
                                  declared_group, &best_group);
  const int best =
      best_group == declared_group ? declared : group_chapter_[static_cast<size_t>(best_group)];
  r.best_chapter = chapters_[static_cast<size_t>(best)];
  const double ratio = MassLogRatio(a, decl);
  const double z = std::abs(ratio - mass_log_ratio_mean_[declared]) / mass_log_ratio_sd_[declared];
  const double goods_score = ToScore(goods, threshold_, 1.0);
  const double mass_score = ToScore(z, mass_z_flag_, 2 * mass_z_flag_);
  r.score = std::max(goods_score, mass_score);
  r.consistent = r.score < 0.5;
  // Reasons: the strongest evidence first.
  std::vector<std::pair<double, std::string>> reasons;
  std::string seen;
  {
    std::vector<std::pair<double, std::string>> shares;
    for (size_t k = 0; k < goods_classes_.size() && k < d.goods_share.size(); ++k)
      shares.push_back({d.goods_share[k], goods_classes_[k]});
    std::sort(shares.begin(), shares.end(), std::greater<>());
    for (size_t k = 0; k < shares.size() && k < 3 && shares[k].first >= 0.05; ++k)
      seen += std::string(seen.empty() ? "" : ", ") + shares[k].second + " " +
              FormatFixed(100 * shares[k].first, 0) + " %";
  }
  if (best_group != declared_group)
    reasons.push_back({goods_score, "image fits " + group_names_[static_cast<size_t>(best_group)] +
                                        " better than the declared " +
                                        ChapterName(r.declared_chapter) +
                                        (seen.empty() ? "" : " (goods seen: " + seen + ")")});
  else
    reasons.push_back({goods_score, "image fits the declared " + ChapterName(r.declared_chapter) +
                                        (seen.empty() ? "" : " (goods seen: " + seen + ")")});
  const double image_kg = TotalKg(a);
  reasons.push_back({mass_score, "image mass " + FormatFixed(image_kg, 2) + " kg against " +
                                     FormatFixed(decl.net_mass_kg, 2) + " kg declared (" +
                                     FormatFixed(std::exp(ratio), 2) + "x; honest " +
                                     r.declared_chapter + " parcels show " +
                                     FormatFixed(std::exp(mass_log_ratio_mean_[declared]), 2) +
                                     "x)"});
  reasons.push_back({0.0, "materials: organic " + FormatFixed(a.materials.organic_kg, 2) +
                              " kg, inorganic " + FormatFixed(a.materials.inorganic_kg, 2) +
                              " kg, metal " + FormatFixed(a.materials.metal_kg, 2) + " kg"});
  std::stable_sort(reasons.begin(), reasons.end(),
                   [](auto& x, auto& y) { return x.first > y.first; });
  for (auto& [s, text] : reasons) r.reasons.push_back(std::move(text));
  return r;
}

Result<std::map<std::string, Declaration>> ReadDeclarationsByConsignment(const std::string& path,
                                                                         IngestReport* report) {
  CS_ASSIGN_OR_RETURN(DeclarationBatch batch, ReadDeclarations(path, ReadOptions{}, report));
  std::map<std::string, Declaration> out;
  for (auto& d : batch.rows)
    if (!d.consignment_id.empty()) out.emplace(d.consignment_id, std::move(d));
  return out;
}

}  // namespace clearsight
