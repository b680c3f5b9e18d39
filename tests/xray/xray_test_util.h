// Helpers for the X-ray tests: temporary directories, a scan with known content, and a minimal
// TIFF writer independent of libtiff (to build malformed files the library must refuse).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "clearsight/xray_scan.h"

namespace clearsight::testing {

// A fresh directory under the system temp dir, removed when the test program exits (set
// CS_KEEP_TEST_DIRS=1 to keep them for a look after a failure).
inline std::filesystem::path TempDir(const std::string& name) {
  static std::vector<std::filesystem::path>* made = [] {
    static std::vector<std::filesystem::path> dirs;
    std::atexit([] {
      const char* keep = std::getenv("CS_KEEP_TEST_DIRS");
      if (keep && *keep && std::string(keep) != "0") return;
      std::error_code ec;
      for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
    });
    return &dirs;
  }();
  auto p = std::filesystem::temp_directory_path() /
           ("cs_xray_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  made->push_back(p);
  return p;
}

inline std::string ReadBytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline void WriteBytes(const std::filesystem::path& p, const std::string& data) {
  std::ofstream f(p, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// A scan with pseudo-random pixels over the whole 1..65535 range (extremes included).
inline Scan RandomScan(int w, int h, uint32_t seed) {
  Scan s;
  s.width = w;
  s.height = h;
  std::mt19937 rng(seed);
  for (int i = 0; i < w * h; ++i) {
    s.low.push_back(static_cast<uint16_t>(1 + rng() % 65535));
    s.high.push_back(static_cast<uint16_t>(1 + rng() % 65535));
  }
  s.low[0] = 1;
  s.high[0] = 65535;
  s.meta.scan_id = "scan-" + std::to_string(seed);
  s.meta.pixel_mm = 0.7;
  s.meta.consignment_id = "C-42";
  s.meta.device = "test device";
  s.meta.kvp_low = 80;
  s.meta.kvp_high = 160;
  s.meta.extra_json = R"({"belt_speed_m_s":0.2,"operator":"x"})";
  return s;
}

// One page of a hand-made classic little-endian TIFF.
struct TiffPage {
  uint32_t width = 4, height = 4;
  uint16_t bits = 16, samples = 1, sample_format = 1, photometric = 1;
  uint32_t data_bytes = 0;  // 0: width*height*samples*bits/8 bytes of pixel data follow
};

// Builds a TIFF with these pages (one strip each). `declared` sizes may lie about the data.
inline std::string MakeTiff(const std::vector<TiffPage>& pages) {
  std::string out = std::string("II*\0", 4) + std::string(4, '\0');
  auto put16 = [&](size_t at, uint16_t v) { std::memcpy(&out[at], &v, 2); };
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(&out[at], &v, 4); };
  size_t link = 4;  // where the offset of the next IFD goes
  for (const auto& p : pages) {
    uint32_t bytes = p.data_bytes ? p.data_bytes : p.width * p.height * p.samples * p.bits / 8;
    size_t data_at = out.size();
    out.append(bytes, '\x40');
    if (out.size() % 2) out.push_back('\0');
    size_t ifd = out.size();
    put32(link, static_cast<uint32_t>(ifd));
    const uint16_t n = 10;
    out.append(2 + n * 12 + 4, '\0');
    put16(ifd, n);
    struct E {
      uint16_t tag, type;
      uint32_t count, value;
    } entries[n] = {{256, 4, 1, p.width},       {257, 4, 1, p.height},
                    {258, 3, 1, p.bits},        {259, 3, 1, 1},
                    {262, 3, 1, p.photometric}, {273, 4, 1, static_cast<uint32_t>(data_at)},
                    {277, 3, 1, p.samples},     {278, 4, 1, p.height},
                    {279, 4, 1, bytes},         {339, 3, 1, p.sample_format}};
    for (int i = 0; i < n; ++i) {
      size_t e = ifd + 2 + i * 12;
      put16(e, entries[i].tag);
      put16(e + 2, entries[i].type);
      put32(e + 4, entries[i].count);
      if (entries[i].type == 3)
        put16(e + 8, static_cast<uint16_t>(entries[i].value));
      else
        put32(e + 8, entries[i].value);
    }
    link = ifd + 2 + n * 12;
  }
  return out;
}

inline std::string GoodSidecar(const std::string& id = "s1") {
  return R"({"scan_id":")" + id + R"(","pixel_mm":0.7})";
}

}  // namespace clearsight::testing
