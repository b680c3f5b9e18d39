// The schema's rows as C++ values (sql_rows.h).
#include "store/sql_rows.h"

#include "clearsight/text.h"

namespace clearsight::store {

DeclarationRow ToDeclaration(const SqlRow& r) {
  DeclarationRow d;
  d.declaration_id = r.Text(0);
  d.consignment_id = r.Text(1);
  d.office_id = r.Text(2);
  d.date = static_cast<int32_t>(r.Int(3));
  d.content_sha256 = r.Text(4);
  d.json = r.Text(5);
  d.received_ms = r.Int(6);
  d.assessment = r.Text(7);
  return d;
}
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

UserRow ToUser(const SqlRow& r) {
  return UserRow{r.Text(0), r.Text(1), r.Text(2), r.Int(3) != 0, r.Int(4)};
}

AttachmentRow ToAttachment(const SqlRow& r) {
  return AttachmentRow{r.Text(0), r.Int(1),  r.Text(2), r.Text(3),
                       r.Int(4),  r.Text(5), r.Text(6), r.Int(7)};
}
OutcomeRow ToOutcome(const SqlRow& r, size_t at) {
  OutcomeRow o;
  o.consignment_id = r.Text(at);
  o.seq = r.Int(at + 1);
  o.result = r.Text(at + 2);
  o.corrected_value = r.Null(at + 3) ? -1 : r.Double(at + 3);
  o.notes = r.Text(at + 4);
  o.officer = r.Text(at + 5);
  o.recorded_ms = r.Int(at + 6);
  o.not_inspected_reason = r.Text(at + 7);
  o.seized_quantity = r.Null(at + 8) ? -1 : r.Double(at + 8);
  o.seized_unit = r.Text(at + 9);
  o.revenue_recovered = r.Null(at + 10) ? -1 : r.Double(at + 10);
  o.revenue_currency = r.Text(at + 11);
  return o;
}
std::string LikeContains(std::string_view text) {
  // lower() on both sides, since LIKE ignores case in SQLite but not in PostgreSQL.
  std::string term = "%";
  for (char ch : ToLower(text)) {
    if (ch == '%' || ch == '_' || ch == '!') term.push_back('!');
    term.push_back(ch);
  }
  return term + "%";
}
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
Result<std::vector<RulesVersion>> QueryRulesVersions(SqlConn& c, const std::string& where,
                                                     const SqlParams& params) {
  CS_ASSIGN_OR_RETURN(auto rows,
                      c.Query("SELECT version, body, author, created_ms, restored_from FROM "
                              "rules_versions" +
                                  where,
                              params));
  std::vector<RulesVersion> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    RulesVersion v{r.Int(0), r.Text(1), r.Text(2), r.Int(3), std::nullopt};
    if (!r.Null(4)) v.restored_from = r.Int(4);
    out.push_back(std::move(v));
  }
  return out;
}
Result<std::optional<RulesVersion>> QueryRulesVersion(SqlConn& c, int64_t version) {
  CS_ASSIGN_OR_RETURN(auto rows, QueryRulesVersions(c, " WHERE version = $1", {version}));
  if (rows.empty()) return std::optional<RulesVersion>();
  return std::optional<RulesVersion>(std::move(rows[0]));
}
Result<std::optional<UserRow>> QueryUser(SqlConn& c, const std::string& name) {
  CS_ASSIGN_OR_RETURN(
      auto rows,
      c.Query(std::string("SELECT ") + kUserCols + " FROM users WHERE username = $1", {name}));
  if (rows.empty()) return std::optional<UserRow>();
  return std::optional<UserRow>(ToUser(rows[0]));
}

}  // namespace clearsight::store
