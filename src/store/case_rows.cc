// The case library (migration 013): cases are read by joining each consignment's latest inspection
// outcome with its declarations, scans and photos; only the trainer's mark (teaching, tags) is kept
// in tables of its own.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "clearsight/text.h"
#include "store/sql_rows.h"

namespace clearsight {

std::string NormaliseCaseTag(std::string_view tag) {
  std::string out;
  for (char ch : ToLower(Trim(tag))) {
    const bool blank = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
    if (blank && !out.empty() && out.back() == ' ') continue;
    out.push_back(blank ? ' ' : ch);
  }
  return out;
}

namespace store {
namespace {

// A case: the consignment's latest outcome is an inspection result (not "not inspected").
constexpr char kCaseFrom[] =
    " FROM consignments c JOIN outcomes o ON o.consignment_id = c.consignment_id AND o.seq = "
    "(SELECT MAX(o2.seq) FROM outcomes o2 WHERE o2.consignment_id = c.consignment_id) "
    "LEFT JOIN case_marks m ON m.consignment_id = c.consignment_id "
    "WHERE c.outcome " CS_INSPECTED;

constexpr char kCaseCols[] =
    "o.consignment_id, o.seq, o.result, o.corrected_value, o.notes, o.officer, o.recorded_ms, "
    "o.not_inspected_reason, o.seized_quantity, o.seized_unit, o.revenue_recovered, "
    "o.revenue_currency, "
    "(SELECT COUNT(*) FROM outcome_attachments a WHERE a.consignment_id = c.consignment_id), "
    "(SELECT COUNT(*) FROM scans s WHERE s.consignment_id = c.consignment_id), "
    "(SELECT d.body FROM declarations d WHERE d.consignment_id = c.consignment_id ORDER BY "
    "d.declaration_id LIMIT 1), "
    "c.channel, c.lane, m.teaching, m.marked_by, m.marked_ms";

CaseRow ToCase(const SqlRow& r) {
  CaseRow k;
  k.outcome = ToOutcome(r);
  k.consignment_id = k.outcome.consignment_id;
  int i = kOutcomeColumns;
  k.photos = r.Int(i++);
  k.scans = r.Int(i++);
  if (!r.Null(i)) {
    const nlohmann::json d = nlohmann::json::parse(r.Text(i), nullptr, false);
    auto text = [&](const char* key) {
      return d.is_object() && d.contains(key) && d[key].is_string() ? d[key].get<std::string>()
                                                                    : std::string();
    };
    k.hs_code = text("hs_code");
    k.description = text("description");
    k.importer_id = text("importer_id");
  }
  ++i;
  k.channel = r.Text(i++);
  k.lane = r.Text(i++);
  if (!r.Null(i)) {
    k.mark.teaching = r.Int(i) != 0;
    k.mark.marked_by = r.Text(i + 1);
    k.mark.marked_ms = r.Int(i + 2);
  }
  return k;
}

std::vector<std::string>* TagsOfKind(CaseTags& tags, const std::string& kind) {
  if (kind == "goods") return &tags.goods;
  if (kind == "threat_class") return &tags.threat_class;
  if (kind == "concealment") return &tags.concealment;
  return nullptr;  // a kind this program does not know: not shown
}

bool IsHsChapter(const std::string& s) {
  return s.size() == 2 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9';
}

}  // namespace

Result<CasePage> QueryCases(SqlConn& c, const CaseQuery& q, const std::string* id) {
  if (q.limit < 0 || q.limit > 1000) return Status::InvalidArgument("limit must be 0..1000");
  if (q.offset < 0) return Status::InvalidArgument("offset must be >= 0");
  if (!q.hs_chapter.empty() && !IsHsChapter(q.hs_chapter))
    return Status::InvalidArgument("hs_chapter must be two digits (\"61\")");
  std::string where;
  SqlParams params;
  auto add = [&](const std::string& cond, SqlParam value) {
    params.push_back(std::move(value));
    std::string n = "$" + std::to_string(params.size()), text = cond;
    for (size_t at; (at = text.find("$?")) != std::string::npos;) text.replace(at, 2, n);
    where += " AND " + text;
  };
  if (id) {
    add("c.consignment_id = $?", *id);
  } else {
    if (q.teaching_only) where += " AND m.teaching = 1";
    if (q.with_scan_only)
      where += " AND EXISTS (SELECT 1 FROM scans s WHERE s.consignment_id = c.consignment_id)";
    if (!q.tag.empty())
      add("EXISTS (SELECT 1 FROM case_tags t WHERE t.consignment_id = c.consignment_id AND "
          "t.tag = $?)",
          NormaliseCaseTag(q.tag));
    if (!q.threat_class.empty())
      add("EXISTS (SELECT 1 FROM case_tags t WHERE t.consignment_id = c.consignment_id AND "
          "t.kind = 'threat_class' AND t.tag = $?)",
          NormaliseCaseTag(q.threat_class));
    if (!q.result.empty()) add("o.result = $?", q.result);
    if (!q.hs_chapter.empty())
      add("EXISTS (SELECT 1 FROM declarations d WHERE d.consignment_id = c.consignment_id AND "
          "d.hs_code LIKE $?)",
          q.hs_chapter + "%");
    if (q.from_ms) add("o.recorded_ms >= $?", *q.from_ms);
    if (q.to_ms) add("o.recorded_ms <= $?", *q.to_ms);
    if (!q.text.empty())
      add("(lower(c.consignment_id) LIKE $? ESCAPE '!' OR EXISTS (SELECT 1 FROM outcomes o3 "
          "WHERE o3.consignment_id = c.consignment_id AND lower(o3.notes) LIKE $? ESCAPE '!') OR "
          "EXISTS (SELECT 1 FROM declarations d WHERE d.consignment_id = c.consignment_id AND "
          "d.search_text LIKE $? ESCAPE '!'))",
          LikeContains(q.text));
  }
  CasePage page;
  CS_ASSIGN_OR_RETURN(auto count,
                      c.Query(std::string("SELECT COUNT(*)") + kCaseFrom + where, params));
  page.total = count.empty() ? 0 : count[0].Int(0);
  if (q.limit == 0 || page.total == 0) return page;
  SqlParams p = params;
  p.emplace_back(q.limit);
  p.emplace_back(q.offset);
  CS_ASSIGN_OR_RETURN(
      auto rows, c.Query(std::string("SELECT ") + kCaseCols + kCaseFrom + where +
                             " ORDER BY o.recorded_ms DESC, c.consignment_id LIMIT $" +
                             std::to_string(p.size() - 1) + " OFFSET $" + std::to_string(p.size()),
                         p));
  if (rows.empty()) return page;
  // The page's tags in one query.
  std::string in;
  SqlParams ids;
  std::map<std::string, size_t> at;
  for (const auto& r : rows) {
    page.items.push_back(ToCase(r));
    ids.emplace_back(page.items.back().consignment_id);
    at[page.items.back().consignment_id] = page.items.size() - 1;
    in += (in.empty() ? "$" : ", $") + std::to_string(ids.size());
  }
  CS_ASSIGN_OR_RETURN(auto tags, c.Query("SELECT consignment_id, kind, tag FROM case_tags WHERE "
                                         "consignment_id IN (" +
                                             in + ") ORDER BY consignment_id, kind, tag",
                                         ids));
  for (const auto& r : tags)
    if (auto* list = TagsOfKind(page.items[at[r.Text(0)]].mark.tags, r.Text(1)))
      list->push_back(r.Text(2));
  return page;
}

Result<std::optional<CaseRow>> QueryCase(SqlConn& c, const std::string& id) {
  CS_ASSIGN_OR_RETURN(CasePage page, QueryCases(c, CaseQuery{}, &id));
  if (page.items.empty()) return std::optional<CaseRow>();
  return std::optional<CaseRow>(std::move(page.items[0]));
}

Status WriteCaseMark(SqlConn& c, const std::string& id, const CaseMark& mark) {
  CS_ASSIGN_OR_RETURN(auto existing, QueryCase(c, id));
  if (!existing)
    return Status::NotFound("no case '" + id +
                            "': the consignment has no recorded inspection outcome");
  CS_RETURN_IF_ERROR(
      c.Exec("INSERT INTO case_marks (consignment_id, teaching, marked_by, marked_ms) VALUES ($1, "
             "$2, $3, $4) ON CONFLICT (consignment_id) DO UPDATE SET teaching = excluded.teaching, "
             "marked_by = excluded.marked_by, marked_ms = excluded.marked_ms",
             {id, int64_t{mark.teaching ? 1 : 0}, mark.marked_by,
              mark.marked_ms ? mark.marked_ms : NowMs()})
          .status());
  CS_RETURN_IF_ERROR(c.Exec("DELETE FROM case_tags WHERE consignment_id = $1", {id}).status());
  const std::pair<const char*, const std::vector<std::string>*> kinds[] = {
      {"goods", &mark.tags.goods},
      {"threat_class", &mark.tags.threat_class},
      {"concealment", &mark.tags.concealment}};
  for (const auto& [kind, list] : kinds) {
    std::set<std::string> tags;
    for (const auto& t : *list)
      if (std::string n = NormaliseCaseTag(t); !n.empty()) tags.insert(std::move(n));
    for (const auto& t : tags)
      CS_RETURN_IF_ERROR(
          c.Exec("INSERT INTO case_tags (consignment_id, kind, tag) VALUES ($1, $2, $3)",
                 {id, std::string(kind), t})
              .status());
  }
  return Status::Ok();
}

}  // namespace store
}  // namespace clearsight
