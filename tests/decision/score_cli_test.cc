// `clearsight score` end to end (DecideBatch behind the CLI): a model trained by `model train`,
// the later quarter scored with a rule profile, channels under the daily budget per office.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "clearsight/declarations.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;

int RunCli(const std::string& args, const fs::path& log) {
  const std::string cmd = std::string(CS_CLI) + " " + args + " > " + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ScoreCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("cs_score_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_EQ(RunCli("model train --train " CS_DATA
                     "/customs/df_syn_train_eng.csv --trees 30 --no-baseline --out " +
                         (dir_ / "model").string(),
                     dir_ / "train.log"),
              0)
        << Read(dir_ / "train.log");
    std::ofstream(dir_ / "red.rules") << "rule \"office 30 heavy\"\n"
                                         "  when office_id = \"30\" and net_mass_kg > 20000\n"
                                         "  then channel red\n"
                                         "  reason \"heavy consignment at office 30\"\n"
                                         "end\n";
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // Scores the 2021 quarter; rows as {declaration_id, score, channel, reasons} cells.
  static std::vector<std::vector<std::string>> Score(const std::string& name,
                                                     const std::string& extra) {
    const fs::path out = dir_ / (name + ".csv");
    EXPECT_EQ(RunCli("score --model " + (dir_ / "model").string() +
                         " --input " CS_DATA "/customs/df_syn_valid_eng.csv --rules " +
                         (dir_ / "red.rules").string() + " --out " + out.string() + " " + extra,
                     dir_ / (name + ".log")),
              0)
        << Read(dir_ / (name + ".log"));
    std::vector<std::vector<std::string>> rows;
    std::ifstream in(out);
    std::string line;
    EXPECT_TRUE(std::getline(in, line));
    EXPECT_EQ(line, "declaration_id,score,channel,reasons");
    while (std::getline(in, line)) {
      std::vector<std::string> cells;
      std::string cell;
      bool quoted = false;
      for (char c : line) {
        if (c == '"')
          quoted = !quoted;
        else if (c == ',' && !quoted)
          cells.push_back(std::move(cell)), cell.clear();
        else
          cell.push_back(c);
      }
      cells.push_back(cell);
      rows.push_back(std::move(cells));
    }
    return rows;
  }

  static inline fs::path dir_;
};

TEST_F(ScoreCli, ChannelsFollowTheBudgetTheRuleFloorAndTheControlSample) {
  const auto rows = Score("a", "--red-share 0.05 --yellow-share 0.05 --control-share 0.2 --seed 3");
  ReadOptions ro;
  ro.format = DeclarationFormat::kKcs;
  auto batch = ReadDeclarations(CS_DATA "/customs/df_syn_valid_eng.csv", ro, nullptr);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(rows.size(), batch->rows.size()) << "one line per accepted declaration";
  std::map<std::pair<int32_t, std::string>, int> seen, red;
  int floors = 0, control = 0, reds = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 4u) << i;
    const Declaration& d = batch->rows[i];
    ASSERT_EQ(rows[i][0], d.declaration_id);
    const double score = std::stod(rows[i][1]);
    EXPECT_GE(score, 0);
    EXPECT_LT(score, 1);
    const std::string& channel = rows[i][2];
    ASSERT_TRUE(channel == "green" || channel == "yellow" || channel == "red") << channel;
    ++seen[{d.date, d.office_id}];
    if (channel == "red") ++red[{d.date, d.office_id}], ++reds;
    if (d.office_id == "30" && d.net_mass_kg > 20000) {
      ++floors;
      EXPECT_EQ(channel, "red") << d.declaration_id << ": the rule demands red";
      EXPECT_NE(rows[i][3].find("heavy consignment at office 30"), std::string::npos) << rows[i][3];
    }
    if (rows[i][3].rfind("random control sample", 0) == 0) {
      ++control;
      EXPECT_EQ(channel, "red");
    }
  }
  EXPECT_GT(floors, 0) << "the rule matches some of the quarter";
  EXPECT_GT(control, 0);
  EXPECT_LT(control, reds / 2);
  // Per office and day the budget (5 %, rounded by a seeded draw), plus what the rule forces and
  // the control draw beyond it.
  int over = 0;
  for (const auto& [key, n] : seen) over += red[key] > static_cast<int>(0.05 * n) + 1 + n / 50;
  EXPECT_LE(over, static_cast<int>(seen.size()) / 10) << "most office-days keep their budget";
  EXPECT_NEAR(static_cast<double>(reds) / rows.size(), 0.05, 0.03);
  // The same command again gives the same file.
  const auto again =
      Score("b", "--red-share 0.05 --yellow-share 0.05 --control-share 0.2 --seed 3");
  EXPECT_EQ(again, rows);
}

}  // namespace
}  // namespace clearsight
