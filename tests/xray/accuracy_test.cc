// Accuracy against the simulator's ground truth, on two scanner models, each calibrated only from
// its own wedge scans. Objects scored: isolated (nothing else within 3 pixels), at least 100 g,
// and homogeneous (at least 85 % of the mass in one material class). Prints the figures.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "clearsight/xray_analyze.h"
#include "clearsight/xray_simulate.h"

namespace clearsight {
namespace {

struct Figures {
  int scored = 0, matched = 0, class_ok = 0;
  double mass_median = 0, z_median = 0, mass_p90 = 0;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 1e9;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Figures Score(const Simulator& sim, const Calibration& calib, int parcels) {
  auto analyzer = Analyzer::Create(calib);
  Figures f;
  std::vector<double> mass_err, z_err;
  ScanAnalysis a;
  for (int i = 0; i < parcels; ++i) {
    auto p = sim.Simulate(i);
    EXPECT_TRUE(p.ok());
    EXPECT_TRUE((*analyzer)->Analyze(p->scan, &a).ok());
    for (const auto& t : p->truth.objects) {
      if (t.packaging || !t.isolated || t.mass_kg < 0.1 || t.class_purity < 0.85) continue;
      ++f.scored;
      const DetectedObject* best = nullptr;
      double best_iou = 0;
      for (const auto& d : a.objects) {
        int x0 = std::max(d.x0, t.x0), y0 = std::max(d.y0, t.y0), x1 = std::min(d.x1, t.x1),
            y1 = std::min(d.y1, t.y1);
        if (x1 <= x0 || y1 <= y0) continue;
        double in = static_cast<double>(x1 - x0) * (y1 - y0);
        double iou = in / ((d.x1 - d.x0) * (d.y1 - d.y0) + (t.x1 - t.x0) * (t.y1 - t.y0) - in);
        if (iou > best_iou) best_iou = iou, best = &d;
      }
      if (!best || best_iou < 0.5) continue;
      ++f.matched;
      f.class_ok += best->material == t.material_class;
      mass_err.push_back(std::abs(best->mass_kg - t.mass_kg) / t.mass_kg);
      z_err.push_back(std::abs(best->z_eff - t.z_eff));
    }
  }
  f.mass_median = Median(mass_err);
  f.z_median = Median(z_err);
  std::sort(mass_err.begin(), mass_err.end());
  f.mass_p90 = mass_err.empty() ? 0 : mass_err[mass_err.size() * 9 / 10];
  return f;
}

struct Scanner {
  std::unique_ptr<Simulator> sim;
  Calibration calib;
};

Scanner Make(const ScannerModel& scanner, uint64_t seed) {
  SimulateOptions o;
  o.scanner = scanner;
  o.seed = seed;
  o.threat_rate = 0.3;
  auto sim = Simulator::Create(o);
  auto calib = Calibration::Fit(*(*sim)->SimulateWedges());
  return {std::move(*sim), std::move(*calib)};
}

void Report(const char* name, const Figures& f) {
  std::printf(
      "[%s] scored %d, matched %d (%.1f %%), class accuracy %.1f %%, mass median abs error %.1f %% "
      "(p90 %.1f %%), z_eff median abs error %.2f\n",
      name, f.scored, f.matched, 100.0 * f.matched / std::max(1, f.scored),
      100.0 * f.class_ok / std::max(1, f.matched), 100 * f.mass_median, 100 * f.mass_p90,
      f.z_median);
}

TEST(Accuracy, DualKvpScannerMeetsTheTargets) {
  Scanner s = Make(DualKvpScanner(), 101);
  Figures f = Score(*s.sim, s.calib, 50);
  Report("dual-kVp", f);
  ASSERT_GE(f.scored, 25);
  EXPECT_GE(f.matched, 0.85 * f.scored);
  EXPECT_GE(f.class_ok, 0.85 * f.matched);
  EXPECT_LE(f.mass_median, 0.15);
  EXPECT_LE(f.z_median, 0.6);
}

// Another spectrum, detector, filtration, noise and scatter: the calibration adapts from its
// wedges.
TEST(Accuracy, DualLayerScannerCalibratedFromItsOwnWedges) {
  Scanner s = Make(DualLayerScanner(), 202);
  Figures f = Score(*s.sim, s.calib, 50);
  Report("dual-layer", f);
  ASSERT_GE(f.scored, 25);
  EXPECT_GE(f.matched, 0.85 * f.scored);
  EXPECT_GE(f.class_ok, 0.85 * f.matched);
  EXPECT_LE(f.mass_median, 0.15);
  EXPECT_LE(f.z_median, 0.6);
  // The other scanner's calibration does not transfer: z_eff goes wrong.
  Scanner other = Make(DualKvpScanner(), 1);
  Figures wrong = Score(*s.sim, other.calib, 20);
  Report("dual-layer scans, dual-kVp calibration", wrong);
  EXPECT_GT(wrong.z_median, 3 * f.z_median);
}

}  // namespace
}  // namespace clearsight
