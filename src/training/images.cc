// Training images: a background (simulated parcel or stored clean scan) chosen for its clutter,
// with a threat projected by the physics TIP when the image is to have one.
#include <algorithm>
#include <cmath>
#include <optional>

#include "clearsight/training.h"
#include "clearsight/xray_simulate.h"
#include "xray/physics/random.h"

namespace clearsight {

struct TrainingImageMaker::Impl {
  Options options;
  std::unique_ptr<Simulator> simulator;
  // The simulator's scanner, fitted to its own wedges, and the stored scans' scanner when the
  // options name its calibration.
  std::optional<ScannerResponse> simulator_response, stored_response;
};

TrainingImageMaker::TrainingImageMaker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TrainingImageMaker::~TrainingImageMaker() = default;

Result<std::unique_ptr<TrainingImageMaker>> TrainingImageMaker::Create(const Options& options) {
  if (options.width < 64 || options.height < 64 || options.candidates < 1)
    return Status::InvalidArgument("training images need at least 64x64 pixels and 1 candidate");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  SimulateOptions so;
  so.width = options.width;
  so.height = options.height;
  so.seed = options.seed;
  so.threat_rate = 0;  // clean backgrounds: the only threat is the projected one
  so.misdeclared_rate = 0;
  so.undervalued_rate = 0;
  CS_ASSIGN_OR_RETURN(impl->simulator, Simulator::Create(so));
  CS_ASSIGN_OR_RETURN(auto wedges, impl->simulator->SimulateWedges());
  CS_ASSIGN_OR_RETURN(const Calibration own, Calibration::Fit(wedges));
  CS_ASSIGN_OR_RETURN(impl->simulator_response, ScannerResponse::Fit(own));
  if (options.calibration) {
    auto response = ScannerResponse::Fit(*options.calibration);
    if (!response.ok())
      return response.status().WithContext(
          "the stored scans' calibration cannot render threats for training images");
    impl->stored_response = std::move(*response);
  }
  return std::unique_ptr<TrainingImageMaker>(new TrainingImageMaker(std::move(impl)));
}

double ClutterOf(const Scan& scan) {
  if (scan.high.empty()) return 0;
  const uint16_t half = EncodeTransmission(0.5);
  size_t dense = 0;
  for (uint16_t v : scan.high) dense += v < half;
  return static_cast<double>(dense) / static_cast<double>(scan.high.size());
}

Result<TrainingImage> TrainingImageMaker::Make(const TrainingImageRequest& request) const {
  xray::Rng rng(xray::MixSeed(request.seed, 0x7472616eull));
  // The background: candidates ranked by clutter, the level picking one.
  std::vector<std::pair<double, size_t>> ranked;
  std::vector<Scan> simulated;
  std::vector<std::string> sources;
  const bool stored = !request.stored_candidates.empty();
  if (stored) {
    for (size_t i = 0; i < request.stored_candidates.size(); ++i) {
      ranked.emplace_back(ClutterOf(request.stored_candidates[i]), i);
      sources.push_back("scan:" +
                        (i < request.stored_ids.size() ? request.stored_ids[i] : std::string()));
    }
  } else {
    for (int k = 0; k < impl_->options.candidates; ++k) {
      const int64_t index = static_cast<int64_t>(rng.Next() >> 24);
      CS_ASSIGN_OR_RETURN(SimulatedScan s, impl_->simulator->Simulate(index));
      ranked.emplace_back(ClutterOf(s.scan), simulated.size());
      simulated.push_back(std::move(s.scan));
      sources.push_back("simulated:" + std::to_string(index));
    }
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const double level = std::clamp(request.difficulty.clutter, 0.0, 1.0);
  const size_t pick = ranked[static_cast<size_t>(std::lround(level * (ranked.size() - 1)))].second;
  TrainingImage out;
  out.scan = stored ? request.stored_candidates[pick] : std::move(simulated[pick]);
  out.source = sources[pick];
  out.clutter_measured = ClutterOf(out.scan);
  if (!request.threat) return out;

  // One of the simulator's first patches_per_class threats of the class (MakeMaterialThreats').
  const int threat_index = rng.Int(0, std::max(1, impl_->options.patches_per_class) - 1);
  // Over goods (high-energy transmission 0.2..0.9) away from the edges, so that the threat lies
  // in the clutter as a packed one would; the centre when no such pixel turns up.
  Scan& scan = out.scan;
  ProjectOptions po;
  po.x = scan.width / 2.0;
  po.y = scan.height / 2.0;
  const uint16_t lo = EncodeTransmission(0.2), hi = EncodeTransmission(0.9);
  for (int attempt = 0; attempt < 400; ++attempt) {
    const int x = static_cast<int>(scan.width * rng.Uniform(0.15, 0.85));
    const int y = static_cast<int>(scan.height * rng.Uniform(0.15, 0.85));
    const uint16_t v = scan.high[static_cast<size_t>(y) * scan.width + x];
    if (v >= lo && v <= hi) {
      po.x = x + 0.5;
      po.y = y + 0.5;
      break;
    }
  }
  // The threat rasterized afresh on the scan's own grid, as the simulator rasterizes a packed one
  // (each pixel the ray through its centre, at any rotation and sub-pixel place), rather than a
  // rasterized threat resampled: resampling softens edges that a scan's are not. The size factor
  // shrinks the grid it is drawn on.
  const double scale = request.difficulty.size_scale;
  if (!(scale > 0.05 && scale < 20))
    return Status::InvalidArgument("size scale must lie in 0.05..20");
  const double angle = rng.Uniform(0, 2 * 3.14159265358979323846);
  const double offset_x = rng.Uniform(), offset_y = rng.Uniform();
  CS_ASSIGN_OR_RETURN(
      const MaterialThreat threat,
      impl_->simulator->RenderMaterialThreat(request.threat_class, threat_index, angle,
                                             scan.meta.pixel_mm / scale, offset_x, offset_y));
  po.on_scan_grid = true;
  po.seed = rng.Next();
  // The threat's materials through the background's scanner, with its blur and noise, so that the
  // threat's attenuation, edges and noise look like the scan's. A stored scan is of the service's
  // scanner when a calibration is given: its response and blur are the calibration's, its air
  // noise is measured on the scan's open beam (the simulator's where the scan has too little);
  // electronic noise and scatter, which neither shows, stay the simulator's. Without a
  // calibration it is treated as the simulator's.
  po.imaging = impl_->simulator->Imaging();
  const ScannerResponse* response = &*impl_->simulator_response;
  if (stored && impl_->stored_response) {
    response = &*impl_->stored_response;
    ScannerImaging& im = *po.imaging;
    im.blur_sigma_low = impl_->options.calibration->blur_sigma_low();
    im.blur_sigma_high = impl_->options.calibration->blur_sigma_high();
    if (auto air = EstimateAirNoise(scan, im.blur_sigma_low, im.blur_sigma_high, im.electronic_sd);
        air.ok()) {
      im.air_sd_low = air->first;
      im.air_sd_high = air->second;
    }
  }
  CS_ASSIGN_OR_RETURN(ProjectedThreat p, ProjectMaterialThreat(threat, *response, po, &scan));
  out.projected = std::move(p);
  return out;
}

}  // namespace clearsight
