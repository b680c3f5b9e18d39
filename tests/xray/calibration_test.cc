#include <gtest/gtest.h>

#include <cmath>

#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_simulate.h"
#include "xray/physics/materials.h"
#include "xray/xray_test_util.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  std::unique_ptr<Simulator> sim;
  Calibration calib;
};

Fixture Calibrated(const ScannerModel& scanner, uint64_t seed = 1) {
  SimulateOptions o;
  o.scanner = scanner;
  o.seed = seed;
  auto sim = Simulator::Create(o);
  EXPECT_TRUE(sim.ok());
  auto wedges = (*sim)->SimulateWedges();
  EXPECT_TRUE(wedges.ok());
  auto calib = Calibration::Fit(*wedges);
  EXPECT_TRUE(calib.ok()) << calib.status().message();
  return {std::move(*sim), std::move(*calib)};
}

// z_eff the calibration gives a noise-free slab of a catalogue material.
double SlabZ(const Fixture& f, const char* material, double ad) {
  double l = -std::log(*f.sim->SlabTransmission(material, ad, false));
  double h = -std::log(*f.sim->SlabTransmission(material, ad, true));
  return f.calib.ZEff(l, h);
}

TEST(Calibration, MeasuresEachImagesEdgeSpread) {
  Fixture kvp = Calibrated(DualKvpScanner()), layer = Calibrated(DualLayerScanner());
  // The simulator blurs with sigma 0.6/0.6 (dual-kVp) and 0.5/0.8 (dual-layer) pixels.
  EXPECT_NEAR(kvp.calib.blur_sigma_low(), kvp.calib.blur_sigma_high(), 0.1);
  EXPECT_NEAR(kvp.calib.blur_sigma_high(), 0.6, 0.15);
  EXPECT_GT(layer.calib.blur_sigma_high(), layer.calib.blur_sigma_low() + 0.15);
}

TEST(Calibration, FitsTheWedgesItWasGiven) {
  Fixture f = Calibrated(DualKvpScanner());
  ASSERT_EQ(f.calib.curves().size(), 4u);
  EXPECT_LT(f.calib.low_saturation_log(), 8.0) << "steel steps saturate the low image";
  for (const auto& c : f.calib.curves()) {
    EXPECT_GE(c.points.size(), 5u) << c.material;
    for (const auto& p : c.points) {
      EXPECT_NEAR(f.calib.ZEff(p.log_low, p.log_high), c.z_eff, 0.05 * c.z_eff) << c.material;
      EXPECT_NEAR(f.calib.ArealDensity(p.log_high, c.z_eff), p.areal_density_g_cm2,
                  0.02 * p.areal_density_g_cm2);
    }
  }
  EXPECT_NE(f.calib.Summary().find("predicted within"), std::string::npos);
}

// Materials that are not wedges, on both scanner models: z_eff and areal density come out right.
class CalibrationScanners : public ::testing::TestWithParam<int> {};

TEST_P(CalibrationScanners, GeneralisesToMaterialsOutsideTheWedgeSet) {
  Fixture f = Calibrated(GetParam() == 0 ? DualKvpScanner() : DualLayerScanner());
  struct {
    const char* material;
    double tolerance;
  } cases[] = {{"water", 0.6}, {"paper", 0.8},     {"sugar", 0.6},    {"cocaine_hcl", 0.8},
               {"glass", 1.5}, {"porcelain", 1.5}, {"stainless", 2.0}};
  for (const auto& c : cases)
    for (double ad : {1.0, 4.0}) {
      double truth = *MaterialZEff(c.material);
      EXPECT_NEAR(SlabZ(f, c.material, ad), truth, c.tolerance)
          << c.material << " at " << ad << " g/cm2";
      double h = -std::log(*f.sim->SlabTransmission(c.material, ad, true));
      EXPECT_NEAR(f.calib.ArealDensity(h, truth), ad, 0.08 * ad) << c.material;
    }
  EXPECT_EQ(f.calib.Classify(SlabZ(f, "water", 2)), MaterialClass::kOrganic);
  EXPECT_EQ(f.calib.Classify(SlabZ(f, "glass", 2)), MaterialClass::kInorganic);
  // Beyond the heaviest wedge (steel) z_eff is extrapolated: copper still reads as metal.
  EXPECT_EQ(f.calib.Classify(SlabZ(f, "copper", 0.5)), MaterialClass::kMetal);
  EXPECT_GT(SlabZ(f, "copper", 2.0), 26);
}

INSTANTIATE_TEST_SUITE_P(DualKvpAndDualLayer, CalibrationScanners, ::testing::Values(0, 1));

// A scanner that shares nothing with the simulator: two monochromatic beams (50 and 90 keV), no
// spectrum, no detector model, no noise. Calibrating on its wedges must work just as well.
TEST(Calibration, AssumesNothingAboutTheScanner) {
  auto mono = [](const char* recipe, double ad) {
    auto c = xray::ParseRecipe(recipe);
    auto mu = xray::MassAttenuation(*c, {50.0, 90.0});
    return std::pair<double, double>{mu[0] * ad, mu[1] * ad};
  };
  struct Mat {
    const char *name, *recipe;
    double density;
  } mats[] = {{"PE", "C2H4", 0.94}, {"POM", "CH2O", 1.41}, {"Al", "Al", 2.7}, {"Fe", "Fe", 7.87}};
  std::vector<WedgeScan> wedges;
  for (const auto& m : mats) {
    WedgeScan w;
    w.scan.width = 8 * 20;
    w.scan.height = 20;
    w.scan.meta.scan_id = std::string("mono_") + m.name;
    w.scan.meta.pixel_mm = 1;
    w.scan.low.assign(8 * 20 * 20, 65535);
    w.scan.high.assign(8 * 20 * 20, 65535);
    for (int s = 0; s < 8; ++s) {
      WedgeStep st;
      st.material = m.name;
      st.formula = m.recipe;
      st.areal_density_g_cm2 = m.density * (s + 1) * (m.density > 5 ? 0.2 : 1.5);
      st.x0 = s * 20;
      st.x1 = s * 20 + 20;
      st.y0 = 0;
      st.y1 = 20;
      auto [l, h] = mono(m.recipe, st.areal_density_g_cm2);
      for (int y = 0; y < 20; ++y)
        for (int x = st.x0; x < st.x1; ++x) {
          w.scan.low[y * w.scan.width + x] = EncodeTransmission(std::exp(-l));
          w.scan.high[y * w.scan.width + x] = EncodeTransmission(std::exp(-h));
        }
      w.steps.push_back(st);
    }
    wedges.push_back(w);
  }
  auto calib = Calibration::Fit(wedges);
  ASSERT_TRUE(calib.ok()) << calib.status().message();
  for (const char* name : {"water", "glass", "sugar", "porcelain"}) {
    const auto& m = xray::MaterialCatalog()[xray::MaterialIndex(name)];
    auto [l, h] = mono(m.recipe.c_str(), 2.0);
    EXPECT_NEAR(calib->ZEff(l, h), m.z_eff, 0.6) << name;
    EXPECT_NEAR(calib->ArealDensity(h, m.z_eff), 2.0, 0.1) << name;
  }
}

TEST(Calibration, ScannerDistanceTellsTheSameScannerFromAnother) {
  // The same scanner from wedges of another seed reads within the 0.015 that xray unseen-points
  // takes for known; another tube voltage or detector well beyond it.
  const Calibration kvp = Calibrated(DualKvpScanner()).calib;
  const Calibration again = Calibrated(DualKvpScanner(), 7).calib;
  ScannerModel hotter = DualKvpScanner();
  hotter.tube_low.kvp = 120;
  hotter.tube_high.kvp = 180;
  const Calibration layer = Calibrated(DualLayerScanner()).calib;
  EXPECT_LT(ScannerDistance(kvp, kvp), 0.002);
  EXPECT_LT(ScannerDistance(again, kvp), 0.015);
  EXPECT_LT(ScannerDistance(kvp, again), 0.015);
  EXPECT_GT(ScannerDistance(Calibrated(hotter).calib, kvp), 0.03);
  EXPECT_GT(ScannerDistance(layer, kvp), 0.03);
  EXPECT_GT(ScannerDistance(kvp, layer), 0.03);
}

TEST(Calibration, JsonRoundTripKeepsThePredictions) {
  Fixture f = Calibrated(DualKvpScanner());
  auto dir = testing::TempDir("calib");
  ASSERT_TRUE(f.calib.Save((dir / "c.json").string()).ok());
  auto back = Calibration::Load((dir / "c.json").string());
  ASSERT_TRUE(back.ok()) << back.status().message();
  for (double h : {0.1, 0.7, 2.5})
    for (double r : {1.2, 1.6, 2.5, 3.5})
      EXPECT_DOUBLE_EQ(back->ZEff(r * h, h), f.calib.ZEff(r * h, h));
  EXPECT_DOUBLE_EQ(back->low_saturation_log(), f.calib.low_saturation_log());
  EXPECT_FALSE(Calibration::FromJson("{}", "x").ok());
  EXPECT_FALSE(Calibration::FromJson("not json", "x").ok());
  EXPECT_EQ(Calibration::Load((dir / "none.json").string()).status().code(), StatusCode::kNotFound);
}

TEST(Calibration, WedgeFilesRoundTripAndBadWedgesAreRefused) {
  SimulateOptions o;
  auto sim = Simulator::Create(o);
  auto wedges = (*sim)->SimulateWedges();
  auto dir = testing::TempDir("wedges");
  for (const auto& w : *wedges)
    ASSERT_TRUE(WriteWedgeScan(w, (dir / (w.scan.meta.scan_id + ".tif")).string()).ok());
  testing::WriteBytes(dir / "unrelated.tif", *EncodeScanTiff(testing::RandomScan(8, 8, 1)));
  testing::WriteBytes(dir / "unrelated.json", ScanMetaToJson(testing::RandomScan(8, 8, 1).meta));
  auto back = ReadWedgeDir(dir.string());
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->size(), wedges->size()) << "scans without a wedge sidecar are skipped";
  for (const auto& w : *wedges)
    for (const auto& b : *back)
      if (b.scan.meta.scan_id == w.scan.meta.scan_id) {
        EXPECT_EQ(b.steps.size(), w.steps.size());
        EXPECT_TRUE(b.scan.low == w.scan.low);
      }

  // One material is not enough.
  std::vector<WedgeScan> one{(*wedges)[0]};
  auto r = Calibration::Fit(one);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("at least 2 materials"), std::string::npos);
  // A material with a single usable step.
  std::vector<WedgeScan> thin = *wedges;
  thin[1].steps.resize(1);
  EXPECT_NE(Calibration::Fit(thin).status().message().find("usable steps"), std::string::npos);
  // Sidecar problems.
  WedgeScan bad = (*wedges)[0];
  bad.steps[0].x1 = bad.scan.width + 10;
  ASSERT_TRUE(WriteWedgeScan(bad, (dir / "bad_region.tif").string()).ok());
  EXPECT_NE(ReadWedgeScan((dir / "bad_region.tif").string()).status().message().find("region"),
            std::string::npos);
  bad = (*wedges)[0];
  bad.steps[0].z_eff = 0;
  bad.steps[0].formula = "";
  ASSERT_TRUE(WriteWedgeScan(bad, (dir / "no_z.tif").string()).ok());
  EXPECT_NE(ReadWedgeScan((dir / "no_z.tif").string()).status().message().find("z_eff or formula"),
            std::string::npos);
  EXPECT_NE(
      ReadWedgeScan((dir / "unrelated.tif").string()).status().message().find("not a wedge scan"),
      std::string::npos);
}

}  // namespace
}  // namespace clearsight
