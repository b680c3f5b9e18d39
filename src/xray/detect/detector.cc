// The threat detector: features from the analysis, the network, and decoding of its output grid
// into boxes with class and score.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include <nlohmann/json.hpp>

#include "clearsight/xray_detect.h"
#include "clearsight/xray_manifest.h"
#include "clearsight/text.h"
#include "xray/detect/detect_internal.h"
#include "xray/detect/features.h"
#include "xray/detect/net.h"

namespace clearsight {

using json = nlohmann::json;

namespace xray {

double ScoreFromProbability(double p, double op) {
  p = std::clamp(p, 0.0, 1.0);
  if (p < op) return 0.5 * p / op;
  return op >= 1 ? 1.0 : 0.5 + 0.5 * (p - op) / (1 - op);
}

double ProbabilityFromScore(double s, double op) {
  s = std::clamp(s, 0.0, 1.0);
  if (s < 0.5) return 2 * s * op;
  return op + (s - 0.5) * 2 * (1 - op);
}

void DecodeCandidates(const std::vector<float>& threat_prob, const std::vector<float>& goods_prob, int oh, int ow,
                      int width, int height, double pixel_mm, const DetectorMeta& meta, const GridView& grid,
                      std::vector<Candidate>* out) {
  out->clear();
  const size_t plane = static_cast<size_t>(oh) * ow;
  const int nt = static_cast<int>(meta.threat_classes.size());
  // Only the cells that map into the scan (the grid is padded with air).
  const int vh = std::min(oh, (height + kOutCellPx - 1) / kOutCellPx);
  const int vw = std::min(ow, (width + kOutCellPx - 1) / kOutCellPx);

  // Regions: 8-connected cells whose threat probability reaches region_probability.
  const float region_p = static_cast<float>(meta.region_probability);
  std::vector<int32_t> comp(plane, -1);
  std::vector<int32_t> stack;
  std::vector<int32_t> cells;
  int ncomp = 0;
  for (int y = 0; y < vh; ++y)
    for (int x = 0; x < vw; ++x) {
      const size_t i = static_cast<size_t>(y) * ow + x;
      if (comp[i] >= 0 || 1.0f - threat_prob[i] < region_p) continue;
      // Flood fill this region.
      cells.clear();
      stack.assign(1, static_cast<int32_t>(i));
      comp[i] = ncomp;
      while (!stack.empty()) {
        const int32_t c = stack.back();
        stack.pop_back();
        cells.push_back(c);
        const int cy = c / ow, cx = c % ow;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int ny = cy + dy, nx = cx + dx;
            if (ny < 0 || nx < 0 || ny >= vh || nx >= vw) continue;
            const size_t j = static_cast<size_t>(ny) * ow + nx;
            if (comp[j] >= 0 || 1.0f - threat_prob[j] < region_p) continue;
            comp[j] = ncomp;
            stack.push_back(static_cast<int32_t>(j));
          }
      }
      ++ncomp;
      // Class evidence over the region: summed and peak probability per class.
      std::vector<double> sum(nt, 0.0), peak(nt, 0.0);
      int x0 = ow, y0 = oh, x1 = 0, y1 = 0;
      for (int32_t c : cells) {
        const int cy = c / ow, cx = c % ow;
        x0 = std::min(x0, cx), y0 = std::min(y0, cy), x1 = std::max(x1, cx + 1), y1 = std::max(y1, cy + 1);
        for (int k = 0; k < nt; ++k) {
          const float p = threat_prob[static_cast<size_t>(k + 1) * plane + c];
          sum[k] += p;
          peak[k] = std::max(peak[k], static_cast<double>(p));
        }
      }
      if (cells.size() < 2) continue;  // a single cell (8x8 px) is noise, not a threat
      Candidate cand;
      Detection& d = cand.detection;
      d.x0 = x0 * kOutCellPx;
      d.y0 = y0 * kOutCellPx;
      d.x1 = std::min(width, x1 * kOutCellPx);
      d.y1 = std::min(height, y1 * kOutCellPx);
      const int best = static_cast<int>(std::max_element(sum.begin(), sum.end()) - sum.begin());
      // The best class, and a second one when the region is split between two (a pistol frame
      // read as a firearm part): both are proposed, each with its own peak.
      for (int k = 0; k < nt; ++k) {
        if (k != best && !(sum[k] >= 0.3 * sum[best] && peak[k] >= region_p)) continue;
        d.threat_class = meta.threat_classes[k];
        d.score = peak[k];
        cand.cls = static_cast<size_t>(k);
        RegionFeatures(threat_prob, goods_prob, oh, ow, nt, static_cast<int>(meta.goods_classes.size()), cells,
                       cand.cls, x0, y0, x1, y1, pixel_mm, grid, cand.features.data());
        out->push_back(cand);
      }
    }
}

void DecodeOutputs(const std::vector<float>& threat_prob, const std::vector<float>& goods_prob, int oh, int ow,
                   int width, int height, double pixel_mm, const DetectorMeta& meta, double min_score,
                   DetectionResult* out, const GridView& grid, const RegionVerifier* verifier) {
  out->detections.clear();
  const size_t plane = static_cast<size_t>(oh) * ow;
  const int ng = static_cast<int>(meta.goods_classes.size());
  const int vh = std::min(oh, (height + kOutCellPx - 1) / kOutCellPx);
  const int vw = std::min(ow, (width + kOutCellPx - 1) / kOutCellPx);
  if (verifier && !grid.data) verifier = nullptr;  // its features need the input grid
  std::vector<Candidate> candidates;
  DecodeCandidates(threat_prob, goods_prob, oh, ow, width, height, pixel_mm, meta, verifier ? grid : GridView{},
                   &candidates);
  std::vector<float> verified;
  if (verifier) verifier->Predict(candidates, &verified);
  for (size_t i = 0; i < candidates.size(); ++i) {
    Detection d = candidates[i].detection;
    const size_t k = candidates[i].cls;
    d.score = verifier ? ScoreFromProbability(verified[i], verifier->class_operating_probability[k])
                       : ScoreFromProbability(d.score, meta.OperatingProbability(k));
    if (d.score >= min_score) out->detections.push_back(std::move(d));
  }
  std::stable_sort(out->detections.begin(), out->detections.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });

  // Goods classes seen: over cells the goods head calls goods, its class probabilities.
  out->goods_share.assign(ng, 0.0);
  double goods_cells = 0;
  for (int y = 0; y < vh; ++y)
    for (int x = 0; x < vw; ++x) {
      const size_t i = static_cast<size_t>(y) * ow + x;
      const double g = 1.0 - goods_prob[i];
      if (g < 0.5) continue;
      goods_cells += 1;
      for (int k = 0; k < ng; ++k) out->goods_share[k] += goods_prob[static_cast<size_t>(k + 1) * plane + i] / g;
    }
  if (goods_cells > 0)
    for (auto& s : out->goods_share) s /= goods_cells;
  const double cell_cm = kOutCellPx * pixel_mm / 10.0;
  out->goods_area_cm2 = goods_cells * cell_cm * cell_cm;
}

Status ReadInferenceSettings(const json& m, const std::string& path, DetectorMeta* meta) {
  meta->views = 1;
  meta->views_on_candidates = false;
  meta->network_on_contents = false;
  if (m.contains("test_time_views")) {
    const json& v = m["test_time_views"];
    if (!v.is_number_integer() || !ValidNetViews(v.get<int>()))
      return Status::DataLoss(path + ": test_time_views must be 1, 2, 4 or 8, not " + v.dump());
    meta->views = v.get<int>();
  }
  if (m.contains("test_time_views_on")) {
    const json& v = m["test_time_views_on"];
    if (!v.is_string() || (v.get<std::string>() != "scan" && v.get<std::string>() != "candidates"))
      return Status::DataLoss(path + ": test_time_views_on must be \"scan\" or \"candidates\", not " + v.dump());
    meta->views_on_candidates = v.get<std::string>() == "candidates";
  }
  if (m.contains("network_on")) {
    const json& v = m["network_on"];
    if (!v.is_string() || (v.get<std::string>() != "scan" && v.get<std::string>() != "contents"))
      return Status::DataLoss(path + ": network_on must be \"scan\" or \"contents\", not " + v.dump());
    meta->network_on_contents = v.get<std::string>() == "contents";
  }
  return Status::Ok();
}

CellBox ContentBox(const float* input, int gh, int gw) {
  const float* max_density = input + static_cast<size_t>(gh) * gw;  // channel 1: log1p of the cell's largest
  const float threshold = static_cast<float>(std::log1p(kContentDensity));
  CellBox b{gh, gw, 0, 0};
  for (int y = 0; y < gh; ++y) {
    const float* row = max_density + static_cast<size_t>(y) * gw;
    for (int x = 0; x < gw; ++x)
      if (row[x] > threshold) b = {std::min(b.y0, y), std::min(b.x0, x), std::max(b.y1, y + 1), std::max(b.x1, x + 1)};
  }
  if (b.empty()) return CellBox{};
  constexpr int m = kNetInputMultiple;
  return {std::max(0, b.y0 - kContentMargin) / m * m, std::max(0, b.x0 - kContentMargin) / m * m,
          std::min(gh, (b.y1 + kContentMargin + m - 1) / m * m), std::min(gw, (b.x1 + kContentMargin + m - 1) / m * m)};
}

namespace {

// The h x w cells at (y0, x0) of every channel of a C x gh x gw grid, as a C x h x w grid.
void CropGrid(const float* input, int channels, int gh, int gw, int y0, int x0, int h, int w, std::vector<float>* out) {
  out->resize(static_cast<size_t>(channels) * h * w);
  for (int k = 0; k < channels; ++k)
    for (int y = 0; y < h; ++y)
      std::copy_n(input + (static_cast<size_t>(k) * gh + y0 + y) * gw + x0, w,
                  out->data() + (static_cast<size_t>(k) * h + y) * w);
}

// InferWithViews within one grid (the whole scan's or the contents' box).
Status InferViewsOnGrid(const Net& net, const float* input, int gh, int gw, int threads, const DetectorMeta& meta,
                        std::vector<float>* threat_prob, std::vector<float>* goods_prob, int64_t* view_cells) {
  if (!meta.views_on_candidates || meta.views == 1)
    return net.Infer(input, gh, gw, threads, threat_prob, goods_prob, meta.views);
  CS_RETURN_IF_ERROR(net.Infer(input, gh, gw, threads, threat_prob, goods_prob, 1));
  // Blocks of 4 x 4 output cells (8 x 8 input cells, 32 px): the unit of the crops.
  constexpr int kBlock = kNetInputMultiple / 2;
  constexpr int kWriteBlocks = 1, kContextBlocks = 2;
  const int oh = gh / 2, ow = gw / 2, bh = oh / kBlock, bw = ow / kBlock;
  const size_t plane = static_cast<size_t>(oh) * ow;
  const float region_p = static_cast<float>(meta.region_probability);
  auto hot_cell = [&](int y, int x) { return 1.0f - (*threat_prob)[static_cast<size_t>(y) * ow + x] >= region_p; };
  std::vector<uint8_t> hot(static_cast<size_t>(bh) * bw, 0);
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      if (!hot_cell(y, x)) continue;
      bool neighbour = false;
      for (int dy = -1; dy <= 1 && !neighbour; ++dy)
        for (int dx = -1; dx <= 1 && !neighbour; ++dx)
          neighbour = (dy || dx) && y + dy >= 0 && x + dx >= 0 && y + dy < oh && x + dx < ow && hot_cell(y + dy, x + dx);
      if (neighbour) hot[static_cast<size_t>(y / kBlock) * bw + x / kBlock] = 1;
    }
  auto dilate = [&](const std::vector<uint8_t>& m, int r) {
    std::vector<uint8_t> out(m.size(), 0);
    for (int y = 0; y < bh; ++y)
      for (int x = 0; x < bw; ++x)
        if (m[static_cast<size_t>(y) * bw + x])
          for (int v = std::max(0, y - r); v <= std::min(bh - 1, y + r); ++v)
            for (int u = std::max(0, x - r); u <= std::min(bw - 1, x + r); ++u) out[static_cast<size_t>(v) * bw + u] = 1;
    return out;
  };
  const std::vector<uint8_t> write = dilate(hot, kWriteBlocks);
  const std::vector<uint8_t> context = dilate(hot, kWriteBlocks + kContextBlocks);
  // Crops: the bounding rectangles of the context mask's 8-connected parts, merged while any two
  // overlap, so that every written block lies in exactly one crop.
  struct Rect {
    int y0, x0, y1, x1;  // blocks, [y0, y1) x [x0, x1)
  };
  std::vector<Rect> rects;
  std::vector<uint8_t> seen(context.size(), 0);
  std::vector<int> stack;
  for (int i = 0; i < bh * bw; ++i) {
    if (!context[i] || seen[i]) continue;
    Rect r{bh, bw, 0, 0};
    stack.assign(1, i);
    seen[i] = 1;
    while (!stack.empty()) {
      const int c = stack.back();
      stack.pop_back();
      const int cy = c / bw, cx = c % bw;
      r = {std::min(r.y0, cy), std::min(r.x0, cx), std::max(r.y1, cy + 1), std::max(r.x1, cx + 1)};
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int ny = cy + dy, nx = cx + dx;
          if (ny < 0 || nx < 0 || ny >= bh || nx >= bw) continue;
          const int j = ny * bw + nx;
          if (context[j] && !seen[j]) seen[j] = 1, stack.push_back(j);
        }
    }
    rects.push_back(r);
  }
  for (bool merged = true; merged;) {
    merged = false;
    for (size_t a = 0; a < rects.size() && !merged; ++a)
      for (size_t b = a + 1; b < rects.size() && !merged; ++b) {
        const Rect &p = rects[a], &q = rects[b];
        if (p.y0 < q.y1 && q.y0 < p.y1 && p.x0 < q.x1 && q.x0 < p.x1) {
          rects[a] = {std::min(p.y0, q.y0), std::min(p.x0, q.x0), std::max(p.y1, q.y1), std::max(p.x1, q.x1)};
          rects.erase(rects.begin() + static_cast<std::ptrdiff_t>(b));
          merged = true;
        }
      }
  }
  const int channels = net.config().in_channels, nt = net.config().threat_classes, ng = net.config().goods_classes;
  std::vector<float> crop, ctp, cgp;
  for (const Rect& r : rects) {
    const int ch = (r.y1 - r.y0) * kNetInputMultiple, cw = (r.x1 - r.x0) * kNetInputMultiple;
    const int iy = r.y0 * kNetInputMultiple, ix = r.x0 * kNetInputMultiple;
    CropGrid(input, channels, gh, gw, iy, ix, ch, cw, &crop);
    CS_RETURN_IF_ERROR(net.Infer(crop.data(), ch, cw, threads, &ctp, &cgp, meta.views));
    if (view_cells) *view_cells += static_cast<int64_t>(ch) * cw;
    const int coh = ch / 2, cow = cw / 2;
    const size_t cplane = static_cast<size_t>(coh) * cow;
    for (int y = 0; y < coh; ++y)
      for (int x = 0; x < cow; ++x) {
        const int gy = r.y0 * kBlock + y, gx = r.x0 * kBlock + x;
        if (!write[static_cast<size_t>(gy / kBlock) * bw + gx / kBlock]) continue;
        const size_t gi = static_cast<size_t>(gy) * ow + gx, ci = static_cast<size_t>(y) * cow + x;
        for (int k = 0; k < nt; ++k) (*threat_prob)[k * plane + gi] = ctp[k * cplane + ci];
        for (int k = 0; k < ng; ++k) (*goods_prob)[k * plane + gi] = cgp[k * cplane + ci];
      }
  }
  return Status::Ok();
}

}  // namespace

Status InferWithViews(const Net& net, const float* input, int gh, int gw, int threads, const DetectorMeta& meta,
                      std::vector<float>* threat_prob, std::vector<float>* goods_prob, int64_t* view_cells) {
  if (view_cells) *view_cells = 0;
  if (!meta.network_on_contents)
    return InferViewsOnGrid(net, input, gh, gw, threads, meta, threat_prob, goods_prob, view_cells);
  const CellBox b = ContentBox(input, gh, gw);
  if (!b.empty() && b.y0 == 0 && b.x0 == 0 && b.y1 == gh && b.x1 == gw)
    return InferViewsOnGrid(net, input, gh, gw, threads, meta, threat_prob, goods_prob, view_cells);
  // Background everywhere, then the box's probabilities over their cells.
  const int nt = net.config().threat_classes, ng = net.config().goods_classes, oh = gh / 2, ow = gw / 2;
  const size_t plane = static_cast<size_t>(oh) * ow;
  threat_prob->assign(static_cast<size_t>(nt) * plane, 0.0f);
  goods_prob->assign(static_cast<size_t>(ng) * plane, 0.0f);
  std::fill_n(threat_prob->begin(), plane, 1.0f);
  std::fill_n(goods_prob->begin(), plane, 1.0f);
  if (b.empty()) return Status::Ok();  // nothing in the scan holds material
  const int channels = net.config().in_channels, bh = b.y1 - b.y0, bw = b.x1 - b.x0;
  std::vector<float> crop, ctp, cgp;
  CropGrid(input, channels, gh, gw, b.y0, b.x0, bh, bw, &crop);
  CS_RETURN_IF_ERROR(InferViewsOnGrid(net, crop.data(), bh, bw, threads, meta, &ctp, &cgp, view_cells));
  const int coh = bh / 2, cow = bw / 2;
  const size_t cplane = static_cast<size_t>(coh) * cow;
  for (int y = 0; y < coh; ++y) {
    const size_t gi = static_cast<size_t>(b.y0 / 2 + y) * ow + b.x0 / 2, ci = static_cast<size_t>(y) * cow;
    for (int k = 0; k < nt; ++k)
      std::copy_n(ctp.data() + k * cplane + ci, cow, threat_prob->data() + k * plane + gi);
    for (int k = 0; k < ng; ++k)
      std::copy_n(cgp.data() + k * cplane + ci, cow, goods_prob->data() + k * plane + gi);
  }
  return Status::Ok();
}

}  // namespace xray

struct Detector::Impl {
  std::unique_ptr<xray::Net> net;
  xray::DetectorMeta meta;
  std::string meta_json;
  DetectorOptions options;
  std::optional<ManifestModel> manifest;
  std::optional<xray::RegionVerifier> verifier;  // the second stage, when the model has one
};

Detector::Detector() : impl_(std::make_unique<Impl>()) {}
Detector::~Detector() = default;

Result<std::unique_ptr<Detector>> Detector::Load(const std::string& path, const DetectorOptions& options) {
  if (options.threads < 1 || options.threads > 256) return Status::InvalidArgument("detector threads must be 1..256");
  if (!(options.min_score >= 0 && options.min_score <= 1)) return Status::InvalidArgument("min_score must lie in 0..1");
  std::string meta_text;
  CS_ASSIGN_OR_RETURN(auto net, xray::Net::Load(path, &meta_text));
  std::unique_ptr<Detector> d(new Detector());
  Impl& im = *d->impl_;
  im.net = std::move(net);
  im.options = options;
  im.meta_json = meta_text;
  json m = json::parse(meta_text, nullptr, false);
  if (m.is_discarded() || !m.is_object() || m.value("format", "") != xray::kDetectorFormat)
    return Status::DataLoss(path + ": not a " + std::string(xray::kDetectorFormat) + " model (metadata)");
  try {
    im.meta.threat_classes = m.at("threat_classes").get<std::vector<std::string>>();
    im.meta.goods_classes = m.at("goods_classes").get<std::vector<std::string>>();
    im.meta.operating_probability = m.at("operating_probability").get<double>();
    im.meta.region_probability = m.at("region_probability").get<double>();
    if (m.contains("class_operating_probability")) {
      const json& cop = m.at("class_operating_probability");
      for (const auto& c : im.meta.threat_classes) {
        const double p = cop.at(c).get<double>();
        if (!(p > 0 && p < 1)) return Status::DataLoss(path + ": operating probability of " + c + " out of range");
        im.meta.class_operating_probability.push_back(p);
      }
    }
    CS_RETURN_IF_ERROR(xray::ReadInferenceSettings(m, path, &im.meta));
    if (m.value("cell_px", 0) != xray::kCellPx || m.value("feature_channels", 0) != xray::kFeatureChannels)
      return Status::DataLoss(path + ": the model expects other input features than this build computes");
  } catch (const std::exception& e) {
    return Status::DataLoss(path + ": bad detector metadata: " + e.what());
  }
  const auto& cfg = im.net->config();
  if (cfg.threat_classes != static_cast<int>(im.meta.threat_classes.size()) + 1 ||
      cfg.goods_classes != static_cast<int>(im.meta.goods_classes.size()) + 1 || cfg.in_channels != xray::kFeatureChannels)
    return Status::DataLoss(path + ": network outputs do not match the class lists");
  if (!(im.meta.operating_probability > 0 && im.meta.operating_probability < 1))
    return Status::DataLoss(path + ": operating probability out of range");
  if (m.contains("verifier")) {
    const json& v = m["verifier"];
    try {
      if (v.at("features").get<std::vector<std::string>>() !=
          std::vector<std::string>(std::begin(xray::kRegionFeatureNames), std::end(xray::kRegionFeatureNames)))
        return Status::DataLoss(path +
                                ": the model's verifier expects other region features than this build computes");
      // One booster, or a bag of fold models ("fold_boosters", scored by their mean probability).
      xray::RegionVerifier rv;
      const bool bag = v.contains("fold_boosters");
      const json& boosters = bag ? v.at("fold_boosters") : v.at("booster");
      if (bag && (!boosters.is_array() || boosters.empty()))
        return Status::DataLoss(path + ": verifier fold_boosters is not a list of models");
      for (size_t b = 0; b < (bag ? boosters.size() : 1); ++b) {
        auto forest = model::Forest::FromXgboostJson((bag ? boosters[b] : boosters).dump());
        if (!forest.ok()) return forest.status().WithContext(path + ": verifier: ");
        if (forest->num_features() != xray::kRegionFeatures)
          return Status::DataLoss(path + ": verifier trees have " + std::to_string(forest->num_features()) +
                                  " features, expected " + std::to_string(xray::kRegionFeatures));
        rv.forests.push_back(std::move(*forest));
      }
      for (const auto& c : im.meta.threat_classes) {
        const double p = v.at("class_operating_probability").at(c).get<double>();
        if (!(p > 0 && p < 1))
          return Status::DataLoss(path + ": verifier operating probability of " + c + " out of range");
        rv.class_operating_probability.push_back(p);
      }
      im.verifier = std::move(rv);
    } catch (const std::exception& e) {
      return Status::DataLoss(path + ": bad verifier metadata: " + e.what());
    }
  }
  if (m.contains("manifest") && m["manifest"].is_object()) {
    auto mm = ManifestModel::FromJson(m["manifest"].dump());
    if (!mm.ok()) return mm.status().WithContext(path + ": manifest model: ");
    im.manifest = std::move(*mm);
  }
  return d;
}

Status Detector::Detect(const ScanAnalysis& analysis, DetectionResult* out) const {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  xray::FeatureGrid grid;
  CS_RETURN_IF_ERROR(xray::ComputeFeatures(analysis, impl_->options.threads, &grid));
  const auto t1 = clock::now();
  std::vector<float> tp, gp;
  CS_RETURN_IF_ERROR(xray::InferWithViews(*impl_->net, grid.data.data(), grid.gh, grid.gw, impl_->options.threads,
                                          impl_->meta, &tp, &gp));
  const auto t2 = clock::now();
  xray::DecodeOutputs(tp, gp, grid.gh / 2, grid.gw / 2, analysis.width, analysis.height, analysis.pixel_mm,
                      impl_->meta, impl_->options.min_score, out, xray::GridView{grid.data.data(), grid.gh, grid.gw},
                      impl_->verifier ? &*impl_->verifier : nullptr);
  const auto t3 = clock::now();
  out->ms_features = std::chrono::duration<double, std::milli>(t1 - t0).count();
  out->ms_network = std::chrono::duration<double, std::milli>(t2 - t1).count();
  out->ms_decode = std::chrono::duration<double, std::milli>(t3 - t2).count();
  return Status::Ok();
}

Result<DetectionResult> Detector::Detect(const ScanAnalysis& analysis) const {
  DetectionResult r;
  CS_RETURN_IF_ERROR(Detect(analysis, &r));
  return r;
}

const std::vector<std::string>& Detector::threat_classes() const { return impl_->meta.threat_classes; }
const std::vector<std::string>& Detector::goods_classes() const { return impl_->meta.goods_classes; }
const ManifestModel* Detector::manifest() const { return impl_->manifest ? &*impl_->manifest : nullptr; }
const std::string& Detector::metadata_json() const { return impl_->meta_json; }
const DetectorOptions& Detector::options() const { return impl_->options; }
int64_t Detector::parameters() const { return impl_->net->parameters(); }
double Detector::operating_probability() const {
  if (impl_->verifier)
    return *std::min_element(impl_->verifier->class_operating_probability.begin(),
                             impl_->verifier->class_operating_probability.end());
  return impl_->meta.operating_probability;
}
bool Detector::has_verifier() const { return impl_->verifier.has_value(); }
std::vector<double> Detector::class_operating_probabilities() const {
  if (impl_->verifier) return impl_->verifier->class_operating_probability;
  std::vector<double> out;
  for (size_t k = 0; k < impl_->meta.threat_classes.size(); ++k) out.push_back(impl_->meta.OperatingProbability(k));
  return out;
}

std::string DetectionsToJson(const std::vector<Detection>& detections) {
  std::string s = "[";
  for (size_t i = 0; i < detections.size(); ++i) {
    const Detection& d = detections[i];
    if (i) s += ',';
    s += "{\"class\":" + json(d.threat_class).dump() + ",\"score\":" + FormatFixed(d.score, 3) + ",\"box\":[" +
         std::to_string(d.x0) + ',' + std::to_string(d.y0) + ',' + std::to_string(d.x1) + ',' + std::to_string(d.y1) +
         "]}";
  }
  return s + "]";
}

}  // namespace clearsight
