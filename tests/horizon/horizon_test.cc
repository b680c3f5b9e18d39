// Horizon scanning on generated histories: two years of declarations over many chapters, origins,
// offices and importers, with yearly seasonality and noise, and trends of every kind planted from
// a date on (some of them small). Each planted trend must rank in the top 5 of its kind; on a
// history with none, next to nothing may be reported.
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

namespace clearsight {
namespace {

// A declarations CSV: per day and series a Poisson number of declarations.
std::string GenerateCsv(uint64_t seed, bool plant, int32_t start, int32_t since, int days) {
  std::mt19937_64 rng(seed);
  std::string csv =
      "declaration_id,date,importer_id,hs_code,origin_country,net_mass_kg,declared_value,office_"
      "id,inspected,fraud\n";
  struct Series {
    std::string hs, origin, office;
    double per_day, price;  // declarations a day, unit price a kg
  };
  std::vector<Series> series;
  const char* hs[] = {"390110", "610910", "620342", "640399", "851713",
                      "847130", "950300", "940540", "711319", "090111"};
  const char* origins[] = {"CN", "IN", "TR", "VN"};
  for (const char* h : hs)
    for (const char* o : origins)
      series.push_back({h, o, "OFF" + std::to_string(1 + rng() % 3),
                        std::uniform_real_distribution<double>(0.3, 3)(rng),
                        std::exp(std::uniform_real_distribution<double>(1, 5)(rng))});
  // The smaller planted shift (+60 %) sits on a busy series (4 a day, some 300 in the recent
  // quarter before the shift): on a series of 2 a week no test can tell +60 % from noise within
  // a quarter, and at 2 a day one seed in three falls short (its realised shift was +28 %).
  series[14].per_day = 4;
  int64_t n = 0;
  auto emit = [&](int32_t day, const Series& s, const std::string& importer, double price_factor,
                  double hit_rate) {
    const double kg = std::exp(std::normal_distribution<double>(3, 1)(rng));
    const double value =
        kg * s.price * price_factor * std::exp(std::normal_distribution<double>(0, 0.25)(rng));
    const bool inspected = std::uniform_real_distribution<double>(0, 1)(rng) < 0.2;
    const bool fraud = inspected && std::uniform_real_distribution<double>(0, 1)(rng) < hit_rate;
    char line[256];
    std::snprintf(line, sizeof line, "D%lld,%s,%s,%s,%s,%.1f,%.2f,%s,%d,%d\n",
                  static_cast<long long>(++n), FormatDate(day).c_str(), importer.c_str(),
                  s.hs.c_str(), s.origin.c_str(), kg, value, s.office.c_str(), inspected ? 1 : 0,
                  fraud ? 1 : 0);
    csv += line;
  };
  for (int32_t day = start; day < start + days; ++day) {
    const double season = 1 + 0.3 * std::sin(2 * M_PI * (day - start) / 365.25);
    const bool after = plant && day >= since;
    for (size_t i = 0; i < series.size(); ++i) {
      const Series& s = series[i];
      double rate = s.per_day * season;
      if (after && i == 5) rate *= 2.0;                   // volume: 610910 from IN doubles
      if (after && i == 14) rate *= 1.6;                  // a smaller one: 640399 from TR, +60 %
      const double price = after && i == 16 ? 0.6 : 1.0;  // 851713 from CN, -40 %
      const double hit = after && s.hs == "640399" && s.origin == "VN" ? 0.45 : 0.08;
      const int k = std::poisson_distribution<int>(rate)(rng);
      for (int j = 0; j < k; ++j) emit(day, s, "I" + std::to_string(rng() % 400), price, hit);
    }
    if (after) {
      // A new route: lamps from an origin never seen, and a new importer growing fast.
      static const Series lk{"940510", "LK", "OFF1", 0, 20};
      for (int j = std::poisson_distribution<int>(0.4)(rng); j > 0; --j)
        emit(day, lk, "I" + std::to_string(rng() % 400), 1, 0.08);
      const double growth = 0.1 + 0.05 * (day - since);
      for (int j = std::poisson_distribution<int>(growth)(rng); j > 0; --j) {
        const size_t i = rng() % series.size();
        emit(day, series[i], "INEW01", i == 16 ? 0.6 : 1.0, 0.08);
      }
    }
  }
  return csv;
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

int32_t Day(const char* date) {
  int32_t d = 0;
  EXPECT_TRUE(ParseDate(date, &d));
  return d;
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

// The same history held in a store: every declaration its own consignment, decided, and the
// inspected ones with an outcome ("undervaluation" where the file says fraud, else "nothing").
// `horizon --db` must find what `horizon --declarations` finds, and a window over the limit is
// refused with its count.
TEST(HorizonCli, TheStoreGivesTheSameSignalsAsTheFile) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cs_horizon_db_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string csv = GenerateCsv(2, true, Day("2024-01-01"), Day("2025-10-02"), 730);
  auto batch = ParseDeclarations(csv, "generated.csv", ReadOptions{}, nullptr);
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  // The store path reads the baseline weeks and the recent window only (the history before them
  // stays in the store): the file it is compared with holds the same days.
  {
    std::istringstream all(csv);
    std::ofstream window(dir / "d.csv");
    const std::string first = FormatDate(Day("2025-10-02") - 7 * 52);
    for (std::string line; std::getline(all, line);) {
      const size_t a = line.find(',');
      const std::string date = line.substr(a + 1, line.find(',', a + 1) - a - 1);
      if (date == "date" || date >= first) window << line << "\n";
    }
  }
  {
    StoreOptions so;
    so.url = (dir / "cs.db").string();
    auto store = Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Status filled = (*store)->Write([&](StoreTxn& t) -> Status {
      for (const Declaration& d : batch->rows) {
        DeclarationRow r;
        r.declaration_id = r.consignment_id = d.declaration_id;
        r.office_id = d.office_id;
        r.date = d.date;
        Declaration clean = d;  // the stored declaration carries no outcome
        clean.fraud = clean.critical = clean.inspected = -1;
        r.json = DeclarationToJson(clean, batch->extra_columns);
        r.content_sha256 = Sha256Hex(r.json);
        r.received_ms = NowMs();
        CS_RETURN_IF_ERROR(t.InsertDeclaration(r));
        DecisionRow c;
        c.consignment_id = d.declaration_id;
        c.lane = d.office_id;
        c.date = d.date;
        c.channel = d.inspected == 1 ? "red" : "green";
        c.status = d.inspected == 1 ? "pending" : "released";
        c.version = 1;
        c.has_declaration = true;
        c.reasons_json = "[]";
        c.created_ms = c.updated_ms = NowMs();
        CS_RETURN_IF_ERROR(t.PutDecision(c));
        if (d.inspected != 1) continue;
        OutcomeRow o;
        o.consignment_id = d.declaration_id;
        o.result = d.fraud == 1 ? "undervaluation" : "nothing";
        o.officer = "test";
        CS_RETURN_IF_ERROR(t.InsertOutcome(&o));
      }
      return Status::Ok();
    });
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
  const auto from_db = nlohmann::json::parse(ReadText(dir / "db.json"));
  EXPECT_EQ(from_db["declarations"], from_file["declarations"]);
  EXPECT_EQ(from_db["tested"], from_file["tested"]);
  ASSERT_EQ(from_db["signals"].size(), from_file["signals"].size());
  bool hit_rate = false, doubled = false;
  for (size_t i = 0; i < from_db["signals"].size(); ++i) {
    const auto &a = from_db["signals"][i], &b = from_file["signals"][i];
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

}  // namespace
}  // namespace clearsight
