// The demo: the main job of the README's run command. Trains the risk model on the public KCS
// data, scores the later period with the example rule profile and reference prices, and prints
// the top of the inspection queue with reasons; then shows under-valuation detection on real
// EU trade flows.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <thread>
#include <tuple>

#include "clearsight/client.h"
#include "clearsight/decide.h"
#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/fusion.h"
#include "clearsight/model_registry.h"
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
    "Trains the declaration risk model on the public KCS data (2020), scores the next quarter\n"
    "(2021-01..03) with the example rules, and prints the top of the inspection queue with\n"
    "reasons; reports under-valuation detection on real EU trade flows; then (unless --no-serve)\n"
    "simulates X-ray scans of parcels with their declarations, calibrates from step wedges, "
    "starts\n"
    "the service and web workstation on localhost with SQLite, feeds it through the HTTP API, and\n"
    "prints the URL and the demo logins. Ctrl-C stops it; running it again reuses what is there.\n"
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
}  // namespace

// Part two: scans, the service and the workstation.
int RunWorkstation(const Args& args, const std::string& data, const std::string& work,
                   const std::string& model_dir, const DeclarationBatch& kcs_history) {
  namespace fs = std::filesystem;
  long long port, nscans;
  if (!args.GetInt("port", 8080, &port) || port < 0 || port > 65535)
    return Usage("--port must be 0..65535", kUsage);
  if (!args.GetInt("scans", 40, &nscans) || nscans < 1 || nscans > 10000)
    return Usage("--scans must be 1..10000", kUsage);
  auto t0 = std::chrono::steady_clock::now();
  std::printf("\n== 6. the officer workstation\n");
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
  int fed_declarations = 0, fed_scans = 0;
  {
    // The first weeks of 2021-Q1 from the KCS data, and the simulated parcels' declarations.
    auto kcs = ReadFile(data + "/customs/df_syn_valid_eng.csv");
    if (!kcs.ok()) return Fail(kcs.status());
    std::string head;
    size_t lines = 0, p = 0;
    while (p < kcs->size() && lines < 601) {
      size_t e = kcs->find('\n', p);
      if (e == std::string::npos) e = kcs->size();
      head.append(*kcs, p, e - p + 1);
      p = e + 1;
      ++lines;
    }
    for (auto [content, format] : {std::pair<std::string, const char*>{head, "kcs"}}) {
      auto r = (*client)->PostDeclarations(content, format);
      if (!r.ok()) return Fail(r.status());
    }
    fed_declarations += static_cast<int>(lines - 1);
    auto sim = ReadFile(work + "/scans/declarations.csv");
    if (!sim.ok()) return Fail(sim.status());
    auto r = (*client)->PostDeclarations(*sim, "csv");
    if (!r.ok()) return Fail(r.status());
    fed_declarations += static_cast<int>(nscans);
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
  std::printf("   fed %d declarations and %d scans through the API (%.1f s)\n\n", fed_declarations,
              fed_scans, Seconds(t0));
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
  std::printf("== 1. ingest\n   2020 history: %s\n   2021-Q1 to score: %s   (%.2f s)\n\n",
              train_report.Summary().c_str(), valid_report.Summary().c_str(), Seconds(t0));

  std::string model_dir = work + "/model";
  Result<RiskModel> model = Status::NotFound("");
  if (!args.Has("retrain")) model = RiskModel::Load(model_dir);
  t0 = std::chrono::steady_clock::now();
  if (!model.ok()) {
    std::printf("== 2. train the risk model (300 trees, depth 6; features respect time)\n");
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
    std::printf("== 2. risk model loaded from %s (--retrain to train again)\n", model_dir.c_str());
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
  std::printf(
      "== 3. decisions: model, reference prices and rules fused; 5 %% red per office and day, 10 "
      "%% of it a\n"
      "      random control sample\n");
  std::printf("   red %zu (of which control %zu), yellow %zu, green %zu\n", red, control, yellow,
              valid->rows.size() - red - yellow);
  std::printf(
      "   hit rate of targeted reds %.1f %% vs random control %.1f %%: the control sample measures "
      "the base rate\n",
      100.0 * red_fraud / std::max<size_t>(1, red - control),
      100.0 * control_fraud / std::max<size_t>(1, control));
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
  std::printf("\n== 4. top of the inspection queue (2021-Q1)\n");
  for (long long k = 0; k < top && k < static_cast<long long>(order.size()); ++k) {
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
      "\n== 5. under-valuation on real EU trade flows (known under-valuations injected, 5 "
      "seeds)\n");
  for (const char* f : {"inttrade1", "inttrade2", "facemasks"}) {
    auto flows = ReadTradeFlows(data + "/trade_flows/" + f + ".txt");
    if (!flows.ok()) return Fail(flows.status());
    InjectionResult r = EvaluateInjectedUndervaluation(*flows, 5, ValuationOptions{});
    std::printf(
        "   %-10s recall at 5 %% false flags: price lines %.2f, naive median baseline %.2f\n", f,
        r.recall_mean, r.baseline_mean);
  }
  std::printf("\nmodel: %s; run 'clearsight --help' for every command.\n", model_dir.c_str());
  if (args.Has("no-serve")) return 0;
  return RunWorkstation(args, data, work, model_dir, *train);
}

}  // namespace clearsight::cli
