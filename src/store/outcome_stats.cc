// Outcomes over time: rule hits, the random control sample's and the targeted red decisions per
// week, with their
// inspection outcomes (Store::RuleWeeklyStats).
#include "store/sql_rows.h"

namespace clearsight::store {

namespace {
// The Monday of the week of a day number (1970-01-01 was a Thursday); the same integer arithmetic
// in SQLite and PostgreSQL for the non-negative day numbers decisions carry.
constexpr char kWeekOf[] = "(c.decision_date - ((c.decision_date + 3) % 7))";
int32_t WeekOf(int32_t day) { return day - ((day + 3) % 7 + 7) % 7; }
}  // namespace

Result<RuleWeekly> QueryRuleWeeklyStats(SqlConn& c, int32_t weeks) {
  RuleWeekly out;
  CS_ASSIGN_OR_RETURN(auto last, c.Query("SELECT MAX(decision_date) FROM consignments", {}));
  if (last.empty() || last[0].Null(0)) return out;
  out.last_date = static_cast<int32_t>(last[0].Int(0));
  const int64_t from = WeekOf(*out.last_date) - 7 * static_cast<int64_t>(weeks - 1);
  const std::string counts =
      std::string(kWeekOf) +
      " AS week, COUNT(*), SUM(CASE WHEN c.outcome NOT IN ('', 'not_inspected') THEN 1 ELSE 0 "
      "END), SUM(CASE WHEN c.outcome NOT IN ('', 'not_inspected', 'nothing') THEN 1 ELSE 0 END) ";
  CS_ASSIGN_OR_RETURN(
      auto rows,
      c.Query("SELECT h.rule_name, " + counts +
                  "FROM rule_hits h JOIN consignments c ON c.consignment_id = h.consignment_id "
                  "WHERE c.decision_date >= $1 GROUP BY h.rule_name, week "
                  "ORDER BY h.rule_name, week",
              {from}));
  for (const auto& r : rows)
    out.rules.push_back(
        RuleWeekStats{r.Text(0), static_cast<int32_t>(r.Int(1)), r.Int(2), r.Int(3), r.Int(4)});
  CS_ASSIGN_OR_RETURN(auto control, c.Query("SELECT '', " + counts +
                                                "FROM consignments c WHERE c.control <> 0 AND "
                                                "c.decision_date >= $1 GROUP BY week ORDER BY week",
                                            {from}));
  for (const auto& r : control)
    out.control.push_back(
        RuleWeekStats{"", static_cast<int32_t>(r.Int(1)), r.Int(2), r.Int(3), r.Int(4)});
  // Targeted inspections: red by score, a finding or a carry-over, not a random draw.
  CS_ASSIGN_OR_RETURN(auto targeted,
                      c.Query("SELECT '', " + counts +
                                  "FROM consignments c WHERE c.channel = 'red' AND c.control = 0 "
                                  "AND c.exploration = 0 AND c.decision_date >= $1 "
                                  "GROUP BY week ORDER BY week",
                              {from}));
  for (const auto& r : targeted)
    out.targeted.push_back(
        RuleWeekStats{"", static_cast<int32_t>(r.Int(1)), r.Int(2), r.Int(3), r.Int(4)});
  return out;
}

Result<std::vector<ControlOutcome>> QueryControlOutcomes(SqlConn& c) {
  // The consignment's outcome column is its latest result; the revenue is that outcome's.
  CS_ASSIGN_OR_RETURN(
      auto rows,
      c.Query("SELECT c.outcome, o.revenue_recovered, o.revenue_currency FROM consignments c "
              "LEFT JOIN outcomes o ON o.consignment_id = c.consignment_id AND o.seq = "
              "(SELECT MAX(seq) FROM outcomes WHERE consignment_id = c.consignment_id) "
              "WHERE c.control <> 0 AND c.outcome NOT IN ('', 'not_inspected')",
              {}));
  std::vector<ControlOutcome> out;
  out.reserve(rows.size());
  for (const auto& r : rows)
    out.push_back(ControlOutcome{r.Text(0) != "nothing", r.Null(1) ? -1 : r.Double(1),
                                 r.Null(2) ? std::string() : r.Text(2)});
  return out;
}

}  // namespace clearsight::store
