// scale_out_bench: the scale-out (docs/deployment.md) against one process, on this machine, in
// one run: PostgreSQL and nats-server started on loopback in a temporary directory, `clearsight`
// processes spawned as a deployment would run them.
//
//   declarations  1. one `serve` deciding what it is posted (the baseline)
//                 2. `serve --nats` and 1 declarations worker
//                 3. `serve --nats` and 2 declarations workers
//                 throughput (all posted to all decided, 4 clients posting batches of 100) and
//                 the CPU seconds each process used, for declarations/s per core
//   scans         the same with 1 and 2 scans workers (simulated 512x384 scans, calibrated)
//   latency       single declarations at a slow pace: POST-to-answer in one process against
//                 POST-to-decision-visible through the queue (polled every millisecond): what the
//                 queue adds
// Targets (issue 35): throughput close to linear in workers until the cores run out; the queue
// adds <= 5 ms at p99. Prints a table and one JSON line.
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "bench_util.h"
#include "clearsight/declarations.h"
#include "clearsight/risk_model.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_simulate.h"
#include "service/child_process.h"
#include "store/postgres_server.h"
#include "store/sql_conn.h"

namespace cs = clearsight;
namespace bench = clearsight::bench;
using nlohmann::json;

namespace {

[[noreturn]] void Die(const std::string& m) {
  std::fprintf(stderr, "scale_out_bench: %s\n", m.c_str());
  std::exit(1);
}

// utime + stime of a process (and its threads), in seconds; 0 when it is gone.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t p = s.rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream rest(s.substr(p + 2));
  std::string field;
  double ut = 0, st = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) ut = std::atof(field.c_str());
    if (i == 15) st = std::atof(field.c_str());
  }
  return (ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The sum of `of(pid)` over every process whose command name is `comm` (postgres backends).
template <typename Fn>
double SumOverProcesses(const std::string& comm, Fn&& of) {
  double total = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream c(e.path() / "comm");
    std::string line;
    if (std::getline(c, line) && line == comm) total += of(std::stoi(name));
  }
  return total;
}

double CpuSecondsOf(const std::string& comm) {
  return SumOverProcesses(comm, [](pid_t pid) { return CpuSeconds(pid); });
}

struct Run {
  std::string name;
  int workers = 0;  // 0: one process deciding
  int64_t items = 0;
  double seconds = 0;
  double serve_cpu = 0, worker_cpu = 0, db_cpu = 0, nats_cpu = 0;
  double PerSecond() const { return items / seconds; }
};

class Deployment {
 public:
  Deployment(std::string dir, std::string cli, std::string url, std::string nats)
      : dir_(std::move(dir)), cli_(std::move(cli)), url_(std::move(url)), nats_(std::move(nats)) {}
  ~Deployment() {
    for (pid_t p : pids_) cs::testing::KillAndWait(p, SIGTERM);
  }
  int Serve(const std::vector<std::string>& extra) {
    std::vector<std::string> a = {cli_,          "serve",          "--db",      url_,
                                  "--images",    dir_ + "/images", "--port",    "0",
                                  "--port-file", dir_ + "/port",   "--threads", "16",
                                  "--web",       dir_ + "/noweb"};
    a.insert(a.end(), extra.begin(), extra.end());
    if (!nats_.empty()) a.insert(a.end(), {"--nats", nats_});
    serve_ = cs::testing::SpawnLogged(a, dir_ + "/serve.log",
                                      {"CLEARSIGHT_ADMIN_PASSWORD=bench-admin-pw"});
    pids_.push_back(serve_);
    int port = cs::testing::WaitForPortFile(dir_ + "/port", serve_);
    if (port <= 0) Die("serve did not start:\n" + cs::testing::ReadLog(dir_ + "/serve.log"));
    return port;
  }
  void Worker(const std::string& role, const std::vector<std::string>& extra) {
    std::vector<std::string> a = {cli_,       "worker",         "--role", role,  "--db",    url_,
                                  "--images", dir_ + "/images", "--nats", nats_, "--batch", "64"};
    a.insert(a.end(), extra.begin(), extra.end());
    const std::string log = dir_ + "/" + role + std::to_string(pids_.size()) + ".log";
    pid_t p = cs::testing::SpawnLogged(a, log);
    workers_.push_back(p);
    pids_.push_back(p);
    // Ready once it has loaded its models and subscribed (it says so).
    for (int i = 0; i < 1200; ++i) {
      if (cs::testing::ReadLog(log).find("clearsight worker: role") != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Die("worker did not start:\n" + cs::testing::ReadLog(log));
  }
  double ServeCpu() const { return CpuSeconds(serve_); }
  pid_t serve_pid() const { return serve_; }
  const std::vector<pid_t>& worker_pids() const { return workers_; }
  double WorkerCpu() const {
    double t = 0;
    for (pid_t p : workers_) t += CpuSeconds(p);
    return t;
  }

 private:
  std::string dir_, cli_, url_, nats_;
  pid_t serve_ = -1;
  std::vector<pid_t> workers_, pids_;
};

std::string Login(int port) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/api/login", R"({"username":"admin","password":"bench-admin-pw"})",
                  "application/json");
  if (!r || r->status != 200) Die("login failed");
  return json::parse(r->body)["token"];
}

int64_t Decided(const std::string& url) {
  static thread_local std::unique_ptr<cs::store::SqlConn> conn;
  static thread_local std::string conn_url;
  if (!conn || conn_url != url) {
    auto c = cs::store::OpenPostgresConn(url);
    if (!c.ok()) Die(c.status().ToString());
    conn = std::move(c).value();
    conn_url = url;
  }
  auto rows = conn->Query("SELECT COUNT(*) FROM consignments", {});
  return rows.ok() && !rows->empty() ? (*rows)[0].Int(0) : 0;
}

// Resident memory of a process in MiB (VmRSS); with `pss`, its proportional share (smaps_rollup
// Pss), so that PostgreSQL's shared buffers are not counted once per backend.
double MemoryMiB(pid_t pid, bool pss = false) {
  std::ifstream in("/proc/" + std::to_string(pid) + (pss ? "/smaps_rollup" : "/status"));
  const std::string key = pss ? "Pss:" : "VmRSS:";
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return std::atof(line.c_str() + key.size()) / 1024.0;
  return 0;
}

double MemoryOfMiB(const std::string& comm) {
  return SumOverProcesses(comm, [](pid_t pid) { return MemoryMiB(pid, true); });
}

struct SoakSample {
  double t = 0;  // seconds since the start
  double serve_mib = 0, workers_mib = 0, postgres_mib = 0, nats_mib = 0;
  double post_p50 = 0, post_p99 = 0;      // POST of a batch of declarations, ms
  double decide_p50 = 0, decide_p99 = 0;  // one declaration, POST to decision visible, ms
  int64_t decided = 0;
};

// The soak: `minutes` at `rate` declarations a second (batches of 10) and `scan_rate` scans a
// second on serve --nats with one worker per role; memory and latency sampled every 10 s.
int Soak(const std::string& dir, const std::string& cli, cs::testing::PostgresServer& pg,
         const std::string& nats_url, pid_t nats, std::vector<std::string> flags, double minutes,
         double rate, double scan_rate,
         const std::function<std::string(const std::string&, int, int)>& lines_for,
         const std::vector<std::string>& tiffs, const std::vector<std::string>& sidecars,
         const std::string& html) {
  auto url = pg.CreateSchema("soak");
  if (!url.ok()) Die(url.status().ToString());
  std::filesystem::create_directories(dir + "/soak");
  Deployment d(dir + "/soak", cli, *url, nats_url);
  const int port = d.Serve(flags);
  d.Worker("declarations", flags);
  d.Worker("scans", flags);
  const std::string token = Login(port);
  std::mutex mu;
  std::vector<double> post_ms, decide_ms;
  std::atomic<bool> stop{false};
  const double t0 = bench::Now();
  // Declarations, paced: batches of 10.
  std::thread decl([&] {
    httplib::Client h("127.0.0.1", port);
    h.set_bearer_token_auth(token);
    const double interval = 10.0 / rate;
    for (int b = 0; !stop; ++b) {
      const double due = t0 + b * interval;
      if (bench::Now() < due)
        std::this_thread::sleep_for(std::chrono::duration<double>(due - bench::Now()));
      const double s0 = bench::Now();
      auto r = h.Post("/api/declarations", lines_for("K", b * 10, 10), "application/x-ndjson");
      if (!r || r->status != 202) Die("soak POST: " + (r ? r->body : std::string("no answer")));
      std::lock_guard lock(mu);
      post_ms.push_back((bench::Now() - s0) * 1000);
    }
  });
  // One marked declaration a second: POST to decision visible.
  std::thread marked([&] {
    httplib::Client h("127.0.0.1", port);
    h.set_bearer_token_auth(token);
    for (int i = 0; !stop; ++i) {
      const std::string id = "M" + std::to_string(i);
      const double s0 = bench::Now();
      auto r = h.Post("/api/declarations", lines_for("M", i, 1), "application/x-ndjson");
      if (!r || r->status != 202) Die("soak marked POST");
      while (!stop) {
        auto g = h.Get(("/api/consignments/" + id).c_str());
        if (g && g->status == 200) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      {
        std::lock_guard lock(mu);
        decide_ms.push_back((bench::Now() - s0) * 1000);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    }
  });
  std::thread scans([&] {
    if (scan_rate <= 0) return;
    httplib::Client h("127.0.0.1", port);
    h.set_bearer_token_auth(token);
    for (int i = 0; !stop; ++i) {
      const double due = t0 + i / scan_rate;
      if (bench::Now() < due)
        std::this_thread::sleep_for(std::chrono::duration<double>(due - bench::Now()));
      json side = json::parse(sidecars[static_cast<size_t>(i) % sidecars.size()]);
      side["scan_id"] = "soak-" + std::to_string(i);
      side["consignment_id"] = "soakc-" + std::to_string(i);
      httplib::MultipartFormDataItems items = {
          {"tiff", tiffs[static_cast<size_t>(i) % tiffs.size()], "scan.tif", "image/tiff"},
          {"sidecar", side.dump(), "scan.json", "application/json"}};
      auto r = h.Post("/api/scans", items);
      if (!r || r->status != 202) Die("soak scan POST");
    }
  });
  std::vector<SoakSample> samples;
  while (bench::Now() - t0 < minutes * 60) {
    std::this_thread::sleep_for(std::chrono::seconds(10));
    SoakSample s;
    s.t = bench::Now() - t0;
    s.serve_mib = MemoryMiB(d.serve_pid());
    for (pid_t p : d.worker_pids()) s.workers_mib += MemoryMiB(p);
    s.postgres_mib = MemoryOfMiB("postgres");
    s.nats_mib = MemoryMiB(nats);
    {
      std::lock_guard lock(mu);
      s.post_p50 = bench::Percentile(post_ms, 0.5);
      s.post_p99 = bench::Percentile(post_ms, 0.99);
      // No marked declaration decided in the interval (a backlog): no value, not zero.
      s.decide_p50 = decide_ms.empty() ? std::nan("") : bench::Percentile(decide_ms, 0.5);
      s.decide_p99 = decide_ms.empty() ? std::nan("") : bench::Percentile(decide_ms, 0.99);
      post_ms.clear();
      decide_ms.clear();
    }
    s.decided = Decided(*url);
    samples.push_back(s);
    std::fprintf(stderr,
                 "%5.0f s  serve %6.1f MiB  workers %6.1f  postgres %6.1f  nats %5.1f | POST p99 "
                 "%6.1f ms  decided p50 %6.1f p99 %6.1f ms | %lld decided\n",
                 s.t, s.serve_mib, s.workers_mib, s.postgres_mib, s.nats_mib, s.post_p99,
                 s.decide_p50, s.decide_p99, static_cast<long long>(s.decided));
  }
  stop = true;
  decl.join();
  marked.join();
  scans.join();
  // Flat after warm-up: the last sample against the one at a fifth of the run.
  const SoakSample& warm = samples[samples.size() / 5];
  const SoakSample& last = samples.back();
  auto growth = [](double a, double b) { return a > 0 ? (b - a) / a : 0; };
  json j = {{"bench", "scale_out_soak"},
            {"machine", bench::Machine()},
            {"minutes", minutes},
            {"declarations_per_second", rate},
            {"scans_per_second", scan_rate},
            {"memory_growth_after_warmup",
             {{"serve", growth(warm.serve_mib, last.serve_mib)},
              {"workers", growth(warm.workers_mib, last.workers_mib)},
              {"postgres", growth(warm.postgres_mib, last.postgres_mib)},
              {"nats", growth(warm.nats_mib, last.nats_mib)}}},
            {"samples", json::array()}};
  for (const auto& s : samples)
    j["samples"].push_back({{"t", s.t},
                            {"serve_mib", s.serve_mib},
                            {"workers_mib", s.workers_mib},
                            {"postgres_mib", s.postgres_mib},
                            {"nats_mib", s.nats_mib},
                            {"post_p50_ms", s.post_p50},
                            {"post_p99_ms", s.post_p99},
                            {"decided_p50_ms", s.decide_p50},
                            {"decided_p99_ms", s.decide_p99},
                            {"decided", s.decided}});
  std::printf("soak on %s: %.1f min, %.0f declarations/s, %.1f scans/s\n", bench::Machine().c_str(),
              minutes, rate, scan_rate);
  std::printf(
      "memory after warm-up (at %.0f s -> %.0f s): serve %+.1f%%, workers %+.1f%%, postgres "
      "%+.1f%%, nats %+.1f%%\n",
      warm.t, last.t, 100 * growth(warm.serve_mib, last.serve_mib),
      100 * growth(warm.workers_mib, last.workers_mib),
      100 * growth(warm.postgres_mib, last.postgres_mib),
      100 * growth(warm.nats_mib, last.nats_mib));
  std::printf("%s\n", j.dump().c_str());
  if (!html.empty()) {
    // The curves, drawn by Chart.js (Debian libjs-chart.js), inlined so the file stands alone.
    std::ifstream in("/usr/share/javascript/chart.js/chart.min.js");
    const std::string chart((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (chart.empty()) Die("Chart.js not found (apt-get install libjs-chart.js)");
    std::ofstream out(html);
    out << "<!doctype html><meta charset=utf-8><title>Scale-out soak</title>"
           "<h1>Scale-out soak</h1><p>"
        << bench::Machine() << "; " << minutes << " min at " << rate << " declarations/s and "
        << scan_rate
        << " scans/s</p><canvas id=mem height=90></canvas><canvas id=lat height=90></canvas>"
           "<script>"
        << chart << "</script><script>const s=" << j["samples"].dump() << R"(;
const t=s.map(x=>Math.round(x.t));
const colours=['#1f77b4','#d62728','#2ca02c','#9467bd'];
let n=0;
const line=(label,key)=>{const c=colours[n++%4];
  return {label,data:s.map(x=>x[key]),fill:false,pointRadius:0,borderColor:c,backgroundColor:c};};
new Chart(document.getElementById('mem'),{type:'line',data:{labels:t,datasets:[
  line('serve MiB','serve_mib'),line('workers MiB','workers_mib'),
  line('postgres MiB (PSS)','postgres_mib'),line('nats-server MiB','nats_mib')]},
  options:{animation:false,plugins:{title:{display:true,text:'Resident memory over time (s)'}}}});
new Chart(document.getElementById('lat'),{type:'line',data:{labels:t,datasets:[
  line('POST p99 ms','post_p99_ms'),line('to decided p50 ms','decided_p50_ms'),
  line('to decided p99 ms','decided_p99_ms')]},
  options:{animation:false,scales:{y:{type:'logarithmic'}},
    plugins:{title:{display:true,text:'Latency per 10 s, ms, log scale, over time (s)'}}}});
</script>)";
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  bench::Flags args(argc, argv,
                    "usage: scale_out_bench [--declarations 8000] [--scans 48] [--latency 200]\n"
                    "                       [--clearsight PATH] [--data DIR]\n"
                    "       scale_out_bench --soak-minutes 10 [--soak-rate 300]\n"
                    "                       [--soak-scan-rate 2] [--html soak.html]\n",
                    {"--declarations", "--scans", "--latency", "--clearsight", "--data",
                     "--soak-minutes", "--soak-rate", "--soak-scan-rate", "--html"});
  const int n_decl = args.Int("--declarations", 8000, 100, 10'000'000);
  const int n_scans = args.Int("--scans", 48, 4, 100000);
  const int n_latency = args.Int("--latency", 200, 10, 100000);
  std::string cli = args.Text("--clearsight", "");
  if (cli.empty())
    cli = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "clearsight").string();
  const std::string data = args.Text("--data", CS_DATA);
  char tmpl[] = "/tmp/cs_scale_out_bench_XXXXXX";
  if (!::mkdtemp(tmpl)) Die("mkdtemp failed");
  const std::string dir = tmpl;
  std::fprintf(stderr, "working in %s\n", dir.c_str());

  // The model and the declarations: the public customs data, ids made unique per run.
  cs::ReadOptions ro;
  ro.format = cs::DeclarationFormat::kKcs;
  cs::IngestReport rep;
  auto train = cs::ReadDeclarations(data + "/customs/df_syn_train_eng.csv", ro, &rep);
  auto valid = cs::ReadDeclarations(data + "/customs/df_syn_valid_eng.csv", ro, &rep);
  if (!train.ok() || !valid.ok()) Die("cannot read the public customs data under " + data);
  std::fprintf(stderr, "training a 100-tree risk model...\n");
  cs::RiskModelOptions mo;
  mo.trees = 100;
  auto model = cs::RiskModel::Train(*train, mo);
  if (!model.ok()) Die(model.status().ToString());
  if (auto s = model->Save(dir + "/model"); !s.ok()) Die(s.ToString());
  auto lines_for = [&](const std::string& prefix, int first, int count) {
    std::string out;
    for (int i = first; i < first + count; ++i) {
      cs::Declaration d = valid->rows[static_cast<size_t>(i) % valid->rows.size()];
      d.declaration_id = prefix + std::to_string(i);
      d.consignment_id = d.declaration_id;
      out += cs::DeclarationToJson(d, valid->extra_columns) + "\n";
    }
    return out;
  };
  // Scans and their calibration from the simulator.
  cs::SimulateOptions so;
  so.width = 512;
  so.height = 384;
  so.seed = 35;
  auto sim = cs::Simulator::Create(so);
  if (!sim.ok()) Die(sim.status().ToString());
  auto wedges = (*sim)->SimulateWedges();
  auto calib = wedges.ok() ? cs::Calibration::Fit(*wedges) : wedges.status();
  if (!calib.ok() || !calib->Save(dir + "/calibration.json").ok()) Die("calibration failed");
  std::vector<std::string> tiffs, sidecars;
  for (int i = 0; i < 8; ++i) {
    auto sc = (*sim)->Simulate(i);
    auto t = sc.ok() ? cs::EncodeScanTiff(sc->scan) : sc.status();
    if (!t.ok()) Die(t.status().ToString());
    tiffs.push_back(*t);
    sidecars.push_back(cs::ScanMetaToJson(sc->scan.meta));
  }

  auto pg = cs::testing::PostgresServer::Start();
  if (!pg.ok()) Die(pg.status().ToString());
  const int nats_port = cs::testing::FreeLoopbackPort();
  pid_t nats = cs::testing::SpawnLogged({"nats-server", "-js", "-sd", dir + "/js", "-p",
                                         std::to_string(nats_port), "-a", "127.0.0.1"},
                                        dir + "/nats.log");
  if (!cs::testing::WaitForListen(nats_port, 15000)) Die("nats-server did not start");
  const std::string nats_url = "nats://127.0.0.1:" + std::to_string(nats_port);
  const std::vector<std::string> decide = {"--model", dir + "/model", "--red-share", "0.05"};
  const std::vector<std::string> analyse = {"--calibration", dir + "/calibration.json"};
  if (const double minutes = args.Double("--soak-minutes", 0, 0, 24 * 60); minutes > 0) {
    std::vector<std::string> flags = decide;
    flags.insert(flags.end(), analyse.begin(), analyse.end());
    int rc = Soak(dir, cli, **pg, nats_url, nats, flags, minutes,
                  args.Double("--soak-rate", 300, 1, 100000),
                  args.Double("--soak-scan-rate", 2, 0, 1000), lines_for, tiffs, sidecars,
                  args.Text("--html", ""));
    cs::testing::KillAndWait(nats, SIGTERM);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return rc;
  }

  std::vector<Run> decl_runs, scan_runs;
  std::vector<double> lat_one, lat_queue;
  int schema = 0;
  auto deploy = [&](int workers, const std::string& role, const std::string& run_dir) {
    auto url = pg.value()->CreateSchema("s" + std::to_string(schema++));
    if (!url.ok()) Die(url.status().ToString());
    std::filesystem::create_directories(run_dir);
    auto d = std::make_unique<Deployment>(run_dir, cli, *url, workers > 0 ? nats_url : "");
    std::vector<std::string> extra = decide;
    if (role == "scans") extra.insert(extra.end(), analyse.begin(), analyse.end());
    const int port = d->Serve(extra);
    for (int w = 0; w < workers; ++w) d->Worker(role, extra);
    return std::make_tuple(std::move(d), port, *url);
  };
  // Four clients post through `post(client, first)` (`step` items each call) until `items` are
  // posted; then it waits until all are decided, and returns the rate with the CPU seconds each
  // process used in that time (its start-up left out).
  auto measure = [&](Deployment& d, int port, const std::string& token, const std::string& url,
                     int workers, int items, int step,
                     const std::function<void(httplib::Client&, int)>& post) {
    const double cpu_db0 = CpuSecondsOf("postgres"), cpu_nats0 = CpuSeconds(nats);
    const double cpu_serve0 = d.ServeCpu(), cpu_workers0 = d.WorkerCpu();
    const double t0 = bench::Now();
    std::atomic<int> next{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
      clients.emplace_back([&] {
        httplib::Client h("127.0.0.1", port);
        h.set_read_timeout(120, 0);
        h.set_bearer_token_auth(token);
        for (int first; (first = next.fetch_add(step)) < items;) post(h, first);
      });
    for (auto& t : clients) t.join();
    while (Decided(url) < items) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Run r;
    r.name = workers == 0 ? "one process" : std::to_string(workers) + " worker(s)";
    r.workers = workers;
    r.items = items;
    r.seconds = bench::Now() - t0;
    r.serve_cpu = d.ServeCpu() - cpu_serve0;
    r.worker_cpu = d.WorkerCpu() - cpu_workers0;
    r.db_cpu = CpuSecondsOf("postgres") - cpu_db0;
    r.nats_cpu = CpuSeconds(nats) - cpu_nats0;
    return r;
  };
  // Both queues are drained by the work-queue stream: each run uses its own consumer and ids.
  for (int workers : {0, 1, 2}) {
    auto [d, port, url] = deploy(workers, "declarations", dir + "/decl" + std::to_string(workers));
    const std::string token = Login(port);
    const std::string prefix = "W" + std::to_string(workers) + "-";
    Run r = measure(*d, port, token, url, workers, n_decl, 100, [&](httplib::Client& h, int b) {
      auto a = h.Post("/api/declarations", lines_for(prefix, b, std::min(100, n_decl - b)),
                      "application/x-ndjson");
      if (!a || (a->status != 200 && a->status != 202))
        Die("POST failed: " + (a ? a->body : std::string("no answer")));
    });
    decl_runs.push_back(r);
    std::fprintf(stderr, "declarations, %s: %.0f/s\n", r.name.c_str(), r.PerSecond());
    if (workers != 1) {
      // Latency at a slow pace (20 a second), one declaration per request.
      httplib::Client h("127.0.0.1", port);
      h.set_bearer_token_auth(token);
      for (int i = 0; i < n_latency; ++i) {
        const std::string id = "L" + std::to_string(workers) + "-" + std::to_string(i);
        std::string line = lines_for("L" + std::to_string(workers) + "-", i, 1);
        const double s0 = bench::Now();
        auto r = h.Post("/api/declarations", line, "application/x-ndjson");
        if (!r || (r->status != 200 && r->status != 202 && r->status != 201)) Die("latency POST");
        if (workers > 0) {
          for (;;) {
            auto g = h.Get(("/api/consignments/" + id).c_str());
            if (g && g->status == 200) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
        }
        (workers == 0 ? lat_one : lat_queue).push_back((bench::Now() - s0) * 1000);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }
  for (int workers : {0, 1, 2}) {
    auto [d, port, url] = deploy(workers, "scans", dir + "/scan" + std::to_string(workers));
    const std::string token = Login(port);
    Run r = measure(*d, port, token, url, workers, n_scans, 1, [&](httplib::Client& h, int i) {
      json side = json::parse(sidecars[static_cast<size_t>(i) % sidecars.size()]);
      side["scan_id"] = "S" + std::to_string(workers) + "-" + std::to_string(i);
      side["consignment_id"] = "SC" + std::to_string(workers) + "-" + std::to_string(i);
      httplib::MultipartFormDataItems items = {
          {"tiff", tiffs[static_cast<size_t>(i) % tiffs.size()], "scan.tif", "image/tiff"},
          {"sidecar", side.dump(), "scan.json", "application/json"}};
      auto a = h.Post("/api/scans", items);
      if (!a || (a->status != 201 && a->status != 202))
        Die("scan POST failed: " + (a ? a->body : std::string("no answer")));
    });
    scan_runs.push_back(r);
    std::fprintf(stderr, "scans, %s: %.1f/s\n", r.name.c_str(), r.PerSecond());
  }
  cs::testing::KillAndWait(nats, SIGTERM);

  std::printf("scale_out_bench on %s\n\n", bench::Machine().c_str());
  std::printf("%-13s %-12s %8s %9s %8s | CPU s: %7s %8s %8s %6s | per decider core-s\n", "kind",
              "deciding", "items", "items/s", "x one", "serve", "workers", "postgres", "nats");
  json out = {{"bench", "scale_out"}, {"machine", bench::Machine()}};
  for (auto* runs : {&decl_runs, &scan_runs}) {
    const bool decl = runs == &decl_runs;
    json rows = json::array();
    for (const Run& r : *runs) {
      const double decider = r.workers == 0 ? r.serve_cpu : r.worker_cpu;
      std::printf("%-13s %-12s %8lld %9.1f %8.2f | %14.1f %8.1f %8.1f %6.1f | %10.1f\n",
                  decl ? "declarations" : "scans", r.name.c_str(), static_cast<long long>(r.items),
                  r.PerSecond(), r.PerSecond() / runs->front().PerSecond(), r.serve_cpu,
                  r.worker_cpu, r.db_cpu, r.nats_cpu, r.items / std::max(1e-9, decider));
      rows.push_back({{"deciding", r.name},
                      {"workers", r.workers},
                      {"items", r.items},
                      {"per_second", r.PerSecond()},
                      {"ratio_to_one_process", r.PerSecond() / runs->front().PerSecond()},
                      {"cpu_seconds",
                       {{"serve", r.serve_cpu},
                        {"workers", r.worker_cpu},
                        {"postgres", r.db_cpu},
                        {"nats", r.nats_cpu}}},
                      {"per_decider_cpu_second", r.items / std::max(1e-9, decider)}});
    }
    out[decl ? "declarations" : "scans"] = rows;
  }
  const double p50_one = bench::Percentile(lat_one, 0.5),
               p99_one = bench::Percentile(lat_one, 0.99);
  const double p50_q = bench::Percentile(lat_queue, 0.5),
               p99_q = bench::Percentile(lat_queue, 0.99);
  std::printf("\nlatency of one declaration (ms)   p50     p99\n");
  std::printf("  one process (POST to answer)  %6.2f  %6.2f\n", p50_one, p99_one);
  std::printf("  queue, 2 workers (to decided) %6.2f  %6.2f\n", p50_q, p99_q);
  std::printf("  added by the queue            %6.2f  %6.2f   (target <= 5 ms at p99)\n",
              p50_q - p50_one, p99_q - p99_one);
  out["latency_ms"] = {{"one_process", {{"p50", p50_one}, {"p99", p99_one}}},
                       {"queue", {{"p50", p50_q}, {"p99", p99_q}}},
                       {"added", {{"p50", p50_q - p50_one}, {"p99", p99_q - p99_one}}}};
  std::printf("%s\n", out.dump().c_str());
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
