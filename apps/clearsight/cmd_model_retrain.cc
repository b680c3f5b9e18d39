// model retrain and model gate: thin shells over clearsight/retrain.h.
#include <climits>
#include <cstdio>
#include <optional>
#include <string>

#include "clearsight/file_util.h"
#include "clearsight/model_registry.h"
#include "clearsight/retrain.h"
#include "clearsight/store.h"
#include "clearsight/text.h"
#include "commands.h"

namespace clearsight::cli {

namespace {

const char kRetrainUsage[] =
    "usage: clearsight model retrain --db DB [--images DIR] --cutoff DATE --out DIR\n"
    "                                [--from DATE] [--until DATE] [--parent VERSION]\n"
    "                                [--register] [--by NAME] [--no-ipw]\n"
    "                                [--min-propensity 0.01] [--red-share 0.05]\n"
    "                                [--trees 300] [--bootstrap 1000] [--seed 1]\n"
    "       clearsight model gate --db DB [--images DIR] VERSION [--by NAME] [--margin 0.02]\n"
    "                             [--confidence 0.95] [--bootstrap 2000] [--seed 1]\n"
    "                             [--red-share 0.05] [--until DATE]\n\n"
    "retrain: trains the risk model (the features and trainer of `model train`) on the store's\n"
    "decided declarations dated up to --cutoff, each inspection outcome weighted by the inverse "
    "of\n"
    "the probability it had of being inspected (clipped at --min-propensity; --no-ipw weighs "
    "every\n"
    "outcome 1), and evaluates it, and the live model, on the declarations after the cut-off: on\n"
    "the random control sample (unbiased) and on all inspected ones (biased, beside it): AUC,\n"
    "precision at the red share and hit rate, with 95 % intervals. Writes DIR (a model directory)\n"
    "and DIR/retrain.json; --register stores it in the registry as a candidate with those metrics\n"
    "and its parent (--parent, default the live version).\n"
    "gate: the promotion test. Promotes candidate VERSION when, on the control sample of the\n"
    "period after its training cut-off, the one-sided lower confidence bound of its AUC minus the\n"
    "live model's (paired bootstrap) is at least -margin; otherwise rejects it with the numbers "
    "as\n"
    "the reason. Too few control outcomes to test: it stays a candidate (exit 1).\n"
    "docs/model.md, \"Retraining\" and \"Promotion gate\".\n";

std::optional<int32_t> DateArg(const Args& args, const std::string& name, std::string* error) {
  if (!args.Has(name)) return std::nullopt;
  int32_t d;
  if (!ParseDate(args.Get(name), &d)) {
    *error = "--" + name + " must be a date YYYY-MM-DD, not '" + args.Get(name) + "'";
    return std::nullopt;
  }
  return d;
}

}  // namespace

int CmdModelRetrain(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "register", "no-ipw"});
  if (int rc = CheckArgs(
          args,
          {"db", "images", "audit-key", "cutoff", "out", "from", "until", "parent", "register",
           "by", "no-ipw", "min-propensity", "red-share", "trees", "bootstrap", "seed", "help"},
          kRetrainUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("db")) return Usage("--db is required", kRetrainUsage);
  if (!args.Has("cutoff")) return Usage("--cutoff DATE is required", kRetrainUsage);
  if (!args.Has("out")) return Usage("--out DIR is required", kRetrainUsage);
  std::string error;
  auto cutoff = DateArg(args, "cutoff", &error);
  auto from = DateArg(args, "from", &error);
  auto until = DateArg(args, "until", &error);
  if (!error.empty()) return Usage(error, kRetrainUsage);
  RetrainOptions o;
  o.inverse_propensity = !args.Has("no-ipw");
  long long trees, bootstrap, seed;
  if (!args.GetDouble("min-propensity", o.min_propensity, &o.min_propensity) ||
      o.min_propensity <= 0 || o.min_propensity > 1)
    return Usage("--min-propensity must be in (0, 1]", kRetrainUsage);
  if (!args.GetDouble("red-share", o.evaluation.budget, &o.evaluation.budget) ||
      o.evaluation.budget <= 0 || o.evaluation.budget > 1)
    return Usage("--red-share must be in (0, 1]", kRetrainUsage);
  if (!args.GetInt("trees", o.model.trees, &trees) || trees < 1 || trees > 5000)
    return Usage("--trees must be 1..5000", kRetrainUsage);
  if (!args.GetInt("bootstrap", o.evaluation.bootstrap, &bootstrap) || bootstrap < 0 ||
      bootstrap > 100000)
    return Usage("--bootstrap must be 0..100000", kRetrainUsage);
  if (!args.GetInt("seed", 1, &seed) || seed < 0)
    return Usage("--seed must be >= 0", kRetrainUsage);
  o.model.trees = static_cast<int>(trees);
  o.model.seed = static_cast<uint64_t>(seed);
  o.evaluation.bootstrap = static_cast<int>(bootstrap);
  o.evaluation.seed = static_cast<uint64_t>(seed);
  std::optional<int64_t> parent;
  if (args.Has("parent")) {
    auto p = ParseModelVersion(args.Get("parent"));
    if (!p.ok()) return Usage("--parent: " + p.status().message(), kRetrainUsage);
    parent = *p;
  }
  auto store = OpenStoreFromArgs(args);
  if (!store.ok()) return Fail(store.status());
  auto live_row = (*store)->LiveModelVersion();
  if (!live_row.ok()) return Fail(live_row.status());
  std::optional<RiskModel> live;
  std::optional<int64_t> live_version;
  if (*live_row) {
    auto m = LoadModelVersion(**store, **live_row);
    if (!m.ok()) return Fail(m.status().WithContext("loading the live model to compare with"));
    live = std::move(m).value();
    live_version = (*live_row)->version;
  }
  auto data = LoadLabelledData(**store, from.value_or(INT32_MIN), until.value_or(INT32_MAX));
  if (!data.ok()) return Fail(data.status());
  RetrainReport report;
  auto model = Retrain(*data, *cutoff, live ? &*live : nullptr, live_version, o, &report);
  if (!model.ok()) return Fail(model.status());
  const std::string out = args.Get("out");
  if (Status s = model->Save(out); !s.ok()) return Fail(s);
  const std::string json = report.ToJson();
  if (Status s = WriteFileAtomic(out + "/retrain.json", json); !s.ok()) return Fail(s);
  auto line = [](const char* who, const PeriodEvaluation& e) {
    auto m = [](const RankingMetrics& r) {
      return FormatFixed(r.auc.value, 3) + " [" + FormatFixed(r.auc.low, 3) + ", " +
             FormatFixed(r.auc.high, 3) + "]  " + FormatFixed(r.precision_at_budget.value, 3) +
             " [" + FormatFixed(r.precision_at_budget.low, 3) + ", " +
             FormatFixed(r.precision_at_budget.high, 3) + "]";
    };
    std::printf("  %-10s control (%lld rows)  AUC %s | inspected (%lld rows)  AUC %s\n", who,
                static_cast<long long>(e.control.rows), m(e.control).c_str(),
                static_cast<long long>(e.inspected.rows), m(e.inspected).c_str());
  };
  std::printf(
      "retrained on %lld declarations up to %s (%lld with outcomes: %lld control, %lld "
      "exploration; %s, largest weight %.1f)\n",
      static_cast<long long>(report.history_rows), FormatDate(*cutoff).c_str(),
      static_cast<long long>(report.train_labelled), static_cast<long long>(report.train_control),
      static_cast<long long>(report.train_explored),
      o.inverse_propensity ? "inverse-propensity weights" : "unweighted", report.max_weight);
  std::printf(
      "after the cut-off: %lld declarations; AUC and precision at %s %% (95 %% intervals)\n",
      static_cast<long long>(report.eval_rows), FormatFixed(100 * o.evaluation.budget, 0).c_str());
  line("candidate", report.candidate);
  if (report.live) line(("live v" + std::to_string(*live_version)).c_str(), *report.live);
  std::printf("wrote %s (and retrain.json)\n", out.c_str());
  if (args.Has("register")) {
    RegisterModelOptions ro;
    ro.created_by = args.Get("by", "retrain");
    ro.parent_version = parent ? parent : live_version;
    ro.metrics_json = json;
    auto row = RegisterModelDir(**store, out, ro);
    if (!row.ok()) return Fail(row.status());
    std::printf("registered as model version %lld (candidate)\n",
                static_cast<long long>(row->version));
  }
  return 0;
}

int CmdModelGate(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args,
                         {"db", "images", "audit-key", "by", "margin", "confidence", "bootstrap",
                          "seed", "red-share", "until", "help"},
                         kRetrainUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("db")) return Usage("--db is required", kRetrainUsage);
  if (args.positional().size() != 1)
    return Usage("give exactly one candidate VERSION (clearsight model list)", kRetrainUsage);
  auto version = ParseModelVersion(args.positional()[0]);
  if (!version.ok()) return Usage(version.status().message(), kRetrainUsage);
  std::string error;
  auto until = DateArg(args, "until", &error);
  if (!error.empty()) return Usage(error, kRetrainUsage);
  GateOptions o;
  long long bootstrap, seed;
  if (!args.GetDouble("margin", o.auc_margin, &o.auc_margin) || o.auc_margin < 0 ||
      o.auc_margin > 0.5)
    return Usage("--margin must be in [0, 0.5] (AUC)", kRetrainUsage);
  if (!args.GetDouble("confidence", o.confidence, &o.confidence) || o.confidence < 0.5 ||
      o.confidence >= 1)
    return Usage("--confidence must be in [0.5, 1)", kRetrainUsage);
  if (!args.GetDouble("red-share", o.budget, &o.budget) || o.budget <= 0 || o.budget > 1)
    return Usage("--red-share must be in (0, 1]", kRetrainUsage);
  if (!args.GetInt("bootstrap", o.bootstrap, &bootstrap) || bootstrap < 100 || bootstrap > 100000)
    return Usage("--bootstrap must be 100..100000", kRetrainUsage);
  if (!args.GetInt("seed", 1, &seed) || seed < 0)
    return Usage("--seed must be >= 0", kRetrainUsage);
  o.bootstrap = static_cast<int>(bootstrap);
  o.seed = static_cast<uint64_t>(seed);
  auto store = OpenStoreFromArgs(args);
  if (!store.ok()) return Fail(store.status());
  auto g = RunPromotionGate(**store, *version, args.Get("by", "gate"), o, until);
  if (!g.ok()) return Fail(g.status());
  const char* verdict = g->verdict == GateVerdict::kPromote  ? "promoted"
                        : g->verdict == GateVerdict::kReject ? "rejected"
                                                             : "left a candidate";
  std::printf("model version %lld %s: %s\n", static_cast<long long>(*version), verdict,
              g->reason.c_str());
  return g->verdict == GateVerdict::kUndecided ? 1 : 0;
}

}  // namespace clearsight::cli
