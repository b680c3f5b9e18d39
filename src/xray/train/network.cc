// The train-network phase of the detector's training: a new network or the init model's, trained
// on augmented crops of the training scans (AdamW, warm-up then cosine decay).
#include <algorithm>
#include <cmath>

#include "xray/detect/features.h"
#include "xray/train/train_internal.h"

namespace clearsight::xray {

using json = nlohmann::json;

namespace {

// A model's network for this build's inputs and classes (their number, and the threat classes'
// names in order where the model lists them), with the model's region probability and its training
// record ({"path", "trained"}). DataLoss for a model made with a setting this build does not have.
Result<TrainedNetwork> LoadInitNetwork(const std::string& path, const NetConfig& cfg) {
  std::string text;
  TrainedNetwork out;
  CS_ASSIGN_OR_RETURN(out.net, Net::Load(path, &text));
  json meta = json::parse(text, nullptr, false);
  if (meta.is_discarded()) meta = nullptr;
  CS_RETURN_IF_ERROR(CheckNoRemovedSettings(meta, path));
  const auto& c = out.net->config();
  if (c.in_channels != cfg.in_channels || c.threat_classes != cfg.threat_classes ||
      (meta.contains("threat_classes") && meta["threat_classes"] != json(ThreatClasses())))
    return Status::InvalidArgument(
        path + ": its network has other inputs or threat classes than this build trains");
  if (c.goods_classes != cfg.goods_classes)
    return Status::InvalidArgument(path +
                                   ": its network has other goods classes than this build trains");
  out.init_record = {{"path", path},
                     {"trained", meta.contains("trained") ? meta["trained"] : json()}};
  if (meta.contains("region_probability") && meta["region_probability"].is_number())
    out.init_region_probability = meta["region_probability"].get<double>();
  return out;
}

}  // namespace

Result<TrainedNetwork> TrainNetwork(const TrainData& data, const NetworkTrainOptions& o,
                                    const TrainContext& ctx) {
  NetConfig cfg;
  cfg.in_channels = kFeatureChannels;
  cfg.threat_classes = static_cast<int>(ThreatClasses().size()) + 1;
  cfg.goods_classes = static_cast<int>(GoodsCategoryNames().size()) + 1;
  TrainedNetwork out;
  if (o.init_path) {
    CS_ASSIGN_OR_RETURN(out, LoadInitNetwork(*o.init_path, cfg));
  } else {
    CS_ASSIGN_OR_RETURN(out.net, Net::Create(cfg, ctx.seed));
  }
  Net& net = *out.net;
  NetTrainOptions to;
  to.learning_rate = o.learning_rate;
  to.class_weight_factor = PerClassFactor(o.class_weights);
  const std::vector<size_t>& train_idx = data.train_idx;
  const int64_t steps_per_epoch =
      std::max<int64_t>(1, (static_cast<int64_t>(train_idx.size()) + o.batch - 1) / o.batch);
  int epochs = o.epochs;
  Rng rng(MixSeed(ctx.seed, 31));
  NetBatch batch;
  batch.n = o.batch;
  batch.h = batch.w = o.crop_cells;
  batch.input.resize(static_cast<size_t>(o.batch) * kFeatureChannels * o.crop_cells * o.crop_cells);
  batch.threat.resize(static_cast<size_t>(o.batch) * (o.crop_cells / 2) * (o.crop_cells / 2));
  batch.goods.resize(batch.threat.size());
  using clock = std::chrono::steady_clock;
  const double train_start = ctx.Elapsed();
  int64_t step = 0;
  auto last_report = clock::now() - std::chrono::seconds(10);
  std::vector<size_t> order = train_idx;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    // Shuffle (Fisher-Yates with our generator: the same order on every platform).
    for (size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[static_cast<size_t>(rng.Uniform() * i)]);
    double loss_sum = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
      for (int b = 0; b < o.batch; ++b) {
        const Sample& smp =
            data.samples[order[static_cast<size_t>((s * o.batch + b) % order.size())]];
        MakeCrop(smp, o.crop_cells, &rng, &batch, b);
      }
      // Warm-up for 100 steps, then cosine decay to 5 %.
      const int64_t total_steps = steps_per_epoch * epochs;
      const double t = static_cast<double>(step) / std::max<int64_t>(1, total_steps);
      double lr = o.learning_rate * (0.05 + 0.95 * 0.5 * (1 + std::cos(3.14159265358979 * t)));
      if (step < 100) lr *= (step + 1) / 100.0;
      NetLoss loss;
      CS_RETURN_IF_ERROR(net.TrainStep(batch, to, lr, ctx.threads, &loss));
      loss_sum += loss.total;
      const double per_step = (ctx.Elapsed() - train_start) / (step + 1);
      if (clock::now() - last_report > std::chrono::seconds(2) || s + 1 == steps_per_epoch) {
        last_report = clock::now();
        TrainProgress p;
        p.phase = TrainPhase::kTraining;
        p.epoch = epoch + 1;
        p.epochs = epochs;
        p.done = s + 1;
        p.total = steps_per_epoch;
        p.loss = loss_sum / (s + 1);
        p.eta_s = per_step * (steps_per_epoch * epochs - step - 1);
        ctx.Report(p);
      }
    }
    // After the first epoch: fewer epochs when the time budget would be exceeded.
    if (epoch == 0 && o.max_minutes) {
      const double budget_s = *o.max_minutes * 60;
      const double per_epoch = ctx.Elapsed() - train_start;
      const double left = budget_s - ctx.Elapsed() - 0.1 * budget_s;  // keep 10 % for validation
      epochs = std::clamp(static_cast<int>(left / per_epoch) + 1, 1, epochs);
    }
  }
  CS_RETURN_IF_ERROR(net.EndTraining());
  out.epochs = epochs;
  return out;
}

}  // namespace clearsight::xray
