// serve, users and audit commands: thin shells over the service and store libraries.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <thread>

#include "clearsight/file_util.h"
#include "clearsight/service.h"
#include "clearsight/store.h"
#include "clearsight/text.h"
#include "commands.h"

namespace clearsight::cli {

namespace {

const char kServeUsage[] =
    "usage: clearsight serve [--db clearsight.db | --db postgresql://...]\n"
    "                        [--port 8080] [--host 127.0.0.1] [--port-file FILE]\n"
    "                        [--model DIR] [--rules FILE] [--valuation-history FILE]\n"
    "                        [--rates FILE]\n"
    "                        [--calibration FILE] [--detector model.pt] [--detector-threads 1]\n"
    "                        [--analysis-threads 4] [--warm-up] [--web DIR] [--images DIR]\n"
    "                        [--threads 32] [--max-connections 1024]\n"
    "                        [--max-connections-per-address 64] [--request-head-timeout 15]\n"
    "                        [--session-hours 12] [--red-share 0.05] [--red-count N]\n"
    "                        [--yellow-share 0.05] [--control-share 0.10] [--seed 1]\n"
    "                        [--exploration-share 0]\n"
    "                        [--over-budget carry-over|supervisor] [--high-risk-score 0.9]\n"
    "                        [--sync full|normal] [--log-requests] [--secure-cookie]\n"
    "                        [--allowed-origin URL,...] [--scan-lane OFFICE]\n"
    "                        [--nats nats://127.0.0.1:4222] [--training-image-days 30]\n\n"
    "Serves the HTTP API (docs/api.md) and the web workstation. Declarations and scans in,\n"
    "decisions with reasons out; queue, outcomes, users, audit log, metrics. Stops cleanly on\n"
    "SIGINT / SIGTERM.\n"
    "  --db            SQLite file (created when absent) or a PostgreSQL URL\n"
    "  --images DIR    content-addressed scan and model files (default <db>.images; required\n"
    "                  with PostgreSQL)\n"
    "  --model DIR     risk model from `clearsight model train`: registered and made live when\n"
    "                  the model registry has no live version; otherwise the registry's live\n"
    "                  version is served (clearsight model list|promote|rollback)\n"
    "  --rules FILE    rule profile; stored as a new version when it changed (audited)\n"
    "  --valuation-history FILE  declarations to fit reference prices on\n"
    "  --rates FILE    currency rates (currency,per_<BASE>[,valid_from,valid_to]): submitted\n"
    "                  values are converted into the base currency; a value whose currency has\n"
    "                  no rate on its date is rejected\n"
    "  --calibration FILE        wedge calibration (`clearsight xray calibrate`): scans are\n"
    "                            analysed\n"
    "  --detector FILE           threat detector (`clearsight xray train`, e.g.\n"
    "                            models/detector.pt): threat detections and the manifest check on\n"
    "                            each scan (needs --calibration)\n"
    "  --detector-threads N      threads of each scan's network (1..16); uploads in flight\n"
    "                            together run on their own threads either way\n"
    "  --analysis-threads N      scans analysed at once (0..16, default 4), each on a worker of\n"
    "                            its own; more uploads wait their turn (0: on the request's "
    "thread)\n"
    "  --warm-up                 before the port opens, each analysis worker analyses a simulated\n"
    "                            parcel (under a second), so the first scans after a restart are\n"
    "                            not slow\n"
    "  --web DIR       static files of the workstation (default: installed beside the binary,\n"
    "                  else the web/ folder of the source tree it was built from)\n"
    "  --chart-js PATH Chart.js for the horizon page, served at /vendor/chart.min.js (default:\n"
    "                  Debian libjs-chart.js, /usr/share/javascript/chart.js/chart.min.js)\n"
    "  --training-image-days N   answered screener-training images older than N days leave the\n"
    "                            image directory (their rows stay, marked; 0: keep them all;\n"
    "                            default 30)\n"
    "  --port 0        any free port; with --port-file FILE the bound port is written there\n"
    "  --threads N     requests handled at once (2..1024); open connections do not hold them\n"
    "  --max-connections N             connections open at once (16..100000)\n"
    "  --max-connections-per-address N connections open at once from one client address\n"
    "                                  (1..100000; behind a proxy, the proxy is one address)\n"
    "  --request-head-timeout S        seconds a connection may take to send a whole request\n"
    "                                  head, from opening or from its previous answer (1..3600)\n"
    "  --over-budget carry-over  a consignment whose score earns red when the lane-day's red\n"
    "                  budget is used up is inspected and counted against the next day's budget\n"
    "                  (while it has room); supervisor: it keeps the channel the budget allows "
    "and\n"
    "                  waits, pending, on the supervisor's list. Either way it is marked over\n"
    "                  budget (queue filter over_budget=1)\n"
    "  --exploration-share S  part of the red budget (0..1, default 0) drawn at random among the\n"
    "                  consignments the model is unsure about (score just below the red\n"
    "                  threshold) or has no outcome for (a new importer or HS6 x origin):\n"
    "                  marked exploration, apart from the control sample (docs/model.md)\n"
    "  --high-risk-score S  a score at or above S earns red even where most of a lane scores\n"
    "                  high and the lane's quantile threshold is above it (over budget as above;\n"
    "                  above 1: off)\n"
    "  --scan-lane OFFICE  the lane of consignments whose declaration names no office, or known\n"
    "                  only by their scans: this site's office (default: none)\n"
    "  --sync normal   SQLite synchronous=NORMAL: survives kill -9, may lose the last commits on\n"
    "                  power loss\n"
    "  --secure-cookie           mark the session cookie Secure: behind a TLS proxy (docs/api.md)\n"
    "  --allowed-origin URL,...  origins besides the Host's own whose pages may send\n"
    "                            state-changing requests with the session cookie (a TLS proxy's\n"
    "                            public name)\n"
    "  --nats URL      scale-out (docs/deployment.md): accepted declarations and scans are\n"
    "                  published to this NATS JetStream server and answered 202 queued;\n"
    "                  `clearsight worker` processes decide them. Needs a PostgreSQL --db and\n"
    "                  an --images directory that the workers share\n"
    "The environment variable CLEARSIGHT_ADMIN_PASSWORD (and CLEARSIGHT_ADMIN_USER, default\n"
    "admin) creates that admin user at startup when it does not exist yet.\n";

const char kWorkerUsage[] =
    "usage: clearsight worker --role declarations|scans --nats nats://127.0.0.1:4222\n"
    "                         --db postgresql://... --images DIR [--batch 64] [--ack-wait 30]\n"
    "                         [the model, rules, calibration, detector and selection flags of\n"
    "                          serve: --model --rules --valuation-history --rates\n"
    "                          --calibration --detector --detector-threads --analysis-threads\n"
    "                          --red-share --red-count --yellow-share --control-share\n"
    "                          --exploration-share --over-budget --high-risk-score --seed\n"
    "                          --scan-lane --audit-key]\n\n"
    "One worker of the scale-out (docs/deployment.md): pulls its role's messages, which\n"
    "`serve --nats` published, from a durable JetStream consumer shared by every worker of the\n"
    "role; decides each as serve would (the risk of a declaration, the analysis of a scan, the\n"
    "consignment's channel under the lane-day budgets counted in the database over all\n"
    "processes); acknowledges a message only after its result is committed. Killed at any\n"
    "moment, its unacknowledged messages go to another worker after the acknowledgement wait,\n"
    "and a message delivered twice changes nothing. Stops cleanly on SIGINT / SIGTERM (the\n"
    "messages in hand are finished first). Give every worker and serve the same selection\n"
    "flags.\n"
    "  --role R        declarations (risk, valuation, rules, decision) or scans (X-ray analysis,\n"
    "                  detector, decision)\n"
    "  --batch N       messages fetched at once (1..1000, default 64)\n"
    "  --ack-wait S    seconds a fetched message may stay unacknowledged before it is delivered\n"
    "                  again (1..3600, default 30)\n";

const char kUsersUsage[] =
    "usage: clearsight users add --db DB --user NAME --role "
    "officer|analyst|trainer|admin|integrator\n"
    "                            (--password-stdin | --password-env VAR) [--images DIR]\n"
    "       clearsight users list --db DB [--images DIR]\n"
    "       clearsight users disable|enable|revoke-sessions --db DB --user NAME [--images DIR]\n\n"
    "Creates or updates a user (the password is hashed with Argon2id; an update ends the user's\n"
    "sessions); disables a user (no login, sessions ended) or enables them again; ends a user's\n"
    "sessions. Every change is audited. A running service sees a change made here within 10 s.\n";

const char kAuditUsage[] =
    "usage: clearsight audit verify --db DB [--images DIR] [--audit-key FILE]\n"
    "       clearsight audit rotate-key --db DB [--images DIR] [--audit-key FILE]\n\n"
    "verify recomputes the audit log's chain (signatures with the keyring, default <db>.audit-key\n"
    "beside a SQLite file) and checks its anchors (<keyring>.anchors); exit 0 when intact, 1 "
    "naming\n"
    "the first broken entry. rotate-key adds a new signing key to the keyring (stop the service\n"
    "first; it signs with the key it started with) and audits the rotation.\n";

// The workstation's files: beside an installed binary (<prefix>/bin/clearsight ->
// <prefix>/share/clearsight/web), else the source tree this binary was built from.
std::string DefaultWebDir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path() / CS_INSTALLED_WEB_DIR;
    if (fs::is_regular_file(installed / "index.html", ec))
      return installed.lexically_normal().string();
  }
  return CS_SOURCE_WEB_DIR;
}

}  // namespace

// The options serve and worker share (models, rules, selection, store), from their flags;
// returns 0, or the exit code after printing the usage error.
int ServiceOptionsFromArgs(const Args& args, const std::string& usage, ServiceOptions* o) {
  o->host = args.Get("host", "127.0.0.1");
  long long port, threads, red_count, seed, detector_threads, analysis_threads;
  double hours;
  if (!args.GetInt("port", 8080, &port) || port < 0 || port > 65535)
    return Usage("--port must be 0..65535", usage);
  if (!args.GetInt("threads", 32, &threads) || threads < 2 || threads > 1024)
    return Usage("--threads must be 2..1024", usage);
  long long max_connections, per_address, head_timeout;
  if (!args.GetInt("max-connections", o->max_connections, &max_connections) ||
      max_connections < 16 || max_connections > 100000)
    return Usage("--max-connections must be 16..100000", usage);
  if (!args.GetInt("max-connections-per-address", o->max_connections_per_address, &per_address) ||
      per_address < 1 || per_address > 100000)
    return Usage("--max-connections-per-address must be 1..100000", usage);
  if (!args.GetInt("request-head-timeout", o->request_head_timeout_s, &head_timeout) ||
      head_timeout < 1 || head_timeout > 3600)
    return Usage("--request-head-timeout must be 1..3600 seconds", usage);
  o->max_connections = static_cast<int>(max_connections);
  o->max_connections_per_address = static_cast<int>(per_address);
  o->request_head_timeout_s = static_cast<int>(head_timeout);
  if (!args.GetInt("detector-threads", o->detector_threads, &detector_threads) ||
      detector_threads < 1 || detector_threads > 16)
    return Usage("--detector-threads must be 1..16", usage);
  if (!args.GetInt("analysis-threads", o->analysis_threads, &analysis_threads) ||
      analysis_threads < 0 || analysis_threads > 16)
    return Usage("--analysis-threads must be 0..16", usage);
  if (!args.GetDouble("session-hours", 12, &hours) || hours <= 0 || hours > 24 * 365)
    return Usage("--session-hours must be a positive number", usage);
  auto& cap = o->selection.capacity;
  if (!args.GetDouble("red-share", cap.red_share, &cap.red_share) || cap.red_share < 0 ||
      cap.red_share > 1)
    return Usage("--red-share must be in [0, 1]", usage);
  if (!args.GetDouble("yellow-share", cap.yellow_share, &cap.yellow_share) ||
      cap.yellow_share < 0 || cap.yellow_share > 1)
    return Usage("--yellow-share must be in [0, 1]", usage);
  if (!args.GetDouble("control-share", o->selection.control_share, &o->selection.control_share) ||
      o->selection.control_share < 0 || o->selection.control_share > 1)
    return Usage("--control-share must be in [0, 1]", usage);
  if (!args.GetDouble("exploration-share", o->selection.exploration_share,
                      &o->selection.exploration_share) ||
      o->selection.exploration_share < 0 ||
      o->selection.exploration_share + o->selection.control_share > 1)
    return Usage("--exploration-share must be >= 0, and with --control-share at most 1", usage);
  {
    auto over = ParseOverBudget(args.Get("over-budget", "carry-over"));
    if (!over.ok()) return Usage("--over-budget: " + over.status().message(), usage);
    o->selection.over_budget = *over;
  }
  if (!args.GetDouble("high-risk-score", o->selection.high_risk_score,
                      &o->selection.high_risk_score) ||
      !(o->selection.high_risk_score > 0))
    return Usage("--high-risk-score must be a number above 0 (above 1: off)", usage);
  if (!args.GetInt("red-count", -1, &red_count) || red_count < -1)
    return Usage("--red-count must be >= 0", usage);
  if (!args.GetInt("seed", 1, &seed)) return Usage("--seed must be a whole number", usage);
  std::string sync = args.Get("sync", "full");
  if (sync != "full" && sync != "normal") return Usage("--sync must be full or normal", usage);
  cap.red_count = red_count;
  o->selection.seed = static_cast<uint64_t>(seed);
  o->port = static_cast<int>(port);
  o->http_threads = static_cast<int>(threads);
  o->session_ttl_s = static_cast<int64_t>(hours * 3600);
  o->store.url = args.Get("db", "clearsight.db");
  o->store.images_dir = args.Get("images");
  o->store.sqlite_synchronous_full = sync == "full";
  o->store.exclusive = true;  // one service per SQLite file
  o->store.audit_key_path = AuditKeyPath(args, /*serving=*/true);
  o->store.create_audit_key = true;
  o->model_dir = args.Get("model");
  o->rules_path = args.Get("rules");
  o->valuation_history = args.Get("valuation-history");
  o->rates_path = args.Get("rates");
  o->calibration_path = args.Get("calibration");
  o->detector_path = args.Get("detector");
  o->detector_threads = static_cast<int>(detector_threads);
  o->analysis_threads = static_cast<int>(analysis_threads);
  o->warm_up = args.Has("warm-up");
  if (!o->detector_path.empty() && o->calibration_path.empty())
    return Usage("--detector needs --calibration (the detector reads calibrated material channels)",
                 usage);
  o->web_dir = args.Has("web") ? args.Get("web") : DefaultWebDir();
  o->chart_js_path = args.Get("chart-js", o->chart_js_path);
  o->log_requests = args.Has("log-requests");
  o->scan_lane = args.Get("scan-lane");
  if (o->scan_lane.size() > 64 || !IsValidUtf8(o->scan_lane))
    return Usage("--scan-lane takes an office id of at most 64 characters", usage);
  o->secure_cookie = args.Has("secure-cookie");
  for (std::string_view origin : Split(args.Get("allowed-origin"), ',')) {
    origin = Trim(origin);
    if (origin.empty()) continue;
    if (!(StartsWith(origin, "https://") || StartsWith(origin, "http://")) ||
        origin.find('/', origin.find("//") + 2) != std::string_view::npos)
      return Usage(
          "--allowed-origin takes origins like https://clearsight.example (scheme, host, "
          "optional port; no path), not '" +
              std::string(origin) + "'",
          usage);
    o->allowed_origins.emplace_back(origin);
  }

  return 0;
}

// SIGINT and SIGTERM go to a sigwait on the returned set, never to a random worker thread: they
// are blocked before any thread starts (threads inherit the mask).
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// The flags serve and worker share: the store, the models, rules and calibration, the selection.
std::set<std::string> DecidingFlags(std::initializer_list<std::string> own) {
  std::set<std::string> flags = {"db",
                                 "images",
                                 "model",
                                 "rules",
                                 "valuation-history",
                                 "rates",
                                 "calibration",
                                 "detector",
                                 "detector-threads",
                                 "analysis-threads",
                                 "red-share",
                                 "red-count",
                                 "yellow-share",
                                 "control-share",
                                 "exploration-share",
                                 "over-budget",
                                 "high-risk-score",
                                 "seed",
                                 "scan-lane",
                                 "audit-key",
                                 "nats",
                                 "help"};
  flags.insert(own);
  return flags;
}

int CmdServe(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "log-requests", "warm-up", "secure-cookie"});
  if (int rc = CheckArgs(
          args,
          DecidingFlags({"port", "host", "warm-up", "web", "chart-js", "threads", "session-hours",
                         "sync", "port-file", "log-requests", "secure-cookie", "allowed-origin",
                         "max-connections", "max-connections-per-address", "request-head-timeout",
                         "training-image-days"}),
          kServeUsage))
    return rc < 0 ? 0 : rc;
  ServiceOptions o;
  if (int rc = ServiceOptionsFromArgs(args, kServeUsage, &o); rc != 0) return rc;
  o.nats_url = args.Get("nats");
  long long training_days;
  if (!args.GetInt("training-image-days", o.training_image_days, &training_days) ||
      training_days < 0 || training_days > 36500)
    return Usage("--training-image-days must be 0..36500", kServeUsage);
  o.training_image_days = static_cast<int>(training_days);
  const sigset_t signals = BlockStopSignals();

  auto service = Service::Create(o);
  if (!service.ok()) return Fail(service.status());
  if (const char* pw = std::getenv("CLEARSIGHT_ADMIN_PASSWORD"); pw && *pw) {
    const char* user_env = std::getenv("CLEARSIGHT_ADMIN_USER");
    std::string user = user_env && *user_env ? user_env : "admin";
    auto existing = (*service)->store().GetUser(user);
    if (!existing.ok()) return Fail(existing.status());
    if (!existing->has_value()) {
      if (Status s = AddUser((*service)->store(), user, Role::kAdmin, pw, "bootstrap"); !s.ok())
        return Fail(s);
      std::fprintf(stderr, "created admin user '%s' from CLEARSIGHT_ADMIN_PASSWORD\n",
                   user.c_str());
    }
  }
  if (Status s = (*service)->Start(); !s.ok()) return Fail(s);
  const int bound = (*service)->port();
  if (args.Has("port-file")) {
    if (Status s = WriteFileAtomic(args.Get("port-file"), std::to_string(bound) + "\n"); !s.ok())
      return Fail(s);
  }
  std::printf("clearsight serve: listening on http://%s:%d/ (store %s %s, images %s)\n",
              o.host.c_str(), bound, std::string((*service)->store().backend()).c_str(),
              (*service)->store().backend() == "sqlite" ? o.store.url.c_str() : "(postgresql)",
              (*service)->store().images_dir().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "clearsight serve: %s received, stopping\n",
               sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*service)->Stop();
  return 0;
}

int CmdWorker(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args, DecidingFlags({"role", "batch", "ack-wait"}), kWorkerUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("nats") || !args.Has("role") || !args.Has("db"))
    return Usage("--role, --nats and --db are required", kWorkerUsage);
  ServiceOptions o;
  if (int rc = ServiceOptionsFromArgs(args, kWorkerUsage, &o); rc != 0) return rc;
  long long batch, ack_wait;
  if (!args.GetInt("batch", 64, &batch) || batch < 1 || batch > 1000)
    return Usage("--batch must be 1..1000", kWorkerUsage);
  if (!args.GetInt("ack-wait", 30, &ack_wait) || ack_wait < 1 || ack_wait > 3600)
    return Usage("--ack-wait must be 1..3600 seconds", kWorkerUsage);
  const std::string role = args.Get("role");
  if (role != "declarations" && role != "scans")
    return Usage("--role must be declarations or scans", kWorkerUsage);
  o.nats_url = args.Get("nats");
  o.nats_ack_wait_ms = ack_wait * 1000;
  o.store.exclusive = false;
  o.web_dir.clear();
  o.port = 0;

  const sigset_t signals = BlockStopSignals();
  auto service = Service::Create(o);
  if (!service.ok()) return Fail(service.status());
  std::atomic<bool> stop{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "clearsight worker: %s received, finishing the messages in hand\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
    stop = true;
  });
  std::printf("clearsight worker: role %s, queue %s, store %s\n", role.c_str(), o.nats_url.c_str(),
              std::string((*service)->store().backend()).c_str());
  std::fflush(stdout);
  Status s = (*service)->RunWorker(role, static_cast<int>(batch), stop);
  if (!stop) {
    // The loop ended by itself (an error): wake the signal thread so it can be joined.
    pthread_kill(waiter.native_handle(), SIGTERM);
  }
  waiter.join();
  (*service)->Stop();
  if (!s.ok()) return Fail(s);
  return 0;
}

int CmdUsersAdd(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "password-stdin"});
  if (int rc = CheckArgs(
          args,
          {"db", "images", "audit-key", "user", "role", "password-stdin", "password-env", "help"},
          kUsersUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("db") || !args.Has("user") || !args.Has("role"))
    return Usage("--db, --user and --role are required", kUsersUsage);
  auto role = ParseRole(args.Get("role"));
  if (!role.ok()) return Usage(role.status().message(), kUsersUsage);
  std::string password;
  if (args.Has("password-stdin")) {
    if (!std::getline(std::cin, password))
      return Usage("no password on standard input", kUsersUsage);
    if (!password.empty() && password.back() == '\r') password.pop_back();
  } else if (args.Has("password-env")) {
    const char* v = std::getenv(args.Get("password-env").c_str());
    if (!v)
      return Usage("environment variable " + args.Get("password-env") + " is not set", kUsersUsage);
    password = v;
  } else {
    return Usage(
        "give the password with --password-stdin or --password-env VAR (never on the command line)",
        kUsersUsage);
  }
  auto store = OpenStoreFromArgs(args);
  if (!store.ok()) return Fail(store.status());
  if (Status s = AddUser(**store, args.Get("user"), *role, password, "cli"); !s.ok())
    return Fail(s);
  std::printf("user '%s' (%s) saved\n", args.Get("user").c_str(), args.Get("role").c_str());
  return 0;
}

int CmdUsersList(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args, {"db", "images", "audit-key", "help"}, kUsersUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("db")) return Usage("--db is required", kUsersUsage);
  auto store = OpenStoreFromArgs(args);
  if (!store.ok()) return Fail(store.status());
  auto users = (*store)->ListUsers();
  if (!users.ok()) return Fail(users.status());
  for (const auto& u : *users)
    std::printf("%-24s %-10s%s\n", u.username.c_str(), u.role.c_str(),
                u.disabled ? " disabled" : "");
  return 0;
}

namespace {
enum class UserChange { kDisable, kEnable, kRevokeSessions };

int ChangeUser(int argc, char** argv, int first, UserChange change) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args, {"db", "images", "audit-key", "user", "help"}, kUsersUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("db") || !args.Has("user"))
    return Usage("--db and --user are required", kUsersUsage);
  auto store = OpenStoreFromArgs(args);
  if (!store.ok()) return Fail(store.status());
  const std::string user = args.Get("user");
  if (change == UserChange::kRevokeSessions) {
    auto ended = RevokeSessions(**store, user, "cli");
    if (!ended.ok()) return Fail(ended.status());
    std::printf("user '%s': %lld sessions ended\n", user.c_str(), static_cast<long long>(*ended));
    return 0;
  }
  const bool disable = change == UserChange::kDisable;
  if (Status s = SetUserDisabled(**store, user, disable, "cli"); !s.ok()) return Fail(s);
  std::printf("user '%s' %s\n", user.c_str(), disable ? "disabled, sessions ended" : "enabled");
  return 0;
}
}  // namespace

int CmdUsersDisable(int argc, char** argv, int first) {
  return ChangeUser(argc, argv, first, UserChange::kDisable);
}
int CmdUsersEnable(int argc, char** argv, int first) {
  return ChangeUser(argc, argv, first, UserChange::kEnable);
}
int CmdUsersRevokeSessions(int argc, char** argv, int first) {
  return ChangeUser(argc, argv, first, UserChange::kRevokeSessions);
}

int CmdAuditRotateKey(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args, {"db", "images", "audit-key", "help"}, kAuditUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("db")) return Usage("--db is required", kAuditUsage);
  const std::string path = AuditKeyPath(args, /*serving=*/false);
  if (path.empty())
    return Usage("no audit keyring to rotate: give --audit-key FILE (the one serve uses)",
                 kAuditUsage);
  auto store = OpenStoreFromArgs(args);  // checks the keyring and the database before rotating
  if (!store.ok()) return Fail(store.status());
  store->reset();
  auto ring = AuditKeyring::Rotate(path);
  if (!ring.ok()) return Fail(ring.status());
  auto reopened = OpenStoreFromArgs(args);
  if (!reopened.ok()) return Fail(reopened.status());
  Status audited = (*reopened)->Write([&](StoreTxn& txn) {
    AuditEntry e;
    e.actor = "cli";
    e.action = "audit_key_rotated";
    e.subject = ring->signing_id();
    e.detail_json = "{}";
    return txn.Audit(&e);
  });
  if (!audited.ok()) return Fail(audited);
  std::printf("audit key %s added to %s; entries from now on are signed with it\n",
              ring->signing_id().c_str(), path.c_str());
  return 0;
}

int CmdAuditVerify(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help"});
  if (int rc = CheckArgs(args, {"db", "images", "audit-key", "help"}, kAuditUsage))
    return rc < 0 ? 0 : rc;
  if (!args.Has("db")) return Usage("--db is required", kAuditUsage);
  auto store = OpenStoreFromArgs(args);
  if (!store.ok()) return Fail(store.status());
  auto rep = (*store)->VerifyAudit();
  if (!rep.ok()) return Fail(rep.status());
  std::printf("%s\n", rep->message.c_str());
  return rep->ok ? 0 : 1;
}

}  // namespace clearsight::cli
