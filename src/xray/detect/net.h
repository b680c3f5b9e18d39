// The detector's network behind a small interface, so that LibTorch stays inside one adapter
// (torch_adapter.cc, the only file that includes <torch/torch.h>; ~15 s to compile).
//
// A fully convolutional encoder-decoder over the detector's input grid (one cell per 4x4 scan
// pixels, features from the calibrated material channels, see features.h). Its output grid has
// half the input's resolution (one cell per 8x8 scan pixels) and two softmax heads per cell: the
// threat class (0 = none) and the goods class (0 = none: air or packaging).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "clearsight/status.h"

namespace clearsight::xray {

struct NetConfig {
  int in_channels = 5;
  int threat_classes = 8;  // including "none"
  int goods_classes = 10;  // including "none"
  // Channel widths of the encoder stages at output strides 8, 16 and 32 (in scan pixels).
  int width8 = 16, width16 = 32, width32 = 48;
};

// The input grid must have a height and width divisible by this many cells.
inline constexpr int kNetInputMultiple = 8;

// Test-time views Net::Infer accepts: 1 (the input as it is), 2 (and its left-right mirror), 4 (and
// the up-down mirror and both) or 8 (and the transposes of those four).
inline bool ValidNetViews(int views) { return views == 1 || views == 2 || views == 4 || views == 8; }

struct NetBatch {
  int n = 0, h = 0, w = 0;       // input cells; labels are (h/2) x (w/2)
  std::vector<float> input;      // n x C x h x w
  std::vector<int64_t> threat;   // n x h/2 x w/2; -1 = ignore
  std::vector<int64_t> goods;    // n x h/2 x w/2; -1 = ignore
  // Optional soft targets for the threat head (distillation): n x threat_classes x h/2 x w/2
  // probabilities, e.g. the mean of several teacher networks' SoftTargets; empty = none.
  std::vector<float> soft_threat;
};

struct NetTrainOptions {
  double learning_rate = 2e-3;
  double weight_decay = 1e-4;
  // Cross-entropy weight of the threat classes (1..) against "none" (0), and of the goods head
  // relative to the threat head.
  double threat_class_weight = 4.0;
  double goods_loss_weight = 0.5;
  // Per threat class (threat class k at index k; empty = all 1): a factor on threat_class_weight.
  std::vector<double> class_weight_factor;
  // Train with the convolution weights and the batch in channels-last layout: the same network and
  // loss, a faster step on CPU (bench/xray_train_bench.cc). EndTraining and Save return the
  // weights to the usual layout.
  bool channels_last = true;
  // Weight of the distillation term (when the batch has soft_threat): the cross-entropy of the
  // threat head against the soft targets, each cell weighted as the hard loss weighs the soft
  // targets' most probable class, so that threat cells count as much as in the hard loss.
  double distill_weight = 0;
};

struct NetLoss {
  double total = 0, threat = 0, goods = 0, distill = 0;
};

class Net {
 public:
  // A freshly initialised network (deterministic for a seed).
  static Result<std::unique_ptr<Net>> Create(const NetConfig& config, uint64_t seed);
  // Loads weights and the metadata text written by Save. NotFound / DataLoss with the path.
  static Result<std::unique_ptr<Net>> Load(const std::string& path, std::string* meta);
  // One file: the weights and `meta` (any text; the detector keeps its JSON settings there).
  Status Save(const std::string& path, const std::string& meta) const;
  ~Net();

  // A network whose weights and normalisation statistics are the element-wise mean of `nets`' (all
  // of one configuration): a "model soup" of networks fine-tuned from one starting network, which
  // lie in one basin where the mean of their weights is itself a good network. InvalidArgument for
  // none or for networks of different configurations.
  static Result<std::unique_ptr<Net>> Average(const std::vector<const Net*>& nets);

  const NetConfig& config() const { return config_; }
  int64_t parameters() const;
  // Every floating-point weight and normalisation statistic, in a fixed order (for checks that two
  // networks hold the same numbers).
  std::vector<float> Flatten() const;

  // Recomputes the batch-norm statistics (running mean and variance of every normalisation layer)
  // as the plain average over `batches` batches of inputs that `fill` writes (labels unused),
  // leaving the weights as they are. After averaging weights, the mean network's activations are
  // not the mean of its parts' activations, so their averaged statistics no longer fit.
  Status RecomputeNormStats(int batches, const std::function<void(NetBatch*)>& fill, int threads);

  // Inference (no gradients; may be called from several threads at once). `input` is C x h x w;
  // on return threat_prob is threat_classes x (h/2) x (w/2) softmax probabilities and goods_prob
  // the same for the goods head. `threads` is the intra-op thread count for this call.
  // `views` > 1 (test-time views, see ValidNetViews) averages the probabilities of that many flipped or
  // transposed copies of the input, each mapped back: the flips and transposes training augments
  // with, at `views` times the network's cost.
  Status Infer(const float* input, int h, int w, int threads, std::vector<float>* threat_prob,
               std::vector<float>* goods_prob, int views = 1) const;

  // The threat head's softmax probabilities for a whole batch (labels unused), in inference mode:
  // n x threat_classes x (h/2) x (w/2), the layout of NetBatch::soft_threat. For a teacher network
  // in distillation.
  Status SoftTargets(const NetBatch& batch, int threads, std::vector<float>* threat_prob) const;

  // Training: one optimiser step (AdamW) on a batch; fills the batch's losses.
  Status TrainStep(const NetBatch& batch, const NetTrainOptions& options, double learning_rate, int threads,
                   NetLoss* loss);
  // After the last TrainStep: the weights back in the usual (contiguous) layout, so that inference
  // computes as it will after Save and Load.
  Status EndTraining();
  // Loss on a batch without a step (validation).
  Status EvalLoss(const NetBatch& batch, const NetTrainOptions& options, int threads, NetLoss* loss) const;

 private:
  struct Impl;
  Net();
  NetConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace clearsight::xray
