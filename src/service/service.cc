// The service: startup (store, models, rules, calibration, selector state), the route table and
// the re-decision of a consignment. Requests (admission, authentication, dispatch, static files)
// are in requests.cc.
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <thread>

#include "clearsight/allocator.h"
#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_simulate.h"
#include "common/json_limits.h"
#include "service/json_text.h"
#include "service/service_impl.h"

namespace clearsight {

namespace service {

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kResourceExhausted:
      return 413;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kIoError:
      return 503;
    case StatusCode::kDataLoss:
      return 500;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

std::string ErrorJson(std::string_view code, std::string_view message) {
  // A message may quote client bytes: invalid UTF-8 is replaced, never a throw.
  return json{{"error", {{"code", code}, {"message", message}}}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

namespace {
std::string CodeName(StatusCode code) {
  std::string n(StatusCodeName(code));
  std::erase(n, '/');  // "i/o error" -> io_error
  for (auto& c : n)
    c = c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n;
}
}  // namespace

HttpResponse ErrorResponse(const Status& status) {
  HttpResponse r;
  r.status = HttpStatusOf(status.code());
  r.body = ErrorJson(CodeName(status.code()), status.message());
  return r;
}

HttpResponse JsonResponse(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

bool IsUrlSafeId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == ':' || c == '-'))
      return false;
  return id != "." && id != "..";
}

bool IsPlainId(std::string_view id) {
  if (id.empty() || id.size() > 256 || !IsValidUtf8(id)) return false;
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

Result<json> ParseBody(std::string_view body, std::string_view what) {
  return ParseJsonBounded(body, what);
}

std::optional<DeclarationBatch> ParseStoredDeclaration(const std::string& json) {
  ReadOptions ro;
  ro.format = DeclarationFormat::kNativeJsonl;
  auto batch = ParseDeclarations(json, "stored", ro, nullptr);
  if (!batch.ok() || batch->rows.size() != 1) return std::nullopt;
  return std::move(batch).value();
}

void AddModelDetails(std::vector<Finding>& findings, const std::vector<std::string>& details) {
  for (auto& f : findings)
    if (f.source == "model" && f.details.empty()) f.details = details;
}

void AppendDecisionMembers(JsonObjectWriter& w, const DecisionRow& d) {
  w.String("consignment_id", d.consignment_id)
      .Number("score", d.score)
      .String("channel", d.channel)
      .Bool("control", d.control)
      .Bool("exploration", d.exploration)
      .Bool("over_budget", d.over_budget)
      .String("status", d.status)
      .Int("version", d.version)
      .String("lane", d.lane)
      .String("date", FormatDate(d.date))
      .Bool("has_declaration", d.has_declaration)
      .Bool("has_scan", d.has_scan)
      .Raw("reasons", d.reasons_json, "[]")  // stored as JSON we wrote: spliced, not re-parsed
      .String("selection", d.selection);
  if (d.model_version)
    w.Int("model_version", *d.model_version);
  else
    w.Null("model_version");
  if (d.propensity)
    w.Number("propensity", *d.propensity);
  else
    w.Null("propensity");
  if (d.outcome.empty())
    w.Null("outcome");
  else
    w.String("outcome", d.outcome);
  w.String("created_at", IsoTime(d.created_ms)).String("updated_at", IsoTime(d.updated_ms));
}

std::string DecisionJsonText(const DecisionRow& d,
                             const std::function<void(JsonObjectWriter&)>& extra) {
  std::string out;
  out.reserve(512 + d.reasons_json.size());
  JsonObjectWriter w(&out);
  AppendDecisionMembers(w, d);
  if (extra) extra(w);
  w.Close();
  return out;
}

json DecisionJson(const DecisionRow& d) {
  json j = json::parse(DecisionJsonText(d), nullptr, false);
  if (j.is_discarded()) {  // only if a stored reasons text were not JSON
    DecisionRow copy = d;
    copy.reasons_json = "[]";
    j = json::parse(DecisionJsonText(copy));
  }
  return j;
}

json ScanJson(const ScanRow& s) {
  json meta = json::parse(s.meta_json.empty() ? "{}" : s.meta_json, nullptr, false);
  json analysis =
      s.analysis_json.empty() ? json(nullptr) : json::parse(s.analysis_json, nullptr, false);
  if (analysis.is_discarded()) analysis = nullptr;
  const std::string base = "/api/scans/" + s.scan_id;
  return json{{"scan_id", s.scan_id},
              {"consignment_id", s.consignment_id},
              {"width", s.width},
              {"height", s.height},
              {"image_sha256", s.image_sha256},
              {"source_format", s.source_format},
              {"source_sha256", s.source_sha256},
              {"meta", meta.is_discarded() ? json::object() : meta},
              {"analysis", analysis},
              {"received_at", IsoTime(s.received_ms)},
              {"links",
               {{"image", base + "/image.png"},
                {"pixel", base + "/pixel?x={x}&y={y}"},
                {"channel", base + "/channels/{name}"},
                {"tiff", "/api/images/" + s.image_sha256}}}};
}

}  // namespace service

using service::Caller;
using service::HttpRequest;
using service::HttpResponse;
using service::JsonObjectWriter;
using service::RoleBit;

// ---- Service ------------------------------------------------------------------------------

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Service::~Service() { Stop(); }
Store& Service::store() { return *impl_->store; }

std::vector<ServiceRoute> Service::Routes() const {
  std::vector<ServiceRoute> out;
  for (const auto& r : impl_->routes) {
    ServiceRoute route{r.method, r.pattern, {}, impl_->BodyLimit(r)};
    for (Role role :
         {Role::kOfficer, Role::kAnalyst, Role::kTrainer, Role::kAdmin, Role::kIntegrator})
      if (r.roles & service::RoleBit(role)) route.roles.push_back(role);
    out.push_back(std::move(route));
  }
  return out;
}
int Service::port() const { return impl_->http ? impl_->http->port() : 0; }

Result<std::unique_ptr<Service>> Service::Create(const ServiceOptions& options) {
  // Before the analysis workers and the HTTP threads exist: a few shared heaps instead of one per
  // thread, so memory a burst of requests freed is reused rather than kept in dozens of arenas.
  LimitMallocArenas(std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 2, 8));
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  CS_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Status Service::Start() {
  service::HttpServerOptions h;
  h.host = impl_->options.host;
  h.port = impl_->options.port;
  h.threads = impl_->options.http_threads;
  h.max_connections = impl_->options.max_connections;
  h.max_connections_per_address = impl_->options.max_connections_per_address;
  h.request_head_timeout_s = impl_->options.request_head_timeout_s;
  h.body_grace_s = impl_->options.body_grace_s;
  h.min_body_bytes_per_s = impl_->options.min_body_bytes_per_s;
  // Health answers while every handler thread is busy (load balancers and monitors ask it).
  h.priority = [](const HttpRequest& head) {
    return head.method == "GET" && (head.path == "/api/health" || head.path == "/metrics");
  };
  h.max_body_bytes =
      std::max({impl_->options.max_body_bytes, impl_->options.max_declaration_body_bytes,
                impl_->options.max_attachment_bytes, Impl::kRulesBodyBytes});
  Impl* impl = impl_.get();
  h.admit = [impl](const HttpRequest& head, HttpResponse* refusal) {
    return impl->Admit(head, refusal);
  };
  impl_->http = std::make_unique<service::HttpServer>(
      h, [impl](HttpRequest& req, HttpResponse& res) { impl->Dispatch(req, res); },
      [](int status, const std::string& message) {
        const char* code = status == 413   ? "resource_exhausted"
                           : status == 404 ? "not_found"
                           : status < 500  ? "invalid_argument"
                                           : "internal";
        if (!message.empty()) return service::ErrorJson(code, message);
        return service::ErrorJson(
            code, status == 413 ? "request body too large" : "HTTP " + std::to_string(status));
      });
  Status s = impl_->http->Start();
  if (!s.ok()) impl_->http.reset();
  return s;
}

void Service::Wait() {
  std::unique_lock lock(impl_->stop_mu);
  impl_->stop_cv.wait(lock, [&] { return impl_->stopped; });
}

void Service::Stop() {
  if (impl_->http) impl_->http->Stop();
  impl_->WriteEndedBursts(/*all=*/true);
  {
    std::lock_guard lock(impl_->stop_mu);
    impl_->stopped = true;
  }
  impl_->stop_cv.notify_all();
  if (impl_->model_watcher.joinable()) impl_->model_watcher.join();
}

// ---- Startup ------------------------------------------------------------------------------

Status Service::Impl::Init() {
  started_ms = NowMs();
  if (options.concurrent_password_checks < 1 || options.concurrent_password_checks > 64)
    return Status::InvalidArgument("concurrent_password_checks must be 1..64, got " +
                                   std::to_string(options.concurrent_password_checks));
  if (options.login_failures_per_address < 5)
    return Status::InvalidArgument("login_failures_per_address must be at least 5, got " +
                                   std::to_string(options.login_failures_per_address));
  if (options.model_poll_ms < 50)
    return Status::InvalidArgument("model_poll_ms must be at least 50, got " +
                                   std::to_string(options.model_poll_ms));
  password_checks =
      std::make_unique<std::counting_semaphore<64>>(options.concurrent_password_checks);
  CS_ASSIGN_OR_RETURN(store, Store::Open(options.store));
  if (!options.nats_url.empty()) {
    if (store->backend() != "postgresql")
      return Status::InvalidArgument(
          "the scale-out (--nats) needs a PostgreSQL store that every process shares "
          "(--db postgresql://...); SQLite serves one process");
    service::QueueOptions q;
    q.url = options.nats_url;
    q.ack_wait_ms = options.nats_ack_wait_ms;
    CS_ASSIGN_OR_RETURN(queue, service::MessageQueue::Connect(q));
  }
  CS_RETURN_IF_ERROR(InitModel());
  if (!options.valuation_history.empty()) {
    IngestReport report;
    auto history = ReadDeclarations(options.valuation_history, ReadOptions{}, &report);
    if (!history.ok()) return history.status().WithContext("reading the valuation history");
    auto v = ValuationModel::Fit(*history, ValuationOptions{});
    if (!v.ok()) return v.status().WithContext("fitting reference prices");
    valuation = std::make_shared<const ValuationModel>(std::move(v).value());
  }
  if (!options.rates_path.empty()) {
    auto r = CurrencyRates::Load(options.rates_path);
    if (!r.ok()) return r.status().WithContext("loading the currency rates");
    rates = std::make_shared<const CurrencyRates>(std::move(r).value());
  }
  if (!options.calibration_path.empty()) {
    auto cal = Calibration::Load(options.calibration_path);
    if (!cal.ok()) return cal.status().WithContext("loading the calibration");
    AnalyzerOptions upload;
    upload.keep_channels = !options.detector_path.empty();  // the detector reads the channels
    upload.threads = 2;  // scans arrive a few per second: both cores shorten each one's wait
    CS_ASSIGN_OR_RETURN(analyzer, Analyzer::Create(*cal, upload));
    AnalyzerOptions viewer;
    viewer.keep_channels = true;
    viewer.threads = 1;
    CS_ASSIGN_OR_RETURN(viewer_analyzer, Analyzer::Create(*cal, viewer));
  }
  if (!options.detector_path.empty()) {
    if (!analyzer)
      return Status::InvalidArgument(
          "a threat detector (" + options.detector_path +
          ") needs the scanner's calibration to analyse scans: give calibration_path too");
    if (options.detector_threads < 1 || options.detector_threads > 16)
      return Status::InvalidArgument("detector_threads must be 1..16, got " +
                                     std::to_string(options.detector_threads));
    DetectorOptions dopt;
    dopt.threads = options.detector_threads;
    dopt.calibration = analyzer->calibration();
    auto d = Detector::Load(options.detector_path, dopt);
    if (!d.ok()) return d.status().WithContext("loading the threat detector");
    detector = std::move(*d);
    if (!detector->scanner_note().empty())
      std::fprintf(stderr, "detector: %s\n", detector->scanner_note().c_str());
    auto m = ManifestModel::FromDetector(*detector);
    if (!m.ok())
      return m.status().WithContext("loading the threat detector " + options.detector_path);
    manifest = std::move(*m);
  }
  if (analyzer) {
    if (options.analysis_threads < 0 || options.analysis_threads > 16)
      return Status::InvalidArgument("analysis_threads must be 0..16, got " +
                                     std::to_string(options.analysis_threads));
    if (options.analysis_threads > 0)
      analysis_pool = std::make_unique<service::WorkerPool>(options.analysis_threads);
    if (options.warm_up && !analysis_pool)
      return Status::InvalidArgument(
          "warm_up runs on the analysis workers: it needs analysis_threads >= 1");
  }
  if (analysis_pool && options.warm_up) {
    const auto t0 = std::chrono::steady_clock::now();
    if (Status s = WarmUp(); !s.ok()) {
      // Not fatal: real scans are analysed (or refused with their own error) as without it.
      warm_up_error = s.ToString();
      std::fprintf(stderr,
                   "warning: the startup warm-up failed (%s); the first scans may be slower\n",
                   warm_up_error.c_str());
    }
    warm_up_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  // Rules: a file given at startup becomes a new stored version when it differs from the latest
  // stored one (so every rule change is in the audit log); otherwise the latest stored version.
  CS_ASSIGN_OR_RETURN(auto latest, store->LatestRules());
  if (!options.rules_path.empty()) {
    CS_ASSIGN_OR_RETURN(std::string text, ReadFile(options.rules_path, size_t{16} << 20));
    if (latest && latest->text == text) {
      CS_ASSIGN_OR_RETURN(auto parsed, RuleSet::Parse(text, options.rules_path));
      rules = std::make_shared<const RuleSet>(std::move(parsed));
      rules_version = latest->version;
    } else {
      CS_RETURN_IF_ERROR(InstallRules(text, options.rules_path, "system"));
    }
  } else if (latest) {
    auto parsed = RuleSet::Parse(latest->text, "rules v" + std::to_string(latest->version));
    if (!parsed.ok()) return parsed.status().WithContext("the stored rules no longer parse");
    rules = std::make_shared<const RuleSet>(std::move(parsed).value());
    rules_version = latest->version;
  }
  risk = std::make_shared<const DeclarationRisk>(model, valuation, rules, LazyExplanations());

  selector = std::make_unique<OnlineSelector>(options.selection);
  CS_ASSIGN_OR_RETURN(auto capacity, store->GetSetting("capacity"));
  if (capacity)
    CS_RETURN_IF_ERROR(ApplyCapacityJson(*capacity).WithContext(
        "the stored capacity setting (change it with PUT /api/settings/capacity)"));
  // Lane-day counts of the last 60 days of decision dates, and each lane's recent scores.
  CS_ASSIGN_OR_RETURN(auto counts, store->SelectionCounts(INT32_MIN));
  for (const auto& c : counts) {
    auto ch = ParseChannel(c.channel);
    if (ch.ok()) selector->RestoreCounts(c.lane, c.date, *ch, c.control, c.count, c.exploration);
  }
  CS_ASSIGN_OR_RETURN(auto recent, store->RecentScores(options.selection.window));
  for (const auto& [lane, score] : recent) selector->RestoreScore(lane, score);

  if (!options.web_dir.empty()) {
    std::error_code ec;
    auto root = std::filesystem::canonical(options.web_dir, ec);
    if (!ec && std::filesystem::is_directory(root)) web_root = root.string();
  }
  BuildRoutes();
  metrics = std::make_unique<service::Metrics>(routes.size());
  model_watcher = std::thread([this] { WatchLiveModel(); });
  return Status::Ok();
}

// A fresh process's first scans are slower: every analysis worker's heap (its glibc malloc arena)
// grows page by page, each new page a fault and a page the kernel zeroes (service_bench
// --cold-starts: p99 of the first 4 s 423-516 ms against 53-59 ms in the next 4, same median). Here
// each worker runs the upload path (decode, analysis, detector, JSON) on one simulated parcel twice
// before the port opens; the memory it frees stays in its heap (common/allocator.h) for the scans
// that follow (p99 162-208 ms then).
Status Service::Impl::WarmUp() {
  SimulateOptions so;
  so.seed = 20261127;
  so.threat_rate = 1;  // a concealed threat: the detector has regions to decode
  CS_ASSIGN_OR_RETURN(auto simulator, Simulator::Create(so));
  CS_ASSIGN_OR_RETURN(SimulatedScan parcel, simulator->Simulate(0));
  CS_ASSIGN_OR_RETURN(const std::string tiff, EncodeScanTiff(parcel.scan));
  const std::string sidecar = ScanMetaToJson(parcel.scan.meta);
  std::mutex mu;
  Status first_error;
  analysis_pool->RunOnEach([&](int) {
    Status s = [&]() -> Status {
      for (int round = 0; round < 2; ++round) {
        CS_ASSIGN_OR_RETURN(Scan scan, DecodeScan(tiff, sidecar, "the warm-up scan"));
        ScanResult result;
        CS_RETURN_IF_ERROR(clearsight::AnalyzeScan(scan, Pipeline(), &parcel.declaration, &result));
        const std::string stored_json = result.analysis.ToJson();  // as the scan's row gets it
        (void)stored_json;
      }
      return Status::Ok();
    }();
    std::lock_guard lock(mu);
    if (!s.ok() && first_error.ok()) first_error = s;
  });
  return first_error;
}

void Service::Impl::BuildRoutes() {
  const unsigned officer = RoleBit(Role::kOfficer), analyst = RoleBit(Role::kAnalyst),
                 trainer = RoleBit(Role::kTrainer), admin = RoleBit(Role::kAdmin),
                 integrator = RoleBit(Role::kIntegrator);
  const unsigned all = service::kEveryRole;
  // The one route table: method, path, who may call it, handler. docs/api.md mirrors it.
  routes = {
      {"GET", "/api/health", service::kPublic, &Impl::Health, {}},
      {"POST", "/api/login", service::kPublic, &Impl::Login, {}},
      {"POST", "/api/logout", all, &Impl::Logout, {}},
      {"GET", "/api/me", all, &Impl::Me, {}},
      {"POST", "/api/declarations", integrator | analyst | admin, &Impl::PostDeclarations, {}},
      {"GET",
       "/api/declarations/{id}",
       officer | analyst | admin | integrator,
       &Impl::GetDeclaration,
       {}},
      {"GET",
       "/api/consignments/{id}",
       officer | analyst | admin | integrator,
       &Impl::GetConsignment,
       {}},
      {"POST", "/api/consignments/{id}/outcome", officer | analyst | admin, &Impl::PostOutcome, {}},
      {"POST",
       "/api/consignments/{id}/outcomes/{seq}/attachments",
       officer | analyst | admin,
       &Impl::PostAttachment,
       {}},
      {"GET",
       "/api/consignments/{id}/attachments/{sha256}",
       officer | analyst | trainer | admin,
       &Impl::GetAttachment,
       {}},
      {"GET", "/api/responses", integrator | analyst | admin, &Impl::GetResponses, {}},
      {"GET", "/api/queue", officer | analyst | admin, &Impl::GetQueue, {}},
      {"GET", "/api/offices", officer | analyst | admin, &Impl::GetOffices, {}},
      {"POST", "/api/scans", integrator | officer | analyst | admin, &Impl::PostScan, {}},
      {"GET",
       "/api/scans/{id}",
       officer | analyst | trainer | admin | integrator,
       &Impl::GetScan,
       {}},
      {"GET",
       "/api/scans/{id}/image.png",
       officer | analyst | trainer | admin,
       &Impl::GetScanImage,
       {}},
      {"GET",
       "/api/scans/{id}/pixel",
       officer | analyst | trainer | admin,
       &Impl::GetScanPixel,
       {}},
      {"GET",
       "/api/scans/{id}/channels/{name}",
       officer | analyst | trainer | admin,
       &Impl::GetScanChannel,
       {}},
      {"GET", "/api/images/{sha256}", officer | analyst | trainer | admin, &Impl::GetImage, {}},
      {"GET", "/api/stats", analyst | admin, &Impl::GetStats, {}},
      {"GET", "/api/rules", analyst | admin, &Impl::GetRules, {}},
      {"PUT", "/api/rules", analyst | admin, &Impl::PutRules, {}},
      {"POST", "/api/rules/test", analyst | admin, &Impl::TestRules, {}},
      {"GET", "/api/rules/versions", analyst | admin, &Impl::ListRulesVersions, {}},
      {"GET", "/api/rules/versions/{version}", analyst | admin, &Impl::GetRulesVersion, {}},
      {"GET", "/api/rules/versions/{version}/diff", analyst | admin, &Impl::DiffRulesVersion, {}},
      {"POST", "/api/rules/rollback", analyst | admin, &Impl::RollbackRules, {}},
      {"GET", "/api/rules/stats", analyst | admin, &Impl::GetRuleStats, {}},
      {"GET", "/api/horizon", analyst | admin, &Impl::GetHorizon, {}},
      {"GET", "/api/models", analyst | admin, &Impl::ListModels, {}},
      {"GET", "/api/models/{version}", analyst | admin, &Impl::GetModel, {}},
      {"POST", "/api/models/{version}/promote", analyst | admin, &Impl::PromoteModel, {}},
      {"POST", "/api/models/rollback", analyst | admin, &Impl::RollbackModel, {}},
      {"GET", "/api/settings/capacity", analyst | admin, &Impl::GetCapacity, {}},
      {"PUT", "/api/settings/capacity", admin, &Impl::PutCapacity, {}},
      {"GET", "/api/users", admin, &Impl::ListUsers, {}},
      {"POST", "/api/users", admin, &Impl::PostUser, {}},
      {"POST", "/api/users/{name}/disable", admin, &Impl::DisableUser, {}},
      {"POST", "/api/users/{name}/enable", admin, &Impl::EnableUser, {}},
      {"DELETE", "/api/users/{name}/sessions", admin, &Impl::DeleteUserSessions, {}},
      {"GET", "/api/audit", admin, &Impl::GetAudit, {}},
      {"GET", "/api/audit/verify", admin, &Impl::VerifyAudit, {}},
      {"GET", "/metrics", analyst | admin, &Impl::MetricsText, {}},
      // Screener training (docs/training.md): trainers build and assign, officers train.
      {"POST", "/api/training/sessions", trainer | admin, &Impl::CreateTrainingSession, {}},
      {"GET", "/api/training/sessions", trainer | admin, &Impl::ListTrainingSessions, {}},
      {"POST",
       "/api/training/sessions/{id}/assign",
       trainer | admin,
       &Impl::AssignTrainingSession,
       {}},
      {"GET",
       "/api/training/assignments",
       officer | trainer | admin,
       &Impl::MyTrainingAssignments,
       {}},
      {"GET", "/api/training/sessions/{id}/next", officer, &Impl::NextTrainingImage, {}},
      {"POST", "/api/training/trials/{id}/response", officer, &Impl::RespondTrainingTrial, {}},
      {"GET", "/api/training/scores", officer | trainer | admin, &Impl::GetTrainingScores, {}},
      {"PUT", "/api/training/certification", trainer | admin, &Impl::PutTrainingCertification, {}},
      {"GET", "/api/training/results.csv", trainer | admin, &Impl::GetTrainingResultsCsv, {}},
      // The case library (docs/training.md): trainers tag cases and put them into sessions;
      // analysts read them. Officers, the trainees, do not: the cases are their test images.
      {"GET", "/api/cases", analyst | trainer | admin, &Impl::ListCases, {}},
      {"GET", "/api/cases/{id}", analyst | trainer | admin, &Impl::GetCase, {}},
      {"PUT", "/api/cases/{id}", trainer | admin, &Impl::PutCase, {}},
  };
  for (auto& r : routes)
    for (auto s : Split(std::string_view(r.pattern).substr(1), '/')) r.segments.emplace_back(s);
}

// ---- Decisions ---------------------------------------------------------------------------

std::shared_ptr<const DeclarationRisk> Service::Impl::CurrentRisk(
    int64_t* version, std::optional<int64_t>* assessing_model_version) {
  std::lock_guard lock(risk_mu);
  if (version) *version = rules_version;
  if (assessing_model_version) *assessing_model_version = model ? model_version : std::nullopt;
  return risk;
}

namespace {
int32_t Today() { return static_cast<int32_t>(NowMs() / 86400000); }

std::string ReasonsJsonText(const std::vector<FusedReason>& reasons) {
  std::string out = "[";
  for (size_t i = 0; i < reasons.size(); ++i) {
    const FusedReason& r = reasons[i];
    if (i) out.push_back(',');
    JsonObjectWriter w(&out);
    w.String("text", r.text)
        .String("source", r.source)
        .String("kind", r.kind)
        .Number("weight", r.weight);
    if (!r.details.empty()) w.StringArray("details", r.details);
    if (r.box) {
      std::string box = "[";
      for (int v : {r.box->x0, r.box->y0, r.box->x1, r.box->y1}) {
        if (box.size() > 1) box.push_back(',');
        service::AppendJsonInt(&box, v);
      }
      w.Raw("box", box + "]");
    }
    if (!r.scan_id.empty()) w.String("scan_id", r.scan_id);
    w.Close();
  }
  out.push_back(']');
  return out;
}

// A model finding still without its feature reasons (explanations are made only where needed).
bool NeedsExplanation(const std::vector<Finding>& findings) {
  for (const auto& f : findings)
    if (f.source == "model" && f.details.empty()) return true;
  return false;
}
}  // namespace

Result<bool> Service::Impl::ExplainStored(StoreTxn& txn, const std::string& declaration_id,
                                          std::vector<Finding>& findings) {
  std::optional<int64_t> serving;
  auto current = CurrentRisk(nullptr, &serving);
  if (!current->model()) return false;
  CS_ASSIGN_OR_RETURN(auto stored, txn.GetDeclaration(declaration_id));
  if (!stored) return false;
  // Only the model that gave the probability explains it: after a promotion or rollback, a
  // declaration assessed by another version keeps its reason without feature details.
  json assessed = json::parse(stored->assessment, nullptr, false);
  if (assessed.is_object() && assessed.contains("model_version")) {
    const json& v = assessed["model_version"];
    if (!serving || !v.is_number_integer() || v.get<int64_t>() != *serving) return false;
  }
  auto batch = service::ParseStoredDeclaration(stored->json);
  if (!batch) return false;
  std::vector<std::string> details = current->ExplainModel(*batch, 0, kExplainReasons);
  if (details.empty()) return false;
  service::AddModelDetails(findings, details);
  return true;
}

Status Service::Impl::SyncLaneDays(StoreTxn& txn, const std::string& lane, int32_t day) {
  // The day before sets a count budget's volume, the day after takes carried-over consignments.
  CS_ASSIGN_OR_RETURN(auto rows, txn.LaneDays(lane, day - 1, day + 1));
  OnlineSelector::Counts counts[3];
  for (const auto& r : rows) {
    OnlineSelector::Counts& c = counts[r.date - (day - 1)];
    c.seen = r.seen;
    c.red = r.red;
    c.yellow = r.yellow;
    c.control = r.control;
    c.exploration = r.exploration;
  }
  for (int i = 0; i < 3; ++i) selector->ReplaceCounts(lane, day - 1 + i, counts[i]);
  return Status::Ok();
}

Result<DecisionRow> Service::Impl::Refuse(
    StoreTxn& txn, const std::string& consignment_id, const Declaration* declared,
    std::optional<int64_t> model_version, bool novel, const std::string& actor,
    const EvidenceOrigin& trigger, std::vector<Finding>& written, std::string written_json,
    const std::function<bool(std::vector<Finding>&)>& explain_written) {
  ConsignmentUpdate update;
  update.consignment_id = consignment_id;
  update.declared = declared;
  update.today = Today();
  update.scan_lane = options.scan_lane;
  update.novel = novel;
  update.written.origin = trigger;
  CS_ASSIGN_OR_RETURN(auto prev, txn.GetDecision(consignment_id));
  if (prev) {
    auto corrupt = [&](const Status& s) {
      return Status::DataLoss("consignment " + consignment_id + ": " + s.message());
    };
    PriorDecision prior;
    auto channel = ParseChannel(prev->channel);
    if (!channel.ok()) return corrupt(channel.status());
    auto status = ParseWorkStatus(prev->status);
    if (!status.ok()) return corrupt(status.status());
    prior.channel = *channel;
    prior.status = *status;
    prior.control = prev->control;
    prior.exploration = prev->exploration;
    prior.propensity = prev->propensity;
    prior.lane = prev->lane;
    prior.day = prev->date;
    prior.version = prev->version;
    update.prior = std::move(prior);
    // Findings are only ever stored with a decision: a first decision has just `written`.
    CS_ASSIGN_OR_RETURN(auto rows, txn.FindingsOf(consignment_id));
    for (auto& [key, text] : rows) {
      auto origin = EvidenceOrigin::Parse(key);
      if (!origin.ok()) return corrupt(origin.status());
      if (*origin == trigger) continue;  // replaced by `written`
      CS_ASSIGN_OR_RETURN(auto findings, FindingsFromJson(text));
      update.stored.push_back({std::move(*origin), std::move(findings)});
    }
  }
  update.written.findings = written;
  if (store->backend() == "postgresql") {
    // Other processes (workers, services) decide on the same database: the lane-days this
    // decision counts against are read back first, inside the transaction that holds the
    // writers' lock, so the budgets hold over all of them.
    const SelectionInput where = SelectionInputFor(update, FusedRisk{});
    CS_RETURN_IF_ERROR(SyncLaneDays(txn, where.lane, where.day));
    if (where.previous && (where.previous_lane != where.lane || where.previous_day != where.day))
      CS_RETURN_IF_ERROR(SyncLaneDays(txn, where.previous_lane, where.previous_day));
  }
  ConsignmentDecision decision = DecideConsignment(update, *selector, options.fusion);
  // Only a consignment an officer will look at needs the model's feature reasons: they are made
  // here, for decisions that are not green, and stored with the findings.
  if (decision.selection.channel != Channel::kGreen) {
    bool explained = false;
    if (explain_written && NeedsExplanation(written) && explain_written(written)) {
      written_json = FindingsToJson(written);
      update.written.findings = written;
      explained = true;
    }
    for (auto& [origin, findings] : update.stored) {
      if (origin.kind != EvidenceOrigin::Kind::kDeclaration || !NeedsExplanation(findings))
        continue;
      CS_ASSIGN_OR_RETURN(bool done, ExplainStored(txn, origin.id, findings));
      if (!done) continue;
      CS_RETURN_IF_ERROR(txn.PutFindings(consignment_id, origin.Key(), FindingsToJson(findings)));
      explained = true;
    }
    // The same score; the reasons gain their details.
    if (explained) decision.fused = FuseEvidence(update.stored, update.written, options.fusion);
  }
  CS_RETURN_IF_ERROR(txn.PutFindings(consignment_id, trigger.Key(), written_json));
  const int64_t now = NowMs();
  DecisionRow row;
  row.consignment_id = consignment_id;
  row.lane = decision.lane;
  row.date = decision.day;
  row.score = decision.fused.score;
  row.channel = std::string(ChannelName(decision.selection.channel));
  row.control = decision.selection.control;
  row.status = std::string(WorkStatusName(decision.status));
  row.version = decision.version;
  row.has_scan = decision.has_scan;
  row.has_declaration = decision.has_declaration;
  row.reasons_json = ReasonsJsonText(decision.fused.reasons);
  row.selection = decision.selection.why;
  row.over_budget = decision.selection.over_budget;
  row.exploration = decision.selection.exploration;
  row.propensity = decision.selection.propensity;
  row.outcome = prev ? prev->outcome : "";
  row.created_ms = prev ? prev->created_ms : now;
  row.updated_ms = now;
  row.model_version = trigger.kind == EvidenceOrigin::Kind::kDeclaration || !prev
                          ? model_version
                          : prev->model_version;
  AuditEntry e;
  e.actor = actor;
  e.action = "decision";
  e.subject = consignment_id;
  {
    std::vector<std::string> texts;
    texts.reserve(decision.fused.reasons.size());
    for (const auto& r : decision.fused.reasons) texts.push_back(r.text);
    JsonObjectWriter w(&e.detail_json);
    w.Int("version", row.version)
        .Number("score", row.score)
        .String("channel", row.channel)
        .Bool("control", row.control)
        .Bool("over_budget", row.over_budget)
        .Bool("exploration", row.exploration)
        .Number("propensity", *row.propensity)
        .String("trigger", trigger.Key())
        .String("selection", row.selection)
        .StringArray("reasons", texts);
    if (row.model_version)
      w.Int("model_version", *row.model_version);
    else
      w.Null("model_version");
    w.Close();
  }
  CS_RETURN_IF_ERROR(txn.Audit(&e));
  // The audit entry's place in the chain is the decision's place among all changes, for the
  // integrators' cursor (GET /api/responses).
  row.change_seq = e.seq;
  CS_RETURN_IF_ERROR(txn.PutDecision(row));
  metrics->decisions.Add("channel=\"" + row.channel + "\",control=\"" +
                         (row.control ? "true" : "false") + "\",trigger=\"" +
                         (trigger.kind == EvidenceOrigin::Kind::kScan ? "scan" : "declaration") +
                         "\"");
  return row;
}

}  // namespace clearsight
