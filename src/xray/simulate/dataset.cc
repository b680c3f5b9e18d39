// Writing simulated datasets: scans, truth, declarations. Workers simulate parcels by index;
// each parcel's files depend only on its index, so the bytes do not depend on the thread count.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "clearsight/xray_simulate.h"

namespace clearsight {

namespace fs = std::filesystem;

Status SimulateDataset(const SimulateOptions& options, int64_t count, const std::string& out_dir,
                       const std::function<void(int64_t, int64_t)>& progress,
                       DatasetReport* report) {
  if (count < 1 || count > 10'000'000) return Status::InvalidArgument("count must be 1..10000000");
  CS_ASSIGN_OR_RETURN(auto sim, Simulator::Create(options));
  CS_RETURN_IF_ERROR(MakeDirs(out_dir));
  CS_RETURN_IF_ERROR(MakeDirs((fs::path(out_dir) / "truth").string()));
  const auto start = std::chrono::steady_clock::now();

  struct Row {
    Declaration declaration;
    std::string truth_line;
    bool threat = false;
    DeclarationTruth truth = DeclarationTruth::kHonest;
  };
  std::vector<Row> rows(static_cast<size_t>(count));
  std::atomic<int64_t> next{0}, done{0};
  std::mutex mu;
  std::condition_variable cv;
  Status first_error;
  std::atomic<bool> failed{false};

  auto work = [&] {
    for (;;) {
      int64_t i = next.fetch_add(1);
      if (i >= count || failed.load()) break;
      auto r = sim->Simulate(i);
      Status s = r.ok() ? Status::Ok() : r.status();
      if (s.ok()) {
        const SimulatedScan& ss = *r;
        std::string base = (fs::path(out_dir) / ss.scan.meta.scan_id).string();
        s = WriteScan(ss.scan, base + ".tif", options.write);
        if (s.ok())
          s = WriteFileAtomic(
              (fs::path(out_dir) / "truth" / (ss.scan.meta.scan_id + ".json")).string(),
              ss.truth.ToJson() + "\n");
        Row& row = rows[static_cast<size_t>(i)];
        row.declaration = ss.declaration;
        row.truth = ss.truth.declaration_truth;
        for (const auto& o : ss.truth.objects) row.threat |= o.threat;
        std::string line;
        for (auto f :
             {ss.declaration.declaration_id.str(), ss.truth.consignment_id, ss.truth.scan_id,
              std::string(DeclarationTruthName(ss.truth.declaration_truth)), ss.truth.true_hs_code,
              FormatDouble(ss.truth.true_value), std::string(row.threat ? "1" : "0"),
              ss.truth.true_description}) {
          if (!line.empty()) line += ',';
          AppendCsvField(&line, f);
        }
        row.truth_line = line;
      }
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = s;
        failed = true;
      }
      done.fetch_add(1);
      cv.notify_one();
    }
  };
  const int threads = std::max(1, std::min(options.threads, 64));
  std::atomic<int> running{threads};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      work();
      running.fetch_sub(1);
      cv.notify_one();
    });
  // The calling thread only reports progress.
  int64_t reported = -1;
  while (running.load() > 0) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(250));
    }
    int64_t d = done.load();
    if (progress && d != reported) {
      progress(d, count);
      reported = d;
    }
  }
  if (progress && done.load() != reported) progress(done.load(), count);
  for (auto& t : pool) t.join();
  if (!first_error.ok()) return first_error;

  DeclarationBatch batch;
  std::string truth_csv =
      "declaration_id,consignment_id,scan_id,truth,true_hs_code,true_value,has_threat,true_"
      "description\n";
  DatasetReport rep;
  for (auto& row : rows) {
    batch.rows.push_back(row.declaration);
    truth_csv += row.truth_line + "\n";
    rep.threats += row.threat;
    rep.misdeclared += row.truth == DeclarationTruth::kMisdeclared;
    rep.undervalued += row.truth == DeclarationTruth::kUndervalued;
  }
  CS_RETURN_IF_ERROR(
      WriteDeclarationsCsv((fs::path(out_dir) / "declarations.csv").string(), batch));
  CS_RETURN_IF_ERROR(
      WriteFileAtomic((fs::path(out_dir) / "declarations_truth.csv").string(), truth_csv));
  rep.scans = count;
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (report) *report = rep;
  return Status::Ok();
}

Status WriteSimulatedWedges(const SimulateOptions& options, const std::string& out_dir) {
  CS_ASSIGN_OR_RETURN(auto sim, Simulator::Create(options));
  CS_ASSIGN_OR_RETURN(auto wedges, sim->SimulateWedges());
  CS_RETURN_IF_ERROR(MakeDirs(out_dir));
  for (const auto& w : wedges)
    CS_RETURN_IF_ERROR(
        WriteWedgeScan(w, (fs::path(out_dir) / (w.scan.meta.scan_id + ".tif")).string()));
  return Status::Ok();
}

}  // namespace clearsight
