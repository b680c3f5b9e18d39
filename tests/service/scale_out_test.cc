// The scale-out on real servers (integration): nats-server with JetStream and PostgreSQL started
// on loopback ports in temporary directories, `clearsight serve --nats` and two `clearsight
// worker` processes of each role. Checked: the lane-day budgets hold over concurrent workers as
// in one process; a worker killed with SIGKILL mid-batch, a restarted nats-server and a restarted
// PostgreSQL lose no accepted declaration and make no decision twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "clearsight/store.h"
#include "service/child_process.h"
#include "service/service_test_util.h"
#include "store/postgres_server.h"
#include "store/sql_conn.h"

namespace clearsight {
namespace {

using testing::Client;
using testing::KillAndWait;
using testing::PostgresServer;
using testing::ReadLog;
using testing::Reply;
using testing::SpawnLogged;
using testing::TempDir;
using json = nlohmann::json;

constexpr char kAdminPassword[] = "scale-out-admin-pw";

class NatsServer {
 public:
  explicit NatsServer(std::string dir) : dir_(std::move(dir)), port_(testing::FreeLoopbackPort()) {
    std::filesystem::create_directories(dir_);
  }
  ~NatsServer() { Stop(); }
  bool Start() {
    pid_ = SpawnLogged({"nats-server", "-js", "-sd", dir_ + "/jetstream", "-p",
                        std::to_string(port_), "-a", "127.0.0.1"},
                       dir_ + "/nats.log");
    return pid_ > 0 && testing::WaitForListen(port_, 15000);
  }
  void Stop() {
    KillAndWait(pid_, SIGTERM);
    pid_ = -1;
  }
  std::string Url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string dir_;
  int port_;
  pid_t pid_ = -1;
};

// A rule gives about a quarter of the declarations the high-risk score, so that a lane-day's
// count budget binds: which of them go red depends on the order they are decided in, how many
// must not.
constexpr char kRules[] =
    "rule \"high value\"\n  when declared_value > 4000\n  then score +0.95\nend\n"
    "rule \"mid value\"\n  when declared_value > 2500 and declared_value <= 4000\n"
    "  then score +0.5\nend\n";

// Declarations over two lanes and three days, as JSON Lines.
std::string Declarations(int n, const std::string& prefix, int first = 0) {
  std::string out;
  for (int i = first; i < first + n; ++i) {
    const unsigned h = static_cast<unsigned>(i) * 2654435761u;
    json d = testing::Declaration(prefix + std::to_string(i), i % 2 ? "OFF2" : "OFF1",
                                  static_cast<double>(100 + h % 5300));
    d["date"] = "2026-11-0" + std::to_string(2 + (i / 2) % 3);
    d["importer_id"] = "IMP" + std::to_string(h % 40);
    out += d.dump() + "\n";
  }
  return out;
}

// Per lane-day: [targeted red, control, all] from the consignments table.
using LaneDayCounts = std::map<std::pair<std::string, int64_t>, std::array<int64_t, 3>>;

struct Db {
  std::unique_ptr<store::SqlConn> conn;
  int64_t Count(const std::string& sql) {
    auto rows = conn->Query(sql, {});
    return rows.ok() && !rows->empty() ? (*rows)[0].Int(0) : -1;
  }
  LaneDayCounts Counts() {
    LaneDayCounts out;
    auto rows = conn->Query(
        "SELECT lane, decision_date, SUM(CASE WHEN channel = 'red' AND control = 0 THEN 1 ELSE 0 "
        "END), SUM(control), COUNT(*) FROM consignments GROUP BY lane, decision_date",
        {});
    if (!rows.ok()) return out;
    for (const auto& r : *rows) out[{r.Text(0), r.Int(1)}] = {r.Int(2), r.Int(3), r.Int(4)};
    return out;
  }
};

class ScaleOut : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pg = PostgresServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    pg_ = std::move(pg).value().release();
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
  }
  void TearDown() override {
    for (pid_t p : children_) KillAndWait(p, SIGKILL);
  }

  Db Connect(const std::string& url) {
    auto c = store::OpenPostgresConn(url);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return Db{c.ok() ? std::move(c).value() : nullptr};
  }

  std::vector<std::string> Selection() const {
    return {"--red-count",   "8",          "--yellow-share", "0.05", "--control-share", "0.25",
            "--over-budget", "supervisor", "--seed",         "7"};
  }

  // serve on `url` (with the queue when nats is given); returns its port.
  int Serve(const std::string& url, const std::string& images, const std::string& nats,
            const std::string& rules) {
    std::vector<std::string> args = {
        CS_CLI,        "serve",
        "--db",        url,
        "--images",    images,
        "--port",      "0",
        "--port-file", dir_ / ("port" + std::to_string(children_.size())),
        "--rules",     rules,
        "--web",       dir_ / "noweb"};
    for (const auto& a : Selection()) args.push_back(a);
    if (!nats.empty()) {
      args.push_back("--nats");
      args.push_back(nats);
    }
    const std::string log = dir_ / ("serve" + std::to_string(children_.size()) + ".log");
    pid_t pid =
        SpawnLogged(args, log, {std::string("CLEARSIGHT_ADMIN_PASSWORD=") + kAdminPassword});
    EXPECT_GT(pid, 0);
    children_.push_back(pid);
    int port = testing::WaitForPortFile(args[9], pid);
    EXPECT_GT(port, 0) << ReadLog(log);
    return port;
  }

  pid_t Worker(const std::string& role, const std::string& url, const std::string& images,
               const std::string& nats, const std::string& name,
               const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {CS_CLI,     "worker", "--role", role, "--db",    url,
                                     "--images", images,   "--nats", nats, "--batch", "32"};
    for (const auto& a : Selection()) args.push_back(a);
    for (const auto& a : extra) args.push_back(a);
    pid_t pid = SpawnLogged(args, dir_ / (name + ".log"));
    EXPECT_GT(pid, 0);
    children_.push_back(pid);
    return pid;
  }

  // Waits until the consignments table holds `n` rows; false after `seconds`.
  bool WaitForDecisions(Db& db, int64_t n, int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      if (db.Count("SELECT COUNT(*) FROM consignments") >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  Reply PostLines(Client& c, const std::string& lines) {
    return c.Send("POST", "/api/declarations", lines, "application/x-ndjson");
  }

  static PostgresServer* pg_;
  TempDir dir_;
  std::vector<pid_t> children_;
};

PostgresServer* ScaleOut::pg_ = nullptr;

TEST_F(ScaleOut, TwoWorkersPerRoleKeepTheBudgetsOfOneProcess) {
  const std::string rules = dir_ / "rules.txt";
  { std::ofstream(rules) << kRules; }
  constexpr int kDeclarations = 1200;
  const std::string lines = Declarations(kDeclarations, "S");

  // One process deciding everything: the reference.
  auto one_url = pg_->CreateSchema("single_process");
  ASSERT_TRUE(one_url.ok());
  {
    int port = Serve(*one_url, dir_ / "img1", "", rules);
    Client c(port);
    ASSERT_TRUE(c.Login("admin", kAdminPassword));
    Reply r = PostLines(c, lines);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["created"], kDeclarations);
  }
  Db one = Connect(*one_url);
  const LaneDayCounts reference = one.Counts();

  // The scale-out: serve publishes, two workers per role decide.
  NatsServer nats(dir_ / "nats");
  ASSERT_TRUE(nats.Start()) << ReadLog(dir_ / "nats/nats.log");
  auto url = pg_->CreateSchema("scale_out");
  ASSERT_TRUE(url.ok());
  const std::string images = dir_ / "img2";
  int port = Serve(*url, images, nats.Url(), rules);
  for (int w = 0; w < 2; ++w) {
    Worker("declarations", *url, images, nats.Url(), "decl" + std::to_string(w));
    Worker("scans", *url, images, nats.Url(), "scan" + std::to_string(w));
  }
  Client c(port);
  ASSERT_TRUE(c.Login("admin", kAdminPassword));
  // In four requests from four clients at once, as sorting centres would send them.
  std::vector<std::string> parts(4);
  {
    size_t k = 0, start = 0;
    for (size_t i = 0; i < lines.size(); ++i)
      if (lines[i] == '\n' && (++k % (kDeclarations / 4)) == 0) {
        parts[k / (kDeclarations / 4) - 1] = lines.substr(start, i + 1 - start);
        start = i + 1;
      }
  }
  std::vector<std::thread> senders;
  std::atomic<int> queued{0};
  for (const auto& part : parts)
    senders.emplace_back([&, part] {
      Client s(port);
      s.set_token(c.token());
      Reply r = PostLines(s, part);
      EXPECT_EQ(r.status, 202) << r.raw;
      queued += r.body.value("queued", 0);
    });
  for (auto& t : senders) t.join();
  EXPECT_EQ(queued.load(), kDeclarations);

  // Scans go to the scans workers; their files travel by the shared image directory.
  const std::string scans = dir_ / "scans";
  ASSERT_EQ(std::system((std::string(CS_CLI) +
                         " xray simulate --count 4 --seed 5 --width 160 "
                         "--height 120 --out " +
                         scans + " > /dev/null")
                            .c_str()),
            0);
  std::set<std::string> scan_consignments;
  for (const auto& e : std::filesystem::directory_iterator(scans)) {
    if (e.path().extension() != ".tif") continue;
    auto side = e.path();
    side.replace_extension(".json");
    Reply r = c.PostMultipart("/api/scans",
                              {{"tiff", ReadLog(e.path()), "scan.tif", "image/tiff"},
                               {"sidecar", ReadLog(side), "scan.json", "application/json"}});
    ASSERT_EQ(r.status, 202) << r.raw;
    EXPECT_EQ(r.body["result"], "queued");
    scan_consignments.insert(r.body["scan"]["consignment_id"].get<std::string>());
  }
  ASSERT_EQ(scan_consignments.size(), 4u);

  Db db = Connect(*url);
  const int64_t expected = kDeclarations + 4;
  ASSERT_TRUE(WaitForDecisions(db, expected, 120))
      << db.Count("SELECT COUNT(*) FROM consignments") << " of " << expected << " decided\n"
      << ReadLog(dir_ / "decl0.log");
  EXPECT_EQ(db.Count("SELECT COUNT(*) FROM scans WHERE analysis IS NULL OR analysis = ''"), 4)
      << "scans are stored by the scans workers (no calibration: not analysed)";

  // The workstation reads what the workers decided through serve, unchanged.
  Reply queue = c.Get("/api/queue?status=pending&limit=5");
  ASSERT_EQ(queue.status, 200) << queue.raw;
  EXPECT_EQ(queue.body["total"], db.Count("SELECT COUNT(*) FROM consignments WHERE status = "
                                          "'pending'"));
  Reply s7 = c.Get("/api/consignments/S7");
  ASSERT_EQ(s7.status, 200) << s7.raw;
  EXPECT_EQ(s7.body["declarations"].size(), 1u);
  // Same budgets: per lane-day the targeted reds are those of one process (the budget binds:
  // fewer than the high-risk declarations), the control sample within its part of the budget.
  const LaneDayCounts scaled = db.Counts();
  int64_t control_one = 0, control_scaled = 0, binding = 0;
  for (const auto& [lane_day, counts] : reference) {
    if (lane_day.first.empty()) continue;  // the scans' consignments
    auto it = scaled.find(lane_day);
    ASSERT_NE(it, scaled.end()) << lane_day.first << " " << lane_day.second;
    SCOPED_TRACE(lane_day.first + " day " + std::to_string(lane_day.second));
    EXPECT_EQ(it->second[2], counts[2]);
    EXPECT_EQ(it->second[0], counts[0]) << "targeted red";
    EXPECT_LE(it->second[0] + it->second[1], 8) << "red over the count budget of 8";
    std::printf("  %s %lld: one process targeted %lld control %lld of %lld; scale-out %lld %lld\n",
                lane_day.first.c_str(), static_cast<long long>(lane_day.second),
                static_cast<long long>(counts[0]), static_cast<long long>(counts[1]),
                static_cast<long long>(counts[2]), static_cast<long long>(it->second[0]),
                static_cast<long long>(it->second[1]));
    // The targeted part of the count budget: 8 less the control sample's ceil(0.25 x 8) = 2.
    EXPECT_EQ(counts[0], 6) << "the budget binds in one process";
    binding += counts[0] == 6;
    control_one += counts[1];
    control_scaled += it->second[1];
  }
  EXPECT_EQ(binding, 6) << "every lane-day's budget is used up in the reference";
  // Both declaration workers took part; asked to stop, each finishes what it holds and says so.
  for (int w = 0; w < 2; ++w) {
    pid_t& pid = children_[2 + 2 * w];  // after the two serve processes, decl and scan by turn
    const int status = KillAndWait(pid, SIGTERM);
    pid = -1;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    const std::string log = ReadLog(dir_ / ("decl" + std::to_string(w) + ".log"));
    const size_t at = log.find("stopping after ");
    ASSERT_NE(at, std::string::npos) << log;
    EXPECT_GT(std::atoll(log.c_str() + at + 15), 0) << log;
  }
  EXPECT_GT(control_scaled, 0);
  EXPECT_NEAR(static_cast<double>(control_scaled), static_cast<double>(control_one),
              std::max(3.0, 0.25 * static_cast<double>(control_one)));
  // Each declaration decided once.
  EXPECT_EQ(db.Count("SELECT COUNT(*) FROM consignments WHERE version <> 1"), 0);
  EXPECT_EQ(db.Count("SELECT COUNT(*) FROM audit WHERE action = 'decision'"), expected);
  std::printf(
      "scale-out: %lld declarations and 4 scans; targeted red per lane-day as one "
      "process; control %lld (one process %lld)\n",
      static_cast<long long>(kDeclarations), static_cast<long long>(control_scaled),
      static_cast<long long>(control_one));
}

TEST_F(ScaleOut, NothingAcceptedIsLostWhenAWorkerIsKilledOrTheServersRestart) {
  const std::string rules = dir_ / "rules.txt";
  { std::ofstream(rules) << kRules; }
  NatsServer nats(dir_ / "nats");
  ASSERT_TRUE(nats.Start());
  auto url = pg_->CreateSchema("faults");
  ASSERT_TRUE(url.ok());
  const std::string images = dir_ / "img";
  int port = Serve(*url, images, nats.Url(), rules);
  const std::vector<std::string> fast_redelivery = {"--ack-wait", "2"};
  pid_t victim = Worker("declarations", *url, images, nats.Url(), "w0", fast_redelivery);
  Worker("declarations", *url, images, nats.Url(), "w1", fast_redelivery);
  Client login(port);
  ASSERT_TRUE(login.Login("admin", kAdminPassword));

  // A client sends batches of 50 and retries each until the service accepts it (202), as an
  // integrator would while the queue or the database is down; it notes the refusals' errors.
  constexpr int kBatches = 60, kPerBatch = 50;
  std::atomic<int> sent{0}, refused{0};
  std::mutex mu;
  std::set<std::string> refusal_codes;
  std::thread sender([&] {
    Client c(port);
    c.set_token(login.token());
    for (int b = 0; b < kBatches; ++b) {
      const std::string lines = Declarations(kPerBatch, "F", b * kPerBatch);
      for (int attempt = 0; attempt < 400; ++attempt) {
        Reply r = PostLines(c, lines);
        if (r.status == 202 || r.status == 200) {
          ++sent;
          // Paced, so that the faults below fall while declarations flow.
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          break;
        }
        ++refused;
        if (r.body.is_object() && r.body.contains("results")) {
          std::lock_guard lock(mu);
          for (const auto& item : r.body["results"])
            if (item.contains("error")) refusal_codes.insert(item["error"].value("code", ""));
        } else if (r.body.is_object() && r.body.contains("error")) {
          std::lock_guard lock(mu);
          refusal_codes.insert(r.body["error"].value("code", ""));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
  Db db = Connect(*url);
  auto decided = [&] { return db.Count("SELECT COUNT(*) FROM consignments"); };
  // Kill -9 a worker once decisions flow.
  for (int i = 0; i < 300 && decided() < 100; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const int status = KillAndWait(victim, SIGKILL);
  std::replace(children_.begin(), children_.end(), victim, pid_t{-1});
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  const int64_t at_kill = decided();
  Worker("declarations", *url, images, nats.Url(), "w2", fast_redelivery);
  // nats-server down for a second and back, on the same port and store.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  nats.Stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_TRUE(nats.Start());
  // PostgreSQL down for a second and back.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const int64_t before_pg = decided();
  ASSERT_TRUE(pg_->Restart(1000).ok());
  sender.join();
  ASSERT_EQ(sent.load(), kBatches) << "batches accepted";

  Db after = Connect(*url);
  constexpr int64_t kAll = kBatches * kPerBatch;
  bool all = false;
  for (int i = 0; i < 1800 && !all; ++i) {
    all = after.Count("SELECT COUNT(*) FROM consignments") >= kAll;
    if (!all) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(all) << after.Count("SELECT COUNT(*) FROM consignments") << " of " << kAll
                   << " decided\n"
                   << ReadLog(dir_ / "w1.log") << ReadLog(dir_ / "w2.log");
  EXPECT_EQ(after.Count("SELECT COUNT(*) FROM declarations"), kAll);
  EXPECT_EQ(after.Count("SELECT COUNT(*) FROM consignments WHERE version <> 1"), 0)
      << "a declaration decided twice";
  EXPECT_EQ(after.Count("SELECT COUNT(*) FROM audit WHERE action = 'decision'"), kAll);
  // The chain holds over every process's appends.
  StoreOptions so;
  so.url = *url;
  so.images_dir = images;
  auto store = Store::Open(so);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto audit = (*store)->VerifyAudit();
  ASSERT_TRUE(audit.ok());
  EXPECT_TRUE(audit->ok) << audit->message;
  // While the queue was down, the service refused with a clear error, not silence.
  EXPECT_GT(refused.load(), 0);
  EXPECT_TRUE(refusal_codes.count("unavailable") || refusal_codes.count("io_error"))
      << "codes seen: " << ::testing::PrintToString(refusal_codes);
  std::printf(
      "faults: %lld declarations; worker killed at %lld decided, nats-server restarted, "
      "PostgreSQL restarted at %lld; %d refusals while degraded; none lost, none twice\n",
      static_cast<long long>(kAll), static_cast<long long>(at_kill),
      static_cast<long long>(before_pg), refused.load());
}

TEST_F(ScaleOut, AFullImageStoreRefusesScansClearlyAndRecovers) {
  // The image directory on a 1 MiB tmpfs: three 300 KB scans fill it.
  const std::string images = dir_ / "small-disk";
  std::filesystem::create_directories(images);
  ASSERT_EQ(std::system(("mount -t tmpfs -o size=1m tmpfs " + images).c_str()), 0)
      << "this test needs root to mount a size-limited tmpfs";
  struct Unmount {
    std::string dir;
    ~Unmount() { (void)std::system(("umount -l " + dir).c_str()); }
  } unmount{images};
  NatsServer nats(dir_ / "nats");
  ASSERT_TRUE(nats.Start());
  auto url = pg_->CreateSchema("full_disk");
  ASSERT_TRUE(url.ok());
  const std::string rules = dir_ / "rules.txt";
  { std::ofstream(rules) << kRules; }
  int port = Serve(*url, images, nats.Url(), rules);
  Worker("scans", *url, images, nats.Url(), "scans");
  Worker("declarations", *url, images, nats.Url(), "decl");
  Client c(port);
  ASSERT_TRUE(c.Login("admin", kAdminPassword));
  const std::string scans = dir_ / "scans";
  ASSERT_EQ(std::system((std::string(CS_CLI) +
                         " xray simulate --count 8 --seed 9 --width 320 "
                         "--height 240 --out " +
                         scans + " > /dev/null")
                            .c_str()),
            0);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(scans))
    if (e.path().extension() == ".tif") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 8u);
  auto post = [&](const std::filesystem::path& tif) {
    auto side = tif;
    side.replace_extension(".json");
    return c.PostMultipart("/api/scans",
                           {{"tiff", ReadLog(tif), "scan.tif", "image/tiff"},
                            {"sidecar", ReadLog(side), "scan.json", "application/json"}});
  };
  std::vector<std::filesystem::path> refused;
  int accepted = 0;
  for (const auto& f : files) {
    Reply r = post(f);
    if (r.status == 202) {
      ++accepted;
      continue;
    }
    ASSERT_EQ(r.status, 503) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "unavailable");
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find("is full"), std::string::npos)
        << r.raw;
    refused.push_back(f);
  }
  EXPECT_GE(accepted, 1);
  ASSERT_GE(refused.size(), 4u) << "the small disk should have filled";
  // Declarations need no image: still taken while the image store is full.
  Reply d = PostLines(c, Declarations(20, "FD"));
  EXPECT_EQ(d.status, 202) << d.raw;
  // Space freed (the disk made larger): the same uploads go through, without a restart.
  ASSERT_EQ(std::system(("mount -o remount,size=16m " + images).c_str()), 0);
  for (const auto& f : refused) {
    Reply r = post(f);
    EXPECT_EQ(r.status, 202) << r.raw;
  }
  Db db = Connect(*url);
  ASSERT_TRUE(WaitForDecisions(db, 8 + 20, 60)) << ReadLog(dir_ / "scans.log");
  EXPECT_EQ(db.Count("SELECT COUNT(*) FROM scans"), 8);
  // No half-written file was left behind by the refused writes.
  int temporaries = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(images))
    temporaries += e.path().filename().string().rfind('.', 0) == 0;
  EXPECT_EQ(temporaries, 0);
}

}  // namespace
}  // namespace clearsight
