#include <gtest/gtest.h>

#include <cmath>

#include "clearsight/xray_simulate.h"
#include "xray/physics/materials.h"
#include "xray/physics/projector.h"
#include "xray/physics/random.h"
#include "xray/physics/spectrum.h"
#include "xray/simulate/catalog.h"

namespace clearsight::xray {
namespace {

double ZOf(const char* name) { return MaterialCatalog()[MaterialIndex(name)].z_eff; }

TEST(Materials, CatalogueParsesAndEffectiveAtomicNumbersArePlausible) {
  EXPECT_GE(MaterialCatalog().size(), 40u);
  for (const auto& m : MaterialCatalog()) {
    double sum = 0;
    for (const auto& e : m.composition) sum += e.mass_fraction;
    EXPECT_NEAR(sum, 1.0, 1e-9) << m.name;
    EXPECT_GT(m.density, 0) << m.name;
  }
  EXPECT_NEAR(ZOf("water"), 7.42, 0.1);
  EXPECT_NEAR(ZOf("aluminium"), 13.0, 1e-6);
  EXPECT_NEAR(ZOf("steel"), 25.9, 0.3);
  EXPECT_NEAR(ZOf("pe"), 5.44, 0.1);
  EXPECT_GT(ZOf("pvc"), 10);          // chlorine: PVC looks inorganic, as on real scanners
  EXPECT_LT(ZOf("cocaine_hcl"), 10);  // narcotics are organic
  EXPECT_LT(ZOf("heroin_base"), ZOf("heroin_hcl"));
  EXPECT_GT(ZOf("porcelain"), 10);
  EXPECT_LT(ZOf("porcelain"), 18);
  auto bad = ParseRecipe("Xq2O");
  EXPECT_FALSE(bad.ok());
  auto z = FormulaZEff("H2O");
  ASSERT_TRUE(z.ok());
  EXPECT_NEAR(*z, ZOf("water"), 1e-9);
}

TEST(Materials, AttenuationMatchesNistXcom) {
  // NIST XCOM total attenuation with coherent scattering, cm^2/g.
  struct {
    const char* recipe;
    double kev, mu;
  } ref[] = {{"H2O", 60, 0.2059},
             {"H2O", 100, 0.1707},
             {"Al", 100, 0.1704},
             {"Fe", 100, 0.3717},
             {"Pb", 100, 5.549}};
  for (const auto& r : ref) {
    auto c = ParseRecipe(r.recipe);
    ASSERT_TRUE(c.ok());
    EXPECT_NEAR(MassAttenuation(*c, {r.kev})[0], r.mu, 0.02 * r.mu) << r.recipe << " at " << r.kev;
  }
}

TEST(Materials, EveryCatalogueItemUsesKnownMaterials) {
  Rng rng(3);
  for (const auto& c : GoodsCategories())
    for (int i = 0; i < 30; ++i) EXPECT_FALSE(MakeGoods(c.name, &rng).parts.empty()) << c.name;
  for (const auto& t : ThreatClasses())
    for (int i = 0; i < 30; ++i) EXPECT_FALSE(MakeThreat(t, &rng).parts.empty()) << t;
  EXPECT_TRUE(UnknownMaterialNames().empty()) << UnknownMaterialNames().front();
  EXPECT_GE(GoodsCategories().size(), 9u);
}

TEST(Spectrum, KramersSpectrumEndsAtTheTubeVoltageAndFiltersHarden) {
  EnergyGrid g = MakeEnergyGrid(10, 160, 2);
  auto soft = TubePhotons(g, {80, 1.0, 0.0});
  auto hard = TubePhotons(g, {80, 1.0, 1.0});
  double mean_soft = 0, mean_hard = 0, n_soft = 0, n_hard = 0;
  for (size_t i = 0; i < g.kev.size(); ++i) {
    if (g.kev[i] > 81) {
      EXPECT_EQ(soft[i], 0) << g.kev[i];
    }
    mean_soft += soft[i] * g.kev[i];
    n_soft += soft[i];
    mean_hard += hard[i] * g.kev[i];
    n_hard += hard[i];
  }
  EXPECT_GT(mean_hard / n_hard, mean_soft / n_soft + 5);
  EXPECT_LT(n_hard, n_soft);
}

class PhysicsModelTest : public ::testing::TestWithParam<int> {};

TEST_P(PhysicsModelTest, BasisIsAccurateAndLowEnergyAttenuatesMore) {
  ScannerModel s = GetParam() == 0 ? DualKvpScanner() : DualLayerScanner();
  auto m = BuildPhysics(s, 0.7);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_LE(m->rank, kMaxBasisRank);
  EXPECT_LT(m->basis_max_log_error, 2e-3);
  EXPECT_GT(m->channel[1].mean_kev, m->channel[0].mean_kev + 5);
  for (const auto& mat : MaterialCatalog()) {
    auto mu = MassAttenuation(mat.composition, m->grid.kev);
    double l1 = -std::log(ExactTransmission(*m, mu, 1.0, 0)),
           h1 = -std::log(ExactTransmission(*m, mu, 1.0, 1));
    EXPECT_GT(l1, h1) << mat.name;
    // Beam hardening: each further g/cm^2 attenuates less than the first.
    double h20 = -std::log(ExactTransmission(*m, mu, 20.0, 1));
    EXPECT_LT(h20 / 20, h1) << mat.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Scanners, PhysicsModelTest, ::testing::Values(0, 1));

TEST(Noise, QuantumNoiseMatchesTheCompoundPoissonVariance) {
  auto m = BuildPhysics(DualKvpScanner(), 0.7);
  ASSERT_TRUE(m.ok());
  const int w = 200, h = 100;
  int water = MaterialIndex("water");
  std::vector<float> coef(static_cast<size_t>(w) * h * m->rank);
  std::vector<uint8_t> touched(static_cast<size_t>(w) * h, 1);
  for (size_t i = 0; i < touched.size(); ++i)
    for (int k = 0; k < m->rank; ++k)
      coef[i * m->rank + k] = 5.0f * m->material_coef[water * m->rank + k];
  Rng rng(1);
  std::vector<uint16_t> low, high;
  FormOptions o;
  o.blur = false;
  o.scatter = false;
  FormImage(*m, coef, touched, w, h, &rng, o, &low, &high);
  auto mu = MassAttenuation(MaterialCatalog()[water].composition, m->grid.kev);
  for (int c = 0; c < 2; ++c) {
    const auto& page = c == 0 ? low : high;
    double mean = 0, var = 0;
    for (uint16_t v : page) mean += v / 65535.0 / page.size();
    for (uint16_t v : page) var += (v / 65535.0 - mean) * (v / 65535.0 - mean) / (page.size() - 1);
    double t = ExactTransmission(*m, mu, 5.0, c);
    double expected_var = m->electronic_noise * m->electronic_noise;
    for (size_t e = 0; e < mu.size(); ++e)
      expected_var += m->channel[c].var[e] * std::exp(-mu[e] * 5.0) / m->channel[c].photons_per_px;
    EXPECT_NEAR(mean, t, 0.003 * t + 5 * std::sqrt(expected_var / page.size()));
    EXPECT_NEAR(std::sqrt(var), std::sqrt(expected_var), 0.05 * std::sqrt(expected_var))
        << "channel " << c;
  }
}

TEST(Random, SeededAndStatisticallySane) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.Next(), b.Next());
  EXPECT_NE(Rng(42).Next(), c.Next());
  Rng r(7);
  double s = 0, s2 = 0, p = 0, p2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = r.Normal();
    s += x;
    s2 += x * x;
    double k = static_cast<double>(r.Poisson(5.0));
    p += k;
    p2 += k * k;
  }
  EXPECT_NEAR(s / n, 0, 0.01);
  EXPECT_NEAR(s2 / n, 1, 0.02);
  EXPECT_NEAR(p / n, 5, 0.03);
  EXPECT_NEAR(p2 / n - (p / n) * (p / n), 5, 0.1);
}

TEST(FastExp, MatchesStdExpOnTheRangeTheProjectorUses) {
  double worst = 0;
  for (double x = -80; x <= 0; x += 0.0137)
    worst = std::max(worst, std::abs(FastExpNeg(static_cast<float>(x)) / std::exp(x) - 1));
  EXPECT_LT(worst, 2e-5);             // float rounding of x*log2(e) dominates at large |x|
  EXPECT_EQ(FastExpNeg(0.5f), 1.0f);  // clamped: attenuation is never negative
}

}  // namespace
}  // namespace clearsight::xray
