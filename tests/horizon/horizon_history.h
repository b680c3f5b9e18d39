// Generated declaration histories for the horizon tests: two years of declarations over many
// chapters, origins, offices and importers, with yearly seasonality and noise, X-ray scans of a
// share of them with their findings, and trends of every kind planted from a date on (some of
// them small); and the same history written to a store.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "clearsight/horizon.h"
#include "clearsight/status.h"
#include "clearsight/store.h"

namespace clearsight::testing {

struct HistoryOptions {
  // The declaration trends: a series doubling, one +60 %, a new route, a new importer, a price
  // drop, a hit-rate shift (horizon_test.cc names them).
  bool plant = false;
  // X-ray scans of a share of the declarations, each with findings drawn per class at the route's
  // rates; plant_findings raises three of them from `since` (FindingPlants()).
  bool scans = false;
  bool plant_findings = false;
  // Half of the series get a yearly season of their own (this amplitude, each its own phase) on
  // top of the market's; plant_seasonal makes the most seasonal of them +80 % from `since`.
  double own_season = 0;
  bool plant_seasonal = false;
};

// A planted finding shift: on the route origin -> office, the share of scans with the finding
// from `before` to `after` at `since`.
struct FindingPlant {
  std::string origin, office, finding;
  double before = 0, after = 0;
};

struct History {
  std::string csv;  // native declarations with the outcome columns inspected and fraud
  std::vector<HorizonScan> scans;
  // Per scan, its declaration's id (scans[i] belongs to scan_declaration[i]).
  std::vector<std::string> scan_declaration;
  // With plant_seasonal: the series given the +80 %, by field ("hs_code" with 6 digits,
  // "origin_country", "office_id").
  std::vector<std::pair<std::string, std::string>> seasonal_planted;
  std::vector<FindingPlant> finding_plants;  // with plant_findings
};

// Each seed gives the same history.
History GenerateHistory(uint64_t seed, const HistoryOptions& options, int32_t start, int32_t since,
                        int days);

// The history in a store as the service would hold it: every declaration its own consignment,
// decided (red when inspected), the inspected ones with an outcome ("undervaluation" where the
// history says fraud, else "nothing"), each scan stored with its findings (origin "scan:<id>").
// The stored declarations carry no outcome columns. Only declarations dated `from` or later.
Status FillStore(Store& store, const History& history, int32_t from);

int32_t Day(const char* date);

using SeriesKey = std::vector<std::pair<std::string, std::string>>;
// Whether a signal's series holds the planted one: each of its fields names the planted series'
// value (an HS code by prefix), so it is the planted series or a coarser one holding it.
bool HoldsPlanted(const SeriesKey& signal, const SeriesKey& planted);
SeriesKey KeyOf(const FindingPlant& plant);

}  // namespace clearsight::testing
