// Durability: every declaration the service acknowledged survives kill -9 of the service at a
// random moment. Real `clearsight serve` child processes, real clients posting in a loop, real
// SIGKILL, then a restart and a check of every acknowledged id.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "clearsight/store.h"
#include "clearsight/xray_scan.h"
#include "service/child_process.h"
#include "service/service_test_util.h"
#include "store/postgres_server.h"
#include "store/sql_conn.h"

namespace clearsight {
namespace {

using testing::Client;
using testing::Reply;
using testing::TempDir;

pid_t SpawnServe(const std::vector<std::string>& args, const std::string& log) {
  return testing::SpawnLogged(args, log, {"CLEARSIGHT_ADMIN_PASSWORD=durable-admin-pw"});
}

TEST(Durability, AcknowledgedDeclarationsSurviveKill9AtAnyMoment) {
  TempDir dir;
  const std::string db = dir / "cs.db", port_file = dir / "port", log = dir / "serve.log";
  const unsigned seed =
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mutex mu;
  std::set<std::string> acked;
  std::atomic<int> next_id{0};
  std::atomic<int> lost_on_repost{0}, reposted{0};
  int64_t killed_with_traffic = 0;
  constexpr int kCycles = 6;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    std::filesystem::remove(port_file);
    pid_t pid = SpawnServe({CS_CLI, "serve", "--db", db, "--port", "0", "--port-file", port_file,
                            "--threads", "16", "--web", dir / "noweb"},
                           log);
    ASSERT_GT(pid, 0);
    int port = testing::WaitForPortFile(port_file, pid);
    if (port <= 0) {
      std::ifstream in(log);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      FAIL() << "serve did not start (cycle " << cycle << "):\n" << text;
    }
    Client login(port);
    ASSERT_TRUE(login.Login("admin", "durable-admin-pw"));
    const std::string token = login.token();
    std::atomic<bool> stop{false};
    std::atomic<int64_t> acked_this_cycle{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&, t] {
        Client c(port);
        c.set_token(token);
        std::mt19937 local(seed + t + cycle * 17);
        while (!stop) {
          // Now and then re-post an id acknowledged earlier: it must be there (200, unchanged).
          std::string old;
          if (local() % 8 == 0) {
            std::lock_guard lock(mu);
            if (!acked.empty()) {
              auto it = acked.begin();
              std::advance(it, local() % acked.size());
              old = *it;
            }
          }
          const std::string id = old.empty() ? "K" + std::to_string(next_id++) : old;
          Reply r = c.Post("/api/declarations", testing::Declaration(id, "OFF1"));
          if (r.status == 201 || r.status == 200) {
            if (!old.empty()) {
              ++reposted;
              if (r.status == 201) ++lost_on_repost;  // it had been acknowledged, yet was gone
            }
            std::lock_guard lock(mu);
            acked.insert(id);
            ++acked_this_cycle;
          } else if (r.status < 0) {
            break;  // the server is gone
          } else {
            ADD_FAILURE() << "unexpected status " << r.status << ": " << r.raw;
            break;
          }
        }
      });
    }
    // Let traffic flow, then kill at a random moment.
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 600));
    if (acked_this_cycle > 0) ++killed_with_traffic;
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    stop = true;
    for (auto& th : clients) th.join();
  }
  EXPECT_EQ(killed_with_traffic, kCycles);
  EXPECT_EQ(lost_on_repost.load(), 0) << "of " << reposted.load() << " re-posted acknowledged ids";
  // Every acknowledged declaration is in the database after the last kill.
  StoreOptions so;
  so.url = db;
  // serve signed the audit log with the keyring it made beside the database on first start.
  so.audit_key_path = db + ".audit-key";
  auto store = Store::Open(so);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  int missing = 0;
  for (const auto& id : acked) {
    auto d = (*store)->GetDeclaration(id);
    ASSERT_TRUE(d.ok());
    if (!d->has_value()) ++missing;
    auto decision = (*store)->GetDecision(id);
    ASSERT_TRUE(decision.ok());
    if (d->has_value()) {
      EXPECT_TRUE(decision->has_value()) << id;
    }
  }
  EXPECT_EQ(missing, 0) << "acknowledged ids lost: " << missing << " of " << acked.size();
  EXPECT_GT(acked.size(), 100u);
  auto audit = (*store)->VerifyAudit();
  ASSERT_TRUE(audit.ok());
  EXPECT_TRUE(audit->ok) << audit->message;
  std::printf(
      "durability: %zu acknowledged declarations over %d kill -9 cycles, %d re-posted, none lost\n",
      acked.size(), kCycles, reposted.load());
}

}  // namespace
}  // namespace clearsight

namespace clearsight {
namespace {

// The audit CLI: intact log exits 0; a row changed behind the service's back exits 1 naming it.
TEST(AuditCli, VerifyDetectsATamperedRow) {
  TempDir dir;
  const std::string db = dir / "cs.db";
  const std::string cli = CS_CLI;
  ASSERT_EQ(std::system(("echo 'first-password' | " + cli + " users add --db " + db +
                         " --user alice --role officer --password-stdin > /dev/null")
                            .c_str()),
            0);
  ASSERT_EQ(std::system(("echo 'second-password' | " + cli + " users add --db " + db +
                         " --user bob --role analyst --password-stdin > /dev/null")
                            .c_str()),
            0);
  ASSERT_EQ(std::system((cli + " audit verify --db " + db + " > " + (dir / "ok.txt")).c_str()), 0);
  {
    auto conn = store::OpenSqliteConn(db, true);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(
        (*conn)
            ->ExecScript(
                "DROP TRIGGER audit_no_update; UPDATE audit SET subject = 'eve' WHERE seq = 1")
            .ok());
  }
  int rc = std::system((cli + " audit verify --db " + db + " > " + (dir / "bad.txt")).c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  std::ifstream in(dir / "bad.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("entry 1 was changed"), std::string::npos) << text;
}

// The service on PostgreSQL: the same flow as on SQLite, through a real server.
TEST(ServiceOnPostgres, DeclarationScanOutcomeAndAudit) {
  auto pg = testing::PostgresServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  auto url = (*pg)->CreateSchema("svc");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  TempDir dir;
  ServiceOptions o;
  o.port = 0;
  o.store.url = *url;
  o.store.images_dir = dir / "images";
  auto svc = Service::Create(o);
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  EXPECT_EQ((*svc)->store().backend(), "postgresql");
  testing::AddRoleUsers((*svc)->store());
  ASSERT_TRUE((*svc)->Start().ok());
  Client in((*svc)->port()), officer((*svc)->port()), admin((*svc)->port());
  ASSERT_TRUE(in.Login("integrator", testing::PasswordOf("integrator")));
  ASSERT_TRUE(officer.Login("officer", testing::PasswordOf("officer")));
  ASSERT_TRUE(admin.Login("admin", testing::PasswordOf("admin")));
  Reply d = in.Post("/api/declarations", testing::Declaration("PG1"));
  ASSERT_EQ(d.status, 201) << d.raw;
  EXPECT_EQ(in.Post("/api/declarations", testing::Declaration("PG1")).status, 200);
  EXPECT_EQ(in.Post("/api/declarations", testing::Declaration("PG1", "OFF1", 5)).status, 409);
  // A scan (no calibration: stored and shown, not analysed) updates the decision.
  Scan scan;
  scan.width = 64;
  scan.height = 32;
  scan.low.assign(scan.pixels(), 30000);
  scan.high.assign(scan.pixels(), 40000);
  scan.meta.scan_id = "pgscan1";
  scan.meta.pixel_mm = 1;
  scan.meta.consignment_id = "PG1";
  auto tiff = EncodeScanTiff(scan);
  ASSERT_TRUE(tiff.ok());
  Reply up = in.PostMultipart(
      "/api/scans", {{"tiff", *tiff, "s.tif", "image/tiff"},
                     {"sidecar", ScanMetaToJson(scan.meta), "s.json", "application/json"}});
  ASSERT_EQ(up.status, 201) << up.raw;
  EXPECT_EQ(up.body["decision"]["version"], 2);
  EXPECT_EQ(officer.Get("/api/scans/pgscan1/image.png").status, 200);
  Reply out = officer.Post("/api/consignments/PG1/outcome", nlohmann::json{{"result", "nothing"}});
  ASSERT_EQ(out.status, 201) << out.raw;
  Reply q = officer.Get("/api/queue?status=done");
  EXPECT_EQ(q.body["total"], 1);
  Reply v = admin.Get("/api/audit/verify");
  EXPECT_EQ(v.body["ok"], true) << v.raw;
  EXPECT_GE(v.body["entries"].get<int>(), 8);
}

}  // namespace
}  // namespace clearsight
