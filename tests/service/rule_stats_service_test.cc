// Rules over time in a running service: GET /api/rules/stats counts each rule's hits, inspected
// and confirmed hits per week from the stored decisions and outcomes, with the precision and its
// Wilson interval, flags a rule that stopped hitting, and refuses bad input and other roles.
#include <gtest/gtest.h>

#include <map>

#include "clearsight/retrain.h"
#include "service/service_test_util.h"

namespace clearsight {
namespace {

using nlohmann::json;
using testing::Client;
using testing::PasswordOf;
using testing::Reply;
using testing::TempDir;

class RuleStatsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServiceOptions o;
    o.port = 0;
    o.store.url = dir_ / "cs.db";
    testing::StartServiceWithRoleUsers(o, &service_);
  }
  void TearDown() override { delete service_; }
  Client As(const std::string& role) {
    Client c(service_->port());
    EXPECT_TRUE(c.Login(role, PasswordOf(role))) << role;
    return c;
  }
  // A declaration from `origin` dated `date` (one consignment each).
  void Declare(Client& in, const std::string& id, const std::string& date,
               const std::string& origin) {
    json d = testing::Declaration(id, "OFF1", 100, "610910", origin);
    d["date"] = date;
    Reply r = in.Post("/api/declarations", d);
    ASSERT_EQ(r.status, 201) << r.raw;
  }

  TempDir dir_;
  Service* service_ = nullptr;
};

void ExpectError(const Reply& r, int status, const std::string& code, const std::string& says) {
  EXPECT_EQ(r.status, status) << r.raw;
  ASSERT_TRUE(r.body.is_object() && r.body.contains("error")) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], code) << r.raw;
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find(says), std::string::npos) << r.raw;
}

TEST_F(RuleStatsServiceTest, WeeklyHitsInspectedConfirmedAndPrecisionPerRule) {
  Client analyst = As("analyst"), in = As("integrator"), officer = As("officer");
  // Nothing decided yet: no weeks, no rules.
  Reply empty = analyst.Get("/api/rules/stats");
  ASSERT_EQ(empty.status, 200) << empty.raw;
  EXPECT_TRUE(empty.body["weeks"].empty());
  EXPECT_TRUE(empty.body["to"].is_null());

  const std::string rules =
      "rule \"origin ZZ\"\n  when origin_country == \"ZZ\"\n  then channel red\nend\n"
      "rule \"hs 85\"\n  when hs_code startswith \"85\"\n  then score +0.1\nend\n";
  ASSERT_EQ(analyst.Send("PUT", "/api/rules", rules, "text/plain").status, 200);
  // Week of Monday 2021-01-04: four hits, three inspected, two confirmed; week of 2021-01-18:
  // three hits, one inspected, nothing found; one hit before the window; the newest decision
  // (not a hit) on 2021-02-03 ends the window in the week of 2021-02-01.
  for (int i = 0; i < 4; ++i) Declare(in, "W1-" + std::to_string(i), "2021-01-05", "ZZ");
  for (int i = 0; i < 3; ++i) Declare(in, "W3-" + std::to_string(i), "2021-01-20", "ZZ");
  Declare(in, "OLD", "2020-11-20", "ZZ");
  Declare(in, "LAST", "2021-02-03", "CN");
  auto outcome = [&](const std::string& id, const std::string& result) {
    Reply r = officer.Post("/api/consignments/" + id + "/outcome", json{{"result", result}});
    ASSERT_EQ(r.status, 201) << id << ": " << r.raw;
  };
  outcome("W1-0", "narcotics");
  outcome("W1-1", "cigarettes");
  outcome("W1-2", "nothing");
  outcome("W3-0", "nothing");
  outcome("OLD", "narcotics");

  Reply r = analyst.Get("/api/rules/stats?weeks=5");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["to"], "2021-02-03");
  EXPECT_EQ(r.body["weeks"],
            json::array({"2021-01-04", "2021-01-11", "2021-01-18", "2021-01-25", "2021-02-01"}));
  ASSERT_EQ(r.body["rules"].size(), 2u) << r.raw;
  const json& zz = r.body["rules"][0];
  EXPECT_EQ(zz["name"], "origin ZZ");
  EXPECT_EQ(zz["active"], true);
  ASSERT_EQ(zz["weeks"].size(), 5u);
  const json& w1 = zz["weeks"][0];
  EXPECT_EQ(w1["week"], "2021-01-04");
  EXPECT_EQ(w1["hits"], 4);
  EXPECT_EQ(w1["inspected"], 3);
  EXPECT_EQ(w1["confirmed"], 2);
  const Interval expected = Wilson(2, 3);
  EXPECT_NEAR(w1["precision"].get<double>(), 2.0 / 3.0, 1e-9);
  EXPECT_NEAR(w1["ci95"][0].get<double>(), expected.low, 1e-9);
  EXPECT_NEAR(w1["ci95"][1].get<double>(), expected.high, 1e-9);
  EXPECT_EQ(zz["weeks"][1]["hits"], 0);
  EXPECT_TRUE(zz["weeks"][1]["precision"].is_null());
  EXPECT_EQ(zz["weeks"][2]["hits"], 3);
  EXPECT_EQ(zz["weeks"][2]["inspected"], 1);
  EXPECT_EQ(zz["weeks"][2]["precision"], 0.0);
  // The hit of November is outside the five weeks.
  EXPECT_EQ(zz["total"]["hits"], 7);
  EXPECT_EQ(zz["total"]["inspected"], 4);
  EXPECT_EQ(zz["total"]["confirmed"], 2);
  // No hit in the last two weeks: it stopped hitting.
  EXPECT_EQ(zz["flags"], json::array({"stopped_hitting"}));
  const json& hs = r.body["rules"][1];
  EXPECT_EQ(hs["name"], "hs 85");
  EXPECT_EQ(hs["total"]["hits"], 0);
  EXPECT_TRUE(hs["flags"].empty());
  // Twelve weeks by default, the November hit inside them.
  Reply longer = analyst.Get("/api/rules/stats");
  ASSERT_EQ(longer.status, 200);
  EXPECT_EQ(longer.body["weeks"].size(), 12u);
  EXPECT_EQ(longer.body["rules"][0]["total"]["hits"], 8);

  // A rule no longer installed keeps its history, marked inactive.
  ASSERT_EQ(analyst.Send("PUT", "/api/rules", "", "text/plain").status, 200);
  Reply old = analyst.Get("/api/rules/stats?weeks=5");
  ASSERT_EQ(old.body["rules"].size(), 1u) << old.raw;
  EXPECT_EQ(old.body["rules"][0]["name"], "origin ZZ");
  EXPECT_EQ(old.body["rules"][0]["active"], false);

  for (const char* bad : {"0", "105", "abc", "-3"})
    ExpectError(analyst.Get(std::string("/api/rules/stats?weeks=") + bad), 400, "invalid_argument",
                "weeks must be a whole number 1..104");
  ExpectError(officer.Get("/api/rules/stats"), 403, "permission_denied", "");
  EXPECT_EQ(As("admin").Get("/api/rules/stats").status, 200);
}

// Decisions written to the service's store as the service would: `n` red consignments dated
// `date`, the first `confirmed` of them found something; control draws or matched by `rule`.
Status StoreDecisions(Store& store, const std::string& prefix, int32_t date, int n, int confirmed,
                      bool control, const std::string& rule) {
  return store.Write([&](StoreTxn& t) -> Status {
    for (int i = 0; i < n; ++i) {
      DecisionRow c;
      c.consignment_id = prefix + std::to_string(i);
      c.lane = "OFF1";
      c.date = date;
      c.score = 0.5;
      c.channel = "red";
      c.control = control;
      c.propensity = control ? 0.01 : 1.0;
      c.status = "pending";
      c.version = 1;
      c.has_declaration = true;
      c.reasons_json = "[]";
      c.created_ms = c.updated_ms = NowMs();
      CS_RETURN_IF_ERROR(t.PutDecision(c));
      if (!rule.empty()) CS_RETURN_IF_ERROR(t.PutRuleHits(c.consignment_id, {rule}));
      OutcomeRow o;
      o.consignment_id = c.consignment_id;
      o.result = i < confirmed ? "cigarettes" : "nothing";
      o.officer = "test";
      CS_RETURN_IF_ERROR(t.InsertOutcome(&o));
    }
    return Status::Ok();
  });
}

TEST_F(RuleStatsServiceTest, ARuleWhosePrecisionIsBelowTheControlRateIsFlagged) {
  Client analyst = As("analyst");
  Store& store = service_->store();
  const int32_t day = 18687;  // 2021-03-01, a Monday
  // The control sample finds something in 10 of 20; "weak" in 1 of 20 (Wilson upper bound 0.24),
  // "strong" in 15 of 20, "thin" in 0 of 5 (too few outcomes to judge).
  ASSERT_TRUE(StoreDecisions(store, "C", day, 20, 10, true, "").ok());
  ASSERT_TRUE(StoreDecisions(store, "W", day + 1, 20, 1, false, "weak").ok());
  ASSERT_TRUE(StoreDecisions(store, "S", day + 2, 20, 15, false, "strong").ok());
  ASSERT_TRUE(StoreDecisions(store, "T", day + 3, 5, 0, false, "thin").ok());
  Reply r = analyst.Get("/api/rules/stats?weeks=1");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["weeks"], json::array({"2021-03-01"}));
  const json& control = r.body["control"]["total"];
  EXPECT_EQ(control["decisions"], 20);
  EXPECT_EQ(control["inspected"], 20);
  EXPECT_EQ(control["precision"], 0.5);
  EXPECT_EQ(r.body["control"]["weeks"][0]["confirmed"], 10);
  // Targeted: the 45 red consignments not drawn at random, 16 confirmed; the lift over the window
  // is (16/45) / (10/20) = 0.711 with its interval on the log scale.
  const json& targeted = r.body["targeted"]["total"];
  EXPECT_EQ(targeted["decisions"], 45);
  EXPECT_EQ(targeted["confirmed"], 16);
  const json& lift = r.body["targeted"]["weeks"][0]["lift_so_far"];
  ASSERT_TRUE(lift.is_object()) << r.raw;
  EXPECT_NEAR(lift["value"].get<double>(), (16.0 / 45) / 0.5, 1e-9);
  EXPECT_LT(lift["ci95"][0].get<double>(), lift["value"].get<double>());
  EXPECT_GT(lift["ci95"][1].get<double>(), 1.0) << "a 0.71 lift on these counts is not told from 1";
  std::map<std::string, json> flags;
  for (const auto& rule : r.body["rules"]) flags[rule["name"]] = rule["flags"];
  ASSERT_EQ(flags.size(), 3u) << r.raw;
  EXPECT_EQ(flags["weak"], json::array({"below_control"}));
  EXPECT_TRUE(flags["strong"].empty());
  EXPECT_TRUE(flags["thin"].empty());
}

TEST_F(RuleStatsServiceTest, TheControlSampleEstimatesTheCasesAndRevenueNotInspected) {
  Client analyst = As("analyst");
  Store& store = service_->store();
  const int32_t day = 18687;
  // Too few control outcomes: no estimate, and the reason says so.
  ASSERT_TRUE(StoreDecisions(store, "A", day, 5, 2, true, "").ok());
  Reply r = analyst.Get("/api/stats");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_TRUE(r.body["estimates"]["fraud_rate"].is_null());
  EXPECT_NE(r.body["estimates"]["reason"].get<std::string>().find("5 outcomes"), std::string::npos);
  // 20 control draws in all, 8 of them found something, 6 of those with revenue (100 EUR each);
  // one more "not inspected" draw counts for nothing; 300 consignments released.
  ASSERT_TRUE(StoreDecisions(store, "B", day, 15, 6, true, "").ok());
  ASSERT_TRUE(store
                  .Write([&](StoreTxn& t) -> Status {
                    for (int i = 0; i < 6; ++i) {
                      OutcomeRow o;
                      o.consignment_id = (i < 2 ? "A" : "B") + std::to_string(i < 2 ? i : i - 2);
                      o.result = "cigarettes";
                      o.officer = "test";
                      o.revenue_recovered = 100;
                      o.revenue_currency = "EUR";
                      CS_RETURN_IF_ERROR(t.InsertOutcome(&o));
                    }
                    for (int i = 0; i < 300; ++i) {
                      DecisionRow c;
                      c.consignment_id = "G" + std::to_string(i);
                      c.lane = "OFF1";
                      c.date = day;
                      c.channel = "green";
                      c.status = "released";
                      c.version = 1;
                      c.has_declaration = true;
                      c.reasons_json = "[]";
                      c.created_ms = c.updated_ms = NowMs();
                      CS_RETURN_IF_ERROR(t.PutDecision(c));
                    }
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(StoreDecisions(store, "N", day, 1, 0, true, "").ok());
  ASSERT_TRUE(store
                  .Write([&](StoreTxn& t) {
                    OutcomeRow o;
                    o.consignment_id = "N0";
                    o.result = std::string(kNotInspected);
                    o.not_inspected_reason = "not presented";
                    o.officer = "test";
                    return t.InsertOutcome(&o);
                  })
                  .ok());
  r = analyst.Get("/api/stats");
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& e = r.body["estimates"];
  EXPECT_EQ(e["outcomes"], 20) << e.dump();
  EXPECT_EQ(e["confirmed"], 8);
  EXPECT_EQ(e["not_inspected"], 300);
  EXPECT_NEAR(e["fraud_rate"]["value"].get<double>(), 0.4, 1e-9);
  const Interval w = Wilson(8, 20);
  EXPECT_NEAR(e["fraud_rate"]["ci95"][0].get<double>(), w.low, 1e-9);
  EXPECT_NEAR(e["missed_frauds"]["value"].get<double>(), 120, 1e-9);
  EXPECT_NEAR(e["missed_frauds"]["ci95"][1].get<double>(), 300 * w.high, 1e-6);
  // 300 x 0.4 x 100 EUR; the interval holds it and is wide on 20 draws.
  const json& m = e["missed_revenue"];
  ASSERT_TRUE(m.is_object()) << e.dump();
  EXPECT_EQ(m["currency"], "EUR");
  EXPECT_EQ(m["confirmed_with_revenue"], 6);
  EXPECT_NEAR(m["value"].get<double>(), 12000, 1e-6);
  EXPECT_LT(m["ci95"][0].get<double>(), 12000);
  EXPECT_GT(m["ci95"][1].get<double>(), 12000);
  EXPECT_GT(m["ci95"][0].get<double>(), 0);
}

}  // namespace
}  // namespace clearsight
