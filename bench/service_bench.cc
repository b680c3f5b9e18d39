// service_bench: load on the HTTP service, measured with wrk (Debian) on loopback.
//
//   1. GET /api/health                       the HTTP layer's ceiling (no auth, no store): baseline
//   2. POST /api/declarations, sync=full     one declaration per request -> decision with reasons;
//                                            committed with fsync before the answer (the default)
//   3. POST /api/declarations, sync=normal   the same with SQLite synchronous=NORMAL (kill -9 safe,
//                                            not power-loss safe): what the fsync costs
//   4. POST /api/scans at a fixed rate       submit-to-decision latency of 1024x768 dual-energy
//   scans
//                                            (decode, store, material analysis, fusion, commit)
//                                            (each upload a different image; the first 4 s after
//                                            the service started are reported apart: cold heap)
//   5. POST /api/scans, 4 clients            back to back: the scans a node decides per second
//   6. with --cold-starts N: restarts         `clearsight serve` started afresh, without and with
//   its
//                                            startup warm-up: the scans of the first 4 s after each
// 4 and 5 run once per analysis worker setting (--analysis-threads 0,4; 0 = on the HTTP thread
// that took the upload) and, with --detector (which adds the threat detector and manifest check),
// per network thread setting (--detector-threads 1), each on a fresh service: side by side.
// The service runs in this process on the same 2 cores as wrk, as a deployment on one machine
// would. Prints a table and one JSON line. Targets (issue 6): >= 5,000 decisions/s with p99 <= 10
// ms; scan submit-to-decision p99 <= 150 ms at 10 scans/s.
#include <httplib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <regex>
#include <thread>

#include "bench_util.h"
#include "clearsight/allocator.h"
#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/risk_model.h"
#include "clearsight/service.h"
#include "clearsight/text.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_simulate.h"

namespace cs = clearsight;
using nlohmann::json;

namespace {

struct Flags {
  int seconds = 10;
  int connections = 16;
  int wrk_threads = 2;
  int scan_seconds = 15;
  double scan_rate = 10;
  int scan_width = 1024, scan_height = 768;
  std::string model;
  std::string detector;  // threat detector for the scan load ("" = material analysis only)
  std::vector<int> detector_threads = {1};  // network thread settings compared on the scan load
  // Analysis worker settings compared on the scan load (0: on the HTTP thread, the service before
  // the workers).
  std::vector<int> analysis_threads = {0, 4};
  bool keep = false;
  int cold_starts = 0;     // fresh `clearsight serve` processes per warm-up setting
  std::string clearsight;  // that binary ("" = the one beside this bench)
};

[[noreturn]] void Die(const std::string& m) {
  std::fprintf(stderr, "service_bench: %s\n", m.c_str());
  std::exit(1);
}

std::string Run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) Die("cannot run " + cmd);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  if (rc != 0) Die("command failed (" + std::to_string(rc) + "): " + cmd + "\n" + out);
  return out;
}

struct LoadResult {
  std::string name;
  double rps = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  int64_t requests = 0, errors = 0;
  double server_cpu_us = 0;  // service CPU time (user + system, all its threads) per request
};

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec * 1e-6;
}

// wrk prints the Lua done() JSON as its last line.
LoadResult ParseWrk(const std::string& name, const std::string& out) {
  LoadResult r;
  r.name = name;
  size_t at = out.rfind("{\"requests\"");
  if (at == std::string::npos) Die("no JSON in wrk output:\n" + out);
  json j = json::parse(out.substr(at, out.find('\n', at) - at));
  r.requests = j["requests"];
  r.errors = j["errors"].get<int64_t>() + j.value("unexpected", int64_t{0});
  r.rps = j["rps"];
  r.p50_ms = j["p50_us"].get<double>() / 1000;
  r.p90_ms = j["p90_us"].get<double>() / 1000;
  r.p99_ms = j["p99_us"].get<double>() / 1000;
  r.max_ms = j["max_us"].get<double>() / 1000;
  return r;
}

const char kDoneLua[] = R"lua(
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status +
                 summary.errors.timeout
  -- Answers other than the expected status (counted by each thread's response(), if any).
  local unexpected = 0
  for _, t in ipairs(threads or {}) do unexpected = unexpected + (t:get("unexpected") or 0) end
  io.write(string.format(
    '{"requests":%d,"errors":%d,"unexpected":%d,"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, errors, unexpected, summary.requests / (summary.duration / 1e6), latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max))
end
)lua";

// Declarations as JSON bodies split around the id, so each wrk request gets a fresh id cheaply.
std::string DeclarationLua(const cs::DeclarationBatch& batch, const std::string& token,
                           const std::string& run) {
  std::string lua = "local pre = {}\nlocal post = {}\n";
  for (size_t i = 0; i < batch.rows.size(); ++i) {
    cs::Declaration d = batch.rows[i];
    d.declaration_id = "@ID@";
    d.fraud = d.critical = -1;
    std::string body = cs::DeclarationToJson(d, batch.extra_columns);
    size_t at = body.find("@ID@");
    auto quote = [](const std::string& s) { return json(s).dump(); };
    lua += "pre[" + std::to_string(i + 1) + "] = " + quote(body.substr(0, at)) + "\n";
    lua += "post[" + std::to_string(i + 1) + "] = " + quote(body.substr(at + 4)) + "\n";
  }
  lua += "local n = " + std::to_string(batch.rows.size()) + "\n";
  // Each wrk thread runs this script in its own Lua state: `tid` is set there by setup() (a global,
  // so that request() sees it), making ids unique across threads; every request must create a
  // new declaration (201), and any other answer is counted.
  lua += R"lua(
local counter = 0
local nthreads = 0
threads = {}
unexpected = 0
setup = function(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end
init = function(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
)lua";
  lua += "  wrk.headers[\"Authorization\"] = \"Bearer " + token + "\"\nend\n";
  lua +=
      "request = function()\n  counter = counter + 1\n  local i = (counter % n) + 1\n"
      "  local body = pre[i] .. \"" +
      run +
      "-\" .. tid .. \"-\" .. counter .. post[i]\n"
      "  return wrk.format(nil, \"/api/declarations\", nil, body)\nend\n";
  lua += R"lua(
response = function(status, headers, body)
  if status ~= 201 then
    unexpected = unexpected + 1
    if unexpected <= 3 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
  end
end
)lua";
  return lua + kDoneLua;
}

struct Server {
  std::unique_ptr<cs::Service> service;
  std::string token;
};

Server StartServer(const std::string& dir, const std::string& name, const Flags& f,
                   const std::string& model, const std::string& calibration, bool sync_full,
                   const std::string& detector = "", int detector_threads = 1,
                   int analysis_threads = 2) {
  cs::ServiceOptions o;
  o.port = 0;
  o.store.url = dir + "/" + name + ".db";
  o.store.sqlite_synchronous_full = sync_full;
  o.model_dir = model;
  o.calibration_path = calibration;
  o.detector_path = detector;
  o.detector_threads = detector_threads;
  o.analysis_threads = analysis_threads;
  o.http_threads = std::max(8, f.connections + 8);
  auto svc = cs::Service::Create(o);
  if (!svc.ok()) Die(svc.status().ToString());
  if (cs::Status s =
          cs::AddUser((*svc)->store(), "bench", cs::Role::kIntegrator, "bench-password", "bench");
      !s.ok())
    Die(s.ToString());
  if (cs::Status s = (*svc)->Start(); !s.ok()) Die(s.ToString());
  httplib::Client c("127.0.0.1", (*svc)->port());
  auto r = c.Post("/api/login", R"({"username":"bench","password":"bench-password"})",
                  "application/json");
  if (!r || r->status != 200) Die("login failed");
  return Server{std::move(svc).value(), json::parse(r->body)["token"]};
}

LoadResult Wrk(const Flags& f, const std::string& name, int port, const std::string& path,
               const std::string& script) {
  std::string cmd = "wrk -t" + std::to_string(f.wrk_threads) + " -c" +
                    std::to_string(f.connections) + " -d" + std::to_string(f.seconds) +
                    "s --timeout 10s -s " + script + " http://127.0.0.1:" + std::to_string(port) +
                    path + " 2>&1";
  const double cpu0 = ProcessCpuSeconds();
  LoadResult r = ParseWrk(name, Run(cmd));
  r.server_cpu_us = (ProcessCpuSeconds() - cpu0) * 1e6 / std::max<int64_t>(1, r.requests);
  return r;
}

struct ScanLoad {
  int detector_threads = 1, analysis_threads = 2;
  std::vector<double> cold_ms;  // open loop, the first kWarmSeconds after the service started
  std::vector<double> ms;  // open loop after those: submit-to-decision of each scan at f.scan_rate
  int errors = 0;
  double max_rate =
      0;  // closed loop: scans decided per second with kClients uploading back to back
  std::vector<double> max_rate_ms;
};

constexpr int kClients = 4;
// A freshly started process is slower for its first seconds of scans: each malloc arena's heap
// grows page by page, every new page a fault (profiled: a fifth of the CPU in page faults then).
// One arena per core shortened that (p50 of those scans 240 -> 70 ms) but cost the declarations
// 10-25 % more CPU each and later scans 5-10 ms, so it was not kept. The targets are read after
// these first seconds. (Only the run's first service starts cold: later ones reuse the heap.)
constexpr double kWarmSeconds = 4;

// Posts scan k (its declaration was posted first); returns the latency in ms, or -1 on failure.
// Every upload is a different image, as at a scanner: a few pixels of the (uncompressed) TIFF
// change by less than 256 counts, so the service stores each file durably instead of finding it
// already stored.
double PostScan(httplib::Client& c, const httplib::Headers& auth,
                const std::vector<std::string>& tiffs, const std::string& prefix, int k) {
  std::string tiff = tiffs[k % tiffs.size()];
  const uint32_t unique = static_cast<uint32_t>(k) + (prefix == "O" ? 0u : 1u << 24);
  const size_t mid =
      tiff.size() / 2 & ~size_t{1};  // the low byte of a 16-bit pixel (little-endian)
  for (int b = 0; b < 4; ++b)
    tiff[mid + 2 * b] = static_cast<char>(tiff[mid + 2 * b] ^ (unique >> (8 * b) & 0xff));
  json sidecar = {{"scan_id", prefix + "S" + std::to_string(k)},
                  {"pixel_mm", 0.7},
                  {"consignment_id", prefix + "C" + std::to_string(k)}};
  httplib::MultipartFormDataItems items = {
      {"tiff", std::move(tiff), "scan.tif", "image/tiff"},
      {"sidecar", sidecar.dump(), "scan.json", "application/json"}};
  double a = clearsight::bench::Now();
  auto r = c.Post("/api/scans", auth, items);
  double ms = (clearsight::bench::Now() - a) * 1e3;
  if (!r || r->status != 201) {
    if (r)
      std::fprintf(stderr, "scan %s%d: %d %s\n", prefix.c_str(), k, r->status, r->body.c_str());
    return -1;
  }
  return ms;
}

// Posts a declaration for consignments <prefix>C0 .. <prefix>C(n-1) (each scan's declaration comes
// first, as at a sorting centre).
void Declare(httplib::Client& c, const httplib::Headers& auth,
             const std::vector<cs::Declaration>& decls, const std::string& prefix, int n) {
  for (int k = 0; k < n; ++k) {
    cs::Declaration d = decls[k % decls.size()];
    d.declaration_id = prefix + "D" + std::to_string(k);
    d.consignment_id = prefix + "C" + std::to_string(k);
    auto r = c.Post("/api/declarations", auth, cs::DeclarationToJson(d, {}), "application/json");
    if (!r || r->status != 201) Die("declaration for scan failed");
  }
}

// Open loop: scans first .. first+count-1 submitted at `rate` per second from now (each at its
// scheduled time, by kClients clients); record(k, ms) gets each latency, ms < 0 for a failure.
void OpenLoop(int port, const httplib::Headers& auth, const std::vector<std::string>& tiffs,
              int first, int count, double rate, const std::function<void(int, double)>& record) {
  const double t0 = clearsight::bench::Now() + 0.2;
  std::mutex mu;
  std::vector<std::thread> pool;
  for (int w = 0; w < kClients; ++w) {
    pool.emplace_back([&, w] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(30, 0);
      for (int k = first + w; k < first + count; k += kClients) {
        double wait = t0 + (k - first) / rate - clearsight::bench::Now();
        if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
        double ms = PostScan(c, auth, tiffs, "O", k);
        std::lock_guard lock(mu);
        record(k, ms);
      }
    });
  }
  for (auto& t : pool) t.join();
}

// A fresh service with the detector's network on `threads` threads and `workers` analysis
// workers: scans at f.scan_rate for
// f.scan_seconds (each submission at its scheduled time), then kClients clients posting back to
// back for f.scan_seconds.
ScanLoad RunScans(const std::string& dir, const std::string& name, const Flags& f,
                  const std::string& model, const std::string& calibration, int threads,
                  int workers, const std::vector<std::string>& tiffs,
                  const std::vector<cs::Declaration>& decls) {
  ScanLoad load;
  load.detector_threads = threads;
  load.analysis_threads = workers;
  Server s = StartServer(dir, name, f, model, calibration, true, f.detector, threads, workers);
  httplib::Client setup("127.0.0.1", s.service->port());
  httplib::Headers auth = {{"Authorization", "Bearer " + s.token}};
  const int cold = static_cast<int>(f.scan_rate * kWarmSeconds);
  const int open_total = cold + static_cast<int>(f.scan_rate * f.scan_seconds);
  // Enough declarations for the closed loop at 60 scans/s.
  const int closed_cap = 60 * f.scan_seconds;
  Declare(setup, auth, decls, "O", open_total);
  std::fprintf(stderr,
               "scans, network on %d thread(s): %d at %.0f/s (the first %d after start apart)...\n",
               threads, open_total, f.scan_rate, cold);
  OpenLoop(s.service->port(), auth, tiffs, 0, open_total, f.scan_rate, [&](int k, double ms) {
    if (ms < 0)
      ++load.errors;
    else
      (k < cold ? load.cold_ms : load.ms).push_back(ms);
  });
  Declare(setup, auth, decls, "X", closed_cap);
  std::fprintf(stderr, "scans, network on %d thread(s): %d clients back to back for %d s...\n",
               threads, kClients, f.scan_seconds);
  {
    std::mutex mu;
    std::atomic<int> next{0};
    const double t0 = clearsight::bench::Now(), until = t0 + f.scan_seconds;
    std::vector<std::thread> pool;
    for (int w = 0; w < kClients; ++w) {
      pool.emplace_back([&] {
        httplib::Client c("127.0.0.1", s.service->port());
        c.set_read_timeout(30, 0);
        for (int k; clearsight::bench::Now() < until && (k = next++) < closed_cap;) {
          double ms = PostScan(c, auth, tiffs, "X", k);
          std::lock_guard lock(mu);
          if (ms < 0)
            ++load.errors;
          else
            load.max_rate_ms.push_back(ms);
        }
      });
    }
    for (auto& t : pool) t.join();
    load.max_rate = load.max_rate_ms.size() / (clearsight::bench::Now() - t0);
  }
  return load;
}

// --cold-starts N: what a restart costs the first scans. `clearsight serve` (the binary beside this
// one) is started afresh 2N times, alternately without and with its startup warm-up (--warm-up);
// each time the declarations, then scans at f.scan_rate for kWarmSeconds from the moment its port
// is open. Separate processes: within one only the first service starts cold.
struct ColdStarts {
  bool warm_up = false;
  std::vector<double> ms;         // every scan of every start
  std::vector<double> startup_s;  // start to port open, each start
  std::vector<double> faults;     // the service's minor page faults during the scans, each start
  // The next kWarmSeconds of scans of the same process: the reference, once the heap has grown.
  std::vector<double> later_ms, later_faults;
  int errors = 0;
};

// Minor page faults of process `pid` so far (/proc/PID/stat field 10): a count that machine load
// does not inflate, unlike latencies.
double MinorFaults(pid_t pid) {
  auto text = cs::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text.ok()) return 0;
  const size_t close = text->rfind(')');  // after the command name, which may hold spaces
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields;
  for (const auto& v : cs::Split(std::string_view(*text).substr(close + 2), ' '))
    fields.emplace_back(v);
  return fields.size() > 7 ? std::atof(fields[7].c_str())
                           : 0;  // state ppid pgrp session tty tpgid flags minflt
}

void RunColdStart(const std::string& exe, const std::string& dir, const std::string& name,
                  const Flags& f, const std::string& model, const std::string& calibration,
                  const std::vector<std::string>& tiffs, const std::vector<cs::Declaration>& decls,
                  ColdStarts* out) {
  const std::string port_file = dir + "/" + name + ".port", log = dir + "/" + name + ".log";
  std::vector<std::string> args = {
      exe,       "serve",       "--db",    dir + "/" + name + ".db", "--port",
      "0",       "--port-file", port_file, "--calibration",          calibration,
      "--model", model};
  if (out->warm_up) args.push_back("--warm-up");
  if (!f.detector.empty()) args.insert(args.end(), {"--detector", f.detector});
  const double t0 = clearsight::bench::Now();
  const pid_t pid = ::fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    ::setenv("CLEARSIGHT_ADMIN_PASSWORD", "bench-password", 1);
    if (!std::freopen(log.c_str(), "w", stdout) || !std::freopen(log.c_str(), "a", stderr))
      ::_exit(126);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  int port = 0;
  while (port == 0) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      auto text = cs::ReadFile(log);
      Die(exe + " serve exited at startup:\n" + (text.ok() ? *text : ""));
    }
    if (clearsight::bench::Now() - t0 > 120) Die(exe + " serve did not open its port in 120 s");
    auto text = cs::ReadFile(port_file);
    if (text.ok() && !text->empty()) port = std::atoi(text->c_str());
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  out->startup_s.push_back(clearsight::bench::Now() - t0);
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/api/login", R"({"username":"admin","password":"bench-password"})",
                  "application/json");
  if (!r || r->status != 200) Die("login to the fresh service failed");
  httplib::Headers auth = {
      {"Authorization", "Bearer " + json::parse(r->body)["token"].get<std::string>()}};
  const int n = static_cast<int>(f.scan_rate * kWarmSeconds);
  Declare(c, auth, decls, "O", 2 * n);
  const double faults0 = MinorFaults(pid);
  OpenLoop(port, auth, tiffs, 0, n, f.scan_rate, [&](int, double ms) {
    if (ms < 0)
      ++out->errors;
    else
      out->ms.push_back(ms);
  });
  const double faults1 = MinorFaults(pid);
  out->faults.push_back(faults1 - faults0);
  OpenLoop(port, auth, tiffs, n, n, f.scan_rate, [&](int, double ms) {
    if (ms < 0)
      ++out->errors;
    else
      out->later_ms.push_back(ms);
  });
  out->later_faults.push_back(MinorFaults(pid) - faults1);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace

int main(int argc, char** argv) {
  // The allocator setting `clearsight serve` runs with (common/allocator.h).
  cs::KeepLargeFreedBlocks();
  const cs::bench::Flags args(
      argc, argv,
      "usage: service_bench [--seconds 10] [--connections 16] [--wrk-threads 2] [--scan-seconds "
      "15]\n"
      "                     [--scan-rate 10] [--model DIR] [--detector models/detector.pt]\n"
      "                     [--detector-threads 1] [--analysis-threads 0,4] [--quick] [--keep]\n"
      "                     [--cold-starts N] [--clearsight build/release/clearsight] "
      "[--data " CS_DATA
      "]\n"
      "--detector adds the threat detector and manifest check to each scan's analysis; the scan "
      "load\n"
      "runs once per --analysis-threads (workers; 0 = on the HTTP thread) and --detector-threads "
      "setting\n"
      "(threads of each scan's network), each on a fresh service.\n"
      "--cold-starts N starts `clearsight serve` 2N times, alternately without and with its "
      "startup\n"
      "warm-up (--warm-up), and measures the scans of the first 4 s after each start.\n"
      "--quick is --seconds 3 --scan-seconds 4; --keep leaves the working folder in /tmp;\n"
      "--data is the public data folder (customs/df_syn_*_eng.csv).\n",
      {"--seconds", "--connections", "--wrk-threads", "--scan-seconds", "--scan-rate", "--model",
       "--detector", "--detector-threads", "--analysis-threads", "--cold-starts", "--clearsight",
       "--data"},
      {"--quick", "--keep"});
  Flags f;
  const bool quick = args.Has("--quick");
  f.seconds = args.Int("--seconds", quick ? 3 : f.seconds, 1, 3600);
  f.connections = args.Int("--connections", f.connections, 1, 10000);
  f.wrk_threads = args.Int("--wrk-threads", f.wrk_threads, 1, 256);
  f.scan_seconds = args.Int("--scan-seconds", quick ? 4 : f.scan_seconds, 1, 3600);
  f.scan_rate = args.Double("--scan-rate", f.scan_rate, 0.1, 1000);
  f.model = args.Text("--model", "");
  f.detector = args.Text("--detector", "");
  f.detector_threads = args.IntList("--detector-threads", f.detector_threads, 1, 16);
  f.analysis_threads = args.IntList("--analysis-threads", f.analysis_threads, 0, 16);
  f.keep = args.Has("--keep");
  f.cold_starts = args.Int("--cold-starts", f.cold_starts, 0, 100);
  f.clearsight = args.Text("--clearsight", "");
  const std::string data = args.Text("--data", CS_DATA);
  if (std::system("wrk --version > /dev/null 2>&1") != 0 &&
      std::system("command -v wrk > /dev/null") != 0)
    Die("wrk is not installed (apt-get install wrk)");
  char tmpl[] = "/tmp/cs_service_bench_XXXXXX";
  if (!::mkdtemp(tmpl)) Die("mkdtemp failed");
  const std::string dir = tmpl;
  std::fprintf(stderr, "working in %s\n", dir.c_str());

  // Declarations to send: the later quarter of the public customs data (real codes and traders).
  cs::ReadOptions ro;
  ro.format = cs::DeclarationFormat::kKcs;
  cs::IngestReport rep;
  auto valid = cs::ReadDeclarations(data + "/customs/df_syn_valid_eng.csv", ro, &rep);
  if (!valid.ok()) Die(valid.status().ToString());
  valid->rows.resize(std::min<size_t>(valid->rows.size(), 2000));
  std::string model = f.model;
  if (model.empty()) {
    std::fprintf(stderr, "training a 100-tree risk model on the public training data...\n");
    auto train = cs::ReadDeclarations(data + "/customs/df_syn_train_eng.csv", ro, &rep);
    if (!train.ok()) Die(train.status().ToString());
    cs::RiskModelOptions mo;
    mo.trees = 100;
    auto m = cs::RiskModel::Train(*train, mo);
    if (!m.ok()) Die(m.status().ToString());
    model = dir + "/model";
    if (cs::Status s = m->Save(model); !s.ok()) Die(s.ToString());
  }
  // Calibration and scans from the simulator.
  cs::SimulateOptions so;
  so.width = f.scan_width;
  so.height = f.scan_height;
  so.seed = 21;
  auto sim = cs::Simulator::Create(so);
  if (!sim.ok()) Die(sim.status().ToString());
  auto wedges = (*sim)->SimulateWedges();
  if (!wedges.ok()) Die(wedges.status().ToString());
  auto calib = cs::Calibration::Fit(*wedges);
  if (!calib.ok()) Die(calib.status().ToString());
  const std::string calibration = dir + "/calibration.json";
  if (cs::Status s = calib->Save(calibration); !s.ok()) Die(s.ToString());

  std::vector<LoadResult> results;
  std::ofstream(dir + "/health.lua") << kDoneLua;
  {
    Server s = StartServer(dir, "full", f, model, calibration, true);
    std::fprintf(stderr, "wrk: GET /api/health (baseline)...\n");
    results.push_back(Wrk(f, "GET /api/health (HTTP baseline)", s.service->port(), "/api/health",
                          dir + "/health.lua"));
    std::ofstream(dir + "/decl_full.lua") << DeclarationLua(*valid, s.token, "F");
    std::fprintf(stderr, "wrk: POST /api/declarations, sync=full...\n");
    results.push_back(Wrk(f, "POST /api/declarations (sync=full)", s.service->port(),
                          "/api/declarations", dir + "/decl_full.lua"));
  }
  {
    Server s = StartServer(dir, "normal", f, model, calibration, false);
    std::ofstream(dir + "/decl_normal.lua") << DeclarationLua(*valid, s.token, "N");
    std::fprintf(stderr, "wrk: POST /api/declarations, sync=normal...\n");
    results.push_back(Wrk(f, "POST /api/declarations (sync=normal)", s.service->port(),
                          "/api/declarations", dir + "/decl_normal.lua"));
  }

  // Scans: for each network thread setting, a fixed rate (open loop) and then as fast as the node
  // goes (closed loop).
  std::vector<std::string> tiffs;
  std::vector<cs::Declaration> decls;
  for (int i = 0; i < 12; ++i) {
    auto sc = (*sim)->Simulate(i);
    if (!sc.ok()) Die(sc.status().ToString());
    auto t = cs::EncodeScanTiff(sc->scan);
    if (!t.ok()) Die(t.status().ToString());
    tiffs.push_back(*t);
    decls.push_back(sc->declaration);
  }
  std::vector<int> settings = f.detector.empty() ? std::vector<int>{1} : f.detector_threads;
  std::vector<ScanLoad> scan_loads;
  for (int workers : f.analysis_threads)
    for (int threads : settings)
      scan_loads.push_back(RunScans(dir, "scans" + std::to_string(scan_loads.size()), f, model,
                                    calibration, threads, workers, tiffs, decls));

  std::vector<ColdStarts> cold_starts(f.cold_starts > 0 ? 2 : 0);
  if (f.cold_starts > 0) {
    std::string exe = f.clearsight;
    if (exe.empty()) {
      std::error_code ec;
      exe = (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "clearsight")
                .string();
    }
    if (::access(exe.c_str(), X_OK) != 0)
      Die(exe + ": no clearsight binary to start (--clearsight PATH)");
    cold_starts[1].warm_up = true;
    for (int i = 0; i < f.cold_starts; ++i)
      for (auto& c : cold_starts) {
        std::fprintf(stderr, "cold start %d/%d, warm-up %s: %d scans at %.0f/s...\n", i + 1,
                     f.cold_starts, c.warm_up ? "on" : "off",
                     static_cast<int>(2 * f.scan_rate * kWarmSeconds), f.scan_rate);
        RunColdStart(exe, dir, "cold" + std::to_string(i) + (c.warm_up ? "on" : "off"), f, model,
                     calibration, tiffs, decls, &c);
      }
  }

  std::printf("service_bench on %s\n", clearsight::bench::Machine().c_str());
  std::printf(
      "wrk -t%d -c%d -d%ds on loopback; the service runs in this process, on the same cores as "
      "wrk\n",
      f.wrk_threads, f.connections, f.seconds);
  double load1 = 0;
  if (FILE* la = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(la, "%lf", &load1) != 1) load1 = 0;
    std::fclose(la);
  }
  std::printf("load average at the end: %.2f (other work on the machine inflates latencies)\n\n",
              load1);
  std::printf("%-46s %10s %9s %9s %9s %9s %7s %12s\n", "load", "req/s", "p50 ms", "p90 ms",
              "p99 ms", "max ms", "errors", "server us/req");
  for (const auto& r : results)
    std::printf("%-46s %10.0f %9.2f %9.2f %9.2f %9.1f %7lld %12.0f\n", r.name.c_str(), r.rps,
                r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms, static_cast<long long>(r.errors),
                r.server_cpu_us);
  using clearsight::bench::Percentile;
  auto max_of = [](const std::vector<double>& v) {
    return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
  };
  auto row = [&](const std::string& name, double rate, const std::vector<double>& ms,
                 const std::string& errors) {
    std::printf("%-46s %10.1f %9.2f %9.2f %9.2f %9.1f %7s\n", name.c_str(), rate,
                Percentile(ms, 0.50), Percentile(ms, 0.90), Percentile(ms, 0.99), max_of(ms),
                errors.c_str());
  };
  bool scan_ok = true;
  for (const ScanLoad& l : scan_loads) {
    const std::string det =
        (f.detector.empty() ? "" : " +det " + std::to_string(l.detector_threads) + "t") + ", " +
        (l.analysis_threads ? std::to_string(l.analysis_threads) + " wk" : "on http");
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.0f", f.scan_rate);
    row("POST /api/scans " + std::to_string(f.scan_width) + "x" + std::to_string(f.scan_height) +
            " @ " + rate + "/s" + det,
        l.ms.size() / double(f.scan_seconds), l.ms, std::to_string(l.errors));
    row("  the first " + std::to_string(static_cast<int>(kWarmSeconds)) + " s after start" + det,
        l.cold_ms.size() / kWarmSeconds, l.cold_ms, "");
    row("POST /api/scans, " + std::to_string(kClients) + " clients" + det, l.max_rate,
        l.max_rate_ms, "");
    scan_ok = scan_ok && Percentile(l.ms, 0.99) <= 150 && l.errors == 0;
  }
  if (scan_loads.size() == 2 && scan_loads[0].max_rate > 0)
    std::printf(
        "\nnetwork on %d vs %d thread(s), analysis workers %d vs %d: open-loop p50 x%.2f, p99 "
        "x%.2f, "
        "closed-loop scans/s x%.2f\n",
        scan_loads[1].detector_threads, scan_loads[0].detector_threads,
        scan_loads[1].analysis_threads, scan_loads[0].analysis_threads,
        Percentile(scan_loads[1].ms, 0.5) / std::max(1e-9, Percentile(scan_loads[0].ms, 0.5)),
        Percentile(scan_loads[1].ms, 0.99) / std::max(1e-9, Percentile(scan_loads[0].ms, 0.99)),
        scan_loads[1].max_rate / scan_loads[0].max_rate);
  auto warm_up_name = [](const ColdStarts& c) { return std::string(c.warm_up ? "on" : "off"); };
  auto mean = [](const std::vector<double>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0) / std::max<size_t>(1, v.size());
  };
  for (const ColdStarts& c : cold_starts) {
    row("after a restart, warm-up " + warm_up_name(c), f.scan_rate, c.ms, std::to_string(c.errors));
    row("  the next " + std::to_string(static_cast<int>(kWarmSeconds)) + " s", f.scan_rate,
        c.later_ms, "");
  }
  for (const ColdStarts& c : cold_starts)
    std::printf(
        "  warm-up %-10s %d starts; start to port open %.2f s; the service's page faults per scan "
        "%.0f in "
        "the first %d s, %.0f in the next (averages)\n",
        (warm_up_name(c) + ":").c_str(), static_cast<int>(c.startup_s.size()), mean(c.startup_s),
        mean(c.faults) * c.faults.size() / std::max<size_t>(1, c.ms.size()),
        static_cast<int>(kWarmSeconds),
        mean(c.later_faults) * c.later_faults.size() / std::max<size_t>(1, c.later_ms.size()));
  if (cold_starts.size() == 2)
    std::printf(
        "\nrestart with warm-up vs without: p50 x%.2f, p99 x%.2f, max x%.2f\n",
        Percentile(cold_starts[1].ms, 0.5) / std::max(1e-9, Percentile(cold_starts[0].ms, 0.5)),
        Percentile(cold_starts[1].ms, 0.99) / std::max(1e-9, Percentile(cold_starts[0].ms, 0.99)),
        max_of(cold_starts[1].ms) / std::max(1e-9, max_of(cold_starts[0].ms)));
  const LoadResult& decl = results[1];
  bool decl_ok = decl.rps >= 5000 && decl.p99_ms <= 10 && decl.errors == 0;
  std::printf(
      "\ntargets: declarations >= 5000/s with p99 <= 10 ms: %s; scans p99 <= 150 ms at 10/s: %s\n",
      decl_ok ? "met" : "NOT met", scan_ok ? "met" : "NOT met");
  json j = {{"bench", "service"},
            {"machine", clearsight::bench::Machine()},
            {"connections", f.connections},
            {"seconds", f.seconds}};
  for (const auto& r : results) {
    std::string key = r.name.find("health") != std::string::npos   ? "health"
                      : r.name.find("normal") != std::string::npos ? "declarations_sync_normal"
                                                                   : "declarations_sync_full";
    j[key] = {{"rps", r.rps},
              {"p50_ms", r.p50_ms},
              {"p90_ms", r.p90_ms},
              {"p99_ms", r.p99_ms},
              {"max_ms", r.max_ms},
              {"errors", r.errors},
              {"server_cpu_us_per_request", r.server_cpu_us}};
  }
  j["scans"] = json::array();
  for (const ScanLoad& l : scan_loads)
    j["scans"].push_back({{"rate", f.scan_rate},
                          {"count", l.ms.size()},
                          {"p50_ms", Percentile(l.ms, 0.50)},
                          {"p90_ms", Percentile(l.ms, 0.90)},
                          {"p99_ms", Percentile(l.ms, 0.99)},
                          {"max_ms", max_of(l.ms)},
                          {"errors", l.errors},
                          {"width", f.scan_width},
                          {"height", f.scan_height},
                          {"detector", !f.detector.empty()},
                          {"detector_threads", l.detector_threads},
                          {"analysis_threads", l.analysis_threads},
                          {"clients", kClients},
                          {"max_scans_per_s", l.max_rate},
                          {"first_seconds", kWarmSeconds},
                          {"first_p50_ms", Percentile(l.cold_ms, 0.50)},
                          {"first_max_ms", max_of(l.cold_ms)},
                          {"max_rate_p50_ms", Percentile(l.max_rate_ms, 0.50)},
                          {"max_rate_p99_ms", Percentile(l.max_rate_ms, 0.99)}});
  j["cold_starts"] = json::array();
  for (const ColdStarts& c : cold_starts)
    j["cold_starts"].push_back({{"warm_up", c.warm_up},
                                {"starts", c.startup_s.size()},
                                {"startup_s", c.startup_s},
                                {"minor_faults", c.faults},
                                {"scans", c.ms.size()},
                                {"errors", c.errors},
                                {"later_minor_faults", c.later_faults},
                                {"later_p50_ms", Percentile(c.later_ms, 0.50)},
                                {"later_p99_ms", Percentile(c.later_ms, 0.99)},
                                {"p50_ms", Percentile(c.ms, 0.50)},
                                {"p90_ms", Percentile(c.ms, 0.90)},
                                {"p99_ms", Percentile(c.ms, 0.99)},
                                {"max_ms", max_of(c.ms)}});
  j["loadavg_end"] = load1;
  j["targets_met"] = {{"declarations", decl_ok}, {"scans", scan_ok}};
  std::printf("%s\n", j.dump().c_str());
  if (!f.keep) std::filesystem::remove_all(dir);
  return 0;
}
