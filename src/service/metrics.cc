#include "service/metrics.h"

#include <cmath>
#include <cstdio>

namespace clearsight::service {

void Histogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::llround(std::max(0.0, seconds) * 1e6)),
                        std::memory_order_relaxed);
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string* out) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  char buf[64];
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    if (i < kBounds.size()) std::snprintf(buf, sizeof buf, "%g", kBounds[i]);
    *out += name + "_bucket{" + labels + sep + "le=\"" +
            (i < kBounds.size() ? std::string(buf) : "+Inf") + "\"} " + std::to_string(cumulative) +
            "\n";
  }
  std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(sum_micros_.load()) / 1e6);
  *out += name + "_sum" + (labels.empty() ? "" : "{" + labels + "}") + " " + buf + "\n";
  *out += name + "_count" + (labels.empty() ? "" : "{" + labels + "}") + " " +
          std::to_string(count_.load()) + "\n";
}

void LabeledCounter::Add(const std::string& labels, uint64_t n) {
  std::lock_guard lock(mu_);
  values_[labels] += n;
}

void LabeledCounter::Render(const std::string& name, std::string* out) const {
  std::lock_guard lock(mu_);
  for (const auto& [labels, v] : values_)
    *out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(v) + "\n";
}

}  // namespace clearsight::service
