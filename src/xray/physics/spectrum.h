// X-ray tube spectra and detector response on an energy grid.
#pragma once

#include <vector>

#include "clearsight/xray_scanner.h"
#include "xray/physics/materials.h"

namespace clearsight::xray {

struct EnergyGrid {
  std::vector<double> kev;  // bin centres
  double step_kev = 0;
};
EnergyGrid MakeEnergyGrid(double min_kev, double max_kev, double step_kev);

// Photons per bin (relative) leaving a tungsten-anode tube at tube.kvp: Kramers' law
// N(E) ~ (kVp - E)/E plus the W K lines above their excitation edge, through the Al and Cu
// filters and 1 m of air.
std::vector<double> TubePhotons(const EnergyGrid& grid, const TubeSpectrum& tube);
// exp(-mu rho t) of a layer, t in mm.
std::vector<double> LayerTransmission(const EnergyGrid& grid, const Composition& c, double density,
                                      double thickness_mm);

}  // namespace clearsight::xray
