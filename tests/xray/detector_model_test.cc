// The committed model (models/detector.pt) on parcels it has never seen: a seed used neither in
// training nor in the held-out evaluation, 1024x768 like production. Bounds are loose enough for
// 48 parcels and tight enough that a broken model, feature or decoder fails them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "clearsight/xray_analyze.h"
#include "clearsight/xray_detect.h"
#include "clearsight/xray_manifest.h"
#include "clearsight/xray_pipeline.h"
#include "clearsight/xray_simulate.h"
#include "xray/detect/net.h"

namespace clearsight {
namespace {

const std::string kModel = CS_SOURCE_DIR "/models/detector.pt";
const std::string kGolden = CS_SOURCE_DIR "/tests/data/detector_golden.json";

double Iou(const Detection& d, const TruthObject& t) {
  const double ix = std::max(0, std::min(d.x1, t.x1) - std::max(d.x0, t.x0));
  const double iy = std::max(0, std::min(d.y1, t.y1) - std::max(d.y0, t.y0));
  const double u = static_cast<double>(d.x1 - d.x0) * (d.y1 - d.y0) +
                   static_cast<double>(t.x1 - t.x0) * (t.y1 - t.y0) - ix * iy;
  return u > 0 ? ix * iy / u : 0;
}

struct Case {
  SimulatedScan parcel;
  ScanAnalysis analysis;
  DetectionResult detection;
};

class CommittedModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto d = Detector::Load(kModel);
    ASSERT_TRUE(d.ok()) << d.status().message();
    detector_ = std::move(*d).release();
    auto m = ManifestModel::FromDetector(*detector_);
    ASSERT_TRUE(m.ok()) << m.status().message();
    manifest_ = m->release();
    SimulateOptions o;
    o.seed = 4242;
    o.threat_rate = 0.5;
    o.misdeclared_rate = 0.3;
    auto sim = Simulator::Create(o);
    ASSERT_TRUE(sim.ok());
    auto wedges = (*sim)->SimulateWedges();
    auto calib = Calibration::Fit(*wedges);
    ASSERT_TRUE(calib.ok());
    auto analyzer = Analyzer::Create(*calib);
    cases_ = new std::vector<Case>();
    for (int i = 0; i < 48; ++i) {
      Case c;
      c.parcel = std::move(*(*sim)->Simulate(i));
      ASSERT_TRUE((*analyzer)->Analyze(c.parcel.scan, &c.analysis).ok());
      ASSERT_TRUE(detector_->Detect(c.analysis, &c.detection).ok());
      cases_->push_back(std::move(c));
    }
  }
  static void TearDownTestSuite() {
    delete detector_;
    delete manifest_;
    delete cases_;
  }
  static Detector* detector_;
  static const ManifestModel* manifest_;
  static std::vector<Case>* cases_;
};
Detector* CommittedModel::detector_ = nullptr;
const ManifestModel* CommittedModel::manifest_ = nullptr;
std::vector<Case>* CommittedModel::cases_ = nullptr;

TEST_F(CommittedModel, FindsMostThreatsOfTheirClassAndRarelyAlarmsOnCleanParcels) {
  int threats = 0, found = 0, clean = 0, clean_alarms = 0, guns = 0, guns_found = 0;
  for (const auto& c : *cases_) {
    bool has_threat = false;
    for (const auto& t : c.parcel.truth.objects) {
      if (!t.threat) continue;
      has_threat = true;
      ++threats;
      bool hit = false;
      for (const auto& d : c.detection.detections)
        hit |= d.threat_class == t.threat_class && Iou(d, t) >= 0.3;
      found += hit;
      if (t.threat_class == "firearm") ++guns, guns_found += hit;
    }
    if (!has_threat) {
      ++clean;
      clean_alarms += !c.detection.detections.empty();
    }
  }
  std::printf(
      "committed model on 48 fresh parcels: %d/%d threats found, %d/%d firearms, %d/%d clean "
      "parcels alarmed\n",
      found, threats, guns_found, guns, clean_alarms, clean);
  ASSERT_GT(threats, 12);
  ASSERT_GT(clean, 12);
  // Regression bounds under what the committed model measures (see models/README.md; the
  // product's targets are not met yet): a broken model, feature or decoder finds almost nothing or
  // alarms on many clean parcels.
  EXPECT_GE(found, 0.25 * threats) << found << "/" << threats << " threats found";
  EXPECT_LE(clean_alarms, 2) << "of " << clean << " clean parcels";
  EXPECT_GE(guns_found, 0.5 * guns) << guns_found << "/" << guns << " firearms";
}

TEST_F(CommittedModel, BoxesAreInsideTheScanAndScoresAboveTheOperatingPoint) {
  for (const auto& c : *cases_)
    for (const auto& d : c.detection.detections) {
      EXPECT_GE(d.score, 0.5);
      EXPECT_LE(d.score, 1.0);
      EXPECT_TRUE(d.x0 >= 0 && d.y0 >= 0 && d.x1 <= 1024 && d.y1 <= 768 && d.x0 < d.x1 &&
                  d.y0 < d.y1);
      EXPECT_NE(std::find(ThreatClasses().begin(), ThreatClasses().end(), d.threat_class),
                ThreatClasses().end());
    }
}

TEST_F(CommittedModel, ManifestFlagsMisdeclaredParcelsAndFewHonestOnes) {
  const ManifestModel* m = manifest_;
  ASSERT_NE(m, nullptr) << "the committed model carries the manifest model";
  int mis = 0, mis_flagged = 0, honest = 0, honest_flagged = 0;
  for (const auto& c : *cases_) {
    ManifestCheck r = m->Check(c.analysis, c.detection, c.parcel.declaration);
    auto j = nlohmann::json::parse(r.ToJson());
    EXPECT_TRUE(j["consistent"].is_boolean() && j["score"].is_number() && j["reasons"].is_array());
    EXPECT_EQ(r.consistent, r.score < 0.5);
    if (c.parcel.truth.declaration_truth == DeclarationTruth::kMisdeclared)
      ++mis, mis_flagged += !r.consistent;
    if (c.parcel.truth.declaration_truth == DeclarationTruth::kHonest)
      ++honest, honest_flagged += !r.consistent;
  }
  ASSERT_GE(mis, 6);
  EXPECT_GE(mis_flagged, 0.7 * mis) << mis_flagged << "/" << mis;
  EXPECT_LE(honest_flagged, 0.15 * honest + 1) << honest_flagged << "/" << honest;
}

TEST_F(CommittedModel, SameResultOnOneThreadAndWithoutChannelsItRefuses) {
  DetectorOptions one;
  one.threads = 1;
  auto d1 = Detector::Load(kModel, one);
  ASSERT_TRUE(d1.ok());
  for (size_t i = 0; i < 6; ++i) {
    const Case& c = (*cases_)[i];
    DetectionResult r;
    ASSERT_TRUE((*d1)->Detect(c.analysis, &r).ok());
    ASSERT_EQ(r.detections.size(), c.detection.detections.size()) << i;
    for (size_t k = 0; k < r.detections.size(); ++k) {
      EXPECT_EQ(r.detections[k].threat_class, c.detection.detections[k].threat_class);
      EXPECT_EQ(r.detections[k].x0, c.detection.detections[k].x0);
      EXPECT_NEAR(r.detections[k].score, c.detection.detections[k].score, 1e-3);
    }
  }
  ScanAnalysis bare = (*cases_)[0].analysis;
  bare.channels = ScanChannels{};
  DetectionResult r;
  EXPECT_EQ(detector_->Detect(bare, &r).code(), StatusCode::kFailedPrecondition);
}

// The committed model's detections on the 48 parcels, at every score down to 0.01, on one
// thread, against tests/data/detector_golden.json (written by the build that made the model's
// results, e4fb95c): the proof that code changes keep the model giving the same detections.
// CS_UPDATE_GOLDEN=1 writes the file instead (only when a change is meant to move them).
TEST_F(CommittedModel, GivesTheGoldenDetections) {
  const size_t kScans = cases_->size();
  DetectorOptions o;
  o.threads = 1;
  o.min_score = 0.01;
  auto d = Detector::Load(kModel, o);
  ASSERT_TRUE(d.ok()) << d.status().message();
  nlohmann::json got = nlohmann::json::array();
  for (size_t i = 0; i < kScans; ++i) {
    DetectionResult r;
    ASSERT_TRUE((*d)->Detect((*cases_)[i].analysis, &r).ok());
    nlohmann::json dets = nlohmann::json::array();
    for (const auto& det : r.detections)
      dets.push_back({{"class", det.threat_class},
                      {"score", det.score},
                      {"box", {det.x0, det.y0, det.x1, det.y1}}});
    got.push_back({{"scan_id", (*cases_)[i].analysis.scan_id},
                   {"detections", dets},
                   {"goods_share", r.goods_share},
                   {"goods_area_cm2", r.goods_area_cm2}});
  }
  const char* update = std::getenv("CS_UPDATE_GOLDEN");
  if (update && *update && std::string(update) != "0") {
    std::ofstream(kGolden) << nlohmann::json({{"model", "models/detector.pt"},
                                              {"simulator_seed", 4242},
                                              {"min_score", 0.01},
                                              {"threads", 1},
                                              {"scans", got}})
                                  .dump(1)
                           << "\n";
    GTEST_SKIP() << "wrote " << kGolden;
  }
  std::ifstream in(kGolden);
  ASSERT_TRUE(in.good()) << kGolden;
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json want = nlohmann::json::parse(text.str())["scans"];
  ASSERT_EQ(want.size(), got.size());
  size_t compared = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i]["scan_id"], want[i]["scan_id"]);
    const auto &g = got[i]["detections"], &w = want[i]["detections"];
    ASSERT_EQ(g.size(), w.size()) << "scan " << i << ": " << g.dump() << " vs " << w.dump();
    for (size_t k = 0; k < w.size(); ++k, ++compared) {
      EXPECT_EQ(g[k]["class"], w[k]["class"]) << "scan " << i << " detection " << k;
      EXPECT_NEAR(g[k]["score"].get<double>(), w[k]["score"].get<double>(), 1e-4)
          << "scan " << i << " detection " << k;
      EXPECT_EQ(g[k]["box"], w[k]["box"]) << "scan " << i << " detection " << k;
    }
    ASSERT_EQ(got[i]["goods_share"].size(), want[i]["goods_share"].size());
    for (size_t k = 0; k < want[i]["goods_share"].size(); ++k)
      EXPECT_NEAR(got[i]["goods_share"][k].get<double>(), want[i]["goods_share"][k].get<double>(),
                  1e-4);
    EXPECT_NEAR(got[i]["goods_area_cm2"].get<double>(), want[i]["goods_area_cm2"].get<double>(),
                1e-3);
  }
  EXPECT_GT(compared, 10u) << "the golden scans hold detections to compare";
}

TEST_F(CommittedModel, AModelMadeWithARemovedExperimentIsRefusedNamingTheSetting) {
  // The committed model's weights with settings of experiments removed after e4fb95c written into
  // its metadata: loading names the setting instead of detecting otherwise than it was measured.
  // The values those experiments had when off are accepted.
  std::string meta;
  auto net = xray::Net::Load(kModel, &meta);
  ASSERT_TRUE(net.ok()) << net.status().message();
  const auto m = nlohmann::json::parse(meta);
  const std::string path = ::testing::TempDir() + "cs_removed_setting.pt";
  auto load_with = [&](const std::function<void(nlohmann::json*)>& change) {
    nlohmann::json changed = m;
    change(&changed);
    EXPECT_TRUE((*net)->Save(path, changed.dump()).ok());
    return Detector::Load(path);
  };
  using Change = std::function<void(nlohmann::json*)>;
  const std::vector<std::pair<std::string, Change>> removed = {
      {"test_time_views", [](nlohmann::json* j) { (*j)["test_time_views"] = 4; }},
      {"test_time_views_on", [](nlohmann::json* j) { (*j)["test_time_views_on"] = "candidates"; }},
      {"network_on", [](nlohmann::json* j) { (*j)["network_on"] = "contents"; }},
      {"verifier.fold_boosters",
       [](nlohmann::json* j) {
         (*j)["verifier"]["fold_boosters"] = nlohmann::json::array({(*j)["verifier"]["booster"]});
       }},
      {"verifier.tip_scans", [](nlohmann::json* j) { (*j)["verifier"]["tip_scans"] = 120; }},
      {"trained.points_goods_tilt",
       [](nlohmann::json* j) { (*j)["trained"]["points_goods_tilt"] = 3; }},
      {"trained.distilled",
       [](nlohmann::json* j) {
         (*j)["trained"]["distilled"] = {{"weight", 1}};
       }},
      {"trained.widths",
       [](nlohmann::json* j) {
         (*j)["trained"]["widths"] = {8, 24, 40};
       }},
      {"trained.init.averaged_models",
       [](nlohmann::json* j) { (*j)["trained"]["init"]["averaged_models"] = 2; }},
      {"trained.init.norm_stats_batches",
       [](nlohmann::json* j) { (*j)["trained"]["init"]["norm_stats_batches"] = 200; }},
      {"trained.init.trained.points_goods_tilt",
       [](nlohmann::json* j) { (*j)["trained"]["init"]["trained"]["points_goods_tilt"] = 2; }},
  };
  for (const auto& [setting, change] : removed) {
    auto d = load_with(change);
    ASSERT_FALSE(d.ok()) << setting;
    EXPECT_EQ(d.status().code(), StatusCode::kDataLoss) << setting;
    EXPECT_NE(d.status().message().find(setting + " = "), std::string::npos)
        << d.status().message();
    EXPECT_NE(d.status().message().find(path), std::string::npos) << d.status().message();
    EXPECT_NE(d.status().message().find("e4fb95c"), std::string::npos) << d.status().message();
  }
  const std::vector<Change> off = {
      [](nlohmann::json* j) { (*j)["test_time_views"] = 1, (*j)["test_time_views_on"] = "scan"; },
      [](nlohmann::json* j) { (*j)["network_on"] = "scan"; },
      [](nlohmann::json* j) { (*j)["trained"]["points_goods_tilt"] = 1.0; },
      [](nlohmann::json* j) {
        (*j)["trained"]["widths"] = {16, 32, 48};
      },
      [](nlohmann::json* j) { (*j)["verifier"]["tip_scans"] = 0; },
  };
  for (const auto& change : off) {
    auto d = load_with(change);
    EXPECT_TRUE(d.ok()) << d.status().message();
  }
  std::remove(path.c_str());
}

TEST_F(CommittedModel, ThePipelineChainsAnalysisDetectionAndManifestCheckAsTheStagesDo) {
  SimulateOptions o;
  o.seed = 4242;
  auto sim = Simulator::Create(o);
  ASSERT_TRUE(sim.ok());
  auto calib = Calibration::Fit(*(*sim)->SimulateWedges());
  ASSERT_TRUE(calib.ok());
  auto analyzer = Analyzer::Create(*calib);
  ASSERT_TRUE(analyzer.ok());
  const ScanPipeline pipeline{analyzer->get(), detector_, manifest_, nullptr};
  const std::string dir = ::testing::TempDir();
  std::map<std::string, Declaration> declarations;
  for (size_t i = 0; i < 4; ++i) {
    const Case& c = (*cases_)[i];
    ScanResult r;
    ASSERT_TRUE(AnalyzeScan(c.parcel.scan, pipeline, &c.parcel.declaration, &r).ok());
    ASSERT_TRUE(r.detection.has_value());
    ASSERT_EQ(r.detection->detections.size(), c.detection.detections.size()) << i;
    for (size_t k = 0; k < r.detection->detections.size(); ++k) {
      EXPECT_EQ(r.detection->detections[k].threat_class, c.detection.detections[k].threat_class);
      EXPECT_DOUBLE_EQ(r.detection->detections[k].score, c.detection.detections[k].score);
    }
    ASSERT_TRUE(r.manifest.has_value());
    EXPECT_EQ(r.manifest->consistent,
              manifest_->Check(c.analysis, c.detection, c.parcel.declaration).consistent);
    ASSERT_EQ(r.analysis.extra_fields.size(), 2u);
    EXPECT_EQ(r.analysis.extra_fields[0].first, "detections");
    EXPECT_EQ(r.analysis.extra_fields[0].second, DetectionsToJson(c.detection.detections));
    EXPECT_EQ(r.analysis.extra_fields[1].first, "manifest");
    if (i < 2) declarations[c.parcel.scan.meta.consignment_id] = c.parcel.declaration;
    ASSERT_TRUE(WriteScan(c.parcel.scan, dir + "cs_pipeline_" + std::to_string(i) + ".tif").ok());
  }
  // From files: each scan's declaration found by its consignment; a scan without one is not
  // checked.
  const ScanPipeline with_declarations{analyzer->get(), detector_, manifest_, &declarations};
  for (size_t i = 0; i < 4; ++i) {
    ScanResult r;
    ASSERT_TRUE(
        AnalyzeScanFile(dir + "cs_pipeline_" + std::to_string(i) + ".tif", with_declarations, &r)
            .ok());
    EXPECT_EQ(r.manifest.has_value(), i < 2) << i;
    EXPECT_EQ(r.undeclared, i >= 2) << i;
  }
  ScanResult r;
  Status missing = AnalyzeScanFile(dir + "cs_pipeline_none.tif", with_declarations, &r);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("cs_pipeline_none.tif"), std::string::npos) << missing.message();
  // Declarations need the detector's manifest model, which needs the detector; every pipeline
  // needs an analyzer.
  EXPECT_EQ(CheckScanPipeline({analyzer->get(), nullptr, nullptr, &declarations}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckScanPipeline({analyzer->get(), detector_, nullptr, &declarations}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckScanPipeline({analyzer->get(), nullptr, manifest_, nullptr}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckScanPipeline({}).code(), StatusCode::kInvalidArgument);
  for (size_t i = 0; i < 4; ++i)
    for (const char* ext : {".tif", ".json"})
      std::remove((dir + "cs_pipeline_" + std::to_string(i) + ext).c_str());
}

TEST_F(CommittedModel, CarriesItsTrainingCommandSeedAndValidation) {
  auto m = nlohmann::json::parse(detector_->metadata_json());
  EXPECT_NE(m["trained"]["command"].get<std::string>().find("xray train"), std::string::npos);
  EXPECT_TRUE(m["trained"]["seed"].is_number());
  EXPECT_TRUE(m["validation"]["classes"].is_array());
  EXPECT_EQ(detector_->threat_classes(), ThreatClasses());
  EXPECT_GT(detector_->operating_probability(), 0.0);
  EXPECT_LT(detector_->parameters(), 1'000'000) << "small enough to commit";
  // The second stage, with the figures it was chosen on.
  EXPECT_TRUE(detector_->has_verifier());
  EXPECT_GT(m["verifier"]["validation_regions"].get<int64_t>(), 1000);
  EXPECT_EQ(m["verifier"]["class_operating_probability"].size(), ThreatClasses().size());
  // The points reported are the verifier's, and the lowest of them is the model's one point.
  const auto ops = detector_->class_operating_probabilities();
  ASSERT_EQ(ops.size(), ThreatClasses().size());
  EXPECT_DOUBLE_EQ(ops[0],
                   m["verifier"]["class_operating_probability"][ThreatClasses()[0]].get<double>());
  EXPECT_DOUBLE_EQ(detector_->operating_probability(), *std::min_element(ops.begin(), ops.end()));
}

}  // namespace
}  // namespace clearsight
