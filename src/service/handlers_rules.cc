// Trying a draft rule profile on the declarations already stored, before it is installed:
// POST /api/rules/test (docs/api.md, Rules).
#include <set>

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
      if (!outcome.empty()) ++with_outcome[r];
      if (!outcome.empty() && outcome != "nothing") ++confirmed[r];
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

}  // namespace clearsight
