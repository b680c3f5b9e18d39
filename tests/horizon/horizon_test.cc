// Horizon scanning on generated histories (horizon_history.h): two years of declarations over many
// chapters, origins, offices and importers, with yearly seasonality and noise, X-ray scans with
// their findings, and trends of every kind planted from a date on (some of them small). Each
// planted trend must rank in the top 5 of its kind; on a history with none, next to nothing may
// be reported.
#include "clearsight/horizon.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "clearsight/horizon_store.h"
#include "clearsight/store.h"
#include "horizon/horizon_history.h"

namespace clearsight {
namespace {

using testing::Day;
using testing::GenerateHistory;
using testing::History;
using testing::HistoryOptions;

// A declarations CSV: per day and series a Poisson number of declarations (horizon_history.h).
std::string GenerateCsv(uint64_t seed, bool plant, int32_t start, int32_t since, int days) {
  HistoryOptions h;
  h.plant = plant;
  return GenerateHistory(seed, h, start, since, days).csv;
}

DeclarationBatch Parse(const std::string& csv) {
  auto batch = ParseDeclarations(csv, "generated.csv", ReadOptions{}, nullptr);
  EXPECT_TRUE(batch.ok()) << batch.status().message();
  return std::move(batch).value();
}

DeclarationBatch Generate(uint64_t seed, bool plant, int32_t start, int32_t since, int days) {
  auto batch = ParseDeclarations(GenerateCsv(seed, plant, start, since, days), "generated.csv",
                                 ReadOptions{}, nullptr);
  EXPECT_TRUE(batch.ok()) << batch.status().message();
  return std::move(batch).value();
}

const HorizonSignal* Find(const HorizonReport& r, const std::string& kind,
                          const std::vector<std::pair<std::string, std::string>>& key) {
  for (const auto& s : r.signals) {
    if (s.kind != kind) continue;
    bool all = true;
    for (const auto& want : key) {
      bool found = false;
      for (const auto& have : s.key) found |= have == want;
      all &= found;
    }
    if (all) return &s;
  }
  return nullptr;
}

TEST(Horizon, EveryPlantedTrendRanksInTheTopFiveOfItsKind) {
  const int32_t start = Day("2024-01-01"), since = Day("2025-10-02");
  HorizonOptions o;
  o.since = since;
  for (uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const DeclarationBatch b = Generate(seed, true, start, since, 730);
    auto r = ScanHorizon(b, o);
    ASSERT_TRUE(r.ok()) << r.status().message();
    struct Want {
      const char* kind;
      std::vector<std::pair<std::string, std::string>> key;
    };
    const std::vector<Want> wants = {
        {"volume_shift", {{"hs_code", "6109"}, {"origin_country", "IN"}}},
        {"volume_shift", {{"hs_code", "6403"}, {"origin_country", "TR"}}},
        {"new_route", {{"origin_country", "LK"}}},
        {"new_importer", {{"importer_id", "INEW01"}}},
        {"price_drop", {{"hs_code", "851713"}, {"origin_country", "CN"}}},
        {"hit_rate_shift", {{"hs_code", "6403"}}},
    };
    for (const auto& w : wants) {
      const HorizonSignal* s = Find(*r, w.kind, w.key);
      ASSERT_NE(s, nullptr) << w.kind << " " << w.key[0].second << " not reported";
      EXPECT_LE(s->rank, 5) << s->summary;
      EXPECT_LE(s->q_value, 0.05);
      EXPECT_FALSE(s->series.empty());
    }
    const HorizonSignal* drop = Find(*r, "price_drop", wants[4].key);
    EXPECT_NEAR(drop->effect, -0.4, 0.1);
    const HorizonSignal* doubled = Find(*r, "volume_shift", wants[0].key);
    EXPECT_NEAR(doubled->effect, 1.0, 0.35);
    EXPECT_GE(doubled->first_date, since - 56);
    EXPECT_LE(doubled->first_date, since + 56);
    // The JSON carries every signal with the contract's fields.
    auto j = nlohmann::json::parse(HorizonToJson(*r));
    ASSERT_EQ(j["signals"].size(), r->signals.size());
    for (const auto& s : j["signals"])
      for (const char* k : {"kind", "key", "rank", "score", "effect", "q_value", "first_date"})
        EXPECT_TRUE(s.contains(k)) << k;
  }
}

TEST(Horizon, AHistoryWithoutTrendsReportsNextToNothing) {
  const int32_t start = Day("2024-01-01"), since = Day("2025-10-02");
  HorizonOptions o;
  o.since = since;
  size_t reported = 0;
  for (uint64_t seed : {11, 12, 13, 14}) {
    auto r = ScanHorizon(Generate(seed, false, start, since, 730), o);
    ASSERT_TRUE(r.ok()) << r.status().message();
    for (const auto& s : r->signals)
      std::printf("null seed %llu: %s %s\n", static_cast<unsigned long long>(seed), s.kind.c_str(),
                  s.summary.c_str());
    reported += r->signals.size();
    EXPECT_GT(r->tested["volume_shift"], 50);
  }
  // Every one of them is false here; the false-discovery control keeps them rare.
  EXPECT_LE(reported, 3u);
}

TEST(Horizon, OneThreadAndTwoGiveTheSameReport) {
  const int32_t start = Day("2024-01-01"), since = Day("2025-10-02");
  const DeclarationBatch b = Generate(21, true, start, since, 730);
  HorizonOptions one, two;
  one.since = two.since = since;
  one.threads = 1;
  two.threads = 2;
  auto r1 = ScanHorizon(b, one), r2 = ScanHorizon(b, two);
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_FALSE(r1->signals.empty());
  EXPECT_EQ(HorizonToJson(*r1), HorizonToJson(*r2));
}

int RunCli(const std::string& args, const std::filesystem::path& log) {
  const std::string cmd = std::string(CS_CLI) + " " + args + " > " + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(HorizonCli, OutcomesFromTheirOwnFileFeedTheHitRateShift) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cs_horizon_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  // The generated file split in two: declarations without outcomes, and the outcomes alone.
  std::istringstream all(GenerateCsv(1, true, Day("2024-01-01"), Day("2025-10-02"), 730));
  std::ofstream decl(dir / "d.csv"), out(dir / "o.csv");
  for (std::string line; std::getline(all, line);) {
    const size_t office_end = line.rfind(',', line.rfind(',') - 1);
    decl << line.substr(0, office_end) << "\n";
    out << line.substr(0, line.find(',')) << line.substr(office_end) << "\n";
  }
  decl.close();
  out.close();
  const std::string common = "horizon --declarations " + (dir / "d.csv").string() +
                             " --since 2025-10-02 --json " + (dir / "h.json").string();
  ASSERT_EQ(RunCli(common + " --outcomes " + (dir / "o.csv").string(), dir / "log"), 0)
      << ReadText(dir / "log");
  auto j = nlohmann::json::parse(ReadText(dir / "h.json"));
  bool found = false;
  for (const auto& s : j["signals"])
    found |= s["kind"] == "hit_rate_shift" && s["key"].value("hs_code", "") == "6403";
  EXPECT_TRUE(found) << "no hit-rate shift for HS 6403 from the outcomes file";
  // Without the outcomes there is nothing to compare.
  ASSERT_EQ(RunCli(common, dir / "log2"), 0) << ReadText(dir / "log2");
  for (const auto& s : nlohmann::json::parse(ReadText(dir / "h.json"))["signals"])
    EXPECT_NE(s["kind"], "hit_rate_shift");
  // A bad outcome is named by file and line.
  std::ofstream(dir / "bad.csv") << "declaration_id,inspected,fraud\nD1,1,1\nD2,1,maybe\n";
  EXPECT_NE(RunCli(common + " --outcomes " + (dir / "bad.csv").string(), dir / "log3"), 0);
  EXPECT_NE(ReadText(dir / "log3").find("bad.csv:3: fraud must be 0 or 1, got 'maybe'"),
            std::string::npos)
      << ReadText(dir / "log3");
  std::filesystem::remove_all(dir);
}

// The same history held in a store (FillStore: every declaration its own consignment, decided,
// the inspected ones with an outcome, the scanned ones with their scans' findings). `horizon --db`
// must find what `horizon --declarations` finds, and the finding shifts only the store holds; a
// window over the limit is refused with its count.
TEST(HorizonCli, TheStoreGivesTheSameSignalsAsTheFileAndItsFindingShifts) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cs_horizon_db_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  HistoryOptions options;
  options.plant = options.scans = options.plant_findings = true;
  const History history = GenerateHistory(2, options, Day("2024-01-01"), Day("2025-10-02"), 730);
  // The store path reads the baseline weeks and the recent window only (the history before them
  // stays in the store): the file it is compared with holds the same days.
  const int32_t first = Day("2025-10-02") - 7 * 52;
  {
    std::istringstream all(history.csv);
    std::ofstream window(dir / "d.csv");
    for (std::string line; std::getline(all, line);) {
      const size_t a = line.find(',');
      const std::string date = line.substr(a + 1, line.find(',', a + 1) - a - 1);
      if (date == "date" || date >= FormatDate(first)) window << line << "\n";
    }
  }
  {
    StoreOptions so;
    so.url = (dir / "cs.db").string();
    auto store = Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    // A little before the window too: the store path must leave it out.
    const Status filled = testing::FillStore(**store, history, first - 30);
    ASSERT_TRUE(filled.ok()) << filled.ToString();
  }
  const std::string tail = " --since 2025-10-02 --json ";
  ASSERT_EQ(RunCli("horizon --declarations " + (dir / "d.csv").string() + tail +
                       (dir / "file.json").string(),
                   dir / "log1"),
            0)
      << ReadText(dir / "log1");
  ASSERT_EQ(RunCli("horizon --db " + (dir / "cs.db").string() + tail + (dir / "db.json").string(),
                   dir / "log2"),
            0)
      << ReadText(dir / "log2");
  const auto from_file = nlohmann::json::parse(ReadText(dir / "file.json"));
  auto from_db = nlohmann::json::parse(ReadText(dir / "db.json"));
  EXPECT_EQ(from_db["declarations"], from_file["declarations"]);
  // The file has no scans: no finding shifts, and no count of scans.
  EXPECT_FALSE(from_file.contains("scans"));
  EXPECT_FALSE(from_file["tested"].contains("finding_shift"));
  EXPECT_GT(from_db.value("scans", 0), 5000);
  EXPECT_GT(from_db["tested"].value("finding_shift", 0), 20);
  from_db["tested"].erase("finding_shift");
  EXPECT_EQ(from_db["tested"], from_file["tested"]);
  nlohmann::json db_findings = nlohmann::json::array(), db_rest = nlohmann::json::array();
  for (const auto& s : from_db["signals"])
    (s["kind"] == "finding_shift" ? db_findings : db_rest).push_back(s);
  ASSERT_EQ(db_rest.size(), from_file["signals"].size());
  bool hit_rate = false, doubled = false;
  for (size_t i = 0; i < db_rest.size(); ++i) {
    const auto &a = db_rest[i], &b = from_file["signals"][i];
    EXPECT_EQ(a["kind"], b["kind"]);
    EXPECT_EQ(a["key"], b["key"]);
    EXPECT_EQ(a["rank"], b["rank"]);
    EXPECT_NEAR(a["effect"].get<double>(), b["effect"].get<double>(), 1e-6) << a["summary"];
    hit_rate |= a["kind"] == "hit_rate_shift" && a["key"].value("hs_code", "") == "6403";
    doubled |= a["kind"] == "volume_shift" && a["key"].value("hs_code", "") == "6109" &&
               a["key"].value("origin_country", "") == "IN";
  }
  EXPECT_TRUE(hit_rate) << "no hit-rate shift for HS 6403 from the store's outcomes";
  EXPECT_TRUE(doubled) << "no volume shift for HS 6109 from IN in the store";
  // Every planted finding shift, from the scans' stored findings, in the top 5 of its kind.
  for (const auto& p : history.finding_plants) {
    bool found = false;
    for (const auto& s : db_findings)
      if (s["key"].value("origin_country", "") == p.origin &&
          s["key"].value("office_id", "") == p.office &&
          s["key"].value("finding", "") == p.finding) {
        found = true;
        EXPECT_LE(s["rank"].get<int>(), 5) << s["summary"];
        EXPECT_GT(s["effect"].get<double>(), 0) << s["summary"];
      }
    EXPECT_TRUE(found) << "no finding shift for " << p.finding << " from " << p.origin << " to "
                       << p.office << " in the store";
  }
  // A window larger than the limit is refused, naming its size.
  EXPECT_NE(RunCli("horizon --db " + (dir / "cs.db").string() + tail + (dir / "db2.json").string() +
                       " --max-declarations 1000",
                   dir / "log3"),
            0);
  EXPECT_NE(ReadText(dir / "log3").find("more than the 1000 one scan reads"), std::string::npos)
      << ReadText(dir / "log3");
  // The file and the store are alternatives.
  EXPECT_NE(RunCli("horizon --db " + (dir / "cs.db").string() + " --declarations " +
                       (dir / "d.csv").string() + tail + (dir / "x.json").string(),
                   dir / "log4"),
            0);
  EXPECT_NE(ReadText(dir / "log4").find("give one of --declarations FILE and --db URL"),
            std::string::npos);
  // The false-discovery level is bounded (0.001..0.2).
  EXPECT_NE(RunCli("horizon --db " + (dir / "cs.db").string() + tail + (dir / "x.json").string() +
                       " --fdr 0.5",
                   dir / "log5"),
            0);
  EXPECT_NE(ReadText(dir / "log5").find("--fdr must be 0.001..0.2"), std::string::npos)
      << ReadText(dir / "log5");
  std::filesystem::remove_all(dir);
}

TEST(Horizon, ASinceWithoutHistoryOrAfterTheEndIsRefused) {
  const int32_t start = Day("2024-01-01");
  const DeclarationBatch b = Generate(5, false, start, start + 100, 120);
  HorizonOptions o;
  o.since = start + 10;
  auto early = ScanHorizon(b, o);
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.status().message().find("less than 4 weeks of history"), std::string::npos);
  o.since = start + 500;
  auto late = ScanHorizon(b, o);
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.status().message().find("after the last declaration"), std::string::npos);
}

// ---- Finding shifts -------------------------------------------------------------------------

// Whether a finding-shift signal names a planted shift's series or a coarser one holding it (the
// finding over all routes, or from the origin to every office).
bool OnPlanted(const HorizonSignal& s, const std::vector<testing::FindingPlant>& plants) {
  for (const auto& p : plants)
    if (testing::HoldsPlanted(s.key, testing::KeyOf(p))) return true;
  return false;
}

const HorizonSignal* FindFinding(const HorizonReport& r, const testing::FindingPlant& p) {
  return Find(r, "finding_shift",
              {{"origin_country", p.origin}, {"office_id", p.office}, {"finding", p.finding}});
}

// Three shifts planted in the X-ray findings of three routes (a concealment sign 2 % -> 10 %, a
// small one in manifest mismatches 5 % -> 13 %, a rare threat class 0.3 % -> 5 %), a third of the
// consignments scanned: each ranks in the top 5 finding shifts on every seed, and the signals
// reported lie on the planted series (or a coarser series holding one).
TEST(HorizonFindings, EveryPlantedFindingShiftRanksInTheTopFiveOfItsKind) {
  const int32_t start = Day("2024-01-01"), since = Day("2025-10-02");
  HorizonOptions o;
  o.since = since;
  HistoryOptions options;
  options.plant = options.scans = options.plant_findings = true;
  int planted = 0, found = 0, reported = 0, on_planted = 0;
  for (uint64_t seed : {1, 2, 3, 4, 5, 6}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const History h = GenerateHistory(seed, options, start, since, 730);
    auto r = ScanHorizon(Parse(h.csv), h.scans, o);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_TRUE(r->scans.has_value());
    EXPECT_GT(*r->scans, 5000);
    EXPECT_GT(r->tested["finding_shift"], 50);
    for (const auto& p : h.finding_plants) {
      ++planted;
      const HorizonSignal* s = FindFinding(*r, p);
      if (!s) {
        ADD_FAILURE() << p.finding << " from " << p.origin << " to " << p.office << " not reported";
        continue;
      }
      found += s->rank <= 5;
      EXPECT_LE(s->rank, 5) << s->summary;
      EXPECT_LE(s->q_value, 0.05) << s->summary;
      EXPECT_GT(s->effect, 0.5) << s->summary;
      EXPECT_GE(s->first_date, since - 56) << s->summary;
      EXPECT_LE(s->first_date, since + 56) << s->summary;
      EXPECT_FALSE(s->series.empty());
    }
    for (const auto& s : r->signals) {
      if (s.kind != "finding_shift") continue;
      ++reported;
      on_planted += OnPlanted(s, h.finding_plants);
      if (!OnPlanted(s, h.finding_plants))
        std::printf("seed %llu, not planted: %s (q %.3g)\n", static_cast<unsigned long long>(seed),
                    s.summary.c_str(), s.q_value);
    }
    // The declaration trends are found beside them.
    EXPECT_NE(Find(*r, "volume_shift", {{"hs_code", "6109"}, {"origin_country", "IN"}}), nullptr);
    EXPECT_NE(Find(*r, "new_importer", {{"importer_id", "INEW01"}}), nullptr);
  }
  std::printf("finding_shift over 6 seeds: recall %d/%d in the top 5, precision %d/%d\n", found,
              planted, on_planted, reported);
  EXPECT_EQ(found, planted);
  EXPECT_GE(on_planted, 0.95 * reported);
}

TEST(HorizonFindings, AHistoryWithoutFindingShiftsReportsNextToNothing) {
  const int32_t start = Day("2024-01-01"), since = Day("2025-10-02");
  HorizonOptions o;
  o.since = since;
  HistoryOptions options;
  options.scans = true;
  int reported = 0, seeds_with_any = 0;
  for (uint64_t seed : {11, 12, 13, 14, 15, 16, 17, 18}) {
    const History h = GenerateHistory(seed, options, start, since, 730);
    auto r = ScanHorizon(Parse(h.csv), h.scans, o);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_GT(r->tested["finding_shift"], 50);
    int here = 0;
    for (const auto& s : r->signals) {
      if (s.kind != "finding_shift") continue;
      ++here;
      std::printf("null seed %llu: %s (q %.3g)\n", static_cast<unsigned long long>(seed),
                  s.summary.c_str(), s.q_value);
    }
    reported += here;
    seeds_with_any += here > 0;
  }
  // Every one of them is false here: the false-discovery control keeps the seeds with any at
  // about the 5 % it is set to.
  std::printf("finding_shift without a planted shift: %d signals on %d of 8 seeds\n", reported,
              seeds_with_any);
  EXPECT_LE(seeds_with_any, 1);
}

TEST(HorizonFindings, ADeclarationsFileAloneHasNoFindingShifts) {
  const int32_t start = Day("2024-01-01"), since = Day("2025-10-02");
  HorizonOptions o;
  o.since = since;
  auto r = ScanHorizon(Generate(1, true, start, since, 730), o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->scans.has_value());
  EXPECT_EQ(r->tested.count("finding_shift"), 0u);
  const auto j = nlohmann::json::parse(HorizonToJson(*r));
  EXPECT_FALSE(j.contains("scans"));
  EXPECT_EQ(j["fdr"], 0.05);
  EXPECT_EQ(j["baseline_weeks"], 52);
  // With scans but none in the windows: tested, nothing found.
  std::vector<HorizonScan> old = {{start, "CN", "OFF1", {"impenetrable"}}};
  auto none = ScanHorizon(Generate(1, true, start, since, 730), old, o);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->scans, 0);
  EXPECT_EQ(none->tested.count("finding_shift"), 0u);
}

// ---- Seasons of their own ------------------------------------------------------------------

// Half of the series with a strong season of their own (+-60 %, any phase, on top of the
// market's +-30 %) and no trend planted: against a flat baseline their seasons are taken for
// shifts; against their own season the false signals stay at the false-discovery level.
TEST(HorizonSeason, SeriesWithSeasonsOfTheirOwnAreNotFlaggedWithoutATrend) {
  const int32_t start = Day("2024-01-01"), since = Day("2025-10-02");
  HorizonOptions seasonal, flat;
  seasonal.since = flat.since = since;
  flat.seasonal = false;
  HistoryOptions options;
  options.own_season = 0.6;
  int seasonal_signals = 0, flat_signals = 0, seeds_with_any = 0;
  const int kSeeds = 10;
  for (int seed = 41; seed < 41 + kSeeds; ++seed) {
    const History h = GenerateHistory(static_cast<uint64_t>(seed), options, start, since, 730);
    const DeclarationBatch b = Parse(h.csv);
    auto r = ScanHorizon(b, seasonal);
    auto f = ScanHorizon(b, flat);
    ASSERT_TRUE(r.ok() && f.ok());
    int here = 0;
    for (const auto& s : r->signals) {
      if (s.kind != "volume_shift") continue;
      ++here;
      std::printf("seasonal null seed %d: %s (q %.3g, season weight %.2f)\n", seed,
                  s.summary.c_str(), s.q_value, s.season_weight);
    }
    for (const auto& s : f->signals) flat_signals += s.kind == "volume_shift";
    seasonal_signals += here;
    seeds_with_any += here > 0;
  }
  std::printf(
      "own seasons, no trend, %d seeds: %d volume signals against the season (%d seeds "
      "with any), %d against a flat baseline\n",
      kSeeds, seasonal_signals, seeds_with_any, flat_signals);
  // The flat baseline flags the seasons: the test has something to show.
  EXPECT_GE(flat_signals, 5 * kSeeds);
  // With no trend every signal is false: at the 5 % level, any at all on at most one seed in ten.
  EXPECT_LE(seeds_with_any, 1);
}

// A +80 % trend planted on a series whose own season peaks inside the recent window: still found,
// in the top 5, with its season followed; the signals beside it (anything but the planted series
// or one holding it) are false, and their share per seed averages about the 5 % the
// false-discovery control is set to.
TEST(HorizonSeason, ATrendOnASeriesWithASeasonOfItsOwnIsStillFound) {
  const int32_t start = Day("2024-01-01"), since = Day("2025-10-02");
  HorizonOptions o;
  o.since = since;
  HistoryOptions options;
  options.own_season = 0.6;
  options.plant_seasonal = true;
  int found = 0, reported = 0, on_planted = 0;
  double false_share = 0;
  const int kSeeds = 20;
  for (int seed = 61; seed < 61 + kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const History h = GenerateHistory(static_cast<uint64_t>(seed), options, start, since, 730);
    auto r = ScanHorizon(Parse(h.csv), o);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const std::string& hs = h.seasonal_planted[0].second;
    const std::string& origin = h.seasonal_planted[1].second;
    // Volume shifts are tested down to the heading by origin.
    const HorizonSignal* s =
        Find(*r, "volume_shift", {{"hs_code", hs.substr(0, 4)}, {"origin_country", origin}});
    ASSERT_NE(s, nullptr) << "the seasonal series' trend not reported";
    found += s->rank <= 5;
    EXPECT_LE(s->rank, 5) << s->summary;
    EXPECT_GT(s->season_weight, 0.5) << s->summary;
    EXPECT_NEAR(s->effect, 0.8, 0.4) << s->summary;
    int here = 0, true_here = 0;
    for (const auto& x : r->signals) {
      if (x.kind != "volume_shift") continue;
      ++here;
      // The planted series, or one holding it (its chapter, its origin, its route).
      const bool holds = testing::HoldsPlanted(x.key, h.seasonal_planted);
      true_here += holds;
      if (!holds)
        std::printf("seed %d, not planted: %s (q %.3g, season weight %.2f)\n", seed,
                    x.summary.c_str(), x.q_value, x.season_weight);
    }
    reported += here;
    on_planted += true_here;
    false_share += here > 0 ? static_cast<double>(here - true_here) / here : 0.0;
  }
  std::printf(
      "a trend on a seasonal series, %d seeds: recall %d/%d in the top 5, %d of %d "
      "signals on the planted series, false share per seed %.3f\n",
      kSeeds, found, kSeeds, on_planted, reported, false_share / kSeeds);
  EXPECT_EQ(found, kSeeds);
  EXPECT_LE(false_share / kSeeds, 0.1);
}

// A store that began keeping these declarations half a year ago, and held a few others a year
// before: the same weeks a year before are a market still filling, not a season, so every series
// is compared flat (else each series new since would be a jump from nothing, and the old ones a
// fall to nothing).
TEST(HorizonSeason, AThinMarketAYearBeforeIsNoSeason) {
  std::string csv =
      "declaration_id,date,importer_id,hs_code,origin_country,net_mass_kg,declared_value,office_"
      "id\n";
  const int32_t day0 = Day("2025-01-01"), since = Day("2025-05-15");
  std::mt19937_64 rng(5);
  for (int32_t day = day0; day < day0 + 181; ++day)
    for (const char* hs : {"610910", "851712", "940510"})
      for (const char* origin : {"TR", "CN", "IN"}) {
        const bool phones = std::string(hs) == "851712" && std::string(origin) == "CN";
        const double rate = phones && day >= since ? 6 : 2;
        for (int i = std::poisson_distribution<int>(rate)(rng); i > 0; --i)
          csv += "H" + std::to_string(rng()) + "," + FormatDate(day) + ",I" +
                 std::to_string(rng() % 30) + "," + hs + "," + origin + ",10,200,ICN1\n";
      }
  for (int k = 0; k < 300; ++k)
    csv += "OLD" + std::to_string(k) + "," +
           FormatDate(Day("2024-03-01") + static_cast<int>(rng() % 200)) +
           ",OLDIMP,010121,DE,10,100,ICN1\n";
  HorizonOptions o;
  o.since = since;
  auto r = ScanHorizon(Parse(csv), o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const HorizonSignal* phones =
      Find(*r, "volume_shift", {{"hs_code", "8517"}, {"origin_country", "CN"}});
  ASSERT_NE(phones, nullptr);
  EXPECT_EQ(phones->rank, 1) << phones->summary;
  for (const auto& s : r->signals) {
    std::printf("%s #%d: %s\n", s.kind.c_str(), s.rank, s.summary.c_str());
    EXPECT_EQ(s.season_weight, 0) << s.summary;
  }
}

}  // namespace
}  // namespace clearsight
