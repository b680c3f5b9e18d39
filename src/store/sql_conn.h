// The one SQL interface the store is written against, with an adapter per backend
// (sqlite_conn.cc, postgres_conn.cc). Statements use $1, $2, ... placeholders on both.
// Exceptions of the client libraries end in these adapters.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "clearsight/status.h"
#include "clearsight/store.h"

namespace clearsight::store {

using SqlParam = std::variant<std::nullptr_t, int64_t, double, std::string>;
using SqlParams = std::vector<SqlParam>;

// A result row: every value as text (NULL = nullopt), converted where it is used.
struct SqlRow {
  std::vector<std::optional<std::string>> values;
  bool Null(size_t i) const { return !values[i].has_value(); }
  const std::string& Text(size_t i) const;
  int64_t Int(size_t i) const;
  double Double(size_t i) const;
};
using SqlRows = std::vector<SqlRow>;

// One connection; used by one thread at a time.
class SqlConn {
 public:
  virtual ~SqlConn() = default;
  // Several statements, no parameters (migrations).
  virtual Status ExecScript(const std::string& sql) = 0;
  virtual Result<SqlRows> Query(const std::string& sql, const SqlParams& params) = 0;
  // Returns the number of rows changed.
  virtual Result<int64_t> Exec(const std::string& sql, const SqlParams& params) = 0;
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;
  virtual std::string_view dialect() const = 0;  // "sqlite" or "postgresql"
};

// SQLite: WAL mode; `synchronous_full` picks synchronous=FULL (else NORMAL).
Result<std::unique_ptr<SqlConn>> OpenSqliteConn(const std::string& path, bool synchronous_full);
// PostgreSQL: a libpq connection string or postgresql:// URI.
Result<std::unique_ptr<SqlConn>> OpenPostgresConn(const std::string& conninfo);

// The model registry's JSON columns (model_registry.cc): files as [{"path", "sha256", "bytes"}],
// features as an array of strings. DataLoss when a stored text is not that.
std::string ModelFilesToJson(const std::vector<ModelFileRef>& files);
Result<std::vector<ModelFileRef>> ModelFilesFromJson(const std::string& text);
std::string StringsToJson(const std::vector<std::string>& strings);
Result<std::vector<std::string>> StringsFromJson(const std::string& text);

// The audit log's anchors (store.cc): a signed checkpoint of the chain's head, appended with an
// fsync to "<keyring>.anchors".
std::string AnchorMessage(int64_t seq, const std::string& hash);
Status AppendAuditAnchor(const AuditKeyring& ring, int64_t seq, const std::string& hash);

}  // namespace clearsight::store
