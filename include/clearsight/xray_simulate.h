// Physics simulator of dual-energy parcel scans, with ground truth and a matching declaration.
//
// Polychromatic projection through objects built from real materials (attenuation from xraylib),
// tube spectra with filtration, an energy-integrating detector (dual-kVp or dual-layer), quantum
// noise, detector blur and a simple scatter term. Parcels hold ordinary goods tied to HS chapters,
// sometimes with a concealed threat. Everything is seeded: same options and index, same bytes.
// docs/xray-simulator.md describes the physics and the catalogue.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clearsight/declarations.h"
#include "clearsight/status.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_scan.h"
#include "clearsight/xray_scanner.h"
#include "clearsight/xray_tip.h"

namespace clearsight {

// One object in a simulated scan. Masks are run-length encoded over the row-major pixel index:
// [start0, length0, start1, length1, ...].
struct TruthPart {
  std::string material;
  double mass_kg = 0;
};
struct TruthObject {
  int id = 0;            // 1-based within the scan
  std::string name;      // "t_shirt", "pistol", "cardboard_box", ...
  std::string category;  // "clothing", "electronics", ..., "threat", "packaging"
  std::string hs_code;   // of the goods ("" for threats and packaging)
  bool threat = false;
  std::string threat_class;  // one of ThreatClasses() when threat
  bool packaging = false;
  bool isolated = false;   // no other object (packaging walls included) within 3 pixels
  bool concealed = false;  // a threat placed over or under goods
  std::string material;    // the material with the most mass
  MaterialClass material_class = MaterialClass::kNone;  // from z_eff of the whole object
  double z_eff = 0;         // of the object's whole elemental composition
  double class_purity = 1;  // mass share of parts whose own class is material_class
  double mass_kg = 0;
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // [x0,x1) x [y0,y1)
  std::vector<uint32_t> mask_rle;
  std::vector<TruthPart> parts;
};

enum class DeclarationTruth { kHonest, kMisdeclared, kUndervalued };
std::string_view DeclarationTruthName(
    DeclarationTruth t);  // "honest", "misdeclared", "undervalued"

struct ScanTruth {
  std::string scan_id;
  std::string consignment_id;
  std::string declaration_id;
  std::string container;  // "box" or "bag"
  int width = 0, height = 0;
  double pixel_mm = 0;
  std::vector<TruthObject> objects;
  DeclarationTruth declaration_truth = DeclarationTruth::kHonest;
  std::string true_hs_code;  // of the main goods
  std::string true_description;
  double true_value = 0;        // what the goods are worth, EUR
  double true_net_mass_kg = 0;  // goods without packaging and threats

  std::string ToJson() const;  // pretty-printed, sorted keys
  static Result<ScanTruth> FromJson(std::string_view json, std::string_view name);
};

// Expands a mask RLE to width*height bytes (1 inside). Fails when a run leaves the image.
Result<std::vector<uint8_t>> DecodeMaskRle(const std::vector<uint32_t>& rle, int width, int height);

struct SimulateOptions {
  int width = 1024;
  int height = 768;
  double pixel_mm = 0;  // 0: the 540 mm tunnel spans the height (0.70 mm at 768 rows)
  uint64_t seed = 1;
  double threat_rate = 0.2;        // share of parcels with a concealed threat
  double misdeclared_rate = 0.10;  // declaration names other goods than packed
  double undervalued_rate = 0.15;  // value declared at 10..45 % of the truth
  ScannerModel scanner = DualKvpScanner();
  // Goods mix: relative weight per goods category ("clothing", "electronics", ... see
  // GoodsCategoryNames()) for the parcel's main category and its other items. Empty: every
  // category equally likely (and the same bytes as before this option existed). A category left
  // out of a non-empty mix has weight 0. Held-out sets use other mixes than training sets.
  std::vector<std::pair<std::string, double>> goods_mix;
  // Threat families that may be drawn (ThreatFamilies() names); empty: the classic families.
  // Held-out sets are simulated with families left out of training.
  std::vector<std::string> threat_families;
  // Goods: also the extended types (dense organic goods that look like narcotics, procedural
  // assortments of the category's materials). Off: the classic catalogue and its bytes.
  bool extended_goods = false;
  int threads = 2;  // SimulateDataset only
  ScanWriteOptions write;
};

struct SimulatedScan {
  Scan scan;
  ScanTruth truth;
  Declaration declaration;
};

// Load once, run many: Create tabulates spectra and attenuation; Simulate is const and thread-safe.
class Simulator {
 public:
  static Result<std::unique_ptr<Simulator>> Create(const SimulateOptions& options);
  ~Simulator();

  // Parcel number `index` of this seed. Same options and index, same result, on any thread.
  Result<SimulatedScan> Simulate(int64_t index) const;

  // The standard step wedges (PE, POM, aluminium, steel), one scan per material, ids "wedge_<m>".
  Result<std::vector<WedgeScan>> SimulateWedges() const;

  // Noise-free threat patches (`per_class` of each threat class), for threat image projection.
  Result<ThreatLibrary> MakeThreatLibrary(int per_class) const;
  // The same threats as the materials along each ray (areal density per catalogue material), at
  // this simulator's pixel size: for projection into any calibrated scanner (RenderThreat).
  Result<std::vector<MaterialThreat>> MakeMaterialThreats(int per_class) const;
  // Threat `index` of `threat_class` (the one MakeMaterialThreats draws at that index) rasterized
  // afresh as a parcel's threat is: at rotation `angle_rad`, on a grid of `pixel_mm`, its centre
  // `offset_x`, `offset_y` (0..1) pixels into the grid, each pixel the ray through its centre, and
  // with the mask the truth would give it. For a projection without resampling
  // (ProjectOptions::on_scan_grid); a pixel smaller than the scan's enlarges the threat.
  Result<MaterialThreat> RenderMaterialThreat(std::string_view threat_class, int index,
                                              double angle_rad, double pixel_mm, double offset_x,
                                              double offset_y) const;

  const SimulateOptions& options() const { return options_; }
  // The blur and air noise of this simulator's scanner at its pixel size, for projections that
  // should look like its scans (ProjectOptions::imaging).
  ScannerImaging Imaging() const;
  // The energy-weighted mean energy (keV) each channel sees through air; for docs and tests.
  double MeanEnergyKev(bool high) const;
  // Noise-free, blur-free transmission of a uniform slab (tests of the physics).
  Result<double> SlabTransmission(std::string_view material, double areal_density_g_cm2,
                                  bool high) const;

 private:
  struct Impl;
  explicit Simulator(const SimulateOptions& options);
  SimulateOptions options_;
  std::unique_ptr<Impl> impl_;
  std::vector<double> mix_weights_;  // per GoodsCategories() entry; empty = uniform
  double mix_total_ = 0;
};

// The simulator's goods categories, in catalogue order: "clothing", "shoes", "books",
// "electronics", "toys", "food", "cosmetics", "tools", "ceramics".
std::vector<std::string> GoodsCategoryNames();
// The goods category of an HS code as the simulator uses them ("610910" -> "clothing"), "" when
// the code's chapter holds none of them.
std::string GoodsCategoryOfHs(std::string_view hs_code);

// Threat families: each a parametric generator of one threat class. The classic ones are the
// catalogue's fixed shapes with little variation; the others draw frames, barrels, blades,
// handles, brick sizes, wraps and cell layouts from ranges (docs/xray-simulator.md).
struct ThreatFamily {
  std::string name;
  std::string threat_class;
  bool classic = false;
};
std::vector<ThreatFamily> ThreatFamilies();
// "classic" (the default set), "all", a comma list of families or classes ("pistol,knife"), or a
// set with some taken out ("all,-revolver_frame,-blade_tanto"); read left to right.
Result<std::vector<std::string>> ParseThreatFamilies(std::string_view spec);

// Effective atomic number of a catalogue material by name ("cocaine_hcl", "steel", ...).
Result<double> MaterialZEff(std::string_view material);

struct DatasetReport {
  int64_t scans = 0;
  int64_t threats = 0;
  int64_t misdeclared = 0;
  int64_t undervalued = 0;
  double seconds = 0;
};

// Simulates `count` parcels into out_dir: <scan_id>.tif + <scan_id>.json, truth/<scan_id>.json,
// declarations.csv (native schema, linked by consignment_id) and declarations_truth.csv
// (declaration_id, consignment_id, scan_id, truth, true_hs_code, true_value, has_threat).
// Uses options.threads; output bytes do not depend on it. `progress` (may be empty) is called
// from the calling thread as scans complete.
Status SimulateDataset(const SimulateOptions& options, int64_t count, const std::string& out_dir,
                       const std::function<void(int64_t done, int64_t total)>& progress,
                       DatasetReport* report);

// Writes SimulateWedges() into out_dir as wedge scans.
Status WriteSimulatedWedges(const SimulateOptions& options, const std::string& out_dir);

}  // namespace clearsight
