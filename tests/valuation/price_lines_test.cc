#include "valuation/price_lines.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace clearsight::valuation {
namespace {

// Two products under one code: 10 and 100 per kg, log-normal noise 0.1, quantities 1..1000 kg.
std::vector<Point> TwoLines(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 0.1);
  std::uniform_real_distribution<double> logq(0, std::log(1000.0));
  std::vector<Point> pts;
  for (int i = 0; i < n; ++i) {
    double price = i % 2 ? std::log(10.0) : std::log(100.0);
    pts.push_back(Point{{logq(rng), 0}, price + noise(rng)});
  }
  return pts;
}

TEST(PriceLines, FindsTwoSeparatePriceLines) {
  PriceLines pl = PriceLines::Fit(TwoLines(400, 1), 1, PriceLinesOptions{});
  EXPECT_EQ(pl.lines(), 2);
  double x[2] = {std::log(50.0), 0};
  double e = pl.ExpectedLogPrice(x);
  EXPECT_TRUE(std::fabs(e - std::log(10.0)) < 0.1 || std::fabs(e - std::log(100.0)) < 0.1)
      << std::exp(e);
}

TEST(PriceLines, UnderValuedFlowsScoreAboveHonestOnes) {
  PriceLines pl = PriceLines::Fit(TwoLines(400, 2), 1, PriceLinesOptions{});
  auto fresh = TwoLines(200, 3);
  int above = 0;
  for (const auto& p : fresh) {
    double honest = pl.Score(p.x, p.y);
    double under = pl.Score(p.x, p.y + std::log(0.3));
    above += under > honest;
  }
  EXPECT_GE(above, 190);
}

TEST(PriceLines, OneLineWhenForcedAndFarOutsideTheRangeIsMostSuspicious) {
  PriceLinesOptions o;
  o.max_lines = 1;
  PriceLines pl = PriceLines::Fit(TwoLines(100, 4), 1, o);
  EXPECT_EQ(pl.lines(), 1);
  double x[2] = {1, 0};
  EXPECT_GT(pl.Score(x, std::log(0.001)), pl.Score(x, std::log(5.0)));
  EXPECT_TRUE(std::isfinite(pl.Score(x, -1e6)));
}

}  // namespace
}  // namespace clearsight::valuation
