// The detector commands end to end, as a user runs them: analyze --model --declarations, eval,
// and a tiny train whose model the analyzer then loads.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_detect.h"
#include "clearsight/xray_train.h"
#include "xray/xray_test_util.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;

const std::string kModel = CS_SOURCE_DIR "/models/detector.pt";

int RunCli(const std::string& args, const fs::path& log) {
  std::string cmd = std::string(CS_CLI) + " " + args + " > " + log.string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

std::vector<nlohmann::json> JsonLines(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::istringstream in(testing::ReadBytes(p));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

class DetectCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = testing::TempDir("detect_cli");
    // 0.7 mm pixels like the training scans, on a smaller belt.
    ASSERT_EQ(RunCli("xray simulate --count 12 --seed 31 --width 512 --height 384 --pixel-mm 0.7 "
                     "--threat-rate 0.5 "
                     "--misdeclared-rate 0.3 --out " +
                         (dir_ / "sim").string(),
                     dir_ / "sim.log"),
              0)
        << testing::ReadBytes(dir_ / "sim.log");
    ASSERT_EQ(RunCli("xray wedges --height 384 --pixel-mm 0.7 --out " + (dir_ / "w").string(),
                     dir_ / "w.log"),
              0);
    ASSERT_EQ(RunCli("xray calibrate --wedges " + (dir_ / "w").string() + " --out " +
                         (dir_ / "calib.json").string(),
                     dir_ / "c.log"),
              0);
  }
  static fs::path dir_;
};
fs::path DetectCli::dir_;

TEST_F(DetectCli, AnalyzeAddsDetectionsAndManifestAndEvalScoresThem) {
  const fs::path out = dir_ / "r.jsonl";
  ASSERT_EQ(
      RunCli("xray analyze --calibration " + (dir_ / "calib.json").string() + " --in " +
                 (dir_ / "sim").string() + " --out " + out.string() + " --model " + kModel +
                 " --min-score 0.05 --declarations " + (dir_ / "sim" / "declarations.csv").string(),
             dir_ / "a.log"),
      0)
      << testing::ReadBytes(dir_ / "a.log");
  EXPECT_NE(testing::ReadBytes(dir_ / "a.log").find("ms detector and manifest"), std::string::npos);
  auto lines = JsonLines(out);
  ASSERT_EQ(lines.size(), 12u);
  for (const auto& l : lines) {
    ASSERT_TRUE(l["detections"].is_array()) << l.dump();
    for (const auto& d : l["detections"]) {
      EXPECT_TRUE(d["class"].is_string() && d["score"].is_number() && d["box"].size() == 4);
      EXPECT_GE(d["score"].get<double>(), 0.05);
    }
    ASSERT_TRUE(l["manifest"].is_object()) << l.dump();
    EXPECT_TRUE(l["manifest"]["consistent"].is_boolean());
    EXPECT_TRUE(l["manifest"]["score"].is_number());
    EXPECT_TRUE(l["manifest"]["reasons"].is_array());
    EXPECT_TRUE(l["manifest"]["reason"].is_string());
  }
  const fs::path ev = dir_ / "eval.json";
  ASSERT_EQ(
      RunCli("xray eval --in " + (dir_ / "sim").string() + " --results " + out.string() + " --json",
             ev),
      0)
      << testing::ReadBytes(ev);
  auto j = nlohmann::json::parse(testing::ReadBytes(ev));
  EXPECT_EQ(j["scans"], 12);
  EXPECT_EQ(j["missing_results"], 0);
  ASSERT_EQ(j["classes"].size(), 9u)
      << "seven classes, concealed narcotics >= 200 g, weapons of any weapon class";
  EXPECT_EQ(j["classes"][8]["class"], "weapons_any_class");
  EXPECT_GE(j["classes"][8]["detected"].get<int>(), j["classes"][1]["detected"].get<int>() +
                                                        j["classes"][2]["detected"].get<int>() +
                                                        j["classes"][3]["detected"].get<int>())
      << "a weapon found by its own class is found by any weapon class";
  EXPECT_TRUE(j["map"].is_number());
  EXPECT_TRUE(j["false_alarms_per_clean_scan"].is_number());
  EXPECT_EQ(j["operating_points"].size(), 4u);
  EXPECT_TRUE(j["manifest"].is_object()) << "declarations_truth.csv is beside the scans";
  // Rates carry 95 % intervals around them.
  for (const auto& c : j["classes"]) {
    ASSERT_EQ(c["detection_rate_ci95"].size(), 2u) << c.dump();
    if (c["threats"].get<int>() == 0) continue;
    EXPECT_LE(c["detection_rate_ci95"][0].get<double>(), c["detection_rate"].get<double>() + 1e-9);
    EXPECT_GE(c["detection_rate_ci95"][1].get<double>(), c["detection_rate"].get<double>() - 1e-9);
  }
  EXPECT_EQ(j["clean_alarm_rate_ci95"].size(), 2u);
  // The table form names every class.
  ASSERT_EQ(RunCli("xray eval --in " + (dir_ / "sim").string() + " --results " + out.string(),
                   dir_ / "t.txt"),
            0);
  EXPECT_NE(testing::ReadBytes(dir_ / "t.txt").find("lithium_battery"), std::string::npos);
  // Two sets pooled (here the same one twice): every count doubles, the rates stay.
  const fs::path ev2 = dir_ / "eval2.json";
  ASSERT_EQ(RunCli("xray eval --in " + (dir_ / "sim").string() + "," + (dir_ / "sim").string() +
                       " --results " + out.string() + "," + out.string() + " --json",
                   ev2),
            0)
      << testing::ReadBytes(ev2);
  auto j2 = nlohmann::json::parse(testing::ReadBytes(ev2));
  EXPECT_EQ(j2["scans"], 24);
  EXPECT_EQ(j2["clean_scans"].get<int>(), 2 * j["clean_scans"].get<int>());
  for (size_t k = 0; k < j["classes"].size(); ++k) {
    EXPECT_EQ(j2["classes"][k]["threats"].get<int>(), 2 * j["classes"][k]["threats"].get<int>());
    EXPECT_EQ(j2["classes"][k]["detected"].get<int>(), 2 * j["classes"][k]["detected"].get<int>());
  }
  EXPECT_EQ(j2["manifest"]["misdeclared"].get<int>(), 2 * j["manifest"]["misdeclared"].get<int>());
}

TEST_F(DetectCli, BadUsageIsReported) {
  EXPECT_EQ(RunCli("xray analyze --calibration " + (dir_ / "calib.json").string() + " --in " +
                       (dir_ / "sim").string() + " --out " + (dir_ / "x.jsonl").string() +
                       " --declarations " + (dir_ / "sim/declarations.csv").string(),
                   dir_ / "u1.log"),
            2);
  EXPECT_NE(testing::ReadBytes(dir_ / "u1.log").find("needs --model"), std::string::npos);
  EXPECT_NE(RunCli("xray analyze --calibration " + (dir_ / "calib.json").string() + " --in " +
                       (dir_ / "sim").string() + " --out " + (dir_ / "x.jsonl").string() +
                       " --model " + (dir_ / "nope.pt").string(),
                   dir_ / "u2.log"),
            0);
  EXPECT_NE(testing::ReadBytes(dir_ / "u2.log").find("nope.pt"), std::string::npos);
  EXPECT_NE(RunCli("xray eval --in " + (dir_ / "sim").string() + " --results " +
                       (dir_ / "missing.jsonl").string(),
                   dir_ / "u3.log"),
            0);
  EXPECT_NE(testing::ReadBytes(dir_ / "u3.log").find("missing.jsonl"), std::string::npos);
  EXPECT_EQ(RunCli("xray eval --in " + (dir_ / "sim").string() + "," + (dir_ / "sim").string() +
                       " --results " + (dir_ / "r.jsonl").string(),
                   dir_ / "u3b.log"),
            2);
  EXPECT_NE(testing::ReadBytes(dir_ / "u3b.log").find("one results file per directory"),
            std::string::npos)
      << testing::ReadBytes(dir_ / "u3b.log");
  EXPECT_EQ(RunCli("xray train --data " + (dir_ / "sim").string() + " --calibration " +
                       (dir_ / "calib.json").string() + " --region-probability 1.5 --out x.pt",
                   dir_ / "u3c.log"),
            2);
  EXPECT_NE(testing::ReadBytes(dir_ / "u3c.log").find("region probability must lie in [0.05, 0.9]"),
            std::string::npos)
      << testing::ReadBytes(dir_ / "u3c.log");
  EXPECT_NE(RunCli("xray train --data " + (dir_ / "sim").string() + " --out x.pt", dir_ / "u4.log"),
            0);
  EXPECT_NE(testing::ReadBytes(dir_ / "u4.log").find("--calibration"), std::string::npos);
  EXPECT_EQ(RunCli("xray train --data " + (dir_ / "sim").string() + "," + (dir_ / "sim").string() +
                       " --calibration " + (dir_ / "calib.json").string() + " --out x.pt",
                   dir_ / "u5.log"),
            2);
  EXPECT_NE(testing::ReadBytes(dir_ / "u5.log").find("one calibration per directory"),
            std::string::npos)
      << testing::ReadBytes(dir_ / "u5.log");
  EXPECT_EQ(RunCli("xray train --data " + (dir_ / "sim").string() + " --calibration " +
                       (dir_ / "calib.json").string() + " --validation-data " +
                       (dir_ / "sim").string() + " --out x.pt",
                   dir_ / "u6.log"),
            2);
  EXPECT_NE(testing::ReadBytes(dir_ / "u6.log").find("--validation-calibration"), std::string::npos)
      << testing::ReadBytes(dir_ / "u6.log");
  // Class weights: CLASS=WEIGHT pairs of known threat classes, refused before any scan is read.
  const std::string train = "xray train --data " + (dir_ / "sim").string() + " --calibration " +
                            (dir_ / "calib.json").string() + " --out " + (dir_ / "w.pt").string() +
                            " --class-weight ";
  EXPECT_EQ(RunCli(train + "narcotics", dir_ / "u7.log"), 2);
  EXPECT_NE(testing::ReadBytes(dir_ / "u7.log").find("CLASS=WEIGHT"), std::string::npos)
      << testing::ReadBytes(dir_ / "u7.log");
  EXPECT_EQ(RunCli(train + "narcotics=2,heroin=3", dir_ / "u8.log"), 2);
  const std::string u8 = testing::ReadBytes(dir_ / "u8.log");
  EXPECT_NE(u8.find("\"heroin\": not a threat class"), std::string::npos) << u8;
  EXPECT_EQ(u8.find("loading"), std::string::npos) << "refused before loading: " << u8;
  EXPECT_EQ(RunCli(train + "knife=0", dir_ / "u9.log"), 2);
  EXPECT_NE(testing::ReadBytes(dir_ / "u9.log").find("must lie in (0, 100]"), std::string::npos)
      << testing::ReadBytes(dir_ / "u9.log");
  // Class priorities take the same pairs.
  const std::string train_p = "xray train --data " + (dir_ / "sim").string() + " --calibration " +
                              (dir_ / "calib.json").string() + " --out " +
                              (dir_ / "w.pt").string() + " --class-priority ";
  EXPECT_EQ(RunCli(train_p + "narcotics=3,pistol=2", dir_ / "u10.log"), 2);
  EXPECT_NE(testing::ReadBytes(dir_ / "u10.log")
                .find("class priority for \"pistol\": not a threat class"),
            std::string::npos)
      << testing::ReadBytes(dir_ / "u10.log");
  EXPECT_FALSE(fs::exists(dir_ / "w.pt"));
}

// "trained on N scans ...; validation on M scans" from a train report.
std::pair<long, long> TrainValCounts(const std::string& log) {
  long train = -1, val = -1;
  size_t t = log.find("trained on "), v = log.find("validation on ");
  if (t != std::string::npos) train = std::atol(log.c_str() + t + 11);
  if (v != std::string::npos) val = std::atol(log.c_str() + v + 14);
  return {train, val};
}

TEST_F(DetectCli, TrainWritesAModelThatAnalyzeLoads) {
  // A second scanner's scans, with its own calibration, trained on together with the first.
  const fs::path sim2 = dir_ / "sim_layer";
  ASSERT_EQ(RunCli("xray simulate --count 10 --seed 32 --scanner dual-layer --width 512 --height "
                   "384 --pixel-mm 0.7 "
                   "--threat-rate 0.5 --out " +
                       sim2.string(),
                   dir_ / "sim2.log"),
            0)
      << testing::ReadBytes(dir_ / "sim2.log");
  ASSERT_EQ(RunCli("xray wedges --scanner dual-layer --height 384 --pixel-mm 0.7 --out " +
                       (dir_ / "w2").string(),
                   dir_ / "w2.log"),
            0);
  ASSERT_EQ(RunCli("xray calibrate --wedges " + (dir_ / "w2").string() + " --out " +
                       (dir_ / "calib2.json").string(),
                   dir_ / "c2.log"),
            0);
  const fs::path model = dir_ / "tiny.pt";
  ASSERT_EQ(RunCli("xray train --data " + (dir_ / "sim").string() + "," + sim2.string() +
                       " --calibration " + (dir_ / "calib.json").string() + "," +
                       (dir_ / "calib2.json").string() + " --out " + model.string() +
                       " --epochs 1 --batch 2 --crop 32 --tip-rate 0.5 --validation-share 0.4 "
                       "--seed 3 --threads 1"
                       " --region-probability 0.35",
                   dir_ / "train.log"),
            0)
      << testing::ReadBytes(dir_ / "train.log");
  const std::string log = testing::ReadBytes(dir_ / "train.log");
  EXPECT_NE(log.find("operating points"), std::string::npos) << log;
  EXPECT_NE(log.find(" firearm 0."), std::string::npos) << "one operating point per class";
  EXPECT_NE(log.find("epoch 1/1"), std::string::npos) << "progress with epoch";
  EXPECT_NE(log.find("loss"), std::string::npos);
  EXPECT_NE(log.find("ETA"), std::string::npos);
  EXPECT_NE(log.find("validation"), std::string::npos);
  EXPECT_NE(log.find("narcotics_concealed_200g"), std::string::npos) << "the validation report";
  ASSERT_TRUE(fs::exists(model));
  ASSERT_EQ(RunCli("xray analyze --calibration " + (dir_ / "calib.json").string() + " --in " +
                       (dir_ / "sim").string() + " --out " + (dir_ / "tiny.jsonl").string() +
                       " --model " + model.string(),
                   dir_ / "ta.log"),
            0)
      << testing::ReadBytes(dir_ / "ta.log");
  for (const auto& l : JsonLines(dir_ / "tiny.jsonl")) EXPECT_TRUE(l["detections"].is_array());
  // The model file names both sources and a probability per class.
  auto detector = Detector::Load(model.string(), DetectorOptions{});
  ASSERT_TRUE(detector.ok()) << detector.status().message();
  auto meta = nlohmann::json::parse((*detector)->metadata_json());
  ASSERT_EQ(meta["trained"]["sources"].size(), 2u) << meta.dump();
  EXPECT_EQ(meta["trained"]["sources"][1]["scans"], 10);
  EXPECT_EQ(meta["class_operating_probability"].size(), (*detector)->threat_classes().size());
  EXPECT_DOUBLE_EQ(meta["region_probability"].get<double>(), 0.35);
  EXPECT_EQ((*detector)->class_operating_probabilities().size(),
            (*detector)->threat_classes().size());
  // Validation scans of two scanners: the figures for each on its own, which together make the
  // validation split.
  EXPECT_NE(log.find("validation by scanner"), std::string::npos) << log;
  ASSERT_EQ(meta["validation_by_scanner"].size(), 2u) << meta.dump();
  EXPECT_NE(meta["validation_by_scanner"][0]["calibration_device"],
            meta["validation_by_scanner"][1]["calibration_device"]);
  EXPECT_EQ(meta["validation_by_scanner"][0]["evaluation"]["scans"].get<long>() +
                meta["validation_by_scanner"][1]["evaluation"]["scans"].get<long>(),
            meta["trained"]["validation_scans"].get<long>());

  // Operating points made again from the first directory's validation split, then with the second
  // scanner's scans as validation-only data: all ten join the validation scans, none is trained on.
  const std::string init =
      " --init " + model.string() + " --epochs 0 --seed 3 --validation-share 0.4 --threads 1";
  ASSERT_EQ(RunCli("xray train --data " + (dir_ / "sim").string() + " --calibration " +
                       (dir_ / "calib.json").string() + " --out " + (dir_ / "ops1.pt").string() +
                       init + " --class-priority narcotics=3",
                   dir_ / "ops1.log"),
            0)
      << testing::ReadBytes(dir_ / "ops1.log");
  ASSERT_EQ(RunCli("xray train --data " + (dir_ / "sim").string() + " --calibration " +
                       (dir_ / "calib.json").string() + " --validation-data " + sim2.string() +
                       " --validation-calibration " + (dir_ / "calib2.json").string() + " --out " +
                       (dir_ / "ops2.pt").string() + init,
                   dir_ / "ops2.log"),
            0)
      << testing::ReadBytes(dir_ / "ops2.log");
  const auto [train1, val1] = TrainValCounts(testing::ReadBytes(dir_ / "ops1.log"));
  const auto [train2, val2] = TrainValCounts(testing::ReadBytes(dir_ / "ops2.log"));
  ASSERT_GT(val1, 0) << testing::ReadBytes(dir_ / "ops1.log");
  EXPECT_EQ(train2, train1);
  EXPECT_EQ(val2, val1 + 10) << testing::ReadBytes(dir_ / "ops2.log");
  auto ops2 = Detector::Load((dir_ / "ops2.pt").string(), DetectorOptions{});
  ASSERT_TRUE(ops2.ok()) << ops2.status().message();
  auto meta2 = nlohmann::json::parse((*ops2)->metadata_json());
  ASSERT_EQ(meta2["trained"]["sources"].size(), 2u) << meta2.dump();
  EXPECT_EQ(meta2["trained"]["sources"][0]["validation_only"], false);
  EXPECT_EQ(meta2["trained"]["sources"][1]["validation_only"], true);
  EXPECT_FALSE((*ops2)->has_verifier());
  // The candidate-region threshold comes from the --init model when not given; priorities are
  // recorded in the model they made.
  EXPECT_DOUBLE_EQ(meta2["region_probability"].get<double>(), 0.35);
  auto ops1 = Detector::Load((dir_ / "ops1.pt").string(), DetectorOptions{});
  ASSERT_TRUE(ops1.ok()) << ops1.status().message();
  auto meta1 = nlohmann::json::parse((*ops1)->metadata_json());
  EXPECT_DOUBLE_EQ(meta1["trained"]["class_priority"]["narcotics"].get<double>(), 3.0)
      << meta1["trained"].dump();
  // The validation clean parcels alarmed, by main goods category: every clean validation parcel in
  // one category, none alarmed more often than it is there.
  EXPECT_NE(testing::ReadBytes(dir_ / "ops1.log").find("by main goods category"),
            std::string::npos);
  ASSERT_TRUE(meta1.contains("validation_clean_by_goods")) << meta1.dump();
  long clean_by_goods = 0;
  for (const auto& [category, counts] : meta1["validation_clean_by_goods"].items()) {
    EXPECT_LE(counts["alarmed"].get<long>(), counts["clean"].get<long>()) << category;
    clean_by_goods += counts["clean"].get<long>();
  }
  EXPECT_GT(clean_by_goods, 0);
  EXPECT_LE(clean_by_goods, val1);

  // `xray train` on the first set with `flags`: refused with `message` in its log, and no model
  // written.
  auto train_refused = [&](const std::string& name, const std::string& flags,
                           const std::string& message) {
    const fs::path log = dir_ / (name + ".log");
    EXPECT_NE(RunCli("xray train --data " + (dir_ / "sim").string() + " --calibration " +
                         (dir_ / "calib.json").string() + " --out " +
                         (dir_ / (name + ".pt")).string() + " " + flags,
                     log),
              0)
        << name;
    EXPECT_NE(testing::ReadBytes(log).find(message), std::string::npos) << testing::ReadBytes(log);
    EXPECT_FALSE(fs::exists(dir_ / (name + ".pt"))) << name;
  };

  // The experiments removed after e4fb95c are unknown flags now, refused before any work; --init
  // takes one model.
  for (const char* flag :
       {"--tta-views 4", "--tta-on candidates", "--network-on contents", "--teachers x.pt",
        "--distill-weight 2", "--widths 8,24,40", "--points-goods-tilt 3", "--verifier-bag",
        "--norm-batches 5", "--verifier-tip-rate 1", "--verifier-tip-class firearm",
        "--verifier-tip-max-kg 0.1"}) {
    const std::string f(flag);
    train_refused("gone_" + f.substr(2, f.find(' ') == std::string::npos ? std::string::npos
                                                                         : f.find(' ') - 2),
                  f, "unknown flag " + f.substr(0, f.find(' ')));
  }
  train_refused(
      "soup", "--init " + model.string() + "," + (dir_ / "ops1.pt").string() + " --epochs 0",
      model.string() + "," + (dir_ / "ops1.pt").string() + ": no such model file (--init)");

  // The second stage asked for on a validation split with no true region (a one-epoch network):
  // refused in the report, and the model is written without it.
  ASSERT_EQ(RunCli("xray train --data " + (dir_ / "sim").string() + " --calibration " +
                       (dir_ / "calib.json").string() + " --out " + (dir_ / "ops3.pt").string() +
                       init + " --verifier",
                   dir_ / "ops3.log"),
            0)
      << testing::ReadBytes(dir_ / "ops3.log");
  const std::string log3 = testing::ReadBytes(dir_ / "ops3.log");
  EXPECT_NE(log3.find("verifier not fitted: too few true and false regions"), std::string::npos)
      << log3;
  auto ops3 = Detector::Load((dir_ / "ops3.pt").string(), DetectorOptions{});
  ASSERT_TRUE(ops3.ok()) << ops3.status().message();
  EXPECT_FALSE((*ops3)->has_verifier());
}

// Training TIP copies: with --tip-targeted-share only that share takes the chosen class and mass
// (small narcotics packets over goods here); the others project any class, so a fine-tune on
// small packets still sees the other threats. The model file counts the copies by class.
TEST_F(DetectCli, TrainingTipCopiesMixTargetedAndAnyClass) {
  const std::string calib = (dir_ / "calib.json").string();
  const std::string common =
      "xray train --data " + (dir_ / "sim").string() + " --calibration " + calib +
      " --epochs 1 --batch 2 --crop 32 --validation-share 0.4 --seed 3 --threads 1"
      " --tip-rate 4 --tip-class narcotics --tip-max-kg 0.4";
  auto tip_meta = [&](const std::string& name) {
    auto detector = Detector::Load((dir_ / name).string(), DetectorOptions{});
    EXPECT_TRUE(detector.ok()) << detector.status().message();
    return detector.ok() ? nlohmann::json::parse((*detector)->metadata_json())["trained"]
                         : nlohmann::json{};
  };
  ASSERT_EQ(RunCli(common + " --out " + (dir_ / "mix_all.pt").string(), dir_ / "mix_all.log"), 0)
      << testing::ReadBytes(dir_ / "mix_all.log");
  ASSERT_EQ(RunCli(common + " --tip-targeted-share 0.5 --out " + (dir_ / "mix_half.pt").string(),
                   dir_ / "mix_half.log"),
            0)
      << testing::ReadBytes(dir_ / "mix_half.log");
  const auto all = tip_meta("mix_all.pt"), half = tip_meta("mix_half.pt");
  ASSERT_TRUE(all.contains("tip_by_class")) << all.dump();
  // Every copy targeted: all narcotics, all small packets.
  const long copies = all["tip_scans"].get<long>();
  ASSERT_GE(copies, 8) << all.dump();
  EXPECT_EQ(all["tip_by_class"].size(), 1u) << all["tip_by_class"].dump();
  EXPECT_EQ(all["tip_by_class"].value("narcotics", 0L), copies);
  EXPECT_EQ(all["tip_small_packets"].get<long>(), copies);
  // Half targeted: the same clean scans give as many copies; some are small narcotics packets,
  // the others spread over the classes.
  ASSERT_EQ(half["tip_scans"].get<long>(), copies) << half.dump();
  const long small = half["tip_small_packets"].get<long>();
  EXPECT_GT(small, 0) << half.dump();
  EXPECT_LT(small, copies) << half.dump();
  EXPECT_GE(half["tip_by_class"].value("narcotics", 0L), small);
  EXPECT_GE(half["tip_by_class"].size(), 3u) << half["tip_by_class"].dump();
  long sum = 0;
  for (const auto& [cls, n] : half["tip_by_class"].items()) sum += n.get<long>();
  EXPECT_EQ(sum, copies);
  EXPECT_NE(testing::ReadBytes(dir_ / "mix_half.log").find("TIP copies by class:"),
            std::string::npos);
  // A share without a class or mass to target, or outside (0, 1]: a usage error, before loading.
  EXPECT_EQ(RunCli("xray train --data " + (dir_ / "sim").string() + " --calibration " + calib +
                       " --epochs 1 --out " + (dir_ / "mix_bad1.pt").string() +
                       " --tip-targeted-share 0.5",
                   dir_ / "mix_bad1.log"),
            2);
  EXPECT_NE(testing::ReadBytes(dir_ / "mix_bad1.log").find("needs TIP classes or a maximum mass"),
            std::string::npos)
      << testing::ReadBytes(dir_ / "mix_bad1.log");
  EXPECT_EQ(RunCli(common + " --tip-targeted-share 0 --out " + (dir_ / "mix_bad2.pt").string(),
                   dir_ / "mix_bad2.log"),
            2);
  EXPECT_NE(testing::ReadBytes(dir_ / "mix_bad2.log").find("targeted share must lie in (0, 1]"),
            std::string::npos)
      << testing::ReadBytes(dir_ / "mix_bad2.log");
  EXPECT_FALSE(fs::exists(dir_ / "mix_bad1.pt"));
  EXPECT_FALSE(fs::exists(dir_ / "mix_bad2.pt"));
  // The copies' classes and masses are checked before loading.
  EXPECT_EQ(RunCli("xray train --data " + (dir_ / "sim").string() + " --calibration " + calib +
                       " --out " + (dir_ / "vt6.pt").string() +
                       " --epochs 1 --tip-class narcotics,pistols",
                   dir_ / "vt6.log"),
            2);
  EXPECT_NE(testing::ReadBytes(dir_ / "vt6.log").find("TIP class \"pistols\": not a threat class"),
            std::string::npos)
      << testing::ReadBytes(dir_ / "vt6.log");
  EXPECT_EQ(RunCli("xray train --data " + (dir_ / "sim").string() + " --calibration " + calib +
                       " --out " + (dir_ / "vt7.pt").string() +
                       " --epochs 1 --tip-class knife --tip-max-kg 0.001",
                   dir_ / "vt7.log"),
            1);
  EXPECT_NE(testing::ReadBytes(dir_ / "vt7.log")
                .find("no patch of class knife of known mass up to 0.001 kg"),
            std::string::npos)
      << testing::ReadBytes(dir_ / "vt7.log");
  for (const char* name : {"vt6.pt", "vt7.pt"}) EXPECT_FALSE(fs::exists(dir_ / name)) << name;
}

// Every training scanner can have TIP copies: --threats names a library per --data directory
// (patches simulated by that scanner); without one a later directory gets none.
TEST_F(DetectCli, TipCopiesForEachScannerWithItsOwnLibrary) {
  const fs::path layer = dir_ / "own_layer", lib = dir_ / "own_layer_threats",
                 wedges = dir_ / "own_w";
  ASSERT_EQ(RunCli("xray simulate --count 10 --seed 36 --scanner dual-layer --width 512 --height "
                   "384 --pixel-mm 0.7 "
                   "--threat-rate 0 --out " +
                       layer.string(),
                   dir_ / "own_sim.log"),
            0)
      << testing::ReadBytes(dir_ / "own_sim.log");
  ASSERT_EQ(RunCli("xray threats --scanner dual-layer --per-class 2 --height 384 --pixel-mm 0.7 "
                   "--seed 5 --out " +
                       lib.string(),
                   dir_ / "own_lib.log"),
            0)
      << testing::ReadBytes(dir_ / "own_lib.log");
  ASSERT_EQ(RunCli("xray wedges --scanner dual-layer --height 384 --pixel-mm 0.7 --out " +
                       wedges.string(),
                   dir_ / "own_w.log"),
            0);
  const std::string calib = (dir_ / "calib.json").string(),
                    calib2 = (dir_ / "own_calib2.json").string();
  ASSERT_EQ(
      RunCli("xray calibrate --wedges " + wedges.string() + " --out " + calib2, dir_ / "own_c.log"),
      0);
  const std::string common =
      "xray train --data " + (dir_ / "sim").string() + "," + layer.string() + " --calibration " +
      calib + "," + calib2 +
      " --epochs 1 --batch 2 --crop 32 --validation-share 0.4 --seed 3 --threads 1 --tip-rate 2";
  ASSERT_EQ(RunCli(common + " --threats ," + lib.string() + " --out " + (dir_ / "own1.pt").string(),
                   dir_ / "own1.log"),
            0)
      << testing::ReadBytes(dir_ / "own1.log");
  ASSERT_EQ(RunCli(common + " --out " + (dir_ / "own2.pt").string(), dir_ / "own2.log"), 0)
      << testing::ReadBytes(dir_ / "own2.log");
  auto sources = [&](const char* name) {
    auto detector = Detector::Load((dir_ / name).string(), DetectorOptions{});
    EXPECT_TRUE(detector.ok()) << detector.status().message();
    return detector.ok() ? nlohmann::json::parse((*detector)->metadata_json())["trained"]["sources"]
                         : nlohmann::json{};
  };
  const auto with = sources("own1.pt"), without = sources("own2.pt");
  ASSERT_EQ(with.size(), 2u) << with.dump();
  ASSERT_EQ(without.size(), 2u) << without.dump();
  // The first scanner's copies are the same either way (its default library); the dual-layer
  // set's clean training scans get two copies each only with a library of their own.
  EXPECT_EQ(with[0]["tip_scans"], without[0]["tip_scans"]);
  EXPECT_EQ(without[1]["tip_scans"].get<long>(), 0);
  EXPECT_GE(with[1]["tip_scans"].get<long>(), 6) << with.dump();
  EXPECT_EQ(with[1]["tip_scans"].get<long>() % 2, 0);
  // More libraries than training directories: refused before any work.
  EXPECT_EQ(RunCli(common + " --threats ," + lib.string() + "," + lib.string() + " --out " +
                       (dir_ / "own3.pt").string(),
                   dir_ / "own3.log"),
            2);
  EXPECT_NE(testing::ReadBytes(dir_ / "own3.log")
                .find("--threats names 3 libraries for 2 --data directories"),
            std::string::npos)
      << testing::ReadBytes(dir_ / "own3.log");
  EXPECT_FALSE(fs::exists(dir_ / "own3.pt"));
}

TEST_F(DetectCli, AdaptSetsThePointsOnTheSiteRecordsHowAndRefusesTooLittle) {
  // A "site": clean, honest traffic of the dual-layer scanner, with its own wedges.
  const fs::path site = dir_ / "site";
  ASSERT_EQ(RunCli("xray simulate --count 40 --seed 77 --width 512 --height 384 --pixel-mm 0.7 "
                   "--threat-rate 0 --misdeclared-rate 0 --scanner dual-layer --out " +
                       site.string(),
                   dir_ / "site.log"),
            0)
      << testing::ReadBytes(dir_ / "site.log");
  ASSERT_EQ(RunCli("xray wedges --scanner dual-layer --height 384 --pixel-mm 0.7 --out " +
                       (dir_ / "sw").string() + " && " + CS_CLI + " xray calibrate --wedges " +
                       (dir_ / "sw").string() + " --out " + (dir_ / "site_calib.json").string(),
                   dir_ / "sc.log"),
            0)
      << testing::ReadBytes(dir_ / "sc.log");
  const std::string common = "xray adapt --model " + kModel + " --calibration " +
                             (dir_ / "site_calib.json").string() + " --site " + site.string();
  const fs::path out = dir_ / "site.pt";
  // Points only (no fine-tuning), a target of 2.5 %: at most one of the 40 clean scans may alarm.
  ASSERT_EQ(RunCli(common + " --fine-tune-epochs 0 --target-alarm-rate 0.025 --out " + out.string(),
                   dir_ / "ad.log"),
            0)
      << testing::ReadBytes(dir_ / "ad.log");
  const std::string log = testing::ReadBytes(dir_ / "ad.log");
  EXPECT_NE(log.find("site: 40 scans (40 with a declaration)"), std::string::npos) << log;
  auto base = Detector::Load(kModel);
  auto adapted = Detector::Load(out.string());
  ASSERT_TRUE(base.ok() && adapted.ok()) << adapted.status().message();
  // Points are only ever raised, and the record says how they were set.
  const auto bp = (*base)->class_operating_probabilities(),
             sp = (*adapted)->class_operating_probabilities();
  ASSERT_EQ(bp.size(), sp.size());
  for (size_t k = 0; k < bp.size(); ++k) EXPECT_GE(sp[k], bp[k] - 1e-12) << k;
  auto meta = nlohmann::json::parse((*adapted)->metadata_json());
  const auto& rec = meta["site_adaptation"];
  ASSERT_TRUE(rec.is_object()) << meta.dump().substr(0, 500);
  EXPECT_EQ(rec["site_scans"], 40);
  EXPECT_EQ(rec["base_model_sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(rec["calibration_sha256"].get<std::string>().size(), 64u);
  EXPECT_LE(rec["site_alarm_rate"].get<double>(), 0.025);
  // The base network kept: the points for unseen scanners stay, with the site's as the one known.
  ASSERT_TRUE(meta.contains("unseen_scanner"));
  EXPECT_EQ(meta["unseen_scanner"]["known_scanners"].size(), 1u);
  // The adapted model on the same scans: at most one of them alarms at score 0.5.
  const fs::path results = dir_ / "site_r.jsonl";
  ASSERT_EQ(RunCli("xray analyze --calibration " + (dir_ / "site_calib.json").string() + " --in " +
                       site.string() + " --out " + results.string() + " --model " + out.string(),
                   dir_ / "sa.log"),
            0)
      << testing::ReadBytes(dir_ / "sa.log");
  int alarmed = 0;
  for (const auto& l : JsonLines(results)) alarmed += !l["detections"].empty();
  EXPECT_LE(alarmed, 1);
  // The manifest model: the site's 40 declared scans are fewer than the CLI's 100, so it is kept
  // and the log says why.
  EXPECT_NE(log.find("refitting needs 100"), std::string::npos) << log;
  // Through the API with a lower floor: traffic of a scanner like the training ones fits the base
  // model's manifest as well as a refit on it (out of fold) does, so auto keeps the base model's;
  // refit always refits; the record holds both shares either way. With a fine-tuned network kept,
  // the choice and the refit read that network's goods outputs (the ones it gives at run time).
  auto site_calib = Calibration::Load((dir_ / "site_calib.json").string());
  ASSERT_TRUE(site_calib.ok()) << site_calib.status().message();
  for (auto [choice, epochs] : {std::pair{SiteAdaptOptions::Manifest::kAuto, 0},
                                std::pair{SiteAdaptOptions::Manifest::kRefit, 0},
                                std::pair{SiteAdaptOptions::Manifest::kRefit, 1}}) {
    SiteAdaptOptions ao;
    ao.base_model = kModel;
    ao.site_dir = site.string();
    ao.fine_tune_epochs = epochs;
    ao.tip_copies = 1;
    ao.min_manifest_pairs = 30;
    ao.manifest = choice;
    const fs::path mout = dir_ / "manifest_site.pt";
    SiteAdaptReport rep;
    ASSERT_TRUE(AdaptDetectorToSite(ao, *site_calib, mout.string(), nullptr, &rep).ok());
    auto m = Detector::Load(mout.string());
    ASSERT_TRUE(m.ok()) << m.status().message();
    const auto mm = nlohmann::json::parse((*m)->metadata_json());
    const auto& mc = mm["site_adaptation"]["manifest_choice"];
    ASSERT_TRUE(mc.is_object() && mc.contains("refitted")) << rep.manifest;
    const double base_fit = mc["declared_goods_fit_best_base"].get<double>(),
                 refit_fit = mc["declared_goods_fit_best_refit_cross_validated"].get<double>();
    const std::string kept = mm["site_adaptation"]["network"].is_object()
                                 ? mm["site_adaptation"]["network"]["kept"].get<std::string>()
                                 : "";
    EXPECT_EQ(mc["goods_outputs"].get<std::string>(),
              kept.rfind("tuned", 0) == 0 ? "tuned network, out of fold" : "base network")
        << kept;
    if (epochs > 0) {
      EXPECT_NE(kept, "") << mm["site_adaptation"].dump();
      EXPECT_TRUE(mc["refitted"].get<bool>()) << rep.manifest;
      continue;
    }
    EXPECT_GT(base_fit, 0.5) << rep.manifest;  // the base model knows this scanner's goods
    if (choice == SiteAdaptOptions::Manifest::kAuto) {
      EXPECT_LT(refit_fit, base_fit + 0.05) << rep.manifest;
      EXPECT_FALSE(mc["refitted"].get<bool>()) << rep.manifest;
      EXPECT_EQ(mm["manifest"], nlohmann::json::parse((*base)->metadata_json())["manifest"])
          << rep.manifest;
    } else {
      EXPECT_TRUE(mc["refitted"].get<bool>()) << rep.manifest;
      EXPECT_NE(rep.manifest.find("refitted on 40 declared scans"), std::string::npos)
          << rep.manifest;
    }
  }
  // Too small a site, or no calibration: refused with a message that says what is needed.
  EXPECT_NE(RunCli(common + " --min-scans 50 --out " + (dir_ / "x.pt").string(), dir_ / "r1.log"),
            0);
  EXPECT_NE(testing::ReadBytes(dir_ / "r1.log").find("needs at least 50 scans"), std::string::npos)
      << testing::ReadBytes(dir_ / "r1.log");
  EXPECT_NE(
      RunCli("xray adapt --model " + kModel + " --calibration " + (dir_ / "nope.json").string() +
                 " --site " + site.string() + " --out " + (dir_ / "x.pt").string(),
             dir_ / "r2.log"),
      0);
  EXPECT_NE(testing::ReadBytes(dir_ / "r2.log").find("calibration"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "x.pt"));

  // Fine-tuning: threats rendered for the site's scanner projected into copies of its scans; the
  // points chosen on every scan and copy (out of fold); the record says what was kept and what it
  // found.
  const fs::path tuned = dir_ / "tuned.pt";
  ASSERT_EQ(
      RunCli(common + " --fine-tune-epochs 1 --copies 1 --out " + tuned.string(), dir_ / "ft.log"),
      0)
      << testing::ReadBytes(dir_ / "ft.log");
  const std::string ft_log = testing::ReadBytes(dir_ / "ft.log");
  EXPECT_NE(ft_log.find("kept: "), std::string::npos) << ft_log;
  EXPECT_NE(ft_log.find("tuned network"), std::string::npos) << ft_log;
  auto site_model = Detector::Load(tuned.string());
  ASSERT_TRUE(site_model.ok()) << site_model.status().message();
  const auto tmeta = nlohmann::json::parse((*site_model)->metadata_json());
  const auto& net = tmeta["site_adaptation"]["network"];
  ASSERT_TRUE(net.is_object()) << tmeta["site_adaptation"].dump();
  EXPECT_EQ(net["scored_scans"].get<int64_t>(), 40);
  // Points for unseen scanners stay only with the base network and verifier as they were.
  EXPECT_EQ(tmeta.contains("unseen_scanner"),
            net["kept"].get<std::string>() == "base network with verifier")
      << net["kept"];
  int64_t projected = 0;
  for (const auto& [cls, f] : net["found"].items()) {
    projected += f["projected"].get<int64_t>();
    EXPECT_LE(f["found"].get<int64_t>(), f["projected"].get<int64_t>()) << cls;
  }
  EXPECT_EQ(projected, net["scored_copies"].get<int64_t>());
  EXPECT_GE(projected, 36);  // one copy per scan, a few may fall outside
  EXPECT_GT(net["train_projected_copies"].get<int64_t>(), 0);
  // Wedges without formulas give no spectral response: fine-tuning is refused, and says why.
  auto cj = nlohmann::json::parse(testing::ReadBytes(dir_ / "site_calib.json"));
  for (auto& c : cj["curves"]) c.erase("formula");
  {
    std::ofstream f(dir_ / "no_formula.json");
    f << cj.dump();
  }
  EXPECT_NE(RunCli("xray adapt --model " + kModel + " --calibration " +
                       (dir_ / "no_formula.json").string() + " --site " + site.string() +
                       " --out " + (dir_ / "y.pt").string(),
                   dir_ / "r3.log"),
            0);
  EXPECT_NE(testing::ReadBytes(dir_ / "r3.log").find("no formula"), std::string::npos)
      << testing::ReadBytes(dir_ / "r3.log");
  EXPECT_FALSE(fs::exists(dir_ / "y.pt"));
}

TEST_F(DetectCli, UnseenScannerPointsHoldCleanAlarmsOnScannersNeverSeenAndLeaveKnownOnesAlone) {
  // Two validation scanners drawn at random, 24 clean parcels each, each with its own wedges; the
  // known scanner is the default one, calibrated from wedges of another seed and size than the
  // fixture's.
  std::string data, calibs;
  for (int s : {201, 202}) {
    const fs::path d = dir_ / ("v" + std::to_string(s));
    const std::string scanner = " --scanner random --scanner-seed " + std::to_string(s);
    ASSERT_EQ(
        RunCli("xray simulate --count 24 --seed " + std::to_string(900 + s) +
                   " --width 512 --height 384 --threat-rate 0 --goods-types extended" + scanner +
                   " --out " + (d / "scans").string() + " && " + CS_CLI + " xray wedges" + scanner +
                   " --out " + (d / "w").string() + " && " + CS_CLI + " xray calibrate --wedges " +
                   (d / "w").string() + " --out " + (d / "calib.json").string(),
               dir_ / "v.log"),
        0)
        << testing::ReadBytes(dir_ / "v.log");
    data += (data.empty() ? "" : ",") + (d / "scans").string();
    calibs += (calibs.empty() ? "" : ",") + (d / "calib.json").string();
  }
  const fs::path known = dir_ / "known.json";
  ASSERT_EQ(
      RunCli("xray wedges --seed 5 --out " + (dir_ / "kw").string() + " && " + CS_CLI +
                 " xray calibrate --wedges " + (dir_ / "kw").string() + " --out " + known.string(),
             dir_ / "k.log"),
      0);
  const fs::path model = dir_ / "unseen.pt";
  const std::string cmd = "xray unseen-points --model " + kModel + " --known-calibration " +
                          known.string() + " --target-alarm-rate 0.05 --out " + model.string();
  ASSERT_EQ(RunCli(cmd + " --data " + data + " --calibration " + calibs, dir_ / "u.log"), 0)
      << testing::ReadBytes(dir_ / "u.log");
  // On each validation scanner, its own calibration picks the unseen points: at most
  // floor(0.05 x 24) = 1 clean parcel alarms, where the model's own points may alarm on more.
  for (int s : {201, 202}) {
    const fs::path d = dir_ / ("v" + std::to_string(s));
    const fs::path r = dir_ / "vr.jsonl";
    ASSERT_EQ(RunCli("xray analyze --model " + model.string() + " --calibration " +
                         (d / "calib.json").string() + " --in " + (d / "scans").string() +
                         " --out " + r.string(),
                     dir_ / "va.log"),
              0)
        << testing::ReadBytes(dir_ / "va.log");
    EXPECT_NE(testing::ReadBytes(dir_ / "va.log").find("detector: unseen-scanner points"),
              std::string::npos)
        << testing::ReadBytes(dir_ / "va.log");
    int alarmed = 0;
    for (const auto& l : JsonLines(r)) alarmed += !l["detections"].empty();
    EXPECT_LE(alarmed, 1) << s;
  }
  // The known scanner (the fixture's calibration: same scanner, other wedges and image size):
  // the model's own points, the same detections as the base model; or the unseen ones if asked.
  auto analyze = [&](const std::string& m, const std::string& extra, const fs::path& log) {
    const fs::path r = dir_ / "kr.jsonl";
    EXPECT_EQ(RunCli("xray analyze --model " + m + " --min-score 0.05 --calibration " +
                         (dir_ / "calib.json").string() + " --in " + (dir_ / "sim").string() +
                         " --out " + r.string() + extra,
                     log),
              0)
        << testing::ReadBytes(log);
    std::vector<nlohmann::json> det;
    for (const auto& l : JsonLines(r)) det.push_back(l["detections"]);
    return det;
  };
  const auto base = analyze(kModel, "", dir_ / "b.log");
  EXPECT_EQ(analyze(model.string(), "", dir_ / "m.log"), base);
  EXPECT_NE(testing::ReadBytes(dir_ / "m.log")
                .find("detector: the model's own points: the "
                      "calibration is"),
            std::string::npos)
      << testing::ReadBytes(dir_ / "m.log");
  analyze(model.string(), " --scanner-points unseen", dir_ / "f.log");
  EXPECT_NE(testing::ReadBytes(dir_ / "f.log").find("unseen-scanner points: chosen by the caller"),
            std::string::npos)
      << testing::ReadBytes(dir_ / "f.log");
  auto cal = Calibration::Load((dir_ / "v201" / "calib.json").string());
  ASSERT_TRUE(cal.ok());
  DetectorOptions o;
  o.calibration = *cal;
  auto unseen = Detector::Load(model.string(), o);
  o.scanner_points = DetectorOptions::ScannerPoints::kKnown;
  auto own = Detector::Load(model.string(), o);
  ASSERT_TRUE(unseen.ok() && own.ok()) << unseen.status().message();
  EXPECT_TRUE((*unseen)->unseen_scanner());
  EXPECT_FALSE((*own)->unseen_scanner());
  EXPECT_NE((*own)->scanner_note().find("the model's own points: chosen by the caller"),
            std::string::npos)
      << (*own)->scanner_note();
  const auto up = (*unseen)->class_operating_probabilities(),
             bp = (*own)->class_operating_probabilities();
  bool raised = false;
  for (size_t k = 0; k < bp.size(); ++k) {
    EXPECT_GE(up[k], bp[k]) << k;
    raised = raised || up[k] > bp[k];
  }
  EXPECT_TRUE(raised);  // the model's own points alarm on more than one parcel of 24 here
  // A validation scanner the model knows is refused, and the message says why.
  EXPECT_NE(RunCli(cmd + " --data " + data + "," + (dir_ / "sim").string() + " --calibration " +
                       calibs + "," + (dir_ / "calib.json").string(),
                   dir_ / "r.log"),
            0);
  EXPECT_NE(testing::ReadBytes(dir_ / "r.log").find("from a known one"), std::string::npos)
      << testing::ReadBytes(dir_ / "r.log");
}

}  // namespace
}  // namespace clearsight
