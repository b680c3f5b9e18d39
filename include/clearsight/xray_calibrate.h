// Calibration of dual-energy material decomposition from step-wedge scans.
//
// A wedge scan is an ordinary format-v1 scan of a step wedge of one known material whose sidecar
// also lists the steps (material, thickness, z_eff and/or formula, region); see
// docs/scan-format.md. Calibration::Fit learns, from the pixels alone, how log attenuation in the
// two images maps to effective atomic number and areal density. It assumes no spectrum, filter,
// detector or noise level: dual-kVp sources and dual-layer detectors calibrate the same way.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clearsight/status.h"
#include "clearsight/xray_materials.h"  // FormulaZEff, for wedge steps
#include "clearsight/xray_scan.h"

namespace clearsight {

struct WedgeStep {
  std::string material;      // "POM", "aluminium", ...
  std::string formula;       // optional chemical formula ("CH2O"); used when z_eff is absent
  double z_eff = 0;          // effective atomic number; 0 = compute from formula
  double density_g_cm3 = 0;  // optional when areal_density_g_cm2 is given
  double thickness_mm = 0;
  double areal_density_g_cm2 = 0;      // 0 = density * thickness
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // region in pixels, [x0,x1) x [y0,y1)
};

struct WedgeScan {
  Scan scan;
  std::vector<WedgeStep> steps;
};

// Reads a wedge scan (format v1 + a "wedge" object in the sidecar). Steps are checked: region
// inside the image and at least 3x3 pixels, thickness > 0, a z_eff or a parsable formula.
Result<WedgeScan> ReadWedgeScan(const std::string& tiff_path, const ScanReadOptions& options = {});
// Every wedge scan in `dir` (scans whose sidecar has no "wedge" object are skipped).
Result<std::vector<WedgeScan>> ReadWedgeDir(const std::string& dir);
Status WriteWedgeScan(const WedgeScan& wedge, const std::string& tiff_path);

struct CalibrationOptions {
  double z_exponent = 2.94;     // Z is interpolated between wedge materials in Z^p
  double organic_max_z = 10.0;  // class boundaries on z_eff
  double metal_min_z = 18.0;
  int region_margin_px = 3;          // pixels ignored inside each region's border (blur, edges)
  double max_log_attenuation = 9.0;  // steps darker than this in the low image are too noisy
};

// One measured step: median log attenuations -ln(I/I0) over its region.
struct CalibrationPoint {
  double log_low = 0;
  double log_high = 0;
  double areal_density_g_cm2 = 0;
  bool modelled = false;  // not a step: from the fitted spectral response (see Fit)
};

struct CalibrationCurve {
  std::string material;
  double z_eff = 0;
  std::string formula;                   // "" when the wedges did not give one
  std::vector<CalibrationPoint> points;  // sorted by log_high, strictly increasing
};

// Immutable once built; safe to share between threads.
class Calibration {
 public:
  // Fits from wedge scans. Needs at least two materials with different z_eff and two usable
  // steps each; fails with InvalidArgument saying which material lacks what.
  //
  // When every wedge material has a formula, each image's spectral response (photons x energy x
  // absorption per 5 keV bin, non-negative) is fitted to all the steps with xraylib's attenuation
  // of those materials, and each curve is extended with modelled points below its thinnest step
  // and beyond its thickest one (up to max_log_attenuation in the low image, or where it
  // saturates): thin and thick objects are then compared with curves that harden as real ones
  // do, instead of with the nearest step's ratio. Skipped, with a line in Summary(), when a
  // formula is missing or the fit misses the steps by more than 0.02 rms (0.1 at worst) in log
  // attenuation.
  static Result<Calibration> Fit(const std::vector<WedgeScan>& wedges,
                                 const CalibrationOptions& options = {});
  // The same from measured curves (median log attenuations of steps), e.g. a scanner maker's
  // tabulated wedge data: sorted by z_eff here, extended as Fit does.
  static Result<Calibration> FromCurves(std::vector<CalibrationCurve> curves,
                                        const CalibrationOptions& options = {});
  static Result<Calibration> Load(const std::string& path);
  static Result<Calibration> FromJson(std::string_view json, std::string_view name);
  Status Save(const std::string& path) const;
  std::string ToJson() const;

  // Effective atomic number of a ray with these log attenuations (log_high > 0). Between wedge
  // materials it interpolates in Z^p at the same log_high; outside it extrapolates and clamps to
  // [min_z(), max_z()].
  double ZEff(double log_low, double log_high) const;
  // Areal density (g/cm^2) of a material of this z_eff that attenuates the high image by log_high.
  double ArealDensity(double log_high, double z_eff) const;
  MaterialClass Classify(double z_eff) const;

  const std::vector<CalibrationCurve>& curves() const { return curves_; }  // sorted by z_eff
  const CalibrationOptions& options() const { return options_; }
  const std::string& device() const { return device_; }
  double min_z() const;
  double max_z() const;
  // Log attenuation of the low image above which it stops growing with thickness on some wedge
  // (scatter, dark current): z_eff is unknown there and the analyzer calls the pixel impenetrable.
  // +infinity when no wedge reached it.
  double low_saturation_log() const { return low_saturation_log_; }
  // Edge spread (Gaussian sigma, pixels) of each image, measured on the wedge steps' edges. A
  // dual-layer detector's thick back layer blurs more than its front layer; the analyzer blurs the
  // sharper image to match so thin objects keep their true low/high ratio.
  double blur_sigma_low() const { return blur_sigma_[0]; }
  double blur_sigma_high() const { return blur_sigma_[1]; }
  // Human-readable fit summary: per material the steps used and the leave-one-material-out
  // z_eff prediction error (how well the others predict it).
  std::string Summary() const;

 private:
  // Extends the curves by the fitted spectral responses (see Fit); returns a line for Summary().
  std::string ExtendCurves();
  // The ratio log_low/log_high of curve i at log_high h, and its areal density per unit h.
  double RatioAt(size_t i, double h) const;
  double KappaAt(size_t i, double h) const;

  std::vector<CalibrationCurve> curves_;
  CalibrationOptions options_;
  std::string device_;
  std::string summary_;
  double low_saturation_log_ = 1e300;
  double blur_sigma_[2] = {0, 0};
};

// How far the scanner behind `site` is from the one behind `known`: the median, over `known`'s
// measured wedge steps (not its modelled points), of |z_eff read through `site` - the step's
// z_eff| / the step's z_eff. The same scanner calibrated again from other wedge scans at another
// image size reads 0.001-0.007; scanners with another tube voltage, filtration or detector
// 0.03-0.09 (docs/xray-detector.md, On a scanner it has never seen).
double ScannerDistance(const Calibration& site, const Calibration& known);

// What a calibrated scanner's two images show through any stack of materials: each image's
// spectral response (photons x deposited energy x absorption per energy bin, and a floor) fitted to
// the calibration's measured wedge steps, as Calibration::Fit does to extend its curves. Used to
// project a threat of known composition into that scanner's scans. Cheap to copy.
class ScannerResponse {
 public:
  // FailedPrecondition when a wedge material has no formula or the fit misses the steps.
  static Result<ScannerResponse> Fit(const Calibration& calibration);
  // The energies (keV) at which LogAttenuations takes optical depths.
  static const std::vector<double>& Energies();
  // -ln(I/I0) of the low and the high image through a ray of optical depth tau[k] at Energies()[k]
  // (the sum over its materials of mass attenuation x areal density).
  std::pair<double, double> LogAttenuations(const std::vector<double>& tau) const;
  // The same without the fitted floor (the constant share of the open beam that scatter and dark
  // signal leave behind any absorber): the primary beam alone.
  std::pair<double, double> PrimaryLogAttenuations(const std::vector<double>& tau) const;
  // The share of the open beam's quantum-noise variance that passes the ray, in each image (the
  // detector weighs photons by their energy squared: behind a hardening absorber more noise is
  // left than signal).
  std::pair<double, double> NoiseTransmissions(const std::vector<double>& tau) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace clearsight
