// Simulation throughput: parcels per second at 1024x768 (and a smaller training size), one thread
// and two (independent parcels in parallel), in memory and written to disk. Prints a table and
// one JSON line.
//
//   xray_simulate_bench [--scans N]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "clearsight/xray_simulate.h"
#include "xray_bench_util.h"

using namespace clearsight;  // NOLINT: benchmark program

int main(int argc, char** argv) {
  const bench::Flags flags(
      argc, argv,
      "usage: xray_simulate_bench [--scans 24]\n"
      "Simulated parcels per second at 1024x768 and a training size, 1 and 2 threads, in memory\n"
      "and written to disk.\n",
      {"--scans"});
  const int n = flags.Int("--scans", 24);
  std::printf("machine: %s\n", bench::Machine().c_str());
  struct Row {
    std::string what;
    int width, height, threads;
    double scans_per_s;
  };
  std::vector<Row> rows;
  for (auto [w, h] : {std::pair{1024, 768}, std::pair{512, 384}}) {
    SimulateOptions o;
    o.width = w;
    o.height = h;
    o.seed = 99;
    auto sim = Simulator::Create(o);
    if (!sim.ok()) return 1;
    for (int threads : {1, 2}) {
      std::atomic<int> next{0};
      auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
          for (int i; (i = next.fetch_add(1)) < n;) (void)(*sim)->Simulate(i);
        });
      for (auto& t : pool) t.join();
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rows.push_back({"in memory", w, h, threads, n / s});
    }
    // The CLI path: TIFF + sidecar + truth + declarations on disk, two threads.
    std::string dir =
        (std::filesystem::temp_directory_path() / ("xray_sim_bench_" + std::to_string(w))).string();
    std::filesystem::remove_all(dir);
    DatasetReport rep;
    o.threads = 2;
    if (!SimulateDataset(o, n, dir, {}, &rep).ok()) return 1;
    rows.push_back({"to disk", w, h, 2, rep.scans / rep.seconds});
    std::filesystem::remove_all(dir);
  }
  std::printf("\n%-10s %-10s %7s %10s\n", "mode", "size", "threads", "scans/s");
  for (const auto& r : rows)
    std::printf("%-10s %4dx%-5d %7d %10.1f\n", r.what.c_str(), r.width, r.height, r.threads,
                r.scans_per_s);
  std::printf("{\"bench\":\"xray_simulate\",\"machine\":\"%s\",\"scans\":%d,\"rows\":[",
              bench::Machine().c_str(), n);
  for (size_t i = 0; i < rows.size(); ++i)
    std::printf(
        "%s{\"mode\":\"%s\",\"width\":%d,\"height\":%d,\"threads\":%d,\"scans_per_s\":%.2f}",
        i ? "," : "", rows[i].what.c_str(), rows[i].width, rows[i].height, rows[i].threads,
        rows[i].scans_per_s);
  std::printf("]}\n");
  return 0;
}
