// Materials for the simulator and the calibration: elemental compositions, effective atomic
// number, and mass attenuation from xraylib (materials.cc is the only file that includes it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "clearsight/status.h"

namespace clearsight::xray {

struct ElementFraction {
  int z = 0;
  double mass_fraction = 0;
};
using Composition = std::vector<ElementFraction>;  // sorted by z, fractions sum to 1

// "CH2O", or a mixture by mass "C6H10O5:0.9+CaCO3:0.1" (fractions are normalised).
Result<Composition> ParseRecipe(std::string_view recipe);
// Mass-weighted mixture of compositions.
Composition MixCompositions(const std::vector<std::pair<const Composition*, double>>& parts);
// Power-law effective atomic number over electron fractions.
double ZEffOf(const Composition& c, double exponent = 2.94);
// Mass attenuation coefficient (cm^2/g, total with coherent scattering) at each energy.
std::vector<double> MassAttenuation(const Composition& c, const std::vector<double>& energies_kev);
// Tungsten K-line energies (keV) and relative intensities, for the tube spectrum.
std::vector<std::pair<double, double>> TungstenKLines();

// The named materials of the simulator's catalogue.
struct NamedMaterial {
  std::string name;
  std::string recipe;
  double density = 0;  // g/cm^3, nominal (objects may set their own bulk density)
  Composition composition;
  double z_eff = 0;
};
// All catalogue materials, parsed once (thread-safe, process lifetime).
const std::vector<NamedMaterial>& MaterialCatalog();
// Index in MaterialCatalog(), or -1.
int MaterialIndex(std::string_view name);

}  // namespace clearsight::xray
