// The proof of the retraining loop (issue 32): a generated declaration stream over eight months in
// which a new fraud pattern (a new HS6 from a new origin over a new route, by new importers)
// appears halfway; each month is decided by the live model through an OnlineSelector, outcomes are
// revealed only for what went red (scores, control and exploration draws), and at each month's
// end the live model is retrained with the library functions `clearsight model retrain` uses.
//
// Two arms in the same run, from the same start:
//   loop      exploration (part of the red budget) and inverse-propensity weights;
//   ablation  no exploration and unweighted retraining (the control sample stays).
// Against an oracle retrained each month on every label (the generator knows them all) up to the
// same cut-off. Each month every model is measured by its precision at the red budget on that
// month's full labels. docs/model.md, "The loop, simulated", has the curves this prints.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
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

RetrainOptions Options(bool inverse_propensity) {
  RetrainOptions o;
  o.model.trees = 60;
  o.model.max_depth = 4;
  o.model.threads = 2;
  o.inverse_propensity = inverse_propensity;
  o.evaluation.bootstrap = 0;  // nothing after the cut-off at retraining time anyway
  return o;
}

// Precision at the red budget of `model` on rows [begin, end) of the truth (every label known).
double PrecisionAtBudget(const RiskModel& model, const DeclarationBatch& truth, size_t begin,
                         size_t end) {
  LabelledData month;
  month.batch.extra_columns = truth.extra_columns;
  std::vector<size_t> rows;
  for (size_t i = begin; i < end; ++i) {
    month.Add(truth.rows[i], 1.0, false, false);
    rows.push_back(i - begin);
  }
  const std::vector<float> scores = model.Score(month.batch, 2);
  EvaluationOptions eo;
  eo.budget = kRedShare;
  eo.bootstrap = 0;
  return EvaluateRows(scores, month, rows, eo).precision_at_budget.value;
}

// One arm of the loop: its live model, its selector (kept across months, as the service keeps
// it), and what it has learnt: every declaration decided so far, with outcomes only where it
// inspected.
struct Arm {
  std::string name;
  bool explore_and_weigh = false;
  std::shared_ptr<RiskModel> live;
  std::unique_ptr<OnlineSelector> selector;
  LabelledData data;
  std::vector<double> precision;  // per month, of the live model on the month's full labels
  std::vector<int64_t> inspected, new_pattern_labelled, explored;

  Arm(std::string n, bool loop) : name(std::move(n)), explore_and_weigh(loop) {
    OnlineSelectionOptions so;
    so.capacity.red_share = kRedShare;
    so.control_share = kControlShare;
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
};

struct Curves {
  std::vector<double> oracle, loop, ablation;  // months 1..kMonths-1
  // Outcomes of the new pattern each arm learnt in months 1..kMonths-1.
  std::vector<int64_t> loop_new_labelled, ablation_new_labelled;
};

// One simulated run of both arms and the oracle over the stream of `seed`; prints the curves.
Curves RunLoop(uint64_t seed) {
  Curves out;
  testing::StreamOptions so;
  so.days = kMonths * kDaysPerMonth;
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

  Arm loop("loop", true), ablation("ablation", false);
  for (Arm* a : {&loop, &ablation}) {
    a->live = oracle;
    a->data = all;
  }
  std::vector<double> oracle_precision;
  for (int month = 1; month < kMonths; ++month) {
    const size_t begin = static_cast<size_t>(month) * per_month, end = begin + per_month;
    oracle_precision.push_back(PrecisionAtBudget(*oracle, truth, begin, end));
    for (Arm* a : {&loop, &ablation}) {
      a->precision.push_back(PrecisionAtBudget(*a->live, truth, begin, end));
      a->Decide(truth, begin, end);
      a->RetrainAt(cutoff_of(month));
      if (::testing::Test::HasFatalFailure()) return out;
    }
    for (size_t i = begin; i < end; ++i) all.Add(truth.rows[i], 1.0, false, false);
    auto o = Retrain(all, cutoff_of(month), nullptr, std::nullopt, Options(false), nullptr);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    if (!o.ok()) return out;
    oracle = std::make_shared<RiskModel>(std::move(o).value());
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
    const Curves c = RunLoop(seed);
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
