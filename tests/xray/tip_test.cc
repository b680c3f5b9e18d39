#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "clearsight/xray_simulate.h"
#include "clearsight/xray_tip.h"
#include "xray/xray_test_util.h"

namespace clearsight {
namespace {

Scan Uniform(int w, int h, uint16_t v) {
  Scan s;
  s.width = w;
  s.height = h;
  s.low.assign(static_cast<size_t>(w) * h, v);
  s.high.assign(s.low.size(), v);
  s.meta.scan_id = "u";
  s.meta.pixel_mm = 1.0;
  return s;
}

ThreatPatch Square(double log_low, double log_high) {
  ThreatPatch p;
  p.name = "square";
  p.threat_class = "knife";
  p.width = p.height = 20;
  p.pixel_mm = 1.0;
  p.log_low.assign(400, 0.0f);
  p.log_high.assign(400, 0.0f);
  for (int y = 5; y < 15; ++y)
    for (int x = 5; x < 15; ++x) {
      p.log_low[y * 20 + x] = static_cast<float>(log_low);
      p.log_high[y * 20 + x] = static_cast<float>(log_high);
    }
  return p;
}

// The simulator's scanner response, fitted to its own step wedges.
Result<ScannerResponse> OwnResponse(const Simulator& sim) {
  CS_ASSIGN_OR_RETURN(auto wedges, sim.SimulateWedges());
  CS_ASSIGN_OR_RETURN(const Calibration calib, Calibration::Fit(wedges));
  return ScannerResponse::Fit(calib);
}

TEST(Tip, ProjectionMultipliesTransmissionsInBothEnergies) {
  Scan s = Uniform(100, 80, 40000);
  ProjectOptions o;
  o.x = 50;
  o.y = 40;
  auto r = ProjectThreat(Square(0.9, 0.5), o, &s);
  ASSERT_TRUE(r.ok()) << r.status().message();
  // Centre of the patch: fully inside the square.
  EXPECT_NEAR(s.low[40 * 100 + 50], 40000 * std::exp(-0.9), 1.0);
  EXPECT_NEAR(s.high[40 * 100 + 50], 40000 * std::exp(-0.5), 1.0);
  EXPECT_EQ(s.high[5 * 100 + 5], 40000);  // far away: untouched
  EXPECT_EQ(r->threat_class, "knife");
  EXPECT_NEAR(r->x1 - r->x0, 10, 2);
  EXPECT_NEAR(r->y1 - r->y0, 10, 2);
  auto mask = DecodeMaskRle(r->mask_rle, 100, 80);
  ASSERT_TRUE(mask.ok());
  int area = 0;
  for (uint8_t m : *mask) area += m;
  EXPECT_NEAR(area, 100, 25);
}

TEST(Tip, ScaleAndPixelSizeResizeTheThreat) {
  Scan s = Uniform(200, 200, 50000);
  s.meta.pixel_mm = 0.5;  // patch pixels are 1 mm: twice as many scan pixels per side
  ProjectOptions o;
  o.x = 100;
  o.y = 100;
  o.scale = 1.5;
  o.rotation_deg = 30;
  auto r = ProjectThreat(Square(1, 1), o, &s);
  ASSERT_TRUE(r.ok());
  auto mask = DecodeMaskRle(r->mask_rle, 200, 200);
  int area = 0;
  for (uint8_t m : *mask) area += m;
  // 10 x 10 patch pixels, 2 scan pixels each, scaled 1.5: 30 x 30, plus a ring of edge pixels.
  EXPECT_GE(area, 30 * 30);
  EXPECT_LE(area, 33 * 33);
  o.x = -500;
  EXPECT_FALSE(ProjectThreat(Square(1, 1), o, &s).ok());
}

TEST(Tip, LibrarySavesLoadsAndCutsOut) {
  SimulateOptions so;
  so.width = 256;
  so.height = 192;
  auto sim = Simulator::Create(so);
  auto lib = (*sim)->MakeThreatLibrary(1);
  ASSERT_TRUE(lib.ok()) << lib.status().message();
  ASSERT_EQ(lib->patches().size(), ThreatClasses().size());
  for (const auto& c : ThreatClasses()) EXPECT_EQ(lib->OfClass(c).size(), 1u) << c;
  for (const auto& p : lib->patches()) EXPECT_GT(p.mass_kg, 0) << p.name;
  auto dir = testing::TempDir("tiplib");
  ASSERT_TRUE(lib->Save(dir.string()).ok());
  auto back = ThreatLibrary::Load(dir.string());
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->patches().size(), lib->patches().size());
  for (const auto& p : lib->patches()) {
    const ThreatPatch* q = nullptr;
    for (const auto& x : back->patches())
      if (x.name == p.name) q = &x;
    ASSERT_NE(q, nullptr) << p.name;
    EXPECT_EQ(q->threat_class, p.threat_class);
    double worst = 0;
    for (size_t i = 0; i < p.log_high.size(); ++i)
      if (p.log_high[i] < 4)
        worst = std::max(worst, std::abs(p.log_high[i] - q->log_high[i]) * 1.0);
    EXPECT_LT(worst, 0.01) << p.name;  // 16-bit quantisation
  }
  // Project the firearm into air and cut it out again: the same attenuation comes back.
  const ThreatPatch& gun = *lib->OfClass("firearm")[0];
  Scan air = Uniform(200, 200, 65535);
  air.meta.pixel_mm = gun.pixel_mm;
  ProjectOptions o;
  o.x = 100;
  o.y = 100;
  auto placed = ProjectThreat(gun, o, &air);
  ASSERT_TRUE(placed.ok());
  ThreatLibrary cut;
  ASSERT_TRUE(cut.AddCutout(air, std::max(0, placed->x0 - 4), std::max(0, placed->y0 - 4),
                            std::min(200, placed->x1 + 4), std::min(200, placed->y1 + 4), "firearm",
                            "cut_gun")
                  .ok());
  double a = 0, b = 0;
  for (float v : gun.log_high) a += v;
  for (float v : cut.patches()[0].log_high) b += v;
  EXPECT_NEAR(b, a, 0.05 * a);
  EXPECT_FALSE(cut.Add(cut.patches()[0]).ok()) << "duplicate names are refused";
  ThreatPatch bad = gun;
  bad.name = "x";
  bad.threat_class = "banana";
  EXPECT_FALSE(cut.Add(bad).ok());
}

// A threat given as materials, rendered through the spectral response fitted to a scanner's wedges,
// must attenuate as that scanner images the same materials: water and glass lie between the wedge
// materials; thin and thick slabs (short of the low image's floor, which SlabTransmission leaves
// out and a scanner's images show).
TEST(Tip, RenderedThreatsAttenuateAsTheScannerImagesThem) {
  for (const char* scanner : {"dual-kvp", "dual-layer"}) {
    SimulateOptions so;
    so.scanner = std::string(scanner) == "dual-layer" ? DualLayerScanner() : DualKvpScanner();
    auto sim = Simulator::Create(so);
    ASSERT_TRUE(sim.ok()) << sim.status().message();
    auto calib = Calibration::Fit(*(*sim)->SimulateWedges());
    ASSERT_TRUE(calib.ok()) << calib.status().message();
    auto response = ScannerResponse::Fit(*calib);
    ASSERT_TRUE(response.ok()) << response.status().message();
    struct Case {
      const char* material;
      const char* recipe;
      double g_cm2;
    };
    for (const Case& c : {Case{"water", "H2O", 0.5}, Case{"water", "H2O", 12},
                          Case{"glass", "SiO2:0.75+Na2O:0.15+CaO:0.10", 3},
                          Case{"aluminium", "Al", 6}, Case{"steel", "Fe", 2}}) {
      MaterialThreat t;
      t.name = "slab";
      t.threat_class = "knife";
      t.width = t.height = 40;
      t.pixel_mm = 1;
      MaterialLayer layer;
      layer.recipe = c.recipe;
      layer.g_cm2.assign(1600, 0.0f);
      for (int y = 10; y < 30; ++y)
        for (int x = 10; x < 30; ++x) layer.g_cm2[y * 40 + x] = static_cast<float>(c.g_cm2);
      t.layers.push_back(layer);
      auto patch = RenderThreat(t, *response, *calib);
      ASSERT_TRUE(patch.ok()) << patch.status().message();
      for (bool high : {false, true}) {
        auto tr = (*sim)->SlabTransmission(c.material, c.g_cm2, high);
        if (!tr.ok()) continue;  // not in the simulator's catalogue
        const double want = -std::log(*tr);
        const double got = (high ? patch->log_high : patch->log_low)[20 * 40 + 20];
        EXPECT_NEAR(got, want, 0.04 * want + 0.01) << scanner << " " << c.material << " " << c.g_cm2
                                                   << " g/cm2 " << (high ? "high" : "low");
      }
      EXPECT_EQ(patch->log_high[2 * 40 + 2], 0.0f);  // outside the threat: nothing
    }
  }
}

// The simulator's threats as materials: every class, and the layers hold the threat's mass.
TEST(Tip, MaterialThreatsHoldTheirMass) {
  SimulateOptions so;
  so.pixel_mm = 1.0;
  auto sim = Simulator::Create(so);
  ASSERT_TRUE(sim.ok());
  auto threats = (*sim)->MakeMaterialThreats(3);
  ASSERT_TRUE(threats.ok()) << threats.status().message();
  ASSERT_EQ(threats->size(), 3 * ThreatClasses().size());
  for (const auto& t : *threats) {
    ASSERT_FALSE(t.layers.empty()) << t.name;
    double grams = 0;
    for (const auto& l : t.layers)
      for (float g : l.g_cm2) grams += g * t.pixel_mm * t.pixel_mm / 100;  // g/cm2 x cm2
    EXPECT_NEAR(grams / 1000, t.mass_kg, 0.05 * t.mass_kg + 0.002) << t.name;
  }
  // No wedge formulas: no spectral response, said plainly.
  std::vector<CalibrationCurve> curves(2);
  curves[0] = {"a", 6.5, "", {{0.2, 0.1, 1, false}, {0.5, 0.3, 3, false}}};
  curves[1] = {"b", 13, "", {{0.6, 0.2, 1, false}, {1.4, 0.5, 3, false}}};
  auto calib = Calibration::FromCurves(curves);
  ASSERT_TRUE(calib.ok()) << calib.status().message();
  auto response = ScannerResponse::Fit(*calib);
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.status().message().find("no formula"), std::string::npos)
      << response.status().message();
}

// A threat rasterized on the scan's grid lands pixel for pixel: its footprint is the rays through
// the scan's pixel centres (no resampling spreads it), its mask is the simulator's truth mask, and
// a smaller grid enlarges it.
TEST(Tip, ThreatsOnTheScansGridAreNotResampled) {
  SimulateOptions so;
  so.pixel_mm = 1.0;
  auto sim = Simulator::Create(so);
  ASSERT_TRUE(sim.ok());
  auto all = (*sim)->MakeMaterialThreats(2);
  ASSERT_TRUE(all.ok());
  auto response = OwnResponse(**sim);
  ASSERT_TRUE(response.ok()) << response.status().message();
  auto t = (*sim)->RenderMaterialThreat("firearm", 1, 0.7, 1.0, 0.3, 0.6);
  ASSERT_TRUE(t.ok()) << t.status().message();
  const auto drawn = std::find_if(all->begin(), all->end(), [](const MaterialThreat& m) {
    return m.threat_class == "firearm" && m.name.back() == '1';
  });
  ASSERT_NE(drawn, all->end());
  EXPECT_EQ(t->name, drawn->name);  // the same draw, at another pose
  EXPECT_NEAR(t->mass_kg, drawn->mass_kg, 0.05 * t->mass_kg);
  size_t present = 0, in_mask = 0;
  for (size_t i = 0; i < t->mask.size(); ++i) {
    bool any = false;
    for (const auto& l : t->layers) any |= l.g_cm2[i] > 0;
    present += any;
    in_mask += t->mask[i];
    if (t->mask[i]) EXPECT_TRUE(any) << "mask pixel " << i << " holds no material";
  }
  ASSERT_GT(in_mask, 50u);
  Scan s = Uniform(300, 300, 30000);
  ProjectOptions po;
  po.x = 150.3;  // moved to the grid
  po.y = 149.8;
  po.on_scan_grid = true;
  po.rotation_deg = 40;  // ignored on the grid
  auto p = ProjectMaterialThreat(*t, *response, po, &s);
  ASSERT_TRUE(p.ok()) << p.status().message();
  size_t attenuated = 0, masked = 0;
  for (uint16_t v : s.high) attenuated += v != 30000;
  for (size_t k = 1; k < p->mask_rle.size(); k += 2) masked += p->mask_rle[k];
  EXPECT_EQ(attenuated, present);  // bilinear resampling at an offset would spread it
  EXPECT_EQ(masked, in_mask);
  auto big = (*sim)->RenderMaterialThreat("firearm", 1, 0.7, 0.5, 0.3, 0.6);
  ASSERT_TRUE(big.ok());
  size_t big_mask = 0;
  for (uint8_t m : big->mask) big_mask += m;
  EXPECT_NEAR(static_cast<double>(big_mask), 4.0 * in_mask, 0.15 * 4 * in_mask);
  EXPECT_FALSE((*sim)->RenderMaterialThreat("parasol", 0, 0, 1, 0, 0).ok());
  EXPECT_FALSE((*sim)->RenderMaterialThreat("knife", 0, 0, 1, 1.5, 0).ok());
}

// Behind a hardening absorber an energy-integrating detector keeps more noise variance than
// signal: the response's noise transmission is 1 through air, and above the primary transmission
// behind steel, the more so the thicker it is.
TEST(Tip, NoiseTransmissionExceedsTheSignalBehindSteel) {
  auto sim = Simulator::Create(SimulateOptions{});
  ASSERT_TRUE(sim.ok());
  auto response = OwnResponse(**sim);
  ASSERT_TRUE(response.ok()) << response.status().message();
  auto mu = FormulaMassAttenuation("Fe", ScannerResponse::Energies());
  ASSERT_TRUE(mu.ok());
  std::vector<double> tau(mu->size(), 0.0);
  auto air = response->NoiseTransmissions(tau);
  EXPECT_NEAR(air.first, 1.0, 1e-9);
  EXPECT_NEAR(air.second, 1.0, 1e-9);
  double last_excess = 1.0;
  for (double g : {0.5, 2.0, 6.0}) {
    for (size_t k = 0; k < tau.size(); ++k) tau[k] = (*mu)[k] * g;
    const auto [low, high] = response->PrimaryLogAttenuations(tau);
    const auto [noise_low, noise_high] = response->NoiseTransmissions(tau);
    const double excess = noise_high / std::exp(-high);
    EXPECT_GT(noise_low, std::exp(-low)) << g << " g/cm2 of steel";
    EXPECT_GT(excess, last_excess) << g << " g/cm2 of steel";
    last_excess = excess;
  }
}

// The air noise measured on a scan is the scanner's own, for scanners of other doses and blurs:
// what a stored scan's projection takes its noise from when the scanner is not the simulator's.
TEST(Tip, AirNoiseIsMeasuredFromAScansOpenBeam) {
  for (double dose : {1.0, 0.3}) {
    SimulateOptions so;
    so.width = 640;
    so.height = 480;
    so.scanner.photons_per_mm2_low *= dose;
    so.scanner.photons_per_mm2_high *= dose;
    so.scanner.blur_sigma_px_high = 0.9;
    auto sim = Simulator::Create(so);
    ASSERT_TRUE(sim.ok()) << sim.status().message();
    const ScannerImaging truth = (*sim)->Imaging();
    auto scan = (*sim)->Simulate(3);
    ASSERT_TRUE(scan.ok());
    auto est = EstimateAirNoise(scan->scan, truth.blur_sigma_low, truth.blur_sigma_high,
                                truth.electronic_sd);
    ASSERT_TRUE(est.ok()) << est.status().message();
    EXPECT_NEAR(est->first, truth.air_sd_low, 0.1 * truth.air_sd_low) << "dose " << dose;
    EXPECT_NEAR(est->second, truth.air_sd_high, 0.1 * truth.air_sd_high) << "dose " << dose;
  }
  // A scan with no open beam says so.
  Scan dark = Uniform(100, 100, 20000);
  EXPECT_EQ(EstimateAirNoise(dark, 0.6, 0.6, 0).status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace clearsight
