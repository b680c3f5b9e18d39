#include "clearsight/retrain.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "clearsight/model_registry.h"
#include "clearsight/text.h"

namespace clearsight {

namespace {

double Round4(double v) { return std::round(v * 1e4) / 1e4; }

nlohmann::json IntervalJson(const Interval& i) {
  return {{"value", Round4(i.value)}, {"low", Round4(i.low)}, {"high", Round4(i.high)}};
}

// AUC of (score, label) pairs by ranks, ties counted half; 0.5 without both classes.
double Auc(std::vector<std::pair<float, int8_t>>& v) {
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  double pos = 0, rank_sum = 0;
  const size_t n = v.size();
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && v[j].first == v[i].first) ++j;
    const double avg_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k)
      if (v[k].second == 1) {
        rank_sum += avg_rank;
        ++pos;
      }
    i = j;
  }
  const double neg = static_cast<double>(n) - pos;
  if (pos == 0 || neg == 0) return 0.5;
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

// Frauds among the top ceil(budget x n) by score (ties in row order).
double PrecisionAt(std::vector<std::pair<float, int8_t>>& v, double budget) {
  if (v.empty()) return 0;
  const size_t k = std::clamp<size_t>(
      static_cast<size_t>(std::ceil(budget * static_cast<double>(v.size()) - 1e-9)), 1, v.size());
  std::stable_sort(v.begin(), v.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  double f = 0;
  for (size_t i = 0; i < k; ++i) f += v[i].second == 1;
  return f / static_cast<double>(k);
}

// The percentile of sorted values at q (0..1), by the nearest rank below.
double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t k =
      std::min(v.size() - 1, static_cast<size_t>(std::floor(q * static_cast<double>(v.size()))));
  return v[k];
}

std::vector<std::pair<float, int8_t>> Pairs(const std::vector<float>& scores,
                                            const LabelledData& data,
                                            const std::vector<size_t>& rows) {
  std::vector<std::pair<float, int8_t>> v;
  v.reserve(rows.size());
  for (size_t r : rows)
    if (data.batch.rows[r].fraud >= 0) v.emplace_back(scores[r], data.batch.rows[r].fraud);
  return v;
}

}  // namespace

Interval Wilson(double successes, double n, double confidence) {
  Interval out;
  if (n <= 0) return out;
  // The two-sided normal quantile for the usual levels; 0.95 -> 1.96.
  const double z = confidence >= 0.99 ? 2.576 : confidence >= 0.95 ? 1.96 : 1.645;
  const double p = successes / n;
  const double d = 1 + z * z / n;
  const double centre = (p + z * z / (2 * n)) / d;
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d;
  out.value = p;
  out.low = std::max(0.0, centre - half);
  out.high = std::min(1.0, centre + half);
  return out;
}

void LabelledData::Add(Declaration d, double p, bool is_control, bool is_exploration) {
  batch.rows.push_back(std::move(d));
  propensity.push_back(p);
  control.push_back(is_control);
  exploration.push_back(is_exploration);
  randomly_drawn.push_back(is_control || is_exploration);
}

int8_t OutcomeFraud(std::string_view result) {
  if (!IsInspectionResult(result)) return -1;
  return result == "nothing" ? 0 : 1;
}

int8_t OutcomeCritical(std::string_view result) {
  if (!IsInspectionResult(result)) return -1;
  return result == "narcotics" || result == "weapon" ? 1 : 0;
}

Result<LabelledData> LoadLabelledData(Store& store, int32_t from, int32_t to) {
  CS_ASSIGN_OR_RETURN(auto rows, store.DecidedDeclarations(from, to));
  // Lane-day control shares, for decisions stored without a propensity (per consignment).
  std::map<std::pair<std::string, int32_t>, std::pair<double, double>> lane_day;  // control, all
  {
    std::string last;
    for (const auto& r : rows) {
      if (r.consignment_id == last) continue;
      last = r.consignment_id;
      auto& c = lane_day[{r.lane, r.decision_date}];
      c.first += r.control;
      c.second += 1;
    }
  }
  LabelledData data;
  ReadOptions ro;
  ro.format = DeclarationFormat::kNativeJsonl;
  for (const auto& r : rows) {
    auto parsed = ParseDeclarations(r.declaration_json, "stored", ro, nullptr);
    if (!parsed.ok() || parsed->rows.size() != 1)
      return Status::DataLoss(
          "stored declaration of consignment " + r.consignment_id + " does not parse: " +
          (parsed.ok() ? std::string("not one row") : parsed.status().message()));
    if (data.batch.extra_columns.empty()) data.batch.extra_columns = parsed->extra_columns;
    Declaration d = std::move(parsed->rows[0]);
    if (parsed->extra_columns != data.batch.extra_columns) {
      // Align extra columns by name with the first row's.
      ExtraValues aligned;
      for (size_t i = 0; i < data.batch.extra_columns.size(); ++i)
        aligned.Set(i, parsed->Extra(d, parsed->ExtraIndex(data.batch.extra_columns[i])));
      d.extra = std::move(aligned);
    }
    d.fraud = OutcomeFraud(r.outcome);
    d.critical = OutcomeCritical(r.outcome);
    d.inspected = IsInspectionResult(r.outcome) ? 1 : -1;
    double p;
    if (r.propensity) {
      p = *r.propensity;
    } else {
      ++data.estimated_propensities;
      const auto& c = lane_day[{r.lane, r.decision_date}];
      p = r.control ? (c.second > 0 ? c.first / c.second : 1.0) : 1.0;
    }
    data.Add(std::move(d), p, r.control, r.exploration);
  }
  return data;
}

std::vector<float> InversePropensityWeights(const LabelledData& data, double min_propensity) {
  std::vector<float> w(data.size(), 0.f);
  double sum = 0, n = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    if (data.batch.rows[i].fraud < 0) continue;
    const double p = data.randomly_drawn[i] ? std::max(data.propensity[i], min_propensity) : 1.0;
    w[i] = static_cast<float>(1 / std::min(1.0, p));
    sum += w[i];
    ++n;
  }
  if (sum > 0)
    for (float& x : w) x = static_cast<float>(x * n / sum);
  return w;
}

RankingMetrics EvaluateRows(const std::vector<float>& scores, const LabelledData& data,
                            const std::vector<size_t>& rows, const EvaluationOptions& o) {
  RankingMetrics m;
  auto v = Pairs(scores, data, rows);
  m.rows = static_cast<int64_t>(v.size());
  for (const auto& p : v) m.frauds += p.second == 1;
  m.hit_rate = Wilson(static_cast<double>(m.frauds), static_cast<double>(m.rows), o.confidence);
  if (v.empty()) return m;
  {
    auto c = v;
    m.auc.value = Auc(c);
    c = v;
    m.precision_at_budget.value = PrecisionAt(c, o.budget);
  }
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<size_t> pick(0, v.size() - 1);
  std::vector<double> aucs, precisions;
  std::vector<std::pair<float, int8_t>> s(v.size());
  for (int b = 0; b < o.bootstrap; ++b) {
    for (auto& x : s) x = v[pick(rng)];
    aucs.push_back(Auc(s));
    precisions.push_back(PrecisionAt(s, o.budget));
  }
  const double tail = (1 - o.confidence) / 2;
  m.auc.low = Percentile(aucs, tail);
  m.auc.high = Percentile(aucs, 1 - tail);
  m.precision_at_budget.low = Percentile(precisions, tail);
  m.precision_at_budget.high = Percentile(precisions, 1 - tail);
  if (o.bootstrap <= 0) {
    m.auc.low = m.auc.high = m.auc.value;
    m.precision_at_budget.low = m.precision_at_budget.high = m.precision_at_budget.value;
  }
  return m;
}

std::string RankingMetrics::ToJson() const {
  return nlohmann::json{{"rows", rows},
                        {"frauds", frauds},
                        {"auc", IntervalJson(auc)},
                        {"precision_at_budget", IntervalJson(precision_at_budget)},
                        {"hit_rate", IntervalJson(hit_rate)}}
      .dump();
}

namespace {

// The rows of `data` dated after `cutoff` (up to `until`): all, the control draws, the inspected.
struct PeriodRows {
  std::vector<size_t> all, control, inspected;
};
PeriodRows RowsAfter(const LabelledData& data, int32_t cutoff,
                     std::optional<int32_t> until = std::nullopt) {
  PeriodRows p;
  for (size_t i = 0; i < data.size(); ++i) {
    const Declaration& d = data.batch.rows[i];
    if (d.date <= cutoff || (until && d.date > *until)) continue;
    p.all.push_back(i);
    if (d.fraud < 0) continue;
    p.inspected.push_back(i);
    if (data.control[i]) p.control.push_back(i);
  }
  return p;
}

// Scores of the listed rows in a vector indexed like data (others 0).
std::vector<float> ScoreRows(const RiskModel& model, const LabelledData& data,
                             const std::vector<size_t>& rows, int threads) {
  DeclarationBatch part;
  part.extra_columns = data.batch.extra_columns;
  part.rows.reserve(rows.size());
  for (size_t r : rows) part.rows.push_back(data.batch.rows[r]);
  std::vector<float> s = model.Score(part, threads);
  std::vector<float> out(data.size(), 0.f);
  for (size_t i = 0; i < rows.size(); ++i) out[rows[i]] = s[i];
  return out;
}

PeriodEvaluation Evaluate(const std::vector<float>& scores, const LabelledData& data,
                          const PeriodRows& rows, const EvaluationOptions& o) {
  return PeriodEvaluation{EvaluateRows(scores, data, rows.control, o),
                          EvaluateRows(scores, data, rows.inspected, o)};
}

nlohmann::json PeriodJson(const PeriodEvaluation& e) {
  return {{"control", nlohmann::json::parse(e.control.ToJson())},
          {"inspected", nlohmann::json::parse(e.inspected.ToJson())}};
}

}  // namespace

std::string RetrainReport::ToJson() const {
  nlohmann::json j = {
      {"cutoff", FormatDate(cutoff)},
      {"estimator", inverse_propensity ? "inverse-propensity weights, clipped" : "unweighted"},
      {"min_propensity", min_propensity},
      {"training",
       {{"history_rows", history_rows},
        {"labelled", train_labelled},
        {"control", train_control},
        {"exploration", train_explored},
        {"max_weight", Round4(max_weight)},
        {"estimated_propensities", estimated_propensities}}},
      {"evaluation_rows", eval_rows},
      {"candidate", PeriodJson(candidate)},
      {"live", live ? PeriodJson(*live) : nlohmann::json(nullptr)},
      {"live_version", live_version ? nlohmann::json(*live_version) : nlohmann::json(nullptr)}};
  return j.dump(2) + "\n";
}

Result<RiskModel> Retrain(const LabelledData& data, int32_t cutoff, const RiskModel* live,
                          std::optional<int64_t> live_version, const RetrainOptions& options,
                          RetrainReport* report) {
  RetrainReport rep;
  rep.cutoff = cutoff;
  rep.inverse_propensity = options.inverse_propensity;
  rep.min_propensity = options.min_propensity;
  rep.estimated_propensities = data.estimated_propensities;
  LabelledData history;
  history.batch.extra_columns = data.batch.extra_columns;
  for (size_t i = 0; i < data.size(); ++i) {
    const Declaration& d = data.batch.rows[i];
    if (d.date > cutoff) continue;
    history.Add(d, data.propensity[i], data.control[i], data.exploration[i]);
    if (d.fraud < 0) continue;
    ++rep.train_labelled;
    rep.train_control += data.control[i];
    rep.train_explored += data.exploration[i];
  }
  rep.history_rows = static_cast<int64_t>(history.size());
  if (rep.train_labelled == 0)
    return Status::InvalidArgument("no decided declaration dated up to the cut-off " +
                                   FormatDate(cutoff) + " has an inspection outcome to learn from");
  RiskModelOptions mo = options.model;
  mo.baseline = false;
  if (options.inverse_propensity) {
    mo.row_weights = InversePropensityWeights(history, options.min_propensity);
    for (float w : mo.row_weights) rep.max_weight = std::max(rep.max_weight, double{w});
  } else {
    rep.max_weight = 1;
  }
  CS_ASSIGN_OR_RETURN(RiskModel candidate, RiskModel::Train(history.batch, mo));
  const PeriodRows rows = RowsAfter(data, cutoff);
  rep.eval_rows = static_cast<int64_t>(rows.all.size());
  rep.candidate = Evaluate(ScoreRows(candidate, data, rows.inspected, mo.threads), data, rows,
                           options.evaluation);
  if (live) {
    rep.live = Evaluate(ScoreRows(*live, data, rows.inspected, mo.threads), data, rows,
                        options.evaluation);
    rep.live_version = live_version;
  }
  if (report) *report = std::move(rep);
  return candidate;
}

// ---- The promotion gate ----------------------------------------------------------------------

std::string GateResult::ToJson() const {
  const char* v = verdict == GateVerdict::kPromote  ? "promote"
                  : verdict == GateVerdict::kReject ? "reject"
                                                    : "undecided";
  return nlohmann::json{{"verdict", v},
                        {"control_rows", rows},
                        {"control_frauds", frauds},
                        {"candidate_auc", Round4(candidate_auc)},
                        {"live_auc", Round4(live_auc)},
                        {"auc_difference", IntervalJson(auc_difference)},
                        {"precision_difference", IntervalJson(precision_difference)},
                        {"reason", reason}}
      .dump();
}

GateResult GateCompare(const std::vector<float>& candidate_scores,
                       const std::vector<float>& live_scores, const LabelledData& data,
                       const std::vector<size_t>& control_rows, const GateOptions& o) {
  GateResult g;
  const bool has_live = !live_scores.empty();
  // (candidate score, live score, label) per control row with an outcome.
  struct Row {
    float cand, live;
    int8_t label;
  };
  std::vector<Row> v;
  for (size_t r : control_rows) {
    const int8_t y = data.batch.rows[r].fraud;
    if (y < 0) continue;
    v.push_back({candidate_scores[r], has_live ? live_scores[r] : 0.f, y});
  }
  g.rows = static_cast<int64_t>(v.size());
  for (const auto& r : v) g.frauds += r.label == 1;
  const std::string counts = std::to_string(g.rows) + " control rows with outcomes (" +
                             std::to_string(g.frauds) + " frauds)";
  if (g.rows < o.min_rows || g.frauds < o.min_frauds || g.rows - g.frauds < o.min_frauds) {
    g.verdict = GateVerdict::kUndecided;
    g.reason = "too few outcomes to test: " + counts + " after the cut-off; the gate needs " +
               std::to_string(o.min_rows) + " rows with at least " + std::to_string(o.min_frauds) +
               " frauds and as many without";
    return g;
  }
  auto metrics = [&](const std::vector<Row>& rows, double* auc_c, double* auc_l, double* prec_c,
                     double* prec_l) {
    std::vector<std::pair<float, int8_t>> c, l;
    c.reserve(rows.size());
    for (const auto& r : rows) {
      c.emplace_back(r.cand, r.label);
      l.emplace_back(r.live, r.label);
    }
    auto c2 = c, l2 = l;
    *auc_c = Auc(c);
    *prec_c = PrecisionAt(c2, o.budget);
    if (has_live) {
      *auc_l = Auc(l);
      *prec_l = PrecisionAt(l2, o.budget);
    } else {
      *auc_l = 0.5;
      // Chance: the base rate.
      double f = 0;
      for (const auto& r : rows) f += r.label == 1;
      *prec_l = f / static_cast<double>(rows.size());
    }
  };
  double pc, pl;
  metrics(v, &g.candidate_auc, &g.live_auc, &pc, &pl);
  g.auc_difference.value = g.candidate_auc - g.live_auc;
  g.precision_difference.value = pc - pl;
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<size_t> pick(0, v.size() - 1);
  std::vector<double> d_auc, d_prec;
  std::vector<Row> s(v.size());
  for (int b = 0; b < o.bootstrap; ++b) {
    for (auto& x : s) x = v[pick(rng)];
    double ac, al, pcb, plb;
    metrics(s, &ac, &al, &pcb, &plb);
    d_auc.push_back(ac - al);
    d_prec.push_back(pcb - plb);
  }
  // One-sided: the lower bound at `confidence`; the upper bound is the symmetric one, reported.
  g.auc_difference.low =
      o.bootstrap > 0 ? Percentile(d_auc, 1 - o.confidence) : g.auc_difference.value;
  g.auc_difference.high =
      o.bootstrap > 0 ? Percentile(d_auc, o.confidence) : g.auc_difference.value;
  g.precision_difference.low = o.bootstrap > 0 ? Percentile(d_prec, 1 - o.confidence) : pc - pl;
  g.precision_difference.high = o.bootstrap > 0 ? Percentile(d_prec, o.confidence) : pc - pl;
  const std::string against = has_live ? "the live model" : "chance (no live model)";
  const std::string numbers =
      "AUC on the control sample " + FormatFixed(g.candidate_auc, 3) + " vs " +
      FormatFixed(g.live_auc, 3) + " for " + against + " over " + counts + "; difference " +
      FormatFixed(g.auc_difference.value, 3) + ", one-sided " + FormatFixed(100 * o.confidence, 0) +
      " % lower bound " + FormatFixed(g.auc_difference.low, 3) + " (margin -" +
      FormatFixed(o.auc_margin, 3) + "); precision at " + FormatFixed(100 * o.budget, 0) + " % " +
      FormatFixed(pc, 3) + " vs " + FormatFixed(pl, 3);
  if (g.auc_difference.low >= -o.auc_margin) {
    g.verdict = GateVerdict::kPromote;
    g.reason = "promotion gate: not worse than " + against + ": " + numbers;
  } else {
    g.verdict = GateVerdict::kReject;
    g.reason = "promotion gate: worse than " + against + ": " + numbers;
  }
  return g;
}

Result<GateResult> RunPromotionGate(Store& store, int64_t version, const std::string& actor,
                                    const GateOptions& options, std::optional<int32_t> until) {
  CS_ASSIGN_OR_RETURN(auto row, store.GetModelVersion(version));
  if (!row) return Status::NotFound("no model version " + std::to_string(version));
  if (row->status != ModelStatus::kCandidate)
    return Status::FailedPrecondition("model version " + std::to_string(version) + " is " +
                                      std::string(ModelStatusName(row->status)) +
                                      ": the gate decides about candidates only");
  if (!row->training_cutoff)
    return Status::FailedPrecondition("model version " + std::to_string(version) +
                                      " has no training cut-off: the gate cannot tell its later "
                                      "period");
  CS_ASSIGN_OR_RETURN(auto live_row, store.LiveModelVersion());
  CS_ASSIGN_OR_RETURN(RiskModel candidate, LoadModelVersion(store, *row));
  std::optional<RiskModel> live;
  if (live_row) {
    CS_ASSIGN_OR_RETURN(RiskModel m, LoadModelVersion(store, *live_row));
    live = std::move(m);
  }
  const int32_t cutoff = *row->training_cutoff;
  CS_ASSIGN_OR_RETURN(LabelledData data,
                      LoadLabelledData(store, cutoff + 1, until.value_or(INT32_MAX)));
  const PeriodRows rows = RowsAfter(data, cutoff, until);
  std::vector<float> cand = ScoreRows(candidate, data, rows.control, 2);
  std::vector<float> lv;
  if (live) lv = ScoreRows(*live, data, rows.control, 2);
  GateResult g = GateCompare(cand, lv, data, rows.control, options);
  if (g.verdict == GateVerdict::kPromote) {
    ModelChangeRequest req;
    req.actor = actor;
    req.reason = g.reason;
    CS_RETURN_IF_ERROR(store.PromoteModel(version, req).status());
  } else if (g.verdict == GateVerdict::kReject) {
    ModelChangeRequest req;
    req.actor = actor;
    req.reason = g.reason;
    CS_RETURN_IF_ERROR(store.RejectModel(version, req).status());
  }
  return g;
}

}  // namespace clearsight
