#include "xray/simulate/catalog.h"

#include <cmath>
#include <functional>
#include <mutex>

#include "clearsight/xray_simulate.h"
#include "clearsight/xray_tip.h"
#include "xray/physics/materials.h"
#include "xray/simulate/catalog_parts.h"

namespace clearsight::xray {
namespace {

std::vector<std::string>& Unknown() {
  static std::vector<std::string> names;
  return names;
}

const std::vector<GoodsType>& ClassicGoodsTypes() {
  static const std::vector<GoodsType> types = {
      // --- clothing (HS 61-62) ---
      {"t_shirt", "clothing", "610910", "T-shirts, knitted, of cotton", 30,
       [](Rng& r) {
         return std::vector<Part>{MakePart(K::kPillow, "cotton", r.Uniform(0.16, 0.26), 0, 0,
                                           r.Uniform(120, 160), r.Uniform(90, 120),
                                           r.Uniform(20, 40))};
       }},
      {"jeans", "clothing", "620342", "Men's trousers of cotton denim", 25,
       [](Rng& r) {
         double hx = r.Uniform(150, 190), hy = r.Uniform(110, 140);
         std::vector<Part> p{MakePart(K::kPillow, "cotton", r.Uniform(0.22, 0.32), 0, 0, hx, hy,
                                      r.Uniform(35, 55))};
         p.push_back(MakePart(K::kDisk, "brass", 8.5, hx * 0.5, -hy * 0.6, 8, 8, 2.5));  // button
         p.push_back(
             MakePart(K::kCuboid, "brass", 3.5, hx * 0.5, -hy * 0.2, 3, 45, 2.0));  // zipper
         return p;
       }},
      {"sweater", "clothing", "611020", "Jerseys and pullovers of wool", 35,
       [](Rng& r) {
         return std::vector<Part>{MakePart(K::kPillow, "wool", r.Uniform(0.12, 0.2), 0, 0,
                                           r.Uniform(150, 190), r.Uniform(120, 150),
                                           r.Uniform(45, 75))};
       }},
      {"jacket", "clothing", "620193", "Anoraks and jackets of man-made fibres", 40,
       [](Rng& r) {
         double hx = r.Uniform(190, 240), hy = r.Uniform(150, 190);
         std::vector<Part> p{MakePart(K::kPillow, "polyester", r.Uniform(0.07, 0.12), 0, 0, hx, hy,
                                      r.Uniform(60, 100))};
         p.push_back(MakePart(K::kCuboid, "steel", 3.0, 0, 0, 4, hy * 0.8, 2.0));  // zipper
         return p;
       }},
      // --- footwear (HS 64) ---
      {"leather_shoes", "shoes", "640399", "Footwear with uppers of leather", 35,
       [](Rng& r) {
         std::vector<Part> p;
         p.push_back(
             MakePart(K::kCuboid, "cardboard", 0.7, 0, 0, 170, 105, 120, 0, 2.0));  // shoebox
         for (double s : {-1.0, 1.0}) {
           double len = r.Uniform(130, 150);
           p.push_back(
               MakePart(K::kPillow, "rubber", r.Uniform(1.0, 1.15), 0, s * 50, len, 45, 22));
           p.push_back(
               MakePart(K::kEllipsoid, "leather", 0.85, 0, s * 50, len * 0.95, 42, 95, 0, 2.0));
         }
         return p;
       }},
      {"sneakers", "shoes", "640411", "Sports footwear with textile uppers", 40,
       [](Rng& r) {
         std::vector<Part> p;
         for (double s : {-1.0, 1.0}) {
           double len = r.Uniform(135, 155);
           p.push_back(MakePart(K::kPillow, "pe", r.Uniform(0.25, 0.4), 0, s * 45, len, 47,
                                30));  // EVA foam sole (a tied pair)
           p.push_back(
               MakePart(K::kEllipsoid, "polyester", 1.2, 0, s * 45, len * 0.95, 44, 90, 0, 1.5));
         }
         return p;
       }},
      // --- books (HS 49) ---
      {"book", "books", "490199", "Printed books", 12,
       [](Rng& r) {
         double hx = r.Uniform(95, 125), hy = r.Uniform(65, 85), d = r.Uniform(12, 45);
         std::vector<Part> p{MakePart(K::kCuboid, "paper", r.Uniform(0.75, 0.95), 0, 0, hx, hy, d)};
         if (r.Chance(0.4))
           p.push_back(MakePart(K::kCuboid, "cardboard", 0.7, 0, 0, hx + 3, hy + 3, d + 5, 0,
                                2.0));  // hardcover
         return p;
       }},
      {"magazines", "books", "490290", "Newspapers and periodicals", 8,
       [](Rng& r) {
         return std::vector<Part>{
             MakePart(K::kCuboid, "paper", r.Uniform(0.9, 1.1), 0, 0, 140, 105, r.Uniform(8, 30))};
       }},
      // --- electronics (HS 84-85), with boards and batteries ---
      {"smartphone", "electronics", "851713", "Smartphones", 2500,
       [](Rng& r) {
         std::vector<Part> p;
         p.push_back(
             MakePart(K::kCuboid, "cardboard", 0.6, 0, 0, 90, 50, 50, 0, 1.5));  // retail box
         p.push_back(MakePart(K::kCuboid, "aluminium", 2.7, 0, 0, 75, 36, 8, 0, 1.5));  // frame
         p.push_back(MakePart(K::kCuboid, "glass", 2.5, 0, 0, 73, 34, 1.2));            // screen
         p.push_back(MakePart(K::kCuboid, "fr4", 1.9, 45, 0, 22, 30, 1.6));             // board
         p.push_back(MakePart(K::kCuboid, "liion_pouch", 2.3, -15, 0, 42, 30, 4.5));    // battery
         p.push_back(MakePart(K::kDisk, "steel", 7.85, 62, 20, 5, 5, 2));  // camera/vibrator
         (void)r;
         return p;
       }},
      {"laptop", "electronics", "847130", "Portable computers", 500,
       [](Rng& r) {
         std::vector<Part> p;
         bool metal = r.Chance(0.4);
         p.push_back(MakePart(K::kCuboid, metal ? "aluminium" : "abs", metal ? 2.7 : 1.05, 0, 0,
                              165, 115, 18, 0, 1.5));
         p.push_back(MakePart(K::kCuboid, "glass", 2.5, 0, 0, 150, 100, 1.0));
         p.push_back(MakePart(K::kCuboid, "fr4", 1.9, 0, 30, 120, 45, 1.6));
         int cells = r.Int(3, 6);
         for (int i = 0; i < cells; ++i) Add18650(&p, -100 + i * 40.0, -75, kPi / 2);
         p.push_back(MakePart(K::kCuboid, "steel", 7.85, -140, 105, 12, 6, 8));  // hinges
         p.push_back(MakePart(K::kCuboid, "steel", 7.85, 140, 105, 12, 6, 8));
         p.push_back(MakePart(K::kCuboid, "copper", 8.96, 40, 60, 35, 12, 6));  // heat pipe + fan
         return p;
       }},
      {"charger", "electronics", "850440", "Static converters (chargers)", 40,
       [](Rng& r) {
         std::vector<Part> p;
         p.push_back(MakePart(K::kCuboid, "abs", 1.05, 0, 0, 32, 25, 30, 0, 2.0));
         p.push_back(MakePart(K::kCuboid, "fr4", 1.9, 0, 0, 28, 21, 1.6));
         p.push_back(MakePart(K::kCuboid, "steel", 7.0, -8, 0, 9, 9, 14));     // transformer core
         p.push_back(MakePart(K::kCuboid, "copper", 5.0, -8, 0, 11, 11, 10));  // winding
         p.push_back(MakePart(K::kCuboid, "brass", 8.5, 30, -6, 8, 2, 1.5));   // pins
         p.push_back(MakePart(K::kCuboid, "brass", 8.5, 30, 6, 8, 2, 1.5));
         if (r.Chance(0.7))  // cable coil
           p.push_back(MakePart(K::kDisk, "pvc", 0.6, 60, 0, 35, 35, 12, 0, 8));
         return p;
       }},
      {"power_bank", "electronics", "850760", "Lithium-ion accumulators (power bank)", 60,
       [](Rng& r) {
         std::vector<Part> p;
         int cells = r.Int(2, 4);
         p.push_back(MakePart(K::kCuboid, r.Chance(0.5) ? "aluminium" : "abs", 1.6, 0, 0, 38,
                              cells * 10.0 + 3, 22, 0, 1.5));
         for (int i = 0; i < cells; ++i) Add18650(&p, 0, (i - (cells - 1) / 2.0) * 19.0);
         p.push_back(MakePart(K::kCuboid, "fr4", 1.9, 34, 0, 3, cells * 9.0, 1.6));
         return p;
       }},
      {"headphones", "electronics", "851830", "Headphones", 150,
       [](Rng& r) {
         std::vector<Part> p;
         p.push_back(MakePart(K::kDisk, "abs", 1.05, 0, -60, 40, 40, 30, 0, 3));
         p.push_back(MakePart(K::kDisk, "abs", 1.05, 0, 60, 40, 40, 30, 0, 3));
         p.push_back(MakePart(K::kDisk, "steel", 7.5, 0, -60, 14, 14, 6));  // magnets
         p.push_back(MakePart(K::kDisk, "steel", 7.5, 0, 60, 14, 14, 6));
         p.push_back(MakePart(K::kCuboid, "pp", 0.9, -45, 0, 8, 60, 12));
         (void)r;
         return p;
       }},
      // --- toys (HS 95) and plastics (HS 39) ---
      {"plush_toy", "toys", "950300", "Stuffed toys", 15,
       [](Rng& r) {
         double s = r.Uniform(0.8, 1.3);
         return std::vector<Part>{
             MakePart(K::kEllipsoid, "polyester", r.Uniform(0.04, 0.08), 0, 0, 130 * s, 90 * s,
                      110 * s),
             MakePart(K::kEllipsoid, "polyester", 0.06, 100 * s, 0, 60 * s, 55 * s, 80 * s)};
       }},
      {"toy_car", "toys", "950300", "Toy vehicles, die-cast", 20,
       [](Rng& r) {
         std::vector<Part> p;
         p.push_back(MakePart(K::kCuboid, "cardboard", 0.6, 0, 0, 60, 35, 45, 0, 1.5));
         p.push_back(MakePart(K::kCuboid, "zamak", 3.0, 0, 0, 38, 16, 18));  // hollow die-cast body
         p.push_back(MakePart(K::kCuboid, "pvc", 1.38, 0, 0, 40, 18, 6));
         (void)r;
         return p;
       }},
      {"building_blocks", "toys", "950300", "Construction sets of plastic", 12,
       [](Rng& r) {
         std::vector<Part> p;
         double hx = r.Uniform(120, 180), hy = r.Uniform(90, 130);
         p.push_back(MakePart(K::kCuboid, "cardboard", 0.6, 0, 0, hx, hy, 70, 0, 2.0));
         p.push_back(MakePart(K::kPillow, "abs", r.Uniform(0.3, 0.45), 0, 0, hx - 10, hy - 10, 55));
         return p;
       }},
      {"plastic_containers", "toys", "392410", "Tableware and kitchenware of plastics", 8,
       [](Rng& r) {
         std::vector<Part> p;
         int n = r.Int(1, 3);
         for (int i = 0; i < n; ++i)
           p.push_back(
               MakePart(K::kCuboid, "pp", 0.9, 0, 0, 100 - 8 * i, 70 - 8 * i, 90 - 10 * i, 0, 2.0));
         return p;
       }},
      // --- food ---
      {"rice", "food", "100630", "Rice, semi-milled or wholly milled", 2,
       [](Rng& r) {
         return std::vector<Part>{
             MakePart(K::kPillow, "rice", r.Uniform(0.8, 0.9), 0, 0, 120, 80, r.Uniform(55, 75)),
             MakePart(K::kPillow, "pe", 0.92, 0, 0, 122, 82, 2)};
       }},
      {"coffee", "food", "090121", "Coffee, roasted", 15,
       [](Rng& r) {
         return std::vector<Part>{
             MakePart(K::kPillow, "coffee", r.Uniform(0.35, 0.45), 0, 0, 95, 60, r.Uniform(50, 70)),
             MakePart(K::kPillow, "aluminium", 2.7, 0, 0, 96, 61, 0.03)};
       }},
      {"chocolate", "food", "180632", "Chocolate in bars", 12,
       [](Rng& r) {
         int n = r.Int(2, 8);
         return std::vector<Part>{MakePart(K::kCuboid, "chocolate", 1.25, 0, 0, 80, 40, 10.0 * n)};
       }},
      {"canned_food", "food", "200899", "Fruit, prepared or preserved (tins)", 4,
       [](Rng& r) {
         std::vector<Part> p;
         int n = r.Int(1, 3);
         for (int i = 0; i < n; ++i) {
           double cy = (i - (n - 1) / 2.0) * 72;  // shrink-wrapped, touching
           p.push_back(
               MakePart(K::kCylinder, "steel", 1.6, 0, cy, 55, 37, 74, 0, 1.2));  // tinplate
           p.push_back(MakePart(K::kCylinder, "canned_food", 1.05, 0, cy, 53, 35.5, 71));
         }
         return p;
       }},
      // --- cosmetics and liquids (HS 33) ---
      {"shampoo", "cosmetics", "330510", "Shampoos", 10,
       [](Rng& r) {
         double len = r.Uniform(75, 100), rad = r.Uniform(25, 35);
         return std::vector<Part>{
             MakePart(K::kCylinder, "pe", 0.95, 0, 0, len, rad, 2 * rad, 0, 1.5),
             MakePart(K::kCylinder, "shampoo", 1.02, 0, 0, len - 2, rad - 1.5, 2 * rad - 3)};
       }},
      {"perfume", "cosmetics", "330300", "Perfumes", 150,
       [](Rng& r) {
         std::vector<Part> p;
         p.push_back(MakePart(K::kCuboid, "cardboard", 0.6, 0, 0, 50, 38, 40, 0, 1.5));
         p.push_back(MakePart(K::kCuboid, "glass", 2.5, 0, 0, 40, 30, 32, 0, 4.5));
         p.push_back(MakePart(K::kCuboid, "perfume", 0.85, 0, 0, 35, 25, 23));
         p.push_back(MakePart(K::kDisk, "zamak", 6.6, 44, 0, 8, 10, 10));  // cap
         (void)r;
         return p;
       }},
      {"cream", "cosmetics", "330499", "Beauty and skin-care preparations", 60,
       [](Rng& r) {
         bool glass = r.Chance(0.4);
         return std::vector<Part>{
             MakePart(K::kDisk, glass ? "glass" : "pp", glass ? 2.5 : 0.9, 0, 0, 35, 35, 45, 0, 3),
             MakePart(K::kDisk, "cream", 0.98, 0, 0, 32, 32, 36)};
       }},
      {"aerosol", "cosmetics", "330720", "Deodorants (aerosol)", 15,
       [](Rng& r) {
         return std::vector<Part>{
             MakePart(K::kCylinder, "aluminium", 0.8, 0, 0, 75, 26, 52, 0, 1.5),
             MakePart(K::kCylinder, "perfume", 0.7, 0, 0, 70, 24, 48)};
       }},
      // --- tools (HS 82) ---
      {"hammer", "tools", "820520", "Hammers", 12,
       [](Rng& r) {
         double len = r.Uniform(140, 170);
         return std::vector<Part>{MakePart(K::kCuboid, "steel", 7.85, len - 10, 0, 14, 50, 25),
                                  MakePart(K::kCuboid, "wood", 0.65, 0, 0, len - 20, 14, 24)};
       }},
      {"wrench", "tools", "820411", "Spanners and wrenches", 15,
       [](Rng& r) {
         double len = r.Uniform(90, 130);
         return std::vector<Part>{Polygon("steel", 7.85, r.Uniform(5, 8),
                                          {{-len, -9},
                                           {len - 15, -9},
                                           {len, -20},
                                           {len + 15, -12},
                                           {len + 8, -2},
                                           {len + 8, 2},
                                           {len + 15, 12},
                                           {len, 20},
                                           {len - 15, 9},
                                           {-len, 9}})};
       }},
      {"pliers", "tools", "820320", "Pliers", 20,
       [](Rng& r) {
         double len = r.Uniform(80, 100);
         return std::vector<Part>{
             Polygon("steel", 7.85, 9,
                     {{-len, -14},
                      {0, -6},
                      {len * 0.6, -6},
                      {len, -2},
                      {len, 2},
                      {len * 0.6, 6},
                      {0, 6},
                      {-len, 14},
                      {-len, 6},
                      {-10, 0},
                      {-len, -6}}),
             MakePart(K::kCuboid, "pvc", 1.38, -len * 0.6, -10, len * 0.4, 5, 12, 0.15),
             MakePart(K::kCuboid, "pvc", 1.38, -len * 0.6, 10, len * 0.4, 5, 12, -0.15)};
       }},
      {"screwdrivers", "tools", "820540", "Screwdrivers", 25,
       [](Rng& r) {
         std::vector<Part> p;
         int n = r.Int(2, 5);
         p.push_back(
             MakePart(K::kCuboid, "pp", 0.9, 10, 0, 110, n * 15.0 + 4, 30, 0, 1.5));  // holder
         for (int i = 0; i < n; ++i) {
           double y = (i - (n - 1) / 2.0) * 30;
           p.push_back(MakePart(K::kCylinder, "steel", 7.85, 55, y, 55, 3.5, 7));
           p.push_back(MakePart(K::kCylinder, "abs", 1.05, -40, y, 45, 13, 26));
         }
         return p;
       }},
      // --- ceramics (HS 69) ---
      {"mug", "ceramics", "691200", "Ceramic tableware (mugs)", 8,
       [](Rng& r) {
         std::vector<Part> p;
         if (r.Chance(0.5)) {  // standing
           p.push_back(MakePart(K::kDisk, "porcelain", 2.4, 0, 0, 42, 42, 95, 0, 4));
         } else {  // lying on its side
           p.push_back(MakePart(K::kCylinder, "porcelain", 2.4, 0, 0, 48, 42, 84, 0, 4));
         }
         p.push_back(MakePart(K::kCuboid, "porcelain", 2.4, 0, 52, 22, 8, 12));
         return p;
       }},
      {"plates", "ceramics", "691110", "Tableware of porcelain (plates)", 6,
       [](Rng& r) {
         int n = r.Int(1, 6);
         double rad = r.Uniform(100, 135);
         return std::vector<Part>{MakePart(K::kDisk, "porcelain", 2.4, 0, 0, rad, rad, 5.0 * n)};
       }},
      {"vase", "ceramics", "691390", "Ceramic ornamental articles", 15,
       [](Rng& r) {
         double len = r.Uniform(100, 140), rad = r.Uniform(45, 65);
         return std::vector<Part>{
             MakePart(K::kCylinder, "earthenware", 2.0, 0, 0, len, rad, 2 * rad, 0, 6)};
       }},
  };
  return types;
}

std::vector<Part> Pistol(Rng& r, bool polymer_frame) {
  std::vector<Part> p;
  // Lying flat: the side profile is the footprint, the gun's width is the depth.
  p.push_back(MakePart(K::kCuboid, "steel", 7.85, 20, -40, 93, 16, 26));   // slide
  p.push_back(MakePart(K::kCylinder, "steel", 7.85, 25, -40, 60, 6, 12));  // barrel in it
  p.push_back(Polygon(
      polymer_frame ? "nylon_gf" : "steel", polymer_frame ? 1.4 : 7.85, polymer_frame ? 30 : 24,
      {{-70, -24}, {100, -24}, {100, -14}, {-20, -14}, {-50, 70}, {-85, 65}, {-68, -14}}));
  p.push_back(
      Polygon("steel", 7.85, 8, {{-10, -14}, {20, -14}, {25, 15}, {-18, 15}}));     // trigger guard
  p.push_back(MakePart(K::kCuboid, "steel", 3.5, -55, 25, 13, 45, 22, 0.38, 1.0));  // magazine
  for (int i = 0; i < r.Int(0, 12); i += 2)                                         // cartridges
    p.push_back(MakePart(K::kCylinder, "brass", 4.0, -48 + i * 1.2, -8 + i * 5.5, 10, 4.5, 9, 0.2));
  return p;
}

const std::vector<ThreatType>& ClassicThreatTypes() {
  static const std::vector<ThreatType> types = {
      {"cocaine_brick", "narcotics",
       [](Rng& r) {
         double d = r.Uniform(30, 60);
         return std::vector<Part>{
             MakePart(K::kCuboid, "cocaine_hcl", r.Uniform(1.1, 1.3), 0, 0, 100, 55, d),
             MakePart(K::kCuboid, "pe", 0.92, 0, 0, 102, 57, d + 4, 0, 2.0)};
       }},
      {"heroin_packets", "narcotics",
       [](Rng& r) {
         std::vector<Part> p;
         int n = r.Int(2, 6);
         const char* m = r.Chance(0.5) ? "heroin_hcl" : "heroin_base";
         for (int i = 0; i < n; ++i)
           p.push_back(MakePart(K::kPillow, m, r.Uniform(1.0, 1.25), (i % 3) * 62.0 - 62,
                                (i / 3) * 42.0 - 21, 32, 22, 22));
         return p;
       }},
      {"cannabis_block", "narcotics",
       [](Rng& r) {
         double d = r.Uniform(40, 80);
         return std::vector<Part>{
             MakePart(K::kCuboid, "cannabis", r.Uniform(0.6, 1.0), 0, 0, 110, 70, d),
             MakePart(K::kCuboid, "pe", 0.92, 0, 0, 112, 72, d + 4, 0, 2.0)};
       }},
      {"pistol", "firearm", [](Rng& r) { return Pistol(r, r.Chance(0.5)); }},
      {"revolver", "firearm",
       [](Rng& r) {
         (void)r;
         return std::vector<Part>{
             MakePart(K::kCylinder, "steel", 7.85, 60, -30, 55, 9, 18),  // barrel
             MakePart(K::kCuboid, "steel", 7.85, -5, -30, 22, 19, 38),   // cylinder
             Polygon("steel", 7.85, 20,
                     {{-30, -40}, {20, -40}, {20, -12}, {-40, 60}, {-70, 55}, {-45, -12}}),
             Polygon("wood", 0.7, 32, {{-42, 5}, {-30, 5}, {-45, 60}, {-68, 56}})};
       }},
      {"gun_barrel", "firearm_part",
       [](Rng& r) {
         double len = r.Uniform(50, 90);
         return std::vector<Part>{MakePart(K::kCylinder, "steel", 7.85, 0, 0, len, 11, 22, 0, 6.5)};
       }},
      {"gun_slide", "firearm_part",
       [](Rng& r) {
         (void)r;
         return std::vector<Part>{MakePart(K::kCuboid, "steel", 7.85, 0, 0, 93, 16, 26, 0, 4)};
       }},
      {"loaded_magazine", "firearm_part",
       [](Rng& r) {
         std::vector<Part> p{MakePart(K::kCuboid, "steel", 3.5, 0, 0, 15, 60, 22, 0, 1.0)};
         int n = r.Int(4, 10);
         for (int i = 0; i < n; ++i) {
           p.push_back(MakePart(K::kCylinder, "brass", 4.0, -2, -50 + i * 10.0, 9, 4.5, 9));
           p.push_back(MakePart(K::kEllipsoid, "lead", 11.34, 10, -50 + i * 10.0, 6, 4.5, 9));
         }
         return p;
       }},
      {"kitchen_knife", "knife",
       [](Rng& r) {
         double len = r.Uniform(80, 120);
         return std::vector<Part>{
             Polygon("stainless", 7.9, r.Uniform(2.0, 3.0),
                     {{0, -12}, {len, -10}, {len + 25, 0}, {len, 10}, {0, 12}}, 10, 0),
             MakePart(K::kCuboid, r.Chance(0.5) ? "wood" : "abs", 0.9, -50, 0, 55, 12, 18)};
       }},
      {"folding_knife", "knife",
       [](Rng& r) {
         double len = r.Uniform(50, 70);
         return std::vector<Part>{
             Polygon("stainless", 7.9, 3.0, {{0, -10}, {len, -6}, {len + 15, 0}, {len, 7}, {0, 10}},
                     5, 0),
             MakePart(K::kCuboid, "steel", 7.85, -45, 0, 50, 10, 6),
             MakePart(K::kCuboid, "aluminium", 2.7, -45, 0, 52, 11, 11)};
       }},
      {"cigarette_cartons", "cigarettes",
       [](Rng& r) {
         std::vector<Part> p;
         int n = r.Int(1, 4);
         for (int i = 0; i < n; ++i) {
           double y = (i - (n - 1) / 2.0) * 90;
           p.push_back(MakePart(K::kCuboid, "tobacco", r.Uniform(0.22, 0.3), 0, y, 133, 44, 48));
           p.push_back(MakePart(K::kCuboid, "cardboard", 0.7, 0, y, 135, 45, 50, 0, 1.5));
         }
         return p;
       }},
      {"currency_bundles", "currency",
       [](Rng& r) {
         std::vector<Part> p;
         int n = r.Int(1, 6);
         for (int i = 0; i < n; ++i)
           p.push_back(MakePart(K::kCuboid, "banknote", 0.85, (i % 2) * 156.0 - 78,
                                (i / 2) * 66.0 - 66, 78, 33, r.Uniform(10, 30)));
         return p;
       }},
      {"loose_li_cells", "lithium_battery",
       [](Rng& r) {
         std::vector<Part> p;
         int cols = r.Int(2, 5), rows = r.Int(2, 5);
         for (int i = 0; i < cols; ++i)
           for (int j = 0; j < rows; ++j)
             Add18650(&p, (i - (cols - 1) / 2.0) * 65, (j - (rows - 1) / 2.0) * 18);
         return p;
       }},
      {"li_pouch_pack", "lithium_battery",
       [](Rng& r) {
         std::vector<Part> p;
         int n = r.Int(2, 6);
         for (int i = 0; i < n; ++i)
           p.push_back(MakePart(K::kCuboid, "liion_pouch", 2.3, (i % 3) * 68.0 - 68,
                                (i / 3) * 50.0 - 25, 34, 25, 6));
         return p;
       }},
  };
  return types;
}

}  // namespace

const std::vector<GoodsCategory>& GoodsCategories() {
  static const std::vector<GoodsCategory> c = {
      {"clothing", "61-62", 12},   {"shoes", "64", 17},    {"books", "49", 0},
      {"electronics", "84-85", 0}, {"toys", "95/39", 4.7}, {"food", "09-21", 8},
      {"cosmetics", "33-34", 6.5}, {"tools", "82", 3.7},   {"ceramics", "69", 12}};
  return c;
}

std::vector<std::string> UnknownMaterialNames() { return Unknown(); }

namespace {

const std::vector<GoodsType>& AllGoodsTypes() {
  static const std::vector<GoodsType> all = [] {
    std::vector<GoodsType> v = ClassicGoodsTypes();
    for (const auto& t : ExtendedGoodsTypes()) v.push_back(t);
    return v;
  }();
  return all;
}

const std::vector<ThreatType>& AllThreatTypes() {
  static const std::vector<ThreatType> all = [] {
    std::vector<ThreatType> v = ClassicThreatTypes();
    for (const auto& t : ParametricThreatTypes()) v.push_back(t);
    return v;
  }();
  return all;
}

bool FamilyAllowed(size_t i, const FamilyFilter& families) {
  return families.empty() ? AllThreatTypes()[i].classic : families[i];
}

}  // namespace

int CatalogMaterial(const char* name) {
  int i = MaterialIndex(name);
  if (i < 0) {
    static std::mutex mu;
    std::lock_guard<std::mutex> lock(mu);
    Unknown().push_back(name);  // a typo in the catalogue: the tests look here
    return 0;
  }
  return i;
}

std::vector<std::string> GoodsTypeNames(std::string_view category, bool extended) {
  std::vector<std::string> out;
  for (const auto& t : AllGoodsTypes())
    if (category == t.category && (extended || !t.extended)) out.push_back(t.name);
  return out;
}

Item MakeGoods(std::string_view category, Rng* rng, bool extended) {
  std::vector<const GoodsType*> of;
  for (const auto& t : AllGoodsTypes())
    if (category == t.category && (extended || !t.extended)) of.push_back(&t);
  Item item;
  if (of.empty()) return item;
  const GoodsType* t = of[rng->Int(0, static_cast<int>(of.size()) - 1)];
  item.name = t->name;
  item.category = t->category;
  item.hs_code = t->hs_code;
  item.description = t->description;
  item.value_per_kg = t->value_per_kg;
  item.parts = t->make(*rng);
  return item;
}

Result<FamilyFilter> MakeFamilyFilter(const std::vector<std::string>& names) {
  if (names.empty()) return FamilyFilter{};
  const auto& all = AllThreatTypes();
  FamilyFilter f(all.size(), false);
  for (const auto& n : names) {
    size_t i = 0;
    while (i < all.size() && n != all[i].name) ++i;
    if (i == all.size()) return Status::InvalidArgument("unknown threat family '" + n + "'");
    f[i] = true;
  }
  return f;
}

bool ClassHasFamily(std::string_view threat_class, const FamilyFilter& families) {
  const auto& all = AllThreatTypes();
  for (size_t i = 0; i < all.size(); ++i)
    if (threat_class == all[i].threat_class && FamilyAllowed(i, families)) return true;
  return false;
}

Item MakeThreat(std::string_view threat_class, Rng* rng, const FamilyFilter& families) {
  std::vector<const ThreatType*> of;
  const auto& all = AllThreatTypes();
  for (size_t i = 0; i < all.size(); ++i)
    if (threat_class == all[i].threat_class && FamilyAllowed(i, families)) of.push_back(&all[i]);
  Item item;
  if (of.empty()) return item;
  const ThreatType* t = of[rng->Int(0, static_cast<int>(of.size()) - 1)];
  item.name = t->name;
  item.category = "threat";
  item.threat = true;
  item.threat_class = t->threat_class;
  item.parts = t->make(*rng);
  return item;
}

Item MakeContainer(bool bag, double length, double width, double depth) {
  Item item;
  item.packaging = true;
  item.category = "packaging";
  if (bag) {
    item.name = "mail_bag";
    // PE film, 0.15 mm, drawn as a 1.5 mm shell at a tenth of the density (same mass per area).
    Part p = MakePart(K::kPillow, "pe", 0.092, 0, 0, length / 2, width / 2, depth, 0, 1.5);
    p.mask_min_mm = 12;
    item.parts.push_back(p);
  } else {
    item.name = "cardboard_box";
    // Corrugated board: 4 mm walls of 0.13 g/cm^3; the side walls seen edge-on form the outline.
    Part p = MakePart(K::kCuboid, "cardboard", 0.13, 0, 0, length / 2, width / 2, depth, 0, 4.0);
    p.mask_min_mm = 20;
    item.parts.push_back(p);
  }
  return item;
}

}  // namespace clearsight::xray

namespace clearsight {

const std::vector<std::string>& ThreatClasses() {
  static const std::vector<std::string> c = {"narcotics",  "firearm",  "firearm_part",   "knife",
                                             "cigarettes", "currency", "lithium_battery"};
  return c;
}

ThreatSeverity SeverityOfThreatClass(std::string_view threat_class) {
  for (std::string_view weapon : {"firearm", "firearm_part", "knife"})
    if (threat_class == weapon) return ThreatSeverity::kWeapon;
  return ThreatSeverity::kContraband;
}

std::vector<ThreatFamily> ThreatFamilies() {
  std::vector<ThreatFamily> out;
  for (const auto& t : xray::AllThreatTypes()) out.push_back({t.name, t.threat_class, t.classic});
  return out;
}

Result<std::vector<std::string>> ParseThreatFamilies(std::string_view spec) {
  const std::vector<ThreatFamily> all = ThreatFamilies();
  std::vector<bool> on(all.size(), false);
  for (size_t i = 0; i < all.size(); ++i) on[i] = all[i].classic;
  // Left to right from the classic set; a list that starts with a name starts from none.
  bool first = true;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t end = spec.find(',', pos);
    if (end == std::string_view::npos) end = spec.size();
    std::string_view item = spec.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    const bool remove = item.front() == '-';
    if (remove) item.remove_prefix(1);
    const bool was_first = first;
    first = false;
    if (item == "classic" || item == "all") {  // the set, or with '-' all of it out
      for (size_t i = 0; i < all.size(); ++i)
        if (item == "all" || all[i].classic)
          on[i] = !remove;
        else if (!remove)
          on[i] = false;
      continue;
    }
    if (was_first && !remove) on.assign(all.size(), false);
    bool known = false;
    for (size_t i = 0; i < all.size(); ++i)
      if (item == all[i].name || item == all[i].threat_class) {
        on[i] = !remove;
        known = true;
      }
    if (!known)
      return Status::InvalidArgument("unknown threat family or class '" + std::string(item) +
                                     "' (clearsight xray simulate --list-threat-families)");
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < all.size(); ++i)
    if (on[i]) names.push_back(all[i].name);
  if (names.empty())
    return Status::InvalidArgument("the threat families '" + std::string(spec) + "' leave none");
  return names;
}

}  // namespace clearsight
