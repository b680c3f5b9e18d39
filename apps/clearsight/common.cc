#include <cstdio>
#include <memory>

#include "clearsight/currency_rates.h"
#include "commands.h"

namespace clearsight::cli {

int Fail(const Status& status) {
  std::fprintf(stderr, "error: %s\n", status.message().c_str());
  return status.code() == StatusCode::kInvalidArgument && status.message().rfind("usage", 0) == 0
             ? 2
             : 1;
}

int Usage(const std::string& message, const std::string& usage) {
  if (!message.empty()) std::fprintf(stderr, "error: %s\n\n", message.c_str());
  std::fprintf(message.empty() ? stdout : stderr, "%s", usage.c_str());
  return message.empty() ? 0 : 2;
}

int CheckArgs(const Args& args, const std::set<std::string>& known, const std::string& usage) {
  if (args.Has("help")) return Usage("", usage) == 0 ? -1 : 2;
  // Unknown names first: a misspelt flag at the end of the line has no value after it, and
  // "unknown flag" is what the user needs to hear, not "needs a value".
  auto unknown = args.Unknown(known);
  if (!unknown.empty()) return Usage("unknown flag --" + unknown[0], usage);
  if (!args.error().empty()) return Usage(args.error(), usage);
  return 0;
}

int ReadFlags(const Args& args, const std::string& usage, ReadOptions* options) {
  auto format = ParseDeclarationFormat(args.Get("format", "auto"));
  if (!format.ok()) return Usage(format.status().message(), usage);
  options->format = *format;
  if (args.Has("rates")) {
    auto rates = CurrencyRates::Load(args.Get("rates"));
    if (!rates.ok()) return Fail(rates.status());
    options->rates = std::make_shared<const CurrencyRates>(std::move(rates).value());
  }
  return 0;
}

void PrintIngestProblems(const IngestReport& report, size_t max) {
  for (size_t i = 0; i < report.rejections.size() && i < max; ++i)
    std::fprintf(stderr, "rejected %s\n", report.rejections[i].ToString().c_str());
  if (report.rejections.size() > max)
    std::fprintf(stderr, "... and %zu more rejections\n", report.rejections.size() - max);
  for (size_t i = 0; i < report.warnings.size() && i < max; ++i)
    std::fprintf(stderr, "flagged %s\n", report.warnings[i].ToString().c_str());
  if (report.warnings.size() > max)
    std::fprintf(stderr, "... and %zu more warnings\n", report.warnings.size() - max);
}

int OptionsRefused(const Status& status, const std::string& usage) {
  return status.code() == StatusCode::kInvalidArgument ? Usage(status.message(), usage)
                                                       : Fail(status);
}

}  // namespace clearsight::cli
