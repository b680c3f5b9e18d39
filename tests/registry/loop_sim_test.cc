// The proof of the retraining loop (issue 32): a generated declaration stream over eight months in
// which a new fraud pattern (a new HS6 from a new origin over a new route, by new importers)
// appears halfway; each month is decided by the live model through an OnlineSelector, outcomes are
// revealed only for what went red (scores, control and exploration draws), and at each month's
// end the live model is retrained with the library functions `clearsight model retrain` uses.
//
// Two arms in the same run, from the same start:
//   loop      exploration (part of the red budget) and inverse-propensity weights;
//   ablation  no exploration and unweighted retraining (the control sample stays);
// and on the first stream a third, gated: the loop's recipe with every candidate put to the
// promotion gate on the control outcomes after its cut-off, pooled across months until the gate
// can decide, at a larger control share, with shuffled-label candidates put to the same gate; it is
// measured one month longer, as the gate holds each candidate a month.
// Against an oracle retrained each month on every label (the generator knows them all) up to the
// same cut-off. Each month every model is measured by its precision at the red budget on that
// month's full labels. docs/model.md, "The loop, simulated", has the curves this prints.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "clearsight/fusion.h"
#include "clearsight/retrain.h"
#include "clearsight/risk_model.h"
#include "registry/stream.h"

namespace clearsight {
namespace {

constexpr int kMonths = 8;
constexpr int kDaysPerMonth = 30;
constexpr int kPerDay = 100;        // 3,000 declarations a month
constexpr int kShiftMonth = 4;      // the new pattern from the first day of month 4 (0-based)
constexpr double kRedShare = 0.05;  // the red budget, and the share precision is measured at
constexpr double kControlShare = 0.10;
constexpr double kExplorationShare = 0.05;
// The gated arm: the promotion gate decides on the control outcomes after a candidate's cut-off,
// pooled across months until there are enough; its control share is larger so that about a month
// suffices (at 10 % a month has about 15 control outcomes, one or two frauds; at 50 %, 75 and six).
constexpr double kGatedControlShare = 0.50;
constexpr int kBrokenCandidates = 3;  // shuffled-label candidates put to the gate in the loop

RetrainOptions Options(bool inverse_propensity) {
  RetrainOptions o;
  o.model.trees = 60;
  o.model.max_depth = 4;
  o.model.threads = 2;
  o.inverse_propensity = inverse_propensity;
  o.evaluation.bootstrap = 0;  // nothing after the cut-off at retraining time anyway
  return o;
}

// Precision at the red budget of `model` on rows [begin, end) of the truth (every label known);
// with `new_caught`, also the share of the new pattern's frauds among those rows that the model
// ranks within the red budget (-1 when there are none): what it has learnt of the new kind.
double PrecisionAtBudget(const RiskModel& model, const DeclarationBatch& truth, size_t begin,
                         size_t end, double* new_caught = nullptr) {
  LabelledData month;
  month.batch.extra_columns = truth.extra_columns;
  std::vector<size_t> rows;
  for (size_t i = begin; i < end; ++i) {
    month.Add(truth.rows[i], 1.0, false, false);
    rows.push_back(i - begin);
  }
  const std::vector<float> scores = model.Score(month.batch, 2);
  if (new_caught) {
    std::vector<float> sorted = scores;
    const size_t k = std::max<size_t>(1, static_cast<size_t>(kRedShare * sorted.size() + 0.5));
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(k - 1), sorted.end(),
                     std::greater<float>());
    const float threshold = sorted[k - 1];
    int64_t frauds = 0, caught = 0;
    for (size_t i = 0; i < scores.size(); ++i) {
      const Declaration& d = month.batch.rows[i];
      if (d.hs_code != "850760" || d.fraud != 1) continue;
      ++frauds;
      caught += scores[i] >= threshold;
    }
    *new_caught = frauds ? static_cast<double>(caught) / static_cast<double>(frauds) : -1;
  }
  EvaluationOptions eo;
  eo.budget = kRedShare;
  eo.bootstrap = 0;
  return EvaluateRows(scores, month, rows, eo).precision_at_budget.value;
}

// The candidate's labels shuffled among the labelled rows up to the cut-off: a broken candidate
// trained on them has learnt nothing true.
LabelledData ShuffledLabels(const LabelledData& data, int32_t cutoff, uint64_t seed) {
  LabelledData shuffled = data;
  std::vector<size_t> labelled;
  std::vector<std::pair<int8_t, int8_t>> labels;
  for (size_t i = 0; i < shuffled.size(); ++i)
    if (shuffled.batch.rows[i].fraud >= 0 && shuffled.batch.rows[i].date <= cutoff) {
      labelled.push_back(i);
      labels.emplace_back(shuffled.batch.rows[i].fraud, shuffled.batch.rows[i].critical);
    }
  std::mt19937_64 rng(seed);
  std::shuffle(labels.begin(), labels.end(), rng);
  for (size_t k = 0; k < labelled.size(); ++k) {
    shuffled.batch.rows[labelled[k]].fraud = labels[k].first;
    shuffled.batch.rows[labelled[k]].critical = labels[k].second;
  }
  return shuffled;
}

// The promotion gate (GateCompare, as `model gate` runs it) of `candidate` against `live` on every
// control outcome the arm has learnt dated after `cutoff`: the pooled window.
GateResult GateOnControlAfter(const RiskModel& candidate, const RiskModel& live,
                              const LabelledData& data, int32_t cutoff) {
  LabelledData window;
  window.batch.extra_columns = data.batch.extra_columns;
  std::vector<size_t> rows;
  for (size_t i = 0; i < data.size(); ++i)
    if (data.control[i] && data.batch.rows[i].fraud >= 0 && data.batch.rows[i].date > cutoff) {
      rows.push_back(window.size());
      window.Add(data.batch.rows[i], data.propensity[i], true, false);
    }
  return GateCompare(candidate.Score(window.batch, 2), live.Score(window.batch, 2), window, rows,
                     GateOptions{});
}

std::string F3(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

const char* VerdictName(GateVerdict v) {
  return v == GateVerdict::kPromote  ? "promote"
         : v == GateVerdict::kReject ? "reject"
                                     : "undecided";
}

// One arm of the loop: its live model, its selector (kept across months, as the service keeps
// it), and what it has learnt: every declaration decided so far, with outcomes only where it
// inspected.
struct Arm {
  std::string name;
  bool explore_and_weigh = false;
  bool gated = false;                  // candidates go through the gate (else promoted at once)
  std::shared_ptr<RiskModel> pending;  // the candidate waiting for enough control outcomes
  int32_t pending_cutoff = 0;
  int pending_month = 0;
  std::vector<std::string> gate_log;  // one line per month: what the gate did
  std::vector<GateVerdict> broken_verdicts;
  int promoted_after_shift = 0;
  double cpu_seconds = 0;  // processor time of this arm's months (deciding, the gate, retraining)
  std::shared_ptr<RiskModel> live;
  std::unique_ptr<OnlineSelector> selector;
  LabelledData data;
  std::vector<double> precision;   // per month, of the live model on the month's full labels
  std::vector<double> new_caught;  // per month: the new pattern's frauds within the red budget
  std::vector<int64_t> inspected, new_pattern_labelled, explored;

  Arm(std::string n, bool loop, bool gate = false)
      : name(std::move(n)), explore_and_weigh(loop), gated(gate) {
    OnlineSelectionOptions so;
    so.capacity.red_share = kRedShare;
    so.control_share = gate ? kGatedControlShare : kControlShare;
    so.exploration_share = loop ? kExplorationShare : 0.0;
    so.seed = 7;
    selector = std::make_unique<OnlineSelector>(so);
  }

  // Decides rows [begin, end) of the truth with the live model and records what it inspected.
  void Decide(const DeclarationBatch& truth, size_t begin, size_t end) {
    DeclarationBatch month;
    month.extra_columns = truth.extra_columns;
    month.rows.assign(truth.rows.begin() + static_cast<ptrdiff_t>(begin),
                      truth.rows.begin() + static_cast<ptrdiff_t>(end));
    const std::vector<float> scores = live->Score(month, 2);
    const std::vector<bool> novel = live->Novel(month);
    int64_t red = 0, new_labelled = 0, explored_now = 0;
    for (size_t i = 0; i < month.rows.size(); ++i) {
      Declaration d = month.rows[i];
      SelectionInput in;
      in.consignment_id = d.declaration_id;
      in.lane = d.office_id;
      in.day = d.date;
      in.score = scores[i];
      in.novel = novel[i];
      const SelectionResult r = selector->Select(in);
      if (r.channel == Channel::kRed) {
        ++red;
        explored_now += r.exploration;
        new_labelled += d.hs_code == "850760";
      } else {  // no outcome for what was not inspected
        d.fraud = d.critical = d.inspected = -1;
      }
      data.Add(std::move(d), r.propensity, r.control, r.exploration);
    }
    inspected.push_back(red);
    new_pattern_labelled.push_back(new_labelled);
    explored.push_back(explored_now);
  }

  void RetrainAt(int32_t cutoff) {
    RetrainReport rep;
    auto m = Retrain(data, cutoff, live.get(), std::nullopt, Options(explore_and_weigh), &rep);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    // Promoted at once: see docs/model.md, "The loop, simulated", for why not through the gate.
    live = std::make_shared<RiskModel>(std::move(m).value());
  }

  // The gated arm at the end of `month`: the pending candidate goes to the gate on the control
  // outcomes after its cut-off (with, the first kBrokenCandidates times the gate decides, a
  // candidate trained on shuffled labels to the same cut-off, on the same rows); a new candidate
  // is trained only when none is pending, so the window keeps growing until the gate decides.
  void GateAndRetrainAt(int32_t cutoff, int month, uint64_t seed) {
    std::string line;
    if (pending) {
      const GateResult g = GateOnControlAfter(*pending, *live, data, pending_cutoff);
      line = std::string("candidate of month ") + std::to_string(pending_month) + ": " +
             VerdictName(g.verdict) + " (" + std::to_string(g.rows) + " rows, " +
             std::to_string(g.frauds) + " frauds; AUC " + F3(g.candidate_auc) + " vs " +
             F3(g.live_auc) + ", lower bound of the difference " + F3(g.auc_difference.low) + ")";
      if (g.verdict != GateVerdict::kUndecided &&
          static_cast<int>(broken_verdicts.size()) < kBrokenCandidates) {
        auto broken = Retrain(ShuffledLabels(data, pending_cutoff, seed + month), pending_cutoff,
                              nullptr, std::nullopt, Options(true), nullptr);
        ASSERT_TRUE(broken.ok()) << broken.status().ToString();
        const GateResult b = GateOnControlAfter(*broken, *live, data, pending_cutoff);
        broken_verdicts.push_back(b.verdict);
        line += std::string("; shuffled-label candidate: ") + VerdictName(b.verdict) + " (AUC " +
                F3(b.candidate_auc) + ", lower bound " + F3(b.auc_difference.low) + ")";
      }
      if (g.verdict == GateVerdict::kPromote) {
        live = pending;
        promoted_after_shift += pending_month >= kShiftMonth;
      }
      if (g.verdict != GateVerdict::kUndecided) pending.reset();
    }
    if (!pending) {
      auto m = Retrain(data, cutoff, live.get(), std::nullopt, Options(explore_and_weigh), nullptr);
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      pending = std::make_shared<RiskModel>(std::move(m).value());
      pending_cutoff = cutoff;
      pending_month = month;
    }
    gate_log.push_back(line.empty() ? "new candidate" : line);
  }
};

struct Curves {
  std::vector<double> oracle, loop, ablation;   // months 1..kMonths-1 (oracle: and kMonths, gated)
  std::vector<double> gated, gated_new_caught;  // months 1..kMonths
  // Outcomes of the new pattern each arm learnt in months 1..kMonths-1.
  std::vector<int64_t> loop_new_labelled, ablation_new_labelled;
  std::vector<GateVerdict> broken_verdicts;  // the gated arm's shuffled-label candidates
  int gated_promoted_after_shift = 0;
};

// One simulated run of both arms and the oracle over the stream of `seed`; prints the curves.
Curves RunLoop(uint64_t seed, bool with_gated_arm) {
  Curves out;
  testing::StreamOptions so;
  // The gated arm is measured one month longer (the gate holds each candidate a month); the first
  // kMonths months of the stream are the same either way.
  so.days = (kMonths + (with_gated_arm ? 1 : 0)) * kDaysPerMonth;
  so.per_day = kPerDay;
  so.shift_day = kShiftMonth * kDaysPerMonth;
  so.seed = seed;
  const DeclarationBatch truth = testing::GenerateStream(so);
  const size_t per_month = static_cast<size_t>(kDaysPerMonth * kPerDay);
  auto cutoff_of = [&](int month) { return so.first_day + (month + 1) * kDaysPerMonth - 1; };

  // Month 0 is a fully inspected pilot: every arm (and the oracle) starts from the model trained
  // on it, and keeps its labels.
  LabelledData all;  // the oracle's data: every label
  all.batch.extra_columns = truth.extra_columns;
  for (size_t i = 0; i < per_month; ++i) all.Add(truth.rows[i], 1.0, false, false);
  auto first = Retrain(all, cutoff_of(0), nullptr, std::nullopt, Options(false), nullptr);
  EXPECT_TRUE(first.ok()) << first.status().ToString();
  if (!first.ok()) return out;
  auto oracle = std::make_shared<RiskModel>(std::move(first).value());

  Arm loop("loop", true), ablation("ablation", false), gated("gated", true, true);
  std::vector<Arm*> arms = {&loop, &ablation};
  if (with_gated_arm) arms.push_back(&gated);
  for (Arm* a : arms) {
    a->live = oracle;
    a->data = all;
  }
  std::vector<double> oracle_precision;
  for (int month = 1; month < kMonths; ++month) {
    const size_t begin = static_cast<size_t>(month) * per_month, end = begin + per_month;
    oracle_precision.push_back(PrecisionAtBudget(*oracle, truth, begin, end));
    for (Arm* a : arms) {
      const std::clock_t start = std::clock();
      double caught = -1;
      a->precision.push_back(PrecisionAtBudget(*a->live, truth, begin, end, &caught));
      a->new_caught.push_back(caught);
      a->Decide(truth, begin, end);
      if (a->gated)
        a->GateAndRetrainAt(cutoff_of(month), month, seed);
      else
        a->RetrainAt(cutoff_of(month));
      a->cpu_seconds += static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
      if (::testing::Test::HasFatalFailure()) return out;
    }
    for (size_t i = begin; i < end; ++i) all.Add(truth.rows[i], 1.0, false, false);
    auto o = Retrain(all, cutoff_of(month), nullptr, std::nullopt, Options(false), nullptr);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    if (!o.ok()) return out;
    oracle = std::make_shared<RiskModel>(std::move(o).value());
  }
  if (with_gated_arm) {  // month kMonths: measured, not decided
    const size_t begin = static_cast<size_t>(kMonths) * per_month, end = begin + per_month;
    oracle_precision.push_back(PrecisionAtBudget(*oracle, truth, begin, end));
    double caught = -1;
    gated.precision.push_back(PrecisionAtBudget(*gated.live, truth, begin, end, &caught));
    gated.new_caught.push_back(caught);
    gated.gate_log.push_back("(measured only)");
  }

  // The curves: a table and JSON.
  nlohmann::json j = nlohmann::json::array();
  std::printf("stream seed %llu\n", static_cast<unsigned long long>(seed));
  std::printf(
      "month  oracle  loop   ablation  loop/oracle  ablation/oracle  | inspected (new pattern, "
      "explored): loop; ablation\n");
  for (int month = 1; month < kMonths; ++month) {
    const size_t k = static_cast<size_t>(month - 1);
    const double o = oracle_precision[k], l = loop.precision[k], a = ablation.precision[k];
    std::printf(
        "%5d  %.3f   %.3f  %.3f     %.2f         %.2f             | %lld (%lld, %lld); "
        "%lld (%lld, %lld)%s\n",
        month, o, l, a, l / o, a / o, static_cast<long long>(loop.inspected[k]),
        static_cast<long long>(loop.new_pattern_labelled[k]),
        static_cast<long long>(loop.explored[k]), static_cast<long long>(ablation.inspected[k]),
        static_cast<long long>(ablation.new_pattern_labelled[k]),
        static_cast<long long>(ablation.explored[k]),
        month == kShiftMonth ? "  <- new pattern from here" : "");
    j.push_back({{"month", month},
                 {"oracle", o},
                 {"loop", l},
                 {"ablation", a},
                 {"loop_inspected", loop.inspected[k]},
                 {"loop_new_pattern_labelled", loop.new_pattern_labelled[k]},
                 {"loop_explored", loop.explored[k]},
                 {"ablation_inspected", ablation.inspected[k]},
                 {"ablation_new_pattern_labelled", ablation.new_pattern_labelled[k]}});
  }
  if (with_gated_arm) {
    std::printf(
        "gated arm (control share %.2f of the red budget; the gate on pooled control "
        "outcomes after each candidate's cut-off):\nmonth  oracle  gated  gated/oracle  "
        "| new-pattern frauds in the top 5 %%: gated, loop | inspected (new pattern, explored) | "
        "the gate at the month's end\n",
        kGatedControlShare);
    for (int month = 1; month <= kMonths; ++month) {
      const size_t k = static_cast<size_t>(month - 1);
      const bool decided = k < gated.inspected.size();
      const double loop_caught = k < loop.new_caught.size() ? loop.new_caught[k] : -1;
      std::printf("%5d  %.3f   %.3f  %.2f          | %.2f, %.2f | %lld (%lld, %lld) | %s\n", month,
                  oracle_precision[k], gated.precision[k], gated.precision[k] / oracle_precision[k],
                  gated.new_caught[k], loop_caught,
                  static_cast<long long>(decided ? gated.inspected[k] : 0),
                  static_cast<long long>(decided ? gated.new_pattern_labelled[k] : 0),
                  static_cast<long long>(decided ? gated.explored[k] : 0),
                  gated.gate_log[k].c_str());
      if (k >= j.size()) j.push_back({{"month", month}, {"oracle", oracle_precision[k]}});
      j[k]["gated"] = gated.precision[k];
      j[k]["gated_new_pattern_caught"] = gated.new_caught[k];
      j[k]["gate"] = gated.gate_log[k];
      if (decided) j[k]["gated_new_pattern_labelled"] = gated.new_pattern_labelled[k];
      if (k < loop.new_caught.size()) j[k]["loop_new_pattern_caught"] = loop.new_caught[k];
    }
    out.gated = gated.precision;
    out.gated_new_caught = gated.new_caught;
    out.broken_verdicts = gated.broken_verdicts;
    out.gated_promoted_after_shift = gated.promoted_after_shift;
  }
  std::printf("processor time per arm: loop %.1f s, ablation %.1f s", loop.cpu_seconds,
              ablation.cpu_seconds);
  if (with_gated_arm) std::printf(", gated %.1f s", gated.cpu_seconds);
  std::printf("\n");
  std::printf("%s\n",
              nlohmann::json{{"stream_seed", seed}, {"shift_month", kShiftMonth}, {"curves", j}}
                  .dump()
                  .c_str());
  out.oracle = oracle_precision;
  out.loop = loop.precision;
  out.ablation = ablation.precision;
  out.loop_new_labelled = loop.new_pattern_labelled;
  out.ablation_new_labelled = ablation.new_pattern_labelled;
  return out;
}

TEST(RetrainingLoop, RecoversFromANewFraudPatternWithExplorationAndWeights) {
  // Two streams (seeds) so that one stream's noise does not decide the comparison: precision at
  // 5 % of 3,000 is over 150 rows, a standard error of about 0.04.
  double loop_ratio = 0, ablation_ratio = 0;
  int n = 0;
  for (uint64_t seed : {2026u, 11u}) {
    const Curves c = RunLoop(seed, /*with_gated_arm=*/seed == 2026u);
    ASSERT_FALSE(HasFailure());
    ASSERT_EQ(c.loop.size(), static_cast<size_t>(kMonths - 1));
    // Index k is month k + 1; the shift month's live model was trained before the pattern existed.
    const size_t shift = kShiftMonth - 1;
    // The target: within two retraining cycles after the shift (the models retrained at the end of
    // the shift month and of the month after), the loop's precision at the red budget is at least
    // 80 % of the oracle's; and it stays there.
    for (size_t k = shift + 1; k < c.loop.size(); ++k)
      EXPECT_GE(c.loop[k], 0.8 * c.oracle[k]) << "seed " << seed << ", month " << k + 1;
    // The mechanism: exploration finds the new pattern sooner. In the shift month and the next the
    // loop learns at least as many of its outcomes as the ablation.
    EXPECT_GE(c.loop_new_labelled[shift] + c.loop_new_labelled[shift + 1],
              c.ablation_new_labelled[shift] + c.ablation_new_labelled[shift + 1])
        << "seed " << seed;
    if (seed == 2026u) {
      // The gated arm: every shuffled-label candidate the gate decided on is rejected...
      ASSERT_EQ(c.broken_verdicts.size(), static_cast<size_t>(kBrokenCandidates))
          << "the gate decided fewer times than that inside the loop";
      for (GateVerdict v : c.broken_verdicts)
        EXPECT_EQ(v, GateVerdict::kReject) << "a shuffled-label candidate passed the gate";
      // ...and the loop still learns the new pattern with the gate on, later: a candidate trained
      // after the shift passes it; the one promoted at the end of the last month decided ranks
      // most of the new pattern's frauds within the red budget in the month after (measured only),
      // where the live model of the shift month ranked few; and in the last two months the gated
      // loop is at 80 % of the oracle. What the gate costs (latency, good candidates rejected on
      // few control frauds) is in docs/model.md, "The gate in the loop".
      EXPECT_GE(c.gated_promoted_after_shift, 1);
      ASSERT_EQ(c.gated.size(), static_cast<size_t>(kMonths));
      EXPECT_GE(c.gated_new_caught.back(), 0.6);
      EXPECT_GE(c.gated_new_caught.back(), c.gated_new_caught[shift] + 0.3);
      for (size_t k = c.gated.size() - 2; k < c.gated.size(); ++k)
        EXPECT_GE(c.gated[k], 0.8 * c.oracle[k]) << "gated, month " << k + 1;
    }
    for (size_t k = shift + 1; k < c.loop.size(); ++k, ++n) {
      loop_ratio += c.loop[k] / c.oracle[k];
      ablation_ratio += c.ablation[k] / c.oracle[k];
    }
  }
  loop_ratio /= n;
  ablation_ratio /= n;
  std::printf("after the shift, mean precision relative to the oracle: loop %.3f, ablation %.3f\n",
              loop_ratio, ablation_ratio);
  // The ablation: on these streams it recovers past 80 % of the oracle too (its scores flag some
  // of the unseen kind without exploration), but less: on average over the months after the shift
  // the loop is no worse than the ablation. docs/model.md, "The loop, simulated", has the numbers.
  EXPECT_GE(loop_ratio, ablation_ratio);
}

}  // namespace
}  // namespace clearsight
