// Screener training's tables (migration 010): sessions, assignments and trials, as the store's
// reads and its write transaction use them.
#include <algorithm>

#include "store/sql_rows.h"

namespace clearsight::store {
namespace {

#define CS_TRAINING_TRIAL_COLS                                                               \
  "trial_id, session_id, trainee, idx, scan_id, source, threat, threat_class, threat_name, " \
  "box_x0, box_y0, box_x1, box_y1, mask_rle, size_scale, clutter, level, time_limit_ms, "    \
  "created_ms, responded_ms, decision, mark, response_ms, timed_out, hit"

TrainingTrialRow ToTrainingTrial(const SqlRow& r) {
  TrainingTrialRow t;
  t.trial_id = r.Int(0);
  t.session_id = r.Int(1);
  t.trainee = r.Text(2);
  t.index = static_cast<int32_t>(r.Int(3));
  t.scan_id = r.Text(4);
  t.source = r.Text(5);
  t.threat = r.Int(6) != 0;
  t.threat_class = r.Text(7);
  t.threat_name = r.Text(8);
  t.box_x0 = static_cast<int32_t>(r.Int(9));
  t.box_y0 = static_cast<int32_t>(r.Int(10));
  t.box_x1 = static_cast<int32_t>(r.Int(11));
  t.box_y1 = static_cast<int32_t>(r.Int(12));
  t.mask_rle_json = r.Text(13);
  t.size_scale = r.Double(14);
  t.clutter = r.Double(15);
  t.level = static_cast<int32_t>(r.Int(16));
  t.time_limit_ms = r.Int(17);
  t.created_ms = r.Int(18);
  if (!r.Null(19)) {
    t.responded_ms = r.Int(19);
    t.decision = r.Null(20) ? "" : r.Text(20);
    t.mark_json = r.Null(21) ? "" : r.Text(21);
    t.response_ms = r.Null(22) ? 0 : r.Int(22);
    t.timed_out = !r.Null(23) && r.Int(23) != 0;
    t.hit = !r.Null(24) && r.Int(24) != 0;
  }
  return t;
}

Result<int64_t> NextId(SqlConn& c, const char* table, const char* column) {
  CS_ASSIGN_OR_RETURN(
      auto rows, c.Query(std::string("SELECT COALESCE(MAX(") + column + "), 0) FROM " + table, {}));
  return (rows.empty() ? 0 : rows[0].Int(0)) + 1;
}

}  // namespace

Result<std::vector<TrainingSessionRow>> QueryTrainingSessions(SqlConn& c, const std::string& where,
                                                              const SqlParams& params) {
  CS_ASSIGN_OR_RETURN(auto rows,
                      c.Query("SELECT session_id, name, trainer, created_ms, settings FROM "
                              "training_sessions" +
                                  where + " ORDER BY session_id",
                              params));
  std::vector<TrainingSessionRow> out;
  for (const auto& r : rows)
    out.push_back(TrainingSessionRow{r.Int(0), r.Text(1), r.Text(2), r.Int(3), r.Text(4)});
  return out;
}

Result<std::vector<TrainingAssignmentRow>> QueryTrainingAssignments(SqlConn& c,
                                                                    const std::string& trainee) {
  std::string sql =
      "SELECT session_id, trainee, assigned_by, assigned_ms FROM training_assignments";
  SqlParams params;
  if (!trainee.empty()) {
    sql += " WHERE trainee = $1";
    params.emplace_back(trainee);
  }
  CS_ASSIGN_OR_RETURN(auto rows, c.Query(sql + " ORDER BY session_id, trainee", params));
  std::vector<TrainingAssignmentRow> out;
  for (const auto& r : rows)
    out.push_back(TrainingAssignmentRow{r.Int(0), r.Text(1), r.Text(2), r.Int(3)});
  return out;
}

Result<std::vector<TrainingTrialRow>> QueryTrainingTrials(SqlConn& c, const TrainingTrialQuery& q,
                                                          std::optional<int64_t> trial_id) {
  std::string where;
  SqlParams params;
  auto add = [&](const std::string& cond, SqlParam value) {
    params.push_back(std::move(value));
    where += (where.empty() ? " WHERE " : " AND ") + cond + std::to_string(params.size());
  };
  if (trial_id) add("trial_id = $", *trial_id);
  if (q.session_id) add("session_id = $", *q.session_id);
  if (!q.trainee.empty()) add("trainee = $", q.trainee);
  if (q.responded_only)
    where += (where.empty() ? " WHERE " : " AND ") + std::string("responded_ms IS NOT NULL");
  CS_ASSIGN_OR_RETURN(auto rows, c.Query("SELECT " CS_TRAINING_TRIAL_COLS " FROM training_trials" +
                                             where + " ORDER BY trial_id",
                                         params));
  std::vector<TrainingTrialRow> out;
  for (const auto& r : rows) out.push_back(ToTrainingTrial(r));
  return out;
}

Status InsertTrainingSessionRow(SqlConn& c, TrainingSessionRow* row) {
  CS_ASSIGN_OR_RETURN(row->session_id, NextId(c, "training_sessions", "session_id"));
  if (row->created_ms == 0) row->created_ms = NowMs();
  return c
      .Exec(
          "INSERT INTO training_sessions (session_id, name, trainer, created_ms, settings) "
          "VALUES ($1, $2, $3, $4, $5)",
          {row->session_id, row->name, row->trainer, row->created_ms, row->settings_json})
      .status();
}

Result<bool> InsertTrainingAssignmentRow(SqlConn& c, const TrainingAssignmentRow& row) {
  CS_ASSIGN_OR_RETURN(auto rows, c.Query("SELECT 1 FROM training_assignments WHERE session_id = "
                                         "$1 AND trainee = $2",
                                         {row.session_id, row.trainee}));
  if (!rows.empty()) return false;
  CS_RETURN_IF_ERROR(c.Exec("INSERT INTO training_assignments (session_id, trainee, "
                            "assigned_by, assigned_ms) VALUES ($1, $2, $3, $4)",
                            {row.session_id, row.trainee, row.assigned_by,
                             row.assigned_ms ? row.assigned_ms : NowMs()})
                         .status());
  return true;
}

Status InsertTrainingTrialRow(SqlConn& c, TrainingTrialRow* t) {
  CS_ASSIGN_OR_RETURN(auto same, c.Query("SELECT trial_id FROM training_trials WHERE session_id "
                                         "= $1 AND trainee = $2 AND idx = $3",
                                         {t->session_id, t->trainee, int64_t{t->index}}));
  if (!same.empty())
    return Status::AlreadyExists("trainee '" + t->trainee + "' has image " +
                                 std::to_string(t->index) + " of training session " +
                                 std::to_string(t->session_id) + " already (trial " +
                                 same[0].Text(0) + ")");
  CS_ASSIGN_OR_RETURN(t->trial_id, NextId(c, "training_trials", "trial_id"));
  if (t->created_ms == 0) t->created_ms = NowMs();
  return c
      .Exec(
          "INSERT INTO training_trials (trial_id, session_id, trainee, idx, scan_id, source, "
          "threat, threat_class, threat_name, box_x0, box_y0, box_x1, box_y1, mask_rle, "
          "size_scale, clutter, level, time_limit_ms, created_ms) VALUES ($1, $2, $3, $4, $5, "
          "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
          {t->trial_id, t->session_id, t->trainee, int64_t{t->index}, t->scan_id, t->source,
           int64_t{t->threat ? 1 : 0}, t->threat_class, t->threat_name, int64_t{t->box_x0},
           int64_t{t->box_y0}, int64_t{t->box_x1}, int64_t{t->box_y1}, t->mask_rle_json,
           t->size_scale, t->clutter, int64_t{t->level}, t->time_limit_ms, t->created_ms})
      .status();
}

Status UpdateTrainingResponse(SqlConn& c, const TrainingTrialRow& t) {
  if (!t.responded_ms) return Status::InvalidArgument("a response needs its time");
  CS_ASSIGN_OR_RETURN(
      int64_t n,
      c.Exec("UPDATE training_trials SET responded_ms = $2, decision = $3, mark = $4, "
             "response_ms = $5, timed_out = $6, hit = $7 WHERE trial_id = $1 AND responded_ms IS "
             "NULL",
             {t.trial_id, *t.responded_ms, t.decision, t.mark_json, t.response_ms,
              int64_t{t.timed_out ? 1 : 0}, int64_t{t.hit ? 1 : 0}}));
  if (n == 1) return Status::Ok();
  CS_ASSIGN_OR_RETURN(auto rows,
                      c.Query("SELECT 1 FROM training_trials WHERE trial_id = $1", {t.trial_id}));
  if (rows.empty()) return Status::NotFound("no training trial " + std::to_string(t.trial_id));
  return Status::FailedPrecondition("training trial " + std::to_string(t.trial_id) +
                                    " is answered already");
}

Result<std::vector<std::string>> QueryCleanScanIds(SqlConn& c, int64_t limit) {
  CS_ASSIGN_OR_RETURN(auto rows,
                      c.Query("SELECT s.scan_id FROM scans s JOIN consignments c ON "
                              "c.consignment_id = s.consignment_id WHERE c.outcome = 'nothing' "
                              "ORDER BY s.scan_id LIMIT $1",
                              {limit}));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.Text(0));
  return out;
}

Result<std::vector<std::string>> ForgetTrainingImageRows(SqlConn& c, int64_t answered_before_ms,
                                                         int64_t limit) {
  CS_ASSIGN_OR_RETURN(
      auto rows,
      c.Query("SELECT s.scan_id, s.image_sha256 FROM training_trials t JOIN scans s ON "
              "s.scan_id = t.scan_id WHERE t.responded_ms IS NOT NULL AND t.responded_ms < $1 AND "
              "s.image_sha256 <> '' AND s.consignment_id LIKE 'training:%' ORDER BY t.trial_id "
              "LIMIT $2",
              {answered_before_ms, limit}));
  std::vector<std::string> candidates;
  for (const auto& r : rows) {
    CS_RETURN_IF_ERROR(c.Exec("UPDATE scans SET image_sha256 = '', source_sha256 = '' WHERE "
                              "scan_id = $1",
                              {r.Text(0)})
                           .status());
    candidates.push_back(r.Text(1));
  }
  // Content-addressed: the same bytes anywhere else (a consignment's scan or upload, a photo, a
  // model file) keep the file.
  std::vector<std::string> freed;
  for (const auto& sha : candidates) {
    if (std::find(freed.begin(), freed.end(), sha) != freed.end()) continue;
    const std::string like = "%" + sha + "%";
    CS_ASSIGN_OR_RETURN(
        auto refs,
        c.Query("SELECT (SELECT COUNT(*) FROM scans WHERE image_sha256 = $1 OR source_sha256 LIKE "
                "$2) + (SELECT COUNT(*) FROM outcome_attachments WHERE sha256 = $1) + (SELECT "
                "COUNT(*) FROM model_versions WHERE files LIKE $2)",
                {sha, like}));
    if (!refs.empty() && refs[0].Int(0) == 0) freed.push_back(sha);
  }
  return freed;
}

}  // namespace clearsight::store
