#include "clearsight/decide.h"

#include <algorithm>
#include <unordered_map>

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

namespace {

// The response code of a fused reason (docs/declarations.md, "Customs responses").
std::string ReasonCode(const FusedReason& r) {
  if (r.source == "model") return "MODEL_RISK";
  if (r.source == "valuation") return "UNDERVALUED";
  if (r.source == "rules") return "RULE";
  std::string code = r.source;
  for (char& c : code)
    c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c == '-' ? '_' : c;
  return code.empty() ? "OTHER" : code;
}

}  // namespace

std::vector<ConsignmentResponse> ConsignmentResponses(const DeclarationBatch& batch,
                                                      const std::vector<BatchDecision>& decisions) {
  std::vector<ConsignmentResponse> out;
  std::unordered_map<std::string, size_t> index;
  struct Weighted {
    ResponseReason reason;
    double weight;
  };
  std::vector<std::vector<Weighted>> reasons;
  const int item_col = batch.ExtraIndex("item_id");
  for (size_t i = 0; i < batch.rows.size() && i < decisions.size(); ++i) {
    const Declaration& d = batch.rows[i];
    const BatchDecision& decision = decisions[i];
    const std::string key(d.consignment_id.empty() ? d.declaration_id : d.consignment_id);
    auto [it, added] = index.emplace(key, out.size());
    if (added) {
      ConsignmentResponse r;
      r.consignment_id = key;
      const std::string_view item = batch.Extra(d, item_col);
      r.item_id = item.empty() ? key : std::string(item);
      out.push_back(std::move(r));
      reasons.emplace_back();
    }
    ConsignmentResponse& r = out[it->second];
    const Channel channel = decision.selection.channel;
    r.pieces.push_back({std::string(d.declaration_id), channel, decision.score});
    r.channel = std::max(r.channel, channel);
    r.score = std::max(r.score, decision.score);
    if (channel == Channel::kGreen) continue;  // a released piece's weak signals hold nothing
    // `it = it`: clang 14 (the fuzz build) cannot capture a structured binding.
    auto add = [&, it = it](ResponseReason reason, double weight) {
      auto& list = reasons[it->second];
      for (auto& w : list) {
        if (w.reason.code == reason.code && w.reason.text == reason.text) {
          w.weight = std::max(w.weight, weight);
          return;
        }
      }
      list.push_back({std::move(reason), weight});
    };
    if (decision.selection.control) {
      r.control = true;
      add({"CONTROL", "random control sample", "", std::string(d.declaration_id)}, 1e9);
    }
    for (const auto& fr : decision.reasons) {
      if (fr.weight < 0.01) continue;  // as in ReasonsText: too weak to tell anyone about
      ResponseReason reason{ReasonCode(fr), fr.text, "", std::string(d.declaration_id)};
      if (fr.source == "rules" && StartsWith(fr.kind, "rule:")) reason.rule = fr.kind.substr(5);
      add(std::move(reason), fr.weight);
    }
  }
  for (size_t k = 0; k < out.size(); ++k) {
    out[k].action = ResponseActionFor(out[k].channel);
    auto& list = reasons[k];
    std::stable_sort(list.begin(), list.end(),
                     [](const Weighted& a, const Weighted& b) { return a.weight > b.weight; });
    for (auto& w : list) out[k].reasons.push_back(std::move(w.reason));
  }
  return out;
}

ConsignmentResponse ResponseForDecided(const DecidedConsignment& decided,
                                       const FusionOptions& fusion) {
  ConsignmentResponse r;
  r.consignment_id = decided.consignment_id;
  r.item_id = decided.item_id.empty() ? decided.consignment_id : decided.item_id;
  r.channel = decided.channel;
  r.action = ResponseActionFor(decided.channel);
  r.score = decided.score;
  for (const auto& e : decided.evidence) {
    if (e.origin.kind != EvidenceOrigin::Kind::kDeclaration) continue;
    r.pieces.push_back({e.origin.id, decided.channel, Fuse(e.findings, fusion).score});
  }
  if (decided.channel == Channel::kGreen) return r;  // a released item's weak signals hold nothing
  // The piece whose finding gave a reason: the first declaration with a finding of the same
  // source and words.
  auto piece_of = [&](const FusedReason& fr) -> std::string {
    for (const auto& e : decided.evidence) {
      if (e.origin.kind != EvidenceOrigin::Kind::kDeclaration) continue;
      for (const auto& f : e.findings)
        if (f.source == fr.source && f.kind == fr.kind && f.reason == fr.text) return e.origin.id;
    }
    return "";
  };
  if (decided.control) {
    r.control = true;
    r.reasons.push_back({"CONTROL", "random control sample", "", ""});
  }
  for (const auto& fr : decided.reasons) {
    if (fr.weight < 0.01) continue;  // as in ReasonsText: too weak to tell anyone about
    ResponseReason reason{ReasonCode(fr), fr.text, "", piece_of(fr)};
    if (fr.source == "rules" && StartsWith(fr.kind, "rule:")) reason.rule = fr.kind.substr(5);
    bool seen = false;
    for (const auto& x : r.reasons) seen |= x.code == reason.code && x.text == reason.text;
    if (!seen) r.reasons.push_back(std::move(reason));
  }
  return r;
}

}  // namespace clearsight
