#include <gtest/gtest.h>

#include "clearsight/risk_model.h"

namespace clearsight {
namespace {

TEST(EvaluateRanking, CountsPrecisionRecallAndAuc) {
  DeclarationBatch b;
  std::vector<float> scores;
  // 100 rows; frauds are rows 0..9; scores rank rows 0..4 first, then the clean rows, then 5..9.
  for (int i = 0; i < 100; ++i) {
    Declaration d;
    d.declaration_id = std::to_string(i);
    d.fraud = i < 10;
    d.critical = i == 0 || i == 7;
    b.rows.push_back(d);
    scores.push_back(i < 5 ? 100.f - i : (i < 10 ? -static_cast<float>(i) : 50.f - i * 0.1f));
  }
  EvalReport r = EvaluateRanking(scores, b);
  EXPECT_EQ(r.rows, 100);
  EXPECT_EQ(r.frauds, 10);
  EXPECT_DOUBLE_EQ(r.precision_at[1], 1.0);   // top 1: row 0
  EXPECT_DOUBLE_EQ(r.precision_at[5], 1.0);   // top 5: rows 0..4
  EXPECT_DOUBLE_EQ(r.precision_at[10], 0.5);  // top 10: rows 0..4 and 5 clean ones
  EXPECT_DOUBLE_EQ(r.recall_at[10], 0.5);
  EXPECT_DOUBLE_EQ(r.critical_recall_at[5], 0.5);  // row 0 yes, row 7 no
  // AUC: frauds 0..4 beat all 90 clean; 5..9 beat none. (5*90) / (10*90) = 0.5.
  EXPECT_NEAR(r.auc, 0.5, 1e-12);
  EXPECT_NE(r.ToJson().find("\"precision_at\":{\"1\":1.0"), std::string::npos) << r.ToJson();
}

TEST(EvaluateRanking, SkipsRowsWithoutOutcomes) {
  DeclarationBatch b;
  b.rows.resize(3);
  b.rows[0].fraud = 1;
  b.rows[1].fraud = -1;
  b.rows[2].fraud = 0;
  EvalReport r = EvaluateRanking({0.9f, 0.95f, 0.1f}, b);
  EXPECT_EQ(r.rows, 2);
  EXPECT_DOUBLE_EQ(r.auc, 1.0);
}

}  // namespace
}  // namespace clearsight
