// The detector's input: a grid of cells of 4x4 scan pixels with features from the calibrated
// material channels only (areal density, effective atomic number, material class), never raw
// log attenuations, so that a scanner with other spectra, noise or detector gives the same
// numbers once it is calibrated from its own wedges.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "clearsight/status.h"
#include "clearsight/xray_analyze.h"
#include "xray/detect/net.h"

namespace clearsight::xray {

inline constexpr int kCellPx = 4;     // input cell: 4x4 scan pixels
inline constexpr int kOutCellPx = 8;  // output cell: 8x8 scan pixels
inline constexpr int kFeatureChannels = 5;
// Feature channels, in order.
inline constexpr const char* kFeatureNames[kFeatureChannels] = {
    "log1p_density_mean",  // log(1 + mean areal density, g/cm^2)
    "log1p_density_max",   // log(1 + max areal density in the cell)
    "z_eff",               // density-weighted z_eff, (z - 8) / 8, faded out below 0.5 g/cm^2
    "metal_fraction",      // share of the cell's pixels classed metal
    "impenetrable_fraction"};

struct FeatureGrid {
  int gh = 0, gw = 0;         // cells; multiples of kNetInputMultiple (the scan is padded with air)
  int width = 0, height = 0;  // the scan's pixels
  std::vector<float> data;    // kFeatureChannels x gh x gw
};

// Fails with FailedPrecondition when the analysis kept no channels. `threads`: 1 or 2 (halves).
Status ComputeFeatures(const ScanAnalysis& analysis, int threads, FeatureGrid* out);

}  // namespace clearsight::xray
