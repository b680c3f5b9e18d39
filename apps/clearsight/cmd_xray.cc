// clearsight xray <subcommand>: thin shells over the X-ray library (include/clearsight/xray_*.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "clearsight/xray_analyze.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_detect.h"
#include "clearsight/xray_manifest.h"
#include "clearsight/xray_pipeline.h"
#include "clearsight/xray_scan.h"
#include "clearsight/xray_simulate.h"
#include "clearsight/xray_tip.h"
#include "clearsight/xray_train.h"
#include "commands.h"

namespace clearsight::cli {
namespace {

namespace fs = std::filesystem;

const char kXrayUsage[] =
    "usage: clearsight xray <subcommand> [flags]   (clearsight xray <subcommand> --help)\n\n"
    "  simulate       simulate parcel scans with ground truth and declarations\n"
    "  wedges         simulate step-wedge scans for calibration\n"
    "  calibrate      fit a calibration from wedge scans\n"
    "  analyze        materials, objects and masses for every scan in a directory\n"
    "  render         a scan as PNG: grayscale or material colours\n"
    "  export-dicos   a scan as a DICOS pair (<prefix>_low.dcm, <prefix>_high.dcm)\n"
    "  import-dicos   a DICOS pair back to scan format v1\n"
    "  threats        write the simulated threat library (for TIP)\n"
    "  tip            project a threat into a scan\n"
    "  train          train the threat detector (and manifest model) on simulated scans\n"
    "  eval           score analyze results (detections, manifest) against ground truth\n"
    "  adapt          set a detector on a site's own scans (operating points, manifest model)\n"
    "  unseen-points  set a detector's points for scanners it has never seen\n";

std::string FormatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

const char kScannerHelp[] =
    "  --scanner NAME   dual-kvp (default: 80/160 kVp), dual-layer (140 kVp, dual-layer "
    "detector)\n"
    "                   or random (a scanner and pixel pitch drawn from --scanner-seed N over "
    "the\n"
    "                   range of site scanners: docs/xray-simulator.md)\n"
    "  --kvp-low V --kvp-high V   other tube voltages for the scanner model\n"
    "  --dose F         photon counts times F (F < 1: noisier)\n";

bool ParseScanner(const std::string& name, ScannerModel* out) {
  if (name == "dual-kvp")
    *out = DualKvpScanner();
  else if (name == "dual-layer")
    *out = DualLayerScanner();
  else
    return false;
  return true;
}

// Reads --width/--height/--seed/--scanner/--pixel-mm into options; returns "" or an error.
std::string SimFlags(const Args& args, SimulateOptions* o) {
  long long width, height, seed, threads;
  double pixel_mm;
  if (!args.GetInt("width", o->width, &width) || !args.GetInt("height", o->height, &height))
    return "--width and --height need whole numbers";
  if (!args.GetInt("seed", 1, &seed) || seed < 0) return "--seed needs a non-negative whole number";
  if (!args.GetInt("threads", o->threads, &threads) || threads < 1)
    return "--threads needs a positive number";
  if (!args.GetDouble("pixel-mm", 0, &pixel_mm) || pixel_mm < 0)
    return "--pixel-mm needs a positive number";
  long long scanner_seed;
  if (!args.GetInt("scanner-seed", 1, &scanner_seed) || scanner_seed < 0)
    return "--scanner-seed needs a non-negative whole number";
  if (args.Get("scanner", "dual-kvp") == "random") {
    o->scanner = RandomScanner(static_cast<uint64_t>(scanner_seed));
    if (!args.Has("pixel-mm")) pixel_mm = RandomScannerPixelMm(static_cast<uint64_t>(scanner_seed));
  } else if (!ParseScanner(args.Get("scanner", "dual-kvp"), &o->scanner)) {
    return "--scanner must be dual-kvp, dual-layer or random";
  } else if (args.Has("scanner-seed")) {
    return "--scanner-seed goes with --scanner random";
  }
  if (args.Has("threat-families")) {
    auto families = ParseThreatFamilies(args.Get("threat-families"));
    if (!families.ok()) return "--threat-families: " + families.status().message();
    o->threat_families = *families;
  }
  const std::string goods = args.Get("goods-types", "classic");
  if (goods != "classic" && goods != "extended") return "--goods-types must be classic or extended";
  o->extended_goods = goods == "extended";
  o->width = static_cast<int>(width);
  o->height = static_cast<int>(height);
  o->seed = static_cast<uint64_t>(seed);
  o->threads = static_cast<int>(threads);
  o->pixel_mm = pixel_mm;
  double kvp_low, kvp_high, dose;
  if (!args.GetDouble("kvp-low", o->scanner.tube_low.kvp, &kvp_low) ||
      !args.GetDouble("kvp-high", o->scanner.tube_high.kvp, &kvp_high) ||
      !args.GetDouble("dose", 1.0, &dose))
    return "--kvp-low, --kvp-high and --dose need numbers";
  if (kvp_low < 20 || kvp_high < 20 || kvp_low > 450 || kvp_high > 450)
    return "tube voltages must lie in 20..450 kV";
  if (!(dose > 0.01 && dose <= 100)) return "--dose must lie in 0.01..100";
  o->scanner.tube_low.kvp = kvp_low;
  o->scanner.tube_high.kvp = kvp_high;
  o->scanner.photons_per_mm2_low *= dose;
  o->scanner.photons_per_mm2_high *= dose;
  if (args.Has("kvp-low") || args.Has("kvp-high") || args.Has("dose"))
    o->scanner.name += " (" + FormatNumber(kvp_low) + "/" + FormatNumber(kvp_high) + " kV, dose x" +
                       FormatNumber(dose) + ")";
  // --goods-mix clothing=3,electronics=1: weights per goods category.
  if (args.Has("goods-mix")) {
    const std::string mix = args.Get("goods-mix");
    size_t pos = 0;
    while (pos <= mix.size()) {
      size_t end = mix.find(',', pos);
      if (end == std::string::npos) end = mix.size();
      const std::string item = mix.substr(pos, end - pos);
      const size_t eq = item.find('=');
      if (eq == std::string::npos)
        return "--goods-mix needs category=weight pairs separated by commas";
      char* stop = nullptr;
      const std::string w = item.substr(eq + 1);
      const double weight = std::strtod(w.c_str(), &stop);
      if (w.empty() || *stop != 0 || !(weight >= 0))
        return "--goods-mix: '" + item + "' needs a non-negative weight";
      o->goods_mix.push_back({item.substr(0, eq), weight});
      pos = end + 1;
    }
  }
  return "";
}

int Simulate(int argc, char** argv, int first) {
  const std::string usage =
      std::string(
          "usage: clearsight xray simulate --count N --seed S --out DIR [--threat-rate R]\n"
          "                                [--width W --height H] [flags]\n\n"
          "Writes N parcel scans (<scan_id>.tif + .json), truth/<scan_id>.json (objects, masks, "
          "threats),\n"
          "declarations.csv (native schema, linked by consignment_id) and declarations_truth.csv.\n"
          "Same flags and seed, same bytes.\n"
          "  --count N              number of scans\n"
          "  --seed S               random seed (default 1)\n"
          "  --out DIR              output directory\n"
          "  --threat-rate R        share of parcels with a concealed threat (default 0.2)\n"
          "  --misdeclared-rate R   share of declarations naming other goods (default 0.1)\n"
          "  --undervalued-rate R   share of declarations under-valued (default 0.15)\n"
          "  --width W --height H   image size in pixels (default 1024 x 768)\n"
          "  --pixel-mm MM          pixel size (default: the 540 mm tunnel spans the height)\n"
          "  --threads T            worker threads (default 2; output does not depend on it)\n"
          "  --compress             deflate-compressed TIFFs\n"
          "  --goods-mix C=W,...    goods category weights (clothing, shoes, books, electronics, "
          "toys,\n"
          "                         food, cosmetics, tools, ceramics); default all equal\n"
          "  --goods-types T        classic (default) or extended: also dense organic goods "
          "(sugar, tea\n"
          "                         bricks, paper reams, rubber, fabric rolls, soap) and "
          "procedural assortments\n"
          "  --threat-families F    classic (default), all, a list of families or classes, or "
          "a set with\n"
          "                         some taken out: all,-karambit,-smg_compact\n"
          "  --list-threat-families the families, their classes and sets\n") +
      kScannerHelp;
  Args args(argc, argv, first, {"help", "compress", "list-threat-families"});
  if (int rc = CheckArgs(args,
                         {"count",
                          "seed",
                          "out",
                          "threat-rate",
                          "misdeclared-rate",
                          "undervalued-rate",
                          "width",
                          "height",
                          "pixel-mm",
                          "threads",
                          "compress",
                          "scanner",
                          "scanner-seed",
                          "goods-mix",
                          "goods-types",
                          "threat-families",
                          "list-threat-families",
                          "kvp-low",
                          "kvp-high",
                          "dose",
                          "help"},
                         usage))
    return rc < 0 ? 0 : rc;
  if (args.Has("list-threat-families")) {
    std::printf("%-18s %-16s %s\n", "family", "class", "set");
    for (const auto& f : ThreatFamilies())
      std::printf("%-18s %-16s %s\n", f.name.c_str(), f.threat_class.c_str(),
                  f.classic ? "classic" : "parametric");
    return 0;
  }
  if (!args.Has("count") || !args.Has("out")) return Usage("--count and --out are required", usage);
  SimulateOptions o;
  if (std::string e = SimFlags(args, &o); !e.empty()) return Usage(e, usage);
  long long count;
  if (!args.GetInt("count", 0, &count) || count < 1)
    return Usage("--count needs a positive whole number", usage);
  if (!args.GetDouble("threat-rate", o.threat_rate, &o.threat_rate) ||
      !args.GetDouble("misdeclared-rate", o.misdeclared_rate, &o.misdeclared_rate) ||
      !args.GetDouble("undervalued-rate", o.undervalued_rate, &o.undervalued_rate))
    return Usage("rates need numbers in 0..1", usage);
  if (args.Has("compress")) o.write.compression = TiffCompression::kDeflate;
  auto start = std::chrono::steady_clock::now();
  auto last = start - std::chrono::seconds(10);
  auto progress = [&](int64_t done, int64_t total) {
    auto now = std::chrono::steady_clock::now();
    if (done < total && now - last < std::chrono::seconds(1)) return;
    last = now;
    double s = std::chrono::duration<double>(now - start).count();
    std::fprintf(stderr, "\rsimulated %lld/%lld scans (%.1f scans/s)%s",
                 static_cast<long long>(done), static_cast<long long>(total),
                 s > 0 ? done / s : 0.0, done == total ? "\n" : "");
    std::fflush(stderr);
  };
  DatasetReport report;
  if (Status s = SimulateDataset(o, count, args.Get("out"), progress, &report); !s.ok())
    return Fail(s);
  std::printf(
      "wrote %lld scans to %s in %.1f s (%.1f scans/s): %lld with threats, %lld misdeclared, %lld "
      "undervalued\n",
      static_cast<long long>(report.scans), args.Get("out").c_str(), report.seconds,
      report.scans / std::max(report.seconds, 1e-9), static_cast<long long>(report.threats),
      static_cast<long long>(report.misdeclared), static_cast<long long>(report.undervalued));
  return 0;
}

int Wedges(int argc, char** argv, int first) {
  const std::string usage = std::string(
                                "usage: clearsight xray wedges --out DIR [--seed S] [--scanner "
                                "NAME] [--height H] [--pixel-mm MM]\n\n"
                                "Writes step-wedge scans (PE, POM, aluminium, steel; 10 steps "
                                "each) in scan format v1 with the\n"
                                "steps in the sidecar (docs/scan-format.md). Use the same "
                                "--scanner/--height/--pixel-mm as simulate.\n") +
                            kScannerHelp;
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args,
                         {"out", "seed", "scanner", "scanner-seed", "width", "height", "pixel-mm",
                          "threads", "kvp-low", "kvp-high", "dose", "help"},
                         usage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("out")) return Usage("--out is required", usage);
  SimulateOptions o;
  if (std::string e = SimFlags(args, &o); !e.empty()) return Usage(e, usage);
  if (Status s = WriteSimulatedWedges(o, args.Get("out")); !s.ok()) return Fail(s);
  std::printf("wrote wedge scans to %s (%s)\n", args.Get("out").c_str(), o.scanner.name.c_str());
  return 0;
}

int Calibrate(int argc, char** argv, int first) {
  const char usage[] =
      "usage: clearsight xray calibrate --wedges DIR --out calib.json\n\n"
      "Fits the mapping (log_low, log_high) -> (z_eff, areal density) from the wedge scans in DIR "
      "(any\n"
      "scanner that writes scan format v1 with a wedge sidecar) and prints a fit summary.\n";
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args, {"wedges", "out", "help"}, usage)) return rc < 0 ? 0 : rc;
  if (!args.Has("wedges") || !args.Has("out"))
    return Usage("--wedges and --out are required", usage);
  auto wedges = ReadWedgeDir(args.Get("wedges"));
  if (!wedges.ok()) return Fail(wedges.status());
  auto calib = Calibration::Fit(*wedges);
  if (!calib.ok()) return Fail(calib.status());
  if (Status s = calib->Save(args.Get("out")); !s.ok()) return Fail(s);
  std::printf("%swrote %s\n", calib->Summary().c_str(), args.Get("out").c_str());
  return 0;
}

int Analyze(int argc, char** argv, int first) {
  const char usage[] =
      "usage: clearsight xray analyze --calibration calib.json --in DIR|SCAN.tif --out "
      "results.jsonl\n"
      "                               [--model model.pt [--min-score S] [--declarations D.csv]]\n"
      "                               [--threads T] [--render DIR]\n\n"
      "One JSON line per scan: scan_id, objects (box, material, z_eff, mass_kg, ...), materials\n"
      "(organic_kg, inorganic_kg, metal_kg) and ms (analysis time). A scan that cannot be read is\n"
      "reported and skipped; the exit code is then 1.\n"
      "  --model PATH         threat detector (xray train): adds \"detections\": [{\"class\", "
      "\"score\",\n"
      "                       \"box\": [x0,y0,x1,y1]}]; the score 0.5 is the model's operating "
      "point\n"
      "  --min-score S        report detections scoring at least S (default 0.5; 0.05 for xray "
      "eval curves)\n"
      "  --declarations PATH  declarations (native CSV/JSONL) linked by consignment_id: adds\n"
      "                       \"manifest\": {\"consistent\", \"score\", \"reasons\"} (needs "
      "--model, which holds\n"
      "                       the manifest model)\n"
      "  --scanner-points P   auto (default): a model with points for unseen scanners (xray\n"
      "                       unseen-points) uses them when the calibration is far from every\n"
      "                       scanner it knows; known or unseen: that set\n"
      "  --threads T          threads per scan for the analysis (default 2; the network runs on "
      "one)\n"
      "  --render DIR         also write <scan_id>.png in material colours\n";
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args,
                         {"calibration", "in", "out", "threads", "render", "model", "min-score",
                          "declarations", "scanner-points", "help"},
                         usage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("calibration") || !args.Has("in") || !args.Has("out"))
    return Usage("--calibration, --in and --out are required", usage);
  if (args.Has("declarations") && !args.Has("model"))
    return Usage("--declarations needs --model (the model file holds the manifest model)", usage);
  long long threads;
  double min_score;
  if (!args.GetInt("threads", 2, &threads) || !args.GetDouble("min-score", 0.5, &min_score))
    return Usage("--threads and --min-score need numbers", usage);
  auto calib = Calibration::Load(args.Get("calibration"));
  if (!calib.ok()) return Fail(calib.status());
  AnalyzerOptions options;
  options.threads = static_cast<int>(threads);
  auto analyzer = Analyzer::Create(*calib, options);
  if (!analyzer.ok()) return OptionsRefused(analyzer.status(), usage);
  std::unique_ptr<Detector> detector;
  std::unique_ptr<const ManifestModel> manifest;
  if (args.Has("model")) {
    DetectorOptions dopt;
    // One thread for the network: LibTorch's second intra-op thread makes this small network
    // slower and its spinning workers slow the next analysis (xray_detect_bench: 35 / 49 ms
    // p50 / p99 per scan with the network on one thread, 45 / 87 ms on two).
    dopt.threads = 1;
    dopt.min_score = min_score;
    dopt.calibration = *calib;
    const std::string points = args.Get("scanner-points", "auto");
    if (points == "known")
      dopt.scanner_points = DetectorOptions::ScannerPoints::kKnown;
    else if (points == "unseen")
      dopt.scanner_points = DetectorOptions::ScannerPoints::kUnseen;
    else if (points != "auto")
      return Usage("--scanner-points must be auto, known or unseen", usage);
    auto d = Detector::Load(args.Get("model"), dopt);
    if (!d.ok()) return OptionsRefused(d.status(), usage);
    detector = std::move(*d);
    if (!detector->scanner_note().empty())
      std::fprintf(stderr, "detector: %s\n", detector->scanner_note().c_str());
    auto m = ManifestModel::FromDetector(*detector);
    if (!m.ok()) return Fail(m.status().WithContext(args.Get("model")));
    manifest = std::move(*m);
  }
  std::map<std::string, Declaration> declarations;
  if (args.Has("declarations")) {
    IngestReport report;
    auto d = ReadDeclarationsByConsignment(args.Get("declarations"), &report);
    if (!d.ok()) return Fail(d.status());
    if (report.rejected) std::fprintf(stderr, "declarations: %s\n", report.Summary().c_str());
    declarations = std::move(*d);
  }
  const ScanPipeline pipeline{analyzer->get(), detector.get(), manifest.get(),
                              args.Has("declarations") ? &declarations : nullptr};
  if (Status s = CheckScanPipeline(pipeline); !s.ok())
    return Fail(s.WithContext(args.Get("model")));
  std::vector<std::string> files;
  if (fs::is_directory(args.Get("in"))) {
    auto listed = ListScans(args.Get("in"));
    if (!listed.ok()) return Fail(listed.status());
    files = *listed;
  } else {
    files.push_back(args.Get("in"));
  }
  if (args.Has("render")) {
    if (Status s = MakeDirs(args.Get("render")); !s.ok()) return Fail(s);
  }
  std::string lines;
  int failed = 0, undeclared = 0;
  ScanResult result;
  double total_ms = 0, detect_ms = 0;
  for (const auto& f : files) {
    if (Status s = AnalyzeScanFile(f, pipeline, &result); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      ++failed;
      continue;
    }
    undeclared += result.undeclared;
    total_ms += result.analysis.ms;
    detect_ms += result.ms_detect;
    lines += result.analysis.ToJson() + "\n";
    if (args.Has("render")) {
      auto png = RenderMaterialPng(result.analysis);
      Status s =
          png.ok()
              ? WriteFileAtomic(
                    (fs::path(args.Get("render")) / (result.analysis.scan_id + ".png")).string(),
                    *png)
              : png.status();
      if (!s.ok())
        std::fprintf(stderr, "error: rendering %s failed\n", result.analysis.scan_id.c_str());
    }
  }
  if (Status s = WriteFileAtomic(args.Get("out"), lines); !s.ok()) return Fail(s);
  size_t done = files.size() - failed;
  std::printf("analyzed %zu scans (%d failed), mean %.2f ms per scan", done, failed,
              done ? total_ms / done : 0.0);
  if (detector)
    std::printf(" + %.2f ms detector%s", done ? detect_ms / done : 0.0,
                args.Has("declarations") ? " and manifest" : "");
  if (undeclared) std::printf(", %d without a declaration (no manifest check)", undeclared);
  std::printf(", wrote %s\n", args.Get("out").c_str());
  return failed ? 1 : 0;
}

int Render(int argc, char** argv, int first) {
  const char usage[] =
      "usage: clearsight xray render --in SCAN.tif --out OUT.png [--mode gray|material]\n"
      "                              [--calibration calib.json] [--window W --level L] [--low]\n\n"
      "  --mode gray       the high-energy image (or --low), window/level over transmission 0..1\n"
      "                    (automatic when --window is absent)\n"
      "  --mode material   organic orange, inorganic green, metal blue (needs --calibration)\n";
  Args args(argc, argv, first, {"help", "low", "outline"});
  if (int rc = CheckArgs(
          args, {"in", "out", "mode", "calibration", "window", "level", "low", "outline", "help"},
          usage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("in") || !args.Has("out")) return Usage("--in and --out are required", usage);
  auto scan = ReadScan(args.Get("in"));
  if (!scan.ok()) return Fail(scan.status());
  std::string mode = args.Get("mode", "gray");
  Result<std::string> png = Status::InvalidArgument("unknown --mode");
  if (mode == "gray") {
    GrayRenderOptions o;
    o.use_low = args.Has("low");
    if (!args.GetDouble("window", 0, &o.window) || !args.GetDouble("level", 0.5, &o.level))
      return Usage("--window and --level need numbers", usage);
    png = RenderGrayPng(*scan, o);
  } else if (mode == "material") {
    if (!args.Has("calibration")) return Usage("--mode material needs --calibration", usage);
    auto calib = Calibration::Load(args.Get("calibration"));
    if (!calib.ok()) return Fail(calib.status());
    auto analyzer = Analyzer::Create(*calib);
    if (!analyzer.ok()) return Fail(analyzer.status());
    auto analysis = (*analyzer)->Analyze(*scan);
    if (!analysis.ok()) return Fail(analysis.status());
    MaterialRenderOptions ro;
    ro.outline_objects = args.Has("outline");
    png = RenderMaterialPng(*analysis, ro);
  } else {
    return Usage("--mode must be gray or material", usage);
  }
  if (!png.ok()) return Fail(png.status());
  if (Status s = WriteFileAtomic(args.Get("out"), *png); !s.ok()) return Fail(s);
  std::printf("wrote %s\n", args.Get("out").c_str());
  return 0;
}

int ExportDicos(int argc, char** argv, int first) {
  const char usage[] =
      "usage: clearsight xray export-dicos --in SCAN.tif --out PREFIX\n\n"
      "Writes PREFIX_low.dcm and PREFIX_high.dcm (DICOS DX, for processing).\n";
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args, {"in", "out", "help"}, usage)) return rc < 0 ? 0 : rc;
  if (!args.Has("in") || !args.Has("out")) return Usage("--in and --out are required", usage);
  auto scan = ReadScan(args.Get("in"));
  if (!scan.ok()) return Fail(scan.status());
  if (Status s = WriteDicos(*scan, args.Get("out")); !s.ok()) return Fail(s);
  DicosPaths p = DicosPathsFor(args.Get("out"));
  std::printf("wrote %s and %s\n", p.low.c_str(), p.high.c_str());
  return 0;
}

int ImportDicos(int argc, char** argv, int first) {
  const char usage[] =
      "usage: clearsight xray import-dicos --in PREFIX --out SCAN.tif\n\n"
      "Reads PREFIX_low.dcm and PREFIX_high.dcm and writes scan format v1.\n";
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args, {"in", "out", "help"}, usage)) return rc < 0 ? 0 : rc;
  if (!args.Has("in") || !args.Has("out")) return Usage("--in and --out are required", usage);
  auto scan = ReadDicos(args.Get("in"));
  if (!scan.ok()) return Fail(scan.status());
  if (Status s = WriteScan(*scan, args.Get("out")); !s.ok()) return Fail(s);
  std::printf("wrote %s\n", args.Get("out").c_str());
  return 0;
}

int Threats(int argc, char** argv, int first) {
  const std::string usage = std::string(
                                "usage: clearsight xray threats --out DIR [--per-class N] [--seed "
                                "S] [--scanner NAME] [--height H]\n\n"
                                "Writes simulated threat patches (each a format-v1 scan of the "
                                "threat alone) for TIP.\n") +
                            kScannerHelp;
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(
          args,
          {"out", "per-class", "seed", "scanner", "scanner-seed", "threat-families", "width",
           "height", "pixel-mm", "threads", "kvp-low", "kvp-high", "dose", "help"},
          usage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("out")) return Usage("--out is required", usage);
  SimulateOptions o;
  if (std::string e = SimFlags(args, &o); !e.empty()) return Usage(e, usage);
  long long per_class;
  if (!args.GetInt("per-class", 5, &per_class) || per_class < 1)
    return Usage("--per-class needs a positive number", usage);
  auto sim = Simulator::Create(o);
  if (!sim.ok()) return Fail(sim.status());
  auto lib = (*sim)->MakeThreatLibrary(static_cast<int>(per_class));
  if (!lib.ok()) return Fail(lib.status());
  if (Status s = lib->Save(args.Get("out")); !s.ok()) return Fail(s);
  std::printf("wrote %zu threat patches to %s\n", lib->patches().size(), args.Get("out").c_str());
  return 0;
}

int Tip(int argc, char** argv, int first) {
  const char usage[] =
      "usage: clearsight xray tip --in SCAN.tif --threats DIR --out OUT.tif [--class C | --name "
      "N]\n"
      "                           [--x X --y Y] [--scale S] [--rotation DEG] [--seed S]\n\n"
      "Projects a threat from the library into the scan (transmissions multiply in both energies)\n"
      "and prints the inserted threat's box as JSON. Without --x/--y it goes to the scan centre.\n";
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(
          args,
          {"in", "threats", "out", "class", "name", "x", "y", "scale", "rotation", "seed", "help"},
          usage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("in") || !args.Has("threats") || !args.Has("out"))
    return Usage("--in, --threats and --out are required", usage);
  auto scan = ReadScan(args.Get("in"));
  if (!scan.ok()) return Fail(scan.status());
  auto lib = ThreatLibrary::Load(args.Get("threats"));
  if (!lib.ok()) return Fail(lib.status());
  const ThreatPatch* patch = nullptr;
  for (const auto& p : lib->patches())
    if ((!args.Has("name") || p.name == args.Get("name")) &&
        (!args.Has("class") || p.threat_class == args.Get("class"))) {
      patch = &p;
      break;
    }
  if (!patch) return Fail(Status::NotFound("no threat patch matches --class/--name"));
  ProjectOptions po;
  long long seed;
  if (!args.GetDouble("x", scan->width / 2.0, &po.x) ||
      !args.GetDouble("y", scan->height / 2.0, &po.y) || !args.GetDouble("scale", 1.0, &po.scale) ||
      !args.GetDouble("rotation", 0, &po.rotation_deg) || !args.GetInt("seed", 0, &seed))
    return Usage("--x, --y, --scale, --rotation and --seed need numbers", usage);
  po.seed = static_cast<uint64_t>(seed);
  auto projected = ProjectThreat(*patch, po, &*scan);
  if (!projected.ok()) return Fail(projected.status());
  scan->meta.scan_id += "_tip";
  if (Status s = WriteScan(*scan, args.Get("out")); !s.ok()) return Fail(s);
  std::printf("{\"scan_id\":\"%s\",\"threat\":\"%s\",\"class\":\"%s\",\"box\":[%d,%d,%d,%d]}\n",
              scan->meta.scan_id.c_str(), projected->name.c_str(), projected->threat_class.c_str(),
              projected->x0, projected->y0, projected->x1, projected->y1);
  return 0;
}

}  // namespace

int CmdXray(int argc, char** argv, int first) {
  if (first >= argc || std::string(argv[first]) == "--help" || std::string(argv[first]) == "-h")
    return Usage(first >= argc ? "missing subcommand" : "", kXrayUsage);
  const std::string sub = argv[first];
  struct Sub {
    const char* name;
    int (*run)(int, char**, int);
  };
  static const Sub subs[] = {{"simulate", Simulate},
                             {"wedges", Wedges},
                             {"calibrate", Calibrate},
                             {"analyze", Analyze},
                             {"render", Render},
                             {"export-dicos", ExportDicos},
                             {"import-dicos", ImportDicos},
                             {"threats", Threats},
                             {"tip", Tip},
                             {"train", CmdXrayTrain},
                             {"eval", CmdXrayEval},
                             {"adapt", CmdXrayAdapt},
                             {"unseen-points", CmdXrayUnseenPoints}};
  for (const auto& s : subs)
    if (sub == s.name) return s.run(argc, argv, first + 1);
  return Usage("unknown xray subcommand '" + sub + "'", kXrayUsage);
}

}  // namespace clearsight::cli
