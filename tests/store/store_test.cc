// Store tests. The same cases run against SQLite (store_test, label unit) and against a real
// PostgreSQL started for the test binary (store_pg_test, label integration).
#include "clearsight/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <tuple>

#include "store/postgres_server.h"
#include "store/sql_conn.h"
#include "store/store_fixture.h"

namespace clearsight {
#ifdef CS_STORE_POSTGRES
testing::PostgresServer* g_pg = nullptr;
#endif
namespace {

#ifdef CS_STORE_POSTGRES
class PgEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto s = testing::PostgresServer::Start();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    g_pg = server_.get();
  }
  void TearDown() override {
    g_pg = nullptr;
    server_.reset();
  }

 private:
  std::unique_ptr<testing::PostgresServer> server_;
};
const auto* const kPgEnv = ::testing::AddGlobalTestEnvironment(new PgEnvironment);
#endif

TEST_F(StoreTest, MigratesFreshDatabaseAndReopensAtSameVersion) {
  EXPECT_GE(store_->schema_version(), 2);
  int64_t v = store_->schema_version();
  Reopen();
  EXPECT_EQ(store_->schema_version(), v);
#ifdef CS_STORE_POSTGRES
  EXPECT_EQ(store_->backend(), "postgresql");
#else
  EXPECT_EQ(store_->backend(), "sqlite");
#endif
}

TEST_F(StoreTest, RefusesDatabaseFromNewerProgram) {
  {
    auto c = RawConn();
    ASSERT_TRUE(
        c->Exec(
             "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (999, 'future', 0)",
             {})
            .ok());
  }
  store_.reset();
  auto s = Store::Open(options_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("999"), std::string::npos);
}

TEST_F(StoreTest, WrittenDeclarationIsReadBack) {
  DeclarationRow d = Decl("D1", "C1", "{\"declaration_id\":\"D1\"}");
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertDeclaration(d); }).ok());
  auto got = store_->GetDeclaration("D1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->json, d.json);
  EXPECT_EQ((*got)->content_sha256, d.content_sha256);
  EXPECT_EQ((*got)->consignment_id, "C1");
  EXPECT_EQ((*got)->date, 18628);
  auto none = store_->GetDeclaration("D2");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto of = store_->DeclarationsOf("C1");
  ASSERT_TRUE(of.ok());
  EXPECT_EQ(of->size(), 1u);
}

TEST_F(StoreTest, DuplicatePrimaryKeyIsAlreadyExists) {
  ASSERT_TRUE(
      store_->Write([&](StoreTxn& t) { return t.InsertDeclaration(Decl("D1", "C1", "a")); }).ok());
  Status s = store_->Write([&](StoreTxn& t) { return t.InsertDeclaration(Decl("D1", "C1", "b")); });
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  auto got = store_->GetDeclaration("D1");
  EXPECT_EQ((*got)->json, "a");
}

TEST_F(StoreTest, InsertIfAbsentReportsWhetherItInserted) {
  bool first = false, second = true;
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    CS_ASSIGN_OR_RETURN(first, t.InsertDeclarationIfAbsent(Decl("D1", "C1", "a")));
                    CS_ASSIGN_OR_RETURN(second, t.InsertDeclarationIfAbsent(Decl("D1", "C1", "b")));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_TRUE(first);
  EXPECT_FALSE(second);
  EXPECT_EQ((*store_->GetDeclaration("D1"))->json, "a");
}

TEST_F(StoreTest, TwoWritersOnOneDatabaseKeepOneAuditChain) {
  // A second process (here: a second Store) appends between this one's appends; the cached head
  // of each goes stale and must be re-read, never forked.
  auto other = Store::Open(options_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto append = [](Store& s, const std::string& who) {
    return s.Write([&](StoreTxn& t) {
      AuditEntry e{0, 0, who, "login", who, "{}", "", ""};
      return t.Audit(&e);
    });
  };
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(append(*store_, "a").ok());
    ASSERT_TRUE(append(**other, "b").ok());
  }
  auto rep = store_->VerifyAudit();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok) << rep->message;
  EXPECT_EQ(rep->entries, 20);
}

TEST_F(StoreTest, FailingOperationIsUndoneWithoutHarmingItsGroup) {
  // Many writers at once land in shared groups; every third op writes and then fails.
  constexpr int kThreads = 8, kPerThread = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "D" + std::to_string(t) + "_" + std::to_string(i);
        bool fail = (i % 3) == 0;
        Status s = store_->Write([&](StoreTxn& txn) -> Status {
          CS_RETURN_IF_ERROR(txn.InsertDeclaration(Decl(id, "C" + id, id)));
          AuditEntry e{0, 0, "test", "write", id, "{}", "", ""};
          CS_RETURN_IF_ERROR(txn.Audit(&e));
          if (fail) return Status::InvalidArgument("deliberate");
          return Status::Ok();
        });
        if (fail) {
          EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
          ++failures;
        } else {
          EXPECT_TRUE(s.ok()) << s.ToString();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  auto n = store_->CountDeclarations();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, kThreads * kPerThread - failures.load());
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kPerThread; ++i) {
      auto got = store_->GetDeclaration("D" + std::to_string(t) + "_" + std::to_string(i));
      ASSERT_TRUE(got.ok());
      EXPECT_EQ(got->has_value(), (i % 3) != 0);
    }
  // The undone ops' audit entries are gone too, and the chain has no gap.
  auto rep = store_->VerifyAudit();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok) << rep->message;
  EXPECT_EQ(rep->entries, kThreads * kPerThread - failures.load());
}

TEST_F(StoreTest, QueueFiltersSortsPagesAndCounts) {
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    for (int i = 0; i < 30; ++i) {
                      std::string ch = i % 3 == 0 ? "red" : i % 3 == 1 ? "yellow" : "green";
                      CS_RETURN_IF_ERROR(t.PutDecision(Decision(
                          "C" + std::to_string(100 + i), i / 30.0, ch, i < 20 ? "OFF1" : "OFF2")));
                    }
                    return Status::Ok();
                  })
                  .ok());
  QueueQuery q;
  q.channel = "red";
  q.limit = 4;
  auto page = store_->Queue(q);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->total, 10);
  ASSERT_EQ(page->items.size(), 4u);
  EXPECT_EQ(page->items[0].consignment_id, "C127");  // highest score first
  for (size_t i = 1; i < page->items.size(); ++i)
    EXPECT_GE(page->items[i - 1].score, page->items[i].score);
  q.offset = 8;
  page = store_->Queue(q);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[1].consignment_id, "C100");
  QueueQuery lane;
  lane.lane = "OFF2";
  lane.status = "pending";
  lane.sort = "consignment_id";
  page = store_->Queue(lane);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 6);  // 10 of OFF2, minus 4 green (C120, C123, C126, C129)
  EXPECT_EQ(page->items.front().consignment_id, "C121");
  QueueQuery bad;
  bad.sort = "score; DROP TABLE consignments";
  EXPECT_EQ(store_->Queue(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, QueueSearchesAndSortsByTheFirstDeclaration) {
  struct D {
    const char *id, *consignment, *importer, *hs, *description;
    double value;
  };
  const D decls[] = {
      {"D1", "C1", "IMP-Alpha", "030611", "Frozen lobster tails", 500},
      {"D2", "C1", "IMP-Alpha", "851712", "phone parts", 80},
      {"D3", "C2", "imp-beta", "851712", "Mobile phones 100% new", 9000},
      {"D4", "C3", "IMP-GAMMA", "610910", "T-shirts, cotton", 40},
  };
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    for (const D& d : decls) {
                      std::string body =
                          std::string("{\"declaration_id\":\"") + d.id + "\",\"importer_id\":\"" +
                          d.importer + "\",\"hs_code\":\"" + d.hs + "\",\"description\":\"" +
                          d.description + "\",\"declared_value\":" + std::to_string(d.value) + "}";
                      CS_RETURN_IF_ERROR(t.InsertDeclaration(Decl(d.id, d.consignment, body)));
                    }
                    CS_RETURN_IF_ERROR(t.PutDecision(Decision("C1", 0.2, "red")));
                    CS_RETURN_IF_ERROR(t.PutDecision(Decision("C2", 0.9, "red")));
                    CS_RETURN_IF_ERROR(t.PutDecision(Decision("C3", 0.5, "red")));
                    CS_RETURN_IF_ERROR(t.PutDecision(Decision("C4-SCAN-ONLY", 0.7, "red")));
                    return Status::Ok();
                  })
                  .ok());
  auto ids = [&](const std::string& search, const std::string& sort = "consignment_id") {
    QueueQuery q;
    q.search = search;
    q.sort = sort;
    auto page = store_->Queue(q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::string out;
    if (!page.ok()) return out;
    for (const auto& d : page->items) out += (out.empty() ? "" : ",") + d.consignment_id;
    EXPECT_EQ(page->total, static_cast<int64_t>(page->items.size()));
    return out;
  };
  EXPECT_EQ(ids("imp-alpha"), "C1");            // importer, any case
  EXPECT_EQ(ids("8517"), "C1,C2");              // HS prefix, any declaration of the consignment
  EXPECT_EQ(ids("8517.12"), "C1,C2");           // as printed in a tariff
  EXPECT_EQ(ids("0611"), "");                   // a prefix, not a substring, of the HS code
  EXPECT_EQ(ids("LOBSTER"), "C1");              // description
  EXPECT_EQ(ids("100%"), "C2");                 // a wildcard is a character
  EXPECT_EQ(ids("_"), "");                      // also this one
  EXPECT_EQ(ids("d4"), "C3");                   // declaration id
  EXPECT_EQ(ids("scan-only"), "C4-SCAN-ONLY");  // consignment id
  EXPECT_EQ(ids(""), "C1,C2,C3,C4-SCAN-ONLY");  // no search: all
  EXPECT_EQ(ids("", "-value"), "C2,C1,C3,C4-SCAN-ONLY");    // first declaration's value
  EXPECT_EQ(ids("", "importer"), "C4-SCAN-ONLY,C1,C3,C2");  // '' first, then byte order
  EXPECT_EQ(ids("", "hs"), "C4-SCAN-ONLY,C1,C3,C2");
  EXPECT_EQ(ids("", "-score"), "C2,C4-SCAN-ONLY,C3,C1");

  // Declarations stored before the search fields existed get them when the store opens again.
  {
    auto raw = RawConn();
    ASSERT_TRUE(raw);
    ASSERT_TRUE(raw->Exec("UPDATE declarations SET importer_id = NULL, hs_code = NULL, "
                          "declared_value = NULL, search_text = NULL",
                          {})
                    .ok());
  }
  EXPECT_EQ(ids("lobster"), "");
  Reopen();
  EXPECT_EQ(ids("lobster"), "C1");
  EXPECT_EQ(ids("8517"), "C1,C2");
  EXPECT_EQ(ids("", "-value"), "C2,C1,C3,C4-SCAN-ONLY");
}

TEST_F(StoreTest, OutcomesPerOfficeChapterAndOriginKeepControlAndTargetedApart) {
  // Office A: two targeted red (one confirmed), one control (confirmed), one green. Office B:
  // one targeted red without an outcome, and a scan-only consignment (no declaration).
  struct C {
    const char *id, *lane, *hs, *origin, *channel;
    bool control;
    const char* outcome;
  };
  const C cs[] = {{"G1", "A", "851712", "CN", "red", false, "narcotics"},
                  {"G2", "A", "851713", "CN", "red", false, "nothing"},
                  {"G3", "A", "610910", "BD", "red", true, "cigarettes"},
                  {"G4", "A", "610910", "BD", "green", false, ""},
                  {"G5", "B", "851712", "VN", "red", false, ""}};
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    for (const C& c : cs) {
                      std::string body = std::string("{\"declaration_id\":\"D") + c.id +
                                         "\",\"hs_code\":\"" + c.hs + "\",\"origin_country\":\"" +
                                         c.origin + "\"}";
                      CS_RETURN_IF_ERROR(
                          t.InsertDeclaration(Decl(std::string("D") + c.id, c.id, body)));
                      DecisionRow d = Decision(c.id, 0.5, c.channel, c.lane);
                      d.control = c.control;
                      CS_RETURN_IF_ERROR(t.PutDecision(d));
                    }
                    return t.PutDecision(Decision("G6", 0.1, "green", "B"));
                  })
                  .ok());
  for (const C& c : cs) {
    if (!*c.outcome) continue;
    OutcomeRow o = Outcome(c.id, 0, c.outcome, -1, "", "officer1", 0);
    ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertOutcome(&o); }).ok());
  }
  auto office = store_->GroupStats("office");
  ASSERT_TRUE(office.ok()) << office.status().ToString();
  ASSERT_EQ(office->size(), 2u);
  const GroupOutcomeStats& a = (*office)[0];  // most decisions first
  EXPECT_EQ(a.group, "A");
  EXPECT_EQ(a.decisions, 4);
  EXPECT_EQ(a.targeted, 2);
  EXPECT_EQ(a.targeted_with_outcome, 2);
  EXPECT_EQ(a.targeted_confirmed, 1);
  EXPECT_EQ(a.control, 1);
  EXPECT_EQ(a.control_with_outcome, 1);
  EXPECT_EQ(a.control_confirmed, 1);
  EXPECT_EQ((*office)[1].targeted_with_outcome, 0);
  auto chapter = store_->GroupStats("hs_chapter");
  ASSERT_TRUE(chapter.ok()) << chapter.status().ToString();
  std::map<std::string, GroupOutcomeStats> by;
  for (const auto& g : *chapter) by[g.group] = g;
  EXPECT_EQ(by["85"].decisions, 3);
  EXPECT_EQ(by["85"].targeted_confirmed, 1);
  EXPECT_EQ(by["61"].control_confirmed, 1);
  EXPECT_EQ(by[""].decisions, 1);  // the scan-only consignment
  auto origin = store_->GroupStats("origin");
  ASSERT_TRUE(origin.ok()) << origin.status().ToString();
  by.clear();
  for (const auto& g : *origin) by[g.group] = g;
  EXPECT_EQ(by["CN"].targeted_with_outcome, 2);
  EXPECT_EQ(by["BD"].control, 1);
  EXPECT_EQ(by["VN"].targeted, 1);
  EXPECT_EQ(store_->GroupStats("importer").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, OutcomesCloseTheDecisionAndFeedStatistics) {
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    CS_RETURN_IF_ERROR(t.PutDecision(Decision("C1", 0.9, "red")));
                    CS_RETURN_IF_ERROR(t.PutDecision(Decision("C2", 0.8, "red")));
                    CS_RETURN_IF_ERROR(t.PutDecision(Decision("C3", 0.1, "green")));
                    CS_RETURN_IF_ERROR(t.PutRuleHits("C1", {"cheap phones", "risky route"}));
                    CS_RETURN_IF_ERROR(t.PutRuleHits("C2", {"cheap phones"}));
                    return t.PutRuleHits("C2", {"cheap phones"});  // again: no double count
                  })
                  .ok());
  OutcomeRow o1 = Outcome("C1", 0, "narcotics", -1, "in the lining", "officer1", 0);
  OutcomeRow o2 = Outcome("C2", 0, "undervaluation", 1234.5, "", "officer1", 0);
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertOutcome(&o1); }).ok());
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertOutcome(&o2); }).ok());
  OutcomeRow o3 = Outcome("C2", 0, "nothing", -1, "correction", "officer2", 0);
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertOutcome(&o3); }).ok());
  EXPECT_EQ(o3.seq, 2);
  auto d = store_->GetDecision("C1");
  EXPECT_EQ((*d)->status, "done");
  EXPECT_EQ((*d)->outcome, "narcotics");
  auto outs = store_->OutcomesOf("C2");
  ASSERT_EQ(outs->size(), 2u);
  EXPECT_DOUBLE_EQ((*outs)[0].corrected_value, 1234.5);
  EXPECT_LT((*outs)[1].corrected_value, 0);
  auto rules = store_->RuleStats();
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ((*rules)[0].rule, "cheap phones");
  EXPECT_EQ((*rules)[0].hits, 2);
  EXPECT_EQ((*rules)[0].with_outcome, 2);
  EXPECT_EQ((*rules)[0].confirmed, 1);  // C2's latest outcome is "nothing"
  auto channels = store_->ChannelStats();
  ASSERT_TRUE(channels.ok());
  int64_t red_confirmed = 0, decisions = 0;
  for (const auto& c : *channels) {
    decisions += c.decisions;
    if (c.channel == "red") red_confirmed += c.confirmed;
  }
  EXPECT_EQ(decisions, 3);
  EXPECT_EQ(red_confirmed, 1);
}

TEST_F(StoreTest, OutcomeDetailIsKeptAndNotInspectedIsNoInspection) {
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    CS_RETURN_IF_ERROR(t.PutDecision(Decision("C1", 0.9, "red")));
                    CS_RETURN_IF_ERROR(t.PutDecision(Decision("C2", 0.8, "red")));
                    CS_RETURN_IF_ERROR(t.PutRuleHits("C1", {"cheap phones"}));
                    return t.PutRuleHits("C2", {"cheap phones"});
                  })
                  .ok());
  OutcomeRow found = Outcome("C1", 0, "cigarettes", -1, "behind the panel", "olga", 0);
  found.seized_quantity = 12.5;
  found.seized_unit = "cartons";
  found.revenue_recovered = 830.25;
  found.revenue_currency = "EUR";
  OutcomeRow skipped = Outcome("C2", 0, std::string(kNotInspected), -1, "", "olga", 0);
  skipped.not_inspected_reason = "consignment not presented";
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertOutcome(&found); }).ok());
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertOutcome(&skipped); }).ok());
  auto c1 = store_->OutcomesOf("C1");
  ASSERT_TRUE(c1.ok()) << c1.status().ToString();
  ASSERT_EQ(c1->size(), 1u);
  EXPECT_DOUBLE_EQ((*c1)[0].seized_quantity, 12.5);
  EXPECT_EQ((*c1)[0].seized_unit, "cartons");
  EXPECT_DOUBLE_EQ((*c1)[0].revenue_recovered, 830.25);
  EXPECT_EQ((*c1)[0].revenue_currency, "EUR");
  EXPECT_EQ((*c1)[0].not_inspected_reason, "");
  auto c2 = store_->OutcomesOf("C2");
  ASSERT_EQ(c2->size(), 1u);
  EXPECT_EQ((*c2)[0].not_inspected_reason, "consignment not presented");
  EXPECT_LT((*c2)[0].seized_quantity, 0);
  EXPECT_LT((*c2)[0].revenue_recovered, 0);
  // Not inspected closes the consignment, but no statistic counts it as an inspection.
  auto d2 = store_->GetDecision("C2");
  EXPECT_EQ((*d2)->status, "done");
  EXPECT_EQ((*d2)->outcome, "not_inspected");
  auto rules = store_->RuleStats();
  ASSERT_TRUE(rules.ok() && rules->size() == 1u);
  EXPECT_EQ((*rules)[0].hits, 2);
  EXPECT_EQ((*rules)[0].with_outcome, 1);
  EXPECT_EQ((*rules)[0].confirmed, 1);
  auto channels = store_->ChannelStats();
  ASSERT_TRUE(channels.ok());
  for (const auto& c : *channels) {
    if (c.channel == "red") EXPECT_EQ(c.with_outcome, 1);
  }
  auto sources = store_->SourceStats();
  ASSERT_TRUE(sources.ok()) << sources.status().ToString();
  for (const auto& s : *sources) EXPECT_EQ(s.with_outcome, 1) << s.source;
  EXPECT_FALSE(IsInspectionResult("not_inspected"));
  EXPECT_FALSE(IsInspectionResult(""));
  EXPECT_TRUE(IsInspectionResult("nothing"));
}

TEST_F(StoreTest, AttachmentsBelongToAnOutcomeAndAreStoredOnce) {
  ASSERT_TRUE(
      store_->Write([&](StoreTxn& t) { return t.PutDecision(Decision("C1", 0.9, "red")); }).ok());
  OutcomeRow found = Outcome("C1", 0, "narcotics", -1, "", "olga", 0);
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertOutcome(&found); }).ok());
  auto sha = store_->PutImage("\xFF\xD8\xFF\xE0 a photo");
  ASSERT_TRUE(sha.ok());
  AttachmentRow a{"C1", found.seq, *sha, "image/jpeg", 12, "find.jpg", "olga", 0};
  bool inserted = false;
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    CS_ASSIGN_OR_RETURN(inserted, t.InsertAttachment(a));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_TRUE(inserted);
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    CS_ASSIGN_OR_RETURN(inserted, t.InsertAttachment(a));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_FALSE(inserted) << "the same photo on the same outcome is stored once";
  AttachmentRow orphan = a;
  orphan.outcome_seq = 7;
  Status s = store_->Write([&](StoreTxn& t) { return t.InsertAttachment(orphan).status(); });
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  auto outs = store_->OutcomesOf("C1");
  ASSERT_TRUE(outs.ok() && outs->size() == 1u);
  ASSERT_EQ((*outs)[0].attachments.size(), 1u);
  const AttachmentRow& back = (*outs)[0].attachments[0];
  EXPECT_EQ(back.sha256, *sha);
  EXPECT_EQ(back.content_type, "image/jpeg");
  EXPECT_EQ(back.name, "find.jpg");
  EXPECT_EQ(back.uploaded_by, "olga");
  EXPECT_GT(back.uploaded_ms, 0);
  auto got = store_->GetAttachment("C1", *sha);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->outcome_seq, found.seq);
  EXPECT_FALSE(store_->GetAttachment("C2", *sha)->has_value());
  EXPECT_EQ(*store_->ReadImage(back.sha256), "\xFF\xD8\xFF\xE0 a photo");
}

TEST_F(StoreTest, AnOutcomeWrittenWithoutTheDetailColumnsReadsBackWithout) {
  // As a program of schema 10 wrote it: the new columns take their defaults.
  auto c = RawConn();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Exec("INSERT INTO outcomes (consignment_id, seq, result, corrected_value, notes, "
                      "officer, recorded_ms) VALUES ('OLD', 1, 'narcotics', NULL, '', 'olga', 5)",
                      {})
                  .ok());
  auto outs = store_->OutcomesOf("OLD");
  ASSERT_TRUE(outs.ok() && outs->size() == 1u) << outs.status().ToString();
  EXPECT_EQ((*outs)[0].result, "narcotics");
  EXPECT_EQ((*outs)[0].not_inspected_reason, "");
  EXPECT_LT((*outs)[0].seized_quantity, 0);
  EXPECT_EQ((*outs)[0].seized_unit, "");
  EXPECT_LT((*outs)[0].revenue_recovered, 0);
  EXPECT_TRUE((*outs)[0].attachments.empty());
}

TEST_F(StoreTest, RulesVersionsListNewestFirstAndKeepWhatARollbackRestored) {
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    CS_RETURN_IF_ERROR(t.InsertRulesVersion("rule a", "alice").status());
                    CS_RETURN_IF_ERROR(t.InsertRulesVersion("rule b", "bob").status());
                    CS_ASSIGN_OR_RETURN(int64_t v, t.InsertRulesVersion("rule a", "carol", 1));
                    EXPECT_EQ(v, 3);
                    CS_ASSIGN_OR_RETURN(auto back, t.GetRulesVersion(3));
                    EXPECT_TRUE(back && back->restored_from == 1);
                    return Status::Ok();
                  })
                  .ok());
  auto all = store_->RulesVersions(10);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].version, 3);
  EXPECT_EQ((*all)[0].author, "carol");
  EXPECT_EQ((*all)[0].restored_from, 1);
  EXPECT_FALSE((*all)[1].restored_from.has_value());
  EXPECT_EQ((*all)[2].text, "rule a");
  auto two = store_->RulesVersions(2);
  ASSERT_TRUE(two.ok() && two->size() == 2u);
  EXPECT_EQ((*two)[1].version, 2);
  auto v2 = store_->GetRulesVersion(2);
  ASSERT_TRUE(v2.ok() && v2->has_value());
  EXPECT_EQ((*v2)->text, "rule b");
  EXPECT_FALSE(store_->GetRulesVersion(9)->has_value());
  auto latest = store_->LatestRules();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->restored_from, 1);
}

TEST_F(StoreTest, RuleWeeklyStatsCountHitsAndControlOutcomesPerWeek) {
  auto none = store_->RuleWeeklyStats(4);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->last_date.has_value());
  // 18628 is Friday 2021-01-01 (its week's Monday is 18624, 2020-12-28); 18640 is Wednesday
  // 2021-01-13.
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    for (auto [id, date, control] : {std::tuple{"W1", 18628, false},
                                                     {"W2", 18628, true},
                                                     {"W3", 18640, false},
                                                     {"OLD", 18500, false}}) {
                      DecisionRow d = Decision(id, 0.9, "red");
                      d.date = date;
                      d.control = control;
                      CS_RETURN_IF_ERROR(t.PutDecision(d));
                      if (!control) CS_RETURN_IF_ERROR(t.PutRuleHits(id, {"cheap phones"}));
                    }
                    return Status::Ok();
                  })
                  .ok());
  for (auto [id, result] : {std::pair{"W1", "narcotics"}, {"W2", "nothing"}, {"W3", "nothing"}}) {
    OutcomeRow o{id, 0, result, -1, "", "officer1", 0};
    ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertOutcome(&o); }).ok());
  }
  auto w = store_->RuleWeeklyStats(3);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->last_date, 18640);
  ASSERT_EQ(w->rules.size(), 2u);  // OLD is weeks before the window
  EXPECT_EQ(w->rules[0].rule, "cheap phones");
  EXPECT_EQ(w->rules[0].week, 18624);
  EXPECT_EQ(w->rules[0].hits, 1);
  EXPECT_EQ(w->rules[0].with_outcome, 1);
  EXPECT_EQ(w->rules[0].confirmed, 1);
  EXPECT_EQ(w->rules[1].week, 18638);
  EXPECT_EQ(w->rules[1].confirmed, 0);
  ASSERT_EQ(w->control.size(), 1u);
  EXPECT_EQ(w->control[0].week, 18624);
  EXPECT_EQ(w->control[0].hits, 1);
  EXPECT_EQ(w->control[0].with_outcome, 1);
}

TEST_F(StoreTest, SelectionCountsAndRecentScoresRebuildTheSelector) {
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    for (int i = 0; i < 6; ++i) {
                      DecisionRow d =
                          Decision("C" + std::to_string(i), 0.1 * i, i < 2 ? "red" : "green");
                      d.control = i == 0;
                      d.created_ms = 1000 + i;
                      CS_RETURN_IF_ERROR(t.PutDecision(d));
                    }
                    return Status::Ok();
                  })
                  .ok());
  auto counts = store_->SelectionCounts(18000);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  int64_t total = 0, control = 0;
  for (const auto& c : *counts) {
    total += c.count;
    if (c.control) control += c.count;
    EXPECT_EQ(c.lane, "OFF1");
  }
  EXPECT_EQ(total, 6);
  EXPECT_EQ(control, 1);
  auto recent = store_->RecentScores(4);
  ASSERT_TRUE(recent.ok()) << recent.status().ToString();
  ASSERT_EQ(recent->size(), 4u);
  EXPECT_NEAR(recent->front().second, 0.2, 1e-9);  // oldest of the last four
  EXPECT_NEAR(recent->back().second, 0.5, 1e-9);
}

TEST_F(StoreTest, UsersSessionsRulesAndSettings) {
  UserRow u{"alice", "officer", "$argon2id$fake", false, 0};
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.PutUser(u); }).ok());
  u.role = "analyst";
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.PutUser(u); }).ok());
  auto got = store_->GetUser("alice");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->role, "analyst");
  SessionRow s{std::string(64, 'a'), "alice", "analyst", NowMs() + 60000};
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.PutSession(s); }).ok());
  auto sess = store_->GetSession(s.token_sha256);
  ASSERT_TRUE(sess.ok() && sess->has_value());
  EXPECT_EQ((*sess)->username, "alice");
  // The session carries the user's role as it is now, and none once the user is disabled.
  u.role = "officer";
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.PutUser(u); }).ok());
  EXPECT_EQ((*store_->GetSession(s.token_sha256))->role, "officer");
  u.disabled = true;
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.PutUser(u); }).ok());
  EXPECT_FALSE(store_->GetSession(s.token_sha256)->has_value());
  u.disabled = false;
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.PutUser(u); }).ok());
  ASSERT_TRUE(store_->GetSession(s.token_sha256)->has_value());
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.DeleteSession(s.token_sha256); }).ok());
  EXPECT_FALSE(store_->GetSession(s.token_sha256)->has_value());
  SessionRow s2{std::string(64, 'b'), "alice", "officer", NowMs() + 60000};
  SessionRow s3{std::string(64, 'c'), "alice", "officer", NowMs() + 60000};
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    CS_RETURN_IF_ERROR(t.PutSession(s2));
                    return t.PutSession(s3);
                  })
                  .ok());
  int64_t ended = 0;
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    CS_ASSIGN_OR_RETURN(ended, t.DeleteSessionsOf("alice"));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(ended, 2);
  EXPECT_FALSE(store_->GetSession(s2.token_sha256)->has_value());
  int64_t v1 = 0, v2 = 0;
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    CS_ASSIGN_OR_RETURN(v1, t.InsertRulesVersion("rule a", "alice"));
                    CS_ASSIGN_OR_RETURN(v2, t.InsertRulesVersion("rule b", "bob"));
                    return t.PutSetting("capacity", "{\"red_share\":0.1}");
                  })
                  .ok());
  EXPECT_EQ(v2, v1 + 1);
  auto latest = store_->LatestRules();
  EXPECT_EQ((*latest)->text, "rule b");
  EXPECT_EQ(*store_->GetSetting("capacity").value(), "{\"red_share\":0.1}");
  EXPECT_FALSE(store_->GetSetting("nothing")->has_value());
}

TEST_F(StoreTest, ImagesAreContentAddressedAndIdsCannotEscape) {
  std::string bytes(100000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  auto sha = store_->PutImage(bytes);
  ASSERT_TRUE(sha.ok()) << sha.status().ToString();
  EXPECT_EQ(*sha, Sha256Hex(bytes));
  auto again = store_->PutImage(bytes);
  EXPECT_EQ(*again, *sha);
  auto read = store_->ReadImage(*sha);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, bytes);
  EXPECT_TRUE(fs::exists(fs::path(options_.images_dir) / sha->substr(0, 2) / *sha));
  for (const std::string& bad : std::vector<std::string>{
           "../../etc/passwd", "", std::string(64, 'A'), sha->substr(0, 63) + "/",
           "..%2f..%2fetc%2fpasswd", std::string(63, 'a') + "g"})
    EXPECT_EQ(store_->ReadImage(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  EXPECT_EQ(store_->ReadImage(std::string(64, 'b')).status().code(), StatusCode::kNotFound);
}

TEST(StoreUrl, EmptyUrlIsInvalid) {
  StoreOptions o;
  EXPECT_EQ(Store::Open(o).status().code(), StatusCode::kInvalidArgument);
  o.url = "postgresql://nobody@127.0.0.1:1/x";
  EXPECT_EQ(Store::Open(o).status().code(), StatusCode::kInvalidArgument);  // no image directory
}

TEST(StoreUrl, FileThatIsNotADatabaseIsDataLoss) {
  auto path = fs::temp_directory_path() / ("cs_notdb_" + std::to_string(::getpid()));
  { std::ofstream(path) << std::string(5000, 'x'); }
  StoreOptions o;
  o.url = path.string();
  auto s = Store::Open(o);
  EXPECT_FALSE(s.ok());
  fs::remove(path);
  fs::remove_all(path.string() + ".images");
}

TEST_F(StoreTest, DecidedDeclarationsJoinDeclarationDecisionAndLatestOutcome) {
  DeclarationRow d1 = Decl("DD1", "CD1", R"({"declaration_id":"DD1"})");
  DeclarationRow d2 = Decl("DD2", "CD2", R"({"declaration_id":"DD2"})");
  // Never decided: not returned.
  DeclarationRow d3 = Decl("DD3", "CD3", R"({"declaration_id":"DD3"})");
  DecisionRow c1 = Decision("CD1", 0.9, "red");
  c1.control = true;
  c1.propensity = 0.005;
  DecisionRow c2 = Decision("CD2", 0.1, "green");
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    for (const auto* d : {&d1, &d2, &d3})
                      CS_RETURN_IF_ERROR(t.InsertDeclaration(*d));
                    CS_RETURN_IF_ERROR(t.PutDecision(c1));
                    CS_RETURN_IF_ERROR(t.PutDecision(c2));
                    OutcomeRow o;
                    o.consignment_id = "CD1";
                    o.result = "nothing";
                    o.officer = "ann";
                    CS_RETURN_IF_ERROR(t.InsertOutcome(&o));
                    o.result = "narcotics";  // a correction: the latest counts
                    return t.InsertOutcome(&o);
                  })
                  .ok());
  auto rows = store_->DecidedDeclarations(INT32_MIN, INT32_MAX);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].consignment_id, "CD1");
  EXPECT_TRUE((*rows)[0].control);
  EXPECT_EQ((*rows)[0].outcome, "narcotics");
  ASSERT_TRUE((*rows)[0].propensity.has_value());
  EXPECT_DOUBLE_EQ(*(*rows)[0].propensity, 0.005);
  EXPECT_EQ((*rows)[0].declaration_json, d1.json);
  EXPECT_EQ((*rows)[1].outcome, "");
  EXPECT_EQ((*rows)[1].channel, "green");
  auto none = store_->DecidedDeclarations(d1.date + 1, INT32_MAX);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// Horizon scanning's read of the X-ray findings: the scans of consignments declared from a date on
// whose findings are stored (the "scan:<id>" evidence row), by scan id, bounded, with the total.
TEST_F(StoreTest, ScanFindingsSinceReadsAssessedScansOfConsignmentsDeclaredFromADate) {
  DeclarationRow old = Decl("SF0", "CS0", R"({"declaration_id":"SF0"})");
  old.date = 18000;
  DeclarationRow d1 = Decl("SF1", "CS1", R"({"declaration_id":"SF1"})");
  DeclarationRow d2 = Decl("SF2", "CS2", R"({"declaration_id":"SF2"})");
  auto scan = [](const std::string& id, const std::string& consignment) {
    ScanRow r;
    r.scan_id = id;
    r.consignment_id = consignment;
    r.image_sha256 = std::string(64, 'a');
    r.source_format = "tiff";
    r.meta_json = r.analysis_json = "{}";
    r.width = r.height = 8;
    r.received_ms = NowMs();
    return r;
  };
  ASSERT_TRUE(
      store_
          ->Write([&](StoreTxn& t) -> Status {
            for (const auto* d : {&old, &d1, &d2}) CS_RETURN_IF_ERROR(t.InsertDeclaration(*d));
            // Assessed: b and a (read by id), the old consignment's; not assessed: c;
            // a training image: no declaration.
            for (const auto& [id, consignment] : std::vector<std::pair<std::string, std::string>>{
                     {"b", "CS1"}, {"a", "CS2"}, {"c", "CS2"}, {"o", "CS0"}, {"t", "training:1"}})
              CS_RETURN_IF_ERROR(t.InsertScan(scan(id, consignment)));
            CS_RETURN_IF_ERROR(t.PutFindings("CS1", "scan:b", R"([{"kind":"threat:knife"}])"));
            CS_RETURN_IF_ERROR(t.PutFindings("CS2", "scan:a", "[]"));
            CS_RETURN_IF_ERROR(t.PutFindings("CS2", "declaration:SF2", R"([{"kind":"x"}])"));
            CS_RETURN_IF_ERROR(t.PutFindings("CS0", "scan:o", "[]"));
            return t.PutFindings("training:1", "scan:t", "[]");
          })
          .ok());
  auto recent = store_->ScanFindingsSince(d1.date, 10);
  ASSERT_TRUE(recent.ok()) << recent.status().ToString();
  EXPECT_EQ(recent->total, 2);
  ASSERT_EQ(recent->rows.size(), 2u);
  EXPECT_EQ(recent->rows[0].scan_id, "a");
  EXPECT_EQ(recent->rows[0].consignment_id, "CS2");
  EXPECT_EQ(recent->rows[0].findings_json, "[]");
  EXPECT_EQ(recent->rows[1].scan_id, "b");
  EXPECT_EQ(recent->rows[1].findings_json, R"([{"kind":"threat:knife"}])");
  auto all = store_->ScanFindingsSince(old.date, 1);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->total, 3);
  ASSERT_EQ(all->rows.size(), 1u);
  EXPECT_EQ(all->rows[0].scan_id, "a");
  EXPECT_FALSE(store_->ScanFindingsSince(old.date, 0).ok());
}

TEST_F(StoreTest, TrainingSessionsAssignmentsAndTrialsRoundTrip) {
  EXPECT_GE(store_->schema_version(), 10);
  TrainingSessionRow session{0, "Week 1", "tom", 0, R"({"images":3})"};
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertTrainingSession(&session); }).ok());
  EXPECT_EQ(session.session_id, 1);
  TrainingSessionRow second{0, "Week 2", "tom", 0, "{}"};
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertTrainingSession(&second); }).ok());
  EXPECT_EQ(second.session_id, 2);
  auto sessions = store_->TrainingSessions();
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->size(), 2u);
  EXPECT_EQ((*sessions)[0].name, "Week 1");
  EXPECT_EQ((*sessions)[0].settings_json, R"({"images":3})");
  EXPECT_GT((*sessions)[0].created_ms, 0);
  auto one = store_->GetTrainingSession(2);
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->name, "Week 2");
  EXPECT_FALSE(store_->GetTrainingSession(9)->has_value());

  bool inserted = false;
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    CS_ASSIGN_OR_RETURN(inserted, t.PutTrainingAssignment({1, "olga", "tom", 0}));
                    CS_ASSIGN_OR_RETURN(bool again, t.PutTrainingAssignment({1, "olga", "tom", 0}));
                    EXPECT_FALSE(again);
                    return t.PutTrainingAssignment({2, "olga", "tom", 0}).status();
                  })
                  .ok());
  EXPECT_TRUE(inserted);
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) {
                    return t.PutTrainingAssignment({1, "oscar", "tom", 0}).status();
                  })
                  .ok());
  EXPECT_EQ(store_->TrainingAssignments("olga")->size(), 2u);
  EXPECT_EQ(store_->TrainingAssignments("")->size(), 3u);
  EXPECT_TRUE(store_->TrainingAssignments("nobody")->empty());

  TrainingTrialRow trial;
  trial.session_id = 1;
  trial.trainee = "olga";
  trial.index = 0;
  trial.scan_id = "trn-1";
  trial.source = "simulated:42";
  trial.threat = true;
  trial.threat_class = "knife";
  trial.threat_name = "knife_0";
  trial.box_x0 = 10, trial.box_y0 = 20, trial.box_x1 = 50, trial.box_y1 = 40;
  trial.mask_rle_json = "[100,5]";
  trial.size_scale = 0.8;
  trial.clutter = 0.5;
  trial.level = 3;
  trial.time_limit_ms = 20000;
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertTrainingTrial(&trial); }).ok());
  EXPECT_EQ(trial.trial_id, 1);
  TrainingTrialRow same = trial;
  Status dup = store_->Write([&](StoreTxn& t) { return t.InsertTrainingTrial(&same); });
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists) << dup.ToString();
  TrainingTrialRow clean = trial;
  clean.index = 1;
  clean.threat = false;
  clean.threat_class = "";
  clean.scan_id = "trn-2";
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.InsertTrainingTrial(&clean); }).ok());
  EXPECT_EQ(clean.trial_id, 2);

  auto got = store_->GetTrainingTrial(1);
  ASSERT_TRUE(got.ok() && got->has_value());
  const TrainingTrialRow& g = **got;
  EXPECT_EQ(g.trainee, "olga");
  EXPECT_TRUE(g.threat);
  EXPECT_EQ(g.threat_class, "knife");
  EXPECT_EQ(g.box_x1, 50);
  EXPECT_EQ(g.mask_rle_json, "[100,5]");
  EXPECT_DOUBLE_EQ(g.size_scale, 0.8);
  EXPECT_EQ(g.level, 3);
  EXPECT_FALSE(g.responded_ms.has_value());

  TrainingTrialRow answer = g;
  answer.responded_ms = NowMs();
  answer.decision = "suspect";
  answer.mark_json = R"({"x":30,"y":30})";
  answer.response_ms = 4200;
  answer.hit = true;
  ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return t.RecordTrainingResponse(answer); }).ok());
  Status twice = store_->Write([&](StoreTxn& t) { return t.RecordTrainingResponse(answer); });
  EXPECT_EQ(twice.code(), StatusCode::kFailedPrecondition) << twice.ToString();
  answer.trial_id = 99;
  EXPECT_EQ(store_->Write([&](StoreTxn& t) { return t.RecordTrainingResponse(answer); }).code(),
            StatusCode::kNotFound);

  TrainingTrialQuery q;
  q.trainee = "olga";
  EXPECT_EQ(store_->TrainingTrials(q)->size(), 2u);
  q.responded_only = true;
  auto answered = store_->TrainingTrials(q);
  ASSERT_TRUE(answered.ok());
  ASSERT_EQ(answered->size(), 1u);
  EXPECT_EQ((*answered)[0].decision, "suspect");
  EXPECT_EQ((*answered)[0].response_ms, 4200);
  EXPECT_TRUE((*answered)[0].hit);
  EXPECT_EQ((*answered)[0].mark_json, R"({"x":30,"y":30})");
  q = {};
  q.session_id = 2;
  EXPECT_TRUE(store_->TrainingTrials(q)->empty());
  // Survives a reopen.
  Reopen();
  EXPECT_EQ(store_->TrainingSessions()->size(), 2u);
  EXPECT_TRUE((*store_->GetTrainingTrial(1))->hit);
}

TEST_F(StoreTest, CleanScanIdsAreScansOfConsignmentsFoundClean) {
  ASSERT_TRUE(store_
                  ->Write([&](StoreTxn& t) -> Status {
                    for (const char* id : {"C1", "C2", "C3"}) {
                      CS_RETURN_IF_ERROR(t.PutDecision(Decision(id, 0.9, "red")));
                      ScanRow s;
                      s.scan_id = std::string("S") + id;
                      s.consignment_id = id;
                      s.image_sha256 = std::string(64, 'a');
                      s.source_format = "tiff";
                      s.meta_json = "{}";
                      CS_RETURN_IF_ERROR(t.InsertScan(s));
                    }
                    OutcomeRow clean = Outcome("C1", 0, "nothing", -1, "", "olga", NowMs());
                    CS_RETURN_IF_ERROR(t.InsertOutcome(&clean));
                    OutcomeRow found = Outcome("C2", 0, "narcotics", -1, "", "olga", NowMs());
                    return t.InsertOutcome(&found);
                  })
                  .ok());
  auto ids = store_->CleanScanIds(10);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  EXPECT_EQ(*ids, std::vector<std::string>{"SC1"});
}

}  // namespace
}  // namespace clearsight
