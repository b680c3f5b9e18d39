// Retraining with inverse-propensity weights and the promotion gate, over a real SQLite store
// filled with a generated declaration stream whose outcomes are known only where it inspected.
#include "clearsight/retrain.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>

#include "clearsight/model_registry.h"
#include "clearsight/selection.h"
#include "registry/stream.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;

TEST(InversePropensityWeights, AreOneOverTheClippedPropensityScaledToMeanOne) {
  LabelledData data;
  Declaration d;
  d.fraud = 0;
  data.Add(d, 1.0, false, false);    // red by score
  data.Add(d, 0.005, true, false);   // control: clipped to 0.01 -> 100
  data.Add(d, 0.25, false, true);    // exploration -> 4
  data.Add(d, 0.005, false, false);  // not drawn at random: selected by score, weight 1
  d.fraud = -1;
  data.Add(d, 0.005, true, false);  // no outcome: no weight
  auto w = InversePropensityWeights(data, 0.01);
  ASSERT_EQ(w.size(), 5u);
  const double scale = 4.0 / (1 + 100 + 4 + 1);
  EXPECT_NEAR(w[0], scale, 1e-6);
  EXPECT_NEAR(w[1], 100 * scale, 1e-4);
  EXPECT_NEAR(w[2], 4 * scale, 1e-5);
  EXPECT_NEAR(w[3], scale, 1e-6);
  EXPECT_EQ(w[4], 0.f);
}

TEST(RiskModelRowWeights, MustMatchTheRowsAndBeNonNegative) {
  testing::StreamOptions so;
  so.days = 3;
  so.per_day = 100;
  DeclarationBatch b = testing::GenerateStream(so);
  RiskModelOptions o;
  o.trees = 3;
  o.row_weights = {1.f, 2.f};
  auto m = RiskModel::Train(b, o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("row_weights has 2 weights for 300 rows"), std::string::npos)
      << m.status().ToString();
  o.row_weights.assign(b.rows.size(), 1.f);
  o.row_weights[5] = -1;
  EXPECT_FALSE(RiskModel::Train(b, o).ok());
}

TEST(RiskModelNovel, AnImporterOrHsOriginWithoutOutcomesIsNovel) {
  testing::StreamOptions so;
  so.days = 20;
  so.per_day = 100;
  DeclarationBatch b = testing::GenerateStream(so);
  RiskModelOptions o;
  o.trees = 5;
  auto m = RiskModel::Train(b, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  DeclarationBatch probe;
  probe.rows = {b.rows[0], b.rows[0], b.rows[0]};
  probe.rows[1].importer_id = "NEVER-SEEN";
  probe.rows[2].origin_country = "QQ";
  auto novel = m->Novel(probe);
  ASSERT_EQ(novel.size(), 3u);
  EXPECT_FALSE(novel[0]);
  EXPECT_TRUE(novel[1]);
  EXPECT_TRUE(novel[2]);
}

TEST(GateCompare, TooFewControlOutcomesLeaveItUndecided) {
  LabelledData data;
  Declaration d;
  std::vector<size_t> rows;
  for (int i = 0; i < 20; ++i) {
    d.fraud = i % 4 == 0;
    data.Add(d, 0.1, true, false);
    rows.push_back(static_cast<size_t>(i));
  }
  std::vector<float> s(20, 0.5f);
  GateResult g = GateCompare(s, s, data, rows, GateOptions{});
  EXPECT_EQ(g.verdict, GateVerdict::kUndecided);
  EXPECT_NE(g.reason.find("too few outcomes"), std::string::npos) << g.reason;
}

// A store holding the stream decided as a service would have: a random control draw (10 % of a
// 10 % red budget, propensity 0.01... here 0.05 so a small test has enough of them), the rest red
// by a crude score (low unit price), outcomes recorded for every red.
class RetrainStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cs_retrain_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    StoreOptions o;
    o.url = (dir_ / "cs.db").string();
    auto s = Store::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    testing::StreamOptions so;
    so.days = 60;
    so.per_day = 200;
    truth_ = testing::GenerateStream(so);
    ASSERT_TRUE(store_->Write([&](StoreTxn& t) -> Status { return Fill(t); }).ok());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  Status Fill(StoreTxn& t) {
    for (const Declaration& d : truth_.rows) {
      DeclarationRow r;
      r.declaration_id = d.declaration_id;
      r.consignment_id = d.declaration_id;
      r.office_id = d.office_id;
      r.date = d.date;
      Declaration clean = d;  // the stored declaration carries no outcome
      clean.fraud = clean.critical = clean.inspected = -1;
      r.json = DeclarationToJson(clean, truth_.extra_columns);
      r.content_sha256 = Sha256Hex(r.json);
      r.received_ms = NowMs();
      CS_RETURN_IF_ERROR(t.InsertDeclaration(r));
      DecisionRow c;
      c.consignment_id = d.declaration_id;
      c.lane = d.office_id;
      c.date = d.date;
      const double unit_price = d.declared_value / d.net_mass_kg;
      c.score = 1 / (1 + unit_price);
      c.control = ControlDraw(7, d.declaration_id) < 0.05;
      const bool targeted = !c.control && unit_price < 5;
      c.channel = c.control || targeted ? "red" : "green";
      c.propensity = targeted ? 1.0 : 0.05;
      c.status = c.channel == "red" ? "pending" : "released";
      c.version = 1;
      c.has_declaration = true;
      c.reasons_json = "[]";
      c.created_ms = c.updated_ms = NowMs();
      CS_RETURN_IF_ERROR(t.PutDecision(c));
      if (c.channel != "red") continue;
      OutcomeRow o;
      o.consignment_id = d.declaration_id;
      o.result = d.fraud == 1 ? "undervaluation" : "nothing";
      o.corrected_value = d.fraud == 1 ? d.declared_value * 3 : -1;
      o.officer = "test";
      CS_RETURN_IF_ERROR(t.InsertOutcome(&o));
    }
    return Status::Ok();
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  static RetrainOptions Small() {
    RetrainOptions o;
    o.model.trees = 40;
    o.model.max_depth = 4;
    o.evaluation.bootstrap = 200;
    return o;
  }

  ModelVersionRow Register(const std::string& dir) {
    RegisterModelOptions ro;
    ro.created_by = "test";
    auto row = RegisterModelDir(*store_, dir, ro);
    EXPECT_TRUE(row.ok()) << row.status().ToString();
    return row.ok() ? *row : ModelVersionRow{};
  }

  static inline int counter_ = 0;
  fs::path dir_;
  std::unique_ptr<Store> store_;
  DeclarationBatch truth_;
};

TEST_F(RetrainStoreTest, RetrainWeighsOutcomesAndEvaluatesOnTheControlSampleAfterTheCutoff) {
  auto data = LoadLabelledData(*store_, INT32_MIN, INT32_MAX);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  ASSERT_EQ(data->size(), truth_.rows.size());
  const int32_t cutoff = truth_.rows.front().date + 29;
  RetrainReport rep;
  auto m = Retrain(*data, cutoff, nullptr, std::nullopt, Small(), &rep);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(rep.history_rows, 30 * 200);
  EXPECT_GT(rep.train_control, 150);  // 5 % of 6,000
  EXPECT_LT(rep.train_control, rep.train_labelled);
  // A control outcome stands for 1 / 0.05 = 20 declarations, a targeted one for itself.
  EXPECT_GT(rep.max_weight, 1.0);
  {
    auto w = InversePropensityWeights(*data, 0.01);
    double control_w = 0, targeted_w = 0;
    for (size_t i = 0; i < data->size(); ++i) {
      if (data->batch.rows[i].fraud < 0) continue;
      (data->control[i] ? control_w : targeted_w) = w[i];
    }
    EXPECT_NEAR(control_w / targeted_w, 20.0, 1e-3);
  }
  EXPECT_GT(rep.candidate.control.rows, 150);
  EXPECT_GT(rep.candidate.inspected.rows, rep.candidate.control.rows);
  // The generated frauds follow importers and routes the model can learn: better than chance on
  // the unbiased sample, and the interval says how sure that is.
  EXPECT_GT(rep.candidate.control.auc.value, 0.6);
  EXPECT_LE(rep.candidate.control.auc.low, rep.candidate.control.auc.value);
  EXPECT_GE(rep.candidate.control.auc.high, rep.candidate.control.auc.value);
  EXPECT_GT(rep.candidate.control.hit_rate.value, 0.0);
  EXPECT_NE(rep.ToJson().find("\"control\""), std::string::npos);
  // Nothing to learn from before any outcome.
  EXPECT_FALSE(
      Retrain(*data, truth_.rows.front().date - 1, nullptr, std::nullopt, Small(), &rep).ok());
}

TEST_F(RetrainStoreTest, TheGateRejectsShuffledLabelsAndPromotesAnEqualCandidate) {
  auto data = LoadLabelledData(*store_, INT32_MIN, INT32_MAX);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  const int32_t cutoff = truth_.rows.front().date + 29;
  // The live model: retrained to the cut-off, registered and promoted.
  auto live = Retrain(*data, cutoff, nullptr, std::nullopt, Small(), nullptr);
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  ASSERT_TRUE(live->Save(Path("live")).ok());
  const int64_t live_version = Register(Path("live")).version;
  ASSERT_TRUE(store_->PromoteModel(live_version, {"test", "first", false, std::nullopt}).ok());

  // A broken candidate: the same recipe on labels shuffled among the labelled rows.
  {
    LabelledData shuffled = *data;
    std::vector<size_t> labelled;
    std::vector<std::pair<int8_t, int8_t>> labels;
    for (size_t i = 0; i < shuffled.size(); ++i)
      if (shuffled.batch.rows[i].fraud >= 0 && shuffled.batch.rows[i].date <= cutoff) {
        labelled.push_back(i);
        labels.emplace_back(shuffled.batch.rows[i].fraud, shuffled.batch.rows[i].critical);
      }
    std::mt19937_64 rng(11);
    std::shuffle(labels.begin(), labels.end(), rng);
    for (size_t k = 0; k < labelled.size(); ++k) {
      shuffled.batch.rows[labelled[k]].fraud = labels[k].first;
      shuffled.batch.rows[labelled[k]].critical = labels[k].second;
    }
    auto broken = Retrain(shuffled, cutoff, nullptr, std::nullopt, Small(), nullptr);
    ASSERT_TRUE(broken.ok()) << broken.status().ToString();
    ASSERT_TRUE(broken->Save(Path("broken")).ok());
  }
  const int64_t broken_version = Register(Path("broken")).version;
  auto g = RunPromotionGate(*store_, broken_version, "gate", GateOptions{});
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->verdict, GateVerdict::kReject) << g->reason;
  std::printf("shuffled labels: %s\n", g->reason.c_str());
  EXPECT_LT(g->auc_difference.low, -0.02) << g->reason;
  auto row = store_->GetModelVersion(broken_version);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->status, ModelStatus::kRejected);
  EXPECT_NE((*row)->reason.find("worse than the live model"), std::string::npos) << (*row)->reason;
  EXPECT_NE((*row)->reason.find("lower bound"), std::string::npos) << (*row)->reason;
  // Deterministic: the same comparison gives the same numbers.
  auto again = RunPromotionGate(*store_, broken_version, "gate", GateOptions{});
  EXPECT_FALSE(again.ok());  // no longer a candidate

  // An equal candidate (the same recipe, one more tree): too few outcomes in one day to test,
  // then not worse on the whole later period: promoted.
  RetrainOptions more = Small();
  more.model.trees += 1;
  auto equal = Retrain(*data, cutoff, nullptr, std::nullopt, more, nullptr);
  ASSERT_TRUE(equal.ok());
  ASSERT_TRUE(equal->Save(Path("equal")).ok());
  const int64_t equal_version = Register(Path("equal")).version;
  auto early = RunPromotionGate(*store_, equal_version, "gate", GateOptions{}, cutoff + 1);
  ASSERT_TRUE(early.ok()) << early.status().ToString();
  EXPECT_EQ(early->verdict, GateVerdict::kUndecided) << early->reason;
  EXPECT_EQ((*store_->GetModelVersion(equal_version))->status, ModelStatus::kCandidate);
  auto ok = RunPromotionGate(*store_, equal_version, "gate", GateOptions{});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->verdict, GateVerdict::kPromote) << ok->reason;
  std::printf("equal candidate: %s\n", ok->reason.c_str());
  EXPECT_GE(ok->auc_difference.low, -0.02);
  auto now_live = store_->LiveModelVersion();
  ASSERT_TRUE(now_live.ok() && now_live->has_value());
  EXPECT_EQ((*now_live)->version, equal_version);
  EXPECT_NE((*now_live)->reason.find("not worse than the live model"), std::string::npos);
}

}  // namespace
}  // namespace clearsight
