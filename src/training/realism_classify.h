// The parts of the realism measurement (realism.cc) that know nothing of scans: the features of
// a threat's region, and the two classifiers that are trained on them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace clearsight::realism {

// A crop of a scan around a threat: log attenuation and transmission per channel (0 low, 1 high)
// and the threat's mask, width x height, row-major.
struct ThreatRegion {
  int width = 0, height = 0;
  std::vector<float> log_att[2], transmission[2];
  std::vector<uint8_t> mask;
};

// The names of the features FeaturesOf computes, in order.
const std::vector<std::string>& FeatureNames();
// Edge sharpness and curvature at the mask's boundary, noise level and correlation inside against
// outside, texture and contrast, per channel; the low/high ratio inside and against outside.
// Empty when the mask or its surroundings are too small to measure.
std::vector<double> FeaturesOf(const ThreatRegion& region);

// A classifier fitted on standardised features; Score is higher for label 1.
class Classifier {
 public:
  virtual ~Classifier() = default;
  virtual double Score(const std::vector<double>& x) const = 0;
};

// Logistic regression with an L2 penalty `lambda` on the weights (not the intercept), fitted by
// Newton's method on features standardised with the training set's means and deviations.
struct LogisticModel : Classifier {
  std::vector<double> mean, sd, weights;  // weights: [intercept, w_1..w_p] on standardised x
  double Score(const std::vector<double>& x) const override;
};
LogisticModel FitLogistic(const std::vector<std::vector<double>>& x, const std::vector<int>& y,
                          double lambda);

// Gradient boosting of one-split trees (stumps) on the logistic loss, with shrinkage.
struct BoostedStumps : Classifier {
  struct Stump {
    int feature = 0;
    double threshold = 0, left = 0, right = 0;
  };
  double base = 0;
  std::vector<Stump> stumps;
  double Score(const std::vector<double>& x) const override;
};
BoostedStumps FitBoostedStumps(const std::vector<std::vector<double>>& x, const std::vector<int>& y,
                               int rounds, double shrinkage, int min_leaf);

}  // namespace clearsight::realism
