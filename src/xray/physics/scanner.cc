#include <algorithm>
#include <cstdio>
#include <string>

#include "clearsight/xray_scanner.h"
#include "xray/physics/random.h"

namespace clearsight {

ScannerModel DualKvpScanner() {
  ScannerModel s;
  s.name = "clearsight-sim dual-kVp 80/160";
  s.kind = DetectorKind::kDualKvp;
  s.tube_low = {80, 1.5, 0.0};
  s.tube_high = {160, 2.0, 1.0};
  s.detector_low_mm = 0.6;
  s.detector_high_mm = 0.6;
  return s;
}

ScannerModel DualLayerScanner() {
  ScannerModel s;
  s.name = "clearsight-sim dual-layer 140";
  s.kind = DetectorKind::kDualLayer;
  s.tube_high = {140, 2.5, 0.2};
  s.tube_low = s.tube_high;
  s.scintillator_formula = "CsI";
  s.detector_low_mm = 0.3;
  s.detector_high_mm = 3.0;
  s.interlayer_cu_mm = 0.4;
  s.photons_per_mm2_low = 18000;
  s.photons_per_mm2_high = 25000;
  s.blur_sigma_px_low = 0.5;
  s.blur_sigma_px_high = 0.8;
  s.scatter_fraction = 0.006;
  s.electronic_noise = 3e-4;
  s.energy_step_kev = 2.5;
  return s;
}

ScannerModel RandomScanner(uint64_t seed) {
  xray::Rng r(xray::MixSeed(seed, 0x5ca77e5));
  ScannerModel s;
  char name[160];
  if (r.Chance(0.5)) {
    s.kind = DetectorKind::kDualKvp;
    s.tube_low = {r.Uniform(70, 120), r.Uniform(1.0, 3.0), 0.0};
    s.tube_high = {std::max(s.tube_low.kvp + 40, r.Uniform(130, 200)), r.Uniform(1.0, 3.0),
                   r.Uniform(0.0, 1.5)};
    s.detector_low_mm = s.detector_high_mm = r.Uniform(0.4, 1.2);
    std::snprintf(name, sizeof name, "random dual-kVp %.0f/%.0f kV", s.tube_low.kvp,
                  s.tube_high.kvp);
  } else {
    s.kind = DetectorKind::kDualLayer;
    s.tube_high = {r.Uniform(100, 200), r.Uniform(1.0, 4.0), r.Uniform(0.0, 0.5)};
    s.tube_low = s.tube_high;
    s.detector_low_mm = r.Uniform(0.2, 0.8);
    s.interlayer_cu_mm = r.Uniform(0.0, 1.2);
    s.detector_high_mm = r.Uniform(1.0, 5.0);
    std::snprintf(name, sizeof name, "random dual-layer %.0f kV", s.tube_high.kvp);
  }
  const double dose = r.Uniform(0.3, 1.5);
  s.photons_per_mm2_low = r.Uniform(15000, 35000) * dose;
  s.photons_per_mm2_high = r.Uniform(20000, 45000) * dose;
  s.blur_sigma_px_low = r.Uniform(0.3, 1.2);
  s.blur_sigma_px_high = r.Uniform(0.3, 1.2);
  s.scatter_fraction = r.Uniform(0.001, 0.012);
  s.electronic_noise = r.Uniform(0.5e-4, 4e-4);
  s.gain_stripe_sd = r.Uniform(0.0, 0.01);
  s.energy_step_kev = 3.0;
  s.name = std::string(name) + " (seed " + std::to_string(seed) + ")";
  return s;
}

double RandomScannerPixelMm(uint64_t seed) {
  xray::Rng r(xray::MixSeed(seed, 0x9e1));
  return r.Uniform(0.7, 1.5);
}

}  // namespace clearsight
