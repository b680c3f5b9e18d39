// Domain randomization in the simulator: random scanners, threat families that can be held out,
// extended goods. The detector's held-out figures rest on these doing what they say.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "clearsight/xray_scanner.h"
#include "clearsight/xray_simulate.h"
#include "xray/physics/random.h"
#include "xray/simulate/catalog.h"
#include "xray/simulate/geometry.h"

namespace clearsight {
namespace {

SimulateOptions Small(uint64_t seed) {
  SimulateOptions o;
  o.width = 320;
  o.height = 240;
  o.seed = seed;
  o.threat_rate = 1.0;
  o.threads = 1;
  return o;
}

std::set<std::string> ThreatNames(const SimulateOptions& o, int count) {
  std::set<std::string> names;
  auto sim = Simulator::Create(o);
  EXPECT_TRUE(sim.ok()) << sim.status().message();
  if (!sim.ok()) return names;
  for (int i = 0; i < count; ++i) {
    auto s = (*sim)->Simulate(i);
    EXPECT_TRUE(s.ok());
    if (!s.ok()) continue;
    for (const auto& obj : s->truth.objects)
      if (obj.threat) names.insert(obj.name);
  }
  return names;
}

TEST(ThreatFamilies, SpecsSelectAndLeaveOutFamilies) {
  auto classic = ParseThreatFamilies("classic");
  ASSERT_TRUE(classic.ok());
  for (const auto& f : ThreatFamilies())
    EXPECT_EQ(std::count(classic->begin(), classic->end(), f.name), f.classic ? 1 : 0) << f.name;

  auto knives = ParseThreatFamilies("knife");
  ASSERT_TRUE(knives.ok());
  for (const auto& name : *knives) {
    bool is_knife = false;
    for (const auto& f : ThreatFamilies())
      if (f.name == name) is_knife = f.threat_class == "knife";
    EXPECT_TRUE(is_knife) << name;
  }
  EXPECT_GE(knives->size(), 5u);

  auto most = ParseThreatFamilies("all,-karambit,-classic");
  ASSERT_TRUE(most.ok());
  EXPECT_EQ(std::count(most->begin(), most->end(), "karambit"), 0);
  EXPECT_EQ(std::count(most->begin(), most->end(), "pistol"), 0);
  EXPECT_EQ(std::count(most->begin(), most->end(), "pistol_frame"), 1);

  auto bad = ParseThreatFamilies("all,-karambits");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("karambits"), std::string::npos);
  EXPECT_FALSE(ParseThreatFamilies("all,-all").ok());
}

TEST(ThreatFamilies, AHeldOutFamilyNeverAppearsAndAChosenOneAlwaysDoes) {
  SimulateOptions train = Small(3);
  train.threat_families = *ParseThreatFamilies("all,-karambit,-smg_compact");
  const auto seen = ThreatNames(train, 60);
  EXPECT_EQ(seen.count("karambit"), 0u);
  EXPECT_EQ(seen.count("smg_compact"), 0u);
  EXPECT_GE(seen.size(), 10u);  // many families, not one

  SimulateOptions held = Small(4);
  held.threat_families = {"karambit", "smg_compact"};
  EXPECT_EQ(ThreatNames(held, 20), (std::set<std::string>{"karambit", "smg_compact"}));

  // The default keeps the classic families (and with them the bytes of old seeds).
  for (const auto& name : ThreatNames(Small(5), 40)) {
    bool classic = false;
    for (const auto& f : ThreatFamilies())
      if (f.name == name) classic = f.classic;
    EXPECT_TRUE(classic) << name;
  }
}

TEST(ThreatFamilies, EveryFamilyAndExtendedGoodsTypeHasMassAndKnownMaterials) {
  using xray::Rng;
  for (const auto& f : ThreatFamilies()) {
    xray::FamilyFilter only = *xray::MakeFamilyFilter({f.name});
    for (uint64_t seed = 0; seed < 5; ++seed) {
      Rng rng(seed);
      xray::Item item = xray::MakeThreat(f.threat_class, &rng, only);
      ASSERT_EQ(item.name, f.name);
      ASSERT_FALSE(item.parts.empty()) << f.name;
      for (const auto& p : item.parts) EXPECT_GT(p.density, 0) << f.name;
      const auto [ex, ey] = item.HalfExtents();
      EXPECT_GT(ex, 5) << f.name;
      EXPECT_LT(std::max(ex, ey), 400) << f.name;  // fits a parcel
    }
  }
  for (const auto& cat : GoodsCategoryNames()) {
    const auto classic = xray::GoodsTypeNames(cat, false);
    const auto extended = xray::GoodsTypeNames(cat, true);
    EXPECT_GT(extended.size(), classic.size()) << cat;  // each category has an assortment
  }
  EXPECT_TRUE(xray::UnknownMaterialNames().empty()) << xray::UnknownMaterialNames().front();
}

TEST(ThreatFamilies, ExtendedGoodsAppearOnlyWhenAskedFor) {
  auto goods = [](bool extended) {
    SimulateOptions o = Small(9);
    o.threat_rate = 0;
    o.extended_goods = extended;
    o.goods_mix = {{"food", 1.0}};
    std::set<std::string> names;
    auto sim = Simulator::Create(o);
    for (int i = 0; i < 30; ++i) {
      auto s = (*sim)->Simulate(i);
      EXPECT_TRUE(s.ok());
      if (!s.ok()) continue;
      for (const auto& obj : s->truth.objects)
        if (!obj.packaging) names.insert(obj.name);
    }
    return names;
  };
  const auto plain = goods(false), extended = goods(true);
  const std::set<std::string> dense = {"sugar_bag", "tea_brick", "candy_blocks", "flour_sack",
                                       "assorted_food"};
  for (const auto& n : dense) EXPECT_EQ(plain.count(n), 0u) << n;
  int found = 0;
  for (const auto& n : dense) found += static_cast<int>(extended.count(n));
  EXPECT_GE(found, 3);
}

TEST(RandomScanner, SameSeedSameScannerAndTheDrawsCoverTheRange) {
  EXPECT_EQ(RandomScanner(7).name, RandomScanner(7).name);
  EXPECT_EQ(RandomScanner(7).tube_high.kvp, RandomScanner(7).tube_high.kvp);
  int layer = 0;
  double kvp_min = 1e9, kvp_max = 0, px_min = 1e9, px_max = 0;
  for (uint64_t s = 0; s < 200; ++s) {
    const ScannerModel m = RandomScanner(s);
    layer += m.kind == DetectorKind::kDualLayer;
    if (m.kind == DetectorKind::kDualKvp) {
      EXPECT_GE(m.tube_high.kvp - m.tube_low.kvp, 40 - 1e-9);
      EXPECT_GE(m.tube_low.kvp, 70);
    }
    kvp_min = std::min(kvp_min, m.tube_high.kvp);
    kvp_max = std::max(kvp_max, m.tube_high.kvp);
    px_min = std::min(px_min, RandomScannerPixelMm(s));
    px_max = std::max(px_max, RandomScannerPixelMm(s));
    EXPECT_GE(m.gain_stripe_sd, 0);
  }
  EXPECT_GT(layer, 60);
  EXPECT_LT(layer, 140);
  EXPECT_LT(kvp_min, 115);
  EXPECT_GT(kvp_max, 185);
  EXPECT_LT(px_min, 0.8);
  EXPECT_GT(px_max, 1.4);
}

TEST(RandomScanner, GainStripesScaleWholeRows) {
  // The stripes are drawn after the quantum noise, so the same parcel with and without them
  // differs by one factor per detector row (the belt runs along x).
  auto scan = [](double stripes) {
    SimulateOptions o = Small(2);
    o.scanner.gain_stripe_sd = stripes;
    auto s = (*Simulator::Create(o))->Simulate(0);
    EXPECT_TRUE(s.ok());
    return s->scan;
  };
  const Scan plain = scan(0), striped = scan(0.01);
  ASSERT_EQ(plain.high.size(), striped.high.size());
  const int w = plain.width, h = plain.height;
  // Only pixels inside objects: air (transmission 1) with a gain above 1 clips at the code's top.
  auto inside = [](double p) { return p > 3000 && p < 50000; };
  double m = 0, v = 0, worst_in_row = 0;
  std::vector<double> gains;
  for (int y = 0; y < h; ++y) {
    double a = 0, b = 0;
    int n = 0;
    for (int x = 0; x < w; ++x) {
      const double p = plain.high[static_cast<size_t>(y) * w + x];
      if (!inside(p)) continue;
      a += p;
      b += striped.high[static_cast<size_t>(y) * w + x];
      ++n;
    }
    if (n < 20) continue;
    gains.push_back(b / a);
    for (int x = 0; x < w; ++x) {  // within the row every pixel carries the same gain
      const double p = plain.high[static_cast<size_t>(y) * w + x];
      if (p > 10000 && p < 50000)
        worst_in_row = std::max(worst_in_row,
                                std::abs(striped.high[static_cast<size_t>(y) * w + x] / p - b / a));
    }
  }
  ASSERT_GT(gains.size(), 40u);
  for (double g : gains) m += g / gains.size();
  for (double g : gains) v += (g - m) * (g - m) / gains.size();
  EXPECT_NEAR(m, 1.0, 0.003);
  EXPECT_GT(std::sqrt(v), 0.006);
  EXPECT_LT(std::sqrt(v), 0.014);
  EXPECT_LT(worst_in_row, 0.004);
  EXPECT_TRUE(scan(0).high == plain.high);  // none drawn without stripes
}

}  // namespace
}  // namespace clearsight
