// A throwaway PostgreSQL server for tests: initdb in a temporary directory, started on a free
// loopback port, stopped (SIGINT to the postmaster) and removed at the end. As root it runs as
// the `postgres` user through runuser, since PostgreSQL refuses to run as root.
#pragma once

#include <memory>
#include <string>

#include "clearsight/status.h"

namespace clearsight::testing {

class PostgresServer {
 public:
  // Fails with FailedPrecondition when the PostgreSQL binaries are not installed.
  static Result<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();

  // A postgresql:// URL for database `db` on this server.
  std::string Url(const std::string& db) const;
  // Creates a new empty schema in database "postgres" and returns a URL whose connections use it
  // (search_path): a fresh, isolated store per test for the cost of one CREATE SCHEMA.
  Result<std::string> CreateSchema(const std::string& name);
  int port() const { return port_; }
  // Stops the server (fast shutdown: connections are cut), waits `down_ms`, starts it again on
  // the same port and data.
  Status Restart(int down_ms);

 private:
  PostgresServer() = default;
  std::string dir_;
  std::string bin_;
  int port_ = 0;
  std::string start_cmd_;
};

// A free TCP port on 127.0.0.1 (bound and released; a small race is possible).
int FreeLoopbackPort();

}  // namespace clearsight::testing
