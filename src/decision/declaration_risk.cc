// Declaration risk as findings: the learned model's probability with its top reasons, the
// valuation's under-valuation flag, and the analyst rules that match.
#include <algorithm>
#include <cmath>

#include "clearsight/fusion.h"
#include "clearsight/risk_model.h"
#include "clearsight/rules.h"
#include "clearsight/text.h"
#include "clearsight/valuation.h"

namespace clearsight {

DeclarationRisk::DeclarationRisk(std::shared_ptr<const RiskModel> model,
                                 std::shared_ptr<const ValuationModel> valuation,
                                 std::shared_ptr<const RuleSet> rules,
                                 DeclarationRiskOptions options)
    : model_(std::move(model)),
      valuation_(std::move(valuation)),
      rules_(std::move(rules)),
      options_(options) {}

std::vector<std::string> DeclarationRisk::ExplainModel(const DeclarationBatch& batch, size_t row,
                                                       int k) const {
  std::vector<std::string> out;
  if (!model_ || row >= batch.rows.size() || k <= 0) return out;
  for (const auto& r : model_->Explain(batch, row, k)) out.push_back(r.text);
  return out;
}

std::vector<DeclarationRisk::Assessment> DeclarationRisk::Assess(
    const DeclarationBatch& batch) const {
  std::vector<Assessment> out(batch.rows.size());
  std::vector<float> scores;
  if (model_) scores = model_->Score(batch, options_.threads);
  for (size_t i = 0; i < batch.rows.size(); ++i) {
    const Declaration& d = batch.rows[i];
    Assessment& a = out[i];
    DerivedFeatures derived;
    if (model_) {
      double p = scores[i];
      a.model_score = p;
      derived.risk_score = p;
      Finding f;
      f.source = "model";
      f.kind = "fraud_risk";
      f.score = p;
      f.reason = "risk model: " + FormatFixed(100.0 * p, 0) + " % probability of fraud";
      if (options_.explain_reasons > 0)
        f.details = ExplainModel(batch, i, options_.explain_reasons);
      a.findings.push_back(std::move(f));
    }
    if (valuation_) {
      a.valuation = valuation_->Score(d);
      a.valued = true;
      const ValuationResult& v = a.valuation;
      derived.unit_price_ratio = v.unit_price_ratio;
      derived.undervaluation_score = v.undervaluation_score;
      derived.revenue_at_risk = v.revenue_at_risk;
      if (v.flagged) {
        Finding f;
        f.source = "valuation";
        f.kind = "undervaluation";
        double ratio = v.unit_price_ratio;
        f.score = std::isfinite(ratio) ? std::clamp(1.0 - ratio, 0.3, 0.95) : 0.5;
        if (!v.reason.empty()) {
          f.reason = v.reason;
        } else {
          f.reason = "unit price " +
                     (std::isfinite(ratio) ? FormatFixed(100 * (1 - ratio), 0) + " % " : "far ") +
                     "below reference for HS " + d.hs_code + " from " + d.origin_country;
        }
        if (v.revenue_at_risk > 0)
          f.details.push_back("revenue at risk " + FormatFixed(v.revenue_at_risk, 2));
        if (!v.level.empty()) f.details.push_back("reference level: " + v.level);
        a.findings.push_back(std::move(f));
      }
    }
    if (rules_) {
      for (int idx : rules_->Match(d, batch, derived)) {
        const Rule& r = rules_->rules()[static_cast<size_t>(idx)];
        Finding f;
        f.source = "rules";
        f.kind = "rule:" + r.name;
        if (r.action.kind == RuleAction::Kind::kChannel) {
          f.floor = r.action.channel;
          f.score = r.action.channel == Channel::kRed      ? 0.5
                    : r.action.channel == Channel::kYellow ? 0.3
                                                           : 0.0;
        } else {
          f.score = std::clamp(r.action.weight, 0.0, 1.0);
        }
        f.reason = r.reason.empty() ? "rule '" + r.name + "' matched" : r.reason;
        f.details.push_back("rule '" + r.name + "'" + (r.owner.empty() ? "" : " by " + r.owner));
        a.findings.push_back(std::move(f));
        a.rule_hits.push_back(r.name);
        a.rule_indexes.push_back(idx);
      }
    }
  }
  return out;
}

}  // namespace clearsight
