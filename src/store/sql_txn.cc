// The store's write transaction: every write of the schema and the audit chain (sql_rows.h).
#include <sodium.h>

#include "clearsight/text.h"
#include "store/sql_rows.h"

namespace clearsight::store {
namespace {

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
    // The lane-day tallies move with the decision: out of where it was counted, into where it is.
    static const std::string kOld =
        "SELECT lane, decision_date, channel, control, exploration FROM consignments "
        "WHERE consignment_id = $1";
    CS_ASSIGN_OR_RETURN(auto old, c_.Query(kOld, {d.consignment_id}));
    CS_RETURN_IF_ERROR(c_.Exec(kSql, params).status());
    if (!old.empty()) {
      const SqlRow& o = old[0];
      CS_RETURN_IF_ERROR(
          CountLaneDay(o.Text(0), o.Int(1), o.Text(2), o.Int(3) != 0, o.Int(4) != 0, -1));
    }
    return CountLaneDay(d.lane, d.date, d.channel, d.control, d.exploration, +1);
  }
  Status CountLaneDay(const std::string& lane, int64_t date, const std::string& channel,
                      bool control, bool exploration, int64_t n) {
    static const std::string kSql =
        "INSERT INTO lane_day_counts (lane, decision_date, seen, red, yellow, control, "
        "exploration) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (lane, decision_date) DO "
        "UPDATE SET seen = lane_day_counts.seen + excluded.seen, red = lane_day_counts.red + "
        "excluded.red, yellow = lane_day_counts.yellow + excluded.yellow, control = "
        "lane_day_counts.control + excluded.control, exploration = lane_day_counts.exploration "
        "+ excluded.exploration";
    return c_
        .Exec(kSql, {lane, date, n, channel == "red" ? n : 0, channel == "yellow" ? n : 0,
                     control ? n : 0, exploration ? n : 0})
        .status();
  }
  Status PutRuleHits(const std::string& consignment_id,
                     const std::vector<std::string>& rules) override {
    static const std::string kSql =
        "INSERT INTO rule_hits (consignment_id, rule_name) VALUES ($1, $2) "
        "ON CONFLICT (consignment_id, rule_name) DO NOTHING";
    for (const auto& r : rules) CS_RETURN_IF_ERROR(c_.Exec(kSql, {consignment_id, r}).status());
    return Status::Ok();
  }
  Result<std::vector<LaneDayTotals>> LaneDays(const std::string& lane, int32_t from_date,
                                              int32_t to_date) override {
    static const std::string kSql =
        "SELECT decision_date, seen, red, yellow, control, exploration FROM lane_day_counts "
        "WHERE lane = $1 AND decision_date BETWEEN $2 AND $3";
    CS_ASSIGN_OR_RETURN(auto rows, c_.Query(kSql, {lane, int64_t{from_date}, int64_t{to_date}}));
    std::vector<LaneDayTotals> out;
    for (const auto& r : rows)
      out.push_back(LaneDayTotals{static_cast<int32_t>(r.Int(0)), r.Int(1), r.Int(2), r.Int(3),
                                  r.Int(4), r.Int(5)});
    return out;
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
    SqlParams params{o->consignment_id, o->seq,         o->result,      nullptr,
                     o->notes,          o->officer,     o->recorded_ms, o->not_inspected_reason,
                     nullptr,           o->seized_unit, nullptr,        o->revenue_currency};
    if (o->corrected_value >= 0) params[3] = o->corrected_value;
    if (o->seized_quantity >= 0) params[8] = o->seized_quantity;
    if (o->revenue_recovered >= 0) params[10] = o->revenue_recovered;
    CS_RETURN_IF_ERROR(
        c_.Exec("INSERT INTO outcomes (consignment_id, seq, result, corrected_value, notes, "
                "officer, recorded_ms, not_inspected_reason, seized_quantity, seized_unit, "
                "revenue_recovered, revenue_currency) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                params)
            .status());
    return c_
        .Exec(
            "UPDATE consignments SET status = 'done', outcome = $2, updated_ms = $3 WHERE "
            "consignment_id = $1",
            {o->consignment_id, o->result, o->recorded_ms})
        .status();
  }
  Result<bool> InsertAttachment(const AttachmentRow& a) override {
    CS_ASSIGN_OR_RETURN(auto outcome,
                        c_.Query("SELECT 1 FROM outcomes WHERE consignment_id = $1 AND seq = $2",
                                 {a.consignment_id, a.outcome_seq}));
    if (outcome.empty())
      return Status::NotFound("consignment '" + a.consignment_id + "' has no outcome #" +
                              std::to_string(a.outcome_seq));
    CS_ASSIGN_OR_RETURN(
        auto n, c_.Exec("INSERT INTO outcome_attachments (consignment_id, outcome_seq, sha256, "
                        "content_type, bytes, name, uploaded_by, uploaded_ms) VALUES ($1, $2, $3, "
                        "$4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                        {a.consignment_id, a.outcome_seq, a.sha256, a.content_type, a.bytes, a.name,
                         a.uploaded_by, a.uploaded_ms ? a.uploaded_ms : NowMs()}));
    return n > 0;
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
  Result<int64_t> InsertRulesVersion(const std::string& text, const std::string& author,
                                     std::optional<int64_t> restored_from) override {
    CS_ASSIGN_OR_RETURN(auto rows,
                        c_.Query("SELECT COALESCE(MAX(version), 0) FROM rules_versions", {}));
    int64_t v = (rows.empty() ? 0 : rows[0].Int(0)) + 1;
    CS_RETURN_IF_ERROR(
        c_.Exec("INSERT INTO rules_versions (version, body, author, created_ms, restored_from) "
                "VALUES ($1, $2, $3, $4, $5)",
                {v, text, author, NowMs(), Optional(restored_from)})
            .status());
    return v;
  }
  Result<std::optional<RulesVersion>> GetRulesVersion(int64_t version) override {
    return QueryRulesVersion(c_, version);
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
  Status InsertTrainingSession(TrainingSessionRow* row) override {
    return InsertTrainingSessionRow(c_, row);
  }
  Result<bool> PutTrainingAssignment(const TrainingAssignmentRow& row) override {
    return InsertTrainingAssignmentRow(c_, row);
  }
  Status InsertTrainingTrial(TrainingTrialRow* row) override {
    return InsertTrainingTrialRow(c_, row);
  }
  Result<std::optional<TrainingTrialRow>> GetTrainingTrial(int64_t trial_id) override {
    CS_ASSIGN_OR_RETURN(auto rows, QueryTrainingTrials(c_, {}, trial_id));
    if (rows.empty()) return std::optional<TrainingTrialRow>();
    return std::optional<TrainingTrialRow>(std::move(rows[0]));
  }
  Status RecordTrainingResponse(const TrainingTrialRow& row) override {
    return UpdateTrainingResponse(c_, row);
  }
  Result<std::optional<CaseRow>> GetCase(const std::string& consignment_id) override {
    return QueryCase(c_, consignment_id);
  }
  Status PutCaseMark(const std::string& consignment_id, const CaseMark& mark) override {
    return WriteCaseMark(c_, consignment_id, mark);
  }
  Result<std::vector<std::string>> ForgetTrainingImages(int64_t answered_before_ms,
                                                        int64_t limit) override {
    return ForgetTrainingImageRows(c_, answered_before_ms, limit);
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

}  // namespace

std::unique_ptr<StoreTxn> NewSqlTxn(SqlConn& c, AuditHead* head, const AuditKeyring* keyring) {
  return std::make_unique<SqlTxn>(c, head, keyring);
}

}  // namespace clearsight::store
