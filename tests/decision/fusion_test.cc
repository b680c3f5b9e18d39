#include "clearsight/fusion.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "clearsight/rules.h"
#include "clearsight/selection.h"
#include "clearsight/xray_analyze.h"
#include "clearsight/xray_detect.h"
#include "clearsight/xray_manifest.h"
#include "clearsight/xray_tip.h"

namespace clearsight {
namespace {

Finding MakeFinding(std::string source, double score, std::string reason,
                    Channel floor = Channel::kGreen) {
  Finding f;
  f.source = std::move(source);
  f.kind = "k";
  f.score = score;
  f.reason = std::move(reason);
  f.floor = floor;
  return f;
}

TEST(Fuse, NoFindingsGivesZeroScoreAndNoReasons) {
  FusedRisk r = Fuse({});
  EXPECT_EQ(r.score, 0);
  EXPECT_TRUE(r.reasons.empty());
  EXPECT_EQ(r.floor, Channel::kGreen);
}

TEST(Fuse, OneFindingScoresItsWeightedStrength) {
  FusionOptions o;
  o.source_weight = {{"valuation", 0.8}};
  FusedRisk r = Fuse({MakeFinding("valuation", 0.5, "cheap")}, o);
  EXPECT_NEAR(r.score, 0.4, 1e-12);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_EQ(r.reasons[0].source, "valuation");
  EXPECT_NEAR(r.reasons[0].weight, -std::log(1 - 0.4), 1e-12);
}

TEST(Fuse, EvidenceAddsReasonsSumToScoreAndSortLargestFirst) {
  std::vector<Finding> f = {MakeFinding("model", 0.2, "a"),
                            MakeFinding("detector", 0.9, "knife-like object, 0.90"),
                            MakeFinding("xray", 0.5, "metal")};
  FusedRisk r = Fuse(f);
  double sum = 0;
  for (const auto& x : r.reasons) sum += x.weight;
  EXPECT_NEAR(r.score, 1 - std::exp(-sum), 1e-12);
  EXPECT_GT(r.score, 0.9);  // more evidence, higher than the strongest alone
  EXPECT_EQ(r.reasons[0].text, "knife-like object, 0.90");
  for (size_t i = 1; i < r.reasons.size(); ++i)
    EXPECT_GE(r.reasons[i - 1].weight, r.reasons[i].weight);
  // Adding a finding never lowers the score.
  f.push_back(MakeFinding("manifest", 0.1, "tiny"));
  EXPECT_GT(Fuse(f).score, r.score);
}

TEST(Fuse, FloorIsTheHighestDemandedChannelAndCertaintyIsCapped) {
  FusedRisk r = Fuse({MakeFinding("rules", 1.0, "rule", Channel::kYellow),
                      MakeFinding("detector", 1.0, "gun", Channel::kRed)});
  EXPECT_EQ(r.floor, Channel::kRed);
  EXPECT_LT(r.score, 1.0);
  EXPECT_TRUE(std::isfinite(r.reasons[0].weight));
}

TEST(Findings, JsonRoundTripKeepsEveryField) {
  Finding f = MakeFinding("detector", 0.93, "knife-like object, 0.93", Channel::kRed);
  f.kind = "threat:knife";
  f.box = FindingBox{1, 2, 30, 40};
  f.scan_id = "S1";
  f.details = {"a", "b"};
  std::vector<Finding> in = {f, MakeFinding("model", 0.1, "m")};
  auto out = FindingsFromJson(FindingsToJson(in));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, in);
  EXPECT_FALSE(FindingsFromJson("{").ok());
  EXPECT_FALSE(FindingsFromJson("[{\"kind\":1}]").ok());
}

SelectionInput Input(const std::string& id, double score, const std::string& lane = "L1",
                     int32_t day = 100) {
  SelectionInput in;
  in.consignment_id = id;
  in.lane = lane;
  in.day = day;
  in.score = score;
  return in;
}

TEST(OnlineSelector, ShareBudgetHoldsAndControlSampleIsRandomNotByScore) {
  OnlineSelectionOptions o;
  o.capacity.red_share = 0.05;
  o.capacity.yellow_share = 0.05;
  o.control_share = 0.2;
  o.warmup = 100;
  o.over_budget = OverBudget::kSupervisor;  // every decision counts in its own day
  OnlineSelector sel(o);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  int red = 0, yellow = 0, control = 0, low_score_control = 0, low_score_targeted = 0;
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    double s = u(rng);
    SelectionResult r = sel.Select(Input("C" + std::to_string(i), s));
    red += r.channel == Channel::kRed;
    yellow += r.channel == Channel::kYellow;
    if (r.control) {
      ++control;
      EXPECT_EQ(r.channel, Channel::kRed);
      if (s < 0.5) ++low_score_control;
    } else if (r.channel == Channel::kRed && s < 0.9 && i >= o.warmup) {
      ++low_score_targeted;
    }
  }
  EXPECT_LE(red, static_cast<int>(std::ceil(0.05 * n)) + 2);
  EXPECT_GE(red, static_cast<int>(0.04 * n));
  EXPECT_NEAR(yellow, 0.05 * n, 0.01 * n);
  EXPECT_NEAR(control, 0.2 * 0.05 * n, 35);   // binomial, sd ~10
  EXPECT_GT(low_score_control, control / 4);  // drawn regardless of score
  EXPECT_EQ(low_score_targeted, 0);  // after the warm-up, targeted red goes to the top scores only
  auto c = sel.LaneDay("L1", 100);
  EXPECT_EQ(c.seen, n);
  EXPECT_EQ(c.red, red);
  EXPECT_EQ(c.control, control);
}

TEST(OnlineSelector, CountBudgetIsACapPerLaneAndDay) {
  OnlineSelectionOptions o;
  o.capacity.red_count = 10;
  o.capacity.yellow_share = 0;
  o.control_share = 0;
  o.over_budget = OverBudget::kSupervisor;
  OnlineSelector sel(o);
  int red = 0, over = 0;
  for (int i = 0; i < 500; ++i) {
    SelectionResult r = sel.Select(Input("C" + std::to_string(i), 0.99));
    red += r.channel == Channel::kRed;
    over += r.over_budget;
    EXPECT_FALSE(r.carried);
    if (r.over_budget) {
      EXPECT_NE(r.why.find("supervisor's list"), std::string::npos) << r.why;
    }
  }
  EXPECT_EQ(red, 10);
  EXPECT_EQ(over, 490);  // none leaves unmarked
  EXPECT_EQ(sel.LaneDay("L1", 100).over_budget, 490);
  // Another day, another budget; another lane with its own override.
  EXPECT_EQ(sel.Select(Input("D1", 0.99, "L1", 101)).channel, Channel::kRed);
  std::map<std::string, LaneCapacity> lanes;
  lanes["L2"].red_count = 0;
  lanes["L2"].yellow_share = 0;
  sel.SetCapacity(o.capacity, lanes);
  EXPECT_EQ(sel.Select(Input("E1", 0.99, "L2", 101)).channel, Channel::kGreen);
}

TEST(OnlineSelector, OverBudgetRedIsCarriedToTheNextDayWhileItHasRoom) {
  OnlineSelectionOptions o;
  o.capacity.red_count = 3;
  o.capacity.yellow_share = 0;
  o.control_share = 0;
  OnlineSelector sel(o);  // carry-over is the default
  std::vector<SelectionResult> r;
  for (int i = 0; i < 8; ++i) r.push_back(sel.Select(Input("C" + std::to_string(i), 0.99)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r[i].channel, Channel::kRed);
    EXPECT_FALSE(r[i].over_budget || r[i].carried);
  }
  for (int i = 3; i < 6; ++i) {  // the next day's three
    EXPECT_EQ(r[i].channel, Channel::kRed) << i;
    EXPECT_TRUE(r[i].over_budget && r[i].carried) << i;
    EXPECT_NE(r[i].why.find("carried over to the budget of"), std::string::npos) << r[i].why;
  }
  for (int i = 6; i < 8; ++i) {  // the next day is full too: the supervisor's list
    EXPECT_EQ(r[i].channel, Channel::kGreen) << i;
    EXPECT_TRUE(r[i].over_budget && !r[i].carried) << i;
    EXPECT_NE(r[i].why.find("supervisor's list"), std::string::npos) << r[i].why;
  }
  EXPECT_EQ(sel.LaneDay("L1", 100).red, 3);
  EXPECT_EQ(sel.LaneDay("L1", 100).over_budget, 5);
  EXPECT_EQ(sel.LaneDay("L1", 101).red, 3);
  EXPECT_EQ(sel.LaneDay("L1", 101).carried_in, 3);
  // The next day's budget is spent by what was carried into it.
  SelectionResult next = sel.Select(Input("D1", 0.99, "L1", 101));
  EXPECT_TRUE(next.over_budget);
  EXPECT_TRUE(next.carried);
  EXPECT_EQ(sel.LaneDay("L1", 102).carried_in, 1);
  // A low score is not over budget.
  EXPECT_FALSE(sel.Select(Input("D2", 0.01, "L1", 101)).over_budget);
}

TEST(OnlineSelector, AHighRiskScoreIsNeverReleasedUnmarkedWhenMostOfALaneScoresHigh) {
  // A fifth of the lane scores 0.95-0.999: the 5 % quantile threshold rises to about 0.99, and
  // without the high-risk level the rest of them would go green as "below the thresholds".
  OnlineSelectionOptions o;
  o.capacity.red_share = 0.05;
  o.capacity.yellow_share = 0.05;
  o.control_share = 0;
  o.warmup = 50;
  o.over_budget = OverBudget::kSupervisor;
  OnlineSelector sel(o);
  int unmarked_high = 0, high = 0, red = 0;
  for (int i = 0; i < 2000; ++i) {
    const double score =
        i % 5 == 0 ? 0.95 + 0.049 * ((i / 5) % 100) / 100 : 0.2 + 0.0001 * (i % 1000);
    SelectionResult r = sel.Select(Input("C" + std::to_string(i), score));
    red += r.channel == Channel::kRed;
    if (score < 0.9) continue;
    ++high;
    unmarked_high += r.channel != Channel::kRed && !r.over_budget;
  }
  EXPECT_EQ(high, 400);
  EXPECT_EQ(unmarked_high, 0);
  EXPECT_LE(red, 0.05 * 2000 + 2);  // the budget still holds
  // Off (above 1): the quantile threshold alone decides, and high scores go green unmarked.
  o.high_risk_score = 1.1;
  OnlineSelector plain(o);
  int plain_unmarked = 0;
  for (int i = 0; i < 2000; ++i) {
    const double score =
        i % 5 == 0 ? 0.95 + 0.049 * ((i / 5) % 100) / 100 : 0.2 + 0.0001 * (i % 1000);
    SelectionResult r = plain.Select(Input("C" + std::to_string(i), score));
    plain_unmarked += score >= 0.9 && r.channel != Channel::kRed && !r.over_budget;
  }
  EXPECT_GT(plain_unmarked, 100);
}

TEST(OnlineSelector, DemandedChannelIsHonouredOverBudgetAndSaysSo) {
  OnlineSelectionOptions o;
  o.capacity.red_count = 0;
  o.control_share = 0;
  OnlineSelector sel(o);
  SelectionInput in = Input("C1", 0.1);
  in.floor = Channel::kRed;
  SelectionResult r = sel.Select(in);
  EXPECT_EQ(r.channel, Channel::kRed);
  EXPECT_NE(r.why.find("over the budget"), std::string::npos) << r.why;
  EXPECT_TRUE(r.over_budget);
  EXPECT_FALSE(r.carried);  // red today, as the finding demands
  EXPECT_EQ(sel.LaneDay("L1", 100).over_budget, 1);
}

TEST(OnlineSelector, NothingKnownStaysGreen) {
  OnlineSelector sel(OnlineSelectionOptions{});
  for (int i = 0; i < 200; ++i) {
    SelectionResult r = sel.Select(Input("Z" + std::to_string(i), 0.0));
    if (!r.control) {
      EXPECT_EQ(r.channel, Channel::kGreen);
    }
  }
}

TEST(OnlineSelector, UpdatesReplaceTheCountAndControlStaysControl) {
  OnlineSelectionOptions o;
  o.control_share = 0;
  OnlineSelector sel(o);
  SelectionResult first = sel.Select(Input("C1", 0.1));
  EXPECT_EQ(first.channel, Channel::kGreen);
  SelectionInput upd = Input("C1", 0.9);  // a scan found something
  upd.previous = first.channel;
  upd.previous_lane = "L1";
  upd.previous_day = 100;
  SelectionResult second = sel.Select(upd);
  EXPECT_EQ(second.channel, Channel::kRed);
  auto c = sel.LaneDay("L1", 100);
  EXPECT_EQ(c.seen, 1);
  EXPECT_EQ(c.red, 1);
  // A control consignment stays red and control whatever the scan shows.
  SelectionInput ctl = Input("C2", 0.0);
  ctl.previous = Channel::kRed;
  ctl.previous_control = true;
  ctl.previous_lane = "L1";
  ctl.previous_day = 100;
  SelectionResult r = sel.Select(ctl);
  EXPECT_TRUE(r.control);
  EXPECT_EQ(r.channel, Channel::kRed);
}

TEST(OnlineSelector, ConsignmentMovesFromScanLaneToDeclaredLane) {
  OnlineSelector sel(OnlineSelectionOptions{});
  SelectionResult first = sel.Select(Input("C1", 0.0, "", 200));
  SelectionInput moved = Input("C1", 0.2, "OFF9", 100);
  moved.previous = first.channel;
  moved.previous_control = first.control;
  moved.previous_lane = "";
  moved.previous_day = 200;
  sel.Select(moved);
  EXPECT_EQ(sel.LaneDay("", 200).seen, 0);
  EXPECT_EQ(sel.LaneDay("OFF9", 100).seen, 1);
}

TEST(OnlineSelector, RestoredCountsKeepTheBudgetAcrossRestarts) {
  OnlineSelectionOptions o;
  o.capacity.red_count = 3;
  o.control_share = 0;
  OnlineSelector sel(o);
  sel.RestoreCounts("L1", 100, Channel::kRed, false, 3);
  SelectionResult r = sel.Select(Input("C9", 0.99));
  EXPECT_TRUE(r.over_budget);
  EXPECT_TRUE(r.carried);  // to day 101, whose budget is restored the same way
  sel.RestoreCounts("L1", 101, Channel::kRed, false, 1);
  EXPECT_TRUE(sel.Select(Input("C10", 0.99)).carried);
  EXPECT_EQ(sel.LaneDay("L1", 101).red, 3);
  SelectionResult full = sel.Select(Input("C11", 0.99));
  EXPECT_NE(full.channel, Channel::kRed);
  EXPECT_TRUE(full.over_budget);
}

TEST(OnlineSelector, PropensityIsOneForScoredRedAndTheDrawChanceOtherwise) {
  OnlineSelectionOptions o;
  o.capacity.red_share = 0.05;
  o.control_share = 0.2;
  o.warmup = 100;
  o.over_budget = OverBudget::kSupervisor;
  OnlineSelector sel(o);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  int scored_red = 0, control = 0;
  for (int i = 0; i < 5000; ++i) {
    const double s = u(rng);
    SelectionResult r = sel.Select(Input("C" + std::to_string(i), s));
    if (r.channel == Channel::kRed && !r.control) {
      ++scored_red;
      EXPECT_EQ(r.propensity, 1.0) << i;
    } else if (r.control) {
      ++control;
      // Drawn with probability 0.2 x 0.05 unless its score would have sent it red anyway.
      if (s < 0.5) {
        EXPECT_DOUBLE_EQ(r.propensity, 0.01) << i;
      }
    } else {
      EXPECT_DOUBLE_EQ(r.propensity, 0.01) << i;  // what it had of being drawn
    }
  }
  EXPECT_GT(scored_red, 150);
  EXPECT_GT(control, 20);
}

TEST(OnlineSelector, ExplorationSpendsItsShareOnNovelOrNearThresholdAndIsNotControl) {
  OnlineSelectionOptions o;
  o.capacity.red_share = 0.10;
  o.capacity.yellow_share = 0.05;
  o.control_share = 0.1;
  o.exploration_share = 0.2;
  o.warmup = 100;
  o.over_budget = OverBudget::kSupervisor;
  o.high_risk_score = 1.1;  // the quantile thresholds alone, as the shares below assume
  OnlineSelector sel(o);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  const int n = 20000;
  int red = 0, explored = 0, explored_novel = 0, explored_low_not_novel = 0, novel_seen = 0;
  for (int i = 0; i < n; ++i) {
    SelectionInput in = Input("C" + std::to_string(i), u(rng));
    in.novel = i % 50 == 0;  // 2 % of the traffic is of a kind the model has no outcome for
    novel_seen += in.novel;
    SelectionResult r = sel.Select(in);
    red += r.channel == Channel::kRed;
    if (r.exploration) {
      ++explored;
      EXPECT_FALSE(r.control);
      EXPECT_EQ(r.channel, Channel::kRed);
      EXPECT_GT(r.propensity, 0.0);
      EXPECT_LT(r.propensity, 1.0);
      EXPECT_NE(r.why.find("exploration"), std::string::npos) << r.why;
      if (in.novel) ++explored_novel;
      // Not novel: only from the band just below the red threshold (top 15 % by score here).
      if (!in.novel && in.score < 0.8 && i >= o.warmup) ++explored_low_not_novel;
    }
  }
  // 20 % of a 10 % budget: about 400 of 20,000; the red total stays within the budget.
  EXPECT_NEAR(explored, 0.2 * 0.1 * n, 0.006 * n);
  EXPECT_LE(red, static_cast<int>(std::ceil(0.1 * n)) + 3);
  EXPECT_GT(explored_novel, novel_seen / 10);  // novel rows are drawn far above their 2 % share
  EXPECT_EQ(explored_low_not_novel, 0);
  auto c = sel.LaneDay("L1", 100);
  EXPECT_EQ(c.exploration, explored);
}

TEST(OnlineSelector, AnExplorationDrawStaysOnUpdateWithItsPropensity) {
  OnlineSelectionOptions o;
  o.exploration_share = 0.5;
  o.control_share = 0;
  o.warmup = 0;
  OnlineSelector sel(o);
  // Warm the thresholds, then find a novel consignment that is drawn.
  for (int i = 0; i < 200; ++i) (void)sel.Select(Input("W" + std::to_string(i), 0.01 * (i % 100)));
  for (int i = 0; i < 2000; ++i) {
    SelectionInput in = Input("N" + std::to_string(i), 0.001);
    in.novel = true;
    SelectionResult r = sel.Select(in);
    if (!r.exploration) continue;
    SelectionInput again = Input(in.consignment_id, 0.0);
    again.previous = Channel::kRed;
    again.previous_exploration = true;
    again.previous_propensity = r.propensity;
    again.previous_lane = "L1";
    again.previous_day = 100;
    SelectionResult u = sel.Select(again);
    EXPECT_TRUE(u.exploration);
    EXPECT_FALSE(u.control);
    EXPECT_EQ(u.channel, Channel::kRed);
    EXPECT_DOUBLE_EQ(u.propensity, r.propensity);
    return;
  }
  FAIL() << "no novel consignment was drawn for exploration";
}

TEST(ControlDraw, IsReproducibleAndRoughlyUniform) {
  EXPECT_EQ(ControlDraw(1, "abc"), ControlDraw(1, "abc"));
  EXPECT_NE(ControlDraw(1, "abc"), ControlDraw(2, "abc"));
  int below = 0;
  for (int i = 0; i < 10000; ++i) below += ControlDraw(7, "id" + std::to_string(i)) < 0.1;
  EXPECT_NEAR(below, 1000, 100);
}

ScanAnalysis AnalysisWith(std::vector<DetectedObject> objects, MaterialTotals totals) {
  ScanAnalysis a;
  a.scan_id = "S1";
  a.width = 100;
  a.height = 80;
  a.objects = std::move(objects);
  a.materials = totals;
  return a;
}

DetectedObject Object(MaterialClass m, double kg, double impenetrable = 0) {
  DetectedObject o;
  o.id = 1;
  o.x0 = 10, o.y0 = 20, o.x1 = 30, o.y1 = 40;
  o.material = m;
  o.mass_kg = kg;
  o.area_cm2 = 25;
  o.impenetrable_fraction = impenetrable;
  return o;
}

Declaration Declared(const std::string& hs, double kg) {
  Declaration d;
  d.declaration_id = "D1";
  d.hs_code = hs;
  d.net_mass_kg = kg;
  return d;
}

TEST(ScanFindings, MetalInClothingIsAReasonWithItsBox) {
  Declaration d = Declared("610910", 1.0);
  auto f = FindingsFromScanAnalysis(
      AnalysisWith({Object(MaterialClass::kMetal, 0.6)}, {0.4, 0, 0.6}), &d);
  ASSERT_FALSE(f.empty());
  EXPECT_EQ(f[0].kind, "unexpected_metal");
  EXPECT_NE(f[0].reason.find("knitted clothing"), std::string::npos) << f[0].reason;
  ASSERT_TRUE(f[0].box.has_value());
  EXPECT_EQ(*f[0].box, (FindingBox{10, 20, 30, 40}));
  EXPECT_EQ(f[0].scan_id, "S1");
  // The same metal in declared machinery explains itself.
  Declaration m = Declared("847130", 1.0);
  auto g = FindingsFromScanAnalysis(
      AnalysisWith({Object(MaterialClass::kMetal, 0.6)}, {0.4, 0, 0.6}), &m);
  for (const auto& x : g) EXPECT_NE(x.kind, "unexpected_metal");
}

TEST(ScanFindings, OrganicMassInsideElectronicsOpaqueObjectsAndMassMismatch) {
  Declaration d = Declared("851712", 0.5);
  auto f = FindingsFromScanAnalysis(
      AnalysisWith({Object(MaterialClass::kOrganic, 1.2), Object(MaterialClass::kMetal, 0.1, 0.8)},
                   {1.2, 0, 0.1}),
      &d);
  std::set<std::string> kinds;
  for (const auto& x : f) kinds.insert(x.kind);
  EXPECT_TRUE(kinds.count("unexpected_organic"));
  EXPECT_TRUE(kinds.count("impenetrable"));
  EXPECT_TRUE(kinds.count("mass_mismatch"));
  for (const auto& x : f)
    if (x.kind == "unexpected_organic") {
      EXPECT_NE(x.reason.find("1.20 kg"), std::string::npos) << x.reason;
    }
}

TEST(ScanFindings, AnObjectTheXrayCannotPenetrateDemandsRedWhateverTheBudget) {
  Declaration d = Declared("610910", 1.0);
  const ScanAnalysis a = AnalysisWith({Object(MaterialClass::kMetal, 0.2, 0.8)}, {0, 0, 0.2});
  auto f = FindingsFromScanAnalysis(a, &d);
  const Finding* opaque = nullptr;
  for (const auto& x : f)
    if (x.kind == "impenetrable") opaque = &x;
  ASSERT_NE(opaque, nullptr);
  EXPECT_EQ(opaque->floor, Channel::kRed);
  // The fused decision carries the demand, so no lane budget can release it.
  EXPECT_EQ(Fuse(f).floor, Channel::kRed);
  // A site may choose otherwise.
  ScanFindingOptions lenient;
  lenient.impenetrable_demands_red = false;
  for (const auto& x : FindingsFromScanAnalysis(a, &d, lenient))
    EXPECT_EQ(x.floor, Channel::kGreen) << x.kind;
}

TEST(ScanFindings, DetectionsBecomeFindingsAndWeaponsOfTheClassTableDemandRed) {
  std::vector<Detection> detections = {{"knife", 0.93, 1, 2, 3, 4},
                                       {"narcotics", 0.4, 5, 6, 7, 8},
                                       {"firearm_part", 0.62, 0, 0, 9, 9},
                                       {"firearm", 0.45, 0, 0, 9, 9},  // below the operating point
                                       {"gun", 0.99, 0, 0, 9, 9}};     // no class of the catalogue
  auto f = FindingsFromDetections(detections, "scan-1");
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f[0].source, "detector");
  EXPECT_EQ(f[0].kind, "threat:knife");
  EXPECT_EQ(f[0].reason, "knife-like object, 0.93");
  EXPECT_EQ(f[0].box, (FindingBox{1, 2, 3, 4}));
  EXPECT_EQ(f[0].scan_id, "scan-1");
  EXPECT_EQ(f[0].floor, Channel::kRed);
  EXPECT_EQ(f[1].floor, Channel::kGreen) << "narcotics are weighed, not a weapon";
  EXPECT_EQ(f[2].reason, "firearm part-like object, 0.62");
  EXPECT_EQ(f[2].floor, Channel::kRed);
  EXPECT_EQ(f[3].floor, Channel::kGreen);
  EXPECT_EQ(f[4].floor, Channel::kGreen)
      << "severity comes from the class table, not from words in a name";
  for (const std::string& c : ThreatClasses()) {
    const bool weapon = c == "firearm" || c == "firearm_part" || c == "knife";
    EXPECT_EQ(SeverityOfThreatClass(c) == ThreatSeverity::kWeapon, weapon) << c;
  }
}

TEST(ScanFindings, AManifestMismatchBecomesAFindingAndAFitDoesNot) {
  ManifestCheck fits;
  fits.consistent = true;
  fits.score = 0.1;
  EXPECT_TRUE(FindingsFromManifest(fits).empty());
  ManifestCheck mismatch;
  mismatch.consistent = false;
  mismatch.score = 0.7;
  mismatch.reasons = {"electronics, not clothing", "metal 1.2 kg"};
  auto f = FindingsFromManifest(mismatch);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].source, "manifest");
  EXPECT_EQ(f[0].kind, "manifest_mismatch");
  EXPECT_DOUBLE_EQ(f[0].score, 0.7);
  EXPECT_EQ(f[0].reason, "electronics, not clothing");
}

TEST(DeclarationRisk, RulesBecomeFindingsWithTheirDemandedChannel) {
  auto rules = RuleSet::Parse(
      "rule \"phones from XX\"\n"
      "  when hs_code startswith \"8517\" and origin_country == \"XX\"\n"
      "  then channel red\n"
      "  reason \"Phones from XX are a known route\"\n"
      "  owner \"a.kim\"\n"
      "end\n",
      "test.rules");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  DeclarationRisk risk(nullptr, nullptr, std::make_shared<const RuleSet>(std::move(rules).value()));
  DeclarationBatch b;
  Declaration d = Declared("851712", 1);
  d.origin_country = "XX";
  b.rows.push_back(d);
  d.origin_country = "YY";
  b.rows.push_back(d);
  auto a = risk.Assess(b);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(a[0].findings.size(), 1u);
  EXPECT_EQ(a[0].findings[0].floor, Channel::kRed);
  EXPECT_EQ(a[0].findings[0].reason, "Phones from XX are a known route");
  EXPECT_EQ(a[0].rule_hits, std::vector<std::string>{"phones from XX"});
  EXPECT_TRUE(a[1].findings.empty());
  EXPECT_TRUE(std::isnan(a[0].model_score));
}

}  // namespace
}  // namespace clearsight
