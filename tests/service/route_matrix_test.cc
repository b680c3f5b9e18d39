// Security tests that cannot forget a route: everything here is generated from the service's own
// route table (Service::Routes), so a route added is a route tested. The table must equal the one
// in docs/api.md both ways; every route answers every role (and no session) as the table says, on
// a real service over real HTTP; and hostile path parameters, query parameters and bodies on every
// route get a 4xx, never a 5xx or a crash, with the service answering afterwards.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "clearsight/text.h"
#include "service/service_test_util.h"

namespace clearsight {
namespace {

using nlohmann::json;
using testing::PasswordOf;
using testing::TempDir;

constexpr Role kRoles[] = {Role::kOfficer, Role::kAnalyst, Role::kTrainer, Role::kAdmin,
                           Role::kIntegrator};

// ---- docs/api.md's route table ------------------------------------------------------------

struct DocRoute {
  std::string method, pattern;
  std::set<std::string> roles;     // empty: public
  std::vector<std::string> query;  // documented query parameters ("?since=&limit=")
  int line = 0;
};

// The rows of docs/api.md whose first cell is an HTTP method: `| GET | `/api/x?a=&b=` | roles |`.
// "any" is every role; the static files' row (`/*`) is not a route of the table.
std::vector<DocRoute> ReadDocRoutes(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  static const std::regex row(R"(^\| (GET|POST|PUT|DELETE|PATCH) \| `([^`]*)`[^|]*\| ([^|]*) \|)");
  std::vector<DocRoute> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    DocRoute r;
    r.method = m[1];
    r.line = n;
    std::string target = m[2];
    if (target == "/*") continue;
    const size_t q = target.find('?');
    r.pattern = target.substr(0, q);
    if (q != std::string::npos)
      for (auto kv : Split(std::string_view(target).substr(q + 1), '&'))
        r.query.emplace_back(kv.substr(0, kv.find('=')));
    const std::string roles(Trim(m[3].str()));
    if (roles == "any") {
      for (Role role : kRoles) r.roles.emplace(RoleName(role));
    } else if (roles != "public") {
      for (auto name : Split(roles, ',')) r.roles.emplace(Trim(name));
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::set<std::string> RoleNames(const ServiceRoute& r) {
  std::set<std::string> out;
  for (Role role : r.roles) out.emplace(RoleName(role));
  return out;
}

std::string Joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "public" : out;
}

// ---- A raw HTTP client: the request line goes out exactly as written --------------------

struct RawReply {
  int status = -1;  // -1: no answer
  std::string head, body;
  json error;  // the JSON body, when there is one
};

RawReply SendRaw(int port, const std::string& method, const std::string& target,
                 const std::string& token, const std::string& body,
                 const std::string& content_type = "application/json",
                 std::optional<size_t> declared_length = std::nullopt) {
  RawReply out;
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  if (!body.empty() || declared_length) request += "Content-Type: " + content_type + "\r\n";
  request += "Content-Length: " + std::to_string(declared_length.value_or(body.size())) +
             "\r\nConnection: close\r\n\r\n";
  if (!declared_length) request += body;
  const int fd = testing::ConnectLoopback(port);
  if (fd < 0) return out;
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (413) and close before reading it all
    sent += static_cast<size_t>(n);
  }
  std::string text;
  char buf[8192];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (text.rfind("HTTP/1.1 ", 0) != 0) return out;
  out.status = std::atoi(text.c_str() + 9);
  const size_t end = text.find("\r\n\r\n");
  out.head = text.substr(0, end);
  if (end != std::string::npos) out.body = text.substr(end + 4);
  out.error = json::parse(out.body, nullptr, false);
  return out;
}

// `pattern` with every {parameter} replaced by `value`, or only the `which`-th (0-based) one by
// `value` and the others by `other`.
std::string Fill(const std::string& pattern, const std::string& value, int which = -1,
                 const std::string& other = "nosuch-1") {
  std::string out;
  int index = 0;
  for (size_t i = 0; i < pattern.size();) {
    if (pattern[i] == '{') {
      const size_t close = pattern.find('}', i);
      out += (which < 0 || which == index) ? value : other;
      ++index;
      i = close + 1;
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

int ParamCount(const std::string& pattern) {
  return static_cast<int>(std::count(pattern.begin(), pattern.end(), '{'));
}

bool TakesBody(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

std::string Describe(const std::string& method, const std::string& target, const RawReply& r) {
  return method + " " + target.substr(0, 200) + " -> " + std::to_string(r.status) + " " +
         r.body.substr(0, 300);
}

class RouteMatrixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ServiceOptions o;
    o.port = 0;
    o.store.url = *dir_ / "cs.db";
    o.store.sqlite_synchronous_full = false;
    o.http_threads = 4;
    o.analysis_threads = 0;
    o.max_body_bytes = 8 << 20;  // scans; declarations keep their own default (32 MiB)
    testing::StartServiceWithRoleUsers(o, &service_);
    routes_ = new std::vector<ServiceRoute>(service_->Routes());
    tokens_ = new std::map<Role, std::string>();
  }
  static void TearDownTestSuite() {
    delete service_;
    delete dir_;
    delete routes_;
    delete tokens_;
  }

  static int port() { return service_->port(); }

  // A session of `role` that still works (a request may have ended it: logout, the users routes).
  static std::string TokenOf(Role role) {
    std::string& token = (*tokens_)[role];
    if (!token.empty() && SendRaw(port(), "GET", "/api/me", token, "").status == 200) return token;
    const std::string name(RoleName(role));
    RawReply r = SendRaw(port(), "POST", "/api/login", "",
                         json{{"username", name}, {"password", PasswordOf(name)}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    token = r.error.value("token", "");
    return token;
  }

  // Who probes a route: admin where allowed, else its first role, else nobody (public).
  static std::optional<Role> Prober(const ServiceRoute& r) {
    if (r.roles.empty()) return std::nullopt;
    if (std::find(r.roles.begin(), r.roles.end(), Role::kAdmin) != r.roles.end())
      return Role::kAdmin;
    return r.roles.front();
  }

  static void ExpectStillServing(const std::string& after) {
    RawReply h = SendRaw(port(), "GET", "/api/health", "", "");
    ASSERT_EQ(h.status, 200) << "the service stopped answering after " << after;
  }

  static inline TempDir* dir_ = nullptr;
  static inline Service* service_ = nullptr;
  static inline std::vector<ServiceRoute>* routes_ = nullptr;
  static inline std::map<Role, std::string>* tokens_ = nullptr;
};

TEST_F(RouteMatrixTest, DocsApiRouteTableEqualsTheServiceRouteTable) {
  const std::vector<DocRoute> docs = ReadDocRoutes(std::string(CS_SOURCE_DIR) + "/docs/api.md");
  ASSERT_GT(docs.size(), 10u) << "docs/api.md's route table was not found";
  std::map<std::string, const DocRoute*> documented;
  for (const auto& d : docs) {
    EXPECT_TRUE(documented.emplace(d.method + " " + d.pattern, &d).second)
        << "docs/api.md:" << d.line << ": " << d.method << " " << d.pattern << " twice";
  }
  std::set<std::string> served;
  for (const auto& r : *routes_) {
    const std::string key = r.method + " " + r.pattern;
    served.insert(key);
    auto it = documented.find(key);
    if (it == documented.end()) {
      ADD_FAILURE() << key << " (roles " << Joined(RoleNames(r))
                    << ") is served but not in docs/api.md's route table";
      continue;
    }
    EXPECT_EQ(Joined(it->second->roles), Joined(RoleNames(r)))
        << "docs/api.md:" << it->second->line << ": roles of " << key
        << " differ from the service's route table";
  }
  for (const auto& d : docs)
    EXPECT_TRUE(served.count(d.method + " " + d.pattern))
        << "docs/api.md:" << d.line << ": " << d.method << " " << d.pattern
        << " is documented but the service has no such route";
}

TEST_F(RouteMatrixTest, EveryRouteAnswersEveryRoleAndNoSessionAsTheTableSays) {
  ASSERT_FALSE(routes_->empty());
  int checked = 0;
  for (const auto& route : *routes_) {
    const std::string target = Fill(route.pattern, "nosuch-1");
    const std::string body = TakesBody(route.method) ? "{}" : "";
    // No session: a route with roles answers 401 (with a Bearer challenge), a public one never
    // asks for a session.
    RawReply anon = SendRaw(port(), route.method, target, "", body);
    if (route.roles.empty()) {
      EXPECT_NE(anon.status, 403) << Describe(route.method, target, anon);
      EXPECT_GT(anon.status, 0) << Describe(route.method, target, anon);
      EXPECT_LT(anon.status, 500) << Describe(route.method, target, anon);
    } else {
      EXPECT_EQ(anon.status, 401) << Describe(route.method, target, anon);
      EXPECT_NE(anon.head.find("WWW-Authenticate: Bearer"), std::string::npos)
          << Describe(route.method, target, anon);
    }
    for (Role role : kRoles) {
      const bool allowed = route.roles.empty() || std::find(route.roles.begin(), route.roles.end(),
                                                            role) != route.roles.end();
      RawReply r = SendRaw(port(), route.method, target, TokenOf(role), body);
      const std::string what =
          std::string(RoleName(role)) + ": " + Describe(route.method, target, r);
      if (allowed) {
        EXPECT_NE(r.status, 401) << what;
        EXPECT_NE(r.status, 403) << what;
        EXPECT_GT(r.status, 0) << what;
        EXPECT_LT(r.status, 500) << what;
      } else {
        EXPECT_EQ(r.status, 403) << what;
        ASSERT_TRUE(r.error.is_object() && r.error.contains("error")) << what;
        EXPECT_EQ(r.error["error"]["code"], "permission_denied") << what;
        EXPECT_NE(r.error["error"]["message"].get<std::string>().find(std::string(RoleName(role))),
                  std::string::npos)
            << what;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(routes_->size()) * 5);
  ExpectStillServing("the role matrix");
}

// Values a path parameter should never get past: traversal (plain and percent-encoded), SQL
// metacharacters, NUL bytes, invalid UTF-8, markup, a very long one. As they go on the wire.
const std::vector<std::string>& HostileValues() {
  static const std::vector<std::string> values = {
      "..",
      "%2e%2e",
      "..%2f..%2f..%2fetc%2fpasswd",
      "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "..%5c..%5cwindows",
      "%27%20OR%201%3D1%20--",
      "1%27%3B%20DROP%20TABLE%20users%3B--",
      "%22%20OR%20%22%22%3D%22",
      "a%00b",
      "%00",
      "%FF%FE",
      "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
      "%25%32%65%25%32%65",
      std::string(8000, 'A'),
  };
  return values;
}

TEST_F(RouteMatrixTest, HostilePathParametersAreA4xxOnEveryRoute) {
  int probes = 0;
  for (const auto& route : *routes_) {
    const int params = ParamCount(route.pattern);
    if (params == 0) continue;
    const auto prober = Prober(route);
    for (int which = 0; which < params; ++which) {
      for (const std::string& value : HostileValues()) {
        const std::string target = Fill(route.pattern, value, which);
        const std::string body = TakesBody(route.method) ? "{}" : "";
        RawReply r = SendRaw(port(), route.method, target, prober ? TokenOf(*prober) : "", body);
        const std::string what = Describe(route.method, target, r);
        // Not found, or refused as malformed; a very long request line may be refused by the
        // HTTP layer itself (414).
        EXPECT_TRUE(r.status == 400 || r.status == 404 || r.status == 414) << what;
        if (r.status == 400 || r.status == 404) {
          EXPECT_TRUE(r.error.is_object() && r.error.contains("error")) << what;
        }
        ++probes;
      }
      // The traversal in a parameter must not reach a file outside the store.
      RawReply passwd =
          SendRaw(port(), route.method,
                  Fill(route.pattern, "..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", which),
                  prober ? TokenOf(*prober) : "", "");
      EXPECT_EQ(passwd.body.find("root:"), std::string::npos) << route.pattern;
    }
    ExpectStillServing(route.method + " " + route.pattern);
  }
  EXPECT_GT(probes, 0);
}

TEST_F(RouteMatrixTest, HostileQueryParametersAndBodiesNeverGiveA5xx) {
  std::map<std::string, std::vector<std::string>> query_of;  // documented query parameters
  for (const auto& d : ReadDocRoutes(std::string(CS_SOURCE_DIR) + "/docs/api.md"))
    query_of[d.method + " " + d.pattern] = d.query;
  const std::vector<std::string> bodies = {
      R"({"id": "' OR 1=1 --", "username": "admin' --", "password": "x' OR '1'='1"})",
      "' OR 1=1 --",
      std::string("{\"name\": \"a\0b\"}", 15),
      std::string(64, '\0'),
      R"({"declaration_id": "../../etc/passwd", "consignment_id": "..%2f..%2f"})",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
  };
  int probes = 0;
  for (const auto& route : *routes_) {
    const auto prober = Prober(route);
    const std::string target = Fill(route.pattern, "nosuch-1");
    // Every documented query parameter with every hostile value.
    for (const std::string& name : query_of[route.method + " " + route.pattern]) {
      for (const std::string& value : HostileValues()) {
        const std::string t = target + "?" + name + "=" + value;
        RawReply r = SendRaw(port(), route.method, t, prober ? TokenOf(*prober) : "",
                             TakesBody(route.method) ? "{}" : "");
        EXPECT_GT(r.status, 0) << Describe(route.method, t, r);
        EXPECT_LT(r.status, 500) << Describe(route.method, t, r);
        EXPECT_NE(r.status, 403) << Describe(route.method, t, r);
        ++probes;
      }
    }
    if (!TakesBody(route.method)) continue;
    for (const std::string& body : bodies) {
      for (const char* type : {"application/json", "text/plain", "text/csv"}) {
        RawReply r =
            SendRaw(port(), route.method, target, prober ? TokenOf(*prober) : "", body, type);
        const std::string what = std::string(type) + ": " + Describe(route.method, target, r);
        EXPECT_GT(r.status, 0) << what;
        EXPECT_LT(r.status, 500) << what;
        EXPECT_NE(r.status, 403) << what;
        if (r.status >= 400) {
          EXPECT_TRUE(r.error.is_object() && r.error.contains("error")) << what;
        }
        ++probes;
      }
    }
    ExpectStillServing(route.method + " " + route.pattern);
  }
  EXPECT_GT(probes, 0);
}

TEST_F(RouteMatrixTest, ABodyOverEachRoutesLimitIs413BeforeItIsRead) {
  int probes = 0;
  for (const auto& route : *routes_) {
    if (!TakesBody(route.method)) continue;
    ASSERT_GT(route.max_body_bytes, 0u) << route.pattern;
    const auto prober = Prober(route);
    const std::string target = Fill(route.pattern, "nosuch-1");
    // Declared above twice the limit: answered at once, nothing read.
    const auto t0 = std::chrono::steady_clock::now();
    RawReply r = SendRaw(port(), route.method, target, prober ? TokenOf(*prober) : "", "",
                         "application/json", route.max_body_bytes * 2 + 1);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string what = Describe(route.method, target, r);
    EXPECT_EQ(r.status, 413) << what;
    EXPECT_LT(seconds, 5.0) << what;
    EXPECT_NE(r.body.find("at most " + std::to_string(route.max_body_bytes) + " bytes"),
              std::string::npos)
        << what;
    // Sent whole, just over the limit (small limits only: the scan and declaration limits are
    // tens of MiB): 413 too.
    if (route.max_body_bytes <= (size_t{4} << 20)) {
      RawReply whole = SendRaw(port(), route.method, target, prober ? TokenOf(*prober) : "",
                               std::string(route.max_body_bytes + 1, ' '));
      EXPECT_EQ(whole.status, 413) << Describe(route.method, target, whole);
    }
    ++probes;
    ExpectStillServing(route.method + " " + route.pattern);
  }
  EXPECT_GT(probes, 0);
}

}  // namespace
}  // namespace clearsight
