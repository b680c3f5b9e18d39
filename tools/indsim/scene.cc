#include "scene.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace indsim {

double Shape::Thickness(double u, double v) const {
  switch (kind) {
    case ShapeKind::kCuboid:
      return std::abs(u) < a && std::abs(v) < b ? c : 0;
    case ShapeKind::kOpenBox: {
      if (std::abs(u) >= a || std::abs(v) >= b) return 0;
      const bool edge = std::abs(u) > a - wall || std::abs(v) > b - wall;
      return edge ? c : 2 * wall;
    }
    case ShapeKind::kSuperEllipsoid:
    case ShapeKind::kSuperShell: {
      auto blob = [&](double ha, double hb, double hc) {
        if (ha <= 0 || hb <= 0 || hc <= 0) return 0.0;
        const double s = std::pow(std::abs(u / ha), n) + std::pow(std::abs(v / hb), n);
        return s < 1 ? 2 * hc * std::pow(1 - s, 1 / n) : 0.0;
      };
      const double outer = blob(a, b, c);
      if (kind == ShapeKind::kSuperEllipsoid || outer == 0) return outer;
      return outer - blob(a - wall, b - wall, c - wall);
    }
    case ShapeKind::kLyingCylinder: {
      if (std::abs(u) >= a || std::abs(v) >= b) return 0;
      double t = 2 * std::sqrt(b * b - v * v);
      if (wall > 0 && std::abs(v) < wall) t -= 2 * std::sqrt(wall * wall - v * v);
      return t;
    }
    case ShapeKind::kStandingCylinder: {
      const double r = std::hypot(u, v);
      if (r >= a) return 0;
      if (wall > 0 && r < a - wall) return b;
      return c;
    }
    case ShapeKind::kPrism: {
      bool in = false;
      for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
        const auto [xi, yi] = poly[i];
        const auto [xj, yj] = poly[j];
        if ((yi > v) != (yj > v) && u < (xj - xi) * (v - yi) / (yj - yi) + xi) in = !in;
      }
      return in ? c : 0;
    }
  }
  return 0;
}

double Shape::Radius() const {
  switch (kind) {
    case ShapeKind::kStandingCylinder:
      return a;
    case ShapeKind::kPrism: {
      double r = 0;
      for (const auto& [x, y] : poly) r = std::max(r, std::hypot(x, y));
      return r;
    }
    default:
      return std::hypot(a, b);
  }
}

namespace {

Shape Cuboid(double lx, double ly, double h) {
  Shape s;
  s.kind = ShapeKind::kCuboid;
  s.a = lx / 2, s.b = ly / 2, s.c = h;
  return s;
}
Shape OpenBox(double lx, double ly, double h, double wall) {
  Shape s = Cuboid(lx, ly, h);
  s.kind = ShapeKind::kOpenBox;
  s.wall = wall;
  return s;
}
Shape Blob(double lx, double ly, double h, double n) {
  Shape s;
  s.kind = ShapeKind::kSuperEllipsoid;
  s.a = lx / 2, s.b = ly / 2, s.c = h / 2, s.n = n;
  return s;
}
Shape Wrap(double lx, double ly, double h, double n, double wall) {
  Shape s = Blob(lx, ly, h, n);
  s.kind = ShapeKind::kSuperShell;
  s.wall = wall;
  return s;
}
Shape Rod(double length, double radius, double bore = 0) {
  Shape s;
  s.kind = ShapeKind::kLyingCylinder;
  s.a = length / 2, s.b = radius, s.wall = bore;
  return s;
}
Shape Disc(double radius, double height, double wall = 0, double floor = 0) {
  Shape s;
  s.kind = ShapeKind::kStandingCylinder;
  s.a = radius, s.c = height, s.wall = wall, s.b = floor;
  return s;
}
Shape Prism(std::vector<std::pair<double, double>> poly, double h) {
  Shape s;
  s.kind = ShapeKind::kPrism;
  s.poly = std::move(poly);
  s.c = h;
  return s;
}
// A random star-shaped polygon of `k` vertices within radii [r0, r1].
Shape RandomPrism(Rng& rng, int k, double r0, double r1, double h) {
  std::vector<std::pair<double, double>> p;
  for (int i = 0; i < k; ++i) {
    const double t = 2 * M_PI * (i + rng.U(-0.3, 0.3)) / k;
    const double r = rng.U(r0, r1);
    p.emplace_back(r * std::cos(t), r * std::sin(t));
  }
  return Prism(std::move(p), h);
}

// Height of a shape's centre above the surface it rests on, mm.
double HalfHeight(const Shape& s) {
  switch (s.kind) {
    case ShapeKind::kSuperEllipsoid:
    case ShapeKind::kSuperShell:
      return s.c;  // c is the half axis
    case ShapeKind::kLyingCylinder:
      return s.b;  // the radius
    default:
      return s.c / 2;
  }
}

struct Builder {
  const MaterialTable& m;
  SceneObject o;
  Builder(const MaterialTable& mats, std::string name) : m(mats) { o.name = std::move(name); }
  Builder& Add(const Shape& s, const std::string& mat, double density, double x = 0, double y = 0,
               double angle = 0, double z = -1) {
    Part p;
    p.shape = s;
    p.material = m.Id(mat);
    p.density = density > 0 ? density : m[p.material].density;
    p.x = x, p.y = y, p.angle = angle;
    p.z = z >= 0 ? z : HalfHeight(s);
    o.parts.push_back(std::move(p));
    return *this;
  }
  SceneObject Done(double height) {
    o.height_mm = height;
    return std::move(o);
  }
};

// ---- goods ---------------------------------------------------------------------------------

SceneObject FoldedTextile(Rng& r, const MaterialTable& m, const std::string& fibre, bool denim) {
  const double lx = r.U(180, 320), ly = r.U(140, 260), h = r.U(15, 55);
  Builder b(m, denim ? "folded trousers" : "folded garment");
  b.Add(Blob(lx, ly, h, r.U(3, 6)), fibre, r.U(0.16, 0.34));
  if (denim) {
    for (int i = 0; i < r.I(3, 6); ++i)  // rivets and a button
      b.Add(Disc(r.U(3.5, 6), r.U(2, 4)), "brass", 0, r.U(-lx / 3, lx / 3), r.U(-ly / 3, ly / 3));
    b.Add(Cuboid(r.U(80, 140), 6, 2), "brass", 3.5, r.U(-20, 20), r.U(-20, 20), r.U(0, 3.14));
  }
  if (r.Chance(0.5)) b.Add(Wrap(lx + 6, ly + 6, h + 4, 4, 0.08), "pe", 0);  // poly bag
  return b.Done(h);
}

SceneObject Book(Rng& r, const MaterialTable& m) {
  const double lx = r.U(150, 250), ly = r.U(105, 180), h = r.U(8, 50);
  Builder b(m, "book");
  b.Add(Cuboid(lx, ly, h), "paper", r.U(0.72, 1.05));
  if (r.Chance(0.4)) b.Add(OpenBox(lx + 4, ly + 4, h + 4, 2.0), "cardboard", 0.7);  // hard cover
  return b.Done(h + 4);
}

SceneObject RubberGoods(Rng& r, const MaterialTable& m) {
  Builder b(m, "rubber article");
  if (r.Chance(0.5)) {  // rolled mat
    const double len = r.U(150, 400), rad = r.U(25, 60);
    b.Add(Rod(len, rad, rad * r.U(0.2, 0.5)), "rubber", r.U(0.9, 1.1));
    return b.Done(2 * rad);
  }
  const double h = r.U(10, 40);
  b.Add(RandomPrism(r, r.I(5, 9), r.U(30, 50), r.U(55, 100), h), "rubber", 0);
  return b.Done(h);
}

SceneObject SugarBag(Rng& r, const MaterialTable& m) {
  const double h = r.U(40, 70);
  Builder b(m, "sugar bag");
  b.Add(Blob(r.U(150, 220), r.U(90, 130), h, 5), "sugar", r.U(0.8, 0.9));
  b.Add(Wrap(220, 135, h + 3, 5, 0.12), "paper", 0.8);
  return b.Done(h);
}

SceneObject FoodJar(Rng& r, const MaterialTable& m) {
  const double rad = r.U(30, 45), h = r.U(70, 120), wall = r.U(2.5, 4.5);
  Builder b(m, "jar of preserves");
  b.Add(Disc(rad, h, wall, 2 * wall), "glass", 0);
  b.Add(Disc(rad - wall, h * 0.85), "food", r.U(0.95, 1.1));
  b.Add(Disc(rad + 1, 10), "steel", 7.85 * 0.04, 0, 0, 0, h - 5);  // thin lid, 0.4 mm steel
  return b.Done(h);
}

SceneObject TinCan(Rng& r, const MaterialTable& m) {
  const double rad = r.U(32, 50), len = r.U(40, 110);
  Builder b(m, "tin can");
  if (r.Chance(0.5)) {
    b.Add(Disc(rad, len, 0.25, 0.5), "steel", 0);
    b.Add(Disc(rad - 0.3, len - 1), "food", r.U(0.9, 1.1));
  } else {
    b.Add(Rod(len, rad, rad - 0.25), "steel", 0);
    b.Add(Cuboid(0.5, 2 * rad, 2 * rad * 0.8), "steel", 0, len / 2);
    b.Add(Cuboid(0.5, 2 * rad, 2 * rad * 0.8), "steel", 0, -len / 2);
    b.Add(Rod(len - 1, rad - 0.3), "food", r.U(0.9, 1.1));
  }
  return b.Done(2 * rad);
}

SceneObject Biscuits(Rng& r, const MaterialTable& m) {
  const double h = r.U(35, 70);
  Builder b(m, "biscuit packet");
  b.Add(Cuboid(r.U(150, 220), r.U(60, 100), h), "food", r.U(0.35, 0.55));
  b.Add(Wrap(230, 110, h + 4, 8, 0.3), "cardboard", 0.7);
  return b.Done(h);
}

SceneObject SoapBars(Rng& r, const MaterialTable& m) {
  Builder b(m, "soap bars");
  const int k = r.I(1, 4);
  const double lx = r.U(80, 100), ly = r.U(50, 65), h = r.U(25, 35);
  for (int i = 0; i < k; ++i)
    b.Add(Blob(lx, ly, h, 4), "soap", 0, 0, (i - (k - 1) / 2.0) * (ly + 4));
  b.Add(Cuboid(lx + 6, k * (ly + 4) + 4, 1.0), "cardboard", 0.7, 0, 0, 0, h + 0.5);
  return b.Done(h);
}

SceneObject CreamJars(Rng& r, const MaterialTable& m) {
  Builder b(m, "cream jars");
  const int k = r.I(1, 3);
  for (int i = 0; i < k; ++i) {
    const double rad = r.U(25, 40), h = r.U(30, 55);
    b.Add(Disc(rad, h, 2.5, 3), "pp", 0, (i - (k - 1) / 2.0) * 90);
    b.Add(Disc(rad - 2.5, h * 0.8), "oil", 0.95, (i - (k - 1) / 2.0) * 90);
  }
  return b.Done(55);
}

SceneObject Perfume(Rng& r, const MaterialTable& m) {
  Builder b(m, "perfume bottle");
  const double lx = r.U(40, 70), ly = r.U(30, 50), h = r.U(70, 110);
  b.Add(Cuboid(lx, ly, h), "glass", 2.5 * 0.25);  // thick glass walls, averaged
  b.Add(Cuboid(lx - 12, ly - 12, h * 0.7), "wine", 0.85);
  b.Add(Disc(8, 20), "abs", 0, lx / 2);
  b.Add(OpenBox(lx + 15, ly + 15, h + 10, 1.5), "cardboard", 0.7);
  return b.Done(ly + 15);
}

// Electronics: a housing, one or two boards, metal parts.
SceneObject Device(Rng& r, const MaterialTable& m, int variant) {
  Builder b(m, variant == 0 ? "network router" : variant == 1 ? "keyboard" : "power adapter");
  double lx, ly, h;
  if (variant == 0)
    lx = r.U(150, 260), ly = r.U(100, 180), h = r.U(25, 45);
  else if (variant == 1)
    lx = r.U(280, 450), ly = r.U(110, 160), h = r.U(18, 30);
  else
    lx = r.U(60, 110), ly = r.U(45, 70), h = r.U(30, 45);
  const std::string housing = r.Chance(0.3) && variant != 2 ? "aluminium" : "abs";
  b.Add(OpenBox(lx, ly, h, housing == "aluminium" ? 1.5 : 2.5), housing, 0);
  b.Add(Cuboid(lx * 0.8, ly * 0.8, 1.6), "fr4", 0, 0, 0, 0, 4);
  if (variant == 1) b.Add(Cuboid(lx * 0.9, ly * 0.85, 1.2), "steel", 0, 0, 0, 0, 8);
  if (variant == 2) {  // transformer and heat sink
    b.Add(Cuboid(25, 22, 20), "steel", 7.85 * 0.6, lx * 0.15, 0, 0, 14);
    b.Add(Disc(11, 14, 4, 0), "copper", 8.96 * 0.5, lx * 0.15, 0, 0, 14);
    b.Add(Cuboid(lx * 0.3, 3, 20), "aluminium", 0, -lx * 0.2, ly * 0.2);
  } else {
    for (int i = 0; i < r.I(2, 6); ++i)  // shields, connectors, screws
      b.Add(Cuboid(r.U(8, 30), r.U(8, 20), r.U(3, 12)), r.Chance(0.5) ? "steel" : "aluminium",
            r.U(1.0, 3.0), r.U(-lx / 3, lx / 3), r.U(-ly / 3, ly / 3), 0, 8);
    for (int i = 0; i < 4; ++i)
      b.Add(Disc(1.5, 6), "steel", 0, (i % 2 ? 1 : -1) * lx * 0.42, (i / 2 ? 1 : -1) * ly * 0.4);
  }
  b.Add(Rod(r.U(300, 900) / 3, 2.5, 0), "pvc", 1.2, -lx * 0.7, 0, r.U(0, 1));  // coiled cable
  b.Add(Rod(80, 0.6), "copper", 0, -lx * 0.7, 0, r.U(0, 1));
  return b.Done(h);
}

SceneObject Tool(Rng& r, const MaterialTable& m, int variant) {
  switch (variant) {
    case 0: {  // spanner
      Builder b(m, "spanner");
      const double len = r.U(120, 300), w = len * r.U(0.08, 0.12), t = r.U(4, 8);
      b.Add(Cuboid(len * 0.8, w, t), "steel", 0);
      b.Add(Disc(w * 1.3, t * 1.3, w * 0.5, 0), "steel", 0, len * 0.45);
      b.Add(Disc(w * 1.1, t, w * 0.55, 0), "steel", 0, -len * 0.45);
      return b.Done(t * 1.3);
    }
    case 1: {  // hammer
      Builder b(m, "hammer");
      const double hl = r.U(250, 330), head = r.U(90, 120), hs = r.U(22, 30);
      b.Add(Cuboid(hl, r.U(22, 30), r.U(18, 25)), r.Chance(0.5) ? "wood" : "polyamide_gf", 0);
      b.Add(Cuboid(hs, head, hs), "steel", 0, hl / 2 - hs / 2);
      return b.Done(hs);
    }
    case 2: {  // screwdrivers
      Builder b(m, "screwdrivers");
      const int k = r.I(1, 6);
      for (int i = 0; i < k; ++i) {
        const double sl = r.U(60, 150), y = (i - (k - 1) / 2.0) * 32;
        b.Add(Rod(sl, r.U(2, 4)), "stainless", 0, sl / 2, y);
        b.Add(Rod(r.U(80, 110), r.U(11, 15)), r.Chance(0.5) ? "abs" : "pp", 0, -45, y);
      }
      return b.Done(30);
    }
    default: {  // pliers
      Builder b(m, "pliers");
      const double len = r.U(140, 220);
      const double open = r.U(0.05, 0.25);
      b.Add(Prism({{0, -6}, {len * 0.35, -9}, {len * 0.35, 9}, {0, 6}}, 9), "steel", 0, 0, 0);
      for (int s : {-1, 1}) {
        b.Add(Prism({{0, -5}, {len * 0.65, -6}, {len * 0.65, 6}, {0, 5}}, 8), "steel", 0, 0, 0,
              M_PI + s * open);
        b.Add(Prism({{len * 0.2, -8}, {len * 0.62, -9}, {len * 0.62, 9}, {len * 0.2, 8}}, 14),
              "pvc", 0.4, 0, 0, M_PI + s * open);
      }
      b.Add(Disc(6, 11), "steel", 0);
      return b.Done(14);
    }
  }
}

SceneObject WineBottle(Rng& r, const MaterialTable& m) {
  Builder b(m, "wine bottle");
  const double len = r.U(220, 260), rad = r.U(36, 42), wall = r.U(3, 5);
  b.Add(Rod(len * 0.7, rad, rad - wall), "glass", 0);
  b.Add(Rod(len * 0.7 - 2 * wall, rad - wall), "wine", 0, -2);
  b.Add(Rod(len * 0.3, 15, 9), "glass", 0, len * 0.5);
  b.Add(Cuboid(2 * wall, 2 * (rad - wall), 2 * (rad - wall)), "glass", 0, -len * 0.35 + wall);
  b.Add(Cuboid(wall, 2 * rad, 2 * rad), "glass", 0, len * 0.35 - wall);  // shoulder
  if (r.Chance(0.5)) b.Add(OpenBox(len + 20, 2 * rad + 20, 2 * rad + 20, 3), "cardboard", 0.5);
  return b.Done(2 * rad);
}

SceneObject Tableware(Rng& r, const MaterialTable& m, int variant) {
  if (variant == 0) {  // stack of plates, lying flat
    Builder b(m, "plates");
    const double rad = r.U(90, 140);
    const int k = r.I(1, 6);
    b.Add(Disc(rad, k * r.U(4, 7) + 8, 15, k * r.U(4, 7)), "porcelain", 0);
    b.Add(Disc(rad * 0.98, 0.4), "ceramic_glaze", 0);
    return b.Done(k * 8.0 + 10);
  }
  Builder b(m, "mugs");  // mugs standing: the wall is seen along its height
  const int k = r.I(1, 4);
  for (int i = 0; i < k; ++i) {
    const double rad = r.U(38, 48), h = r.U(85, 110), x = (i - (k - 1) / 2.0) * 110;
    b.Add(Disc(rad, h, r.U(4, 6), 7), "porcelain", 0, x);
    b.Add(Prism({{rad - 2, -6}, {rad + 25, -6}, {rad + 25, 6}, {rad - 2, 6}}, 10), "porcelain", 0,
          x);
  }
  b.Add(OpenBox(k * 110 + 20, 120, 120, 3), "cardboard", 0.5);
  return b.Done(120);
}

SceneObject Toy(Rng& r, const MaterialTable& m, int variant) {
  if (variant == 0) {  // plush
    Builder b(m, "plush toy");
    const double s = r.U(120, 280);
    b.Add(Blob(s, s * 0.8, s * 0.5, 2.2), "polyester", r.U(0.03, 0.08));
    b.Add(Blob(s * 0.45, s * 0.4, s * 0.35, 2.2), "polyester", r.U(0.03, 0.08), s * 0.5);
    b.Add(Disc(5, 6), "abs", 0, s * 0.6, 10);
    b.Add(Disc(5, 6), "abs", 0, s * 0.6, -10);
    return b.Done(s * 0.5);
  }
  Builder b(m, variant == 1 ? "plastic toy vehicle" : "construction bricks");
  if (variant == 1) {
    const double lx = r.U(120, 250), ly = lx * r.U(0.4, 0.6), h = r.U(40, 80);
    b.Add(OpenBox(lx, ly, h, 2.5), "abs", 0);
    for (int i = 0; i < 4; ++i)
      b.Add(Disc(lx * 0.1, 15, 3, 3), "rubber", 0, (i % 2 ? 1 : -1) * lx * 0.32,
            (i / 2 ? 1 : -1) * ly * 0.5);
    if (r.Chance(0.5)) b.Add(Rod(ly, 2), "steel", 0, lx * 0.32, 0, M_PI / 2);
    if (r.Chance(0.5)) b.Add(Rod(ly, 2), "steel", 0, -lx * 0.32, 0, M_PI / 2);
    return b.Done(h);
  }
  const int k = r.I(8, 30);
  for (int i = 0; i < k; ++i)
    b.Add(OpenBox(r.U(16, 64), r.U(16, 32), r.U(10, 20), 1.5), "abs", 0, r.U(-90, 90), r.U(-60, 60),
          r.U(0, 3.14), r.U(5, 40));
  b.Add(Wrap(220, 150, 60, 8, 1.0), "cardboard", 0.5);
  return b.Done(60);
}

SceneObject Household(Rng& r, const MaterialTable& m) {
  Builder b(m, "plastic containers");
  const int k = r.I(1, 4);
  const double lx = r.U(120, 220), ly = r.U(90, 160), h = r.U(50, 100);
  for (int i = 0; i < k; ++i)
    b.Add(OpenBox(lx - 4 * i, ly - 4 * i, h, 1.6), "pp", 0, 0, 0, 0, h / 2 + 3 * i);
  return b.Done(h + 3 * k);
}

// ---- catalogue ----------------------------------------------------------------------------

struct GoodsTemplate {
  GoodsKind kind;
  std::function<SceneObject(Rng&, const MaterialTable&)> make;
};
struct Category {
  std::string name;
  std::vector<GoodsTemplate> goods;
};

const std::vector<Category>& Catalogue() {
  static const std::vector<Category> c = {
      {"clothing",
       {{{"clothing", "610910", "T-shirts of cotton, knitted", 35},
         [](Rng& r, const MaterialTable& m) { return FoldedTextile(r, m, "cotton", false); }},
        {{"clothing", "611030", "Pullovers of man-made fibres", 40},
         [](Rng& r, const MaterialTable& m) { return FoldedTextile(r, m, "polyester", false); }},
        {{"clothing", "620462", "Women's trousers of cotton denim", 45},
         [](Rng& r, const MaterialTable& m) { return FoldedTextile(r, m, "cotton", true); }}}},
      {"books",
       {{{"books", "490199", "Printed books", 14}, Book},
        {{"books", "482010", "Notebooks and diaries", 10}, Book}}},
      {"rubber", {{{"rubber", "401699", "Articles of vulcanised rubber", 9}, RubberGoods}}},
      {"food",
       {{{"food", "170199", "Cane sugar, refined", 2}, SugarBag},
        {{"food", "200899", "Fruit preserved in jars", 6}, FoodJar},
        {{"food", "160414", "Prepared tuna in cans", 9}, TinCan},
        {{"food", "190531", "Sweet biscuits", 7}, Biscuits}}},
      {"cosmetics",
       {{{"cosmetics", "340111", "Toilet soap in bars", 8}, SoapBars},
        {{"cosmetics", "330499", "Skin care creams", 30}, CreamJars},
        {{"cosmetics", "330300", "Perfumes", 120}, Perfume}}},
      {"electronics",
       {{{"electronics", "851762", "Network routers", 70},
         [](Rng& r, const MaterialTable& m) { return Device(r, m, 0); }},
        {{"electronics", "847160", "Computer keyboards", 40},
         [](Rng& r, const MaterialTable& m) { return Device(r, m, 1); }},
        {{"electronics", "850440", "Power adapters", 50},
         [](Rng& r, const MaterialTable& m) { return Device(r, m, 2); }}}},
      {"tools",
       {{{"tools", "820412", "Adjustable spanners", 18},
         [](Rng& r, const MaterialTable& m) { return Tool(r, m, 0); }},
        {{"tools", "820520", "Hammers", 12},
         [](Rng& r, const MaterialTable& m) { return Tool(r, m, 1); }},
        {{"tools", "820540", "Screwdrivers", 25},
         [](Rng& r, const MaterialTable& m) { return Tool(r, m, 2); }},
        {{"tools", "820320", "Pliers", 22},
         [](Rng& r, const MaterialTable& m) { return Tool(r, m, 3); }}}},
      {"beverages", {{{"beverages", "220421", "Wine in bottles of 2 l or less", 8}, WineBottle}}},
      {"ceramics",
       {{{"ceramics", "691110", "Porcelain tableware", 14},
         [](Rng& r, const MaterialTable& m) { return Tableware(r, m, 0); }},
        {{"ceramics", "691200", "Ceramic mugs", 10},
         [](Rng& r, const MaterialTable& m) { return Tableware(r, m, 1); }}}},
      {"toys",
       {{{"toys", "950300", "Toys: plush figures", 20},
         [](Rng& r, const MaterialTable& m) { return Toy(r, m, 0); }},
        {{"toys", "950300", "Toys: plastic vehicles", 20},
         [](Rng& r, const MaterialTable& m) { return Toy(r, m, 1); }},
        {{"toys", "950300", "Toys: construction sets", 25},
         [](Rng& r, const MaterialTable& m) { return Toy(r, m, 2); }},
        {{"toys", "392490", "Household articles of plastics", 8}, Household}}},
  };
  return c;
}

// ---- threats ------------------------------------------------------------------------------

SceneObject NarcoticsBrick(Rng& r, const MaterialTable& m) {
  const bool cocaine = r.Chance(0.6);
  const double mass_g = r.LogU(150, 1500), rho = r.U(0.9, 1.3);
  const double volume_mm3 = mass_g / rho * 1000;
  const double h = std::clamp(std::cbrt(volume_mm3) * r.U(0.25, 0.45), 12.0, 60.0);
  const double aspect = r.U(1.2, 1.9);
  const double ly = std::sqrt(volume_mm3 / h / aspect / 0.93), lx = ly * aspect;  // 0.93: n=6 fill
  Builder b(m, cocaine ? "cocaine brick" : "heroin brick");
  b.Add(Blob(lx, ly, h, 6), cocaine ? "cocaine" : "heroin", rho);
  b.Add(Wrap(lx + 3, ly + 3, h + 3, 6, r.U(0.3, 1.2)), "pe", 0);
  if (r.Chance(0.6)) b.Add(Wrap(lx + 4, ly + 4, h + 4, 6, 0.2), "pvc", 0);  // tape
  return b.Done(h + 4);
}

SceneObject Pistol(Rng& r, const MaterialTable& m) {
  Builder b(m, "pistol");
  const double ls = r.U(150, 205), hs = r.U(26, 36), slide_wall = r.U(4.5, 6.5);
  const bool polymer = r.Chance(0.7);
  const double gun_w = r.U(24, 32);
  // Slide (two steel side walls seen face-on) and barrel inside it, along u.
  b.Add(Prism({{-ls / 2, 0}, {ls / 2, 0}, {ls / 2, hs}, {-ls / 2 + 8, hs}, {-ls / 2, hs - 6}},
              2 * slide_wall),
        "steel", 0, 0, 0, 0, gun_w / 2);
  const double bl = ls * r.U(0.75, 0.95);
  b.Add(Rod(bl, r.U(6.5, 8.5), r.U(4.3, 5.0)), "steel", 0, ls / 2 - bl / 2, hs * 0.55, 0,
        gun_w / 2);
  // Frame under the slide, trigger guard and grip, angled back.
  const double grip_angle = r.U(100, 112) * M_PI / 180, gl = r.U(95, 125), gw = r.U(28, 36);
  const std::string frame = polymer ? "polyamide_gf" : "steel";
  const double frame_t = polymer ? gun_w * 0.8 : r.U(7, 10);
  b.Add(Prism({{-ls / 2 + 5, 0}, {ls * 0.35, 0}, {ls * 0.35, -12}, {-ls / 2 + 5, -14}}, frame_t),
        frame, 0, 0, 0, 0, gun_w / 2);
  const double gx = -ls / 2 + r.U(15, 30);
  const double cx = std::cos(grip_angle), sy = -std::sin(grip_angle);
  std::vector<std::pair<double, double>> grip = {
      {gx, 0}, {gx + gw, 0}, {gx + gw + gl * cx, gl * sy}, {gx + gl * cx, gl * sy}};
  b.Add(Prism(grip, polymer ? gun_w * 0.85 : r.U(8, 12)), frame, 0, 0, 0, 0, gun_w / 2);
  // Magazine: steel box and a column of cartridges inside the grip.
  const double inset = 5;
  std::vector<std::pair<double, double>> mag = {{gx + inset, -5},
                                                {gx + gw - inset, -5},
                                                {gx + gw - inset + gl * 0.92 * cx, gl * 0.92 * sy},
                                                {gx + inset + gl * 0.92 * cx, gl * 0.92 * sy}};
  b.Add(Prism(mag, 2 * r.U(0.7, 1.1)), "steel", 0, 0, 0, 0, gun_w / 2);
  if (r.Chance(0.8)) {
    b.Add(Prism(mag, r.U(3, 5)), "brass", 0, 0, 0, 0, gun_w / 2);
    b.Add(Prism({mag[0],
                 mag[1],
                 {mag[1].first + 12 * cx, 12 * sy - 5},
                 {mag[0].first + 12 * cx, 12 * sy - 5}},
                7),
          "lead", 0, 0, 0, 0, gun_w / 2);
  }
  // Trigger guard: a steel or polymer loop, as a thin bar below the frame.
  b.Add(Prism({{gx + gw, -16}, {gx + gw + 45, -16}, {gx + gw + 45, -22}, {gx + gw, -22}}, 8), frame,
        0, 0, 0, 0, gun_w / 2);
  b.Add(Cuboid(6, 14, 6), "steel", 0, gx + gw + 18, -16, 0, gun_w / 2);  // trigger
  return b.Done(gun_w);
}

SceneObject Knife(Rng& r, const MaterialTable& m) {
  Builder b(m, "knife");
  const double bl = r.U(80, 220), bw = r.U(16, 45), bt = r.U(1.5, 3.5);
  const double belly = r.U(0.2, 0.6);
  std::vector<std::pair<double, double>> blade = {{0, bw / 2},
                                                  {bl * 0.8, bw / 2},
                                                  {bl, bw * r.U(0.1, 0.5) - bw / 2 + bw * 0.2},
                                                  {bl * 0.85, -bw / 2 + bw * belly * 0.3},
                                                  {bl * 0.4, -bw / 2},
                                                  {0, -bw / 2}};
  b.Add(Prism(blade, bt), "stainless", 0, 0, 0, 0, 10);
  const double hl = r.U(90, 130), hw = r.U(18, 28), ht = r.U(12, 20);
  const std::string handle = r.Chance(0.4) ? "wood" : r.Chance(0.5) ? "abs" : "pp";
  b.Add(Blob(hl, hw, ht, 3.5), handle, 0, -hl / 2, 0, 0, 10);
  if (r.Chance(0.5)) {  // full tang and rivets
    b.Add(Cuboid(hl * 0.95, hw * 0.7, bt), "stainless", 0, -hl / 2, 0, 0, 10);
    for (int i = 0; i < 3; ++i) b.Add(Disc(2.5, ht), "brass", 0, -hl * (0.2 + 0.3 * i), 0, 0, 10);
  } else {
    b.Add(Cuboid(hl * 0.6, hw * 0.25, bt), "stainless", 0, -hl * 0.3, 0, 0, 10);
  }
  b.Add(Cuboid(8, hw + 4, ht), "stainless", 0.6 * 7.9, -2, 0, 0, 10);  // bolster
  return b.Done(ht);
}

SceneObject Cigarettes(Rng& r, const MaterialTable& m) {
  Builder b(m, "cigarette cartons");
  const int cartons = r.I(1, 3);
  const double pack_l = 88, pack_w = 55, pack_h = 22;
  for (int c = 0; c < cartons; ++c) {
    const double cz = c * 50 + 25;
    b.Add(OpenBox(5 * pack_w + 6, pack_l * 2 + 6, 50, 0.6), "cardboard", 0.75, 0, 0, 0, cz);
    for (int px = 0; px < 5; ++px)
      for (int py = 0; py < 2; ++py) {
        const double x0 = (px - 2) * pack_w, y0 = (py - 0.5) * pack_l;
        b.Add(OpenBox(pack_w, pack_l, pack_h, 0.35), "cardboard", 0.75, x0, y0, 0, cz);
        // 20 cigarettes, axis along the pack's length: 7 columns of about three layers.
        for (int k = 0; k < 7; ++k)
          b.Add(Rod(pack_l - 4, 3.9), "tobacco", r.U(0.22, 0.3) * 2.85, x0 + (k - 3) * 7.6, y0,
                M_PI / 2, cz);
      }
  }
  return b.Done(50.0 * cartons);
}

SceneObject BatteryPack(Rng& r, const MaterialTable& m) {
  Builder b(m, "lithium-ion battery pack");
  if (r.Chance(0.6)) {  // 18650 cells in a grid
    const int nx = r.I(1, 4), ny = r.I(2, 6);
    for (int i = 0; i < nx; ++i)
      for (int j = 0; j < ny; ++j) {
        const double x = (i - (nx - 1) / 2.0) * 66, y = (j - (ny - 1) / 2.0) * 18.5;
        b.Add(Rod(65, 9.1, 8.85), "steel", 0, x, y, 0, 10);
        b.Add(Rod(62, 8.8), "cell_core", r.U(2.4, 2.8), x, y, 0, 10);
        b.Add(Disc(4, 1.5), "steel", 0, x + 32, y, 0, 10);
      }
    b.Add(Cuboid(nx * 66, 10, 1.6), "fr4", 0, 0, ny * 9.5 + 5, 0, 10);
    b.Add(Wrap(nx * 66 + 6, ny * 18.5 + 24, 24, 8, 0.4), "pvc", 0);
    return b.Done(22);
  }
  const int cells = r.I(1, 3);  // pouch cells
  const double lx = r.U(60, 140), ly = r.U(40, 80), t = r.U(5, 10);
  for (int c = 0; c < cells; ++c) {
    b.Add(Cuboid(lx, ly, t), "cell_core", r.U(2.0, 2.5), 0, 0, 0, t / 2 + c * t);
    b.Add(Cuboid(lx + 4, ly + 4, 0.3), "aluminium", 0, 0, 0, 0, c * t);
  }
  b.Add(Cuboid(lx * 0.4, 10, 1.6), "fr4", 0, 0, ly / 2 + 6);
  return b.Done(cells * t);
}

SceneObject Currency(Rng& r, const MaterialTable& m) {
  Builder b(m, "banknote bundles");
  const double nl = r.U(127, 160), nw = r.U(62, 82);
  const int nx = r.I(1, 3), ny = r.I(1, 3), layers = r.I(1, 4);
  for (int i = 0; i < nx; ++i)
    for (int j = 0; j < ny; ++j) {
      const double x = (i - (nx - 1) / 2.0) * (nl + 4), y = (j - (ny - 1) / 2.0) * (nw + 4);
      b.Add(Cuboid(nl, nw, 11.0 * layers), "banknote", r.U(0.8, 0.95), x, y);
      b.Add(Cuboid(30, nw + 1, 11.0 * layers + 1), "paper", 0.9 * 0.05, x, y);  // band
    }
  if (r.Chance(0.6))
    b.Add(Wrap(nx * (nl + 4) + 8, ny * (nw + 4) + 8, 11.0 * layers + 6, 8, 0.1), "pe", 0);
  return b.Done(11.0 * layers + 6);
}

struct ThreatTemplate {
  std::string threat_class;
  double weight;
  std::function<SceneObject(Rng&, const MaterialTable&)> make;
};

const std::vector<ThreatTemplate>& Threats() {
  static const std::vector<ThreatTemplate> t = {
      {"narcotics", 0.30, NarcoticsBrick},
      {"firearm", 0.22, Pistol},
      {"knife", 0.14, Knife},
      {"cigarettes", 0.12, Cigarettes},
      {"lithium_battery", 0.11, BatteryPack},
      {"currency", 0.11, Currency},
  };
  return t;
}

// Places `o` at (x, y) on the belt, rotated by `angle`, its base at height `base`.
void Place(SceneObject* o, double x, double y, double angle, double base) {
  const double c = std::cos(angle), s = std::sin(angle);
  for (auto& p : o->parts) {
    const double px = p.x, py = p.y;
    p.x = x + c * px - s * py;
    p.y = y + s * px + c * py;
    p.angle += angle;
    p.z += base;
  }
}

double ObjectRadius(const SceneObject& o) {
  double r = 0;
  for (const auto& p : o.parts) r = std::max(r, std::hypot(p.x, p.y) + p.shape.Radius());
  return r;
}

}  // namespace

const std::vector<std::string>& ThreatClassNames() {
  static const std::vector<std::string> n = [] {
    std::vector<std::string> v;
    for (const auto& t : Threats()) v.push_back(t.threat_class);
    return v;
  }();
  return n;
}

const std::vector<std::string>& GoodsCategoryNames() {
  static const std::vector<std::string> n = [] {
    std::vector<std::string> v;
    for (const auto& c : Catalogue()) v.push_back(c.name);
    return v;
  }();
  return n;
}

Parcel MakeParcel(Rng& r, const MaterialTable& m, const SceneOptions& o) {
  Parcel parcel;
  const auto& cat = Catalogue();
  const size_t main = static_cast<size_t>(r.I(0, static_cast<int>(cat.size()) - 1));
  parcel.main_category = cat[main].name;
  // The parcel: a corrugated box or a poly mailer, sometimes in a tray.
  const double h = r.U(100, 380);
  // Across the belt the image of the parcel's top is magnified by H / (H - h).
  const double usable_w = o.belt_width_mm * (o.source_height_mm - h - 20) / o.source_height_mm;
  const double max_l = std::min(o.belt_length_mm * 0.8, 750.0);
  const double max_w = std::min(usable_w * 0.8, 520.0);
  const double lx = r.U(0.35, 1.0) * max_l, ly = r.U(0.4, 1.0) * max_w;
  const double cx = o.belt_length_mm / 2 + r.U(-0.5, 0.5) * (o.belt_length_mm - lx) * 0.8;
  const double cy = o.belt_width_mm / 2 + r.U(-0.5, 0.5) * (usable_w - ly) * 0.8;
  const double pangle = r.U(-0.12, 0.12);
  const bool mailer = r.Chance(0.2);
  const double floor_z = r.Chance(0.3) ? 4.0 : 0.0;
  if (floor_z > 0) {
    Builder tray(m, "tray");
    tray.Add(OpenBox(lx + 60, ly + 60, 70, 4), r.Chance(0.5) ? "pp" : "abs", 0);
    SceneObject t = tray.Done(70);
    t.packaging = true;
    t.category = "packaging";
    Place(&t, cx, cy, pangle, 0);
    parcel.objects.push_back(std::move(t));
  }
  {
    Builder box(m, mailer ? "poly mailer" : "corrugated box");
    if (mailer)
      box.Add(Wrap(lx, ly, h * 0.5, 6, 0.12), "pe", 0);
    else
      box.Add(OpenBox(lx, ly, h, r.U(3, 7)), "cardboard", r.U(0.12, 0.22));
    SceneObject b = box.Done(mailer ? h * 0.5 : h);
    b.packaging = true;
    b.category = "packaging";
    Place(&b, cx, cy, pangle, floor_z);
    parcel.objects.push_back(std::move(b));
  }
  const double inner_h = mailer ? h * 0.5 : h;
  // Goods: mostly of the main category.
  const double area = lx * ly;
  const int n_goods = o.sparse ? std::clamp(static_cast<int>(area / r.U(50000, 90000)), 1, 5)
                               : std::clamp(static_cast<int>(area / r.U(25000, 60000)), 1, 10);
  struct Placed {
    double x, y, r, top;
  };
  std::vector<Placed> placed;
  for (int i = 0; i < n_goods; ++i) {
    const Category& c = i == 0 || r.Chance(0.75)
                            ? cat[main]
                            : cat[static_cast<size_t>(r.I(0, static_cast<int>(cat.size()) - 1))];
    const GoodsTemplate& g =
        c.goods[static_cast<size_t>(r.I(0, static_cast<int>(c.goods.size()) - 1))];
    SceneObject obj = g.make(r, m);
    obj.category = g.kind.category;
    obj.hs_code = g.kind.hs_code;
    obj.description = g.kind.description;
    if (i == 0) parcel.true_goods = g.kind;
    const double rad = ObjectRadius(obj);
    double best_x = 0, best_y = 0, best_overlap = 1e9;
    for (int t = 0; t < (o.sparse ? 80 : 25); ++t) {
      const double x = r.U(-0.5, 0.5) * std::max(0.0, lx - 2 * rad * 0.9);
      const double y = r.U(-0.5, 0.5) * std::max(0.0, ly - 2 * rad * 0.9);
      double ov = 0;
      for (const auto& p : placed) ov += std::max(0.0, p.r + rad - std::hypot(p.x - x, p.y - y));
      if (ov < best_overlap) best_overlap = ov, best_x = x, best_y = y;
      if (ov == 0) break;
    }
    double base = floor_z + 6;
    for (const auto& p : placed)
      if (std::hypot(p.x - best_x, p.y - best_y) < p.r + rad) base = std::max(base, p.top);
    base = std::min(base, floor_z + std::max(6.0, inner_h - obj.height_mm));
    const double ca = std::cos(pangle), sa = std::sin(pangle);
    Place(&obj, cx + ca * best_x - sa * best_y, cy + sa * best_x + ca * best_y, r.U(0, 2 * M_PI),
          base);
    placed.push_back({best_x, best_y, rad, base + obj.height_mm});
    parcel.objects.push_back(std::move(obj));
  }
  if (o.threat) {
    double total = 0;
    for (const auto& t : Threats()) total += t.weight;
    double pick = r.U(0, total);
    const ThreatTemplate* tt = &Threats().back();
    for (const auto& t : Threats())
      if ((pick -= t.weight) < 0) {
        tt = &t;
        break;
      }
    SceneObject t = tt->make(r, m);
    t.threat = true;
    t.threat_class = tt->threat_class;
    t.category = "threat";
    const double rad = ObjectRadius(t);
    double x, y, base = floor_z + 6;
    // Concealed: put under or over one of the goods (the truth decides from the masks).
    if (r.Chance(0.55) && !placed.empty()) {
      const auto& p = placed[static_cast<size_t>(r.I(0, static_cast<int>(placed.size()) - 1))];
      x = p.x + r.U(-0.3, 0.3) * p.r;
      y = p.y + r.U(-0.3, 0.3) * p.r;
      base = r.Chance(0.5) ? floor_z + 2 : std::min(p.top, floor_z + inner_h - t.height_mm);
    } else {
      x = r.U(-0.5, 0.5) * std::max(0.0, lx - 2 * rad * 0.9);
      y = r.U(-0.5, 0.5) * std::max(0.0, ly - 2 * rad * 0.9);
    }
    const double ca = std::cos(pangle), sa = std::sin(pangle);
    Place(&t, cx + ca * x - sa * y, cy + sa * x + ca * y, r.U(0, 2 * M_PI), std::max(base, 2.0));
    parcel.objects.push_back(std::move(t));
    parcel.has_threat = true;
  }
  parcel.declared_goods = parcel.true_goods;
  if (o.misdeclared) {
    // Declare goods of another category.
    size_t other = main;
    while (cat[other].name == parcel.true_goods.category)
      other = static_cast<size_t>(r.I(0, static_cast<int>(cat.size()) - 1));
    const auto& g =
        cat[other]
            .goods[static_cast<size_t>(r.I(0, static_cast<int>(cat[other].goods.size()) - 1))];
    parcel.declared_goods = g.kind;
    parcel.misdeclared = true;
  }
  return parcel;
}

}  // namespace indsim
