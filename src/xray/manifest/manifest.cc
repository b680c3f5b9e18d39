// Manifest verification: a ridge-regularised softmax classifier over HS chapters on image
// features (goods classes seen, material mix, z_eff histogram, densities), fitted on honest pairs,
// plus a per-chapter model of image mass against declared net mass.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "clearsight/xray_manifest.h"
#include "clearsight/xray_simulate.h"
#include "common/text.h"
#include "xray/physics/random.h"

namespace clearsight {

using json = nlohmann::json;

namespace {

constexpr char kManifestFormat[] = "clearsight-manifest/1";
constexpr double kZEdges[] = {7.5, 9.0, 12.0, 18.0, 28.0};  // z_eff histogram bins (6)

std::string ChapterOf(const std::string& hs) {
  if (hs.size() < 2 || !std::isdigit(static_cast<unsigned char>(hs[0])) || !std::isdigit(static_cast<unsigned char>(hs[1])))
    return "";
  return hs.substr(0, 2);
}

std::string ChapterName(const std::string& chapter) {
  std::string c = GoodsCategoryOfHs(chapter + "0000");
  return (c.empty() ? std::string("goods") : c) + " (HS " + chapter + ")";
}

double TotalKg(const ScanAnalysis& a) { return a.materials.organic_kg + a.materials.inorganic_kg + a.materials.metal_kg; }

// The classifier's features; names in FeatureNames(). goods_classes: how many goods shares.
std::vector<double> Features(const ScanAnalysis& a, const DetectionResult& d, size_t goods_classes) {
  std::vector<double> f;
  for (size_t k = 0; k < goods_classes; ++k) f.push_back(k < d.goods_share.size() ? d.goods_share[k] : 0.0);
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
  f.push_back(std::log1p(d.goods_area_cm2 > 0 ? 1000 * total / d.goods_area_cm2 : 0));  // g/cm^2 over the goods
  return f;
}

double MassLogRatio(const ScanAnalysis& a, const Declaration& d) {
  const double image = std::max(TotalKg(a), 0.01), declared = std::max(d.net_mass_kg, 0.01);
  return std::log(image / declared);
}

// Softmax probabilities of the classes for standardised features x (bias first in each row).
std::vector<double> Softmax(const std::vector<std::vector<double>>& w, const std::vector<double>& x) {
  std::vector<double> z(w.size());
  for (size_t c = 0; c < w.size(); ++c) {
    double s = w[c][0];
    for (size_t j = 0; j < x.size(); ++j) s += w[c][j + 1] * x[j];
    z[c] = s;
  }
  const double m = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (auto& v : z) sum += (v = std::exp(v - m));
  for (auto& v : z) v /= sum;
  return z;
}

// Piecewise-linear map that sends `flag` to 0.5 (0 -> 0, flag -> 0.5, 2 flag and beyond -> 1 for
// unbounded values; 1 -> 1 for values in 0..1).
double ToScore(double v, double flag, double top) {
  if (v < flag) return 0.5 * v / flag;
  return std::min(1.0, 0.5 + 0.5 * (v - flag) / std::max(1e-9, top - flag));
}

struct Fitted {
  std::vector<double> mean, scale;
  std::vector<std::vector<double>> w;
  std::vector<double> mass_mean, mass_sd;
};

// Fits the classifier (full-batch gradient descent with momentum) and the mass statistics.
Fitted FitCore(const std::vector<std::vector<double>>& X, const std::vector<int>& y, const std::vector<double>& mass_r,
               int classes, const ManifestFitOptions& o) {
  Fitted f;
  const size_t n = X.size(), p = X[0].size();
  f.mean.assign(p, 0.0);
  f.scale.assign(p, 0.0);
  for (const auto& x : X)
    for (size_t j = 0; j < p; ++j) f.mean[j] += x[j] / n;
  for (const auto& x : X)
    for (size_t j = 0; j < p; ++j) f.scale[j] += (x[j] - f.mean[j]) * (x[j] - f.mean[j]) / n;
  for (auto& s : f.scale) s = std::sqrt(s) > 1e-6 ? std::sqrt(s) : 1.0;
  std::vector<std::vector<double>> Z(n, std::vector<double>(p));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < p; ++j) Z[i][j] = (X[i][j] - f.mean[j]) / f.scale[j];
  f.w.assign(classes, std::vector<double>(p + 1, 0.0));
  auto vel = f.w;
  const double lr = 0.5, mom = 0.9;
  for (int it = 0; it < o.iterations; ++it) {
    std::vector<std::vector<double>> g(classes, std::vector<double>(p + 1, 0.0));
    for (size_t i = 0; i < n; ++i) {
      auto pr = Softmax(f.w, Z[i]);
      for (int c = 0; c < classes; ++c) {
        const double e = (pr[c] - (y[i] == c ? 1.0 : 0.0)) / n;
        g[c][0] += e;
        for (size_t j = 0; j < p; ++j) g[c][j + 1] += e * Z[i][j];
      }
    }
    for (int c = 0; c < classes; ++c)
      for (size_t j = 0; j <= p; ++j) {
        if (j > 0) g[c][j] += o.l2 * f.w[c][j];
        vel[c][j] = mom * vel[c][j] - lr * g[c][j];
        f.w[c][j] += vel[c][j];
      }
  }
  // Mass: per chapter mean and sd of log(image / declared), shrunk towards the pooled values.
  double pooled_mean = 0, pooled_var = 0;
  for (double r : mass_r) pooled_mean += r / n;
  for (double r : mass_r) pooled_var += (r - pooled_mean) * (r - pooled_mean) / n;
  f.mass_mean.assign(classes, pooled_mean);
  f.mass_sd.assign(classes, std::sqrt(pooled_var));
  for (int c = 0; c < classes; ++c) {
    double s = 0, ss = 0, k = 0;
    for (size_t i = 0; i < n; ++i)
      if (y[i] == c) s += mass_r[i], ss += mass_r[i] * mass_r[i], k += 1;
    const double prior = 5;  // pseudo-examples of the pooled distribution
    const double mean = (s + prior * pooled_mean) / (k + prior);
    const double var = (ss - 2 * mean * s + k * mean * mean + prior * (pooled_var + (pooled_mean - mean) * (pooled_mean - mean))) /
                       (k + prior);
    f.mass_mean[c] = mean;
    f.mass_sd[c] = std::max(0.05, std::sqrt(std::max(0.0, var)));
  }
  return f;
}

// Goods score of one pair: 1 - p(declared) / max p.
double GoodsScore(const Fitted& f, const std::vector<double>& x, int declared, int* best) {
  std::vector<double> z(x.size());
  for (size_t j = 0; j < x.size(); ++j) z[j] = (x[j] - f.mean[j]) / f.scale[j];
  auto pr = Softmax(f.w, z);
  *best = static_cast<int>(std::max_element(pr.begin(), pr.end()) - pr.begin());
  return 1.0 - pr[declared] / pr[*best];
}

}  // namespace

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
  return "manifest model: " + std::to_string(examples) + " honest pairs, " + std::to_string(chapters) +
         " HS chapters; cross-validated: declared chapter fits best " + FormatFixed(100 * cv_top1, 1) +
         " %, honest pairs flagged " + FormatFixed(100 * cv_honest_flag_rate, 1) + " % (goods threshold " +
         FormatFixed(threshold, 3) + ")\n";
}

Result<ManifestModel> ManifestModel::Fit(const std::vector<ManifestExample>& honest, const ManifestFitOptions& o,
                                         ManifestFitReport* report) {
  if (o.folds < 2 || o.iterations < 1 || !(o.target_honest_flag_rate > 0 && o.target_honest_flag_rate < 1))
    return Status::InvalidArgument("manifest fit options out of range");
  // Chapters with enough examples.
  std::map<std::string, int> counts;
  for (const auto& ex : honest) ++counts[ChapterOf(ex.declaration.hs_code)];
  ManifestModel m;
  for (const auto& [ch, n] : counts)
    if (!ch.empty() && n >= o.min_examples) m.chapters_.push_back(ch);
  if (m.chapters_.size() < 2) return Status::InvalidArgument("manifest fit: fewer than two HS chapters have enough honest pairs");
  size_t goods = 0;
  for (const auto& ex : honest) goods = std::max(goods, ex.detection.goods_share.size());
  m.goods_classes_ = GoodsCategoryNames();
  m.goods_classes_.resize(goods);
  std::vector<std::vector<double>> X;
  std::vector<int> y;
  std::vector<double> mass_r;
  for (const auto& ex : honest) {
    auto it = std::find(m.chapters_.begin(), m.chapters_.end(), ChapterOf(ex.declaration.hs_code));
    if (it == m.chapters_.end()) continue;
    X.push_back(Features(ex.analysis, ex.detection, goods));
    y.push_back(static_cast<int>(it - m.chapters_.begin()));
    mass_r.push_back(MassLogRatio(ex.analysis, ex.declaration));
  }
  const int classes = static_cast<int>(m.chapters_.size());
  // Cross-validation: goods scores and mass z of held-out honest pairs give the threshold.
  std::vector<int> fold(X.size());
  xray::Rng rng(xray::MixSeed(o.seed, 41));
  for (size_t i = 0; i < fold.size(); ++i) fold[i] = static_cast<int>(i % o.folds);
  for (size_t i = fold.size(); i > 1; --i) std::swap(fold[i - 1], fold[static_cast<size_t>(rng.Uniform() * i)]);
  std::vector<double> cv_goods(X.size()), cv_z(X.size());
  int64_t top1 = 0;
  for (int k = 0; k < o.folds; ++k) {
    std::vector<std::vector<double>> Xk;
    std::vector<int> yk;
    std::vector<double> rk;
    for (size_t i = 0; i < X.size(); ++i)
      if (fold[i] != k) Xk.push_back(X[i]), yk.push_back(y[i]), rk.push_back(mass_r[i]);
    Fitted f = FitCore(Xk, yk, rk, classes, o);
    for (size_t i = 0; i < X.size(); ++i) {
      if (fold[i] != k) continue;
      int best;
      cv_goods[i] = GoodsScore(f, X[i], y[i], &best);
      top1 += best == y[i];
      cv_z[i] = std::abs(mass_r[i] - f.mass_mean[y[i]]) / f.mass_sd[y[i]];
    }
  }
  // The mass check alone may flag up to a third of the budget; the goods threshold takes the rest.
  std::vector<double> zs = cv_z;
  std::sort(zs.begin(), zs.end(), std::greater<>());
  const size_t mass_budget = static_cast<size_t>(std::floor(o.target_honest_flag_rate / 3 * zs.size()));
  m.mass_z_flag_ = std::max(3.0, mass_budget < zs.size() ? std::nextafter(zs[mass_budget], 1e9) : 3.0);
  std::vector<double> remaining;
  for (size_t i = 0; i < X.size(); ++i)
    if (cv_z[i] < m.mass_z_flag_) remaining.push_back(cv_goods[i]);
  std::sort(remaining.begin(), remaining.end(), std::greater<>());
  int64_t mass_flags = static_cast<int64_t>(X.size() - remaining.size());
  const int64_t allowed = static_cast<int64_t>(std::floor(o.target_honest_flag_rate * X.size())) - mass_flags;
  m.threshold_ = allowed >= 0 && static_cast<size_t>(allowed) < remaining.size()
                     ? std::min(0.999, std::nextafter(remaining[allowed], 2.0))
                     : 0.999;
  m.threshold_ = std::max(m.threshold_, 0.5);
  int64_t flagged = 0;
  for (size_t i = 0; i < X.size(); ++i) flagged += cv_goods[i] >= m.threshold_ || cv_z[i] >= m.mass_z_flag_;
  Fitted f = FitCore(X, y, mass_r, classes, o);
  m.mean_ = f.mean;
  m.scale_ = f.scale;
  m.weights_ = f.w;
  m.mass_log_ratio_mean_ = f.mass_mean;
  m.mass_log_ratio_sd_ = f.mass_sd;
  if (report) {
    report->examples = static_cast<int64_t>(X.size());
    report->chapters = classes;
    report->threshold = m.threshold_;
    report->cv_honest_flag_rate = X.empty() ? 0 : static_cast<double>(flagged) / X.size();
    report->cv_top1 = X.empty() ? 0 : static_cast<double>(top1) / X.size();
  }
  return m;
}

std::string ManifestModel::ToJson() const {
  json j;
  j["format"] = kManifestFormat;
  j["chapters"] = chapters_;
  j["goods_classes"] = goods_classes_;
  j["mean"] = mean_;
  j["scale"] = scale_;
  j["weights"] = weights_;
  j["mass_log_ratio_mean"] = mass_log_ratio_mean_;
  j["mass_log_ratio_sd"] = mass_log_ratio_sd_;
  j["threshold"] = threshold_;
  j["mass_z_flag"] = mass_z_flag_;
  return j.dump();
}

Result<ManifestModel> ManifestModel::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != kManifestFormat)
    return Status::DataLoss("not a " + std::string(kManifestFormat) + " model");
  ManifestModel m;
  try {
    m.chapters_ = j.at("chapters").get<std::vector<std::string>>();
    m.goods_classes_ = j.at("goods_classes").get<std::vector<std::string>>();
    m.mean_ = j.at("mean").get<std::vector<double>>();
    m.scale_ = j.at("scale").get<std::vector<double>>();
    m.weights_ = j.at("weights").get<std::vector<std::vector<double>>>();
    m.mass_log_ratio_mean_ = j.at("mass_log_ratio_mean").get<std::vector<double>>();
    m.mass_log_ratio_sd_ = j.at("mass_log_ratio_sd").get<std::vector<double>>();
    m.threshold_ = j.at("threshold").get<double>();
    m.mass_z_flag_ = j.at("mass_z_flag").get<double>();
  } catch (const std::exception& e) {
    return Status::DataLoss(std::string("manifest model: ") + e.what());
  }
  const size_t p = m.mean_.size(), c = m.chapters_.size();
  bool ok = c >= 2 && m.scale_.size() == p && m.weights_.size() == c && m.mass_log_ratio_mean_.size() == c &&
            m.mass_log_ratio_sd_.size() == c && p == Features(ScanAnalysis{}, DetectionResult{}, m.goods_classes_.size()).size();
  for (const auto& w : m.weights_) ok = ok && w.size() == p + 1;
  for (double s : m.scale_) ok = ok && s > 0;
  for (double s : m.mass_log_ratio_sd_) ok = ok && s > 0;
  if (!ok) return Status::DataLoss("manifest model: sizes do not match");
  return m;
}

ManifestCheck ManifestModel::Check(const ScanAnalysis& a, const DetectionResult& d, const Declaration& decl) const {
  ManifestCheck r;
  r.declared_chapter = ChapterOf(decl.hs_code);
  auto it = std::find(chapters_.begin(), chapters_.end(), r.declared_chapter);
  if (it == chapters_.end()) {
    r.reasons.push_back("no reference images for HS chapter " + (r.declared_chapter.empty() ? "?" : r.declared_chapter) +
                        ": contents not checked");
    return r;
  }
  const int declared = static_cast<int>(it - chapters_.begin());
  Fitted f{mean_, scale_, weights_, mass_log_ratio_mean_, mass_log_ratio_sd_};
  int best = declared;
  const double goods = GoodsScore(f, Features(a, d, goods_classes_.size()), declared, &best);
  r.best_chapter = chapters_[best];
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
      seen += std::string(seen.empty() ? "" : ", ") + shares[k].second + " " + FormatFixed(100 * shares[k].first, 0) + " %";
  }
  if (best != declared)
    reasons.push_back({goods_score, "image fits " + ChapterName(chapters_[best]) + " better than the declared " +
                                        ChapterName(r.declared_chapter) + (seen.empty() ? "" : " (goods seen: " + seen + ")")});
  else
    reasons.push_back({goods_score, "image fits the declared " + ChapterName(r.declared_chapter) +
                                        (seen.empty() ? "" : " (goods seen: " + seen + ")")});
  const double image_kg = TotalKg(a);
  reasons.push_back({mass_score, "image mass " + FormatFixed(image_kg, 2) + " kg against " + FormatFixed(decl.net_mass_kg, 2) +
                                     " kg declared (" + FormatFixed(std::exp(ratio), 2) + "x; honest " + r.declared_chapter +
                                     " parcels show " + FormatFixed(std::exp(mass_log_ratio_mean_[declared]), 2) + "x)"});
  reasons.push_back({0.0, "materials: organic " + FormatFixed(a.materials.organic_kg, 2) + " kg, inorganic " +
                              FormatFixed(a.materials.inorganic_kg, 2) + " kg, metal " + FormatFixed(a.materials.metal_kg, 2) +
                              " kg"});
  std::stable_sort(reasons.begin(), reasons.end(), [](auto& x, auto& y) { return x.first > y.first; });
  for (auto& [s, text] : reasons) r.reasons.push_back(std::move(text));
  return r;
}

Result<std::map<std::string, Declaration>> ReadDeclarationsByConsignment(const std::string& path, IngestReport* report) {
  CS_ASSIGN_OR_RETURN(DeclarationBatch batch, ReadDeclarations(path, ReadOptions{}, report));
  std::map<std::string, Declaration> out;
  for (auto& d : batch.rows)
    if (!d.consignment_id.empty()) out.emplace(d.consignment_id, std::move(d));
  return out;
}

}  // namespace clearsight
