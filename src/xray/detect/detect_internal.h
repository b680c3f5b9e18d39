// The detector's runtime internals (not public), shared with its training (src/xray/train).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "clearsight/xray_detect.h"
#include "xray/detect/features.h"
#include "xray/detect/verifier.h"

namespace clearsight::xray {

inline constexpr char kDetectorFormat[] = "clearsight-xray-detector/1";

struct DetectorMeta {
  std::vector<std::string> threat_classes, goods_classes;
  double operating_probability = 0.5;
  // Per threat class (threat_classes order); empty: operating_probability for every class.
  std::vector<double> class_operating_probability;
  double OperatingProbability(size_t k) const {
    return k < class_operating_probability.size() ? class_operating_probability[k]
                                                  : operating_probability;
  }
  // Output cells whose threat probability (1 - p(none)) reaches this form a detection's region.
  double region_probability = 0.3;
};

// Settings of experiments that were measured, not adopted and removed after commit e4fb95c
// (test-time views, the network on the contents' box, a bag of verifier fold models, distillation,
// averaged networks, recomputed normalisation statistics, other network widths, operating points
// under tilted goods mixes, verifier TIP copies). DataLoss naming `path` and the setting when the
// model's metadata `m` (or the training record of a model it started from) holds one with a value
// other than the one this build runs: such a model would not detect here as it was measured. For
// the detector and for a model training starts from alike.
Status CheckNoRemovedSettings(const nlohmann::json& m, const std::string& path);

// Reported score from network probability: piecewise linear, `op` maps to 0.5.
double ScoreFromProbability(double p, double op);
double ProbabilityFromScore(double s, double op);

// Regions of the threat output grid (oh x ow cells of kOutCellPx pixels) and the classes proposed
// for each, before operating points; region features from `grid` when it has data (and from the
// goods planes when given).
void DecodeCandidates(const std::vector<float>& threat_prob, const std::vector<float>& goods_prob,
                      int oh, int ow, int width, int height, double pixel_mm,
                      const DetectorMeta& meta, const GridView& grid, std::vector<Candidate>* out);

// Detections and goods shares from the network's output grids (softmax planes) for a scan of
// width x height pixels. With a verifier (and the input grid) each candidate's score comes from
// the verifier's probability and its operating points, else from the network's peak probability
// and meta's points.
void DecodeOutputs(const std::vector<float>& threat_prob, const std::vector<float>& goods_prob,
                   int oh, int ow, int width, int height, double pixel_mm, const DetectorMeta& meta,
                   double min_score, DetectionResult* out, const GridView& grid = {},
                   const RegionVerifier* verifier = nullptr);

}  // namespace clearsight::xray
