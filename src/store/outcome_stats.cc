// Inspection outcomes counted: per rule, channel, group (office, HS chapter, origin) and evidence
// source, and over time per week for rule hits, the random control sample and the targeted red
// decisions (Store::RuleStats ... RuleWeeklyStats).
#include <algorithm>
#include <map>

#include "store/sql_rows.h"

namespace clearsight::store {

namespace {
// The Monday of the week of a day number (1970-01-01 was a Thursday); the same integer arithmetic
// in SQLite and PostgreSQL for the non-negative day numbers decisions carry.
constexpr char kWeekOf[] = "(c.decision_date - ((c.decision_date + 3) % 7))";
int32_t WeekOf(int32_t day) { return day - ((day + 3) % 7 + 7) % 7; }
}  // namespace

// Two counts over an outcome column `col`: inspected, and inspected with something found.
#define CS_OUTCOME_COUNTS(col)                                                                     \
  "SUM(CASE WHEN " col " " CS_INSPECTED " THEN 1 ELSE 0 END), SUM(CASE WHEN " col " " CS_INSPECTED \
  " AND " col " <> 'nothing' THEN 1 ELSE 0 END) "

Result<RuleWeekly> QueryRuleWeeklyStats(SqlConn& c, int32_t weeks) {
  RuleWeekly out;
  CS_ASSIGN_OR_RETURN(auto last, c.Query("SELECT MAX(decision_date) FROM consignments", {}));
  if (last.empty() || last[0].Null(0)) return out;
  out.last_date = static_cast<int32_t>(last[0].Int(0));
  const int64_t from = WeekOf(*out.last_date) - 7 * static_cast<int64_t>(weeks - 1);
  const std::string counts =
      std::string(kWeekOf) + " AS week, COUNT(*), " CS_OUTCOME_COUNTS("c.outcome");
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
              "WHERE c.control <> 0 AND c.outcome " CS_INSPECTED,
              {}));
  std::vector<ControlOutcome> out;
  out.reserve(rows.size());
  for (const auto& r : rows)
    out.push_back(ControlOutcome{r.Text(0) != "nothing", r.Null(1) ? -1 : r.Double(1),
                                 r.Null(2) ? std::string() : r.Text(2)});
  return out;
}

Result<std::vector<RuleHitStats>> QueryRuleStats(SqlConn& c) {
  CS_ASSIGN_OR_RETURN(auto rows,
                      c.Query("SELECT h.rule_name, COUNT(*), " CS_OUTCOME_COUNTS(
                                  "c.outcome") "FROM rule_hits h JOIN consignments c ON "
                                               "c.consignment_id = h.consignment_id "
                                               "GROUP BY h.rule_name ORDER BY h.rule_name",
                              {}));
  std::vector<RuleHitStats> out;
  for (const auto& r : rows) out.push_back(RuleHitStats{r.Text(0), r.Int(1), r.Int(2), r.Int(3)});
  return out;
}

Result<std::vector<ChannelOutcomeStats>> QueryChannelStats(SqlConn& c) {
  CS_ASSIGN_OR_RETURN(
      auto rows,
      c.Query(
          "SELECT channel, control, COUNT(*), " CS_OUTCOME_COUNTS(
              "outcome") "FROM consignments GROUP BY channel, control ORDER BY channel, control",
          {}));
  std::vector<ChannelOutcomeStats> out;
  for (const auto& r : rows)
    out.push_back(ChannelOutcomeStats{r.Text(0), r.Int(1) != 0, r.Int(2), r.Int(3), r.Int(4)});
  return out;
}

Result<std::vector<GroupOutcomeStats>> QueryGroupStats(SqlConn& c, const std::string& by) {
  auto first = [](const std::string& expr) {
    return "COALESCE((SELECT " + expr +
           " FROM declarations d WHERE d.consignment_id = c.consignment_id ORDER BY "
           "d.declaration_id LIMIT 1), '')";
  };
  std::string group;
  if (by == "office")
    group = "c.lane";
  else if (by == "hs_chapter")
    group = first("SUBSTR(d.hs_code, 1, 2)");
  else if (by == "origin")  // JSON functions differ between the two dialects
    group = first(c.dialect() == "postgresql" ? "(d.body::jsonb->>'origin_country')"
                                              : "json_extract(d.body, '$.origin_country')");
  else
    return Status::InvalidArgument("group by office, hs_chapter or origin, not '" + by + "'");
  CS_ASSIGN_OR_RETURN(
      auto rows,
      c.Query("SELECT g, control, CASE WHEN channel = 'red' AND control = 0 AND "
              "exploration = 0 THEN 1 ELSE 0 END AS targeted, COUNT(*), " CS_OUTCOME_COUNTS(
                  "outcome") "FROM (SELECT c.channel, c.control, c.exploration, c.outcome, " +
                  group + " AS g FROM consignments c) t GROUP BY g, control, targeted",
              {}));
  std::map<std::string, GroupOutcomeStats> by_group;
  for (const auto& r : rows) {
    GroupOutcomeStats& g = by_group[r.Text(0)];
    g.group = r.Text(0);
    const int64_t n = r.Int(3), out = r.Int(4), conf = r.Int(5);
    g.decisions += n;
    if (r.Int(1) != 0) {
      g.control += n, g.control_with_outcome += out, g.control_confirmed += conf;
    } else if (r.Int(2) != 0) {
      g.targeted += n, g.targeted_with_outcome += out, g.targeted_confirmed += conf;
    }
  }
  std::vector<GroupOutcomeStats> out;
  for (auto& [k, g] : by_group) out.push_back(std::move(g));
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.decisions > b.decisions; });
  return out;
}

Result<std::vector<SourceOutcomeStats>> QuerySourceStats(SqlConn& c) {
  // One row per (consignment, source) among the reasons of each decision with an outcome; the
  // reasons are stored strongest first. JSON functions differ between the two dialects.
  const bool pg = c.dialect() == "postgresql";
  const std::string pairs = pg ? "SELECT DISTINCT c.consignment_id, r.value->>'source' AS "
                                 "source, c.outcome, c.control, "
                                 "(c.reasons::jsonb->0->>'source') AS top FROM consignments c "
                                 "CROSS JOIN LATERAL jsonb_array_elements(c.reasons::jsonb) AS "
                                 "r(value) WHERE c.outcome " CS_INSPECTED
                               : "SELECT DISTINCT c.consignment_id, json_extract(r.value, "
                                 "'$.source') AS source, c.outcome, c.control, "
                                 "json_extract(c.reasons, '$[0].source') AS top FROM "
                                 "consignments c, json_each(c.reasons) r "
                                 "WHERE c.outcome " CS_INSPECTED;
  CS_ASSIGN_OR_RETURN(
      auto rows, c.Query("SELECT source, COUNT(*), "
                         "SUM(CASE WHEN outcome <> 'nothing' THEN 1 ELSE 0 END), SUM(control), "
                         "SUM(CASE WHEN top = source THEN 1 ELSE 0 END), "
                         "SUM(CASE WHEN top = source AND outcome <> 'nothing' THEN 1 ELSE 0 END) "
                         "FROM (" +
                             pairs + ") p GROUP BY source ORDER BY source",
                         {}));
  std::vector<SourceOutcomeStats> out;
  for (const auto& r : rows)
    out.push_back(SourceOutcomeStats{r.Text(0), r.Int(1), r.Int(2), r.Int(3), r.Int(4), r.Int(5)});
  // Decisions without any reason: their strongest "source" is none.
  CS_ASSIGN_OR_RETURN(
      auto none,
      c.Query("SELECT COUNT(*), SUM(CASE WHEN outcome <> 'nothing' THEN 1 ELSE 0 END), "
              "SUM(control) FROM consignments WHERE outcome " CS_INSPECTED " AND reasons = '[]'",
              {}));
  if (!none.empty() && none[0].Int(0) > 0)
    out.push_back(SourceOutcomeStats{"", none[0].Int(0), none[0].Int(1), none[0].Int(2),
                                     none[0].Int(0), none[0].Int(1)});
  return out;
}

}  // namespace clearsight::store
