// Writes the generated part of the seed corpora in tests/data/fuzz/ (small scans as TIFF + sidecar
// and as DICOS pairs, postal EAD and H7 messages, HTTP requests): seeded, so the same bytes each
// time. Run from the fuzz build: build/fuzz/fuzz/make_fuzz_seeds tests/data/fuzz
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "clearsight/postal.h"
#include "clearsight/xray_scan.h"
#include "fuzz_util.h"

using namespace clearsight;
namespace fs = std::filesystem;

namespace {
void Write(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

Scan SmallScan(int width, int height, bool extras) {
  Scan s;
  s.width = width;
  s.height = height;
  for (int i = 0; i < width * height; ++i) {
    s.low.push_back(static_cast<uint16_t>(1000 + (i * 7919) % 60000));
    s.high.push_back(static_cast<uint16_t>(2000 + (i * 104729) % 60000));
  }
  s.meta.scan_id = extras ? "S-fuzz-2" : "S-fuzz-1";
  s.meta.pixel_mm = 2.5;
  if (extras) {
    s.meta.consignment_id = "C1";
    s.meta.device = "Scanner \"A\"";
    s.meta.kvp_low = 80;
    s.meta.kvp_high = 160;
    s.meta.extra_json = R"({"belt_speed":0.3,"tags":["x"]})";
  }
  return s;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "make_fuzz_seeds: %s\n", s.ToString().c_str());
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds DIR (tests/data/fuzz)\n");
    return 2;
  }
  const fs::path out = argv[1];
  const std::string sep(fuzz::kSeparator);
  int n = 0;
  for (auto [w, h, extras, deflate] : {std::tuple{8, 4, false, false}, std::tuple{5, 3, true, true},
                                       std::tuple{16, 2, true, false}}) {
    Scan scan = SmallScan(w, h, extras);
    ScanWriteOptions wo;
    if (deflate) wo.compression = TiffCompression::kDeflate;
    auto tiff = EncodeScanTiff(scan, wo);
    if (!tiff.ok()) return Fail(tiff.status());
    const std::string name = "generated_" + std::to_string(++n);
    Write(out / "scan_tiff" / name, *tiff + sep + ScanMetaToJson(scan.meta));
    // The same scan uploaded: the TIFF as the body with the meta in the query, and multipart
    // with the sidecar (HTTP target's request format: fuzz/http_fuzzer.cc).
    if (n == 1)
      Write(out / "http" / "generated_scan_body",
            "POST /api/scans?scan_id=S-fuzz-1&pixel_mm=2.5&consignment_id=C1 integrator\n"
            "Content-Type: image/tiff\n\n" +
                *tiff);
    const fs::path prefix = fs::temp_directory_path() / ("cs_make_seeds_" + name);
    if (Status s = WriteDicos(scan, prefix.string()); !s.ok()) return Fail(s);
    const DicosPaths paths = DicosPathsFor(prefix.string());
    Write(out / "dicos" / name, ReadAll(paths.low) + sep + ReadAll(paths.high));
    const std::string b = "fuzzboundary";
    auto part = [&](const std::string& field, const std::string& file, std::string_view bytes) {
      return "--" + b + "\r\nContent-Disposition: form-data; name=\"" + field + "\"" +
             (file.empty() ? "" : "; filename=\"" + file + "\"") + "\r\n\r\n" + std::string(bytes) +
             "\r\n";
    };
    const std::string head =
        "POST /api/scans officer\nContent-Type: multipart/form-data; boundary=" + b + "\n\n";
    if (n == 2)
      Write(out / "http" / "generated_scan_multipart",
            head + part("tiff", "s.tif", *tiff) + part("sidecar", "", ScanMetaToJson(scan.meta)) +
                "--" + b + "--\r\n");
    if (n == 3)
      Write(out / "http" / "generated_scan_dicos",
            head + part("dicos_low", "l.dcm", ReadAll(paths.low)) +
                part("dicos_high", "h.dcm", ReadAll(paths.high)) + "--" + b + "--\r\n");
    fs::remove(paths.low);
    fs::remove(paths.high);
  }
  for (auto [format, dir, file] :
       {std::tuple{PostalFormat::kEad, "postal_xml", "generated_ead"},
        std::tuple{PostalFormat::kH7Xml, "postal_xml", "generated_h7"},
        std::tuple{PostalFormat::kH7Csv, "declarations_csv", "generated_h7"}}) {
    PostalGeneratorOptions po;
    po.items = 4;
    po.seed = 7;
    po.format = format;
    po.invalid_share = 0.3;
    auto postal = GeneratePostalItems(po);
    if (!postal.ok()) return Fail(postal.status());
    Write(out / dir / file, postal->text);
  }
  std::printf("make_fuzz_seeds: wrote the generated seeds under %s\n", out.c_str());
  return 0;
}
