// clearsight xray train / eval: the detector's laboratory (include/clearsight/xray_train.h).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "clearsight/file_util.h"
#include "clearsight/store.h"  // Sha256Hex
#include "clearsight/text.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_train.h"
#include "commands.h"

namespace clearsight::cli {

namespace fs = std::filesystem;

int CmdXrayTrain(int argc, char** argv, int first) {
  const char usage[] =
      "usage: clearsight xray train --data DIR --calibration calib.json --out model.pt [flags]\n\n"
      "Trains the threat detector on the scans in DIR (xray simulate output: scans, truth/, "
      "declarations)\n"
      "plus threat-image-projected copies of its clean scans, picks an operating point per threat "
      "class\n"
      "on a validation split (by scan id), fits the manifest model on that split's honest pairs, "
      "and\n"
      "writes one file.\n"
      "  --data DIR[,DIR...]    training scans with truth/<scan_id>.json; several directories "
      "(scans of\n"
      "                         several scanners) are trained on together; TIP copies of a DIR's\n"
      "                         clean scans need a library of its scanner (--threats)\n"
      "  --calibration PATH[,PATH...]  calibration of the scanner that made each DIR, in the same "
      "order\n"
      "  --out PATH             the model file (LibTorch archive with settings and manifest "
      "model)\n"
      "  --seed S               network initialisation, crops, augmentation, TIP (default 1)\n"
      "  --epochs N             passes over the training scans (default 20)\n"
      "  --batch N              crops per step (default 12)\n"
      "  --crop N               crop size in 4-pixel cells, multiple of 16 (default 96)\n"
      "  --lr X                 peak learning rate (default 0.003; warm-up, cosine decay)\n"
      "  --class-weight C=W[,C=W...]  loss weight of threat class C relative to the others "
      "(default 1)\n"
      "  --class-priority C=W[,C=W...]  when the clean-alarm budget is shared among the classes'\n"
      "                         operating points, class C's found threats count W times (default "
      "1)\n"
      "  --threats DIR[,DIR...]  threat library for TIP (xray threats) of each --data DIR's "
      "scanner, in\n"
      "                         order; an empty entry or fewer entries: no TIP for those DIRs, "
      "except\n"
      "                         the first, whose default is simulated with --tip-seed (default "
      "seed +\n"
      "                         1000), 40 patches per class\n"
      "  --tip-rate R           projected copies per clean training scan (default 0.5; 0 = none)\n"
      "  --tip-class C[,C...]   classes of the projected patches (default: any class)\n"
      "  --tip-max-kg M         only patches of at most M kg, each over a goods item (default: "
      "any)\n"
      "  --tip-targeted-share S  share of the copies (by chance) that --tip-class and "
      "--tip-max-kg\n"
      "                         choose; the others any class and mass (default 1)\n"
      "  --validation-share V   share of scans held out for validation (default 0.25)\n"
      "  --validation-data DIR[,DIR...]  more scans for validation only (never trained on): they "
      "join\n"
      "                         the validation split that chooses the operating points and fits "
      "the\n"
      "                         manifest model; with --init and --epochs 0 they re-choose them\n"
      "  --validation-calibration PATH[,PATH...]  calibration of each --validation-data DIR, in "
      "order\n"
      "  --max-scans N          use the first N scans of each directory only\n"
      "  --max-minutes M        train fewer epochs when the first one shows M would be exceeded\n"
      "  --threads T            threads (default 2)\n"
      "  --init MODEL           start from MODEL's network; with --epochs 0 only the operating "
      "points,\n"
      "                         the manifest model (and with --verifier the verifier) are made "
      "again\n"
      "                         (same --data and --seed as MODEL)\n"
      "  --verifier             also fit the second stage: gradient-boosted trees that re-score "
      "each\n"
      "                         candidate region from its shape, class evidence and the density "
      "and\n"
      "                         z_eff in and around it (fitted on the validation split, 5 folds)\n"
      "  --region-probability P  threat probability at which output cells join a candidate region\n"
      "                         (default: the --init model's, else 0.3; lower proposes fainter "
      "objects,\n"
      "                         for the verifier to judge)\n";
  Args args(argc, argv, first, {"help", "verifier"});
  if (int rc = CheckArgs(args,
                         {"data",
                          "calibration",
                          "out",
                          "seed",
                          "epochs",
                          "batch",
                          "crop",
                          "lr",
                          "class-weight",
                          "threats",
                          "tip-seed",
                          "tip-rate",
                          "validation-share",
                          "validation-data",
                          "validation-calibration",
                          "max-scans",
                          "max-minutes",
                          "threads",
                          "init",
                          "verifier",
                          "region-probability",
                          "class-priority",
                          "tip-class",
                          "tip-max-kg",
                          "tip-targeted-share",
                          "help"},
                         usage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("data") || !args.Has("calibration") || !args.Has("out"))
    return Usage("--data, --calibration and --out are required", usage);
  DetectorTrainOptions o;
  TrainDataOptions& data = o.data;
  NetworkTrainOptions& network = o.network;
  long long seed, epochs, batch, crop, max_scans = 0, threads, tip_seed = 0;
  double tip_max_kg = 0, max_minutes = 0, region_probability = 0;
  if (!args.GetInt("seed", 1, &seed) || seed < 0 ||
      !args.GetInt("epochs", network.epochs, &epochs) ||
      !args.GetInt("batch", network.batch, &batch) ||
      !args.GetInt("crop", network.crop_cells, &crop) || !args.GetInt("max-scans", 0, &max_scans) ||
      !args.GetInt("threads", o.threads, &threads) || !args.GetInt("tip-seed", 0, &tip_seed) ||
      tip_seed < 0 || !args.GetDouble("lr", network.learning_rate, &network.learning_rate) ||
      !args.GetDouble("tip-rate", data.tip_rate, &data.tip_rate) ||
      !args.GetDouble("tip-max-kg", 0, &tip_max_kg) ||
      !args.GetDouble("tip-targeted-share", data.tip_targeted_share, &data.tip_targeted_share) ||
      !args.GetDouble("validation-share", data.validation_share, &data.validation_share) ||
      !args.GetDouble("max-minutes", 0, &max_minutes) ||
      !args.GetDouble("region-probability", 0, &region_probability))
    return Usage("numeric flags need numbers", usage);
  o.seed = static_cast<uint64_t>(seed);
  o.threads = static_cast<int>(threads);
  o.verifier.fit = args.Has("verifier");
  network.epochs = static_cast<int>(epochs);
  network.batch = static_cast<int>(batch);
  network.crop_cells = static_cast<int>(crop);
  if (args.Has("init")) network.init_path = args.Get("init");
  if (args.Has("max-minutes")) network.max_minutes = max_minutes;
  if (args.Has("max-scans")) data.max_scans = max_scans;
  if (args.Has("tip-max-kg")) data.tip_max_kg = tip_max_kg;
  if (args.Has("tip-seed")) data.simulated_threats_seed = static_cast<uint64_t>(tip_seed);
  if (args.Has("region-probability")) o.points.region_probability = region_probability;
  // One source per directory, each with its scanner's calibration.
  auto add_sources = [&](const char* data_flag, const char* calib_flag,
                         bool validation_only) -> int {
    const std::string data_arg = args.Get(data_flag), calib_arg = args.Get(calib_flag);
    const auto dirs = Split(data_arg, ','), calibs = Split(calib_arg, ',');
    if (dirs.size() != calibs.size())
      return Usage(std::string("--") + data_flag + " names " + std::to_string(dirs.size()) +
                       " directories but --" + calib_flag + " " + std::to_string(calibs.size()) +
                       " calibrations; give one calibration per directory, in order",
                   usage);
    for (size_t i = 0; i < dirs.size(); ++i) {
      auto calib = Calibration::Load(std::string(calibs[i]));
      if (!calib.ok()) return Fail(calib.status());
      data.sources.push_back({std::string(dirs[i]), *calib, validation_only, std::nullopt});
    }
    return 0;
  };
  if (int rc = add_sources("data", "calibration", false)) return rc;
  if (args.Has("validation-data") != args.Has("validation-calibration"))
    return Usage("--validation-data and --validation-calibration go together", usage);
  if (args.Has("validation-data"))
    if (int rc = add_sources("validation-data", "validation-calibration", true)) return rc;
  // --threats: one library per --data DIR, in order (an empty entry: none).
  if (args.Has("threats")) {
    const std::string threats_arg = args.Get("threats");  // Split's views point into it
    const auto dirs = Split(threats_arg, ',');
    size_t training_sources = 0;
    while (training_sources < data.sources.size() &&
           !data.sources[training_sources].validation_only)
      ++training_sources;
    if (dirs.size() > training_sources)
      return Usage("--threats names " + std::to_string(dirs.size()) + " libraries for " +
                       std::to_string(training_sources) + " --data directories",
                   usage);
    for (size_t i = 0; i < dirs.size(); ++i)
      if (!dirs[i].empty()) data.sources[i].threats_dir = std::string(dirs[i]);
  }
  // C[,C...]
  if (args.Has("tip-class")) {
    const std::string arg = args.Get("tip-class");  // Split's views point into it
    for (const auto& c : Split(arg, ',')) data.tip_classes.emplace_back(c);
  }
  // CLASS=NUMBER pairs.
  auto per_class = [&](const char* flag, const char* example,
                       std::vector<std::pair<std::string, double>>* out) -> int {
    if (!args.Has(flag)) return 0;
    const std::string arg = args.Get(flag);  // Split's views point into it
    for (const auto& item : Split(arg, ',')) {
      const size_t eq = item.find('=');
      double w = 0;
      if (eq == std::string_view::npos || !ParseDouble(item.substr(eq + 1), &w))
        return Usage(std::string("--") + flag + " needs CLASS=WEIGHT pairs, e.g. " + example +
                         "; got \"" + std::string(item) + "\"",
                     usage);
      out->emplace_back(std::string(item.substr(0, eq)), w);
    }
    return 0;
  };
  if (int rc = per_class("class-weight", "narcotics=2", &network.class_weights)) return rc;
  if (int rc = per_class("class-priority", "narcotics=3,firearm=3", &o.points.class_priority))
    return rc;
  o.command = "clearsight xray train";
  for (int i = first; i < argc; ++i) o.command += std::string(" ") + argv[i];
  // Bad options and a missing --init model are reported before the scans are loaded (minutes on a
  // full set).
  if (Status s = ValidateDetectorTrainOptions(o); !s.ok()) return Usage(s.message(), usage);
  if (network.init_path && !fs::exists(*network.init_path))
    return Fail(Status::NotFound(*network.init_path + ": no such model file (--init)"));
  auto last_line = std::chrono::steady_clock::now() - std::chrono::seconds(60);
  int last_epoch = 0;
  std::optional<TrainPhase> last_phase;
  auto progress = [&](const TrainProgress& p) {
    auto now = std::chrono::steady_clock::now();
    const bool epoch_end =
        p.phase == TrainPhase::kTraining && p.done == p.total && p.epoch != last_epoch;
    if (!epoch_end && p.phase == last_phase && now - last_line < std::chrono::seconds(30)) return;
    last_line = now;
    last_phase = p.phase;
    if (epoch_end) last_epoch = p.epoch;
    const char* phase = TrainPhaseName(p.phase);
    if (p.phase == TrainPhase::kLoadingScans || p.phase == TrainPhase::kLoadingTipCopies)
      std::fprintf(stderr, "%s %lld/%lld | %.1f min elapsed, ETA %.1f min\n", phase,
                   static_cast<long long>(p.done), static_cast<long long>(p.total),
                   p.elapsed_s / 60, p.eta_s / 60);
    else if (p.phase == TrainPhase::kTraining)
      std::fprintf(stderr,
                   "epoch %d/%d step %lld/%lld loss %.4f | %.1f min elapsed, ETA %.1f min\n",
                   p.epoch, p.epochs, static_cast<long long>(p.done),
                   static_cast<long long>(p.total), p.loss, p.elapsed_s / 60, p.eta_s / 60);
    else
      std::fprintf(stderr, "%s %lld/%lld | %.1f min elapsed\n", phase,
                   static_cast<long long>(p.done), static_cast<long long>(p.total),
                   p.elapsed_s / 60);
    std::fflush(stderr);
  };
  DetectorTrainReport report;
  if (Status s = TrainDetector(o, args.Get("out"), progress, &report); !s.ok()) return Fail(s);
  std::printf(
      "trained on %lld scans + %lld TIP copies, %d epochs, %lld parameters, in %.1f min; "
      "validation on %lld scans\n",
      static_cast<long long>(report.train_scans), static_cast<long long>(report.tip_scans),
      report.epochs, static_cast<long long>(report.parameters), report.seconds / 60,
      static_cast<long long>(report.validation_scans));
  if (report.tip_scans > 0) {
    std::printf("TIP copies by class:");
    for (const auto& [cls, n] : report.tip_by_class)
      std::printf(" %s %lld", cls.c_str(), static_cast<long long>(n));
    if (report.tip_small_packets > 0)
      std::printf(" (%lld of them small packets over goods)",
                  static_cast<long long>(report.tip_small_packets));
    std::printf("\n");
  }
  std::printf("operating points (probability that scores 0.5):");
  for (const auto& [cls, p] : report.class_operating_probability)
    std::printf(" %s %.3f", cls.c_str(), p);
  if (!report.network_validation_table.empty())
    std::printf("\n\nvalidation, network alone (its own operating points):\n%s",
                report.network_validation_table.c_str());
  std::printf("\n\nvalidation (the split that chose the operating points%s):\n%s\n%s",
              report.network_validation_table.empty() ? "" : "; verifier out of fold",
              report.validation_table.c_str(),
              report.validation_by_scanner_table.empty()
                  ? ""
                  : (report.validation_by_scanner_table + "\n").c_str());
  if (!report.validation_by_goods_table.empty())
    std::printf("%s\n", report.validation_by_goods_table.c_str());
  std::printf("%s", report.manifest_table.c_str());
  std::printf("wrote %s\n", args.Get("out").c_str());
  return 0;
}

int CmdXrayEval(int argc, char** argv, int first) {
  const char usage[] =
      "usage: clearsight xray eval --in DIR[,DIR...] --results results.jsonl[,...] [--json] [--iou "
      "X]\n"
      "                           [--min-score S]\n\n"
      "Scores the detections (and manifest checks) in results.jsonl (xray analyze --model ...) "
      "against\n"
      "DIR/truth/<scan_id>.json and DIR/declarations_truth.csv: per threat class the detection "
      "rate (a\n"
      "threat is found by a detection of its class with IoU >= 0.3) and AP, false alarms per clean "
      "scan,\n"
      "detection rates at fixed alarm rates on clean parcels, mAP; misdeclared vs honest flag "
      "rates.\n"
      "Run analyze with --min-score 0.05 so the curves cover every operating point. Several "
      "directories,\n"
      "each with its own results file in the same order, are pooled into one evaluation. Rates "
      "come with\n"
      "95 % Wilson intervals: a few dozen threats cannot tell 80 % from 95 %.\n"
      "  --json          one JSON line instead of the table\n"
      "  --iou X         overlap that counts as found (default 0.3)\n"
      "  --min-score S   the operating point for the headline rates (default 0.5)\n";
  Args args(argc, argv, first, {"help", "json"});
  if (int rc = CheckArgs(args, {"in", "results", "json", "iou", "min-score", "help"}, usage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("in") || !args.Has("results"))
    return Usage("--in and --results are required", usage);
  DetectionEvalOptions o;
  if (!args.GetDouble("iou", o.min_iou, &o.min_iou) ||
      !args.GetDouble("min-score", o.min_score, &o.min_score) || !(o.min_iou > 0 && o.min_iou <= 1))
    return Usage("--iou and --min-score need numbers in 0..1", usage);
  const std::string in_arg = args.Get("in"),
                    results_arg = args.Get("results");  // Split's views point into them
  const auto dirs = Split(in_arg, ','), results = Split(results_arg, ',');
  if (dirs.size() != results.size())
    return Usage("--in names " + std::to_string(dirs.size()) + " directories but --results " +
                     std::to_string(results.size()) +
                     " files; give one results file per directory, in order",
                 usage);
  std::vector<std::pair<std::string, std::string>> sets;
  for (size_t i = 0; i < dirs.size(); ++i)
    sets.emplace_back(std::string(dirs[i]), std::string(results[i]));
  auto ev = EvaluateDetections(sets, o);
  if (!ev.ok()) return Fail(ev.status());
  if (args.Has("json"))
    std::printf("%s\n", ev->ToJson().c_str());
  else
    std::printf("%s", ev->ToTable().c_str());
  return 0;
}

int CmdXrayAdapt(int argc, char** argv, int first) {
  const char usage[] =
      "usage: clearsight xray adapt --model BASE.pt --calibration calib.json --site DIR\n"
      "                            --out SITE.pt\n"
      "                            [--target-alarm-rate 0.01] [--assumed-threat-share 0.01]\n"
      "                            [--fine-tune-epochs 16] [--copies 2] [--learning-rate 5e-4]\n"
      "                            [--max-minutes 10] [--seed 1]\n"
      "                            [--manifest auto|keep|refit] [--min-scans 30] [--threads 2]\n\n"
      "Sets a detector on a site's own traffic. DIR holds the site's recent scans (format v1,\n"
      "nearly all clean; no labels) and their declarations.csv (linked by consignment_id); the\n"
      "calibration is the site scanner's own (xray calibrate on its wedges, with formulas).\n\n"
      "Fine-tuning (the default): threats of the product's library, rendered through the site\n"
      "scanner's spectral response fitted to its wedges, are projected into copies of the site's\n"
      "scans (--copies per scan); the network trains further on them and on the scans as they\n"
      "came (taken as clean). The scans are split in two folds and a network tuned on each scores\n"
      "the other's scans and copies: on those scores the points of the base and the tuned\n"
      "network, each with and without the verifier, are chosen so that at most\n"
      "--target-alarm-rate plus --assumed-threat-share of the scans alarm, and the one that finds\n"
      "the most projected threats is written (a tuned one trained again on all the scans).\n\n"
      "--fine-tune-epochs 0: the base network is kept and its points are raised on all the site's\n"
      "scans, lowest-scoring alarms first, until at most that share alarms (never lowered).\n"
      "--manifest: with 100 or more declared scans, auto (the default) refits the manifest model\n"
      "on them and keeps the refit only when the site's declared goods fit it better (out of\n"
      "fold) than the base model's; keep never refits, refit always does (--refit-manifest: the\n"
      "same).\n\n"
      "SITE.pt records the base model's and the calibration's sha256, the site's size, the date,\n"
      "the points before and after and how the network was tuned. Use SITE.pt with xray analyze\n"
      "--model and serve --detector.\n";
  Args args(argc, argv, first, {"help", "refit-manifest"});
  if (int rc = CheckArgs(
          args,
          {"model", "calibration", "site", "out", "target-alarm-rate", "assumed-threat-share",
           "fine-tune-epochs", "copies", "learning-rate", "max-minutes", "seed", "refit-manifest",
           "manifest", "min-scans", "threads", "help"},
          usage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("model") || !args.Has("calibration") || !args.Has("site") || !args.Has("out"))
    return Usage("--model, --calibration, --site and --out are required", usage);
  SiteAdaptOptions o;
  o.base_model = args.Get("model");
  o.site_dir = args.Get("site");
  long long min_scans, threads;
  if (!args.GetDouble("target-alarm-rate", o.target_clean_alarm_rate, &o.target_clean_alarm_rate))
    return Usage("--target-alarm-rate needs a number", usage);
  if (!args.GetDouble("assumed-threat-share", o.assumed_threat_share, &o.assumed_threat_share))
    return Usage("--assumed-threat-share needs a number", usage);
  const std::string manifest = args.Get("manifest", args.Has("refit-manifest") ? "refit" : "auto");
  if (manifest == "auto")
    o.manifest = SiteAdaptOptions::Manifest::kAuto;
  else if (manifest == "keep")
    o.manifest = SiteAdaptOptions::Manifest::kKeep;
  else if (manifest == "refit")
    o.manifest = SiteAdaptOptions::Manifest::kRefit;
  else
    return Usage("--manifest must be auto, keep or refit", usage);
  if (!args.GetInt("min-scans", o.min_scans, &min_scans))
    return Usage("--min-scans needs a whole number", usage);
  if (!args.GetInt("threads", o.threads, &threads))
    return Usage("--threads needs a whole number", usage);
  long long epochs, seed;
  if (!args.GetInt("fine-tune-epochs", o.fine_tune_epochs, &epochs))
    return Usage("--fine-tune-epochs needs a whole number", usage);
  if (!args.GetDouble("copies", o.tip_copies, &o.tip_copies))
    return Usage("--copies needs a number", usage);
  if (!args.GetDouble("learning-rate", o.learning_rate, &o.learning_rate))
    return Usage("--learning-rate needs a number", usage);
  if (!args.GetDouble("max-minutes", o.max_minutes, &o.max_minutes))
    return Usage("--max-minutes needs a number", usage);
  if (!args.GetInt("seed", static_cast<long long>(o.seed), &seed) || seed < 0)
    return Usage("--seed needs a whole number >= 0", usage);
  o.fine_tune_epochs = static_cast<int>(epochs);
  o.seed = static_cast<uint64_t>(seed);
  o.min_scans = min_scans;
  o.threads = static_cast<int>(threads);
  if (Status s = ValidateSiteAdaptOptions(o); !s.ok()) return Usage(s.message(), usage);
  auto calibration = Calibration::Load(args.Get("calibration"));
  if (!calibration.ok())
    return Fail(calibration.status().WithContext(
        "the site's calibration (xray calibrate on the site scanner's own wedges)"));
  auto model_bytes = ReadFile(o.base_model, size_t{1} << 30);
  if (!model_bytes.ok()) return Fail(model_bytes.status());
  o.base_model_sha256 = Sha256Hex(*model_bytes);
  if (auto cal_bytes = ReadFile(args.Get("calibration")); cal_bytes.ok())
    o.calibration_sha256 = Sha256Hex(*cal_bytes);
  o.command = "clearsight xray adapt";
  for (int i = first; i < argc; ++i) o.command += std::string(" ") + argv[i];
  const auto t0 = std::chrono::steady_clock::now();
  SiteAdaptReport report;
  Status s = AdaptDetectorToSite(
      o, *calibration, args.Get("out"),
      [&](const std::string& phase, int64_t done, int64_t total) {
        static std::string last_phase;
        const auto now = std::chrono::steady_clock::now();
        static auto last = now;
        if (phase != last_phase && !last_phase.empty()) std::fprintf(stderr, "\n");
        if (phase == last_phase && done != total && now - last < std::chrono::milliseconds(500))
          return;
        last_phase = phase;
        last = now;
        const double el = std::chrono::duration<double>(now - t0).count();
        std::fprintf(stderr, "\r[adapt] %s: %lld/%lld, %.0f s   ", phase.c_str(),
                     static_cast<long long>(done), static_cast<long long>(total), el);
      },
      &report);
  std::fprintf(stderr, "\n");
  if (!s.ok()) return Fail(s);
  std::printf("site: %lld scans (%lld with a declaration)\n", static_cast<long long>(report.scans),
              static_cast<long long>(report.declared_scans));
  if (!report.network.empty()) {
    std::printf(
        "fine-tuned in %.0f s; on the site's %lld scans and %lld projected copies (the "
        "tuned networks out of fold), mean share of the projected threats found per "
        "class:\n%s",
        report.train_seconds, static_cast<long long>(report.scans),
        static_cast<long long>(report.scored_copies), report.candidates_table.c_str());
    std::printf("kept: %s; site scans alarmed: %.1f %%\n", report.network.c_str(),
                100 * report.alarm_rate);
    std::printf("%-16s %10s %10s %10s %10s %10s\n", "class", "base p", "site p", "projected",
                "base found", "found");
    for (const auto& c : report.classes)
      std::printf("%-16s %10.4f %10.4f %10lld %10lld %10lld\n", c.threat_class.c_str(),
                  c.base_probability, c.site_probability, static_cast<long long>(c.projected),
                  static_cast<long long>(c.found_by_base), static_cast<long long>(c.found));
    std::printf("manifest model: %s\n", report.manifest.c_str());
    std::fprintf(stderr, "site model written to %s\n", args.Get("out").c_str());
    return 0;
  }
  std::printf("site scans alarmed on any class: %.1f %% at the base model's points, %.1f %% now\n",
              100 * report.alarm_rate_at_base, 100 * report.alarm_rate);
  std::printf("%-16s %12s %12s %14s %10s\n", "class", "base p", "site p", "alarms (base)",
              "alarms");
  for (const auto& c : report.classes)
    std::printf("%-16s %12.4f %12.4f %14lld %10lld\n", c.threat_class.c_str(), c.base_probability,
                c.site_probability, static_cast<long long>(c.site_alarms_at_base),
                static_cast<long long>(c.site_alarms));
  std::printf("manifest model: %s\n", report.manifest.c_str());
  std::fprintf(stderr, "site model written to %s\n", args.Get("out").c_str());
  return 0;
}

int CmdXrayUnseenPoints(int argc, char** argv, int first) {
  const char usage[] =
      "usage: clearsight xray unseen-points --model BASE.pt --data DIR,DIR,...\n"
      "                                     --calibration C.json,C.json,...\n"
      "                                     --known-calibration K.json,... --out MODEL.pt\n"
      "                                     [--target-alarm-rate 0.01] [--max-distance 0.015]\n"
      "                                     [--threads 2]\n\n"
      "Gives a detector operating points for scanners it has never seen. --data holds scans (with\n"
      "truth/, xray simulate) of validation scanners the model was not trained on, each with its\n"
      "own calibration (--calibration, in the same order); on their clean parcels the model's\n"
      "points are raised, lowest-scoring alarms first, until on every one of them at most\n"
      "--target-alarm-rate of the clean parcels alarm. --known-calibration: the calibrations of\n"
      "the scanners the model was trained on. MODEL.pt keeps its own points for those and the new\n"
      "ones for any scanner whose calibration is farther than --max-distance from all of them\n"
      "(the median relative z_eff error at their wedge steps): xray analyze and serve choose by\n"
      "the calibration they are given, and xray adapt sets a site's own points.\n";
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args,
                         {"model", "data", "calibration", "known-calibration", "out",
                          "target-alarm-rate", "max-distance", "threads", "help"},
                         usage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("model") || !args.Has("data") || !args.Has("calibration") ||
      !args.Has("known-calibration") || !args.Has("out"))
    return Usage("--model, --data, --calibration, --known-calibration and --out are required",
                 usage);
  UnseenPointsOptions o;
  o.base_model = args.Get("model");
  long long threads;
  if (!args.GetDouble("target-alarm-rate", o.target_clean_alarm_rate, &o.target_clean_alarm_rate))
    return Usage("--target-alarm-rate needs a number", usage);
  if (!args.GetDouble("max-distance", o.max_scanner_distance, &o.max_scanner_distance))
    return Usage("--max-distance needs a number", usage);
  if (!args.GetInt("threads", o.threads, &threads))
    return Usage("--threads needs a whole number", usage);
  o.threads = static_cast<int>(threads);
  const std::string data_arg = args.Get("data"), calib_arg = args.Get("calibration"),
                    known_arg = args.Get("known-calibration");
  const auto dirs = Split(data_arg, ','), calibs = Split(calib_arg, ',');
  if (dirs.size() != calibs.size())
    return Usage("give one --calibration per --data folder (" + std::to_string(dirs.size()) +
                     " folders, " + std::to_string(calibs.size()) + " calibrations)",
                 usage);
  for (size_t i = 0; i < dirs.size(); ++i) {
    auto c = Calibration::Load(std::string(calibs[i]));
    if (!c.ok()) return Fail(c.status());
    o.scanners.push_back({std::string(dirs[i]), std::move(*c)});
  }
  for (const auto& k : Split(known_arg, ',')) {
    auto c = Calibration::Load(std::string(k));
    if (!c.ok()) return Fail(c.status().WithContext("a known scanner's calibration"));
    o.known.push_back(std::move(*c));
  }
  o.command = "clearsight xray unseen-points";
  for (int i = first; i < argc; ++i) o.command += std::string(" ") + argv[i];
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  UnseenPointsReport report;
  Status s = SetUnseenScannerPoints(
      o, args.Get("out"),
      [&](const std::string& phase, int64_t done, int64_t total) {
        const auto now = std::chrono::steady_clock::now();
        if (done != total && now - last < std::chrono::milliseconds(500)) return;
        last = now;
        std::fprintf(stderr, "\r[unseen-points] %s: %lld/%lld, %.0f s   ", phase.c_str(),
                     static_cast<long long>(done), static_cast<long long>(total),
                     std::chrono::duration<double>(now - t0).count());
        if (done == total) std::fprintf(stderr, "\n");
      },
      &report);
  if (!s.ok()) return Fail(s);
  std::printf("%-40s %9s %8s %16s %10s\n", "validation scanner", "distance", "clean",
              "alarmed (model)", "alarmed");
  for (const auto& r : report.scanners)
    std::printf("%-40s %9.3f %8lld %9lld %5.1f%% %4lld %4.1f%%\n", r.data_dir.c_str(),
                r.nearest_known, static_cast<long long>(r.clean),
                static_cast<long long>(r.alarmed_at_base),
                100.0 * static_cast<double>(r.alarmed_at_base) / static_cast<double>(r.clean),
                static_cast<long long>(r.alarmed),
                100.0 * static_cast<double>(r.alarmed) / static_cast<double>(r.clean));
  std::printf("%-16s %12s %12s\n", "class", "model p", "unseen p");
  for (size_t k = 0; k < report.points.size(); ++k)
    std::printf("%-16s %12.4f %12.4f\n", report.classes[k].c_str(), report.base_points[k],
                report.points[k]);
  std::fprintf(stderr, "model written to %s\n", args.Get("out").c_str());
  return 0;
}

}  // namespace clearsight::cli
