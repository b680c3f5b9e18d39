// PostgreSQL adapter over libpqxx 6 (the Debian 12 version): parameters travel as text, results
// come back as text; pqxx exceptions end here.
#include <pqxx/pqxx>

#include "clearsight/text.h"
#include "store/sql_conn.h"

namespace clearsight::store {

namespace {

class PostgresConn : public SqlConn {
 public:
  PostgresConn(std::unique_ptr<pqxx::connection> c, std::string conninfo)
      : conn_(std::move(c)), conninfo_(std::move(conninfo)) {}
  ~PostgresConn() override { txn_.reset(); }

  std::string_view dialect() const override { return "postgresql"; }

  Status ExecScript(const std::string& sql) override {
    CS_RETURN_IF_ERROR(EnsureOpen());
    return Run([&] {
             if (txn_) {
               txn_->exec(sql);
             } else {
               pqxx::nontransaction n(*conn_);
               n.exec(sql);
             }
             return int64_t{0};
           })
        .status();
  }

  Result<SqlRows> Query(const std::string& sql, const SqlParams& params) override {
    CS_RETURN_IF_ERROR(EnsureOpen());
    SqlRows rows;
    auto r = Run([&] {
      pqxx::result res = Execute(sql, params);
      rows.reserve(res.size());
      for (const auto& row : res) {
        SqlRow out;
        out.values.reserve(row.size());
        for (const auto& f : row) {
          if (f.is_null())
            out.values.emplace_back();
          else
            out.values.emplace_back(std::string(f.c_str(), f.size()));
        }
        rows.push_back(std::move(out));
      }
      return int64_t{0};
    });
    if (!r.ok()) return r.status();
    return rows;
  }

  Result<int64_t> Exec(const std::string& sql, const SqlParams& params) override {
    CS_RETURN_IF_ERROR(EnsureOpen());
    return Run([&] { return static_cast<int64_t>(Execute(sql, params).affected_rows()); });
  }

  Status Begin() override {
    CS_RETURN_IF_ERROR(EnsureOpen());
    return Run([&] {
             txn_ = std::make_unique<pqxx::work>(*conn_);
             return int64_t{0};
           })
        .status();
  }
  Status Commit() override {
    if (!txn_) return Status::Internal("postgresql: commit without a transaction");
    auto r = Run([&] {
      txn_->commit();
      return int64_t{0};
    });
    txn_.reset();
    return r.status();
  }
  Status Rollback() override {
    if (!txn_) return Status::Ok();
    auto r = Run([&] {
      txn_->abort();
      return int64_t{0};
    });
    txn_.reset();
    return r.status();
  }

 private:
  // A server restarted or a connection dropped: outside a transaction the next statement opens a
  // new connection (inside one, the transaction is lost and its error goes to the caller, whose
  // rollback ends it). Recovery needs no restart of this process.
  Status EnsureOpen() {
    if (txn_ || (conn_ && conn_->is_open())) return Status::Ok();
    try {
      auto c = std::make_unique<pqxx::connection>(conninfo_);
      pqxx::nontransaction n(*c);
      n.exec("SET client_min_messages = warning");
      conn_ = std::move(c);
      return Status::Ok();
    } catch (const std::exception& e) {
      return Status::IoError(std::string("postgresql: cannot reconnect: ") + e.what());
    }
  }

  pqxx::result Execute(const std::string& sql, const SqlParams& params) {
    std::vector<std::string> text(params.size());
    std::vector<const char*> ptrs(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const SqlParam& p = params[i];
      if (std::holds_alternative<std::nullptr_t>(p)) continue;
      if (auto* v = std::get_if<int64_t>(&p))
        text[i] = std::to_string(*v);
      else if (auto* d = std::get_if<double>(&p))
        text[i] = FormatDouble(*d);
      else
        text[i] = std::get<std::string>(p);
      ptrs[i] = text[i].c_str();
    }
    auto dyn = pqxx::prepare::make_dynamic_params(ptrs);
    if (txn_) return txn_->exec_params(sql, dyn);
    pqxx::nontransaction n(*conn_);
    return n.exec_params(sql, dyn);
  }

  template <typename Fn>
  Result<int64_t> Run(Fn&& fn) {
    try {
      return fn();
    } catch (const pqxx::unique_violation& e) {
      return Status::AlreadyExists(std::string("postgresql: ") + e.what());
    } catch (const pqxx::broken_connection& e) {
      return Status::IoError(std::string("postgresql: connection lost: ") + e.what());
    } catch (const pqxx::in_doubt_error& e) {
      return Status::IoError(std::string("postgresql: commit outcome unknown: ") + e.what());
    } catch (const std::exception& e) {
      return Status::IoError(std::string("postgresql: ") + e.what());
    }
  }

  std::unique_ptr<pqxx::connection> conn_;
  std::string conninfo_;
  std::unique_ptr<pqxx::work> txn_;
};

}  // namespace

Result<std::unique_ptr<SqlConn>> OpenPostgresConn(const std::string& conninfo) {
  try {
    auto c = std::make_unique<pqxx::connection>(conninfo);
    auto conn = std::make_unique<PostgresConn>(std::move(c), conninfo);
    // Quieter logs: CREATE TABLE IF NOT EXISTS and friends.
    CS_RETURN_IF_ERROR(conn->ExecScript("SET client_min_messages = warning"));
    return std::unique_ptr<SqlConn>(std::move(conn));
  } catch (const std::exception& e) {
    return Status::IoError(std::string("cannot connect to PostgreSQL: ") + e.what());
  }
}

}  // namespace clearsight::store
