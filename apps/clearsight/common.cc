#include <cstdio>
#include <memory>

#include "clearsight/currency_rates.h"
#include "clearsight/file_util.h"
#include "clearsight/text.h"
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

namespace {
bool IsPostgresUrl(const std::string& url) {
  return StartsWith(url, "postgresql:") || StartsWith(url, "postgres:");
}
}  // namespace

std::string AuditKeyPath(const Args& args, bool serving) {
  if (args.Has("audit-key")) return args.Get("audit-key");
  const std::string db = args.Get("db", "clearsight.db");
  if (IsPostgresUrl(db)) return "";
  std::string path = (StartsWith(db, "sqlite:") ? db.substr(7) : db) + ".audit-key";
  return serving || FileExists(path) ? path : "";
}

Result<std::unique_ptr<Store>> OpenStoreFromArgs(const Args& args) {
  StoreOptions o;
  o.url = args.Get("db", "clearsight.db");
  o.images_dir = args.Get("images");
  o.read_connections = 1;
  o.audit_key_path = AuditKeyPath(args, /*serving=*/false);
  return Store::Open(o);
}

}  // namespace clearsight::cli
