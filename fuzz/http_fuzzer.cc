// Every route of the service, in-process: the input is a small HTTP request (request line,
// headers, blank line, body) handed to the service's own admission and dispatch, as the HTTP
// server hands it over after reading it from a socket, on a real SQLite store. Oracles: no
// crash, no 5xx other than 503 (busy), every JSON answer is JSON, and 401/403 come only from
// the route table's roles.
//
//   POST /api/declarations?x=1 analyst      <- method, target, role (default admin; "none")
//   Content-Type: application/json          <- headers, up to a blank line
//
//   {"declaration_id": "D1", ...}           <- the body
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "clearsight/service.h"
#include "clearsight/store.h"
#include "clearsight/text.h"
#include "fuzz_util.h"
#include "service/multipart.h"
#include "service/service_impl.h"

namespace clearsight {

// The friend of Service that reaches its Impl (include/clearsight/service.h).
struct ServiceTesting {
  static Service::Impl& Impl(Service& s) { return *s.impl_; }
};

namespace {

using service::HttpRequest;
using service::HttpResponse;

constexpr Role kRoles[] = {Role::kOfficer, Role::kAnalyst, Role::kTrainer, Role::kAdmin,
                           Role::kIntegrator};

std::string TokenOf(Role role) { return "fuzz-session-" + std::string(RoleName(role)); }

struct Harness {
  std::filesystem::path dir;
  Service* service = nullptr;  // lives until the process ends (reachable: no leak report)

  Harness() {
    dir = std::filesystem::temp_directory_path() / ("cs_fuzz_http_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    ServiceOptions o;
    o.port = 0;
    o.store.url = (dir / "cs.db").string();
    o.store.sqlite_synchronous_full = false;
    o.analysis_threads = 0;
    o.model_poll_ms = 60000;
    o.web_dir = "";
    auto created = Service::Create(o);
    if (!created.ok()) {
      std::fprintf(stderr, "http fuzzer: %s\n", created.status().ToString().c_str());
      std::abort();
    }
    service = created->release();
    for (Role r : kRoles) {
      const std::string name(RoleName(r));
      Status s = AddUser(service->store(), name, r, "pw-" + name + "-12345", "fuzz");
      if (!s.ok()) std::abort();
    }
  }

  // Requests may end sessions, disable users or change their roles (logout, users routes): each
  // input starts from the same users and sessions, so that a crash reproduces from its input.
  void RestoreSessions() {
    auto& impl = ServiceTesting::Impl(*service);
    for (Role r : kRoles) {
      const std::string name(RoleName(r)), token = TokenOf(r);
      HttpRequest probe;
      probe.header = [&](const std::string& k) {
        return k == "Authorization" ? "Bearer " + token : std::string();
      };
      auto caller = impl.Authenticate(probe);
      auto user = service->store().GetUser(name);
      if (caller.ok() && caller->role == r && user.ok() && *user && !(*user)->disabled) continue;
      if (!user.ok() || !*user) std::abort();
      UserRow row = **user;
      row.role = std::string(RoleName(r));
      row.disabled = false;
      SessionRow session{Sha256Hex(token), name, row.role, NowMs() + 365LL * 86400 * 1000};
      Status s = service->store().Write([&](StoreTxn& txn) -> Status {
        CS_RETURN_IF_ERROR(txn.PutUser(row));
        return txn.PutSession(session);
      });
      if (!s.ok()) std::abort();
      impl.ForgetSessionsOf(name);
    }
  }
};

Harness& TheHarness() {
  static Harness* h = new Harness();  // never destroyed: the service's threads outlive main
  return *h;
}

void Fail(const HttpRequest& req, const HttpResponse& res, const char* why) {
  std::fprintf(stderr, "http fuzzer: %s: %s %s -> %d %s\n", why, req.method.c_str(),
               req.path.c_str(), res.status, res.body.substr(0, 2000).c_str());
  std::abort();
}

}  // namespace
}  // namespace clearsight

using namespace clearsight;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheHarness().RestoreSessions();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::AsText(data, size);
  // Request line: METHOD TARGET [ROLE].
  const size_t eol = in.find('\n');
  if (eol == std::string_view::npos) return 0;
  std::vector<std::string_view> words;
  for (auto w : Split(in.substr(0, eol), ' '))
    if (!w.empty()) words.push_back(w);
  if (words.size() < 2 || words.size() > 3) return 0;
  in.remove_prefix(eol + 1);
  std::multimap<std::string, std::string> headers;  // lower-case names
  while (true) {
    const size_t end = in.find('\n');
    std::string_view line = in.substr(0, end);
    in.remove_prefix(end == std::string_view::npos ? in.size() : end + 1);
    if (line.empty() || end == std::string_view::npos) break;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    headers.emplace(ToLower(line.substr(0, colon)), std::string(Trim(line.substr(colon + 1))));
  }
  const std::string_view body = in;

  Harness& h = TheHarness();
  h.RestoreSessions();
  auto& impl = ServiceTesting::Impl(*h.service);

  std::optional<Role> role = Role::kAdmin;
  if (words.size() == 3) {
    if (words[2] == "none") {
      role.reset();
    } else {
      auto r = ParseRole(words[2]);
      if (!r.ok()) return 0;
      role = *r;
    }
  }
  if (role && !headers.count("authorization"))
    headers.emplace("authorization", "Bearer " + TokenOf(*role));

  HttpRequest req;
  req.method = std::string(words[0]);
  const std::string_view target = words[1];
  const size_t q = target.find('?');
  req.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos)
    for (auto pair : Split(target.substr(q + 1), '&')) {
      const size_t eq = pair.find('=');
      req.query.emplace(std::string(pair.substr(0, eq)),
                        eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    }
  req.header = [&headers](const std::string& name) {
    auto it = headers.find(ToLower(name));
    return it == headers.end() ? std::string() : it->second;
  };
  req.remote_addr = "127.0.0.1";

  // As the HTTP server does: requests that may carry a body are admitted from their head first
  // (a refusal, or a body over the limit, ends them there); multipart bodies are split.
  HttpResponse res;
  if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH" ||
      req.method == "DELETE") {
    auto limit = impl.Admit(req, &res);
    if (!limit) {
      if (res.status != 401 && res.status != 403)
        Fail(req, res, "refused with neither 401 nor 403");
      return 0;
    }
    if (body.size() > *limit) return 0;  // 413 from the server, unread
  }
  if (req.method != "GET" && req.method != "HEAD") req.body = body;
  std::vector<service::MultipartPart> parts;
  const std::string boundary = service::MultipartBoundary(req.header("Content-Type"));
  if (!boundary.empty()) {
    auto parsed = service::ParseMultipart(boundary, body);
    if (!parsed.ok()) return 0;  // 400 from the server
    parts = std::move(*parsed);
    for (const auto& p : parts)
      req.parts.emplace(p.name, service::HttpPart{p.filename, p.content_type, p.content});
  }
  impl.Dispatch(req, res);

  if (res.status >= 500 && res.status != 503) Fail(req, res, "server error");
  if (StartsWith(res.content_type, "application/json") && !nlohmann::json::accept(res.body))
    Fail(req, res, "answer is not JSON");
  return 0;
}
