// Analysis time per scan: the Analyzer (lookup tables, row bands on 1 or 2 threads, run-based
// labelling) beside AnalyzeReference (the straightforward per-pixel implementation), at
// 1024x768 and 2048x1024, on simulated parcels. Prints a table and one JSON line.
//
//   xray_analyze_bench [--scans N] [--iterations N] [--reference-iterations N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "clearsight/xray_analyze.h"
#include "clearsight/xray_simulate.h"
#include "xray_bench_util.h"

using namespace clearsight;  // NOLINT: benchmark program

namespace {

struct Row {
  std::string impl;
  int width, height, threads;
  double p50, p99, mean;
  int runs;
};

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(
      argc, argv,
      "usage: xray_analyze_bench [--scans 12] [--iterations 300] [--reference-iterations 12]\n"
      "Analysis time per scan (the Analyzer on 1 and 2 threads beside the per-pixel reference) at\n"
      "1024x768 and 2048x1024.\n",
      {"--scans", "--iterations", "--reference-iterations"});
  const int n_scans = flags.Int("--scans", 12);
  const int iterations = flags.Int("--iterations", 300);
  const int ref_iterations = flags.Int("--reference-iterations", 12);
  std::printf("machine: %s\n", bench::Machine().c_str());

  SimulateOptions so;
  so.seed = 2024;
  so.threat_rate = 0.3;
  auto scanner = bench::MakeSimulatedScanner(so);
  if (!scanner.ok()) return std::fprintf(stderr, "%s\n", scanner.status().message().c_str()), 1;
  const Calibration* calib = &scanner->calibration;

  std::vector<Row> rows;
  for (auto [w, h] : {std::pair{1024, 768}, std::pair{2048, 1024}}) {
    SimulateOptions o = so;
    o.width = w;
    o.height = h;
    auto s = Simulator::Create(o);
    std::vector<Scan> scans;
    for (int i = 0; i < n_scans; ++i) scans.push_back(std::move((*s)->Simulate(i)->scan));
    int64_t objects = 0;
    for (int threads : {1, 2}) {
      AnalyzerOptions ao;
      ao.threads = threads;
      auto analyzer = Analyzer::Create(*calib, ao);
      ScanAnalysis out;
      for (const auto& sc : scans) (void)(*analyzer)->Analyze(sc, &out);  // warm up
      std::vector<double> ms;
      for (int i = 0; i < iterations; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        (void)(*analyzer)->Analyze(scans[i % scans.size()], &out);
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
        objects += static_cast<int64_t>(out.objects.size());
      }
      double mean = 0;
      for (double v : ms) mean += v / ms.size();
      rows.push_back({"analyzer", w, h, threads, bench::Percentile(ms, 0.5),
                      bench::Percentile(ms, 0.99), mean, iterations});
    }
    std::vector<double> ms;
    ScanAnalysis out;
    for (int i = 0; i < ref_iterations; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      (void)AnalyzeReference(*calib, AnalyzerOptions{}, scans[i % scans.size()], &out);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    double mean = 0;
    for (double v : ms) mean += v / ms.size();
    rows.push_back({"reference", w, h, 1, bench::Percentile(ms, 0.5), bench::Percentile(ms, 0.99),
                    mean, ref_iterations});
    std::printf("%dx%d: %.1f objects per scan on average\n", w, h, objects / (2.0 * iterations));
  }
  std::printf("\n%-10s %-10s %7s %9s %9s %9s %6s %9s\n", "impl", "size", "threads", "p50 ms",
              "p99 ms", "mean ms", "runs", "speedup");
  for (const auto& r : rows) {
    double ref = 0;
    for (const auto& q : rows)
      if (q.impl == "reference" && q.width == r.width) ref = q.p50;
    std::printf("%-10s %4dx%-5d %7d %9.2f %9.2f %9.2f %6d %8.1fx\n", r.impl.c_str(), r.width,
                r.height, r.threads, r.p50, r.p99, r.mean, r.runs, ref / r.p50);
  }
  std::string json =
      "{\"bench\":\"xray_analyze\",\"machine\":\"" + bench::Machine() + "\",\"rows\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%s{\"impl\":\"%s\",\"width\":%d,\"height\":%d,\"threads\":%d,\"p50_ms\":%.3f,"
                  "\"p99_ms\":%.3f,"
                  "\"mean_ms\":%.3f,\"runs\":%d}",
                  i ? "," : "", rows[i].impl.c_str(), rows[i].width, rows[i].height,
                  rows[i].threads, rows[i].p50, rows[i].p99, rows[i].mean, rows[i].runs);
    json += buf;
  }
  std::printf("%s]}\n", json.c_str());
  return 0;
}
