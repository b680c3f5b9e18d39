#include "xray/physics/spectrum.h"

#include <cmath>

namespace clearsight::xray {

EnergyGrid MakeEnergyGrid(double min_kev, double max_kev, double step_kev) {
  EnergyGrid g;
  g.step_kev = step_kev;
  for (double e = min_kev + step_kev / 2; e < max_kev; e += step_kev) g.kev.push_back(e);
  return g;
}

std::vector<double> LayerTransmission(const EnergyGrid& grid, const Composition& c, double density,
                                      double thickness_mm) {
  std::vector<double> mu = MassAttenuation(c, grid.kev);
  std::vector<double> t(mu.size());
  for (size_t i = 0; i < mu.size(); ++i) t[i] = std::exp(-mu[i] * density * thickness_mm / 10.0);
  return t;
}

std::vector<double> TubePhotons(const EnergyGrid& grid, const TubeSpectrum& tube) {
  const double kvp = tube.kvp;
  std::vector<double> n(grid.kev.size(), 0.0);
  double brems = 0;
  for (size_t i = 0; i < n.size(); ++i) {
    // Integrate (kVp - E)/E over the bin (up to kVp).
    double lo = grid.kev[i] - grid.step_kev / 2,
           hi = std::min(kvp, grid.kev[i] + grid.step_kev / 2);
    if (hi <= lo) continue;
    n[i] = kvp * std::log(hi / lo) - (hi - lo);
    brems += n[i];
  }
  // Tungsten K lines: excited above the K edge (69.5 keV); their share of all photons grows as
  // ((kVp - E_K)/E_K)^1.5, about 10 % at 150 kVp (an approximation of tabulated spectra).
  const double k_edge = 69.525;
  if (kvp > k_edge) {
    double share = 0.1 * std::pow((kvp - k_edge) / 80.0, 1.5);
    auto lines = TungstenKLines();
    double rel_sum = 0;
    for (const auto& l : lines) rel_sum += l.second;
    for (const auto& [e, rel] : lines) {
      int bin = static_cast<int>((e - (grid.kev.front() - grid.step_kev / 2)) / grid.step_kev);
      if (bin >= 0 && bin < static_cast<int>(n.size())) n[bin] += brems * share * rel / rel_sum;
    }
  }
  static const Composition al = *ParseRecipe("Al");
  static const Composition cu = *ParseRecipe("Cu");
  static const Composition air = *ParseRecipe("N:0.755+O:0.232+Ar:0.013");
  auto t_al = LayerTransmission(grid, al, 2.70, tube.filter_al_mm);
  auto t_cu = LayerTransmission(grid, cu, 8.96, tube.filter_cu_mm);
  auto t_air = LayerTransmission(grid, air, 0.0012, 1000.0);
  for (size_t i = 0; i < n.size(); ++i) n[i] *= t_al[i] * t_cu[i] * t_air[i];
  return n;
}

}  // namespace clearsight::xray
