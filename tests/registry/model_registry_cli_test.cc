// `clearsight model register|list|show|promote|rollback|reject` end to end: the real CLI on a
// real SQLite store with models trained by `clearsight model train`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace clearsight {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CliRun {
  int rc = 0;
  std::string out;  // stdout and stderr together
};

class ModelRegistryCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("cs_registry_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // Two small models on the first 1,500 and 3,000 declarations of the public training file.
    std::ifstream in(std::string(CS_DATA) + "/customs/df_syn_train_eng.csv");
    std::ofstream small(dir_ / "small.csv"), large(dir_ / "large.csv");
    std::string line;
    for (int i = 0; i <= 3000 && std::getline(in, line); ++i) {
      if (i <= 1500) small << line << "\n";
      large << line << "\n";
    }
    small.close();
    large.close();
    for (const char* name : {"small", "large"}) {
      CliRun r =
          Cli(std::string("model train --format kcs --trees 5 --depth 3 --no-baseline --quiet "
                          "--train ") +
              (dir_ / (std::string(name) + ".csv")).string() + " --out " + (dir_ / name).string());
      ASSERT_EQ(r.rc, 0) << r.out;
    }
    std::ofstream(dir_ / "metrics.json") << R"({"auc": 0.93, "precision_at": {"5": 0.9}})";
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static CliRun Cli(const std::string& args) {
    const fs::path log = dir_ / "cli.log";
    const std::string cmd = std::string(CS_CLI) + " " + args + " > " + log.string() + " 2>&1";
    const int status = std::system(cmd.c_str());
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    return CliRun{WIFEXITED(status) ? WEXITSTATUS(status) : 128, text.str()};
  }
  static std::string Db() { return "--db " + (dir_ / "cs.db").string() + " "; }
  static json Json(const CliRun& r) {
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  static inline fs::path dir_;
};

TEST_F(ModelRegistryCli, RegistersListsShowsPromotesRollsBackAndAuditsEveryChange) {
  CliRun empty = Cli("model list " + Db());
  EXPECT_EQ(empty.rc, 0) << empty.out;
  EXPECT_NE(empty.out.find("no model versions registered"), std::string::npos) << empty.out;

  CliRun r1 =
      Cli("model register " + Db() + "--model " + (dir_ / "small").string() + " --by alice");
  ASSERT_EQ(r1.rc, 0) << r1.out;
  EXPECT_NE(r1.out.find("registered model version 1 (candidate)"), std::string::npos) << r1.out;
  CliRun dup = Cli("model register " + Db() + "--model " + (dir_ / "small").string());
  EXPECT_EQ(dup.rc, 1);
  EXPECT_NE(dup.out.find("already registered as version 1"), std::string::npos) << dup.out;
  CliRun orphan =
      Cli("model register " + Db() + "--model " + (dir_ / "large").string() + " --parent 7");
  EXPECT_EQ(orphan.rc, 1);
  EXPECT_NE(orphan.out.find("parent model version 7 is not registered"), std::string::npos)
      << orphan.out;
  CliRun r2 = Cli("model register " + Db() + "--model " + (dir_ / "large").string() +
                  " --parent v1 --by bob --metrics " + (dir_ / "metrics.json").string());
  ASSERT_EQ(r2.rc, 0) << r2.out;
  EXPECT_NE(r2.out.find("registered model version 2"), std::string::npos) << r2.out;

  CliRun list = Cli("model list " + Db() + "--json");
  ASSERT_EQ(list.rc, 0) << list.out;
  json versions = Json(list);
  ASSERT_EQ(versions.size(), 2u) << list.out;
  EXPECT_EQ(versions[0]["status"], "candidate");
  EXPECT_EQ(versions[0]["created_by"], "alice");
  EXPECT_EQ(versions[1]["parent_version"], 1);
  EXPECT_EQ(versions[1]["training"]["rows"], 3000);
  EXPECT_EQ(versions[1]["feature_count"], 37);
  CliRun table = Cli("model list " + Db());
  EXPECT_NE(table.out.find("candidate"), std::string::npos) << table.out;

  CliRun show = Cli("model show " + Db() + "2 --json");
  ASSERT_EQ(show.rc, 0) << show.out;
  json two = Json(show);
  EXPECT_EQ(two["metrics"]["auc"], 0.93);
  EXPECT_EQ(two["files"].size(), 4u);
  EXPECT_EQ(two["features"].size(), 37u);
  EXPECT_EQ(two["training"]["from"], "2020-01-01");
  CliRun show_text = Cli("model show " + Db() + "v2");
  EXPECT_NE(show_text.out.find("parent       v1"), std::string::npos) << show_text.out;
  CliRun unknown = Cli("model show " + Db() + "9");
  EXPECT_EQ(unknown.rc, 1);
  EXPECT_NE(unknown.out.find("no model version 9"), std::string::npos) << unknown.out;
  CliRun not_a_version = Cli("model show " + Db() + "latest");
  EXPECT_EQ(not_a_version.rc, 2) << not_a_version.out;

  CliRun anonymous = Cli("model promote " + Db() + "1");
  EXPECT_EQ(anonymous.rc, 2);
  EXPECT_NE(anonymous.out.find("--by NAME"), std::string::npos) << anonymous.out;
  CliRun p1 = Cli("model promote " + Db() + "1 --by carol --reason 'first model'");
  ASSERT_EQ(p1.rc, 0) << p1.out;
  EXPECT_NE(p1.out.find("model version 1 is live"), std::string::npos) << p1.out;
  CliRun p2 = Cli("model promote " + Db() + "2 --by carol --reason 'twice the data'");
  ASSERT_EQ(p2.rc, 0) << p2.out;
  EXPECT_NE(p2.out.find("version 1 retired"), std::string::npos) << p2.out;
  json after = Json(Cli("model list " + Db() + "--json"));
  EXPECT_EQ(after[0]["status"], "retired");
  EXPECT_EQ(after[1]["status"], "live");
  EXPECT_EQ(after[1]["promoted_by"], "carol");
  EXPECT_EQ(after[1]["reason"], "twice the data");

  CliRun back = Cli("model rollback " + Db() + "--by dave --reason 'hit rate fell'");
  ASSERT_EQ(back.rc, 0) << back.out;
  EXPECT_NE(back.out.find("model version 1 is live again (version 2 rejected)"), std::string::npos)
      << back.out;
  CliRun no_further = Cli("model rollback " + Db() + "--by dave");
  EXPECT_EQ(no_further.rc, 1);
  EXPECT_NE(no_further.out.find("no earlier live version"), std::string::npos) << no_further.out;
  CliRun refused = Cli("model promote " + Db() + "2 --by carol");
  EXPECT_EQ(refused.rc, 1);
  EXPECT_NE(refused.out.find("rolled back by dave: hit rate fell"), std::string::npos)
      << refused.out;
  EXPECT_NE(refused.out.find("--force"), std::string::npos) << refused.out;
  CliRun forced = Cli("model promote " + Db() + "2 --by carol --force --reason 'data fixed'");
  EXPECT_EQ(forced.rc, 0) << forced.out;
  CliRun reject_live = Cli("model reject " + Db() + "2 --by gate --reason worse");
  EXPECT_EQ(reject_live.rc, 1);
  EXPECT_NE(reject_live.out.find("is live"), std::string::npos) << reject_live.out;
  CliRun reject = Cli("model reject " + Db() + "1 --by gate --reason 'superseded'");
  EXPECT_EQ(reject.rc, 0) << reject.out;

  // Every change is in the audit log, which still verifies.
  CliRun verify = Cli("audit verify " + Db());
  EXPECT_EQ(verify.rc, 0) << verify.out;
  EXPECT_NE(verify.out.find("audit log intact: 7 entries"), std::string::npos) << verify.out;
}

TEST_F(ModelRegistryCli, AVersionWhoseFilesAreNotHereIsNotPromoted) {
  const std::string db = "--db " + (dir_ / "other.db").string() + " ";
  CliRun r = Cli("model register " + db + "--model " + (dir_ / "small").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  // The image directory of another machine: empty here.
  fs::create_directories(dir_ / "elsewhere");
  CliRun p =
      Cli("model promote " + db + "--images " + (dir_ / "elsewhere").string() + " 1 --by carol");
  EXPECT_EQ(p.rc, 1);
  EXPECT_NE(p.out.find("not promoted"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("is not in " + (dir_ / "elsewhere").string()), std::string::npos) << p.out;
  json versions = Json(Cli("model list " + db + "--json"));
  EXPECT_EQ(versions[0]["status"], "candidate");
}

}  // namespace
}  // namespace clearsight
