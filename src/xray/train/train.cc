// TrainDetector: the training phases in order (train_internal.h), then the model file.
#include <algorithm>
#include <filesystem>
#include <iterator>

#include "clearsight/allocator.h"
#include "clearsight/text.h"
#include "clearsight/xray_train.h"
#include "xray/detect/features.h"
#include "xray/train/train_internal.h"

namespace clearsight {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace xray {

double TrainContext::Elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void TrainContext::Report(TrainProgress p) const {
  if (!progress) return;
  p.elapsed_s = Elapsed();
  progress(p);
}

Status CheckThreatClass(const std::string& name, const std::string& what) {
  const auto& classes = ThreatClasses();
  if (std::find(classes.begin(), classes.end(), name) != classes.end()) return Status::Ok();
  std::string known;
  for (const auto& c : classes) known += (known.empty() ? "" : ", ") + c;
  return Status::InvalidArgument(what + " \"" + name + "\": not a threat class (" + known + ")");
}

std::vector<double> PerClassFactor(const std::vector<std::pair<std::string, double>>& given) {
  const auto& classes = ThreatClasses();
  std::vector<double> factor(classes.size(), 1.0);
  for (const auto& [cls, w] : given) {
    const auto it = std::find(classes.begin(), classes.end(), cls);
    if (it != classes.end()) factor[static_cast<size_t>(it - classes.begin())] = w;
  }
  return factor;
}

json PerClassJson(const std::vector<std::pair<std::string, double>>& given) {
  json out = json::object();
  for (const auto& [cls, w] : given) out[cls] = w;
  return out;
}

namespace {

// The model file's metadata: what the detector reads (classes, features, points, verifier,
// manifest) and the record of how it was made.
struct ModelParts {
  const DetectorTrainOptions* options = nullptr;
  const TrainPlan* plan = nullptr;
  const TrainData* data = nullptr;
  const TrainedNetwork* network = nullptr;
  const DetectorMeta* meta = nullptr;
  const DetectionEval* eval = nullptr;  // the final figures (the verifier's when it is fitted)
  const TrainedVerifier* verifier = nullptr;
  const SplitFigures* figures = nullptr;
  const TrainedManifest* manifest = nullptr;
  double seconds = 0;
};

json ModelMetadata(const ModelParts& p) {
  const DetectorTrainOptions& o = *p.options;
  const DetectorMeta& meta = *p.meta;
  const TrainData& data = *p.data;
  const Net& net = *p.network->net;
  json sources = json::array();
  for (size_t src = 0; src < o.data.sources.size(); ++src)
    sources.push_back({{"data", o.data.sources[src].data_dir},
                       {"calibration_device", o.data.sources[src].calibration.device()},
                       {"scans", static_cast<int64_t>(p.plan->paths[src].size())},
                       {"tip_scans", data.tip_by_source[src]},
                       {"validation_only", o.data.sources[src].validation_only}});
  json m;
  m["format"] = kDetectorFormat;
  m["threat_classes"] = meta.threat_classes;
  m["goods_classes"] = meta.goods_classes;
  m["cell_px"] = kCellPx;
  m["out_cell_px"] = kOutCellPx;
  m["feature_channels"] = kFeatureChannels;
  m["feature_names"] = std::vector<std::string>(std::begin(kFeatureNames), std::end(kFeatureNames));
  m["operating_probability"] = meta.operating_probability;
  json per_class = json::object();
  for (size_t k = 0; k < meta.threat_classes.size(); ++k)
    per_class[meta.threat_classes[k]] = meta.class_operating_probability[k];
  m["class_operating_probability"] = per_class;
  m["region_probability"] = meta.region_probability;
  m["trained"] = {{"command", o.command},
                  {"seed", o.seed},
                  {"train_scans", static_cast<int64_t>(data.train_idx.size()) - data.tip_used},
                  {"tip_scans", data.tip_used},
                  {"tip_by_class", data.tip_by_class},
                  {"tip_small_packets", data.tip_small},
                  {"validation_scans", static_cast<int64_t>(data.val_idx.size())},
                  {"epochs", p.network->epochs},
                  {"batch", o.network.batch},
                  {"crop_cells", o.network.crop_cells},
                  {"learning_rate", o.network.learning_rate},
                  {"class_weights", PerClassJson(o.network.class_weights)},
                  {"class_priority", PerClassJson(o.points.class_priority)},
                  {"target_clean_alarm_rate", o.points.target_clean_alarm_rate},
                  {"threads", o.threads},
                  {"seconds", p.seconds},
                  {"sources", sources},
                  {"parameters", net.parameters()},
                  {"widths", {net.config().width8, net.config().width16, net.config().width32}}};
  if (!p.network->init_record.is_null()) m["trained"]["init"] = p.network->init_record;
  m["validation"] = json::parse(p.eval->ToJson());
  if (!p.figures->by_scanner.empty()) m["validation_by_scanner"] = p.figures->by_scanner;
  if (!p.figures->by_goods.empty()) m["validation_clean_by_goods"] = p.figures->by_goods;
  if (!p.manifest->model_json.empty()) m["manifest"] = json::parse(p.manifest->model_json);
  if (!p.verifier->model.is_null()) m["verifier"] = p.verifier->model;
  return m;
}

// Writes the network and its metadata to PATH.tmp, then renames it over PATH.
Status SaveModel(const Net& net, const json& meta, const std::string& out_path) {
  const std::string tmp = out_path + ".tmp";
  CS_RETURN_IF_ERROR(net.Save(tmp, meta.dump()));
  std::error_code ec;
  fs::rename(tmp, out_path, ec);
  if (ec) return Status::IoError(out_path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace
}  // namespace xray

const char* TrainPhaseName(TrainPhase phase) {
  switch (phase) {
    case TrainPhase::kLoadingScans:
      return "loading scans";
    case TrainPhase::kLoadingTipCopies:
      return "loading TIP copies";
    case TrainPhase::kTraining:
      return "training";
    case TrainPhase::kValidating:
      return "validating";
    case TrainPhase::kVerifier:
      return "verifier";
    case TrainPhase::kManifest:
      return "manifest";
  }
  return "?";
}

Status ValidateDetectorTrainOptions(const DetectorTrainOptions& o) {
  const TrainDataOptions& d = o.data;
  const NetworkTrainOptions& n = o.network;
  if (d.sources.empty() || d.sources[0].validation_only)
    return Status::InvalidArgument(
        "no training data: give at least one scan directory, before any validation-only one");
  for (const auto& source : d.sources)
    if (source.validation_only && source.threats_dir)
      return Status::InvalidArgument(source.data_dir +
                                     ": a threat library for a validation-only source");
  if (!(d.validation_share > 0 && d.validation_share < 1))
    return Status::InvalidArgument("validation share must lie in (0, 1)");
  if (d.max_scans && *d.max_scans < 1)
    return Status::InvalidArgument("max scans must be at least 1");
  if (!(d.tip_rate >= 0 && d.tip_rate <= 4))
    return Status::InvalidArgument("TIP rate must lie in 0..4");
  for (const auto& c : d.tip_classes) CS_RETURN_IF_ERROR(xray::CheckThreatClass(c, "TIP class"));
  if (d.tip_max_kg && !(*d.tip_max_kg > 0 && *d.tip_max_kg <= 1000))
    return Status::InvalidArgument("TIP maximum mass must lie in (0, 1000] kg");
  if (!(d.tip_targeted_share > 0 && d.tip_targeted_share <= 1))
    return Status::InvalidArgument("TIP targeted share must lie in (0, 1]");
  if (d.tip_targeted_share < 1 && d.tip_classes.empty() && !d.tip_max_kg)
    return Status::InvalidArgument(
        "a TIP targeted share below 1 needs TIP classes or a maximum mass to target");
  if (n.epochs < (n.init_path ? 0 : 1) || n.epochs > 1000)
    return Status::InvalidArgument(n.init_path ? "epochs must be 0..1000"
                                               : "epochs must be 1..1000");
  if (n.batch < 1 || n.batch > 256) return Status::InvalidArgument("batch must be 1..256");
  if (n.crop_cells < 16 || n.crop_cells % (2 * xray::kNetInputMultiple) != 0)
    return Status::InvalidArgument("crop must be a multiple of 16 cells, at least 16");
  if (n.max_minutes && !(*n.max_minutes > 0))
    return Status::InvalidArgument("max minutes must be positive");
  // Loss weights and operating-point priorities per threat class.
  for (const auto& [given, what] :
       {std::pair{&n.class_weights, "class weight"}, {&o.points.class_priority, "class priority"}})
    for (const auto& [cls, w] : *given) {
      CS_RETURN_IF_ERROR(xray::CheckThreatClass(cls, std::string(what) + " for"));
      if (!(w > 0 && w <= 100))
        return Status::InvalidArgument(std::string(what) + " for " + cls + " must lie in (0, 100]");
    }
  if (o.points.region_probability &&
      !(*o.points.region_probability >= 0.05 && *o.points.region_probability <= 0.9))
    return Status::InvalidArgument("region probability must lie in [0.05, 0.9]");
  if (o.threads < 1 || o.threads > 64) return Status::InvalidArgument("threads must be 1..64");
  return Status::Ok();
}

Status TrainDetector(const DetectorTrainOptions& o, const std::string& out_path,
                     const std::function<void(const TrainProgress&)>& progress,
                     DetectorTrainReport* report) {
  xray::TrainContext ctx;
  ctx.seed = o.seed;
  ctx.threads = o.threads;
  ctx.progress = progress;
  // Each training step frees and allocates the same large buffers again (common/allocator.h).
  KeepLargeFreedBlocks();
  CS_RETURN_IF_ERROR(ValidateDetectorTrainOptions(o));

  CS_ASSIGN_OR_RETURN(const xray::TrainPlan plan,
                      xray::PlanTraining(o.data, o.network.epochs > 0, ctx));
  xray::TrainData data;
  CS_RETURN_IF_ERROR(xray::LoadTrainingData(plan, o.data, ctx, &data));
  CS_ASSIGN_OR_RETURN(const xray::TrainedNetwork network, xray::TrainNetwork(data, o.network, ctx));

  xray::ValidationSplit split;
  DetectionEval network_eval;
  CS_ASSIGN_OR_RETURN(
      const xray::DetectorMeta meta,
      xray::ChooseOperatingPoints(*network.net, data, o.points, network.init_region_probability,
                                  o.verifier.fit, ctx, &split, &network_eval));
  xray::TrainedVerifier verifier;
  if (o.verifier.fit) verifier = xray::FitVerifier(split, o.points, ctx);
  const bool verified = !verifier.model.is_null();
  // The final detections and points: the verifier's when it is fitted.
  const xray::DetectionsOf final_dets = [&](size_t i) -> const std::vector<Detection>& {
    return verified ? verifier.verified[i] : split.results[i].detections;
  };
  const std::vector<double>& final_points =
      verified ? verifier.points : meta.class_operating_probability;
  const DetectionEval& final_eval = verified ? verifier.eval : network_eval;
  const xray::SplitFigures figures =
      xray::FiguresBySubset(split, plan, o.data, final_dets, final_points);
  const xray::TrainedManifest manifest = xray::FitManifest(split, o.data, ctx);

  xray::ModelParts parts{&o,          &plan,     &data,    &network,  &meta,
                         &final_eval, &verifier, &figures, &manifest, ctx.Elapsed()};
  CS_RETURN_IF_ERROR(xray::SaveModel(*network.net, xray::ModelMetadata(parts), out_path));
  if (report) {
    report->train_scans = static_cast<int64_t>(data.train_idx.size()) - data.tip_used;
    report->tip_scans = data.tip_used;
    report->tip_by_class.assign(data.tip_by_class.begin(), data.tip_by_class.end());
    report->tip_small_packets = data.tip_small;
    report->validation_scans = static_cast<int64_t>(data.val_idx.size());
    report->epochs = network.epochs;
    report->seconds = ctx.Elapsed();
    report->operating_probability = meta.operating_probability;
    for (size_t k = 0; k < meta.threat_classes.size(); ++k)
      report->class_operating_probability.emplace_back(meta.threat_classes[k], final_points[k]);
    report->network_validation_table = verified ? network_eval.ToTable() : "";
    report->parameters = network.net->parameters();
    report->validation_table = final_eval.ToTable();
    report->validation_by_scanner_table = figures.by_scanner_table;
    report->validation_by_goods_table = figures.by_goods_table;
    report->manifest_table = verifier.note + manifest.table;
  }
  return Status::Ok();
}

}  // namespace clearsight
