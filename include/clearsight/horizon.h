// Horizon scanning: what is changing in the declarations, before it becomes the new normal.
//
// The history is cut at `since`: the weeks before it (up to baseline_weeks) are the baseline,
// the days from it the recent window. Thousands of series (per HS chapter and heading, origin,
// route origin -> office, importer, and their combinations) are tested at once, each with a test
// fit for its kind, and the false-discovery rate is held per kind (Benjamini-Hochberg):
//   volume_shift    declarations per day against the baseline's rate times the market's own
//                   change (so a busier season does not flag every series); Poisson, or a
//                   normal test with the series' own over-dispersion
//   new_route       a (goods, origin) or (origin, office) never seen before since, with at least
//                   min_recent_count declarations
//   new_importer    an importer never seen before since, with at least min_recent_count
//   price_drop      unit prices (value / kg) lower than the baseline's: one-sided Mann-Whitney
//   hit_rate_shift  share of inspections that found fraud, before and since: two-proportion test
// One trend shows at several levels (a heading and its chapter, a route and its origin): a signal
// is dropped when a finer one of the same kind carries at least 80 % of its excess.
// docs/horizon.md states each method and its limits.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clearsight/declarations.h"
#include "clearsight/status.h"

namespace clearsight {

struct HorizonOptions {
  int32_t since = 0;         // days since 1970-01-01: the first day of the recent window
  int baseline_weeks = 52;   // the weeks before `since` the recent window is compared with
  double fdr = 0.05;         // Benjamini-Hochberg level, per kind
  int min_recent_count = 5;  // a new route or importer needs this many recent declarations
  int max_signals_per_kind = 50;
  int threads = 2;  // the series families are aggregated on this many threads
};

struct HorizonSignal {
  std::string kind;  // volume_shift, new_route, new_importer, price_drop, hit_rate_shift
  // The fields that identify the series, by name ("hs_code" at the level of the series: 2, 4 or
  // 6 digits; "origin_country", "office_id", "importer_id").
  std::vector<std::pair<std::string, std::string>> key;
  int rank = 0;       // 1 = strongest, per kind
  double score = 0;   // -log10 q_value
  double effect = 0;  // relative change (volume, price), hits per inspection (hit rate), or
                      // declarations a week (new routes and importers)
  double p_value = 1, q_value = 1;
  int32_t first_date = 0;  // where the change starts (first appearance, or the change point)
  // The recent window's count the signal rests on (declarations; inspections for hit rates) and
  // what the baseline led to expect (0 for new routes and importers, and for prices).
  int64_t recent_count = 0;
  double expected_count = 0;
  std::string summary;  // one line for an analyst
  // The evidence: the weekly series the signal rests on (week start, value).
  std::string series_unit;
  std::vector<std::pair<int32_t, double>> series;
};

struct HorizonReport {
  int32_t from = 0, to = 0, since = 0;  // the history's first and last day, and the cut
  int64_t declarations = 0;
  std::map<std::string, int64_t> tested;  // series tested per kind
  std::vector<HorizonSignal> signals;     // by kind, then rank
};

// InvalidArgument when `since` leaves no baseline or no recent window, or an option is out of
// range.
Result<HorizonReport> ScanHorizon(const DeclarationBatch& batch, const HorizonOptions& options);

// {"since":..,"from":..,"to":..,"declarations":..,"tested":{..},"signals":[{"kind":..,"key":{..},
//  "rank":..,"score":..,"effect":..,"p_value":..,"q_value":..,"first_date":..,"summary":..,
//  "series":{"unit":..,"weeks":[..],"values":[..]}}, ...]}
std::string HorizonToJson(const HorizonReport& report);

// A self-contained HTML report: per kind a table of the signals and, for the strongest, their
// series plotted with `chart_js` (the text of Chart.js, which the page embeds).
std::string HorizonToHtml(const HorizonReport& report, std::string_view chart_js);

}  // namespace clearsight
