// indsim physics: energy grid, materials from formulas (xraylib cross sections), tube spectra
// (Kramers continuum with anode self-absorption and tungsten K lines), filtration, air and the
// energy response of dual-layer and dual-kVp detectors.
#pragma once

#include <string>
#include <vector>

namespace indsim {

// Bins of kBinKev keV from kMinKev up to the highest tube voltage in use.
constexpr double kMinKev = 10.0;
constexpr double kBinKev = 2.0;

struct EnergyGrid {
  std::vector<double> kev;  // bin centres
  explicit EnergyGrid(double max_kvp);
  size_t size() const { return kev.size(); }
};

enum class MatClass { kOrganic, kInorganic, kMetal };
const char* MatClassName(MatClass c);

// A material: a formula ("C6H10O5") or a mixture by mass ("C6H10O5:0.9+CaCO3:0.1").
struct Material {
  std::string name;
  std::string formula;
  double density = 1;             // g/cm3 of the solid (shapes may use a bulk density instead)
  double z_eff = 0;               // power law over electron fractions, exponent 2.94
  double electrons_per_gram = 0;  // mol of electrons per gram (sum w Z / A)
  MatClass cls = MatClass::kOrganic;
  std::vector<float> mu;  // mass attenuation, cm2/g, per grid bin
};

// Mass attenuation (cm2/g) of a formula or mixture at one energy; throws std::runtime_error with
// the formula named when xraylib cannot parse it.
double MassAttenuation(const std::string& formula, double kev);
double MassEnergyAbsorption(const std::string& formula, double kev);
double ZEffective(const std::string& formula, double* electrons_per_gram = nullptr);
MatClass ClassOfZ(double z);

class MaterialTable {
 public:
  explicit MaterialTable(const EnergyGrid& grid);
  int Id(const std::string& name) const;  // throws for an unknown name
  const Material& operator[](int id) const { return mats_[static_cast<size_t>(id)]; }
  size_t size() const { return mats_.size(); }
  int Add(const std::string& name, const std::string& formula, double density);

 private:
  const EnergyGrid& grid_;
  std::vector<Material> mats_;
};

enum class DetectorKind { kDualLayer, kDualKvp };

// Everything a scanner preset or a seed decides.
struct ScannerParams {
  std::string name;
  DetectorKind kind = DetectorKind::kDualLayer;
  double kvp_low = 160, kvp_high = 160;  // dual layer: the same tube twice
  double anode_angle_deg = 12;
  double be_window_mm = 1.0, oil_mm = 3.0;  // inherent filtration
  double al_filter_mm = 2.0;                // added, both tubes
  double cu_filter_high_mm = 0.0;           // dual kVp: extra copper on the high tube
  double air_mm = 900;
  std::string scint_front = "CsI";  // dual layer front / dual kVp the only layer
  double scint_front_mm = 0.3;
  double interfilter_cu_mm = 0.5;  // dual layer
  std::string scint_back = "CsI";
  double scint_back_mm = 3.0;
  double pixel_mm = 1.0;
  double source_height_mm = 1700;                      // fan beam across the belt
  double quanta_low = 4e4, quanta_high = 6e4;          // detected photons per pixel in open beam
  double blur_sigma_low = 0.6, blur_sigma_high = 0.9;  // px, Gaussian core
  double tail_share = 0.04, tail_gamma_px = 3.0;       // Lorentzian tail
  double scatter_share = 0.006, scatter_floor = 0.0015;
  double gain_stripe_sd = 0.004;  // residual per-row gain after flat field
  double electronic_sd = 4e-5;
  double belt_mm = 4.0;
};

// One image channel's response: per bin the detected photons (sum 1 in open beam) and the mean
// energy each deposits, keV; quanta = detected photons per pixel in open beam.
struct ChannelResponse {
  std::vector<double> photons;
  std::vector<double> deposit_kev;
  std::vector<double> weight;  // photons * deposit, normalised to sum 1: I/I0 = sum weight T
  double quanta = 0;
  double swank_excess = 0.15;  // extra variance of the light yield per photon
};

// Photons per bin leaving a tungsten anode at `kvp` (arbitrary units), after self-absorption,
// with the K lines added when kvp is above the K edge.
std::vector<double> TubeSpectrum(const EnergyGrid& grid, double kvp, double anode_angle_deg);

struct ScannerResponse {
  ChannelResponse low, high;
};
ScannerResponse BuildResponse(const ScannerParams& p, const EnergyGrid& grid);

}  // namespace indsim
