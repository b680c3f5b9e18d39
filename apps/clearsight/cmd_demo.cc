// The demo: the main job of the README's run command. Trains the risk model on the public KCS
// data, scores the later period with the example rule profile and reference prices, and prints
// the top of the inspection queue with reasons; then shows under-valuation detection on real
// EU trade flows.
#include <algorithm>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <thread>
#include <tuple>

#include "clearsight/client.h"
#include "clearsight/decide.h"
#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/fusion.h"
#include "clearsight/model_registry.h"
#include "clearsight/retrain.h"
#include "clearsight/risk_model.h"
#include "clearsight/rules.h"
#include "clearsight/selection.h"
#include "clearsight/service.h"
#include "clearsight/text.h"
#include "clearsight/valuation.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_simulate.h"
#include "commands.h"

namespace clearsight::cli {

namespace {
const char kUsage[] =
    "usage: clearsight demo [--data data/public] [--work demo] [--rules examples/kcs.rules] [--top "
    "10]\n"
    "                       [--retrain] [--no-serve] [--host 127.0.0.1] [--port 8080] [--scans "
    "40]\n"
    "                       [--detector models/detector.pt | --detector none]\n"
    "\n"
    "Trains the declaration risk model on the public KCS data (2020) and evaluates it on the next\n"
    "quarter (2021-01..03); reports under-valuation detection on real EU trade flows; then "
    "(unless\n"
    "--no-serve) simulates X-ray scans of express parcels with their declarations (dated in the\n"
    "same quarter), calibrates from step wedges, starts the service and web workstation on\n"
    "localhost with SQLite, feeds it the quarter's declarations and the parcels through the HTTP\n"
    "API, prints what the workstation now shows (its decisions and the top of the officer's\n"
    "queue, with the public data's labels), and then the URL and the demo logins. With\n"
    "--no-serve the quarter is decided in batch and the top of that queue printed instead.\n"
    "Ctrl-C stops it; running it again reuses what is there.\n"
    "The committed threat detector (models/detector.pt) adds threat detections and the manifest "
    "check\n"
    "to each scan when the file is there; --detector none leaves it out.\n";

// The demo's accounts (the passwords are printed: this is a demo on localhost).
struct DemoUser {
  const char* name;
  Role role;
  const char* password;
};
constexpr DemoUser kDemoUsers[] = {
    {"officer", Role::kOfficer, "officer-demo"},
    {"analyst", Role::kAnalyst, "analyst-demo"},
    {"admin", Role::kAdmin, "admin-demo-pw"},
    {"feed", Role::kIntegrator, "feed-demo-pw"},
};

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Sections are numbered as they are printed (some are printed only with, or without, --no-serve).
int g_section = 0;
int Section() { return ++g_section; }

// The quarter the demo scores and the workstation shows: 2021-01-01 .. 2021-03-31.
constexpr int32_t kQuarterStart = 18628;
constexpr int32_t kQuarterDays = 90;

// "created 8134, unchanged 0" from a POST /api/declarations answer; conflicts counted in
// *conflicts.
std::string FedSummary(const std::string& answer, int64_t* conflicts) {
  auto j = nlohmann::json::parse(answer, nullptr, false);
  if (!j.is_object()) return "?";
  *conflicts += j.value("conflicts", int64_t{0});
  return "created " + std::to_string(j.value("created", int64_t{0})) + ", unchanged " +
         std::to_string(j.value("unchanged", int64_t{0}));
}

// The public data's label of a stored declaration: " [public data: fraud]" / " [... clean]", or ""
// for a declaration without one (the simulated parcels).
std::string LabelOf(const nlohmann::json& d) {
  if (!d.is_object() || !d.contains("fraud") || !d["fraud"].is_number()) return "";
  const int fraud = d["fraud"].get<int>();
  return fraud == 1 ? "   [public data: fraud]" : fraud == 0 ? "   [public data: clean]" : "";
}

// What the workstation shows once the data is in, read from its store: the decisions over the
// quarter, with the public data's labels where they exist, and the top of the officer's queue.
Status PrintWorkstation(Store& store, long long top) {
  CS_ASSIGN_OR_RETURN(auto decided, store.DecidedDeclarations(INT32_MIN, INT32_MAX));
  std::set<std::string> seen;
  int64_t consignments = 0, red = 0, control = 0, yellow = 0, green = 0;
  int64_t targeted = 0, targeted_fraud = 0, controls_labelled = 0, control_fraud = 0;
  int64_t green_labelled = 0, green_fraud = 0;
  for (const auto& d : decided) {
    if (!seen.insert(d.consignment_id).second) continue;  // one per consignment: its first row
    ++consignments;
    const auto body = nlohmann::json::parse(d.declaration_json, nullptr, false);
    const int fraud = body.is_object() && body.contains("fraud") && body["fraud"].is_number()
                          ? body["fraud"].get<int>()
                          : -1;
    if (d.channel == "red") {
      ++red;
      if (d.control) {
        ++control;
        if (fraud >= 0) ++controls_labelled, control_fraud += fraud;
      } else if (!d.exploration && fraud >= 0) {
        ++targeted, targeted_fraud += fraud;
      }
    } else if (d.channel == "yellow") {
      ++yellow;
    } else {
      ++green;
      if (fraud >= 0) ++green_labelled, green_fraud += fraud;
    }
  }
  CS_ASSIGN_OR_RETURN(auto lanes, store.Lanes());
  int64_t pending = 0;
  for (const auto& l : lanes) pending += l.pending;
  QueueQuery over;
  over.over_budget_only = true;
  over.status.clear();
  over.limit = 0;
  CS_ASSIGN_OR_RETURN(auto over_page, store.Queue(over));
  auto pct = [](int64_t k, int64_t n) { return n ? 100.0 * static_cast<double>(k) / n : 0.0; };
  std::printf(
      "\n== %d. what the workstation shows: the 2021-Q1 declarations and the express parcels\n",
      Section());
  std::printf(
      "   %lld consignments decided online (5 %% red per office and day, 10 %% of it a random "
      "control\n   sample): red %lld (control %lld), yellow %lld, green %lld; %lld pending in the "
      "officers'\n   queue, %lld of them marked over budget\n",
      static_cast<long long>(consignments), static_cast<long long>(red),
      static_cast<long long>(control), static_cast<long long>(yellow),
      static_cast<long long>(green), static_cast<long long>(pending),
      static_cast<long long>(over_page.total));
  std::printf(
      "   fraud in the public data: %.1f %% of the red by score, %.1f %% of the random control "
      "sample\n   (the base rate), %.1f %% of the green\n",
      pct(targeted_fraud, targeted), pct(control_fraud, controls_labelled),
      pct(green_fraud, green_labelled));
  QueueQuery q;
  q.status = "pending";
  q.sort = "-score";
  q.limit = top;
  CS_ASSIGN_OR_RETURN(auto page, store.Queue(q));
  std::printf(
      "\n== %d. the top of the officer's queue (pending, highest risk first), as the "
      "workstation lists it\n",
      Section());
  for (size_t k = 0; k < page.items.size(); ++k) {
    const DecisionRow& d = page.items[k];
    const auto decl = nlohmann::json::parse(page.first_declaration[k], nullptr, false);
    auto text = [&](const char* key) {
      return decl.is_object() && decl.contains(key) && decl[key].is_string()
                 ? decl[key].get<std::string>()
                 : std::string("-");
    };
    const double value =
        decl.is_object() && decl.contains("declared_value") && decl["declared_value"].is_number()
            ? decl["declared_value"].get<double>()
            : 0;
    std::printf(
        "%2zu. %s  %s  office %s  risk %.3f  %-6s%s%s  importer %s, HS %s from %s, %.0f %s%s\n",
        k + 1, d.consignment_id.c_str(), FormatDate(d.date).c_str(), d.lane.c_str(), d.score,
        d.channel.c_str(), d.control ? " control" : "", d.over_budget ? " over budget" : "",
        text("importer_id").c_str(), text("hs_code").c_str(), text("origin_country").c_str(), value,
        text("currency").c_str(), LabelOf(decl).c_str());
    const auto reasons = nlohmann::json::parse(d.reasons_json, nullptr, false);
    int shown = 0;
    if (reasons.is_array())
      for (const auto& r : reasons) {
        if (shown == 3 || !r.is_object() || r.value("weight", 0.0) < 0.01) continue;
        std::printf("      - %s  (%s, weight %.2f)\n", r.value("text", std::string()).c_str(),
                    r.value("source", std::string()).c_str(), r.value("weight", 0.0));
        ++shown;
      }
  }
  return Status::Ok();
}
}  // namespace

// Part two: scans, the service and the workstation.
// One turn of learning from outcomes (docs/model.md), as the demo's officers and analyst would
// do it: every red consignment of the quarter gets its inspection outcome through the API (from
// the public data's label: fraud found or nothing); the model is retrained on the outcomes up to
// the end of February with inverse-propensity weights, registered as a candidate, and put to the
// promotion gate on March's control sample. The analyst page shows the registry afterwards.
Status RetrainOnce(Store& store, const std::string& url, const std::string& work) {
  ClientOptions co;
  co.base_url = url;
  co.username = "officer";
  co.password = "officer-demo";
  CS_ASSIGN_OR_RETURN(auto officer, ServiceClient::Connect(co));
  CS_ASSIGN_OR_RETURN(auto decided, store.DecidedDeclarations(INT32_MIN, INT32_MAX));
  std::set<std::string> done;
  int64_t recorded = 0, found = 0;
  for (const auto& d : decided) {
    if (d.channel != "red" || !d.outcome.empty() || !done.insert(d.consignment_id).second) continue;
    const auto body = nlohmann::json::parse(d.declaration_json, nullptr, false);
    if (!body.is_object() || !body.contains("fraud") || !body["fraud"].is_number()) continue;
    const bool fraud = body["fraud"].get<int>() == 1;
    const nlohmann::json outcome = {{"result", fraud ? "misdeclaration" : "nothing"},
                                    {"notes", "demo: the public data's label"}};
    CS_RETURN_IF_ERROR(
        officer->PostJson("/api/consignments/" + d.consignment_id + "/outcome", outcome.dump())
            .status());
    ++recorded;
    found += fraud;
  }
  std::printf("\n== %d. learning from outcomes: one retraining cycle\n", Section());
  std::printf(
      "   officers record %lld inspections of red consignments (%lld found fraud: the public"
      " data's labels)\n",
      static_cast<long long>(recorded), static_cast<long long>(found));
  CS_ASSIGN_OR_RETURN(auto live_row, store.LiveModelVersion());
  if (!live_row) return Status::FailedPrecondition("no live model to retrain from");
  CS_ASSIGN_OR_RETURN(RiskModel live, LoadModelVersion(store, *live_row));
  CS_ASSIGN_OR_RETURN(auto data, LoadLabelledData(store, INT32_MIN, INT32_MAX));
  int32_t cutoff;
  ParseDate("2021-02-28", &cutoff);
  RetrainOptions ro;
  ro.model.trees = 100;
  RetrainReport report;
  CS_ASSIGN_OR_RETURN(RiskModel model,
                      Retrain(data, cutoff, &live, live_row->version, ro, &report));
  const std::string out = work + "/retrained";
  CS_RETURN_IF_ERROR(model.Save(out));
  RegisterModelOptions reg;
  reg.created_by = "analyst";
  reg.parent_version = live_row->version;
  reg.metrics_json = report.ToJson();
  CS_ASSIGN_OR_RETURN(auto candidate, RegisterModelDir(store, out, reg));
  std::printf(
      "   retrained to 2021-02-28 with inverse-propensity weights on %lld outcomes (%lld of"
      " them random control draws): model version %lld, a candidate\n",
      static_cast<long long>(report.train_labelled), static_cast<long long>(report.train_control),
      static_cast<long long>(candidate.version));
  CS_ASSIGN_OR_RETURN(GateResult gate,
                      RunPromotionGate(store, candidate.version, "analyst", GateOptions{}));
  const char* verdict = gate.verdict == GateVerdict::kPromote  ? "promoted"
                        : gate.verdict == GateVerdict::kReject ? "rejected"
                                                               : "undecided";
  std::printf("   promotion gate on March's control sample: %s (%s)\n", verdict,
              gate.reason.c_str());
  std::printf("   the analyst page lists the versions with these figures\n");
  return Status::Ok();
}

int RunWorkstation(const Args& args, const std::string& data, const std::string& work,
                   const std::string& model_dir, const DeclarationBatch& kcs_history,
                   long long top) {
  namespace fs = std::filesystem;
  long long port, nscans;
  if (!args.GetInt("port", 8080, &port) || port < 0 || port > 65535)
    return Usage("--port must be 0..65535", kUsage);
  if (!args.GetInt("scans", 40, &nscans) || nscans < 1 || nscans > 10000)
    return Usage("--scans must be 1..10000", kUsage);
  auto t0 = std::chrono::steady_clock::now();
  std::printf("\n== %d. the officer workstation\n", Section());
  // Calibration from step wedges, as for any scanner.
  std::string calib = work + "/calibration.json";
  SimulateOptions live;
  live.seed = 2026;
  live.threat_rate = 0.3;
  live.threads = 2;
  if (!FileExists(calib)) {
    if (Status s = WriteSimulatedWedges(live, work + "/wedges"); !s.ok()) return Fail(s);
    auto wedges = ReadWedgeDir(work + "/wedges");
    if (!wedges.ok()) return Fail(wedges.status());
    auto c = Calibration::Fit(*wedges);
    if (!c.ok()) return Fail(c.status());
    if (Status s = c->Save(calib); !s.ok()) return Fail(s);
  }
  std::printf("   calibration from step wedges: %s\n", calib.c_str());
  // A history of simulated parcels' declarations (EUR) for reference prices, and the live parcels
  // with their scans.
  auto simulate = [&](SimulateOptions o, int64_t count, const std::string& dir,
                      const char* what) -> Status {
    if (FileExists(dir + "/declarations.csv")) return Status::Ok();
    std::printf("   simulating %lld %s ...\n", static_cast<long long>(count), what);
    std::fflush(stdout);
    DatasetReport report;
    return SimulateDataset(
        o, count, dir,
        [&](int64_t done, int64_t total) {
          if (done % 20 == 0 || done == total)
            std::fprintf(stderr, "\r   %lld/%lld scans", static_cast<long long>(done),
                         static_cast<long long>(total));
          if (done == total) std::fprintf(stderr, "\n");
        },
        &report);
  };
  SimulateOptions hist = live;
  hist.seed = 1001;
  hist.width = 256;
  hist.height = 192;
  if (Status s = simulate(hist, 400, work + "/sim_history", "small parcels for the price history");
      !s.ok())
    return Fail(s);
  if (Status s = simulate(live, nscans, work + "/scans", "parcels with scans (1024 x 768)");
      !s.ok())
    return Fail(s);
  // The valuation history: the KCS year (KRW) and the simulated parcels (EUR).
  std::string history_path = work + "/valuation_history.csv";
  if (!FileExists(history_path)) {
    auto sim = ReadDeclarations(work + "/sim_history/declarations.csv", ReadOptions{}, nullptr);
    if (!sim.ok()) return Fail(sim.status());
    DeclarationBatch merged = kcs_history;
    merged.rows.insert(merged.rows.end(), sim->rows.begin(), sim->rows.end());
    if (Status s = WriteDeclarationsCsv(history_path, merged); !s.ok()) return Fail(s);
  }
  // The service, in this process, on SQLite.
  ServiceOptions so;
  so.host = args.Get("host", "127.0.0.1");
  so.port = static_cast<int>(port);
  so.store.url = work + "/clearsight.db";
  so.model_dir = model_dir;
  so.rules_path = args.Get("rules");
  so.valuation_history = history_path;
  so.calibration_path = calib;
  std::string detector = args.Get("detector", "models/detector.pt");
  if (detector == "none") {
    detector.clear();
  } else if (!FileExists(detector)) {
    if (args.Has("detector"))
      return Fail(Status::NotFound(detector + ": no such threat detector model"));
    std::printf("   no threat detector at %s: scans get material analysis only\n",
                detector.c_str());
    detector.clear();
  }
  if (!detector.empty())
    std::printf("   threat detector and manifest check: %s\n", detector.c_str());
  so.detector_path = detector;
  so.web_dir = args.Get("web", "web");
  so.http_threads = 16;
  so.scan_lane = "EXPRESS-HUB";  // the simulated parcels' declarations name no office
  // The model just trained or loaded is the one the demo serves: made the registry's live version
  // (audited) when it is not (a database kept from an earlier run, then --retrain).
  {
    auto store = Store::Open(so.store);
    if (!store.ok()) return Fail(store.status());
    RegisterModelOptions ro;
    ro.created_by = "demo";
    auto version = FindOrRegisterModelDir(**store, model_dir, ro);
    if (!version.ok()) return Fail(version.status());
    if (version->status != ModelStatus::kLive) {
      ModelChangeRequest request;
      request.actor = "demo";
      request.reason = "clearsight demo: the model it trained";
      request.force = true;  // the demo's own model, whatever was done with it before
      if (auto promoted = (*store)->PromoteModel(version->version, request); !promoted.ok())
        return Fail(promoted.status());
    }
  }
  auto service = Service::Create(so);
  if (!service.ok()) return Fail(service.status());
  for (const auto& u : kDemoUsers)
    if (Status s = AddUser((*service)->store(), u.name, u.role, u.password, "demo"); !s.ok())
      return Fail(s);
  if (Status s = (*service)->Start(); !s.ok()) return Fail(s);
  std::string url = "http://" + so.host + ":" + std::to_string((*service)->port());
  // Fed through the HTTP API, as an integrator would.
  ClientOptions co;
  co.base_url = url;
  co.username = "feed";
  co.password = "feed-demo-pw";
  auto client = ServiceClient::Connect(co);
  if (!client.ok()) return Fail(client.status());
  int64_t conflicts = 0;
  int fed_scans = 0;
  {
    // The whole of 2021-Q1 from the KCS data: the quarter the model was evaluated on above.
    auto kcs = ReadFile(data + "/customs/df_syn_valid_eng.csv");
    if (!kcs.ok()) return Fail(kcs.status());
    auto r = (*client)->PostDeclarations(*kcs, "kcs");
    if (!r.ok()) return Fail(r.status());
    std::printf("   2021-Q1 declarations: %s\n", FedSummary(*r, &conflicts).c_str());
    // The express parcels' declarations, dated into the same quarter (the simulator dates them
    // over a year): their lane is the express hub's (no office declared).
    auto sim = ReadDeclarations(work + "/scans/declarations.csv", ReadOptions{}, nullptr);
    if (!sim.ok()) return Fail(sim.status());
    for (auto& d : sim->rows)
      d.date =
          kQuarterStart + ((d.date - kQuarterStart) % kQuarterDays + kQuarterDays) % kQuarterDays;
    const std::string dated = work + "/scans/declarations-2021q1.csv";
    if (Status s = WriteDeclarationsCsv(dated, *sim); !s.ok()) return Fail(s);
    auto sim_csv = ReadFile(dated);
    if (!sim_csv.ok()) return Fail(sim_csv.status());
    r = (*client)->PostDeclarations(*sim_csv, "csv");
    if (!r.ok()) return Fail(r.status());
    std::printf("   express parcels' declarations: %s\n", FedSummary(*r, &conflicts).c_str());
    std::vector<fs::path> tiffs;
    for (const auto& e : fs::directory_iterator(work + "/scans"))
      if (e.path().extension() == ".tif") tiffs.push_back(e.path());
    std::sort(tiffs.begin(), tiffs.end());
    for (const auto& t : tiffs) {
      fs::path side = t;
      side.replace_extension(".json");
      auto tiff = ReadFile(t.string());
      auto sidecar = ReadFile(side.string());
      if (!tiff.ok() || !sidecar.ok()) continue;
      auto sr = (*client)->PostScan(*tiff, *sidecar);
      if (!sr.ok()) return Fail(sr.status());
      ++fed_scans;
    }
  }
  std::printf("   and %d scans, all through the HTTP API (%.1f s)\n", fed_scans, Seconds(t0));
  if (conflicts > 0)
    std::printf(
        "   note: %lld declarations differ from those stored by an earlier demo in %s; remove "
        "%s to start afresh\n",
        static_cast<long long>(conflicts), work.c_str(), so.store.url.c_str());
  if (Status s = PrintWorkstation((*service)->store(), top); !s.ok()) return Fail(s);
  if (Status s = RetrainOnce((*service)->store(), url, work); !s.ok())
    std::printf("   the retraining cycle did not run: %s\n", s.ToString().c_str());
  std::printf("\n");
  std::printf("   The workstation is at   %s\n", url.c_str());
  std::printf("   Log in as               officer / officer-demo   (the queue, scans, outcomes)\n");
  std::printf("                           analyst / analyst-demo   (also the analyst page)\n");
  std::printf("                           admin   / admin-demo-pw\n");
  std::printf("   Database: %s (SQLite); Ctrl-C stops the demo.\n", so.store.url.c_str());
  std::fflush(stdout);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  std::thread stopper([&] {
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    (*service)->Stop();
  });
  (*service)->Wait();
  g_stop = 1;
  stopper.join();
  std::printf("\nstopped; the data stays in %s\n", work.c_str());
  return 0;
}

int CmdDemo(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "retrain", "no-serve"});
  if (int rc = CheckArgs(args,
                         {"data", "work", "rules", "top", "retrain", "help", "no-serve", "host",
                          "port", "scans", "web", "detector"},
                         kUsage))
    return rc < 0 ? 0 : rc;
  std::string data = args.Get("data", "data/public"), work = args.Get("work", "demo");
  long long top;
  if (!args.GetInt("top", 10, &top) || top < 1)
    return Usage("--top must be a positive number", kUsage);
  if (Status s = MakeDirs(work); !s.ok()) return Fail(s);
  ReadOptions kcs;
  kcs.format = DeclarationFormat::kKcs;
  auto t0 = std::chrono::steady_clock::now();
  IngestReport train_report, valid_report;
  auto train = ReadDeclarations(data + "/customs/df_syn_train_eng.csv", kcs, &train_report);
  if (!train.ok()) return Fail(train.status());
  auto valid = ReadDeclarations(data + "/customs/df_syn_valid_eng.csv", kcs, &valid_report);
  if (!valid.ok()) return Fail(valid.status());
  const bool serve = !args.Has("no-serve");
  std::printf("== %d. ingest\n   2020 history: %s\n   2021-Q1 to score: %s   (%.2f s)\n\n",
              Section(), train_report.Summary().c_str(), valid_report.Summary().c_str(),
              Seconds(t0));

  std::string model_dir = work + "/model";
  Result<RiskModel> model = Status::NotFound("");
  if (!args.Has("retrain")) model = RiskModel::Load(model_dir);
  t0 = std::chrono::steady_clock::now();
  if (!model.ok()) {
    std::printf("== %d. train the risk model (300 trees, depth 6; features respect time)\n",
                Section());
    RiskModelOptions o;
    o.progress = [&](int done, int all) {
      if (done % 30 == 0 || done == all)
        std::fprintf(stderr, "\r   %d/%d trees, %.1f s", done, all, Seconds(t0));
      if (done == all) std::fprintf(stderr, "\n");
    };
    model = RiskModel::Train(*train, o);
    if (!model.ok()) return Fail(model.status());
    if (Status s = model->Save(model_dir); !s.ok()) return Fail(s);
  } else {
    std::printf("== %d. risk model loaded from %s (--retrain to train again)\n", Section(),
                model_dir.c_str());
  }
  EvalReport ev = EvaluateRanking(model->Score(*valid, 2), *valid);
  std::printf(
      "   on 2021-Q1 (never seen in training): AUC %.3f, precision %.3f at 5 %% inspected, %.3f at "
      "10 %%,"
      " critical cases caught at 5 %%: %.0f %%\n\n",
      ev.auc, ev.precision_at[5], ev.precision_at[10], 100 * ev.critical_recall_at[5]);

  std::shared_ptr<const RuleSet> rules;
  if (args.Has("rules")) {
    auto loaded = RuleSet::Load(args.Get("rules"));
    if (!loaded.ok()) return Fail(loaded.status());
    rules = std::make_shared<const RuleSet>(std::move(loaded).value());
  }
  auto valuation = ValuationModel::Fit(*train, ValuationOptions{});
  if (!valuation.ok()) return Fail(valuation.status());
  DeclarationRiskOptions dro;
  dro.explain_reasons = 0;
  auto shared_model = std::make_shared<const RiskModel>(std::move(model).value());
  DeclarationRisk risk(shared_model,
                       std::make_shared<const ValuationModel>(std::move(valuation).value()), rules,
                       dro);
  BatchDecisionOptions bo;
  auto decisions = DecideBatch(risk, *valid, bo);
  size_t red = 0, control = 0, yellow = 0, red_fraud = 0, control_fraud = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> rule_counts;  // hits, confirmed
  for (size_t i = 0; i < decisions.size(); ++i) {
    const Selection& s = decisions[i].selection;
    red += s.channel == Channel::kRed;
    yellow += s.channel == Channel::kYellow;
    control += s.control;
    if (s.channel == Channel::kRed && !s.control) red_fraud += valid->rows[i].fraud == 1;
    if (s.control) control_fraud += valid->rows[i].fraud == 1;
    for (const auto& r : decisions[i].rule_hits) {
      ++rule_counts[r].first;
      rule_counts[r].second += valid->rows[i].fraud == 1;
    }
  }
  // With the workstation, its own decisions on the same quarter are printed once the data is in
  // (the online selector's, which is what the officers see); here only what the rules hit.
  if (serve) {
    std::printf("== %d. the example rules on 2021-Q1 (confirmed: fraud in the public data)\n",
                Section());
  } else {
    std::printf(
        "== %d. decisions: model, reference prices and rules fused; 5 %% red per office and day, "
        "10 %% of it a\n"
        "      random control sample\n",
        Section());
    std::printf("   red %zu (of which control %zu), yellow %zu, green %zu\n", red, control, yellow,
                valid->rows.size() - red - yellow);
    std::printf(
        "   hit rate of targeted reds %.1f %% vs random control %.1f %%: the control sample "
        "measures the base rate\n",
        100.0 * red_fraud / std::max<size_t>(1, red - control),
        100.0 * control_fraud / std::max<size_t>(1, control));
  }
  if (rules) {
    for (const auto& r : rules->rules())
      std::printf("   rule %-30s hits %5lld, confirmed %5lld\n", ("'" + r.name + "'").c_str(),
                  static_cast<long long>(rule_counts[r.name].first),
                  static_cast<long long>(rule_counts[r.name].second));
  }

  std::vector<size_t> order(valid->rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::make_tuple(decisions[a].selection.channel, decisions[a].score) >
           std::make_tuple(decisions[b].selection.channel, decisions[b].score);
  });
  if (!serve)
    std::printf("\n== %d. top of the inspection queue (2021-Q1, decided in batch)\n", Section());
  for (long long k = 0; !serve && k < top && k < static_cast<long long>(order.size()); ++k) {
    size_t i = order[k];
    const Declaration& d = valid->rows[i];
    const BatchDecision& dec = decisions[i];
    std::printf("%2lld. %s  %s  risk %.3f  %-6s  importer %s, HS %s from %s, %.0f kg, %.0f %s%s\n",
                k + 1, d.declaration_id.c_str(), FormatDate(d.date).c_str(), dec.score,
                std::string(ChannelName(dec.selection.channel)).c_str(), d.importer_id.c_str(),
                d.hs_code.c_str(), d.origin_country.c_str(), d.net_mass_kg, d.declared_value,
                d.currency.c_str(),
                d.fraud == 1 ? "   [outcome: fraud]" : (d.fraud == 0 ? "   [outcome: clean]" : ""));
    if (dec.selection.control) std::printf("      - random control sample\n");
    for (const auto& r : dec.reasons) {
      if (r.weight < 0.01) continue;
      std::printf("      - %s  (%s, weight %.2f)\n", r.text.c_str(), r.source.c_str(), r.weight);
      for (const auto& detail : r.details) std::printf("          %s\n", detail.c_str());
    }
  }

  std::printf(
      "\n== %d. under-valuation on real EU trade flows (known under-valuations injected, 5 "
      "seeds)\n",
      Section());
  for (const char* f : {"inttrade1", "inttrade2", "facemasks"}) {
    auto flows = ReadTradeFlows(data + "/trade_flows/" + f + ".txt");
    if (!flows.ok()) return Fail(flows.status());
    InjectionResult r = EvaluateInjectedUndervaluation(*flows, 5, ValuationOptions{});
    std::printf(
        "   %-10s recall at 5 %% false flags: price lines %.2f, naive median baseline %.2f\n", f,
        r.recall_mean, r.baseline_mean);
  }
  std::printf("\nmodel: %s; run 'clearsight --help' for every command.\n", model_dir.c_str());
  if (!serve) return 0;
  return RunWorkstation(args, data, work, model_dir, *train, top);
}

}  // namespace clearsight::cli
