// The HTTP service end to end: a real server on a loopback port, a real client, a real SQLite
// file, real simulated scans analysed with a real calibration.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zlib.h>

#include <atomic>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "clearsight/client.h"
#include "clearsight/declarations.h"
#include "clearsight/file_util.h"
#include "clearsight/fusion.h"
#include "clearsight/risk_model.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_simulate.h"
#include "service/service_test_util.h"

namespace clearsight {
namespace {

using nlohmann::json;
using testing::Client;
using testing::PasswordOf;
using testing::Reply;
using testing::TempDir;

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    // A small risk model on the public customs data and a calibration from simulated wedges, made
    // once per build tree (each test runs in its own process under ctest).
    SimulateOptions so;
    so.width = 256;
    so.height = 192;
    so.seed = 11;
    auto sim = Simulator::Create(so);
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    sim_ = sim->release();
    const std::string cache = std::string(CS_TEST_CACHE) + "/fixture-v1";
    if (!RiskModel::Load(cache + "/model").ok() || !Calibration::Load(cache + "/calib.json").ok())
      std::filesystem::remove_all(cache);  // absent, or left by an older build: make it again
    if (!std::filesystem::exists(cache + "/calib.json")) {
      ReadOptions ro;
      ro.format = DeclarationFormat::kKcs;
      IngestReport rep;
      auto train =
          ReadDeclarations(std::string(CS_DATA) + "/customs/df_syn_train_eng.csv", ro, &rep);
      ASSERT_TRUE(train.ok()) << train.status().ToString();
      train->rows.resize(6000);
      RiskModelOptions mo;
      mo.trees = 20;
      mo.max_depth = 4;
      auto model = RiskModel::Train(*train, mo);
      ASSERT_TRUE(model.ok()) << model.status().ToString();
      const std::string staged = cache + ".tmp" + std::to_string(::getpid());
      ASSERT_TRUE(model->Save(staged + "/model").ok());
      auto wedges = sim_->SimulateWedges();
      ASSERT_TRUE(wedges.ok());
      auto calib = Calibration::Fit(*wedges);
      ASSERT_TRUE(calib.ok()) << calib.status().ToString();
      ASSERT_TRUE(calib->Save(staged + "/calib.json").ok());
      std::error_code ec;
      std::filesystem::rename(staged, cache, ec);  // a concurrent process may have won: fine
      if (ec) std::filesystem::remove_all(staged, ec);
    }
    // The web root, with a secret file beside it and a symlink pointing out of it.
    std::filesystem::create_directories(dir_->path / "web" / "js");
    std::ofstream(*dir_ / "web/index.html") << "<!doctype html><title>Clearsight</title>";
    std::ofstream(*dir_ / "web/js/app.js") << "console.log('hi');";
    std::ofstream(*dir_ / "secret.txt") << "top secret";
    std::filesystem::create_symlink(dir_->path / "secret.txt", dir_->path / "web" / "leak.txt");

    ServiceOptions o;
    o.port = 0;
    o.store.url = *dir_ / "cs.db";
    o.model_dir = cache + "/model";
    o.calibration_path = cache + "/calib.json";
    o.web_dir = *dir_ / "web";
    o.http_threads = 8;
    o.max_declaration_body_bytes = 256 << 10;
    o.max_body_bytes = 8 << 20;
    testing::StartServiceWithRoleUsers(o, &service_);
  }
  static void TearDownTestSuite() {
    delete service_;
    delete sim_;
    delete dir_;
  }

  Client As(const std::string& role) {
    Client c(service_->port());
    EXPECT_TRUE(c.Login(role, PasswordOf(role))) << role;
    return c;
  }
  static std::string Unique(const std::string& prefix) { return prefix + std::to_string(next_++); }
  // Every audit entry about `subject`, paging through the whole log.
  static std::vector<json> AuditOf(Client& admin, const std::string& subject) {
    std::vector<json> out;
    for (int64_t after = 0;;) {
      Reply page = admin.Get("/api/audit?limit=1000&after=" + std::to_string(after));
      EXPECT_EQ(page.status, 200) << page.raw;
      if (page.status != 200 || page.body["entries"].empty()) break;
      for (const auto& e : page.body["entries"])
        if (e["subject"] == subject) out.push_back(e);
      after = page.body["next_after"].get<int64_t>();
    }
    return out;
  }
  // A simulated scan as TIFF bytes and sidecar, for consignment `consignment` with id `scan_id`.
  static std::pair<std::string, std::string> ScanFiles(int64_t index, const std::string& scan_id,
                                                       const std::string& consignment,
                                                       Scan* scan_out = nullptr) {
    auto s = sim_->Simulate(index);
    EXPECT_TRUE(s.ok());
    s->scan.meta.scan_id = scan_id;
    s->scan.meta.consignment_id = consignment;
    auto tiff = EncodeScanTiff(s->scan);
    EXPECT_TRUE(tiff.ok());
    if (scan_out) *scan_out = s->scan;
    return {*tiff, ScanMetaToJson(s->scan.meta)};
  }
  Reply UploadScan(Client& c, const std::string& tiff, const std::string& sidecar) {
    return c.PostMultipart("/api/scans", {{"tiff", tiff, "scan.tif", "image/tiff"},
                                          {"sidecar", sidecar, "scan.json", "application/json"}});
  }

  static inline TempDir* dir_ = nullptr;
  static inline Service* service_ = nullptr;
  static inline Simulator* sim_ = nullptr;
  static inline int next_ = 1;
};

// The current UTC time in the API's format, for comparing with timestamps it returns.
std::string IsoNowForTest() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

void ExpectErrorShape(const Reply& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.raw;
  ASSERT_TRUE(r.body.is_object()) << r.raw;
  ASSERT_TRUE(r.body.contains("error")) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], code) << r.raw;
  EXPECT_FALSE(r.body["error"]["message"].get<std::string>().empty());
}

TEST_F(ServiceTest, HealthIsPublicAndEveryOtherRouteNeedsALogin) {
  Client anon(service_->port());
  Reply h = anon.Get("/api/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body["status"], "ok");
  EXPECT_EQ(h.body["model"], true);
  EXPECT_EQ(h.body["calibration"], true);
  EXPECT_EQ(h.body["detector"], false);
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/queue"},
           {"POST", "/api/declarations"},
           {"GET", "/api/consignments/X"},
           {"POST", "/api/consignments/X/outcome"},
           {"POST", "/api/scans"},
           {"GET", "/api/scans/S"},
           {"GET", "/api/scans/S/image.png"},
           {"GET", "/api/images/" + std::string(64, 'a')},
           {"GET", "/api/stats"},
           {"GET", "/api/rules"},
           {"PUT", "/api/rules"},
           {"POST", "/api/rules/test"},
           {"GET", "/api/horizon?since=2025-10-02"},
           {"GET", "/api/users"},
           {"GET", "/api/audit"},
           {"GET", "/api/audit/verify"},
           {"GET", "/metrics"},
           {"GET", "/api/me"},
           {"POST", "/api/logout"},
           {"PUT", "/api/settings/capacity"}}) {
    Reply r = anon.Send(method, path, "{}");
    ExpectErrorShape(r, 401, "unauthenticated");
    EXPECT_EQ(r.Header("WWW-Authenticate"), "Bearer") << path;
  }
  Client forged(service_->port());
  forged.set_token(std::string(64, 'f'));
  ExpectErrorShape(forged.Get("/api/queue"), 401, "unauthenticated");
}

TEST_F(ServiceTest, WrongPasswordsAreRefusedAuditedAndThrottled) {
  ASSERT_TRUE(AddUser(service_->store(), "victim", Role::kOfficer, "right-password", "test").ok());
  Client c(service_->port());
  for (int i = 0; i < 5; ++i) {
    Reply r = c.Post("/api/login", json{{"username", "victim"}, {"password", "wrong"}});
    ExpectErrorShape(r, 401, "unauthenticated");
  }
  // Locked now, even with the right password.
  // Locked now, even with the right password: 429, saying so and for how long.
  Reply locked = c.Post("/api/login", json{{"username", "victim"}, {"password", "right-password"}});
  ExpectErrorShape(locked, 429, "rate_limited");
  EXPECT_NE(locked.raw.find("too many failed logins for this user name; locked, try again in"),
            std::string::npos)
      << locked.raw;
  const int retry_after = std::atoi(locked.Header("Retry-After").c_str());
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 61);
  // An unknown user gets the same answer as a wrong password.
  Reply unknown = c.Post("/api/login", json{{"username", "nobody"}, {"password", "whatever"}});
  EXPECT_EQ(unknown.body["error"]["message"], "wrong user name or password");
  // Audited by burst from this address: its first failure as it happens, the rest as one
  // login_failed_burst entry when the burst ends (a successful login from the address ends it).
  Client admin = As("admin");
  int rows = 0;
  bool named = false;
  for (const auto& e : AuditOf(admin, "victim")) {
    rows += e["action"] == "login_failed";
    named |= e["action"] == "login_failed";
  }
  for (const auto& e : AuditOf(admin, "127.0.0.1"))
    if (e["action"] == "login_failed_burst") {
      for (const auto& u : e["detail"]["user_names"]) named |= u == "victim";
      EXPECT_GE(e["detail"]["failures"].get<int>(), 2) << e.dump();
    }
  EXPECT_LE(rows, 1) << "not one audit entry per attempt";
  EXPECT_TRUE(named) << "the failures are in the audit log";
}

TEST_F(ServiceTest, CookieSessionWorksAndLogoutEndsIt) {
  httplib::Client raw("127.0.0.1", service_->port());
  auto r = raw.Post("/api/login",
                    json{{"username", "officer"}, {"password", PasswordOf("officer")}}.dump(),
                    "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  std::string cookie = r->get_header_value("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  std::string token = json::parse(r->body)["token"];
  EXPECT_EQ(cookie.substr(0, cookie.find(';')), "cs_session=" + token);
  httplib::Headers h = {{"Cookie", "theme=dark; cs_session=" + token}};
  auto me = raw.Get("/api/me", h);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  EXPECT_EQ(json::parse(me->body)["role"], "officer");
  auto out = raw.Post("/api/logout", h, "", "application/json");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200);
  EXPECT_NE(out->get_header_value("Set-Cookie").find("Max-Age=0"), std::string::npos);
  auto after = raw.Get("/api/me", h);
  EXPECT_EQ(after->status, 401);
}

// A demoted administrator must not keep administering for the rest of their session.
TEST_F(ServiceTest, AChangedUserLosesTheSessionsOfTheOldRoleAtOnce) {
  Client admin = As("admin");
  const std::string boss = Unique("boss");
  const std::string password = "a long passphrase 1";
  ASSERT_EQ(
      admin.Post("/api/users", json{{"username", boss}, {"role", "admin"}, {"password", password}})
          .status,
      201);
  Client b(service_->port());
  ASSERT_TRUE(b.Login(boss, password));
  ASSERT_EQ(b.Get("/api/users").status, 200) << "an admin while an admin";
  Reply demoted = admin.Post("/api/users",
                             json{{"username", boss}, {"role", "officer"}, {"password", password}});
  ASSERT_EQ(demoted.status, 201) << demoted.raw;
  ExpectErrorShape(b.Get("/api/users"), 401, "unauthenticated");
  ExpectErrorShape(
      b.Post("/api/users",
             json{{"username", Unique("x")}, {"role", "admin"}, {"password", password}}),
      401, "unauthenticated");
  ASSERT_TRUE(b.Login(boss, password));
  ExpectErrorShape(b.Get("/api/users"), 403, "permission_denied");
  EXPECT_EQ(b.Get("/api/me").body["role"], "officer");
  // The audit log says how many sessions the change ended.
  bool recorded = false;
  for (const auto& e : AuditOf(admin, boss))
    recorded |= e["action"] == "user_updated" && e["detail"]["sessions_ended"] == 1 &&
                e["detail"]["previous_role"] == "admin";
  EXPECT_TRUE(recorded);
}

TEST_F(ServiceTest, AnAdminDisablesEnablesAndEndsTheSessionsOfAUser) {
  Client admin = As("admin");
  const std::string user = Unique("clerk");
  const std::string password = "a long passphrase 2";
  ASSERT_EQ(
      admin
          .Post("/api/users", json{{"username", user}, {"role", "analyst"}, {"password", password}})
          .status,
      201);
  Client u1(service_->port()), u2(service_->port());
  ASSERT_TRUE(u1.Login(user, password));
  ASSERT_TRUE(u2.Login(user, password));
  Reply ended = admin.Send("DELETE", "/api/users/" + user + "/sessions");
  ASSERT_EQ(ended.status, 200) << ended.raw;
  EXPECT_EQ(ended.body["sessions_ended"], 2);
  ExpectErrorShape(u1.Get("/api/me"), 401, "unauthenticated");
  ExpectErrorShape(u2.Get("/api/me"), 401, "unauthenticated");

  ASSERT_TRUE(u1.Login(user, password));
  Reply disabled = admin.Post("/api/users/" + user + "/disable", json::object());
  ASSERT_EQ(disabled.status, 200) << disabled.raw;
  ExpectErrorShape(u1.Get("/api/me"), 401, "unauthenticated");
  EXPECT_FALSE(u1.Login(user, password)) << "a disabled user cannot log in";
  Reply listed = admin.Get("/api/users");
  bool shown = false;
  for (const auto& x : listed.body["users"])
    shown |= x["username"] == user && x["disabled"] == true;
  EXPECT_TRUE(shown) << listed.raw;
  // Replacing a disabled user's password does not enable them.
  ASSERT_EQ(
      admin
          .Post("/api/users", json{{"username", user}, {"role", "analyst"}, {"password", password}})
          .status,
      201);
  EXPECT_FALSE(u1.Login(user, password));
  ASSERT_EQ(admin.Post("/api/users/" + user + "/enable", json::object()).status, 200);
  EXPECT_TRUE(u1.Login(user, password));

  ExpectErrorShape(admin.Post("/api/users/nobody-" + user + "/disable", json::object()), 404,
                   "not_found");
  ExpectErrorShape(admin.Post("/api/users/admin/disable", json::object()), 400, "invalid_argument");
  Client analyst = As("analyst");
  ExpectErrorShape(analyst.Post("/api/users/" + user + "/disable", json::object()), 403,
                   "permission_denied");
  std::set<std::string> actions;
  for (const auto& e : AuditOf(admin, user)) actions.insert(e["action"].get<std::string>());
  for (const char* a : {"sessions_revoked", "user_disabled", "user_enabled", "user_updated"})
    EXPECT_TRUE(actions.count(a)) << a;
}

// A page on another origin (another port of the same host is same-site, not same-origin) must not
// make a logged-in browser change anything.
TEST_F(ServiceTest, CrossSiteRequestsWithTheCookieAreRefused) {
  Client login = As("admin");
  const std::string cookie = "cs_session=" + login.token();
  httplib::Client raw("127.0.0.1", service_->port());
  const std::string host = "127.0.0.1:" + std::to_string(service_->port());
  auto post_user = [&](const httplib::Headers& extra, const std::string& type) {
    httplib::Headers h = extra;
    h.emplace("Cookie", cookie);
    const json body = {
        {"username", Unique("csrf")}, {"role", "admin"}, {"password", "a long passphrase"}};
    auto r = raw.Post("/api/users", h, body.dump(), type.c_str());
    return r ? r->status : -1;
  };
  EXPECT_EQ(post_user({{"Origin", "http://evil.example"}}, "text/plain"), 403);
  EXPECT_EQ(post_user({{"Origin", "http://evil.example"}}, "application/json"), 403);
  EXPECT_EQ(post_user({{"Origin", "http://127.0.0.1:1"}}, "application/json"), 403)
      << "another port is another origin";
  EXPECT_EQ(post_user({{"Sec-Fetch-Site", "cross-site"}}, "application/json"), 403);
  EXPECT_EQ(post_user({{"Sec-Fetch-Site", "same-site"}}, "application/json"), 403);
  EXPECT_EQ(
      post_user({{"Origin", "http://" + host}, {"Sec-Fetch-Site", "same-origin"}}, "text/plain"),
      400)
      << "a body with the cookie must be JSON";
  EXPECT_EQ(post_user({{"Origin", "http://" + host}, {"Sec-Fetch-Site", "same-origin"}},
                      "application/json"),
            201);
  EXPECT_EQ(post_user({}, "application/json"), 201) << "no browser headers: not a browser";
  // A bearer token is never sent by a browser on its own: no origin check.
  Client bearer = As("admin");
  Reply r = bearer.Send(
      "POST", "/api/users",
      json{{"username", Unique("csrf")}, {"role", "officer"}, {"password", "a long passphrase"}}
          .dump(),
      "application/json", {{"Origin", "http://evil.example"}});
  EXPECT_EQ(r.status, 201) << r.raw;
  // Reading is not changing: a cross-site GET with the cookie is answered (the browser keeps the
  // answer from the other site's script).
  auto me = raw.Get("/api/me", {{"Cookie", cookie}, {"Sec-Fetch-Site", "cross-site"}});
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
}

TEST_F(ServiceTest, RolesAreCheckedPerRoute) {
  Client officer = As("officer"), integrator = As("integrator"), trainer = As("trainer"),
         analyst = As("analyst"), admin = As("admin");
  ExpectErrorShape(officer.Post("/api/declarations", testing::Declaration(Unique("R"))), 403,
                   "permission_denied");
  ExpectErrorShape(officer.Get("/api/users"), 403, "permission_denied");
  ExpectErrorShape(officer.Send("PUT", "/api/rules", "", "text/plain"), 403, "permission_denied");
  ExpectErrorShape(integrator.Get("/api/queue"), 403, "permission_denied");
  ExpectErrorShape(trainer.Get("/api/queue"), 403, "permission_denied");
  ExpectErrorShape(analyst.Get("/api/audit"), 403, "permission_denied");
  ExpectErrorShape(analyst.Send("PUT", "/api/settings/capacity", "{}"), 403, "permission_denied");
  EXPECT_EQ(integrator.Post("/api/declarations", testing::Declaration(Unique("R"))).status, 201);
  EXPECT_EQ(officer.Get("/api/queue").status, 200);
  EXPECT_EQ(analyst.Get("/api/stats").status, 200);
  EXPECT_EQ(admin.Get("/api/users").status, 200);
  Reply me = trainer.Get("/api/me");
  EXPECT_EQ(me.body["role"], "trainer");
}

TEST_F(ServiceTest, DeclarationIsCreatedThenUnchangedThenConflicting) {
  Client c = As("integrator");
  const std::string id = Unique("DEC");
  Reply first = c.Post("/api/declarations", testing::Declaration(id));
  ASSERT_EQ(first.status, 201) << first.raw;
  EXPECT_EQ(first.body["result"], "created");
  EXPECT_EQ(first.body["consignment_id"], id);
  EXPECT_EQ(first.body["version"], 1);
  EXPECT_TRUE(first.body["score"].get<double>() > 0);
  ASSERT_FALSE(first.body["reasons"].empty());
  EXPECT_EQ(first.body["reasons"][0]["source"], "model");
  EXPECT_TRUE(first.body["reasons"][0]["weight"].get<double>() > 0);
  // The same declaration again (pretty-printed this time): a no-op.
  Reply again = c.Send("POST", "/api/declarations", testing::Declaration(id).dump(2));
  EXPECT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(again.body["result"], "unchanged");
  EXPECT_EQ(again.body["version"], 1);
  // Same id, different content: refused.
  Reply conflict = c.Post("/api/declarations", testing::Declaration(id, "OFF1", 999));
  ExpectErrorShape(conflict, 409, "already_exists");
  EXPECT_NE(conflict.body["error"]["message"].get<std::string>().find(id), std::string::npos);
  Client officer = As("officer");
  Reply stored = officer.Get("/api/declarations/" + id);
  ASSERT_EQ(stored.status, 200);
  EXPECT_EQ(stored.body["declaration"]["declared_value"], 100);
  Reply cons = officer.Get("/api/consignments/" + id);
  ASSERT_EQ(cons.status, 200);
  EXPECT_EQ(cons.body["declarations"].size(), 1u);
  EXPECT_EQ(cons.body["declarations"][0]["declaration_id"], id);
  ExpectErrorShape(officer.Get("/api/consignments/nope-" + id), 404, "not_found");
}

TEST_F(ServiceTest, InvalidDeclarationsNameTheProblem) {
  Client c = As("integrator");
  json d = testing::Declaration(Unique("BAD"));
  d["net_mass_kg"] = -3;
  Reply r = c.Post("/api/declarations", d);
  ExpectErrorShape(r, 400, "invalid_argument");
  EXPECT_NE(r.raw.find("net_mass_kg"), std::string::npos) << r.raw;
  json missing = testing::Declaration(Unique("BAD"));
  missing.erase("hs_code");
  r = c.Post("/api/declarations", missing);
  ExpectErrorShape(r, 400, "invalid_argument");
  EXPECT_NE(r.raw.find("hs_code"), std::string::npos) << r.raw;
  ExpectErrorShape(c.Send("POST", "/api/declarations", "{not json"), 400, "invalid_argument");
  ExpectErrorShape(c.Send("POST", "/api/declarations", "[]"), 400, "invalid_argument");
  ExpectErrorShape(c.Send("POST", "/api/declarations", ""), 400, "invalid_argument");
}

TEST_F(ServiceTest, BatchesOfJsonAndCsvReportEveryRow) {
  Client c = As("integrator");
  const std::string a = Unique("B"), b = Unique("B");
  ASSERT_EQ(c.Post("/api/declarations", testing::Declaration(a)).status, 201);
  json bad = testing::Declaration(Unique("B"));
  bad["date"] = "2021-02-30";
  json batch = {{"declarations",
                 {testing::Declaration(a), testing::Declaration(b),
                  testing::Declaration(a, "OFF1", 5), bad}}};
  Reply r = c.Post("/api/declarations", batch);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["rejected"], 2);  // the bad date, and the second row with id `a` in one request
  EXPECT_EQ(r.body["created"], 1);
  EXPECT_EQ(r.body["unchanged"], 1);
  ASSERT_EQ(r.body["rejections"].size(), 2u);
  // CSV in the KCS format of the public data.
  std::ifstream in(std::string(CS_DATA) + "/customs/df_syn_valid_eng.csv");
  std::string csv, line;
  for (int i = 0; i < 101 && std::getline(in, line); ++i) csv += line + "\n";
  Reply k = c.Send("POST", "/api/declarations?format=kcs", csv, "text/csv");
  ASSERT_EQ(k.status, 200) << k.raw.substr(0, 500);
  EXPECT_EQ(k.body["accepted"], 100);
  EXPECT_EQ(k.body["created"].get<int>() + k.body["unchanged"].get<int>(), 100);
  ASSERT_EQ(k.body["results"].size(), 100u);
  for (const auto& item : k.body["results"]) EXPECT_TRUE(item.contains("channel")) << item.dump();
  // Posting the same file again changes nothing.
  Reply again = c.Send("POST", "/api/declarations?format=kcs", csv, "text/csv");
  EXPECT_EQ(again.body["unchanged"], 100);
}

TEST_F(ServiceTest, QueueFiltersPagesAndCounts) {
  Client in = As("integrator"), officer = As("officer");
  const std::string office = Unique("Q");
  // A rule makes the channel predictable: everything from origin ZZ is red.
  for (int i = 0; i < 12; ++i)
    ASSERT_EQ(in.Post("/api/declarations", testing::Declaration(Unique("QD"), office)).status, 201);
  Reply all = officer.Get("/api/queue?office=" + office + "&status=all&limit=5");
  ASSERT_EQ(all.status, 200) << all.raw;
  EXPECT_EQ(all.body["total"], 12);
  EXPECT_EQ(all.body["items"].size(), 5u);
  double prev = 2;
  for (const auto& item : all.body["items"]) {
    EXPECT_EQ(item["lane"], office);
    // No exploration by default; every decision knows the chance it had of being inspected.
    EXPECT_FALSE(item["exploration"].get<bool>());
    ASSERT_TRUE(item["propensity"].is_number()) << item.dump();
    EXPECT_GE(item["propensity"].get<double>(), 0.0);
    EXPECT_LE(item["propensity"].get<double>(), 1.0);
    if (item["channel"] == "red" && !item["control"].get<bool>()) {
      EXPECT_EQ(item["propensity"].get<double>(), 1.0);
    }
    EXPECT_LE(item["score"].get<double>(), prev);
    prev = item["score"].get<double>();
  }
  Reply page3 = officer.Get("/api/queue?office=" + office + "&status=all&limit=5&offset=10");
  EXPECT_EQ(page3.body["items"].size(), 2u);
  Reply asc = officer.Get("/api/queue?office=" + office + "&status=all&sort=score&limit=1");
  EXPECT_LE(asc.body["items"][0]["score"].get<double>(), prev);
  int64_t pending = officer.Get("/api/queue?office=" + office).body["total"];
  int64_t released = officer.Get("/api/queue?office=" + office + "&status=released").body["total"];
  EXPECT_EQ(pending + released, 12);
  Reply green = officer.Get("/api/queue?office=" + office + "&status=all&channel=green");
  // Green is released, unless its score asked for a red the budget no longer had: then it waits
  // on the supervisor's list (over_budget=1).
  Reply waiting =
      officer.Get("/api/queue?office=" + office + "&status=pending&channel=green&over_budget=1");
  ASSERT_EQ(waiting.status, 200) << waiting.raw;
  EXPECT_EQ(green.body["total"].get<int64_t>(), released + waiting.body["total"].get<int64_t>());
  for (const auto& item : waiting.body["items"]) EXPECT_TRUE(item["over_budget"].get<bool>());
  ExpectErrorShape(officer.Get("/api/queue?over_budget=yes"), 400, "invalid_argument");
  ExpectErrorShape(officer.Get("/api/queue?channel=purple"), 400, "invalid_argument");
  ExpectErrorShape(officer.Get("/api/queue?sort=price"), 400, "invalid_argument");
  ExpectErrorShape(officer.Get("/api/queue?limit=x"), 400, "invalid_argument");
  // Search: the declarations posted through the service are found by id, in any case.
  std::string first_id = all.body["items"][0]["declaration"]["declaration_id"];
  std::string lower = first_id;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  Reply found = officer.Get("/api/queue?status=all&q=" + lower);
  ASSERT_EQ(found.status, 200) << found.raw;
  ASSERT_EQ(found.body["total"], 1) << found.raw;
  EXPECT_EQ(found.body["items"][0]["declaration"]["declaration_id"], first_id);
  Reply by_office_and_hs =
      officer.Get("/api/queue?status=all&office=" + office + "&q=" +
                  all.body["items"][0]["declaration"]["hs_code"].get<std::string>().substr(0, 4));
  EXPECT_EQ(by_office_and_hs.body["total"], 12) << by_office_and_hs.raw;
  ExpectErrorShape(officer.Get("/api/queue?q=" + std::string(201, 'x')), 400, "invalid_argument");
  ExpectErrorShape(officer.Get("/api/queue?office=" + std::string(20000, 'x')), 400,
                   "invalid_argument");
}

TEST_F(ServiceTest, OutcomesCloseTheConsignmentAndFeedTheStatistics) {
  Client in = As("integrator"), officer = As("officer"), analyst = As("analyst");
  const std::string id = Unique("OUT");
  ASSERT_EQ(in.Post("/api/declarations", testing::Declaration(id)).status, 201);
  ExpectErrorShape(officer.Post("/api/consignments/" + id + "/outcome", json{{"result", "gold"}}),
                   400, "invalid_argument");
  ExpectErrorShape(
      officer.Post("/api/consignments/" + id + "/outcome", json{{"result", "undervaluation"}}), 400,
      "invalid_argument");
  ExpectErrorShape(
      officer.Post("/api/consignments/nope" + id + "/outcome", json{{"result", "nothing"}}), 404,
      "not_found");
  Reply r = officer.Post(
      "/api/consignments/" + id + "/outcome",
      json{{"result", "undervaluation"}, {"corrected_value", 1450.5}, {"notes", "invoice found"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["status"], "done");
  EXPECT_EQ(r.body["outcome"], "undervaluation");
  EXPECT_EQ(r.body["recorded"]["officer"], "officer");
  Reply cons = officer.Get("/api/consignments/" + id);
  ASSERT_EQ(cons.body["outcomes"].size(), 1u);
  EXPECT_EQ(cons.body["outcomes"][0]["corrected_value"], 1450.5);
  Reply stats = analyst.Get("/api/stats");
  ASSERT_EQ(stats.status, 200);
  int64_t confirmed = 0;
  for (const auto& ch : stats.body["channels"]) confirmed += ch["confirmed"].get<int64_t>();
  EXPECT_GE(confirmed, 1);
  EXPECT_TRUE(stats.body.contains("control_sample"));
  EXPECT_EQ(stats.body["model"]["features"].get<int>() > 0, true);
  // Per office, HS chapter and origin: the outcome counted in its groups; with fewer outcomes
  // than the minimum a group shows no rate, and says so with a null.
  const int64_t minimum = stats.body["min_outcomes_for_a_rate"];
  EXPECT_GE(minimum, 5);
  for (const char* by : {"office", "hs_chapter", "origin"}) {
    ASSERT_TRUE(stats.body["groups"][by].is_array()) << by;
    int64_t with_outcome = 0;
    for (const auto& g : stats.body["groups"][by]) {
      for (const char* part : {"control", "targeted"}) {
        const json& x = g[part];
        with_outcome += x["with_outcome"].get<int64_t>();
        if (x["with_outcome"].get<int64_t>() < minimum) {
          EXPECT_TRUE(x["hit_rate"].is_null()) << g.dump();
        } else {
          EXPECT_LE(x["ci95"][0].get<double>(), x["hit_rate"].get<double>()) << g.dump();
          EXPECT_GE(x["ci95"][1].get<double>(), x["hit_rate"].get<double>()) << g.dump();
        }
      }
    }
    EXPECT_GE(with_outcome, 0) << by;
  }
  bool office_seen = false;
  for (const auto& g : stats.body["groups"]["office"]) office_seen |= g["decisions"] >= 1;
  EXPECT_TRUE(office_seen);
}

// The message of a 400 names the field it is about.
void ExpectBadField(const Reply& r, const std::string& field) {
  ExpectErrorShape(r, 400, "invalid_argument");
  if (r.body.is_object() && r.body.contains("error")) {
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find(field), std::string::npos)
        << field << ": " << r.raw;
  }
}

TEST_F(ServiceTest, OutcomeDetailIsCheckedFieldByFieldAndRecorded) {
  Client in = As("integrator"), officer = As("officer"), analyst = As("analyst"),
         admin = As("admin");
  const std::string found = Unique("FIND"), skipped = Unique("SKIP");
  for (const auto& id : {found, skipped}) {
    json d = testing::Declaration(id);
    d["currency"] = "EUR";
    ASSERT_EQ(in.Post("/api/declarations", d).status, 201);
  }
  auto post = [&](const std::string& id, const json& body) {
    return officer.Post("/api/consignments/" + id + "/outcome", body);
  };
  ExpectBadField(post(skipped, {{"result", "not_inspected"}}), "not_inspected_reason");
  ExpectBadField(post(skipped, {{"result", "not_inspected"}, {"not_inspected_reason", "  "}}),
                 "not_inspected_reason");
  ExpectBadField(post(skipped, {{"result", "nothing"}, {"not_inspected_reason", "busy"}}),
                 "not_inspected_reason");
  ExpectBadField(post(skipped, {{"result", "not_inspected"},
                                {"not_inspected_reason", "busy"},
                                {"seized_quantity", 2},
                                {"seized_unit", "kg"}}),
                 "seized_quantity");
  ExpectBadField(post(found, {{"result", "narcotics"}, {"seized_quantity", 2}}), "seized_unit");
  ExpectBadField(post(found, {{"result", "narcotics"}, {"seized_unit", "kg"}}), "seized_quantity");
  ExpectBadField(
      post(found, {{"result", "narcotics"}, {"seized_quantity", 2}, {"seized_unit", "tons"}}),
      "seized_unit");
  ExpectBadField(
      post(found, {{"result", "narcotics"}, {"seized_quantity", -1}, {"seized_unit", "kg"}}),
      "seized_quantity");
  ExpectBadField(
      post(found, {{"result", "narcotics"}, {"seized_quantity", "2"}, {"seized_unit", "kg"}}),
      "seized_quantity");
  ExpectBadField(post(found, {{"result", "cigarettes"}, {"revenue_recovered", -5}}),
                 "revenue_recovered");
  ExpectBadField(
      post(found,
           {{"result", "cigarettes"}, {"revenue_recovered", 5}, {"revenue_currency", "eur"}}),
      "revenue_currency");
  ExpectBadField(post(found, {{"result", "cigarettes"}, {"revenue_currency", "EUR"}}),
                 "revenue_recovered");
  ExpectBadField(post(found, {{"result", "nothing"}, {"revenue_recovered", 10}}),
                 "revenue_recovered");
  ExpectBadField(post(found, {{"result", "cigarettes"}, {"seized_qty", 3}}), "seized_qty");
  ExpectBadField(post(found, {{"notes", "no result"}}), "result");
  // Nothing of that was stored.
  EXPECT_TRUE(officer.Get("/api/consignments/" + found).body["outcomes"].empty());

  // Revenue recovered for a fraud type other than under-valuation, in the declaration's currency.
  Reply r = post(found, {{"result", "cigarettes"},
                         {"seized_quantity", 12},
                         {"seized_unit", "cartons"},
                         {"revenue_recovered", 830.25},
                         {"notes", "behind the panel"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["recorded"]["seized_quantity"], 12);
  EXPECT_EQ(r.body["recorded"]["revenue_currency"], "EUR");
  Reply c = officer.Get("/api/consignments/" + found);
  ASSERT_EQ(c.body["outcomes"].size(), 1u);
  const json& o = c.body["outcomes"][0];
  EXPECT_EQ(o["result"], "cigarettes");
  EXPECT_EQ(o["seized_quantity"], 12);
  EXPECT_EQ(o["seized_unit"], "cartons");
  EXPECT_EQ(o["revenue_recovered"], 830.25);
  EXPECT_EQ(o["revenue_currency"], "EUR");
  EXPECT_TRUE(o["not_inspected_reason"].is_null());
  EXPECT_TRUE(o["corrected_value"].is_null());
  EXPECT_TRUE(o["attachments"].empty());

  // Not inspected: the consignment is done, but it is no inspection in the statistics.
  auto red_with_outcome = [&] {
    int64_t n = 0;
    for (const auto& ch : analyst.Get("/api/stats").body["channels"])
      n += ch["with_outcome"].get<int64_t>();
    return n;
  };
  const int64_t before = red_with_outcome();
  Reply s = post(skipped, {{"result", "not_inspected"},
                           {"not_inspected_reason", "consignment not presented"}});
  ASSERT_EQ(s.status, 201) << s.raw;
  EXPECT_EQ(s.body["status"], "done");
  EXPECT_EQ(s.body["outcome"], "not_inspected");
  EXPECT_EQ(s.body["recorded"]["not_inspected_reason"], "consignment not presented");
  EXPECT_EQ(red_with_outcome(), before);
  bool audited = false;
  for (const auto& e : AuditOf(admin, skipped))
    if (e["action"] == "outcome") {
      json detail = json::parse(e["detail"].is_string() ? e["detail"].get<std::string>()
                                                        : e["detail"].dump());
      audited = detail["not_inspected_reason"] == "consignment not presented";
    }
  EXPECT_TRUE(audited);
}

// A small JPEG's first bytes (SOI, APP0 JFIF) and a 1x1 PNG.
std::string JpegBytes(const std::string& tag) {
  return std::string("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 20) +
         tag + std::string("\xFF\xD9", 2);
}
std::string PngBytes() {
  return std::string(
      "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52"
      "\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
      "\x89\x00\x00\x00\x0d\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\xc0\xf0"
      "\x1f\x00\x05\x00\x01\xff\x89\x99\x3d\x1d\x00\x00\x00\x00\x49\x45"
      "\x4e\x44\xae\x42\x60\x82",
      70);
}

TEST_F(ServiceTest, PhotosOfTheFindAreCheckedByTheirBytesAndStoredByContent) {
  Client in = As("integrator"), officer = As("officer"), admin = As("admin"),
         trainer = As("trainer");
  const std::string id = Unique("PHOTO"), other = Unique("PHOTO");
  ASSERT_EQ(in.Post("/api/declarations", testing::Declaration(id)).status, 201);
  ASSERT_EQ(in.Post("/api/declarations", testing::Declaration(other)).status, 201);
  const std::string base = "/api/consignments/" + id;
  // Before the outcome there is nothing to attach to.
  ExpectErrorShape(
      officer.Send("POST", base + "/outcomes/1/attachments", JpegBytes("a"), "image/jpeg"), 404,
      "not_found");
  ASSERT_EQ(officer.Post(base + "/outcome", json{{"result", "narcotics"}}).status, 201);
  const std::string url = base + "/outcomes/1/attachments";
  ExpectErrorShape(officer.Send("POST", url, "hello", "text/plain"), 415, "unsupported_media_type");
  ExpectErrorShape(officer.Send("POST", url, "{}", "application/json"), 415,
                   "unsupported_media_type");
  ExpectBadField(officer.Send("POST", url, PngBytes(), "image/jpeg"), "Content-Type");
  ExpectBadField(officer.Send("POST", url, "GIF89a not a photo we take", "image/png"),
                 "JPEG or PNG");
  ExpectBadField(officer.Send("POST", url, "", "image/jpeg"), "empty");
  ExpectBadField(
      officer.Send("POST", base + "/outcomes/x/attachments", JpegBytes("a"), "image/jpeg"),
      "outcome number");
  ExpectErrorShape(
      officer.Send("POST", base + "/outcomes/2/attachments", JpegBytes("a"), "image/jpeg"), 404,
      "not_found");
  ExpectBadField(
      officer.Send("POST", url + "?name=..%2Fetc%2Fpasswd", JpegBytes("a"), "image/jpeg"), "name");
  EXPECT_EQ(trainer.Send("POST", url, JpegBytes("a"), "image/jpeg").status, 403);

  const std::string jpeg = JpegBytes("the find");
  Reply r = officer.Send("POST", url + "?name=find.jpg", jpeg, "image/jpeg");
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["sha256"], Sha256Hex(jpeg));
  EXPECT_EQ(r.body["content_type"], "image/jpeg");
  EXPECT_EQ(r.body["bytes"], jpeg.size());
  EXPECT_EQ(r.body["name"], "find.jpg");
  EXPECT_EQ(r.body["uploaded_by"], "officer");
  const std::string photo_url = r.body["url"];
  EXPECT_EQ(photo_url, base + "/attachments/" + Sha256Hex(jpeg));
  // Content-addressed like scans: one file in the image directory, named by its sha256.
  const std::string sha = Sha256Hex(jpeg);
  EXPECT_TRUE(std::filesystem::exists(dir_->path / "cs.db.images" / sha.substr(0, 2) / sha));
  Reply again = officer.Send("POST", url + "?name=find.jpg", jpeg, "image/jpeg");
  EXPECT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(again.body["result"], "unchanged");
  Reply png = officer.Send("POST", url, PngBytes(), "image/png; charset=binary");
  ASSERT_EQ(png.status, 201) << png.raw;

  Reply got = officer.Get(photo_url);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.Header("Content-Type"), "image/jpeg");
  EXPECT_EQ(got.raw, jpeg);
  EXPECT_EQ(got.Header("X-Content-Type-Options"), "nosniff");
  ExpectErrorShape(officer.Get("/api/consignments/" + other + "/attachments/" + sha), 404,
                   "not_found");
  ExpectBadField(officer.Get(base + "/attachments/nothex"), "sha256");
  // Trainers see photos of finds with the cases of the case library; integrators never.
  EXPECT_EQ(trainer.Get(photo_url).status, 200);
  EXPECT_EQ(in.Get(photo_url).status, 403);

  Reply c = officer.Get(base);
  ASSERT_EQ(c.body["outcomes"][0]["attachments"].size(), 2u) << c.raw;
  EXPECT_EQ(c.body["outcomes"][0]["attachments"][0]["sha256"], sha);
  EXPECT_EQ(c.body["outcomes"][0]["attachments"][1]["content_type"], "image/png");
  int attached = 0;
  for (const auto& e : AuditOf(admin, id)) attached += e["action"] == "outcome_attachment";
  EXPECT_EQ(attached, 2) << "the repeated upload is not audited again";

  // With the session cookie: a same-origin page may upload a photo; another site may not.
  httplib::Client raw("127.0.0.1", service_->port());
  const std::string host = "127.0.0.1:" + std::to_string(service_->port());
  const httplib::Headers own = {{"Cookie", "cs_session=" + officer.token()},
                                {"Origin", "http://" + host},
                                {"Sec-Fetch-Site", "same-origin"}};
  auto ok = raw.Post(url.c_str(), own, JpegBytes("cookie"), "image/jpeg");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201) << ok->body;
  const httplib::Headers evil = {{"Cookie", "cs_session=" + officer.token()},
                                 {"Origin", "http://evil.example"},
                                 {"Sec-Fetch-Site", "cross-site"}};
  auto refused = raw.Post(url.c_str(), evil, JpegBytes("evil"), "image/jpeg");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  auto form = raw.Post(url.c_str(), {{"Cookie", "cs_session=" + officer.token()}}, "a=b",
                       "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415) << "a form post is no photo";
}

TEST_F(ServiceTest, RuleHistoryListsDiffsAndRollsBack) {
  Client analyst = As("analyst"), officer = As("officer"), admin = As("admin");
  const std::string a =
      "rule \"origin QQ\"\n"
      "  when origin_country == \"QQ\"\n"
      "  then score +0.3\n"
      "end\n";
  const std::string b =
      "rule \"origin QQ\"\n"
      "  when origin_country == \"QQ\"\n"
      "  then channel red\n"
      "end\n"
      "\n"
      "rule \"origin QR\"\n"
      "  when origin_country == \"QR\"\n"
      "  then score +0.2\n"
      "end\n";
  Reply put_a = analyst.Send("PUT", "/api/rules", a, "text/plain");
  ASSERT_EQ(put_a.status, 200) << put_a.raw;
  const int64_t va = put_a.body["version"];
  Reply put_b = admin.Send("PUT", "/api/rules", b, "text/plain");
  ASSERT_EQ(put_b.status, 200) << put_b.raw;
  const int64_t vb = put_b.body["version"];
  ASSERT_EQ(vb, va + 1);

  Reply list = analyst.Get("/api/rules/versions?limit=5");
  ASSERT_EQ(list.status, 200) << list.raw;
  EXPECT_EQ(list.body["in_force"], vb);
  ASSERT_GE(list.body["versions"].size(), 2u);
  EXPECT_EQ(list.body["versions"][0]["version"], vb);
  EXPECT_EQ(list.body["versions"][0]["author"], "admin");
  EXPECT_EQ(list.body["versions"][0]["in_force"], true);
  EXPECT_EQ(list.body["versions"][1]["version"], va);
  EXPECT_EQ(list.body["versions"][1]["author"], "analyst");
  EXPECT_EQ(list.body["versions"][1]["lines"], 4);
  EXPECT_FALSE(list.body["versions"][1].contains("text"));
  ExpectBadField(analyst.Get("/api/rules/versions?limit=0"), "limit");
  Reply one = analyst.Get("/api/rules/versions/" + std::to_string(va));
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.body["text"], a);
  ExpectErrorShape(analyst.Get("/api/rules/versions/999999"), 404, "not_found");
  ExpectBadField(analyst.Get("/api/rules/versions/abc"), "version");

  // The old version against the one in force: one line changed, five added.
  Reply diff = analyst.Get("/api/rules/versions/" + std::to_string(va) + "/diff");
  ASSERT_EQ(diff.status, 200) << diff.raw;
  EXPECT_EQ(diff.body["from"]["version"], va);
  EXPECT_EQ(diff.body["to"]["version"], vb);
  EXPECT_EQ(diff.body["identical"], false);
  EXPECT_EQ(diff.body["removed"], 1);
  EXPECT_EQ(diff.body["added"], 6);
  EXPECT_EQ(diff.body["unchanged"], 3);
  std::string ops;
  for (const auto& l : diff.body["lines"]) ops += l["op"].get<std::string>();
  EXPECT_EQ(ops, "  -++++++ ") << diff.raw;
  EXPECT_EQ(diff.body["lines"][2]["text"], "  then score +0.3");
  EXPECT_EQ(diff.body["lines"][2]["old"], 3);
  EXPECT_TRUE(diff.body["lines"][2]["new"].is_null());
  EXPECT_EQ(diff.body["lines"][3]["text"], "  then channel red");
  Reply self = analyst.Get("/api/rules/versions/" + std::to_string(vb) +
                           "/diff?against=" + std::to_string(vb));
  EXPECT_EQ(self.body["identical"], true);
  ExpectBadField(analyst.Get("/api/rules/versions/" + std::to_string(va) + "/diff?against=x"),
                 "against");

  // Rollback: analysts and admins only, to a version that exists and is not in force, and only
  // while the version in force is the one the caller saw.
  EXPECT_EQ(officer.Post("/api/rules/rollback", json{{"version", va}}).status, 403);
  ExpectBadField(analyst.Post("/api/rules/rollback", json{{"version", "one"}}), "version");
  ExpectBadField(analyst.Post("/api/rules/rollback", json{{"to", va}}), "to");
  ExpectErrorShape(analyst.Post("/api/rules/rollback", json{{"version", 999999}}), 404,
                   "not_found");
  ExpectErrorShape(analyst.Post("/api/rules/rollback", json{{"version", vb}}), 409,
                   "failed_precondition");
  ExpectErrorShape(
      analyst.Post("/api/rules/rollback", json{{"version", va}, {"expected_version", va}}), 409,
      "failed_precondition");
  EXPECT_EQ(analyst.Get("/api/rules").body["version"], vb) << "nothing changed";
  Reply back = analyst.Post("/api/rules/rollback", json{{"version", va}, {"expected_version", vb}});
  ASSERT_EQ(back.status, 201) << back.raw;
  const int64_t vc = back.body["version"];
  EXPECT_EQ(vc, vb + 1);
  EXPECT_EQ(back.body["restored_from"], va);
  EXPECT_EQ(back.body["text"], a);
  EXPECT_EQ(back.body["author"], "analyst");
  Reply now = analyst.Get("/api/rules");
  EXPECT_EQ(now.body["version"], vc);
  EXPECT_EQ(now.body["rules"][0]["action"], "score 0.3");
  EXPECT_EQ(analyst.Get("/api/rules/versions/" + std::to_string(va) + "/diff").body["identical"],
            true);
  EXPECT_EQ(analyst.Get("/api/rules/versions").body["versions"][0]["restored_from"], va);
  bool audited = false;
  for (const auto& e : AuditOf(admin, "v" + std::to_string(vc))) {
    json detail =
        json::parse(e["detail"].is_string() ? e["detail"].get<std::string>() : e["detail"].dump());
    audited |= e["action"] == "rules" && e["actor"] == "analyst" && detail["restored_from"] == va &&
               detail["replaced"] == vb;
  }
  EXPECT_TRUE(audited);
  // Back to no rules for the other tests.
  ASSERT_EQ(analyst.Send("PUT", "/api/rules", "", "text/plain").status, 200);
}

TEST_F(ServiceTest, ScanAfterDeclarationIsAnalysedFusedAndViewable) {
  Client in = As("integrator"), officer = As("officer");
  const std::string id = Unique("SC"), scan_id = Unique("scan-");
  ASSERT_EQ(in.Post("/api/declarations", testing::Declaration(id)).status, 201);
  Scan scan;
  auto [tiff, sidecar] = ScanFiles(3, scan_id, id, &scan);
  Reply up = UploadScan(in, tiff, sidecar);
  ASSERT_EQ(up.status, 201) << up.raw;
  EXPECT_EQ(up.body["result"], "created");
  EXPECT_EQ(up.body["decision"]["version"], 2);
  // The scan's re-decision keeps the model version that assessed the declaration (the live one).
  EXPECT_EQ(up.body["decision"]["model_version"], 1) << up.raw;
  EXPECT_EQ(up.body["decision"]["has_scan"], true);
  EXPECT_EQ(up.body["decision"]["has_declaration"], true);
  EXPECT_EQ(up.body["decision"]["lane"], "OFF1");
  EXPECT_FALSE(up.body["scan"]["analysis"].is_null());
  EXPECT_GT(up.body["scan"]["analysis"]["objects"].size(), 0u);
  const std::string sha = up.body["scan"]["image_sha256"];
  EXPECT_EQ(sha, Sha256Hex(tiff));
  // Same upload again: nothing changes.
  Reply again = UploadScan(in, tiff, sidecar);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body["decision"]["version"], 2);
  // Same scan id with other pixels: refused.
  auto [other, other_sidecar] = ScanFiles(4, scan_id, id);
  ExpectErrorShape(UploadScan(in, other, other_sidecar), 409, "already_exists");

  const std::string base = "/api/scans/" + scan_id;
  for (const std::string view : {"gray", "low", "material"}) {
    Reply png = officer.Get(base + "/image.png?view=" + view);
    ASSERT_EQ(png.status, 200) << view << png.raw;
    EXPECT_EQ(png.Header("Content-Type"), "image/png");
    EXPECT_EQ(png.raw.substr(1, 3), "PNG");
    auto decoded = DecodePng(png.raw);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->width, scan.width);
    EXPECT_EQ(decoded->height, scan.height);
  }
  EXPECT_EQ(officer.Get(base + "/image.png?view=gray&window=0.3&level=0.4&gamma=0.8").status, 200);
  ExpectErrorShape(officer.Get(base + "/image.png?view=xray"), 400, "invalid_argument");
  const int x = scan.width / 2, y = scan.height / 2;
  Reply px = officer.Get(base + "/pixel?x=" + std::to_string(x) + "&y=" + std::to_string(y));
  ASSERT_EQ(px.status, 200) << px.raw;
  EXPECT_EQ(px.body["high"], scan.high[static_cast<size_t>(y) * scan.width + x]);
  EXPECT_TRUE(px.body.contains("z_eff"));
  EXPECT_TRUE(px.body.contains("material"));
  ExpectErrorShape(officer.Get(base + "/pixel?x=-1&y=0"), 400, "invalid_argument");
  ExpectErrorShape(officer.Get(base + "/pixel?x=99999&y=0"), 400, "invalid_argument");
  Reply z = officer.Get(base + "/channels/z_eff");
  ASSERT_EQ(z.status, 200);
  EXPECT_EQ(z.raw.size(), scan.pixels() * 4);
  EXPECT_EQ(z.Header("X-Width"), std::to_string(scan.width));
  EXPECT_EQ(z.Header("X-Dtype"), "float32");
  Reply high = officer.Get(base + "/channels/high");
  ASSERT_EQ(high.raw.size(), scan.pixels() * 2);
  EXPECT_EQ(std::memcmp(high.raw.data(), scan.high.data(), high.raw.size()), 0);
  ExpectErrorShape(officer.Get(base + "/channels/passwd"), 404, "not_found");
  Reply file = officer.Get("/api/images/" + sha);
  ASSERT_EQ(file.status, 200);
  EXPECT_EQ(file.raw, tiff);
  Reply cons = officer.Get("/api/consignments/" + id);
  ASSERT_EQ(cons.body["scans"].size(), 1u);
  EXPECT_EQ(cons.body["scans"][0]["scan_id"], scan_id);
}

TEST_F(ServiceTest, ScanBeforeDeclarationThenTheDeclarationJoinsIt) {
  Client in = As("integrator");
  const std::string id = Unique("EARLY"), scan_id = Unique("early-");
  auto [tiff, sidecar] = ScanFiles(5, scan_id, id);
  Reply up = UploadScan(in, tiff, sidecar);
  ASSERT_EQ(up.status, 201) << up.raw;
  EXPECT_EQ(up.body["decision"]["has_declaration"], false);
  EXPECT_TRUE(up.body["decision"]["model_version"].is_null()) << "no model took part" << up.raw;
  EXPECT_EQ(up.body["decision"]["lane"], "");
  json d = testing::Declaration(Unique("ED"), "OFF7");
  d["consignment_id"] = id;
  Reply decl = in.Post("/api/declarations", d);
  ASSERT_EQ(decl.status, 201) << decl.raw;
  EXPECT_EQ(decl.body["consignment_id"], id);
  EXPECT_EQ(decl.body["version"], 2);
  EXPECT_EQ(decl.body["model_version"], 1) << decl.raw;
  EXPECT_EQ(decl.body["lane"], "OFF7");
  EXPECT_EQ(decl.body["has_scan"], true);
  EXPECT_EQ(decl.body["has_declaration"], true);
}

TEST_F(ServiceTest, DicosPairAndRawTiffUploadsAreAccepted) {
  Client in = As("integrator");
  Scan scan;
  const std::string id = Unique("DIC"), scan_id = Unique("dicos-");
  ScanFiles(6, scan_id, id, &scan);
  std::string prefix = *dir_ / ("dicos_" + scan_id);
  ASSERT_TRUE(WriteDicos(scan, prefix).ok());
  DicosPaths p = DicosPathsFor(prefix);
  Reply up = in.PostMultipart("/api/scans",
                              {{"dicos_low", *ReadFile(p.low), "low.dcm", "application/dicom"},
                               {"dicos_high", *ReadFile(p.high), "high.dcm", "application/dicom"}});
  ASSERT_EQ(up.status, 201) << up.raw;
  EXPECT_EQ(up.body["scan"]["source_format"], "dicos");
  EXPECT_EQ(up.body["scan"]["source_sha256"].size(), 2u);
  EXPECT_EQ(up.body["scan"]["consignment_id"], id);
  // The TIFF as the body, meta in the query.
  const std::string raw_id = Unique("raw-");
  auto [tiff, sidecar] = ScanFiles(7, raw_id, id);
  Reply raw = in.Send("POST", "/api/scans?scan_id=" + raw_id + "&pixel_mm=0.7&consignment_id=" + id,
                      tiff, "image/tiff");
  ASSERT_EQ(raw.status, 201) << raw.raw;
  EXPECT_EQ(raw.body["decision"]["version"], 2);
  // Not a TIFF at all.
  ExpectErrorShape(in.Send("POST", "/api/scans?scan_id=x1&pixel_mm=0.7&consignment_id=c",
                           "GIF89a....", "image/tiff"),
                   400, "invalid_argument");
  // Ids that could not travel in a URL are refused.
  auto [t2, s2] = ScanFiles(8, "bad/../id", id);
  ExpectErrorShape(UploadScan(in, t2, s2), 400, "invalid_argument");
}

TEST_F(ServiceTest, PathTraversalIsRefused) {
  Client officer = As("officer");
  for (const std::string& path : std::vector<std::string>{
           "/api/images/..%2F..%2Fetc%2Fpasswd", "/api/images/../../etc/passwd",
           "/api/images/" + std::string(64, 'A'), "/api/images/%2e%2e",
           "/api/scans/..%2F..%2Fx/image.png"}) {
    Reply r = officer.Get(path);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << path << " -> " << r.status;
    EXPECT_EQ(r.raw.find("root:"), std::string::npos);
  }
  Client anon(service_->port());
  for (const std::string& path :
       std::vector<std::string>{"/../secret.txt", "/%2e%2e/secret.txt", "/js/../../secret.txt",
                                "/leak.txt", "/.hidden", "/js/..%2f..%2fsecret.txt"}) {
    Reply r = anon.Get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.raw.find("top secret"), std::string::npos) << path;
  }
}

TEST_F(ServiceTest, StaticFilesAreServedWithoutLogin) {
  Client anon(service_->port());
  Reply index = anon.Get("/");
  EXPECT_EQ(index.status, 200);
  EXPECT_NE(index.raw.find("Clearsight"), std::string::npos);
  EXPECT_EQ(index.Header("Content-Type"), "text/html; charset=utf-8");
  Reply js = anon.Get("/js/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.Header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(anon.Get("/queue").status, 200);  // the app's own route
  EXPECT_EQ(anon.Get("/missing.css").status, 404);
  ExpectErrorShape(anon.Get("/api/nothing"), 404, "not_found");
  // Chart.js for the Horizon page comes from the system (Debian libjs-chart.js), not web/.
  Reply chart = anon.Get("/vendor/chart.min.js");
  if (std::filesystem::exists(ServiceOptions().chart_js_path)) {
    EXPECT_EQ(chart.status, 200);
    EXPECT_EQ(chart.Header("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_NE(chart.raw.find("Chart.js"), std::string::npos);
  } else {
    ExpectErrorShape(chart, 404, "not_found");
    EXPECT_NE(chart.raw.find("libjs-chart.js"), std::string::npos) << chart.raw;
  }
}

TEST_F(ServiceTest, WrongMethodIs405WithAllow) {
  Client officer = As("officer");
  Reply r = officer.Send("DELETE", "/api/queue");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow"), "GET");
  EXPECT_TRUE(r.body.contains("error"));
}

TEST_F(ServiceTest, RequestSizeLimitsAnswer413InTheErrorShape) {
  Client in = As("integrator");
  std::string big = "[" + std::string(300 << 10, ' ') + "]";
  ExpectErrorShape(in.Send("POST", "/api/declarations", big), 413, "resource_exhausted");
  std::string huge(9 << 20, 'x');
  Reply r = in.Send("POST", "/api/scans?scan_id=h&pixel_mm=1&consignment_id=h", huge, "image/tiff");
  ExpectErrorShape(r, 413, "resource_exhausted");
}

TEST_F(ServiceTest, RuleChangesAreAuditedVersionedAndApplied) {
  Client analyst = As("analyst"), in = As("integrator"), admin = As("admin");
  Reply bad =
      analyst.Send("PUT", "/api/rules", "rule \"x\"\n  when hs_code ==\nend\n", "text/plain");
  ExpectErrorShape(bad, 400, "invalid_argument");
  EXPECT_TRUE(std::regex_search(bad.body["error"]["message"].get<std::string>(),
                                std::regex(":[0-9]+:[0-9]+:")))
      << bad.raw;
  const std::string rules =
      "rule \"origin ZZ\"\n"
      "  when origin_country == \"ZZ\"\n"
      "  then channel red\n"
      "  reason \"Origin ZZ is on the watch list\"\n"
      "  owner \"analyst\"\n"
      "end\n";
  Reply put = analyst.Send("PUT", "/api/rules", rules, "text/plain");
  ASSERT_EQ(put.status, 200) << put.raw;
  int64_t version = put.body["version"];
  EXPECT_GE(version, 1);
  EXPECT_EQ(put.body["rules"][0]["name"], "origin ZZ");
  const std::string id = Unique("ZZ");
  Reply d = in.Post("/api/declarations", testing::Declaration(id, "OFFZ", 100, "610910", "ZZ"));
  ASSERT_EQ(d.status, 201);
  EXPECT_EQ(d.body["channel"], "red");
  bool found = false;
  for (const auto& r : d.body["reasons"])
    found |= r["text"] == "Origin ZZ is on the watch list" && r["source"] == "rules";
  EXPECT_TRUE(found) << d.raw;
  Reply stats = analyst.Get("/api/stats");
  bool counted = false;
  for (const auto& r : stats.body["rules"]["rules"])
    if (r["name"] == "origin ZZ") counted = r["hits"].get<int>() >= 1;
  EXPECT_TRUE(counted) << stats.raw;
  Reply audit = admin.Get("/api/audit?limit=1000");
  bool audited = false;
  for (const auto& e : audit.body["entries"])
    audited |= e["action"] == "rules" && e["actor"] == "analyst" &&
               e["subject"] == "v" + std::to_string(version);
  EXPECT_TRUE(audited);
  // A field the schema does not have (a typo never matches) is refused until confirmed.
  const std::string typo = "rule \"typo\"\n  when hs_cod = \"610910\"\n  then channel red\nend\n";
  Reply refused = analyst.Send("PUT", "/api/rules", typo, "text/plain");
  ExpectErrorShape(refused, 400, "invalid_argument");
  EXPECT_NE(refused.raw.find("hs_cod (rules:2:8)"), std::string::npos) << refused.raw;
  EXPECT_NE(refused.raw.find("allow_fields"), std::string::npos) << refused.raw;
  EXPECT_EQ(analyst.Send("PUT", "/api/rules?allow_fields=hs_cod", typo, "text/plain").status, 200);
  // Back to no rules for the other tests.
  ASSERT_EQ(analyst.Send("PUT", "/api/rules", "", "text/plain").status, 200);
}

TEST_F(ServiceTest, DraftRulesAreTriedOnStoredDeclarationsBeforeInstalling) {
  Client analyst = As("analyst"), in = As("integrator"), officer = As("officer");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(Unique("ZQ"));
    ASSERT_EQ(
        in.Post("/api/declarations", testing::Declaration(ids.back(), "OFFQ", 100, "610910", "ZQ"))
            .status,
        201);
  }
  ASSERT_EQ(officer.Post("/api/consignments/" + ids[0] + "/outcome", json{{"result", "narcotics"}})
                .status,
            201);
  ASSERT_EQ(
      officer.Post("/api/consignments/" + ids[1] + "/outcome", json{{"result", "nothing"}}).status,
      201);
  int64_t not_red = 0;
  for (const auto& id : ids)
    not_red += officer.Get("/api/consignments/" + id).body["channel"] != "red";
  const int64_t version = analyst.Get("/api/rules").body["version"];
  const std::string draft =
      "rule \"origin ZQ\"\n  when origin_country == \"ZQ\"\n  then channel red\nend\n"
      "rule \"typo\"\n  when hs_cod = \"610910\"\n  then score 0.1\nend\n";
  Reply t = analyst.Send("POST", "/api/rules/test?days=3660", draft, "text/plain");
  ASSERT_EQ(t.status, 200) << t.raw;
  ASSERT_EQ(t.body["rules"].size(), 2u);
  const json& zq = t.body["rules"][0];
  EXPECT_EQ(zq["name"], "origin ZQ");
  EXPECT_EQ(zq["consignments"], 3) << t.raw;
  EXPECT_EQ(zq["with_outcome"], 2);
  EXPECT_EQ(zq["confirmed"], 1);
  EXPECT_EQ(zq["newly_red"], not_red);
  EXPECT_EQ(t.body["rules"][1]["hits"], 0);        // the typo never matches...
  ASSERT_EQ(t.body["unknown_fields"].size(), 1u);  // ...and is named
  EXPECT_EQ(t.body["unknown_fields"][0]["name"], "hs_cod");
  EXPECT_GE(t.body["declarations"].get<int64_t>(), 3);
  // Trying installs nothing.
  EXPECT_EQ(analyst.Get("/api/rules").body["version"], version);
  ExpectErrorShape(
      analyst.Send("POST", "/api/rules/test", "rule \"x\"\n  when\nend\n", "text/plain"), 400,
      "invalid_argument");
  ExpectErrorShape(analyst.Send("POST", "/api/rules/test?days=0", draft, "text/plain"), 400,
                   "invalid_argument");
  ExpectErrorShape(officer.Send("POST", "/api/rules/test", draft, "text/plain"), 403,
                   "permission_denied");
}

// Horizon scanning on the store: a history of nine series (HS x origin, two a day) written
// straight into the store, with 851712 from CN tripling from 2025-10-02. The scan finds it, the
// kinds filter keeps only the kinds asked for, and the result is reused for a few minutes.
// With `scans`, every third consignment has an X-ray scan and its findings: a knife-like object
// in 1 % of them, and from `since` in 20 % of those from TR.
Status FillHorizonHistory(Store& store, int32_t from, int32_t to, int32_t since,
                          const std::string& prefix, bool scans = false) {
  return store.Write([&](StoreTxn& t) -> Status {
    std::mt19937_64 rng(7);
    const char* hs[] = {"610910", "851712", "940510"};
    const char* origins[] = {"CN", "IN", "TR"};
    int64_t n = 0;
    for (int32_t day = from; day <= to; ++day)
      for (const char* h : hs)
        for (const char* o : origins) {
          double rate = 2;
          if (day >= since && std::string(h) == "851712" && std::string(o) == "CN") rate = 6;
          for (int k = std::poisson_distribution<int>(rate)(rng); k > 0; --k) {
            Declaration d;
            d.declaration_id = prefix + std::to_string(++n);
            d.consignment_id = d.declaration_id;
            d.importer_id = "IMP" + std::to_string(rng() % 50);
            d.hs_code = h;
            d.origin_country = o;
            d.office_id = "OFFH";
            d.net_mass_kg = 10;
            d.declared_value = 100;
            d.date = day;
            DeclarationRow r;
            r.declaration_id = r.consignment_id = std::string(d.declaration_id);
            r.office_id = "OFFH";
            r.date = day;
            r.json = DeclarationToJson(d, {});
            r.content_sha256 = Sha256Hex(r.json);
            r.received_ms = NowMs();
            CS_RETURN_IF_ERROR(t.InsertDeclaration(r));
            if (!scans || n % 3 != 0) continue;
            ScanRow scan;
            scan.scan_id = "S" + r.declaration_id;
            scan.consignment_id = r.consignment_id;
            scan.image_sha256 = std::string(64, '0');
            scan.source_format = "tiff";
            scan.meta_json = scan.analysis_json = "{}";
            scan.width = scan.height = 64;
            scan.received_ms = NowMs();
            CS_RETURN_IF_ERROR(t.InsertScan(scan));
            std::vector<Finding> findings;
            const double knife = day >= since && std::string(o) == "TR" ? 0.2 : 0.01;
            if (std::uniform_real_distribution<double>(0, 1)(rng) < knife) {
              Finding f;
              f.source = "detector";
              f.kind = "threat:knife";
              f.score = 0.8;
              f.reason = "knife-like object, 0.80";
              findings.push_back(std::move(f));
            }
            CS_RETURN_IF_ERROR(
                t.PutFindings(r.consignment_id, "scan:" + scan.scan_id, FindingsToJson(findings)));
          }
        }
    return Status::Ok();
  });
}

TEST_F(ServiceTest, HorizonScansTheStoreFiltersKindsAndReusesTheResult) {
  int32_t since = 0;
  ASSERT_TRUE(ParseDate("2025-10-02", &since));
  ASSERT_TRUE(FillHorizonHistory(service_->store(), since - 280, since + 55, since, "HZ").ok());
  Client analyst = As("analyst"), officer = As("officer");
  Reply r = analyst.Get("/api/horizon?since=2025-10-02");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["since"], "2025-10-02") << r.raw.substr(0, 300);
  bool found = false;
  for (const auto& s : r.body["signals"])
    found |= s["kind"] == "volume_shift" && s["key"].value("origin_country", "") == "CN" &&
             s["key"].value("hs_code", "").starts_with("85") && s["effect"].get<double>() > 1;
  EXPECT_TRUE(found) << r.raw;
  for (const auto& s : r.body["signals"]) EXPECT_FALSE(s["series"]["weeks"].empty());
  Reply only = analyst.Get("/api/horizon?since=2025-10-02&kinds=new_importer,volume_shift");
  ASSERT_EQ(only.status, 200) << only.raw;
  EXPECT_FALSE(only.body["signals"].empty());
  for (const auto& s : only.body["signals"])
    EXPECT_TRUE(s["kind"] == "volume_shift" || s["kind"] == "new_importer") << s["kind"];
  for (const auto& [kind, n] : only.body["tested"].items())
    EXPECT_TRUE(kind == "volume_shift" || kind == "new_importer") << kind;
  // Declarations stored since are not seen until the cached result ages out.
  ASSERT_TRUE(FillHorizonHistory(service_->store(), since, since + 55, since, "HZB").ok());
  Reply again = analyst.Get("/api/horizon?since=2025-10-02");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body["declarations"], r.body["declarations"]);
  // Another cut scans again, and sees them.
  Reply other = analyst.Get("/api/horizon?since=2025-10-09");
  ASSERT_EQ(other.status, 200) << other.raw;
  EXPECT_GT(other.body["declarations"].get<int64_t>(), r.body["declarations"].get<int64_t>());
  ExpectErrorShape(analyst.Get("/api/horizon?since=2025-10-02&kinds=volume"), 400,
                   "invalid_argument");
  Reply no_since = analyst.Get("/api/horizon");
  ExpectErrorShape(no_since, 400, "invalid_argument");
  EXPECT_NE(no_since.raw.find("since must be a date YYYY-MM-DD"), std::string::npos);
  Reply early = analyst.Get("/api/horizon?since=2025-01-01");
  ExpectErrorShape(early, 400, "invalid_argument");
  EXPECT_NE(early.raw.find("less than 4 weeks of history"), std::string::npos) << early.raw;
  ExpectErrorShape(officer.Get("/api/horizon?since=2025-10-02"), 403, "permission_denied");
}

// The baseline weeks and the false-discovery level are the caller's (in their ranges, else 400
// naming the range), a result is reused only for the same ones, and the scans' stored findings
// give finding shifts.
TEST_F(ServiceTest, HorizonTakesBaselineWeeksAndFdrAndFindsFindingShifts) {
  int32_t since = 0;
  ASSERT_TRUE(ParseDate("2025-10-02", &since));
  ASSERT_TRUE(
      FillHorizonHistory(service_->store(), since - 280, since + 55, since, "HF", true).ok());
  Client analyst = As("analyst");
  Reply r = analyst.Get("/api/horizon?since=2025-10-02");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["baseline_weeks"], 52);
  EXPECT_EQ(r.body["fdr"], 0.05);
  EXPECT_GT(r.body.value("scans", 0), 500);
  bool knives = false;
  for (const auto& s : r.body["signals"])
    knives |= s["kind"] == "finding_shift" && s["key"].value("origin_country", "") == "TR" &&
              s["key"].value("finding", "") == "threat:knife" && s["rank"].get<int>() == 1 &&
              s["effect"].get<double>() > 3;
  EXPECT_TRUE(knives) << r.raw.substr(0, 2000);
  Reply findings = analyst.Get("/api/horizon?since=2025-10-02&kinds=finding_shift");
  ASSERT_EQ(findings.status, 200);
  for (const auto& s : findings.body["signals"]) EXPECT_EQ(s["kind"], "finding_shift");
  // 20 baseline weeks: a later start, and not the 52-week result reused.
  Reply short_baseline = analyst.Get("/api/horizon?since=2025-10-02&baseline_weeks=20&fdr=0.01");
  ASSERT_EQ(short_baseline.status, 200) << short_baseline.raw;
  EXPECT_EQ(short_baseline.body["baseline_weeks"], 20);
  EXPECT_EQ(short_baseline.body["fdr"], 0.01);
  EXPECT_LT(short_baseline.body["declarations"].get<int64_t>(),
            r.body["declarations"].get<int64_t>());
  for (const auto& s : short_baseline.body["signals"]) EXPECT_LE(s["q_value"].get<double>(), 0.01);
  for (const char* bad :
       {"baseline_weeks=3", "baseline_weeks=157", "baseline_weeks=x", "baseline_weeks=52.5",
        "fdr=0.5", "fdr=0", "fdr=0.0009", "fdr=nan", "fdr=-0.05"}) {
    Reply refused = analyst.Get(std::string("/api/horizon?since=2025-10-02&") + bad);
    ExpectErrorShape(refused, 400, "invalid_argument");
    EXPECT_TRUE(refused.raw.find("4..156") != std::string::npos ||
                refused.raw.find("0.001..0.2") != std::string::npos)
        << bad << ": " << refused.raw;
  }
}

TEST_F(ServiceTest, ConsignmentShowsWhatEachDeclarationWasAssessedWithAndEveryRuleHit) {
  Client analyst = As("analyst"), in = As("integrator"), officer = As("officer");
  // Two rules that both match: the decision's reasons keep the strongest, the consignment view
  // lists both with their words.
  const std::string rules =
      "rule \"origin ZY\"\n  when origin_country == \"ZY\"\n  then score 0.3\n"
      "  reason \"Origin ZY is on the watch list\"\n  owner \"analyst\"\nend\n"
      "rule \"cotton shirts\"\n  when hs_code startswith \"6109\"\n  then score 0.2\n"
      "  reason \"T-shirts are often under-valued\"\n  owner \"desk 4\"\nend\n";
  Reply put = analyst.Send("PUT", "/api/rules", rules, "text/plain");
  ASSERT_EQ(put.status, 200) << put.raw;
  const int64_t version = put.body["version"];
  const std::string id = Unique("AS");
  ASSERT_EQ(
      in.Post("/api/declarations", testing::Declaration(id, "OFFA", 100, "610910", "ZY")).status,
      201);
  ASSERT_EQ(analyst.Send("PUT", "/api/rules", "", "text/plain").status,
            200);  // no rules for the other tests
  Reply cons = officer.Get("/api/consignments/" + id);
  ASSERT_EQ(cons.status, 200) << cons.raw;
  ASSERT_EQ(cons.body["assessments"].size(), 1u) << cons.raw;
  const json& a = cons.body["assessments"][0];
  EXPECT_EQ(a["declaration_id"], id);
  EXPECT_EQ(a["basis"], "decision");  // stored when decided, not recomputed with today's rules
  EXPECT_EQ(a["rules_version"], version);
  ASSERT_TRUE(a["model_score"].is_number()) << a;
  EXPECT_GT(a["model_score"].get<double>(), 0);
  EXPECT_LT(a["model_score"].get<double>(), 1);
  EXPECT_TRUE(a["valuation"].is_null());  // this service fits no reference prices
  ASSERT_EQ(a["rule_hits"].size(), 2u) << a;
  std::set<std::string> names;
  for (const auto& h : cons.body["rule_hits"]) {
    names.insert(h["rule"].get<std::string>());
    EXPECT_EQ(h["declaration_id"], id);
    if (h["rule"] == "cotton shirts") {
      EXPECT_EQ(h["reason"], "T-shirts are often under-valued");
      EXPECT_EQ(h["owner"], "desk 4");
      EXPECT_EQ(h["action"], "score 0.2");
    }
  }
  EXPECT_EQ(names, (std::set<std::string>{"cotton shirts", "origin ZY"})) << cons.raw;
}

TEST_F(ServiceTest, QueueItemsSummariseTheirDeclarationAndOfficesAreCounted) {
  Client in = As("integrator"), officer = As("officer");
  const std::string office = Unique("OFQ"), id = Unique("QS");
  ASSERT_EQ(
      in.Post("/api/declarations", testing::Declaration(id, office, 321.5, "851712", "VN")).status,
      201);
  ASSERT_EQ(in.Post("/api/declarations", testing::Declaration(Unique("QS"), office)).status, 201);
  Reply q = officer.Get("/api/queue?office=" + office + "&status=all&sort=consignment_id");
  ASSERT_EQ(q.status, 200) << q.raw;
  ASSERT_EQ(q.body["items"].size(), 2u);
  const json& item = q.body["items"][0];
  EXPECT_EQ(item["consignment_id"], id);
  EXPECT_EQ(item["declarations"], 1);
  EXPECT_EQ(item["declaration"]["declaration_id"], id);
  EXPECT_EQ(item["declaration"]["hs_code"], "851712");
  EXPECT_EQ(item["declaration"]["origin_country"], "VN");
  EXPECT_EQ(item["declaration"]["declared_value"], 321.5);
  EXPECT_EQ(item["declaration"]["office_id"], office);
  // limit=0: the count alone.
  Reply count = officer.Get("/api/queue?office=" + office + "&status=all&limit=0");
  EXPECT_EQ(count.body["total"], 2);
  EXPECT_TRUE(count.body["items"].empty());
  // A consignment known only by its scan has no declaration summary yet.
  const std::string scan_only = Unique("SO");
  auto [tiff, sidecar] = ScanFiles(5, Unique("scan-"), scan_only);
  ASSERT_EQ(UploadScan(in, tiff, sidecar).status, 201);
  Reply so = officer.Get("/api/queue?status=all&sort=-created&limit=1000");
  bool seen = false;
  for (const auto& i : so.body["items"])
    if (i["consignment_id"] == scan_only) {
      seen = true;
      EXPECT_TRUE(i["declaration"].is_null()) << i;
      EXPECT_EQ(i["declarations"], 0);
    }
  EXPECT_TRUE(seen);
  Reply offices = officer.Get("/api/offices");
  ASSERT_EQ(offices.status, 200) << offices.raw;
  bool listed = false;
  for (const auto& o : offices.body["offices"])
    if (o["office"] == office) {
      listed = true;
      EXPECT_EQ(o["total"], 2);
      EXPECT_EQ(o["pending"].get<int>() + o["released"].get<int>() + o["done"].get<int>(), 2);
    }
  EXPECT_TRUE(listed) << offices.raw;
  ExpectErrorShape(As("trainer").Get("/api/offices"), 403, "permission_denied");
}

TEST_F(ServiceTest, MeTellsWhenTheSessionEnds) {
  Client officer = As("officer");
  Reply me = officer.Get("/api/me");
  ASSERT_EQ(me.status, 200);
  const std::string expires = me.body["expires_at"];
  // ISO 8601 UTC, and later than now (sessions last hours).
  ASSERT_TRUE(std::regex_match(expires, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << expires;
  EXPECT_GT(expires, IsoNowForTest());
}

TEST_F(ServiceTest, StatisticsCountOutcomesPerEvidenceSource) {
  Client in = As("integrator"), officer = As("officer"), analyst = As("analyst");
  auto model_counts = [&]() {
    Reply stats = analyst.Get("/api/stats");
    EXPECT_EQ(stats.status, 200) << stats.raw;
    for (const auto& s : stats.body["sources"])
      if (s["source"] == "model")
        return std::make_pair(s["with_outcome"].get<int64_t>(), s["confirmed"].get<int64_t>());
    return std::make_pair(int64_t{0}, int64_t{0});
  };
  const auto before = model_counts();
  const std::string a = Unique("SRC"), b = Unique("SRC");
  ASSERT_EQ(in.Post("/api/declarations", testing::Declaration(a)).status, 201);
  ASSERT_EQ(in.Post("/api/declarations", testing::Declaration(b)).status, 201);
  ASSERT_EQ(
      officer.Post("/api/consignments/" + a + "/outcome", json{{"result", "narcotics"}}).status,
      201);
  ASSERT_EQ(officer.Post("/api/consignments/" + b + "/outcome", json{{"result", "nothing"}}).status,
            201);
  const auto after = model_counts();
  EXPECT_EQ(after.first - before.first, 2);
  EXPECT_EQ(after.second - before.second, 1);
  Reply stats = analyst.Get("/api/stats");
  for (const auto& s : stats.body["sources"]) {
    const double with = s["with_outcome"].get<double>();
    if (with > 0) {
      EXPECT_NEAR(s["hit_rate"].get<double>(), s["confirmed"].get<double>() / with, 1e-9) << s;
    }
    EXPECT_LE(s["strongest"]["with_outcome"].get<int64_t>(), s["with_outcome"].get<int64_t>()) << s;
  }
}

TEST_F(ServiceTest, ScanChannelsComeGzippedWhenTheClientAcceptsIt) {
  Client in = As("integrator"), officer = As("officer");
  const std::string id = Unique("GZ"), scan_id = Unique("scan-");
  Scan scan;
  auto [tiff, sidecar] = ScanFiles(6, scan_id, id, &scan);
  ASSERT_EQ(UploadScan(in, tiff, sidecar).status, 201);
  // A raw client that does not decompress, to see the bytes on the wire.
  httplib::Client raw("127.0.0.1", service_->port());
  raw.set_decompress(false);
  const httplib::Headers auth = {{"Authorization", "Bearer " + officer.token()}};
  for (const std::string name : {"material", "z_eff", "labels"}) {
    httplib::Headers plain_h = auth, gz_h = auth;
    plain_h.emplace("Accept-Encoding", "identity");
    gz_h.emplace("Accept-Encoding", "gzip, deflate");
    auto plain = raw.Get(("/api/scans/" + scan_id + "/channels/" + name).c_str(), plain_h);
    auto gz = raw.Get(("/api/scans/" + scan_id + "/channels/" + name).c_str(), gz_h);
    ASSERT_TRUE(plain && gz);
    ASSERT_EQ(plain->status, 200);
    ASSERT_EQ(gz->status, 200);
    EXPECT_FALSE(plain->has_header("Content-Encoding")) << name;
    EXPECT_EQ(gz->get_header_value("Content-Encoding"), "gzip") << name;
    EXPECT_LT(gz->body.size(), plain->body.size()) << name;
    // Inflate (gzip wrapper: windowBits 16 + 15) and compare with the plain bytes.
    z_stream zs{};
    ASSERT_EQ(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
    std::string out(plain->body.size() + 16, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(gz->body.data());
    zs.avail_in = static_cast<uInt>(gz->body.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END) << name;
    out.resize(zs.total_out);
    inflateEnd(&zs);
    EXPECT_EQ(out, plain->body) << name;
  }
  // q=0 refuses gzip.
  httplib::Headers refuse = auth;
  refuse.emplace("Accept-Encoding", "gzip;q=0");
  auto r = raw.Get(("/api/scans/" + scan_id + "/channels/material").c_str(), refuse);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_header("Content-Encoding"));
  EXPECT_EQ(r->body.size(), scan.pixels());
}

TEST_F(ServiceTest, CapacityIsAdminOnlyAndAudited) {
  Client admin = As("admin"), analyst = As("analyst");
  Reply get = analyst.Get("/api/settings/capacity");
  ASSERT_EQ(get.status, 200);
  EXPECT_DOUBLE_EQ(get.body["control_share"].get<double>(), 0.10);
  ExpectErrorShape(admin.Send("PUT", "/api/settings/capacity", R"({"red_share": 3})"), 400,
                   "invalid_argument");
  Reply put = admin.Send("PUT", "/api/settings/capacity",
                         R"({"red_share": 0.05, "lanes": {"OFFX": {"red_count": 2}}})");
  ASSERT_EQ(put.status, 200) << put.raw;
  EXPECT_EQ(put.body["lanes"]["OFFX"]["red_count"], 2);
  Reply audit = admin.Get("/api/audit?limit=1000");
  bool audited = false;
  for (const auto& e : audit.body["entries"]) audited |= e["action"] == "capacity";
  EXPECT_TRUE(audited);
}

TEST_F(ServiceTest, MetricsArePrometheusText) {
  Client analyst = As("analyst"), in = As("integrator");
  ASSERT_EQ(in.Post("/api/declarations", testing::Declaration(Unique("M"))).status, 201);
  Reply m = analyst.Get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.Header("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_NE(m.raw.find("# TYPE clearsight_http_requests_total counter"), std::string::npos);
  EXPECT_TRUE(std::regex_search(
      m.raw, std::regex("clearsight_declarations_total\\{result=\"created\"\\} [1-9]")));
  EXPECT_TRUE(std::regex_search(
      m.raw, std::regex("clearsight_http_request_duration_seconds_bucket\\{route=\"/api/"
                        "declarations\",method=\"POST\",le=\"\\+Inf\"\\} [1-9]")));
  EXPECT_NE(m.raw.find("clearsight_decisions_total{channel="), std::string::npos);
}

TEST_F(ServiceTest, AuditLogHoldsDecisionsOutcomesLoginsAndVerifies) {
  Client in = As("integrator"), officer = As("officer"), admin = As("admin");
  const std::string id = Unique("AUD");
  ASSERT_EQ(in.Post("/api/declarations", testing::Declaration(id)).status, 201);
  ASSERT_EQ(
      officer.Post("/api/consignments/" + id + "/outcome", json{{"result", "nothing"}}).status,
      201);
  std::set<std::string> actions;
  int64_t after = 0;
  for (;;) {
    Reply page = admin.Get("/api/audit?limit=500&after=" + std::to_string(after));
    ASSERT_EQ(page.status, 200);
    if (page.body["entries"].empty()) break;
    for (const auto& e : page.body["entries"])
      if (e["subject"] == id || e["action"] == "login")
        actions.insert(e["action"].get<std::string>());
    after = page.body["next_after"];
  }
  EXPECT_TRUE(actions.count("decision"));
  EXPECT_TRUE(actions.count("outcome"));
  EXPECT_TRUE(actions.count("login"));
  Reply v = admin.Get("/api/audit/verify");
  ASSERT_EQ(v.status, 200);
  EXPECT_EQ(v.body["ok"], true) << v.raw;
  EXPECT_GT(v.body["entries"].get<int>(), 5);
}

TEST_F(ServiceTest, OpenApiDocumentsEveryRouteWithItsRoles) {
  auto text = ReadFile(std::string(CS_SOURCE_DIR) + "/docs/openapi.json");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  json spec = json::parse(*text);
  ASSERT_EQ(spec["openapi"].get<std::string>().substr(0, 2), "3.");
  // Every route an admin may call (all but the public ones), plus the public ones.
  Client admin = As("admin");
  std::vector<std::string> routes = admin.Get("/api/me").body["routes"];
  routes.push_back("GET /api/health");
  routes.push_back("POST /api/login");
  std::set<std::string> documented;
  for (auto& [path, ops] : spec["paths"].items())
    for (auto& [method, op] : ops.items()) {
      std::string m = method;
      for (auto& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      documented.insert(m + " " + path);
    }
  for (const auto& r : routes)
    EXPECT_TRUE(documented.count(r)) << "not in docs/openapi.json: " << r;
  // And the roles it lists are the ones the service enforces, checked here for the officer.
  Client officer = As("officer");
  std::set<std::string> officer_routes;
  Reply officer_me = officer.Get("/api/me");
  for (const auto& r : officer_me.body["routes"]) officer_routes.insert(r.get<std::string>());
  for (auto& [path, ops] : spec["paths"].items())
    for (auto& [method, op] : ops.items()) {
      if (path == "/{path}") continue;
      std::string m = method;
      for (auto& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      bool doc_officer = op["x-roles"].empty();
      for (const auto& role : op["x-roles"]) doc_officer |= role == "officer";
      EXPECT_EQ(doc_officer, officer_routes.count(m + " " + path) > 0) << m << " " << path;
    }
}

// A flood of logins with ever new user names from one address: the address is stopped after
// its limit, the audit log gets one entry for the burst instead of one per attempt, and the
// password checks never run more than their bound at once (every honest login still succeeds).
TEST(ServiceLogin, AFloodFromOneAddressIsStoppedAndAuditedAsOneBurst) {
  TempDir dir;
  ServiceOptions o;
  o.port = 0;
  o.store.url = dir / "cs.db";
  o.login_failures_per_address = 10;
  o.concurrent_password_checks = 1;
  Service* svc = nullptr;
  testing::StartServiceWithRoleUsers(o, &svc);
  std::unique_ptr<Service> service(svc);
  {
    // Honest logins at once, through one password check at a time.
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 6; ++i)
      threads.emplace_back([&] {
        Client c(service->port());
        ok += c.Login("officer", PasswordOf("officer"));
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok, 6);
  }
  Client flood(service->port());
  int wrong = 0, stopped = 0;
  for (int i = 0; i < 14; ++i) {
    Reply r = flood.Post("/api/login", json{{"username", "nobody" + std::to_string(i)},
                                            {"password", "not the password"}});
    ASSERT_TRUE(r.status == 401 || r.status == 429) << r.raw;
    const std::string message = r.body["error"]["message"];
    if (message.find("wrong user name or password") != std::string::npos) ++wrong;
    if (message.find("too many failed logins from this address") != std::string::npos) ++stopped;
  }
  EXPECT_EQ(wrong, 10);
  EXPECT_EQ(stopped, 4);
  EXPECT_FALSE(flood.Login("officer", PasswordOf("officer")))
      << "the address is stopped for a minute";
  service->Stop();
  auto entries = service->store().AuditRange(0, 100000);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  int failed = 0, bursts = 0;
  for (const auto& e : *entries) {
    failed += e.action == "login_failed";
    if (e.action == "login_failed_burst") {
      ++bursts;
      json d = json::parse(e.detail_json);
      EXPECT_EQ(d["failures"], 10) << e.detail_json;
      EXPECT_EQ(d["user_names"].size(), 10u) << e.detail_json;
      EXPECT_EQ(e.subject, d["remote_addr"]);
    }
  }
  EXPECT_EQ(failed, 1) << "the burst's first failure, written as it happened";
  EXPECT_EQ(bursts, 1) << "the rest as one entry when the burst ended (here: at shutdown)";
}

TEST(ServiceRestart, DataUsersAndLaneBudgetsSurviveARestart) {
  TempDir dir;
  ServiceOptions o;
  o.port = 0;
  o.store.url = dir / "cs.db";
  o.selection.capacity.red_count = 1;
  o.selection.control_share = 0;
  const std::string rules =
      "rule \"all\"\n  when net_mass_kg > 0\n  then score 0.9\n  reason \"everything\"\nend\n";
  ASSERT_TRUE(WriteFileAtomic(dir / "rules.txt", rules).ok());
  o.rules_path = dir / "rules.txt";
  std::string first_red;
  {
    auto svc = Service::Create(o);
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    ASSERT_TRUE(AddUser((*svc)->store(), "int", Role::kIntegrator, "int-password", "test").ok());
    ASSERT_TRUE((*svc)->Start().ok());
    Client c((*svc)->port());
    ASSERT_TRUE(c.Login("int", "int-password"));
    Reply r = c.Post("/api/declarations", testing::Declaration("R1"));
    ASSERT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body["channel"], "red");
  }
  auto svc = Service::Create(o);
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  ASSERT_TRUE((*svc)->Start().ok());
  Client c((*svc)->port());
  ASSERT_TRUE(c.Login("int", "int-password"));  // users persist
  Reply again = c.Post("/api/declarations", testing::Declaration("R1"));
  EXPECT_EQ(again.status, 200);
  // The lane-day's one red slot was used before the restart: the next is carried over to the
  // next day's slot, and the one after that waits on the supervisor's list.
  Reply next = c.Post("/api/declarations", testing::Declaration("R2"));
  ASSERT_EQ(next.status, 201);
  EXPECT_TRUE(next.body["over_budget"].get<bool>()) << next.raw;
  EXPECT_EQ(next.body["channel"], "red") << next.raw;
  EXPECT_EQ(next.body["date"], "2021-02-02") << next.raw;
  Reply third = c.Post("/api/declarations", testing::Declaration("R3"));
  ASSERT_EQ(third.status, 201);
  EXPECT_TRUE(third.body["over_budget"].get<bool>()) << third.raw;
  EXPECT_NE(third.body["channel"], "red") << third.raw;
  EXPECT_EQ(third.body["status"], "pending") << third.raw;
  auto latest = (*svc)->store().LatestRules();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->version, 1);  // the same rules file is not a new version
}

// What `clearsight serve` prints when it cannot start: each stage adds its context once, joined
// by one ": " (not "loading the risk model: : ...").
std::string ServeFails(const TempDir& dir, const std::string& flags, int* rc) {
  const std::string log = dir / "serve.log";
  const std::string cmd = std::string(CS_CLI) + " serve --db " + (dir / "cs.db") + " --port 0 " +
                          flags + " > " + log + " 2>&1";
  const int status = std::system(cmd.c_str());
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  auto text = ReadFile(log, 1 << 20);
  return text.ok() ? *text : text.status().ToString();
}

TEST(ServiceStartup, AMissingRiskModelIsNamedWithOneSeparatorPerContext) {
  TempDir dir;
  int rc = 0;
  EXPECT_EQ(
      ServeFails(dir, "--model " + (dir / "no-model"), &rc),
      "error: loading the risk model: " + (dir / "no-model") +
          ": not a model directory (no meta.json); train one with 'clearsight model train'\n");
  EXPECT_EQ(rc, 1);
}

TEST(ServiceStartup, ACorruptRiskModelIsNamedWithOneSeparatorPerContext) {
  TempDir dir;
  std::filesystem::create_directories(dir / "model");
  ASSERT_TRUE(
      WriteFileAtomic(dir / "model/meta.json", R"({"format":"clearsight-risk-model"})").ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "model/features.json", "not json").ok());
  int rc = 0;
  EXPECT_EQ(
      ServeFails(dir, "--model " + (dir / "model"), &rc),
      "error: loading the risk model: " + (dir / "model") + ": features.json is not valid JSON\n");
  EXPECT_EQ(rc, 1);
}

// The integrator's client library and the `feed` command against the same service.
TEST_F(ServiceTest, ClientLibraryLogsInSendsDeclarationsAndScansAndReadsTheQueue) {
  ClientOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(service_->port());
  o.username = "integrator";
  o.password = PasswordOf("integrator");
  auto client = ServiceClient::Connect(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const std::string id = Unique("CLI");
  std::string csv =
      "declaration_id,date,importer_id,hs_code,origin_country,net_mass_kg,declared_value,office_"
      "id\n" +
      id + ",2024-05-02,IMP1,851712,CN,2.5,300,OFF1\n" + id +
      "x,2024-05-02,IMP1,851712,CN,-1,300,OFF1\n";
  auto r = (*client)->PostDeclarations(csv, "csv");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto j = nlohmann::json::parse(*r);
  EXPECT_EQ(j["created"], 1);
  EXPECT_EQ(j["rejected"], 1);
  auto [tiff, sidecar] = ScanFiles(6, Unique("cli-scan-"), id);
  auto s = (*client)->PostScan(tiff, sidecar);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(nlohmann::json::parse(*s)["decision"]["has_scan"], true);
  // An integrator may not read the queue: the API's 403 arrives as PermissionDenied.
  auto q = (*client)->Get("/api/queue");
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kPermissionDenied) << q.status().ToString();
  o.password = "wrong-password";
  auto bad = ServiceClient::Connect(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnauthenticated);
  o.base_url = "http://127.0.0.1:1";
  EXPECT_EQ(ServiceClient::Connect(o).status().code(), StatusCode::kIoError);
}

TEST_F(ServiceTest, FeedCommandSendsFilesAndReportsRejects) {
  const std::string id = Unique("FEED");
  const std::string decl = (dir_->path / (id + ".csv")).string();
  std::ofstream(decl)
      << "declaration_id,date,importer_id,hs_code,origin_country,net_mass_kg,declared_value\n"
      << id << ",2024-05-03,IMP2,610910,TR,12,90\n"
      << id << "b,2024-02-30,IMP2,610910,TR,12,90\n";
  const std::string scans = (dir_->path / ("scans-" + id)).string();
  std::filesystem::create_directories(scans);
  auto [tiff, sidecar] = ScanFiles(7, Unique("feed-scan-"), id);
  std::ofstream(scans + "/a.tif", std::ios::binary) << tiff;
  std::ofstream(scans + "/a.json") << sidecar;
  const std::string out = (dir_->path / (id + ".out")).string();
  std::string cmd = "CS_FEED_PW='" + PasswordOf("integrator") + "' " + CS_CLI +
                    " feed --url http://127.0.0.1:" + std::to_string(service_->port()) +
                    " --user integrator --password-env CS_FEED_PW --declarations " + decl +
                    " --scans " + scans + " > " + out + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("accepted 1, rejected 1; created 1"), std::string::npos) << text;
  EXPECT_NE(text.find(":3: field 'date'"), std::string::npos) << text;
  EXPECT_NE(text.find("scans: 1 sent, 0 failed"), std::string::npos) << text;
  EXPECT_NE(text.find("consignment " + id), std::string::npos) << text;
}

}  // namespace
}  // namespace clearsight
