// The reference of a group is chosen by evidence: cross-validated recall of injected
// under-valuation on the group's own history, the median unless another candidate clearly wins.
#include "valuation/reference_choice.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "clearsight/valuation.h"

namespace clearsight {
namespace {

using valuation::Reference;

valuation::Flow At(double kg, double per_kg, const std::string& importer) {
  return valuation::Flow{valuation::Point{{std::log(kg), 0}, std::log(per_kg)}, importer};
}

TEST(ReferenceChoice, FallsBackToTheMedianWhereThePriceLinesAreWrong) {
  // One price level (sd 8 %) and 12 % honest flows spread over 0.3..0.9 of it: the price lines
  // take the cheap honest flows for a line of their own, and under-valued copies look like it.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> kg(5, 500), u(0, 1);
  std::normal_distribution<double> z(0, 1);
  std::vector<valuation::Flow> flows;
  for (int i = 0; i < 400; ++i) {
    double p = u(rng) < 0.12 ? 100 * (0.3 + 0.6 * u(rng)) : 100 * std::exp(0.08 * z(rng));
    flows.push_back(At(kg(rng), p, "I" + std::to_string(i % 100)));
  }
  valuation::ReferenceChoice c = valuation::ChooseReference(flows, 1, {});
  ASSERT_EQ(c.recall.size(), 3u);
  const double median = c.recall[static_cast<int>(Reference::kMedian)];
  const double lines = c.recall[static_cast<int>(Reference::kLines)];
  EXPECT_LT(lines, median - 0.05) << "the scenario no longer makes the price lines wrong";
  EXPECT_EQ(c.model.kind(), Reference::kMedian);
}

TEST(ReferenceChoice, KeepsTheMedianWithoutAComparisonInSmallGroups) {
  std::vector<valuation::Flow> flows;
  for (int i = 0; i < 30; ++i)
    flows.push_back(At(10 + i, i % 2 ? 100 : 20, "P" + std::to_string(i % 2)));
  valuation::ReferenceChoice c = valuation::ChooseReference(flows, 1, {});
  EXPECT_TRUE(c.recall.empty());
  EXPECT_EQ(c.model.kind(), Reference::kMedian);
}

Declaration Decl(const std::string& id, const std::string& importer, double kg, double per_kg) {
  Declaration d;
  d.declaration_id = id;
  d.importer_id = importer;
  d.hs_code = "030749";
  d.origin_country = "ES";
  d.net_mass_kg = kg;
  d.declared_value = std::round(kg * per_kg * 100) / 100;
  d.tax_rate = 10;
  d.currency = "EUR";
  return d;
}

// Market importers at 40 / kg and four premium importers at 80 / kg, 30 flows each.
DeclarationBatch TwoLevels(uint64_t seed, int market_flows) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> noise(0, 0.15);
  std::uniform_real_distribution<double> kg(5, 500);
  DeclarationBatch b;
  for (int i = 0; i < market_flows; ++i)
    b.rows.push_back(Decl("M" + std::to_string(seed) + "_" + std::to_string(i),
                          "I" + std::to_string(i % 40), kg(rng), 40 * noise(rng)));
  for (int k = 1; k <= 4; ++k)
    for (int i = 0; i < 30; ++i)
      b.rows.push_back(Decl("P" + std::to_string(seed) + "_" + std::to_string(k * 100 + i),
                            "PREMIUM" + std::to_string(k), kg(rng), 80 * noise(rng)));
  return b;
}

// Recall of injected rows at the score that flags 5 % of the honest ones.
double Recall(std::vector<double> honest, const std::vector<double>& injected) {
  std::sort(honest.begin(), honest.end(), std::greater<>());
  double thr = honest[static_cast<size_t>(std::floor(0.05 * honest.size()))];
  double hits = 0;
  for (double s : injected) hits += s > thr;
  return hits / injected.size();
}

TEST(ReferenceChoice, ImportersAtTheirOwnLevelsAreUsedAndBeatThePlainMedian) {
  DeclarationBatch history = TwoLevels(11, 300);
  auto m = ValuationModel::Fit(history, ValuationOptions{});
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m->SummaryJson().find("\"reference\":\"importer\""), std::string::npos)
      << m->SummaryJson();
  std::vector<double> prices;
  for (const auto& d : history.rows) prices.push_back(d.declared_value / d.net_mass_kg);
  std::nth_element(prices.begin(), prices.begin() + prices.size() / 2, prices.end());
  const double median = prices[prices.size() / 2];
  // New declarations from the same importers, as declared and under-valued x U(0.2, 0.6).
  DeclarationBatch fresh = TwoLevels(12, 300);
  std::mt19937_64 rng(13);
  std::uniform_real_distribution<double> u(0.2, 0.6);
  std::vector<double> ours_h, ours_u, naive_h, naive_u;
  for (const Declaration& d : fresh.rows) {
    Declaration under = d;
    under.declared_value = std::round(d.declared_value * u(rng) * 100) / 100;
    ours_h.push_back(m->Score(d).undervaluation_score);
    ours_u.push_back(m->Score(under).undervaluation_score);
    naive_h.push_back(-d.declared_value / d.net_mass_kg / median);
    naive_u.push_back(-under.declared_value / under.net_mass_kg / median);
  }
  const double ours = Recall(ours_h, ours_u), naive = Recall(naive_h, naive_u);
  EXPECT_GT(ours, naive + 0.05) << "ours " << ours << " naive " << naive;
  // A premium importer at the market price is at half its own level: flagged.
  ValuationResult r = m->Score(Decl("Q", "PREMIUM2", 100, 40));
  EXPECT_TRUE(r.flagged) << r.reason;
  EXPECT_NEAR(r.reference_unit_price, 80, 12) << r.reason;
}

}  // namespace
}  // namespace clearsight
