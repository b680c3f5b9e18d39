// indsim scenes: parcels, goods and threats built from procedural solids, each described by its
// thickness along the beam as a function of position in its own plane.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "physics.h"
#include "rng.h"

namespace indsim {

enum class ShapeKind {
  kCuboid,            // a, b: half sides; c: height
  kOpenBox,           // a, b: half sides; c: height; wall: wall thickness (side walls seen edge-on)
  kSuperEllipsoid,    // a, b, c: half axes; n: exponent (2 = ellipsoid, large = box)
  kSuperShell,        // the same minus one `wall` smaller: a wrapping
  kLyingCylinder,     // axis along u; a: half length; b: radius; wall: bore radius (0 = solid)
  kStandingCylinder,  // axis along the beam; a: radius; c: height; wall: wall (0 = solid); b: floor
  kPrism,             // polygon `poly` (mm) extruded by c
};

struct Shape {
  ShapeKind kind = ShapeKind::kCuboid;
  double a = 0, b = 0, c = 0, n = 2, wall = 0;
  std::vector<std::pair<double, double>> poly;
  double Thickness(double u, double v) const;  // mm of material along the beam
  double Radius() const;                       // bounding radius in its plane, mm
};

struct Part {
  Shape shape;
  int material = 0;
  double density = 1;              // g/cm3 (bulk where the shape is a bulk good)
  double x = 0, y = 0, angle = 0;  // mm and radians, in the object's frame (then the belt's)
  double z = 0;                    // height of the part's centre above the object's base, mm
};

struct SceneObject {
  std::string name, category, hs_code, description, threat_class;
  bool threat = false, packaging = false, concealed = false;
  double height_mm = 0;  // for stacking
  std::vector<Part> parts;
};

struct GoodsKind {
  std::string category, hs_code, description;
  double price_per_kg;
};

// A parcel: its objects in belt coordinates (mm) and what its declaration says and hides.
struct Parcel {
  std::vector<SceneObject> objects;
  std::string main_category;
  GoodsKind true_goods;      // the main goods, as an honest declaration would state them
  GoodsKind declared_goods;  // what the declaration states
  bool misdeclared = false;
  bool has_threat = false;
};

struct SceneOptions {
  double belt_width_mm = 768, belt_length_mm = 1024;
  double source_height_mm = 1700;  // the fan beam magnifies across the belt: keep parcels inside
  bool threat = false;
  bool misdeclared = false;
  bool sparse = false;  // fewer goods, spread apart: more isolated objects for material checks
};

Parcel MakeParcel(Rng& rng, const MaterialTable& mats, const SceneOptions& o);

// Threat and goods families, for --help and tests.
const std::vector<std::string>& ThreatClassNames();
const std::vector<std::string>& GoodsCategoryNames();

}  // namespace indsim
