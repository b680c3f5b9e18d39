// Horizon scanning: what is changing in the declarations and the X-ray findings, before it
// becomes the new normal.
//
// The history is cut at `since`: the weeks before it (up to baseline_weeks) are the baseline,
// the days from it the recent window. Thousands of series (per HS chapter and heading, origin,
// route origin -> office, importer, and their combinations) are tested at once, each with a test
// fit for its kind, and the false-discovery rate is held per kind (Benjamini-Hochberg):
//   volume_shift    declarations per day against the baseline's rate times the market's own
//                   change (so a busier season does not flag every series) and, where the series
//                   has a season of its own, its share in the same weeks a year before (shrunk
//                   toward flat by how well the baseline shows that season); Poisson, or a
//                   normal test with the series' own over-dispersion
//   new_route       a (goods, origin) or (origin, office) never seen before since, with at least
//                   min_recent_count declarations
//   new_importer    an importer never seen before since, with at least min_recent_count
//   price_drop      unit prices (value / kg) lower than the baseline's: one-sided Mann-Whitney
//   hit_rate_shift  share of inspections that found fraud, before and since: two-proportion test
//   finding_shift   share of X-ray scans with a finding class (a threat class, a concealment sign,
//                   a manifest mismatch), per route and finding: Fisher's exact test, or a
//                   normal test with the series' own over-dispersion (only with scans given)
// One trend shows at several levels (a heading and its chapter, a route and its origin): a signal
// is dropped when a finer one of the same kind carries at least 80 % of its excess.
// docs/horizon.md states each method and its limits.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clearsight/declarations.h"
#include "clearsight/status.h"

namespace clearsight {

// The false-discovery levels the CLI and the service accept (the scan itself takes any in (0, 1)).
inline constexpr double kHorizonMinFdr = 0.001, kHorizonMaxFdr = 0.2;

struct HorizonOptions {
  int32_t since = 0;         // days since 1970-01-01: the first day of the recent window
  int baseline_weeks = 52;   // the weeks before `since` the recent window is compared with
  double fdr = 0.05;         // Benjamini-Hochberg level, per kind
  int min_recent_count = 5;  // a new route or importer needs this many recent declarations
  int max_signals_per_kind = 50;
  int threads = 2;  // the series families are aggregated on this many threads
  // Count series with a season of their own are compared with their share of the market in the
  // same weeks of the years before (when the baseline holds them); false: every series is
  // expected to move with the market alone.
  bool seasonal = true;
};

// One X-ray scan of a declared consignment as horizon scanning sees it: dated and routed by its
// consignment's declaration, with the classes of what its assessment found.
struct HorizonScan {
  int32_t date = 0;  // days since 1970-01-01
  std::string origin_country, office_id;
  // Finding classes, each at most once: "threat:<class>" (the detector), "impenetrable",
  // "unexpected_metal", "unexpected_organic", "mass_mismatch" (the image against the declared
  // goods: concealment signs), "manifest_mismatch". Empty for a scan that found nothing.
  std::vector<std::string> findings;
};

struct HorizonSignal {
  // volume_shift, new_route, new_importer, price_drop, hit_rate_shift, finding_shift
  std::string kind;
  // The fields that identify the series, by name ("hs_code" at the level of the series: 2, 4 or
  // 6 digits; "origin_country", "office_id", "importer_id"; "finding": the finding class).
  std::vector<std::pair<std::string, std::string>> key;
  int rank = 0;       // 1 = strongest, per kind
  double score = 0;   // -log10 q_value
  double effect = 0;  // relative change (volume, price, share of scans with the finding), hits
                      // per inspection (hit rate), or declarations a week (new routes and
                      // importers)
  double p_value = 1, q_value = 1;
  int32_t first_date = 0;  // where the change starts (first appearance, or the change point)
  // The recent window's count the signal rests on (declarations; inspections for hit rates; scans
  // with the finding for finding shifts) and what the baseline led to expect (0 for new routes
  // and importers, and for prices).
  int64_t recent_count = 0;
  double expected_count = 0;
  // Volume shifts: how far the expectation follows the series' own season (0 = flat: the market's
  // seasons alone; 1 = its share in the same weeks a year before).
  double season_weight = 0;
  std::string summary;  // one line for an analyst
  // The evidence: the weekly series the signal rests on (week start, value).
  std::string series_unit;
  std::vector<std::pair<int32_t, double>> series;
};

struct HorizonReport {
  int32_t from = 0, to = 0, since = 0;  // the history's first and last day, and the cut
  int64_t declarations = 0;
  // X-ray scans in the baseline and the recent window; none when the scan had no scans to read
  // (a declarations file), so no finding shift could be tested.
  std::optional<int64_t> scans;
  int baseline_weeks = 0;  // the options the scan ran with
  double fdr = 0;
  std::map<std::string, int64_t> tested;  // series tested per kind (absent: none)
  std::vector<HorizonSignal> signals;     // by kind, then rank
};

// InvalidArgument when `since` leaves no baseline or no recent window, or an option is out of
// range. Without scans no finding shift is tested.
Result<HorizonReport> ScanHorizon(const DeclarationBatch& batch, const HorizonOptions& options);
// The same with the X-ray scans of the declared consignments: finding shifts too (scans dated
// outside the baseline and the recent window are left out).
Result<HorizonReport> ScanHorizon(const DeclarationBatch& batch,
                                  const std::vector<HorizonScan>& scans,
                                  const HorizonOptions& options);

// {"since":..,"from":..,"to":..,"declarations":..,["scans":..,]"baseline_weeks":..,"fdr":..,
//  "tested":{..},"signals":[{"kind":..,"key":{..},"rank":..,"score":..,"effect":..,"p_value":..,
//  "q_value":..,"first_date":..,"summary":..,["season_weight":.. (volume shifts),]
//  "series":{"unit":..,"weeks":[..],"values":[..]}}, ...]}
std::string HorizonToJson(const HorizonReport& report);

// A self-contained HTML report: per kind a table of the signals and, for the strongest, their
// series plotted with `chart_js` (the text of Chart.js, which the page embeds).
std::string HorizonToHtml(const HorizonReport& report, std::string_view chart_js);

}  // namespace clearsight
