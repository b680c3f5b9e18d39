// The HTTP service (`clearsight serve`): declarations and scans in, fused decisions with reasons
// out, the officers' queue and outcomes, users, sessions, roles and the audit log, metrics, and
// the web workstation's static files. docs/api.md documents every route; docs/openapi.json is
// the machine-readable contract.
//
// The service is a thin shell over the library: Store for persistence, DeclarationRisk and
// FindingsFromScanAnalysis for evidence, Fuse and OnlineSelector for the decision. cpp-httplib
// stays inside one adapter (src/service/http_server.cc).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/fusion.h"
#include "clearsight/status.h"
#include "clearsight/store.h"

namespace clearsight {

// Roles, least to most powerful in the sense of the route table (docs/api.md lists who may do
// what). "integrator" is the account kind of machines that feed declarations and scans.
enum class Role { kOfficer, kAnalyst, kTrainer, kAdmin, kIntegrator };
std::string_view RoleName(Role role);
Result<Role> ParseRole(std::string_view name);

// One entry of the service's route table (docs/api.md lists the same): who may call what, and how
// large a body it takes. Route patterns name their parameters in braces: "/api/scans/{id}".
struct ServiceRoute {
  std::string method;         // "GET", "POST", "PUT", "DELETE"
  std::string pattern;        // "/api/consignments/{id}/outcome"
  std::vector<Role> roles;    // empty: public (no session needed)
  size_t max_body_bytes = 0;  // a larger body is answered 413 before it is read
};

struct ServiceOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port (see Service::port())
  StoreOptions store;
  // The learned risk model is the model registry's live version (docs/model.md, "Model
  // registry"). While the registry has none, this directory (from `clearsight model train`) is
  // registered and made live, audited as "system"; when it has one, a different directory here is
  // not served (a warning says so). "" and no live version = no learned model.
  std::string model_dir;
  // How often the registry's live version is read, so that a promotion or rollback made by
  // another process (the CLI, another service on the same PostgreSQL store) is served within this
  // time; changes made through this service apply at once. 50 ms or more.
  int64_t model_poll_ms = 5000;
  std::string rules_path;         // "" = the latest rules stored through the API, if any
  std::string valuation_history;  // declarations file to fit reference prices on; "" = none
  // Currency rates (clearsight/currency_rates.h): every submitted declaration's value is
  // converted into the table's base currency, as `--rates` does for the CLI; a record whose
  // currency has no rate on its date is rejected. "" = values are kept as declared.
  std::string rates_path;
  std::string calibration_path;  // "" = scans are stored and shown but not analysed
  // Threat detector with its manifest model (`clearsight xray train`): each analysed scan gets
  // detections and, once its declaration is stored, a manifest check. Needs calibration_path;
  // "" = none.
  std::string detector_path;
  // LibTorch intra-op threads for each scan's network (1..16); concurrent uploads run on their
  // own analysis workers either way, so one thread keeps the peaks fastest (bench/service_bench).
  int detector_threads = 1;
  // Uploaded scans are analysed (material analysis, detector, manifest check) on this many worker
  // threads (0..16), at most that many at once however many uploads are in flight; the others
  // wait their turn. Each analysis uses two threads itself, the network detector_threads. 0: on
  // the HTTP thread that took the upload, as many at once as uploads arrive, and no warm-up.
  // Workers keep their heaps warm from scan to scan (bench/service_bench compares the settings).
  int analysis_threads = 4;
  // Before serving, each analysis worker decodes and analyses (with the detector, if any) a
  // simulated 1024 x 768 parcel twice, so that the first scans after a restart do not pay for
  // growing the workers' heaps (bench/service_bench --cold-starts measures it). About a second at
  // startup; only with calibration_path and analysis workers. Off by default (`clearsight serve
  // --warm-up`; docs/api.md).
  bool warm_up = false;
  std::string web_dir;  // static files of the workstation; "" = none
  // Chart.js for the workstation's horizon page, served at /vendor/chart.min.js (Debian
  // libjs-chart.js, the copy the horizon report embeds); "" = none (the page shows no charts).
  std::string chart_js_path = "/usr/share/javascript/chart.js/chart.min.js";
  // The lane (office) of consignments whose declaration names none, or known only by their scans:
  // the site of this service's scanners. "" = such consignments have no lane.
  std::string scan_lane;
  FusionOptions fusion;
  OnlineSelectionOptions selection;
  // Requests handled at once. Open connections do not hold these threads: idle and slow ones
  // wait on the HTTP event thread, limited by the three settings below (docs/api.md, Limits).
  int http_threads = 32;
  int max_connections = 1024;            // open at once; more are closed as they are accepted
  int max_connections_per_address = 64;  // open at once from one client address
  // From opening a connection, or from its previous answer, to a whole request head; also how
  // long an idle keep-alive connection stays open.
  int request_head_timeout_s = 15;
  // An admitted body must keep arriving: at least min_body_bytes_per_s on average once
  // body_grace_s have passed since it was admitted, or the connection is closed.
  int body_grace_s = 10;
  size_t min_body_bytes_per_s = size_t{16} << 10;
  int64_t session_ttl_s = 12 * 3600;
  size_t max_body_bytes = size_t{256} << 20;  // scans; declarations have their own below
  size_t max_declaration_body_bytes = size_t{32} << 20;
  // A photo attached to an outcome (POST /api/consignments/{id}/outcomes/{seq}/attachments).
  size_t max_attachment_bytes = size_t{10} << 20;
  int64_t max_scan_pixels = int64_t{32} << 20;  // per page
  // Screener training's simulated backgrounds (docs/training.md); smaller for quick tests.
  int training_image_width = 1024;
  int training_image_height = 768;
  // Answered training images older than this many days leave the image directory (at most once
  // an hour, when a trainee asks for an image; Store::RemoveTrainingImages). 0: keep them all.
  int training_image_days = 30;
  bool secure_cookie = false;  // add "Secure" to the session cookie (behind TLS)
  // A state-changing request that carries the session cookie must come from the workstation's
  // own origin: the one its Host header names, or one of these ("https://clearsight.example",
  // for a TLS proxy whose public name the service does not see).
  std::vector<std::string> allowed_origins;
  bool log_requests = false;  // one line per request on stderr
  // Logins: password checks (Argon2id, ~64 MiB and tens of ms each) run at most this many at
  // once; a login that waits longer than 5 s for one answers 503 unavailable. A client address
  // with this many failed logins within 5 minutes is refused for a minute, whatever user names it
  // tries (each user name has its own limit of 5).
  // Scale-out (docs/deployment.md): with a NATS URL, `serve` checks and stores what it accepts,
  // publishes declarations and scans to JetStream and answers 202; `worker` processes decide them.
  // Both need a PostgreSQL store that every process shares.
  std::string nats_url;
  int64_t nats_ack_wait_ms = 30000;
  int concurrent_password_checks = 2;
  int login_failures_per_address = 30;
};

class Service {
 public:
  // Opens the store (migrating it), loads the live model (registering model_dir when the registry
  // has none), rules, valuation and calibration, and rebuilds the selector's lane-day counts from
  // the store. Fails naming what could not be loaded.
  static Result<std::unique_ptr<Service>> Create(const ServiceOptions& options);
  ~Service();

  // Binds and starts serving on background threads; returns once the port accepts connections.
  // Fails with IoError when the address cannot be bound.
  Status Start();
  // Blocks until Stop() is called (from another thread or a signal handler's thread).
  void Wait();
  // Stops accepting, finishes the requests in flight, flushes the store.
  void Stop();
  int port() const;

  Store& store();

  // A worker of the scale-out: pulls the role's messages ("declarations" or "scans") from the
  // queue at options.nats_url, up to `batch` at a time, decides them like the HTTP routes do, and
  // acknowledges each after its result is committed. Returns when `stop` is set (the messages in
  // hand are finished first) or on an error it cannot recover from. Progress goes to stderr.
  Status RunWorker(const std::string& role, int batch, const std::atomic<bool>& stop);

  // The route table, in the order requests are matched against it (static files answer the
  // rest). Read-only: the security tests enumerate it, so a route added is a route tested.
  std::vector<ServiceRoute> Routes() const;

 private:
  friend struct ServiceTesting;  // in-process dispatch for the fuzz targets (fuzz/)
  struct Impl;
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Argon2id (libsodium crypto_pwhash_str, interactive limits). HashPassword fails with
// InvalidArgument for passwords shorter than 8 bytes or longer than 1024.
Result<std::string> HashPassword(std::string_view password);
bool VerifyPassword(std::string_view hash, std::string_view password);

// Creates or replaces a user (and writes an audit entry by `actor`). Usernames are 1..64
// characters of [A-Za-z0-9._@-]. Replacing a user (a new password, maybe a new role) ends all of
// their sessions, and keeps a disabled user disabled.
Status AddUser(Store& store, const std::string& username, Role role, std::string_view password,
               const std::string& actor);

// Disables (no login, every session ended) or enables a user, audited as user_disabled /
// user_enabled by `actor`. NotFound for an unknown user.
Status SetUserDisabled(Store& store, const std::string& username, bool disabled,
                       const std::string& actor);

// Ends every session of a user, audited as sessions_revoked by `actor`; returns how many ended.
// NotFound for an unknown user.
Result<int64_t> RevokeSessions(Store& store, const std::string& username, const std::string& actor);

// A running service keeps sessions it has checked for up to this long before it reads them
// again: a change made by another process (the CLI) reaches it within this time; a change made
// through the service itself at once.
inline constexpr int64_t kSessionRecheckMs = 10000;

}  // namespace clearsight
