// Store: declarations, scans, decisions, outcomes, users, sessions and the audit log in one
// database, plus a content-addressed image directory.
//
// Backends: SQLite (the embedded default: one file, WAL) and PostgreSQL (libpqxx, for a shared
// deployment), chosen by the URL. Both run the same versioned migrations (src/store/migrations)
// and the same code; the tests run against both.
//
// Writes go through Write(): operations from many threads are queued to one writer thread and
// committed together (group commit), each inside its own savepoint so one failing operation
// leaves the others alone. Write() returns only after the commit is durable (SQLite: WAL with
// synchronous=FULL fsyncs before COMMIT returns; PostgreSQL: synchronous_commit), so what a
// caller acknowledges survives a kill -9 of the process at any moment.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/status.h"

namespace clearsight {

struct StoreOptions {
  // "path/to/clearsight.db" or "sqlite:path" for SQLite; "postgresql://..." or "postgres://..."
  // (or a libpq "host=... dbname=..." string after "postgresql:") for PostgreSQL.
  std::string url;
  // Content-addressed files: scans and the model registry's model files. "" = "<db file>.images"
  // for SQLite; required for PostgreSQL.
  std::string images_dir;
  // SQLite only: FULL fsyncs the WAL at every commit (survives power loss); NORMAL fsyncs only
  // at checkpoints (survives kill -9 of the process, may lose the last commits on power loss).
  bool sqlite_synchronous_full = true;
  int read_connections = 4;
  size_t max_group = 256;  // operations committed together at most
  // SQLite only: hold an exclusive lock on "<db>.lock" while open, so that a second process that
  // asks for it (a second `serve` on the same file) fails with FailedPrecondition naming the
  // holder, instead of two services deciding over one database with two selection states.
  bool exclusive = false;
  // The audit keyring file ("" = none: the chain is unsigned). Anchors, the signed checkpoints of
  // the chain's head that let `audit verify` see the newest entries removed, go to
  // "<audit_key_path>.anchors": every 1,000 entries or 60 s after a commit, and when the store
  // closes. create_audit_key makes the keyring when the file is absent.
  std::string audit_key_path;
  bool create_audit_key = false;
};

// ---- Rows -----------------------------------------------------------------------------------

struct DeclarationRow {
  std::string declaration_id;
  std::string consignment_id;
  std::string office_id;
  int32_t date = 0;            // days since 1970-01-01
  std::string content_sha256;  // of the canonical JSON: equal content, equal hash
  std::string json;            // DeclarationToJson
  int64_t received_ms = 0;
  // What the declaration was assessed with when it was decided (JSON: valuation figures, rule
  // hits, model probability; see docs/api.md); "" when not recorded.
  std::string assessment;
  // What the queue is searched and sorted by. The store fills them from `json` when search_text
  // is empty; a writer that has the declaration at hand fills them itself and saves the parse.
  std::string importer_id;
  std::string hs_code;
  double declared_value = 0;
  std::string search_text;  // lower case: declaration id, trader ids, description
};

// Fills the search fields of *row from its JSON body.
void SearchFieldsFromJson(DeclarationRow* row);
// The lower-case search text of a declaration's id, importer, declarant, seller and description.
std::string DeclarationSearchText(std::string_view declaration_id, std::string_view importer,
                                  std::string_view declarant, std::string_view seller,
                                  std::string_view description);

// The current decision of a consignment (one row per consignment, updated in place; every
// version is also in the audit log).
struct DecisionRow {
  std::string consignment_id;
  std::string lane;  // office_id of its declaration ("" before one arrives)
  int32_t date = 0;
  double score = 0;
  std::string channel;  // "green", "yellow", "red"
  bool control = false;
  std::string status;   // "pending" (red/yellow, awaiting an outcome), "released" (green), "done"
  int64_t version = 0;  // 1 at the first decision, +1 at each update
  bool has_scan = false;
  bool has_declaration = false;
  std::string reasons_json;  // array of fused reasons
  std::string selection;     // why this channel ("top 5 % of lane 30 on 2021-01-03")
  std::string outcome;       // the latest outcome result, "" when none
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  bool over_budget = false;  // asked for more than the lane-day's budget had left (OverBudget)
  // The registry version of the model that assessed the declaration this decision was made on
  // (a re-decision by a scan keeps its predecessor's); none when no model took part.
  std::optional<int64_t> model_version;
  // Where the decision stands among all decision changes: the audit seq of the decision entry that
  // made this version (audit entries are appended in commit order); 0 when not known. Written by
  // PutDecision; DecisionChanges reads the changes after a cursor by it.
  int64_t change_seq = 0;
  // Drawn for exploration (SelectionResult::exploration), apart from the control sample.
  bool exploration = false;
  // The probability it had of being inspected when decided (SelectionResult::propensity); none for
  // decisions made before it was recorded (schema 8).
  std::optional<double> propensity;
};

struct ScanRow {
  std::string scan_id;
  std::string consignment_id;
  std::string image_sha256;                // the scan as format-v1 TIFF in the image directory
  std::string source_format;               // "tiff" or "dicos"
  std::vector<std::string> source_sha256;  // the uploaded files as received
  std::string meta_json;                   // the sidecar
  std::string analysis_json;               // ScanAnalysis::ToJson, "" when not analysed
  int width = 0, height = 0;
  int64_t received_ms = 0;
};

// A photo of what an inspection found, kept with its outcome. The bytes are content-addressed in
// the image directory (PutImage), like scans: the same photo attached twice is stored once.
struct AttachmentRow {
  std::string consignment_id;
  int64_t outcome_seq = 0;   // the outcome it belongs to (OutcomeRow::seq)
  std::string sha256;        // of the bytes: their name in the image directory
  std::string content_type;  // "image/jpeg" or "image/png", as the bytes' magic says
  int64_t bytes = 0;
  std::string name;  // the file name the uploader gave ("" when none)
  std::string uploaded_by;
  int64_t uploaded_ms = 0;  // the store fills it when 0
};

// The result of an outcome recorded for a consignment that was not inspected (the reason is in
// OutcomeRow::not_inspected_reason). It closes the consignment but is no inspection: statistics,
// rule tests, horizon scanning and retraining count it as no outcome.
inline constexpr std::string_view kNotInspected = "not_inspected";
// True for the result of an inspection: neither "" (no outcome) nor kNotInspected.
bool IsInspectionResult(std::string_view result);

struct OutcomeRow {
  std::string consignment_id;
  int64_t seq = 0;  // assigned by the store: 1, 2, ... per consignment
  // "nothing", "narcotics", "weapon", ..., "undervaluation", or kNotInspected
  std::string result;
  double corrected_value = -1;  // for undervaluation; < 0 when absent
  std::string notes;
  std::string officer;
  int64_t recorded_ms = 0;
  std::string not_inspected_reason;  // why it was not inspected (kNotInspected only), else ""
  double seized_quantity = -1;       // what was seized, in seized_unit; < 0 when nothing was
  std::string seized_unit;           // "kg", "g", "l", "pieces", ... ("" without a quantity)
  double revenue_recovered = -1;     // duties and penalties recovered; < 0 when none was given
  std::string revenue_currency;      // ISO 4217 code of revenue_recovered ("" without it)
  std::vector<AttachmentRow> attachments;  // read back by OutcomesOf; InsertOutcome ignores it
};

struct UserRow {
  std::string username;
  std::string role;
  std::string password_hash;  // libsodium crypto_pwhash_str (Argon2id)
  bool disabled = false;
  int64_t created_ms = 0;
};

struct SessionRow {
  std::string token_sha256;  // the token itself is never stored
  std::string username;
  std::string role;
  int64_t expires_ms = 0;
};

struct AuditEntry {
  int64_t seq = 0;  // 1, 2, ... without gaps
  int64_t at_ms = 0;
  std::string actor;    // user name or "system"
  std::string action;   // "decision", "outcome", "login", "login_failed", "rules", "user", ...
  std::string subject;  // consignment id, user name, ...
  std::string detail_json;
  std::string prev_hash;  // the previous entry's hash (64 zeros for the first)
  // Signed: "<key id>:<hex HMAC-SHA256(key, prev_hash || canonical entry)>"; unsigned (a store
  // without an audit key): hex sha256(prev_hash || canonical entry).
  std::string hash;
};

// The audit log's signing keys, kept outside the database (a file of "<id> <64 hex digits>"
// lines, mode 0600; the last line signs), so that whoever can write the database cannot
// recompute the chain after changing a row. Rotation appends a key; old keys stay to verify.
class AuditKeyring {
 public:
  // NotFound when the file is absent; DataLoss naming the line when it is malformed.
  static Result<AuditKeyring> Load(const std::string& path);
  // Writes a new file with one random key "k1"; AlreadyExists when the file is there.
  static Result<AuditKeyring> Create(const std::string& path);
  // Appends a new random key (k<n+1>) to the file and returns the ring it now holds.
  static Result<AuditKeyring> Rotate(const std::string& path);

  const std::string& path() const { return path_; }
  const std::string& signing_id() const { return keys_.back().first; }
  bool Has(std::string_view id) const;
  // "<id>:<hex HMAC-SHA256>" of `message` with key `id` (the signing key when empty); "" when the
  // ring does not hold `id`.
  std::string Sign(std::string_view message, std::string_view id = {}) const;

 private:
  std::string path_;
  std::vector<std::pair<std::string, std::string>> keys_;  // id, 32 raw bytes
};

// The canonical bytes an audit entry's hash covers (length-prefixed fields, so no two entries
// share them) and the chain hash: signed with the keyring's signing key, unsigned without one.
std::string AuditCanonical(const AuditEntry& e);
std::string AuditHash(const std::string& prev_hash, const AuditEntry& e,
                      const AuditKeyring* keyring = nullptr);

struct AuditVerifyReport {
  bool ok = true;
  int64_t entries = 0;
  int64_t signed_entries = 0;
  int64_t anchors = 0;        // checkpoints from the anchor file that were checked
  int64_t first_bad_seq = 0;  // 0 when ok
  std::string head_hash;      // hash of the last entry ("" when empty)
  std::string message;        // "audit log intact: 1042 entries" or what broke where
};

struct RecentDeclarations {
  int32_t from_date = 0, to_date = 0;  // the window read (days since 1970-01-01)
  int64_t total = 0;                   // declarations in the window (rows may hold fewer)
  std::vector<DeclarationRow> rows;
  std::vector<std::string> channel;  // parallel to rows: the consignment's channel now
  std::vector<std::string> outcome;  // parallel to rows: its latest outcome, "" when none
};

// An X-ray scan with what its assessment found: the findings stored with its decision
// (StoreTxn::PutFindings, origin "scan:<scan_id>"), and the consignment it belongs to.
struct ScanFindingsRow {
  std::string scan_id;
  std::string consignment_id;
  std::string findings_json;  // a JSON array of findings (clearsight/fusion.h FindingsFromJson)
};

struct RecentScanFindings {
  int64_t total = 0;  // scans that qualify (rows may hold fewer)
  std::vector<ScanFindingsRow> rows;
};

struct QueueQuery {
  std::string lane;     // "" = all
  std::string channel;  // "" = all
  std::string status;   // "" = all
  // score, updated, created, consignment_id, date, importer, hs, value (the last three of the
  // consignment's first declaration); "-" = descending
  std::string sort = "-score";
  // "" = all. Otherwise a consignment matches when its id contains the text, or one of its
  // declarations has an HS code starting with it, or contains it in its id, importer, declarant,
  // seller or description (case-insensitive).
  std::string search;
  bool over_budget_only = false;  // the supervisor's list: decisions marked over budget
  int64_t limit = 50;
  int64_t offset = 0;
};

struct QueuePage {
  int64_t total = 0;
  std::vector<DecisionRow> items;
  // Parallel to items: the consignment's first declaration (lowest id; DeclarationRow::json, ""
  // when it has none yet) and how many declarations it has.
  std::vector<std::string> first_declaration;
  std::vector<int64_t> declaration_count;
};

// Consignments of one lane (office) by status.
struct LaneCounts {
  std::string lane;
  int64_t total = 0, pending = 0, released = 0, done = 0;
};

// One lane-day's decisions (StoreTxn::LaneDays).
struct LaneDayTotals {
  int32_t date = 0;
  int64_t seen = 0, red = 0, yellow = 0, control = 0, exploration = 0;
};

// Lane-day channel counts, for rebuilding the online selector after a restart.
struct SelectionCount {
  std::string lane;
  int32_t date = 0;
  std::string channel;
  bool control = false;
  int64_t count = 0;
  bool exploration = false;
};

// A declaration with what selection and inspection made of its consignment: the training and
// evaluation data of retraining (clearsight/retrain.h).
struct DecidedDeclaration {
  std::string declaration_json;  // DeclarationRow::json
  std::string consignment_id;
  int32_t date = 0;  // the declaration's date
  // The consignment's current decision (DecisionRow): lane-day, score, channel, flags.
  std::string lane;
  int32_t decision_date = 0;
  double score = 0;
  std::string channel;
  bool control = false;
  bool exploration = false;
  std::optional<double> propensity;
  std::optional<int64_t> model_version;
  std::string outcome;  // the latest outcome result, "" when none
};

struct RuleHitStats {
  std::string rule;
  int64_t hits = 0;          // consignments the rule matched
  int64_t with_outcome = 0;  // of those, inspected with a recorded outcome
  int64_t confirmed = 0;     // outcome found something
};

// One rule's hits in one week (Monday to Sunday, by the consignment's decision date): rule "" in
// RuleWeekly::control is the random control sample's decisions instead.
struct RuleWeekStats {
  std::string rule;
  int32_t week = 0;          // the week's Monday, days since 1970-01-01
  int64_t hits = 0;          // consignments the rule matched (control: control decisions)
  int64_t with_outcome = 0;  // of those, inspected with a recorded outcome
  int64_t confirmed = 0;     // outcome found something
};

struct RuleWeekly {
  std::optional<int32_t> last_date;     // the newest decision date stored; none without decisions
  std::vector<RuleWeekStats> rules;     // weeks with hits only, by rule and week
  std::vector<RuleWeekStats> control;   // weeks with control decisions only, by week
  std::vector<RuleWeekStats> targeted;  // red not by a random draw: weeks with any, by week
};

// A random control draw's latest inspection outcome (a consignment inspected because it was drawn,
// whatever its score): what the estimates for the consignments not inspected rest on.
struct ControlOutcome {
  bool confirmed = false;  // the inspection found something
  double revenue = -1;     // revenue recovered; < 0 when none was recorded
  std::string currency;    // of revenue
};

struct ChannelOutcomeStats {
  std::string channel;
  bool control = false;
  int64_t decisions = 0;
  int64_t with_outcome = 0;
  int64_t confirmed = 0;
};

// Decisions and outcomes of one group (an office, an HS chapter, an origin) by how they were
// selected: the random control sample, and red by score (not control, not exploration).
struct GroupOutcomeStats {
  std::string group;
  int64_t decisions = 0;
  int64_t control = 0, control_with_outcome = 0, control_confirmed = 0;
  int64_t targeted = 0, targeted_with_outcome = 0, targeted_confirmed = 0;
};

// Outcomes by evidence source: over the consignments with an outcome, those whose current
// decision has a reason from `source` ("" = decisions without any reason), and those whose
// strongest reason is from it.
struct SourceOutcomeStats {
  std::string source;
  int64_t with_outcome = 0;
  int64_t confirmed = 0;  // outcome other than "nothing"
  int64_t control = 0;    // of with_outcome, drawn for the random control sample
  int64_t strongest_with_outcome = 0;
  int64_t strongest_confirmed = 0;
};

struct RulesVersion {
  int64_t version = 0;
  std::string text;
  std::string author;
  int64_t created_ms = 0;
  // The version whose text this one restored (a rollback); none for a profile written anew.
  std::optional<int64_t> restored_from;
};

// ---- The model registry ----

// A model version's life: registered as a candidate; at most one is live (new decisions are made
// with it); promoting another retires the live one; a version a promotion gate refused, or a live
// one rolled back, is rejected, and is promoted again only when forced.
enum class ModelStatus { kCandidate, kLive, kRetired, kRejected };
std::string_view ModelStatusName(ModelStatus status);  // "candidate", "live", ...
Result<ModelStatus> ParseModelStatus(std::string_view name);

// One file of a model directory, kept content-addressed in the image directory (PutImage), so that
// a registry works on any machine that shares the database and that directory.
struct ModelFileRef {
  std::string path;    // relative to the model directory, '/'-separated ("baseline/meta.json")
  std::string sha256;  // of its bytes: its name in the image directory
  int64_t bytes = 0;
};

struct ModelVersionRow {
  int64_t version = 0;  // assigned by the store at registration: 1, 2, ...
  int64_t created_ms = 0;
  std::string created_by;
  std::string content_sha256;  // ModelContentSha256(files): the same files, the same hash
  std::vector<ModelFileRef> files;
  std::string metrics_json = "{}";  // evaluation figures, a JSON object
  // The training data: first and last day (days since 1970-01-01) and rows; none when unknown.
  std::optional<int32_t> training_from;
  std::optional<int32_t> training_cutoff;
  std::optional<int64_t> training_rows;
  std::vector<std::string> features;
  std::optional<int64_t> parent_version;  // the version it was retrained from
  ModelStatus status = ModelStatus::kCandidate;
  std::string reason;       // why it has its status ("" when nobody said)
  std::string promoted_by;  // who last made it live ("" when never live)
  std::optional<int64_t> promoted_ms;
  // The version that was live when this one last went live: where a rollback from it returns.
  std::optional<int64_t> previous_live;
};

// The sha256 of the lines "<file sha256>  <path>\n" in byte order of path: what
// `find . -type f -printf '%P\n' | LC_ALL=C sort | xargs sha256sum | sha256sum` prints in the
// model directory.
std::string ModelContentSha256(const std::vector<ModelFileRef>& files);

// Who changes the live model, and why; audited.
struct ModelChangeRequest {
  std::string actor;  // audited as the actor; kept as promoted_by of the version that goes live
  std::string reason;
  bool force = false;  // PromoteModel: promote a rejected version too
  // RollbackModel: roll back only while this version is live (the caller loaded the target for
  // it); none = whichever is live.
  std::optional<int64_t> expected_live;
};

struct ModelChange {
  ModelVersionRow live;             // the version live now
  std::optional<int64_t> previous;  // the version that was live before (now retired or rejected)
};

// ---- Screener training (clearsight/training.h builds sessions and scores on these) ----

struct TrainingSessionRow {
  int64_t session_id = 0;  // assigned by the store: 1, 2, ...
  std::string name;
  std::string trainer;  // who built it
  int64_t created_ms = 0;
  std::string settings_json;  // TrainingSettingsToJson
};

struct TrainingAssignmentRow {
  int64_t session_id = 0;
  std::string trainee;
  std::string assigned_by;
  int64_t assigned_ms = 0;
};

// One image a trainee screens: how it was made, the truth of the projected threat, and (once
// answered) the response. The scan itself is a ScanRow whose consignment is "training:<session>".
struct TrainingTrialRow {
  int64_t trial_id = 0;  // assigned by the store: 1, 2, ...
  int64_t session_id = 0;
  std::string trainee;
  int32_t index = 0;  // 0, 1, ... within the trainee's run of the session
  std::string scan_id;
  std::string source;  // "simulated:<seed>:<index>" or "scan:<scan id>"
  bool threat = false;
  std::string threat_class;  // "" without a threat
  std::string threat_name;
  int32_t box_x0 = 0, box_y0 = 0, box_x1 = 0, box_y1 = 0;  // [x0,x1) x [y0,y1)
  std::string mask_rle_json = "[]";
  double size_scale = 1;
  double clutter = 0;  // 0..1, the clutter level asked for
  int32_t level = 0;   // the staircase level the image was made at
  int64_t time_limit_ms = 0;
  int64_t created_ms = 0;
  // The response: responded_ms is none until it comes.
  std::optional<int64_t> responded_ms;
  std::string decision;   // "clear" or "suspect"
  std::string mark_json;  // {"x","y"} or {"x0","y0","x1","y1"}; "" without a mark
  int64_t response_ms = 0;
  bool timed_out = false;
  bool hit = false;  // threat, decided suspect, and the mark on the threat (MarkOnThreat: its mask)
};

struct TrainingTrialQuery {
  std::optional<int64_t> session_id;
  std::string trainee;  // "" = every trainee
  bool responded_only = false;
};

// ---- The case library (docs/training.md, "Case library") ----
// A case is a consignment whose latest outcome is an inspection result (IsInspectionResult): its
// outcome, declarations, scans and photos are read where they are kept; the case library keeps
// only what trainers add (migration 013): whether it is teaching material, and tags.

// Free-text tags of three kinds, each normalised (NormaliseCaseTag), sorted, without repeats.
struct CaseTags {
  std::vector<std::string> goods;
  std::vector<std::string> threat_class;
  std::vector<std::string> concealment;
};
// Lower case, surrounding blanks removed and inner runs of blanks made one space: "  False
// Bottom " and "false bottom" are one tag.
std::string NormaliseCaseTag(std::string_view tag);

struct CaseMark {
  bool teaching = false;
  CaseTags tags;
  std::string marked_by;  // who changed it last; "" when nobody has
  int64_t marked_ms = 0;
};

struct CaseRow {
  std::string consignment_id;
  OutcomeRow outcome;         // the latest, without its attachments
  int64_t photos = 0;         // attachments of all its outcomes
  int64_t scans = 0;          // stored scans of the consignment
  std::string hs_code;        // of its first declaration (by id); "" without one
  std::string description;    // of its first declaration
  std::string importer_id;    // of its first declaration
  std::string channel, lane;  // of its decision
  CaseMark mark;
};

struct CaseQuery {
  bool teaching_only = false;
  std::string tag;           // a tag of any kind (normalised before matching)
  std::string threat_class;  // a threat-class tag
  std::string result;        // the latest outcome's result
  std::string hs_chapter;    // two digits: one of its declarations has an HS code in the chapter
  std::optional<int64_t> from_ms, to_ms;  // the latest outcome recorded in [from_ms, to_ms]
  // Contained (case-insensitive, % and _ literal) in an outcome's note, the consignment id, or a
  // declaration's id, importer, declarant, seller or description.
  std::string text;
  bool with_scan_only = false;  // cases a training session can show
  int64_t limit = 50;           // 0..1000
  int64_t offset = 0;
};

struct CasePage {
  int64_t total = 0;           // cases that match (items holds at most limit of them)
  std::vector<CaseRow> items;  // newest outcome first, then by consignment id
};

// ---- Writing --------------------------------------------------------------------------------

// The operations allowed inside Store::Write. Everything done through one StoreTxn commits or
// rolls back together; reads see the transaction's own writes.
class StoreTxn {
 public:
  virtual ~StoreTxn() = default;

  virtual Result<std::optional<DeclarationRow>> GetDeclaration(const std::string& id) = 0;
  virtual Status InsertDeclaration(const DeclarationRow& row) = 0;
  // Inserts unless a declaration with this id exists; returns whether it inserted (one statement
  // for the common case of a new id).
  virtual Result<bool> InsertDeclarationIfAbsent(const DeclarationRow& row) = 0;
  virtual Result<std::vector<std::string>> DeclarationIdsOf(const std::string& consignment_id) = 0;

  // Findings as JSON text, keyed by consignment and origin ("declaration:<id>", "scan:<id>").
  virtual Status PutFindings(const std::string& consignment_id, const std::string& origin,
                             const std::string& findings_json) = 0;
  virtual Result<std::vector<std::pair<std::string, std::string>>> FindingsOf(
      const std::string& consignment_id) = 0;

  virtual Result<std::optional<DecisionRow>> GetDecision(const std::string& consignment_id) = 0;
  virtual Status PutDecision(const DecisionRow& row) = 0;  // insert or replace
  virtual Status PutRuleHits(const std::string& consignment_id,
                             const std::vector<std::string>& rules) = 0;
  // The lane's decisions on dates from..to, as counted with every PutDecision, seen from inside
  // this transaction: what every process sharing the database has decided, for one lane's budget.
  virtual Result<std::vector<LaneDayTotals>> LaneDays(const std::string& lane, int32_t from_date,
                                                      int32_t to_date) = 0;

  virtual Result<std::optional<ScanRow>> GetScan(const std::string& scan_id) = 0;
  virtual Status InsertScan(const ScanRow& row) = 0;

  // Assigns row->seq and inserts; marks the decision "done" with this result.
  virtual Status InsertOutcome(OutcomeRow* row) = 0;
  // Adds a photo to outcome row.outcome_seq of row.consignment_id (its bytes already in the
  // image directory). Returns false when that outcome has the same photo already; NotFound when
  // the consignment has no such outcome.
  virtual Result<bool> InsertAttachment(const AttachmentRow& row) = 0;

  virtual Result<std::optional<UserRow>> GetUser(const std::string& username) = 0;
  virtual Status PutUser(const UserRow& row) = 0;  // insert or replace
  virtual Status PutSession(const SessionRow& row) = 0;
  virtual Status DeleteSession(const std::string& token_sha256) = 0;
  // Ends every session of the user; returns how many there were.
  virtual Result<int64_t> DeleteSessionsOf(const std::string& username) = 0;

  // Stores the next version of the rule profile and returns its number; `restored_from` names
  // the version a rollback takes the text of.
  virtual Result<int64_t> InsertRulesVersion(
      const std::string& text, const std::string& author,
      std::optional<int64_t> restored_from = std::nullopt) = 0;
  virtual Result<std::optional<RulesVersion>> GetRulesVersion(int64_t version) = 0;
  virtual Status PutSetting(const std::string& key, const std::string& value) = 0;

  // The registry's rows; Store::RegisterModel, PromoteModel, RollbackModel and RejectModel keep
  // its rules and audit every change. InsertModelVersion assigns row->version (and created_ms when
  // 0); UpdateModelVersion writes the fields a change moves: status, reason, promoted_by,
  // promoted_ms, previous_live.
  virtual Status InsertModelVersion(ModelVersionRow* row) = 0;
  virtual Status UpdateModelVersion(const ModelVersionRow& row) = 0;
  virtual Result<std::optional<ModelVersionRow>> GetModelVersion(int64_t version) = 0;
  virtual Result<std::optional<ModelVersionRow>> LiveModelVersion() = 0;
  virtual Result<std::optional<ModelVersionRow>> ModelVersionWithContent(
      const std::string& content_sha256) = 0;

  // Screener training. InsertTrainingSession and InsertTrainingTrial assign the id (and
  // created_ms when 0); a second trial at the same (session, trainee, index) is AlreadyExists.
  // PutTrainingAssignment returns false when the trainee had the session already.
  // RecordTrainingResponse writes the response fields once: FailedPrecondition when the trial
  // was answered before, NotFound for an unknown trial.
  virtual Status InsertTrainingSession(TrainingSessionRow* row) = 0;
  virtual Result<bool> PutTrainingAssignment(const TrainingAssignmentRow& row) = 0;
  virtual Status InsertTrainingTrial(TrainingTrialRow* row) = 0;
  virtual Result<std::optional<TrainingTrialRow>> GetTrainingTrial(int64_t trial_id) = 0;
  virtual Status RecordTrainingResponse(const TrainingTrialRow& row) = 0;
  // Marks at most `limit` scans of training images (consignment "training:...") answered before
  // `answered_before_ms` as removed: their image_sha256 and source_sha256 become "" (the trial
  // rows keep their truth and answer). Returns the image files that no row refers to any more (no
  // scan, outcome attachment or model file: a file is shared only by equal content), for the
  // caller to delete after the commit (Store::RemoveTrainingImages does both).
  virtual Result<std::vector<std::string>> ForgetTrainingImages(int64_t answered_before_ms,
                                                                int64_t limit) = 0;

  // The case library: one case (none when the consignment has no inspection outcome); the
  // trainer's mark of a case replaced whole (tags normalised here). NotFound when it is no case.
  virtual Result<std::optional<CaseRow>> GetCase(const std::string& consignment_id) = 0;
  virtual Status PutCaseMark(const std::string& consignment_id, const CaseMark& mark) = 0;

  // Appends to the hash-chained audit log; fills seq, prev_hash and hash of *entry (at_ms = now
  // when 0).
  virtual Status Audit(AuditEntry* entry) = 0;
};

class Store {
 public:
  // Opens (creating when absent) and migrates to the newest schema. Fails with
  // FailedPrecondition when the database is newer than this program, IoError / NotFound when
  // it cannot be opened, InvalidArgument for a malformed URL.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  virtual ~Store() = default;

  virtual std::string_view backend() const = 0;  // "sqlite" or "postgresql"
  virtual int64_t schema_version() const = 0;
  const std::string& images_dir() const { return images_dir_; }

  // Runs `op` in the writer thread inside a transaction (group commit). Returns op's status; an
  // op that fails has its writes undone, the others in the group are unaffected. Returns after
  // the group is durably committed, or with the commit's error.
  Status Write(std::function<Status(StoreTxn&)> op) { return WriteAsync(std::move(op)).get(); }
  // The same without waiting: queue many, then wait for each (they share commits).
  virtual std::future<Status> WriteAsync(std::function<Status(StoreTxn&)> op) = 0;

  // ---- Reads (from a pool of read connections; see committed data only) ----
  virtual Result<std::optional<DeclarationRow>> GetDeclaration(const std::string& id) = 0;
  virtual Result<std::vector<DeclarationRow>> DeclarationsOf(const std::string& consignment_id) = 0;
  virtual Result<std::optional<DecisionRow>> GetDecision(const std::string& consignment_id) = 0;
  virtual Result<QueuePage> Queue(const QueueQuery& query) = 0;
  // The decisions whose change_seq is above `after_change_seq`, lowest first, at most `limit`: a
  // reader that asks again after the last one's change_seq sees every later change once (a
  // consignment decided twice in between shows once, with its latest decision).
  virtual Result<std::vector<DecisionRow>> DecisionChanges(int64_t after_change_seq,
                                                           int64_t limit) = 0;
  // Findings as JSON text by origin ("declaration:<id>", "scan:<id>"), as StoreTxn::FindingsOf.
  virtual Result<std::vector<std::pair<std::string, std::string>>> FindingsOf(
      const std::string& consignment_id) = 0;
  virtual Result<std::optional<ScanRow>> GetScan(const std::string& scan_id) = 0;
  virtual Result<std::vector<ScanRow>> ScansOf(const std::string& consignment_id) = 0;
  // The consignment's outcomes by seq, each with its attachments (by upload time).
  virtual Result<std::vector<OutcomeRow>> OutcomesOf(const std::string& consignment_id) = 0;
  // The attachment of the consignment with these bytes (the first uploaded when several outcomes
  // have it); none when it has no such photo.
  virtual Result<std::optional<AttachmentRow>> GetAttachment(const std::string& consignment_id,
                                                             const std::string& sha256) = 0;
  // Names of the rules that matched the consignment's declarations, sorted.
  virtual Result<std::vector<std::string>> RuleHitsOf(const std::string& consignment_id) = 0;
  // Every lane with its consignment counts, by lane.
  virtual Result<std::vector<LaneCounts>> Lanes() = 0;
  virtual Result<std::optional<UserRow>> GetUser(const std::string& username) = 0;
  virtual Result<std::vector<UserRow>> ListUsers() = 0;
  // The session with the user's role as it is now (never the role at login); none when the user
  // is disabled or gone.
  virtual Result<std::optional<SessionRow>> GetSession(const std::string& token_sha256) = 0;
  virtual Result<std::vector<AuditEntry>> AuditRange(int64_t after_seq, int64_t limit) = 0;
  virtual Result<std::vector<SelectionCount>> SelectionCounts(int32_t since_date) = 0;
  // The latest `per_lane` decision scores of every lane, oldest first.
  virtual Result<std::vector<std::pair<std::string, double>>> RecentScores(int per_lane) = 0;
  virtual Result<std::vector<RuleHitStats>> RuleStats() = 0;
  // Rule hits and control decisions with their outcomes per week over the `weeks` weeks that end
  // with the week of the newest decision stored.
  virtual Result<RuleWeekly> RuleWeeklyStats(int32_t weeks) = 0;
  // Every control draw with an inspection outcome ("not inspected" is none).
  virtual Result<std::vector<ControlOutcome>> ControlOutcomes() = 0;
  // Declarations of the last `days` days up to the newest declaration date stored, newest first,
  // at most `limit`, each with its consignment's current channel and latest outcome ("" when
  // none): what a draft rule profile is tried on before it is installed.
  virtual Result<RecentDeclarations> DeclarationsOfLastDays(int32_t days, int64_t limit) = 0;
  // The scans of the consignments with a declaration dated `from_date` or later that have their
  // findings stored (a scan never assessed, or a training image, has none), by scan id, at most
  // `limit` (1..1,000,000): what horizon scanning reads for its finding shifts.
  virtual Result<RecentScanFindings> ScanFindingsSince(int32_t from_date, int64_t limit) = 0;
  virtual Result<std::vector<ChannelOutcomeStats>> ChannelStats() = 0;
  // Computed in SQL over the stored reasons of the consignments with an outcome, by source.
  virtual Result<std::vector<SourceOutcomeStats>> SourceStats() = 0;
  // Per group of `by`: "office" (the lane), "hs_chapter" or "origin" (of the consignment's first
  // declaration; "" when it has none), most decisions first.
  virtual Result<std::vector<GroupOutcomeStats>> GroupStats(const std::string& by) = 0;
  virtual Result<std::optional<RulesVersion>> LatestRules() = 0;
  // The stored versions of the rule profile, newest first, at most `limit` (texts included);
  // one of them.
  virtual Result<std::vector<RulesVersion>> RulesVersions(int64_t limit) = 0;
  virtual Result<std::optional<RulesVersion>> GetRulesVersion(int64_t version) = 0;
  virtual Result<std::optional<std::string>> GetSetting(const std::string& key) = 0;
  virtual Result<int64_t> CountDeclarations() = 0;
  // Every declaration dated `from` .. `to` (inclusive) whose consignment has a decision, with that
  // decision and its latest outcome, by date and declaration id.
  virtual Result<std::vector<DecidedDeclaration>> DecidedDeclarations(int32_t from, int32_t to) = 0;
  // The model registry: every version by version; one; the live one; the one with these files.
  virtual Result<std::vector<ModelVersionRow>> ModelVersions() = 0;
  virtual Result<std::optional<ModelVersionRow>> GetModelVersion(int64_t version) = 0;
  virtual Result<std::optional<ModelVersionRow>> LiveModelVersion() = 0;
  virtual Result<std::optional<ModelVersionRow>> ModelVersionWithContent(
      const std::string& content_sha256) = 0;

  // Screener training: sessions by id; assignments of one trainee ("" = all) by session; trials
  // by id; scans of consignments whose latest outcome is "nothing" (inspected and clean: the
  // backgrounds a session may project threats into), by scan id, at most `limit`.
  virtual Result<std::vector<TrainingSessionRow>> TrainingSessions() = 0;
  virtual Result<std::optional<TrainingSessionRow>> GetTrainingSession(int64_t session_id) = 0;
  virtual Result<std::vector<TrainingAssignmentRow>> TrainingAssignments(
      const std::string& trainee) = 0;
  virtual Result<std::vector<TrainingTrialRow>> TrainingTrials(const TrainingTrialQuery& query) = 0;
  virtual Result<std::optional<TrainingTrialRow>> GetTrainingTrial(int64_t trial_id) = 0;
  virtual Result<std::vector<std::string>> CleanScanIds(int64_t limit) = 0;
  // The case library: the cases that match, counted and paged (InvalidArgument for a limit
  // outside 0..1000, a negative offset or a chapter that is not two digits); one case.
  virtual Result<CasePage> Cases(const CaseQuery& query) = 0;
  virtual Result<std::optional<CaseRow>> GetCase(const std::string& consignment_id) = 0;

  // ---- Changing the model registry (each one transaction with its audit entry) ----
  // Registers `row` (its files already in the image directory: clearsight/model_registry.h does
  // both) as a candidate, audited as model_registered by row.created_by; returns it with its
  // version. AlreadyExists naming the version when the same files are registered; InvalidArgument
  // for no files, metrics that are not a JSON object, or a parent that is not registered.
  Result<ModelVersionRow> RegisterModel(ModelVersionRow row);
  // Makes `version` live and retires the live one (audited as model_promoted). NotFound for an
  // unknown version; FailedPrecondition when it is live already, or rejected and not forced.
  Result<ModelChange> PromoteModel(int64_t version, const ModelChangeRequest& request);
  // Rejects the live version and makes the one live before it live again (audited as
  // model_rolled_back). FailedPrecondition when none is live, when the live one has no
  // predecessor, when that one was rejected since, or when request.expected_live is not live.
  Result<ModelChange> RollbackModel(const ModelChangeRequest& request);
  // Rejects a candidate or retired version with a reason (a promotion gate's refusal; audited as
  // model_rejected). InvalidArgument without a reason; FailedPrecondition for the live version
  // (roll it back) or one already rejected.
  Result<ModelVersionRow> RejectModel(int64_t version, const ModelChangeRequest& request);

  // Recomputes the audit hash chain from the first entry, with the store's keyring for signed
  // entries, and checks every anchor. ok=false names the first entry whose stored hash or link
  // does not match (a changed, inserted or deleted row), an entry signed with a key the ring
  // lacks, an unsigned entry after signed ones, or an anchor the log no longer reaches (its
  // newest entries removed).
  Result<AuditVerifyReport> VerifyAudit();

  // ---- Images and model files (content-addressed files: <dir>/<ab>/<sha256>) ----
  // Writes the bytes (temp file, fsync, rename, fsync of the directory) unless present; returns
  // the hex sha256. Durable when it returns.
  Result<std::string> PutImage(std::string_view bytes);
  // Fails with InvalidArgument when `sha256` is not 64 lowercase hex digits (so an id can never
  // name a path outside the directory) and NotFound when absent.
  Result<std::string> ReadImage(const std::string& sha256) const;
  Result<std::string> ImagePath(const std::string& sha256) const;
  // Old training images out of the image directory: StoreTxn::ForgetTrainingImages in one
  // transaction, then the files it frees deleted. Returns how many files were deleted; a file
  // already gone is not an error.
  Result<int64_t> RemoveTrainingImages(int64_t answered_before_ms, int64_t limit = 1000);

 protected:
  std::string images_dir_;
  std::optional<AuditKeyring> audit_keyring_;
};

// Lowercase hex sha256 of the bytes (libsodium).
std::string Sha256Hex(std::string_view bytes);
// True for exactly 64 lowercase hex digits.
bool IsSha256Hex(std::string_view s);
// Milliseconds since the epoch, wall clock.
int64_t NowMs();

}  // namespace clearsight
