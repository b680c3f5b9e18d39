// indsim: an independent dual-energy X-ray scan simulator for judging Clearsight's analysis,
// detector and `xray adapt` on scanners and parcels the project never made. See README.md.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "imaging.h"
#include "output.h"
#include "physics.h"
#include "rng.h"
#include "scene.h"
#include "score.h"

namespace fs = std::filesystem;

namespace indsim {
namespace {

constexpr const char* kUsage = R"(usage: indsim --out DIR [--scanner NAME] [--seed N] [--scans N]
              [--threat-share X] [--misdeclared-share Y] [--width W] [--height H]
              [--threads T] [--sparse] [--pixel-mm X] [--gain-stripe-sd X] [--dose-scale X]
              [--wedges-only [--wedge-materials A,B,C] [--wedge-steps N]]

An X-ray scan simulator written apart from Clearsight's own (no shared code, shapes or spectra):
tungsten tube spectra with K lines and anode self-absorption, filtration and air, dual-layer or
dual-kVp energy-integrating detectors, fan-beam projection through procedural parcels, quantum
noise, Gaussian/Lorentzian blur, scatter, per-row gain stripes. Writes scan format v1
(docs/scan-format.md): DIR/<scan_id>.tif + .json, DIR/truth/<scan_id>.json, DIR/declarations.csv
and DIR/declarations_truth.csv; with --wedges-only, step-wedge scans for xray calibrate.

  --scanner NAME          dual-layer-160 (default), dual-kvp-100-160, dual-layer-120-gos,
                          dual-kvp-90-150, or random-K (scanner K of the random family:
                          80-180 kVp, filtration, scintillators, Cu filter, 0.7-1.5 mm pixels)
  --seed N                parcels of scan i depend only on (N, i) (default 1)
  --scans N               number of parcels (default 100)
  --threat-share X        share of parcels holding a threat (default 0.1)
  --misdeclared-share Y   share of declarations naming goods of another category (default 0.05)
  --width W, --height H   image size in pixels, W along the belt (default 1024 x 768)
  --threads T             scans rendered in parallel (default 1)
  --sparse                fewer goods per parcel, spread apart (more isolated objects)
  --pixel-mm X, --gain-stripe-sd X, --dose-scale X
                          override the preset's pixel size, row-gain stripes (relative sd) and
                          photons per pixel (a factor), for ablations
  --wedges-only           write step-wedge scans instead of parcels
  --wedge-materials LIST  wedge materials (default POM,aluminium,iron; also PMMA, pe, magnesium,
                          copper, steel, glass, water)
  --wedge-steps N         steps per wedge (default 7)
  --print-scanner         print the scanner's parameters as JSON and exit

usage: indsim score-materials --in DIR --results R.jsonl [--json] [--min-mass-kg 0.1]
Scores `clearsight xray analyze` results against DIR/truth: the material class of isolated
goods (not threats or packaging, >= 0.1 kg, >= 85 % of their mass in one class), matched to the
analysed object of most mass lying mostly inside the truth box (box IoU >= 0.2).
)";

struct Args {
  std::string out, scanner = "dual-layer-160";
  uint64_t seed = 1;
  int scans = 100, width = 1024, height = 768, threads = 1, wedge_steps = 7;
  double threat_share = 0.1, misdeclared_share = 0.05;
  bool wedges_only = false, print_scanner = false, sparse = false;
  std::optional<double> pixel_mm, gain_stripe_sd, dose_scale;  // overrides of the preset
  std::vector<std::string> wedge_materials = {"POM", "aluminium", "iron"};
};

[[noreturn]] void Fail(const std::string& msg) {
  std::fprintf(stderr, "indsim: %s\n", msg.c_str());
  std::exit(2);
}

double ParseNumber(const std::string& flag, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !(x >= lo && x <= hi))
    Fail(flag + ": '" + v + "' is not a number in [" + JsonNumber(lo) + ", " + JsonNumber(hi) +
         "]");
  return x;
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Fail(f + " needs a value (see indsim --help)");
      return argv[++i];
    };
    if (f == "--help" || f == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (f == "--out")
      a.out = value();
    else if (f == "--scanner")
      a.scanner = value();
    else if (f == "--seed")
      a.seed = static_cast<uint64_t>(ParseNumber(f, value(), 0, 1e15));
    else if (f == "--scans")
      a.scans = static_cast<int>(ParseNumber(f, value(), 1, 1e7));
    else if (f == "--threat-share")
      a.threat_share = ParseNumber(f, value(), 0, 1);
    else if (f == "--misdeclared-share")
      a.misdeclared_share = ParseNumber(f, value(), 0, 1);
    else if (f == "--width")
      a.width = static_cast<int>(ParseNumber(f, value(), 64, 8192));
    else if (f == "--height")
      a.height = static_cast<int>(ParseNumber(f, value(), 64, 8192));
    else if (f == "--threads")
      a.threads = static_cast<int>(ParseNumber(f, value(), 1, 64));
    else if (f == "--wedges-only")
      a.wedges_only = true;
    else if (f == "--sparse")
      a.sparse = true;
    else if (f == "--pixel-mm")
      a.pixel_mm = ParseNumber(f, value(), 0.2, 5);
    else if (f == "--gain-stripe-sd")
      a.gain_stripe_sd = ParseNumber(f, value(), 0, 0.1);
    else if (f == "--dose-scale")
      a.dose_scale = ParseNumber(f, value(), 0.01, 100);
    else if (f == "--print-scanner")
      a.print_scanner = true;
    else if (f == "--wedge-steps")
      a.wedge_steps = static_cast<int>(ParseNumber(f, value(), 2, 12));
    else if (f == "--wedge-materials") {
      a.wedge_materials.clear();
      std::stringstream ss(value());
      for (std::string m; std::getline(ss, m, ',');)
        if (!m.empty()) a.wedge_materials.push_back(m);
      if (a.wedge_materials.size() < 2) Fail("--wedge-materials needs at least two materials");
    } else
      Fail("unknown option '" + f + "' (see indsim --help)");
  }
  if (a.out.empty() && !a.print_scanner) Fail("--out DIR is required (see indsim --help)");
  return a;
}

ScannerParams Preset(const std::string& name) {
  ScannerParams p;
  p.name = name;
  if (name == "dual-layer-160") {
    return p;  // the defaults in physics.h
  } else if (name == "dual-kvp-100-160") {
    p.kind = DetectorKind::kDualKvp;
    p.kvp_low = 100, p.kvp_high = 160;
    p.al_filter_mm = 1.5, p.cu_filter_high_mm = 0.8;
    p.scint_front = "CsI", p.scint_front_mm = 0.8;
    p.pixel_mm = 0.8;
    p.quanta_low = 3e4, p.quanta_high = 5e4;
    p.blur_sigma_low = p.blur_sigma_high = 0.7;
    p.source_height_mm = 1500;
    return p;
  } else if (name == "dual-layer-120-gos") {
    p.kvp_low = p.kvp_high = 120;
    p.scint_front = "GOS", p.scint_front_mm = 0.15;
    p.interfilter_cu_mm = 0.3;
    p.scint_back = "GOS", p.scint_back_mm = 0.6;
    p.pixel_mm = 1.2, p.al_filter_mm = 1.0;
    p.blur_sigma_low = 0.5, p.blur_sigma_high = 0.7;
    return p;
  } else if (name == "dual-kvp-90-150") {
    p.kind = DetectorKind::kDualKvp;
    p.kvp_low = 90, p.kvp_high = 150;
    p.al_filter_mm = 3.0, p.cu_filter_high_mm = 0.5;
    p.scint_front = "GOS", p.scint_front_mm = 0.4;
    p.pixel_mm = 1.4, p.source_height_mm = 1900;
    return p;
  } else if (name.rfind("random-", 0) == 0) {
    const std::string k = name.substr(7);
    Rng r(0xC0FFEEull + static_cast<uint64_t>(ParseNumber("--scanner random-K", k, 0, 1e9)));
    if (r.Chance(0.5)) {
      p.kind = DetectorKind::kDualLayer;
      p.kvp_low = p.kvp_high = std::round(r.U(80, 180));
      const bool gos = r.Chance(0.3);
      p.scint_front = gos ? "GOS" : "CsI";
      p.scint_front_mm = gos ? r.U(0.1, 0.3) : r.U(0.2, 0.6);
      p.interfilter_cu_mm = r.U(0.2, 1.2);
      p.scint_back = "CsI", p.scint_back_mm = r.U(2, 5);
    } else {
      p.kind = DetectorKind::kDualKvp;
      p.kvp_low = std::round(r.U(80, 110));
      p.kvp_high = std::round(r.U(140, 180));
      p.cu_filter_high_mm = r.U(0.3, 1.5);
      const bool gos = r.Chance(0.3);
      p.scint_front = gos ? "GOS" : "CsI";
      p.scint_front_mm = gos ? r.U(0.2, 0.5) : r.U(0.4, 1.5);
    }
    p.anode_angle_deg = r.U(10, 20);
    p.al_filter_mm = r.U(1, 4);
    p.pixel_mm = std::round(r.U(0.7, 1.5) * 100) / 100;
    p.source_height_mm = r.U(1400, 2000);
    p.quanta_low = r.LogU(1.5e4, 6e4), p.quanta_high = r.LogU(2.5e4, 9e4);
    p.blur_sigma_low = r.U(0.4, 1.0), p.blur_sigma_high = r.U(0.5, 1.2);
    p.tail_share = r.U(0.02, 0.08), p.tail_gamma_px = r.U(2, 5);
    p.scatter_share = r.U(0.003, 0.01), p.scatter_floor = r.U(0.0005, 0.003);
    p.gain_stripe_sd = r.U(0.002, 0.008);
    return p;
  }
  Fail("unknown scanner '" + name +
       "' (dual-layer-160, dual-kvp-100-160, dual-layer-120-gos, dual-kvp-90-150, random-K)");
}

std::string ScannerJson(const ScannerParams& p) {
  JsonObject j;
  j.Str("name", p.name)
      .Str("detector", p.kind == DetectorKind::kDualLayer ? "dual-layer" : "dual-kvp")
      .Num("kvp_low", p.kvp_low)
      .Num("kvp_high", p.kvp_high)
      .Num("anode_angle_deg", p.anode_angle_deg, 4)
      .Num("be_window_mm", p.be_window_mm, 4)
      .Num("oil_mm", p.oil_mm, 4)
      .Num("al_filter_mm", p.al_filter_mm, 4)
      .Num("cu_filter_high_mm", p.cu_filter_high_mm, 4)
      .Num("air_mm", p.air_mm, 4)
      .Str("scint_front", p.scint_front)
      .Num("scint_front_mm", p.scint_front_mm, 4);
  if (p.kind == DetectorKind::kDualLayer)
    j.Num("interfilter_cu_mm", p.interfilter_cu_mm, 4)
        .Str("scint_back", p.scint_back)
        .Num("scint_back_mm", p.scint_back_mm, 4);
  j.Num("source_height_mm", p.source_height_mm, 5)
      .Num("quanta_low_per_mm2", p.quanta_low, 4)
      .Num("quanta_high_per_mm2", p.quanta_high, 4)
      .Num("blur_sigma_low_px", p.blur_sigma_low, 4)
      .Num("blur_sigma_high_px", p.blur_sigma_high, 4)
      .Num("tail_share", p.tail_share, 4)
      .Num("tail_gamma_px", p.tail_gamma_px, 4)
      .Num("scatter_share", p.scatter_share, 4)
      .Num("scatter_floor", p.scatter_floor, 4)
      .Num("gain_stripe_sd", p.gain_stripe_sd, 4);
  return j.Dump();
}

JsonObject Sidecar(const std::string& scan_id, const ScannerParams& p) {
  JsonObject j;
  j.Str("scan_id", scan_id)
      .Num("pixel_mm", p.pixel_mm)
      .Str("device", "indsim " + p.name)
      .Num("kvp_low", p.kvp_low)
      .Num("kvp_high", p.kvp_high)
      .Str("modality", "xray-dual-energy");
  return j;
}

std::string Check(const std::string& err) {
  if (!err.empty()) Fail(err);
  return err;
}

struct World {
  ScannerParams scanner;
  EnergyGrid grid;
  MaterialTable mats;
  ScannerResponse resp;
  explicit World(const ScannerParams& p)
      : scanner(p),
        grid(std::max(p.kvp_low, p.kvp_high)),
        mats(grid),
        resp(BuildResponse(p, grid)) {
    // Photons per pixel scale with its area.
    resp.low.quanta = p.quanta_low * p.pixel_mm * p.pixel_mm;
    resp.high.quanta = p.quanta_high * p.pixel_mm * p.pixel_mm;
  }
};

void WriteWedges(const Args& a, const World& w) {
  const int n = static_cast<int>(a.wedge_materials.size());
  for (const auto& name : a.wedge_materials) {
    bool known = false;
    for (size_t i = 0; i < w.mats.size(); ++i)
      known = known || w.mats[static_cast<int>(i)].name == name;
    if (!known) {
      std::string names;
      for (size_t i = 0; i < w.mats.size(); ++i)
        names += (i ? ", " : "") + w.mats[static_cast<int>(i)].name;
      Fail("--wedge-materials: unknown material '" + name + "' (one of: " + names + ")");
    }
  }
  for (int mi = 0; mi < n; ++mi) {
    const Material& m = w.mats[w.mats.Id(a.wedge_materials[static_cast<size_t>(mi)])];
    // Steps spaced evenly in log of the high image, from thin to nearly opaque.
    const double lo = 0.08, hi = 4.2;
    const int steps = a.wedge_steps;
    const double gap = 12, margin = 40;
    const double step_px = (a.width - 2 * margin - gap * (steps - 1)) / steps;
    if (step_px < 20) Fail("--width too small for " + std::to_string(steps) + " wedge steps");
    std::vector<SceneObject> objs;
    std::string steps_json = "[";
    for (int s = 0; s < steps; ++s) {
      const double target = lo * std::pow(hi / lo, s / (steps - 1.0));
      double g0 = 1e-4, g1 = 500;
      for (int it = 0; it < 60; ++it) {
        const double gm = std::sqrt(g0 * g1);
        (HighLog(m, gm, w.resp) < target ? g0 : g1) = gm;
      }
      double t_mm = std::sqrt(g0 * g1) / m.density * 10;
      t_mm = t_mm < 2 ? std::round(t_mm * 20) / 20 : std::round(t_mm * 2) / 2;
      const double g = t_mm / 10 * m.density;
      const double x0 = margin + s * (step_px + gap), x1 = x0 + step_px;
      const double y0 = a.height * 0.35, y1 = a.height * 0.65;
      SceneObject o;
      o.name = "wedge step";
      o.packaging = true;
      Part p;
      p.shape.kind = ShapeKind::kCuboid;
      p.shape.a = (x1 - x0) * w.scanner.pixel_mm / 2;
      p.shape.b = (y1 - y0) * w.scanner.pixel_mm / 2;
      p.shape.c = t_mm;
      p.material = w.mats.Id(m.name);
      p.density = m.density;
      p.x = (x0 + x1) / 2 * w.scanner.pixel_mm;
      p.y = (y0 + y1) / 2 * w.scanner.pixel_mm;
      p.z = t_mm / 2;
      o.parts.push_back(p);
      objs.push_back(o);
      const int inset = 6;
      if (s) steps_json += ",";
      JsonObject st;
      st.Str("material", m.name)
          .Str("formula", m.formula)
          .Num("z_eff", m.z_eff, 4)
          .Num("density_g_cm3", m.density, 5)
          .Num("thickness_mm", t_mm, 5)
          .Num("areal_density_g_cm2", g, 6)
          .Raw("region", "[" + std::to_string(static_cast<int>(std::ceil(x0)) + inset) + "," +
                             std::to_string(static_cast<int>(std::ceil(y0)) + inset) + "," +
                             std::to_string(static_cast<int>(std::floor(x1)) - inset) + "," +
                             std::to_string(static_cast<int>(std::floor(y1)) - inset) + "]");
      steps_json += st.Dump();
    }
    steps_json += "]";
    uint64_t wedge_seed = a.seed + 0x5EED + static_cast<uint64_t>(mi);
    Rng rng(Rng::SplitMix(wedge_seed));
    RenderOptions ro;
    ro.width = a.width, ro.height = a.height;
    Image img = Render(objs, w.mats, w.grid, w.scanner, w.resp, ro, rng);
    std::string id = "wedge_" + m.name;
    for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    Check(WriteScanTiff((fs::path(a.out) / (id + ".tif")).string(), img.width, img.height, img.low,
                        img.high));
    JsonObject side = Sidecar(id, w.scanner);
    side.Raw("wedge", "{\"steps\":" + steps_json + "}").Raw("indsim", ScannerJson(w.scanner));
    Check(WriteText((fs::path(a.out) / (id + ".json")).string(), side.Dump() + "\n"));
    std::fprintf(stderr, "indsim: wrote %s (%d steps)\n", id.c_str(), steps);
  }
}

std::string Pad(long long i, int width) {
  std::string s = std::to_string(i);
  return std::string(static_cast<size_t>(std::max(0, width - static_cast<int>(s.size()))), '0') + s;
}

struct ScanRows {
  std::string declaration, truth;
  bool threat = false, misdeclared = false;
};

ScanRows MakeScan(const Args& a, const World& w, int i) {
  uint64_t s = a.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(i) * 0xD1B54A32D192ED03ull;
  Rng rng(Rng::SplitMix(s));
  SceneOptions so;
  so.belt_length_mm = a.width * w.scanner.pixel_mm;
  so.belt_width_mm = a.height * w.scanner.pixel_mm;
  so.source_height_mm = w.scanner.source_height_mm;
  so.threat = rng.Chance(a.threat_share);
  so.misdeclared = rng.Chance(a.misdeclared_share);
  so.sparse = a.sparse;
  Parcel parcel = MakeParcel(rng, w.mats, so);
  RenderOptions ro;
  ro.width = a.width, ro.height = a.height;
  Image img = Render(parcel.objects, w.mats, w.grid, w.scanner, w.resp, ro, rng);

  const std::string tag = std::to_string(a.seed) + "-" + Pad(i + 1, 6);
  const std::string scan_id = "IS" + tag, consignment = "IC" + tag, decl_id = "ID" + tag;
  Check(WriteScanTiff((fs::path(a.out) / (scan_id + ".tif")).string(), img.width, img.height,
                      img.low, img.high));
  JsonObject side = Sidecar(scan_id, w.scanner);
  side.Str("consignment_id", consignment).Raw("indsim", ScannerJson(w.scanner));
  Check(WriteText((fs::path(a.out) / (scan_id + ".json")).string(), side.Dump() + "\n"));

  // Truth.
  double goods_kg = 0;
  std::string objs = "[";
  int id = 0;
  for (const auto& t : img.truth) {
    if (!t.visible) continue;
    const SceneObject& o = *t.source;
    if (!o.packaging && !o.threat) goods_kg += t.mass_kg;
    std::string rle = "[", parts = "[";
    for (size_t k = 0; k < t.mask_rle.size(); ++k)
      rle += (k ? "," : "") + std::to_string(t.mask_rle[k]);
    for (size_t k = 0; k < t.parts.size(); ++k) {
      JsonObject p;
      p.Str("material", t.parts[k].material).Num("mass_kg", t.parts[k].mass_kg);
      parts += (k ? "," : "") + p.Dump();
    }
    JsonObject j;
    j.Int("id", ++id)
        .Str("name", o.name)
        .Str("category", o.category)
        .Str("hs_code", o.hs_code)
        .Bool("threat", o.threat)
        .Str("threat_class", o.threat_class)
        .Bool("packaging", o.packaging)
        .Bool("isolated", t.isolated)
        .Bool("concealed", t.concealed)
        .Str("material", t.material)
        .Str("material_class", MatClassName(t.material_class))
        .Num("z_eff", t.z_eff, 5)
        .Num("class_purity", t.class_purity, 4)
        .Num("mass_kg", t.mass_kg, 5)
        .Raw("box", "[" + std::to_string(t.box[0]) + "," + std::to_string(t.box[1]) + "," +
                        std::to_string(t.box[2]) + "," + std::to_string(t.box[3]) + "]")
        .Raw("mask_rle", rle + "]")
        .Raw("parts", parts + "]");
    objs += (id > 1 ? ",\n" : "\n") + j.Dump();
  }
  objs += "\n]";
  const double noise = std::exp(0.3 * rng.N());
  const double true_value = goods_kg * parcel.true_goods.price_per_kg * noise;
  const double declared_value = goods_kg * parcel.declared_goods.price_per_kg * noise;
  JsonObject truth;
  truth.Str("scan_id", scan_id)
      .Str("consignment_id", consignment)
      .Str("declaration_id", decl_id)
      .Str("container",
           parcel.objects.size() > 1 && parcel.objects[0].name == "tray" ? "tray" : "parcel")
      .Int("width", img.width)
      .Int("height", img.height)
      .Num("pixel_mm", w.scanner.pixel_mm)
      .Raw("objects", objs)
      .Str("declaration_truth", parcel.misdeclared ? "misdeclared" : "honest")
      .Str("true_hs_code", parcel.true_goods.hs_code)
      .Str("true_description", parcel.true_goods.description)
      .Num("true_value", true_value, 8)
      .Num("true_net_mass_kg", goods_kg, 6)
      .Str("simulator", "indsim");
  Check(WriteText((fs::path(a.out) / "truth" / (scan_id + ".json")).string(), truth.Dump() + "\n"));

  static const char* kOrigins[] = {"CN", "TR", "IN", "VN", "US", "GB", "TH", "MA", "CO", "PL"};
  const double net_kg = std::max(0.01, goods_kg * rng.U(0.92, 1.08));
  char date[32];
  std::snprintf(date, sizeof date, "2026-%02d-%02d", rng.I(1, 11), rng.I(1, 28));
  ScanRows rows;
  rows.declaration = decl_id + "," + date + ",IMP" + Pad(rng.I(1, 400), 4) + "," +
                     parcel.declared_goods.hs_code + "," + kOrigins[rng.I(0, 9)] + "," +
                     JsonNumber(net_kg, 4) + "," + JsonNumber(declared_value, 6) + ",EUR," +
                     CsvField(parcel.declared_goods.description) + "," + consignment + ",IND01,CR" +
                     std::to_string(rng.I(1, 5)) + "\n";
  rows.truth = decl_id + "," + consignment + "," + scan_id + "," +
               (parcel.misdeclared ? "misdeclared" : "honest") + "," + parcel.true_goods.hs_code +
               "," + JsonNumber(true_value, 6) + "," + (parcel.has_threat ? "1" : "0") + "," +
               CsvField(parcel.true_goods.description) + "\n";
  rows.threat = parcel.has_threat;
  rows.misdeclared = parcel.misdeclared;
  return rows;
}

ScannerParams ScannerOf(const Args& a) {
  ScannerParams sp = Preset(a.scanner);
  if (a.pixel_mm) sp.pixel_mm = *a.pixel_mm;
  if (a.gain_stripe_sd) sp.gain_stripe_sd = *a.gain_stripe_sd;
  if (a.dose_scale) sp.quanta_low *= *a.dose_scale, sp.quanta_high *= *a.dose_scale;
  return sp;
}

int Run(Args a) {
  if (a.print_scanner) {
    std::printf("%s\n", ScannerJson(ScannerOf(a)).c_str());
    return 0;
  }
  const ScannerParams sp = ScannerOf(a);
  std::error_code ec;
  fs::create_directories(fs::path(a.out) / (a.wedges_only ? "" : "truth"), ec);
  if (ec) Fail(a.out + ": " + ec.message());
  const World w(sp);
  if (a.wedges_only) {
    WriteWedges(a, w);
    return 0;
  }
  std::vector<ScanRows> rows(static_cast<size_t>(a.scans));
  const auto t0 = std::chrono::steady_clock::now();
  std::mutex mu;
  int done = 0;
  auto worker = [&](int t) {
    for (int i = t; i < a.scans; i += a.threads) {
      rows[static_cast<size_t>(i)] = MakeScan(a, w, i);
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      if (done % 10 == 0 || done == a.scans) {
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "indsim: %d/%d scans, %.2f s/scan, %.0f s left\n", done, a.scans,
                     s / done, s / done * (a.scans - done));
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < a.threads; ++t) pool.emplace_back(worker, t);
  for (auto& th : pool) th.join();
  std::string decl =
      "declaration_id,date,importer_id,hs_code,origin_country,net_mass_kg,declared_value,currency,"
      "description,consignment_id,office_id,courier_id\n";
  std::string truth =
      "declaration_id,consignment_id,scan_id,truth,true_hs_code,true_value,has_threat,"
      "true_description\n";
  int threats = 0, mis = 0;
  for (const auto& r : rows) {
    decl += r.declaration;
    truth += r.truth;
    threats += r.threat;
    mis += r.misdeclared;
  }
  Check(WriteText((fs::path(a.out) / "declarations.csv").string(), decl));
  Check(WriteText((fs::path(a.out) / "declarations_truth.csv").string(), truth));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "indsim: %d scans (%d with threats, %d mis-declared) in %s, %.2f s/scan\n",
               a.scans, threats, mis, a.out.c_str(), s / a.scans);
  return 0;
}

}  // namespace
}  // namespace indsim

namespace indsim {
namespace {

int ScoreMain(int argc, char** argv) {
  ScoreOptions o;
  for (int i = 2; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Fail(f + " needs a value");
      return argv[++i];
    };
    if (f == "--in")
      o.data_dir = value();
    else if (f == "--results")
      o.results = value();
    else if (f == "--json")
      o.json = true;
    else if (f == "--min-mass-kg")
      o.min_mass_kg = ParseNumber(f, value(), 0, 1e3);
    else
      Fail("score-materials: unknown option '" + f + "'");
  }
  if (o.data_dir.empty() || o.results.empty())
    Fail("score-materials needs --in DIR and --results R.jsonl");
  return ScoreMaterials(o);
}

}  // namespace
}  // namespace indsim

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "score-materials") return indsim::ScoreMain(argc, argv);
  try {
    return indsim::Run(indsim::ParseArgs(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "indsim: %s\n", e.what());
    return 1;
  }
}
