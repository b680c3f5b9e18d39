// Polychromatic dual-energy projection and image formation (noise, blur, scatter, encoding).
//
// Every ray carries the areal densities of the materials it crosses. To keep one image cheap the
// mass attenuation of all catalogue materials is expressed in a small basis (weighted SVD over
// the energy grid, rank chosen so the log transmission error stays below 0.2 %): a ray is then
// `rank` numbers, and its transmission is sum_E w(E) exp(-sum_k c_k b_k(E)).
#pragma once

#include <cstdint>
#include <vector>

#include "clearsight/status.h"
#include "clearsight/xray_scanner.h"
#include "xray/physics/random.h"
#include "xray/physics/spectrum.h"

namespace clearsight::xray {

inline constexpr int kMaxBasisRank = 8;

// Normalised weights of one detector channel over the energy grid.
struct ChannelWeights {
  std::vector<float> mean;   // p(E) E / sum p E: transmission = sum mean * exp(-A)
  std::vector<float> var;    // p(E) E^2 / (sum p E)^2: variance = sum var * exp(-A) / photons
  std::vector<float> count;  // p(E): expected photons = photons * sum count * exp(-A)
  double photons_per_px = 0;
  double blur_sigma_px = 0;
  double mean_kev = 0;
  double air_sd = 0;  // noise of an air pixel
};

struct PhysicsModel {
  EnergyGrid grid;
  ChannelWeights channel[2];  // 0 low, 1 high
  double scatter_fraction = 0;
  double electronic_noise = 0;
  double gain_stripe_sd = 0;  // per detector row and channel, drawn for every image
  // Basis: vectors[k * n_energy + e]; material_coef[m * rank + k] (per g/cm^2).
  int rank = 0;
  std::vector<float> vectors;
  std::vector<float> material_coef;
  double basis_max_log_error = 0;  // worst relative error of -ln T over the checks
};

// Builds spectra, detector response and the basis for every MaterialCatalog() material.
Result<PhysicsModel> BuildPhysics(const ScannerModel& scanner, double pixel_mm);

// Exact (no basis) transmission of `areal_density` g/cm^2 of one catalogue material: for tests
// and for the basis check.
double ExactTransmission(const PhysicsModel& model, const std::vector<double>& mu,
                         double areal_density, int channel);

// Separable Gaussian blur of a w x h image in place (sigma in pixels, edges replicated; none at
// sigma <= 0.05); `tmp` is scratch space.
void GaussianBlur(std::vector<float>* img, int w, int h, double sigma, std::vector<float>* tmp);

// Scatter: `fraction` of the absorbed share 1 - primary spread over ~5 cm (block means of 8x8
// pixels, two box blurs on the coarse grid, bilinear back to full size), added to *img.
void AddScatter(const std::vector<float>& primary, int w, int h, double fraction,
                std::vector<float>* img);

// Image formation: coef holds `rank` floats per pixel (row-major), touched marks pixels any
// object covers. Writes the encoded low and high pages.
struct FormOptions {
  bool noise = true;
  bool blur = true;
  bool scatter = true;
};
void FormImage(const PhysicsModel& model, const std::vector<float>& coef,
               const std::vector<uint8_t>& touched, int width, int height, Rng* rng,
               const FormOptions& options, std::vector<uint16_t>* low, std::vector<uint16_t>* high);

// Noise-free log attenuation -ln T of each pixel for both channels (threat patches).
void ProjectLog(const PhysicsModel& model, const std::vector<float>& coef, size_t n,
                std::vector<float>* log_low, std::vector<float>* log_high);

}  // namespace clearsight::xray
