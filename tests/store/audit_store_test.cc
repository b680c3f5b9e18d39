// The audit chain in the store, on SQLite (store_test) and PostgreSQL (store_pg_test): a tampered,
// deleted or recomputed row is detected; a signed chain cannot be recomputed without the key,
// anchors catch truncation, and a rotated key signs on while the old one still verifies.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "clearsight/store.h"
#include "store/sql_conn.h"
#include "store/store_fixture.h"

namespace clearsight {
namespace {

TEST_F(StoreTest, AuditChainVerifiesAndDetectsATamperedRow) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        store_
            ->Write([&](StoreTxn& t) {
              AuditEntry e{
                  0,  0, "alice", "outcome", "C" + std::to_string(i), "{\"result\":\"nothing\"}",
                  "", ""};
              return t.Audit(&e);
            })
            .ok());
  }
  auto rep = store_->VerifyAudit();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok) << rep->message;
  EXPECT_EQ(rep->entries, 20);
  auto first = store_->AuditRange(0, 1);
  ASSERT_TRUE(first.ok() && first->size() == 1);
  EXPECT_EQ((*first)[0].prev_hash, std::string(64, '0'));

  auto c = RawConn();
  // The append-only guard refuses a plain UPDATE.
  EXPECT_FALSE(
      c->Exec("UPDATE audit SET detail = '{\"result\":\"narcotics\"}' WHERE seq = 7", {}).ok());
  EXPECT_FALSE(c->Exec("DELETE FROM audit WHERE seq = 20", {}).ok());
  // Someone with full access removes the guard and rewrites entry 7.
  RemoveAuditGuards(*c);
  ASSERT_TRUE(
      c->Exec("UPDATE audit SET detail = '{\"result\":\"narcotics\"}' WHERE seq = 7", {}).ok());
  rep = store_->VerifyAudit();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad_seq, 7);
  EXPECT_NE(rep->message.find("entry 7"), std::string::npos) << rep->message;
}

TEST_F(StoreTest, AuditDetectsADeletedRowAndARecomputedHash) {
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(store_
                    ->Write([&](StoreTxn& t) {
                      AuditEntry e{0, 0, "bob", "login", "bob", "{}", "", ""};
                      return t.Audit(&e);
                    })
                    .ok());
  auto c = RawConn();
  RemoveAuditGuards(*c);
  // Rewriting entry 3 and recomputing its own hash still breaks the link from entry 4.
  auto rows = store_->AuditRange(2, 1);
  ASSERT_TRUE(rows.ok() && rows->size() == 1);
  AuditEntry e = (*rows)[0];
  e.actor = "mallory";
  ASSERT_TRUE(c->Exec("UPDATE audit SET actor = $1, hash = $2 WHERE seq = 3",
                      {e.actor, AuditHash(e.prev_hash, e)})
                  .ok());
  auto rep = store_->VerifyAudit();
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad_seq, 4);
  ASSERT_TRUE(c->Exec("DELETE FROM audit WHERE seq >= 3 AND seq <= 3", {}).ok());
  rep = store_->VerifyAudit();
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad_seq, 3);
}

// With a keyring outside the database, someone who can write the database cannot rewrite an entry
// and recompute the chain; and the anchors outside it show the newest entries removed.
TEST_F(StoreTest, ASignedChainCannotBeRecomputedAndAnchorsCatchTruncation) {
  options_.audit_key_path = (dir_ / "audit.key").string();
  options_.create_audit_key = true;
  Reopen();
  auto append = [&](int n, const std::string& actor) {
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(store_
                      ->Write([&](StoreTxn& t) {
                        AuditEntry e{0, 0, actor, "outcome", "C" + std::to_string(i), "{}", "", ""};
                        return t.Audit(&e);
                      })
                      .ok());
  };
  append(10, "alice");
  Reopen();  // closing writes an anchor of the head
  auto rep = store_->VerifyAudit();
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_TRUE(rep->ok) << rep->message;
  EXPECT_EQ(rep->signed_entries, 10);
  EXPECT_GE(rep->anchors, 1);
  EXPECT_EQ(rep->head_hash.substr(0, 3), "k1:");

  auto c = RawConn();
  RemoveAuditGuards(*c);
  // Rewrite entry 4 and recompute every later hash, as the unsigned chain allowed.
  auto all = store_->AuditRange(0, 100);
  ASSERT_TRUE(all.ok() && all->size() == 10);
  std::string prev = (*all)[2].hash;
  for (size_t i = 3; i < all->size(); ++i) {
    AuditEntry e = (*all)[i];
    if (i == 3) e.actor = "mallory";
    e.prev_hash = prev;
    e.hash = AuditHash(prev, e);
    ASSERT_TRUE(c->Exec("UPDATE audit SET actor = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
                        {e.actor, e.prev_hash, e.hash, e.seq})
                    .ok());
    prev = e.hash;
  }
  rep = store_->VerifyAudit();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad_seq, 4);
  EXPECT_NE(rep->message.find("not signed although earlier entries are"), std::string::npos)
      << rep->message;

  // Put the rows back, then remove the newest three: the chain that is left links, but the
  // anchor at entry 10 is beyond its end.
  for (const AuditEntry& e : *all)
    ASSERT_TRUE(c->Exec("UPDATE audit SET actor = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
                        {e.actor, e.prev_hash, e.hash, e.seq})
                    .ok());
  rep = store_->VerifyAudit();
  ASSERT_TRUE(rep.ok() && rep->ok) << rep->message;
  ASSERT_TRUE(c->Exec("DELETE FROM audit WHERE seq > 7", {}).ok());
  store_.reset();  // without writing a new anchor over the truncated head
  options_.create_audit_key = false;
  auto s = Store::Open(options_);
  ASSERT_TRUE(s.ok());
  rep = (*s)->VerifyAudit();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_NE(rep->message.find("newest entries were removed"), std::string::npos) << rep->message;
  s->reset();
  store_.reset();
}

TEST_F(StoreTest, ARotatedKeySignsOnAndTheOldOneStillVerifies) {
  const std::string key = (dir_ / "audit.key").string();
  options_.audit_key_path = key;
  options_.create_audit_key = true;
  Reopen();
  auto append = [&] {
    ASSERT_TRUE(store_
                    ->Write([&](StoreTxn& t) {
                      AuditEntry e{0, 0, "bob", "login", "bob", "{}", "", ""};
                      return t.Audit(&e);
                    })
                    .ok());
  };
  append();
  store_.reset();
  auto ring = AuditKeyring::Rotate(key);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  EXPECT_EQ(ring->signing_id(), "k2");
  Reopen();
  append();
  auto rep = store_->VerifyAudit();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok) << rep->message;
  auto rows = store_->AuditRange(0, 10);
  ASSERT_TRUE(rows.ok() && rows->size() == 2);
  EXPECT_EQ((*rows)[0].hash.substr(0, 3), "k1:");
  EXPECT_EQ((*rows)[1].hash.substr(0, 3), "k2:");
  // Without the keyring the signed log can be read but not appended to or verified.
  store_.reset();
  options_.audit_key_path.clear();
  Reopen();
  Status st = store_->Write([&](StoreTxn& t) {
    AuditEntry e{0, 0, "eve", "login", "eve", "{}", "", ""};
    return t.Audit(&e);
  });
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  rep = store_->VerifyAudit();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_NE(rep->message.find("audit key 'k1'"), std::string::npos) << rep->message;
  // A damaged keyring is named, line and all.
  std::ofstream(key, std::ios::app) << "k3 not-hex\n";
  options_.audit_key_path = key;
  auto bad = Store::Open(options_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("audit.key:3"), std::string::npos)
      << bad.status().ToString();
}

}  // namespace
}  // namespace clearsight
