// SetUnseenScannerPoints: a model's operating points for scanners it has never seen, set on the
// clean parcels of validation scanners it was not trained on, with the list of scanners it knows.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "clearsight/xray_train.h"
#include "xray/train/site_tune.h"
#include "xray/train/train_internal.h"

namespace clearsight {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Whether the truth of a simulated scan holds a threat. NotFound without a truth file.
Result<bool> TruthHasThreat(const std::string& data_dir, const std::string& scan_path) {
  const fs::path truth =
      fs::path(data_dir) / "truth" / (fs::path(scan_path).stem().string() + ".json");
  CS_ASSIGN_OR_RETURN(std::string text, ReadFile(truth.string()));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.contains("objects") || !j["objects"].is_array())
    return Status::InvalidArgument(truth.string() + ": not a truth file (no objects)");
  for (const auto& o : j["objects"])
    if (o.value("threat", false)) return true;
  return false;
}

}  // namespace

Status SetUnseenScannerPoints(
    const UnseenPointsOptions& o, const std::string& out_path,
    const std::function<void(const std::string& phase, int64_t done, int64_t total)>& progress,
    UnseenPointsReport* report) {
  if (o.base_model.empty()) return Status::InvalidArgument("no base model given");
  if (o.scanners.size() < 2)
    return Status::InvalidArgument(
        "points for unseen scanners need at least two validation scanners, got " +
        std::to_string(o.scanners.size()));
  if (o.known.empty())
    return Status::InvalidArgument(
        "no known scanners: give the calibrations of the scanners the "
        "model was trained on");
  if (!(o.target_clean_alarm_rate > 0 && o.target_clean_alarm_rate <= 0.2))
    return Status::InvalidArgument("the target clean-alarm rate must be in (0, 0.2], got " +
                                   FormatDouble(o.target_clean_alarm_rate));
  if (!(o.max_scanner_distance > 0 && o.max_scanner_distance < 1))
    return Status::InvalidArgument("the scanner distance tolerance must be in (0, 1), got " +
                                   FormatDouble(o.max_scanner_distance));
  if (o.threads < 1 || o.threads > 64)
    return Status::InvalidArgument("threads must be 1..64, got " + std::to_string(o.threads));

  UnseenPointsReport rep;
  for (const auto& set : o.scanners) {
    UnseenPointsReport::Scanner r;
    r.data_dir = set.data_dir;
    r.device = set.calibration.device();
    r.nearest_known = 1e300;
    for (const auto& k : o.known)
      r.nearest_known = std::min(r.nearest_known, ScannerDistance(set.calibration, k));
    if (r.nearest_known <= o.max_scanner_distance)
      return Status::InvalidArgument(
          set.data_dir + ": its scanner is " + FormatFixed(r.nearest_known, 3) +
          " from a known one (tolerance " + FormatFixed(o.max_scanner_distance, 3) +
          "): validation scanners must be ones the model was not trained on");
    rep.scanners.push_back(r);
  }

  DetectorOptions dopt;
  dopt.threads = o.threads;
  dopt.min_score = 1e-6;  // every candidate region: the scores are seen whole
  dopt.scanner_points = DetectorOptions::ScannerPoints::kKnown;
  CS_ASSIGN_OR_RETURN(auto detector, Detector::Load(o.base_model, dopt));
  const size_t nc = detector->threat_classes().size();
  rep.classes = detector->threat_classes();
  rep.base_points = detector->class_operating_probabilities();

  // Per scanner, per clean parcel, the highest probability of each class (-1: none).
  std::vector<std::vector<std::vector<double>>> best(o.scanners.size());
  for (size_t s = 0; s < o.scanners.size(); ++s) {
    const UnseenScannerSet& set = o.scanners[s];
    std::error_code ec;
    if (!fs::is_directory(fs::path(set.data_dir) / "truth", ec))
      return Status::NotFound(set.data_dir +
                              ": no truth/ folder (validation scans need their truth: xray "
                              "simulate writes it)");
    const std::vector<std::string> paths = xray::ScanPaths(set.data_dir);
    CS_ASSIGN_OR_RETURN(auto analyzer, Analyzer::Create(set.calibration));
    for (size_t i = 0; i < paths.size(); ++i) {
      CS_ASSIGN_OR_RETURN(bool threat, TruthHasThreat(set.data_dir, paths[i]));
      if (!threat) {
        CS_ASSIGN_OR_RETURN(Scan scan, ReadScan(paths[i]));
        CS_ASSIGN_OR_RETURN(ScanAnalysis analysis, analyzer->Analyze(scan));
        best[s].push_back(xray::ScoreSiteScan(*detector, analysis, nullptr).best);
      }
      if (progress)
        progress("scanner " + std::to_string(s + 1) + " of " + std::to_string(o.scanners.size()),
                 static_cast<int64_t>(i) + 1, static_cast<int64_t>(paths.size()));
    }
    if (best[s].size() < 20)
      return Status::InvalidArgument(set.data_dir + ": " + std::to_string(best[s].size()) +
                                     " clean parcels; each validation scanner needs at least 20");
  }

  // Raise the points until every scanner is within its budget; never lowered.
  std::vector<double> points = rep.base_points;
  std::vector<int64_t> budget;
  for (size_t s = 0; s < best.size(); ++s) {
    budget.push_back(static_cast<int64_t>(
        std::floor(o.target_clean_alarm_rate * static_cast<double>(best[s].size()) + 1e-9)));
    rep.scanners[s].alarmed_at_base = xray::AlarmedScans(best[s], points);
  }
  xray::RaisePointsToBudgets(best, budget, &points);
  if (*std::max_element(points.begin(), points.end()) >= 0.999999)
    return Status::Internal("unseen-scanner points out of range");
  for (size_t s = 0; s < best.size(); ++s) {
    rep.scanners[s].clean = static_cast<int64_t>(best[s].size());
    rep.scanners[s].alarmed = xray::AlarmedScans(best[s], points);
  }
  rep.points = points;

  // The model with the points and the known scanners.
  std::string meta_text;
  CS_ASSIGN_OR_RETURN(auto net, xray::Net::Load(o.base_model, &meta_text));
  json meta = json::parse(meta_text, nullptr, false);
  if (meta.is_discarded() || !meta.is_object())
    return Status::DataLoss(o.base_model + ": unreadable detector metadata");
  const auto& classes = rep.classes;
  json per_class = json::object(), known = json::array(), sets = json::array();
  for (size_t k = 0; k < nc; ++k) per_class[classes[k]] = points[k];
  for (const auto& k : o.known) known.push_back(json::parse(k.ToJson()));
  for (const auto& r : rep.scanners)
    sets.push_back({{"data", r.data_dir},
                    {"calibration_device", r.device},
                    {"nearest_known", r.nearest_known},
                    {"clean_scans", r.clean},
                    {"alarmed_at_model_points", r.alarmed_at_base},
                    {"alarmed", r.alarmed}});
  meta["unseen_scanner"] = {
      {"command", o.command},
      {"date", IsoTime(std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count())},
      {"operating_points", detector->has_verifier() ? "verifier" : "network"},
      {"class_operating_probability", per_class},
      {"target_clean_alarm_rate", o.target_clean_alarm_rate},
      {"max_scanner_distance", o.max_scanner_distance},
      {"validation_scanners", sets},
      {"known_scanners", known}};
  const std::string tmp = out_path + ".tmp";
  CS_RETURN_IF_ERROR(net->Save(tmp, meta.dump()));
  std::error_code ec;
  fs::rename(tmp, out_path, ec);
  if (ec) return Status::IoError(out_path + ": " + ec.message());
  if (auto check = Detector::Load(out_path); !check.ok()) return check.status();
  if (report) *report = std::move(rep);
  return Status::Ok();
}

}  // namespace clearsight
