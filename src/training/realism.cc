// The realism measurement of training images (MeasureProjectionRealism): in-scene threats against
// projected ones, features of the threat's region, two classifiers, held-out AUC with bootstrap
// intervals.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "clearsight/training.h"
#include "clearsight/xray_simulate.h"
#include "training/realism_classify.h"
#include "training/realism_cnn.h"
#include "xray/physics/random.h"

namespace clearsight {

using nlohmann::json;
using realism::ThreatRegion;

namespace {

struct Sample {
  std::vector<double> features;
  int projected = 0;  // the label
  std::string threat_class;
  std::vector<std::vector<float>> crops;  // for the CNN
};

// Crops of the region for the CNN, each centred on a pixel of the threat drawn at random (the
// region is padded with its edge where a crop reaches past it).
std::vector<std::vector<float>> CropsOf(const ThreatRegion& r, int count, uint64_t seed) {
  std::vector<size_t> on;
  for (size_t i = 0; i < r.mask.size(); ++i)
    if (r.mask[i]) on.push_back(i);
  std::vector<std::vector<float>> out;
  if (on.empty() || r.width <= 0 || r.height <= 0) return out;
  xray::Rng rng(seed);
  constexpr int kPx = realism::kCropPx, kPlane = kPx * kPx;
  for (int c = 0; c < count; ++c) {
    const size_t centre = on[static_cast<size_t>(rng.Int(0, static_cast<int>(on.size()) - 1))];
    const int cx = static_cast<int>(centre % static_cast<size_t>(r.width)),
              cy = static_cast<int>(centre / static_cast<size_t>(r.width));
    std::vector<float> crop(static_cast<size_t>(realism::kCropChannels) * kPlane);
    for (int y = 0; y < kPx; ++y)
      for (int x = 0; x < kPx; ++x) {
        const int sx = std::clamp(cx - kPx / 2 + x, 0, r.width - 1),
                  sy = std::clamp(cy - kPx / 2 + y, 0, r.height - 1);
        const size_t i = static_cast<size_t>(sy) * r.width + sx,
                     j = static_cast<size_t>(y) * kPx + x;
        crop[j] = r.log_att[0][i] / 4;
        crop[kPlane + j] = r.log_att[1][i] / 4;
        crop[2 * kPlane + j] = r.mask[i] ? 1.0f : 0.0f;
      }
    out.push_back(std::move(crop));
  }
  return out;
}

// The region around a threat's box (a margin of 14 pixels), with its mask.
ThreatRegion RegionOf(const Scan& scan, const std::vector<uint8_t>& mask, int x0, int y0, int x1,
                      int y1) {
  constexpr int kMargin = 14;
  x0 = std::max(0, x0 - kMargin);
  y0 = std::max(0, y0 - kMargin);
  x1 = std::min(scan.width, x1 + kMargin);
  y1 = std::min(scan.height, y1 + kMargin);
  ThreatRegion r;
  r.width = std::max(0, x1 - x0);
  r.height = std::max(0, y1 - y0);
  const size_t n = static_cast<size_t>(r.width) * r.height;
  r.mask.resize(n);
  for (int c = 0; c < 2; ++c) {
    r.log_att[c].resize(n);
    r.transmission[c].resize(n);
  }
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const size_t i = static_cast<size_t>(y) * scan.width + x,
                   j = static_cast<size_t>(y - y0) * r.width + (x - x0);
      r.mask[j] = mask[i];
      for (int c = 0; c < 2; ++c) {
        const double t = std::max<uint16_t>(1, (c == 0 ? scan.low : scan.high)[i]) / 65535.0;
        r.transmission[c][j] = static_cast<float>(t);
        r.log_att[c][j] = static_cast<float>(-std::log(t));
      }
    }
  return r;
}

// The fault applied to a projection: `before` the background, *after the projected image.
void ApplyFault(ProjectionFault fault, const Scan& before, const ScannerImaging& imaging,
                uint64_t seed, Scan* after) {
  xray::Rng rng(seed);
  for (int c = 0; c < 2; ++c) {
    const std::vector<uint16_t>& b = c == 0 ? before.low : before.high;
    std::vector<uint16_t>& a = c == 0 ? after->low : after->high;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i] == b[i]) continue;
      const double v0 = b[i] / 65535.0, v1 = a[i] / 65535.0, t = std::min(1.0, v1 / v0);
      if (fault == ProjectionFault::kPasted) {
        a[i] = EncodeTransmission(t);
      } else if (fault == ProjectionFault::kDoubledNoise) {
        // The projection's own noise term (ProjectThreat at 15,000 photons), once more.
        a[i] = EncodeTransmission(v1 + std::sqrt(std::max(0.0, v0 * t * (1 - t) / 15000)) *
                                           rng.Normal());
      }
    }
  }
}

// The samples of one split: in-scene threats of the simulator at `seed`, and the same classes
// projected into clean parcels by a TrainingImageMaker of that seed.
Result<std::vector<Sample>> MakeSamples(const RealismOptions& o, uint64_t seed,
                                        const std::vector<std::string>& classes) {
  SimulateOptions so;
  so.width = o.width;
  so.height = o.height;
  so.seed = seed;
  so.threat_rate = 1;
  so.misdeclared_rate = 0;
  so.undervalued_rate = 0;
  CS_ASSIGN_OR_RETURN(auto simulator, Simulator::Create(so));
  TrainingImageMaker::Options mo;
  mo.width = o.width;
  mo.height = o.height;
  mo.candidates = 1;
  mo.patches_per_class = o.patches_per_class;
  mo.seed = xray::MixSeed(seed, 0x70726f6aull);
  CS_ASSIGN_OR_RETURN(auto maker, TrainingImageMaker::Create(mo));
  xray::Rng rng(xray::MixSeed(seed, 0x7265616cull));
  std::vector<Sample> out;
  int in_scene = 0;
  for (int64_t index = 0; in_scene < o.images && index < int64_t{o.images} * 30; ++index) {
    CS_ASSIGN_OR_RETURN(SimulatedScan s, simulator->Simulate(index));
    const TruthObject* threat = nullptr;
    for (const auto& obj : s.truth.objects)
      if (obj.threat) threat = &obj;
    if (!threat || std::find(classes.begin(), classes.end(), threat->threat_class) == classes.end())
      continue;
    CS_ASSIGN_OR_RETURN(auto mask, DecodeMaskRle(threat->mask_rle, s.scan.width, s.scan.height));
    const ThreatRegion region =
        RegionOf(s.scan, mask, threat->x0, threat->y0, threat->x1, threat->y1);
    auto f = realism::FeaturesOf(region);
    if (f.empty()) continue;
    out.push_back({std::move(f), 0, threat->threat_class,
                   o.cnn ? CropsOf(region, 4, xray::MixSeed(seed, static_cast<uint64_t>(index), 11))
                         : std::vector<std::vector<float>>{}});
    ++in_scene;

    TrainingImageRequest request;
    request.seed = xray::MixSeed(seed, static_cast<uint64_t>(index), 7);
    request.threat = true;
    request.threat_class = threat->threat_class;
    request.difficulty.size_scale = 1;
    request.difficulty.clutter = rng.Uniform();
    CS_ASSIGN_OR_RETURN(TrainingImage image, maker->Make(request));
    if (!image.projected || image.projected->x1 <= image.projected->x0) continue;
    if (o.fault != ProjectionFault::kNone) {
      request.threat = false;
      CS_ASSIGN_OR_RETURN(TrainingImage background, maker->Make(request));
      ApplyFault(o.fault, background.scan, simulator->Imaging(), rng.Next(), &image.scan);
    }
    const ProjectedThreat& p = *image.projected;
    CS_ASSIGN_OR_RETURN(auto pmask, DecodeMaskRle(p.mask_rle, image.scan.width, image.scan.height));
    const ThreatRegion pregion = RegionOf(image.scan, pmask, p.x0, p.y0, p.x1, p.y1);
    auto g = realism::FeaturesOf(pregion);
    if (!g.empty())
      out.push_back(
          {std::move(g), 1, threat->threat_class,
           o.cnn ? CropsOf(pregion, 4, xray::MixSeed(seed, static_cast<uint64_t>(index), 12))
                 : std::vector<std::vector<float>>{}});
  }
  return out;
}

// The AUC and its 95 % bootstrap percentile interval, resampling each kind apart.
AucEstimate EstimateAuc(const std::vector<double>& scores, const std::vector<int>& labels,
                        int resamples, uint64_t seed) {
  AucEstimate e;
  e.auc = AreaUnderRoc(scores, labels);
  std::vector<size_t> pos, neg;
  for (size_t i = 0; i < labels.size(); ++i) (labels[i] ? pos : neg).push_back(i);
  if (pos.empty() || neg.empty() || resamples < 10) return e;
  xray::Rng rng(seed);
  std::vector<double> aucs, s;
  std::vector<int> l;
  for (int b = 0; b < resamples; ++b) {
    s.clear();
    l.clear();
    for (const auto* group : {&pos, &neg})
      for (size_t k = 0; k < group->size(); ++k) {
        const size_t i = (*group)[rng.Int(0, static_cast<int>(group->size()) - 1)];
        s.push_back(scores[i]);
        l.push_back(labels[i]);
      }
    aucs.push_back(AreaUnderRoc(s, l));
  }
  std::sort(aucs.begin(), aucs.end());
  e.low = aucs[static_cast<size_t>(0.025 * (aucs.size() - 1))];
  e.high = aucs[static_cast<size_t>(std::ceil(0.975 * (aucs.size() - 1)))];
  return e;
}

json AucJson(const AucEstimate& e) {
  auto r = [](double v) { return std::round(v * 1e4) / 1e4; };
  return json{{"auc", r(e.auc)}, {"low", r(e.low)}, {"high", r(e.high)}};
}

}  // namespace

double AreaUnderRoc(const std::vector<double>& scores, const std::vector<int>& labels) {
  std::vector<size_t> order(scores.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double rank_sum = 0, pos = 0;
  for (size_t k = 0; k < order.size();) {
    size_t e = k;
    while (e < order.size() && scores[order[e]] == scores[order[k]]) ++e;
    const double mid_rank = (k + 1 + e) / 2.0;  // ranks k+1..e, ties share their mean
    for (size_t j = k; j < e; ++j)
      if (labels[order[j]]) {
        rank_sum += mid_rank;
        ++pos;
      }
    k = e;
  }
  const double neg = static_cast<double>(scores.size()) - pos;
  if (pos == 0 || neg == 0) return 0.5;
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

std::string RealismReport::ToJson() const {
  json cls = json::array();
  for (const auto& c : classes)
    cls.push_back({{"threat_class", c.threat_class},
                   {"in_scene", c.in_scene},
                   {"projected", c.projected},
                   {"auc", AucJson(c.auc)}});
  json w = json::array();
  for (const auto& [name, v] : weights) w.push_back({{"feature", name}, {"weight", v}});
  json j{{"train_images", train_images},
         {"held_out_images", held_out_images},
         {"logistic", AucJson(logistic)},
         {"boosted", AucJson(boosted)},
         {"best", AucJson(best)},
         {"best_classifier", best_classifier},
         {"classes", cls},
         {"logistic_weights", w},
         {"seconds", std::round(seconds * 10) / 10}};
  if (cnn) j["cnn"] = AucJson(*cnn);
  return j.dump(2);
}

Result<RealismReport> MeasureProjectionRealism(const RealismOptions& o) {
  if (o.images < 20 || o.images > 5000)
    return Status::InvalidArgument("realism: images must be 20..5000");
  if (o.patches_per_class < 1 || o.patches_per_class > 200)
    return Status::InvalidArgument("realism: patches per class must be 1..200");
  TrainingSettings classes_only;
  classes_only.threat_classes = o.threat_classes;
  const std::vector<std::string> classes = SessionClasses(classes_only);
  for (const auto& c : classes)
    if (std::find(ThreatClasses().begin(), ThreatClasses().end(), c) == ThreatClasses().end())
      return Status::InvalidArgument("realism: unknown threat class '" + c + "'");
  const auto start = std::chrono::steady_clock::now();
  // Training and held-out images from different simulator seeds: other parcels, other patches.
  CS_ASSIGN_OR_RETURN(std::vector<Sample> train, MakeSamples(o, o.seed, classes));
  CS_ASSIGN_OR_RETURN(std::vector<Sample> test,
                      MakeSamples(o, xray::MixSeed(o.seed, 0x68656c64ull), classes));
  std::vector<std::vector<double>> x;
  std::vector<int> y;
  for (const auto& s : train) {
    x.push_back(s.features);
    y.push_back(s.projected);
  }
  if (std::count(y.begin(), y.end(), 1) < 5 || std::count(y.begin(), y.end(), 0) < 5)
    return Status::FailedPrecondition("realism: too few images of one kind to train on");
  const realism::LogisticModel logistic = realism::FitLogistic(x, y, 1.0);
  const realism::BoostedStumps boosted = realism::FitBoostedStumps(x, y, 200, 0.1, 5);

  RealismReport rep;
  rep.train_images = static_cast<int>(train.size());
  rep.held_out_images = static_cast<int>(test.size());
  std::vector<double> s_log, s_boost;
  std::vector<int> labels;
  for (const auto& s : test) {
    s_log.push_back(logistic.Score(s.features));
    s_boost.push_back(boosted.Score(s.features));
    labels.push_back(s.projected);
  }
  rep.logistic = EstimateAuc(s_log, labels, o.bootstrap, xray::MixSeed(o.seed, 1));
  rep.boosted = EstimateAuc(s_boost, labels, o.bootstrap, xray::MixSeed(o.seed, 2));
  std::vector<double> s_cnn;
  if (o.cnn) {
    std::vector<realism::Crop> train_crops, test_crops;
    for (size_t i = 0; i < train.size(); ++i)
      for (auto& c : train[i].crops) train_crops.push_back({std::move(c), train[i].projected, i});
    for (size_t i = 0; i < test.size(); ++i)
      for (auto& c : test[i].crops) test_crops.push_back({std::move(c), test[i].projected, i});
    realism::CnnOptions co;
    co.epochs = o.cnn_epochs;
    co.threads = o.threads;
    co.seed = xray::MixSeed(o.seed, 4);
    CS_ASSIGN_OR_RETURN(s_cnn, realism::TrainAndScoreCnn(train_crops, test_crops, test.size(), co));
    rep.cnn = EstimateAuc(s_cnn, labels, o.bootstrap, xray::MixSeed(o.seed, 5));
  }
  rep.best = rep.logistic;
  rep.best_classifier = "logistic";
  const std::vector<double>* best_scores = &s_log;
  if (rep.boosted.auc > rep.best.auc) {
    rep.best = rep.boosted;
    rep.best_classifier = "boosted";
    best_scores = &s_boost;
  }
  if (rep.cnn && rep.cnn->auc > rep.best.auc) {
    rep.best = *rep.cnn;
    rep.best_classifier = "cnn";
    best_scores = &s_cnn;
  }
  for (const auto& c : classes) {
    RealismClass rc;
    rc.threat_class = c;
    std::vector<double> s;
    std::vector<int> l;
    for (size_t i = 0; i < test.size(); ++i)
      if (test[i].threat_class == c) {
        s.push_back((*best_scores)[i]);
        l.push_back(labels[i]);
        ++(labels[i] ? rc.projected : rc.in_scene);
      }
    rc.auc = EstimateAuc(s, l, o.bootstrap, xray::MixSeed(o.seed, 3));
    rep.classes.push_back(std::move(rc));
  }
  const auto& names = realism::FeatureNames();
  for (size_t j = 0; j < names.size(); ++j)
    rep.weights.emplace_back(names[j], logistic.weights[j + 1]);
  std::sort(rep.weights.begin(), rep.weights.end(),
            [](const auto& a, const auto& b) { return std::abs(a.second) > std::abs(b.second); });
  std::string csv = "split,threat_class,projected";
  for (const auto& n : names) csv += "," + n;
  csv += "\n";
  for (const auto* split : {&train, &test})
    for (const auto& s : *split) {
      csv += (split == &train ? "train," : "held_out,") + s.threat_class + "," +
             std::to_string(s.projected);
      for (double v : s.features) {
        char buf[32];
        std::snprintf(buf, sizeof buf, ",%.6g", v);
        csv += buf;
      }
      csv += "\n";
    }
  rep.features_csv = std::move(csv);
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return rep;
}

}  // namespace clearsight
