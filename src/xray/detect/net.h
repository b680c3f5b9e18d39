// The detector's network behind a small interface, so that LibTorch stays inside one adapter
// (torch_adapter.cc, the only file that includes <torch/torch.h>; ~15 s to compile).
//
// A fully convolutional encoder-decoder over the detector's input grid (one cell per 4x4 scan
// pixels, features from the calibrated material channels, see features.h). Its output grid has
// half the input's resolution (one cell per 8x8 scan pixels) and two softmax heads per cell: the
// threat class (0 = none) and the goods class (0 = none: air or packaging).
#pragma once

#include <cstdint>
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

struct NetBatch {
  int n = 0, h = 0, w = 0;      // input cells; labels are (h/2) x (w/2)
  std::vector<float> input;     // n x C x h x w
  std::vector<int64_t> threat;  // n x h/2 x w/2; -1 = ignore
  std::vector<int64_t> goods;   // n x h/2 x w/2; -1 = ignore
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
};

struct NetLoss {
  double total = 0, threat = 0, goods = 0;
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

  const NetConfig& config() const { return config_; }
  int64_t parameters() const;

  // Inference (no gradients; may be called from several threads at once). `input` is C x h x w;
  // on return threat_prob is threat_classes x (h/2) x (w/2) softmax probabilities and goods_prob
  // the same for the goods head. `threads` is the intra-op thread count for this call.
  Status Infer(const float* input, int h, int w, int threads, std::vector<float>* threat_prob,
               std::vector<float>* goods_prob) const;

  // Training: one optimiser step (AdamW) on a batch; fills the batch's losses.
  Status TrainStep(const NetBatch& batch, const NetTrainOptions& options, double learning_rate,
                   int threads, NetLoss* loss);
  // After the last TrainStep: the weights back in the usual (contiguous) layout, so that inference
  // computes as it will after Save and Load.
  Status EndTraining();
  // Loss on a batch without a step (validation).
  Status EvalLoss(const NetBatch& batch, const NetTrainOptions& options, int threads,
                  NetLoss* loss) const;

 private:
  struct Impl;
  Net();
  NetConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace clearsight::xray
