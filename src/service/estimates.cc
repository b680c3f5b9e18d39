// What the random control sample says about the consignments that were not inspected: the fraud
// rate among all consignments (the control draws are inspected whatever their score), the frauds
// that rate implies among those not inspected, and the revenue they would have recovered, each
// with a 95 % interval (GET /api/stats, "estimates"; docs/api.md).
#include <algorithm>
#include <map>
#include <random>

#include "clearsight/retrain.h"
#include "service/service_impl.h"

namespace clearsight::service {

json ControlEstimates(const std::vector<ControlOutcome>& outcomes, int64_t not_inspected,
                      int64_t min_outcomes, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(outcomes.size());
  int64_t confirmed = 0;
  for (const auto& o : outcomes) confirmed += o.confirmed;
  json out = {{"outcomes", n},         {"confirmed", confirmed},   {"not_inspected", not_inspected},
              {"fraud_rate", nullptr}, {"missed_frauds", nullptr}, {"missed_revenue", nullptr}};
  if (n < min_outcomes) {
    out["reason"] = "the control sample has " + std::to_string(n) +
                    " outcomes; the estimates need " + std::to_string(min_outcomes);
    return out;
  }
  const Interval rate = Wilson(static_cast<double>(confirmed), static_cast<double>(n));
  const double scale = static_cast<double>(not_inspected);
  out["fraud_rate"] = {{"value", rate.value}, {"ci95", {rate.low, rate.high}}};
  out["missed_frauds"] = {{"value", rate.value * scale},
                          {"ci95", {rate.low * scale, rate.high * scale}}};
  // Revenue: the most common currency among the confirmed draws with revenue recorded.
  std::map<std::string, int> by_currency;
  for (const auto& o : outcomes)
    if (o.confirmed && o.revenue >= 0 && !o.currency.empty()) ++by_currency[o.currency];
  if (by_currency.empty()) {
    out["reason"] = "no confirmed control draw has its revenue recorded";
    return out;
  }
  const auto most =
      std::max_element(by_currency.begin(), by_currency.end(),
                       [](const auto& a, const auto& b) { return a.second < b.second; });
  const std::string currency = most->first;
  const int with_revenue = most->second;
  if (with_revenue < 3) {
    out["reason"] = "only " + std::to_string(with_revenue) +
                    " confirmed control draws have revenue recorded in " + currency +
                    "; the revenue estimate needs 3";
    return out;
  }
  // Missed revenue = not inspected x fraud rate x revenue per confirmed case. Its interval is a
  // percentile bootstrap over the control outcomes, so that both the rate's and the mean
  // revenue's uncertainty are in it.
  auto missed = [&](const std::vector<const ControlOutcome*>& sample, bool* ok) {
    int64_t k = 0, m = 0;
    double sum = 0;
    for (const ControlOutcome* o : sample) {
      k += o->confirmed;
      if (o->confirmed && o->revenue >= 0 && o->currency == currency) sum += o->revenue, ++m;
    }
    *ok = m > 0;
    return *ok ? scale * (static_cast<double>(k) / static_cast<double>(sample.size())) *
                     (sum / static_cast<double>(m))
               : 0.0;
  };
  std::vector<const ControlOutcome*> all;
  for (const auto& o : outcomes) all.push_back(&o);
  bool ok = false;
  const double value = missed(all, &ok);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, all.size() - 1);
  std::vector<double> draws;
  std::vector<const ControlOutcome*> sample(all.size());
  for (int b = 0; b < 2000; ++b) {
    for (auto& s : sample) s = all[pick(rng)];
    const double v = missed(sample, &ok);
    if (ok) draws.push_back(v);
  }
  std::sort(draws.begin(), draws.end());
  auto at = [&](double q) {
    return draws[std::min(draws.size() - 1,
                          static_cast<size_t>(q * static_cast<double>(draws.size())))];
  };
  out["missed_revenue"] = {{"value", value},
                           {"ci95", {at(0.025), at(0.975)}},
                           {"currency", currency},
                           {"confirmed_with_revenue", with_revenue}};
  return out;
}

}  // namespace clearsight::service
