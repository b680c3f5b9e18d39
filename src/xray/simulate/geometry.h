// Shapes of simulated objects and their rasterisation into per-ray material amounts.
//
// An object is a set of parts; each part is a shape of one material. Shapes are 3D solids seen
// from the source: a footprint in the belt plane and a thickness profile along the beam.
// Lengths are in mm, angles in radians.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "xray/physics/projector.h"

namespace clearsight::xray {

enum class ShapeKind {
  kCuboid,     // constant thickness over a rectangle
  kEllipsoid,  // depth * sqrt(1 - r^2) over an ellipse
  kCylinder,   // lying along local x: depth * sqrt(1 - (v/hy)^2) over a rectangle
  kDisk,       // standing cylinder: constant thickness over an ellipse
  kPillow,     // soft goods: flat top, rounded edges
  kPolygon,    // constant thickness over a polygon (blades, gun parts)
};

struct Shape {
  ShapeKind kind = ShapeKind::kCuboid;
  double cx = 0, cy = 0;  // centre in the object's frame
  double angle = 0;       // in the object's frame
  double hx = 0, hy = 0;  // half sizes of the footprint
  double depth = 0;       // thickness along the beam at the thickest point
  double wall = 0;        // > 0: hollow, walls this thick (not for polygons)
  std::vector<std::pair<double, double>> polygon;  // kPolygon: vertices around (cx, cy)
};

struct Part {
  Shape shape;
  int material = 0;    // index in MaterialCatalog()
  double density = 0;  // g/cm^3 (bulk)
  // Pixels count in the object's mask only where the part is at least this thick (packaging:
  // only the walls seen edge-on, not the thin top and bottom).
  double mask_min_mm = 0;
};

struct Item {
  std::string name, category, hs_code, description, threat_class;
  bool threat = false;
  bool packaging = false;
  double value_per_kg = 0;  // EUR
  std::vector<Part> parts;

  // Half extents of the footprint in the item's frame (for placement).
  std::pair<double, double> HalfExtents() const;
};

struct Pose {
  double x = 0, y = 0;  // mm in the image (x along the belt, y across)
  double angle = 0;
};

// Accumulates rays of one image: `rank` basis coefficients per pixel.
struct Canvas {
  int width = 0, height = 0;
  double pixel_mm = 1;
  const PhysicsModel* model = nullptr;
  std::vector<float> coef;
  std::vector<uint8_t> touched;
  std::vector<uint8_t> occupancy;  // objects whose mask covers the pixel (saturating)

  void Reset(int w, int h, double px_mm, const PhysicsModel* m);
};

// Where an item landed: its mask in a box of the image, and its mass per part.
struct ItemRaster {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // box [x0,x1) x [y0,y1); empty when off-image
  std::vector<uint8_t> mask;           // (x1-x0)*(y1-y0)
  std::vector<double> part_mass_kg;
  double mass_kg = 0;
  bool empty() const { return x1 <= x0 || y1 <= y0; }
};

// Adds the item's material along every ray it crosses, and its mask to canvas->occupancy.
ItemRaster Rasterize(const Item& item, const Pose& pose, Canvas* canvas);

// Run-length encoding of a box mask over the full image's row-major index.
std::vector<uint32_t> MaskToRle(const ItemRaster& r, int image_width);

}  // namespace clearsight::xray
