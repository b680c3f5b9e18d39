// Signal detection scores of a trainee's answered images (docs/training.md, Scores) and the
// certification rule.
#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "clearsight/training.h"

namespace clearsight {

namespace {

std::optional<double> Median(std::vector<double> v) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string FormatD(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", d);
  return buf;
}

}  // namespace

double NormalQuantile(double p) {
  // Acklam's algorithm: rational approximations in the centre and the tails.
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  if (!(p > 0 && p < 1)) return p <= 0 ? -INFINITY : INFINITY;
  const double plow = 0.02425;
  double x;
  if (p < plow) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - plow) {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  // One step of Halley's method on the exact CDF.
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

double APrime(double h, double f) {
  if (h >= f) {
    if (h == 0) return 0.5;
    return 0.5 + (h - f) * (1 + h - f) / (4 * h * (1 - f));
  }
  return 0.5 - (f - h) * (1 + f - h) / (4 * f * (1 - h));
}

TrialOutcome OutcomeOfTrial(const TrainingTrialRow& row) {
  TrialOutcome o;
  o.threat_class = row.threat ? row.threat_class : "";
  o.threat = row.threat;
  o.suspect = row.decision == "suspect";
  o.hit = row.hit;
  o.response_ms = row.response_ms;
  o.session_id = row.session_id;
  return o;
}

std::vector<DetectionScores> ScoreTrials(const std::vector<TrialOutcome>& trials) {
  int64_t noise = 0, false_alarms = 0;
  std::vector<double> all_times;
  std::map<std::string, std::vector<const TrialOutcome*>> by_class;
  for (const auto& t : trials) {
    all_times.push_back(static_cast<double>(t.response_ms));
    if (t.threat) {
      by_class[t.threat_class].push_back(&t);
    } else {
      ++noise;
      if (t.suspect) ++false_alarms;
    }
  }
  auto finish = [&](DetectionScores& s) {
    s.noise_trials = noise;
    s.false_alarms = false_alarms;
    if (s.signal_trials) s.hit_rate = static_cast<double>(s.hits) / s.signal_trials;
    if (noise) s.false_alarm_rate = static_cast<double>(false_alarms) / noise;
    s.hit_rate_corrected = (s.hits + 0.5) / (s.signal_trials + 1.0);
    s.false_alarm_rate_corrected = (false_alarms + 0.5) / (noise + 1.0);
    const double zh = NormalQuantile(s.hit_rate_corrected);
    const double zf = NormalQuantile(s.false_alarm_rate_corrected);
    s.d_prime = zh - zf;
    s.criterion = -(zh + zf) / 2;
    s.a_prime = APrime(s.hit_rate_corrected, s.false_alarm_rate_corrected);
  };
  std::vector<DetectionScores> out;
  DetectionScores total;
  for (const auto& [cls, list] : by_class) {
    DetectionScores s;
    s.threat_class = cls;
    std::vector<double> times;
    for (const TrialOutcome* t : list) {
      ++s.signal_trials;
      if (t->hit) ++s.hits;
      times.push_back(static_cast<double>(t->response_ms));
    }
    s.median_response_ms = Median(times);
    total.signal_trials += s.signal_trials;
    total.hits += s.hits;
    finish(s);
    out.push_back(std::move(s));
  }
  total.median_response_ms = Median(all_times);
  finish(total);
  out.push_back(std::move(total));
  return out;
}

Certification Certify(const std::vector<DetectionScores>& window_scores, int64_t answered,
                      const CertificationRule& rule) {
  const std::string what = "d' >= " + FormatD(rule.min_d_prime) + " on every class over the last " +
                           std::to_string(rule.window) + " images";
  if (answered < rule.window)
    return {false, std::to_string(answered) + " of " + std::to_string(rule.window) +
                       " images answered (" + what + ")"};
  std::string below;
  bool any_class = false;
  for (const auto& s : window_scores) {
    if (s.threat_class.empty()) continue;
    any_class = true;
    if (s.d_prime < rule.min_d_prime)
      below += (below.empty() ? "" : ", ") + s.threat_class + " " + FormatD(s.d_prime);
  }
  if (!any_class) return {false, "no threat image among the last " + std::to_string(rule.window)};
  if (!below.empty()) return {false, "below the threshold: " + below};
  return {true, what};
}

}  // namespace clearsight
