// Scanner models: the physics of one dual-energy X-ray scanner (tubes, filters, detector layers,
// photon counts, blur, scatter, noise). The simulator projects through one; tests and training
// vary them to stand for sites whose scanners the models have never seen.
#pragma once

#include <cstdint>
#include <string>

namespace clearsight {

enum class DetectorKind {
  kDualKvp,    // two tube voltages, one detector
  kDualLayer,  // one tube, a thin front scintillator (low) over a filter and a thick back one
               // (high)
};

struct TubeSpectrum {
  double kvp = 160;
  double filter_al_mm = 2.0;
  double filter_cu_mm = 0.0;
};

struct ScannerModel {
  std::string name;
  DetectorKind kind = DetectorKind::kDualKvp;
  TubeSpectrum tube_low;   // unused by kDualLayer
  TubeSpectrum tube_high;  // the only tube of kDualLayer
  std::string scintillator_formula = "CsI";
  double scintillator_density = 4.51;
  double detector_low_mm = 0.6;        // dual-layer: front layer
  double detector_high_mm = 0.6;       // dual-layer: back layer
  double interlayer_cu_mm = 0.0;       // dual-layer: filter between the layers
  double photons_per_mm2_low = 30000;  // absorbed photons per mm^2 in air
  double photons_per_mm2_high = 40000;
  double blur_sigma_px_low = 0.6;
  double blur_sigma_px_high = 0.6;
  double scatter_fraction = 0.003;   // of the attenuated primary, spread over ~5 cm
  double electronic_noise = 1.5e-4;  // standard deviation in transmission units
  double energy_step_kev = 3.0;
  // Residual gain of each detector row after flat-fielding: every scan draws one factor per row
  // and channel, normal around 1 with this spread (stripes along the belt). 0: none.
  double gain_stripe_sd = 0;
};

// The simulator's default: dual-kVp 80/160 kVp, CsI detector.
ScannerModel DualKvpScanner();
// Another scanner for calibration tests: one 140 kVp tube, dual-layer CsI detector with a copper
// interlayer, other photon counts, blur and scatter.
ScannerModel DualLayerScanner();

// A scanner drawn at random over the range a site's scanner may have, for training a detector
// that must hold on scanners it has never seen: dual-kVp (low tube 70-120 kV, high 130-200 kV,
// at least 40 kV apart) or dual-layer (one tube 100-200 kV, front CsI 0.2-0.8 mm, copper
// 0-1.2 mm, back CsI 1-5 mm), tube filtration, photon counts (0.3-1.5 of the default), blur,
// scatter, electronic noise and gain stripes. Same seed, same scanner.
ScannerModel RandomScanner(uint64_t seed);
// The pixel pitch (mm) that goes with RandomScanner(seed): 0.7-1.5 mm.
double RandomScannerPixelMm(uint64_t seed);

}  // namespace clearsight
