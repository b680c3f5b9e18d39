// Materials as the X-ray physics sees them (attenuation data from xraylib, behind
// src/xray/physics/materials.cc).
#pragma once

#include <string_view>
#include <vector>

#include "clearsight/status.h"

namespace clearsight {

// Effective atomic number of a chemical formula ("C17H22ClNO4"), power law over electron
// fractions with exponent 2.94. InvalidArgument when the formula does not parse.
Result<double> FormulaZEff(std::string_view formula);

// Mass attenuation coefficient (cm^2/g, coherent scattering included) of a formula or a mixture
// by mass ("C6H10O5:0.9+CaCO3:0.1") at each energy (keV). InvalidArgument when it does not parse.
Result<std::vector<double>> FormulaMassAttenuation(std::string_view formula,
                                                   const std::vector<double>& energies_kev);

}  // namespace clearsight
