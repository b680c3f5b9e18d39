// Building blocks of the simulator's catalogue (catalog.cc: the classic goods and threats;
// catalog_families.cc: the parametric threat families and the extended goods). Internal.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "xray/physics/random.h"
#include "xray/simulate/geometry.h"

namespace clearsight::xray {

constexpr double kPi = 3.14159265358979323846;

// Index of a catalogue material by name; an unknown name is recorded for the tests
// (UnknownMaterialNames()) and maps to material 0.
int CatalogMaterial(const char* name);

inline Part MakePart(ShapeKind kind, const char* material, double density, double cx, double cy,
                     double hx, double hy, double depth, double angle = 0, double wall = 0) {
  Part p;
  p.shape.kind = kind;
  p.shape.cx = cx;
  p.shape.cy = cy;
  p.shape.hx = hx;
  p.shape.hy = hy;
  p.shape.depth = depth;
  p.shape.angle = angle;
  p.shape.wall = wall;
  p.material = CatalogMaterial(material);
  p.density = density;
  return p;
}

inline Part Polygon(const char* material, double density, double depth,
                    std::vector<std::pair<double, double>> pts, double cx = 0, double cy = 0) {
  Part p;
  p.shape.kind = ShapeKind::kPolygon;
  p.shape.cx = cx;
  p.shape.cy = cy;
  p.shape.depth = depth;
  p.shape.polygon = std::move(pts);
  p.material = CatalogMaterial(material);
  p.density = density;
  return p;
}

using K = ShapeKind;

// A lithium-ion 18650 cell lying along x at (cx, cy): steel can (as a thin effective shell) and
// the electrode roll.
inline void Add18650(std::vector<Part>* parts, double cx, double cy, double angle = 0) {
  parts->push_back(MakePart(K::kCylinder, "liion_cell", 2.55, cx, cy, 32.5, 9.0, 18.0, angle));
}

struct GoodsType {
  const char* name;
  const char* category;
  const char* hs_code;
  const char* description;
  double value_per_kg;
  std::function<std::vector<Part>(Rng&)> make;
  bool extended = false;  // drawn only with SimulateOptions::extended_goods
};

// A threat family: a named generator of one threat class.
struct ThreatType {
  const char* name;
  const char* threat_class;
  std::function<std::vector<Part>(Rng&)> make;
  bool classic = true;  // in the default set (the families before parametric ones existed)
};

// The extended goods (dense organic hard negatives, procedural assortments) and the parametric
// threat families, appended after the classic ones.
const std::vector<GoodsType>& ExtendedGoodsTypes();
const std::vector<ThreatType>& ParametricThreatTypes();

}  // namespace clearsight::xray
