// The parcel simulator: container, goods, an optional concealed threat, the physics, the ground
// truth and the declaration. Each parcel draws from its own seeded streams (geometry, noise,
// declaration), so parcel i is the same whatever else is simulated.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "clearsight/xray_simulate.h"
#include "xray/physics/materials.h"
#include "xray/physics/projector.h"
#include "xray/physics/random.h"
#include "xray/simulate/catalog.h"
#include "xray/simulate/geometry.h"

namespace clearsight {

using namespace xray;  // NOLINT: implementation file

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kTunnelMm = 540.0;  // across the belt
constexpr int kIsolationPx = 3;

struct Placed {
  Item item;
  Pose pose;
  double ex = 0, ey = 0;  // world half extents (axis aligned)
  bool concealed = false;
};

// Axis-aligned half extents of an item's footprint rotated by `angle`.
std::pair<double, double> RotatedExtents(const Item& item, double angle) {
  auto [hx, hy] = item.HalfExtents();
  double c = std::abs(std::cos(angle)), s = std::abs(std::sin(angle));
  return {hx * c + hy * s, hx * s + hy * c};
}

bool Overlaps(const Placed& a, double x, double y, double ex, double ey, double margin) {
  return std::abs(a.pose.x - x) < a.ex + ex + margin && std::abs(a.pose.y - y) < a.ey + ey + margin;
}

std::string Id(char prefix, uint64_t seed, int64_t index) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%c%llu-%06lld", prefix, static_cast<unsigned long long>(seed),
                static_cast<long long>(index));
  return buf;
}

const char* kOrigins[] = {"CN", "CN", "CN", "HK", "US", "DE", "TR",
                          "IN", "VN", "GB", "NL", "CO", "TH", "PK"};

}  // namespace

std::string_view DeclarationTruthName(DeclarationTruth t) {
  switch (t) {
    case DeclarationTruth::kHonest:
      return "honest";
    case DeclarationTruth::kMisdeclared:
      return "misdeclared";
    case DeclarationTruth::kUndervalued:
      return "undervalued";
  }
  return "honest";
}

std::vector<std::string> GoodsCategoryNames() {
  std::vector<std::string> out;
  for (const auto& c : GoodsCategories()) out.push_back(c.name);
  return out;
}

std::string GoodsCategoryOfHs(std::string_view hs_code) {
  if (hs_code.size() < 2 || hs_code[0] < '0' || hs_code[0] > '9' || hs_code[1] < '0' ||
      hs_code[1] > '9')
    return "";
  const int chapter = (hs_code[0] - '0') * 10 + (hs_code[1] - '0');
  for (const auto& c : GoodsCategories()) {
    // hs_chapters: "61-62" (a range), "95/39" (a list) or "64".
    const std::string& spec = c.hs_chapters;
    size_t i = 0;
    while (i < spec.size()) {
      int a = 0, b = -1;
      while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') a = a * 10 + (spec[i++] - '0');
      if (i < spec.size() && spec[i] == '-') {
        ++i;
        b = 0;
        while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') b = b * 10 + (spec[i++] - '0');
      }
      if (chapter == a || (b >= 0 && chapter >= a && chapter <= b)) return c.name;
      if (i < spec.size()) ++i;  // '/'
    }
  }
  return "";
}

Result<double> MaterialZEff(std::string_view material) {
  int i = MaterialIndex(material);
  if (i < 0) return Status::NotFound("no catalogue material '" + std::string(material) + "'");
  return MaterialCatalog()[i].z_eff;
}

struct Simulator::Impl {
  PhysicsModel model;
  double pixel_mm = 1;
  FamilyFilter families;                    // empty: the classic families
  std::vector<std::string> threat_classes;  // the classes with an allowed family
};

Simulator::Simulator(const SimulateOptions& options) : options_(options) {}
Simulator::~Simulator() = default;

Result<std::unique_ptr<Simulator>> Simulator::Create(const SimulateOptions& options) {
  if (options.width < 64 || options.height < 64 || options.width > 8192 || options.height > 8192)
    return Status::InvalidArgument("simulated scans must be 64..8192 pixels wide and high");
  for (double r : {options.threat_rate, options.misdeclared_rate, options.undervalued_rate})
    if (!(r >= 0 && r <= 1)) return Status::InvalidArgument("rates must lie in 0..1");
  if (options.misdeclared_rate + options.undervalued_rate > 1)
    return Status::InvalidArgument("misdeclared_rate + undervalued_rate must not exceed 1");
  if (options.pixel_mm < 0 || options.pixel_mm > 10)
    return Status::InvalidArgument("pixel_mm out of range");
  std::vector<double> mix;
  double mix_total = 0;
  if (!options.goods_mix.empty()) {
    const auto& cats = GoodsCategories();
    mix.assign(cats.size(), 0.0);
    for (const auto& [name, weight] : options.goods_mix) {
      size_t c = 0;
      while (c < cats.size() && cats[c].name != name) ++c;
      if (c == cats.size())
        return Status::InvalidArgument("goods mix: unknown goods category '" + name + "'");
      if (!(weight >= 0 && weight < 1e9))
        return Status::InvalidArgument("goods mix: weight of '" + name + "' must be >= 0");
      mix[c] += weight;
      mix_total += weight;
    }
    if (!(mix_total > 0)) return Status::InvalidArgument("goods mix: the weights sum to 0");
  }
  if (MaterialCatalog().empty())
    return Status::Internal("material catalogue failed to load (xraylib)");
  std::unique_ptr<Simulator> sim(new Simulator(options));
  sim->impl_ = std::make_unique<Impl>();
  sim->impl_->pixel_mm = options.pixel_mm > 0 ? options.pixel_mm : kTunnelMm / options.height;
  sim->mix_weights_ = std::move(mix);
  sim->mix_total_ = mix_total;
  CS_ASSIGN_OR_RETURN(sim->impl_->families, MakeFamilyFilter(options.threat_families));
  for (const auto& c : ThreatClasses())
    if (ClassHasFamily(c, sim->impl_->families)) sim->impl_->threat_classes.push_back(c);
  CS_ASSIGN_OR_RETURN(sim->impl_->model, BuildPhysics(options.scanner, sim->impl_->pixel_mm));
  return sim;
}

double Simulator::MeanEnergyKev(bool high) const {
  return impl_->model.channel[high ? 1 : 0].mean_kev;
}

ScannerImaging Simulator::Imaging() const {
  const PhysicsModel& m = impl_->model;
  ScannerImaging out;
  out.blur_sigma_low = m.channel[0].blur_sigma_px;
  out.blur_sigma_high = m.channel[1].blur_sigma_px;
  out.air_sd_low = m.channel[0].air_sd;
  out.air_sd_high = m.channel[1].air_sd;
  out.electronic_sd = m.electronic_noise;
  out.scatter_fraction = m.scatter_fraction;
  return out;
}

Result<double> Simulator::SlabTransmission(std::string_view material, double areal_density,
                                           bool high) const {
  int i = MaterialIndex(material);
  if (i < 0) return Status::NotFound("no catalogue material '" + std::string(material) + "'");
  auto mu = MassAttenuation(MaterialCatalog()[i].composition, impl_->model.grid.kev);
  return ExactTransmission(impl_->model, mu, areal_density, high ? 1 : 0);
}

namespace {

ScanMeta MakeMeta(const SimulateOptions& o, double pixel_mm, std::string scan_id) {
  ScanMeta m;
  m.scan_id = std::move(scan_id);
  m.pixel_mm = pixel_mm;
  m.device = o.scanner.name;
  m.kvp_low =
      o.scanner.kind == DetectorKind::kDualKvp ? o.scanner.tube_low.kvp : o.scanner.tube_high.kvp;
  m.kvp_high = o.scanner.tube_high.kvp;
  return m;
}

// Fills the truth record of one rasterised item.
TruthObject MakeTruth(const Placed& p, const ItemRaster& r, int id, const Canvas& cv) {
  TruthObject t;
  t.id = id;
  t.name = p.item.name;
  t.category = p.item.category;
  t.hs_code = p.item.hs_code;
  t.threat = p.item.threat;
  t.threat_class = p.item.threat_class;
  t.packaging = p.item.packaging;
  t.concealed = p.concealed;
  t.mass_kg = r.mass_kg;
  const auto& cat = MaterialCatalog();
  // Mass by material, the whole composition, and z_eff.
  std::vector<double> by_mat(cat.size(), 0.0);
  for (size_t i = 0; i < p.item.parts.size(); ++i)
    by_mat[p.item.parts[i].material] += r.part_mass_kg[i];
  std::vector<std::pair<const Composition*, double>> mix;
  size_t best = 0;
  for (size_t m = 0; m < by_mat.size(); ++m) {
    if (by_mat[m] <= 0) continue;
    mix.push_back({&cat[m].composition, by_mat[m]});
    t.parts.push_back({cat[m].name, by_mat[m]});
    if (by_mat[m] > by_mat[best]) best = m;
  }
  t.material = cat[best].name;
  if (!mix.empty()) {
    Composition whole = MixCompositions(mix);
    t.z_eff = ZEffOf(whole);
  }
  t.material_class = ClassifyZEff(t.z_eff);
  double same = 0;
  for (size_t m = 0; m < by_mat.size(); ++m)
    if (by_mat[m] > 0 && ClassifyZEff(cat[m].z_eff) == t.material_class) same += by_mat[m];
  t.class_purity = t.mass_kg > 0 ? same / t.mass_kg : 0;
  // Tight box of the mask.
  const int bw = r.x1 - r.x0;
  int x0 = cv.width, y0 = cv.height, x1 = 0, y1 = 0;
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x)
      if (r.mask[static_cast<size_t>(y - r.y0) * bw + (x - r.x0)]) {
        x0 = std::min(x0, x);
        y0 = std::min(y0, y);
        x1 = std::max(x1, x + 1);
        y1 = std::max(y1, y + 1);
      }
  if (x1 > x0) {
    t.x0 = x0;
    t.y0 = y0;
    t.x1 = x1;
    t.y1 = y1;
  }
  t.mask_rle = MaskToRle(r, cv.width);
  // Isolated: no other mask within kIsolationPx pixels.
  t.isolated = x1 > x0;
  if (t.isolated) {
    const int R = kIsolationPx;
    int ex0 = std::max(0, x0 - R), ey0 = std::max(0, y0 - R);
    int ex1 = std::min(cv.width, x1 + R), ey1 = std::min(cv.height, y1 + R);
    int ew = ex1 - ex0, eh = ey1 - ey0;
    std::vector<uint8_t> own(static_cast<size_t>(ew) * eh, 0), tmp(own.size(), 0),
        dil(own.size(), 0);
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x)
        if (x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1 &&
            r.mask[static_cast<size_t>(y - r.y0) * bw + (x - r.x0)])
          own[static_cast<size_t>(y - ey0) * ew + (x - ex0)] = 1;
    for (int y = 0; y < eh; ++y)
      for (int x = 0; x < ew; ++x) {
        uint8_t v = 0;
        for (int d = -R; d <= R && !v; ++d) {
          int xx = x + d;
          if (xx >= 0 && xx < ew) v = own[static_cast<size_t>(y) * ew + xx];
        }
        tmp[static_cast<size_t>(y) * ew + x] = v;
      }
    for (int y = 0; y < eh; ++y)
      for (int x = 0; x < ew; ++x) {
        uint8_t v = 0;
        for (int d = -R; d <= R && !v; ++d) {
          int yy = y + d;
          if (yy >= 0 && yy < eh) v = tmp[static_cast<size_t>(yy) * ew + x];
        }
        dil[static_cast<size_t>(y) * ew + x] = v;
      }
    for (int y = 0; y < eh && t.isolated; ++y)
      for (int x = 0; x < ew; ++x) {
        size_t li = static_cast<size_t>(y) * ew + x;
        if (!dil[li]) continue;
        int others = cv.occupancy[static_cast<size_t>(y + ey0) * cv.width + (x + ex0)] - own[li];
        if (others > 0) {
          t.isolated = false;
          break;
        }
      }
  }
  return t;
}

}  // namespace

Result<SimulatedScan> Simulator::Simulate(int64_t index) const {
  if (index < 0) return Status::InvalidArgument("parcel index must be >= 0");
  const SimulateOptions& o = options_;
  const double px = impl_->pixel_mm;
  const double fw = o.width * px, fh = o.height * px;
  Rng rng(MixSeed(o.seed, static_cast<uint64_t>(index), 1));

  // Container, placed with a small skew somewhere on the belt.
  const bool bag = rng.Chance(0.3);
  double len = std::min(rng.Uniform(0.45, 0.85) * fw, fw - 30);
  double wid = std::min(rng.Uniform(0.5, 0.9) * fh, fh - 30);
  double depth = bag ? rng.Uniform(80, 250) : rng.Uniform(120, 400);
  Pose cpose;
  cpose.angle = rng.Uniform(-0.08, 0.08);
  double cex =
      len / 2 * std::abs(std::cos(cpose.angle)) + wid / 2 * std::abs(std::sin(cpose.angle));
  double cey =
      len / 2 * std::abs(std::sin(cpose.angle)) + wid / 2 * std::abs(std::cos(cpose.angle));
  cpose.x = fw / 2 + rng.Uniform(-1, 1) * std::max(0.0, fw / 2 - cex - 10);
  cpose.y = fh / 2 + rng.Uniform(-1, 1) * std::max(0.0, fh / 2 - cey - 10);
  Placed container{MakeContainer(bag, len, wid, depth), cpose, cex, cey, false};

  // Goods: mostly of one category, some of others; placed without overlap when they fit.
  const auto& cats = GoodsCategories();
  // A category by the goods mix; without one, uniform (the original draw, so old seeds keep
  // their bytes).
  auto draw_category = [&]() -> std::string {
    if (mix_weights_.empty()) return cats[rng.Int(0, static_cast<int>(cats.size()) - 1)].name;
    double u = rng.Uniform() * mix_total_, acc = 0;
    for (size_t c = 0; c < cats.size(); ++c) {
      acc += mix_weights_[c];
      if (u < acc && mix_weights_[c] > 0) return cats[c].name;
    }
    for (size_t c = cats.size(); c-- > 0;)
      if (mix_weights_[c] > 0) return cats[c].name;
    return cats[0].name;
  };
  const std::string main_cat = draw_category();
  const double inner_l = len / 2 - 8, inner_w = wid / 2 - 8;  // half sizes inside the walls
  const double fill = rng.Uniform(0.25, 0.6);
  double used = 0;
  std::vector<Placed> goods;
  const double ca = std::cos(cpose.angle), sa = std::sin(cpose.angle);
  auto to_world = [&](double lx, double ly, double langle) {
    return Pose{cpose.x + ca * lx - sa * ly, cpose.y + sa * lx + ca * ly, cpose.angle + langle};
  };
  for (int attempt = 0; attempt < 40 && goods.size() < 14 && used < fill * 4 * inner_l * inner_w;
       ++attempt) {
    std::string cat = rng.Chance(0.8) ? main_cat : draw_category();
    Item item = MakeGoods(cat, &rng, o.extended_goods);
    if (item.parts.empty()) continue;
    double la = rng.Chance(0.6) ? rng.Int(0, 3) * kPi / 2 + rng.Uniform(-0.1, 0.1)
                                : rng.Uniform(0, 2 * kPi);
    auto [lex, ley] = RotatedExtents(item, la);
    if (lex > inner_l || ley > inner_w) continue;  // does not fit this container
    bool placed = false;
    double lx = 0, ly = 0;
    for (int tries = 0; tries < 30 && !placed; ++tries) {
      lx = rng.Uniform(-inner_l + lex, inner_l - lex);
      ly = rng.Uniform(-inner_w + ley, inner_w - ley);
      Pose w = to_world(lx, ly, la);
      auto [wex, wey] = RotatedExtents(item, w.angle);
      // Copies, not the bindings: clang 14 (the fuzz build) cannot capture a structured binding.
      placed = std::none_of(goods.begin(), goods.end(), [&, wex = wex, wey = wey](const Placed& g) {
        return Overlaps(g, w.x, w.y, wex, wey, 6.0);
      });
    }
    if (!placed && !rng.Chance(0.5)) continue;  // else it goes on top of another item
    Pose w = to_world(lx, ly, la);
    auto [wex, wey] = RotatedExtents(item, w.angle);
    used += 4 * lex * ley;
    goods.push_back({std::move(item), w, wex, wey, false});
  }

  // A threat, concealed under or over goods, or loose.
  std::vector<Placed> threats;
  if (rng.Chance(o.threat_rate) && !impl_->threat_classes.empty()) {
    const auto& classes = impl_->threat_classes;
    Item t = MakeThreat(classes[rng.Int(0, static_cast<int>(classes.size()) - 1)], &rng,
                        impl_->families);
    double la = rng.Uniform(0, 2 * kPi);
    auto [lex, ley] = RotatedExtents(t, la);
    bool concealed = !goods.empty() && rng.Chance(0.7);
    Pose w;
    if (concealed) {
      const Placed& host = goods[rng.Int(0, static_cast<int>(goods.size()) - 1)];
      w = {host.pose.x + rng.Uniform(-0.3, 0.3) * host.ex,
           host.pose.y + rng.Uniform(-0.3, 0.3) * host.ey, cpose.angle + la};
    } else {
      double lx = rng.Uniform(-inner_l + std::min(lex, inner_l), inner_l - std::min(lex, inner_l));
      double ly = rng.Uniform(-inner_w + std::min(ley, inner_w), inner_w - std::min(ley, inner_w));
      w = to_world(lx, ly, la);
    }
    auto [wex, wey] = RotatedExtents(t, w.angle);
    threats.push_back({std::move(t), w, wex, wey, concealed});
  }

  // Physics.
  Canvas cv;
  cv.Reset(o.width, o.height, px, &impl_->model);
  std::vector<const Placed*> all{&container};
  for (const auto& g : goods) all.push_back(&g);
  for (const auto& t : threats) all.push_back(&t);
  std::vector<ItemRaster> rasters;
  for (const Placed* p : all) rasters.push_back(Rasterize(p->item, p->pose, &cv));

  SimulatedScan out;
  out.scan.width = o.width;
  out.scan.height = o.height;
  out.scan.meta = MakeMeta(o, px, Id('S', o.seed, index));
  out.scan.meta.consignment_id = Id('C', o.seed, index);
  Rng noise(MixSeed(o.seed, static_cast<uint64_t>(index), 2));
  FormImage(impl_->model, cv.coef, cv.touched, o.width, o.height, &noise, FormOptions{},
            &out.scan.low, &out.scan.high);

  // Truth.
  ScanTruth& truth = out.truth;
  truth.scan_id = out.scan.meta.scan_id;
  truth.consignment_id = out.scan.meta.consignment_id;
  truth.declaration_id = Id('D', o.seed, index);
  truth.container = bag ? "bag" : "box";
  truth.width = o.width;
  truth.height = o.height;
  truth.pixel_mm = px;
  int id = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (rasters[i].empty() || rasters[i].mass_kg <= 0) continue;
    truth.objects.push_back(MakeTruth(*all[i], rasters[i], ++id, cv));
  }

  // Declaration: honest, mis-declared or under-valued.
  Rng drng(MixSeed(o.seed, static_cast<uint64_t>(index), 3));
  double true_value = 0, net_mass = 0, main_mass = 0;
  const Placed* main_item = nullptr;
  std::vector<double> type_mass;
  for (size_t i = 0; i < goods.size(); ++i) {
    double m = rasters[i + 1].mass_kg;
    net_mass += m;
    true_value += m * goods[i].item.value_per_kg * drng.LogNormal(1.0, 0.25);
    double same_type = 0;
    for (size_t j = 0; j < goods.size(); ++j)
      if (goods[j].item.name == goods[i].item.name) same_type += rasters[j + 1].mass_kg;
    if (goods[i].item.category == main_cat && same_type > main_mass) {
      main_mass = same_type;
      main_item = &goods[i];
    }
  }
  if (!main_item && !goods.empty()) main_item = &goods[0];
  Declaration& d = out.declaration;
  d.declaration_id = truth.declaration_id;
  d.consignment_id = truth.consignment_id;
  d.date = 19723 + drng.Int(0, 365);  // 2024
  char imp[32];
  std::snprintf(imp, sizeof imp, "IMP%04d", drng.Int(1, 400));
  d.importer_id = imp;
  d.origin_country = kOrigins[drng.Int(0, static_cast<int>(std::size(kOrigins)) - 1)];
  d.courier_id = "COURIER" + std::to_string(drng.Int(1, 6));
  d.mode_of_transport = drng.Chance(0.7) ? "air" : "road";
  d.currency = "EUR";
  d.net_mass_kg = std::round(net_mass * 1000) / 1000;
  truth.true_net_mass_kg = d.net_mass_kg;
  truth.true_hs_code = main_item ? main_item->item.hs_code : "999999";
  truth.true_description = main_item ? main_item->item.description : "empty parcel";
  truth.true_value = std::round(true_value * 100) / 100;
  std::string declared_cat = main_item ? main_item->item.category : main_cat;
  double u = drng.Uniform();
  truth.declaration_truth = u < o.misdeclared_rate ? DeclarationTruth::kMisdeclared
                            : u < o.misdeclared_rate + o.undervalued_rate
                                ? DeclarationTruth::kUndervalued
                                : DeclarationTruth::kHonest;
  d.hs_code = truth.true_hs_code;
  d.description = truth.true_description;
  d.declared_value = truth.true_value;
  if (truth.declaration_truth == DeclarationTruth::kMisdeclared) {
    std::string other;
    do {
      other = cats[drng.Int(0, static_cast<int>(cats.size()) - 1)].name;
    } while (other == declared_cat);
    declared_cat = other;
    Item decoy = MakeGoods(other, &drng, o.extended_goods);
    d.hs_code = decoy.hs_code;
    d.description = decoy.description;
    d.declared_value =
        std::round(net_mass * decoy.value_per_kg * drng.LogNormal(1.0, 0.3) * 100) / 100;
  } else if (truth.declaration_truth == DeclarationTruth::kUndervalued) {
    d.declared_value = std::round(truth.true_value * drng.Uniform(0.10, 0.45) * 100) / 100;
  }
  for (const auto& c : cats)
    if (c.name == declared_cat) d.tax_rate = c.tax_rate;
  return out;
}

Result<std::vector<WedgeScan>> Simulator::SimulateWedges() const {
  const SimulateOptions& o = options_;
  const double px = impl_->pixel_mm;
  struct Spec {
    const char* material;
    const char* label;
    const char* formula;
    std::vector<double> mm;
  };
  const Spec specs[] = {
      {"pe", "PE", "C2H4", {2, 5, 10, 20, 40, 70, 110, 160, 220, 300}},
      {"pom", "POM", "CH2O", {2, 5, 10, 20, 40, 70, 100, 140, 190, 250}},
      {"aluminium", "aluminium", "Al", {1, 2, 4, 8, 15, 25, 40, 60, 85, 110}},
      {"steel", "steel", "Fe", {0.3, 0.6, 1, 2, 3, 5, 8, 12, 17, 24}},
  };
  const int step_w = 40, step_h = 80, gap = 12, margin = 16;
  std::vector<WedgeScan> out;
  for (size_t si = 0; si < std::size(specs); ++si) {
    const Spec& spec = specs[si];
    const int m = MaterialIndex(spec.material);
    const auto& mat = MaterialCatalog()[m];
    const int n = static_cast<int>(spec.mm.size());
    const int w = margin * 2 + n * step_w + (n - 1) * gap, h = margin * 2 + step_h;
    Canvas cv;
    cv.Reset(w, h, px, &impl_->model);
    WedgeScan ws;
    for (int i = 0; i < n; ++i) {
      WedgeStep st;
      st.material = spec.label;
      st.formula = spec.formula;
      st.z_eff = mat.z_eff;
      st.density_g_cm3 = mat.density;
      st.thickness_mm = spec.mm[i];
      st.areal_density_g_cm2 = mat.density * spec.mm[i] / 10.0;
      st.x0 = margin + i * (step_w + gap);
      st.x1 = st.x0 + step_w;
      st.y0 = margin;
      st.y1 = margin + step_h;
      Item item;
      Part part;
      part.shape.kind = ShapeKind::kCuboid;
      part.shape.hx = step_w * px / 2;
      part.shape.hy = step_h * px / 2;
      part.shape.depth = spec.mm[i];
      part.material = m;
      part.density = mat.density;
      item.parts.push_back(part);
      Rasterize(item, Pose{(st.x0 + st.x1) / 2.0 * px, (st.y0 + st.y1) / 2.0 * px, 0}, &cv);
      ws.steps.push_back(st);
    }
    ws.scan.width = w;
    ws.scan.height = h;
    ws.scan.meta = MakeMeta(o, px, std::string("wedge_") + spec.material);
    Rng noise(MixSeed(o.seed, 1000 + si, 4));
    FormImage(impl_->model, cv.coef, cv.touched, w, h, &noise, FormOptions{}, &ws.scan.low,
              &ws.scan.high);
    out.push_back(std::move(ws));
  }
  return out;
}

Result<ThreatLibrary> Simulator::MakeThreatLibrary(int per_class) const {
  if (per_class < 1 || per_class > 1000)
    return Status::InvalidArgument("per_class must be 1..1000");
  const double px = impl_->pixel_mm;
  ThreatLibrary lib;
  const auto& classes = ThreatClasses();
  for (size_t ci = 0; ci < classes.size(); ++ci)
    for (int i = 0; i < per_class && ClassHasFamily(classes[ci], impl_->families); ++i) {
      Rng rng(MixSeed(options_.seed, static_cast<uint64_t>(i), 200 + ci));
      Item item = MakeThreat(classes[ci], &rng, impl_->families);
      auto [ex, ey] = item.HalfExtents();
      double r = std::hypot(ex, ey);
      int size = static_cast<int>(std::ceil(2 * r / px)) + 8;
      Canvas cv;
      cv.Reset(size, size, px, &impl_->model);
      ItemRaster raster =
          Rasterize(item, Pose{size * px / 2, size * px / 2, rng.Uniform(0, 2 * kPi)}, &cv);
      ThreatPatch patch;
      patch.name = classes[ci] + "_" + item.name + "_" + std::to_string(i);
      patch.threat_class = classes[ci];
      patch.width = size;
      patch.height = size;
      patch.pixel_mm = px;
      patch.mass_kg = raster.mass_kg;
      ProjectLog(impl_->model, cv.coef, static_cast<size_t>(size) * size, &patch.log_low,
                 &patch.log_high);
      CS_RETURN_IF_ERROR(lib.Add(std::move(patch)));
    }
  return lib;
}

namespace {

// `item` as the materials along each ray (one layer per distinct catalogue material, its areal
// density) on a square grid of `px` around it, at rotation `angle`, its centre `ox`, `oy` pixels
// off the grid's middle; with `with_mask`, its mask as the truth draws one.
MaterialThreat RasterMaterialThreat(const Item& item, std::string name, std::string threat_class,
                                    double angle, double px, double ox, double oy, bool with_mask) {
  const auto& catalog = MaterialCatalog();
  // A unit "basis": one coefficient per distinct material of the item, its areal density.
  std::vector<int> materials;
  for (const auto& part : item.parts)
    if (std::find(materials.begin(), materials.end(), part.material) == materials.end())
      materials.push_back(part.material);
  PhysicsModel unit;
  unit.rank = static_cast<int>(materials.size());
  unit.material_coef.assign(catalog.size() * materials.size(), 0.0f);
  for (size_t j = 0; j < materials.size(); ++j)
    unit.material_coef[static_cast<size_t>(materials[j]) * materials.size() + j] = 1.0f;
  auto [ex, ey] = item.HalfExtents();
  const int size = static_cast<int>(std::ceil(2 * std::hypot(ex, ey) / px)) + 8;
  Canvas cv;
  cv.Reset(size, size, px, &unit);
  ItemRaster raster =
      Rasterize(item, Pose{size * px / 2 + ox * px, size * px / 2 + oy * px, angle}, &cv);
  MaterialThreat t;
  t.name = std::move(name);
  t.threat_class = std::move(threat_class);
  t.width = t.height = size;
  t.pixel_mm = px;
  t.mass_kg = raster.mass_kg;
  const size_t n = static_cast<size_t>(size) * size;
  for (size_t j = 0; j < materials.size(); ++j) {
    MaterialLayer layer;
    layer.recipe = catalog[static_cast<size_t>(materials[j])].recipe;
    layer.g_cm2.resize(n);
    for (size_t p = 0; p < n; ++p) layer.g_cm2[p] = cv.coef[p * materials.size() + j];
    t.layers.push_back(std::move(layer));
  }
  if (with_mask) {
    t.mask.assign(n, 0);
    const int bw = raster.x1 - raster.x0;
    for (int y = raster.y0; y < raster.y1; ++y)
      for (int x = raster.x0; x < raster.x1; ++x)
        t.mask[static_cast<size_t>(y) * size + x] =
            raster.mask[static_cast<size_t>(y - raster.y0) * bw + (x - raster.x0)];
  }
  return t;
}

}  // namespace

Result<std::vector<MaterialThreat>> Simulator::MakeMaterialThreats(int per_class) const {
  if (per_class < 1 || per_class > 1000)
    return Status::InvalidArgument("per_class must be 1..1000");
  std::vector<MaterialThreat> out;
  const auto& classes = ThreatClasses();
  for (size_t ci = 0; ci < classes.size(); ++ci)
    for (int i = 0; i < per_class && ClassHasFamily(classes[ci], impl_->families); ++i) {
      // Other draws than MakeThreatLibrary's (a library and these threats stay apart).
      Rng rng(MixSeed(options_.seed, static_cast<uint64_t>(i), 400 + ci));
      Item item = MakeThreat(classes[ci], &rng, impl_->families);
      std::string name = classes[ci] + "_" + item.name + "_" + std::to_string(i);
      const double angle = rng.Uniform(0, 2 * kPi);
      out.push_back(RasterMaterialThreat(item, std::move(name), classes[ci], angle, impl_->pixel_mm,
                                         0, 0, false));
    }
  return out;
}

Result<MaterialThreat> Simulator::RenderMaterialThreat(std::string_view threat_class, int index,
                                                       double angle_rad, double pixel_mm,
                                                       double offset_x, double offset_y) const {
  const auto& classes = ThreatClasses();
  const auto it = std::find(classes.begin(), classes.end(), threat_class);
  if (it == classes.end())
    return Status::InvalidArgument("unknown threat class '" + std::string(threat_class) + "'");
  if (!ClassHasFamily(threat_class, impl_->families))
    return Status::InvalidArgument("threat class '" + std::string(threat_class) +
                                   "' has no family in this simulator");
  if (index < 0 || index > 1000 || !(pixel_mm > 0.05 && pixel_mm < 50) ||
      !(offset_x >= 0 && offset_x <= 1 && offset_y >= 0 && offset_y <= 1))
    return Status::InvalidArgument("threat index 0..1000, pixel 0.05..50 mm, offsets 0..1");
  const size_t ci = static_cast<size_t>(it - classes.begin());
  Rng rng(MixSeed(options_.seed, static_cast<uint64_t>(index), 400 + ci));
  Item item = MakeThreat(classes[ci], &rng, impl_->families);
  std::string name = classes[ci] + "_" + item.name + "_" + std::to_string(index);
  return RasterMaterialThreat(item, std::move(name), classes[ci], angle_rad, pixel_mm, offset_x,
                              offset_y, true);
}

}  // namespace clearsight
