// The model registry in a running service: the live model swapped by a promotion while declarations
// are being decided (no request fails, each decision names the model that made it), rollback,
// roles, the audit log, and a promotion made by another process picked up without a restart.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "clearsight/declarations.h"
#include "clearsight/model_registry.h"
#include "clearsight/risk_model.h"
#include "service/service_test_util.h"

namespace clearsight {
namespace {

using nlohmann::json;
using testing::Client;
using testing::PasswordOf;
using testing::Reply;
using testing::TempDir;

// A small model on the first `rows` declarations of the public training file, saved to `dir`.
void TrainTo(const std::string& dir, size_t rows, int trees) {
  ReadOptions ro;
  ro.format = DeclarationFormat::kKcs;
  auto batch =
      ReadDeclarations(std::string(CS_DATA) + "/customs/df_syn_train_eng.csv", ro, nullptr);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  batch->rows.resize(rows);
  RiskModelOptions mo;
  mo.trees = trees;
  mo.max_depth = 3;
  auto m = RiskModel::Train(*batch, mo);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(m->Save(dir).ok());
}

// Every audit entry with `action`, paging through the whole log.
std::vector<json> AuditWith(Client& admin, const std::string& action) {
  std::vector<json> out;
  for (int64_t after = 0;;) {
    Reply page = admin.Get("/api/audit?limit=1000&after=" + std::to_string(after));
    EXPECT_EQ(page.status, 200) << page.raw;
    if (page.status != 200 || page.body["entries"].empty()) break;
    for (const auto& e : page.body["entries"])
      if (e["action"] == action) out.push_back(e);
    after = page.body["next_after"].get<int64_t>();
  }
  return out;
}

struct Decided {
  int status = 0;
  json model_version;
  bool started_after_promotion = false;    // sent once the promotion had answered
  bool finished_before_promotion = false;  // answered before the promotion was sent
};

class ServiceModelRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    TrainTo(dir_ / "m1", 2000, 5);
    TrainTo(dir_ / "m2", 3000, 8);
    ServiceOptions o;
    o.port = 0;
    o.store.url = dir_ / "cs.db";
    o.model_dir = dir_ / "m1";
    o.model_poll_ms = 100;
    o.http_threads = 8;
    Service* svc = nullptr;
    testing::StartServiceWithRoleUsers(o, &svc);
    service_.reset(svc);
  }
  void TearDown() override { service_.reset(); }

  Client As(const std::string& role) {
    Client c(service_->port());
    EXPECT_TRUE(c.Login(role, PasswordOf(role))) << role;
    return c;
  }
  json Decide(Client& in, const std::string& id) {
    Reply r = in.Post("/api/declarations", testing::Declaration(id));
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body;
  }

  TempDir dir_;
  std::unique_ptr<Service> service_;
};

TEST_F(ServiceModelRegistry, APromotionUnderLoadDropsNoRequestAndEachDecisionNamesItsModel) {
  Client analyst = As("analyst"), admin = As("admin"), officer = As("officer");
  // Started with --model and an empty registry: the directory is version 1, live.
  Reply health = officer.Get("/api/health");
  EXPECT_EQ(health.body["model_version"], 1) << health.raw;
  Reply list = analyst.Get("/api/models");
  ASSERT_EQ(list.status, 200) << list.raw;
  EXPECT_EQ(list.body["live"], 1);
  EXPECT_EQ(list.body["serving"], 1);
  ASSERT_EQ(list.body["models"].size(), 1u);
  EXPECT_EQ(list.body["models"][0]["status"], "live");
  EXPECT_EQ(list.body["models"][0]["created_by"], "system");
  EXPECT_EQ(list.body["models"][0]["training"]["rows"], 2000);

  RegisterModelOptions ro;
  ro.created_by = "trainer";
  ro.parent_version = 1;
  auto v2 = RegisterModelDir(service_->store(), dir_ / "m2", ro);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  ASSERT_EQ(v2->version, 2);
  Reply shown = analyst.Get("/api/models/2");
  ASSERT_EQ(shown.status, 200) << shown.raw;
  EXPECT_EQ(shown.body["status"], "candidate");
  EXPECT_EQ(shown.body["serving"], false);
  EXPECT_EQ(shown.body["parent_version"], 1);
  EXPECT_EQ(shown.body["files"].size(), 4u);

  // Only analysts and admins see or change the registry.
  for (const std::string role : {"officer", "integrator", "trainer"}) {
    Client c = As(role);
    EXPECT_EQ(c.Get("/api/models").status, 403) << role;
    EXPECT_EQ(c.Get("/api/models/2").status, 403) << role;
    Reply denied = c.Post("/api/models/2/promote", json{{"reason", "mine"}});
    EXPECT_EQ(denied.status, 403) << role << denied.raw;
    EXPECT_EQ(c.Post("/api/models/rollback", json::object()).status, 403) << role;
  }
  EXPECT_EQ(As("integrator").Get("/api/health").body["model_version"], 1) << "nothing changed";

  // Declarations from four clients without a pause; the promotion lands in the middle.
  std::atomic<bool> promotion_sent{false}, promotion_answered{false}, stop{false};
  std::atomic<int> next{0};
  std::mutex mu;
  std::vector<Decided> decided;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t)
    clients.emplace_back([&, t] {
      Client in(service_->port());
      if (!in.Login("integrator", PasswordOf("integrator"))) return;
      while (!stop) {
        Decided d;
        d.started_after_promotion = promotion_answered;
        Reply r = in.Post("/api/declarations", testing::Declaration("LOAD" + std::to_string(t) +
                                                                    "-" + std::to_string(next++)));
        d.finished_before_promotion = !promotion_sent;
        d.status = r.status;
        if (r.body.is_object()) d.model_version = r.body["model_version"];
        std::lock_guard lock(mu);
        decided.push_back(std::move(d));
      }
    });
  auto wait_for = [&](size_t n) {
    for (int i = 0; i < 3000; ++i) {
      {
        std::lock_guard lock(mu);
        if (decided.size() >= n) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the clients stalled";
  };
  wait_for(40);
  promotion_sent = true;
  Reply promoted = analyst.Post("/api/models/2/promote", json{{"reason", "twice the data"}});
  promotion_answered = true;
  size_t at_promotion;
  {
    std::lock_guard lock(mu);
    at_promotion = decided.size();
  }
  wait_for(at_promotion + 40);
  stop = true;
  for (auto& c : clients) c.join();
  ASSERT_EQ(promoted.status, 200) << promoted.raw;
  EXPECT_EQ(promoted.body["model"]["version"], 2);
  EXPECT_EQ(promoted.body["model"]["status"], "live");
  EXPECT_EQ(promoted.body["model"]["serving"], true);
  EXPECT_EQ(promoted.body["previous"], 1);

  int before = 0, after = 0, failed = 0;
  for (const auto& d : decided) {
    if (d.status != 201) {
      ++failed;
      continue;
    }
    if (d.finished_before_promotion) {
      EXPECT_EQ(d.model_version, 1);
      ++before;
    } else if (d.started_after_promotion) {
      EXPECT_EQ(d.model_version, 2);
      ++after;
    } else {
      EXPECT_TRUE(d.model_version == 1 || d.model_version == 2) << d.model_version;
    }
  }
  EXPECT_EQ(failed, 0) << "of " << decided.size() << " requests";
  EXPECT_GE(before, 40);
  EXPECT_GE(after, 20);

  // The consignment and its assessment say which model made them.
  Client in = As("integrator");
  json d = Decide(in, "AFTER-PROMOTION");
  EXPECT_EQ(d["model_version"], 2);
  Reply cons = officer.Get("/api/consignments/AFTER-PROMOTION");
  ASSERT_EQ(cons.status, 200) << cons.raw;
  EXPECT_EQ(cons.body["model_version"], 2);
  EXPECT_EQ(cons.body["assessments"][0]["model_version"], 2) << cons.raw;
  EXPECT_EQ(officer.Get("/api/health").body["model_version"], 2);

  // The promotion is in the audit log, by the analyst, with the reason.
  auto promotions = AuditWith(admin, "model_promoted");
  ASSERT_EQ(promotions.size(), 2u);  // version 1 at startup (system), version 2 now
  EXPECT_EQ(promotions[0]["actor"], "system");
  EXPECT_EQ(promotions[1]["actor"], "analyst");
  EXPECT_EQ(promotions[1]["subject"], "v2");
  EXPECT_EQ(promotions[1]["detail"]["reason"], "twice the data");
  EXPECT_EQ(promotions[1]["detail"]["previous"], 1);
  auto decisions = AuditWith(admin, "decision");
  ASSERT_FALSE(decisions.empty());
  EXPECT_EQ(decisions.back()["detail"]["model_version"], 2);

  // Rollback: version 1 again, version 2 rejected; promoting it again needs force.
  Reply back = analyst.Post("/api/models/rollback", json{{"reason", "hit rate fell"}});
  ASSERT_EQ(back.status, 200) << back.raw;
  EXPECT_EQ(back.body["model"]["version"], 1);
  EXPECT_EQ(back.body["rolled_back"], 2);
  EXPECT_EQ(Decide(in, "AFTER-ROLLBACK")["model_version"], 1);
  Reply again = analyst.Post("/api/models/2/promote", json::object());
  EXPECT_EQ(again.status, 409) << again.raw;
  EXPECT_EQ(again.body["error"]["code"], "failed_precondition");
  EXPECT_NE(again.raw.find("rolled back by analyst: hit rate fell"), std::string::npos)
      << again.raw;
  Reply no_further = analyst.Post("/api/models/rollback", json::object());
  EXPECT_EQ(no_further.status, 409) << no_further.raw;
  EXPECT_EQ(analyst.Post("/api/models/9/promote", json::object()).status, 404);
  EXPECT_EQ(analyst.Get("/api/models/latest").status, 400);
  EXPECT_EQ(analyst.Post("/api/models/2/promote", json{{"force", "yes"}}).status, 400);
  auto rollbacks = AuditWith(admin, "model_rolled_back");
  ASSERT_EQ(rollbacks.size(), 1u);
  EXPECT_EQ(rollbacks[0]["subject"], "v1");
  EXPECT_EQ(rollbacks[0]["detail"]["from"], 2);
  Reply verified = admin.Get("/api/audit/verify");
  EXPECT_EQ(verified.body["ok"], true) << verified.raw;
}

TEST_F(ServiceModelRegistry, APromotionByAnotherProcessIsServedWithoutARestart) {
  RegisterModelOptions ro;
  ro.created_by = "trainer";
  ASSERT_TRUE(RegisterModelDir(service_->store(), dir_ / "m2", ro).ok());
  // Another process on the same database: what `clearsight model promote` does.
  StoreOptions so;
  so.url = dir_ / "cs.db";
  auto other = Store::Open(so);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto change = (*other)->PromoteModel(2, {"cli-user", "from the command line", false, {}});
  ASSERT_TRUE(change.ok()) << change.status().ToString();
  Client officer = As("officer");
  json version;
  for (int i = 0; i < 100 && version != 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    version = officer.Get("/api/health").body["model_version"];
  }
  EXPECT_EQ(version, 2) << "the service reads the live version every 100 ms here";
  Client in = As("integrator");
  EXPECT_EQ(Decide(in, "PICKED-UP")["model_version"], 2);
  Reply list = As("analyst").Get("/api/models");
  EXPECT_EQ(list.body["serving"], 2) << list.raw;
}

// The findings stored for `consignment` by origin ("declaration:<id>" -> findings JSON).
std::map<std::string, json> FindingsOf(Store& store, const std::string& consignment) {
  std::map<std::string, json> out;
  Status s = store.Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(auto rows, txn.FindingsOf(consignment));
    for (const auto& [origin, text] : rows) out[origin] = json::parse(text);
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

json ModelFinding(const json& findings) {
  for (const auto& f : findings)
    if (f["source"] == "model") return f;
  ADD_FAILURE() << "no model finding in " << findings.dump();
  return json::object();
}

// A declaration's model reason is explained only by the model that gave its probability: after a
// promotion, a re-decision leaves an earlier version's finding without feature details.
TEST_F(ServiceModelRegistry, OnlyTheModelThatAssessedADeclarationExplainsIt) {
  // A fraud from the training data: both models have seen its goods template, so explaining it
  // gives details.
  ReadOptions ro;
  ro.format = DeclarationFormat::kKcs;
  auto batch =
      ReadDeclarations(std::string(CS_DATA) + "/customs/df_syn_train_eng.csv", ro, nullptr);
  ASSERT_TRUE(batch.ok());
  size_t row = 0;
  while (row < 2000 && batch->rows[row].fraud != 1) ++row;
  ASSERT_LT(row, 2000u);
  auto declaration = [&](const std::string& id, const std::string& consignment) {
    Declaration d = batch->rows[row];
    d.declaration_id = id;
    d.consignment_id = consignment;
    return json::parse(DeclarationToJson(d, batch->extra_columns));
  };
  Client admin = As("admin"), analyst = As("analyst"), in = As("integrator");
  auto capacity = [&](double red_share) {
    Reply r = admin.Send("PUT", "/api/settings/capacity",
                         json{{"red_share", red_share}, {"yellow_share", 0}}.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
  };
  // First declarations while everything is green: no explanation is made for them.
  capacity(0);
  for (const char* c : {"KEPT", "SWAPPED"}) {
    Reply r = in.Post("/api/declarations", declaration(std::string(c) + "-1", c));
    ASSERT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body["channel"], "green");
    EXPECT_EQ(r.body["model_version"], 1);
  }
  // KEPT: a second declaration makes it red under the same model: the first one is explained.
  capacity(1);
  Reply kept = in.Post("/api/declarations", declaration("KEPT-2", "KEPT"));
  ASSERT_EQ(kept.status, 201) << kept.raw;
  EXPECT_EQ(kept.body["channel"], "red") << kept.raw;
  auto kept_findings = FindingsOf(service_->store(), "KEPT");
  EXPECT_FALSE(ModelFinding(kept_findings["declaration:KEPT-1"])["details"].empty());
  // SWAPPED: the same after a promotion: version 2 explains its own declaration only.
  RegisterModelOptions reg;
  reg.created_by = "trainer";
  ASSERT_TRUE(RegisterModelDir(service_->store(), dir_ / "m2", reg).ok());
  ASSERT_EQ(analyst.Post("/api/models/2/promote", json::object()).status, 200);
  Reply swapped = in.Post("/api/declarations", declaration("SWAPPED-2", "SWAPPED"));
  ASSERT_EQ(swapped.status, 201) << swapped.raw;
  EXPECT_EQ(swapped.body["channel"], "red") << swapped.raw;
  EXPECT_EQ(swapped.body["model_version"], 2);
  auto swapped_findings = FindingsOf(service_->store(), "SWAPPED");
  EXPECT_FALSE(ModelFinding(swapped_findings["declaration:SWAPPED-2"])["details"].empty());
  json first = ModelFinding(swapped_findings["declaration:SWAPPED-1"]);
  EXPECT_TRUE(!first.contains("details") || first["details"].empty()) << first.dump();
}

// A restart serves the registry's live version, not the directory it was first started with.
TEST_F(ServiceModelRegistry, ARestartServesTheLiveVersionAndKeepsTheRegistry) {
  RegisterModelOptions ro;
  ro.created_by = "trainer";
  ASSERT_TRUE(RegisterModelDir(service_->store(), dir_ / "m2", ro).ok());
  ASSERT_TRUE(service_->store().PromoteModel(2, {"analyst", "", false, std::nullopt}).ok());
  service_.reset();
  ServiceOptions o;
  o.port = 0;
  o.store.url = dir_ / "cs.db";
  o.model_dir = dir_ / "m1";  // as before: not registered again, not served
  auto svc = Service::Create(o);
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  ASSERT_TRUE((*svc)->Start().ok());
  service_ = std::move(svc).value();
  EXPECT_EQ(As("officer").Get("/api/health").body["model_version"], 2);
  auto versions = service_->store().ModelVersions();
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), 2u);
}

}  // namespace
}  // namespace clearsight
