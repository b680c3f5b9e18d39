// Service internals shared by the handler files: the Impl, the route table entry, JSON helpers.
#pragma once

#include <condition_variable>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "clearsight/consignment.h"
#include "clearsight/currency_rates.h"
#include "clearsight/fusion.h"
#include "clearsight/horizon.h"
#include "clearsight/postal.h"
#include "clearsight/risk_model.h"
#include "clearsight/rules.h"
#include "clearsight/service.h"
#include "clearsight/training.h"
#include "clearsight/valuation.h"
#include "clearsight/xray_analyze.h"
#include "clearsight/xray_detect.h"
#include "clearsight/xray_manifest.h"
#include "clearsight/xray_pipeline.h"
#include "service/http.h"
#include "service/message_queue.h"
#include "service/metrics.h"
#include "service/worker_pool.h"

namespace clearsight {

using nlohmann::json;

namespace service {

// Who is calling: filled by authentication before a handler runs.
struct Caller {
  std::string username;
  Role role = Role::kOfficer;
  std::string token_sha256;
  int64_t expires_ms = 0;  // when the session ends
};

constexpr unsigned RoleBit(Role r) { return 1u << static_cast<unsigned>(r); }
constexpr unsigned kPublic = 0;
// Outcomes a group (an office, an HS chapter, a rule over a window) needs before its hit rate is
// shown or compared: fewer say little (a Wilson interval over 5 outcomes spans half the range).
constexpr int64_t kMinOutcomesForARate = 10;
// GET /api/stats "estimates" (estimates.cc): from the control draws' outcomes, the fraud rate among
// all consignments, the frauds and the revenue it implies among the `not_inspected`, with 95 %
// intervals; nulls with a "reason" where the sample is too small.
json ControlEstimates(const std::vector<ControlOutcome>& outcomes, int64_t not_inspected,
                      int64_t min_outcomes, uint64_t seed);
// GET /api/horizon: declarations one scan reads at most, the most baseline weeks it may ask for,
// and how long its result is reused.
constexpr int64_t kHorizonMaxDeclarations = 500000;
constexpr int kHorizonMaxBaselineWeeks = 156;
constexpr int64_t kHorizonCacheMs = 5 * 60 * 1000;
constexpr unsigned kEveryRole = RoleBit(Role::kOfficer) | RoleBit(Role::kAnalyst) |
                                RoleBit(Role::kTrainer) | RoleBit(Role::kAdmin) |
                                RoleBit(Role::kIntegrator);

// The one table from error code to HTTP status.
int HttpStatusOf(StatusCode code);
// {"error":{"code":"not_found","message":"..."}}
std::string ErrorJson(std::string_view code, std::string_view message);
HttpResponse ErrorResponse(const Status& status);
HttpResponse JsonResponse(int status, const json& body);

// Ids that appear in URLs: 1..128 of [A-Za-z0-9._:-].
bool IsUrlSafeId(std::string_view id);
// Any id we store: 1..256 bytes of UTF-8 without control characters.
bool IsPlainId(std::string_view id);

// A client's JSON body, parsed within the limits of common/json_limits.h (depth 64, 1 Mi values):
// InvalidArgument naming the limit or where the syntax broke.
Result<json> ParseBody(std::string_view body, std::string_view what = "the body");

// A stored declaration (DeclarationRow::json) read back as a one-row batch; nullopt when it
// cannot be read.
std::optional<DeclarationBatch> ParseStoredDeclaration(const std::string& json);
// The rule profile text of a request: the body as sent (text/plain), or {"text": "..."} when it is
// JSON (what the workstation sends, since a request with the session cookie must be JSON).
Result<std::string> RulesTextOf(const HttpRequest& req);
// Gives the model findings that have no feature reasons yet these `details`.
void AddModelDetails(std::vector<Finding>& findings, const std::vector<std::string>& details);

class JsonObjectWriter;
// The decision as the API shows it; `extra` may add members to the same object.
void AppendDecisionMembers(JsonObjectWriter& w, const DecisionRow& d);
std::string DecisionJsonText(const DecisionRow& d,
                             const std::function<void(JsonObjectWriter&)>& extra = nullptr);
json DecisionJson(const DecisionRow& d);
json ScanJson(const ScanRow& s);
// An outcome as the API shows it, with its attachments (handlers_outcomes.cc).
json OutcomeJson(const OutcomeRow& o);
// The results an outcome may record, kNotInspected last (handlers_outcomes.cc).
const std::vector<std::string>& OutcomeResults();
// The fields of a declaration an officer scans the queue by, as JSON text ("null" when there is
// none or it cannot be read; handlers_decisions.cc).
std::string DeclarationSummary(const std::string& declaration_json);
// "channel red" or "score 0.4".
std::string RuleActionText(const Rule& r);

// A decoded scan, and its analysis with per-pixel channels once the viewer asked for it.
struct CachedScan {
  ScanRow row;
  Scan scan;
  std::mutex mu;
  std::unique_ptr<ScanAnalysis> channels;  // lazily, with keep_channels
  std::map<std::string, std::shared_ptr<const std::string>>
      gzipped;  // channel name -> gzip body (under mu)
};

}  // namespace service

struct Service::Impl {
  using Handler = Result<service::HttpResponse> (Impl::*)(const service::HttpRequest&,
                                                          const service::Caller&);
  struct Route {
    const char* method;
    const char* pattern;
    unsigned roles;
    Handler handler;
    std::vector<std::string> segments;
  };

  ServiceOptions options;
  std::unique_ptr<Store> store;
  std::unique_ptr<service::MessageQueue> queue;  // serve --nats: publish instead of deciding
  std::unique_ptr<service::Metrics> metrics;
  std::unique_ptr<service::HttpServer> http;
  std::vector<Route> routes;
  int64_t started_ms = 0;
  // The startup warm-up (ServiceOptions::warm_up): how long it took, and why it failed ("" when it
  // did not), for /api/health.
  double warm_up_ms = 0;
  std::string warm_up_error;
  std::string web_root;  // realpath of options.web_dir, "" when none

  // Evidence and decisions. A request takes one snapshot of `risk` (CurrentRisk) and decides with
  // it to the end: a model or rules change swaps the pointer for the requests that come after.
  std::shared_ptr<const ValuationModel> valuation;
  std::shared_ptr<const CurrencyRates> rates;  // options.rates_path; null = none
  std::mutex risk_mu;  // guards model, model_version, model_error, rules, rules_version, risk
  std::shared_ptr<const RiskModel> model;
  std::optional<int64_t> model_version;  // the registry version of `model`
  std::string model_error;  // why the registry's live version is not served here ("" = it is)
  std::shared_ptr<const RuleSet> rules;
  int64_t rules_version = 0;
  std::shared_ptr<const DeclarationRisk> risk;
  // One model change at a time: promotions and rollbacks through the API, and the watcher that
  // follows changes made by other processes (it stops with `stopped`).
  std::mutex model_change_mu;
  std::thread model_watcher;
  std::unique_ptr<Analyzer> analyzer;             // uploads: objects and totals only
  std::unique_ptr<Analyzer> viewer_analyzer;      // the viewer: per-pixel channels
  std::unique_ptr<Detector> detector;             // threats; needs `analyzer`
  std::unique_ptr<const ManifestModel> manifest;  // from the detector's model file, when it has one
  ScanPipeline Pipeline() const {
    return {analyzer.get(), detector.get(), manifest.get(), nullptr};
  }
  // Where uploads are analysed (with `analyzer`); after the analysers so that it ends first.
  std::unique_ptr<service::WorkerPool> analysis_pool;
  std::unique_ptr<OnlineSelector> selector;

  // Sessions seen recently (token sha256 -> session), re-checked against the store every 10 s.
  struct CachedSession {
    SessionRow row;
    int64_t checked_ms = 0;
  };
  std::mutex sessions_mu;
  std::unordered_map<std::string, CachedSession> sessions;
  // Drops the cached sessions of a user whose role, password or state changed, so that the next
  // request reads them (and the user's role) again.
  void ForgetSessionsOf(const std::string& username);
  // Failed logins per user name: after 5 within 5 minutes, 60 s without trying.
  struct Throttle {
    int failures = 0;
    int64_t first_ms = 0, locked_until_ms = 0;
  };
  std::mutex throttle_mu;
  std::unordered_map<std::string, Throttle> throttle;  // by user name
  // Failed logins by client address: a limit over all user names, and the audit log's bursts
  // (the first failure of a burst is written at once; the rest are counted and written as one
  // login_failed_burst entry when the burst ends: 60 s without failures from the address).
  struct AddressFailures {
    Throttle limit;
    int64_t burst_first_ms = 0, burst_last_ms = 0;
    int burst_count = 0;
    std::vector<std::string> burst_users;  // the first few user names tried
  };
  std::unordered_map<std::string, AddressFailures> address_failures;
  // Password checks running at once (ServiceOptions::concurrent_password_checks).
  std::unique_ptr<std::counting_semaphore<64>> password_checks;
  // The audit entry that ends `a`'s previous burst, if it had more than its first failure.
  static std::optional<AuditEntry> EndOfBurst(const std::string& address, const AddressFailures& a);
  // Writes the bursts of failed logins that ended (60 s quiet), or all of them (at shutdown).
  // Runs at most every 10 s unless `all`.
  void WriteEndedBursts(bool all);
  int64_t bursts_checked_ms = 0;  // under throttle_mu

  std::mutex scan_cache_mu;
  std::list<std::pair<std::string, std::shared_ptr<service::CachedScan>>>
      scan_cache;  // most recent first

  // GET /api/horizon: the last scan, reused for kHorizonCacheMs by calls with the same `since`,
  // baseline weeks and false-discovery rate (the report names them).
  std::mutex horizon_mu;  // held through a scan: one at a time
  std::shared_ptr<const HorizonReport> horizon_cache;
  int64_t horizon_cache_ms = 0;

  // Screener training: the image maker (its threat library is simulated on first use).
  std::mutex training_mu;
  std::unique_ptr<TrainingImageMaker> training_maker;
  int64_t training_images_swept_ms = 0;  // under training_mu

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopped = false;

  // ---- service.cc ----
  Status Init();
  Status WarmUp();
  void BuildRoutes();
  void Dispatch(service::HttpRequest& req, service::HttpResponse& res);
  // Body limits (docs/api.md): requests to public routes or to no route (a login needs little),
  // rules texts, and the other JSON bodies; declarations and scans have their own options.
  static constexpr size_t kAnonymousBodyBytes = size_t{64} << 10;
  static constexpr size_t kRulesBodyBytes = size_t{4} << 20;
  static constexpr size_t kSmallBodyBytes = size_t{1} << 20;
  // The route of a request (nullptr when none; `allowed` collects the methods the path has).
  const Route* FindRoute(const service::HttpRequest& req, std::vector<std::string>* params,
                         std::string* allowed) const;
  size_t BodyLimit(const Route& route) const;
  // service::Admit: from the headers alone, how many body bytes a request may send, or its
  // refusal (401 without a valid session, 403 for a role the route does not allow).
  std::optional<size_t> Admit(const service::HttpRequest& head, service::HttpResponse* refusal);
  Result<service::Caller> Authenticate(const service::HttpRequest& req);
  Status CheckSameOrigin(const service::HttpRequest& req, bool binary_upload) const;
  void ServeStatic(const service::HttpRequest& req, service::HttpResponse& res);
  // The declaration risk in use (and the rules and model versions it holds).
  std::shared_ptr<const DeclarationRisk> CurrentRisk(
      int64_t* rules_version = nullptr, std::optional<int64_t>* model_version = nullptr);
  static constexpr int kExplainReasons = 3;  // model feature reasons shown per declaration
  // Declarations are assessed without the model's feature reasons; Refuse adds them where the
  // decision is not green (most are green, and explaining costs more than scoring).
  static DeclarationRiskOptions LazyExplanations() {
    DeclarationRiskOptions o;
    o.explain_reasons = 0;
    return o;
  }
  // Re-fuses all findings of a consignment and stores the new decision (inside a write).
  // `written` are this write's findings from `trigger`, stored here as `written_json`; a
  // consignment without an earlier decision has no others. DecideConsignment decides; this reads
  // and writes the store around it. When the decision is not green, model findings without
  // feature reasons get them: `explain_written` for `written` (returns whether it added any),
  // ExplainStored for stored ones.
  // `model_version`: the registry version of the model that assessed `declared` (none without a
  // model); a decision triggered by a scan keeps its predecessor's. `novel`: the model has no
  // outcome for the like of `declared` (RiskModel::Novel), which makes it eligible for exploration.
  // Sets the selector's counts of lane-days day-1..day+1 from the store (several deciding
  // processes on one PostgreSQL database).
  Status SyncLaneDays(StoreTxn& txn, const std::string& lane, int32_t day);
  Result<DecisionRow> Refuse(
      StoreTxn& txn, const std::string& consignment_id, const Declaration* declared,
      std::optional<int64_t> model_version, bool novel, const std::string& actor,
      const EvidenceOrigin& trigger, std::vector<Finding>& written, std::string written_json,
      const std::function<bool(std::vector<Finding>&)>& explain_written = nullptr);
  // Adds the model's reasons to the model findings of a stored declaration; false when there is
  // no model or the declaration cannot be read back.
  Result<bool> ExplainStored(StoreTxn& txn, const std::string& declaration_id,
                             std::vector<Finding>& findings);

  // ---- handlers_decisions.cc ----
  struct SubmitResult {
    std::string declaration_id;
    std::string status;  // created, unchanged, conflict, error
    Status error;
    std::optional<DecisionRow> decision;
  };
  std::vector<SubmitResult> SubmitBatch(const DeclarationBatch& batch, const std::string& actor);
  // Scale-out (scale_out.cc). `serve --nats`: what PostDeclarations and PostScan accepted is
  // published for the workers (202), after the checks that need no model: a declaration stored
  // before with other content is a conflict here, one stored with the same content is answered
  // with its decision.
  Result<service::HttpResponse> QueueDeclarations(const DeclarationBatch& batch,
                                                  const IngestReport& report, bool single,
                                                  const service::Caller& caller);
  Result<service::HttpResponse> QueueScan(const ScanRow& row, const service::Caller& caller);
  // A worker's handling of one fetched batch of its role's messages.
  void WorkDeclarations(std::vector<std::unique_ptr<service::QueueMessage>>& messages);
  void WorkScans(std::vector<std::unique_ptr<service::QueueMessage>>& messages);
  void WorkScan(service::QueueMessage& message);
  Result<service::HttpResponse> PostDeclarations(const service::HttpRequest&,
                                                 const service::Caller&);
  Result<service::HttpResponse> GetDeclaration(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetConsignment(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetQueue(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetOffices(const service::HttpRequest&, const service::Caller&);

  // ---- handlers_outcomes.cc ----
  Result<service::HttpResponse> PostOutcome(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> PostAttachment(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetAttachment(const service::HttpRequest&, const service::Caller&);

  // ---- handlers_responses.cc ----
  // The customs response about a stored decision (its declarations' item id, its findings).
  Result<ConsignmentResponse> ResponseOf(const DecisionRow& decision);
  Result<service::HttpResponse> GetResponses(const service::HttpRequest&, const service::Caller&);

  // ---- handlers_scans.cc ----
  Result<service::HttpResponse> PostScan(const service::HttpRequest&, const service::Caller&);
  // A scan's findings: its material analysis and, with a detector, the threats it shows and
  // whether it fits `declared` (null: no declaration yet), on an analysis worker. Needs analyzer.
  struct ScanEvidence {
    std::vector<Finding> findings;
    std::string analysis_json;  // as the scan's row keeps it
  };
  Result<ScanEvidence> AssessScan(const Scan& scan, const Declaration* declared);
  // Analyses an accepted scan and decides its consignment: ("created" or "unchanged", the
  // decision). `files_stored` is waited for before the row that names the files is written.
  Result<std::pair<std::string, DecisionRow>> DecideScan(
      const Scan& scan, ScanRow& row, const std::string& actor,
      const std::function<Status()>& files_stored);
  // The findings of the consignment's stored scans again, now that its declaration has come, as
  // (origin, findings JSON): the manifest check and the goods-dependent material checks need the
  // declared goods. Empty without an analyzer or without scans.
  Result<std::vector<std::pair<EvidenceOrigin, std::string>>> RecheckScans(
      const std::string& consignment_id, const Declaration& declared);
  Result<service::HttpResponse> GetScan(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetScanImage(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetScanPixel(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetScanChannel(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetImage(const service::HttpRequest&, const service::Caller&);
  Result<std::shared_ptr<service::CachedScan>> LoadScan(const std::string& scan_id);
  Result<const ScanAnalysis*> ChannelsOf(service::CachedScan& cached);

  // ---- handlers_models.cc ----
  // At startup: the registry's live version, or options.model_dir registered and made live when
  // there is none.
  Status InitModel();
  // Makes `m` (registry version `version`) the model of the requests that come after.
  void InstallModel(std::shared_ptr<const RiskModel> m, int64_t version);
  // Serves the registry's live version if it is not served yet (a change by another process);
  // under model_change_mu. A version that cannot be loaded here leaves the current one in place and
  // is reported in model_error (health) and once on stderr.
  void FollowLiveModel();
  // On a shared (PostgreSQL) store, other processes change the rule profile and the capacities:
  // the newest stored ones are taken up (scale_out.cc); WatchLiveModel calls it.
  void FollowStoredSettings();
  std::string followed_capacity;  // the capacity setting's text last applied
  void WatchLiveModel();          // FollowLiveModel every options.model_poll_ms until Stop()
  Result<service::HttpResponse> ListModels(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetModel(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> PromoteModel(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> RollbackModel(const service::HttpRequest&, const service::Caller&);

  // ---- handlers_admin.cc ----
  Result<service::HttpResponse> Health(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> MetricsText(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> Login(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> Logout(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> Me(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> ListUsers(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> PostUser(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> DisableUser(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> EnableUser(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> DeleteUserSessions(const service::HttpRequest&,
                                                   const service::Caller&);
  Result<service::HttpResponse> GetAudit(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> VerifyAudit(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetRules(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> PutRules(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> TestRules(const service::HttpRequest&, const service::Caller&);
  // handlers_rules.cc: the stored versions, one, its line diff against the one in force, and a
  // rollback (an old version's text activated as a new version).
  Result<service::HttpResponse> ListRulesVersions(const service::HttpRequest&,
                                                  const service::Caller&);
  Result<service::HttpResponse> GetRulesVersion(const service::HttpRequest&,
                                                const service::Caller&);
  Result<service::HttpResponse> DiffRulesVersion(const service::HttpRequest&,
                                                 const service::Caller&);
  Result<service::HttpResponse> RollbackRules(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetRuleStats(const service::HttpRequest&, const service::Caller&);
  // ---- handlers_horizon.cc ----
  Result<service::HttpResponse> GetHorizon(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetStats(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetCapacity(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> PutCapacity(const service::HttpRequest&, const service::Caller&);
  // `allowed_unknown`: the field names outside the schema the installer confirmed (extra input
  // columns); a profile naming any other is refused. Null: every one is accepted (a file given
  // at startup; serve prints them).
  // `restored_from`: the version a rollback takes the text of (stored with the new version and
  // audited). `expected_version`: the version the caller saw in force; another one in force is
  // FailedPrecondition and installs nothing. `installed`: the new version's number.
  Status InstallRules(const std::string& text, const std::string& source_name,
                      const std::string& actor,
                      const std::vector<std::string>* allowed_unknown = nullptr,
                      std::optional<int64_t> restored_from = std::nullopt,
                      std::optional<int64_t> expected_version = std::nullopt,
                      int64_t* installed = nullptr);
  Status ApplyCapacityJson(const std::string& text);
  // ---- handlers_training.cc ----
  Result<const TrainingImageMaker*> TrainingMaker();
  // Removes answered training images older than options.training_image_days, at most hourly.
  Status SweepTrainingImages();
  Result<CertificationRule> TrainingCertificationRule();
  // Makes image `index` of the trainee's run of the session (background, staircase, TIP) and
  // stores its scan and trial; AlreadyExists when another request made it first.
  Result<TrainingTrialRow> MakeTrainingTrial(const TrainingSessionRow& session,
                                             const TrainingSettings& settings,
                                             const std::string& trainee, int index);
  // ---- handlers_cases.cc: the case library, and cases in training sessions ----
  Result<service::HttpResponse> ListCases(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> GetCase(const service::HttpRequest&, const service::Caller&);
  Result<service::HttpResponse> PutCase(const service::HttpRequest&, const service::Caller&);
  // InvalidArgument naming the first of the settings' cases that is no case or has no stored scan.
  Status CheckSessionCases(const TrainingSettings& settings);
  // Image `index` of the trainee's run when it is case `consignment_id`: its first stored scan as
  // it is (a new training scan row on the same image bytes, with no analysis) and the truth the
  // inspection found; FailedPrecondition when it is no longer a case with a scan.
  Result<TrainingTrialRow> MakeCaseTrial(const TrainingSessionRow& session,
                                         const TrainingSettings& settings,
                                         const std::string& trainee, int index,
                                         const std::string& consignment_id);
  // Adds what the case's inspection found to the truth shown after the answer.
  Status AddCaseTruth(const TrainingTrialRow& trial, json* truth);
  Result<service::HttpResponse> CreateTrainingSession(const service::HttpRequest&,
                                                      const service::Caller&);
  Result<service::HttpResponse> ListTrainingSessions(const service::HttpRequest&,
                                                     const service::Caller&);
  Result<service::HttpResponse> AssignTrainingSession(const service::HttpRequest&,
                                                      const service::Caller&);
  Result<service::HttpResponse> MyTrainingAssignments(const service::HttpRequest&,
                                                      const service::Caller&);
  Result<service::HttpResponse> NextTrainingImage(const service::HttpRequest&,
                                                  const service::Caller&);
  Result<service::HttpResponse> RespondTrainingTrial(const service::HttpRequest&,
                                                     const service::Caller&);
  Result<service::HttpResponse> GetTrainingScores(const service::HttpRequest&,
                                                  const service::Caller&);
  Result<service::HttpResponse> PutTrainingCertification(const service::HttpRequest&,
                                                         const service::Caller&);
  Result<service::HttpResponse> GetTrainingResultsCsv(const service::HttpRequest&,
                                                      const service::Caller&);
};

}  // namespace clearsight
