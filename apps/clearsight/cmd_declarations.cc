#include <cstdio>

#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/postal.h"
#include "clearsight/text.h"
#include "commands.h"

namespace clearsight::cli {

namespace {
const char kValidateUsage[] =
    "usage: clearsight validate --input FILE [--format native|jsonl|kcs|ead|h7|h7xml|auto]\n"
    "                           [--rates FILE] [--rejects FILE] [--out FILE]\n\n"
    "Reads declarations, validates every record and prints a summary. Each rejected record is\n"
    "named with file, line, field and reason.\n"
    "  --input FILE     declarations (CSV with a header row, JSONL, postal EAD or H7 XML)\n"
    "  --format NAME    input format (default auto: by XML root, extension and header)\n"
    "  --rates FILE     currency rates (currency,per_<BASE>[,valid_from,valid_to]): values are\n"
    "                   converted into the base currency; a missing rate rejects the record\n"
    "  --rejects FILE   write the rejected records with reasons as CSV\n"
    "  --out FILE       write the accepted records in the native CSV schema\n";

const char kGenerateUsage[] =
    "usage: clearsight postal-generate --out FILE [--items 100] [--seed 1]\n"
    "                                  [--format ead|h7|h7xml] [--invalid-share 0.1]\n"
    "                                  [--vague-share 0.2] [--from 2024-01-01] [--days 30]\n"
    "                                  [--rates-out FILE] [--faults-out FILE]\n\n"
    "Writes realistic postal items (docs/declarations.md, \"Generated postal items\"): S10 ids,\n"
    "items of 1..5 content pieces, vague descriptions, several currencies. A share of the items\n"
    "carries one planted fault: a wrong S10 check digit, a piece without description or value,\n"
    "a currency without a rate, or pieces heavier than the item.\n"
    "  --rates-out FILE   a rates table (per EUR) for every currency used but the faulty one\n"
    "  --faults-out FILE  the planted faults as CSV: item_id,piece,field,line,kind,records,what\n";
}  // namespace

int CmdPostalGenerate(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args,
                         {"out", "items", "seed", "format", "invalid-share", "vague-share", "from",
                          "days", "rates-out", "faults-out", "help"},
                         kGenerateUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("out")) return Usage("--out is required", kGenerateUsage);
  PostalGeneratorOptions o;
  long long items, seed, days;
  if (!args.GetInt("items", 100, &items) || items < 0 || items > 50'000'000)
    return Usage("--items must be a whole number from 0 to 50000000", kGenerateUsage);
  if (!args.GetInt("seed", 1, &seed) || seed < 0)
    return Usage("--seed must be a non-negative whole number", kGenerateUsage);
  if (!args.GetInt("days", 30, &days) || days < 1 || days > 3660)
    return Usage("--days must be a whole number from 1 to 3660", kGenerateUsage);
  if (!args.GetDouble("invalid-share", o.invalid_share, &o.invalid_share) ||
      !(o.invalid_share >= 0 && o.invalid_share <= 1))
    return Usage("--invalid-share must be in [0, 1]", kGenerateUsage);
  if (!args.GetDouble("vague-share", o.vague_share, &o.vague_share) ||
      !(o.vague_share >= 0 && o.vague_share <= 1))
    return Usage("--vague-share must be in [0, 1]", kGenerateUsage);
  if (args.Has("from") && !ParseDate(args.Get("from"), &o.first_day))
    return Usage("--from must be a date YYYY-MM-DD", kGenerateUsage);
  auto format = ParsePostalFormat(args.Get("format", "ead"));
  if (!format.ok()) return Usage(format.status().message(), kGenerateUsage);
  o.format = *format;
  o.items = items;
  o.seed = static_cast<uint64_t>(seed);
  o.days = static_cast<int>(days);
  auto gen = GeneratePostalItems(o);
  if (!gen.ok()) return Fail(gen.status());
  if (Status s = WriteFileAtomic(args.Get("out"), gen->text); !s.ok()) return Fail(s);
  if (args.Has("rates-out")) {
    if (Status s = WriteFileAtomic(args.Get("rates-out"), gen->rates_csv); !s.ok()) return Fail(s);
  }
  if (args.Has("faults-out")) {
    std::string csv = "item_id,piece,field,line,kind,records,what\n";
    for (const auto& f : gen->faults) {
      AppendCsvField(&csv, f.item_id);
      csv += "," + std::to_string(f.piece) + ",";
      AppendCsvField(&csv, f.field);
      csv += "," + std::to_string(f.line) + "," + (f.flag ? "flag" : "reject") + "," +
             std::to_string(f.records) + ",";
      AppendCsvField(&csv, f.what);
      csv += "\n";
    }
    if (Status s = WriteFileAtomic(args.Get("faults-out"), csv); !s.ok()) return Fail(s);
  }
  std::fprintf(stderr,
               "%s: %lld items, %lld content pieces (%lld to be accepted), %zu planted faults\n",
               args.Get("out").c_str(), static_cast<long long>(gen->items),
               static_cast<long long>(gen->pieces), static_cast<long long>(gen->good_pieces),
               gen->faults.size());
  return 0;
}

int CmdValidate(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc =
          CheckArgs(args, {"input", "format", "rates", "rejects", "out", "help"}, kValidateUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("input")) return Usage("--input is required", kValidateUsage);
  ReadOptions options;
  if (int rc = ReadFlags(args, kValidateUsage, &options)) return rc;
  IngestReport report;
  auto batch = ReadDeclarations(args.Get("input"), options, &report);
  if (!batch.ok()) return Fail(batch.status());
  PrintIngestProblems(report, 20);
  if (args.Has("rejects")) {
    if (Status s = WriteRejects(args.Get("rejects"), report); !s.ok()) return Fail(s);
  }
  if (args.Has("out")) {
    if (Status s = WriteDeclarationsCsv(args.Get("out"), *batch); !s.ok()) return Fail(s);
  }
  std::printf("%s: %s\n", args.Get("input").c_str(), report.Summary().c_str());
  return report.accepted > 0 ? 0 : 1;
}

}  // namespace clearsight::cli
