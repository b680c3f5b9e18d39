// watch: an integrator's drop folder, posted to a running service (clearsight/folder_watch.h).
#include <signal.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "clearsight/folder_watch.h"
#include "commands.h"

namespace clearsight::cli {

namespace {
const char kUsage[] =
    "usage: clearsight watch DIR --url http://HOST:PORT --user NAME\n"
    "                        (--password-env VAR | --password-stdin)\n"
    "                        [--format auto|csv|kcs|jsonl|ead|h7|h7xml] [--interval 2]\n"
    "                        [--responses] [--once]\n\n"
    "Posts every complete declaration file dropped into DIR (postal EAD or H7 XML, H7 or native\n"
    "CSV, JSON Lines) to a running `clearsight serve` and moves it to DIR/done/ (the service took\n"
    "it) or DIR/rejected/ (it refused the file, stored none of it, or some records conflict), "
    "with\n"
    "the service's answer beside it as NAME.report.json (accepted, flagged, rejected with lines).\n"
    "A file is taken once its size and time stood still for one interval; names starting with '.'\n"
    "or ending in .part, .tmp or .partial are left alone. Files claimed when the watcher stopped\n"
    "are finished or posted again at the next start (the service answers a repost 'unchanged').\n"
    "  --interval S   seconds between passes (default 2)\n"
    "  --responses    also write the customs responses (GET /api/responses) to DIR/responses/\n"
    "                 as JSON lines, one file per page; the cursor is kept in\n"
    "                 DIR/responses/.cursor\n"
    "  --once         two passes one interval apart, then exit (scripts, tests)\n"
    "Stops cleanly on SIGINT / SIGTERM, between two files.\n";

const char* ResultName(WatchedFile::Result r) {
  switch (r) {
    case WatchedFile::Result::kDone:
      return "done";
    case WatchedFile::Result::kRejected:
      return "rejected";
    case WatchedFile::Result::kRetry:
      break;
  }
  return "retry";
}
}  // namespace

int CmdWatch(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "password-stdin", "responses", "once"});
  if (int rc = CheckArgs(args,
                         {"url", "user", "password-env", "password-stdin", "format", "interval",
                          "responses", "once", "help"},
                         kUsage))
    return rc < 0 ? 0 : rc;
  if (args.positional().size() != 1) return Usage("give the folder to watch: DIR", kUsage);
  if (!args.Has("user")) return Usage("--user is required", kUsage);
  ClientOptions c;
  c.base_url = args.Get("url", "http://127.0.0.1:8080");
  c.username = args.Get("user");
  if (args.Has("password-env")) {
    const char* p = std::getenv(args.Get("password-env").c_str());
    if (p == nullptr)
      return Usage("environment variable " + args.Get("password-env") + " is not set", kUsage);
    c.password = p;
  } else if (args.Has("password-stdin")) {
    std::getline(std::cin, c.password);
  } else {
    return Usage("give --password-env VAR or --password-stdin", kUsage);
  }
  FolderWatchOptions o;
  o.dir = args.positional()[0];
  o.format = args.Get("format", "auto");
  if (o.format != "auto" && o.format != "csv" && o.format != "kcs" && o.format != "jsonl" &&
      o.format != "ead" && o.format != "h7" && o.format != "h7xml")
    return Usage("--format must be auto, csv, kcs, jsonl, ead, h7 or h7xml", kUsage);
  o.responses = args.Has("responses");
  double interval = 2;
  if (!args.GetDouble("interval", 2, &interval) || !(interval >= 0.05) || interval > 3600)
    return Usage("--interval must be 0.05..3600 seconds", kUsage);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto watcher = FolderWatcher::Create(c, o);
  if (!watcher.ok()) return Fail(watcher.status());
  std::printf("clearsight watch: %s -> %s (every %g s)\n", o.dir.c_str(), c.base_url.c_str(),
              interval);
  std::fflush(stdout);
  timespec wait{};
  wait.tv_sec = static_cast<time_t>(interval);
  wait.tv_nsec = static_cast<long>((interval - std::floor(interval)) * 1e9);
  for (int pass = 0;; ++pass) {
    auto r = (*watcher)->Pass();
    if (!r.ok()) return Fail(r.status());
    for (const auto& f : r->files) {
      if (f.result == WatchedFile::Result::kRetry) {
        std::fprintf(stderr, "%s: not posted yet (%s); retrying\n", f.name.c_str(),
                     f.message.c_str());
        continue;
      }
      std::printf(
          "%s: %s: accepted %lld (created %lld, unchanged %lld), rejected %lld, flagged "
          "%lld%s%s\n",
          f.name.c_str(), ResultName(f.result), static_cast<long long>(f.accepted),
          static_cast<long long>(f.created), static_cast<long long>(f.unchanged),
          static_cast<long long>(f.rejected), static_cast<long long>(f.flagged),
          f.message.empty() ? "" : "; ", f.message.c_str());
    }
    if (r->responses_written > 0)
      std::printf("responses: %lld written\n", static_cast<long long>(r->responses_written));
    std::fflush(stdout);
    if (args.Has("once") && pass >= 1) return 0;
    if (sigtimedwait(&signals, nullptr, &wait) > 0) {
      std::fprintf(stderr, "clearsight watch: stopping\n");
      return 0;
    }
  }
}

}  // namespace clearsight::cli
