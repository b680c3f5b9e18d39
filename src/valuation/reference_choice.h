// Reference prices of one group, chosen by evidence, and scores calibrated to tail probabilities.
//
// Three candidate references: the group's median log unit price; the median shifted by the
// importer's own price level (empirical Bayes, for importers with enough flows); the price-line
// mixture. ChooseReference compares them on the group's own history by cross-validation with
// injected under-valuation (value x U(0.2, 0.6) on held-out rows) and keeps the median unless
// another candidate finds clearly more at the same false-flag rate.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "valuation/price_lines.h"

namespace clearsight::valuation {

enum class Reference { kMedian, kImporter, kLines };
const char* ReferenceName(Reference r);

struct Flow {
  Point p;
  std::string importer;
};

// Upper tail probability P(T >= t) of a statistic among honest flows, from out-of-fold values:
// the empirical tail (interpolated) with a small Gaussian share, so it keeps falling beyond the
// largest honest value and ranks extreme declarations by how extreme they are.
class TailCalibrator {
 public:
  static TailCalibrator Fit(std::vector<double> honest);
  // The standard Gaussian tail: the calibrator when there is no history to speak of.
  static TailCalibrator Gaussian();
  double LogUpperTail(double t) const;

 private:
  std::vector<double> sorted_;  // ascending
  double center_ = 0, scale_ = 1;
};

struct ReferenceOptions {
  int min_mixture_flows = 60;
  int max_lines = 6;
  int importer_min_flows = 5;
  int choice_min_flows = 40;  // fewer flows: the median, without a comparison
  int folds = 5;
  uint64_t seed = 7;
};

// One candidate fitted on a set of flows.
class ReferenceModel {
 public:
  static ReferenceModel Fit(Reference kind, const std::vector<Flow>& flows, int dims,
                            const ReferenceOptions& options);
  Reference kind() const { return kind_; }
  // Expected honest log unit price; *offset = the importer's own level applied (0 if none).
  double ExpectedLogPrice(const Flow& f, double* offset) const;
  // Higher = more suspicious: minus the log ratio to the reference, or the price lines'
  // likelihood ratio.
  double Statistic(const Flow& f) const;
  const PriceLines& lines() const { return lines_; }
  size_t importers_with_own_level() const { return importers_.size(); }

 private:
  Reference kind_ = Reference::kMedian;
  double median_ = 0;
  PriceLines lines_;
  std::unordered_map<std::string, double> importers_;  // shrunk log offset from the median
};

struct ReferenceChoice {
  ReferenceModel model;                     // the chosen candidate, fitted on all flows
  std::vector<double> oof_statistic;        // its out-of-fold statistics on the honest flows
  std::vector<double> oof_median_residual;  // out-of-fold log ratios to the median
  // Cross-validated recall of injected rows at 5 % false flags, per candidate (empty if no
  // comparison was made), in the order of Reference.
  std::vector<double> recall;
};

ReferenceChoice ChooseReference(const std::vector<Flow>& flows, int dims,
                                const ReferenceOptions& options);

// 1.4826 x the median absolute deviation from the median (a robust sd), at least 1e-3.
double RobustSpread(std::vector<double> v);

}  // namespace clearsight::valuation
