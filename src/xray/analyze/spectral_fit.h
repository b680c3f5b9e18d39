// The spectral response of one image of a dual-energy scanner, fitted to wedge steps of known
// composition: what lets a calibration follow beam hardening below the thinnest and beyond the
// thickest step, for any source, filter or detector stack.
#pragma once

#include <vector>

#include "clearsight/status.h"

namespace clearsight::xray {

// One measured step: the material's mass attenuation over SpectralResponse::Energies(), its areal
// density and the image's log attenuation -ln(I/I0) through it.
struct SpectralSample {
  const std::vector<double>* mu = nullptr;
  double g_cm2 = 0;
  double log_attenuation = 0;
};

// The detected fraction of an energy-integrating image through g g/cm2 of a material is
// sum_k w_k exp(-mu_k g) + f with w_k, f >= 0 summing to 1: photons x deposited energy x
// absorption per energy bin, whatever the spectrum, filters and layers, plus a floor f (scatter
// reaching a step from the open beam around it, dark signal). Fitted by non-negative least
// squares on relative transmission, with a penalty on curvature across energy.
class SpectralResponse {
 public:
  static const std::vector<double>& Energies();  // keV, 10..200 in 5 keV bins

  // Fails when fewer than 4 samples are given or the fit does not converge.
  static Result<SpectralResponse> Fit(const std::vector<SpectralSample>& samples);

  double LogAttenuation(const std::vector<double>& mu, double g_cm2) const;
  // The same through a ray of optical depth tau[k] (sum of mu * g over its materials) per energy.
  // Without `with_floor`, the primary beam alone (no floor_).
  double LogAttenuationOfDepth(const std::vector<double>& tau, bool with_floor = true) const;
  // The share of the open beam's quantum-noise variance left behind that ray: an energy-integrating
  // detector's variance weighs each photon by its energy squared, so by w_k x E_k. A hardened beam
  // keeps more variance than signal (this exceeds the primary transmission).
  double NoiseTransmissionOfDepth(const std::vector<double>& tau) const;
  double rms_error() const { return rms_error_; }  // in log attenuation, over the samples
  double max_error() const { return max_error_; }
  double floor() const { return floor_; }  // the constant share, of the open beam

 private:
  std::vector<double> w_;
  double floor_ = 0;
  double rms_error_ = 0, max_error_ = 0;
};

}  // namespace clearsight::xray
