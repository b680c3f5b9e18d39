// indsim output: scan format v1 TIFF pages (libtiff), and the small JSON and CSV writers the
// sidecars, truth and declarations need.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace indsim {

// Writes a 2-page 16-bit min-is-black TIFF (page 0 low, page 1 high). Returns "" or an error.
std::string WriteScanTiff(const std::string& path, int width, int height,
                          const std::vector<uint16_t>& low, const std::vector<uint16_t>& high);

// Writes `text` to `path`; returns "" or an error.
std::string WriteText(const std::string& path, const std::string& text);

std::string JsonString(const std::string& s);
std::string JsonNumber(double v, int digits = 6);
std::string CsvField(const std::string& s);

// A JSON object built field by field, in insertion order.
class JsonObject {
 public:
  JsonObject& Str(const std::string& k, const std::string& v);
  JsonObject& Num(const std::string& k, double v, int digits = 6);
  JsonObject& Int(const std::string& k, long long v);
  JsonObject& Bool(const std::string& k, bool v);
  JsonObject& Raw(const std::string& k, const std::string& json);
  std::string Dump() const { return "{" + body_ + "}"; }

 private:
  void Key(const std::string& k);
  std::string body_;
};

}  // namespace indsim
