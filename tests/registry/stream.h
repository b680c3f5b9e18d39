// A generated declaration stream for retraining tests: importers and goods routes with their own
// fraud rates, and, from `shift_day` on, a new fraud pattern (a new HS6 from a new origin over a
// new route, declared by new importers) that the earlier data never shows. Seeded, reproducible.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "clearsight/declarations.h"

namespace clearsight::testing {

struct StreamOptions {
  int32_t first_day = 18628;  // 2021-01-01
  int days = 60;
  int per_day = 200;
  int shift_day = -1;  // day index the new pattern starts; -1 = never
  double new_pattern_share = 0.03;
  double new_pattern_fraud = 0.7;
  uint64_t seed = 1;
};

// Every row has its outcome (fraud, critical) filled: the truth, which a test reveals only for
// what it inspects.
inline DeclarationBatch GenerateStream(const StreamOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> u(0, 1);
  const int kImporters = 400, kHs = 40, kOrigins = 12;
  // Fixed risks: 10 % of importers and 10 % of HS x origin routes are risky.
  std::vector<double> importer_risk(kImporters), route_risk(kHs * kOrigins);
  for (auto& r : importer_risk) r = u(rng) < 0.10 ? 0.35 : 0.0;
  for (auto& r : route_risk) r = u(rng) < 0.10 ? 0.30 : 0.0;
  std::vector<double> hs_price(kHs);
  for (auto& p : hs_price) p = std::exp(1 + 4 * u(rng));
  DeclarationBatch b;
  int64_t id = 0;
  for (int day = 0; day < o.days; ++day) {
    for (int i = 0; i < o.per_day; ++i) {
      Declaration d;
      d.declaration_id = "D" + std::to_string(++id);
      d.date = o.first_day + day;
      d.office_id = "L1";
      d.currency = "EUR";
      double p_fraud;
      const bool shifted = o.shift_day >= 0 && day >= o.shift_day && u(rng) < o.new_pattern_share;
      double price;
      if (shifted) {
        d.importer_id = "NEW" + std::to_string(static_cast<int>(u(rng) * 30));
        d.hs_code = "850760";
        d.origin_country = "ZZ";
        d.departure_country = "YY";
        price = 40;
        p_fraud = o.new_pattern_fraud;
      } else {
        const int imp = static_cast<int>(u(rng) * kImporters);
        const int hs = static_cast<int>(u(rng) * kHs);
        const int origin = static_cast<int>(u(rng) * kOrigins);
        d.importer_id = "I" + std::to_string(imp);
        d.hs_code = std::to_string(610000 + hs * 10);
        d.origin_country = std::string(1, static_cast<char>('A' + origin)) + "X";
        d.departure_country = d.origin_country;
        price = hs_price[hs];
        p_fraud = 0.02 + importer_risk[imp] + route_risk[hs * kOrigins + origin];
      }
      d.net_mass_kg = std::round(1 + 50 * u(rng));
      // Under-valued frauds declare a third of the price.
      const bool fraud = u(rng) < p_fraud;
      const bool undervalued = fraud && u(rng) < 0.3;
      d.declared_value =
          std::round(d.net_mass_kg * price * (undervalued ? 0.33 : 1) * (0.8 + 0.4 * u(rng)));
      d.tax_rate = 8;
      d.fraud = fraud ? 1 : 0;
      d.critical = fraud && u(rng) < 0.05 ? 1 : 0;
      d.inspected = 1;
      b.rows.push_back(std::move(d));
    }
  }
  return b;
}

}  // namespace clearsight::testing
