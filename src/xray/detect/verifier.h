// The detector's second stage: a gradient-boosted classifier over each candidate region the
// network proposes. The network scores single 8x8-px output cells; the verifier sees the whole
// region at once (its size, shape and fill, how the class evidence is spread over it, the other
// classes competing for it) and the 4-px input channels in and around it (density and z_eff
// against the surroundings, texture, the step at its edge), and gives the probability that the
// region is a true threat of its class. Operating points are then chosen on that probability.
#pragma once

#include <array>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "clearsight/status.h"
#include "clearsight/xray_detect.h"
#include "common/forest.h"

namespace clearsight::xray {

// The verifier's features, in order.
// clang-format off
inline constexpr const char* kRegionFeatureNames[] = {
    // From the network's output over the region.
    "class",              // index of the proposed class
    "class_peak",         // highest probability of the class in one cell
    "class_mean",         // its mean over the region's cells
    "class_share",        // its share of all threat-class probability in the region
    "other_class_peak",   // highest probability of any other threat class
    "threat_mean",        // mean of 1 - p(none)
    "log_cells",          // log of the region's output cells
    "short_side_mm",      // the box's shorter side
    "long_side_mm",       // its longer side
    "fill",               // region cells / box cells
    // From the input channels (4-px cells) inside the region.
    "density_mean",       // log1p areal density
    "density_max_mean",   // mean of the per-cell log1p max density
    "z_eff_mean",
    "metal_mean",
    "impenetrable_mean",
    "density_std",
    "z_eff_std",
    "density_max",        // highest per-cell log1p max density
    // Around it: a ring of the box grown by a quarter of its longer side (at least 2 cells).
    "ring_density_mean",
    "ring_z_eff_mean",
    "ring_metal_mean",
    "density_contrast",   // inside - ring
    "z_eff_contrast",
    "texture",            // mean |density difference| to the right and lower neighbours inside
    "edge_step",          // mean density step from the region's border cells to outside neighbours
    // What the goods head sees there (what the region would be hidden in).
    "goods_seen",         // mean of 1 - p(no goods)
    "goods_top_class",    // the goods class with the most probability over the region
    "goods_top_share"};   // its share of the goods probability
// clang-format on
inline constexpr int kRegionFeatures = static_cast<int>(std::size(kRegionFeatureNames));

// The network's input grid (kFeatureChannels x gh x gw cells of kCellPx pixels); data may be null
// (then the features from it are NaN).
struct GridView {
  const float* data = nullptr;
  int gh = 0, gw = 0;
};

// A region of the output grid and one class proposed for it, before any operating point.
struct Candidate {
  Detection detection;  // box; score = the class's peak probability over the region
  size_t cls = 0;       // index into the model's threat classes
  std::array<float, kRegionFeatures> features{};
};

// Features of region `cells` (indices into the oh x ow output grid; its box in output cells is
// [bx0, bx1) x [by0, by1)) for class k, from the threat softmax planes (nt + 1 planes, "none"
// first), the goods softmax planes (ng + 1, may be empty) and the input grid.
void RegionFeatures(const std::vector<float>& threat_prob, const std::vector<float>& goods_prob,
                    int oh, int ow, int nt, int ng, const std::vector<int32_t>& cells, size_t k,
                    int bx0, int by0, int bx1, int by1, double pixel_mm, const GridView& grid,
                    float* out);

// A trained verifier: the trees (fitted on every validation region) and one operating probability
// per threat class.
struct RegionVerifier {
  model::Forest forest;
  std::vector<double> class_operating_probability;
  // Probability per candidate that it is a true threat of its class.
  void Predict(const std::vector<Candidate>& candidates, std::vector<float>* out) const;
};

}  // namespace clearsight::xray
