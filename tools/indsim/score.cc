#include "score.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace indsim {
namespace {

// A small JSON reader: enough for truth files and analysis lines (no \u surrogates needed).
struct Json {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject } type = Type::kNull;
  double number = 0;
  bool boolean = false;
  std::string str;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> fields;
  const Json* Get(const std::string& k) const {
    for (const auto& [key, v] : fields)
      if (key == k) return &v;
    return nullptr;
  }
  double Num(const std::string& k, double def = 0) const {
    const Json* v = Get(k);
    return v && v->type == Type::kNumber ? v->number : def;
  }
  std::string Str(const std::string& k) const {
    const Json* v = Get(k);
    return v && v->type == Type::kString ? v->str : "";
  }
  bool Bool(const std::string& k) const {
    const Json* v = Get(k);
    return v && v->type == Type::kBool && v->boolean;
  }
};

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}
  Json Parse() {
    Json v = Value();
    Ws();
    if (i_ != s_.size()) throw std::runtime_error("trailing characters");
    return v;
  }

 private:
  void Ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  char Peek() {
    Ws();
    if (i_ >= s_.size()) throw std::runtime_error("unexpected end");
    return s_[i_];
  }
  void Expect(char c) {
    if (Peek() != c) throw std::runtime_error(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string String() {
    Expect('"');
    std::string o;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') {
        ++i_;
        const char c = s_[i_];
        if (c == 'u') {
          o += '?';
          i_ += 4;
        } else
          o += c == 'n'   ? '\n'
               : c == 't' ? '\t'
               : c == 'r' ? '\r'
               : c == 'b' ? '\b'
               : c == 'f' ? '\f'
                          : c;
        ++i_;
      } else
        o += s_[i_++];
    }
    Expect('"');
    return o;
  }
  Json Value() {
    Json v;
    const char c = Peek();
    if (c == '{') {
      v.type = Json::Type::kObject;
      ++i_;
      if (Peek() == '}') return ++i_, v;
      for (;;) {
        std::string k = String();
        Expect(':');
        v.fields.emplace_back(std::move(k), Value());
        if (Peek() == ',') {
          ++i_;
          continue;
        }
        Expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.type = Json::Type::kArray;
      ++i_;
      if (Peek() == ']') return ++i_, v;
      for (;;) {
        v.items.push_back(Value());
        if (Peek() == ',') {
          ++i_;
          continue;
        }
        Expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.type = Json::Type::kString;
      v.str = String();
      return v;
    }
    if (s_.compare(i_, 4, "true") == 0)
      return i_ += 4, v.type = Json::Type::kBool, v.boolean = true, v;
    if (s_.compare(i_, 5, "false") == 0) return i_ += 5, v.type = Json::Type::kBool, v;
    if (s_.compare(i_, 4, "null") == 0) return i_ += 4, v;
    char* end = nullptr;
    v.number = std::strtod(s_.c_str() + i_, &end);
    if (end == s_.c_str() + i_) throw std::runtime_error("bad value");
    v.type = Json::Type::kNumber;
    i_ = static_cast<size_t>(end - s_.c_str());
    return v;
  }
  const std::string& s_;
  size_t i_ = 0;
};

Json ParseFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot read");
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return Parser(ss.str()).Parse();
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

struct Box {
  double x0, y0, x1, y1;
};
Box BoxOf(const Json* b) {
  if (!b || b->items.size() != 4) return {0, 0, 0, 0};
  return {b->items[0].number, b->items[1].number, b->items[2].number, b->items[3].number};
}
double Iou(const Box& a, const Box& b) {
  const double iw = std::max(0.0, std::min(a.x1, b.x1) - std::max(a.x0, b.x0));
  const double ih = std::max(0.0, std::min(a.y1, b.y1) - std::max(a.y0, b.y0));
  const double inter = iw * ih;
  const double u = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter;
  return u > 0 ? inter / u : 0;
}

double Inside(const Box& a, const Box& b) {
  const double iw = std::max(0.0, std::min(a.x1, b.x1) - std::max(a.x0, b.x0));
  const double ih = std::max(0.0, std::min(a.y1, b.y1) - std::max(a.y0, b.y0));
  return iw * ih;
}

}  // namespace

int ScoreMaterials(const ScoreOptions& o) {
  try {
    std::map<std::string, Json> results;
    {
      std::ifstream f(o.results);
      if (!f) throw std::runtime_error(o.results + ": cannot read");
      std::string line;
      int n = 0;
      while (std::getline(f, line)) {
        ++n;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        try {
          Json j = Parser(line).Parse();
          results[j.Str("scan_id")] = std::move(j);
        } catch (const std::exception& e) {
          throw std::runtime_error(o.results + ":" + std::to_string(n) + ": " + e.what());
        }
      }
    }
    int candidates = 0, matched = 0, correct = 0, scans = 0;
    std::map<std::string, std::pair<int, int>> by_class;  // truth class -> matched, correct
    std::map<std::string, std::pair<int, int>> by_name;
    std::vector<double> mass_err;
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(fs::path(o.data_dir) / "truth"))
      if (e.path().extension() == ".json") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      const Json t = ParseFile(file);
      auto it = results.find(t.Str("scan_id"));
      if (it == results.end()) continue;
      ++scans;
      const Json* objs = it->second.Get("objects");
      for (const auto& obj : t.Get("objects")->items) {
        if (obj.Bool("threat") || obj.Bool("packaging") || !obj.Bool("isolated")) continue;
        if (obj.Num("mass_kg") < o.min_mass_kg || obj.Num("class_purity") < o.min_purity) continue;
        ++candidates;
        const Box tb = BoxOf(obj.Get("box"));
        // The analysis may split an object (a rim, a halo of partial pixels): take the analysed
        // object of most mass among those lying mostly inside the truth box, and ask it to
        // overlap the truth box.
        const Json* best = nullptr;
        double best_kg = -1;
        if (objs)
          for (const auto& a : objs->items) {
            const Box ab = BoxOf(a.Get("box"));
            const double area = (ab.x1 - ab.x0) * (ab.y1 - ab.y0);
            const double inside = area > 0 ? Inside(ab, tb) / area : 0;
            if (inside < 0.5 || Iou(tb, ab) < o.min_iou) continue;
            if (a.Num("mass_kg") > best_kg) best_kg = a.Num("mass_kg"), best = &a;
          }
        if (!best) continue;
        ++matched;
        const std::string cls = obj.Str("material_class");
        const bool ok = best->Str("material") == cls;
        correct += ok;
        by_class[cls].first += 1;
        by_class[cls].second += ok;
        by_name[obj.Str("name")].first += 1;
        by_name[obj.Str("name")].second += ok;
        const double m = obj.Num("mass_kg");
        mass_err.push_back(std::abs(best->Num("mass_kg") - m) / m);
      }
    }
    std::sort(mass_err.begin(), mass_err.end());
    const double med = mass_err.empty() ? 0 : mass_err[mass_err.size() / 2];
    const double acc = matched ? static_cast<double>(correct) / matched : 0;
    const double match_rate = candidates ? static_cast<double>(matched) / candidates : 0;
    if (o.json) {
      std::printf(
          "{\"scans\":%d,\"candidates\":%d,\"matched\":%d,\"correct\":%d,\"class_accuracy\":%.4f,"
          "\"match_rate\":%.4f,\"mass_median_rel_error\":%.4f,\"by_class\":{",
          scans, candidates, matched, correct, acc, match_rate, med);
      bool first = true;
      for (const auto& [c, v] : by_class) {
        std::printf("%s\"%s\":[%d,%d]", first ? "" : ",", c.c_str(), v.first, v.second);
        first = false;
      }
      std::printf("}}\n");
    } else {
      std::printf(
          "material class on isolated goods (>= %.2f kg, purity >= %.2f, box IoU >= %.2f)\n",
          o.min_mass_kg, o.min_purity, o.min_iou);
      std::printf(
          "  scans %d, objects %d, matched %d (%.1f %%), class right %d (%.1f %% of matched)\n",
          scans, candidates, matched, 100 * match_rate, correct, 100 * acc);
      std::printf("  mass median relative error %.1f %%\n", 100 * med);
      for (const auto& [c, v] : by_class)
        std::printf("  truth %-10s %4d matched, %4d right\n", c.c_str(), v.first, v.second);
      for (const auto& [c, v] : by_name)
        std::printf("    %-26s %4d matched, %4d right\n", c.c_str(), v.first, v.second);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "indsim score-materials: %s\n", e.what());
    return 1;
  }
}

}  // namespace indsim
