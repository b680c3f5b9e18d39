#include <cstdio>

#include "clearsight/declarations.h"
#include "commands.h"

namespace clearsight::cli {

namespace {
const char kValidateUsage[] =
    "usage: clearsight validate --input FILE [--format native|jsonl|kcs|auto] [--rejects FILE]\n"
    "                           [--out FILE]\n\n"
    "Reads declarations, validates every record and prints a summary. Each rejected record is\n"
    "named with file, line, field and reason.\n"
    "  --input FILE     declarations (CSV with a header row, or JSONL)\n"
    "  --format NAME    input format (default auto: by extension and header)\n"
    "  --rejects FILE   write the rejected records with reasons as CSV\n"
    "  --out FILE       write the accepted records in the native CSV schema\n";
}  // namespace

int CmdValidate(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args, {"input", "format", "rejects", "out", "help"}, kValidateUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("input")) return Usage("--input is required", kValidateUsage);
  ReadOptions options;
  auto format = ParseDeclarationFormat(args.Get("format", "auto"));
  if (!format.ok()) return Usage(format.status().message(), kValidateUsage);
  options.format = *format;
  IngestReport report;
  auto batch = ReadDeclarations(args.Get("input"), options, &report);
  if (!batch.ok()) return Fail(batch.status());
  for (size_t i = 0; i < report.rejections.size() && i < 20; ++i)
    std::fprintf(stderr, "rejected %s\n", report.rejections[i].ToString().c_str());
  if (report.rejections.size() > 20)
    std::fprintf(stderr, "... and %zu more rejections\n", report.rejections.size() - 20);
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
