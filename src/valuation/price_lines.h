// Price lines: a mixture of Gaussian "lines" in (log quantity profile, log unit price) plus a
// uniform background for outliers, fitted by EM with BIC choosing the number of lines, and a
// likelihood-ratio under-valuation score (the flow's price explained as a fraction 0.1..0.7 of
// an honest one, against as an honest one). With one line and no background it is a Gaussian
// log-log regression, the fallback for thin groups.
#pragma once

#include <cstdint>
#include <vector>

namespace clearsight::valuation {

// One flow in model coordinates: x = covariates (1 or 2), y = log unit price.
struct Point {
  double x[2];
  double y;
};

struct PriceLinesOptions {
  int max_lines = 6;  // at most PriceLines::kMaxLines
  int starts = 3;
  int max_iterations = 200;
  double variance_floor = 0.03;  // times each coordinate's variance, added to every covariance
  double background_start = 0.02;
  bool background = true;
  uint64_t seed = 7;
};

class PriceLines {
 public:
  // Fits on points with `dims` covariates (1 or 2). Needs at least 3 points.
  static PriceLines Fit(const std::vector<Point>& points, int dims,
                        const PriceLinesOptions& options);

  // log p(under-valued | x, y) - log p(honest | x, y); higher = more suspicious.
  double Score(const double* x, double y) const;
  // The honest line's expected log unit price at x (the line most likely for this x).
  double ExpectedLogPrice(const double* x) const;
  int lines() const { return static_cast<int>(lines_.size()); }
  int dims() const { return dims_; }

 private:
  struct Line {
    double log_weight;
    double mx[2];
    double sxx_inv[2][2];
    double log_norm_x;  // -0.5 log det(2 pi Sxx)
    double beta[2];
    double my;
    double sd;  // conditional sd of y given x
  };
  static constexpr int kMaxLines = 8;
  // Per-line log weight at x (the background last) and conditional mean of y.
  void Prepare(const double* x, double* log_wx, double* mean) const;
  double LogHonest(double y, const double* log_wx, const double* mean) const;

  std::vector<Line> lines_;
  int dims_ = 1;
  bool background_ = false;
  double log_bg_x_ = 0;  // background's weight x its density in x
  double log_bg_y_ = 0;  // background's conditional density of y
  double y_lo_ = 0, y_hi_ = 0;
};

}  // namespace clearsight::valuation
