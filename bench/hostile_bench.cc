// A bounded hostile-client run against a real `clearsight serve` on loopback: resident memory of
// the service and the latency of GET /api/health before, during and after each attack. The
// baseline row (no attack) runs in the same process against the same service.
//
//   hostile_bench [--bodies 4] [--body-mb 31] [--idle 16] [--slow 16] [--logins 60] [--probes 20]
//
// Attacks, one after the other, each bounded in count and time:
//   nested JSON   logged-in POST /api/declarations bodies of unbalanced '[' (--body-mb each)
//   huge length   anonymous POST /api/login declaring 200 MB and sending nothing
//   idle          --idle TCP connections that send nothing for 5 s
//   slow heads    --slow connections that send a header line every second, for at most 20 s
//                 ("refused": how many the service closed before that)
//   login flood   --logins logins with new user names from 4 clients at once
// Prints a table and one JSON line.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "clearsight/file_util.h"

namespace cs = clearsight;

namespace {

[[noreturn]] void Die(const std::string& m) {
  std::fprintf(stderr, "error: %s\n", m.c_str());
  std::exit(1);
}

// From `from` (any of 127/8): the attacks come from 127.0.0.1, the health probes from another
// address, as a monitor's would.
int Connect(int port, const char* from = "127.0.0.1") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, from, &local.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    ::close(fd);
    return -1;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends a request and reads the answer until the server closes or 10 s pass; the status code, or
// -1 when there was none.
int Exchange(int port, const std::string& request, std::string* body = nullptr,
             const char* from = "127.0.0.1") {
  const int fd = Connect(port, from);
  if (fd < 0) return -1;
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may refuse and close before the body is sent
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buf[65536];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    answer.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (answer.size() < 12 || answer.compare(0, 5, "HTTP/") != 0) return -1;
  if (body) *body = answer.substr(std::min(answer.size(), answer.find("\r\n\r\n") + 4));
  return std::atoi(answer.c_str() + 9);
}

std::string Post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

double HealthMs(int port) {
  const double t0 = cs::bench::Now();
  const int status =
      Exchange(port, "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
               nullptr, "127.0.0.2");
  return status == 200 ? (cs::bench::Now() - t0) * 1e3 : -1;
}

double RssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024;
  return 0;
}

struct Phase {
  std::string name;
  double rss_before = 0, rss_peak = 0, rss_after = 0;
  std::vector<double> health_ms;  // probes during the attack
  int health_failed = 0;
  int attacks = 0, refused = 0;  // requests sent, and answered 4xx
};

// Runs `attack` while a prober measures health every 100 ms; memory before, at peak, after.
Phase Run(const std::string& name, pid_t pid, int port, int probes,
          const std::function<void(Phase*)>& attack) {
  Phase p;
  p.name = name;
  p.rss_before = RssMb(pid);
  std::atomic<bool> done{false};
  std::thread prober([&] {
    for (int i = 0; i < probes || !done; ++i) {
      const double ms = HealthMs(port);
      if (ms < 0)
        ++p.health_failed;
      else
        p.health_ms.push_back(ms);
      p.rss_peak = std::max(p.rss_peak, RssMb(pid));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (i > 600) break;  // bounded: at most about a minute of probes
    }
  });
  attack(&p);
  done = true;
  prober.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  p.rss_after = RssMb(pid);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  const cs::bench::Flags f(
      argc, argv,
      "usage: hostile_bench [--bodies 4] [--body-mb 31] [--idle 16] [--slow 16] [--logins 60]\n"
      "                     [--probes 20]\n"
      "Resident memory and health latency of a real `clearsight serve` before, during and after\n"
      "hostile clients (nested JSON bodies, a huge declared length, idle connections, heads sent\n"
      "slowly, a login flood), the quiet service first as the baseline.\n",
      {"--bodies", "--body-mb", "--idle", "--slow", "--logins", "--probes"});
  const int bodies = f.Int("--bodies", 4, 1, 64), body_mb = f.Int("--body-mb", 31, 1, 200);
  const int idle = f.Int("--idle", 16, 1, 1000), logins = f.Int("--logins", 60, 1, 10000);
  const int slow = f.Int("--slow", 16, 1, 1000);
  const int probes = f.Int("--probes", 20, 5, 600);

  std::error_code ec;
  const std::string exe =
      (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "clearsight").string();
  if (ec || !cs::FileExists(exe)) Die("the clearsight binary is not beside this benchmark");
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("cs_hostile_" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(dir);
  const std::string port_file = dir + "/port";
  const pid_t pid = ::fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    ::setenv("CLEARSIGHT_ADMIN_PASSWORD", "bench-password-1", 1);
    if (!std::freopen((dir + "/serve.log").c_str(), "w", stdout) ||
        !std::freopen((dir + "/serve.log").c_str(), "a", stderr))
      ::_exit(126);
    ::execl(exe.c_str(), exe.c_str(), "serve", "--db", (dir + "/cs.db").c_str(), "--port", "0",
            "--port-file", port_file.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int port = 0;
  for (int i = 0; i < 600 && port == 0; ++i) {
    auto text = cs::ReadFile(port_file);
    if (text.ok() && !text->empty()) port = std::atoi(text->c_str());
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (port == 0) Die("serve did not start (see " + dir + "/serve.log)");
  std::string login_body;
  if (Exchange(port, Post("/api/login", R"({"username":"admin","password":"bench-password-1"})"),
               &login_body) != 200)
    Die("login failed");
  const size_t t = login_body.find("\"token\":\"");
  const std::string token = login_body.substr(t + 9, 64);
  std::printf("machine: %s\nservice: clearsight serve on 127.0.0.1:%d (pid %d)\n\n",
              cs::bench::Machine().c_str(), port, static_cast<int>(pid));

  std::vector<Phase> phases;
  phases.push_back(Run("baseline (no attack)", pid, port, probes, [&](Phase*) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * probes));
  }));
  phases.push_back(Run("nested JSON bodies", pid, port, probes, [&](Phase* p) {
    const std::string body(static_cast<size_t>(body_mb) << 20, '[');
    for (int i = 0; i < bodies; ++i) {
      const int st = Exchange(
          port, Post("/api/declarations", body, "Authorization: Bearer " + token + "\r\n"));
      ++p->attacks;
      p->refused += st >= 400 && st < 500;
    }
  }));
  phases.push_back(Run("huge declared length", pid, port, probes, [&](Phase* p) {
    for (int i = 0; i < 8; ++i) {
      const int st = Exchange(port,
                              "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                              "application/json\r\nContent-Length: 200000000\r\n\r\n");
      ++p->attacks;
      p->refused += st >= 400 && st < 500;
    }
  }));
  phases.push_back(Run("idle connections", pid, port, probes, [&](Phase* p) {
    std::vector<int> fds;
    for (int i = 0; i < idle; ++i)
      if (int fd = Connect(port); fd >= 0) fds.push_back(fd), ++p->attacks;
    std::this_thread::sleep_for(std::chrono::seconds(5));
    for (int fd : fds) ::close(fd);
  }));
  phases.push_back(Run("slow heads", pid, port, probes, [&](Phase* p) {
    std::vector<int> fds;
    for (int i = 0; i < slow; ++i)
      if (int fd = Connect(port); fd >= 0) fds.push_back(fd), ++p->attacks;
    std::vector<bool> open(fds.size(), true);
    const std::string start = "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (int fd : fds) (void)!::send(fd, start.data(), start.size(), MSG_NOSIGNAL);
    for (int second = 0; second < 20 && p->refused < p->attacks; ++second) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const std::string line = "X-Slow-" + std::to_string(second) + ": y\r\n";
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!open[i]) continue;
        char c;
        const bool closed = ::send(fds[i], line.data(), line.size(), MSG_NOSIGNAL) <= 0 ||
                            ::recv(fds[i], &c, 1, MSG_DONTWAIT) == 0;
        if (closed) open[i] = false, ++p->refused;
      }
    }
    for (int fd : fds) ::close(fd);
  }));
  phases.push_back(Run("login flood", pid, port, probes, [&](Phase* p) {
    std::atomic<int> next{0}, refused{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
      clients.emplace_back([&] {
        for (int i; (i = next++) < logins;) {
          const int st =
              Exchange(port, Post("/api/login", "{\"username\":\"flood" + std::to_string(i) +
                                                    "\",\"password\":\"not the password\"}"));
          refused += st >= 400 && st < 500;
        }
      });
    for (auto& c : clients) c.join();
    p->attacks = logins;
    p->refused = refused;
  }));
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::filesystem::remove_all(dir, ec);

  std::printf("%-24s %8s %8s %8s %10s %10s %8s %8s\n", "phase", "rss MB", "peak MB", "after MB",
              "health p50", "health max", "h fails", "refused");
  std::string json =
      "{\"bench\":\"hostile\",\"machine\":\"" + cs::bench::Machine() + "\",\"rows\":[";
  for (size_t i = 0; i < phases.size(); ++i) {
    const Phase& p = phases[i];
    const double p50 = p.health_ms.empty() ? -1 : cs::bench::Percentile(p.health_ms, 0.5);
    const double max = p.health_ms.empty() ? -1 : cs::bench::Percentile(p.health_ms, 1.0);
    std::printf("%-24s %8.0f %8.0f %8.0f %9.1fms %9.1fms %8d %4d/%-3d\n", p.name.c_str(),
                p.rss_before, p.rss_peak, p.rss_after, p50, max, p.health_failed, p.refused,
                p.attacks);
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s{\"phase\":\"%s\",\"rss_mb\":%.1f,\"rss_peak_mb\":%.1f,\"rss_after_mb\":%.1f,"
                  "\"health_p50_ms\":%.2f,\"health_max_ms\":%.2f,\"health_failed\":%d,"
                  "\"attacks\":%d,\"refused\":%d}",
                  i ? "," : "", p.name.c_str(), p.rss_before, p.rss_peak, p.rss_after, p50, max,
                  p.health_failed, p.attacks, p.refused);
    json += buf;
  }
  std::printf("%s]}\n", json.c_str());
  return 0;
}
