// Cases in training sessions: where they fall in a trainee's run, and the truth of a case's image
// from what its inspection found and what the detector stored.
#include <gtest/gtest.h>

#include <set>

#include "clearsight/training.h"

namespace clearsight {
namespace {

TEST(RunSlot, WithoutCasesDealsExactlyTheThreatShare) {
  TrainingSettings s;
  s.images = 20;
  s.threat_share = 0.35;
  int threats = 0;
  std::set<int> ranks;
  for (int i = 0; i < s.images; ++i) {
    const RunSlot slot = RunSlotAt(s, 42, i);
    EXPECT_FALSE(slot.case_index.has_value());
    threats += slot.threat;
    if (slot.threat) ranks.insert(slot.threat_rank);
  }
  EXPECT_EQ(threats, 7);
  EXPECT_EQ(ranks, (std::set<int>{0, 1, 2, 3, 4, 5, 6})) << "ranks in index order";
}

TEST(RunSlot, EachCaseOnceAndTheShareOverTheOtherImages) {
  TrainingSettings s;
  s.images = 10;
  s.threat_share = 0.5;
  s.cases = {"A", "B", "C", "D"};
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::multiset<size_t> shown;
    int threats = 0;
    for (int i = 0; i < s.images; ++i) {
      const RunSlot slot = RunSlotAt(s, seed, i);
      if (slot.case_index) {
        shown.insert(*slot.case_index);
        EXPECT_FALSE(slot.threat) << "a case is no projected image";
      }
      threats += slot.threat;
    }
    EXPECT_EQ(shown, (std::multiset<size_t>{0, 1, 2, 3})) << "seed " << seed;
    EXPECT_EQ(threats, 3) << "round(0.5 x 6)";
  }
  // A session of cases only.
  s.images = 4;
  int cases = 0;
  for (int i = 0; i < s.images; ++i) cases += RunSlotAt(s, 7, i).case_index.has_value();
  EXPECT_EQ(cases, 4);
}

TEST(CaseTruth, CleanAndRevenueFindingsAreImagesWithoutAThreat) {
  for (const char* result : {"nothing", "undervaluation", "not_inspected", ""}) {
    const CaseTruth t = CaseTruthOf(result, R"({"detections":[{"class":"knife","score":0.9,
                                               "box":[1,2,30,40]}]})");
    EXPECT_FALSE(t.threat) << result;
    EXPECT_FALSE(t.box.has_value()) << result;
  }
}

TEST(CaseTruth, AConfirmedThreatTakesTheBestDetectionOfAMatchingClass) {
  const char* analysis = R"({"objects":[],"detections":[
      {"class":"knife","score":0.97,"box":[1,1,9,9]},
      {"class":"narcotics","score":0.61,"box":[10,20,50,60]},
      {"class":"narcotics","score":0.83,"box":[100,120,140,170]},
      {"class":"narcotics","score":0.99,"box":[5,5,5,9]}]})";
  CaseTruth t = CaseTruthOf("narcotics", analysis);
  EXPECT_TRUE(t.threat);
  EXPECT_EQ(t.threat_class, "narcotics");
  ASSERT_TRUE(t.box.has_value());
  EXPECT_EQ(*t.box, (std::array<int, 4>{100, 120, 140, 170})) << "an empty box is no box";
  // A weapon is whichever weapon the detector saw.
  t = CaseTruthOf("weapon", analysis);
  EXPECT_EQ(t.threat_class, "knife");
  ASSERT_TRUE(t.box.has_value());
  EXPECT_EQ((*t.box)[2], 9);
  // No matching detection, or no analysis: a threat without a box.
  t = CaseTruthOf("cigarettes", analysis);
  EXPECT_TRUE(t.threat);
  EXPECT_EQ(t.threat_class, "cigarettes");
  EXPECT_FALSE(t.box.has_value());
  t = CaseTruthOf("lithium_batteries", "");
  EXPECT_EQ(t.threat_class, "lithium_battery");
  EXPECT_FALSE(t.box.has_value());
  t = CaseTruthOf("weapon", "");
  EXPECT_EQ(t.threat_class, "weapon");
  // A finding no detector class names: a threat, never boxed.
  t = CaseTruthOf("misdeclaration", analysis);
  EXPECT_TRUE(t.threat);
  EXPECT_EQ(t.threat_class, "misdeclaration");
  EXPECT_FALSE(t.box.has_value());
}

TEST(CaseSettings, CasesAreIdsThatFitInTheImages) {
  auto s = TrainingSettingsFromJson(R"({"images": 3, "cases": ["C1", "C2", "C1"]})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->cases, (std::vector<std::string>{"C1", "C2"}));
  auto again = TrainingSettingsFromJson(TrainingSettingsToJson(*s));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->cases, s->cases);
  auto many = TrainingSettingsFromJson(R"({"images": 1, "cases": ["C1", "C2"]})");
  EXPECT_EQ(many.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(many.status().message().find("cases"), std::string::npos);
  EXPECT_FALSE(TrainingSettingsFromJson(R"({"cases": [1]})").ok());
  EXPECT_FALSE(TrainingSettingsFromJson(R"({"cases": "C1"})").ok());
  EXPECT_FALSE(TrainingSettingsFromJson(R"({"cases": [""]})").ok());
}

TEST(CaseTrials, AreKnownByTheirSourceAndMayHaveNoBox) {
  TrainingTrialRow t;
  t.source = "case:C-7";
  EXPECT_TRUE(IsCaseTrial(t));
  EXPECT_EQ(CaseOfTrial(t), "C-7");
  EXPECT_FALSE(TrialHasBox(t));
  t.source = "scan:S1";
  t.box_x1 = 5, t.box_y1 = 5;
  EXPECT_FALSE(IsCaseTrial(t));
  EXPECT_EQ(CaseOfTrial(t), "");
  EXPECT_TRUE(TrialHasBox(t));
}

}  // namespace
}  // namespace clearsight
