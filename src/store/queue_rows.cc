// The officers' work queue: filters, search, sort and one page of consignments with their first
// declaration (Store::Queue).
#include <string>

#include "clearsight/store.h"
#include "store/sql_rows.h"

namespace clearsight::store {

Result<QueuePage> QueryQueue(SqlConn& c, const QueueQuery& q) {
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
    // An HS code is matched by its digits ("0306.11" finds 030611...).
    std::string digits;
    for (char ch : q.search)
      if (ch >= '0' && ch <= '9') digits.push_back(ch);
    bool hs_like =
        !digits.empty() && q.search.find_first_not_of("0123456789. ") == std::string::npos;
    params.emplace_back(LikeContains(q.search));
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
}

}  // namespace clearsight::store
