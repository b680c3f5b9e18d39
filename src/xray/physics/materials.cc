// xraylib adapter. xraylib 4 reports errors through xrl_error; they become Status here.
#include "xray/physics/materials.h"

#include <xraylib.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "clearsight/text.h"
#include "clearsight/xray_materials.h"

namespace clearsight::xray {
namespace {

Result<Composition> ParseFormula(std::string_view formula) {
  std::string f(Trim(formula));
  xrl_error* err = nullptr;
  compoundData* cd = CompoundParser(f.c_str(), &err);
  if (!cd) {
    std::string msg = err && err->message ? err->message : "unknown error";
    if (err) xrl_error_free(err);
    return Status::InvalidArgument("formula '" + f + "' does not parse: " + msg);
  }
  Composition c;
  for (int i = 0; i < cd->nElements; ++i) c.push_back({cd->Elements[i], cd->massFractions[i]});
  FreeCompoundData(cd);
  return c;
}

void Normalize(Composition* c) {
  std::map<int, double> m;
  double sum = 0;
  for (const auto& e : *c) {
    m[e.z] += e.mass_fraction;
    sum += e.mass_fraction;
  }
  c->clear();
  for (const auto& [z, f] : m) c->push_back({z, f / sum});
}

double AtomicWeightOf(int z) {
  xrl_error* err = nullptr;
  double a = AtomicWeight(z, &err);
  if (err) xrl_error_free(err);
  return a > 0 ? a : 2.0 * z;
}

}  // namespace

Result<Composition> ParseRecipe(std::string_view recipe) {
  Composition out;
  double total = 0;
  for (std::string_view part : Split(recipe, '+')) {
    part = Trim(part);
    double frac = 1;
    size_t colon = part.rfind(':');
    if (colon != std::string_view::npos) {
      if (!ParseDouble(part.substr(colon + 1), &frac) || frac <= 0)
        return Status::InvalidArgument("recipe '" + std::string(recipe) + "': bad fraction in '" +
                                       std::string(part) + "'");
      part = part.substr(0, colon);
    }
    CS_ASSIGN_OR_RETURN(Composition c, ParseFormula(part));
    for (auto& e : c) out.push_back({e.z, e.mass_fraction * frac});
    total += frac;
  }
  if (out.empty() || total <= 0) return Status::InvalidArgument("empty recipe");
  Normalize(&out);
  return out;
}

Composition MixCompositions(const std::vector<std::pair<const Composition*, double>>& parts) {
  Composition out;
  for (const auto& [c, w] : parts)
    for (const auto& e : *c) out.push_back({e.z, e.mass_fraction * w});
  if (!out.empty()) Normalize(&out);
  return out;
}

double ZEffOf(const Composition& c, double exponent) {
  double electrons = 0;
  std::vector<double> ne(c.size());
  for (size_t i = 0; i < c.size(); ++i) {
    ne[i] = c[i].mass_fraction * c[i].z / AtomicWeightOf(c[i].z);
    electrons += ne[i];
  }
  if (electrons <= 0) return 0;
  double s = 0;
  for (size_t i = 0; i < c.size(); ++i) s += ne[i] / electrons * std::pow(c[i].z, exponent);
  return std::pow(s, 1.0 / exponent);
}

std::vector<double> MassAttenuation(const Composition& c, const std::vector<double>& energies_kev) {
  std::vector<double> mu(energies_kev.size(), 0.0);
  for (size_t k = 0; k < energies_kev.size(); ++k)
    for (const auto& e : c) {
      xrl_error* err = nullptr;
      double v = CS_Total(e.z, energies_kev[k], &err);
      if (err) {
        xrl_error_free(err);
        v = 0;
      }
      mu[k] += e.mass_fraction * v;
    }
  return mu;
}

std::vector<std::pair<double, double>> TungstenKLines() {
  // Relative intensities of the strongest K lines (Ka2 : Ka1 : Kb1 : Kb2 ~ 0.58 : 1 : 0.33 : 0.09).
  const std::pair<int, double> lines[] = {
      {KA1_LINE, 1.0}, {KA2_LINE, 0.58}, {KB1_LINE, 0.33}, {KB2_LINE, 0.09}};
  std::vector<std::pair<double, double>> out;
  for (const auto& [line, rel] : lines) {
    xrl_error* err = nullptr;
    double e = LineEnergy(74, line, &err);
    if (err) {
      xrl_error_free(err);
      continue;
    }
    out.push_back({e, rel});
  }
  return out;
}

const std::vector<NamedMaterial>& MaterialCatalog() {
  static const std::vector<NamedMaterial> catalog = [] {
    // name, recipe (formula or mixture by mass), nominal density g/cm^3.
    const struct {
      const char* name;
      const char* recipe;
      double density;
    } defs[] = {
        // calibration plastics and packaging
        {"pe", "C2H4", 0.94},
        {"pom", "CH2O", 1.41},
        {"pmma", "C5H8O2", 1.19},
        {"pet", "C10H8O4", 1.38},
        {"pp", "C3H6", 0.90},
        {"abs", "C15H17N", 1.05},
        {"pvc", "C2H3Cl", 1.38},
        {"nylon", "C6H11NO", 1.14},
        {"nylon_gf", "C6H11NO:0.70+SiO2:0.20+CaO:0.06+Al2O3:0.04", 1.40},
        {"cardboard", "C6H10O5:0.95+CaCO3:0.05", 0.13},
        // textiles, leather, rubber, paper, wood
        {"cotton", "C6H10O5", 1.50},
        {"polyester", "C10H8O4", 1.38},
        {"wool", "C:0.50+H:0.07+N:0.16+O:0.23+S:0.04", 1.30},
        {"leather", "C:0.50+H:0.065+N:0.17+O:0.255+S:0.01", 0.90},
        {"rubber", "C5H8:0.62+C:0.28+CaCO3:0.08+ZnO:0.02", 1.15},
        {"paper", "C6H10O5:0.88+CaCO3:0.08+Al2Si2H4O9:0.04", 0.90},
        {"wood", "C6H10O5:0.75+C10H12O3:0.24+CaO:0.01", 0.60},
        // food, liquids, cosmetics
        {"water", "H2O", 1.00},
        {"sugar", "C12H22O11", 1.59},
        {"rice", "C6H10O5:0.80+H2O:0.12+C5H9NO2:0.07+KH2PO4:0.01", 1.45},
        {"coffee", "C6H10O5:0.70+C51H98O6:0.15+C8H10N4O2:0.05+K2CO3:0.05+H2O:0.05", 1.10},
        {"chocolate", "C12H22O11:0.50+C51H98O6:0.32+C6H10O5:0.12+C5H9NO2:0.06", 1.30},
        {"canned_food", "H2O:0.85+C6H10O5:0.10+C12H22O11:0.03+NaCl:0.02", 1.05},
        {"shampoo", "H2O:0.80+C12H25NaO4S:0.15+C3H8O3:0.03+NaCl:0.02", 1.02},
        {"cream", "H2O:0.70+C51H98O6:0.20+C3H8O3:0.10", 0.98},
        {"perfume", "C2H6O:0.80+H2O:0.15+C10H18O:0.05", 0.85},
        // glass, ceramics
        {"glass", "SiO2:0.72+Na2O:0.14+CaO:0.10+MgO:0.04", 2.50},
        {"porcelain", "SiO2:0.60+Al2O3:0.28+K2O:0.05+CaO:0.03+Na2O:0.03+Fe2O3:0.01", 2.40},
        {"earthenware", "SiO2:0.55+Al2O3:0.20+CaO:0.12+Fe2O3:0.05+K2O:0.04+MgO:0.04", 2.00},
        // metals
        {"aluminium", "Al", 2.70},
        {"steel", "Fe:0.98+Mn:0.012+C:0.004+Si:0.004", 7.85},
        {"stainless", "Fe:0.72+Cr:0.18+Ni:0.08+Mn:0.02", 7.90},
        {"copper", "Cu", 8.96},
        {"brass", "Cu:0.65+Zn:0.35", 8.50},
        {"zamak", "Zn:0.96+Al:0.04", 6.60},
        {"lead", "Pb", 11.34},
        // electronics
        {"fr4", "SiO2:0.40+C21H24O4:0.35+CaO:0.07+Al2O3:0.06+Cu:0.12", 1.90},
        {"liion_cell",
         "LiCoO2:0.33+C:0.18+Cu:0.12+Al:0.07+C3H4O3:0.12+LiPF6:0.02+C2H4:0.04+Fe:0.12", 2.70},
        {"liion_pouch", "LiCoO2:0.38+C:0.21+Cu:0.14+Al:0.10+C3H4O3:0.13+LiPF6:0.02+C2H4:0.02",
         2.30},
        {"alkaline_cell", "MnO2:0.35+Zn:0.20+Fe:0.25+KOH:0.05+H2O:0.10+C:0.05", 2.85},
        // concealments
        {"cocaine_hcl", "C17H22ClNO4", 1.20},
        {"heroin_hcl", "C21H24ClNO5", 1.20},
        {"heroin_base", "C21H23NO5", 1.15},
        {"cannabis", "C6H10O5:0.80+C21H30O2:0.08+C5H9NO2:0.05+CaCO3:0.04+K2CO3:0.03", 0.80},
        {"tobacco", "C6H10O5:0.78+C10H14N2:0.02+CaCO3:0.06+K2CO3:0.04+H2O:0.10", 0.25},
        {"banknote", "C6H10O5:0.95+CaCO3:0.03+TiO2:0.02", 0.85},
    };
    std::vector<NamedMaterial> out;
    for (const auto& d : defs) {
      NamedMaterial m;
      m.name = d.name;
      m.recipe = d.recipe;
      m.density = d.density;
      auto c = ParseRecipe(d.recipe);
      if (!c.ok()) continue;  // a typo in the table; tests check every entry parses
      m.composition = std::move(*c);
      m.z_eff = ZEffOf(m.composition);
      out.push_back(std::move(m));
    }
    return out;
  }();
  return catalog;
}

int MaterialIndex(std::string_view name) {
  const auto& cat = MaterialCatalog();
  for (size_t i = 0; i < cat.size(); ++i)
    if (cat[i].name == name) return static_cast<int>(i);
  return -1;
}

}  // namespace clearsight::xray

namespace clearsight {

Result<double> FormulaZEff(std::string_view formula) {
  CS_ASSIGN_OR_RETURN(xray::Composition c, xray::ParseRecipe(formula));
  return xray::ZEffOf(c);
}

Result<std::vector<double>> FormulaMassAttenuation(std::string_view formula,
                                                   const std::vector<double>& energies_kev) {
  CS_ASSIGN_OR_RETURN(xray::Composition c, xray::ParseRecipe(formula));
  return xray::MassAttenuation(c, energies_kev);
}

}  // namespace clearsight
