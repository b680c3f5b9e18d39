#include "clearsight/decide.h"

#include "clearsight/risk_model.h"
#include "clearsight/text.h"

namespace clearsight {

std::vector<BatchDecision> DecideBatch(const DeclarationRisk& risk, const DeclarationBatch& batch,
                                       const BatchDecisionOptions& options) {
  std::vector<DeclarationRisk::Assessment> assessed = risk.Assess(batch);
  std::vector<BatchDecision> out(batch.rows.size());
  std::vector<float> scores(batch.rows.size());
  std::vector<Channel> floors(batch.rows.size(), Channel::kGreen);
  for (size_t i = 0; i < batch.rows.size(); ++i) {
    FusedRisk fused = Fuse(assessed[i].findings, options.fusion);
    out[i].score = fused.score;
    out[i].model_score = assessed[i].model_score;
    out[i].reasons = std::move(fused.reasons);
    out[i].rule_hits = std::move(assessed[i].rule_hits);
    scores[i] = static_cast<float>(fused.score);
    floors[i] = fused.floor;
  }
  std::vector<Selection> sel = SelectChannels(batch, scores, options.selection);
  for (size_t i = 0; i < batch.rows.size(); ++i) {
    out[i].selection = sel[i];
    if (floors[i] > out[i].selection.channel) out[i].selection.channel = floors[i];
    bool explain = options.explain == "all" ||
                   (options.explain == "flagged" && out[i].selection.channel != Channel::kGreen);
    if (explain && risk.model() != nullptr) {
      // The model's feature reasons go under the model's fused reason.
      for (auto& r : out[i].reasons) {
        if (r.source != "model") continue;
        for (const auto& e : risk.model()->Explain(batch, i, options.explain_reasons))
          r.details.push_back(e.text);
      }
    }
  }
  return out;
}

std::string ReasonsText(const BatchDecision& d) {
  std::string s;
  auto add = [&s](const std::string& t) {
    if (!s.empty()) s += "; ";
    s += t;
  };
  if (d.selection.control) add("random control sample");
  for (const auto& r : d.reasons) {
    if (r.weight < 0.01) continue;  // evidence too weak to tell an officer about
    add(r.text + " (" + r.source + ", weight " + FormatFixed(r.weight, 2) + ")");
    for (const auto& detail : r.details) add(detail);
  }
  return s;
}

}  // namespace clearsight
