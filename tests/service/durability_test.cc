// Durability: every declaration the service acknowledged survives kill -9 of the service at a
// random moment. Real `clearsight serve` child processes, real clients posting in a loop, real
// SIGKILL, then a restart and a check of every acknowledged id.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "clearsight/store.h"
#include "service/service_test_util.h"

extern char** environ;

namespace clearsight {
namespace {

using testing::Client;
using testing::Reply;
using testing::TempDir;

pid_t SpawnServe(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
  env_store.emplace_back("CLEARSIGHT_ADMIN_PASSWORD=durable-admin-pw");
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

int WaitForPort(const std::string& port_file, pid_t pid) {
  for (int i = 0; i < 600; ++i) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) return port;
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) return -1;  // it died
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

TEST(Durability, AcknowledgedDeclarationsSurviveKill9AtAnyMoment) {
  TempDir dir;
  const std::string db = dir / "cs.db", port_file = dir / "port", log = dir / "serve.log";
  const unsigned seed = static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count());
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
    pid_t pid = SpawnServe({CS_CLI, "serve", "--db", db, "--port", "0", "--port-file", port_file, "--threads", "16",
                            "--web", dir / "noweb"},
                           log);
    ASSERT_GT(pid, 0);
    int port = WaitForPort(port_file, pid);
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
  auto store = Store::Open(so);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  int missing = 0;
  for (const auto& id : acked) {
    auto d = (*store)->GetDeclaration(id);
    ASSERT_TRUE(d.ok());
    if (!d->has_value()) ++missing;
    auto decision = (*store)->GetDecision(id);
    ASSERT_TRUE(decision.ok());
    if (d->has_value()) EXPECT_TRUE(decision->has_value()) << id;
  }
  EXPECT_EQ(missing, 0) << "acknowledged ids lost: " << missing << " of " << acked.size();
  EXPECT_GT(acked.size(), 100u);
  auto audit = (*store)->VerifyAudit();
  ASSERT_TRUE(audit.ok());
  EXPECT_TRUE(audit->ok) << audit->message;
  std::printf("durability: %zu acknowledged declarations over %d kill -9 cycles, %d re-posted, none lost\n",
              acked.size(), kCycles, reposted.load());
}

}  // namespace
}  // namespace clearsight
