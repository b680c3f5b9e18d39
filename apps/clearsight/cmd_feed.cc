// feed: an integrator's tool that sends declaration files and scans to a running service.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "clearsight/client.h"
#include "clearsight/file_util.h"
#include "commands.h"

namespace clearsight::cli {

namespace {
const char kUsage[] =
    "usage: clearsight feed --url http://HOST:PORT --user NAME (--password-env VAR | "
    "--password-stdin)\n"
    "                       [--declarations FILE [--format csv|kcs|jsonl]] [--scans "
    "DIR|FILE.tif]\n\n"
    "Sends declarations (one request per file) and scans (scan format v1: each .tif with its "
    ".json\n"
    "sidecar) to a running `clearsight serve`, and prints what the service decided. Re-sending "
    "the\n"
    "same records is harmless: the service answers 'unchanged'.\n";
}  // namespace

int CmdFeed(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "password-stdin"});
  if (int rc = CheckArgs(args,
                         {"url", "user", "password-env", "password-stdin", "declarations", "format",
                          "scans", "help"},
                         kUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("user")) return Usage("--user is required", kUsage);
  if (!args.Has("declarations") && !args.Has("scans"))
    return Usage("give --declarations and/or --scans", kUsage);
  ClientOptions o;
  o.base_url = args.Get("url", "http://127.0.0.1:8080");
  o.username = args.Get("user");
  if (args.Has("password-env")) {
    const char* p = std::getenv(args.Get("password-env").c_str());
    if (p == nullptr)
      return Usage("environment variable " + args.Get("password-env") + " is not set", kUsage);
    o.password = p;
  } else if (args.Has("password-stdin")) {
    std::getline(std::cin, o.password);
  } else {
    return Usage("give --password-env VAR or --password-stdin", kUsage);
  }
  auto client = ServiceClient::Connect(o);
  if (!client.ok()) return Fail(client.status());
  int rc = 0;
  if (args.Has("declarations")) {
    std::string format = args.Get("format", "csv");
    if (format != "csv" && format != "kcs" && format != "jsonl")
      return Usage("--format must be csv, kcs or jsonl", kUsage);
    auto content = ReadFile(args.Get("declarations"), size_t{1} << 30);
    if (!content.ok()) return Fail(content.status());
    auto r = (*client)->PostDeclarations(*content, format);
    if (!r.ok()) return Fail(r.status());
    auto j = nlohmann::json::parse(*r, nullptr, false);
    // A scale-out service (serve --nats) queues what it accepted: its workers decide later.
    const std::string queued =
        j.contains("queued") ? ", queued " + std::to_string(j.value("queued", 0LL)) : "";
    std::printf(
        "%s: accepted %lld, rejected %lld; created %lld%s, unchanged %lld, conflicts %lld, "
        "errors %lld\n",
        args.Get("declarations").c_str(), j.value("accepted", 0LL), j.value("rejected", 0LL),
        j.value("created", 0LL), queued.c_str(), j.value("unchanged", 0LL),
        j.value("conflicts", 0LL), j.value("errors", 0LL));
    if (j.contains("rejections"))
      for (const auto& rej : j["rejections"])
        std::fprintf(stderr, "rejected %s:%lld: %s%s\n", args.Get("declarations").c_str(),
                     rej.value("line", 0LL),
                     rej.value("field", "").empty()
                         ? ""
                         : ("field '" + rej.value("field", "") + "': ").c_str(),
                     rej.value("reason", "").c_str());
    if (j.value("conflicts", 0LL) + j.value("errors", 0LL) > 0) rc = 1;
  }
  if (args.Has("scans")) {
    namespace fs = std::filesystem;
    std::vector<fs::path> files;
    fs::path p = args.Get("scans");
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (const auto& e : fs::directory_iterator(p, ec))
        if (e.path().extension() == ".tif" || e.path().extension() == ".tiff")
          files.push_back(e.path());
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(p);
    }
    int sent = 0, failed = 0;
    for (const auto& f : files) {
      fs::path side = f;
      side.replace_extension(".json");
      auto tiff = ReadFile(f.string(), size_t{1} << 30);
      auto sidecar = ReadFile(side.string(), 1 << 20);
      if (!tiff.ok() || !sidecar.ok()) {
        std::fprintf(stderr, "error: %s\n",
                     (!tiff.ok() ? tiff.status() : sidecar.status()).message().c_str());
        ++failed;
        continue;
      }
      auto r = (*client)->PostScan(*tiff, *sidecar);
      if (!r.ok()) {
        std::fprintf(stderr, "error: %s: %s\n", f.string().c_str(), r.status().message().c_str());
        ++failed;
        continue;
      }
      auto j = nlohmann::json::parse(*r, nullptr, false);
      ++sent;
      if (!j.is_discarded() && j.contains("decision"))
        std::printf("%s: %s, consignment %s -> %s (score %.3f)\n", f.filename().string().c_str(),
                    j.value("result", "").c_str(),
                    j["decision"].value("consignment_id", "").c_str(),
                    j["decision"].value("channel", "").c_str(), j["decision"].value("score", 0.0));
      else if (!j.is_discarded() && j.value("result", "") == "queued")
        std::printf("%s: queued, consignment %s\n", f.filename().string().c_str(),
                    j["scan"].value("consignment_id", "").c_str());
    }
    std::printf("scans: %d sent, %d failed\n", sent, failed);
    if (failed) rc = 1;
  }
  return rc;
}

}  // namespace clearsight::cli
