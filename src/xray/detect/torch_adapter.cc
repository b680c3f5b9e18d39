// LibTorch adapter: the only translation unit that includes <torch/torch.h>. Exceptions from
// LibTorch are caught here and become a Status.
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "xray/detect/net.h"

namespace clearsight::xray {

namespace {

// conv 3x3 (optionally strided or dilated) or 1x1 + batch norm + ReLU. (A module holding modules;
// nested nn::Sequential does not compile with this LibTorch.)
struct ConvBnImpl : torch::nn::Module {
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  ConvBnImpl(int in, int out, int stride = 1, int dilation = 1, int kernel = 3) {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                                         .stride(stride)
                                                         .padding(kernel == 1 ? 0 : dilation)
                                                         .dilation(dilation)
                                                         .bias(false)));
    bn = register_module("bn", torch::nn::BatchNorm2d(out));
  }
  torch::Tensor forward(const torch::Tensor& x) { return torch::relu(bn(conv(x))); }
};
TORCH_MODULE(ConvBn);

// Encoder at strides 8 (relative to scan pixels; the input grid is stride 4), 16 and 32 with
// dilated convolutions for context, a decoder back to stride 8 with skip connections, and two
// 1x1 heads.
struct DetectorNetImpl : torch::nn::Module {
  ConvBn c1{nullptr}, c2{nullptr}, c3{nullptr}, c4{nullptr}, c5{nullptr}, c6{nullptr}, c7{nullptr};
  ConvBn u1{nullptr}, u2{nullptr};
  torch::nn::Conv2d threat_head{nullptr}, goods_head{nullptr};

  explicit DetectorNetImpl(const NetConfig& c) {
    const int a = c.width8, b = c.width16, d = c.width32;
    c1 = register_module("c1", ConvBn(c.in_channels, a, 2));
    c2 = register_module("c2", ConvBn(a, a));
    c3 = register_module("c3", ConvBn(a, a, 1, 2));
    c4 = register_module("c4", ConvBn(a, b, 2));
    c5 = register_module("c5", ConvBn(b, b, 1, 2));
    c6 = register_module("c6", ConvBn(b, d, 2));
    c7 = register_module("c7", ConvBn(d, d, 1, 2));
    u1 = register_module("u1", ConvBn(d + b, b));
    // 1x1 at stride 8: a 3x3 there cost a third of the network's time for little gain.
    u2 = register_module("u2", ConvBn(b + a, a, 1, 1, 1));
    threat_head = register_module(
        "threat_head", torch::nn::Conv2d(torch::nn::Conv2dOptions(a, c.threat_classes, 1)));
    goods_head = register_module(
        "goods_head", torch::nn::Conv2d(torch::nn::Conv2dOptions(a, c.goods_classes, 1)));
  }

  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x) {
    auto s8 = c3(c2(c1(x)));
    auto s16 = c5(c4(s8));
    auto s32 = c7(c6(s16));
    auto y = torch::upsample_nearest2d(s32, std::vector<int64_t>{s16.size(2), s16.size(3)});
    y = u1(torch::cat({y, s16}, 1));
    y = torch::upsample_nearest2d(y, std::vector<int64_t>{s8.size(2), s8.size(3)});
    y = u2(torch::cat({y, s8}, 1));
    return {threat_head(y), goods_head(y)};
  }
};
TORCH_MODULE(DetectorNet);

std::string ConfigText(const NetConfig& c) {
  std::ostringstream s;
  s << c.in_channels << ' ' << c.threat_classes << ' ' << c.goods_classes << ' ' << c.width8 << ' '
    << c.width16 << ' ' << c.width32;
  return s.str();
}

bool ParseConfig(const std::string& text, NetConfig* c) {
  std::istringstream s(text);
  s >> c->in_channels >> c->threat_classes >> c->goods_classes >> c->width8 >> c->width16 >>
      c->width32;
  return !s.fail() && c->in_channels > 0 && c->in_channels < 64 && c->threat_classes > 1 &&
         c->threat_classes < 256 && c->goods_classes > 1 && c->goods_classes < 256 &&
         c->width8 > 0 && c->width8 <= 512 && c->width16 > 0 && c->width16 <= 512 &&
         c->width32 > 0 && c->width32 <= 512;
}

// The batch's sizes and input (what inference needs).
Status CheckInput(const NetBatch& b, const NetConfig& c) {
  if (b.n < 1 || b.h < kNetInputMultiple || b.w < kNetInputMultiple || b.h % kNetInputMultiple ||
      b.w % kNetInputMultiple)
    return Status::InvalidArgument("net batch: sizes must be positive multiples of 8");
  if (b.input.size() != static_cast<size_t>(b.n) * b.h * b.w * c.in_channels)
    return Status::InvalidArgument("net batch: the input does not match n x C x h x w");
  return Status::Ok();
}

// The input and the labels (what training needs).
Status CheckBatch(const NetBatch& b, const NetConfig& c) {
  CS_RETURN_IF_ERROR(CheckInput(b, c));
  const size_t cells = static_cast<size_t>(b.n) * b.h * b.w;
  if (b.threat.size() != cells / 4 || b.goods.size() != cells / 4)
    return Status::InvalidArgument("net batch: the labels do not match n x h/2 x w/2");
  return Status::Ok();
}

// Sets this thread's LibTorch intra-op thread count, only when it changes: each set_num_threads
// also replaces LibTorch's second thread pool (pthreadpool), whose new workers then spin; called
// every step or scan, that was a fifth of a training step's CPU time.
void UseThreads(int threads) {
  threads = std::max(1, threads);
  if (torch::get_num_threads() != threads) torch::set_num_threads(threads);
}

}  // namespace

struct Net::Impl {
  DetectorNet net{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer;
  bool channels_last = false;  // the layout the convolution weights are in now

  // Puts the convolution weights (the 4-d parameters) in channels-last or contiguous layout.
  void SetLayout(bool last) {
    if (last == channels_last) return;
    torch::NoGradGuard no_grad;
    const auto format = last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
    for (auto& p : net->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(format));
    channels_last = last;
  }

  // Weighted cross-entropy of both heads; labels -1 are ignored.
  NetLoss Loss(const NetBatch& b, const NetConfig& c, const NetTrainOptions& o,
               torch::Tensor* total) {
    auto x = torch::from_blob(const_cast<float*>(b.input.data()), {b.n, c.in_channels, b.h, b.w},
                              torch::kFloat);
    if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    auto yt = torch::from_blob(const_cast<int64_t*>(b.threat.data()), {b.n, b.h / 2, b.w / 2},
                               torch::kLong);
    auto yg = torch::from_blob(const_cast<int64_t*>(b.goods.data()), {b.n, b.h / 2, b.w / 2},
                               torch::kLong);
    auto [lt, lg] = net->forward(x);
    auto wt = torch::full({c.threat_classes}, static_cast<float>(o.threat_class_weight));
    wt[0] = 1.0f;
    for (size_t k = 0;
         k < o.class_weight_factor.size() && static_cast<int64_t>(k) + 1 < c.threat_classes; ++k)
      wt[static_cast<int64_t>(k) + 1] =
          static_cast<float>(o.threat_class_weight * o.class_weight_factor[k]);
    namespace F = torch::nn::functional;
    auto loss_t =
        F::cross_entropy(lt, yt, F::CrossEntropyFuncOptions().weight(wt).ignore_index(-1));
    auto loss_g = F::cross_entropy(lg, yg, F::CrossEntropyFuncOptions().ignore_index(-1));
    // A batch whose labels are all ignored gives NaN: count it as 0.
    loss_t = torch::nan_to_num(loss_t, 0.0);
    loss_g = torch::nan_to_num(loss_g, 0.0);
    *total = loss_t + static_cast<float>(o.goods_loss_weight) * loss_g;
    return NetLoss{total->item<double>(), loss_t.item<double>(), loss_g.item<double>()};
  }
};

Net::Net() : impl_(std::make_unique<Impl>()) {}
Net::~Net() = default;

Result<std::unique_ptr<Net>> Net::Create(const NetConfig& config, uint64_t seed) {
  try {
    torch::manual_seed(seed);
    std::unique_ptr<Net> n(new Net());
    n->config_ = config;
    n->impl_->net = DetectorNet(config);
    return n;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("creating the detector network: ") + e.what());
  }
}

Result<std::unique_ptr<Net>> Net::Load(const std::string& path, std::string* meta) {
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    std::fclose(f);
  } else {
    return Status::NotFound(path + ": no such model file");
  }
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    c10::IValue config_text, meta_text;
    if (!archive.try_read("clearsight_config", config_text) || !config_text.isString())
      return Status::DataLoss(path +
                              ": not a Clearsight detector model (no clearsight_config entry)");
    std::unique_ptr<Net> n(new Net());
    if (!ParseConfig(config_text.toStringRef(), &n->config_))
      return Status::DataLoss(path + ": bad network configuration '" + config_text.toStringRef() +
                              "'");
    n->impl_->net = DetectorNet(n->config_);
    n->impl_->net->load(archive);
    n->impl_->net->eval();
    if (meta)
      *meta = archive.try_read("clearsight_meta", meta_text) && meta_text.isString()
                  ? meta_text.toStringRef()
                  : "";
    return n;
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return Status::DataLoss(path + ": cannot read the model: " + what);
  }
}

Status Net::Save(const std::string& path, const std::string& meta) const {
  try {
    impl_->SetLayout(false);  // the file keeps the usual layout
    torch::serialize::OutputArchive archive;
    impl_->net->save(archive);
    archive.write("clearsight_config", c10::IValue(ConfigText(config_)));
    archive.write("clearsight_meta", c10::IValue(meta));
    archive.save_to(path);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IoError(path + ": cannot write the model: " + e.what());
  }
}

int64_t Net::parameters() const {
  int64_t n = 0;
  for (const auto& p : impl_->net->parameters()) n += p.numel();
  return n;
}

Status Net::Infer(const float* input, int h, int w, int threads, std::vector<float>* threat_prob,
                  std::vector<float>* goods_prob) const {
  if (h < kNetInputMultiple || w < kNetInputMultiple || h % kNetInputMultiple ||
      w % kNetInputMultiple)
    return Status::InvalidArgument("detector input grid must be a positive multiple of 8 cells");
  try {
    UseThreads(threads);
    c10::InferenceMode guard;
    if (impl_->net->is_training()) impl_->net->eval();
    auto x =
        torch::from_blob(const_cast<float*>(input), {1, config_.in_channels, h, w}, torch::kFloat);
    auto [lt, lg] = impl_->net->forward(x);
    auto pt = torch::softmax(lt, 1).contiguous();
    auto pg = torch::softmax(lg, 1).contiguous();
    threat_prob->assign(pt.data_ptr<float>(), pt.data_ptr<float>() + pt.numel());
    goods_prob->assign(pg.data_ptr<float>(), pg.data_ptr<float>() + pg.numel());
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("detector inference failed: ") + e.what());
  }
}

Status Net::TrainStep(const NetBatch& batch, const NetTrainOptions& options, double learning_rate,
                      int threads, NetLoss* loss) {
  CS_RETURN_IF_ERROR(CheckBatch(batch, config_));
  try {
    UseThreads(threads);
    impl_->SetLayout(options.channels_last);
    if (!impl_->optimizer)
      impl_->optimizer = std::make_unique<torch::optim::AdamW>(
          impl_->net->parameters(),
          torch::optim::AdamWOptions(options.learning_rate).weight_decay(options.weight_decay));
    for (auto& group : impl_->optimizer->param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(learning_rate);
    impl_->net->train();
    impl_->optimizer->zero_grad();
    torch::Tensor total;
    *loss = impl_->Loss(batch, config_, options, &total);
    total.backward();
    impl_->optimizer->step();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("training step failed: ") + e.what());
  }
}

Status Net::EndTraining() {
  try {
    impl_->SetLayout(false);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("ending the training: ") + e.what());
  }
}

Status Net::EvalLoss(const NetBatch& batch, const NetTrainOptions& options, int threads,
                     NetLoss* loss) const {
  CS_RETURN_IF_ERROR(CheckBatch(batch, config_));
  try {
    UseThreads(threads);
    torch::NoGradGuard no_grad;
    impl_->net->eval();
    torch::Tensor total;
    *loss = impl_->Loss(batch, config_, options, &total);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("evaluating the loss failed: ") + e.what());
  }
}

}  // namespace clearsight::xray
