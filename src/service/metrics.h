// Prometheus metrics of the service: lock-free counters and fixed-bucket histograms, rendered in
// the text exposition format (version 0.0.4).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace clearsight::service {

class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  void Observe(double seconds);
  // Appends the _bucket, _sum and _count lines of `name` with `labels` ("" or `a="b"`).
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

// Counters keyed by a label set, created on first use.
class LabeledCounter {
 public:
  void Add(const std::string& labels, uint64_t n = 1);
  void Render(const std::string& name, std::string* out) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> values_;
};

struct Metrics {
  explicit Metrics(size_t routes) : request_seconds(routes) {}
  LabeledCounter requests;                 // route, method, code
  std::vector<Histogram> request_seconds;  // per route index
  LabeledCounter declarations;             // result
  LabeledCounter decisions;                // channel, control, trigger
  LabeledCounter scans;                    // result
  LabeledCounter outcomes;                 // result
  LabeledCounter logins;                   // result
  Histogram scan_analysis_seconds;
  Histogram store_write_seconds;
};

}  // namespace clearsight::service
