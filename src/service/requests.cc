// Requests: admission from the headers, cross-site checks, authentication and roles, dispatch
// through the route table, and the workstation's static files.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <filesystem>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "service/service_impl.h"

namespace clearsight {

using service::Caller;
using service::HttpRequest;
using service::HttpResponse;
using service::RoleBit;

namespace {
void SecurityHeaders(HttpResponse& res) {
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("X-Frame-Options", "DENY");
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
  res.headers.emplace_back("Cache-Control", "no-store");
}

bool MatchRoute(const std::vector<std::string>& segments, std::string_view path,
                std::vector<std::string>* params) {
  if (path.empty() || path[0] != '/') return false;
  path.remove_prefix(1);
  size_t i = 0;
  params->clear();
  while (true) {
    size_t slash = path.find('/');
    std::string_view seg = path.substr(0, slash);
    if (i >= segments.size()) return false;
    const std::string& want = segments[i];
    if (want.size() >= 2 && want.front() == '{' && want.back() == '}') {
      if (seg.empty()) return false;
      params->emplace_back(seg);
    } else if (want != seg) {
      return false;
    }
    ++i;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return i == segments.size();
}

std::string CookieValue(const std::string& cookies, std::string_view name) {
  for (auto part : Split(cookies, ';')) {
    part = Trim(part);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=')
      return std::string(part.substr(name.size() + 1));
  }
  return "";
}
}  // namespace

// Browsers attach the session cookie to requests that other sites make them send. A
// state-changing request that carries it must come from the workstation's own origin (by
// Sec-Fetch-Site, else by Origin), and a body must be JSON (a cross-site form cannot send that
// without the browser asking first, which this service never allows). Bearer tokens are not
// sent by browsers on their own: such requests pass. `binary_upload` (scans, outcome photos)
// lets other bodies through the second check; the photo upload takes only image/jpeg and
// image/png, which a cross-site form cannot send either.
Status Service::Impl::CheckSameOrigin(const HttpRequest& req, bool binary_upload) const {
  if (req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS") return Status::Ok();
  if (StartsWith(req.header("Authorization"), "Bearer ")) return Status::Ok();
  if (CookieValue(req.header("Cookie"), "cs_session").empty()) return Status::Ok();
  const std::string site = req.header("Sec-Fetch-Site");
  if (!site.empty() && site != "same-origin" && site != "none")
    return Status::PermissionDenied("a " + site + " request with the session cookie may not " +
                                    req.method + " " + req.path +
                                    " (only the workstation's own pages may)");
  const std::string origin = req.header("Origin");
  if (!origin.empty()) {
    const std::string host = req.header("Host");
    const bool own = origin == "http://" + host || origin == "https://" + host;
    const bool listed = std::find(options.allowed_origins.begin(), options.allowed_origins.end(),
                                  origin) != options.allowed_origins.end();
    if (!own && !listed)
      return Status::PermissionDenied("a request from origin '" + Excerpt(origin, 100) +
                                      "' with the session cookie may not " + req.method + " " +
                                      req.path + " (serve --allowed-origin adds an origin)");
  }
  if (!req.body.empty() && !binary_upload) {
    const std::string type = ToLower(req.header("Content-Type"));
    if (!StartsWith(type, "application/json"))
      return Status::InvalidArgument(
          "a request with the session cookie must send its body as "
          "Content-Type: application/json");
  }
  return Status::Ok();
}

Result<Caller> Service::Impl::Authenticate(const HttpRequest& req) {
  std::string token;
  std::string auth = req.header("Authorization");
  if (StartsWith(auth, "Bearer ")) token = std::string(Trim(std::string_view(auth).substr(7)));
  if (token.empty()) token = CookieValue(req.header("Cookie"), "cs_session");
  if (token.empty())
    return Status::Unauthenticated(
        "log in first: POST /api/login, then send 'Authorization: Bearer <token>' or the "
        "cs_session cookie");
  if (token.size() > 256) return Status::Unauthenticated("malformed session token");
  const std::string sha = Sha256Hex(token);
  const int64_t now = NowMs();
  {
    std::lock_guard lock(sessions_mu);
    auto it = sessions.find(sha);
    if (it != sessions.end() && now - it->second.checked_ms < kSessionRecheckMs &&
        it->second.row.expires_ms > now) {
      auto role = ParseRole(it->second.row.role);
      if (role.ok()) return Caller{it->second.row.username, *role, sha, it->second.row.expires_ms};
    }
  }
  CS_ASSIGN_OR_RETURN(auto session, store->GetSession(sha));
  if (!session || session->expires_ms <= now) {
    std::lock_guard lock(sessions_mu);
    sessions.erase(sha);
    return Status::Unauthenticated("the session has expired or was ended; log in again");
  }
  CS_ASSIGN_OR_RETURN(Role role, ParseRole(session->role));
  std::lock_guard lock(sessions_mu);
  if (sessions.size() > 100000) sessions.clear();  // bound memory; entries are only a cache
  sessions[sha] = CachedSession{*session, now};
  return Caller{session->username, role, sha, session->expires_ms};
}

const Service::Impl::Route* Service::Impl::FindRoute(const HttpRequest& req,
                                                     std::vector<std::string>* params,
                                                     std::string* allowed) const {
  for (const auto& r : routes) {
    if (!MatchRoute(r.segments, req.path, params)) continue;
    if (req.method == r.method || (req.method == "HEAD" && std::string_view(r.method) == "GET"))
      return &r;
    if (allowed) *allowed += (allowed->empty() ? "" : ", ") + std::string(r.method);
  }
  return nullptr;
}

size_t Service::Impl::BodyLimit(const Route& route) const {
  if (route.roles == service::kPublic) return kAnonymousBodyBytes;
  if (route.handler == &Impl::PostDeclarations) return options.max_declaration_body_bytes;
  if (route.handler == &Impl::PostScan) return options.max_body_bytes;
  if (route.handler == &Impl::PutRules) return kRulesBodyBytes;
  if (route.handler == &Impl::PostAttachment) return options.max_attachment_bytes;
  return kSmallBodyBytes;
}

std::optional<size_t> Service::Impl::Admit(const HttpRequest& head, HttpResponse* refusal) {
  std::vector<std::string> params;
  const Route* route = IsValidUtf8(head.path) ? FindRoute(head, &params, nullptr) : nullptr;
  // No route (Dispatch answers 404 or 405) or a public one: what a login needs, no more.
  if (!route || route->roles == service::kPublic) return kAnonymousBodyBytes;
  // The session and the role decide before the body is read: nothing in it could change them.
  Status auth;
  auto caller = Authenticate(head);
  if (!caller.ok())
    auth = caller.status();
  else if (!(route->roles & RoleBit(caller->role)))
    auth = Status::PermissionDenied("role '" + std::string(RoleName(caller->role)) + "' may not " +
                                    head.method + " " + route->pattern);
  if (auth.ok()) return BodyLimit(*route);
  *refusal = service::ErrorResponse(auth);
  if (refusal->status == 401) refusal->headers.emplace_back("WWW-Authenticate", "Bearer");
  SecurityHeaders(*refusal);
  metrics->requests.Add("route=\"" + std::string(route->pattern) + "\",method=\"" + route->method +
                        "\",code=\"" + std::to_string(refusal->status) + "\"");
  return std::nullopt;
}

void Service::Impl::Dispatch(HttpRequest& req, HttpResponse& res) {
  const auto t0 = std::chrono::steady_clock::now();
  // The client's mistake, not ours: every message that quotes the path must be valid JSON text.
  if (!IsValidUtf8(req.path)) {
    res = service::ErrorResponse(
        Status::InvalidArgument("the request path is not valid UTF-8 once percent-decoded"));
    SecurityHeaders(res);
    return;
  }
  std::string allowed;
  std::vector<std::string> params;
  const Route* route = FindRoute(req, &params, &allowed);
  if (route) req.path_params = params;
  const bool api = StartsWith(req.path, "/api/") || req.path == "/api" || req.path == "/metrics";
  if (!route) {
    if (!allowed.empty()) {
      res = service::ErrorResponse(Status::InvalidArgument(
          req.method + " is not allowed on " + req.path + " (allowed: " + allowed + ")"));
      res.status = 405;
      res.headers.emplace_back("Allow", allowed);
    } else if (api) {
      res = service::ErrorResponse(Status::NotFound("no route " + req.method + " " + req.path));
    } else {
      ServeStatic(req, res);
      return;
    }
    SecurityHeaders(res);
    return;
  }
  Result<HttpResponse> result = Status::Internal("unreachable");
  Caller caller;
  Status auth = CheckSameOrigin(
      req, route->handler == &Impl::PostScan || route->handler == &Impl::PostAttachment);
  if (auth.ok() && route->roles != service::kPublic) {
    auto c = Authenticate(req);
    if (!c.ok()) {
      auth = c.status();
    } else {
      caller = *c;
      if (!(route->roles & RoleBit(caller.role)))
        auth = Status::PermissionDenied("role '" + std::string(RoleName(caller.role)) +
                                        "' may not " + req.method + " " + route->pattern);
    }
  }
  if (!auth.ok()) {
    result = auth;
  } else {
    try {
      result = (this->*(route->handler))(req, caller);
    } catch (const json::exception& e) {
      result = Status::InvalidArgument(std::string("malformed JSON: ") + e.what());
    } catch (const std::exception& e) {
      result = Status::Internal(std::string("unexpected error: ") + e.what());
    }
  }
  res = result.ok() ? std::move(result).value() : service::ErrorResponse(result.status());
  // Busy (password checks) or the store briefly unreachable: a client may come back shortly.
  if (!result.ok() && (result.status().code() == StatusCode::kUnavailable ||
                       result.status().code() == StatusCode::kIoError))
    res.headers.emplace_back("Retry-After", "5");
  if (res.status == 401) res.headers.emplace_back("WWW-Authenticate", "Bearer");
  SecurityHeaders(res);
  const size_t index = static_cast<size_t>(route - routes.data());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  metrics->request_seconds[index].Observe(seconds);
  metrics->requests.Add("route=\"" + std::string(route->pattern) + "\",method=\"" + route->method +
                        "\",code=\"" + std::to_string(res.status) + "\"");
  if (options.log_requests)
    std::fprintf(stderr, "%s %s %s -> %d %.1f ms (%s)\n", req.remote_addr.c_str(),
                 req.method.c_str(), req.path.c_str(), res.status, seconds * 1e3,
                 caller.username.c_str());
}

void Service::Impl::ServeStatic(const HttpRequest& req, HttpResponse& res) {
  SecurityHeaders(res);
  if (req.method != "GET" && req.method != "HEAD") {
    res = service::ErrorResponse(Status::NotFound("no route " + req.method + " " + req.path));
    return;
  }
  // Chart.js from the system (Debian libjs-chart.js), for the horizon page's charts.
  if (req.path == "/vendor/chart.min.js") {
    auto js = options.chart_js_path.empty()
                  ? Result<std::string>(Status::NotFound("no chart library configured"))
                  : ReadFile(options.chart_js_path, size_t{16} << 20);
    if (!js.ok()) {
      res = service::ErrorResponse(Status::NotFound(
          "the chart library is not installed (Debian package libjs-chart.js, or serve "
          "--chart-js PATH): " +
          js.status().message()));
      return;
    }
    res.status = 200;
    res.content_type = "text/javascript; charset=utf-8";
    res.body = std::move(js).value();
    res.headers.emplace_back("Cache-Control", "max-age=86400");
    return;
  }
  if (web_root.empty()) {
    res = service::ErrorResponse(
        Status::NotFound("no web workstation is installed (serve --web DIR)"));
    return;
  }
  // Refuse anything that could leave the web root before touching the file system.
  std::string_view p = req.path;
  bool bad = p.empty() || p[0] != '/' || p.find('\0') != std::string_view::npos ||
             p.find('\\') != std::string_view::npos;
  for (auto seg : Split(p.substr(std::min<size_t>(1, p.size())), '/'))
    if (seg == ".." || (!seg.empty() && seg[0] == '.')) bad = true;
  if (bad) {
    res = service::ErrorResponse(Status::NotFound("no such file"));
    return;
  }
  namespace fs = std::filesystem;
  std::string rel = std::string(p.substr(1));
  fs::path file = fs::path(web_root) / rel;
  std::error_code ec;
  if (rel.empty() || fs::is_directory(file, ec)) file /= "index.html";
  // Paths without an extension that name no file are the single-page app's own routes.
  if (!fs::exists(file, ec) && fs::path(rel).extension().empty())
    file = fs::path(web_root) / "index.html";
  auto real = fs::canonical(file, ec);
  if (ec || !StartsWith(real.string(), web_root + "/") || !fs::is_regular_file(real, ec)) {
    res = service::ErrorResponse(Status::NotFound("no such file: " + req.path));
    return;
  }
  auto body = ReadFile(real.string(), size_t{64} << 20);
  if (!body.ok()) {
    res = service::ErrorResponse(body.status());
    return;
  }
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".png", "image/png"},
      {".svg", "image/svg+xml"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".map", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"}};
  auto it = kTypes.find(real.extension().string());
  res.status = 200;
  res.content_type = it == kTypes.end() ? "application/octet-stream" : it->second;
  res.body = std::move(body).value();
  res.headers.emplace_back(
      "Content-Security-Policy",
      "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
      "object-src 'none'; frame-ancestors 'none'");
}

}  // namespace clearsight
