// SQLite adapter: prepared statements cached per connection, $N placeholders bound by name.
#include <sqlite3.h>

#include <cstdlib>
#include <unordered_map>
#include <vector>

#include "store/sql_conn.h"

namespace clearsight::store {

const std::string& SqlRow::Text(size_t i) const {
  static const std::string kEmpty;
  return values[i] ? *values[i] : kEmpty;
}
int64_t SqlRow::Int(size_t i) const {
  return values[i] ? std::strtoll(values[i]->c_str(), nullptr, 10) : 0;
}
double SqlRow::Double(size_t i) const {
  return values[i] ? std::strtod(values[i]->c_str(), nullptr) : 0;
}

namespace {

class SqliteConn : public SqlConn {
 public:
  explicit SqliteConn(sqlite3* db) : db_(db) {}
  ~SqliteConn() override {
    for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
    sqlite3_close(db_);
  }

  std::string_view dialect() const override { return "sqlite"; }

  Status ExecScript(const std::string& sql) override {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "unknown error";
      sqlite3_free(err);
      return Error(m);
    }
    return Status::Ok();
  }

  Result<SqlRows> Query(const std::string& sql, const SqlParams& params) override {
    sqlite3_stmt* stmt = nullptr;
    CS_RETURN_IF_ERROR(Prepare(sql, params, &stmt));
    SqlRows rows;
    const int n = sqlite3_column_count(stmt);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      SqlRow row;
      row.values.resize(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        if (sqlite3_column_type(stmt, i) == SQLITE_NULL) continue;
        const unsigned char* t = sqlite3_column_text(stmt, i);
        row.values[static_cast<size_t>(i)] = std::string(
            reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
      }
      rows.push_back(std::move(row));
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return Error(sqlite3_errmsg(db_), rc);
    return rows;
  }

  Result<int64_t> Exec(const std::string& sql, const SqlParams& params) override {
    sqlite3_stmt* stmt = nullptr;
    CS_RETURN_IF_ERROR(Prepare(sql, params, &stmt));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return Error(sqlite3_errmsg(db_), rc);
    return static_cast<int64_t>(sqlite3_changes(db_));
  }

  // IMMEDIATE takes the write lock at once: a writer never fails half-way on a lock upgrade.
  Status Begin() override { return ExecScript("BEGIN IMMEDIATE"); }
  Status Commit() override { return ExecScript("COMMIT"); }
  Status Rollback() override {
    if (sqlite3_get_autocommit(db_)) return Status::Ok();
    return ExecScript("ROLLBACK");
  }

 private:
  Status Error(const std::string& m, int rc = SQLITE_ERROR) const {
    std::string msg = "sqlite: " + m;
    if (rc == SQLITE_CONSTRAINT || (rc & 0xff) == SQLITE_CONSTRAINT)
      return Status::AlreadyExists(msg);
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return Status::DataLoss(msg);
    return Status::IoError(msg);
  }

  // A prepared statement and, for $1..$N, the bind index of each (looked up once, not per call).
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    std::vector<int> index;  // index[i] = bind index of $(i+1), 0 when the statement lacks it
  };

  Status Prepare(const std::string& sql, const SqlParams& params, sqlite3_stmt** out) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      Cached c;
      if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                             SQLITE_PREPARE_PERSISTENT, &c.stmt, nullptr) != SQLITE_OK)
        return Error(std::string(sqlite3_errmsg(db_)) + " in: " + sql);
      it = cache_.emplace(sql, std::move(c)).first;
    }
    sqlite3_stmt* stmt = it->second.stmt;
    std::vector<int>& index = it->second.index;
    for (char name[32]; index.size() < params.size();) {
      std::snprintf(name, sizeof name, "$%zu", index.size() + 1);
      index.push_back(sqlite3_bind_parameter_index(stmt, name));
    }
    sqlite3_clear_bindings(stmt);
    for (size_t i = 0; i < params.size() && i < index.size(); ++i) {
      const int idx = index[i];
      if (idx == 0) continue;  // a parameter the statement does not use
      int rc = std::visit(
          [&](const auto& v) -> int {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>)
              return sqlite3_bind_null(stmt, idx);
            else if constexpr (std::is_same_v<T, int64_t>)
              return sqlite3_bind_int64(stmt, idx, v);
            else if constexpr (std::is_same_v<T, double>)
              return sqlite3_bind_double(stmt, idx, v);
            else
              return sqlite3_bind_text(stmt, idx, v.data(), static_cast<int>(v.size()),
                                       SQLITE_STATIC);
          },
          params[i]);
      if (rc != SQLITE_OK) return Error(sqlite3_errmsg(db_), rc);
    }
    *out = stmt;
    return Status::Ok();
  }

  sqlite3* db_;
  std::unordered_map<std::string, Cached> cache_;
};

}  // namespace

Result<std::unique_ptr<SqlConn>> OpenSqliteConn(const std::string& path, bool synchronous_full) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string m = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IoError("cannot open database '" + path + "': " + m);
  }
  auto conn = std::make_unique<SqliteConn>(db);
  sqlite3_busy_timeout(db, 10000);
  // WAL: readers never block the writer; with synchronous=FULL every COMMIT fsyncs the log, so a
  // committed transaction survives power loss as well as a killed process.
  Status s = conn->ExecScript(
      std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") +
      (synchronous_full ? "FULL" : "NORMAL") +
      "; PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384;");
  if (!s.ok()) return s.WithContext("opening '" + path + "'");
  // A file that is not a database fails here, not at the first query.
  auto probe = conn->Query("SELECT count(*) FROM sqlite_master", {});
  if (!probe.ok())
    return Status::DataLoss("'" + path +
                            "' is not a Clearsight database: " + probe.status().message());
  return std::unique_ptr<SqlConn>(std::move(conn));
}

}  // namespace clearsight::store
