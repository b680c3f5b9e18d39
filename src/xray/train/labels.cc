// Training labels on the detector's output grid, from ground truth.
#include <algorithm>
#include <cmath>

#include "xray/detect/features.h"
#include "xray/train/train_internal.h"

namespace clearsight::xray {

Status ComputeCellLabels(const ScanTruth& truth, const std::vector<ExtraThreat>& extra, int gh,
                         int gw, const std::vector<std::string>& threat_classes,
                         const std::vector<std::string>& goods_classes, CellLabels* out) {
  const int oh = gh / 2, ow = gw / 2;
  if (truth.width <= 0 || truth.height <= 0 || (truth.width + kOutCellPx - 1) / kOutCellPx > ow ||
      (truth.height + kOutCellPx - 1) / kOutCellPx > oh)
    return Status::InvalidArgument("truth of '" + truth.scan_id +
                                   "': size does not fit the cell grid");
  const size_t cells = static_cast<size_t>(oh) * ow;
  // Coverage (pixels) per cell: per threat class and per goods class.
  const size_t nt = threat_classes.size(), ng = goods_classes.size();
  std::vector<uint16_t> tcov(cells * nt, 0), gcov(cells * ng, 0);
  auto add_mask = [&](const std::vector<uint32_t>& rle, std::vector<uint16_t>* cov, size_t k,
                      size_t nk) -> Status {
    const uint64_t total = static_cast<uint64_t>(truth.width) * truth.height;
    for (size_t r = 0; r + 1 < rle.size(); r += 2) {
      const uint64_t start = rle[r], len = rle[r + 1];
      if (start + len > total)
        return Status::InvalidArgument("truth of '" + truth.scan_id + "': mask leaves the image");
      for (uint64_t p = start; p < start + len; ++p) {
        const int y = static_cast<int>(p / truth.width), x = static_cast<int>(p % truth.width);
        (*cov)[(static_cast<size_t>(y / kOutCellPx) * ow + x / kOutCellPx) * nk + k] += 1;
      }
    }
    return Status::Ok();
  };
  auto index_of = [](const std::vector<std::string>& v, const std::string& s) -> int {
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i] == s) return static_cast<int>(i);
    return -1;
  };
  for (const auto& o : truth.objects) {
    if (o.packaging) continue;
    if (o.threat) {
      int k = index_of(threat_classes, o.threat_class);
      if (k >= 0) CS_RETURN_IF_ERROR(add_mask(o.mask_rle, &tcov, k, nt));
    } else {
      int k = index_of(goods_classes, o.category);
      if (k >= 0) CS_RETURN_IF_ERROR(add_mask(o.mask_rle, &gcov, k, ng));
    }
  }
  for (const auto& e : extra) {
    int k = index_of(threat_classes, e.threat_class);
    if (k >= 0) CS_RETURN_IF_ERROR(add_mask(e.mask_rle, &tcov, k, nt));
  }
  // A class owns a cell it covers by >= 40 %; a cell covered by 5..40 % (threats) or 10..40 %
  // (goods) is ignored in training: its label is a matter of where the edge fell.
  constexpr int kFull = kOutCellPx * kOutCellPx;
  out->threat.assign(cells, 0);
  out->goods.assign(cells, 0);
  for (size_t c = 0; c < cells; ++c) {
    int best = -1, best_cov = 0, sum = 0;
    for (size_t k = 0; k < nt; ++k) {
      const int v = tcov[c * nt + k];
      sum += v;
      if (v > best_cov) best_cov = v, best = static_cast<int>(k);
    }
    if (best_cov * 10 >= kFull * 4)
      out->threat[c] = static_cast<int8_t>(best + 1);
    else if (sum * 20 >= kFull)
      out->threat[c] = -1;
    best = -1, best_cov = 0, sum = 0;
    for (size_t k = 0; k < ng; ++k) {
      const int v = gcov[c * ng + k];
      sum += v;
      if (v > best_cov) best_cov = v, best = static_cast<int>(k);
    }
    if (best_cov * 10 >= kFull * 4)
      out->goods[c] = static_cast<int8_t>(best + 1);
    else if (sum * 10 >= kFull)
      out->goods[c] = -1;
  }
  return Status::Ok();
}

}  // namespace clearsight::xray
