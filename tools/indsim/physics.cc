#include "physics.h"

#include <xraylib.h>

#include <cmath>
#include <map>
#include <stdexcept>
#include <utility>

namespace indsim {

EnergyGrid::EnergyGrid(double max_kvp) {
  for (double e = kMinKev + kBinKev / 2; e < max_kvp; e += kBinKev) kev.push_back(e);
}

const char* MatClassName(MatClass c) {
  switch (c) {
    case MatClass::kOrganic:
      return "organic";
    case MatClass::kInorganic:
      return "inorganic";
    case MatClass::kMetal:
      return "metal";
  }
  return "organic";
}

namespace {

// "A:0.9+B:0.1" -> {(A, 0.9), (B, 0.1)}, weights normalised; a plain formula -> {(f, 1)}.
std::vector<std::pair<std::string, double>> Components(const std::string& formula) {
  std::vector<std::pair<std::string, double>> out;
  if (formula.find(':') == std::string::npos) return {{formula, 1.0}};
  size_t start = 0;
  double total = 0;
  while (start < formula.size()) {
    size_t plus = formula.find('+', start);
    if (plus == std::string::npos) plus = formula.size();
    const std::string item = formula.substr(start, plus - start);
    const size_t colon = item.find(':');
    if (colon == std::string::npos)
      throw std::runtime_error("mixture item without weight: " + item);
    const double w = std::stod(item.substr(colon + 1));
    out.emplace_back(item.substr(0, colon), w);
    total += w;
    start = plus + 1;
  }
  for (auto& c : out) c.second /= total;
  return out;
}

// Element mass fractions of a formula or mixture.
std::map<int, double> Elements(const std::string& formula) {
  std::map<int, double> el;
  for (const auto& [f, w] : Components(formula)) {
    xrl_error* err = nullptr;
    compoundData* cd = CompoundParser(f.c_str(), &err);
    if (!cd) {
      std::string msg = err ? err->message : "parse error";
      if (err) xrl_error_free(err);
      throw std::runtime_error("xraylib cannot parse '" + f + "': " + msg);
    }
    for (int i = 0; i < cd->nElements; ++i) el[cd->Elements[i]] += w * cd->massFractions[i];
    FreeCompoundData(cd);
  }
  return el;
}

double CrossSection(const std::string& formula, double kev, bool energy_absorption) {
  double mu = 0;
  for (const auto& [f, w] : Components(formula)) {
    xrl_error* err = nullptr;
    const double v =
        energy_absorption ? CS_Energy_CP(f.c_str(), kev, &err) : CS_Total_CP(f.c_str(), kev, &err);
    if (err) {
      std::string msg = err->message;
      xrl_error_free(err);
      throw std::runtime_error("xraylib: '" + f + "' at " + std::to_string(kev) + " keV: " + msg);
    }
    mu += w * v;
  }
  return mu;
}

}  // namespace

double MassAttenuation(const std::string& formula, double kev) {
  return CrossSection(formula, kev, false);
}
double MassEnergyAbsorption(const std::string& formula, double kev) {
  return CrossSection(formula, kev, true);
}

double ZEffective(const std::string& formula, double* electrons_per_gram) {
  double electrons = 0, sum = 0;
  std::map<int, double> e_per_gram;
  for (const auto& [z, w] : Elements(formula)) {
    xrl_error* err = nullptr;
    const double a = AtomicWeight(z, &err);
    if (err) xrl_error_free(err);
    e_per_gram[z] = w * z / a;
    electrons += w * z / a;
  }
  for (const auto& [z, n] : e_per_gram) sum += n / electrons * std::pow(z, 2.94);
  if (electrons_per_gram) *electrons_per_gram = electrons;
  return std::pow(sum, 1 / 2.94);
}

MatClass ClassOfZ(double z) {
  return z < 10 ? MatClass::kOrganic : z < 18 ? MatClass::kInorganic : MatClass::kMetal;
}

MaterialTable::MaterialTable(const EnergyGrid& grid) : grid_(grid) {
  // Compositions chosen for indsim from handbook values; densities of the solid material.
  Add("cardboard", "C6H10O5:0.88+H2O:0.07+CaCO3:0.03+Al2O3:0.02", 0.68);
  Add("paper", "C6H10O5:0.82+CaCO3:0.12+Al2Si2O5(OH)4:0.03+H2O:0.03", 1.0);
  Add("cotton", "C6H10O5:0.93+H2O:0.07", 1.5);
  Add("polyester", "C10H8O4", 1.38);
  Add("rubber", "C5H8:0.62+C:0.28+ZnO:0.04+S:0.02+SiO2:0.04", 1.15);
  Add("sugar", "C12H22O11", 1.59);
  Add("soap", "C18H35NaO2:0.82+H2O:0.14+NaCl:0.01+TiO2:0.03", 1.05);
  Add("food", "H2O:0.72+C6H10O5:0.14+C3H7NO2:0.08+C16H32O2:0.05+NaCl:0.01", 1.05);
  Add("fr4", "SiO2:0.5+C18H20O3:0.35+Cu:0.12+Br:0.03", 1.9);
  Add("aluminium", "Al", 2.70);
  Add("copper", "Cu", 8.96);
  Add("steel", "Fe:0.982+Mn:0.012+C:0.004+Si:0.002", 7.85);
  Add("stainless", "Fe:0.70+Cr:0.18+Ni:0.10+Mn:0.02", 7.9);
  Add("brass", "Cu:0.64+Zn:0.36", 8.5);
  Add("lead", "Pb", 11.34);
  Add("glass", "SiO2:0.72+Na2O:0.14+CaO:0.09+MgO:0.03+Al2O3:0.02", 2.5);
  Add("water", "H2O", 1.0);
  Add("wine", "H2O:0.86+C2H6O:0.11+C6H12O6:0.03", 0.99);
  Add("oil", "C57H104O6", 0.91);
  Add("porcelain", "SiO2:0.58+Al2O3:0.32+K2O:0.05+CaO:0.03+Fe2O3:0.02", 2.35);
  Add("abs", "C15H17N", 1.05);
  Add("pp", "C3H6", 0.90);
  Add("pvc", "C2H3Cl", 1.38);
  Add("pe", "C2H4", 0.93);
  Add("polyamide_gf", "C12H22N2O2:0.7+SiO2:0.25+CaO:0.05", 1.4);
  Add("wood", "C6H10O5:0.55+C10H12O3:0.30+H2O:0.15", 0.7);
  Add("cocaine", "C17H21NO4", 1.2);
  Add("heroin", "C21H23NO5", 1.3);
  Add("tobacco", "C6H10O5:0.70+H2O:0.13+K2CO3:0.06+CaCO3:0.06+C10H14N2:0.02+SiO2:0.03", 1.0);
  Add("cell_core", "LiCoO2:0.38+C:0.20+Cu:0.16+Al:0.07+LiPF6:0.03+C3H4O3:0.10+C2H4:0.06", 2.9);
  Add("banknote", "C6H10O5:0.92+CaCO3:0.03+TiO2:0.02+H2O:0.03", 0.95);
  Add("ceramic_glaze", "SiO2:0.6+Al2O3:0.15+ZrO2:0.1+CaO:0.1+ZnO:0.05", 2.6);
  // Scintillators, filters and air for the scanner model.
  Add("CsI", "CsI", 4.51);
  Add("GOS", "Gd2O2S", 7.32);
  Add("Be", "Be", 1.85);
  Add("mineral_oil", "C16H34", 0.86);
  Add("air", "N:0.755+O:0.232+Ar:0.013", 0.001205);
  Add("POM", "CH2O", 1.41);
  Add("PMMA", "C5H8O2", 1.18);
  Add("magnesium", "Mg", 1.74);
  Add("iron", "Fe", 7.874);
  Add("tungsten", "W", 19.3);
}

int MaterialTable::Add(const std::string& name, const std::string& formula, double density) {
  Material m;
  m.name = name;
  m.formula = formula;
  m.density = density;
  m.z_eff = ZEffective(formula, &m.electrons_per_gram);
  m.cls = ClassOfZ(m.z_eff);
  m.mu.resize(grid_.size());
  for (size_t k = 0; k < grid_.size(); ++k)
    m.mu[k] = static_cast<float>(MassAttenuation(formula, grid_.kev[k]));
  mats_.push_back(std::move(m));
  return static_cast<int>(mats_.size()) - 1;
}

int MaterialTable::Id(const std::string& name) const {
  for (size_t i = 0; i < mats_.size(); ++i)
    if (mats_[i].name == name) return static_cast<int>(i);
  throw std::runtime_error("unknown material '" + name + "'");
}

std::vector<double> TubeSpectrum(const EnergyGrid& grid, double kvp, double anode_angle_deg) {
  // Electrons stop within the Thomson-Whiddington depth; photons come from a depth spread evenly
  // over it and leave through the anode face at the take-off angle (Tucker-like self-absorption).
  const double depth_g_cm2 = 0.0195 * std::pow(kvp / 100.0, 1.6);  // tungsten, mean range
  const double path = depth_g_cm2 / std::sin(anode_angle_deg * M_PI / 180.0);
  auto self_absorption = [&](double kev) {
    const double x = MassAttenuation("W", kev) * path;
    return x < 1e-6 ? 1.0 : (1 - std::exp(-x)) / x;
  };
  std::vector<double> n(grid.size(), 0.0);
  double continuum = 0;
  for (size_t k = 0; k < grid.size(); ++k) {
    const double e = grid.kev[k];
    if (e >= kvp) continue;
    // Kramers photon number with a mild high-energy roll-off (Tucker's (1 - E/kVp) term).
    const double kramers = (kvp - e) / e * (1.0 - 0.12 * e / kvp);
    continuum += kramers * kBinKev;
    n[k] = kramers * kBinKev * self_absorption(e);
  }
  const double k_edge = 69.525;
  if (kvp > k_edge) {
    // Characteristic K photons against the continuum grow as (U - 1)^1.63 (Green and Cosslett).
    const double total = 0.052 * std::pow(kvp / k_edge - 1.0, 1.63) * continuum;
    const int lines[] = {KL2_LINE, KL3_LINE, KM2_LINE, KM3_LINE, KN3_LINE};
    double rate_sum = 0;
    std::vector<std::pair<double, double>> el;
    for (int line : lines) {
      xrl_error* err = nullptr;
      const double e = LineEnergy(74, line, &err);
      if (err) {
        xrl_error_free(err);
        continue;
      }
      const double r = RadRate(74, line, &err);
      if (err) {
        xrl_error_free(err);
        continue;
      }
      el.emplace_back(e, r);
      rate_sum += r;
    }
    for (const auto& [e, r] : el) {
      const long k = std::lround(std::floor((e - kMinKev) / kBinKev));
      if (k < 0 || static_cast<size_t>(k) >= grid.size() || e >= kvp) continue;
      n[static_cast<size_t>(k)] += total * r / rate_sum * self_absorption(e);
    }
  }
  return n;
}

namespace {

void Filter(std::vector<double>* n, const EnergyGrid& g, const std::string& formula, double density,
            double mm) {
  if (mm <= 0) return;
  for (size_t k = 0; k < g.size(); ++k)
    (*n)[k] *= std::exp(-MassAttenuation(formula, g.kev[k]) * density * mm / 10.0);
}

const std::pair<std::string, double> Scintillator(const std::string& name) {
  if (name == "GOS") return {"Gd2O2S", 7.32 * 0.55};  // screen: phosphor grains in a binder
  return {"CsI", 4.51 * 0.8};                         // needle structure, 80 % packing
}

// Detected photons and deposited energy of a scintillator layer for the photons `n` that reach it.
void Absorb(const std::vector<double>& n, const EnergyGrid& g, const std::string& scint, double mm,
            ChannelResponse* out) {
  const auto [formula, rho] = Scintillator(scint);
  out->photons.assign(g.size(), 0.0);
  out->deposit_kev.assign(g.size(), 0.0);
  for (size_t k = 0; k < g.size(); ++k) {
    const double mu = MassAttenuation(formula, g.kev[k]);
    const double mu_en = MassEnergyAbsorption(formula, g.kev[k]);
    out->photons[k] = n[k] * (1 - std::exp(-mu * rho * mm / 10.0));
    out->deposit_kev[k] = g.kev[k] * std::min(1.0, mu_en / mu);
  }
}

void Normalise(ChannelResponse* c) {
  double np = 0, ne = 0;
  for (size_t k = 0; k < c->photons.size(); ++k) {
    np += c->photons[k];
    ne += c->photons[k] * c->deposit_kev[k];
  }
  c->weight.resize(c->photons.size());
  for (size_t k = 0; k < c->photons.size(); ++k) {
    c->weight[k] = c->photons[k] * c->deposit_kev[k] / ne;
    c->photons[k] /= np;
  }
}

std::vector<double> FilteredTube(const ScannerParams& p, const EnergyGrid& g, double kvp,
                                 double extra_cu_mm) {
  std::vector<double> n = TubeSpectrum(g, kvp, p.anode_angle_deg);
  Filter(&n, g, "Be", 1.85, p.be_window_mm);
  Filter(&n, g, "C16H34", 0.86, p.oil_mm);
  Filter(&n, g, "Al", 2.70, p.al_filter_mm);
  Filter(&n, g, "Cu", 8.96, extra_cu_mm);
  Filter(&n, g, "N:0.755+O:0.232+Ar:0.013", 0.001205, p.air_mm);
  // The belt is in the flat field: the image is I / I0 with the empty belt in both.
  Filter(&n, g, "C5H8:0.62+C:0.28+ZnO:0.04+S:0.02+SiO2:0.04", 1.15, p.belt_mm);
  // Carbon-fibre detector cover.
  Filter(&n, g, "C", 1.6, 1.0);
  return n;
}

}  // namespace

ScannerResponse BuildResponse(const ScannerParams& p, const EnergyGrid& g) {
  ScannerResponse r;
  if (p.kind == DetectorKind::kDualLayer) {
    std::vector<double> n = FilteredTube(p, g, p.kvp_high, 0.0);
    Absorb(n, g, p.scint_front, p.scint_front_mm, &r.low);
    const auto [ff, fr] = Scintillator(p.scint_front);
    Filter(&n, g, ff, fr, p.scint_front_mm);
    Filter(&n, g, "C18H20O3", 1.2, 0.5);  // front photodiode board
    Filter(&n, g, "Cu", 8.96, p.interfilter_cu_mm);
    Absorb(n, g, p.scint_back, p.scint_back_mm, &r.high);
  } else {
    Absorb(FilteredTube(p, g, p.kvp_low, 0.0), g, p.scint_front, p.scint_front_mm, &r.low);
    Absorb(FilteredTube(p, g, p.kvp_high, p.cu_filter_high_mm), g, p.scint_front, p.scint_front_mm,
           &r.high);
  }
  Normalise(&r.low);
  Normalise(&r.high);
  r.low.quanta = p.quanta_low;
  r.high.quanta = p.quanta_high;
  return r;
}

}  // namespace indsim
