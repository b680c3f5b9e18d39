// Timed training steps of the detector's network on synthetic crops (xray_train.h,
// TimeNetworkSteps): what bench/xray_train_bench compares across allocator and layout settings.
#include <chrono>

#include "clearsight/xray_train.h"
#include "xray/detect/net.h"
#include "xray/physics/random.h"

namespace clearsight {

Result<NetworkStepTimes> TimeNetworkSteps(const NetworkStepTimingOptions& o) {
  if (o.steps < 1 || o.warmup_steps < 0 || o.threads < 1 || o.batch < 1 || o.crop_cells < 16 ||
      o.crop_cells % 2)
    return Status::InvalidArgument(
        "network step timing: steps >= 1, warm-up steps >= 0, threads >= 1, batch >= 1 "
        "and an even crop of at least 16 cells");
  xray::NetConfig cfg;
  CS_ASSIGN_OR_RETURN(auto net, xray::Net::Create(cfg, o.seed));
  xray::NetBatch b;
  b.n = o.batch;
  b.h = b.w = o.crop_cells;
  b.input.resize(static_cast<size_t>(b.n) * cfg.in_channels * b.h * b.w);
  b.threat.resize(static_cast<size_t>(b.n) * (b.h / 2) * (b.w / 2));
  b.goods.resize(b.threat.size());
  xray::NetTrainOptions to;
  to.channels_last = o.channels_last;
  xray::Rng rng(o.seed + 6);
  NetworkStepTimes out;
  // A batch that changes every step: random features, a threat object of 6 x 6 output cells in
  // each crop, goods elsewhere.
  for (int s = 0; s < o.steps + o.warmup_steps; ++s) {
    for (auto& v : b.input) v = static_cast<float>(rng.Uniform(0, 2));
    const int oh = b.h / 2, ow = b.w / 2;
    for (int n = 0; n < b.n; ++n) {
      const int cls = rng.Int(1, cfg.threat_classes - 1), y0 = rng.Int(0, oh - 6),
                x0 = rng.Int(0, ow - 6);
      for (int y = 0; y < oh; ++y)
        for (int x = 0; x < ow; ++x) {
          const size_t i = (static_cast<size_t>(n) * oh + y) * ow + x;
          const bool inside = y >= y0 && y < y0 + 6 && x >= x0 && x < x0 + 6;
          b.threat[i] = inside ? cls : 0;
          b.goods[i] = (x * 7 + y * 3 + n) % cfg.goods_classes;
        }
    }
    xray::NetLoss loss;
    const auto t0 = std::chrono::steady_clock::now();
    CS_RETURN_IF_ERROR(net->TrainStep(b, to, 0.003, o.threads, &loss));
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (s >= o.warmup_steps) out.step_ms.push_back(ms);
    out.last_loss = loss.total;
  }
  return out;
}

}  // namespace clearsight
