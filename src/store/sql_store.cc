// The Store on top of SqlConn: one writer thread with group commit, a pool of read connections,
// migrations, and every query of the schema (written once for SQLite and PostgreSQL).
#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "clearsight/file_util.h"
#include "clearsight/store.h"
#include "clearsight/text.h"
#include "store/sql_conn.h"
#include "store/sql_rows.h"

namespace clearsight {
namespace store {
namespace {

struct Migration {
  int version;
  const char* name;
  const char* dialect;  // "" = every backend
  const char* sql;
};
const Migration kMigrations[] = {
#include "migrations.inc"
};

int64_t LatestMigration() {
  int64_t v = 0;
  for (const auto& m : kMigrations) v = std::max<int64_t>(v, m.version);
  return v;
}

// PostgreSQL advisory lock keys: processes that share one database (the service, workers, the
// CLI) migrate one at a time and write one transaction at a time (the audit chain is one sequence,
// and the selection budgets are counted over every process's decisions).
constexpr int64_t kMigrationLock = 0x436c656172000001;  // "Clear" 1
constexpr int64_t kWriterLock = 0x436c656172000002;

Result<int64_t> MigrateLocked(SqlConn& c);

Result<int64_t> Migrate(SqlConn& c) {
  if (c.dialect() != "postgresql") return MigrateLocked(c);
  CS_RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_lock($1)", {kMigrationLock}).status());
  auto r = MigrateLocked(c);
  Status unlock = c.Exec("SELECT pg_advisory_unlock($1)", {kMigrationLock}).status();
  if (r.ok() && !unlock.ok()) return unlock;
  return r;
}

Result<int64_t> MigrateLocked(SqlConn& c) {
  CS_RETURN_IF_ERROR(
      c.ExecScript("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name "
                   "TEXT NOT NULL, "
                   "applied_ms BIGINT NOT NULL)"));
  CS_ASSIGN_OR_RETURN(auto rows,
                      c.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {}));
  int64_t current = rows.empty() ? 0 : rows[0].Int(0);
  const int64_t latest = LatestMigration();
  if (current > latest)
    return Status::FailedPrecondition("the database has schema version " + std::to_string(current) +
                                      " but this program knows only up to " +
                                      std::to_string(latest) + ": use a newer clearsight");
  for (int64_t v = current + 1; v <= latest; ++v) {
    std::string name;
    CS_RETURN_IF_ERROR(c.Begin());
    for (const auto& m : kMigrations) {
      if (m.version != v) continue;
      name = m.name;
      if (*m.dialect && c.dialect() != m.dialect) continue;
      Status s = c.ExecScript(m.sql);
      if (!s.ok()) {
        (void)c.Rollback();
        return s.WithContext("migration " + std::to_string(v) + " (" + name + ")");
      }
    }
    if (name.empty()) {
      (void)c.Rollback();
      continue;  // a gap in the numbering
    }
    auto ins =
        c.Exec("INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)",
               {v, name, NowMs()});
    if (!ins.ok()) {
      (void)c.Rollback();
      return ins.status();
    }
    CS_RETURN_IF_ERROR(c.Commit());
  }
  return latest;
}

// Declarations stored before migration 5 get their search fields, a thousand per transaction.
Status BackfillSearchFields(SqlConn& c) {
  for (;;) {
    CS_ASSIGN_OR_RETURN(auto rows, c.Query("SELECT declaration_id, body FROM declarations "
                                           "WHERE search_text IS NULL LIMIT 1000",
                                           {}));
    if (rows.empty()) return Status::Ok();
    CS_RETURN_IF_ERROR(c.Begin());
    for (const auto& r : rows) {
      DeclarationRow d;
      d.declaration_id = r.Text(0);
      d.json = r.Text(1);
      SearchFieldsFromJson(&d);
      auto up = c.Exec(
          "UPDATE declarations SET importer_id = $2, hs_code = $3, declared_value = $4, "
          "search_text = $5 WHERE declaration_id = $1",
          {d.declaration_id, d.importer_id, d.hs_code, d.declared_value, d.search_text});
      if (!up.ok()) {
        (void)c.Rollback();
        return up.status().WithContext("filling the search fields of declaration " +
                                       d.declaration_id);
      }
    }
    CS_RETURN_IF_ERROR(c.Commit());
  }
}

class SqlStore : public Store {
 public:
  ~SqlStore() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    checkpoint_cv_.notify_all();
    if (writer_thread_.joinable()) writer_thread_.join();
    if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  }

  // Takes "<db>.lock" (flock, released when the process ends however it ends) and writes this
  // process's id into it for the message a second process gets.
  Status LockExclusive(const std::string& db_path) {
    const std::string path = db_path + ".lock";
    lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      char holder[32] = {};
      const ssize_t n = ::pread(lock_fd_, holder, sizeof holder - 1, 0);
      std::string pid = n > 0 ? std::string(Trim(std::string_view(holder, static_cast<size_t>(n))))
                              : std::string("unknown");
      return Status::FailedPrecondition(db_path + " is in use by another clearsight service (pid " +
                                        pid + ", lock " + path +
                                        "): stop it first, or give this one another --db");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0)
      return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
    return Status::Ok();
  }

  static Result<std::unique_ptr<Store>> Open(const StoreOptions& o) {
    if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
    auto s = std::unique_ptr<SqlStore>(new SqlStore());
    s->options_ = o;
    std::string url = o.url;
    if (url.empty())
      return Status::InvalidArgument("--db is empty: give a file path or a postgresql:// URL");
    bool pg = StartsWith(url, "postgresql:") || StartsWith(url, "postgres:");
    std::function<Result<std::unique_ptr<SqlConn>>()> open;
    if (pg) {
      s->backend_ = "postgresql";
      // "postgresql://..." is a libpq URI as is; "postgresql:host=... dbname=..." a keyword string.
      std::string conninfo = StartsWith(url, "postgresql://") || StartsWith(url, "postgres://")
                                 ? url
                                 : url.substr(url.find(':') + 1);
      open = [conninfo] { return OpenPostgresConn(conninfo); };
      if (o.images_dir.empty())
        return Status::InvalidArgument(
            "with PostgreSQL an image directory is required (--images DIR)");
      s->images_dir_ = o.images_dir;
    } else {
      s->backend_ = "sqlite";
      std::string path = StartsWith(url, "sqlite:") ? url.substr(7) : url;
      if (path.empty()) return Status::InvalidArgument("sqlite: the database path is empty");
      if (o.exclusive) CS_RETURN_IF_ERROR(s->LockExclusive(path));
      bool full = o.sqlite_synchronous_full;
      open = [path, full] { return OpenSqliteConn(path, full); };
      s->images_dir_ = o.images_dir.empty() ? path + ".images" : o.images_dir;
    }
    CS_RETURN_IF_ERROR(MakeDirs(s->images_dir_));
    if (!o.audit_key_path.empty()) {
      auto ring = AuditKeyring::Load(o.audit_key_path);
      if (!ring.ok() && ring.status().code() == StatusCode::kNotFound && o.create_audit_key)
        ring = AuditKeyring::Create(o.audit_key_path);
      if (!ring.ok()) return ring.status().WithContext("the audit keyring");
      s->audit_keyring_ = std::move(*ring);
    }
    CS_ASSIGN_OR_RETURN(s->writer_, open());
    CS_ASSIGN_OR_RETURN(s->schema_version_, Migrate(*s->writer_));
    CS_RETURN_IF_ERROR(BackfillSearchFields(*s->writer_));
    for (int i = 0; i < std::max(1, o.read_connections); ++i) {
      CS_ASSIGN_OR_RETURN(auto c, open());
      s->readers_.push_back(std::move(c));
    }
    if (!pg) {
      // Checkpoints (copying the WAL into the database file, with an fsync) run on their own
      // connection and thread, so a commit never waits for one; the writer's own automatic
      // checkpoint stays as a backstop should this thread fall far behind.
      CS_RETURN_IF_ERROR(s->writer_->ExecScript("PRAGMA wal_autocheckpoint=20000"));
      CS_ASSIGN_OR_RETURN(s->checkpointer_, open());
      s->checkpoint_thread_ = std::thread([p = s.get()] { p->CheckpointLoop(); });
    }
    s->writer_thread_ = std::thread([p = s.get()] { p->WriterLoop(); });
    return std::unique_ptr<Store>(std::move(s));
  }

  std::string_view backend() const override { return backend_; }
  int64_t schema_version() const override { return schema_version_; }

  std::future<Status> WriteAsync(std::function<Status(StoreTxn&)> op) override {
    Pending p{std::move(op), {}};
    auto done = p.done.get_future();
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        p.done.set_value(Status::FailedPrecondition("the store is closing"));
        return done;
      }
      queue_.push_back(std::move(p));
    }
    cv_.notify_one();
    return done;
  }

  // ---- Reads ----
  Result<std::optional<DeclarationRow>> GetDeclaration(const std::string& id) override {
    return Read([&](SqlConn& c) { return QueryDeclaration(c, id); });
  }
  Result<std::vector<DeclarationRow>> DeclarationsOf(const std::string& consignment_id) override {
    return Read([&](SqlConn& c) -> Result<std::vector<DeclarationRow>> {
      static const std::string kSql =
          "SELECT " CS_DECL_COLS
          " FROM declarations WHERE consignment_id = $1 ORDER BY declaration_id";
      CS_ASSIGN_OR_RETURN(auto rows, c.Query(kSql, {consignment_id}));
      std::vector<DeclarationRow> out;
      for (const auto& r : rows) out.push_back(ToDeclaration(r));
      return out;
    });
  }
  Result<std::optional<DecisionRow>> GetDecision(const std::string& id) override {
    return Read([&](SqlConn& c) { return QueryDecision(c, id); });
  }
  Result<QueuePage> Queue(const QueueQuery& q) override {
    return Read([&](SqlConn& c) { return QueryQueue(c, q); });
  }
  Result<RecentDeclarations> DeclarationsOfLastDays(int32_t days, int64_t limit) override {
    if (days < 1 || days > 3660) return Status::InvalidArgument("days must be 1..3660");
    if (limit < 1 || limit > 1000000) return Status::InvalidArgument("limit must be 1..1000000");
    return Read([&](SqlConn& c) -> Result<RecentDeclarations> {
      RecentDeclarations out;
      CS_ASSIGN_OR_RETURN(auto newest, c.Query("SELECT MAX(decl_date) FROM declarations", {}));
      if (newest.empty() || newest[0].Null(0)) return out;
      out.to_date = static_cast<int32_t>(newest[0].Int(0));
      out.from_date = out.to_date - days + 1;
      CS_ASSIGN_OR_RETURN(auto count,
                          c.Query("SELECT COUNT(*) FROM declarations WHERE decl_date >= $1",
                                  {int64_t{out.from_date}}));
      out.total = count.empty() ? 0 : count[0].Int(0);
      CS_ASSIGN_OR_RETURN(
          auto rows,
          c.Query("SELECT d.declaration_id, d.consignment_id, d.office_id, d.decl_date, "
                  "d.content_sha256, d.body, d.received_ms, d.assessment, "
                  "COALESCE(c.channel, ''), COALESCE(c.outcome, '') FROM declarations d "
                  "LEFT JOIN consignments c ON c.consignment_id = d.consignment_id "
                  "WHERE d.decl_date >= $1 ORDER BY d.decl_date DESC, d.declaration_id LIMIT $2",
                  {int64_t{out.from_date}, limit}));
      for (const auto& r : rows) {
        out.rows.push_back(ToDeclaration(r));
        out.channel.push_back(r.Text(8));
        out.outcome.push_back(r.Text(9));
      }
      return out;
    });
  }
  Result<RecentScanFindings> ScanFindingsSince(int32_t from_date, int64_t limit) override {
    if (limit < 1 || limit > 1000000) return Status::InvalidArgument("limit must be 1..1000000");
    return Read([&](SqlConn& c) -> Result<RecentScanFindings> {
      static const std::string kFrom =
          " FROM scans s JOIN findings f ON f.consignment_id = s.consignment_id AND "
          "f.origin = 'scan:' || s.scan_id WHERE s.consignment_id IN (SELECT consignment_id FROM "
          "declarations WHERE decl_date >= $1)";
      RecentScanFindings out;
      CS_ASSIGN_OR_RETURN(auto count, c.Query("SELECT COUNT(*)" + kFrom, {int64_t{from_date}}));
      out.total = count.empty() ? 0 : count[0].Int(0);
      CS_ASSIGN_OR_RETURN(auto rows, c.Query("SELECT s.scan_id, s.consignment_id, f.body" + kFrom +
                                                 " ORDER BY s.scan_id LIMIT $2",
                                             {int64_t{from_date}, limit}));
      out.rows.reserve(rows.size());
      for (const auto& r : rows) out.rows.push_back({r.Text(0), r.Text(1), r.Text(2)});
      return out;
    });
  }
  Result<std::optional<ScanRow>> GetScan(const std::string& id) override {
    return Read([&](SqlConn& c) { return QueryScan(c, id); });
  }
  Result<std::vector<ScanRow>> ScansOf(const std::string& consignment_id) override {
    return Read([&](SqlConn& c) -> Result<std::vector<ScanRow>> {
      CS_ASSIGN_OR_RETURN(
          auto rows,
          c.Query(std::string("SELECT ") + kScanCols +
                      " FROM scans WHERE consignment_id = $1 ORDER BY received_ms, scan_id",
                  {consignment_id}));
      std::vector<ScanRow> out;
      for (const auto& r : rows) out.push_back(ToScan(r));
      return out;
    });
  }
  Result<std::vector<DecisionRow>> DecisionChanges(int64_t after, int64_t limit) override {
    return Read([&](SqlConn& c) -> Result<std::vector<DecisionRow>> {
      static const std::string kSql = "SELECT " CS_DECISION_COLS
                                      " FROM consignments WHERE change_seq > $1 "
                                      "ORDER BY change_seq LIMIT $2";
      CS_ASSIGN_OR_RETURN(auto rows, c.Query(kSql, {after, limit}));
      std::vector<DecisionRow> out;
      out.reserve(rows.size());
      for (const auto& r : rows) out.push_back(ToDecision(r));
      return out;
    });
  }
  Result<std::vector<std::pair<std::string, std::string>>> FindingsOf(
      const std::string& consignment_id) override {
    return Read([&](SqlConn& c) -> Result<std::vector<std::pair<std::string, std::string>>> {
      CS_ASSIGN_OR_RETURN(auto rows,
                          c.Query("SELECT origin, body FROM findings WHERE consignment_id = $1 "
                                  "ORDER BY origin",
                                  {consignment_id}));
      std::vector<std::pair<std::string, std::string>> out;
      for (const auto& r : rows) out.emplace_back(r.Text(0), r.Text(1));
      return out;
    });
  }
  Result<std::vector<OutcomeRow>> OutcomesOf(const std::string& consignment_id) override {
    return Read([&](SqlConn& c) -> Result<std::vector<OutcomeRow>> {
      CS_ASSIGN_OR_RETURN(
          auto rows,
          c.Query("SELECT " CS_OUTCOME_COLS " FROM outcomes WHERE consignment_id = $1 ORDER BY seq",
                  {consignment_id}));
      std::vector<OutcomeRow> out;
      std::map<int64_t, size_t> at;  // seq -> index in out
      for (const auto& r : rows) {
        OutcomeRow o = ToOutcome(r);
        at[o.seq] = out.size();
        out.push_back(std::move(o));
      }
      if (out.empty()) return out;
      CS_ASSIGN_OR_RETURN(auto files,
                          c.Query(std::string("SELECT ") + kAttachmentCols +
                                      " FROM outcome_attachments WHERE consignment_id = $1 "
                                      "ORDER BY uploaded_ms, outcome_seq, sha256",
                                  {consignment_id}));
      for (const auto& r : files) {
        AttachmentRow a = ToAttachment(r);
        auto it = at.find(a.outcome_seq);
        if (it != at.end()) out[it->second].attachments.push_back(std::move(a));
      }
      return out;
    });
  }
  Result<std::optional<AttachmentRow>> GetAttachment(const std::string& consignment_id,
                                                     const std::string& sha256) override {
    return Read([&](SqlConn& c) -> Result<std::optional<AttachmentRow>> {
      CS_ASSIGN_OR_RETURN(auto rows,
                          c.Query(std::string("SELECT ") + kAttachmentCols +
                                      " FROM outcome_attachments WHERE consignment_id = $1 AND "
                                      "sha256 = $2 ORDER BY uploaded_ms, outcome_seq LIMIT 1",
                                  {consignment_id, sha256}));
      if (rows.empty()) return std::optional<AttachmentRow>();
      return std::optional<AttachmentRow>(ToAttachment(rows[0]));
    });
  }
  Result<std::vector<std::string>> RuleHitsOf(const std::string& consignment_id) override {
    return Read([&](SqlConn& c) -> Result<std::vector<std::string>> {
      CS_ASSIGN_OR_RETURN(auto rows,
                          c.Query("SELECT rule_name FROM rule_hits WHERE consignment_id = $1 "
                                  "ORDER BY rule_name",
                                  {consignment_id}));
      std::vector<std::string> out;
      for (const auto& r : rows) out.push_back(r.Text(0));
      return out;
    });
  }
  Result<std::vector<LaneCounts>> Lanes() override {
    return Read([&](SqlConn& c) -> Result<std::vector<LaneCounts>> {
      // Grouped on the (lane, status) index alone.
      CS_ASSIGN_OR_RETURN(
          auto rows,
          c.Query("SELECT lane, status, COUNT(*) FROM consignments GROUP BY lane, status "
                  "ORDER BY lane, status",
                  {}));
      std::vector<LaneCounts> out;
      for (const auto& r : rows) {
        if (out.empty() || out.back().lane != r.Text(0)) out.push_back(LaneCounts{r.Text(0)});
        LaneCounts& l = out.back();
        const int64_t n = r.Int(2);
        l.total += n;
        if (r.Text(1) == "pending")
          l.pending += n;
        else if (r.Text(1) == "released")
          l.released += n;
        else if (r.Text(1) == "done")
          l.done += n;
      }
      return out;
    });
  }
  Result<std::optional<UserRow>> GetUser(const std::string& name) override {
    return Read([&](SqlConn& c) { return QueryUser(c, name); });
  }
  Result<std::vector<UserRow>> ListUsers() override {
    return Read([&](SqlConn& c) -> Result<std::vector<UserRow>> {
      CS_ASSIGN_OR_RETURN(
          auto rows,
          c.Query(std::string("SELECT ") + kUserCols + " FROM users ORDER BY username", {}));
      std::vector<UserRow> out;
      for (const auto& r : rows) out.push_back(ToUser(r));
      return out;
    });
  }
  Result<std::optional<SessionRow>> GetSession(const std::string& token_sha256) override {
    return Read([&](SqlConn& c) -> Result<std::optional<SessionRow>> {
      CS_ASSIGN_OR_RETURN(auto rows,
                          c.Query("SELECT s.token_sha256, s.username, u.role, s.expires_ms "
                                  "FROM sessions s JOIN users u ON u.username = s.username "
                                  "WHERE s.token_sha256 = $1 AND u.disabled = 0",
                                  {token_sha256}));
      if (rows.empty()) return std::optional<SessionRow>();
      return std::optional<SessionRow>(
          SessionRow{rows[0].Text(0), rows[0].Text(1), rows[0].Text(2), rows[0].Int(3)});
    });
  }
  Result<std::vector<AuditEntry>> AuditRange(int64_t after_seq, int64_t limit) override {
    return Read([&](SqlConn& c) -> Result<std::vector<AuditEntry>> {
      CS_ASSIGN_OR_RETURN(
          auto rows, c.Query("SELECT seq, at_ms, actor, action, subject, detail, prev_hash, hash "
                             "FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                             {after_seq, limit}));
      std::vector<AuditEntry> out;
      for (const auto& r : rows)
        out.push_back(AuditEntry{r.Int(0), r.Int(1), r.Text(2), r.Text(3), r.Text(4), r.Text(5),
                                 r.Text(6), r.Text(7)});
      return out;
    });
  }
  Result<std::vector<SelectionCount>> SelectionCounts(int32_t since_date) override {
    return Read([&](SqlConn& c) -> Result<std::vector<SelectionCount>> {
      CS_ASSIGN_OR_RETURN(
          auto rows,
          c.Query("SELECT lane, decision_date, channel, control, COUNT(*), exploration FROM "
                  "consignments WHERE decision_date >= $1 "
                  "GROUP BY lane, decision_date, channel, control, exploration",
                  {int64_t{since_date}}));
      std::vector<SelectionCount> out;
      for (const auto& r : rows)
        out.push_back(SelectionCount{r.Text(0), static_cast<int32_t>(r.Int(1)), r.Text(2),
                                     r.Int(3) != 0, r.Int(4), r.Int(5) != 0});
      return out;
    });
  }
  Result<std::vector<std::pair<std::string, double>>> RecentScores(int per_lane) override {
    return Read([&](SqlConn& c) -> Result<std::vector<std::pair<std::string, double>>> {
      CS_ASSIGN_OR_RETURN(
          auto rows,
          c.Query(
              "SELECT lane, score FROM (SELECT lane, score, created_ms, consignment_id, "
              "ROW_NUMBER() OVER (PARTITION BY lane ORDER BY created_ms DESC, consignment_id DESC) "
              "AS rn FROM consignments) t WHERE rn <= $1 ORDER BY created_ms, consignment_id",
              {int64_t{per_lane}}));
      std::vector<std::pair<std::string, double>> out;
      for (const auto& r : rows) out.emplace_back(r.Text(0), r.Double(1));
      return out;
    });
  }
  Result<std::vector<RuleHitStats>> RuleStats() override {
    return Read([&](SqlConn& c) { return QueryRuleStats(c); });
  }
  Result<std::vector<ControlOutcome>> ControlOutcomes() override {
    return Read([&](SqlConn& c) { return QueryControlOutcomes(c); });
  }
  Result<RuleWeekly> RuleWeeklyStats(int32_t weeks) override {
    return Read([&](SqlConn& c) { return QueryRuleWeeklyStats(c, weeks); });
  }
  Result<std::vector<ChannelOutcomeStats>> ChannelStats() override {
    return Read([&](SqlConn& c) { return QueryChannelStats(c); });
  }
  Result<std::vector<GroupOutcomeStats>> GroupStats(const std::string& by) override {
    return Read([&](SqlConn& c) { return QueryGroupStats(c, by); });
  }
  Result<std::vector<SourceOutcomeStats>> SourceStats() override {
    return Read([&](SqlConn& c) { return QuerySourceStats(c); });
  }
  Result<std::optional<RulesVersion>> LatestRules() override {
    return Read([&](SqlConn& c) -> Result<std::optional<RulesVersion>> {
      CS_ASSIGN_OR_RETURN(auto rows, QueryRulesVersions(c, " ORDER BY version DESC LIMIT 1", {}));
      if (rows.empty()) return std::optional<RulesVersion>();
      return std::optional<RulesVersion>(std::move(rows[0]));
    });
  }
  Result<std::vector<RulesVersion>> RulesVersions(int64_t limit) override {
    return Read([&](SqlConn& c) {
      return QueryRulesVersions(c, " ORDER BY version DESC LIMIT $1", {limit});
    });
  }
  Result<std::optional<RulesVersion>> GetRulesVersion(int64_t version) override {
    return Read([&](SqlConn& c) { return QueryRulesVersion(c, version); });
  }
  Result<std::optional<std::string>> GetSetting(const std::string& key) override {
    return Read([&](SqlConn& c) -> Result<std::optional<std::string>> {
      CS_ASSIGN_OR_RETURN(auto rows, c.Query("SELECT value FROM settings WHERE name = $1", {key}));
      if (rows.empty()) return std::optional<std::string>();
      return std::optional<std::string>(rows[0].Text(0));
    });
  }
  Result<std::vector<TrainingSessionRow>> TrainingSessions() override {
    return Read([&](SqlConn& c) { return QueryTrainingSessions(c, "", {}); });
  }
  Result<std::optional<TrainingSessionRow>> GetTrainingSession(int64_t session_id) override {
    return Read([&](SqlConn& c) -> Result<std::optional<TrainingSessionRow>> {
      CS_ASSIGN_OR_RETURN(auto rows,
                          QueryTrainingSessions(c, " WHERE session_id = $1", {session_id}));
      if (rows.empty()) return std::optional<TrainingSessionRow>();
      return std::optional<TrainingSessionRow>(std::move(rows[0]));
    });
  }
  Result<std::vector<TrainingAssignmentRow>> TrainingAssignments(
      const std::string& trainee) override {
    return Read([&](SqlConn& c) { return QueryTrainingAssignments(c, trainee); });
  }
  Result<std::vector<TrainingTrialRow>> TrainingTrials(const TrainingTrialQuery& query) override {
    return Read([&](SqlConn& c) { return QueryTrainingTrials(c, query); });
  }
  Result<std::optional<TrainingTrialRow>> GetTrainingTrial(int64_t trial_id) override {
    return Read([&](SqlConn& c) -> Result<std::optional<TrainingTrialRow>> {
      CS_ASSIGN_OR_RETURN(auto rows, QueryTrainingTrials(c, {}, trial_id));
      if (rows.empty()) return std::optional<TrainingTrialRow>();
      return std::optional<TrainingTrialRow>(std::move(rows[0]));
    });
  }
  Result<std::vector<std::string>> CleanScanIds(int64_t limit) override {
    return Read([&](SqlConn& c) { return QueryCleanScanIds(c, limit); });
  }
  Result<CasePage> Cases(const CaseQuery& query) override {
    return Read([&](SqlConn& c) { return QueryCases(c, query); });
  }
  Result<std::optional<CaseRow>> GetCase(const std::string& consignment_id) override {
    return Read([&](SqlConn& c) { return QueryCase(c, consignment_id); });
  }
  Result<std::vector<ModelVersionRow>> ModelVersions() override {
    return Read([&](SqlConn& c) { return QueryModelVersions(c, "", {}); });
  }
  Result<std::optional<ModelVersionRow>> GetModelVersion(int64_t version) override {
    return Read([&](SqlConn& c) { return QueryModelVersion(c, " WHERE version = $1", {version}); });
  }
  Result<std::optional<ModelVersionRow>> LiveModelVersion() override {
    return Read([&](SqlConn& c) { return QueryModelVersion(c, " WHERE status = 'live'", {}); });
  }
  Result<std::optional<ModelVersionRow>> ModelVersionWithContent(
      const std::string& content_sha256) override {
    return Read([&](SqlConn& c) {
      return QueryModelVersion(c, " WHERE content_sha256 = $1", {content_sha256});
    });
  }
  Result<std::vector<DecidedDeclaration>> DecidedDeclarations(int32_t from, int32_t to) override {
    return Read([&](SqlConn& c) -> Result<std::vector<DecidedDeclaration>> {
      CS_ASSIGN_OR_RETURN(
          auto rows,
          c.Query("SELECT d.body, d.consignment_id, d.decl_date, c.lane, c.decision_date, c.score, "
                  "c.channel, c.control, c.exploration, c.propensity, c.model_version, c.outcome "
                  "FROM declarations d JOIN consignments c ON c.consignment_id = d.consignment_id "
                  "WHERE d.decl_date >= $1 AND d.decl_date <= $2 "
                  "ORDER BY d.decl_date, d.declaration_id",
                  {int64_t{from}, int64_t{to}}));
      std::vector<DecidedDeclaration> out;
      out.reserve(rows.size());
      for (const auto& r : rows) {
        DecidedDeclaration d;
        d.declaration_json = r.Text(0);
        d.consignment_id = r.Text(1);
        d.date = static_cast<int32_t>(r.Int(2));
        d.lane = r.Text(3);
        d.decision_date = static_cast<int32_t>(r.Int(4));
        d.score = r.Double(5);
        d.channel = r.Text(6);
        d.control = r.Int(7) != 0;
        d.exploration = r.Int(8) != 0;
        if (!r.Null(9)) d.propensity = r.Double(9);
        if (!r.Null(10)) d.model_version = r.Int(10);
        d.outcome = r.Text(11);
        out.push_back(std::move(d));
      }
      return out;
    });
  }
  Result<int64_t> CountDeclarations() override {
    return Read([&](SqlConn& c) -> Result<int64_t> {
      CS_ASSIGN_OR_RETURN(auto rows, c.Query("SELECT COUNT(*) FROM declarations", {}));
      return rows.empty() ? int64_t{0} : rows[0].Int(0);
    });
  }

 private:
  SqlStore() = default;

  struct Pending {
    std::function<Status(StoreTxn&)> op;
    std::promise<Status> done;
  };

  template <typename Fn>
  auto Read(Fn&& fn) -> decltype(fn(std::declval<SqlConn&>())) {
    std::unique_ptr<SqlConn> c;
    {
      std::unique_lock lock(pool_mu_);
      pool_cv_.wait(lock, [&] { return !readers_.empty(); });
      c = std::move(readers_.back());
      readers_.pop_back();
    }
    auto result = fn(*c);
    {
      std::lock_guard lock(pool_mu_);
      readers_.push_back(std::move(c));
    }
    pool_cv_.notify_one();
    return result;
  }

  void CheckpointLoop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      checkpoint_cv_.wait_for(lock, std::chrono::milliseconds(200));
      if (stopping_) break;
      lock.unlock();
      (void)checkpointer_->ExecScript("PRAGMA wal_checkpoint(PASSIVE)");
      lock.lock();
    }
  }

  void WriterLoop() {
    std::vector<Pending> group;
    std::vector<Status> results;
    AuditHead head;
    const AuditKeyring* ring = audit_keyring_ ? &*audit_keyring_ : nullptr;
    const std::unique_ptr<StoreTxn> writer_txn = NewSqlTxn(*writer_, &head, ring);
    StoreTxn& txn = *writer_txn;
    // Anchors: the committed head, signed, outside the database.
    int64_t anchored_seq = 0, anchored_ms = NowMs();
    auto anchor = [&](bool now) {
      if (!ring || !head.known || head.seq <= anchored_seq) return;
      if (!now && head.seq - anchored_seq < 1000 && NowMs() - anchored_ms < 60 * 1000) return;
      if (AppendAuditAnchor(*ring, head.seq, head.hash).ok()) {
        anchored_seq = head.seq;
        anchored_ms = NowMs();
      }
    };
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) {  // stopping, and everything queued is done
          lock.unlock();
          anchor(/*now=*/true);
          return;
        }
        while (!queue_.empty() && group.size() < options_.max_group) {
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      results.assign(group.size(), Status::Ok());
      Status batch = writer_->Begin();
      if (batch.ok() && backend_ == "postgresql") {
        // One writing transaction at a time over all processes; another may have appended to the
        // audit chain since this one last wrote, so its head is read again.
        batch = writer_->Exec("SELECT pg_advisory_xact_lock($1)", {kWriterLock}).status();
        head.known = false;
      }
      static const std::string kSavepoint = "SAVEPOINT op",
                               kRollbackTo = "ROLLBACK TO SAVEPOINT op",
                               kRelease = "RELEASE SAVEPOINT op";
      for (size_t i = 0; i < group.size() && batch.ok(); ++i) {
        batch = writer_->Exec(kSavepoint, {}).status();
        if (!batch.ok()) break;
        const AuditHead before = head;
        Status s;
        try {
          s = group[i].op(txn);
        } catch (const std::exception& e) {
          s = Status::Internal(std::string("store operation threw: ") + e.what());
        }
        results[i] = s;
        if (!s.ok()) {
          head = before;  // the op's audit entries are undone with it
          batch = writer_->Exec(kRollbackTo, {}).status();
        }
        if (batch.ok()) batch = writer_->Exec(kRelease, {}).status();
      }
      if (batch.ok()) batch = writer_->Commit();
      if (!batch.ok()) {
        (void)writer_->Rollback();
        head.known = false;
        for (auto& r : results)
          r = batch.WithContext("commit failed, nothing of this write was stored");
      }
      for (size_t i = 0; i < group.size(); ++i) group[i].done.set_value(results[i]);
      group.clear();
      if (batch.ok()) anchor(/*now=*/false);
    }
  }

  StoreOptions options_;
  std::string backend_;
  int64_t schema_version_ = 0;
  std::unique_ptr<SqlConn> writer_;
  int lock_fd_ = -1;  // "<db>.lock" while StoreOptions::exclusive holds it
  std::thread writer_thread_;
  std::unique_ptr<SqlConn> checkpointer_;
  std::thread checkpoint_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable checkpoint_cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<SqlConn>> readers_;
};

}  // namespace
}  // namespace store

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  return store::SqlStore::Open(options);
}

}  // namespace clearsight
