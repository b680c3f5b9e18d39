#include "model/features.h"

#include <gtest/gtest.h>

namespace clearsight::model {
namespace {

Declaration Row(std::string id, int32_t date, std::string importer, int fraud) {
  Declaration d;
  d.declaration_id = std::move(id);
  d.date = date;
  d.importer_id = std::move(importer);
  d.hs_code = "851712";
  d.origin_country = "CN";
  d.net_mass_kg = 10;
  d.declared_value = 1000;
  d.fraud = static_cast<int8_t>(fraud);
  d.critical = 0;
  return d;
}

int Index(const FeatureBuilder& fb, const std::string& name) {
  for (int i = 0; i < fb.num_features(); ++i)
    if (fb.names()[i] == name) return i;
  return -1;
}

TEST(FeatureBuilder, TrainingRowsSeeOnlyEarlierDays) {
  DeclarationBatch b;
  // Importer A: fraud on days 1 and 2 (two rows on day 2). Importer B: clean.
  b.rows = {Row("1", 100, "A", 1), Row("2", 101, "A", 1), Row("3", 101, "A", 1),
            Row("4", 100, "B", 0), Row("5", 102, "B", 0)};
  FeatureSpec spec;
  spec.keys = {{*FieldRef::Parse("importer_id")}};
  spec.smoothing = 1;
  std::vector<float> x;
  auto fb = FeatureBuilder::Fit(b, spec, &x);
  ASSERT_TRUE(fb.ok()) << fb.status().message();
  int rate = Index(*fb, "fraud_rate:importer_id"), seen = Index(*fb, "log_seen:importer_id");
  ASSERT_GE(rate, 0);
  const int nf = fb->num_features();
  const float prior = 3.0f / 5.0f;
  // Day 100: nothing known yet, the prior.
  EXPECT_NEAR(x[0 * nf + rate], prior, 1e-6);
  EXPECT_NEAR(x[0 * nf + seen], 0, 1e-6);
  // Day 101: A's one fraud of day 100, smoothed with a=1: (1 + prior) / 2. Same-day rows do not
  // see each other.
  EXPECT_NEAR(x[1 * nf + rate], (1 + prior) / 2, 1e-6);
  EXPECT_NEAR(x[2 * nf + rate], (1 + prior) / 2, 1e-6);
  // Day 102: B's one clean row.
  EXPECT_NEAR(x[4 * nf + rate], (0 + prior) / 2, 1e-6);
  // Scoring uses the whole history: A has 3 of 3.
  std::vector<float> s(nf);
  fb->Compute(b, 0, 1, s.data());
  EXPECT_NEAR(s[rate], (3 + prior) / 4, 1e-6);
  EXPECT_NEAR(s[seen], std::log1p(3.0), 1e-6);
}

TEST(FeatureBuilder, UnseenKeysGetThePriorAndRoundTripThroughJson) {
  DeclarationBatch b;
  b.rows = {Row("1", 100, "A", 1), Row("2", 101, "B", 0)};
  auto fb = FeatureBuilder::Fit(b, FeatureSpec::Full(), nullptr);
  ASSERT_TRUE(fb.ok());
  DeclarationBatch q;
  q.rows = {Row("9", 200, "NEW", -1)};
  std::vector<float> a(fb->num_features()), c(fb->num_features());
  fb->Compute(q, 0, 1, a.data());
  int rate = Index(*fb, "fraud_rate:importer_id");
  EXPECT_NEAR(a[rate], 0.5, 1e-6);
  auto back = FeatureBuilder::FromJson(fb->ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  back->Compute(q, 0, 1, c.data());
  EXPECT_EQ(a, c);
  EXPECT_NE(fb->Describe(rate, a[rate], q.rows[0], q).find("NEW"), std::string::npos);
}

TEST(FeatureBuilder, RejectsCorruptJson) {
  EXPECT_FALSE(FeatureBuilder::FromJson("{").ok());
  EXPECT_FALSE(FeatureBuilder::FromJson("{\"spec\":{}}").ok());
}

TEST(FeatureBuilder, DescriptionQualityIsOffUnlessAskedForAndRoundTrips) {
  DeclarationBatch b;
  b.rows = {Row("1", 100, "A", 1), Row("2", 101, "B", 0), Row("3", 102, "C", 0)};
  b.rows[0].description = "gift";
  b.rows[1].description = "Leather wallet";
  EXPECT_FALSE(FeatureSpec::Full().description_quality);
  EXPECT_FALSE(FeatureSpec::Baseline().description_quality);
  std::vector<float> x;
  auto off = FeatureBuilder::Fit(b, FeatureSpec::Full(), &x);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(Index(*off, "description_quality"), -1);
  EXPECT_EQ(off->ToJson().find("description_quality"), std::string::npos);
  FeatureSpec spec = FeatureSpec::Full();
  spec.description_quality = true;
  auto on = FeatureBuilder::Fit(b, spec, &x);
  ASSERT_TRUE(on.ok());
  const int f = Index(*on, "description_quality");
  ASSERT_EQ(f, on->num_features() - 1);
  const int nf = on->num_features();
  EXPECT_EQ(x[0 * nf + f], 0.f);
  EXPECT_EQ(x[1 * nf + f], 0.75f);
  EXPECT_EQ(x[2 * nf + f], 0.f);  // no description at all
  EXPECT_TRUE(on->ReadsAsRisk(f, 0.f));
  EXPECT_FALSE(on->ReadsAsRisk(f, 0.75f));
  EXPECT_EQ(on->Describe(f, 0.f, b.rows[0], b), "description 'gift' is vague (quality 0.00)");
  auto back = FeatureBuilder::FromJson(on->ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->spec().description_quality);
  std::vector<float> a(static_cast<size_t>(3 * nf)), c(a.size());
  on->Compute(b, 0, 3, a.data());
  back->Compute(b, 0, 3, c.data());
  EXPECT_EQ(a, c);
}

}  // namespace
}  // namespace clearsight::model
