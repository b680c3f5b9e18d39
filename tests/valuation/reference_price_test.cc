#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "clearsight/valuation.h"

namespace clearsight {
namespace {

Declaration Flow(const std::string& id, const std::string& hs, const std::string& importer,
                 double kg, double per_kg) {
  Declaration d;
  d.declaration_id = id;
  d.importer_id = importer;
  d.hs_code = hs;
  d.origin_country = "CN";
  d.net_mass_kg = kg;
  d.declared_value = kg * per_kg;
  d.tax_rate = 10;
  d.currency = "EUR";
  return d;
}

DeclarationBatch History(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> noise(0, 0.15);
  std::uniform_real_distribution<double> kg(5, 500);
  DeclarationBatch b;
  for (int i = 0; i < 300; ++i)
    b.rows.push_back(Flow("H" + std::to_string(i), "851712", "I" + std::to_string(i % 40), kg(rng),
                          40 * noise(rng)));
  // HS 851713 has only 5 flows (thin): its declarations fall back to HS4 8517.
  for (int i = 0; i < 5; ++i)
    b.rows.push_back(Flow("T" + std::to_string(i), "851713", "X", kg(rng), 40 * noise(rng)));
  return b;
}

TEST(ReferencePrice, OutliersDoNotDragTheReference) {
  DeclarationBatch h = History(1);
  // One flow in five declared at a hundredth of the price, or a hundred times it.
  for (size_t i = 0; i < h.rows.size(); i += 5) h.rows[i].declared_value *= (i % 10 ? 0.01 : 100);
  auto m = ValuationModel::Fit(h, ValuationOptions{});
  ASSERT_TRUE(m.ok());
  ValuationResult r = m->Score(Flow("Q", "851712", "new", 100, 40));
  EXPECT_NEAR(r.reference_unit_price, 40, 4) << r.reason;
  EXPECT_NEAR(r.unit_price_ratio, 1, 0.1);
  EXPECT_FALSE(r.flagged);
  EXPECT_EQ(r.level, "hs+origin");
}

TEST(ReferencePrice, FallsBackToHs4WhenTheCodeHasFewerThanTenFlows) {
  auto m = ValuationModel::Fit(History(2), ValuationOptions{});
  ASSERT_TRUE(m.ok());
  ValuationResult r = m->Score(Flow("Q", "851713", "new", 100, 40));
  EXPECT_EQ(r.level, "hs4");
  EXPECT_NE(r.reason.find("HS 8517"), std::string::npos) << r.reason;
  ValuationResult none = m->Score(Flow("Q", "010121", "new", 100, 40));
  EXPECT_EQ(none.level, "none");
  EXPECT_FALSE(none.flagged);
  // Another currency is not compared with EUR prices.
  Declaration usd = Flow("Q", "851712", "new", 100, 4);
  usd.currency = "USD";
  EXPECT_EQ(m->Score(usd).level, "none");
}

TEST(ReferencePrice, PiecesWithoutAnHsCodeAreNeitherPricedNorAReference) {
  // Postal pieces declared without an HS code carry the placeholder "00": unrelated goods that
  // must not form a price group of their own, however many there are.
  DeclarationBatch h = History(6);
  for (int i = 0; i < 50; ++i)
    h.rows.push_back(Flow("N" + std::to_string(i), std::string(kNoHsCode), "P", 1, 40));
  auto m = ValuationModel::Fit(h, ValuationOptions{});
  ASSERT_TRUE(m.ok());
  ValuationResult r = m->Score(Flow("Q", std::string(kNoHsCode), "new", 1, 0.4));
  EXPECT_EQ(r.level, "none");
  EXPECT_FALSE(r.flagged);
  EXPECT_EQ(r.reason, "no reference price: no HS code declared");
}

TEST(ReferencePrice, FlagsUnderValuationWithRevenueAtRisk) {
  auto m = ValuationModel::Fit(History(3), ValuationOptions{});
  ASSERT_TRUE(m.ok());
  ValuationResult r = m->Score(Flow("Q", "851712", "new", 100, 10));  // a quarter of the price
  EXPECT_TRUE(r.flagged) << r.reason;
  EXPECT_NEAR(r.unit_price_ratio, 0.25, 0.05);
  // Tax 10 % of the missing ~3,000.
  EXPECT_NEAR(r.revenue_at_risk, 300, 40);
  EXPECT_NE(r.reason.find("below the reference"), std::string::npos) << r.reason;
}

TEST(ReferencePrice, AnImporterWithItsOwnPriceLevelIsComparedWithItself) {
  DeclarationBatch h = History(4);
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> noise(0, 0.15);
  std::uniform_real_distribution<double> kg(5, 500);
  // Importers PREMIUM1..4 always sell at twice the market price.
  for (int k = 1; k <= 4; ++k)
    for (int i = 0; i < 30; ++i)
      h.rows.push_back(Flow("P" + std::to_string(k) + "_" + std::to_string(i), "851712",
                            "PREMIUM" + std::to_string(k), kg(rng), 80 * noise(rng)));
  auto m = ValuationModel::Fit(h, ValuationOptions{});
  ASSERT_TRUE(m.ok());
  // At the market price: ordinary for a market importer, half its usual for PREMIUM1.
  ValuationResult own = m->Score(Flow("Q1", "851712", "PREMIUM1", 100, 40));
  ValuationResult other = m->Score(Flow("Q2", "851712", "I3", 100, 40));
  EXPECT_GT(own.undervaluation_score, other.undervaluation_score + 1);
  EXPECT_NE(own.reason.find("importer's own price level"), std::string::npos) << own.reason;
  EXPECT_NEAR(other.reference_unit_price, 40, 6) << other.reason;
  EXPECT_NEAR(own.reference_unit_price, 80, 12) << own.reason;
}

}  // namespace
}  // namespace clearsight
