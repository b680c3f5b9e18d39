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

// The network learned objects at the pixel size of the scans it was trained on: a scan of another
// pitch is resampled to it first, so that an object covers as many cells on any scanner. Models
// whose metadata does not say were all trained on the simulator's 0.70 mm.
inline constexpr double kDefaultInputPixelMm = 0.70;
// Pitches within this share of the model's are used as they are.
inline constexpr double kPixelTolerance = 0.03;
bool NeedsResampling(double scan_pixel_mm, double input_pixel_mm);
// The size of a width x height image of `from_mm` pixels on a grid of `to_mm` pixels.
int ResampledSize(int n, double from_mm, double to_mm);
// The analysis's channels (areal density, z_eff, material; no raw attenuations or labels) on a
// grid of `pixel_mm` pixels: density bilinear, z_eff weighted by density the same way, the
// material class of the nearest pixel. Objects and totals are copied as they are (physical).
ScanAnalysis ResampleChannels(const ScanAnalysis& analysis, double pixel_mm);
// A run-length mask (TruthObject::mask_rle over a w x h image) on the nw x nh grid of the same
// extent (nearest pixel).
std::vector<uint32_t> ResampleMaskRle(const std::vector<uint32_t>& rle, int w, int h, int nw,
                                      int nh);

}  // namespace clearsight::xray
