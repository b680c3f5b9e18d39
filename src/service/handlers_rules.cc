// Trying a draft rule profile on the declarations already stored, before it is installed
// (POST /api/rules/test), the profile's history: its versions, a line diff of any one against
// the version in force, and a rollback to an old one; and the rules over time: hits, inspected
// and confirmed hits and precision per rule per week (GET /api/rules/stats). docs/api.md, Rules.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "clearsight/retrain.h"
#include "clearsight/text.h"
#include "service/service_impl.h"

namespace clearsight {

using service::Caller;
using service::HttpRequest;
using service::HttpResponse;
using service::JsonResponse;

namespace {

// What a stored declaration was assessed with, as the rules see it (the valuation figures and the
// model's probability; missing when it was not assessed).
DerivedFeatures DerivedFromAssessment(const std::string& assessment) {
  DerivedFeatures d;
  if (assessment.empty()) return d;
  json a = json::parse(assessment, nullptr, false);
  if (!a.is_object()) return d;
  auto number = [](const json& o, const char* key) {
    return o.is_object() && o.contains(key) && o[key].is_number() ? o[key].get<double>() : kMissing;
  };
  d.risk_score = number(a, "model_score");
  if (a.contains("valuation")) {
    const json& v = a["valuation"];
    d.unit_price_ratio = number(v, "unit_price_ratio");
    d.undervaluation_score = number(v, "undervaluation_score");
    d.revenue_at_risk = number(v, "revenue_at_risk");
  }
  return d;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

// One line of a diff: ' ' in both, '-' only in the old text, '+' only in the new one; line
// numbers are 1-based, 0 where the line is not in that text.
struct DiffLine {
  char op;
  size_t old_line, new_line;
  std::string_view text;
};

// A line diff of `a` (old) against `b` (new): the common start and end, and a longest common
// subsequence of what lies between; when that middle is too large for the table (more than 16 Mi
// line pairs), all of it is shown as removed and added, which is still a correct diff.
std::vector<DiffLine> LineDiff(const std::vector<std::string_view>& a,
                               const std::vector<std::string_view>& b) {
  std::vector<DiffLine> out;
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre &&
         a[a.size() - 1 - suf] == b[b.size() - 1 - suf])
    ++suf;
  for (size_t i = 0; i < pre; ++i) out.push_back({' ', i + 1, i + 1, a[i]});
  const size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
  if (n * m <= (size_t{16} << 20)) {
    // lcs[i][j]: the longest common subsequence of a[pre+i..] and b[pre+j..].
    std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
    auto at = [&](size_t i, size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
    for (size_t i = n; i-- > 0;)
      for (size_t j = m; j-- > 0;)
        at(i, j) =
            a[pre + i] == b[pre + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[pre + i] == b[pre + j]) {
        out.push_back({' ', pre + i + 1, pre + j + 1, a[pre + i]});
        ++i, ++j;
      } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
        out.push_back({'-', pre + i + 1, 0, a[pre + i]});  // removals before additions
        ++i;
      } else {
        out.push_back({'+', 0, pre + j + 1, b[pre + j]});
        ++j;
      }
    }
  } else {
    for (size_t i = 0; i < n; ++i) out.push_back({'-', pre + i + 1, 0, a[pre + i]});
    for (size_t j = 0; j < m; ++j) out.push_back({'+', 0, pre + j + 1, b[pre + j]});
  }
  for (size_t k = 0; k < suf; ++k)
    out.push_back({' ', a.size() - suf + k + 1, b.size() - suf + k + 1, a[a.size() - suf + k]});
  return out;
}

int64_t LineCount(std::string_view text) { return static_cast<int64_t>(Lines(text).size()); }

// A rule profile version's number from a path or query value: InvalidArgument naming `what`.
Result<int64_t> VersionNumber(const std::string& value, const std::string& what) {
  int64_t v = 0;
  if (!ParseInt64(value, &v) || v < 1)
    return Status::InvalidArgument(what +
                                   " must be a rule profile version, a whole number 1 or more");
  return v;
}

}  // namespace

Result<std::string> service::RulesTextOf(const HttpRequest& req) {
  if (req.body.size() > (size_t{4} << 20))
    return Status::ResourceExhausted("rules text is limited to 4 MiB");
  const std::string type = req.header ? ToLower(req.header("Content-Type")) : std::string();
  if (!StartsWith(type, "application/json")) {
    if (!IsValidUtf8(req.body)) return Status::InvalidArgument("rules text must be UTF-8");
    return std::string(req.body);
  }
  CS_ASSIGN_OR_RETURN(json j, service::ParseBody(req.body));
  if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
    return Status::InvalidArgument("send the rules as text/plain, or as {\"text\": \"...\"}");
  return j["text"].get<std::string>();
}

Result<HttpResponse> Service::Impl::TestRules(const HttpRequest& req, const Caller&) {
  CS_ASSIGN_OR_RETURN(std::string text, service::RulesTextOf(req));
  int64_t days = 30, limit = 200000;
  if (req.HasQuery("days") && (!ParseInt64(req.Query("days"), &days) || days < 1 || days > 3660))
    return Status::InvalidArgument("days must be a whole number 1..3660");
  if (req.HasQuery("limit") &&
      (!ParseInt64(req.Query("limit"), &limit) || limit < 1 || limit > 1000000))
    return Status::InvalidArgument("limit must be a whole number 1..1000000");
  CS_ASSIGN_OR_RETURN(RuleSet draft, RuleSet::Parse(text, "draft"));
  CS_ASSIGN_OR_RETURN(auto recent,
                      store->DeclarationsOfLastDays(static_cast<int32_t>(days), limit));
  const auto& rules = draft.rules();
  const size_t n = rules.size();
  std::vector<int64_t> hits(n), with_outcome(n), confirmed(n), newly_red(n);
  std::vector<std::set<std::string>> consignments(n);
  std::vector<std::vector<std::string>> examples(n);
  std::set<std::string> to_red;  // consignments a channel-red rule sends to red that are not now
  int64_t read = 0, unreadable = 0;
  for (size_t i = 0; i < recent.rows.size(); ++i) {
    auto batch = service::ParseStoredDeclaration(recent.rows[i].json);
    if (!batch) {
      ++unreadable;
      continue;
    }
    ++read;
    const Declaration& d = batch->rows[0];
    const DerivedFeatures derived = DerivedFromAssessment(recent.rows[i].assessment);
    const std::string& consignment = recent.rows[i].consignment_id;
    const std::string& outcome = recent.outcome[i];
    for (int idx : draft.Match(d, *batch, derived)) {
      const size_t r = static_cast<size_t>(idx);
      ++hits[r];
      if (!consignments[r].insert(consignment).second) continue;  // counted per consignment
      if (IsInspectionResult(outcome)) ++with_outcome[r];
      if (IsInspectionResult(outcome) && outcome != "nothing") ++confirmed[r];
      if (examples[r].size() < 5) examples[r].push_back(consignment);
      const Rule& rule = rules[r];
      if (rule.action.kind == RuleAction::Kind::kChannel && rule.action.channel == Channel::kRed &&
          recent.channel[i] != "red") {
        ++newly_red[r];
        to_red.insert(consignment);
      }
    }
  }
  json list = json::array();
  for (size_t r = 0; r < n; ++r) {
    list.push_back(json{{"name", rules[r].name},
                        {"action", service::RuleActionText(rules[r])},
                        {"line", rules[r].line},
                        {"hits", hits[r]},
                        {"consignments", consignments[r].size()},
                        {"with_outcome", with_outcome[r]},
                        {"confirmed", confirmed[r]},
                        {"hit_rate", with_outcome[r] ? json(static_cast<double>(confirmed[r]) /
                                                            static_cast<double>(with_outcome[r]))
                                                     : json(nullptr)},
                        {"newly_red", newly_red[r]},
                        {"examples", examples[r]}});
  }
  json unknown = json::array();
  for (const auto& f : draft.unknown_fields())
    unknown.push_back(json{{"name", f.name}, {"where", f.where}});
  return JsonResponse(
      200, json{{"from", recent.total ? json(FormatDate(recent.from_date)) : json(nullptr)},
                {"to", recent.total ? json(FormatDate(recent.to_date)) : json(nullptr)},
                {"declarations", read},
                {"unreadable", unreadable},
                {"in_window", recent.total},
                {"truncated", recent.total > static_cast<int64_t>(recent.rows.size())},
                {"unknown_fields", unknown},
                {"newly_red", to_red.size()},
                {"rules", list}});
}

namespace {
json RulesVersionJson(const RulesVersion& v, int64_t in_force) {
  return json{{"version", v.version},
              {"author", v.author},
              {"created_at", IsoTime(v.created_ms)},
              {"sha256", Sha256Hex(v.text)},
              {"bytes", v.text.size()},
              {"lines", LineCount(v.text)},
              {"restored_from", v.restored_from ? json(*v.restored_from) : json(nullptr)},
              {"in_force", v.version == in_force}};
}
}  // namespace

Result<HttpResponse> Service::Impl::ListRulesVersions(const HttpRequest& req, const Caller&) {
  int64_t limit = 100;
  if (req.HasQuery("limit") &&
      (!ParseInt64(req.Query("limit"), &limit) || limit < 1 || limit > 1000))
    return Status::InvalidArgument("limit must be a whole number 1..1000");
  int64_t in_force;
  {
    std::lock_guard lock(risk_mu);
    in_force = rules_version;
  }
  CS_ASSIGN_OR_RETURN(auto versions, store->RulesVersions(limit));
  json list = json::array();
  for (const auto& v : versions) list.push_back(RulesVersionJson(v, in_force));
  return JsonResponse(200, json{{"in_force", in_force}, {"versions", std::move(list)}});
}

Result<HttpResponse> Service::Impl::GetRulesVersion(const HttpRequest& req, const Caller&) {
  CS_ASSIGN_OR_RETURN(int64_t number, VersionNumber(req.path_params[0], "the version in the path"));
  CS_ASSIGN_OR_RETURN(auto v, store->GetRulesVersion(number));
  if (!v) return Status::NotFound("no rule profile version " + std::to_string(number));
  int64_t in_force;
  {
    std::lock_guard lock(risk_mu);
    in_force = rules_version;
  }
  json out = RulesVersionJson(*v, in_force);
  out["text"] = v->text;
  return JsonResponse(200, out);
}

// GET /api/rules/versions/{version}/diff?against=N: the lines of `version` (old) against those of
// N (new; default the version in force).
Result<HttpResponse> Service::Impl::DiffRulesVersion(const HttpRequest& req, const Caller&) {
  CS_ASSIGN_OR_RETURN(int64_t from, VersionNumber(req.path_params[0], "the version in the path"));
  int64_t in_force;
  {
    std::lock_guard lock(risk_mu);
    in_force = rules_version;
  }
  int64_t to = in_force;
  if (req.HasQuery("against")) {
    CS_ASSIGN_OR_RETURN(to, VersionNumber(req.Query("against"), "against"));
  }
  CS_ASSIGN_OR_RETURN(auto old_version, store->GetRulesVersion(from));
  if (!old_version) return Status::NotFound("no rule profile version " + std::to_string(from));
  std::optional<RulesVersion> new_version;
  if (to > 0) {
    CS_ASSIGN_OR_RETURN(new_version, store->GetRulesVersion(to));
    if (!new_version) return Status::NotFound("no rule profile version " + std::to_string(to));
  }
  const std::string empty;
  const std::vector<std::string_view> a = Lines(old_version->text);
  const std::vector<std::string_view> b = Lines(new_version ? new_version->text : empty);
  json lines = json::array();
  int64_t added = 0, removed = 0, same = 0;
  for (const DiffLine& d : LineDiff(a, b)) {
    json l = {{"op", std::string(1, d.op)}, {"text", d.text}};
    l["old"] = d.old_line ? json(d.old_line) : json(nullptr);
    l["new"] = d.new_line ? json(d.new_line) : json(nullptr);
    lines.push_back(std::move(l));
    (d.op == '+' ? added : d.op == '-' ? removed : same) += 1;
  }
  return JsonResponse(
      200, json{{"from", RulesVersionJson(*old_version, in_force)},
                {"to", new_version ? RulesVersionJson(*new_version, in_force) : json(nullptr)},
                {"identical", added == 0 && removed == 0},
                {"added", added},
                {"removed", removed},
                {"unchanged", same},
                {"lines", std::move(lines)}});
}

// POST /api/rules/rollback {"version": V, "expected_version": N}: V's text becomes a new version
// (audited with restored_from = V), in force from now on. `expected_version`, the version the
// caller saw in force, guards against a change made meanwhile.
Result<HttpResponse> Service::Impl::RollbackRules(const HttpRequest& req, const Caller& caller) {
  CS_ASSIGN_OR_RETURN(json j, service::ParseBody(req.body));
  if (!j.is_object()) return Status::InvalidArgument("the body must be a JSON object");
  for (const auto& [key, value] : j.items())
    if (key != "version" && key != "expected_version")
      return Status::InvalidArgument("unknown field '" + Excerpt(key, 60) +
                                     "': a rollback has version and expected_version");
  if (!j.contains("version") || !j["version"].is_number_integer() ||
      j["version"].get<int64_t>() < 1)
    return Status::InvalidArgument(
        "version is required: the rule profile version to roll back to (a whole number)");
  const int64_t target = j["version"].get<int64_t>();
  std::optional<int64_t> expected;
  if (j.contains("expected_version") && !j["expected_version"].is_null()) {
    if (!j["expected_version"].is_number_integer() || j["expected_version"].get<int64_t>() < 0)
      return Status::InvalidArgument(
          "expected_version must be the version in force as you saw it (a whole number)");
    expected = j["expected_version"].get<int64_t>();
  }
  int64_t in_force;
  {
    std::lock_guard lock(risk_mu);
    in_force = rules_version;
  }
  if (expected && *expected != in_force)
    return Status::FailedPrecondition(
        "the rule profile in force is version " + std::to_string(in_force) + ", not " +
        std::to_string(*expected) + ": it was changed meanwhile; reload and try again");
  CS_ASSIGN_OR_RETURN(auto old_version, store->GetRulesVersion(target));
  if (!old_version) return Status::NotFound("no rule profile version " + std::to_string(target));
  if (target == in_force)
    return Status::FailedPrecondition("version " + std::to_string(target) +
                                      " is the rule profile in force already");
  // It was accepted once: whatever field names outside the schema it has were confirmed then.
  CS_ASSIGN_OR_RETURN(RuleSet parsed,
                      RuleSet::Parse(old_version->text, "rules v" + std::to_string(target)));
  std::vector<std::string> allowed;
  for (const auto& u : parsed.unknown_fields()) allowed.push_back(u.name);
  int64_t installed = 0;
  CS_RETURN_IF_ERROR(InstallRules(old_version->text, "rollback to v" + std::to_string(target),
                                  caller.username, &allowed, target, in_force, &installed));
  CS_ASSIGN_OR_RETURN(HttpResponse res, GetRules(req, caller));
  res.status = 201;
  return res;
}

namespace {

// A week's (or a window's) counts with the precision and its 95 % Wilson interval; no precision
// without an inspected hit.
json WeekJson(int64_t hits, int64_t inspected, int64_t confirmed) {
  json j = {{"hits", hits}, {"inspected", inspected}, {"confirmed", confirmed}};
  if (inspected == 0) {
    j["precision"] = nullptr;
    j["ci95"] = nullptr;
  } else {
    const Interval w = Wilson(static_cast<double>(confirmed), static_cast<double>(inspected));
    j["precision"] = w.value;
    j["ci95"] = json::array({w.low, w.high});
  }
  return j;
}

constexpr int64_t kMaxRuleStatsWeeks = 104;
constexpr size_t kQuietWeeks = 2;  // a rule with no hit in the last two weeks has stopped hitting

}  // namespace

Result<HttpResponse> Service::Impl::GetRuleStats(const HttpRequest& req, const Caller&) {
  int64_t weeks = 12;
  if (req.HasQuery("weeks") &&
      (!ParseInt64(req.Query("weeks"), &weeks) || weeks < 1 || weeks > kMaxRuleStatsWeeks))
    return Status::InvalidArgument("weeks must be a whole number 1.." +
                                   std::to_string(kMaxRuleStatsWeeks));
  CS_ASSIGN_OR_RETURN(RuleWeekly stats, store->RuleWeeklyStats(static_cast<int32_t>(weeks)));
  std::shared_ptr<const RuleSet> current;
  int64_t version;
  {
    std::lock_guard lock(risk_mu);
    current = rules;
    version = rules_version;
  }
  if (!stats.last_date)
    return JsonResponse(200, json{{"weeks", json::array()},
                                  {"to", nullptr},
                                  {"rules_version", version},
                                  {"min_outcomes_for_a_rate", service::kMinOutcomesForARate},
                                  {"control", {{"weeks", json::array()}, {"total", nullptr}}},
                                  {"targeted", {{"weeks", json::array()}, {"total", nullptr}}},
                                  {"rules", json::array()}});
  // The window: `weeks` Mondays ending with the newest decision's week.
  const int32_t last_week = *stats.last_date - ((*stats.last_date + 3) % 7 + 7) % 7;
  const int32_t first_week = last_week - 7 * static_cast<int32_t>(weeks - 1);
  json week_names = json::array();
  for (int32_t w = first_week; w <= last_week; w += 7) week_names.push_back(FormatDate(w));
  struct Series {
    std::vector<RuleWeekStats> by_week;
    RuleWeekStats total;
  };
  auto series_of = [&](const std::vector<RuleWeekStats>& rows, const std::string& name) {
    Series s;
    s.by_week.resize(static_cast<size_t>(weeks));
    for (const auto& r : rows) {
      if (r.rule != name || r.week < first_week || r.week > last_week) continue;
      s.by_week[static_cast<size_t>((r.week - first_week) / 7)] = r;
      s.total.hits += r.hits, s.total.with_outcome += r.with_outcome;
      s.total.confirmed += r.confirmed;
    }
    return s;
  };
  auto weeks_json = [&](const Series& s) {
    json a = json::array();
    for (size_t k = 0; k < s.by_week.size(); ++k) {
      json j = WeekJson(s.by_week[k].hits, s.by_week[k].with_outcome, s.by_week[k].confirmed);
      j["week"] = week_names[k];
      a.push_back(std::move(j));
    }
    return a;
  };
  // The control sample over the window: the hit rate among all consignments, which a rule's
  // precision should beat.
  const Series control = series_of(stats.control, "");
  const bool control_enough = control.total.with_outcome >= service::kMinOutcomesForARate;
  const double control_rate = control_enough ? static_cast<double>(control.total.confirmed) /
                                                   static_cast<double>(control.total.with_outcome)
                                             : 0;
  json control_json =
      WeekJson(control.total.hits, control.total.with_outcome, control.total.confirmed);
  control_json.erase("hits");
  control_json["decisions"] = control.total.hits;
  if (!control_enough) control_json["precision"] = control_json["ci95"] = nullptr;

  // The installed profile's rules in its order, then earlier rules with hits in the window.
  std::vector<std::pair<std::string, bool>> names;
  std::set<std::string> seen;
  if (current)
    for (const auto& r : current->rules())
      if (seen.insert(r.name).second) names.emplace_back(r.name, true);
  for (const auto& r : stats.rules)
    if (seen.insert(r.rule).second) names.emplace_back(r.rule, false);
  json list = json::array();
  for (const auto& [name, active] : names) {
    const Series s = series_of(stats.rules, name);
    json flags = json::array();
    int64_t recent = 0;
    for (size_t k = s.by_week.size() >= kQuietWeeks ? s.by_week.size() - kQuietWeeks : 0;
         k < s.by_week.size(); ++k)
      recent += s.by_week[k].hits;
    if (static_cast<size_t>(weeks) > kQuietWeeks && s.total.hits > 0 && recent == 0)
      flags.push_back("stopped_hitting");
    if (control_enough && s.total.with_outcome >= service::kMinOutcomesForARate &&
        Wilson(static_cast<double>(s.total.confirmed), static_cast<double>(s.total.with_outcome))
                .high < control_rate)
      flags.push_back("below_control");
    list.push_back(json{{"name", name},
                        {"active", active},
                        {"weeks", weeks_json(s)},
                        {"total", WeekJson(s.total.hits, s.total.with_outcome, s.total.confirmed)},
                        {"flags", flags}});
  }
  json control_weeks = weeks_json(control);
  for (auto& w : control_weeks) {
    w["decisions"] = w["hits"];
    w.erase("hits");
  }
  // Targeted inspections beside the control sample, and the lift of targeting over random
  // selection over the window so far (the ratio of the two hit rates, with the 95 % interval of a
  // ratio of proportions on the log scale), once the control sample has enough outcomes.
  const Series targeted = series_of(stats.targeted, "");
  json targeted_weeks = weeks_json(targeted);
  int64_t t_in = 0, t_conf = 0, c_in = 0, c_conf = 0;
  for (size_t k = 0; k < targeted_weeks.size(); ++k) {
    json& w = targeted_weeks[k];
    w["decisions"] = w["hits"];
    w.erase("hits");
    t_in += targeted.by_week[k].with_outcome, t_conf += targeted.by_week[k].confirmed;
    c_in += control.by_week[k].with_outcome, c_conf += control.by_week[k].confirmed;
    if (c_in >= service::kMinOutcomesForARate && c_conf > 0 && t_conf > 0) {
      const double p1 = static_cast<double>(t_conf) / static_cast<double>(t_in);
      const double p2 = static_cast<double>(c_conf) / static_cast<double>(c_in);
      const double se = std::sqrt((1 - p1) / static_cast<double>(t_conf) +
                                  (1 - p2) / static_cast<double>(c_conf));
      w["lift_so_far"] = {
          {"value", p1 / p2},
          {"ci95", {p1 / p2 * std::exp(-1.96 * se), p1 / p2 * std::exp(1.96 * se)}}};
    } else {
      w["lift_so_far"] = nullptr;
    }
  }
  json targeted_json =
      WeekJson(targeted.total.hits, targeted.total.with_outcome, targeted.total.confirmed);
  targeted_json.erase("hits");
  targeted_json["decisions"] = targeted.total.hits;
  return JsonResponse(200, json{{"weeks", week_names},
                                {"to", FormatDate(*stats.last_date)},
                                {"rules_version", version},
                                {"min_outcomes_for_a_rate", service::kMinOutcomesForARate},
                                {"control", {{"weeks", control_weeks}, {"total", control_json}}},
                                {"targeted", {{"weeks", targeted_weeks}, {"total", targeted_json}}},
                                {"rules", list}});
}

}  // namespace clearsight
