// Material analysis on scanners the project never simulated: transmissions from first principles
// (xraylib cross sections, a Kramers spectrum, an energy-integrating CsI detector), written here
// apart from src/xray/physics (no W lines, no SVD basis, other filters and wedge sets). Scanners
// are drawn at random over the ranges a site may have; the calibration sees only its own wedge
// steps; objects of known composition at thicknesses inside and outside the wedges' range must
// come out in the right class with the right mass.
#include <gtest/gtest.h>
#include <xraylib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_materials.h"

namespace clearsight {
namespace {

// Mass attenuation (cm2/g) of a formula at each energy of the grid, with coherent scattering.
std::vector<double> MassAttenuation(const std::string& formula, const std::vector<double>& kev) {
  std::vector<double> mu(kev.size());
  for (size_t k = 0; k < kev.size(); ++k) {
    xrl_error* err = nullptr;
    mu[k] = CS_Total_CP(formula.c_str(), kev[k], &err);
    if (err) {
      ADD_FAILURE() << formula << ": " << err->message;
      xrl_error_free(err);
      return {};
    }
  }
  return mu;
}

struct Material {
  const char* name;
  const char* formula;
  double density;  // g/cm3
  MaterialClass truth;
};

// One channel: photons x energy deposited x detector absorption, per energy bin.
using Weights = std::vector<double>;

struct Scanner {
  std::string description;
  std::vector<double> kev;
  Weights low, high;
  // -ln(I/I0) of each channel through `g_cm2` of a material with mass attenuation `mu`.
  std::pair<double, double> Log(const std::vector<double>& mu, double g_cm2) const {
    double il = 0, ih = 0, l0 = 0, h0 = 0;
    for (size_t k = 0; k < kev.size(); ++k) {
      const double t = std::exp(-mu[k] * g_cm2);
      il += low[k] * t;
      ih += high[k] * t;
      l0 += low[k];
      h0 += high[k];
    }
    return {-std::log(il / l0), -std::log(ih / h0)};
  }
};

// Kramers' bremsstrahlung through filters, absorbed in CsI (energy-integrating).
Weights Beam(const std::vector<double>& kev, double kvp, double al_mm, double cu_mm,
             const std::vector<double>& mu_al, const std::vector<double>& mu_cu) {
  Weights w(kev.size(), 0);
  for (size_t k = 0; k < kev.size(); ++k)
    if (kev[k] < kvp)
      w[k] = (kvp - kev[k]) / kev[k] * std::exp(-mu_al[k] * 2.70 * al_mm / 10) *
             std::exp(-mu_cu[k] * 8.96 * cu_mm / 10);
  return w;
}

Scanner RandomScanner(std::mt19937_64& rng) {
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  Scanner s;
  for (double e = 10; e <= 180; e += 1) s.kev.push_back(e);
  const auto mu_al = MassAttenuation("Al", s.kev), mu_cu = MassAttenuation("Cu", s.kev),
             mu_csi = MassAttenuation("CsI", s.kev);
  auto absorbed = [&](Weights w, double csi_mm, double behind_cu_mm, double behind_csi_mm) {
    for (size_t k = 0; k < s.kev.size(); ++k)
      w[k] *= s.kev[k] * std::exp(-mu_csi[k] * 4.51 * behind_csi_mm / 10) *
              std::exp(-mu_cu[k] * 8.96 * behind_cu_mm / 10) *
              (1 - std::exp(-mu_csi[k] * 4.51 * csi_mm / 10));
    return w;
  };
  char text[200];
  if (rng() % 2 == 0) {  // dual kVp: two exposures through one detector
    const double lo_kvp = uni(75, 110), hi_kvp = uni(140, 180), al = uni(0.5, 3), cu = uni(0, 1.5),
                 csi = uni(0.3, 1.5);
    s.low = absorbed(Beam(s.kev, lo_kvp, al, 0, mu_al, mu_cu), csi, 0, 0);
    s.high = absorbed(Beam(s.kev, hi_kvp, al + 1, cu, mu_al, mu_cu), csi, 0, 0);
    std::snprintf(text, sizeof text, "dual-kVp %.0f/%.0f kVp, %.1f mm Al, +%.2f mm Cu, CsI %.2f mm",
                  lo_kvp, hi_kvp, al, cu, csi);
  } else {  // dual layer: thin front CsI, copper, thick back CsI
    const double kvp = uni(80, 180), al = uni(0.5, 4), front = uni(0.1, 0.6), cu = uni(0.1, 1.2),
                 back = uni(1, 5);
    const Weights beam = Beam(s.kev, kvp, al, 0, mu_al, mu_cu);
    s.low = absorbed(beam, front, 0, 0);
    s.high = absorbed(beam, back, cu, front);
    std::snprintf(text, sizeof text,
                  "dual-layer %.0f kVp, %.1f mm Al, CsI %.2f / Cu %.2f / CsI %.2f mm", kvp, al,
                  front, cu, back);
  }
  s.description = text;
  return s;
}

// Wedge sets of three materials: low, middle and high Z, 5..8 steps each.
struct WedgeMaterial {
  const char* name;
  const char* formula;
  double density;
  double min_mm, max_mm;
};
const std::vector<std::vector<WedgeMaterial>> kWedgeSets = {
    {{"POM", "CH2O", 1.41, 3, 60}, {"aluminium", "Al", 2.70, 1, 30}, {"iron", "Fe", 7.87, 0.3, 8}},
    {{"PMMA", "C5H8O2", 1.18, 4, 80},
     {"aluminium", "Al", 2.70, 1, 40},
     {"copper", "Cu", 8.96, 0.2, 5}},
    {{"PE", "C2H4", 0.94, 5, 100}, {"magnesium", "Mg", 1.74, 2, 50}, {"steel", "Fe", 7.87, 0.2, 6}},
};

const std::vector<Material> kObjects = {
    {"water", "H2O", 1.00, MaterialClass::kOrganic},
    {"sugar", "C12H22O11", 1.59, MaterialClass::kOrganic},
    {"polyethylene", "C2H4", 0.94, MaterialClass::kOrganic},
    {"cotton", "C6H10O5", 1.50, MaterialClass::kOrganic},
    {"rubber", "C5H8", 0.92, MaterialClass::kOrganic},
    {"cocaine", "C17H21NO4", 1.20, MaterialClass::kOrganic},
    {"glass", "Si0.33O0.6Na0.07Ca0.05", 2.50, MaterialClass::kInorganic},
    {"aluminium", "Al", 2.70, MaterialClass::kInorganic},
    {"salt", "NaCl", 2.16, MaterialClass::kInorganic},
    {"steel", "Fe", 7.87, MaterialClass::kMetal},
    {"copper", "Cu", 8.96, MaterialClass::kMetal},
};

struct Tally {
  int right = 0, all = 0;
  std::vector<double> mass_errors;
  std::map<std::string, std::pair<int, int>> by_object;  // right, all
};

// Calibrates on the scanner's wedges and scores every object at thicknesses from a tenth of the
// wedges' range to three times past it (as long as some light gets through both channels).
void Evaluate(const Scanner& s, const std::vector<WedgeMaterial>& set, int steps, Tally* t) {
  std::vector<CalibrationCurve> curves;
  for (const auto& w : set) {
    const auto mu = MassAttenuation(w.formula, s.kev);
    CalibrationCurve c{w.name, *FormulaZEff(w.formula), w.formula, {}};
    for (int i = 0; i < steps; ++i) {
      const double mm = w.min_mm * std::pow(w.max_mm / w.min_mm, i / double(steps - 1));
      const double g = w.density * mm / 10;
      auto [l, h] = s.Log(mu, g);
      c.points.push_back({l, h, g});
    }
    curves.push_back(std::move(c));
  }
  auto cal = Calibration::FromCurves(curves);
  ASSERT_TRUE(cal.ok()) << cal.status().message();
  EXPECT_NE(cal->Summary().find("curves extended"), std::string::npos) << cal->Summary();
  for (const auto& o : kObjects) {
    const auto mu = MassAttenuation(o.formula, s.kev);
    for (double mm : {0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0}) {
      const double g = o.density * mm / 10;
      auto [l, h] = s.Log(mu, g);
      if (h < 0.02 || l > 9) continue;  // invisible, or too dark for the low channel
      const double z = cal->ZEff(l, h);
      const bool right = cal->Classify(z) == o.truth;
      if (!right && getenv("CS_DEBUG"))
        std::printf("wrong: %s %.1f mm z_eff %.2f (true %.2f) on %s\n", o.name, mm, z,
                    *FormulaZEff(o.formula), s.description.c_str());
      t->right += right;
      ++t->all;
      auto& b = t->by_object[o.name];
      b.first += right;
      ++b.second;
      t->mass_errors.push_back(std::abs(cal->ArealDensity(h, z) / g - 1));
    }
  }
}

TEST(MaterialTransfer, ClassesAndMassesHoldOnRandomScannersAndWedgeSets) {
  std::mt19937_64 rng(20261207);
  Tally t;
  for (int i = 0; i < 24; ++i) {
    const Scanner s = RandomScanner(rng);
    const auto& set = kWedgeSets[i % kWedgeSets.size()];
    const int steps = 5 + static_cast<int>(rng() % 4);
    SCOPED_TRACE(s.description);
    Evaluate(s, set, steps, &t);
  }
  std::string detail;
  for (const auto& [name, b] : t.by_object)
    detail += name + " " + std::to_string(b.first) + "/" + std::to_string(b.second) + "  ";
  std::nth_element(t.mass_errors.begin(), t.mass_errors.begin() + t.mass_errors.size() / 2,
                   t.mass_errors.end());
  const double median_mass_error = t.mass_errors[t.mass_errors.size() / 2];
  std::printf("class right %d/%d = %.3f; median mass error %.3f\n%s\n", t.right, t.all,
              double(t.right) / t.all, median_mass_error, detail.c_str());
  EXPECT_GE(double(t.right) / t.all, 0.95) << detail;
  EXPECT_LE(median_mass_error, 0.10);
}

}  // namespace
}  // namespace clearsight
