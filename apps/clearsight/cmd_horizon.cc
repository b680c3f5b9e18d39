// clearsight horizon: emerging trends in the declarations (include/clearsight/horizon.h).
#include <chrono>
#include <cstdio>

#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/horizon.h"
#include "clearsight/text.h"
#include "commands.h"

namespace clearsight::cli {

namespace {
const char kUsage[] =
    "usage: clearsight horizon --declarations FILE --since YYYY-MM-DD --json OUT.json\n"
    "                          [--out report.html] [--format native|jsonl|kcs|auto]\n"
    "                          [--baseline-weeks 52] [--fdr 0.05] [--min-count 5]\n"
    "                          [--chart-js PATH] [--threads 2]\n\n"
    "Finds what changed from --since on, against the weeks before it: volume shifts, new routes\n"
    "(goods from a new origin, an origin to a new office), new importers, unit price drops, and\n"
    "hit-rate shifts (from the declarations' inspected and fraud outcome columns). Thousands of\n"
    "series are tested at once with the false-discovery rate held per kind; each signal has its\n"
    "effect, q-value, start and weekly series. docs/horizon.md describes the methods.\n"
    "  --json OUT.json     every signal, ranked per kind\n"
    "  --out report.html   one page: tables and the strongest signals' series, plotted with\n"
    "                      Chart.js (Debian libjs-chart.js; --chart-js names another copy)\n"
    "  --baseline-weeks N  weeks before --since to compare with (4..520, default 52)\n"
    "  --fdr Q             false-discovery rate per kind (default 0.05)\n"
    "  --min-count N       declarations a new route or importer needs (default 5)\n"
    "  --threads N         threads that aggregate the series (1..8, default 2)\n";

constexpr char kDefaultChartJs[] = "/usr/share/javascript/chart.js/chart.min.js";
}  // namespace

int CmdHorizon(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args,
                         {"declarations", "since", "json", "out", "format", "baseline-weeks", "fdr",
                          "min-count", "chart-js", "threads", "help"},
                         kUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("declarations") || !args.Has("since") || !args.Has("json"))
    return Usage("--declarations, --since and --json are required", kUsage);
  HorizonOptions o;
  if (!ParseDate(args.Get("since"), &o.since))
    return Usage("--since must be a date YYYY-MM-DD, got '" + args.Get("since") + "'", kUsage);
  long long weeks, min_count, threads;
  if (!args.GetInt("threads", o.threads, &threads) || threads < 1 || threads > 8)
    return Usage("--threads must be 1..8", kUsage);
  o.threads = static_cast<int>(threads);
  if (!args.GetInt("baseline-weeks", o.baseline_weeks, &weeks) || weeks < 4 || weeks > 520)
    return Usage("--baseline-weeks must be 4..520", kUsage);
  if (!args.GetDouble("fdr", o.fdr, &o.fdr) || !(o.fdr > 0 && o.fdr < 1))
    return Usage("--fdr must be in (0, 1)", kUsage);
  if (!args.GetInt("min-count", o.min_recent_count, &min_count) || min_count < 1)
    return Usage("--min-count must be a positive whole number", kUsage);
  o.baseline_weeks = static_cast<int>(weeks);
  o.min_recent_count = static_cast<int>(min_count);
  // The chart library first: a missing one should not cost a long scan.
  std::string chart_js;
  if (args.Has("out")) {
    auto js = ReadFile(args.Get("chart-js", kDefaultChartJs), 16 << 20);
    if (!js.ok())
      return Fail(js.status().WithContext(
          "the report's chart library (Debian package libjs-chart.js, installed by "
          "scripts/install-deps.sh; or --chart-js PATH)"));
    chart_js = std::move(*js);
  }
  ReadOptions ro;
  auto format = ParseDeclarationFormat(args.Get("format", "auto"));
  if (!format.ok()) return Fail(format.status());
  ro.format = *format;
  IngestReport ir;
  const auto t0 = std::chrono::steady_clock::now();
  auto batch = ReadDeclarations(args.Get("declarations"), ro, &ir);
  if (!batch.ok()) return Fail(batch.status());
  for (size_t i = 0; i < ir.rejections.size() && i < 10; ++i)
    std::fprintf(stderr, "rejected %s\n", ir.rejections[i].ToString().c_str());
  std::fprintf(stderr, "%s: %s\n", args.Get("declarations").c_str(), ir.Summary().c_str());
  auto report = ScanHorizon(*batch, o);
  if (!report.ok()) return Fail(report.status());
  if (Status s = WriteFileAtomic(args.Get("json"), HorizonToJson(*report) + "\n"); !s.ok())
    return Fail(s);
  if (args.Has("out")) {
    if (Status s = WriteFileAtomic(args.Get("out"), HorizonToHtml(*report, chart_js)); !s.ok())
      return Fail(s);
  }
  std::map<std::string, int> found;
  for (const auto& s : report->signals) found[s.kind]++;
  std::printf("%lld declarations %s..%s, since %s: %.1f s\n",
              static_cast<long long>(report->declarations), FormatDate(report->from).c_str(),
              FormatDate(report->to).c_str(), FormatDate(report->since).c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  for (const auto& [kind, tested] : report->tested)
    std::printf("  %-15s %6lld series tested, %3d signals\n", kind.c_str(),
                static_cast<long long>(tested), found[kind]);
  for (const auto& s : report->signals)
    if (s.rank <= 3)
      std::printf("  %s #%d: %s (q %.2g)\n", s.kind.c_str(), s.rank, s.summary.c_str(), s.q_value);
  return 0;
}

}  // namespace clearsight::cli
