#include "xray/simulate/geometry.h"

#include <algorithm>
#include <cmath>

namespace clearsight::xray {
namespace {

double Profile(const Shape& s, double u, double v, double hx, double hy, double depth) {
  if (hx <= 0 || hy <= 0 || depth <= 0) return 0;
  switch (s.kind) {
    case ShapeKind::kCuboid:
      return (std::abs(u) <= hx && std::abs(v) <= hy) ? depth : 0;
    case ShapeKind::kEllipsoid: {
      double r2 = (u / hx) * (u / hx) + (v / hy) * (v / hy);
      return r2 < 1 ? depth * std::sqrt(1 - r2) : 0;
    }
    case ShapeKind::kCylinder: {
      if (std::abs(u) > hx || std::abs(v) >= hy) return 0;
      double q = v / hy;
      return depth * std::sqrt(1 - q * q);
    }
    case ShapeKind::kDisk: {
      double r2 = (u / hx) * (u / hx) + (v / hy) * (v / hy);
      return r2 <= 1 ? depth : 0;
    }
    case ShapeKind::kPillow: {
      if (std::abs(u) >= hx || std::abs(v) >= hy) return 0;
      double a = u / hx, b = v / hy;
      return depth * std::sqrt(1 - a * a * a * a) * std::sqrt(1 - b * b * b * b);
    }
    case ShapeKind::kPolygon: {
      bool inside = false;
      const auto& p = s.polygon;
      for (size_t i = 0, j = p.size() - 1; i < p.size(); j = i++) {
        if ((p[i].second > v) != (p[j].second > v) &&
            u < (p[j].first - p[i].first) * (v - p[i].second) / (p[j].second - p[i].second) +
                    p[i].first)
          inside = !inside;
      }
      return inside ? depth : 0;
    }
  }
  return 0;
}

double Thickness(const Shape& s, double u, double v) {
  double t = Profile(s, u, v, s.hx, s.hy, s.depth);
  if (t > 0 && s.wall > 0 && s.kind != ShapeKind::kPolygon) {
    double inner_depth =
        s.kind == ShapeKind::kCylinder ? s.depth * (s.hy - s.wall) / s.hy : s.depth - 2 * s.wall;
    double ti = Profile(s, u, v, s.hx - s.wall, s.hy - s.wall, inner_depth);
    t = std::max(0.0, t - ti);
  }
  return t;
}

// Footprint half extents of a shape in its own frame.
std::pair<double, double> ShapeExtent(const Shape& s) {
  if (s.kind != ShapeKind::kPolygon) return {s.hx, s.hy};
  double ex = 0, ey = 0;
  for (const auto& [x, y] : s.polygon) {
    ex = std::max(ex, std::abs(x));
    ey = std::max(ey, std::abs(y));
  }
  return {ex, ey};
}

}  // namespace

std::pair<double, double> Item::HalfExtents() const {
  double ex = 0, ey = 0;
  for (const auto& p : parts) {
    auto [hx, hy] = ShapeExtent(p.shape);
    double c = std::abs(std::cos(p.shape.angle)), s = std::abs(std::sin(p.shape.angle));
    ex = std::max(ex, std::abs(p.shape.cx) + hx * c + hy * s);
    ey = std::max(ey, std::abs(p.shape.cy) + hx * s + hy * c);
  }
  return {ex, ey};
}

void Canvas::Reset(int w, int h, double px_mm, const PhysicsModel* m) {
  width = w;
  height = h;
  pixel_mm = px_mm;
  model = m;
  coef.assign(static_cast<size_t>(w) * h * m->rank, 0.0f);
  touched.assign(static_cast<size_t>(w) * h, 0);
  occupancy.assign(static_cast<size_t>(w) * h, 0);
}

ItemRaster Rasterize(const Item& item, const Pose& pose, Canvas* cv) {
  ItemRaster r;
  const double ca = std::cos(pose.angle), sa = std::sin(pose.angle);
  // Box of the whole item in pixels.
  int bx0 = cv->width, by0 = cv->height, bx1 = 0, by1 = 0;
  struct Placed {
    double wx, wy, c, s;  // part centre in the image (mm) and its total rotation
    double ex;            // radius of its footprint
  };
  std::vector<Placed> placed;
  for (const auto& p : item.parts) {
    double wx = pose.x + ca * p.shape.cx - sa * p.shape.cy;
    double wy = pose.y + sa * p.shape.cx + ca * p.shape.cy;
    double ang = pose.angle + p.shape.angle;
    auto [hx, hy] = ShapeExtent(p.shape);
    double ex = std::hypot(hx, hy);
    placed.push_back({wx, wy, std::cos(ang), std::sin(ang), ex});
    bx0 = std::min(bx0, static_cast<int>(std::floor((wx - ex) / cv->pixel_mm)));
    by0 = std::min(by0, static_cast<int>(std::floor((wy - ex) / cv->pixel_mm)));
    bx1 = std::max(bx1, static_cast<int>(std::ceil((wx + ex) / cv->pixel_mm)) + 1);
    by1 = std::max(by1, static_cast<int>(std::ceil((wy + ex) / cv->pixel_mm)) + 1);
  }
  r.x0 = std::max(0, bx0);
  r.y0 = std::max(0, by0);
  r.x1 = std::min(cv->width, bx1);
  r.y1 = std::min(cv->height, by1);
  r.part_mass_kg.assign(item.parts.size(), 0.0);
  if (r.empty()) return r;
  const int bw = r.x1 - r.x0;
  r.mask.assign(static_cast<size_t>(bw) * (r.y1 - r.y0), 0);
  const int rank = cv->model->rank;
  const double px_area_cm2 = cv->pixel_mm * cv->pixel_mm / 100.0;
  for (size_t pi = 0; pi < item.parts.size(); ++pi) {
    const Part& part = item.parts[pi];
    const Placed& pl = placed[pi];
    const float* mc = cv->model->material_coef.data() + static_cast<size_t>(part.material) * rank;
    int x0 = std::max(r.x0, static_cast<int>(std::floor((pl.wx - pl.ex) / cv->pixel_mm)));
    int x1 = std::min(r.x1, static_cast<int>(std::ceil((pl.wx + pl.ex) / cv->pixel_mm)) + 1);
    int y0 = std::max(r.y0, static_cast<int>(std::floor((pl.wy - pl.ex) / cv->pixel_mm)));
    int y1 = std::min(r.y1, static_cast<int>(std::ceil((pl.wy + pl.ex) / cv->pixel_mm)) + 1);
    double mass_g = 0;
    for (int y = y0; y < y1; ++y) {
      double dy = (y + 0.5) * cv->pixel_mm - pl.wy;
      for (int x = x0; x < x1; ++x) {
        double dx = (x + 0.5) * cv->pixel_mm - pl.wx;
        double u = pl.c * dx + pl.s * dy, v = -pl.s * dx + pl.c * dy;
        double t = Thickness(part.shape, u, v);
        if (t <= 0) continue;
        double ad = part.density * t / 10.0;  // g/cm^2
        size_t idx = static_cast<size_t>(y) * cv->width + x;
        float* c = cv->coef.data() + idx * rank;
        for (int k = 0; k < rank; ++k) c[k] += static_cast<float>(ad) * mc[k];
        cv->touched[idx] = 1;
        mass_g += ad * px_area_cm2;
        if (t >= part.mask_min_mm) r.mask[static_cast<size_t>(y - r.y0) * bw + (x - r.x0)] = 1;
      }
    }
    r.part_mass_kg[pi] = mass_g / 1000.0;
    r.mass_kg += mass_g / 1000.0;
  }
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x)
      if (r.mask[static_cast<size_t>(y - r.y0) * bw + (x - r.x0)]) {
        uint8_t& o = cv->occupancy[static_cast<size_t>(y) * cv->width + x];
        if (o < 255) ++o;
      }
  return r;
}

std::vector<uint32_t> MaskToRle(const ItemRaster& r, int image_width) {
  std::vector<uint32_t> rle;
  if (r.empty()) return rle;
  const int bw = r.x1 - r.x0;
  for (int y = r.y0; y < r.y1; ++y) {
    const uint8_t* row = r.mask.data() + static_cast<size_t>(y - r.y0) * bw;
    int x = 0;
    while (x < bw) {
      if (!row[x]) {
        ++x;
        continue;
      }
      int s = x;
      while (x < bw && row[x]) ++x;
      rle.push_back(static_cast<uint32_t>(static_cast<size_t>(y) * image_width + r.x0 + s));
      rle.push_back(static_cast<uint32_t>(x - s));
    }
  }
  return rle;
}

}  // namespace clearsight::xray
