// Helpers for service tests: a temporary directory, a real service on a loopback port, and a
// real HTTP client (cpp-httplib) that logs in like a browser or an integrator would.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "clearsight/service.h"

namespace clearsight::testing {

using nlohmann::json;

struct TempDir {
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("cs_svc_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  std::filesystem::path path;
};

struct Reply {
  int status = 0;
  json body;
  std::string raw;
  httplib::Headers headers;
  std::string Header(const std::string& k) const {
    auto it = headers.find(k);
    return it == headers.end() ? "" : it->second;
  }
};

// status -1 when no answer came; the body parsed when the answer is JSON.
inline Reply ToReply(const httplib::Result& r) {
  Reply out;
  if (!r) {
    out.status = -1;
    return out;
  }
  out.status = r->status;
  out.raw = r->body;
  out.headers = r->headers;
  if (r->get_header_value("Content-Type").rfind("application/json", 0) == 0)
    out.body = json::parse(r->body, nullptr, false);
  return out;
}

class Client {
 public:
  explicit Client(int port) : http_("127.0.0.1", port) {
    http_.set_read_timeout(60, 0);
    http_.set_write_timeout(60, 0);
  }
  void set_token(std::string token) { token_ = std::move(token); }
  const std::string& token() const { return token_; }

  Reply Send(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& content_type = "application/json", httplib::Headers extra = {}) {
    httplib::Headers h = std::move(extra);
    if (!token_.empty()) h.emplace("Authorization", "Bearer " + token_);
    httplib::Result r = method == "GET"    ? http_.Get(path.c_str(), h)
                        : method == "POST" ? http_.Post(path.c_str(), h, body, content_type.c_str())
                        : method == "PUT"
                            ? http_.Put(path.c_str(), h, body, content_type.c_str())
                            : http_.Delete(path.c_str(), h, body, content_type.c_str());
    return ToReply(r);
  }
  Reply Get(const std::string& path) { return Send("GET", path); }
  Reply Post(const std::string& path, const json& body) { return Send("POST", path, body.dump()); }
  Reply PostMultipart(const std::string& path, const httplib::MultipartFormDataItems& items) {
    httplib::Headers h;
    if (!token_.empty()) h.emplace("Authorization", "Bearer " + token_);
    return ToReply(http_.Post(path.c_str(), h, items));
  }
  bool Login(const std::string& user, const std::string& password) {
    token_.clear();
    Reply r = Post("/api/login", json{{"username", user}, {"password", password}});
    if (r.status != 200) return false;
    token_ = r.body["token"].get<std::string>();
    return true;
  }

 private:
  httplib::Client http_;
  std::string token_;
};

// A declaration in the native JSON schema.
inline json Declaration(const std::string& id, const std::string& office = "OFF1",
                        double value = 100, const std::string& hs = "610910",
                        const std::string& origin = "CN") {
  return json{{"declaration_id", id},    {"date", "2021-02-01"},     {"importer_id", "IMP1"},
              {"hs_code", hs},           {"origin_country", origin}, {"net_mass_kg", 2.0},
              {"declared_value", value}, {"office_id", office}};
}

// A TCP connection to 127.0.0.1:port for raw requests; -1 when it cannot be made.
inline int ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline std::string PasswordOf(const std::string& role) { return "pw-" + role + "-12345"; }

// Creates one user per role, named after it ("admin", "officer", ...).
inline void AddRoleUsers(Store& store) {
  for (Role r : {Role::kOfficer, Role::kAnalyst, Role::kTrainer, Role::kAdmin, Role::kIntegrator}) {
    std::string name(RoleName(r));
    Status s = AddUser(store, name, r, PasswordOf(name), "test");
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
}

// Creates the service, one user per role, and starts it; *out owns it.
inline void StartServiceWithRoleUsers(const ServiceOptions& options, Service** out) {
  auto svc = Service::Create(options);
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  *out = svc->release();
  AddRoleUsers((*out)->store());
  ASSERT_TRUE((*out)->Start().ok());
}

}  // namespace clearsight::testing
