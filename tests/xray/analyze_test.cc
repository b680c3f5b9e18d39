#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "clearsight/xray_analyze.h"
#include "clearsight/xray_simulate.h"
#include "xray/xray_test_util.h"

namespace clearsight {
namespace {

const Calibration& DualKvpCalibration() {
  static const Calibration c = [] {
    auto sim = Simulator::Create(SimulateOptions{});
    return *Calibration::Fit(*(*sim)->SimulateWedges());
  }();
  return c;
}

double Iou(const DetectedObject& a, const DetectedObject& b) {
  int x0 = std::max(a.x0, b.x0), y0 = std::max(a.y0, b.y0), x1 = std::min(a.x1, b.x1),
      y1 = std::min(a.y1, b.y1);
  if (x1 <= x0 || y1 <= y0) return 0;
  double i = static_cast<double>(x1 - x0) * (y1 - y0);
  return i / ((a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - i);
}

std::vector<Scan> Parcels(int n, int w, int h, uint64_t seed) {
  SimulateOptions o;
  o.width = w;
  o.height = h;
  o.seed = seed;
  o.threat_rate = 0.5;
  auto sim = Simulator::Create(o);
  std::vector<Scan> out;
  for (int i = 0; i < n; ++i) out.push_back((*sim)->Simulate(i)->scan);
  return out;
}

TEST(Analyzer, AgreesWithThePerPixelReference) {
  auto analyzer = Analyzer::Create(DualKvpCalibration());
  ASSERT_TRUE(analyzer.ok());
  int compared = 0;
  for (const Scan& s : Parcels(3, 512, 384, 31)) {
    ScanAnalysis fast, ref;
    ASSERT_TRUE((*analyzer)->Analyze(s, &fast).ok());
    ASSERT_TRUE(AnalyzeReference(DualKvpCalibration(), AnalyzerOptions{}, s, &ref).ok());
    EXPECT_NEAR(fast.packaging_log_high, ref.packaging_log_high, 0.003);
    EXPECT_NEAR(static_cast<double>(fast.objects.size()), static_cast<double>(ref.objects.size()),
                2 + 0.15 * ref.objects.size());
    for (const auto& r : ref.objects) {
      if (r.pixels < 300) continue;
      const DetectedObject* best = nullptr;
      for (const auto& f : fast.objects)
        if (!best || Iou(f, r) > Iou(*best, r)) best = &f;
      ASSERT_NE(best, nullptr);
      ASSERT_GT(Iou(*best, r), 0.8) << s.meta.scan_id;
      EXPECT_EQ(best->material, r.material) << s.meta.scan_id << " z " << r.z_eff;
      EXPECT_NEAR(best->mass_kg, r.mass_kg, 0.03 * r.mass_kg + 0.002);
      EXPECT_NEAR(best->z_eff, r.z_eff, 0.3);
      ++compared;
    }
    // Per-pixel channels agree too (the fast path reads z from a table).
    int differ = 0;
    for (size_t i = 0; i < fast.channels.z_eff.size(); ++i)
      differ += std::abs(fast.channels.z_eff[i] - ref.channels.z_eff[i]) > 0.5;
    EXPECT_LT(differ, static_cast<int>(fast.channels.z_eff.size() / 100));
  }
  EXPECT_GT(compared, 5);
}

TEST(Analyzer, ThreadCountDoesNotChangeTheResult) {
  Scan s = Parcels(1, 640, 480, 5)[0];
  std::string expected;
  for (int threads : {1, 2, 3}) {
    AnalyzerOptions o;
    o.threads = threads;
    auto a = Analyzer::Create(DualKvpCalibration(), o);
    auto r = (*a)->Analyze(s);
    ASSERT_TRUE(r.ok());
    r->ms = 0;
    if (expected.empty()) expected = r->ToJson();
    EXPECT_EQ(r->ToJson(), expected) << threads << " threads";
  }
}

TEST(Analyzer, MeasuresAKnownSlab) {
  auto sim = Simulator::Create(SimulateOptions{});
  Scan s;
  s.width = 300;
  s.height = 200;
  s.meta.scan_id = "slabs";
  s.meta.pixel_mm = 1.0;
  s.low.assign(300 * 200, 65535);
  s.high.assign(300 * 200, 65535);
  // 100 x 80 px of water at 4 g/cm2 (320 g), 60 x 60 px of steel at 1 g/cm2 (36 g).
  auto fill = [&](int x0, int y0, int w, int h, const char* m, double ad) {
    uint16_t lo = EncodeTransmission(*(*sim)->SlabTransmission(m, ad, false));
    uint16_t hi = EncodeTransmission(*(*sim)->SlabTransmission(m, ad, true));
    for (int y = y0; y < y0 + h; ++y)
      for (int x = x0; x < x0 + w; ++x) {
        s.low[y * 300 + x] = lo;
        s.high[y * 300 + x] = hi;
      }
  };
  fill(20, 40, 100, 80, "water", 4.0);
  fill(200, 60, 60, 60, "steel", 1.0);
  auto a = Analyzer::Create(DualKvpCalibration());
  auto r = (*a)->Analyze(s);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->objects.size(), 2u);
  const auto& water = r->objects[0];  // heaviest first
  EXPECT_EQ(water.material, MaterialClass::kOrganic);
  EXPECT_NEAR(water.mass_kg, 0.320, 0.016);
  EXPECT_NEAR(water.z_eff, *MaterialZEff("water"), 0.6);
  EXPECT_NEAR(water.x0, 20, 1);  // smoothing widens the mask by a pixel
  EXPECT_NEAR(water.x1, 120, 1);
  const auto& steel = r->objects[1];
  EXPECT_EQ(steel.material, MaterialClass::kMetal);
  EXPECT_NEAR(steel.mass_kg, 0.036, 0.2 * 0.036);  // metals: mass follows z_eff steeply
  EXPECT_NEAR(r->materials.organic_kg, water.mass_kg, 1e-9);
  EXPECT_NEAR(r->materials.metal_kg, steel.mass_kg, 1e-9);
  EXPECT_EQ(r->materials.inorganic_kg, 0);
  // Channels: labels match the objects, air is class none.
  EXPECT_EQ(r->channels.labels[80 * 300 + 70], water.id);
  EXPECT_EQ(r->channels.labels[5], 0);
  EXPECT_EQ(r->channels.material[5], static_cast<uint8_t>(MaterialClass::kNone));
  EXPECT_EQ(r->channels.material[90 * 300 + 230], static_cast<uint8_t>(MaterialClass::kMetal));
  EXPECT_NEAR(r->channels.areal_density[80 * 300 + 70], 4.0, 0.3);
}

TEST(Analyzer, ChannelsCanBeLeftOutWithoutChangingObjects) {
  Scan s = Parcels(1, 512, 384, 8)[0];
  auto with = (*Analyzer::Create(DualKvpCalibration()))->Analyze(s);
  AnalyzerOptions o;
  o.keep_channels = false;
  auto without = (*Analyzer::Create(DualKvpCalibration(), o))->Analyze(s);
  ASSERT_TRUE(with.ok() && without.ok());
  EXPECT_TRUE(without->channels.labels.empty());
  EXPECT_EQ(with->channels.labels.size(), s.pixels());
  with->ms = without->ms = 0;
  EXPECT_EQ(with->ToJson(), without->ToJson());
}

TEST(Analyzer, JsonLineHasTheContractFieldsAndLaterStagesCanExtendIt) {
  Scan s = Parcels(1, 512, 384, 9)[0];
  auto r = (*Analyzer::Create(DualKvpCalibration()))->Analyze(s);
  ASSERT_TRUE(r.ok());
  r->extra_fields.push_back({"detections", R"([{"class":"knife","score":0.9,"box":[1,2,3,4]}])"});
  std::string line = r->ToJson();
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto j = nlohmann::json::parse(line);
  for (const char* k : {"scan_id", "objects", "materials", "ms", "detections"})
    EXPECT_TRUE(j.contains(k)) << k;
  for (const char* k : {"organic_kg", "inorganic_kg", "metal_kg"})
    EXPECT_TRUE(j["materials"].contains(k)) << k;
  ASSERT_FALSE(j["objects"].empty());
  for (const auto& o : j["objects"]) {
    EXPECT_EQ(o["box"].size(), 4u);
    std::string m = o["material"];
    EXPECT_TRUE(m == "organic" || m == "inorganic" || m == "metal") << m;
    EXPECT_GT(o["mass_kg"].get<double>(), 0);
    EXPECT_GT(o["z_eff"].get<double>(), 1);
  }
  EXPECT_EQ(j["detections"][0]["class"], "knife");
}

TEST(Analyzer, RefusesBadScansAndOptions) {
  auto a = Analyzer::Create(DualKvpCalibration());
  Scan s = testing::RandomScan(10, 10, 1);
  s.high.pop_back();
  EXPECT_EQ((*a)->Analyze(s).status().code(), StatusCode::kInvalidArgument);
  AnalyzerOptions o;
  o.threads = 0;
  EXPECT_FALSE(Analyzer::Create(DualKvpCalibration(), o).ok());
}

}  // namespace
}  // namespace clearsight
