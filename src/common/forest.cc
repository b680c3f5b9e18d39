#include "common/forest.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

namespace clearsight::model {

Result<std::string> Forest::SlimJson(std::string_view xgboost_json, const std::string& what) {
  nlohmann::json j = nlohmann::json::parse(xgboost_json, nullptr, false);
  if (j.is_discarded()) return Status::Internal(what + ": XGBoost wrote JSON that does not parse");
  try {
    for (auto& t : j.at("learner").at("gradient_booster").at("model").at("trees"))
      for (const char* k :
           {"loss_changes", "base_weights", "parents", "categories", "categories_nodes",
            "categories_segments", "categories_sizes", "split_type"})
        t.erase(k);
  } catch (const std::exception& e) {
    return Status::Internal(what + ": unexpected XGBoost JSON: " + e.what());
  }
  return j.dump();
}

Result<Forest> Forest::FromXgboostJson(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded()) return Status::DataLoss("model JSON is not valid JSON");
  Forest f;
  try {
    const auto& learner = j.at("learner");
    const auto& param = learner.at("learner_model_param");
    double base_score = std::stod(param.at("base_score").get<std::string>());
    f.num_features_ = std::stoi(param.at("num_feature").get<std::string>());
    std::string objective = learner.at("objective").at("name").get<std::string>();
    if (objective != "binary:logistic")
      return Status::InvalidArgument("model objective is " + objective +
                                     ", expected binary:logistic");
    f.base_margin_ = static_cast<float>(std::log(base_score / (1 - base_score)));
    const auto& gb = learner.at("gradient_booster");
    if (gb.at("name").get<std::string>() != "gbtree")
      return Status::InvalidArgument("only gbtree models are supported");
    for (const auto& t : gb.at("model").at("trees")) {
      auto left = t.at("left_children").get<std::vector<int32_t>>();
      auto right = t.at("right_children").get<std::vector<int32_t>>();
      auto split = t.at("split_indices").get<std::vector<uint32_t>>();
      auto cond = t.at("split_conditions").get<std::vector<float>>();
      auto dleft = t.at("default_left").get<std::vector<int>>();
      auto hess = t.at("sum_hessian").get<std::vector<float>>();
      size_t n = left.size();
      if (right.size() != n || split.size() != n || cond.size() != n || dleft.size() != n ||
          hess.size() != n)
        return Status::DataLoss("model tree arrays differ in length");
      Tree tree;
      tree.nodes.resize(n);
      for (size_t i = 0; i < n; ++i) {
        auto& node = tree.nodes[i];
        node.left = left[i];
        node.right = right[i];
        if ((node.left >= static_cast<int32_t>(n)) || (node.right >= static_cast<int32_t>(n)))
          return Status::DataLoss("model tree has a child index out of range");
        node.feature = split[i];
        if (node.left >= 0 && static_cast<int>(node.feature) >= f.num_features_)
          return Status::DataLoss("model tree splits on feature " + std::to_string(node.feature) +
                                  " of " + std::to_string(f.num_features_));
        node.threshold = cond[i];
        node.default_left = dleft[i] != 0;
        node.value = cond[i];
      }
      // Cover-weighted means, children before parents (children have larger indices in XGBoost).
      std::function<std::pair<double, double>(int)> mean = [&](int i) -> std::pair<double, double> {
        auto& node = tree.nodes[i];
        if (node.left < 0) return {node.value * static_cast<double>(hess[i]), hess[i]};
        auto [lv, lc] = mean(node.left);
        auto [rv, rc] = mean(node.right);
        double c = lc + rc;
        node.value = c > 0 ? static_cast<float>((lv + rv) / c) : 0.f;
        return {lv + rv, c};
      };
      if (n > 0) mean(0);
      f.trees_.push_back(std::move(tree));
    }
  } catch (const std::exception& e) {
    return Status::DataLoss(std::string("model JSON lacks an expected field: ") + e.what());
  }
  f.Flatten();
  return f;
}

void Forest::Flatten() {
  depth_ = 0;
  for (const auto& t : trees_) {
    std::function<int(int)> d = [&](int i) -> int {
      return t.nodes[i].left < 0 ? 0 : 1 + std::max(d(t.nodes[i].left), d(t.nodes[i].right));
    };
    if (!t.nodes.empty()) depth_ = std::max(depth_, d(0));
  }
  // Heap order from 1: node i's children are 2i (x >= threshold) and 2i + 1 (x < threshold, or
  // missing), so a step is idx = 2 idx + (x < threshold); slot 0 is unused. A tree then takes
  // 2^depth node slots and 2^depth leaves, and after depth steps idx - 2^depth is the leaf.
  const size_t width = size_t{1} << depth_;
  flat_offsets_.assign(trees_.size() * width, 0);
  flat_thresholds_.assign(trees_.size() * width, std::numeric_limits<float>::infinity());
  flat_leaves_.assign(trees_.size() * width, 0.f);
  for (size_t ti = 0; ti < trees_.size(); ++ti) {
    const auto& t = trees_[ti];
    uint32_t* offsets = flat_offsets_.data() + ti * width;
    float* thresholds = flat_thresholds_.data() + ti * width;
    float* lv = flat_leaves_.data() + ti * width;
    // (orig index, flat index, depth)
    std::function<void(int, size_t, int)> place = [&](int oi, size_t fi, int dep) {
      const auto& o = t.nodes[oi];
      if (o.left < 0) {
        // Every leaf of the padded subtree below carries this leaf's value: at the last level
        // they are the 2^(depth - dep) consecutive indices from fi << (depth - dep).
        const size_t span = size_t{1} << (depth_ - dep), first = fi << (depth_ - dep);
        for (size_t k = 0; k < span; ++k) lv[first - width + k] = o.value;
        return;
      }
      // The walk takes "x < threshold" as !(x >= threshold), true for NaN: missing values go
      // left. Rows with one are scored again on the exact path, which honours default-right.
      offsets[fi] = static_cast<uint32_t>(o.feature * kLanes);
      thresholds[fi] = o.threshold;
      place(o.left, 2 * fi + 1, dep + 1);
      place(o.right, 2 * fi, dep + 1);
    };
    if (!t.nodes.empty()) place(0, 1, 0);
  }
}

float Forest::PredictOneExact(const float* x) const {
  float sum = base_margin_;
  for (const auto& t : trees_) {
    int i = 0;
    while (t.nodes[i].left >= 0) {
      const auto& n = t.nodes[i];
      float v = x[n.feature];
      bool left = std::isnan(v) ? n.default_left : v < n.threshold;
      i = left ? n.left : n.right;
    }
    sum += t.nodes[i].value;
  }
  return sum;
}

namespace {

// idx -> 2 idx + (x < *threshold, or x missing). Compilers emit a compare, a set-on-carry and a
// shifted add for this; on x86-64 the comparison's carry flag is exactly that bit, so one
// add-with-carry of the index to itself does the rest.
inline size_t Step(size_t idx, float x, const float* threshold) {
#if defined(__x86_64__)
  asm("comiss %[t], %[x]\n\tadc %[i], %[i]"
      : [i] "+r"(idx)
      : [x] "x"(x), [t] "m"(*threshold)
      : "cc");
  return idx;
#else
  return 2 * idx + !(x >= *threshold);
#endif
}

}  // namespace

// One group of kLanes transposed rows through `ntrees` consecutive trees, adding to sum[lane]. Kept
// out of line so that the group's base is one register and each step is four instructions: load
// the node's offset, load the lane's value at it, compare with the threshold, idx = 2 idx + carry
// (one add-with-carry, the comparison's carry flag being "less than, or missing").
template <int kDepth>
[[gnu::noinline]] void Forest::WalkGroup(const float* xg, const uint32_t* offsets,
                                         const float* thresholds, const float* leaves,
                                         size_t ntrees, float* sum) {
  constexpr size_t kWidth = size_t{1} << kDepth;  // node slots (heap from 1) and leaves per tree
  for (size_t t = 0; t < ntrees; ++t, offsets += kWidth, thresholds += kWidth, leaves += kWidth) {
    size_t idx[kLanes];
    for (size_t k = 0; k < kLanes; ++k) idx[k] = 1;
#pragma GCC unroll 16  // every level unrolled: no depth counter to keep
    for (int d = 0; d < kDepth; ++d) {
      for (size_t k = 0; k < kLanes; ++k) {
        idx[k] = Step(idx[k], xg[offsets[idx[k]] + k], thresholds + idx[k]);
      }
    }
    for (size_t k = 0; k < kLanes; ++k) sum[k] += leaves[idx[k] - kWidth];
  }
}

template <int kDepth>
void Forest::PredictBlock(const float* x, size_t rows, size_t stride, float* out) const {
  // Rows go in blocks of kRows, trees in chunks of kTrees: a chunk's nodes (kTrees x 63 x 8 bytes
  // at depth 6) and a block's features stay in L1 while every row of the block walks every tree
  // of the chunk, kLanes rows interleaved so their dependent loads overlap. The block's features
  // are transposed first (lane k of feature f at f * kLanes + k): a step then reads a lane's value
  // at the node's precomputed offset plus a constant, and no per-lane row pointer is needed.
  constexpr size_t kRows = 4 * kLanes;
  constexpr size_t kGroups = kRows / kLanes;
  constexpr size_t kTrees = 32;
  constexpr size_t kWidth = size_t{1} << kDepth;  // node slots and leaves per tree
  const size_t ntrees = trees_.size();
  const size_t nf = static_cast<size_t>(num_features_);
  std::vector<float> xt(kGroups * std::max<size_t>(nf, 1) * kLanes);
  for (size_t r0 = 0; r0 < rows; r0 += kRows) {
    const size_t nrows = std::min(kRows, rows - r0);
    const size_t ngroups = (nrows + kLanes - 1) / kLanes;
    const float* xb = x + r0 * stride;
    for (size_t g = 0; g < ngroups; ++g) {
      float* xg = xt.data() + g * nf * kLanes;
      for (size_t k = 0; k < kLanes; ++k) {
        const size_t r = g * kLanes + k;
        if (r < nrows) {
          const float* xr = xb + r * stride;
          for (size_t f = 0; f < nf; ++f) xg[f * kLanes + k] = xr[f];
        } else {
          for (size_t f = 0; f < nf; ++f) xg[f * kLanes + k] = 0.f;  // padding lanes, not reported
        }
      }
    }
    float acc[kRows];
    for (size_t k = 0; k < kRows; ++k) acc[k] = base_margin_;
    for (size_t t0 = 0; t0 < ntrees; t0 += kTrees) {
      const size_t t1 = std::min(ntrees, t0 + kTrees);
      for (size_t g = 0; g < ngroups; ++g) {
        const float* xg = xt.data() + g * nf * kLanes;
        float sum[kLanes] = {};
        WalkGroup<kDepth>(xg, flat_offsets_.data() + t0 * kWidth,
                          flat_thresholds_.data() + t0 * kWidth, flat_leaves_.data() + t0 * kWidth,
                          t1 - t0, sum);
        for (size_t k = 0; k < kLanes; ++k) acc[g * kLanes + k] += sum[k];
      }
    }
    for (size_t k = 0; k < nrows; ++k) out[r0 + k] = acc[k];
  }
}

void Forest::PredictMargin(const float* x, size_t rows, size_t stride, float* out) const {
  // A table of cases, one per depth the flat form is compiled for.
  // clang-format off
  switch (depth_) {
#define CS_DEPTH_CASE(D)                    \
  case D:                                   \
    PredictBlock<D>(x, rows, stride, out);  \
    break;
    CS_DEPTH_CASE(0) CS_DEPTH_CASE(1) CS_DEPTH_CASE(2) CS_DEPTH_CASE(3) CS_DEPTH_CASE(4)
    CS_DEPTH_CASE(5) CS_DEPTH_CASE(6) CS_DEPTH_CASE(7) CS_DEPTH_CASE(8) CS_DEPTH_CASE(9)
    CS_DEPTH_CASE(10)
#undef CS_DEPTH_CASE
    default:
      for (size_t r = 0; r < rows; ++r) out[r] = PredictOneExact(x + r * stride);
      return;
  }
  // clang-format on
  // Rows with a missing value take the exact path (the flat form sends NaN left everywhere).
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * stride;
    for (int f = 0; f < num_features_; ++f) {
      if (std::isnan(xr[f])) {
        out[r] = PredictOneExact(xr);
        break;
      }
    }
  }
}

void Forest::PredictProbability(const float* x, size_t rows, size_t stride, float* out) const {
  PredictMargin(x, rows, stride, out);
  for (size_t r = 0; r < rows; ++r) out[r] = 1.f / (1.f + std::exp(-out[r]));
}

void Forest::Contributions(const float* x, float* out) const {
  std::memset(out, 0, sizeof(float) * (num_features_ + 1));
  out[num_features_] = base_margin_;
  for (const auto& t : trees_) {
    int i = 0;
    out[num_features_] += t.nodes[0].value;
    while (t.nodes[i].left >= 0) {
      const auto& n = t.nodes[i];
      float v = x[n.feature];
      bool left = std::isnan(v) ? n.default_left : v < n.threshold;
      int next = left ? n.left : n.right;
      out[n.feature] += t.nodes[next].value - n.value;
      i = next;
    }
  }
}

}  // namespace clearsight::model
