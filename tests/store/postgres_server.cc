#include "store/postgres_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "store/sql_conn.h"

namespace clearsight::testing {

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

namespace {
std::string FindBin() {
  for (const char* v : {"17", "16", "15", "14", "13"}) {
    std::string b = std::string("/usr/lib/postgresql/") + v + "/bin";
    if (std::filesystem::exists(b + "/initdb")) return b;
  }
  return "";
}
std::string AsPostgres(const std::string& cmd) {
  return ::geteuid() == 0 ? "runuser -u postgres -- " + cmd : cmd;
}
}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::string bin = FindBin();
  if (bin.empty())
    return Status::FailedPrecondition(
        "PostgreSQL server binaries not found (apt-get install postgresql)");
  char tmpl[] = "/tmp/cs_pg_XXXXXX";
  if (!::mkdtemp(tmpl)) return Status::IoError("mkdtemp failed");
  auto s = std::unique_ptr<PostgresServer>(new PostgresServer());
  s->dir_ = tmpl;
  s->bin_ = bin;
  if (::geteuid() == 0 && std::system(("chown postgres:postgres " + s->dir_).c_str()) != 0)
    return Status::IoError("cannot chown " + s->dir_ + " to postgres");
  // initdb is the slow part (seconds): each test process copies a cluster made once per build tree.
  const std::string cluster = std::string(CS_TEST_CACHE) + "/pgdata-" +
                              std::filesystem::path(bin).parent_path().filename().string();
  if (!std::filesystem::exists(cluster)) {
    std::string init =
        AsPostgres(bin + "/initdb -D " + s->dir_ + "/data -A trust -U postgres --no-sync > " +
                   s->dir_ + "/initdb.log 2>&1");
    if (std::system(init.c_str()) != 0)
      return Status::IoError("initdb failed; see " + s->dir_ + "/initdb.log");
    std::error_code ec;
    std::filesystem::create_directories(CS_TEST_CACHE, ec);
    std::string staged = cluster + ".tmp" + std::to_string(::getpid());
    if (std::system(("cp -a " + s->dir_ + "/data " + staged).c_str()) == 0) {
      std::filesystem::rename(staged, cluster, ec);  // another process may have won the race: fine
      if (ec) std::filesystem::remove_all(staged, ec);
    }
  } else {
    if (std::system(("cp -a " + cluster + " " + s->dir_ + "/data").c_str()) != 0)
      return Status::IoError("cannot copy the cluster template " + cluster);
    if (::geteuid() == 0 &&
        std::system(("chown -R postgres:postgres " + s->dir_ + "/data").c_str()) != 0)
      return Status::IoError("cannot chown the cluster copy");
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    s->port_ = FreeLoopbackPort();
    std::string start = AsPostgres(bin + "/pg_ctl -D " + s->dir_ + "/data -l " + s->dir_ +
                                   "/log -o \"-p " + std::to_string(s->port_) + " -k " + s->dir_ +
                                   " -c listen_addresses=127.0.0.1 -c fsync=off -c "
                                   "full_page_writes=off\" -w start > /dev/null 2>&1");
    if (std::system(start.c_str()) == 0) {
      s->start_cmd_ = start;
      // Should this process die without its destructor running (a ctest timeout kills it), a
      // watchdog stops the server and removes the directory, so no cluster is left behind.
      std::ifstream pidfile(s->dir_ + "/data/postmaster.pid");
      pid_t postmaster = 0;
      pidfile >> postmaster;
      if (postmaster > 0) {
        std::string watchdog = "sh -c 'while kill -0 " + std::to_string(::getpid()) +
                               " 2>/dev/null; do sleep 1; done; kill -INT " +
                               std::to_string(postmaster) + " 2>/dev/null; sleep 3; rm -rf " +
                               s->dir_ + "' > /dev/null 2>&1 &";
        (void)std::system(watchdog.c_str());
      }
      return s;
    }
  }
  return Status::IoError("pg_ctl start failed; see " + s->dir_ + "/log");
}

PostgresServer::~PostgresServer() {
  std::ifstream pidfile(dir_ + "/data/postmaster.pid");
  pid_t pid = 0;
  if (pidfile >> pid && pid > 0) {
    ::kill(pid, SIGINT);  // fast shutdown
    for (int i = 0; i < 200 && ::kill(pid, 0) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Status PostgresServer::Restart(int down_ms) {
  std::ifstream pidfile(dir_ + "/data/postmaster.pid");
  pid_t pid = 0;
  if (!(pidfile >> pid) || pid <= 0) return Status::FailedPrecondition("the server is not running");
  ::kill(pid, SIGINT);  // fast shutdown: open connections are closed
  for (int i = 0; i < 400 && ::kill(pid, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (::kill(pid, 0) == 0) return Status::Internal("the server did not stop");
  std::this_thread::sleep_for(std::chrono::milliseconds(down_ms));
  if (std::system(start_cmd_.c_str()) != 0)
    return Status::IoError("pg_ctl start failed again; see " + dir_ + "/log");
  return Status::Ok();
}

std::string PostgresServer::Url(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

Result<std::string> PostgresServer::CreateSchema(const std::string& name) {
  CS_ASSIGN_OR_RETURN(auto conn, store::OpenPostgresConn(Url("postgres")));
  CS_RETURN_IF_ERROR(conn->ExecScript("CREATE SCHEMA " + name));
  return Url("postgres") + "?options=-csearch_path%3D" + name;
}

}  // namespace clearsight::testing
