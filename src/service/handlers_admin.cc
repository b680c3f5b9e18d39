// Health, metrics, login and sessions, users, audit log, rules, statistics and capacity.
#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "clearsight/retrain.h"
#include "clearsight/text.h"
#include "service/service_impl.h"

namespace clearsight {

using service::Caller;
using service::HttpRequest;
using service::HttpResponse;
using service::JsonResponse;

Result<HttpResponse> Service::Impl::Health(const HttpRequest&, const Caller&) {
  std::lock_guard lock(risk_mu);
  json warm_up = nullptr;
  if (options.warm_up && analysis_pool)
    warm_up = {{"workers", analysis_pool->size()},
               {"ms", std::round(warm_up_ms)},
               {"ok", warm_up_error.empty()}};
  if (!warm_up_error.empty()) warm_up["error"] = warm_up_error;
  return JsonResponse(200, json{{"status", "ok"},
                                {"version", "0.1.0"},
                                {"store", store->backend()},
                                {"schema_version", store->schema_version()},
                                {"model", model != nullptr},
                                {"model_version", model_version ? json(*model_version) : json()},
                                {"model_error", model_error.empty() ? json() : json(model_error)},
                                {"valuation", valuation != nullptr},
                                {"rules_version", rules_version},
                                {"calibration", analyzer != nullptr},
                                {"detector", detector != nullptr},
                                {"warm_up", warm_up},
                                {"uptime_s", (NowMs() - started_ms) / 1000}});
}

Result<HttpResponse> Service::Impl::MetricsText(const HttpRequest&, const Caller&) {
  std::string out;
  out += "# HELP clearsight_up The service is up.\n# TYPE clearsight_up gauge\nclearsight_up 1\n";
  out +=
      "# HELP clearsight_http_requests_total Requests by route, method and status code.\n"
      "# TYPE clearsight_http_requests_total counter\n";
  metrics->requests.Render("clearsight_http_requests_total", &out);
  if (http) {
    const service::HttpServerCounters c = http->Counters();
    out +=
        "# HELP clearsight_http_connections_open Connections open now.\n"
        "# TYPE clearsight_http_connections_open gauge\n"
        "clearsight_http_connections_open " +
        std::to_string(c.open_connections) +
        "\n# HELP clearsight_http_connections_cut_total Connections closed for sending a request "
        "too slowly.\n"
        "# TYPE clearsight_http_connections_cut_total counter\n"
        "clearsight_http_connections_cut_total{part=\"head\"} " +
        std::to_string(c.closed_slow_head) +
        "\nclearsight_http_connections_cut_total{part=\"body\"} " +
        std::to_string(c.closed_slow_body) + "\n";
  }
  out +=
      "# HELP clearsight_http_request_duration_seconds Time from routing to response, by route.\n"
      "# TYPE clearsight_http_request_duration_seconds histogram\n";
  for (size_t i = 0; i < routes.size(); ++i)
    metrics->request_seconds[i].Render(
        "clearsight_http_request_duration_seconds",
        "route=\"" + std::string(routes[i].pattern) + "\",method=\"" + routes[i].method + "\"",
        &out);
  out +=
      "# HELP clearsight_declarations_total Declarations submitted, by result.\n"
      "# TYPE clearsight_declarations_total counter\n";
  metrics->declarations.Render("clearsight_declarations_total", &out);
  out +=
      "# HELP clearsight_decisions_total Decisions made (new and updated), by channel, control "
      "flag and trigger.\n"
      "# TYPE clearsight_decisions_total counter\n";
  metrics->decisions.Render("clearsight_decisions_total", &out);
  out +=
      "# HELP clearsight_scans_total Scans submitted, by result.\n# TYPE clearsight_scans_total "
      "counter\n";
  metrics->scans.Render("clearsight_scans_total", &out);
  out +=
      "# HELP clearsight_outcomes_total Inspection outcomes recorded, by result.\n"
      "# TYPE clearsight_outcomes_total counter\n";
  metrics->outcomes.Render("clearsight_outcomes_total", &out);
  out +=
      "# HELP clearsight_logins_total Login attempts, by result.\n# TYPE clearsight_logins_total "
      "counter\n";
  metrics->logins.Render("clearsight_logins_total", &out);
  out +=
      "# HELP clearsight_scan_analysis_seconds Material analysis time per uploaded scan.\n"
      "# TYPE clearsight_scan_analysis_seconds histogram\n";
  metrics->scan_analysis_seconds.Render("clearsight_scan_analysis_seconds", "", &out);
  out +=
      "# HELP clearsight_store_write_seconds Time from queueing a declaration write to its durable "
      "commit.\n"
      "# TYPE clearsight_store_write_seconds histogram\n";
  metrics->store_write_seconds.Render("clearsight_store_write_seconds", "", &out);
  HttpResponse res;
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  res.body = std::move(out);
  return res;
}

namespace {
std::string SessionCookie(const std::string& token, int64_t max_age_s, bool secure) {
  return "cs_session=" + token +
         "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s) +
         (secure ? "; Secure" : "");
}
}  // namespace

Result<HttpResponse> Service::Impl::Login(const HttpRequest& req, const Caller&) {
  auto parsed = service::ParseBody(req.body);
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  if (!j.is_object() || !j.contains("username") || !j.contains("password") ||
      !j["username"].is_string() || !j["password"].is_string())
    return Status::InvalidArgument("send {\"username\": \"...\", \"password\": \"...\"}");
  const std::string username = j["username"].get<std::string>();
  const std::string password = j["password"].get<std::string>();
  if (username.size() > 64 || password.size() > 1024)
    return Status::Unauthenticated("wrong user name or password");
  WriteEndedBursts(/*all=*/false);
  const int64_t now = NowMs();
  const std::string& address = req.remote_addr;
  {
    // Locked: 429 with the seconds left, in the message and in Retry-After, so that the person
    // at the keyboard is told to wait rather than that the password is wrong.
    auto locked = [&](const std::string& what, int64_t until_ms) {
      metrics->logins.Add("result=\"throttled\"");
      const std::string seconds = std::to_string((until_ms - now) / 1000 + 1);
      HttpResponse r;
      r.status = 429;
      r.body = service::ErrorJson("rate_limited", "too many failed logins " + what +
                                                      "; locked, try again in " + seconds + " s");
      r.headers.emplace_back("Retry-After", seconds);
      return r;
    };
    std::lock_guard lock(throttle_mu);
    auto& t = throttle[username];
    if (t.locked_until_ms > now) return locked("for this user name", t.locked_until_ms);
    auto it = address_failures.find(address);
    if (it != address_failures.end() && it->second.limit.locked_until_ms > now)
      return locked("from this address", it->second.limit.locked_until_ms);
  }
  CS_ASSIGN_OR_RETURN(auto user, store->GetUser(username));
  // Unknown users cost the same Argon2 verification as known ones: no timing oracle for names.
  // Each check takes ~64 MiB for tens of ms: a few at once, whatever the number of HTTP threads.
  static const std::string kDummy = HashPassword("clearsight-dummy-password").value();
  if (!password_checks->try_acquire_for(std::chrono::seconds(5))) {
    metrics->logins.Add("result=\"busy\"");
    return Status::Unavailable("too many logins at once; try again in a few seconds");
  }
  const bool ok = user && !user->disabled ? VerifyPassword(user->password_hash, password)
                                          : (VerifyPassword(kDummy, password), false);
  password_checks->release();
  if (!ok) {
    std::optional<AuditEntry> first, ended;
    {
      std::lock_guard lock(throttle_mu);
      auto& t = throttle[username];
      if (now - t.first_ms > 5 * 60 * 1000) t = Throttle{0, now, 0};
      if (++t.failures >= 5) t.locked_until_ms = now + 60 * 1000;
      if (throttle.size() > 100000) throttle.clear();
      if (address_failures.size() > 100000) address_failures.clear();
      AddressFailures& a = address_failures[address];
      if (now - a.limit.first_ms > 5 * 60 * 1000) a.limit = Throttle{0, now, 0};
      if (++a.limit.failures >= options.login_failures_per_address)
        a.limit.locked_until_ms = now + 60 * 1000;
      if (a.burst_count == 0 || now - a.burst_last_ms > 60 * 1000) {
        ended = EndOfBurst(address, a);
        a.burst_first_ms = now;
        a.burst_count = 0;
        a.burst_users.clear();
        first.emplace();
        first->actor = username.empty() ? "(none)" : username;
        first->action = "login_failed";
        first->subject = username;
        first->detail_json = json{{"remote_addr", address}}.dump();
      }
      a.burst_last_ms = now;
      ++a.burst_count;
      if (a.burst_users.size() < 10 &&
          std::find(a.burst_users.begin(), a.burst_users.end(), username) == a.burst_users.end())
        a.burst_users.push_back(username);
    }
    metrics->logins.Add("result=\"failed\"");
    if (first || ended)
      (void)store->Write([&](StoreTxn& txn) -> Status {
        if (ended) CS_RETURN_IF_ERROR(txn.Audit(&*ended));
        return first ? txn.Audit(&*first) : Status::Ok();
      });
    return Status::Unauthenticated("wrong user name or password");
  }
  std::optional<AuditEntry> ended;
  {
    std::lock_guard lock(throttle_mu);
    auto it = address_failures.find(address);
    if (it != address_failures.end()) {
      ended = EndOfBurst(address, it->second);
      it->second.burst_count = 0;
      it->second.burst_users.clear();
    }
  }
  if (ended) (void)store->Write([&](StoreTxn& txn) { return txn.Audit(&*ended); });
  {
    std::lock_guard lock(throttle_mu);
    throttle.erase(username);
  }
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  static const char* kHex = "0123456789abcdef";
  std::string token;
  for (unsigned char c : raw) {
    token += kHex[c >> 4];
    token += kHex[c & 15];
  }
  SessionRow session{Sha256Hex(token), user->username, user->role,
                     now + options.session_ttl_s * 1000};
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    CS_RETURN_IF_ERROR(txn.PutSession(session));
    AuditEntry e;
    e.actor = user->username;
    e.action = "login";
    e.subject = user->username;
    e.detail_json = json{{"role", user->role}, {"remote_addr", req.remote_addr}}.dump();
    return txn.Audit(&e);
  }));
  metrics->logins.Add("result=\"ok\"");
  HttpResponse res = JsonResponse(200, json{{"token", token},
                                            {"username", user->username},
                                            {"role", user->role},
                                            {"expires_at", IsoTime(session.expires_ms)}});
  res.headers.emplace_back("Set-Cookie",
                           SessionCookie(token, options.session_ttl_s, options.secure_cookie));
  return res;
}

std::optional<AuditEntry> Service::Impl::EndOfBurst(const std::string& address,
                                                    const AddressFailures& a) {
  if (a.burst_count <= 1) return std::nullopt;  // its one failure was written as it happened
  AuditEntry e;
  e.actor = "(login)";
  e.action = "login_failed_burst";
  e.subject = address;
  e.detail_json = json{
      {"remote_addr", address},
      {"failures", a.burst_count},
      {"first_at", IsoTime(a.burst_first_ms)},
      {"last_at", IsoTime(a.burst_last_ms)},
      {"user_names",
       a.burst_users}}.dump();
  return e;
}

void Service::Impl::WriteEndedBursts(bool all) {
  std::vector<AuditEntry> ended;
  {
    std::lock_guard lock(throttle_mu);
    const int64_t now = NowMs();
    if (!all && now - bursts_checked_ms < 10 * 1000) return;
    bursts_checked_ms = now;
    for (auto& [address, a] : address_failures) {
      if (a.burst_count == 0 || (!all && now - a.burst_last_ms <= 60 * 1000)) continue;
      if (auto e = EndOfBurst(address, a)) ended.push_back(std::move(*e));
      a.burst_count = 0;
      a.burst_users.clear();
    }
  }
  if (ended.empty() || !store) return;
  (void)store->Write([&](StoreTxn& txn) -> Status {
    for (auto& e : ended) CS_RETURN_IF_ERROR(txn.Audit(&e));
    return Status::Ok();
  });
}

void Service::Impl::ForgetSessionsOf(const std::string& username) {
  std::lock_guard lock(sessions_mu);
  std::erase_if(sessions, [&](const auto& entry) { return entry.second.row.username == username; });
}

Result<HttpResponse> Service::Impl::Logout(const HttpRequest& req, const Caller& caller) {
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    CS_RETURN_IF_ERROR(txn.DeleteSession(caller.token_sha256));
    AuditEntry e;
    e.actor = caller.username;
    e.action = "logout";
    e.subject = caller.username;
    e.detail_json = "{}";
    return txn.Audit(&e);
  }));
  {
    std::lock_guard lock(sessions_mu);
    sessions.erase(caller.token_sha256);
  }
  HttpResponse res = JsonResponse(200, json{{"logged_out", true}});
  res.headers.emplace_back("Set-Cookie", SessionCookie("", 0, options.secure_cookie));
  return res;
}

Result<HttpResponse> Service::Impl::Me(const HttpRequest&, const Caller& caller) {
  json can = json::array();
  for (const auto& r : routes)
    if (r.roles == service::kPublic || (r.roles & service::RoleBit(caller.role)))
      can.push_back(std::string(r.method) + " " + r.pattern);
  return JsonResponse(200, json{{"username", caller.username},
                                {"role", RoleName(caller.role)},
                                {"expires_at", IsoTime(caller.expires_ms)},
                                {"routes", can}});
}

Result<HttpResponse> Service::Impl::ListUsers(const HttpRequest&, const Caller&) {
  CS_ASSIGN_OR_RETURN(auto users, store->ListUsers());
  json a = json::array();
  for (const auto& u : users)
    a.push_back(json{{"username", u.username},
                     {"role", u.role},
                     {"disabled", u.disabled},
                     {"created_at", IsoTime(u.created_ms)}});
  return JsonResponse(200, json{{"users", a}});
}

Result<HttpResponse> Service::Impl::PostUser(const HttpRequest& req, const Caller& caller) {
  CS_ASSIGN_OR_RETURN(json j, service::ParseBody(req.body));
  auto text = [&](const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  if (!j.is_object() || !j.contains("username") || !j["username"].is_string() ||
      !j.contains("role") || !j["role"].is_string() || !j.contains("password") ||
      !j["password"].is_string())
    return Status::InvalidArgument(
        "send {\"username\": \"...\", \"role\": \"...\", \"password\": \"...\"}");
  const std::string username = text("username");
  CS_ASSIGN_OR_RETURN(Role role, ParseRole(text("role")));
  const std::string password = text("password");
  CS_RETURN_IF_ERROR(AddUser(*store, username, role, password, caller.username));
  ForgetSessionsOf(username);
  return JsonResponse(201, json{{"username", username}, {"role", RoleName(role)}});
}

Result<HttpResponse> Service::Impl::DisableUser(const HttpRequest& req, const Caller& caller) {
  const std::string& name = req.path_params[0];
  if (name == caller.username)
    return Status::InvalidArgument("an administrator cannot disable their own account");
  CS_RETURN_IF_ERROR(SetUserDisabled(*store, name, true, caller.username));
  ForgetSessionsOf(name);
  return JsonResponse(200, json{{"username", name}, {"disabled", true}});
}

Result<HttpResponse> Service::Impl::EnableUser(const HttpRequest& req, const Caller& caller) {
  const std::string& name = req.path_params[0];
  CS_RETURN_IF_ERROR(SetUserDisabled(*store, name, false, caller.username));
  return JsonResponse(200, json{{"username", name}, {"disabled", false}});
}

Result<HttpResponse> Service::Impl::DeleteUserSessions(const HttpRequest& req,
                                                       const Caller& caller) {
  const std::string& name = req.path_params[0];
  CS_ASSIGN_OR_RETURN(int64_t ended, RevokeSessions(*store, name, caller.username));
  ForgetSessionsOf(name);
  return JsonResponse(200, json{{"username", name}, {"sessions_ended", ended}});
}

Result<HttpResponse> Service::Impl::GetAudit(const HttpRequest& req, const Caller&) {
  int64_t after = 0, limit = 100;
  if (req.HasQuery("after") && !ParseInt64(req.Query("after"), &after))
    return Status::InvalidArgument("after must be a whole number");
  if (req.HasQuery("limit") &&
      (!ParseInt64(req.Query("limit"), &limit) || limit < 1 || limit > 1000))
    return Status::InvalidArgument("limit must be 1..1000");
  CS_ASSIGN_OR_RETURN(auto entries, store->AuditRange(after, limit));
  json a = json::array();
  for (const auto& e : entries) {
    json detail = json::parse(e.detail_json, nullptr, false);
    a.push_back(json{{"seq", e.seq},
                     {"at", IsoTime(e.at_ms)},
                     {"actor", e.actor},
                     {"action", e.action},
                     {"subject", e.subject},
                     {"detail", detail.is_discarded() ? json(e.detail_json) : detail},
                     {"prev_hash", e.prev_hash},
                     {"hash", e.hash}});
  }
  return JsonResponse(
      200, json{{"entries", a}, {"next_after", entries.empty() ? after : entries.back().seq}});
}

Result<HttpResponse> Service::Impl::VerifyAudit(const HttpRequest&, const Caller&) {
  CS_ASSIGN_OR_RETURN(auto rep, store->VerifyAudit());
  return JsonResponse(200, json{{"ok", rep.ok},
                                {"entries", rep.entries},
                                {"first_bad_seq", rep.first_bad_seq},
                                {"head_hash", rep.head_hash},
                                {"message", rep.message}});
}

std::string service::RuleActionText(const Rule& r) {
  if (r.action.kind == RuleAction::Kind::kChannel)
    return "channel " + std::string(ChannelName(r.action.channel));
  return "score " + FormatDouble(r.action.weight);
}

namespace {
json RuleJson(const Rule& r) {
  json j = {
      {"name", r.name}, {"reason", r.reason}, {"owner", r.owner}, {"condition", r.condition_text}};
  j["action"] = service::RuleActionText(r);
  j["valid_from"] = r.valid_from == INT32_MIN ? json(nullptr) : json(FormatDate(r.valid_from));
  j["valid_to"] = r.valid_to == INT32_MAX ? json(nullptr) : json(FormatDate(r.valid_to));
  return j;
}
}  // namespace

Status Service::Impl::InstallRules(const std::string& text, const std::string& source_name,
                                   const std::string& actor,
                                   const std::vector<std::string>* allowed_unknown,
                                   std::optional<int64_t> restored_from,
                                   std::optional<int64_t> expected_version, int64_t* installed) {
  CS_ASSIGN_OR_RETURN(RuleSet parsed, RuleSet::Parse(text, source_name));
  std::string unconfirmed;
  for (const auto& u : parsed.unknown_fields()) {
    if (!allowed_unknown) {
      std::fprintf(stderr,
                   "warning: %s: '%s' is not a field of the schema; read as an extra input "
                   "column (a typo would never match)\n",
                   u.where.c_str(), u.name.c_str());
    } else if (std::find(allowed_unknown->begin(), allowed_unknown->end(), u.name) ==
               allowed_unknown->end()) {
      unconfirmed += (unconfirmed.empty() ? "" : ", ") + u.name + " (" + u.where + ")";
    }
  }
  if (!unconfirmed.empty())
    return Status::InvalidArgument(
        "the rules name fields the schema does not have: " + unconfirmed +
        ". A misspelt field never matches; if these are extra columns of your declarations, "
        "send the rules again with ?allow_fields=<name>,<name>");
  auto shared = std::make_shared<const RuleSet>(std::move(parsed));
  int64_t version = 0;
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(version, txn.InsertRulesVersion(text, actor, restored_from));
    if (expected_version && version != *expected_version + 1)
      return Status::FailedPrecondition(
          "the rule profile in force is version " + std::to_string(version - 1) + ", not " +
          std::to_string(*expected_version) + ": it was changed meanwhile; reload and try again");
    json names = json::array();
    for (const auto& r : shared->rules()) names.push_back(r.name);
    AuditEntry e;
    e.actor = actor;
    e.action = "rules";
    e.subject = "v" + std::to_string(version);
    json detail = {{"version", version},
                   {"sha256", Sha256Hex(text)},
                   {"rules", names},
                   {"source", source_name}};
    if (restored_from) {
      detail["restored_from"] = *restored_from;
      detail["replaced"] = version - 1;
    }
    e.detail_json = detail.dump(-1, ' ', false, json::error_handler_t::replace);
    return txn.Audit(&e);
  }));
  if (installed) *installed = version;
  std::lock_guard lock(risk_mu);
  rules = shared;
  rules_version = version;
  risk = std::make_shared<const DeclarationRisk>(model, valuation, rules, LazyExplanations());
  return Status::Ok();
}

Result<HttpResponse> Service::Impl::GetRules(const HttpRequest&, const Caller&) {
  std::shared_ptr<const RuleSet> current;
  int64_t version;
  {
    std::lock_guard lock(risk_mu);
    current = rules;
    version = rules_version;
  }
  std::optional<RulesVersion> latest;  // the stored version in force
  if (version > 0) {
    CS_ASSIGN_OR_RETURN(latest, store->GetRulesVersion(version));
  }
  json list = json::array();
  if (current)
    for (const auto& r : current->rules()) list.push_back(RuleJson(r));
  const bool stored = latest.has_value();
  return JsonResponse(
      200, json{{"version", version},
                {"text", stored ? json(latest->text) : json(nullptr)},
                {"author", stored ? json(latest->author) : json(nullptr)},
                {"created_at", stored ? json(IsoTime(latest->created_ms)) : json(nullptr)},
                {"restored_from",
                 stored && latest->restored_from ? json(*latest->restored_from) : json(nullptr)},
                {"rules", list}});
}

Result<HttpResponse> Service::Impl::PutRules(const HttpRequest& req, const Caller& caller) {
  CS_ASSIGN_OR_RETURN(std::string text, service::RulesTextOf(req));
  std::vector<std::string> allowed;
  for (std::string_view f : Split(req.Query("allow_fields"), ','))
    if (!Trim(f).empty()) allowed.emplace_back(Trim(f));
  CS_RETURN_IF_ERROR(InstallRules(text, "rules", caller.username, &allowed));
  return GetRules(req, caller);
}

Result<HttpResponse> Service::Impl::GetStats(const HttpRequest&, const Caller&) {
  CS_ASSIGN_OR_RETURN(auto rule_stats, store->RuleStats());
  CS_ASSIGN_OR_RETURN(auto channel_stats, store->ChannelStats());
  auto rate = [](int64_t confirmed, int64_t with_outcome) {
    return with_outcome > 0
               ? json(static_cast<double>(confirmed) / static_cast<double>(with_outcome))
               : json(nullptr);
  };
  std::shared_ptr<const RuleSet> current;
  int64_t version;
  std::shared_ptr<const RiskModel> current_model;
  std::optional<int64_t> current_model_version;
  {
    std::lock_guard lock(risk_mu);
    current = rules;
    version = rules_version;
    current_model = model;
    current_model_version = model_version;
  }
  json rule_list = json::array();
  std::map<std::string, RuleHitStats> by_name;
  for (const auto& s : rule_stats) by_name[s.rule] = s;
  if (current) {
    for (const auto& r : current->rules()) {
      RuleHitStats s = by_name.count(r.name) ? by_name[r.name] : RuleHitStats{r.name};
      by_name.erase(r.name);
      json j = RuleJson(r);
      j.update(json{{"hits", s.hits},
                    {"with_outcome", s.with_outcome},
                    {"confirmed", s.confirmed},
                    {"hit_rate", rate(s.confirmed, s.with_outcome)},
                    {"active", true}});
      rule_list.push_back(std::move(j));
    }
  }
  for (const auto& [name, s] : by_name)  // rules of earlier versions that still have hits
    rule_list.push_back(json{{"name", name},
                             {"hits", s.hits},
                             {"with_outcome", s.with_outcome},
                             {"confirmed", s.confirmed},
                             {"hit_rate", rate(s.confirmed, s.with_outcome)},
                             {"active", false}});
  json channels = json::array();
  int64_t control_n = 0, control_out = 0, control_conf = 0, targeted_n = 0, targeted_out = 0,
          targeted_conf = 0;
  int64_t total = 0;
  for (const auto& c : channel_stats) {
    channels.push_back(json{{"channel", c.channel},
                            {"control", c.control},
                            {"decisions", c.decisions},
                            {"with_outcome", c.with_outcome},
                            {"confirmed", c.confirmed},
                            {"hit_rate", rate(c.confirmed, c.with_outcome)}});
    total += c.decisions;
    if (c.control) {
      control_n += c.decisions, control_out += c.with_outcome, control_conf += c.confirmed;
    } else if (c.channel == "red") {
      targeted_n += c.decisions, targeted_out += c.with_outcome, targeted_conf += c.confirmed;
    }
  }
  // Hit rates per evidence source, over the consignments with an outcome: those with any reason
  // from the source, and those whose strongest reason is from it.
  CS_ASSIGN_OR_RETURN(auto source_stats, store->SourceStats());
  json sources = json::array();
  for (const auto& s : source_stats)
    sources.push_back(
        json{{"source", s.source.empty() ? "none" : s.source},
             {"with_outcome", s.with_outcome},
             {"confirmed", s.confirmed},
             {"control", s.control},
             {"hit_rate", rate(s.confirmed, s.with_outcome)},
             {"strongest",
              {{"with_outcome", s.strongest_with_outcome},
               {"confirmed", s.strongest_confirmed},
               {"hit_rate", rate(s.strongest_confirmed, s.strongest_with_outcome)}}}});
  json model_json = nullptr;
  if (current_model)
    model_json = json{{"features", current_model->num_features()},
                      {"baseline", current_model->is_baseline()},
                      {"version", current_model_version ? json(*current_model_version) : json()}};
  json valuation_json = nullptr;
  if (valuation)
    valuation_json =
        json{{"groups", valuation->num_groups()}, {"flag_threshold", valuation->flag_threshold()}};
  json detector_json = nullptr;
  if (detector) {
    json per_class = json::object();
    const auto ops = detector->class_operating_probabilities();
    for (size_t k = 0; k < ops.size(); ++k) per_class[detector->threat_classes()[k]] = ops[k];
    detector_json = json{{"path", options.detector_path},
                         {"parameters", detector->parameters()},
                         {"threat_classes", detector->threat_classes()},
                         {"operating_probability", detector->operating_probability()},
                         {"class_operating_probability", per_class},
                         {"verifier", detector->has_verifier()},
                         {"points", detector->unseen_scanner() ? "unseen_scanner" : "own"},
                         {"scanner_note", detector->scanner_note()},
                         {"manifest", manifest != nullptr}};
  }
  // Hit rates per office, HS chapter and origin: the control sample's (unbiased) beside the
  // targeted inspections', each with its Wilson interval; too few control outcomes give no rate.
  json groups = json::object();
  for (const char* by : {"office", "hs_chapter", "origin"}) {
    CS_ASSIGN_OR_RETURN(auto stats, store->GroupStats(by));
    json list = json::array();
    auto part = [](int64_t n, int64_t with_outcome, int64_t confirmed, bool enough) {
      json j = {{"decisions", n}, {"with_outcome", with_outcome}, {"confirmed", confirmed}};
      if (!enough) {
        j["hit_rate"] = nullptr;
        j["ci95"] = nullptr;
        return j;
      }
      const Interval w = Wilson(static_cast<double>(confirmed), static_cast<double>(with_outcome));
      j["hit_rate"] = w.value;
      j["ci95"] = json::array({w.low, w.high});
      return j;
    };
    for (const auto& g : stats) {
      const bool control_enough = g.control_with_outcome >= service::kMinOutcomesForARate;
      const bool targeted_enough = g.targeted_with_outcome >= service::kMinOutcomesForARate;
      json item = {
          {"group", g.group},
          {"decisions", g.decisions},
          {"control", part(g.control, g.control_with_outcome, g.control_confirmed, control_enough)},
          {"targeted",
           part(g.targeted, g.targeted_with_outcome, g.targeted_confirmed, targeted_enough)}};
      item["lift"] = control_enough && targeted_enough && g.control_confirmed > 0
                         ? json((static_cast<double>(g.targeted_confirmed) /
                                 static_cast<double>(g.targeted_with_outcome)) /
                                (static_cast<double>(g.control_confirmed) /
                                 static_cast<double>(g.control_with_outcome)))
                         : json(nullptr);
      list.push_back(std::move(item));
    }
    groups[by] = std::move(list);
  }
  json out = {
      {"decisions", total},
      {"groups", groups},
      {"min_outcomes_for_a_rate", service::kMinOutcomesForARate},
      {"model", model_json},
      {"valuation", valuation_json},
      {"calibration", analyzer != nullptr},
      {"detector", detector_json},
      {"rules", {{"version", version}, {"rules", rule_list}}},
      {"channels", channels},
      {"sources", sources},
      // The control sample is drawn at random: its hit rate estimates the rate among all
      // consignments without selection bias; the targeted rate shows what the selection adds.
      {"control_sample",
       {{"decisions", control_n},
        {"with_outcome", control_out},
        {"confirmed", control_conf},
        {"hit_rate", rate(control_conf, control_out)},
        {"share_of_red_budget", options.selection.control_share}}},
      {"targeted_red",
       {{"decisions", targeted_n},
        {"with_outcome", targeted_out},
        {"confirmed", targeted_conf},
        {"hit_rate", rate(targeted_conf, targeted_out)}}},
      {"lift", control_out > 0 && targeted_out > 0 && control_conf > 0
                   ? json((static_cast<double>(targeted_conf) / targeted_out) /
                          (static_cast<double>(control_conf) / control_out))
                   : json(nullptr)}};
  int64_t not_inspected = 0;
  for (const auto& c : channel_stats)
    if (c.channel != "red") not_inspected += c.decisions;
  CS_ASSIGN_OR_RETURN(auto control_outcomes, store->ControlOutcomes());
  out["estimates"] = service::ControlEstimates(
      control_outcomes, not_inspected, service::kMinOutcomesForARate, options.selection.seed);
  return JsonResponse(200, out);
}

namespace {
json CapacityJson(const LaneCapacity& c) {
  return json{{"red_share", c.red_share},
              {"red_count", c.red_count >= 0 ? json(c.red_count) : json(nullptr)},
              {"yellow_share", c.yellow_share}};
}
Result<LaneCapacity> ParseCapacity(const json& j, const LaneCapacity& base) {
  if (!j.is_object()) return Status::InvalidArgument("a capacity must be an object");
  LaneCapacity c = base;
  // Numbers only: nlohmann would read true as 1.
  for (const char* key : {"red_share", "yellow_share"})
    if (j.contains(key) && !j[key].is_number())
      return Status::InvalidArgument(std::string(key) + " must be a number in [0, 1]");
  if (j.contains("red_count") && !j["red_count"].is_null() && !j["red_count"].is_number_integer())
    return Status::InvalidArgument("red_count must be a whole number >= 0 or null");
  if (j.contains("red_share")) c.red_share = j["red_share"].get<double>();
  if (j.contains("yellow_share")) c.yellow_share = j["yellow_share"].get<double>();
  if (j.contains("red_count"))
    c.red_count = j["red_count"].is_null() ? -1 : j["red_count"].get<int64_t>();
  if (!(c.red_share >= 0 && c.red_share <= 1) || !(c.yellow_share >= 0 && c.yellow_share <= 1))
    return Status::InvalidArgument("red_share and yellow_share must be in [0, 1]");
  // Both are shares of the same lane-day's consignments.
  if (!(c.red_share + c.yellow_share <= 1))
    return Status::InvalidArgument("red_share + yellow_share must be at most 1, got " +
                                   FormatDouble(c.red_share) + " + " +
                                   FormatDouble(c.yellow_share));
  if (c.red_count < -1 || c.red_count > 100000000)
    return Status::InvalidArgument("red_count must be >= 0 or null");
  return c;
}
}  // namespace

Status Service::Impl::ApplyCapacityJson(const std::string& text) {
  CS_ASSIGN_OR_RETURN(json j, service::ParseBody(text, "the capacity"));
  if (!j.is_object()) return Status::InvalidArgument("capacity must be a JSON object");
  CS_ASSIGN_OR_RETURN(LaneCapacity def, ParseCapacity(j, selector->options().capacity));
  std::map<std::string, LaneCapacity> lanes;
  if (j.contains("lanes")) {
    if (!j["lanes"].is_object())
      return Status::InvalidArgument("lanes must be an object of lane -> capacity");
    for (auto it = j["lanes"].begin(); it != j["lanes"].end(); ++it) {
      CS_ASSIGN_OR_RETURN(lanes[it.key()], ParseCapacity(it.value(), def));
    }
  }
  selector->SetCapacity(def, lanes);
  return Status::Ok();
}

Result<HttpResponse> Service::Impl::GetCapacity(const HttpRequest&, const Caller&) {
  const auto& o = selector->options();
  json lanes = json::object();
  for (const auto& [lane, c] : o.lanes) lanes[lane] = CapacityJson(c);
  json out = CapacityJson(o.capacity);
  out["lanes"] = lanes;
  out["control_share"] = o.control_share;
  out["exploration_share"] = o.exploration_share;
  return JsonResponse(200, out);
}

Result<HttpResponse> Service::Impl::PutCapacity(const HttpRequest& req, const Caller& caller) {
  std::string text(req.body);
  // Validate fully before storing; the selector takes the new values only after the commit.
  {
    CS_ASSIGN_OR_RETURN(json j, service::ParseBody(text));
    if (!j.is_object()) return Status::InvalidArgument("capacity must be a JSON object");
    CS_ASSIGN_OR_RETURN(LaneCapacity def, ParseCapacity(j, selector->options().capacity));
    if (j.contains("lanes")) {
      if (!j["lanes"].is_object())
        return Status::InvalidArgument("lanes must be an object of lane -> capacity");
      for (auto it = j["lanes"].begin(); it != j["lanes"].end(); ++it)
        CS_RETURN_IF_ERROR(ParseCapacity(it.value(), def).status());
    }
    text = j.dump();
  }
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    CS_RETURN_IF_ERROR(txn.PutSetting("capacity", text));
    AuditEntry e;
    e.actor = caller.username;
    e.action = "capacity";
    e.subject = "capacity";
    e.detail_json = text;
    return txn.Audit(&e);
  }));
  CS_RETURN_IF_ERROR(ApplyCapacityJson(text));
  return GetCapacity(req, caller);
}

}  // namespace clearsight
