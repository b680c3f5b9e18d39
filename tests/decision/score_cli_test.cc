// `clearsight score` end to end (DecideBatch behind the CLI): a model trained by `model train`,
// the later quarter scored with a rule profile, channels under the daily budget per office.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "clearsight/currency_rates.h"
#include "clearsight/declarations.h"
#include "clearsight/postal.h"

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

std::shared_ptr<const CurrencyRates> CurrencyRatesForTest(const fs::path& path) {
  auto rates = CurrencyRates::Load(path.string());
  EXPECT_TRUE(rates.ok()) << rates.status().message();
  return rates.ok() ? std::make_shared<const CurrencyRates>(std::move(rates).value()) : nullptr;
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

// Generated postal items in, one response per item out: the decision of its strongest piece, its
// S10 id, the rule's reason code; and a currency without a rate rejected by name on the way in.
TEST_F(ScoreCli, RespondWritesOneResponsePerPostalItem) {
  const fs::path items = dir_ / "items.xml", rates = dir_ / "rates.csv",
                 faults = dir_ / "faults.csv", responses = dir_ / "responses.jsonl",
                 rules = dir_ / "postal.rules", out = dir_ / "postal.csv";
  ASSERT_EQ(
      RunCli("postal-generate --items 120 --seed 5 --invalid-share 0.2 --out " + items.string() +
                 " --rates-out " + rates.string() + " --faults-out " + faults.string(),
             dir_ / "gen.log"),
      0)
      << Read(dir_ / "gen.log");
  std::ofstream(rules)
      << "rule \"vague\"\n  when description_vague = 1\n  then channel yellow\n"
         "  reason \"vague description\"\nend\n"
         "rule \"heavier\"\n  when weight_mismatch = \"1\"\n  then channel red\nend\n";
  ASSERT_EQ(RunCli("score --model " + (dir_ / "model").string() + " --input " + items.string() +
                       " --rates " + rates.string() + " --rules " + rules.string() +
                       " --red-share 0 --yellow-share 0 --control-share 0 --out " + out.string() +
                       " --respond " + responses.string(),
                   dir_ / "respond.log"),
            0)
      << Read(dir_ / "respond.log");
  const std::string log = Read(dir_ / "respond.log");
  EXPECT_NE(log.find("field 'currency': no rate for 'ZZZ'"), std::string::npos) << log;
  EXPECT_NE(log.find("responses for "), std::string::npos) << log;
  // The reader's view of the same items, to check the responses against.
  ReadOptions ro;
  auto table = CurrencyRatesForTest(rates);
  ro.rates = table;
  auto batch = ReadDeclarations(items.string(), ro, nullptr);
  ASSERT_TRUE(batch.ok());
  std::map<std::string, std::vector<const Declaration*>> by_item;
  for (const auto& d : batch->rows) by_item[std::string(d.consignment_id)].push_back(&d);
  std::ifstream in(responses);
  std::set<std::string> seen;
  int held = 0, inspected = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string id = j["item_id"];
    EXPECT_TRUE(seen.insert(id).second) << id << " answered twice";
    ASSERT_TRUE(by_item.count(id)) << id;
    EXPECT_EQ(S10Problem(id), "");
    const auto& pieces = by_item[id];
    EXPECT_EQ(j["pieces"].size(), pieces.size());
    bool vague = false, heavy = false;
    for (const Declaration* d : pieces) {
      vague |= RateDescription(d->description).vague;
      heavy |= batch->Extra(*d, batch->ExtraIndex("weight_mismatch")) == "1";
    }
    // With no budget only the rules hold an item: red for heavier pieces, else yellow if vague.
    const std::string want = heavy ? "hold_inspection" : vague ? "hold_documents" : "release";
    EXPECT_EQ(j["decision"], want) << line;
    held += want != "release";
    inspected += heavy;
    if (vague && !heavy) {
      bool rule = false;
      for (const auto& r : j["reasons"]) rule |= r["code"] == "RULE" && r["rule"] == "vague";
      EXPECT_TRUE(rule) << line;
    }
  }
  EXPECT_EQ(seen.size(), by_item.size()) << "every item with an accepted piece is answered";
  EXPECT_GT(held, 10);
  EXPECT_GT(inspected, 0);
}

}  // namespace
}  // namespace clearsight
