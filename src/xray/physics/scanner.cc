#include "clearsight/xray_scanner.h"

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

}  // namespace clearsight
