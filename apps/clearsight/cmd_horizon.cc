// clearsight horizon: emerging trends in the declarations (include/clearsight/horizon.h).
#include <chrono>
#include <cstdio>
#include <optional>
#include <unordered_map>

#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/horizon.h"
#include "clearsight/horizon_store.h"
#include "clearsight/text.h"
#include "commands.h"

namespace clearsight::cli {

namespace {
const char kUsage[] =
    "usage: clearsight horizon --declarations FILE --since YYYY-MM-DD --json OUT.json\n"
    "                          [--outcomes FILE] [--out report.html]\n"
    "       clearsight horizon --db URL [--images DIR] --since YYYY-MM-DD --json OUT.json\n"
    "                          [--out report.html] [--max-declarations 1000000]\n"
    "                          [--format native|jsonl|kcs|auto]\n"
    "                          [--baseline-weeks 52] [--fdr 0.05] [--min-count 5]\n"
    "                          [--chart-js PATH] [--threads 2]\n\n"
    "Finds what changed from --since on, against the weeks before it: volume shifts, new routes\n"
    "(goods from a new origin, an origin to a new office), new importers, unit price drops,\n"
    "hit-rate shifts (from the declarations' inspected and fraud outcome columns) and, with --db,\n"
    "shifts in the X-ray findings per route. Thousands of series are tested at once with the\n"
    "false-discovery rate held per kind; each signal has its effect, q-value, start and weekly\n"
    "series. docs/horizon.md describes the methods.\n"
    "  --db URL            scan the store's declarations instead of a file, each with its\n"
    "                      consignment's latest outcome (fraud: any result but 'nothing'), and\n"
    "                      the findings of their consignments' X-ray scans (finding shifts)\n"
    "  --max-declarations N  with --db: refuse a window holding more (1..1000000)\n"
    "  --json OUT.json     every signal, ranked per kind\n"
    "  --outcomes FILE     inspection outcomes, CSV with declaration_id and fraud (0/1), and\n"
    "                      optionally inspected (0/1, default 1): they replace the outcome\n"
    "                      columns of the declarations they name\n"
    "  --out report.html   one page: tables and the strongest signals' series, plotted with\n"
    "                      Chart.js (Debian libjs-chart.js; --chart-js names another copy)\n"
    "  --baseline-weeks N  weeks before --since to compare with (4..520, default 52)\n"
    "  --fdr Q             false-discovery rate per kind (0.001..0.2, default 0.05)\n"
    "  --min-count N       declarations a new route or importer needs (default 5)\n"
    "  --threads N         threads that aggregate the series (1..8, default 2)\n";

constexpr char kDefaultChartJs[] = "/usr/share/javascript/chart.js/chart.min.js";

// Reads an outcomes CSV (declaration_id, fraud, optional inspected) into the batch. Fails naming
// the file and line of the first bad record; ids the batch does not have are counted.
Status MergeOutcomes(const std::string& path, DeclarationBatch* batch, int64_t* merged,
                     int64_t* unknown) {
  CS_ASSIGN_OR_RETURN(std::string text, ReadFile(path, size_t{1} << 30));
  std::unordered_map<std::string_view, size_t> row_of;
  for (size_t i = 0; i < batch->rows.size(); ++i)
    row_of.emplace(std::string_view(batch->rows[i].declaration_id), i);
  int id_col = -1, fraud_col = -1, inspected_col = -1;
  size_t columns = 0;
  int64_t line_no = 0;
  *merged = *unknown = 0;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Trim(line).empty()) continue;
    const auto f = Split(line, ',');
    auto where = [&] { return path + ":" + std::to_string(line_no) + ": "; };
    if (id_col < 0) {  // the header
      for (size_t c = 0; c < f.size(); ++c) {
        const std::string_view name = Trim(f[c]);
        if (name == "declaration_id") id_col = static_cast<int>(c);
        if (name == "fraud") fraud_col = static_cast<int>(c);
        if (name == "inspected") inspected_col = static_cast<int>(c);
      }
      if (id_col < 0 || fraud_col < 0)
        return Status::InvalidArgument(where() + "the header needs declaration_id and fraud");
      columns = f.size();
      continue;
    }
    if (f.size() != columns)
      return Status::InvalidArgument(where() + "has " + std::to_string(f.size()) +
                                     " fields, the header has " + std::to_string(columns));
    auto flag = [&](int col, const char* name, int8_t* out) -> Status {
      const std::string_view v = Trim(f[static_cast<size_t>(col)]);
      if (v != "0" && v != "1")
        return Status::InvalidArgument(where() + name + " must be 0 or 1, got '" + Excerpt(v, 20) +
                                       "'");
      *out = v == "1" ? 1 : 0;
      return Status::Ok();
    };
    int8_t fraud = 0, inspected = 1;
    CS_RETURN_IF_ERROR(flag(fraud_col, "fraud", &fraud));
    if (inspected_col >= 0) CS_RETURN_IF_ERROR(flag(inspected_col, "inspected", &inspected));
    auto it = row_of.find(Trim(f[static_cast<size_t>(id_col)]));
    if (it == row_of.end()) {
      ++*unknown;
      continue;
    }
    Declaration& d = batch->rows[it->second];
    d.inspected = inspected;
    d.fraud = inspected ? fraud : -1;
    ++*merged;
  }
  if (id_col < 0) return Status::InvalidArgument(path + ": empty outcomes file");
  return Status::Ok();
}
}  // namespace

int CmdHorizon(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args,
                         {"declarations", "since", "json", "out", "format", "baseline-weeks", "fdr",
                          "min-count", "chart-js", "threads", "outcomes", "db", "images",
                          "audit-key", "max-declarations", "help"},
                         kUsage))
    return rc < 0 ? 0 : rc;
  const bool from_store = args.Has("db");
  if (from_store == args.Has("declarations"))
    return Usage("give one of --declarations FILE and --db URL", kUsage);
  if (!args.Has("since") || !args.Has("json"))
    return Usage("--since and --json are required", kUsage);
  if (from_store && args.Has("outcomes"))
    return Usage("--outcomes goes with --declarations: with --db the store's outcomes are used",
                 kUsage);
  if (from_store && args.Has("format")) return Usage("--format goes with --declarations", kUsage);
  long long max_declarations = 0;
  if (!args.GetInt("max-declarations", kHorizonMaxDeclarations, &max_declarations) ||
      max_declarations < 1 || max_declarations > kHorizonMaxDeclarations)
    return Usage("--max-declarations must be 1..1000000", kUsage);
  HorizonOptions o;
  if (!ParseDate(args.Get("since"), &o.since))
    return Usage("--since must be a date YYYY-MM-DD, got '" + args.Get("since") + "'", kUsage);
  long long weeks, min_count, threads;
  if (!args.GetInt("threads", o.threads, &threads) || threads < 1 || threads > 8)
    return Usage("--threads must be 1..8", kUsage);
  o.threads = static_cast<int>(threads);
  if (!args.GetInt("baseline-weeks", o.baseline_weeks, &weeks) || weeks < 4 || weeks > 520)
    return Usage("--baseline-weeks must be 4..520", kUsage);
  if (!args.GetDouble("fdr", o.fdr, &o.fdr) ||
      !(o.fdr >= kHorizonMinFdr && o.fdr <= kHorizonMaxFdr))
    return Usage("--fdr must be 0.001..0.2", kUsage);
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
  const auto t0 = std::chrono::steady_clock::now();
  DeclarationBatch batch;
  std::optional<std::vector<HorizonScan>> scans;  // none from a declarations file
  if (from_store) {
    auto store = OpenStoreFromArgs(args);
    if (!store.ok()) return Fail(store.status());
    auto history = ReadHorizonHistory(**store, o, max_declarations);
    if (!history.ok()) return Fail(history.status().WithContext(args.Get("db")));
    std::fprintf(stderr,
                 "%s: %zu declarations %s..%s, %lld with an outcome, %lld unreadable left out; "
                 "%zu assessed scans, %lld with unreadable findings left out\n",
                 args.Get("db").c_str(), history->batch.rows.size(),
                 FormatDate(history->from).c_str(), FormatDate(history->to).c_str(),
                 static_cast<long long>(history->with_outcome),
                 static_cast<long long>(history->unreadable), history->scans.size(),
                 static_cast<long long>(history->scans_unreadable));
    batch = std::move(history->batch);
    scans = std::move(history->scans);
  } else {
    ReadOptions ro;
    auto format = ParseDeclarationFormat(args.Get("format", "auto"));
    if (!format.ok()) return Fail(format.status());
    ro.format = *format;
    IngestReport ir;
    auto read = ReadDeclarations(args.Get("declarations"), ro, &ir);
    if (!read.ok()) return Fail(read.status());
    batch = std::move(read).value();
    for (size_t i = 0; i < ir.rejections.size() && i < 10; ++i)
      std::fprintf(stderr, "rejected %s\n", ir.rejections[i].ToString().c_str());
    std::fprintf(stderr, "%s: %s\n", args.Get("declarations").c_str(), ir.Summary().c_str());
    if (args.Has("outcomes")) {
      int64_t merged = 0, unknown = 0;
      if (Status s = MergeOutcomes(args.Get("outcomes"), &batch, &merged, &unknown); !s.ok())
        return Fail(s);
      std::fprintf(stderr, "%s: %lld outcomes merged, %lld for declarations not in the file\n",
                   args.Get("outcomes").c_str(), static_cast<long long>(merged),
                   static_cast<long long>(unknown));
    }
  }
  auto report = scans ? ScanHorizon(batch, *scans, o) : ScanHorizon(batch, o);
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
