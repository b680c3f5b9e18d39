// Full image analysis per scan, as a worker runs it: material analysis, threat detector and
// manifest check on 1024x768 simulated parcels, 1 and 2 threads, with the time of each stage and
// the analysis alone as the baseline beside it. Prints a table and one JSON line.
//
//   xray_detect_bench [--model models/detector.pt] [--scans N] [--iterations N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "clearsight/allocator.h"
#include "clearsight/xray_analyze.h"
#include "clearsight/xray_detect.h"
#include "clearsight/xray_manifest.h"
#include "clearsight/xray_simulate.h"
#include "xray_bench_util.h"

using namespace clearsight;  // NOLINT: benchmark program

namespace {

struct Row {
  std::string impl;
  int threads = 0;  // analysis threads (and the network's, unless network_threads says)
  int network_threads = 0;
  double p50 = 0, p99 = 0, mean = 0;
  double analysis = 0, features = 0, network = 0, decode = 0, manifest = 0;  // mean ms per stage
  int runs = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(
      argc, argv,
      "usage: xray_detect_bench [--model models/detector.pt] [--scans 12] [--iterations 300]\n"
      "Full analysis per 1024x768 simulated parcel (analysis, detector, manifest check) on 1 and\n"
      "2 threads, each stage's share, and the analysis alone beside it.\n",
      {"--model", "--scans", "--iterations"});
  const std::string model = flags.Text("--model", CS_SOURCE_DIR "/models/detector.pt");
  const int n_scans = flags.Int("--scans", 12);
  const int iterations = flags.Int("--iterations", 300);
  // The allocator setting every `clearsight` command and the service run with (common/allocator.h):
  // without it glibc's adaptive thresholds return the network's large buffers to the kernel or not
  // depending on the history of the process, and the same model measured 1x to 4x its time.
  const bool kept = KeepLargeFreedBlocks();
  std::printf("machine: %s\nmodel: %s\nallocator: %s\n", bench::Machine().c_str(), model.c_str(),
              kept ? "large freed blocks kept (as clearsight runs)"
                   : "glibc defaults (GLIBC_TUNABLES set, or not glibc)");

  SimulateOptions so;
  so.seed = 2025;
  so.threat_rate = 0.3;
  auto scanner = bench::MakeSimulatedScanner(so);
  if (!scanner.ok()) return std::fprintf(stderr, "%s\n", scanner.status().message().c_str()), 1;
  const Simulator* sim = scanner->sim.get();
  const Calibration* calib = &scanner->calibration;
  std::vector<SimulatedScan> parcels;
  for (int i = 0; i < n_scans; ++i) parcels.push_back(std::move(*sim->Simulate(i)));

  std::vector<Row> rows;
  int64_t detections = 0, flagged = 0, full_runs = 0;
  // 1 thread; 2 threads for both stages; and 2 for the analysis with the network on one, which
  // is faster here: LibTorch's second intra-op thread costs more than it gives on this network.
  struct Config {
    int analysis_threads, network_threads;
  };
  for (const Config cfg : {Config{1, 1}, Config{2, 2}, Config{2, 1}}) {
    const int threads = cfg.analysis_threads;
    AnalyzerOptions ao;
    ao.threads = threads;
    auto analyzer = Analyzer::Create(*calib, ao);
    DetectorOptions dopt;
    dopt.threads = cfg.network_threads;
    auto detector = Detector::Load(model, dopt);
    if (!detector.ok()) return std::fprintf(stderr, "%s\n", detector.status().message().c_str()), 1;
    auto manifest_model = ManifestModel::FromDetector(**detector);
    if (!manifest_model.ok())
      return std::fprintf(stderr, "%s\n", manifest_model.status().message().c_str()), 1;
    const ManifestModel* manifest = manifest_model->get();
    ScanAnalysis analysis;
    DetectionResult det;
    for (const auto& p : parcels) {  // warm up
      (void)(*analyzer)->Analyze(p.scan, &analysis);
      (void)(*detector)->Detect(analysis, &det);
    }
    // Baseline: the material analysis alone (once per analysis thread count).
    if (cfg.network_threads == cfg.analysis_threads) {
      Row r{"analysis only", threads, threads};
      std::vector<double> ms;
      for (int i = 0; i < iterations; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        (void)(*analyzer)->Analyze(parcels[i % parcels.size()].scan, &analysis);
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
        r.analysis += analysis.ms / iterations;
      }
      r.p50 = bench::Percentile(ms, 0.5);
      r.p99 = bench::Percentile(ms, 0.99);
      for (double v : ms) r.mean += v / ms.size();
      r.runs = iterations;
      rows.push_back(r);
    }
    // Full: analysis + detector + manifest check.
    {
      Row r{"analysis+detector+manifest", threads, cfg.network_threads};
      std::vector<double> ms;
      for (int i = 0; i < iterations; ++i) {
        const SimulatedScan& p = parcels[i % parcels.size()];
        auto t0 = std::chrono::steady_clock::now();
        (void)(*analyzer)->Analyze(p.scan, &analysis);
        (void)(*detector)->Detect(analysis, &det);
        auto t1 = std::chrono::steady_clock::now();
        if (manifest) flagged += !manifest->Check(analysis, det, p.declaration).consistent;
        auto t2 = std::chrono::steady_clock::now();
        ms.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
        r.analysis += analysis.ms / iterations;
        r.features += det.ms_features / iterations;
        r.network += det.ms_network / iterations;
        r.decode += det.ms_decode / iterations;
        r.manifest += std::chrono::duration<double, std::milli>(t2 - t1).count() / iterations;
        detections += static_cast<int64_t>(det.detections.size());
        ++full_runs;
      }
      r.p50 = bench::Percentile(ms, 0.5);
      r.p99 = bench::Percentile(ms, 0.99);
      for (double v : ms) r.mean += v / ms.size();
      r.runs = iterations;
      rows.push_back(r);
    }
  }
  std::printf("1024x768, %d parcels cycled; %.2f detections and %.2f manifest flags per scan\n\n",
              n_scans, static_cast<double>(detections) / full_runs,
              static_cast<double>(flagged) / full_runs);
  std::printf("%-28s %7s %7s %8s %8s %8s | %9s %9s %9s %9s %9s %6s\n", "impl", "threads", "net thr",
              "p50 ms", "p99 ms", "mean ms", "analysis", "features", "network", "decode",
              "manifest", "runs");
  for (const auto& r : rows) {
    auto share = [&](double v) { return r.mean > 0 ? 100 * v / r.mean : 0.0; };
    std::printf("%-28s %7d %7d %8.2f %8.2f %8.2f | %8.0f%% %8.0f%% %8.0f%% %8.0f%% %8.0f%% %6d\n",
                r.impl.c_str(), r.threads, r.network_threads, r.p50, r.p99, r.mean,
                share(r.analysis), share(r.features), share(r.network), share(r.decode),
                share(r.manifest), r.runs);
  }
  std::string json =
      "{\"bench\":\"xray_detect\",\"machine\":\"" + bench::Machine() + "\",\"rows\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s{\"impl\":\"%s\",\"width\":1024,\"height\":768,\"threads\":%d,\"network_"
                  "threads\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
                  "\"mean_ms\":%.3f,\"stage_ms\":{\"analysis\":%.3f,\"features\":%.3f,\"network\":%"
                  ".3f,\"decode\":%.3f,"
                  "\"manifest\":%.3f},\"runs\":%d}",
                  i ? "," : "", r.impl.c_str(), r.threads, r.network_threads, r.p50, r.p99, r.mean,
                  r.analysis, r.features, r.network, r.decode, r.manifest, r.runs);
    json += buf;
  }
  std::printf("%s]}\n", json.c_str());
  return 0;
}
