// `horizon --db` on PostgreSQL: the same generated history (declarations, outcomes, X-ray scans
// and their findings, with trends of every kind planted) in a PostgreSQL store on a server the
// test starts and in an SQLite file gives the same report, signal for signal.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "clearsight/store.h"
#include "clearsight/text.h"
#include "horizon/horizon_history.h"
#include "store/postgres_server.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;

int RunCli(const std::string& args, const fs::path& log) {
  const std::string cmd = std::string(CS_CLI) + " " + args + " > " + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(HorizonPostgres, TheStorePathGivesTheSameSignalsAsOnSqlite) {
  auto server = testing::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const fs::path dir = fs::temp_directory_path() / ("cs_horizon_pg_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto pg_url = (*server)->CreateSchema("horizon_" + std::to_string(getpid()));
  ASSERT_TRUE(pg_url.ok()) << pg_url.status().ToString();

  testing::HistoryOptions options;
  options.plant = options.scans = options.plant_findings = true;
  const int32_t since = testing::Day("2025-10-02");
  const testing::History history =
      testing::GenerateHistory(2, options, testing::Day("2024-01-01"), since, 730);
  const int32_t first = since - 7 * 52;
  for (const std::string& url : {*pg_url, (dir / "cs.db").string()}) {
    StoreOptions so;
    so.url = url;
    so.images_dir = (dir / "images").string();
    auto store = Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    const Status filled = testing::FillStore(**store, history, first - 30);
    ASSERT_TRUE(filled.ok()) << filled.ToString();
  }
  const std::string tail = " --images " + (dir / "images").string() + " --since 2025-10-02 --json ";
  ASSERT_EQ(
      RunCli("horizon --db '" + *pg_url + "'" + tail + (dir / "pg.json").string(), dir / "pg.log"),
      0)
      << ReadText(dir / "pg.log");
  ASSERT_EQ(
      RunCli("horizon --db " + (dir / "cs.db").string() + tail + (dir / "sqlite.json").string(),
             dir / "sqlite.log"),
      0)
      << ReadText(dir / "sqlite.log");
  const auto pg = nlohmann::json::parse(ReadText(dir / "pg.json"));
  const auto sqlite = nlohmann::json::parse(ReadText(dir / "sqlite.json"));
  for (const char* field : {"since", "from", "to", "declarations", "scans", "tested"})
    EXPECT_EQ(pg[field], sqlite[field]) << field;
  EXPECT_GT(pg.value("scans", 0), 5000);
  ASSERT_EQ(pg["signals"].size(), sqlite["signals"].size());
  std::map<std::string, int> kinds;
  for (size_t i = 0; i < pg["signals"].size(); ++i) {
    const auto &a = pg["signals"][i], &b = sqlite["signals"][i];
    EXPECT_EQ(a["kind"], b["kind"]);
    EXPECT_EQ(a["key"], b["key"]);
    EXPECT_EQ(a["rank"], b["rank"]);
    EXPECT_EQ(a["first_date"], b["first_date"]);
    EXPECT_EQ(a["series"], b["series"]);
    EXPECT_NEAR(a["effect"].get<double>(), b["effect"].get<double>(), 1e-9) << a["summary"];
    EXPECT_NEAR(a["q_value"].get<double>(), b["q_value"].get<double>(),
                1e-9 * b["q_value"].get<double>())
        << a["summary"];
    kinds[a["kind"].get<std::string>()]++;
  }
  // Every kind shows, the finding shifts from the scans' stored findings among them.
  for (const char* kind : {"volume_shift", "new_route", "new_importer", "price_drop",
                           "hit_rate_shift", "finding_shift"})
    EXPECT_GT(kinds[kind], 0) << kind;
  for (const auto& p : history.finding_plants) {
    bool found = false;
    for (const auto& s : pg["signals"])
      found |= s["kind"] == "finding_shift" && s["key"].value("origin_country", "") == p.origin &&
               s["key"].value("office_id", "") == p.office &&
               s["key"].value("finding", "") == p.finding && s["rank"].get<int>() <= 5;
    EXPECT_TRUE(found) << p.finding << " from " << p.origin << " to " << p.office;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace clearsight
