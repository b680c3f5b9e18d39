// A trainee's mark judged on the threat's mask (training.h, docs/training.md's hit table).
#include <algorithm>
#include <cmath>

#include "clearsight/training.h"

namespace clearsight {

bool MarkOnThreat(const TrainingMark& mark, const std::vector<uint32_t>& mask_rle, int width) {
  if (width <= 0) return false;
  // The runs as (row, first column, last column + 1); runs do not cross rows in our masks, but a
  // run that did is split at the row's end.
  struct Run {
    int64_t y, x0, x1;
  };
  std::vector<Run> runs;
  int64_t mx0 = INT64_MAX, my0 = INT64_MAX, mx1 = INT64_MIN, my1 = INT64_MIN, area = 0;
  for (size_t k = 0; k + 1 < mask_rle.size(); k += 2) {
    int64_t start = mask_rle[k], len = mask_rle[k + 1];
    while (len > 0) {
      const int64_t y = start / width, x = start % width;
      const int64_t n = std::min<int64_t>(len, width - x);
      runs.push_back({y, x, x + n});
      mx0 = std::min(mx0, x);
      mx1 = std::max(mx1, x + n);
      my0 = std::min(my0, y);
      my1 = std::max(my1, y + 1);
      area += n;
      start += n;
      len -= n;
    }
  }
  if (area == 0) return false;
  if (!mark.box) {
    // Distance (pixel centres, Chebyshev) from the point to the nearest mask pixel.
    const double px = mark.x0, py = mark.y0;
    for (const Run& r : runs) {
      const double dy = std::max(0.0, std::abs(py - (r.y + 0.5)) - 0.5);
      const double dx = px < r.x0 ? r.x0 - px : px > r.x1 ? px - r.x1 : 0.0;
      if (std::max(dx, dy) <= kMarkPointTolerancePx) return true;
    }
    return false;
  }
  // Pixels whose centres lie in the box.
  const int64_t bx0 = static_cast<int64_t>(std::ceil(mark.x0 - 0.5)),
                bx1 = static_cast<int64_t>(std::floor(mark.x1 - 0.5)) + 1,
                by0 = static_cast<int64_t>(std::ceil(mark.y0 - 0.5)),
                by1 = static_cast<int64_t>(std::floor(mark.y1 - 0.5)) + 1;
  const int64_t box_area = std::max<int64_t>(0, bx1 - bx0) * std::max<int64_t>(0, by1 - by0);
  if (box_area == 0) return false;
  const double mask_box_area = static_cast<double>((mx1 - mx0) * (my1 - my0));
  if (static_cast<double>(box_area) > kMarkBoxMaxAreaRatio * mask_box_area) return false;
  int64_t overlap = 0;
  for (const Run& r : runs)
    if (r.y >= by0 && r.y < by1)
      overlap += std::max<int64_t>(0, std::min(r.x1, bx1) - std::max(r.x0, bx0));
  return 2 * overlap >= std::min(box_area, area);
}

}  // namespace clearsight
