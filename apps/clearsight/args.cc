#include "args.h"

#include <cstdlib>

namespace clearsight::cli {

Args::Args(int argc, char** argv, int first, std::set<std::string> booleans) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0 && a.size() > 2) {
      std::string name = a.substr(2), value;
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else if (booleans.count(name)) {
        value = "1";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        error_ = "flag --" + name + " needs a value";
      }
      values_[name] = value;
    } else {
      positional_.push_back(a);
    }
  }
}

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

bool Args::GetInt(const std::string& name, long long fallback, long long* out) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    *out = fallback;
    return true;
  }
  char* end = nullptr;
  *out = std::strtoll(it->second.c_str(), &end, 10);
  return end && *end == '\0' && !it->second.empty();
}

bool Args::GetDouble(const std::string& name, double fallback, double* out) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    *out = fallback;
    return true;
  }
  char* end = nullptr;
  *out = std::strtod(it->second.c_str(), &end);
  return end && *end == '\0' && !it->second.empty();
}

std::vector<std::string> Args::Unknown(const std::set<std::string>& known) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : values_)
    if (!known.count(k)) out.push_back(k);
  return out;
}

}  // namespace clearsight::cli
