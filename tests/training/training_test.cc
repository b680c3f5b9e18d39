// Screener training's pure parts: d', c and A' against values computed by hand (Python's
// statistics.NormalDist for the quantiles), the staircase, settings and the training images.
#include "clearsight/training.h"

#include <gtest/gtest.h>

#include <cmath>

#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_simulate.h"
#include "clearsight/xray_tip.h"

namespace clearsight {
namespace {

std::vector<TrialOutcome> Trials(const std::string& cls, int signal, int hits, int noise,
                                 int false_alarms) {
  std::vector<TrialOutcome> out;
  for (int i = 0; i < signal; ++i)
    out.push_back({cls, true, i < hits, i < hits, 1000 + 100 * i, 1});
  for (int i = 0; i < noise; ++i) out.push_back({"", false, i < false_alarms, false, 500, 1});
  return out;
}

const DetectionScores* Find(const std::vector<DetectionScores>& s, const std::string& cls) {
  for (const auto& x : s)
    if (x.threat_class == cls) return &x;
  return nullptr;
}

TEST(NormalQuantile, MatchesKnownValues) {
  EXPECT_NEAR(NormalQuantile(0.975), 1.9599639845400536, 1e-12);
  EXPECT_NEAR(NormalQuantile(0.01), -2.3263478740408408, 1e-12);
  EXPECT_NEAR(NormalQuantile(1e-10), -6.361340902404056, 1e-9);
  EXPECT_DOUBLE_EQ(NormalQuantile(0.5), 0.0);
}

TEST(TrainingScores, DPrimeCriterionAndAPrimeMatchHandComputedValues) {
  // knife: 8 hits of 10; 20 images without a threat, 2 false alarms.
  // H = 8.5/11 = 0.772727, F = 2.5/21 = 0.119048, z(H) = 0.747859, z(F) = -1.179761.
  auto scores = ScoreTrials(Trials("knife", 10, 8, 20, 2));
  const DetectionScores* k = Find(scores, "knife");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->signal_trials, 10);
  EXPECT_EQ(k->hits, 8);
  EXPECT_EQ(k->noise_trials, 20);
  EXPECT_EQ(k->false_alarms, 2);
  EXPECT_DOUBLE_EQ(*k->hit_rate, 0.8);
  EXPECT_DOUBLE_EQ(*k->false_alarm_rate, 0.1);
  EXPECT_NEAR(k->hit_rate_corrected, 0.7727272727272727, 1e-12);
  EXPECT_NEAR(k->false_alarm_rate_corrected, 0.11904761904761904, 1e-12);
  EXPECT_NEAR(k->d_prime, 1.9276197123751624, 1e-9);
  EXPECT_NEAR(k->criterion, 0.21595126142427912, 1e-9);
  EXPECT_NEAR(k->a_prime, 0.8969882793412205, 1e-9);
  // Response times 1000, 1100, ..., 1900: the median is 1450.
  EXPECT_DOUBLE_EQ(*k->median_response_ms, 1450);
}

TEST(TrainingScores, FalseAlarmsArePooledOverClassesAndAllIsLast) {
  auto trials = Trials("knife", 10, 8, 20, 2);
  for (int i = 0; i < 4; ++i) trials.push_back({"narcotics", true, i < 2, i < 2, 2000, 1});
  auto scores = ScoreTrials(trials);
  ASSERT_EQ(scores.size(), 3u);
  EXPECT_EQ(scores[0].threat_class, "knife");
  EXPECT_EQ(scores[1].threat_class, "narcotics");
  EXPECT_EQ(scores[2].threat_class, "");
  // narcotics: H = 2.5/5 = 0.5, the same F: d' = 0 - z(F) = 1.179761, c = 0.589881.
  EXPECT_NEAR(scores[1].d_prime, 1.1797611176118603, 1e-9);
  EXPECT_NEAR(scores[1].criterion, 0.5898805588059302, 1e-9);
  EXPECT_NEAR(scores[1].a_prime, 0.7985842985842986, 1e-9);
  // All classes: 10 hits of 14, H = 10.5/15.
  EXPECT_EQ(scores[2].signal_trials, 14);
  EXPECT_NEAR(scores[2].d_prime, 1.704161630319901, 1e-9);
  EXPECT_NEAR(scores[2].criterion, 0.3276803024519098, 1e-9);
}

TEST(TrainingScores, PerfectRatesStayFiniteWithTheLogLinearCorrection) {
  auto scores = ScoreTrials(Trials("firearm", 10, 10, 10, 0));
  // H = 10.5/11, F = 0.5/11: d' = 3.381243.
  EXPECT_NEAR(scores[0].d_prime, 3.3812432591697963, 1e-9);
  EXPECT_DOUBLE_EQ(*scores[0].hit_rate, 1.0);
  EXPECT_DOUBLE_EQ(*scores[0].false_alarm_rate, 0.0);
  EXPECT_TRUE(std::isfinite(scores[0].criterion));
  // No images at all: only the "all" row, rates none, d' 0.
  auto none = ScoreTrials({});
  ASSERT_EQ(none.size(), 1u);
  EXPECT_FALSE(none[0].hit_rate.has_value());
  EXPECT_NEAR(none[0].d_prime, 0, 1e-12);
}

TEST(TrainingCertification, NeedsTheWindowAndEveryClassAboveTheThreshold) {
  CertificationRule rule;  // d' >= 2.5 over 100 images
  auto good = ScoreTrials(Trials("firearm", 50, 50, 50, 0));
  EXPECT_FALSE(Certify(good, 99, rule).certified);
  EXPECT_NE(Certify(good, 99, rule).reason.find("99 of 100 images answered"), std::string::npos);
  EXPECT_TRUE(Certify(good, 100, rule).certified);
  auto trials = Trials("firearm", 40, 40, 40, 0);
  for (int i = 0; i < 20; ++i) trials.push_back({"knife", true, i < 10, i < 10, 1000, 1});
  auto mixed = ScoreTrials(trials);
  Certification c = Certify(mixed, 100, rule);
  EXPECT_FALSE(c.certified);
  EXPECT_NE(c.reason.find("knife"), std::string::npos) << c.reason;
  EXPECT_EQ(c.reason.find("firearm"), std::string::npos) << c.reason;
  rule.min_d_prime = 1.0;
  EXPECT_TRUE(Certify(mixed, 100, rule).certified);
}

TEST(TrainingStaircase, TwoHitsInARowStepDownOneMissStepsUp) {
  EXPECT_EQ(StaircaseLevel({}), 0);
  EXPECT_EQ(StaircaseLevel({true}), 0);
  EXPECT_EQ(StaircaseLevel({true, true}), 1);
  EXPECT_EQ(StaircaseLevel({true, true, true, true}), 2);
  EXPECT_EQ(StaircaseLevel({true, true, true, true, false}), 1);
  // A hit, a miss, a hit: the run restarts after the miss.
  EXPECT_EQ(StaircaseLevel({true, true, true, false, true}), 0);
  EXPECT_EQ(StaircaseLevel({false, false}), 0);  // not below the easiest
  std::vector<bool> many(40, true);
  EXPECT_EQ(StaircaseLevel(many), 8);  // not above the hardest of 9 levels
  StaircaseOptions three;
  three.down_after = 3;
  EXPECT_EQ(StaircaseLevel({true, true, true}, three), 1);
}

TEST(TrainingStaircase, ConvergesNearSeventyOnePercentHits) {
  // A simulated trainee whose hit probability falls with the level; the staircase settles where
  // p(hit) is about 0.707 (level 4 here: 0.95 - 0.06 * level).
  uint64_t state = 12345;
  auto uniform = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  std::vector<bool> full;
  int hit_count = 0;
  for (int i = 0; i < 3000; ++i) {
    const int level = StaircaseLevel(full);
    const bool h = uniform() < 0.95 - 0.06 * level;
    full.push_back(h);
    if (i >= 500) hit_count += h;
  }
  const double rate = hit_count / 2500.0;
  EXPECT_NEAR(rate, 0.707, 0.04);
}

TEST(TrainingStaircase, DifficultyAlternatesSizeAndClutter) {
  TrainingSettings s;
  s.size_min = 0.5;
  s.size_max = 1.0;
  s.clutter_min = 0.2;
  s.clutter_max = 1.0;
  auto d0 = DifficultyAt(0, s), d1 = DifficultyAt(1, s), d2 = DifficultyAt(2, s),
       d8 = DifficultyAt(8, s);
  EXPECT_DOUBLE_EQ(d0.size_scale, 1.0);
  EXPECT_DOUBLE_EQ(d0.clutter, 0.2);
  EXPECT_LT(d1.size_scale, 1.0);  // odd step: smaller
  EXPECT_DOUBLE_EQ(d1.clutter, 0.2);
  EXPECT_DOUBLE_EQ(d2.size_scale, d1.size_scale);  // even step: more clutter
  EXPECT_GT(d2.clutter, 0.2);
  EXPECT_NEAR(d8.size_scale, 0.5, 1e-12);
  EXPECT_NEAR(d8.clutter, 1.0, 1e-12);
  EXPECT_NEAR(DifficultyAt(99, s).size_scale, 0.5, 1e-12);
}

TEST(TrainingSettings, RoundTripAndRefuseBadFields) {
  auto s = TrainingSettingsFromJson(
      R"({"images": 12, "threat_share": 0.25, "threat_classes": ["knife", "firearm"],
          "time_limit_s": 15, "source": "mixed"})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->images, 12);
  EXPECT_EQ(s->threat_classes, (std::vector<std::string>{"knife", "firearm"}));
  EXPECT_EQ(s->source, TrainingSource::kMixed);
  auto back = TrainingSettingsFromJson(TrainingSettingsToJson(*s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->images, 12);
  EXPECT_DOUBLE_EQ(back->threat_share, 0.25);
  EXPECT_EQ(SessionClasses(TrainingSettings{}), ThreatClasses());
  for (const char* bad : {R"({"images": 0})", R"({"threat_share": 1.5})",
                          R"({"threat_classes": ["bazooka"]})", R"({"size_min": 2, "size_max": 1})",
                          R"({"time_limit_s": "ten"})", R"({"source": "disk"})", "[]"}) {
    auto r = TrainingSettingsFromJson(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(TrainingSettingsFromJson(R"({"threat_classes": ["bazooka"]})")
                .status()
                .message()
                .find("bazooka"),
            std::string::npos);
  for (const auto& c : ThreatClasses()) EXPECT_FALSE(ThreatClassLook(c).material.empty()) << c;
}

TEST(TrainingImages, ProjectsTheThreatInsideTheBoxAndPicksClutter) {
  TrainingImageMaker::Options o;
  o.width = 256;
  o.height = 192;
  o.candidates = 3;
  o.patches_per_class = 1;
  auto maker = TrainingImageMaker::Create(o);
  ASSERT_TRUE(maker.ok()) << maker.status().ToString();
  TrainingImageRequest r;
  r.seed = 7;
  r.threat = false;
  r.difficulty.clutter = 0;
  auto clean_low = (*maker)->Make(r);
  r.difficulty.clutter = 1;
  auto clean_high = (*maker)->Make(r);
  ASSERT_TRUE(clean_low.ok() && clean_high.ok());
  EXPECT_FALSE(clean_low->projected.has_value());
  EXPECT_LE(clean_low->clutter_measured, clean_high->clutter_measured);
  EXPECT_EQ(clean_low->source.rfind("simulated:", 0), 0u);
  r.threat = true;
  r.threat_class = "firearm";
  r.difficulty.size_scale = 1.0;
  auto with = (*maker)->Make(r);
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  ASSERT_TRUE(with->projected.has_value());
  const ProjectedThreat& p = *with->projected;
  EXPECT_EQ(p.threat_class, "firearm");
  EXPECT_LT(p.x0, p.x1);
  EXPECT_LT(p.y0, p.y1);
  // Same seed and clutter: the same background, darker only inside the threat's box (and the
  // few pixels the scanner's blur spreads its edge over).
  const Scan& a = clean_high->scan;
  const Scan& b = with->scan;
  ASSERT_EQ(a.pixels(), b.pixels());
  int64_t darker_inside = 0, changed_outside = 0;
  for (int y = 0; y < a.height; ++y)
    for (int x = 0; x < a.width; ++x) {
      const size_t i = static_cast<size_t>(y) * a.width + x;
      const bool inside = x >= p.x0 && x < p.x1 && y >= p.y0 && y < p.y1;
      const bool near = x >= p.x0 - 4 && x < p.x1 + 4 && y >= p.y0 - 4 && y < p.y1 + 4;
      if (inside && b.high[i] + 200 < a.high[i]) ++darker_inside;
      if (!near && b.high[i] != a.high[i]) ++changed_outside;
    }
  EXPECT_GT(darker_inside, 20);
  EXPECT_EQ(changed_outside, 0);
  r.threat_class = "bazooka";
  EXPECT_FALSE((*maker)->Make(r).ok());
}

// A stored scan from another scanner (a dual-kVp at 60/120 kVp, the simulator's at 80/160): a
// threat projected into it must attenuate as that scanner images the same threat, not as the
// simulator's scanner does (the old path: the simulator's patch, only its pixel size converted).
TEST(TrainingImages, ThreatsOnStoredScansAreImagedByTheirOwnScanner) {
  SimulateOptions b;
  b.width = 256;
  b.height = 192;
  b.scanner.name = "other dual-kVp";
  b.scanner.tube_low.kvp = 60;
  b.scanner.tube_high.kvp = 120;
  auto sim_b = Simulator::Create(b);
  ASSERT_TRUE(sim_b.ok());
  auto wedges_b = (*sim_b)->SimulateWedges();
  ASSERT_TRUE(wedges_b.ok());
  auto cal_b = Calibration::Fit(*wedges_b);
  ASSERT_TRUE(cal_b.ok()) << cal_b.status().ToString();
  auto response_b = ScannerResponse::Fit(*cal_b);
  ASSERT_TRUE(response_b.ok()) << response_b.status().ToString();
  SimulateOptions a = b;
  a.scanner = DualKvpScanner();
  auto sim_a = Simulator::Create(a);
  ASSERT_TRUE(sim_a.ok());
  // The threat: 8 mm of aluminium, 24 x 24 pixels in a 40 x 40 patch.
  constexpr double kAlG = 2.7 * 0.8;
  MaterialThreat slab;
  slab.name = "slab";
  slab.threat_class = "knife";
  slab.width = slab.height = 40;
  slab.pixel_mm = 1.0;
  slab.layers.push_back({"Al", std::vector<float>(1600, 0.0f)});
  for (int y = 8; y < 32; ++y)
    for (int x = 8; x < 32; ++x) slab.layers[0].g_cm2[static_cast<size_t>(y) * 40 + x] = kAlG;
  // In scene: the slab as each scanner images it (noise-free, as SlabTransmission gives).
  double truth[2], simulator[2];
  for (int c = 0; c < 2; ++c) {
    truth[c] = -std::log(*(*sim_b)->SlabTransmission("aluminium", kAlG, c == 1));
    simulator[c] = -std::log(*(*sim_a)->SlabTransmission("aluminium", kAlG, c == 1));
  }
  // Projected onto an empty belt of the other scanner, read in the slab's middle.
  auto projected_mean = [](const Scan& s, int c) {
    double sum = 0;
    for (int y = 52; y < 68; ++y)
      for (int x = 52; x < 68; ++x) {
        const size_t i = static_cast<size_t>(y) * s.width + x;
        sum += -std::log((c == 0 ? s.low : s.high)[i] / 65535.0);
      }
    return sum / 256;
  };
  Scan belt;
  belt.width = belt.height = 120;
  belt.low.assign(14400, 65535);
  belt.high.assign(14400, 65535);
  belt.meta.scan_id = "belt";
  belt.meta.pixel_mm = 1.0;
  ProjectOptions po;
  po.x = po.y = 60;
  Scan rendered = belt;
  ASSERT_TRUE(ProjectMaterialThreat(slab, *response_b, po, &rendered).ok());
  // The old path: the simulator's own image of the slab, projected as a patch.
  ThreatPatch patch;
  patch.name = "slab";
  patch.threat_class = "knife";
  patch.width = patch.height = 40;
  patch.pixel_mm = 1.0;
  patch.log_low.assign(1600, 0.0f);
  patch.log_high.assign(1600, 0.0f);
  for (size_t i = 0; i < 1600; ++i)
    if (slab.layers[0].g_cm2[i] > 0) {
      patch.log_low[i] = static_cast<float>(simulator[0]);
      patch.log_high[i] = static_cast<float>(simulator[1]);
    }
  Scan rescaled = belt;
  ASSERT_TRUE(ProjectThreat(patch, po, &rescaled).ok());
  bool old_off = false;
  for (int c = 0; c < 2; ++c) {
    EXPECT_NEAR(projected_mean(rendered, c), truth[c], 0.03 * truth[c]) << "channel " << c;
    old_off |= std::abs(projected_mean(rescaled, c) - truth[c]) > 0.05 * truth[c];
  }
  EXPECT_TRUE(old_off) << "the scanners differ too little for the test to tell the paths apart: "
                       << simulator[0] << " " << simulator[1] << " vs " << truth[0] << " "
                       << truth[1];
  // The maker takes the calibration of the stored scans' scanner.
  TrainingImageMaker::Options mo;
  mo.width = 256;
  mo.height = 192;
  mo.patches_per_class = 1;
  mo.calibration = *cal_b;
  auto maker = TrainingImageMaker::Create(mo);
  ASSERT_TRUE(maker.ok()) << maker.status().ToString();
  auto stored = (*sim_b)->Simulate(0);
  ASSERT_TRUE(stored.ok());
  TrainingImageRequest r;
  r.seed = 3;
  r.threat = true;
  r.threat_class = "firearm";
  r.stored_candidates = {stored->scan};
  r.stored_ids = {"b-0"};
  auto image = (*maker)->Make(r);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->source, "scan:b-0");
  ASSERT_TRUE(image->projected.has_value());
}

// An L: a 20 x 4 bar along the top of a 20 x 20 box and a 4 x 20 bar down its left side, in a
// 100-pixel-wide image at (10, 10).
std::vector<uint32_t> LMask() {
  std::vector<uint32_t> rle;
  for (int y = 10; y < 30; ++y) {
    rle.push_back(static_cast<uint32_t>(y * 100 + 10));
    rle.push_back(y < 14 ? 20 : 4);
  }
  return rle;
}

TEST(TrainingMarks, APointIsJudgedOnTheMaskNotTheBox) {
  const auto mask = LMask();
  auto point = [](double x, double y) { return TrainingMark{x, y, x, y, false}; };
  EXPECT_TRUE(MarkOnThreat(point(12, 25), mask, 100));    // on the upright
  EXPECT_TRUE(MarkOnThreat(point(27, 11), mask, 100));    // on the bar
  EXPECT_TRUE(MarkOnThreat(point(15.5, 20), mask, 100));  // 1.5 px off the edge: tolerated
  // Inside the box [10,30) x [10,30) but in the L's empty corner.
  EXPECT_FALSE(MarkOnThreat(point(22, 22), mask, 100));
  EXPECT_FALSE(MarkOnThreat(point(29, 29), mask, 100));
  EXPECT_FALSE(MarkOnThreat(point(50, 50), mask, 100));
  EXPECT_FALSE(MarkOnThreat(point(12, 25), {}, 100));  // no mask, no hit
}

TEST(TrainingMarks, ABoxMustOverlapTheMaskAndNotCoverTheParcel) {
  const auto mask = LMask();
  auto box = [](double x0, double y0, double x1, double y1) {
    return TrainingMark{x0, y0, x1, y1, true};
  };
  EXPECT_TRUE(MarkOnThreat(box(10, 10, 30, 30), mask, 100));  // around the whole L
  EXPECT_TRUE(MarkOnThreat(box(8, 8, 32, 32), mask, 100));    // a little loose
  EXPECT_TRUE(MarkOnThreat(box(10, 15, 14, 29), mask, 100));  // on the upright only
  // Inside the threat's box, but on the empty corner: its centre (22, 22) is inside the box.
  EXPECT_FALSE(MarkOnThreat(box(16, 16, 29, 29), mask, 100));
  // Over the empty corner and the L's inner edges only: 33 of the L's 144 pixels.
  EXPECT_FALSE(MarkOnThreat(box(13, 13, 30, 30), mask, 100));
  // Over the whole image: holds the L, but points at nothing.
  EXPECT_FALSE(MarkOnThreat(box(0, 0, 100, 60), mask, 100));
  EXPECT_FALSE(MarkOnThreat(box(40, 40, 60, 60), mask, 100));
}

TEST(TrainingRealism, AClassifierCatchesABrokenProjection) {
  RealismOptions o;
  o.images = 40;
  o.width = 320;
  o.height = 240;
  o.patches_per_class = 3;
  o.bootstrap = 100;
  o.fault = ProjectionFault::kPasted;
  auto broken = MeasureProjectionRealism(o);
  ASSERT_TRUE(broken.ok()) << broken.status().ToString();
  EXPECT_GE(broken->train_images, 70);
  EXPECT_GE(broken->held_out_images, 70);
  // The threat pasted over the scan instead of attenuating it must be caught, by the hand features
  // and by the CNN on the pixels alike.
  EXPECT_GE(broken->best.auc, 0.9) << broken->ToJson();
  ASSERT_TRUE(broken->cnn.has_value());
  EXPECT_GE(broken->cnn->auc, 0.9) << broken->ToJson();
  EXPECT_NE(broken->ToJson().find("\"cnn\""), std::string::npos);
  EXPECT_LE(broken->best.low, broken->best.auc);
  EXPECT_GE(broken->best.high, broken->best.auc);
  EXPECT_EQ(broken->classes.size(), ThreatClasses().size());
  // The product's projection runs through the same pipeline (its figure is measured at full
  // size: docs/training.md).
  o.fault = ProjectionFault::kNone;
  o.threat_classes = {"knife", "firearm"};
  o.cnn = false;
  auto product = MeasureProjectionRealism(o);
  ASSERT_TRUE(product.ok()) << product.status().ToString();
  EXPECT_EQ(product->classes.size(), 2u);
  EXPECT_NE(product->ToJson().find("\"logistic_weights\""), std::string::npos);
  o.images = 5;
  EXPECT_EQ(MeasureProjectionRealism(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(TrainingRealism, AreaUnderRocCountsTiesHalf) {
  EXPECT_DOUBLE_EQ(AreaUnderRoc({0.1, 0.2, 0.3, 0.4}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(AreaUnderRoc({0.4, 0.3, 0.2, 0.1}, {0, 0, 1, 1}), 0.0);
  EXPECT_DOUBLE_EQ(AreaUnderRoc({0.5, 0.5, 0.5, 0.5}, {0, 1, 0, 1}), 0.5);
  EXPECT_DOUBLE_EQ(AreaUnderRoc({0.1, 0.5, 0.5, 0.9}, {0, 0, 1, 1}), 0.875);
  EXPECT_DOUBLE_EQ(AreaUnderRoc({0.1, 0.2}, {1, 1}), 0.5);
}

}  // namespace
}  // namespace clearsight
