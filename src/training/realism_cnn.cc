// LibTorch side of the realism CNN (realism_cnn.h). Exceptions from LibTorch become a Status.
#include "training/realism_cnn.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace clearsight::realism {

namespace {

// conv 3x3 + batch norm + ReLU, twice per scale, then max pooling; global average and a linear
// output. About 30k weights: enough to learn edges, noise grain and texture on 48 x 48 crops.
struct CropNetImpl : torch::nn::Module {
  torch::nn::Conv2d c1{nullptr}, c2{nullptr}, c3{nullptr}, c4{nullptr}, c5{nullptr};
  torch::nn::BatchNorm2d b1{nullptr}, b2{nullptr}, b3{nullptr}, b4{nullptr}, b5{nullptr};
  torch::nn::Linear out{nullptr};
  CropNetImpl() {
    auto conv = [](int in, int o) {
      return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, o, 3).padding(1).bias(false));
    };
    c1 = register_module("c1", conv(kCropChannels, 16));
    b1 = register_module("b1", torch::nn::BatchNorm2d(16));
    c2 = register_module("c2", conv(16, 16));
    b2 = register_module("b2", torch::nn::BatchNorm2d(16));
    c3 = register_module("c3", conv(16, 32));
    b3 = register_module("b3", torch::nn::BatchNorm2d(32));
    c4 = register_module("c4", conv(32, 32));
    b4 = register_module("b4", torch::nn::BatchNorm2d(32));
    c5 = register_module("c5", conv(32, 48));
    b5 = register_module("b5", torch::nn::BatchNorm2d(48));
    out = register_module("out", torch::nn::Linear(48, 1));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(b1(c1(x)));
    x = torch::max_pool2d(torch::relu(b2(c2(x))), 2);
    x = torch::max_pool2d(torch::relu(b3(c3(x))), 2);
    x = torch::max_pool2d(torch::relu(b4(c4(x))), 2);
    x = torch::relu(b5(c5(x)));
    return out(x.mean({2, 3})).squeeze(1);
  }
};
TORCH_MODULE(CropNet);

torch::Tensor Stack(const std::vector<Crop>& crops, const std::vector<size_t>& idx) {
  const int64_t plane = int64_t{kCropChannels} * kCropPx * kCropPx;
  torch::Tensor t =
      torch::empty({static_cast<int64_t>(idx.size()), kCropChannels, kCropPx, kCropPx});
  float* p = t.data_ptr<float>();
  for (size_t k = 0; k < idx.size(); ++k)
    std::copy(crops[idx[k]].data.begin(), crops[idx[k]].data.end(), p + k * plane);
  return t;
}

}  // namespace

Result<std::vector<double>> TrainAndScoreCnn(const std::vector<Crop>& train,
                                             const std::vector<Crop>& test, size_t test_images,
                                             const CnnOptions& o) {
  const size_t plane = static_cast<size_t>(kCropChannels) * kCropPx * kCropPx;
  for (const auto* split : {&train, &test})
    for (const Crop& c : *split)
      if (c.data.size() != plane)
        return Status::InvalidArgument("realism CNN: a crop of the wrong size");
  if (train.empty()) return Status::InvalidArgument("realism CNN: nothing to train on");
  try {
    const int threads_before = torch::get_num_threads();
    torch::set_num_threads(std::max(1, o.threads));
    torch::manual_seed(o.seed);
    CropNet net;
    torch::optim::AdamW opt(
        net->parameters(),
        torch::optim::AdamWOptions(o.learning_rate).weight_decay(o.weight_decay));
    std::mt19937_64 rng(o.seed);
    std::vector<size_t> order(train.size());
    std::iota(order.begin(), order.end(), size_t{0});
    const int64_t steps_per_epoch =
        static_cast<int64_t>((train.size() + static_cast<size_t>(o.batch) - 1) / o.batch);
    const int64_t total = steps_per_epoch * o.epochs;
    int64_t step = 0;
    net->train();
    for (int e = 0; e < o.epochs; ++e) {
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t b = 0; b < order.size(); b += static_cast<size_t>(o.batch)) {
        std::vector<size_t> idx(
            order.begin() + static_cast<std::ptrdiff_t>(b),
            order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), b + o.batch)));
        torch::Tensor x = Stack(train, idx);
        // Flips along either axis (the belt's rows stay rows).
        if (rng() & 1) x = x.flip({3});
        if (rng() & 1) x = x.flip({2});
        torch::Tensor y = torch::empty({static_cast<int64_t>(idx.size())});
        for (size_t k = 0; k < idx.size(); ++k) y[static_cast<int64_t>(k)] = train[idx[k]].label;
        // Cosine decay of the learning rate over the run.
        const double lr = o.learning_rate * 0.5 *
                          (1 + std::cos(3.14159265358979 * static_cast<double>(step) / total));
        for (auto& g : opt.param_groups())
          static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
        opt.zero_grad();
        torch::Tensor loss = torch::binary_cross_entropy_with_logits(net->forward(x), y);
        loss.backward();
        opt.step();
        ++step;
      }
    }
    net->eval();
    torch::NoGradGuard guard;
    std::vector<double> sum(test_images, 0.0), count(test_images, 0.0);
    for (size_t b = 0; b < test.size(); b += 64) {
      std::vector<size_t> idx;
      for (size_t k = b; k < std::min(test.size(), b + 64); ++k) idx.push_back(k);
      torch::Tensor p = torch::sigmoid(net->forward(Stack(test, idx))).contiguous();
      const float* pp = p.data_ptr<float>();
      for (size_t k = 0; k < idx.size(); ++k) {
        const size_t img = test[idx[k]].image;
        if (img >= test_images) continue;
        sum[img] += pp[k];
        count[img] += 1;
      }
    }
    torch::set_num_threads(threads_before);
    std::vector<double> out(test_images, 0.5);
    for (size_t i = 0; i < test_images; ++i)
      if (count[i] > 0) out[i] = sum[i] / count[i];
    return out;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("realism CNN (LibTorch): ") + e.what());
  }
}

}  // namespace clearsight::realism
