// Batch decisions: for a file of declarations, declaration risk (model, valuation, rules) as
// findings, fused into one score per declaration, then channels under the daily budget per lane
// with the control sample. The CLI's `score` and `demo` use it; the HTTP service makes the same
// decisions one consignment at a time with OnlineSelector (fusion.h).
#pragma once

#include <string>
#include <vector>

#include "clearsight/consignment.h"
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

// A consignment the HTTP service decided as a whole (one decision over all its findings; the
// stored decision row, its reasons, and its evidence by origin).
struct DecidedConsignment {
  std::string consignment_id;
  std::string item_id;  // the S10 identifier (extra column item_id); "" = the consignment id
  Channel channel = Channel::kGreen;
  double score = 0;
  bool control = false;
  std::vector<FusedReason> reasons;  // as fused, strongest first
  std::vector<Evidence> evidence;    // every origin's findings (declarations are the pieces)
};

// The response about it, in the form ConsignmentResponses gives for a batch: the channel mapped
// to release / hold for documents / hold for inspection; when held, the control sample and the
// reasons (weight 0.01 or more; RULE naming its rule) each naming the piece whose finding gave it
// ("" for a scan's); one piece per declaration with the consignment's channel (the service holds
// or releases the item as one) and the score of its own findings fused with `fusion`.
ConsignmentResponse ResponseForDecided(const DecidedConsignment& decided,
                                       const FusionOptions& fusion);

}  // namespace clearsight
