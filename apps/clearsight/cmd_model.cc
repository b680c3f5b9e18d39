#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>

#include "clearsight/decide.h"
#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/fusion.h"
#include "clearsight/risk_model.h"
#include "clearsight/rules.h"
#include "clearsight/selection.h"
#include "clearsight/text.h"
#include "clearsight/valuation.h"
#include "commands.h"

namespace clearsight::cli {

namespace {

const char kTrainUsage[] =
    "usage: clearsight model train --train FILE --out DIR [--valid FILE] [--format "
    "kcs|native|auto]\n"
    "                              [--trees 300] [--depth 6] [--eta 0.1] [--threads 2] [--seed 0]\n"
    "                              [--critical-weight W] [--warmup-days D] [--no-baseline]\n"
    "                              [--description-feature]\n\n"
    "Trains the declaration risk model on labelled declarations (fraud outcomes) and, unless\n"
    "--no-baseline, the plain baseline (frequency-ranked raw codes) beside it in DIR/baseline.\n"
    "With --valid, both are evaluated on that later period and DIR/report.md is written.\n"
    "Loaded from DIR, the model scores rows whose goods template it never saw with the baseline\n"
    "blended in (the mean of the two log-odds); without DIR/baseline, with the model alone.\n"
    "--description-feature adds how informative the goods description is (vague ones such as\n"
    "\"gift\" or \"parts\" score 0) as a feature, for traffic with descriptions (postal items).\n";

const char kEvalUsage[] =
    "usage: clearsight model eval --model DIR --input FILE [--format kcs|native|auto] [--json]\n"
    "                             [--threads 2]\n\n"
    "Ranks labelled declarations and reports AUC and precision / recall / critical recall at\n"
    "1, 2, 5 and 10 % inspected (and the baseline's, when DIR/baseline exists), on all rows and\n"
    "on the rows whose goods template (HS6, net mass, declared value, origin, tax type and rate)\n"
    "never occurs in the training data (\"unseen_template\" in --json). The model's rows are\n"
    "its scores as served: on unseen templates blended with DIR/baseline when that exists.\n";

const char kScoreUsage[] =
    "usage: clearsight score --model DIR --input FILE --out FILE\n"
    "                        [--format native|jsonl|kcs|ead|h7|h7xml|auto] [--rates FILE]\n"
    "                        [--red-share 0.05] [--red-count N] [--yellow-share 0.05]\n"
    "                        [--control-share 0.10] [--lane office_id] [--seed 1]\n"
    "                        [--explain flagged|all|none] [--threads 2] [--rejects FILE]\n"
    "                        [--rules FILE] [--history FILE] [--respond FILE]\n\n"
    "Scores declarations and writes declaration_id,score,channel,reasons. Channels follow a daily\n"
    "budget per lane; a random control sample (share of the red budget) is marked in reasons.\n"
    "  --rules FILE    an analyst rule profile: matching rules add their weight to the score or\n"
    "                  raise the channel, and give their reason\n"
    "  --rates FILE    currency rates (currency,per_<BASE>[,valid_from,valid_to]): values of the\n"
    "                  input and history are converted into the base currency\n"
    "  --respond FILE  one customs response per consignment (item): release, hold for documents\n"
    "                  or hold for inspection, with reason codes and the S10 id; XML "
    "(CUSRSP-like)\n"
    "                  or, for a name ending in .jsonl, JSON lines (docs/declarations.md)\n"
    "  --history FILE  declarations to learn reference prices from: flagged under-valuation adds "
    "a\n"
    "                  reason (and feeds unit_price_ratio etc. to the rules)\n";

Result<DeclarationBatch> LoadInput(const Args& args, const std::string& flag, IngestReport* report,
                                   bool quiet = false, const ReadOptions* read = nullptr) {
  ReadOptions options;
  if (read != nullptr) {
    options = *read;
  } else {
    auto format = ParseDeclarationFormat(args.Get("format", "auto"));
    if (!format.ok()) return format.status();
    options.format = *format;
  }
  auto batch = ReadDeclarations(args.Get(flag), options, report);
  if (!batch.ok()) return batch.status();
  if (!quiet) {
    PrintIngestProblems(*report, 10);
    std::fprintf(stderr, "%s: %s\n", args.Get(flag).c_str(), report->Summary().c_str());
  }
  if (batch->rows.empty())
    return Status::InvalidArgument(args.Get(flag) + ": no declaration was accepted");
  return batch;
}

// The ranking of the rows `keep` selects.
EvalReport EvaluateSubset(const std::vector<float>& scores, const DeclarationBatch& batch,
                          const std::vector<bool>& keep) {
  DeclarationBatch sub;
  sub.extra_columns = batch.extra_columns;
  std::vector<float> kept;
  for (size_t i = 0; i < batch.rows.size(); ++i)
    if (keep[i]) {
      sub.rows.push_back(batch.rows[i]);
      kept.push_back(scores[i]);
    }
  return EvaluateRanking(kept, sub);
}

// A model's evaluation on all rows and on the rows whose goods template (HS6, mass, value,
// origin, tax type and rate) never occurs in the training data: goods it has to generalize to.
struct SplitEval {
  std::string name;
  EvalReport all;
  std::optional<EvalReport> unseen;  // absent for a model saved without its templates
  std::string ToJson() const {
    std::string j = all.ToJson();
    if (unseen) j = j.substr(0, j.size() - 1) + ",\"unseen_template\":" + unseen->ToJson() + "}";
    return j;
  }
};

SplitEval EvaluateSplit(const std::string& name, const RiskModel& m, const std::vector<bool>& seen,
                        const DeclarationBatch& batch, int threads) {
  SplitEval e;
  e.name = name;
  const std::vector<float> scores = m.Score(batch, threads);
  e.all = EvaluateRanking(scores, batch);
  if (!seen.empty()) {
    std::vector<bool> unseen(seen.size());
    for (size_t i = 0; i < seen.size(); ++i) unseen[i] = !seen[i];
    e.unseen = EvaluateSubset(scores, batch, unseen);
  }
  return e;
}

// Each model's rows, then (when known) each model's never-seen-template rows.
std::vector<std::pair<std::string, EvalReport>> TableRows(const std::vector<SplitEval>& evals) {
  std::vector<std::pair<std::string, EvalReport>> rows;
  for (const auto& e : evals) rows.emplace_back(e.name, e.all);
  for (const auto& e : evals)
    if (e.unseen) rows.emplace_back(e.name + " unseen", *e.unseen);
  return rows;
}

void PrintEvalTable(const std::vector<std::pair<std::string, EvalReport>>& reports) {
  std::printf("%-15s %7s %6s  %-27s %-27s %-27s\n", "model", "rows", "AUC", "precision @1/2/5/10 %",
              "recall @1/2/5/10 %", "critical recall @1/2/5/10 %");
  for (const auto& [name, r] : reports) {
    auto row = [](const std::map<int, double>& m) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f %.3f %.3f %.3f", m.at(1), m.at(2), m.at(5), m.at(10));
      return std::string(buf);
    };
    std::printf("%-15s %7lld %6.3f  %-27s %-27s %-27s\n", name.c_str(),
                static_cast<long long>(r.rows), r.auc, row(r.precision_at).c_str(),
                row(r.recall_at).c_str(), row(r.critical_recall_at).c_str());
  }
}

}  // namespace

int CmdModelTrain(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "no-baseline", "quiet", "description-feature"});
  if (int rc = CheckArgs(
          args,
          {"train", "valid", "out", "format", "trees", "depth", "eta", "threads", "seed",
           "no-baseline", "quiet", "help", "critical-weight", "warmup-days", "description-feature"},
          kTrainUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("train") || !args.Has("out"))
    return Usage("--train and --out are required", kTrainUsage);
  RiskModelOptions options;
  long long trees, depth, threads, seed;
  double eta;
  if (!args.GetInt("trees", 300, &trees) || trees < 1 || trees > 100000)
    return Usage("--trees must be a whole number from 1 to 100000", kTrainUsage);
  if (!args.GetInt("depth", 6, &depth) || depth < 1 || depth > 10)
    return Usage("--depth must be a whole number from 1 to 10", kTrainUsage);
  if (!args.GetDouble("eta", 0.1, &eta) || eta <= 0 || eta > 1)
    return Usage("--eta must be in (0, 1]", kTrainUsage);
  if (!args.GetInt("threads", 2, &threads) || threads < 1)
    return Usage("--threads must be >= 1", kTrainUsage);
  if (!args.GetInt("seed", 0, &seed) || seed < 0)
    return Usage("--seed must be a non-negative number", kTrainUsage);
  long long warmup;
  if (!args.GetDouble("critical-weight", options.critical_weight, &options.critical_weight) ||
      options.critical_weight <= 0)
    return Usage("--critical-weight must be a positive number", kTrainUsage);
  if (!args.GetInt("warmup-days", options.warmup_days, &warmup) || warmup < 0)
    return Usage("--warmup-days must be a non-negative whole number", kTrainUsage);
  options.warmup_days = static_cast<int>(warmup);
  options.trees = static_cast<int>(trees);
  options.max_depth = static_cast<int>(depth);
  options.learning_rate = eta;
  options.threads = static_cast<int>(threads);
  options.seed = static_cast<uint64_t>(seed);
  options.description_feature = args.Has("description-feature");
  bool quiet = args.Has("quiet");

  IngestReport train_report, valid_report;
  auto train = LoadInput(args, "train", &train_report);
  if (!train.ok()) return Fail(train.status());
  Result<DeclarationBatch> valid = Status::NotFound("");
  if (args.Has("valid")) {
    valid = LoadInput(args, "valid", &valid_report);
    if (!valid.ok()) return Fail(valid.status());
  }
  std::string out = args.Get("out");
  std::optional<RiskModel> plain;  // the baseline, to evaluate beside the model
  for (bool baseline : {false, true}) {
    if (baseline && args.Has("no-baseline")) break;
    options.baseline = baseline;
    if (baseline)
      options.critical_weight = 1;  // the plain baseline: no extra weight on critical fraud
    const char* name = baseline ? "baseline" : "model";
    auto t0 = std::chrono::steady_clock::now();
    options.progress = [&](int done, int all) {
      if (!quiet && (done % 50 == 0 || done == all)) {
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "\r[%s] %d/%d trees, %.1f s, eta %.1f s   ", name, done, all, s,
                     s / done * (all - done));
        if (done == all) std::fprintf(stderr, "\n");
      }
    };
    auto m = RiskModel::Train(*train, options);
    if (!m.ok()) return Fail(m.status().WithContext(std::string("training the ") + name));
    std::string dir = baseline ? out + "/baseline" : out;
    if (Status s = m->Save(dir); !s.ok()) return Fail(s);
    if (baseline) plain = std::move(m).value();
  }
  std::vector<SplitEval> evals;
  if (valid.ok()) {
    // The model as it is loaded to score: with the baseline blended in for unseen templates.
    auto product = RiskModel::Load(out);
    if (!product.ok()) return Fail(product.status());
    const std::vector<bool> seen = product->SeenTemplates(*valid);
    evals.push_back(EvaluateSplit("model", *product, seen, *valid, options.threads));
    if (plain) evals.push_back(EvaluateSplit("baseline", *plain, seen, *valid, options.threads));
  }
  const auto reports = TableRows(evals);
  std::fprintf(stderr, "model written to %s\n", out.c_str());
  if (!reports.empty()) {
    std::printf("validation on %s (%s)\n", args.Get("valid").c_str(),
                valid_report.Summary().c_str());
    PrintEvalTable(reports);
    std::string md = "# Risk model evaluation\n\nTrained on `" + args.Get("train") +
                     "`, evaluated on `" + args.Get("valid") +
                     "` (a later period; never used for training or tuning).\n\n" +
                     "| model | rows | AUC | precision @1/2/5/10 % | recall @1/2/5/10 % | critical "
                     "recall @1/2/5/10 % |\n"
                     "|---|---|---|---|---|---|\n";
    for (const auto& [name, r] : reports) {
      auto row = [](const std::map<int, double>& m) {
        return FormatFixed(m.at(1), 3) + " / " + FormatFixed(m.at(2), 3) + " / " +
               FormatFixed(m.at(5), 3) + " / " + FormatFixed(m.at(10), 3);
      };
      md += "| " + name + " | " + std::to_string(r.rows) + " | " + FormatFixed(r.auc, 3) + " | " +
            row(r.precision_at) + " | " + row(r.recall_at) + " | " + row(r.critical_recall_at) +
            " |\n";
    }
    md +=
        "\nRows named *unseen* are the declarations whose goods template (HS6, net mass, declared "
        "value, origin, tax type and tax rate) never occurs in the training file.\n";
    md += "\n```json\n";
    for (const auto& e : evals)
      md += "{\"model\":\"" + e.name + "\"," + e.ToJson().substr(1) + "\n";
    md += "```\n";
    if (Status s = WriteFileAtomic(out + "/report.md", md); !s.ok()) return Fail(s);
  }
  return 0;
}

int CmdModelEval(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "json"});
  if (int rc = CheckArgs(args, {"model", "input", "format", "json", "threads", "help"}, kEvalUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("model") || !args.Has("input"))
    return Usage("--model and --input are required", kEvalUsage);
  long long threads;
  if (!args.GetInt("threads", 2, &threads) || threads < 1)
    return Usage("--threads must be >= 1", kEvalUsage);
  auto m = RiskModel::Load(args.Get("model"));
  if (!m.ok()) return Fail(m.status());
  IngestReport report;
  auto batch = LoadInput(args, "input", &report, args.Has("json"));
  if (!batch.ok()) return Fail(batch.status());
  const std::vector<bool> seen = m->SeenTemplates(*batch);
  if (seen.empty())
    std::fprintf(stderr,
                 "note: %s keeps no training templates (trained before they were kept): no "
                 "unseen-template split; train it again for one\n",
                 args.Get("model").c_str());
  std::vector<SplitEval> evals{EvaluateSplit("model", *m, seen, *batch, static_cast<int>(threads))};
  if (evals[0].all.frauds == 0 && evals[0].all.rows == 0)
    return Fail(Status::InvalidArgument(
        args.Get("input") + ": no declaration carries a fraud outcome to evaluate against"));
  auto base = RiskModel::Load(args.Get("model") + "/baseline");
  if (base.ok())
    evals.push_back(EvaluateSplit("baseline", *base, seen, *batch, static_cast<int>(threads)));
  if (args.Has("json")) {
    std::string j = evals[0].ToJson();
    if (evals.size() > 1)
      j = j.substr(0, j.size() - 1) + ",\"baseline\":" + evals[1].ToJson() + "}";
    std::printf("%s\n", j.c_str());
  } else {
    PrintEvalTable(TableRows(evals));
  }
  return 0;
}

int CmdScore(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args,
                         {"model", "input", "out", "format", "rates", "respond", "red-share",
                          "red-count", "yellow-share", "control-share", "lane", "seed", "explain",
                          "threads", "rejects", "rules", "history", "help"},
                         kScoreUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("model") || !args.Has("input") || !args.Has("out"))
    return Usage("--model, --input and --out are required", kScoreUsage);
  SelectionOptions sel;
  long long threads, red_count, seed;
  if (!args.GetDouble("red-share", sel.red_share, &sel.red_share) || sel.red_share < 0 ||
      sel.red_share > 1)
    return Usage("--red-share must be in [0, 1]", kScoreUsage);
  if (!args.GetDouble("yellow-share", sel.yellow_share, &sel.yellow_share) ||
      sel.yellow_share < 0 || sel.yellow_share > 1)
    return Usage("--yellow-share must be in [0, 1]", kScoreUsage);
  if (!args.GetDouble("control-share", sel.control_share, &sel.control_share) ||
      sel.control_share < 0 || sel.control_share > 1)
    return Usage("--control-share must be in [0, 1]", kScoreUsage);
  if (!args.GetInt("red-count", -1, &red_count))
    return Usage("--red-count must be a whole number", kScoreUsage);
  if (!args.GetInt("seed", 1, &seed)) return Usage("--seed must be a whole number", kScoreUsage);
  if (!args.GetInt("threads", 2, &threads) || threads < 1)
    return Usage("--threads must be >= 1", kScoreUsage);
  sel.red_count = red_count;
  sel.seed = static_cast<uint64_t>(seed);
  sel.lane_field = args.Get("lane", "office_id");
  std::string explain = args.Get("explain", "flagged");
  if (explain != "flagged" && explain != "all" && explain != "none")
    return Usage("--explain must be flagged, all or none", kScoreUsage);

  ReadOptions read;
  if (int rc = ReadFlags(args, kScoreUsage, &read)) return rc;
  auto m = RiskModel::Load(args.Get("model"));
  if (!m.ok()) return Fail(m.status());
  IngestReport report;
  auto batch = LoadInput(args, "input", &report, false, &read);
  if (!batch.ok()) return Fail(batch.status());
  if (args.Has("rejects")) {
    if (Status s = WriteRejects(args.Get("rejects"), report); !s.ok()) return Fail(s);
  }
  std::shared_ptr<const RuleSet> rules;
  if (args.Has("rules")) {
    auto loaded = RuleSet::Load(args.Get("rules"));
    if (!loaded.ok()) return Fail(loaded.status());
    rules = std::make_shared<const RuleSet>(std::move(loaded).value());
  }
  std::shared_ptr<const ValuationModel> valuation;
  if (args.Has("history")) {
    auto history = ReadDeclarations(args.Get("history"), read, nullptr);
    if (!history.ok()) return Fail(history.status());
    auto vm = ValuationModel::Fit(*history, ValuationOptions{});
    if (!vm.ok()) return Fail(vm.status());
    valuation = std::make_shared<const ValuationModel>(std::move(vm).value());
  }
  auto model = std::make_shared<const RiskModel>(std::move(m).value());
  DeclarationRiskOptions ro;
  ro.explain_reasons = 0;  // DecideBatch explains only what it flags
  ro.threads = static_cast<int>(threads);
  DeclarationRisk risk(model, valuation, rules, ro);
  BatchDecisionOptions bo;
  bo.selection = sel;
  bo.explain = explain;
  bo.threads = static_cast<int>(threads);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<BatchDecision> decisions = DecideBatch(risk, *batch, bo);
  auto t1 = std::chrono::steady_clock::now();
  std::string out = "declaration_id,score,channel,reasons\n";
  size_t red = 0, yellow = 0, control = 0;
  for (size_t i = 0; i < batch->rows.size(); ++i) {
    const BatchDecision& d = decisions[i];
    red += d.selection.channel == Channel::kRed;
    yellow += d.selection.channel == Channel::kYellow;
    control += d.selection.control;
    AppendCsvField(&out, batch->rows[i].declaration_id);
    out +=
        "," + FormatFixed(d.score, 5) + "," + std::string(ChannelName(d.selection.channel)) + ",";
    AppendCsvField(&out, d.selection.channel == Channel::kGreen && explain != "all"
                             ? std::string()
                             : ReasonsText(d));
    out += "\n";
  }
  if (Status st = WriteFileAtomic(args.Get("out"), out); !st.ok()) return Fail(st);
  if (args.Has("respond")) {
    const std::vector<ConsignmentResponse> responses = ConsignmentResponses(*batch, decisions);
    if (Status st = WriteResponses(args.Get("respond"), responses); !st.ok()) return Fail(st);
    size_t held[3] = {0, 0, 0};
    for (const auto& r : responses) ++held[static_cast<int>(r.action)];
    std::fprintf(stderr,
                 "responses for %zu consignments: release %zu, hold for documents %zu, hold for "
                 "inspection %zu -> %s\n",
                 responses.size(), held[0], held[1], held[2], args.Get("respond").c_str());
  }
  std::fprintf(stderr,
               "decided %zu declarations in %.1f ms (%.0f/s, reasons for %s rows included); red "
               "%zu (control %zu), "
               "yellow %zu, green %zu -> %s\n",
               batch->rows.size(), std::chrono::duration<double, std::milli>(t1 - t0).count(),
               batch->rows.size() / std::max(1e-9, std::chrono::duration<double>(t1 - t0).count()),
               explain.c_str(), red, control, yellow, batch->rows.size() - red - yellow,
               args.Get("out").c_str());
  return 0;
}

}  // namespace clearsight::cli
