// The validation phases of the detector's training, on the held-out split: the operating points,
// the verifier (second stage), the figures by scanner and by goods, and the manifest model.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iterator>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "clearsight/xray_manifest.h"
#include "xray/train/train_internal.h"

namespace clearsight::xray {

using json = nlohmann::json;
namespace fs = std::filesystem;

size_t ClassIndex(const std::string& c) {
  const auto& classes = ThreatClasses();
  return static_cast<size_t>(std::find(classes.begin(), classes.end(), c) - classes.begin());
}

Result<DetectorMeta> ChooseOperatingPoints(const Net& net, const TrainData& data,
                                           const OperatingPointOptions& o,
                                           std::optional<double> init_region_probability,
                                           bool candidates, const TrainContext& ctx,
                                           ValidationSplit* split, DetectionEval* eval) {
  DetectorMeta meta;
  meta.threat_classes = ThreatClasses();
  meta.goods_classes = GoodsCategoryNames();
  meta.operating_probability = 0.5;  // scores below are probabilities (0.5 maps to 0.5)
  // Given, else the init model's, else the decoder's default.
  meta.region_probability =
      o.region_probability.value_or(init_region_probability.value_or(meta.region_probability));
  split->data = &data;
  split->results.assign(split->size(), {});
  split->candidates.assign(candidates ? split->size() : 0, {});
  split->clean_main_goods.clear();
  std::vector<float> input, tp, gp;
  for (size_t i = 0; i < split->size(); ++i) {
    const Sample& s = split->scan(i);
    if (s.truth_threats.empty()) split->clean_main_goods.push_back(s.main_goods);
    s.Input(&input);
    CS_RETURN_IF_ERROR(net.Infer(input.data(), s.gh, s.gw, ctx.threads, &tp, &gp));
    DecodeOutputs(tp, gp, s.gh / 2, s.gw / 2, s.width, s.height, s.pixel_mm, meta, 0.0,
                  &split->results[i]);
    if (candidates)
      DecodeCandidates(tp, gp, s.gh / 2, s.gw / 2, s.width, s.height, s.pixel_mm, meta,
                       GridView{input.data(), s.gh, s.gw}, &split->candidates[i]);
    if (i % 20 == 0 || i + 1 == split->size()) {  // every 20th scan and the last
      TrainProgress p;
      p.phase = TrainPhase::kValidating;
      p.done = static_cast<int64_t>(i + 1);
      p.total = static_cast<int64_t>(split->size());
      ctx.Report(p);
    }
  }
  auto network_dets = [&](size_t i) -> const std::vector<Detection>& {
    return split->results[i].detections;
  };
  meta.class_operating_probability = ChoosePoints(*split, network_dets, meta.region_probability, o);
  meta.operating_probability = *std::min_element(meta.class_operating_probability.begin(),
                                                 meta.class_operating_probability.end());
  *eval = EvaluateSplit(*split, network_dets, meta.class_operating_probability);
  return meta;
}

std::vector<double> ChoosePoints(const ValidationSplit& split, const DetectionsOf& dets,
                                 double floor_p, const OperatingPointOptions& o) {
  // Per class: the highest score on each clean parcel, the best matching one of each true threat
  // (matched as the evaluation does).
  const auto& threat_classes = ThreatClasses();
  const size_t nc = threat_classes.size();
  const double min_iou = DetectionEvalOptions{}.min_iou;
  const size_t allowed = static_cast<size_t>(
      std::floor(o.target_clean_alarm_rate * split.clean_main_goods.size() + 1e-9));
  std::vector<std::vector<double>> clean_scores(nc), threat_scores(nc);
  for (size_t i = 0; i < split.size(); ++i) {
    const Sample& s = split.scan(i);
    if (s.truth_threats.empty())
      for (size_t k = 0; k < nc; ++k) {
        double m = -1;
        for (const auto& d : dets(i))
          if (d.threat_class == threat_classes[k]) m = std::max(m, d.score);
        clean_scores[k].push_back(m);
      }
    for (const auto& t : s.truth_threats) {
      const size_t k = ClassIndex(t.threat_class);
      if (k == nc) continue;
      double best = -1;
      for (const auto& d : dets(i))
        if (d.threat_class == t.threat_class && DetectionIou(d, t) >= min_iou)
          best = std::max(best, d.score);
      threat_scores[k].push_back(best);
    }
  }
  return ChooseClassOperatingPoints(clean_scores, threat_scores, floor_p, 0.999, allowed,
                                    PerClassFactor(o.class_priority));
}

DetectionEval EvaluateSplit(const ValidationSplit& split, const DetectionsOf& dets,
                            const std::vector<double>& points,
                            const std::function<bool(size_t)>& keep) {
  std::vector<EvalScan> eval_scans;
  for (size_t i = 0; i < split.size(); ++i) {
    if (keep && !keep(i)) continue;
    EvalScan e;
    e.scan_id = split.scan(i).scan_id;
    e.threats = split.scan(i).truth_threats;
    e.has_result = true;
    for (auto d : dets(i)) {
      d.score = ScoreFromProbability(d.score, points[ClassIndex(d.threat_class)]);
      e.detections.push_back(d);
    }
    eval_scans.push_back(std::move(e));
  }
  return EvaluateScans(eval_scans, ThreatClasses(), DetectionEvalOptions{});
}

TrainedVerifier FitVerifier(const ValidationSplit& split, const OperatingPointOptions& options,
                            const TrainContext& ctx) {
  TrainProgress phase;
  phase.phase = TrainPhase::kVerifier;
  ctx.Report(phase);
  TrainedVerifier out;
  const auto& threat_classes = ThreatClasses();
  const double min_iou = DetectionEvalOptions{}.min_iou;
  constexpr int kFolds = 5;
  std::vector<float> x, labels;
  std::vector<int> fold;
  for (size_t i = 0; i < split.size(); ++i) {
    const Sample& s = split.scan(i);
    const int f = static_cast<int>(HashId(s.scan_id + "/verifier") % kFolds);
    for (const auto& c : split.candidates[i]) {
      bool hit = false;
      for (const auto& t : s.truth_threats)
        hit = hit || (t.threat_class == c.detection.threat_class &&
                      DetectionIou(c.detection, t) >= min_iou);
      x.insert(x.end(), c.features.begin(), c.features.end());
      labels.push_back(hit ? 1.f : 0.f);
      fold.push_back(f);
    }
  }
  auto fitted = FitRegionVerifier(x, labels, fold, kFolds, ctx.seed, ctx.threads);
  if (!fitted.ok()) {
    out.note = "verifier not fitted: " + fitted.status().message() + "\n";
    return out;
  }
  const VerifierFit& fit = *fitted;
  out.verified.assign(split.size(), {});
  size_t row = 0;
  for (size_t i = 0; i < split.size(); ++i)
    for (const auto& c : split.candidates[i]) {
      Detection d = c.detection;
      d.score = fit.out_of_fold[row++];
      out.verified[i].push_back(std::move(d));
    }
  auto verified_dets = [&](size_t i) -> const std::vector<Detection>& { return out.verified[i]; };
  out.points = ChoosePoints(split, verified_dets, 0.01, options);
  out.eval = EvaluateSplit(split, verified_dets, out.points);
  json per_class = json::object();
  for (size_t k = 0; k < threat_classes.size(); ++k) per_class[threat_classes[k]] = out.points[k];
  out.model = {{"features", std::vector<std::string>(std::begin(kRegionFeatureNames),
                                                     std::end(kRegionFeatureNames))},
               {"class_operating_probability", per_class},
               {"validation_regions", static_cast<int64_t>(labels.size())},
               {"folds", kFolds},
               {"booster", json::parse(fit.booster_json)}};
  return out;
}

SplitFigures FiguresBySubset(const ValidationSplit& split, const TrainPlan& plan,
                             const TrainDataOptions& o, const DetectionsOf& dets,
                             const std::vector<double>& points) {
  SplitFigures out;
  // The same figures for each scanner (sources sharing a calibration device) on its own: pooled
  // figures can hide a scanner that lags.
  {
    std::vector<std::string> devices;
    std::vector<size_t> device_of(split.size());  // each validation scan's index in devices
    for (size_t i = 0; i < split.size(); ++i) {
      const std::string& dev =
          o.sources[static_cast<size_t>(plan.work[split.data->val_idx[i]].source)]
              .calibration.device();
      device_of[i] =
          static_cast<size_t>(std::find(devices.begin(), devices.end(), dev) - devices.begin());
      if (device_of[i] == devices.size()) devices.push_back(dev);
    }
    if (devices.size() > 1) {
      auto rate = [](const DetectionEval& e, const std::string& name) -> std::string {
        for (const auto& c : e.classes)
          if (c.name == name) return c.threats ? FormatFixed(100.0 * c.rate, 1) + " %" : "-";
        return "-";
      };
      out.by_scanner_table =
          "validation by scanner (calibration device; the same operating points):\n";
      int width = 7;
      for (const auto& dev : devices)
        width = std::max(width, std::min(static_cast<int>(dev.size()), 80));
      char line[512];
      std::snprintf(line, sizeof(line), "%-*s %6s %9s %6s %10s %10s %9s %8s\n", width, "scanner",
                    "scans", "clean al.", "mAP", "narcotics", "nar>=200g", "firearm", "knife");
      out.by_scanner_table += line;
      for (size_t d = 0; d < devices.size(); ++d) {
        const std::string& dev = devices[d];
        const DetectionEval e =
            EvaluateSplit(split, dets, points, [&](size_t i) { return device_of[i] == d; });
        std::snprintf(line, sizeof(line), "%-*s %6lld %7.1f %% %6.3f %10s %10s %9s %8s\n", width,
                      dev.substr(0, 80).c_str(), static_cast<long long>(e.scans),
                      100.0 * e.clean_alarm_rate, e.map, rate(e, "narcotics").c_str(),
                      rate(e, "narcotics_concealed_200g").c_str(), rate(e, "firearm").c_str(),
                      rate(e, "knife").c_str());
        out.by_scanner_table += line;
        out.by_scanner.push_back(
            {{"calibration_device", dev}, {"evaluation", json::parse(e.ToJson())}});
      }
    }
  }
  // Clean parcels alarmed by main goods category: how far the validation mix's budget carries to a
  // site with other goods.
  {
    const std::vector<std::string> categories = DistinctGoodsCategories(split.clean_main_goods);
    if (!categories.empty()) {
      out.by_goods_table =
          "validation clean parcels alarmed, by main goods category (the same operating points):\n";
      for (const auto& c : categories) {
        const DetectionEval e = EvaluateSplit(split, dets, points, [&](size_t i) {
          const Sample& s = split.scan(i);
          return s.truth_threats.empty() && s.main_goods == c;
        });
        const auto alarmed = static_cast<int64_t>(std::llround(e.clean_alarm_rate * e.scans));
        char line[160];
        std::snprintf(line, sizeof(line), "  %-12s %4lld of %5lld  %5.1f %%\n", c.c_str(),
                      static_cast<long long>(alarmed), static_cast<long long>(e.scans),
                      100.0 * e.clean_alarm_rate);
        out.by_goods_table += line;
        out.by_goods[c] = {{"clean", e.scans}, {"alarmed", alarmed}};
      }
    }
  }
  return out;
}

TrainedManifest FitManifest(const ValidationSplit& split, const TrainDataOptions& o,
                            const TrainContext& ctx) {
  TrainProgress phase;
  phase.phase = TrainPhase::kManifest;
  ctx.Report(phase);
  TrainedManifest out;
  std::map<std::string, Declaration> decls;
  std::map<std::string, std::string> truth_by_scan;
  for (const auto& source : o.sources) {
    IngestReport ir;
    auto d = ReadDeclarationsByConsignment(
        (fs::path(source.data_dir) / "declarations.csv").string(), &ir);
    if (d.ok()) decls.insert(d->begin(), d->end());
    auto dt = ReadFile((fs::path(source.data_dir) / "declarations_truth.csv").string());
    if (!dt.ok()) continue;
    // declaration_id,consignment_id,scan_id,truth,...
    size_t pos = dt->find('\n');
    while (pos != std::string::npos && pos + 1 < dt->size()) {
      size_t end = dt->find('\n', pos + 1);
      std::string line =
          dt->substr(pos + 1, (end == std::string::npos ? dt->size() : end) - pos - 1);
      pos = end;
      std::vector<std::string> f;
      size_t a = 0;
      for (int k = 0; k < 4; ++k) {
        size_t b = line.find(',', a);
        f.push_back(line.substr(a, b == std::string::npos ? std::string::npos : b - a));
        if (b == std::string::npos) break;
        a = b + 1;
      }
      if (f.size() >= 4) truth_by_scan[f[2]] = f[3];
    }
  }
  if (!decls.empty() && !truth_by_scan.empty()) {
    std::vector<ManifestExample> honest, misdeclared;
    for (size_t i = 0; i < split.size(); ++i) {
      const Sample& s = split.scan(i);
      auto t = truth_by_scan.find(s.scan_id);
      auto d = decls.find(s.summary.consignment_id);
      if (t == truth_by_scan.end() || d == decls.end()) continue;
      ManifestExample ex{s.summary, split.results[i], d->second};
      if (t->second == "misdeclared")
        misdeclared.push_back(std::move(ex));
      else
        honest.push_back(std::move(ex));  // honest or under-valued: the goods are as declared
    }
    ManifestFitOptions mo;
    mo.seed = ctx.seed;
    ManifestFitReport mr;
    auto model = ManifestModel::Fit(honest, mo, &mr);
    if (model.ok()) {
      out.model_json = model->ToJson();
      int64_t flagged = 0;
      for (const auto& ex : misdeclared)
        flagged += !model->Check(ex.analysis, ex.detection, ex.declaration).consistent;
      out.table = mr.ToTable() + "misdeclared validation pairs flagged (never used in the fit): " +
                  std::to_string(flagged) + "/" + std::to_string(misdeclared.size()) + " (" +
                  FormatFixed(misdeclared.empty() ? 0.0 : 100.0 * flagged / misdeclared.size(), 1) +
                  " %)\n";
    } else {
      out.table = "manifest model not fitted: " + model.status().message() + "\n";
    }
  } else {
    out.table =
        "manifest model not fitted: no training directory has declarations.csv and "
        "declarations_truth.csv\n";
  }
  return out;
}

}  // namespace clearsight::xray
