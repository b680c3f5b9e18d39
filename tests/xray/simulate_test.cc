#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "clearsight/xray_simulate.h"
#include "xray/physics/materials.h"
#include "xray/simulate/geometry.h"
#include "xray/xray_test_util.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;

SimulateOptions Small(uint64_t seed) {
  SimulateOptions o;
  o.width = 320;
  o.height = 240;
  o.seed = seed;
  return o;
}

TEST(Simulator, SameSeedAndIndexGiveTheSameParcel) {
  auto sim = Simulator::Create(Small(5));
  ASSERT_TRUE(sim.ok()) << sim.status().message();
  auto a = (*sim)->Simulate(3), b = (*sim)->Simulate(3), c = (*sim)->Simulate(4);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_TRUE(a->scan == b->scan);
  EXPECT_EQ(a->truth.ToJson(), b->truth.ToJson());
  EXPECT_TRUE(a->declaration.SameContent(b->declaration));
  EXPECT_FALSE(a->scan.low == c->scan.low);
  auto other = Simulator::Create(Small(6));
  EXPECT_FALSE((*other)->Simulate(3)->scan.low == a->scan.low);
  EXPECT_TRUE(ValidateScan(a->scan).ok());
}

TEST(Simulator, DatasetBytesDoNotDependOnTheThreadCount) {
  fs::path d1 = testing::TempDir("ds1"), d2 = testing::TempDir("ds2");
  SimulateOptions o = Small(9);
  o.threads = 1;
  DatasetReport r1, r2;
  ASSERT_TRUE(SimulateDataset(o, 5, d1.string(), {}, &r1).ok());
  o.threads = 2;
  int calls = 0;
  ASSERT_TRUE(SimulateDataset(
                  o, 5, d2.string(), [&](int64_t, int64_t) { ++calls; }, &r2)
                  .ok());
  EXPECT_GT(calls, 0);
  EXPECT_EQ(r1.scans, 5);
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(d1)) {
    if (!e.is_regular_file()) continue;
    ++files;
    fs::path rel = fs::relative(e.path(), d1);
    EXPECT_EQ(testing::ReadBytes(e.path()), testing::ReadBytes(d2 / rel)) << rel;
  }
  EXPECT_EQ(files, 5 * 3 + 2);  // tif + sidecar + truth per scan, two CSVs
  auto csv = testing::ReadBytes(d1 / "declarations.csv");
  EXPECT_EQ(csv.rfind("declaration_id,", 0), 0u);
  EXPECT_NE(csv.find("C9-000004"), std::string::npos)
      << "consignment ids link declarations to scans";
}

TEST(Simulator, TruthIsConsistentWithTheImageAndTheDeclaration) {
  SimulateOptions o = Small(11);
  o.threat_rate = 1.0;
  o.misdeclared_rate = 0.3;
  o.undervalued_rate = 0.3;
  auto sim = Simulator::Create(o);
  ASSERT_TRUE(sim.ok());
  std::map<DeclarationTruth, int> truths;
  for (int i = 0; i < 24; ++i) {
    auto p = (*sim)->Simulate(i);
    ASSERT_TRUE(p.ok());
    const ScanTruth& t = p->truth;
    EXPECT_EQ(t.scan_id, p->scan.meta.scan_id);
    EXPECT_EQ(t.consignment_id, p->scan.meta.consignment_id);
    EXPECT_EQ(p->declaration.consignment_id, t.consignment_id);
    EXPECT_TRUE(ValidateDeclaration(p->declaration).ok())
        << ValidateDeclaration(p->declaration).message();
    int packaging = 0, threats = 0;
    for (const auto& obj : t.objects) {
      packaging += obj.packaging;
      threats += obj.threat;
      EXPECT_GT(obj.mass_kg, 0);
      auto mask = DecodeMaskRle(obj.mask_rle, t.width, t.height);
      ASSERT_TRUE(mask.ok());
      // The mask lies in the box and the pixels under it are darker than air.
      double sum = 0;
      int n = 0;
      for (int y = 0; y < t.height; ++y)
        for (int x = 0; x < t.width; ++x) {
          if (!(*mask)[y * t.width + x]) continue;
          EXPECT_TRUE(x >= obj.x0 && x < obj.x1 && y >= obj.y0 && y < obj.y1);
          sum += -std::log(p->scan.high[y * t.width + x] / 65535.0);
          ++n;
        }
      ASSERT_GT(n, 0) << obj.name;
      EXPECT_GT(sum / n, 0.01) << obj.name;
      if (obj.threat) {
        auto classes = ThreatClasses();
        EXPECT_NE(std::find(classes.begin(), classes.end(), obj.threat_class), classes.end());
      }
    }
    EXPECT_EQ(packaging, 1);
    EXPECT_EQ(threats, 1);
    truths[t.declaration_truth]++;
    if (t.declaration_truth == DeclarationTruth::kMisdeclared) {
      EXPECT_NE(p->declaration.hs_code, t.true_hs_code);
    }
    if (t.declaration_truth == DeclarationTruth::kUndervalued) {
      EXPECT_LT(p->declaration.declared_value, 0.5 * t.true_value);
    }
    if (t.declaration_truth == DeclarationTruth::kHonest) {
      EXPECT_EQ(p->declaration.hs_code, t.true_hs_code);
      EXPECT_DOUBLE_EQ(p->declaration.declared_value, t.true_value);
    }
    // Air outside the container stays near 65535.
    EXPECT_GT(p->scan.high[0], 60000);
  }
  EXPECT_EQ(truths.size(), 3u) << "honest, misdeclared and undervalued all occur";
}

TEST(Simulator, NoThreatsWhenTheRateIsZero) {
  SimulateOptions o = Small(12);
  o.threat_rate = 0;
  auto sim = Simulator::Create(o);
  ASSERT_TRUE(sim.ok());
  for (int i = 0; i < 10; ++i) {
    auto p = (*sim)->Simulate(i);
    ASSERT_TRUE(p.ok());
    for (const auto& obj : p->truth.objects) EXPECT_FALSE(obj.threat);
  }
}

TEST(Simulator, TruthJsonRoundTrips) {
  auto sim = Simulator::Create(Small(13));
  auto p = (*sim)->Simulate(0);
  auto back = ScanTruth::FromJson(p->truth.ToJson(), "t");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->ToJson(), p->truth.ToJson());
  EXPECT_FALSE(ScanTruth::FromJson("{}", "t").ok());
  EXPECT_FALSE(DecodeMaskRle({5, 100}, 10, 10).ok());
  EXPECT_FALSE(DecodeMaskRle({5}, 10, 10).ok());
}

TEST(Simulator, BadOptionsAreRefused) {
  SimulateOptions o;
  o.width = 10;
  EXPECT_FALSE(Simulator::Create(o).ok());
  o = SimulateOptions{};
  o.threat_rate = 1.5;
  EXPECT_FALSE(Simulator::Create(o).ok());
  o = SimulateOptions{};
  o.misdeclared_rate = 0.7;
  o.undervalued_rate = 0.7;
  EXPECT_FALSE(Simulator::Create(o).ok());
}

// Rasterised masses equal the solids' volumes times density.
TEST(Geometry, RasterisedMassMatchesTheSolid) {
  auto model = xray::BuildPhysics(DualKvpScanner(), 0.5);
  ASSERT_TRUE(model.ok());
  const int water = xray::MaterialIndex("water");
  struct Case {
    xray::ShapeKind kind;
    double hx, hy, depth, wall, volume_cm3;
  } cases[] = {
      {xray::ShapeKind::kCuboid, 50, 25, 20, 0, 10 * 5 * 2},
      {xray::ShapeKind::kEllipsoid, 40, 30, 50, 0, 4.0 / 3 * M_PI * 4 * 3 * 2.5},
      {xray::ShapeKind::kCylinder, 60, 20, 40, 0, M_PI * 2 * 2 * 12},
      {xray::ShapeKind::kDisk, 30, 30, 10, 0, M_PI * 3 * 3 * 1},
      {xray::ShapeKind::kCuboid, 50, 40, 30, 2, 10 * 8 * 3 - 9.6 * 7.6 * 2.6},
  };
  for (const auto& c : cases) {
    xray::Canvas cv;
    cv.Reset(400, 300, 0.5, &*model);
    xray::Item item;
    xray::Part part;
    part.shape.kind = c.kind;
    part.shape.hx = c.hx;
    part.shape.hy = c.hy;
    part.shape.depth = c.depth;
    part.shape.wall = c.wall;
    part.material = water;
    part.density = 1.0;
    item.parts.push_back(part);
    auto r = xray::Rasterize(item, {100, 75, 0.3}, &cv);
    EXPECT_NEAR(r.mass_kg * 1000, c.volume_cm3, 0.03 * c.volume_cm3) << static_cast<int>(c.kind);
  }
}

TEST(Simulator, WedgesCoverEachMaterialWithIncreasingSteps) {
  auto sim = Simulator::Create(Small(1));
  auto wedges = (*sim)->SimulateWedges();
  ASSERT_TRUE(wedges.ok());
  ASSERT_EQ(wedges->size(), 4u);
  for (const auto& w : *wedges) {
    EXPECT_TRUE(ValidateScan(w.scan).ok());
    ASSERT_GE(w.steps.size(), 8u);
    double prev = -1;
    for (const auto& s : w.steps) {
      // Darker with every step.
      double sum = 0;
      for (int y = s.y0 + 3; y < s.y1 - 3; ++y)
        for (int x = s.x0 + 3; x < s.x1 - 3; ++x)
          sum += -std::log(w.scan.high[y * w.scan.width + x] / 65535.0);
      EXPECT_GT(sum, prev);
      prev = sum;
    }
  }
}

}  // namespace
}  // namespace clearsight
