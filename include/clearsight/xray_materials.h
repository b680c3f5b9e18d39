// Materials as the X-ray physics sees them (attenuation data from xraylib, behind
// src/xray/physics/materials.cc).
#pragma once

#include <string_view>

#include "clearsight/status.h"

namespace clearsight {

// Effective atomic number of a chemical formula ("C17H22ClNO4"), power law over electron
// fractions with exponent 2.94. InvalidArgument when the formula does not parse.
Result<double> FormulaZEff(std::string_view formula);

}  // namespace clearsight
