// The Store on top of SqlConn: one writer thread with group commit, a pool of read connections,
// migrations, and every query of the schema (written once for SQLite and PostgreSQL).
#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "clearsight/file_util.h"
#include "clearsight/store.h"
#include "clearsight/text.h"
#include "store/sql_conn.h"

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

Result<int64_t> Migrate(SqlConn& c) {
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

#define CS_DECL_COLS                                                                          \
  "declaration_id, consignment_id, office_id, decl_date, content_sha256, body, received_ms, " \
  "assessment"
DeclarationRow ToDeclaration(const SqlRow& r) {
  DeclarationRow d{r.Text(0), r.Text(1), r.Text(2), static_cast<int32_t>(r.Int(3)),
                   r.Text(4), r.Text(5), r.Int(6),  r.Text(7)};
  return d;
}
#define CS_DECL_SEARCH_COLS "importer_id, hs_code, declared_value, search_text"
#define CS_DECL_VALUES "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
SqlParams DeclarationParams(const DeclarationRow& row) {
  DeclarationRow filled;
  const DeclarationRow* d = &row;
  if (row.search_text.empty()) {
    filled = row;
    SearchFieldsFromJson(&filled);
    d = &filled;
  }
  return {d->declaration_id, d->consignment_id, d->office_id,      int64_t{d->date},
          d->content_sha256, d->json,           d->received_ms,    d->assessment,
          d->importer_id,    d->hs_code,        d->declared_value, d->search_text};
}

#define CS_DECISION_COLS                                                                          \
  "consignment_id, lane, decision_date, score, channel, control, status, version, has_scan, "     \
  "has_declaration, "                                                                             \
  "reasons, selection, outcome, created_ms, updated_ms, model_version, over_budget, change_seq, " \
  "exploration, propensity"
constexpr int kDecisionColumns = 20;  // CS_DECISION_COLS; queries add theirs after them
DecisionRow ToDecision(const SqlRow& r) {
  DecisionRow d;
  d.consignment_id = r.Text(0);
  d.lane = r.Text(1);
  d.date = static_cast<int32_t>(r.Int(2));
  d.score = r.Double(3);
  d.channel = r.Text(4);
  d.control = r.Int(5) != 0;
  d.status = r.Text(6);
  d.version = r.Int(7);
  d.has_scan = r.Int(8) != 0;
  d.has_declaration = r.Int(9) != 0;
  d.reasons_json = r.Text(10);
  d.selection = r.Text(11);
  d.outcome = r.Text(12);
  d.created_ms = r.Int(13);
  d.updated_ms = r.Int(14);
  if (!r.Null(15)) d.model_version = r.Int(15);
  d.over_budget = r.Int(16) != 0;
  d.change_seq = r.Null(17) ? 0 : r.Int(17);
  d.exploration = r.Int(18) != 0;
  if (!r.Null(19)) d.propensity = r.Double(19);
  return d;
}

const char kScanCols[] =
    "scan_id, consignment_id, image_sha256, source_format, source_sha256, meta, analysis, width, "
    "height, "
    "received_ms";
ScanRow ToScan(const SqlRow& r) {
  ScanRow s;
  s.scan_id = r.Text(0);
  s.consignment_id = r.Text(1);
  s.image_sha256 = r.Text(2);
  s.source_format = r.Text(3);
  for (auto part : Split(r.Text(4), ','))
    if (!part.empty()) s.source_sha256.emplace_back(part);
  s.meta_json = r.Text(5);
  s.analysis_json = r.Text(6);
  s.width = static_cast<int>(r.Int(7));
  s.height = static_cast<int>(r.Int(8));
  s.received_ms = r.Int(9);
  return s;
}

const char kUserCols[] = "username, role, password_hash, disabled, created_ms";
UserRow ToUser(const SqlRow& r) {
  return UserRow{r.Text(0), r.Text(1), r.Text(2), r.Int(3) != 0, r.Int(4)};
}

#define CS_MODEL_COLS                                                                       \
  "version, created_ms, created_by, content_sha256, files, metrics, training_from, "        \
  "training_cutoff, training_rows, features, parent_version, status, reason, promoted_by, " \
  "promoted_ms, previous_live"
Result<ModelVersionRow> ToModelVersion(const SqlRow& r) {
  ModelVersionRow m;
  m.version = r.Int(0);
  auto corrupt = [&](const Status& s) {
    return Status::DataLoss("model version " + std::to_string(m.version) + ": " + s.message());
  };
  m.created_ms = r.Int(1);
  m.created_by = r.Text(2);
  m.content_sha256 = r.Text(3);
  auto files = ModelFilesFromJson(r.Text(4));
  if (!files.ok()) return corrupt(files.status());
  m.files = std::move(files).value();
  m.metrics_json = r.Text(5);
  if (!r.Null(6)) m.training_from = static_cast<int32_t>(r.Int(6));
  if (!r.Null(7)) m.training_cutoff = static_cast<int32_t>(r.Int(7));
  if (!r.Null(8)) m.training_rows = r.Int(8);
  auto features = StringsFromJson(r.Text(9));
  if (!features.ok()) return corrupt(features.status());
  m.features = std::move(features).value();
  if (!r.Null(10)) m.parent_version = r.Int(10);
  auto status = ParseModelStatus(r.Text(11));
  if (!status.ok()) return corrupt(status.status());
  m.status = *status;
  m.reason = r.Text(12);
  m.promoted_by = r.Text(13);
  if (!r.Null(14)) m.promoted_ms = r.Int(14);
  if (!r.Null(15)) m.previous_live = r.Int(15);
  return m;
}
// The versions `where` selects, by version.
Result<std::vector<ModelVersionRow>> QueryModelVersions(SqlConn& c, const std::string& where,
                                                        const SqlParams& params) {
  CS_ASSIGN_OR_RETURN(auto rows, c.Query("SELECT " CS_MODEL_COLS " FROM model_versions" + where +
                                             " ORDER BY version",
                                         params));
  std::vector<ModelVersionRow> out;
  for (const auto& r : rows) {
    CS_ASSIGN_OR_RETURN(auto m, ToModelVersion(r));
    out.push_back(std::move(m));
  }
  return out;
}
Result<std::optional<ModelVersionRow>> QueryModelVersion(SqlConn& c, const std::string& where,
                                                         const SqlParams& params) {
  CS_ASSIGN_OR_RETURN(auto rows, QueryModelVersions(c, where, params));
  if (rows.empty()) return std::optional<ModelVersionRow>();
  return std::optional<ModelVersionRow>(std::move(rows.back()));
}
SqlParam Optional(const std::optional<int64_t>& v) { return v ? SqlParam(*v) : SqlParam(nullptr); }
SqlParam Optional(const std::optional<int32_t>& v) {
  return v ? SqlParam(int64_t{*v}) : SqlParam(nullptr);
}

// Queries shared by the writer's transaction and the read pool.
Result<std::optional<DeclarationRow>> QueryDeclaration(SqlConn& c, const std::string& id) {
  static const std::string kSql =
      "SELECT " CS_DECL_COLS " FROM declarations WHERE declaration_id = $1";
  CS_ASSIGN_OR_RETURN(auto rows, c.Query(kSql, {id}));
  if (rows.empty()) return std::optional<DeclarationRow>();
  return std::optional<DeclarationRow>(ToDeclaration(rows[0]));
}
Result<std::optional<DecisionRow>> QueryDecision(SqlConn& c, const std::string& id) {
  static const std::string kSql =
      "SELECT " CS_DECISION_COLS " FROM consignments WHERE consignment_id = $1";
  CS_ASSIGN_OR_RETURN(auto rows, c.Query(kSql, {id}));
  if (rows.empty()) return std::optional<DecisionRow>();
  return std::optional<DecisionRow>(ToDecision(rows[0]));
}
Result<std::optional<ScanRow>> QueryScan(SqlConn& c, const std::string& id) {
  CS_ASSIGN_OR_RETURN(
      auto rows,
      c.Query(std::string("SELECT ") + kScanCols + " FROM scans WHERE scan_id = $1", {id}));
  if (rows.empty()) return std::optional<ScanRow>();
  return std::optional<ScanRow>(ToScan(rows[0]));
}
Result<std::optional<UserRow>> QueryUser(SqlConn& c, const std::string& name) {
  CS_ASSIGN_OR_RETURN(
      auto rows,
      c.Query(std::string("SELECT ") + kUserCols + " FROM users WHERE username = $1", {name}));
  if (rows.empty()) return std::optional<UserRow>();
  return std::optional<UserRow>(ToUser(rows[0]));
}

// The last audit entry (seq, hash), cached by the writer so that an append costs one INSERT.
struct AuditHead {
  bool known = false;
  int64_t seq = 0;
  std::string hash;
};

class SqlTxn : public StoreTxn {
 public:
  SqlTxn(SqlConn& c, AuditHead* head, const AuditKeyring* keyring)
      : c_(c), head_(head), keyring_(keyring) {}

  Result<std::optional<DeclarationRow>> GetDeclaration(const std::string& id) override {
    return QueryDeclaration(c_, id);
  }
  Status InsertDeclaration(const DeclarationRow& d) override {
    static const std::string kSql = "INSERT INTO declarations (" CS_DECL_COLS
                                    ", " CS_DECL_SEARCH_COLS ") VALUES " CS_DECL_VALUES;
    return c_.Exec(kSql, DeclarationParams(d)).status();
  }
  Result<bool> InsertDeclarationIfAbsent(const DeclarationRow& d) override {
    static const std::string kSql =
        "INSERT INTO declarations (" CS_DECL_COLS ", " CS_DECL_SEARCH_COLS
        ") VALUES " CS_DECL_VALUES " ON CONFLICT (declaration_id) DO NOTHING";
    CS_ASSIGN_OR_RETURN(int64_t n, c_.Exec(kSql, DeclarationParams(d)));
    return n > 0;
  }
  Result<std::vector<std::string>> DeclarationIdsOf(const std::string& consignment_id) override {
    CS_ASSIGN_OR_RETURN(
        auto rows, c_.Query("SELECT declaration_id FROM declarations WHERE consignment_id = $1 "
                            "ORDER BY declaration_id",
                            {consignment_id}));
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.Text(0));
    return out;
  }
  Status PutFindings(const std::string& consignment_id, const std::string& origin,
                     const std::string& json) override {
    static const std::string kSql =
        "INSERT INTO findings (consignment_id, origin, body) VALUES ($1, $2, $3) "
        "ON CONFLICT (consignment_id, origin) DO UPDATE SET body = excluded.body";
    return c_.Exec(kSql, {consignment_id, origin, json}).status();
  }
  Result<std::vector<std::pair<std::string, std::string>>> FindingsOf(
      const std::string& consignment_id) override {
    static const std::string kSql =
        "SELECT origin, body FROM findings WHERE consignment_id = $1 ORDER BY origin";
    CS_ASSIGN_OR_RETURN(auto rows, c_.Query(kSql, {consignment_id}));
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& r : rows) out.emplace_back(r.Text(0), r.Text(1));
    return out;
  }
  Result<std::optional<DecisionRow>> GetDecision(const std::string& id) override {
    return QueryDecision(c_, id);
  }
  Status PutDecision(const DecisionRow& d) override {
    static const std::string kSql =
        "INSERT INTO consignments (" CS_DECISION_COLS
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
        "$18, $19, $20) "
        "ON CONFLICT (consignment_id) DO UPDATE SET lane = excluded.lane, "
        "decision_date = excluded.decision_date, score = excluded.score, channel = "
        "excluded.channel, "
        "control = excluded.control, status = excluded.status, version = excluded.version, "
        "has_scan = excluded.has_scan, has_declaration = excluded.has_declaration, "
        "reasons = excluded.reasons, selection = excluded.selection, outcome = excluded.outcome, "
        "updated_ms = excluded.updated_ms, model_version = excluded.model_version, "
        "over_budget = excluded.over_budget, change_seq = excluded.change_seq, "
        "exploration = excluded.exploration, propensity = excluded.propensity";
    SqlParams params{d.consignment_id,
                     d.lane,
                     int64_t{d.date},
                     d.score,
                     d.channel,
                     int64_t{d.control},
                     d.status,
                     d.version,
                     int64_t{d.has_scan},
                     int64_t{d.has_declaration},
                     d.reasons_json,
                     d.selection,
                     d.outcome,
                     d.created_ms,
                     d.updated_ms,
                     nullptr,
                     int64_t{d.over_budget},
                     nullptr,
                     int64_t{d.exploration},
                     nullptr};
    if (d.model_version) params[15] = *d.model_version;
    if (d.change_seq > 0) params[17] = d.change_seq;
    if (d.propensity) params[19] = *d.propensity;
    return c_.Exec(kSql, params).status();
  }
  Status PutRuleHits(const std::string& consignment_id,
                     const std::vector<std::string>& rules) override {
    static const std::string kSql =
        "INSERT INTO rule_hits (consignment_id, rule_name) VALUES ($1, $2) "
        "ON CONFLICT (consignment_id, rule_name) DO NOTHING";
    for (const auto& r : rules) CS_RETURN_IF_ERROR(c_.Exec(kSql, {consignment_id, r}).status());
    return Status::Ok();
  }
  Result<std::optional<ScanRow>> GetScan(const std::string& id) override {
    return QueryScan(c_, id);
  }
  Status InsertScan(const ScanRow& s) override {
    std::string sources;
    for (const auto& x : s.source_sha256) sources += (sources.empty() ? "" : ",") + x;
    return c_
        .Exec(std::string("INSERT INTO scans (") + kScanCols +
                  ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
              {s.scan_id, s.consignment_id, s.image_sha256, s.source_format, sources, s.meta_json,
               s.analysis_json, int64_t{s.width}, int64_t{s.height}, s.received_ms})
        .status();
  }
  Status InsertOutcome(OutcomeRow* o) override {
    CS_ASSIGN_OR_RETURN(
        auto rows, c_.Query("SELECT COALESCE(MAX(seq), 0) FROM outcomes WHERE consignment_id = $1",
                            {o->consignment_id}));
    o->seq = (rows.empty() ? 0 : rows[0].Int(0)) + 1;
    if (o->recorded_ms == 0) o->recorded_ms = NowMs();
    SqlParams params{o->consignment_id, o->seq,     o->result,     nullptr,
                     o->notes,          o->officer, o->recorded_ms};
    if (o->corrected_value >= 0) params[3] = o->corrected_value;
    CS_RETURN_IF_ERROR(
        c_.Exec(
              "INSERT INTO outcomes (consignment_id, seq, result, corrected_value, notes, officer, "
              "recorded_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
              params)
            .status());
    return c_
        .Exec(
            "UPDATE consignments SET status = 'done', outcome = $2, updated_ms = $3 WHERE "
            "consignment_id = $1",
            {o->consignment_id, o->result, o->recorded_ms})
        .status();
  }
  Result<std::optional<UserRow>> GetUser(const std::string& name) override {
    return QueryUser(c_, name);
  }
  Status PutUser(const UserRow& u) override {
    return c_
        .Exec(std::string("INSERT INTO users (") + kUserCols +
                  ") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO UPDATE SET role = "
                  "excluded.role, "
                  "password_hash = excluded.password_hash, disabled = excluded.disabled",
              {u.username, u.role, u.password_hash, int64_t{u.disabled},
               u.created_ms ? u.created_ms : NowMs()})
        .status();
  }
  Status PutSession(const SessionRow& s) override {
    // Expired sessions are swept as new ones are made.
    CS_RETURN_IF_ERROR(c_.Exec("DELETE FROM sessions WHERE expires_ms < $1", {NowMs()}).status());
    return c_
        .Exec(
            "INSERT INTO sessions (token_sha256, username, role, expires_ms) VALUES ($1, $2, $3, "
            "$4)",
            {s.token_sha256, s.username, s.role, s.expires_ms})
        .status();
  }
  Status DeleteSession(const std::string& token_sha256) override {
    return c_.Exec("DELETE FROM sessions WHERE token_sha256 = $1", {token_sha256}).status();
  }
  Result<int64_t> DeleteSessionsOf(const std::string& username) override {
    CS_ASSIGN_OR_RETURN(auto rows,
                        c_.Query("SELECT COUNT(*) FROM sessions WHERE username = $1", {username}));
    CS_RETURN_IF_ERROR(c_.Exec("DELETE FROM sessions WHERE username = $1", {username}).status());
    return rows.empty() ? 0 : rows[0].Int(0);
  }
  Result<int64_t> InsertRulesVersion(const std::string& text, const std::string& author) override {
    CS_ASSIGN_OR_RETURN(auto rows,
                        c_.Query("SELECT COALESCE(MAX(version), 0) FROM rules_versions", {}));
    int64_t v = (rows.empty() ? 0 : rows[0].Int(0)) + 1;
    CS_RETURN_IF_ERROR(c_.Exec("INSERT INTO rules_versions (version, body, author, created_ms) "
                               "VALUES ($1, $2, $3, $4)",
                               {v, text, author, NowMs()})
                           .status());
    return v;
  }
  Status PutSetting(const std::string& key, const std::string& value) override {
    return c_
        .Exec(
            "INSERT INTO settings (name, value, updated_ms) VALUES ($1, $2, $3) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_ms = "
            "excluded.updated_ms",
            {key, value, NowMs()})
        .status();
  }
  Status InsertModelVersion(ModelVersionRow* m) override {
    CS_ASSIGN_OR_RETURN(auto rows,
                        c_.Query("SELECT COALESCE(MAX(version), 0) FROM model_versions", {}));
    m->version = (rows.empty() ? 0 : rows[0].Int(0)) + 1;
    if (m->created_ms == 0) m->created_ms = NowMs();
    return c_
        .Exec("INSERT INTO model_versions (" CS_MODEL_COLS
              ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
              {m->version, m->created_ms, m->created_by, m->content_sha256,
               ModelFilesToJson(m->files), m->metrics_json, Optional(m->training_from),
               Optional(m->training_cutoff), Optional(m->training_rows), StringsToJson(m->features),
               Optional(m->parent_version), std::string(ModelStatusName(m->status)), m->reason,
               m->promoted_by, Optional(m->promoted_ms), Optional(m->previous_live)})
        .status();
  }
  Status UpdateModelVersion(const ModelVersionRow& m) override {
    CS_ASSIGN_OR_RETURN(
        int64_t n, c_.Exec("UPDATE model_versions SET status = $2, reason = $3, promoted_by = $4, "
                           "promoted_ms = $5, previous_live = $6 WHERE version = $1",
                           {m.version, std::string(ModelStatusName(m.status)), m.reason,
                            m.promoted_by, Optional(m.promoted_ms), Optional(m.previous_live)}));
    if (n != 1) return Status::NotFound("no model version " + std::to_string(m.version));
    return Status::Ok();
  }
  Result<std::optional<ModelVersionRow>> GetModelVersion(int64_t version) override {
    return QueryModelVersion(c_, " WHERE version = $1", {version});
  }
  Result<std::optional<ModelVersionRow>> LiveModelVersion() override {
    return QueryModelVersion(c_, " WHERE status = 'live'", {});
  }
  Result<std::optional<ModelVersionRow>> ModelVersionWithContent(
      const std::string& content_sha256) override {
    return QueryModelVersion(c_, " WHERE content_sha256 = $1", {content_sha256});
  }
  Status Audit(AuditEntry* e) override {
    if (e->at_ms == 0) e->at_ms = NowMs();
    // Another writer (a second process on the same database) may have appended since the head
    // was cached: the insert then collides on seq, and the head is read again.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!head_->known || attempt > 0) {
        CS_ASSIGN_OR_RETURN(auto rows,
                            c_.Query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", {}));
        head_->seq = rows.empty() ? 0 : rows[0].Int(0);
        head_->hash = rows.empty() ? std::string(64, '0') : rows[0].Text(1);
        head_->known = true;
      }
      if (!keyring_ && head_->hash.find(':') != std::string::npos)
        return Status::FailedPrecondition(
            "the audit log is signed (key '" + head_->hash.substr(0, head_->hash.find(':')) +
            "') and this process has no audit key: give its keyring (--audit-key FILE)");
      e->seq = head_->seq + 1;
      e->prev_hash = head_->hash;
      e->hash = AuditHash(e->prev_hash, *e, keyring_);
      static const std::string kSql =
          "INSERT INTO audit (seq, at_ms, actor, action, subject, detail, prev_hash, hash) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (seq) DO NOTHING";
      auto ins = c_.Exec(kSql, {e->seq, e->at_ms, e->actor, e->action, e->subject, e->detail_json,
                                e->prev_hash, e->hash});
      if (!ins.ok()) {
        head_->known = false;
        return ins.status();
      }
      if (*ins == 1) {
        head_->seq = e->seq;
        head_->hash = e->hash;
        return Status::Ok();
      }
    }
    head_->known = false;
    return Status::Internal("audit log: could not append after re-reading its head");
  }

 private:
  SqlConn& c_;
  AuditHead* head_;
  const AuditKeyring* keyring_;
};

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
    std::string where;
    SqlParams params;
    auto add = [&](const char* col, const std::string& v) {
      if (v.empty()) return;
      params.emplace_back(v);
      where += (where.empty() ? " WHERE " : " AND ") + std::string(col) + " = $" +
               std::to_string(params.size());
    };
    add("lane", q.lane);
    add("channel", q.channel);
    // 'pending' as a literal, so that the planner may use the partial indexes (status = 'pending').
    if (q.status == "pending")
      where += (where.empty() ? " WHERE " : " AND ") + std::string("status = 'pending'");
    else
      add("status", q.status);
    if (q.over_budget_only)
      where += (where.empty() ? " WHERE " : " AND ") + std::string("over_budget = 1");
    if (!q.search.empty()) {
      // LIKE patterns with the wildcards of the text escaped; lower() on both sides, since LIKE
      // ignores case in SQLite but not in PostgreSQL.
      std::string term;
      for (char ch : ToLower(q.search)) {
        if (ch == '%' || ch == '_' || ch == '!') term.push_back('!');
        term.push_back(ch);
      }
      // An HS code is matched by its digits ("0306.11" finds 030611...).
      std::string digits;
      for (char ch : q.search)
        if (ch >= '0' && ch <= '9') digits.push_back(ch);
      bool hs_like =
          !digits.empty() && q.search.find_first_not_of("0123456789. ") == std::string::npos;
      params.emplace_back("%" + term + "%");
      const std::string contains = "$" + std::to_string(params.size());
      std::string cond = "(lower(consignment_id) LIKE " + contains +
                         " ESCAPE '!' OR consignment_id IN (SELECT consignment_id FROM "
                         "declarations WHERE search_text LIKE " +
                         contains + " ESCAPE '!'";
      if (hs_like) {
        params.emplace_back(digits + "%");
        cond += " OR hs_code LIKE $" + std::to_string(params.size());
      }
      cond += "))";
      where += (where.empty() ? " WHERE " : " AND ") + cond;
    }
    std::string sort = q.sort.empty() ? "-score" : q.sort;
    bool desc = sort[0] == '-';
    std::string key = desc ? sort.substr(1) : sort;
    // The first declaration's field, for the columns an officer reads from it.
    auto first = [](const char* field, const char* none) {
      return std::string("COALESCE((SELECT d.") + field +
             " FROM declarations d WHERE d.consignment_id = consignments.consignment_id ORDER BY "
             "d.declaration_id LIMIT 1), " +
             none + ")";
    };
    std::string col;
    if (key == "score")
      col = "score";
    else if (key == "updated")
      col = "updated_ms";
    else if (key == "created")
      col = "created_ms";
    else if (key == "consignment_id")
      col = "consignment_id";
    else if (key == "date")
      col = "decision_date";
    else if (key == "importer")
      col = first("importer_id", "''");
    else if (key == "hs")
      col = first("hs_code", "''");
    else if (key == "value")
      col = first("declared_value", "0");
    else
      return Status::InvalidArgument(
          "sort must be score, updated, created, consignment_id, date, importer, hs or value "
          "(prefix - to reverse)");
    if (q.limit < 0 || q.limit > 1000) return Status::InvalidArgument("limit must be 0..1000");
    if (q.offset < 0) return Status::InvalidArgument("offset must be >= 0");
    return Read([&](SqlConn& c) -> Result<QueuePage> {
      QueuePage page;
      CS_ASSIGN_OR_RETURN(auto count, c.Query("SELECT COUNT(*) FROM consignments" + where, params));
      page.total = count.empty() ? 0 : count[0].Int(0);
      if (q.limit == 0) return page;
      SqlParams p = params;
      p.emplace_back(q.limit);
      p.emplace_back(q.offset);
      const std::string order = std::string(desc ? " DESC" : " ASC") + ", consignment_id ASC";
      // The page, then each item's first declaration and declaration count (one row per item).
      std::string sql =
          "SELECT " CS_DECISION_COLS
          ", (SELECT d.body FROM declarations d WHERE d.consignment_id = q.consignment_id "
          "ORDER BY d.declaration_id LIMIT 1), "
          "(SELECT COUNT(*) FROM declarations d WHERE d.consignment_id = q.consignment_id) "
          "FROM (SELECT " CS_DECISION_COLS ", " +
          col + " AS sort_key FROM consignments" + where + " ORDER BY " +
          (col.find(' ') == std::string::npos ? col : "sort_key") + order + " LIMIT $" +
          std::to_string(p.size() - 1) + " OFFSET $" + std::to_string(p.size()) +
          ") q ORDER BY q.sort_key" + order;
      CS_ASSIGN_OR_RETURN(auto rows, c.Query(sql, p));
      for (const auto& r : rows) {
        page.items.push_back(ToDecision(r));
        page.first_declaration.push_back(r.Text(kDecisionColumns));
        page.declaration_count.push_back(r.Int(kDecisionColumns + 1));
      }
      return page;
    });
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
          auto rows, c.Query("SELECT consignment_id, seq, result, corrected_value, notes, officer, "
                             "recorded_ms FROM outcomes WHERE consignment_id = $1 ORDER BY seq",
                             {consignment_id}));
      std::vector<OutcomeRow> out;
      for (const auto& r : rows)
        out.push_back(OutcomeRow{r.Text(0), r.Int(1), r.Text(2), r.Null(3) ? -1 : r.Double(3),
                                 r.Text(4), r.Text(5), r.Int(6)});
      return out;
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
    return Read([&](SqlConn& c) -> Result<std::vector<RuleHitStats>> {
      CS_ASSIGN_OR_RETURN(
          auto rows,
          c.Query("SELECT h.rule_name, COUNT(*), "
                  "SUM(CASE WHEN c.outcome <> '' THEN 1 ELSE 0 END), "
                  "SUM(CASE WHEN c.outcome <> '' AND c.outcome <> 'nothing' THEN 1 ELSE 0 END) "
                  "FROM rule_hits h JOIN consignments c ON c.consignment_id = h.consignment_id "
                  "GROUP BY h.rule_name ORDER BY h.rule_name",
                  {}));
      std::vector<RuleHitStats> out;
      for (const auto& r : rows)
        out.push_back(RuleHitStats{r.Text(0), r.Int(1), r.Int(2), r.Int(3)});
      return out;
    });
  }
  Result<std::vector<ChannelOutcomeStats>> ChannelStats() override {
    return Read([&](SqlConn& c) -> Result<std::vector<ChannelOutcomeStats>> {
      CS_ASSIGN_OR_RETURN(
          auto rows,
          c.Query("SELECT channel, control, COUNT(*), "
                  "SUM(CASE WHEN outcome <> '' THEN 1 ELSE 0 END), "
                  "SUM(CASE WHEN outcome <> '' AND outcome <> 'nothing' THEN 1 ELSE 0 END) "
                  "FROM consignments GROUP BY channel, control ORDER BY channel, control",
                  {}));
      std::vector<ChannelOutcomeStats> out;
      for (const auto& r : rows)
        out.push_back(ChannelOutcomeStats{r.Text(0), r.Int(1) != 0, r.Int(2), r.Int(3), r.Int(4)});
      return out;
    });
  }
  Result<std::vector<SourceOutcomeStats>> SourceStats() override {
    return Read([&](SqlConn& c) -> Result<std::vector<SourceOutcomeStats>> {
      // One row per (consignment, source) among the reasons of each decision with an outcome; the
      // reasons are stored strongest first. JSON functions differ between the two dialects.
      const bool pg = c.dialect() == "postgresql";
      const std::string pairs = pg ? "SELECT DISTINCT c.consignment_id, r.value->>'source' AS "
                                     "source, c.outcome, c.control, "
                                     "(c.reasons::jsonb->0->>'source') AS top FROM consignments c "
                                     "CROSS JOIN LATERAL jsonb_array_elements(c.reasons::jsonb) AS "
                                     "r(value) WHERE c.outcome <> ''"
                                   : "SELECT DISTINCT c.consignment_id, json_extract(r.value, "
                                     "'$.source') AS source, c.outcome, c.control, "
                                     "json_extract(c.reasons, '$[0].source') AS top FROM "
                                     "consignments c, json_each(c.reasons) r "
                                     "WHERE c.outcome <> ''";
      CS_ASSIGN_OR_RETURN(
          auto rows,
          c.Query("SELECT source, COUNT(*), "
                  "SUM(CASE WHEN outcome <> 'nothing' THEN 1 ELSE 0 END), SUM(control), "
                  "SUM(CASE WHEN top = source THEN 1 ELSE 0 END), "
                  "SUM(CASE WHEN top = source AND outcome <> 'nothing' THEN 1 ELSE 0 END) "
                  "FROM (" +
                      pairs + ") p GROUP BY source ORDER BY source",
                  {}));
      std::vector<SourceOutcomeStats> out;
      for (const auto& r : rows)
        out.push_back(
            SourceOutcomeStats{r.Text(0), r.Int(1), r.Int(2), r.Int(3), r.Int(4), r.Int(5)});
      // Decisions without any reason: their strongest "source" is none.
      CS_ASSIGN_OR_RETURN(
          auto none,
          c.Query("SELECT COUNT(*), SUM(CASE WHEN outcome <> 'nothing' THEN 1 ELSE 0 END), "
                  "SUM(control) FROM consignments WHERE outcome <> '' AND reasons = '[]'",
                  {}));
      if (!none.empty() && none[0].Int(0) > 0)
        out.push_back(SourceOutcomeStats{"", none[0].Int(0), none[0].Int(1), none[0].Int(2),
                                         none[0].Int(0), none[0].Int(1)});
      return out;
    });
  }
  Result<std::optional<RulesVersion>> LatestRules() override {
    return Read([&](SqlConn& c) -> Result<std::optional<RulesVersion>> {
      CS_ASSIGN_OR_RETURN(auto rows,
                          c.Query("SELECT version, body, author, created_ms FROM rules_versions "
                                  "ORDER BY version DESC LIMIT 1",
                                  {}));
      if (rows.empty()) return std::optional<RulesVersion>();
      return std::optional<RulesVersion>(
          RulesVersion{rows[0].Int(0), rows[0].Text(1), rows[0].Text(2), rows[0].Int(3)});
    });
  }
  Result<std::optional<std::string>> GetSetting(const std::string& key) override {
    return Read([&](SqlConn& c) -> Result<std::optional<std::string>> {
      CS_ASSIGN_OR_RETURN(auto rows, c.Query("SELECT value FROM settings WHERE name = $1", {key}));
      if (rows.empty()) return std::optional<std::string>();
      return std::optional<std::string>(rows[0].Text(0));
    });
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
    SqlTxn txn(*writer_, &head, ring);
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
