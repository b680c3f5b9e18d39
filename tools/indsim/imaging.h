// indsim image formation: rays from a fan-beam source across the belt through every part, areal
// density per material, transmission over the spectrum per channel, quantum noise, detector blur
// (Gaussian core and Lorentzian tail), scatter, per-row gain stripes; and the ground truth.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "physics.h"
#include "rng.h"
#include "scene.h"

namespace indsim {

struct TruthPart {
  std::string material;
  double mass_kg = 0;
};

struct TruthObject {
  const SceneObject* source = nullptr;
  bool isolated = false, concealed = false;
  std::string material;  // most mass
  MatClass material_class = MatClass::kOrganic;
  double z_eff = 0, class_purity = 1, mass_kg = 0;
  int box[4] = {0, 0, 0, 0};
  std::vector<uint32_t> mask_rle;
  std::vector<TruthPart> parts;
  bool visible = false;  // any pixel in the image
};

struct Image {
  int width = 0, height = 0;
  std::vector<uint16_t> low, high;
  std::vector<TruthObject> truth;
};

struct RenderOptions {
  int width = 1024, height = 768;
  double mask_min_g_cm2 = 0.015;  // truth masks: pixels where the object has at least this
  bool noise = true;
};

Image Render(const std::vector<SceneObject>& objects, const MaterialTable& mats,
             const EnergyGrid& grid, const ScannerParams& scanner, const ScannerResponse& resp,
             const RenderOptions& options, Rng& rng);

// -ln of the noiseless high-channel transmission through `g_cm2` of material `m`.
double HighLog(const Material& m, double g_cm2, const ScannerResponse& resp);

}  // namespace indsim
