// A small seeded random generator with its own distributions, so the same seed gives the same
// numbers with any standard library (std:: distributions are implementation-defined).
#pragma once

#include <cmath>
#include <cstdint>

namespace clearsight::xray {

inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Mixes several numbers into one seed (seed, index, purpose...).
inline uint64_t MixSeed(uint64_t a, uint64_t b, uint64_t c = 0) {
  uint64_t s = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
  uint64_t x = SplitMix64(&s);
  s ^= c * 0xd1342543de82ef95ull;
  return x ^ SplitMix64(&s);
}

// xoshiro256** (Blackman & Vigna).
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& v : s_) v = SplitMix64(&seed);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // [0, 1)
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // [lo, hi] inclusive
  int Int(int lo, int hi) { return lo + static_cast<int>(Uniform() * (hi - lo + 1)); }
  bool Chance(double p) { return Uniform() < p; }
  // Standard normal (Marsaglia polar method).
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = 2 * Uniform() - 1;
      v = 2 * Uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s == 0);
    double f = std::sqrt(-2 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }
  double Normal(double mean, double sd) { return mean + sd * Normal(); }
  // Poisson by multiplication (Knuth) for small means, normal approximation above 64.
  int64_t Poisson(double mean) {
    if (mean <= 0) return 0;
    if (mean > 64) {
      double v = std::nearbyint(Normal(mean, std::sqrt(mean)));
      return v < 0 ? 0 : static_cast<int64_t>(v);
    }
    double l = std::exp(-mean), p = 1;
    int64_t k = 0;
    do {
      ++k;
      p *= Uniform();
    } while (p > l);
    return k - 1;
  }
  // Log-normal with median `median` and log-sd `sigma`.
  double LogNormal(double median, double sigma) { return median * std::exp(sigma * Normal()); }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

// exp(x) for x in about [-87, 0] to ~2e-7 relative, branch-free so loops vectorise. Deterministic
// across machines (only +, *, and integer bit operations).
inline float FastExpNeg(float x) {
  x = x < -87.0f ? -87.0f : (x > 0.0f ? 0.0f : x);
  float y = x * 1.44269504f;  // log2(e)
  float fl = static_cast<float>(static_cast<int>(y - 0.5f + (y >= 0 ? 1.0f : 0.0f)));
  // fl = nearest-ish integer <= y + 0.5; f in about [-0.5, 0.5]
  float f = y - fl;
  float p = 1.5353362e-4f;
  p = p * f + 1.3398874e-3f;
  p = p * f + 9.6181291e-3f;
  p = p * f + 5.5504109e-2f;
  p = p * f + 2.4022650e-1f;
  p = p * f + 6.9314718e-1f;
  p = p * f + 1.0f;
  int32_t e = (static_cast<int32_t>(fl) + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &e, sizeof scale);
  return p * scale;
}

}  // namespace clearsight::xray
