// Internal to the store: the schema's rows as C++ values and the column lists every query of them
// uses, shared by the store's reads (sql_store.cc) and its write transaction (sql_txn.cc).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clearsight/store.h"
#include "store/sql_conn.h"

namespace clearsight::store {

#define CS_DECL_COLS                                                                          \
  "declaration_id, consignment_id, office_id, decl_date, content_sha256, body, received_ms, " \
  "assessment"
#define CS_DECL_SEARCH_COLS "importer_id, hs_code, declared_value, search_text"
#define CS_DECL_VALUES "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
// The outcome column of a consignment that was inspected: an outcome, and not "not inspected"
// (kNotInspected). Statistics and the case library count only these.
#define CS_INSPECTED "NOT IN ('', 'not_inspected')"

#define CS_DECISION_COLS                                                                          \
  "consignment_id, lane, decision_date, score, channel, control, status, version, has_scan, "     \
  "has_declaration, "                                                                             \
  "reasons, selection, outcome, created_ms, updated_ms, model_version, over_budget, change_seq, " \
  "exploration, propensity"
constexpr int kDecisionColumns = 20;  // CS_DECISION_COLS; queries add theirs after them
inline constexpr char kScanCols[] =
    "scan_id, consignment_id, image_sha256, source_format, source_sha256, meta, analysis, width, "
    "height, "
    "received_ms";
inline constexpr char kUserCols[] = "username, role, password_hash, disabled, created_ms";
#define CS_OUTCOME_COLS                                                         \
  "consignment_id, seq, result, corrected_value, notes, officer, recorded_ms, " \
  "not_inspected_reason, seized_quantity, seized_unit, revenue_recovered, revenue_currency"
constexpr int kOutcomeColumns = 12;  // CS_OUTCOME_COLS
inline constexpr char kAttachmentCols[] =
    "consignment_id, outcome_seq, sha256, content_type, bytes, name, uploaded_by, uploaded_ms";
#define CS_MODEL_COLS                                                                       \
  "version, created_ms, created_by, content_sha256, files, metrics, training_from, "        \
  "training_cutoff, training_rows, features, parent_version, status, reason, promoted_by, " \
  "promoted_ms, previous_live"

DeclarationRow ToDeclaration(const SqlRow& r);
SqlParams DeclarationParams(const DeclarationRow& row);
DecisionRow ToDecision(const SqlRow& r);
ScanRow ToScan(const SqlRow& r);
UserRow ToUser(const SqlRow& r);
AttachmentRow ToAttachment(const SqlRow& r);
// The outcome in columns at..at+11 (CS_OUTCOME_COLS, in its order), without attachments.
OutcomeRow ToOutcome(const SqlRow& r, size_t at = 0);
// A LIKE pattern (with ESCAPE '!') for "contains `text`", lower case: its %, _ and ! literal.
std::string LikeContains(std::string_view text);
Result<ModelVersionRow> ToModelVersion(const SqlRow& r);
Result<std::vector<ModelVersionRow>> QueryModelVersions(SqlConn& c, const std::string& where,
                                                        const SqlParams& params);
Result<std::optional<ModelVersionRow>> QueryModelVersion(SqlConn& c, const std::string& where,
                                                         const SqlParams& params);
SqlParam Optional(const std::optional<int64_t>& v);  // the value, or NULL
SqlParam Optional(const std::optional<int32_t>& v);
Result<std::optional<DeclarationRow>> QueryDeclaration(SqlConn& c, const std::string& id);
Result<std::optional<DecisionRow>> QueryDecision(SqlConn& c, const std::string& id);
Result<std::optional<ScanRow>> QueryScan(SqlConn& c, const std::string& id);
Result<std::optional<UserRow>> QueryUser(SqlConn& c, const std::string& name);
// Rule profile versions `where` selects (with its ORDER BY and LIMIT), and one by number.
Result<std::vector<RulesVersion>> QueryRulesVersions(SqlConn& c, const std::string& where,
                                                     const SqlParams& params);
Result<std::optional<RulesVersion>> QueryRulesVersion(SqlConn& c, int64_t version);

// Screener training's rows (training_rows.cc): the queries the reads and the writer share.
Result<std::vector<TrainingSessionRow>> QueryTrainingSessions(SqlConn& c, const std::string& where,
                                                              const SqlParams& params);
Result<std::vector<TrainingAssignmentRow>> QueryTrainingAssignments(SqlConn& c,
                                                                    const std::string& trainee);
Result<std::vector<TrainingTrialRow>> QueryTrainingTrials(SqlConn& c, const TrainingTrialQuery& q,
                                                          std::optional<int64_t> trial_id = {});
Status InsertTrainingSessionRow(SqlConn& c, TrainingSessionRow* row);
Result<bool> InsertTrainingAssignmentRow(SqlConn& c, const TrainingAssignmentRow& row);
Status InsertTrainingTrialRow(SqlConn& c, TrainingTrialRow* row);
Status UpdateTrainingResponse(SqlConn& c, const TrainingTrialRow& row);
Result<std::vector<std::string>> QueryCleanScanIds(SqlConn& c, int64_t limit);
// Outcome statistics (outcome_stats.cc).
Result<std::vector<RuleHitStats>> QueryRuleStats(SqlConn& c);
Result<std::vector<ChannelOutcomeStats>> QueryChannelStats(SqlConn& c);
Result<std::vector<GroupOutcomeStats>> QueryGroupStats(SqlConn& c, const std::string& by);
Result<std::vector<SourceOutcomeStats>> QuerySourceStats(SqlConn& c);
// The work queue (queue_rows.cc).
Result<QueuePage> QueryQueue(SqlConn& c, const QueueQuery& q);
// The case library (case_rows.cc): the cases a query selects (or the one case `id`, whatever the
// query's filters), and the trainer's mark of a case replaced whole.
Result<CasePage> QueryCases(SqlConn& c, const CaseQuery& q, const std::string* id = nullptr);
Result<std::optional<CaseRow>> QueryCase(SqlConn& c, const std::string& id);
Status WriteCaseMark(SqlConn& c, const std::string& id, const CaseMark& mark);
Result<std::vector<std::string>> ForgetTrainingImageRows(SqlConn& c, int64_t answered_before_ms,
                                                         int64_t limit);
// Store::RuleWeeklyStats (outcome_stats.cc).
Result<RuleWeekly> QueryRuleWeeklyStats(SqlConn& c, int32_t weeks);
// Store::ControlOutcomes (outcome_stats.cc).
Result<std::vector<ControlOutcome>> QueryControlOutcomes(SqlConn& c);

// The last audit entry (seq, hash), cached by the writer so that an append costs one INSERT.
struct AuditHead {
  bool known = false;
  int64_t seq = 0;
  std::string hash;
};

// The store's transaction on connection `c` (the writer's): every write of the schema, and the
// audit chain appended through `head`, signed with `keyring` when there is one.
std::unique_ptr<StoreTxn> NewSqlTxn(SqlConn& c, AuditHead* head, const AuditKeyring* keyring);

}  // namespace clearsight::store
