// Horizon scanning on the store: the declarations of the baseline and the recent window as the
// store holds them, with each consignment's latest outcome, and the X-ray scans of their
// consignments with what each scan's assessment found (clearsight/horizon.h scans them).
#pragma once

#include <cstdint>

#include "clearsight/declarations.h"
#include "clearsight/horizon.h"
#include "clearsight/status.h"
#include "clearsight/store.h"

namespace clearsight {

// The most declarations one read holds (the store's own bound on a window read).
inline constexpr int64_t kHorizonMaxDeclarations = 1000000;

struct HorizonHistory {
  DeclarationBatch batch;
  int32_t from = 0, to = 0;  // the window read: since - 7 * baseline_weeks .. the newest date
  int64_t unreadable = 0;    // stored bodies that no longer parse (left out)
  int64_t with_outcome = 0;  // declarations whose consignment has an outcome
  // The assessed scans of those declarations' consignments, each dated and routed by its
  // consignment's first declaration read (lowest id) and with the kinds of its stored findings.
  std::vector<HorizonScan> scans;
  int64_t scans_unreadable = 0;  // stored findings that no longer parse (left out)
};

// Reads every declaration dated from `options.since - 7 * options.baseline_weeks` (at most 3660
// days back) to the newest stored date. Each declaration's inspection outcome is its
// consignment's latest outcome: inspected when there is one (other than "not_inspected"), fraud
// when it is not "nothing"; without one both are unknown (whatever outcome columns the stored body
// carries are replaced). With them, every assessed scan of their consignments
// (Store::ScanFindingsSince). NotFound when the store holds no declarations; ResourceExhausted,
// with the count and the window, when the window holds more than `max_declarations`
// (1..kHorizonMaxDeclarations) declarations, or more scans.
Result<HorizonHistory> ReadHorizonHistory(Store& store, const HorizonOptions& options,
                                          int64_t max_declarations = kHorizonMaxDeclarations);

}  // namespace clearsight
