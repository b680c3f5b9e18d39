// Horizon scanning throughput: a year of generated declarations (thousands of subheadings,
// origins, offices and importers) scanned whole, beside the simplest pass over the same rows
// (one hash-map count per row and family) as the baseline in the same run.
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench_util.h"
#include "clearsight/horizon.h"

using namespace clearsight;

int main(int argc, char** argv) {
  const bench::Flags flags(argc, argv,
                           "usage: horizon_bench [--rows 1000000] [--runs 2]\n"
                           "A year of generated declarations (--rows) scanned by ScanHorizon on 1 "
                           "and 2 threads, beside\n"
                           "one hash count per row and series family (the baseline), each the "
                           "best of --runs.\n",
                           {"--rows", "--runs"});
  const int rows = flags.Int("--rows", 1'000'000, 1000, 50'000'000);
  const int runs = flags.Int("--runs", 2, 1, 10);
  std::mt19937_64 rng(7);
  DeclarationBatch b;
  b.rows.resize(static_cast<size_t>(rows));
  int32_t start = 0;
  ParseDate("2025-01-01", &start);
  std::vector<std::string> hs, origins, offices;
  for (int i = 0; i < 3000; ++i) hs.push_back(std::to_string(100000 + (rng() % 870000)));
  for (int i = 0; i < 80; ++i) origins.push_back({char('A' + i / 26 % 26), char('A' + i % 26)});
  for (int i = 0; i < 40; ++i) offices.push_back("OFF" + std::to_string(i));
  const double t_gen = bench::Now();
  for (int r = 0; r < rows; ++r) {
    Declaration& d = b.rows[static_cast<size_t>(r)];
    d.declaration_id = "D" + std::to_string(r);
    d.date = start + static_cast<int32_t>(rng() % 365);
    d.hs_code = hs[rng() % hs.size()];
    d.origin_country = origins[rng() % origins.size()];
    d.office_id = offices[rng() % offices.size()];
    d.importer_id = "I" + std::to_string(rng() % 200000);
    d.net_mass_kg = 1 + static_cast<double>(rng() % 1000);
    d.declared_value = d.net_mass_kg * (5 + static_cast<double>(rng() % 100));
    d.inspected = rng() % 10 == 0;
    d.fraud = d.inspected ? static_cast<int8_t>(rng() % 5 == 0) : -1;
  }
  std::printf("machine: %s\n%d declarations generated in %.1f s\n", bench::Machine().c_str(), rows,
              bench::Now() - t_gen);
  HorizonOptions o;
  o.since = start + 273;  // the last quarter against the three before
  HorizonOptions one = o;
  one.threads = 1;
  double best_one = 1e300;
  double best_scan = 1e300, best_base = 1e300;
  size_t signals = 0;
  int64_t tested = 0;
  std::map<std::string, std::pair<int64_t, int>> by_kind;  // tested, signals
  for (int i = 0; i < runs; ++i) {
    double t0 = bench::Now();
    // Baseline: one count per row and family, as the scan's aggregation does at its simplest.
    std::vector<std::unordered_map<std::string, int64_t>> maps(8);
    std::string key;
    for (const auto& d : b.rows)
      for (size_t f = 0; f < maps.size(); ++f) {
        key.assign(std::string_view(d.hs_code).substr(0, 2 + 2 * (f % 3)));
        key += d.origin_country;
        ++maps[f][key];
      }
    best_base = std::min(best_base, bench::Now() - t0);
    t0 = bench::Now();
    if (!ScanHorizon(b, one).ok()) return 1;
    best_one = std::min(best_one, bench::Now() - t0);
    t0 = bench::Now();
    auto r = ScanHorizon(b, o);
    best_scan = std::min(best_scan, bench::Now() - t0);
    if (!r.ok()) return std::fprintf(stderr, "error: %s\n", r.status().message().c_str()), 1;
    signals = r->signals.size();
    tested = 0;
    by_kind.clear();
    for (const auto& [k, n] : r->tested) {
      tested += n;
      by_kind[k].first = n;
    }
    for (const auto& s : r->signals) by_kind[s.kind].second++;
  }
  std::printf("%-34s %10s %14s\n", "pass", "seconds", "rows/s");
  std::printf("%-34s %10.2f %14.0f\n", "baseline: one count per family", best_base,
              rows / best_base);
  std::printf("%-34s %10.2f %14.0f\n", "ScanHorizon, 1 thread", best_one, rows / best_one);
  std::printf("%-34s %10.2f %14.0f\n", "ScanHorizon, 2 threads", best_scan, rows / best_scan);
  for (const auto& [k, v] : by_kind)
    std::printf("  %-16s %8lld series tested, %4d signals (no trend was generated)\n", k.c_str(),
                static_cast<long long>(v.first), v.second);
  std::printf("series tested %lld, signals %zu; scan / baseline %.2fx\n",
              static_cast<long long>(tested), signals, best_scan / best_base);
  std::printf(
      "{\"bench\":\"horizon\",\"machine\":\"%s\",\"rows\":%d,\"baseline_s\":%.3f,"
      "\"scan_1_thread_s\":%.3f,\"scan_2_threads_s\":%.3f,\"series_tested\":%lld,"
      "\"signals\":%zu}\n",
      bench::Machine().c_str(), rows, best_base, best_one, best_scan,
      static_cast<long long>(tested), signals);
  return 0;
}
