// The parametric threat families and the extended goods (docs/xray-simulator.md).
//
// The classic catalogue (catalog.cc) has one or two fixed shapes per threat class; a detector
// trained on it learns those shapes. The families here draw the parts of a threat from ranges
// (frame and barrel lengths, grip angles, blade outlines and handles, brick sizes and wraps,
// cell types and layouts), so that whole families can be held out of training and a detector
// judged on shapes it has never seen. The extended goods are dense organic goods that look like
// narcotics at any energy (sugar, tea bricks, paper reams, rubber, fabric rolls, soap) and
// procedural assortments of each category's materials: the hard negatives a narcotics detector
// must learn to leave alone.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "xray/simulate/catalog_parts.h"

namespace clearsight::xray {
namespace {

using Pts = std::vector<std::pair<double, double>>;

const char* Pick(Rng& r, std::initializer_list<const char*> options) {
  const int n = static_cast<int>(options.size());
  return *(options.begin() + r.Int(0, n - 1));
}

// A wrapped block: the core and 1-3 wraps of film, tape or foil around it.
void AddWrapped(std::vector<Part>* p, ShapeKind kind, const char* core, double density, double hx,
                double hy, double depth, Rng& r) {
  p->push_back(MakePart(kind, core, density, 0, 0, hx, hy, depth));
  double grow = 0;
  for (int i = 0, n = r.Int(1, 3); i < n; ++i) {
    const int wrap = r.Int(0, 3);
    const double wall = wrap == 3 ? r.Uniform(0.02, 0.06) : r.Uniform(0.3, 2.0);
    const char* m = wrap == 0 ? "pe" : wrap == 1 ? "pvc" : wrap == 2 ? "pp" : "aluminium";
    grow += wall;
    p->push_back(MakePart(kind, m, wrap == 3 ? 2.7 : 0.95, 0, 0, hx + grow, hy + grow,
                          depth + 2 * grow, 0, wall));
  }
}

const char* Powder(Rng& r) { return Pick(r, {"cocaine_hcl", "heroin_hcl", "heroin_base"}); }

// A cartridge lying along x: brass case and lead bullet.
void AddCartridge(std::vector<Part>* p, double x, double y, double len, double radius) {
  p->push_back(MakePart(K::kCylinder, "brass", 4.0, x, y, len * 0.32, radius, 2 * radius));
  p->push_back(MakePart(K::kEllipsoid, "lead", 11.34, x + len * 0.45, y, len * 0.18, radius * 0.9,
                        2 * radius * 0.9));
}

// A handle of length `len` behind x = 0, with an optional guard.
void AddHandle(std::vector<Part>* p, double len, double half_width, Rng& r) {
  const int kind = r.Int(0, 3);
  const char* m = kind == 0 ? "wood" : kind == 1 ? "abs" : kind == 2 ? "rubber" : "aluminium";
  const double density = kind == 0 ? 0.7 : kind == 1 ? 1.05 : kind == 2 ? 1.15 : 2.7;
  p->push_back(
      MakePart(K::kCuboid, m, density, -len / 2, 0, len / 2, half_width, r.Uniform(14, 24)));
  p->push_back(MakePart(K::kCuboid, "steel", 7.85, -len / 2, 0, len / 2 - 3, 2.5, 3));  // tang
  if (r.Chance(0.5))
    p->push_back(MakePart(K::kCuboid, "steel", 7.85, -1, 0, 3, half_width + r.Uniform(4, 12),
                          r.Uniform(4, 8)));  // guard
}

const std::vector<ThreatType>& Families() {
  static const std::vector<ThreatType> types = {
      // --- narcotics ---
      {"brick_wrapped", "narcotics",
       [](Rng& r) {
         std::vector<Part> p;
         AddWrapped(&p, K::kCuboid, Powder(r), r.Uniform(1.0, 1.35), r.Uniform(60, 120),
                    r.Uniform(40, 70), r.Uniform(20, 60), r);
         return p;
       },
       false},
      {"flat_sheet", "narcotics",  // pressed into a lining or a false bottom
       [](Rng& r) {
         std::vector<Part> p;
         AddWrapped(&p, K::kCuboid, Powder(r), r.Uniform(1.0, 1.3), r.Uniform(80, 170),
                    r.Uniform(60, 120), r.Uniform(4, 14), r);
         return p;
       },
       false},
      {"pellets", "narcotics",  // many small wrapped capsules
       [](Rng& r) {
         std::vector<Part> p;
         const char* m = Powder(r);
         const int n = r.Int(12, 40), cols = r.Int(3, 6), rows = (n + cols - 1) / cols;
         const double hl = r.Uniform(12, 20), hw = r.Uniform(6, 9);
         for (int i = 0; i < n; ++i) {
           const double x = (i % cols - (cols - 1) / 2.0) * (2 * hl + 2) + r.Uniform(-2, 2);
           const double y = (i / cols - (rows - 1) / 2.0) * (2 * hw + 2) + r.Uniform(-2, 2);
           p.push_back(MakePart(K::kEllipsoid, m, r.Uniform(1.1, 1.3), x, y, hl, hw, 2 * hw,
                                r.Uniform(-0.3, 0.3)));
         }
         return p;
       },
       false},
      {"cannabis_vacuum", "narcotics",
       [](Rng& r) {
         std::vector<Part> p;
         AddWrapped(&p, K::kPillow, "cannabis", r.Uniform(0.5, 1.1), r.Uniform(80, 140),
                    r.Uniform(60, 100), r.Uniform(30, 90), r);
         return p;
       },
       false},
      {"powder_tins", "narcotics",  // food tins filled with powder instead of fruit
       [](Rng& r) {
         std::vector<Part> p;
         const char* m = Powder(r);
         const int n = r.Int(1, 4);
         const double len = r.Uniform(40, 60), rad = r.Uniform(30, 42);
         for (int i = 0; i < n; ++i) {
           const double cy = (i - (n - 1) / 2.0) * (2 * rad + 1);
           p.push_back(MakePart(K::kCylinder, "steel", 1.6, 0, cy, len, rad, 2 * rad, 0, 1.2));
           p.push_back(MakePart(K::kCylinder, m, r.Uniform(0.8, 1.1), 0, cy, len - 2, rad - 1.5,
                                2 * rad - 3));
         }
         return p;
       },
       false},
      // --- firearms ---
      {"pistol_frame", "firearm",
       [](Rng& r) {
         std::vector<Part> p;
         const double slide = r.Uniform(40, 65), h = r.Uniform(12, 18), w = r.Uniform(20, 30);
         p.push_back(MakePart(K::kCuboid, "steel", 7.85, 0, -40, slide, h, w));
         p.push_back(MakePart(K::kCylinder, "steel", 7.85, 5, -40, slide - 5, 5.5, 11));
         const double angle = r.Uniform(95, 118) * kPi / 180;
         const double gl = r.Uniform(85, 115), gw = r.Uniform(28, 36);
         const double dx = std::cos(angle) * gl, dy = std::sin(angle) * gl;
         const bool polymer = r.Chance(0.6);
         const double gx = -slide * 0.7;
         p.push_back(Polygon(polymer ? "nylon_gf" : "steel", polymer ? 1.4 : 7.85,
                             polymer ? w + 4 : w - 4,
                             {{gx - gw / 2, -40 + h},
                              {slide * 0.9, -40 + h},
                              {slide * 0.9, -40 + h + 10},
                              {gx + gw / 2, -40 + h + 10},
                              {gx + gw / 2 + dx, -40 + h + dy},
                              {gx - gw / 2 + dx, -40 + h + dy}}));
         p.push_back(Polygon("steel", 7.85, 7,
                             {{gx + gw / 2, -40 + h + 8},
                              {gx + gw / 2 + 28, -40 + h + 8},
                              {gx + gw / 2 + 30, -40 + h + 30},
                              {gx + gw / 2 + 4, -40 + h + 30}}));  // trigger guard
         if (r.Chance(0.7)) {                                      // magazine in the grip
           p.push_back(MakePart(K::kCuboid, "steel", 3.5, gx + dx / 2, -40 + h + dy / 2, 12,
                                gl / 2 - 5, 20, angle - kPi / 2, 1.0));
           for (int i = 0, n = r.Int(0, 6); i < n; ++i)
             AddCartridge(&p, gx + dx * (0.2 + 0.1 * i), -40 + h + dy * (0.2 + 0.1 * i), 24, 4.5);
         }
         return p;
       },
       false},
      {"revolver_frame", "firearm",
       [](Rng& r) {
         const double barrel = r.Uniform(25, 80), cyl = r.Uniform(18, 25);
         const double grip = r.Uniform(90, 115) * kPi / 180;
         const double gl = r.Uniform(70, 95);
         const double gx = -cyl - 20;
         std::vector<Part> p{
             MakePart(K::kCylinder, "steel", 7.85, cyl + barrel, -30, barrel, r.Uniform(7, 10), 18),
             MakePart(K::kCuboid, "steel", 7.85, 0, -30, cyl, r.Uniform(16, 22), 38),
             Polygon("steel", 7.85, 18,
                     {{gx - 10, -45}, {cyl, -45}, {cyl, -12}, {gx + 10, -12}, {gx - 10, -20}})};
         p.push_back(Polygon(r.Chance(0.5) ? "wood" : "rubber", r.Chance(0.5) ? 0.7 : 1.15, 32,
                             {{gx - 12, -15},
                              {gx + 14, -15},
                              {gx + 14 + std::cos(grip) * gl, -15 + std::sin(grip) * gl},
                              {gx - 12 + std::cos(grip) * gl, -15 + std::sin(grip) * gl}}));
         return p;
       },
       false},
      {"smg_compact", "firearm",
       [](Rng& r) {
         const double rec = r.Uniform(100, 140);
         std::vector<Part> p{
             MakePart(K::kCuboid, "steel", 7.85, 0, 0, rec, r.Uniform(18, 25), r.Uniform(35, 50), 0,
                      3.5),
             MakePart(K::kCylinder, "steel", 7.85, rec + 40, 0, 45, 8, 16),
             MakePart(K::kCuboid, "steel", 3.0, rec * 0.3, 70, 14, 55, 24, 0, 1.0),  // magazine
             Polygon("nylon_gf", 1.4, 30,
                     {{-rec * 0.4, 18}, {-rec * 0.1, 18}, {-rec * 0.15, 90}, {-rec * 0.45, 85}})};
         if (r.Chance(0.6))  // folded wire stock
           p.push_back(MakePart(K::kCylinder, "steel", 7.85, -rec * 0.2, -28, rec * 0.8, 4, 8));
         return p;
       },
       false},
      {"shotgun_sawn", "firearm",
       [](Rng& r) {
         const double len = r.Uniform(110, 180), rad = r.Uniform(10, 12);
         return std::vector<Part>{
             MakePart(K::kCylinder, "steel", 7.85, 0, -rad, len, rad, 2 * rad, 0, 1.8),
             MakePart(K::kCylinder, "steel", 7.85, 0, rad, len, rad, 2 * rad, 0, 1.8),
             MakePart(K::kCuboid, "steel", 7.85, -len - 25, 0, 30, 2 * rad + 2, 40),
             Polygon("wood", 0.7, 40,
                     {{-len - 55, -20}, {-len - 55, 22}, {-len - 150, 45}, {-len - 160, 10}})};
       },
       false},
      // --- firearm parts ---
      {"barrel_blank", "firearm_part",
       [](Rng& r) {
         const double rad = r.Uniform(8, 15), bore = r.Uniform(2.3, 4.5);
         return std::vector<Part>{MakePart(K::kCylinder, "steel", 7.85, 0, 0, r.Uniform(40, 150),
                                           rad, 2 * rad, 0, rad - bore)};
       },
       false},
      {"receiver", "firearm_part",
       [](Rng& r) {
         const double len = r.Uniform(60, 120), h = r.Uniform(14, 22);
         const bool steel = r.Chance(0.7);
         return std::vector<Part>{
             MakePart(K::kCuboid, steel ? "steel" : "aluminium", steel ? 7.85 : 2.7, 0, 0, len, h,
                      r.Uniform(22, 32), 0, r.Uniform(2.5, 5)),
             MakePart(K::kCuboid, "steel", 7.85, len * 0.6, h + 6, 8, 6, 10)};  // trunnion
       },
       false},
      {"magazine_box", "firearm_part",
       [](Rng& r) {
         const int n = r.Int(5, 17);
         const double pitch = r.Uniform(8, 11);
         std::vector<Part> p{MakePart(K::kCuboid, r.Chance(0.5) ? "steel" : "nylon_gf",
                                      r.Chance(0.5) ? 3.5 : 1.4, 0, 0, 16, n * pitch / 2 + 6, 24, 0,
                                      1.2)};
         for (int i = 0; i < n; ++i)
           AddCartridge(&p, -2, (i - (n - 1) / 2.0) * pitch, 26, pitch / 2 - 0.3);
         return p;
       },
       false},
      // --- knives ---
      {"blade_drop_point", "knife",
       [](Rng& r) {
         const double len = r.Uniform(70, 200), w = r.Uniform(8, 22);
         std::vector<Part> p{Polygon("stainless", 7.9, r.Uniform(1.5, 4.0),
                                     {{0, -w},
                                      {len * 0.7, -w},
                                      {len, -w * 0.2},
                                      {len * 0.85, w * 0.5},
                                      {len * 0.4, w},
                                      {0, w}})};
         AddHandle(&p, r.Uniform(80, 130), r.Uniform(9, 14), r);
         return p;
       },
       false},
      {"blade_tanto", "knife",
       [](Rng& r) {
         const double len = r.Uniform(70, 170), w = r.Uniform(10, 18);
         std::vector<Part> p{Polygon(
             "stainless", 7.9, r.Uniform(2.5, 5.0),
             {{0, -w}, {len * 0.85, -w}, {len, -w * 0.4}, {len, w * 0.6}, {len * 0.9, w}, {0, w}})};
         AddHandle(&p, r.Uniform(90, 130), r.Uniform(10, 14), r);
         return p;
       },
       false},
      {"blade_dagger", "knife",
       [](Rng& r) {
         const double len = r.Uniform(90, 220), w = r.Uniform(9, 18);
         std::vector<Part> p{
             Polygon("steel", 7.85, r.Uniform(2.0, 5.0),
                     {{0, -w}, {len * 0.6, -w * 0.7}, {len, 0}, {len * 0.6, w * 0.7}, {0, w}})};
         AddHandle(&p, r.Uniform(90, 120), r.Uniform(9, 13), r);
         return p;
       },
       false},
      {"cleaver", "knife",
       [](Rng& r) {
         const double len = r.Uniform(140, 200), w = r.Uniform(30, 45);
         std::vector<Part> p{Polygon("stainless", 7.9, r.Uniform(2.0, 4.0),
                                     {{0, -w}, {len, -w}, {len, w}, {0, w * 0.6}})};
         AddHandle(&p, r.Uniform(100, 130), r.Uniform(10, 13), r);
         return p;
       },
       false},
      {"karambit", "knife",  // a curved claw blade around a ring handle
       [](Rng& r) {
         const double rad = r.Uniform(40, 70), w = r.Uniform(7, 12);
         Pts arc;
         const int steps = 10;
         for (int i = 0; i <= steps; ++i) {
           const double a = kPi * 0.1 + kPi * 0.8 * i / steps;
           arc.push_back({rad * std::cos(a), rad * std::sin(a) - rad});
         }
         for (int i = steps; i >= 0; --i) {
           const double a = kPi * 0.1 + kPi * 0.8 * i / steps;
           const double rr = rad - w * (i == steps ? 0.1 : 1.0);
           arc.push_back({rr * std::cos(a), rr * std::sin(a) - rad});
         }
         std::vector<Part> p{Polygon("stainless", 7.9, r.Uniform(3.0, 5.0), arc)};
         p.push_back(MakePart(K::kDisk, "steel", 7.85, -rad * 0.9, -rad * 0.1, 16, 16, 5, 0, 4));
         p.push_back(MakePart(K::kCuboid, r.Chance(0.5) ? "abs" : "wood", 0.9, -rad * 0.9 + 40,
                              -rad * 0.1, 35, 10, 16));
         return p;
       },
       false},
      // --- cigarettes ---
      {"loose_packs", "cigarettes",
       [](Rng& r) {
         std::vector<Part> p;
         const int cols = r.Int(2, 6), rows = r.Int(1, 5);
         for (int i = 0; i < cols; ++i)
           for (int j = 0; j < rows; ++j) {
             const double x = (i - (cols - 1) / 2.0) * 57, y = (j - (rows - 1) / 2.0) * 90;
             p.push_back(MakePart(K::kCuboid, "tobacco", r.Uniform(0.22, 0.32), x, y, 27, 43,
                                  r.Uniform(20, 24)));
             p.push_back(MakePart(K::kCuboid, "aluminium", 2.7, x, y, 27.5, 43.5, 24, 0, 0.01));
           }
         return p;
       },
       false},
      {"tobacco_block", "cigarettes",  // loose or water-pipe tobacco pressed into a block
       [](Rng& r) {
         std::vector<Part> p;
         AddWrapped(&p, K::kCuboid, "tobacco", r.Uniform(0.4, 0.9), r.Uniform(60, 120),
                    r.Uniform(40, 80), r.Uniform(30, 70), r);
         return p;
       },
       false},
      // --- currency ---
      {"banknote_bricks", "currency",
       [](Rng& r) {
         std::vector<Part> p;
         const int n = r.Int(1, 10), cols = r.Int(2, 3), rows = (n + cols - 1) / cols;
         const double hx = r.Uniform(60, 80), hy = r.Uniform(30, 40);
         for (int i = 0; i < n; ++i) {
           const double x = (i % cols - (cols - 1) / 2.0) * (2 * hx + 2);
           const double y = (i / cols - (rows - 1) / 2.0) * (2 * hy + 2);
           const double d = r.Uniform(8, 45);
           p.push_back(MakePart(K::kCuboid, "banknote", r.Uniform(0.8, 1.0), x, y, hx, hy, d));
           p.push_back(MakePart(K::kCuboid, "paper", 0.9, x, y, 8, hy + 0.5, d + 1, 0, 0.3));
         }
         return p;
       },
       false},
      // --- lithium batteries ---
      {"cell_array", "lithium_battery",
       [](Rng& r) {
         std::vector<Part> p;
         const bool big = r.Chance(0.4);  // 21700 or 18650
         const double hl = big ? 35 : 32.5, rad = big ? 10.5 : 9.0;
         const int cols = r.Int(1, 4), rows = r.Int(2, 8);
         for (int i = 0; i < cols; ++i)
           for (int j = 0; j < rows; ++j)
             p.push_back(MakePart(K::kCylinder, "liion_cell", 2.55, (i - (cols - 1) / 2.0) * 2 * hl,
                                  (j - (rows - 1) / 2.0) * 2 * rad, hl, rad, 2 * rad));
         if (r.Chance(0.6))  // nickel strips
           for (int i = 0; i <= cols; ++i)
             p.push_back(MakePart(K::kCuboid, "steel", 7.85, (i - cols / 2.0) * 2 * hl, 0, 4,
                                  rows * rad, 2 * rad + 1));
         return p;
       },
       false},
      {"pouch_stack", "lithium_battery",
       [](Rng& r) {
         std::vector<Part> p;
         const int n = r.Int(1, 4);
         const double hx = r.Uniform(25, 70), hy = r.Uniform(18, 45);
         for (int i = 0; i < n; ++i)
           p.push_back(MakePart(K::kCuboid, "liion_pouch", 2.3, i * 4.0, i * 3.0, hx, hy,
                                r.Uniform(4, 11)));
         return p;
       },
       false},
  };
  return types;
}

// Procedural goods: 1-4 primitives of the category's materials.
struct Palette {
  const char* category;
  const char* hs_code;
  const char* description;
  double value_per_kg;
  std::vector<std::pair<const char*, double>> materials;  // name, solid density
};

std::vector<Part> Assorted(const Palette& pal, Rng& r) {
  std::vector<Part> p;
  const int n = r.Int(1, 4);
  for (int i = 0; i < n; ++i) {
    const auto& [m, density] =
        pal.materials[static_cast<size_t>(r.Int(0, static_cast<int>(pal.materials.size()) - 1))];
    static const ShapeKind kKinds[] = {K::kCuboid, K::kEllipsoid, K::kCylinder, K::kDisk,
                                       K::kPillow};
    const ShapeKind kind = kKinds[r.Int(0, 4)];
    const double hx = r.Uniform(20, 120), hy = r.Uniform(15, 90);
    const double depth = kind == ShapeKind::kCylinder ? 2 * hy : r.Uniform(8, 90);
    const double fill = r.Uniform(0.3, 1.0);  // bulk over solid density
    const bool hollow = r.Chance(0.3) && hx > 30 && hy > 30;
    p.push_back(MakePart(kind, m, density * fill, r.Uniform(-40, 40), r.Uniform(-30, 30), hx, hy,
                         depth, r.Uniform(0, kPi), hollow ? r.Uniform(1, 4) : 0));
  }
  return p;
}

const std::vector<Palette>& Palettes() {
  static const std::vector<Palette> p = {
      {"clothing",
       "621710",
       "Assorted clothing accessories",
       20,
       {{"cotton", 1.5}, {"polyester", 1.38}, {"wool", 1.3}, {"leather", 0.9}, {"nylon", 1.14}}},
      {"shoes",
       "640590",
       "Assorted footwear",
       25,
       {{"leather", 0.9}, {"rubber", 1.15}, {"pvc", 1.38}, {"nylon", 1.14}}},
      {"books", "491199", "Assorted printed matter", 8, {{"paper", 0.9}, {"cardboard", 0.7}}},
      {"electronics",
       "854370",
       "Assorted electrical apparatus",
       60,
       {{"fr4", 1.9}, {"abs", 1.05}, {"aluminium", 2.7}, {"copper", 8.96}, {"glass", 2.5}}},
      {"toys",
       "950390",
       "Assorted toys",
       12,
       {{"abs", 1.05}, {"pp", 0.9}, {"pvc", 1.38}, {"rubber", 1.15}, {"wood", 0.6}}},
      {"food",
       "210690",
       "Assorted food preparations",
       6,
       {{"sugar", 1.59},
        {"rice", 1.45},
        {"coffee", 1.1},
        {"chocolate", 1.3},
        {"water", 1.0},
        {"canned_food", 1.05}}},
      {"cosmetics",
       "330499",
       "Assorted beauty preparations",
       30,
       {{"shampoo", 1.02}, {"cream", 0.98}, {"perfume", 0.85}, {"glass", 2.5}, {"pe", 0.94}}},
      {"tools",
       "820559",
       "Assorted hand tools",
       15,
       {{"steel", 7.85}, {"stainless", 7.9}, {"aluminium", 2.7}, {"abs", 1.05}, {"wood", 0.6}}},
      {"ceramics",
       "691490",
       "Assorted ceramic articles",
       8,
       {{"porcelain", 2.4}, {"earthenware", 2.0}, {"glass", 2.5}}},
  };
  return p;
}

}  // namespace

const std::vector<ThreatType>& ParametricThreatTypes() { return Families(); }

const std::vector<GoodsType>& ExtendedGoodsTypes() {
  static const std::vector<GoodsType> types = [] {
    std::vector<GoodsType> v = {
        // Dense organic goods: at every energy they look like a block of powder.
        {"sugar_bag", "food", "170199", "Cane or beet sugar", 1.2,
         [](Rng& r) {
           return std::vector<Part>{
               MakePart(K::kPillow, "sugar", r.Uniform(0.8, 0.95), 0, 0, r.Uniform(80, 120),
                        r.Uniform(55, 80), r.Uniform(40, 80)),
               MakePart(K::kPillow, "paper", 0.9, 0, 0, 121, 81, 2)};
         },
         true},
        {"tea_brick", "food", "090230", "Black tea, pressed bricks", 25,
         [](Rng& r) {
           std::vector<Part> p;
           AddWrapped(&p, K::kCuboid, "coffee", r.Uniform(0.9, 1.2), r.Uniform(60, 110),
                      r.Uniform(40, 70), r.Uniform(20, 45), r);
           return p;
         },
         true},
        {"candy_blocks", "food", "170490", "Sugar confectionery", 8,
         [](Rng& r) {
           std::vector<Part> p;
           for (int i = 0, n = r.Int(1, 4); i < n; ++i)
             p.push_back(MakePart(K::kCuboid, "sugar", r.Uniform(1.1, 1.4), 0, i * 50.0 - 60, 75,
                                  24, r.Uniform(15, 40)));
           return p;
         },
         true},
        {"flour_sack", "food", "110100", "Wheat flour", 1,
         [](Rng& r) {
           return std::vector<Part>{MakePart(K::kPillow, "rice", r.Uniform(0.5, 0.65), 0, 0,
                                             r.Uniform(110, 160), r.Uniform(70, 100),
                                             r.Uniform(60, 110))};
         },
         true},
        {"paper_reams", "books", "491199", "Printed forms in reams", 3,
         [](Rng& r) {
           std::vector<Part> p;
           for (int i = 0, n = r.Int(1, 3); i < n; ++i)
             p.push_back(MakePart(K::kCuboid, "paper", r.Uniform(0.75, 0.95), 0, i * 212.0 - 106,
                                  148, 105, r.Uniform(25, 55)));
           return p;
         },
         true},
        {"rubber_soles", "shoes", "640620", "Outer soles and heels of rubber", 6,
         [](Rng& r) {
           std::vector<Part> p;
           for (int i = 0, n = r.Int(2, 8); i < n; ++i)
             p.push_back(MakePart(K::kPillow, "rubber", r.Uniform(1.05, 1.2), (i % 2) * 70.0 - 35,
                                  0, 30, 135, r.Uniform(10, 30)));
           return p;
         },
         true},
        {"rubber_sheet_roll", "shoes", "640610", "Rubber sheet for uppers, in rolls", 5,
         [](Rng& r) {
           const double rad = r.Uniform(35, 70);
           return std::vector<Part>{MakePart(K::kCylinder, "rubber", r.Uniform(1.0, 1.2), 0, 0,
                                             r.Uniform(100, 180), rad, 2 * rad)};
         },
         true},
        {"fabric_roll", "clothing", "520812", "Woven fabrics of cotton, in rolls", 6,
         [](Rng& r) {
           const double rad = r.Uniform(40, 80), len = r.Uniform(120, 220);
           return std::vector<Part>{
               MakePart(K::kCylinder, r.Chance(0.5) ? "cotton" : "polyester", r.Uniform(0.45, 0.9),
                        0, 0, len, rad, 2 * rad),
               MakePart(K::kCylinder, "cardboard", 0.7, 0, 0, len + 5, 20, 40, 0, 3)};
         },
         true},
        {"soap_bars", "cosmetics", "340111", "Toilet soap in bars", 5,
         [](Rng& r) {
           std::vector<Part> p;
           const int n = r.Int(2, 12), cols = r.Int(1, 4);
           for (int i = 0; i < n; ++i)
             p.push_back(MakePart(K::kCuboid, "shampoo", r.Uniform(1.0, 1.15),
                                  (i % cols) * 62.0 - 60, (i / cols) * 42.0 - 40, 30, 20,
                                  r.Uniform(20, 30)));
           return p;
         },
         true},
    };
    static const std::vector<std::string> names = [] {  // keep the names' c_str()s alive
      std::vector<std::string> n;
      for (const auto& pal : Palettes()) n.push_back("assorted_" + std::string(pal.category));
      return n;
    }();
    for (size_t i = 0; i < Palettes().size(); ++i) {
      const Palette* pal = &Palettes()[i];
      v.push_back({names[i].c_str(), pal->category, pal->hs_code, pal->description,
                   pal->value_per_kg, [pal](Rng& r) { return Assorted(*pal, r); }, true});
    }
    return v;
  }();
  return types;
}

}  // namespace clearsight::xray
