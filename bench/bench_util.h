// Shared by the benchmarks: timing, a machine description, and the table + JSON output.
#pragma once

#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace clearsight::bench {

inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// "Intel(R) Xeon(R) ... x2 cores, Linux 6.1"
inline std::string Machine() {
  std::string cpu = "unknown cpu";
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  struct utsname u {};
  uname(&u);
  return cpu + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores, " + u.sysname +
         " " + u.release;
}

// The q-quantile (0..1) of v, nearest rank.
inline double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Best of `reps` runs of fn(), in seconds: the least disturbed run on a noisy machine.
template <typename Fn>
double BestOf(int reps, Fn&& fn) {
  double best = 1e300;
  for (int i = 0; i < reps; ++i) {
    double t0 = Now();
    fn();
    best = std::min(best, Now() - t0);
  }
  return best;
}

// A benchmark's command line: "--name value" pairs of the flags it knows, and the switches (flags
// without a value) it knows. --help prints the usage and exits 0; an unknown flag, a flag without
// its value, or a number that is not one in range prints the reason and the usage to stderr and
// exits 2 (a typo must not silently measure the defaults).
class Flags {
 public:
  Flags(int argc, char** argv, std::string usage, const std::vector<std::string>& known,
        const std::vector<std::string>& switches = {})
      : usage_(std::move(usage)) {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--help" || a == "-h") {
        std::printf("%s", usage_.c_str());
        std::exit(0);
      }
      if (std::find(switches.begin(), switches.end(), a) != switches.end()) {
        values_[a] = "";
        continue;
      }
      if (std::find(known.begin(), known.end(), a) == known.end()) Fail("unknown flag " + a);
      if (i + 1 >= argc) Fail(a + " needs a value");
      values_[a] = argv[++i];
    }
  }
  // Whether the flag or switch was given.
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Text(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  // A whole number in [min, max]; `fallback` when the flag is not given.
  int Int(const std::string& name, int fallback, int min = 1, int max = 1'000'000) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    return ParseInt(name, it->second, min, max);
  }
  // A number in [min, max]; `fallback` when the flag is not given.
  double Double(const std::string& name, double fallback, double min, double max) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (it->second.empty() || *end != '\0' || !(v >= min && v <= max))
      Fail(name + " needs a number in [" + Short(min) + ", " + Short(max) + "], not \"" +
           it->second + "\"");
    return v;
  }
  // Comma-separated whole numbers, each in [min, max] ("0,4"); `fallback` when the flag is not
  // given.
  std::vector<int> IntList(const std::string& name, std::vector<int> fallback, int min,
                           int max) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    std::vector<int> out;
    size_t p = 0;
    do {
      const size_t comma = std::min(it->second.find(',', p), it->second.size());
      out.push_back(ParseInt(name, it->second.substr(p, comma - p), min, max));
      p = comma + 1;
    } while (p <= it->second.size());
    return out;
  }

 private:
  [[noreturn]] void Fail(const std::string& reason) const {
    std::fprintf(stderr, "error: %s\n%s", reason.c_str(), usage_.c_str());
    std::exit(2);
  }
  int ParseInt(const std::string& name, const std::string& text, int min, int max) const {
    char* end = nullptr;
    const long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v < min || v > max)
      Fail(name + " needs a whole number in [" + std::to_string(min) + ", " + std::to_string(max) +
           "], not \"" + text + "\"");
    return static_cast<int>(v);
  }
  static std::string Short(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }
  std::string usage_;
  std::map<std::string, std::string> values_;
};

}  // namespace clearsight::bench
