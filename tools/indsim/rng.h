// indsim's own random streams: splitmix64-seeded xoshiro256+ with its own distributions, so a
// scan's bytes depend only on (seed, scan index), not on the standard library's distributions.
#pragma once

#include <cmath>
#include <cstdint>

namespace indsim {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = SplitMix(seed);
  }
  static uint64_t SplitMix(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Next() {
    const uint64_t r = s_[0] + s_[3];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = (s_[3] << 45) | (s_[3] >> 19);
    return r;
  }
  // Uniform in [0, 1).
  double U() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double U(double lo, double hi) { return lo + (hi - lo) * U(); }
  // Uniform integer in [lo, hi].
  int I(int lo, int hi) { return lo + static_cast<int>(U() * (hi - lo + 1)); }
  bool Chance(double p) { return U() < p; }
  // Standard normal by the polar method.
  double N() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = U(-1, 1);
      v = U(-1, 1);
      s = u * u + v * v;
    } while (s >= 1 || s == 0);
    const double f = std::sqrt(-2 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }
  double LogU(double lo, double hi) { return std::exp(U(std::log(lo), std::log(hi))); }
  // Poisson count; normal approximation above 40.
  int64_t Poisson(double mean) {
    if (mean <= 0) return 0;
    if (mean > 40) {
      const double x = std::round(mean + std::sqrt(mean) * N());
      return x < 0 ? 0 : static_cast<int64_t>(x);
    }
    const double l = std::exp(-mean);
    int64_t k = 0;
    double p = U();
    while (p > l) {
      ++k;
      p *= U();
    }
    return k;
  }

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0;
};

}  // namespace indsim
