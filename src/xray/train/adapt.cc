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
#include "xray/train/site_tune.h"
#include "xray/train/train_internal.h"

namespace clearsight {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// One model on the site's scans and their projected copies: the points chosen for the
// clean-alarm budget and what they find of the projected threats.
struct SiteCandidate {
  std::string name;
  const Detector* detector[2] = {nullptr, nullptr};  // for the scans of fold 0 and fold 1
  bool tuned = false, verifier = false;
  double floor_p = 0.02;
  std::vector<xray::SiteScores> clean, copies;
  std::vector<double> points;
  std::vector<int64_t> threats, found;  // per class
  int64_t alarms = 0;                   // held-back scans alarmed on any class
  double mean_found = 0;                // over the classes with projected threats
};

void ChooseAndCount(size_t allowed, SiteCandidate* c) {
  const size_t nc = ThreatClasses().size();
  std::vector<std::vector<double>> clean(nc), threats(nc);
  for (const auto& s : c->clean)
    for (size_t k = 0; k < nc; ++k) clean[k].push_back(s.best[k]);
  c->threats.assign(nc, 0);
  c->found.assign(nc, 0);
  for (const auto& s : c->copies) {
    const size_t k = xray::ClassIndex(s.threat_class);
    if (k < nc) threats[k].push_back(s.threat_score);
  }
  c->points = xray::ChooseClassOperatingPoints(clean, threats, c->floor_p, 0.999, allowed);
  // The base network's own points were chosen on thousands of validation parcels: a site's few
  // hundred scans may raise them (a flooding scanner) but not lower them (on a 220 kV scanner of
  // our simulator, points lowered on 300 site scans alarmed 5.6 % of new clean parcels, the base
  // model's 3.6 %). A tuned network has no such points.
  if (!c->tuned) {
    const std::vector<double> base = c->detector[0]->class_operating_probabilities();
    for (size_t k = 0; k < nc; ++k) c->points[k] = std::max(c->points[k], base[k]);
  }
  for (const auto& s : c->copies) {
    const size_t k = xray::ClassIndex(s.threat_class);
    if (k >= nc) continue;
    ++c->threats[k];
    c->found[k] += s.threat_score >= 0 && s.threat_score >= c->points[k];
  }
  c->alarms = 0;
  for (const auto& s : c->clean) {
    bool any = false;
    for (size_t k = 0; k < nc; ++k) any = any || (s.best[k] >= 0 && s.best[k] >= c->points[k]);
    c->alarms += any;
  }
  double sum = 0;
  int classes = 0;
  for (size_t k = 0; k < nc; ++k)
    if (c->threats[k] > 0) {
      sum += static_cast<double>(c->found[k]) / static_cast<double>(c->threats[k]);
      ++classes;
    }
  c->mean_found = classes ? sum / classes : 0;
}

// Saves `net` with `meta` to `path` and loads it as a detector reporting every candidate region.
Result<std::unique_ptr<Detector>> TemporaryDetector(const xray::Net& net, const json& meta,
                                                    const std::string& path, int threads) {
  CS_RETURN_IF_ERROR(net.Save(path, meta.dump()));
  DetectorOptions dopt;
  dopt.threads = threads;
  dopt.min_score = 1e-6;
  auto detector = Detector::Load(path, dopt);
  std::error_code ec;
  fs::remove(path, ec);
  return detector;
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
  if (!(o.manifest_refit_margin >= 0 && o.manifest_refit_margin <= 1))
    return Status::InvalidArgument("the manifest refit margin must be in [0, 1], got " +
                                   FormatDouble(o.manifest_refit_margin));
  if (o.min_scans < 10)
    return Status::InvalidArgument("min_scans must be at least 10, got " +
                                   std::to_string(o.min_scans));
  if (o.fine_tune_epochs < 0 || o.fine_tune_epochs > 200)
    return Status::InvalidArgument("fine-tuning epochs must be 0..200, got " +
                                   std::to_string(o.fine_tune_epochs));
  if (!(o.tip_copies >= 0.5 && o.tip_copies <= 8))
    return Status::InvalidArgument("projected copies per site scan must be in [0.5, 8], got " +
                                   FormatDouble(o.tip_copies));
  if (!(o.learning_rate > 0 && o.learning_rate <= 0.01))
    return Status::InvalidArgument("the fine-tuning learning rate must be in (0, 0.01], got " +
                                   FormatDouble(o.learning_rate));
  if (!(o.max_minutes > 0))
    return Status::InvalidArgument("the fine-tuning time budget must be positive");
  if (o.threads < 1 || o.threads > 64)
    return Status::InvalidArgument("threads must be 1..64, got " + std::to_string(o.threads));
  return Status::Ok();
}

Status AdaptDetectorToSite(
    const SiteAdaptOptions& o, const Calibration& calibration, const std::string& out_path,
    const std::function<void(const std::string& phase, int64_t done, int64_t total)>& progress,
    SiteAdaptReport* report) {
  CS_RETURN_IF_ERROR(ValidateSiteAdaptOptions(o));
  std::error_code ec;
  if (!fs::is_directory(o.site_dir, ec))
    return Status::NotFound(o.site_dir + ": no such site folder");
  const std::vector<std::string> paths = xray::ScanPaths(o.site_dir);
  if (static_cast<int64_t>(paths.size()) < o.min_scans)
    return Status::InvalidArgument(
        o.site_dir + ": " + std::to_string(paths.size()) + " scans; adapting to a site needs at " +
        "least " + std::to_string(o.min_scans) +
        " scans of its own recent traffic (a few hundred give steadier operating points)");
  auto report_progress = [&](const std::string& phase, int64_t done, int64_t total) {
    if (progress) progress(phase, done, total);
  };
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

  // Fine-tuning needs the product's threats as the site's scanner would image them.
  const bool tune = o.fine_tune_epochs > 0;
  std::optional<ThreatLibrary> library;
  if (tune) {
    CS_ASSIGN_OR_RETURN(Scan first, ReadScan(paths.front()));
    auto lib =
        xray::SiteThreatLibrary(calibration, first.meta.pixel_mm, 40, xray::MixSeed(o.seed, 3));
    if (!lib.ok())
      return lib.status().WithContext(
          "fine-tuning projects threats rendered for the site's scanner (--fine-tune-epochs 0 "
          "only sets the points)");
    library = std::move(*lib);
  }
  // The copies of site scan i: floor(tip_copies), one more by chance; the same on every call.
  auto copies_of = [&](size_t i) {
    const int whole = static_cast<int>(o.tip_copies);
    xray::Rng r(xray::MixSeed(o.seed, i, 5));
    return whole + (r.Chance(o.tip_copies - whole) ? 1 : 0);
  };
  auto copy_seed = [&](size_t i, int c) { return xray::MixSeed(o.seed, i * 16 + c, 7); };

  // Per scan, the highest score of each class (0: none), the manifest pairs, and (fine-tuning)
  // the training samples of the scans and of their projected copies.
  const auto& classes = detector->threat_classes();
  const size_t nc = classes.size();
  std::vector<std::vector<double>> best(paths.size(), std::vector<double>(nc, 0.0));
  std::vector<ManifestExample> pairs;
  std::vector<size_t> pair_scan;  // per pair, its scan's index in paths
  xray::TrainData data;
  std::vector<int> fold_of(paths.size(), 0), sample_fold;
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
    if (tune) {
      // Two folds by scan: each fold's network learns from its own scans and copies only.
      fold_of[i] = static_cast<int>(xray::HashId(scan->meta.scan_id) % 2);
      xray::Sample sample;
      CS_RETURN_IF_ERROR(xray::SiteSample(analysis, nullptr, &sample).WithContext(paths[i]));
      data.samples.push_back(std::move(sample));
      sample_fold.push_back(fold_of[i]);
      for (int c = 0; c < copies_of(i); ++c) {
        Scan copy = *scan;
        auto projected = xray::ProjectSiteThreat(*library, analysis, copy_seed(i, c), &copy);
        if (!projected.ok()) continue;  // the threat fell outside the scan
        copy.meta.scan_id += "_tip" + std::to_string(c);
        CS_ASSIGN_OR_RETURN(ScanAnalysis ca, analyzer->Analyze(copy));
        CS_RETURN_IF_ERROR(xray::SiteSample(ca, &*projected, &sample).WithContext(paths[i]));
        data.samples.push_back(std::move(sample));
        sample_fold.push_back(fold_of[i]);
        ++data.tip_used;
      }
    }
    if (decls.ok()) {
      auto it = decls->find(scan->meta.consignment_id);
      if (it != decls->end()) {
        analysis.channels = {};  // the manifest reads objects and totals only
        pairs.push_back({std::move(analysis), std::move(det), it->second});
        pair_scan.push_back(i);
      }
    }
    report_progress("site scans analysed", static_cast<int64_t>(i) + 1,
                    static_cast<int64_t>(paths.size()));
  }
  const int64_t n = static_cast<int64_t>(paths.size());
  // Site scans alarmed at the base model's points (score 0.5), per class.
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
  const bool verified = detector->has_verifier();
  const std::vector<double> base_p = detector->class_operating_probabilities();
  std::vector<double> site_p(nc);
  std::vector<int64_t> after_by_class = before_by_class;
  int64_t after = before;
  json network_record = "not fine-tuned: the base model's weights";
  std::unique_ptr<xray::Net> tuned_net;
  const xray::Net* final_net = net.get();
  SiteCandidate kept;
  std::string candidates_table;
  double train_seconds = 0;
  int64_t copies_scored_total = 0;

  if (!tune) {
    // Operating points: the base model's (score 0.5) are raised, lowest-scoring alarms first,
    // until at most target_clean_alarm_rate + assumed_threat_share of the site's scans alarm on
    // any class: the traffic's few threats are allowed for, the clean parcels may not flood the
    // officers. Points are never lowered below the base model's.
    const int64_t budget = static_cast<int64_t>(
        std::floor((o.target_clean_alarm_rate + o.assumed_threat_share) * n + 1e-9));
    xray::RaisePointsToBudgets({best}, {budget}, &threshold);
    after = alarmed(&after_by_class);
    // The new points in the probabilities the model compares (the verifier's when it has one).
    for (size_t k = 0; k < nc; ++k)
      site_p[k] = std::min(0.999999, xray::ProbabilityFromScore(threshold[k], base_p[k]));
    json& points = verified ? meta["verifier"]["class_operating_probability"]
                            : meta["class_operating_probability"];
    for (size_t k = 0; k < nc; ++k) points[classes[k]] = site_p[k];
    if (!verified) meta["operating_probability"] = *std::min_element(site_p.begin(), site_p.end());
  } else {
    const int64_t fold_scans[2] = {std::count(fold_of.begin(), fold_of.end(), 0),
                                   std::count(fold_of.begin(), fold_of.end(), 1)};
    if (std::min(fold_scans[0], fold_scans[1]) < 10)
      return Status::InvalidArgument(o.site_dir + ": the site's scans split into folds of " +
                                     std::to_string(fold_scans[0]) + " and " +
                                     std::to_string(fold_scans[1]) +
                                     "; fine-tuning needs at least 10 in each (give more scans)");
    xray::TrainContext ctx;
    ctx.seed = o.seed;
    ctx.threads = o.threads;
    std::string stage;
    ctx.progress = [&](const TrainProgress& p) {
      if (p.phase == TrainPhase::kTraining)
        report_progress(
            stage + ", epoch " + std::to_string(p.epoch) + "/" + std::to_string(p.epochs), p.done,
            p.total);
    };
    NetworkTrainOptions nto;
    nto.init_path = o.base_model;
    nto.epochs = o.fine_tune_epochs;
    nto.learning_rate = o.learning_rate;
    // A quarter of the time budget for each fold's network, half for the final one.
    nto.max_minutes = o.max_minutes / 4;
    auto train_on = [&](int fold) -> Result<xray::TrainedNetwork> {
      data.train_idx.clear();
      for (size_t j = 0; j < data.samples.size(); ++j)
        if (fold < 0 || sample_fold[j] == fold) data.train_idx.push_back(j);
      return xray::TrainNetwork(data, nto, ctx);
    };
    std::unique_ptr<xray::Net> fold_net[2];
    int tuned_epochs = 0;
    for (int f = 0; f < 2; ++f) {
      stage = "fine-tuning on fold " + std::to_string(f + 1) + " of 2";
      CS_ASSIGN_OR_RETURN(xray::TrainedNetwork t, train_on(f));
      fold_net[f] = std::move(t.net);
      tuned_epochs = t.epochs;
    }
    const int64_t train_samples = static_cast<int64_t>(data.samples.size());
    const int64_t train_copies = data.tip_used;

    // The candidates on every site scan and its copies: the base network, and the tuned one
    // scored out of fold (a scan by the network that did not learn from it), each with the base
    // model's verifier (when it has one) and without.
    json meta_network = meta;
    meta_network.erase("verifier");
    meta_network.erase("unseen_scanner");  // the verifier's points
    const std::string tmp = out_path + ".candidate.tmp";
    CS_ASSIGN_OR_RETURN(auto base_network, TemporaryDetector(*net, meta_network, tmp, o.threads));
    std::unique_ptr<Detector> tuned_network[2], tuned_verified[2];
    for (int f = 0; f < 2; ++f) {
      CS_ASSIGN_OR_RETURN(tuned_network[f],
                          TemporaryDetector(*fold_net[f], meta_network, tmp, o.threads));
      if (verified) {
        CS_ASSIGN_OR_RETURN(tuned_verified[f],
                            TemporaryDetector(*fold_net[f], meta, tmp, o.threads));
      }
    }
    const double region_p = meta.value("region_probability", 0.3);
    std::vector<SiteCandidate> cands;
    // Candidate `name`: its detector for the scans of fold 0 and of fold 1.
    auto add = [&](const char* name, const Detector* d0, const Detector* d1, bool tuned,
                   bool with_verifier) {
      SiteCandidate c;
      c.name = name;
      c.detector[0] = d0;
      c.detector[1] = d1;
      c.tuned = tuned;
      c.verifier = with_verifier;
      c.floor_p = with_verifier ? 0.02 : region_p;
      cands.push_back(std::move(c));
    };
    if (verified) add("base network with verifier", detector.get(), detector.get(), false, true);
    add("base network", base_network.get(), base_network.get(), false, false);
    if (verified)
      add("tuned network with verifier", tuned_verified[1].get(), tuned_verified[0].get(), true,
          true);
    add("tuned network", tuned_network[1].get(), tuned_network[0].get(), true, false);
    int64_t copies_scored = 0;
    for (size_t i = 0; i < paths.size(); ++i) {
      CS_ASSIGN_OR_RETURN(Scan scan, ReadScan(paths[i]));
      CS_ASSIGN_OR_RETURN(ScanAnalysis analysis, analyzer->Analyze(scan));
      const int f = fold_of[i];
      for (auto& c : cands)
        c.clean.push_back(xray::ScoreSiteScan(*c.detector[f], analysis, nullptr));
      for (int c = 0; c < copies_of(i); ++c) {
        Scan copy = scan;
        auto projected = xray::ProjectSiteThreat(*library, analysis, copy_seed(i, c), &copy);
        if (!projected.ok()) continue;
        CS_ASSIGN_OR_RETURN(ScanAnalysis ca, analyzer->Analyze(copy));
        for (auto& cand : cands)
          cand.copies.push_back(xray::ScoreSiteScan(*cand.detector[f], ca, &*projected));
        ++copies_scored;
      }
      copies_scored_total = copies_scored;
      report_progress("site scans and copies scored out of fold", static_cast<int64_t>(i) + 1, n);
    }
    const size_t allowed = static_cast<size_t>(
        std::floor((o.target_clean_alarm_rate + o.assumed_threat_share) * n + 1e-9));
    // The kept model finds the most projected threats (mean share over the classes) within the
    // budget; on a tie the earlier (the base before the tuned, the verifier before none). A
    // candidate whose clean scores reach the highest point on more scans than the budget allows
    // cannot keep it and is kept only when none can (then the one alarming least).
    auto better = [&](const SiteCandidate& a, const SiteCandidate& b) {
      const bool a_in = a.alarms <= static_cast<int64_t>(allowed),
                 b_in = b.alarms <= static_cast<int64_t>(allowed);
      if (a_in != b_in) return a_in;
      return a_in ? a.mean_found > b.mean_found : a.alarms < b.alarms;
    };
    size_t choice = 0;
    for (size_t c = 0; c < cands.size(); ++c) {
      ChooseAndCount(allowed, &cands[c]);
      if (better(cands[c], cands[choice])) choice = c;
    }
    char line[160];
    candidates_table = "candidate                      found  scans alarmed\n";
    for (size_t c = 0; c < cands.size(); ++c) {
      std::snprintf(line, sizeof line, "%-28s %7.3f %8.3f%s\n", cands[c].name.c_str(),
                    cands[c].mean_found, static_cast<double>(cands[c].alarms) / n,
                    c == choice                                       ? "   <- kept"
                    : cands[c].alarms > static_cast<int64_t>(allowed) ? "   (over the budget)"
                                                                      : "");
      candidates_table += line;
    }
    kept = cands[choice];
    const SiteCandidate& base_cand = cands[0];
    site_p = kept.points;
    if (kept.tuned) {
      // The manifest reads the goods the kept network sees: its goods outputs (out of fold) are
      // the ones the base-or-refit choice and the refit learn from, not the base network's.
      for (size_t p = 0; p < pairs.size(); ++p) {
        pairs[p].detection.goods_share = kept.clean[pair_scan[p]].goods_share;
        pairs[p].detection.goods_area_cm2 = kept.clean[pair_scan[p]].goods_area_cm2;
      }
      // The network written learns from every scan and copy; its points are the folds'.
      stage = "fine-tuning on all the site's scans";
      nto.max_minutes = o.max_minutes / 2;
      CS_ASSIGN_OR_RETURN(xray::TrainedNetwork t, train_on(-1));
      tuned_net = std::move(t.net);
      final_net = tuned_net.get();
    }
    data = xray::TrainData{};
    train_seconds = ctx.Elapsed();
    if (kept.verifier) {
      for (size_t k = 0; k < nc; ++k)
        meta["verifier"]["class_operating_probability"][classes[k]] = site_p[k];
    } else {
      meta.erase("verifier");
      for (size_t k = 0; k < nc; ++k) meta["class_operating_probability"][classes[k]] = site_p[k];
      meta["operating_probability"] = *std::min_element(site_p.begin(), site_p.end());
    }
    json found = json::object();
    for (size_t k = 0; k < nc; ++k)
      found[classes[k]] = {{"projected", kept.threats[k]},
                           {"found", kept.found[k]},
                           {"found_by_base", base_cand.found[k]}};
    network_record = {{"kept", kept.name},
                      {"fine_tune_epochs", tuned_epochs},
                      {"learning_rate", o.learning_rate},
                      {"train_samples", train_samples},
                      {"train_projected_copies", train_copies},
                      {"points_from", "every site scan and copy, the tuned networks out of fold"},
                      {"scored_scans", n},
                      {"scored_copies", copies_scored},
                      {"scored_alarms", kept.alarms},
                      {"found", found},
                      {"seed", o.seed},
                      {"seconds", train_seconds}};
    // Site scans alarmed per class at the kept points (a tuned network's out of fold).
    after = kept.alarms;
    after_by_class.assign(nc, 0);
    for (const auto& s : kept.clean)
      for (size_t k = 0; k < nc; ++k) after_by_class[k] += s.best[k] >= 0 && s.best[k] >= site_p[k];
    if (report) {
      report->classes.clear();
      for (size_t k = 0; k < nc; ++k) {
        SiteAdaptClass c{classes[k],        base_p[k],       site_p[k],          before_by_class[k],
                         after_by_class[k], kept.threats[k], base_cand.found[k], kept.found[k]};
        report->classes.push_back(c);
      }
    }
  }

  // The manifest model: refitted on the site's declared traffic when it is large enough to tell
  // goods groups apart, else the base model's is kept.
  std::string manifest_note;
  json manifest_record = json::object();
  if (o.manifest == SiteAdaptOptions::Manifest::kKeep) {
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
    // How well the base model explains the site's declarations: the share of its scans whose
    // declared goods group fits the image best (a chapter the model has no reference for does
    // not fit), against the refit's share out of fold.
    double base_top1 = 0;
    if (base_manifest) {
      int64_t fits = 0;
      for (const auto& p : pairs) {
        const ManifestCheck c = base_manifest->Check(p.analysis, p.detection, p.declaration);
        const auto& known = base_manifest->chapters();
        fits += c.best_chapter == c.declared_chapter &&
                std::find(known.begin(), known.end(), c.declared_chapter) != known.end();
      }
      base_top1 = static_cast<double>(fits) / static_cast<double>(pairs.size());
    }
    const auto pct = [](double v) { return FormatFixed(100 * v, 1) + " %"; };
    if (!refit.ok()) {
      manifest_note = "kept the base model's: " + refit.status().message();
    } else {
      const bool better = mr.cv_top1 >= base_top1 + o.manifest_refit_margin;
      const bool keep_refit =
          o.manifest == SiteAdaptOptions::Manifest::kRefit || !base_manifest || better;
      manifest_record = {
          {"declared_goods_fit_best_base", base_top1},
          {"declared_goods_fit_best_refit_cross_validated", mr.cv_top1},
          {"refitted", keep_refit},
          {"goods_outputs", kept.tuned ? "tuned network, out of fold" : "base network"}};
      const std::string why = "declared goods fit best on " + pct(mr.cv_top1) +
                              " of the site's scans refitted (cross-validated), " + pct(base_top1) +
                              " with the base model's";
      if (keep_refit) {
        meta["manifest"] = json::parse(refit->ToJson());
        manifest_note = "refitted on " + std::to_string(pairs.size()) +
                        " declared scans of the site (" + why + ")\n" + mr.ToTable();
      } else {
        manifest_note = "kept the base model's (" + why + ", a refit needs " +
                        pct(o.manifest_refit_margin) + " more)";
      }
    }
  }
  if (!base_manifest && !meta.contains("manifest")) manifest_note += " (the base model has none)";

  json per_class = json::object();
  for (size_t k = 0; k < nc; ++k)
    per_class[classes[k]] = {{"base_probability", base_p[k]},
                             {"site_probability", site_p[k]},
                             {"site_alarms_at_base", before_by_class[k]},
                             {"site_alarms", after_by_class[k]}};
  // The site model knows one scanner, the site's: with the base network kept as it was (with or
  // without its verifier), its unseen-scanner points stay for scans of another; otherwise it has
  // none (they were another network's or stage's probabilities).
  if (meta.contains("unseen_scanner")) {
    const bool same_stage = meta["unseen_scanner"].value("operating_points", "") ==
                            (meta.contains("verifier") ? "verifier" : "network");
    if (final_net != net.get() || !same_stage)
      meta.erase("unseen_scanner");
    else
      meta["unseen_scanner"]["known_scanners"] = json::array({json::parse(calibration.ToJson())});
  }
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
      {"operating_points", (tune ? kept.verifier : verified) ? "verifier" : "network"},
      {"classes", per_class},
      {"network", network_record},
      {"manifest", manifest_note.substr(0, manifest_note.find('\n'))},
      {"manifest_choice", manifest_record}};
  const std::string tmp = out_path + ".tmp";
  CS_RETURN_IF_ERROR(final_net->Save(tmp, meta.dump()));
  fs::rename(tmp, out_path, ec);
  if (ec) return Status::IoError(out_path + ": " + ec.message());
  // The file must load as a detector before it is reported written.
  if (auto check = Detector::Load(out_path); !check.ok()) return check.status();
  if (report) {
    report->scans = n;
    report->declared_scans = static_cast<int64_t>(pairs.size());
    report->alarm_rate_at_base = static_cast<double>(before) / n;
    report->alarm_rate = static_cast<double>(after) / n;
    if (!tune) {
      report->classes.clear();
      for (size_t k = 0; k < nc; ++k)
        report->classes.push_back(
            {classes[k], base_p[k], site_p[k], before_by_class[k], after_by_class[k]});
    }
    report->manifest = manifest_note;
    if (tune) {
      report->network = kept.name;
      report->candidates_table = candidates_table;
      report->scored_copies = copies_scored_total;
      report->train_seconds = train_seconds;
    }
  }
  return Status::Ok();
}

}  // namespace clearsight
