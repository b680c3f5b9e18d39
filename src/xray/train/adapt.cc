// AdaptDetectorToSite: a model's operating points (and manifest model) set on a site's own
// traffic, with the record of how.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>

#include "clearsight/text.h"
#include "clearsight/xray_manifest.h"
#include "clearsight/xray_train.h"
#include "xray/train/train_internal.h"

namespace clearsight {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The site's scans: every format-v1 scan in the folder (wedge scans, which carry a "wedge" object
// in their sidecar, are not traffic and are skipped by their name only if they say so).
std::vector<std::string> SiteScans(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".tif" || ext == ".tiff")) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Status ValidateSiteAdaptOptions(const SiteAdaptOptions& o) {
  if (o.base_model.empty()) return Status::InvalidArgument("no base model given");
  if (o.site_dir.empty()) return Status::InvalidArgument("no site folder given");
  if (!(o.target_clean_alarm_rate > 0 && o.target_clean_alarm_rate <= 0.2))
    return Status::InvalidArgument("the target clean-alarm rate must be in (0, 0.2], got " +
                                   FormatDouble(o.target_clean_alarm_rate));
  if (!(o.assumed_threat_share >= 0 && o.assumed_threat_share <= 0.1))
    return Status::InvalidArgument("the assumed threat share must be in [0, 0.1], got " +
                                   FormatDouble(o.assumed_threat_share));
  if (o.min_scans < 10)
    return Status::InvalidArgument("min_scans must be at least 10, got " +
                                   std::to_string(o.min_scans));
  if (o.threads < 1 || o.threads > 64)
    return Status::InvalidArgument("threads must be 1..64, got " + std::to_string(o.threads));
  return Status::Ok();
}

Status AdaptDetectorToSite(const SiteAdaptOptions& o, const Calibration& calibration,
                           const std::string& out_path,
                           const std::function<void(int64_t done, int64_t total)>& progress,
                           SiteAdaptReport* report) {
  CS_RETURN_IF_ERROR(ValidateSiteAdaptOptions(o));
  std::error_code ec;
  if (!fs::is_directory(o.site_dir, ec))
    return Status::NotFound(o.site_dir + ": no such site folder");
  const std::vector<std::string> paths = SiteScans(o.site_dir);
  if (static_cast<int64_t>(paths.size()) < o.min_scans)
    return Status::InvalidArgument(
        o.site_dir + ": " + std::to_string(paths.size()) + " scans; adapting to a site needs at " +
        "least " + std::to_string(o.min_scans) +
        " scans of its own recent traffic (a few hundred give steadier operating points)");
  // The base model: every candidate region reported, so that the site's scores are seen whole.
  DetectorOptions dopt;
  dopt.threads = o.threads;
  dopt.min_score = 1e-6;
  CS_ASSIGN_OR_RETURN(auto detector, Detector::Load(o.base_model, dopt));
  std::string meta_text;
  CS_ASSIGN_OR_RETURN(auto net, xray::Net::Load(o.base_model, &meta_text));
  json meta = json::parse(meta_text, nullptr, false);
  if (meta.is_discarded() || !meta.is_object())
    return Status::DataLoss(o.base_model + ": unreadable detector metadata");
  CS_ASSIGN_OR_RETURN(auto analyzer, Analyzer::Create(calibration));
  CS_ASSIGN_OR_RETURN(auto base_manifest, ManifestModel::FromDetector(*detector));
  IngestReport ir;
  const std::string decl_path = (fs::path(o.site_dir) / "declarations.csv").string();
  auto decls = ReadDeclarationsByConsignment(decl_path, &ir);

  // Per scan, the highest score of each class (0: none), and the manifest pairs.
  const auto& classes = detector->threat_classes();
  const size_t nc = classes.size();
  std::vector<std::vector<double>> best(paths.size(), std::vector<double>(nc, 0.0));
  std::vector<ManifestExample> pairs;
  for (size_t i = 0; i < paths.size(); ++i) {
    auto scan = ReadScan(paths[i]);
    if (!scan.ok()) return scan.status();
    CS_ASSIGN_OR_RETURN(ScanAnalysis analysis, analyzer->Analyze(*scan));
    CS_ASSIGN_OR_RETURN(DetectionResult det, detector->Detect(analysis));
    for (const auto& d : det.detections) {
      const size_t k = static_cast<size_t>(
          std::find(classes.begin(), classes.end(), d.threat_class) - classes.begin());
      if (k < nc) best[i][k] = std::max(best[i][k], d.score);
    }
    if (decls.ok()) {
      auto it = decls->find(scan->meta.consignment_id);
      if (it != decls->end()) {
        analysis.channels = {};  // the manifest reads objects and totals only
        pairs.push_back({std::move(analysis), std::move(det), it->second});
      }
    }
    if (progress) progress(static_cast<int64_t>(i) + 1, static_cast<int64_t>(paths.size()));
  }

  // Operating points: the base model's (score 0.5) are raised, lowest-scoring alarms first, until
  // at most target_clean_alarm_rate + assumed_threat_share of the site's scans alarm on any
  // class: the traffic's few threats are allowed for, the clean parcels may not flood the
  // officers. Points are never lowered below the base model's.
  const int64_t n = static_cast<int64_t>(paths.size());
  const int64_t budget = static_cast<int64_t>(
      std::floor((o.target_clean_alarm_rate + o.assumed_threat_share) * n + 1e-9));
  std::vector<double> threshold(nc, 0.5);
  auto alarmed = [&](std::vector<int64_t>* per_class) {
    int64_t scans = 0;
    if (per_class) per_class->assign(nc, 0);
    for (const auto& b : best) {
      bool any = false;
      for (size_t k = 0; k < nc; ++k)
        if (b[k] >= threshold[k]) {
          any = true;
          if (per_class) ++(*per_class)[k];
        }
      scans += any;
    }
    return scans;
  };
  std::vector<int64_t> before_by_class;
  const int64_t before = alarmed(&before_by_class);
  for (int64_t guard = 0; alarmed(nullptr) > budget && guard < n * static_cast<int64_t>(nc);
       ++guard) {
    // The lowest score that still alarms, over all classes: raise that class just above it.
    double lowest = 2;
    size_t cls = nc;
    for (const auto& b : best)
      for (size_t k = 0; k < nc; ++k)
        if (b[k] >= threshold[k] && b[k] < lowest) {
          lowest = b[k];
          cls = k;
        }
    if (cls == nc) break;
    threshold[cls] = std::nextafter(lowest, 2.0);
  }
  std::vector<int64_t> after_by_class;
  const int64_t after = alarmed(&after_by_class);

  // The new points in the probabilities the model compares (the verifier's when it has one).
  const bool verified = detector->has_verifier();
  const std::vector<double> base_p = detector->class_operating_probabilities();
  std::vector<double> site_p(nc);
  for (size_t k = 0; k < nc; ++k)
    site_p[k] = std::min(0.999999, xray::ProbabilityFromScore(threshold[k], base_p[k]));
  json& points = verified ? meta["verifier"]["class_operating_probability"]
                          : meta["class_operating_probability"];
  for (size_t k = 0; k < nc; ++k) points[classes[k]] = site_p[k];
  if (!verified) meta["operating_probability"] = *std::min_element(site_p.begin(), site_p.end());

  // The manifest model: refitted on the site's declared traffic when it is large enough to tell
  // goods groups apart, else the base model's is kept.
  std::string manifest_note;
  if (!o.refit_manifest) {
    manifest_note = "kept the base model's (refitting on the site's scans was not asked for)";
  } else if (!decls.ok()) {
    manifest_note = "kept the base model's: " + decls.status().message();
  } else if (static_cast<int64_t>(pairs.size()) < o.min_manifest_pairs) {
    manifest_note = "kept the base model's: " + std::to_string(pairs.size()) +
                    " scans with a declaration, refitting needs " +
                    std::to_string(o.min_manifest_pairs);
  } else {
    ManifestFitOptions mo;
    mo.threads = o.threads;
    ManifestFitReport mr;
    auto refit = ManifestModel::Fit(pairs, mo, &mr);
    if (refit.ok()) {
      meta["manifest"] = json::parse(refit->ToJson());
      manifest_note = "refitted on " + std::to_string(pairs.size()) +
                      " declared scans of the site\n" + mr.ToTable();
    } else {
      manifest_note = "kept the base model's: " + refit.status().message();
    }
  }
  if (!base_manifest && !meta.contains("manifest")) manifest_note += " (the base model has none)";

  json per_class = json::object();
  for (size_t k = 0; k < nc; ++k)
    per_class[classes[k]] = {{"base_probability", base_p[k]},
                             {"site_probability", site_p[k]},
                             {"site_alarms_at_base", before_by_class[k]},
                             {"site_alarms", after_by_class[k]}};
  meta["site_adaptation"] = {
      {"command", o.command},
      {"date", IsoTime(std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count())},
      {"base_model", fs::path(o.base_model).filename().string()},
      {"base_model_sha256", o.base_model_sha256},
      {"site", o.site_dir},
      {"site_scans", n},
      {"declared_scans", static_cast<int64_t>(pairs.size())},
      {"calibration_device", calibration.device()},
      {"calibration_sha256", o.calibration_sha256},
      {"target_clean_alarm_rate", o.target_clean_alarm_rate},
      {"assumed_threat_share", o.assumed_threat_share},
      {"site_alarm_rate_at_base", static_cast<double>(before) / n},
      {"site_alarm_rate", static_cast<double>(after) / n},
      {"operating_points", verified ? "verifier" : "network"},
      {"classes", per_class},
      {"network", "not fine-tuned: the base model's weights"},
      {"manifest", manifest_note.substr(0, manifest_note.find('\n'))}};
  const std::string tmp = out_path + ".tmp";
  CS_RETURN_IF_ERROR(net->Save(tmp, meta.dump()));
  fs::rename(tmp, out_path, ec);
  if (ec) return Status::IoError(out_path + ": " + ec.message());
  // The file must load as a detector before it is reported written.
  if (auto check = Detector::Load(out_path); !check.ok()) return check.status();
  if (report) {
    report->scans = n;
    report->declared_scans = static_cast<int64_t>(pairs.size());
    report->alarm_rate_at_base = static_cast<double>(before) / n;
    report->alarm_rate = static_cast<double>(after) / n;
    report->classes.clear();
    for (size_t k = 0; k < nc; ++k)
      report->classes.push_back(
          {classes[k], base_p[k], site_p[k], before_by_class[k], after_by_class[k]});
    report->manifest = manifest_note;
  }
  return Status::Ok();
}

}  // namespace clearsight
