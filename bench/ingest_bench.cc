// Ingest benchmark: parse + validate the KCS format, replicated to >= 1M rows, on one thread,
// side by side with a straightforward getline/stringstream/stod reader on the same bytes.
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "clearsight/declarations.h"
#include "clearsight/file_util.h"

using namespace clearsight;

namespace {

// The baseline: what a careful first version looks like (no validation beyond stod).
size_t NaiveParse(const std::string& data) {
  std::istringstream in(data);
  std::string line;
  std::getline(in, line);
  size_t rows = 0;
  double sink = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream ls(line);
    std::string f;
    while (std::getline(ls, f, ',')) fields.push_back(f);
    if (fields.size() < 20) continue;
    sink += std::stod(fields[18]) + std::stod(fields[19]) + std::stod(fields[15]);
    ++rows;
  }
  if (sink == -1) std::printf(" ");
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(
      argc, argv,
      "usage: ingest_bench [--rows 1000000] [--data " CS_DATA
      "]\n"
      "Parse + validate throughput of the KCS format on the public training rows replicated to\n"
      "--rows, one thread, beside a getline/stringstream/stod reader on the same bytes.\n"
      "--data is the public data folder (customs/df_syn_train_eng.csv).\n",
      {"--rows", "--data"});
  const size_t target = static_cast<size_t>(flags.Int("--rows", 1'000'000, 1, 100'000'000));
  auto raw = ReadFile(flags.Text("--data", CS_DATA) + "/customs/df_syn_train_eng.csv");
  if (!raw.ok()) {
    std::fprintf(stderr, "error: %s\n", raw.status().message().c_str());
    return 1;
  }
  size_t header_end = raw->find('\n') + 1;
  std::string header = raw->substr(0, header_end), body = raw->substr(header_end);
  // Replicate with distinct declaration ids (the first column gets a copy suffix).
  std::string data = header;
  size_t rows = 0, copy = 0;
  while (rows < target) {
    size_t p = 0;
    while (p < body.size() && rows < target) {
      size_t e = body.find('\n', p);
      if (e == std::string::npos) e = body.size();
      size_t comma = body.find(',', p);
      data.append(body, p, comma - p);
      data += "r" + std::to_string(copy);
      data.append(body, comma, e - comma);
      data += '\n';
      p = e + 1;
      ++rows;
    }
    ++copy;
  }
  ReadOptions options;
  options.format = DeclarationFormat::kKcs;
  size_t accepted = 0;
  double ours = bench::BestOf(3, [&] {
    IngestReport report;
    auto batch = ParseDeclarations(data, "bench.csv", options, &report);
    accepted = batch.ok() ? batch->rows.size() : 0;
  });
  size_t naive_rows = 0;
  double naive = bench::BestOf(2, [&] { naive_rows = NaiveParse(data); });
  double mb = data.size() / 1e6;
  std::printf("ingest benchmark: KCS format, %zu rows (%.0f MB), one thread, best of runs\n", rows,
              mb);
  std::printf("machine: %s\n\n", bench::Machine().c_str());
  std::printf("%-44s %12s %10s %8s\n", "reader", "rows/s", "MB/s", "rows");
  std::printf("%-44s %12.0f %10.1f %8zu\n", "clearsight (parse + full validation)", rows / ours,
              mb / ours, accepted);
  std::printf("%-44s %12.0f %10.1f %8zu\n", "baseline getline + stringstream + stod", rows / naive,
              mb / naive, naive_rows);
  std::printf("speed-up: %.1fx; target >= 1,000,000 rows/s: %s\n\n", naive / ours,
              rows / ours >= 1e6 ? "met" : "NOT met");
  std::printf(
      "{\"bench\":\"ingest\",\"rows\":%zu,\"rows_per_s\":%.0f,\"mb_per_s\":%.1f,\"baseline_rows_"
      "per_s\":%.0f,"
      "\"speedup\":%.2f,\"accepted\":%zu}\n",
      rows, rows / ours, mb / ours, rows / naive, naive / ours, accepted);
  return accepted == rows ? 0 : 1;
}
