// The model registry in the store, on SQLite (store_test) and PostgreSQL (store_pg_test): versions
// registered with their files, metrics and training window; promotion, rollback and rejection with
// their audit entries; one live version; and the version and propensity each decision keeps.
#include <gtest/gtest.h>

#include "clearsight/store.h"
#include "store/store_fixture.h"

namespace clearsight {
namespace {

// A version with made-up files (the store keeps only their names and hashes).
ModelVersionRow ModelRow(const std::string& tag, const std::string& by = "trainer") {
  ModelVersionRow m;
  m.created_by = by;
  m.files = {{"meta.json", Sha256Hex("meta " + tag), 100},
             {"baseline/model.json", Sha256Hex("baseline " + tag), 2000}};
  m.metrics_json = R"({"auc": 0.91, "precision_at": {"5": 0.8}})";
  m.training_from = 18262;    // 2020-01-01
  m.training_cutoff = 18627;  // 2020-12-31
  m.training_rows = 37385;
  m.features = {"fraud_rate:hs6", "log_net_mass"};
  return m;
}

std::vector<AuditEntry> AuditActions(Store& store, const std::string& prefix) {
  auto all = store.AuditRange(0, 100000);
  EXPECT_TRUE(all.ok()) << all.status().ToString();
  std::vector<AuditEntry> out;
  if (all.ok())
    for (auto& e : *all)
      if (e.action.rfind(prefix, 0) == 0) out.push_back(e);
  return out;
}

TEST_F(StoreTest, ModelVersionsAreRegisteredWithEverythingAndTheSameFilesOnlyOnce) {
  auto v1 = store_->RegisterModel(ModelRow("a", "alice"));
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v1->status, ModelStatus::kCandidate);
  EXPECT_EQ(v1->content_sha256, ModelContentSha256(v1->files));
  ModelVersionRow child = ModelRow("b");
  child.parent_version = 1;
  auto v2 = store_->RegisterModel(child);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->version, 2);
  Reopen();  // read back from the database, not from a cache
  auto got = store_->GetModelVersion(2);
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
  const ModelVersionRow& m = **got;
  EXPECT_EQ(m.created_by, "trainer");
  EXPECT_GT(m.created_ms, 0);
  ASSERT_EQ(m.files.size(), 2u);
  EXPECT_EQ(m.files[1].path, "baseline/model.json");
  EXPECT_EQ(m.files[1].sha256, Sha256Hex("baseline b"));
  EXPECT_EQ(m.files[1].bytes, 2000);
  EXPECT_EQ(m.training_from, 18262);
  EXPECT_EQ(m.training_cutoff, 18627);
  EXPECT_EQ(m.training_rows, 37385);
  EXPECT_EQ(m.features, (std::vector<std::string>{"fraud_rate:hs6", "log_net_mass"}));
  EXPECT_EQ(m.parent_version, 1);
  EXPECT_NE(m.metrics_json.find("0.91"), std::string::npos) << m.metrics_json;
  EXPECT_FALSE(m.promoted_ms.has_value());
  EXPECT_TRUE(m.promoted_by.empty());
  auto all = store_->ModelVersions();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].version, 1);
  EXPECT_FALSE((*all)[0].parent_version.has_value());
  auto by_content = store_->ModelVersionWithContent(v1->content_sha256);
  ASSERT_TRUE(by_content.ok() && by_content->has_value());
  EXPECT_EQ((*by_content)->version, 1);
  auto none = store_->LiveModelVersion();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  // The same files again, whoever sends them: refused, naming the version they are.
  auto again = store_->RegisterModel(ModelRow("a", "bob"));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("version 1"), std::string::npos)
      << again.status().ToString();
  ModelVersionRow orphan = ModelRow("c");
  orphan.parent_version = 9;
  EXPECT_EQ(store_->RegisterModel(orphan).status().code(), StatusCode::kInvalidArgument);
  ModelVersionRow bad_metrics = ModelRow("d");
  bad_metrics.metrics_json = "[1, 2]";
  EXPECT_EQ(store_->RegisterModel(bad_metrics).status().code(), StatusCode::kInvalidArgument);
  ModelVersionRow escaping = ModelRow("e");
  escaping.files[0].path = "../../etc/passwd";
  EXPECT_EQ(store_->RegisterModel(escaping).status().code(), StatusCode::kInvalidArgument);
  auto after = store_->ModelVersions();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 2u) << "a refused registration leaves no row";
  auto audit = AuditActions(*store_, "model_");
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[0].action, "model_registered");
  EXPECT_EQ(audit[0].actor, "alice");
  EXPECT_EQ(audit[0].subject, "v1");
  EXPECT_NE(audit[0].detail_json.find(v1->content_sha256), std::string::npos);
}

TEST_F(StoreTest, PromotionRetiresTheLiveVersionAndRollbackWalksBack) {
  for (const char* tag : {"a", "b", "c"}) ASSERT_TRUE(store_->RegisterModel(ModelRow(tag)).ok());
  auto status_of = [&](int64_t v) {
    auto m = store_->GetModelVersion(v);
    EXPECT_TRUE(m.ok() && m->has_value());
    return m.ok() && m->has_value() ? (*m)->status : ModelStatus::kCandidate;
  };
  ModelChangeRequest by_ann{"ann", "first model", false, std::nullopt};
  auto p1 = store_->PromoteModel(1, by_ann);
  ASSERT_TRUE(p1.ok()) << p1.status().ToString();
  EXPECT_FALSE(p1->previous.has_value());
  EXPECT_EQ(p1->live.promoted_by, "ann");
  EXPECT_TRUE(p1->live.promoted_ms.has_value());
  EXPECT_EQ(store_->PromoteModel(1, by_ann).status().code(), StatusCode::kFailedPrecondition)
      << "live already";
  EXPECT_EQ(store_->PromoteModel(7, by_ann).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->PromoteModel(2, {"ann", "better AUC", false, std::nullopt}).ok());
  auto p3 = store_->PromoteModel(3, {"ben", "", false, std::nullopt});
  ASSERT_TRUE(p3.ok());
  EXPECT_EQ(p3->previous, 2);
  EXPECT_EQ(status_of(1), ModelStatus::kRetired);
  EXPECT_EQ(status_of(2), ModelStatus::kRetired);
  EXPECT_EQ((*store_->GetModelVersion(2))->reason, "replaced by v3");
  auto live = store_->LiveModelVersion();
  ASSERT_TRUE(live.ok() && live->has_value());
  EXPECT_EQ((*live)->version, 3);
  EXPECT_EQ((*live)->previous_live, 2);

  // Back one step, then another: 3 -> 2 -> 1, each one left rejected.
  auto r1 = store_->RollbackModel({"cat", "hit rate fell", false, std::nullopt});
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(r1->live.version, 2);
  EXPECT_EQ(r1->previous, 3);
  EXPECT_EQ(r1->live.promoted_by, "cat");
  EXPECT_EQ(status_of(3), ModelStatus::kRejected);
  EXPECT_EQ((*store_->GetModelVersion(3))->reason, "rolled back by cat: hit rate fell");
  auto r2 = store_->RollbackModel({"cat", "", false, std::nullopt});
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->live.version, 1);
  auto r3 = store_->RollbackModel({"cat", "", false, std::nullopt});
  EXPECT_EQ(r3.status().code(), StatusCode::kFailedPrecondition) << "1 went live when none was";
  EXPECT_EQ((*store_->LiveModelVersion())->version, 1);

  // A rejected version goes live again only when forced.
  auto refused = store_->PromoteModel(3, {"ann", "", false, std::nullopt});
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("rejected"), std::string::npos);
  ASSERT_TRUE(store_->PromoteModel(3, {"ann", "fixed the data", true, std::nullopt}).ok());
  EXPECT_EQ((*store_->LiveModelVersion())->version, 3);
  EXPECT_EQ((*store_->LiveModelVersion())->reason, "fixed the data");

  auto audit = AuditActions(*store_, "model_");
  std::vector<std::string> actions;
  for (const auto& e : audit) actions.push_back(e.action + " " + e.subject + " " + e.actor);
  EXPECT_EQ(actions,
            (std::vector<std::string>{"model_registered v1 trainer", "model_registered v2 trainer",
                                      "model_registered v3 trainer", "model_promoted v1 ann",
                                      "model_promoted v2 ann", "model_promoted v3 ben",
                                      "model_rolled_back v2 cat", "model_rolled_back v1 cat",
                                      "model_promoted v3 ann"}));
  EXPECT_NE(audit.back().detail_json.find("\"forced\":true"), std::string::npos)
      << audit.back().detail_json;
  auto verified = store_->VerifyAudit();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->message;
}

TEST_F(StoreTest, RollbackRefusesWhenTheLiveVersionIsNotTheOneExpected) {
  for (const char* tag : {"a", "b"}) ASSERT_TRUE(store_->RegisterModel(ModelRow(tag)).ok());
  ASSERT_TRUE(store_->PromoteModel(1, {"ann", "", false, std::nullopt}).ok());
  ASSERT_TRUE(store_->PromoteModel(2, {"ann", "", false, std::nullopt}).ok());
  auto stale = store_->RollbackModel({"cat", "", false, 1});
  EXPECT_EQ(stale.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.status().message().find("now 2"), std::string::npos) << stale.status().ToString();
  EXPECT_EQ((*store_->LiveModelVersion())->version, 2) << "nothing changed";
  EXPECT_TRUE(store_->RollbackModel({"cat", "", false, 2}).ok());
  EXPECT_EQ((*store_->LiveModelVersion())->version, 1);
}

TEST_F(StoreTest, RejectionNeedsAReasonAndNeverTakesTheLiveVersion) {
  for (const char* tag : {"a", "b"}) ASSERT_TRUE(store_->RegisterModel(ModelRow(tag)).ok());
  ASSERT_TRUE(store_->PromoteModel(1, {"ann", "", false, std::nullopt}).ok());
  EXPECT_EQ(store_->RejectModel(2, {"gate", "", false, std::nullopt}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->RejectModel(1, {"gate", "worse", false, std::nullopt}).status().code(),
            StatusCode::kFailedPrecondition);
  auto rejected =
      store_->RejectModel(2, {"gate", "precision at 5 % below the live model", false, {}});
  ASSERT_TRUE(rejected.ok()) << rejected.status().ToString();
  EXPECT_EQ(rejected->status, ModelStatus::kRejected);
  EXPECT_EQ((*store_->GetModelVersion(2))->reason, "precision at 5 % below the live model");
  EXPECT_EQ(store_->RejectModel(2, {"gate", "again", false, {}}).status().code(),
            StatusCode::kFailedPrecondition);
  auto audit = AuditActions(*store_, "model_rejected");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "gate");
  EXPECT_EQ(audit[0].subject, "v2");
}

TEST_F(StoreTest, TheSchemaAllowsOneLiveVersionOnly) {
  for (const char* tag : {"a", "b"}) ASSERT_TRUE(store_->RegisterModel(ModelRow(tag)).ok());
  ASSERT_TRUE(store_->PromoteModel(1, {"ann", "", false, std::nullopt}).ok());
  auto c = RawConn();
  ASSERT_NE(c, nullptr);
  auto second = c->Exec("UPDATE model_versions SET status = 'live' WHERE version = 2", {});
  EXPECT_FALSE(second.ok()) << "a second live version must violate the unique index";
}

TEST_F(StoreTest, ADecisionKeepsTheModelVersionThatMadeIt) {
  DecisionRow with = Decision("CM1", 0.9, "red");
  with.model_version = 7;
  DecisionRow without = Decision("CM2", 0.8, "red");
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    CS_RETURN_IF_ERROR(t.PutDecision(with));
                    return t.PutDecision(without);
                  })
                  .ok());
  auto a = store_->GetDecision("CM1");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->model_version, 7);
  auto b = store_->GetDecision("CM2");
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_FALSE((*b)->model_version.has_value());
  with.model_version = 8;  // a new version of the decision, by another model
  with.version = 2;
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.PutDecision(with); }).ok());
  QueueQuery q;
  q.sort = "-score";
  auto page = store_->Queue(q);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].consignment_id, "CM1");
  EXPECT_EQ(page->items[0].model_version, 8);
  EXPECT_FALSE(page->items[1].model_version.has_value());
  EXPECT_EQ(page->declaration_count[0], 0);
}

TEST_F(StoreTest, ADecisionKeepsItsPropensityAndExplorationFlag) {
  DecisionRow explored = Decision("CP1", 0.4, "red");
  explored.exploration = true;
  explored.propensity = 0.0375;
  DecisionRow old = Decision("CP2", 0.2, "green");  // decided before propensities were recorded
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    CS_RETURN_IF_ERROR(t.PutDecision(explored));
                    return t.PutDecision(old);
                  })
                  .ok());
  auto a = store_->GetDecision("CP1");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_TRUE((*a)->exploration);
  ASSERT_TRUE((*a)->propensity.has_value());
  EXPECT_DOUBLE_EQ(*(*a)->propensity, 0.0375);
  auto b = store_->GetDecision("CP2");
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_FALSE((*b)->exploration);
  EXPECT_FALSE((*b)->propensity.has_value());
  auto counts = store_->SelectionCounts(INT32_MIN);
  ASSERT_TRUE(counts.ok());
  int64_t explored_count = 0;
  for (const auto& c : *counts) explored_count += c.exploration ? c.count : 0;
  EXPECT_EQ(explored_count, 1);
}

}  // namespace
}  // namespace clearsight
