#include <climits>
#include <cstdio>

#include "clearsight/declarations.h"
#include "clearsight/risk_model.h"
#include "clearsight/rules.h"
#include "clearsight/text.h"
#include "clearsight/valuation.h"
#include "commands.h"

namespace clearsight::cli {

namespace {
const char kCheckUsage[] =
    "usage: clearsight rules check --rules FILE\n\n"
    "Parses a rule profile (docs/rules.md) and lists its rules; a syntax error names "
    "file:line:col.\n";
const char kRunUsage[] =
    "usage: clearsight rules run --rules FILE --input FILE\n"
    "                            [--format native|jsonl|kcs|ead|h7|h7xml|auto] [--rates FILE]\n"
    "                            [--history FILE] [--model DIR] [--json]\n\n"
    "Runs a rule profile over declarations and reports, per rule, its hits and confirmed hits\n"
    "(hits whose outcome was fraud). --history enables unit_price_ratio, undervaluation_score and\n"
    "revenue_at_risk in conditions; --model enables risk_score.\n";

std::string Validity(const Rule& r) {
  std::string from = r.valid_from == INT32_MIN ? "always" : FormatDate(r.valid_from);
  std::string to = r.valid_to == INT32_MAX ? "open" : FormatDate(r.valid_to);
  return from + " .. " + to;
}

std::string Action(const Rule& r) {
  if (r.action.kind == RuleAction::Kind::kChannel)
    return "channel " + std::string(ChannelName(r.action.channel));
  return "score " + std::string(r.action.weight >= 0 ? "+" : "") + FormatDouble(r.action.weight);
}
}  // namespace

int CmdRulesCheck(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args, {"rules", "help"}, kCheckUsage)) return rc < 0 ? 0 : rc;
  if (!args.Has("rules")) return Usage("--rules is required", kCheckUsage);
  auto set = RuleSet::Load(args.Get("rules"));
  if (!set.ok()) return Fail(set.status());
  std::printf("%s: %zu rules, syntax OK\n", args.Get("rules").c_str(), set->rules().size());
  for (const auto& r : set->rules())
    std::printf("  line %-4d %-32s %-16s owner %-12s valid %s\n             when %s\n", r.line,
                r.name.c_str(), Action(r).c_str(), r.owner.empty() ? "-" : r.owner.c_str(),
                Validity(r).c_str(), r.condition_text.c_str());
  for (const auto& u : set->unknown_fields())
    std::printf(
        "warning: %s: '%s' is not a field of the schema; it is read as an extra input "
        "column by that name, and a typo would never match\n",
        u.where.c_str(), u.name.c_str());
  return 0;
}

int CmdRulesRun(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "json"});
  if (int rc =
          CheckArgs(args, {"rules", "input", "format", "rates", "history", "model", "json", "help"},
                    kRunUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("rules") || !args.Has("input"))
    return Usage("--rules and --input are required", kRunUsage);
  auto set = RuleSet::Load(args.Get("rules"));
  if (!set.ok()) return Fail(set.status());
  ReadOptions ro;
  if (int rc = ReadFlags(args, kRunUsage, &ro)) return rc;
  IngestReport report;
  auto batch = ReadDeclarations(args.Get("input"), ro, &report);
  if (!batch.ok()) return Fail(batch.status());
  std::fprintf(stderr, "%s: %s\n", args.Get("input").c_str(), report.Summary().c_str());
  std::vector<ValuationResult> val;
  if (args.Has("history")) {
    auto history = ReadDeclarations(args.Get("history"), ro, nullptr);
    if (!history.ok()) return Fail(history.status());
    auto vm = ValuationModel::Fit(*history, ValuationOptions{});
    if (!vm.ok()) return Fail(vm.status());
    val = vm->ScoreAll(*batch);
  }
  std::vector<float> risk;
  if (args.Has("model")) {
    auto m = RiskModel::Load(args.Get("model"));
    if (!m.ok()) return Fail(m.status());
    risk = m->Score(*batch, 2);
  }
  RuleStats stats;
  for (size_t i = 0; i < batch->rows.size(); ++i) {
    DerivedFeatures x;
    if (!val.empty()) {
      x.unit_price_ratio = val[i].unit_price_ratio;
      x.undervaluation_score = val[i].undervaluation_score;
      x.revenue_at_risk = val[i].revenue_at_risk;
    }
    if (!risk.empty()) x.risk_score = risk[i];
    stats.Count(set->Match(batch->rows[i], *batch, x), batch->rows[i], set->rules().size());
  }
  stats.Count({}, Declaration{}, set->rules().size());
  if (args.Has("json")) {
    std::string out = "[";
    for (size_t r = 0; r < set->rules().size(); ++r) {
      out += (r ? "," : "") + std::string("{\"rule\":\"") + set->rules()[r].name +
             "\",\"hits\":" + std::to_string(stats.hits[r]) +
             ",\"confirmed\":" + std::to_string(stats.confirmed[r]) +
             ",\"with_outcome\":" + std::to_string(stats.with_outcome[r]) + "}";
    }
    std::printf("%s]\n", out.c_str());
    return 0;
  }
  std::printf("%-32s %8s %10s %12s %9s\n", "rule", "hits", "confirmed", "with outcome", "hit rate");
  for (size_t r = 0; r < set->rules().size(); ++r) {
    double rate =
        stats.with_outcome[r] ? static_cast<double>(stats.confirmed[r]) / stats.with_outcome[r] : 0;
    std::printf("%-32s %8lld %10lld %12lld %8.1f%%\n", set->rules()[r].name.c_str(),
                static_cast<long long>(stats.hits[r]), static_cast<long long>(stats.confirmed[r]),
                static_cast<long long>(stats.with_outcome[r]), 100 * rate);
  }
  return 0;
}

}  // namespace clearsight::cli
