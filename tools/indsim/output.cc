#include "output.h"

#include <tiffio.h>

#include <cmath>
#include <cstdio>
#include <fstream>

namespace indsim {

std::string WriteScanTiff(const std::string& path, int width, int height,
                          const std::vector<uint16_t>& low, const std::vector<uint16_t>& high) {
  TIFF* tif = TIFFOpen(path.c_str(), "w");
  if (!tif) return path + ": cannot open for writing";
  const std::vector<uint16_t>* pages[2] = {&low, &high};
  std::string err;
  for (int page = 0; page < 2 && err.empty(); ++page) {
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(width));
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(height));
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 16);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP,
                 static_cast<uint32_t>(std::max(1, 65536 / (2 * width))));
    TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    TIFFSetField(tif, TIFFTAG_PAGENUMBER, static_cast<uint16_t>(page), static_cast<uint16_t>(2));
    TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION,
                 page == 0 ? "indsim low energy" : "indsim high energy");
    std::vector<uint16_t> row(static_cast<size_t>(width));
    for (int y = 0; y < height; ++y) {
      std::copy(pages[page]->begin() + static_cast<std::ptrdiff_t>(y) * width,
                pages[page]->begin() + static_cast<std::ptrdiff_t>(y + 1) * width, row.begin());
      if (TIFFWriteScanline(tif, row.data(), static_cast<uint32_t>(y), 0) < 0) {
        err = path + ": write failed";
        break;
      }
    }
    if (err.empty() && !TIFFWriteDirectory(tif)) err = path + ": cannot write page";
  }
  TIFFClose(tif);
  return err;
}

std::string WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  if (!f) return path + ": cannot open for writing";
  f << text;
  f.close();
  return f ? "" : path + ": write failed";
}

std::string JsonString(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"')
      o += "\\\"";
    else if (c == '\\')
      o += "\\\\";
    else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else
      o += static_cast<char>(c);
  }
  return o + "\"";
}

std::string JsonNumber(double v, int digits) {
  if (!std::isfinite(v)) return "0";
  char b[40];
  std::snprintf(b, sizeof b, "%.*g", digits, v);
  return b;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

void JsonObject::Key(const std::string& k) {
  if (!body_.empty()) body_ += ",";
  body_ += JsonString(k) + ":";
}
JsonObject& JsonObject::Str(const std::string& k, const std::string& v) {
  Key(k);
  body_ += JsonString(v);
  return *this;
}
JsonObject& JsonObject::Num(const std::string& k, double v, int digits) {
  Key(k);
  body_ += JsonNumber(v, digits);
  return *this;
}
JsonObject& JsonObject::Int(const std::string& k, long long v) {
  Key(k);
  body_ += std::to_string(v);
  return *this;
}
JsonObject& JsonObject::Bool(const std::string& k, bool v) {
  Key(k);
  body_ += v ? "true" : "false";
  return *this;
}
JsonObject& JsonObject::Raw(const std::string& k, const std::string& json) {
  Key(k);
  body_ += json;
  return *this;
}

}  // namespace indsim
