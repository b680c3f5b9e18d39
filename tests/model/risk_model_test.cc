// Trains on the public KCS train file and checks the model on the later validation period.
#include "clearsight/risk_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/forest.h"
#include "common/xgboost_adapter.h"

namespace clearsight {
namespace {

const DeclarationBatch& Load(const char* file) {
  static std::map<std::string, DeclarationBatch> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    ReadOptions o;
    o.format = DeclarationFormat::kKcs;
    auto b = ReadDeclarations(std::string(CS_DATA) + "/customs/" + file, o, nullptr);
    EXPECT_TRUE(b.ok());
    it = cache.emplace(file, std::move(b).value()).first;
  }
  return it->second;
}

class KcsModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    RiskModelOptions o;
    o.trees = 120;
    o.threads = 1;  // deterministic and immune to OpenMP oversubscription on busy machines
    auto m = RiskModel::Train(Load("df_syn_train_eng.csv"), o);
    ASSERT_TRUE(m.ok()) << m.status().message();
    model_ = new RiskModel(std::move(m).value());
  }
  static void TearDownTestSuite() { delete model_; }
  static RiskModel* model_;
};
RiskModel* KcsModel::model_ = nullptr;

TEST_F(KcsModel, BeatsChanceByFarOnTheLaterPeriod) {
  const auto& valid = Load("df_syn_valid_eng.csv");
  EvalReport r = EvaluateRanking(model_->Score(valid, 2), valid);
  EXPECT_EQ(r.rows, 8134);
  // A random pick gets ~0.21; the targets with 300 trees are 0.92 / 0.82.
  EXPECT_GT(r.precision_at[5], 0.90) << r.ToJson();
  EXPECT_GT(r.precision_at[10], 0.80) << r.ToJson();
  EXPECT_GT(r.auc, 0.85);
}

TEST_F(KcsModel, FlattenedForestEqualsXgboostsPredictor) {
  const auto& valid = Load("df_syn_valid_eng.csv");
  std::vector<float> x = model_->Features(valid, 2);
  // Some missing values exercise the default directions.
  const int nf = model_->num_features();
  for (size_t r = 0; r < valid.rows.size(); r += 7) x[r * nf + (r % nf)] = NAN;
  std::vector<float> ours = model_->PredictFeatures(x, 2);
  auto theirs = model_->PredictFeaturesXgboost(x, 2);
  ASSERT_TRUE(theirs.ok()) << theirs.status().message();
  ASSERT_EQ(ours.size(), theirs->size());
  double worst = 0;
  for (size_t i = 0; i < ours.size(); ++i)
    worst = std::max(worst, std::fabs(double(ours[i]) - (*theirs)[i]));
  EXPECT_LT(worst, 2e-5);
}

TEST_F(KcsModel, SavesLoadsAndExplainsInWords) {
  auto dir = (std::filesystem::temp_directory_path() / "cs_model_test").string();
  ASSERT_TRUE(model_->Save(dir).ok());
  auto back = RiskModel::Load(dir);
  ASSERT_TRUE(back.ok()) << back.status().message();
  const auto& valid = Load("df_syn_valid_eng.csv");
  DeclarationBatch head;
  head.extra_columns = valid.extra_columns;
  head.rows.assign(valid.rows.begin(), valid.rows.begin() + 500);
  EXPECT_EQ(model_->Score(head), back->Score(head));
  // The riskiest row has reasons, each with a positive weight, in words that name something.
  auto s = back->Score(head);
  size_t top = std::max_element(s.begin(), s.end()) - s.begin();
  auto reasons = back->Explain(head, top, 3);
  ASSERT_FALSE(reasons.empty());
  for (const auto& r : reasons) {
    EXPECT_GT(r.weight, 0);
    EXPECT_GT(r.text.size(), 5u);
  }
  EXPECT_FALSE(RiskModel::Load(dir + "/nope").ok());
}

TEST_F(KcsModel, KnowsWhichGoodsTemplatesItWasTrainedOn) {
  const auto& train = Load("df_syn_train_eng.csv");
  DeclarationBatch probe;
  probe.extra_columns = train.extra_columns;
  probe.rows = {train.rows[0], train.rows[1], train.rows[2]};
  probe.rows[1].declared_value *= 1.37;  // another price: another template
  probe.rows[2].origin_country = "ZZ";
  auto seen = model_->SeenTemplates(probe);
  EXPECT_EQ(seen, (std::vector<bool>{true, false, false}));
  // About one in six validation rows carries goods the training file never had.
  const auto& valid = Load("df_syn_valid_eng.csv");
  auto in_valid = model_->SeenTemplates(valid);
  const double unseen = std::count(in_valid.begin(), in_valid.end(), false) / 8134.0;
  EXPECT_GT(unseen, 0.10);
  EXPECT_LT(unseen, 0.30);
  // Saved and loaded with the model; a damaged list is refused.
  auto dir = (std::filesystem::temp_directory_path() / "cs_model_templates_test").string();
  ASSERT_TRUE(model_->Save(dir).ok());
  auto back = RiskModel::Load(dir);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->SeenTemplates(valid), in_valid);
  std::filesystem::resize_file(dir + "/templates.bin", 8 + 8 * 3 + 5);
  auto damaged = RiskModel::Load(dir);
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(damaged.status().message().find("templates.bin"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_F(KcsModel, LoadedWithItsBaselineBlendsItInOnlyForUnseenTemplates) {
  const auto& train = Load("df_syn_train_eng.csv");
  RiskModelOptions o;
  o.trees = 40;
  o.threads = 1;
  o.baseline = true;
  auto plain = RiskModel::Train(train, o);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  auto dir = (std::filesystem::temp_directory_path() / "cs_model_blend_test").string();
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(model_->Save(dir).ok());
  ASSERT_TRUE(plain->Save(dir + "/baseline").ok());
  auto product = RiskModel::Load(dir);
  ASSERT_TRUE(product.ok()) << product.status().message();
  ASSERT_TRUE(product->blends_unseen_templates());
  EXPECT_FALSE(model_->blends_unseen_templates());

  const auto& valid = Load("df_syn_valid_eng.csv");
  DeclarationBatch head;
  head.extra_columns = valid.extra_columns;
  head.rows.assign(valid.rows.begin(), valid.rows.begin() + 1500);
  const std::vector<bool> seen = product->SeenTemplates(head);
  const std::vector<float> alone = model_->Score(head), base = plain->Score(head);
  const std::vector<float> blended = product->Score(head, 2);
  ASSERT_EQ(blended.size(), head.rows.size());
  int unseen = 0, moved = 0;
  for (size_t i = 0; i < head.rows.size(); ++i) {
    if (seen[i]) {
      EXPECT_EQ(blended[i], alone[i]) << "row " << i << " has a seen template";
      continue;
    }
    ++unseen;
    // The mean of the two log-odds.
    const double za = std::log(alone[i] / (1.0 - alone[i]));
    const double zb = std::log(base[i] / (1.0 - base[i]));
    EXPECT_NEAR(blended[i], 1 / (1 + std::exp(-(za + zb) / 2)), 1e-5) << "row " << i;
    moved += std::fabs(blended[i] - alone[i]) > 1e-4f;
  }
  EXPECT_GT(unseen, 100);
  EXPECT_GT(moved, unseen / 2);

  // A baseline trained on other rows is refused, by name.
  DeclarationBatch part;
  part.extra_columns = train.extra_columns;
  part.rows.assign(train.rows.begin(), train.rows.begin() + 3000);
  o.trees = 5;
  auto other = RiskModel::Train(part, o);
  ASSERT_TRUE(other.ok()) << other.status().message();
  ASSERT_TRUE(other->Save(dir + "/baseline").ok());
  auto stale = RiskModel::Load(dir);
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.status().message().find("baseline: trained on other rows"), std::string::npos)
      << stale.status().message();
  std::filesystem::remove_all(dir);
}

// A small XGBoost model on three synthetic features (one thread), and its flattened form.
struct TinyModel {
  model::XgbBooster booster;
  model::Forest forest;
};
Result<TinyModel> TrainTiny(const std::vector<float>& x, const std::vector<float>& y, int trees,
                            int depth) {
  model::GbtParams p;
  p.trees = trees;
  p.max_depth = depth;
  p.threads = 1;
  CS_ASSIGN_OR_RETURN(auto booster,
                      model::XgbBooster::Train(x.data(), y.size(), 3, y.data(), nullptr, p));
  CS_ASSIGN_OR_RETURN(auto json, booster.ToJson());
  CS_ASSIGN_OR_RETURN(auto forest, model::Forest::FromXgboostJson(json));
  return TinyModel{std::move(booster), std::move(forest)};
}

// The flat walk's margins for `rows` (three features each), checked row by row against XGBoost's.
std::vector<float> MarginsMatchingXgboost(const TinyModel& m, const std::vector<float>& rows) {
  const size_t n = rows.size() / 3;
  std::vector<float> margin(n);
  m.forest.PredictMargin(rows.data(), n, 3, margin.data());
  auto xgb = m.booster.Predict(rows.data(), n, 3, model::PredictType::kMargin, 1);
  EXPECT_TRUE(xgb.ok());
  if (!xgb.ok()) return {};
  for (size_t i = 0; i < n; ++i) {
    EXPECT_NEAR(margin[i], (*xgb)[i], 1e-5)
        << "row " << i << ": " << rows[3 * i] << ", " << rows[3 * i + 1] << ", " << rows[3 * i + 2];
    if (std::abs(margin[i] - (*xgb)[i]) > 1e-5) return {};
  }
  return margin;
}

TEST(Forest, ContributionsSumToTheMargin) {
  // A tiny model on synthetic data: y = x0 > 0.5 xor x1 > 0.3.
  std::vector<float> x, y;
  for (int i = 0; i < 400; ++i) {
    float a = (i * 37 % 100) / 100.f, b = (i * 61 % 100) / 100.f;
    x.insert(x.end(), {a, b, (i % 3) / 3.f});
    y.push_back((a > 0.5f) != (b > 0.3f));
  }
  auto m = TrainTiny(x, y, 20, 3);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const std::vector<float> margin = MarginsMatchingXgboost(*m, x);
  ASSERT_EQ(margin.size(), 400u);
  for (int i = 0; i < 400; ++i) {
    float c[4];
    m->forest.Contributions(&x[i * 3], c);
    EXPECT_NEAR(c[0] + c[1] + c[2] + c[3], margin[i], 1e-4);
  }
  EXPECT_FALSE(model::Forest::FromXgboostJson("{\"learner\":{}}").ok());
}

TEST(Forest, FlatWalkMatchesXgboostOnTiesZerosAndInfinities) {
  // The flat walk decides "x < threshold" with one comparison and an add-with-carry: a value equal
  // to a threshold, -0 against a threshold of 0, and infinities must go where XGBoost sends them.
  std::vector<float> x, y;
  for (int i = 0; i < 600; ++i) {
    float a = (i * 37 % 100) / 100.f - 0.5f, b = (i * 61 % 100) / 50.f,
          c = static_cast<float>(i % 7);
    x.insert(x.end(), {a, b, c});
    y.push_back((a > 0.f) != (b > 0.6f) || c == 3.f);
  }
  auto m = TrainTiny(x, y, 30, 4);
  ASSERT_TRUE(m.ok()) << m.status().message();
  // Every split threshold of the model, each used as a feature value, plus the edge values.
  std::vector<float> values = {0.f,
                               -0.f,
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::denorm_min()};
  auto json = m->booster.ToJson();
  ASSERT_TRUE(json.ok());
  const auto trees = nlohmann::json::parse(*json)["learner"]["gradient_booster"]["model"]["trees"];
  for (const auto& t : trees)
    for (float v : t["split_conditions"].get<std::vector<float>>()) values.push_back(v);
  ASSERT_GT(values.size(), 6u + 30u) << "every tree adds its split thresholds";
  std::vector<float> rows;
  const size_t n = values.size();
  for (size_t i = 0; i < n; ++i)
    for (size_t f = 0; f < 3; ++f) {
      float r[3] = {values[(i + 1) % n], values[(i + 2) % n], values[(i + 3) % n]};
      r[f] = values[i];
      rows.insert(rows.end(), r, r + 3);
    }
  EXPECT_EQ(MarginsMatchingXgboost(*m, rows).size(), rows.size() / 3);
}

}  // namespace
}  // namespace clearsight
