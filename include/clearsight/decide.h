// Batch decisions: for a file of declarations, declaration risk (model, valuation, rules) as
// findings, fused into one score per declaration, then channels under the daily budget per lane
// with the control sample. The CLI's `score` and `demo` use it; the HTTP service makes the same
// decisions one consignment at a time with OnlineSelector (fusion.h).
#pragma once

#include <string>
#include <vector>

#include "clearsight/declarations.h"
#include "clearsight/fusion.h"
#include "clearsight/postal.h"
#include "clearsight/selection.h"

namespace clearsight {

struct BatchDecision {
  double score = 0;  // fused
  double model_score = kMissing;
  Selection selection;               // channel and control flag
  std::vector<FusedReason> reasons;  // largest weight first
  std::vector<std::string> rule_hits;
};

struct BatchDecisionOptions {
  SelectionOptions selection;
  FusionOptions fusion;
  // Feature-level reasons from the model for: "flagged" (red and yellow), "all" or "none".
  std::string explain = "flagged";
  int explain_reasons = 3;
  int threads = 2;
};

// One decision per row of `batch`. Rules with a channel action raise the channel of their hits
// after selection (over the budget if need be); the control sample is marked in the selection.
std::vector<BatchDecision> DecideBatch(const DeclarationRisk& risk, const DeclarationBatch& batch,
                                       const BatchDecisionOptions& options);

// "reason (source, weight 1.23); ..." for one CSV cell.
std::string ReasonsText(const BatchDecision& decision);

// One response per consignment (rows with the same consignment_id; a row without one is its own),
// in order of first appearance: the strongest channel among its pieces mapped to release / hold
// for documents / hold for inspection, the highest score, the reasons of its held pieces
// (strongest first, each once, naming the piece), and the item's S10 identifier from the extra
// column item_id (postal and H7 input) or else the consignment id. `decisions` is DecideBatch's
// for `batch`.
std::vector<ConsignmentResponse> ConsignmentResponses(const DeclarationBatch& batch,
                                                      const std::vector<BatchDecision>& decisions);

}  // namespace clearsight
