#include <cstdio>

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

int OptionsRefused(const Status& status, const std::string& usage) {
  return status.code() == StatusCode::kInvalidArgument ? Usage(status.message(), usage)
                                                       : Fail(status);
}

}  // namespace clearsight::cli
