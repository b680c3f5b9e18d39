// The store tests' fixture: a fresh store per test, on SQLite (store_test) or on a schema of the
// PostgreSQL server the test binary starts (store_pg_test, CS_STORE_POSTGRES), and row builders.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "clearsight/store.h"
#include "store/postgres_server.h"
#include "store/sql_conn.h"

namespace clearsight {

namespace fs = std::filesystem;

#ifdef CS_STORE_POSTGRES
// The server of this test binary (store_test.cc starts it before the tests).
extern testing::PostgresServer* g_pg;
#endif

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cs_store_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    options_.images_dir = (dir_ / "images").string();
#ifdef CS_STORE_POSTGRES
    ASSERT_NE(g_pg, nullptr);
    auto url =
        g_pg->CreateSchema("t" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    options_.url = *url;
#else
    options_.url = (dir_ / "cs.db").string();
#endif
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    auto s = Store::Open(options_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  // What someone with full database access does first: drop the append-only triggers.
  static void RemoveAuditGuards(store::SqlConn& c) {
#ifdef CS_STORE_POSTGRES
    ASSERT_TRUE(c.ExecScript("DROP TRIGGER audit_no_change ON audit").ok());
#else
    ASSERT_TRUE(c.ExecScript("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;").ok());
#endif
  }
  // A raw connection to the same database, for tampering like an attacker with database access.
  std::unique_ptr<store::SqlConn> RawConn() {
#ifdef CS_STORE_POSTGRES
    auto c = store::OpenPostgresConn(options_.url);
#else
    auto c = store::OpenSqliteConn(options_.url, true);
#endif
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  static DeclarationRow Decl(const std::string& id, const std::string& consignment,
                             const std::string& body) {
    return DeclarationRow{id, consignment, "OFF1", 18628, Sha256Hex(body), body, NowMs(), ""};
  }
  static OutcomeRow Outcome(const std::string& consignment, int64_t seq, const std::string& result,
                            double corrected_value, const std::string& notes,
                            const std::string& officer, int64_t recorded_ms) {
    OutcomeRow o;
    o.consignment_id = consignment;
    o.seq = seq;
    o.result = result;
    o.corrected_value = corrected_value;
    o.notes = notes;
    o.officer = officer;
    o.recorded_ms = recorded_ms;
    return o;
  }
  static DecisionRow Decision(const std::string& id, double score, const std::string& channel,
                              const std::string& lane = "OFF1") {
    DecisionRow d;
    d.consignment_id = id;
    d.lane = lane;
    d.date = 18628;
    d.score = score;
    d.channel = channel;
    d.status = channel == "green" ? "released" : "pending";
    d.version = 1;
    d.has_declaration = true;
    d.reasons_json = "[]";
    d.created_ms = d.updated_ms = NowMs();
    return d;
  }

  static inline int counter_ = 0;
  fs::path dir_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
};

}  // namespace clearsight
