// The CLI end to end, as a user runs it: simulate, wedges, calibrate, analyze, render, DICOS, TIP.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "xray/xray_test_util.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;

int RunCli(const std::string& args, const fs::path& log) {
  std::string cmd = std::string(CS_CLI) + " " + args + " > " + log.string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

class XrayCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = testing::TempDir("cli");
    ASSERT_EQ(
        RunCli(
            "xray simulate --count 4 --seed 5 --width 320 --height 240 --threat-rate 0.5 --out " +
                (dir_ / "sim").string(),
            dir_ / "sim.log"),
        0)
        << testing::ReadBytes(dir_ / "sim.log");
    ASSERT_EQ(RunCli("xray wedges --height 240 --out " + (dir_ / "w").string(), dir_ / "w.log"), 0);
    ASSERT_EQ(RunCli("xray calibrate --wedges " + (dir_ / "w").string() + " --out " +
                         (dir_ / "calib.json").string(),
                     dir_ / "c.log"),
              0)
        << testing::ReadBytes(dir_ / "c.log");
  }
  static fs::path dir_;
};
fs::path XrayCli::dir_;

TEST_F(XrayCli, SimulateWritesScansTruthAndDeclarationsReproducibly) {
  fs::path sim = dir_ / "sim";
  for (int i = 0; i < 4; ++i) {
    std::string id = "S5-00000" + std::to_string(i);
    EXPECT_TRUE(fs::exists(sim / (id + ".tif")));
    EXPECT_TRUE(fs::exists(sim / (id + ".json")));
    EXPECT_TRUE(fs::exists(sim / "truth" / (id + ".json")));
  }
  EXPECT_TRUE(fs::exists(sim / "declarations.csv"));
  EXPECT_TRUE(fs::exists(sim / "declarations_truth.csv"));
  EXPECT_NE(testing::ReadBytes(dir_ / "sim.log").find("simulated 4/4"), std::string::npos)
      << "progress is printed";
  ASSERT_EQ(RunCli("xray simulate --count 4 --seed 5 --width 320 --height 240 --threat-rate 0.5 "
                   "--threads 1 --out " +
                       (dir_ / "sim2").string(),
                   dir_ / "sim2.log"),
            0);
  for (const auto& e : fs::recursive_directory_iterator(sim)) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(testing::ReadBytes(e.path()),
              testing::ReadBytes(dir_ / "sim2" / fs::relative(e.path(), sim)))
        << e.path();
  }
}

TEST_F(XrayCli, AnalyzeWritesOneLinePerScanAndReportsBadScans) {
  fs::path in = dir_ / "mixed";
  fs::create_directories(in);
  for (const auto& e : fs::directory_iterator(dir_ / "sim"))
    if (e.is_regular_file())
      fs::copy_file(e.path(), in / e.path().filename(), fs::copy_options::overwrite_existing);
  std::string tif = testing::ReadBytes(in / "S5-000001.tif");
  testing::WriteBytes(in / "broken.tif", tif.substr(0, tif.size() / 3));
  testing::WriteBytes(in / "broken.json", R"({"scan_id":"broken","pixel_mm":0.7})");
  int rc = RunCli("xray analyze --calibration " + (dir_ / "calib.json").string() + " --in " +
                      in.string() + " --out " + (dir_ / "r.jsonl").string() + " --render " +
                      (dir_ / "png").string(),
                  dir_ / "a.log");
  EXPECT_EQ(rc, 1) << "one scan failed";
  EXPECT_NE(testing::ReadBytes(dir_ / "a.log").find("broken.tif"), std::string::npos);
  std::ifstream f(dir_ / "r.jsonl");
  int lines = 0;
  for (std::string l; std::getline(f, l); ++lines) {
    auto j = nlohmann::json::parse(l);
    for (const char* k : {"scan_id", "objects", "materials", "ms"}) EXPECT_TRUE(j.contains(k)) << k;
    EXPECT_TRUE(fs::exists(dir_ / "png" / (j["scan_id"].get<std::string>() + ".png")));
  }
  EXPECT_EQ(lines, 4);
}

TEST_F(XrayCli, RenderDicosAndTipRoundTrip) {
  std::string scan = (dir_ / "sim" / "S5-000000.tif").string();
  EXPECT_EQ(
      RunCli("xray render --in " + scan + " --out " + (dir_ / "g.png").string(), dir_ / "r1.log"),
      0);
  EXPECT_EQ(RunCli("xray render --mode material --calibration " + (dir_ / "calib.json").string() +
                       " --in " + scan + " --out " + (dir_ / "m.png").string(),
                   dir_ / "r2.log"),
            0);
  EXPECT_EQ(testing::ReadBytes(dir_ / "m.png").substr(1, 3), "PNG");
  EXPECT_EQ(
      RunCli("xray export-dicos --in " + scan + " --out " + (dir_ / "d").string(), dir_ / "d1.log"),
      0);
  EXPECT_EQ(RunCli("xray import-dicos --in " + (dir_ / "d").string() + " --out " +
                       (dir_ / "back.tif").string(),
                   dir_ / "d2.log"),
            0);
  EXPECT_EQ(testing::ReadBytes(dir_ / "back.tif"), testing::ReadBytes(scan))
      << "DICOS round trip is lossless";
  EXPECT_EQ(testing::ReadBytes(dir_ / "back.json"),
            testing::ReadBytes(dir_ / "sim" / "S5-000000.json"));
  ASSERT_EQ(RunCli("xray threats --per-class 1 --height 240 --out " + (dir_ / "lib").string(),
                   dir_ / "t.log"),
            0);
  ASSERT_EQ(RunCli("xray tip --in " + scan + " --threats " + (dir_ / "lib").string() +
                       " --class knife --x 100 --y 120 --out " + (dir_ / "tip.tif").string(),
                   dir_ / "tip.log"),
            0)
      << testing::ReadBytes(dir_ / "tip.log");
  auto j = nlohmann::json::parse(testing::ReadBytes(dir_ / "tip.log"));
  EXPECT_EQ(j["class"], "knife");
  EXPECT_EQ(j["box"].size(), 4u);
  EXPECT_NE(testing::ReadBytes(dir_ / "tip.tif"), testing::ReadBytes(scan));
}

TEST_F(XrayCli, UsageErrorsExitWith2) {
  EXPECT_EQ(RunCli("xray simulate --count 2", dir_ / "u1.log"), 2);
  EXPECT_EQ(RunCli("xray nonsense", dir_ / "u2.log"), 2);
  EXPECT_EQ(RunCli("xray analyze --calibration x --in y --out z --bogus 1", dir_ / "u3.log"), 2);
  EXPECT_EQ(RunCli("xray calibrate --wedges " + (dir_ / "nothing").string() + " --out x.json",
                   dir_ / "u4.log"),
            1);
  EXPECT_EQ(RunCli("xray simulate --help", dir_ / "u5.log"), 0);
  // The message names what is wrong: an unknown flag also when it ends the line (and so has no
  // value after it), a known flag without its value as such.
  EXPECT_NE(testing::ReadBytes(dir_ / "u3.log").find("unknown flag --bogus"), std::string::npos);
  EXPECT_EQ(RunCli("xray analyze --calibration x --in y --no-such-flag", dir_ / "u6.log"), 2);
  EXPECT_NE(testing::ReadBytes(dir_ / "u6.log").find("unknown flag --no-such-flag"),
            std::string::npos)
      << testing::ReadBytes(dir_ / "u6.log");
  EXPECT_EQ(RunCli("xray analyze --calibration x --in y --out", dir_ / "u7.log"), 2);
  EXPECT_NE(testing::ReadBytes(dir_ / "u7.log").find("flag --out needs a value"), std::string::npos)
      << testing::ReadBytes(dir_ / "u7.log");
}

}  // namespace
}  // namespace clearsight
