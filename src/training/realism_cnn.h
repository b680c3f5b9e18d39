// A small convolutional classifier for the realism measurement: a stronger adversary than the
// hand features, it sees the pixels around the threat itself. Behind this torch-free interface;
// src/training/realism_cnn.cc is the only training file that includes LibTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "clearsight/status.h"

namespace clearsight::realism {

// A crop around a threat: kCropChannels planes of kCropPx x kCropPx, row-major: log attenuation
// low and high (divided by 4), and the threat's mask.
inline constexpr int kCropPx = 48;
inline constexpr int kCropChannels = 3;
struct Crop {
  std::vector<float> data;
  int label = 0;     // 1: projected
  size_t image = 0;  // which image of its split it comes from
};

struct CnnOptions {
  int epochs = 24;
  int batch = 32;
  double learning_rate = 2e-3;
  double weight_decay = 1e-3;
  int threads = 2;
  uint64_t seed = 1;
};

// Trains the classifier on `train` (flips as augmentation) and returns, per image of the test
// split (0 .. test_images - 1), the mean probability of "projected" over its crops (0.5 for an
// image without one). Internal for a LibTorch failure.
Result<std::vector<double>> TrainAndScoreCnn(const std::vector<Crop>& train,
                                             const std::vector<Crop>& test, size_t test_images,
                                             const CnnOptions& options);

}  // namespace clearsight::realism
