#include <chrono>
#include <cstdio>

#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "clearsight/valuation.h"
#include "commands.h"

namespace clearsight::cli {

namespace {
const char kUsage[] =
    "usage: clearsight valuation --history FILE --input FILE --out FILE [--format "
    "native|jsonl|kcs|auto]\n"
    "                            [--rejects FILE] [--flag-rate 0.05] [--threads 2] [--summary "
    "FILE]\n"
    "                            [--importer-min-flows 5]\n\n"
    "Learns reference unit prices from the history (per HS code and origin, falling back to HS6,\n"
    "HS4, HS2) and scores each input declaration for under-valuation. Writes\n"
    "declaration_id,reference_unit_price,unit_price_ratio,undervaluation_score,flagged,revenue_at_"
    "risk,reason\n"
    "  --flag-rate R   share of the history's own flows the flag threshold lets through (default "
    "0.05)\n"
    "  --rejects FILE  rejected records of both files, with file, line, field and reason\n"
    "  --summary FILE  JSON summary of the price groups and lines\n"
    "  --importer-min-flows N  flows of its own an importer needs in a group before its own price\n"
    "                  level is used (default 5)\n";

const char kEvalUsage[] =
    "usage: clearsight valuation eval --flows FILE [--seeds 10] [--json]\n\n"
    "Injects known under-valuations (value x 0.2..0.6) into held-out real trade flows and reports\n"
    "the recall of injected rows at a 5 % false-flag rate on honest rows, beside the naive "
    "baseline\n"
    "(ratio to the history's median unit price). FILE: 'quantity value' or 'weight units value' "
    "lines.\n";

Result<DeclarationBatch> Load(const Args& args, const std::string& flag, IngestReport* report) {
  ReadOptions options;
  CS_ASSIGN_OR_RETURN(options.format, ParseDeclarationFormat(args.Get("format", "auto")));
  IngestReport local;
  auto batch = ReadDeclarations(args.Get(flag), options, &local);
  if (!batch.ok()) return batch.status();
  for (size_t i = 0; i < local.rejections.size() && i < 10; ++i)
    std::fprintf(stderr, "rejected %s\n", local.rejections[i].ToString().c_str());
  if (local.rejections.size() > 10)
    std::fprintf(stderr, "... and %zu more rejections\n", local.rejections.size() - 10);
  std::fprintf(stderr, "%s: %s\n", args.Get(flag).c_str(), local.Summary().c_str());
  report->Merge(local);
  return batch;
}
}  // namespace

int CmdValuation(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args,
                         {"history", "input", "out", "format", "rejects", "flag-rate", "threads",
                          "summary", "importer-min-flows", "help"},
                         kUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("history") || !args.Has("input") || !args.Has("out"))
    return Usage("--history, --input and --out are required", kUsage);
  ValuationOptions options;
  long long threads;
  if (!args.GetDouble("flag-rate", options.flag_rate, &options.flag_rate) ||
      options.flag_rate <= 0 || options.flag_rate >= 1)
    return Usage("--flag-rate must be between 0 and 1", kUsage);
  if (!args.GetInt("threads", 2, &threads) || threads < 1)
    return Usage("--threads must be >= 1", kUsage);
  options.threads = static_cast<int>(threads);
  long long importer_min;
  if (!args.GetInt("importer-min-flows", options.importer_min_flows, &importer_min) ||
      importer_min < 1)
    return Usage("--importer-min-flows must be a whole number >= 1", kUsage);
  options.importer_min_flows = static_cast<int>(importer_min);
  IngestReport report;
  auto history = Load(args, "history", &report);
  if (!history.ok()) return Fail(history.status());
  auto input = Load(args, "input", &report);
  if (!input.ok()) return Fail(input.status());
  if (args.Has("rejects")) {
    if (Status s = WriteRejects(args.Get("rejects"), report); !s.ok()) return Fail(s);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto model = ValuationModel::Fit(*history, options);
  if (!model.ok()) return Fail(model.status().WithContext(args.Get("history")));
  auto t1 = std::chrono::steady_clock::now();
  if (model->num_groups() == 0)
    std::fprintf(stderr,
                 "warning: %s has too few usable flows for any reference price (a group needs %d); "
                 "every declaration is scored 'no reference'\n",
                 args.Get("history").c_str(), options.min_group_flows);
  auto results = model->ScoreAll(*input);
  auto t2 = std::chrono::steady_clock::now();
  std::string out =
      "declaration_id,reference_unit_price,unit_price_ratio,undervaluation_score,flagged,revenue_"
      "at_risk,reason\n";
  size_t flagged = 0;
  double revenue = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    flagged += r.flagged;
    revenue += r.revenue_at_risk;
    AppendCsvField(&out, input->rows[i].declaration_id);
    out += "," + FormatDouble(r.reference_unit_price) + "," + FormatDouble(r.unit_price_ratio) +
           "," + FormatDouble(r.undervaluation_score) + "," + (r.flagged ? "1" : "0") + "," +
           FormatFixed(r.revenue_at_risk, 2) + ",";
    AppendCsvField(&out, r.reason);
    out += "\n";
  }
  if (Status s = WriteFileAtomic(args.Get("out"), out); !s.ok()) return Fail(s);
  if (args.Has("summary")) {
    if (Status s = WriteFileAtomic(args.Get("summary"), model->SummaryJson() + "\n"); !s.ok())
      return Fail(s);
  }
  std::fprintf(stderr,
               "fitted %zu price groups on %zu history rows (%lld skipped: no positive mass and "
               "value) in %.0f ms; "
               "scored %zu declarations in %.0f ms: %zu flagged, revenue at risk %.2f -> %s\n",
               model->num_groups(), history->rows.size(),
               static_cast<long long>(model->skipped_rows()),
               std::chrono::duration<double, std::milli>(t1 - t0).count(), results.size(),
               std::chrono::duration<double, std::milli>(t2 - t1).count(), flagged, revenue,
               args.Get("out").c_str());
  return 0;
}

int CmdValuationEval(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "json"});
  if (int rc = CheckArgs(args, {"flows", "seeds", "json", "help"}, kEvalUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("flows")) return Usage("--flows is required", kEvalUsage);
  long long seeds;
  if (!args.GetInt("seeds", 10, &seeds) || seeds < 1 || seeds > 1000)
    return Usage("--seeds must be 1..1000", kEvalUsage);
  auto flows = ReadTradeFlows(args.Get("flows"));
  if (!flows.ok()) return Fail(flows.status());
  InjectionResult r =
      EvaluateInjectedUndervaluation(*flows, static_cast<int>(seeds), ValuationOptions{});
  if (args.Has("json")) {
    std::printf(
        "{\"flows\":%zu,\"seeds\":%d,\"recall_mean\":%.4f,\"recall_min\":%.4f,\"baseline_mean\":%."
        "4f,"
        "\"baseline_min\":%.4f}\n",
        flows->size(), r.seeds, r.recall_mean, r.recall_min, r.baseline_mean, r.baseline_min);
  } else {
    std::printf(
        "%s: %zu flows, %d seeds; recall of injected under-valuation at 5 %% honest flags\n",
        args.Get("flows").c_str(), flows->size(), r.seeds);
    std::printf("  %-30s %6s %6s\n", "", "mean", "min");
    std::printf("  %-30s %6.3f %6.3f\n", "clearsight (chosen reference)", r.recall_mean,
                r.recall_min);
    std::printf("  %-30s %6.3f %6.3f\n", "naive: median unit price/kg", r.baseline_mean,
                r.baseline_min);
    std::printf("  %-30s %+6.3f\n", "clearsight - naive", r.recall_mean - r.baseline_mean);
  }
  return 0;
}

}  // namespace clearsight::cli
