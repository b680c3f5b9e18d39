// X-ray scans: the in-memory scan, scan format v1 (2-page 16-bit TIFF + JSON sidecar), DICOS
// interchange, and grayscale PNG rendering. The format is specified in docs/scan-format.md.
//
// Every reader checks sizes before it allocates: a header that claims more than
// ScanReadOptions::max_pixels is refused with ResourceExhausted, not read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/status.h"

namespace clearsight {

// Transmission I/I0 is stored as round(65535 * I/I0) clamped to 1..65535.
inline constexpr uint16_t kScanPixelMin = 1;
inline constexpr uint16_t kScanPixelMax = 65535;
uint16_t EncodeTransmission(double transmission);
double DecodeTransmission(uint16_t pixel);  // pixel / 65535

// Material classes of dual-energy screening, by effective atomic number.
enum class MaterialClass : uint8_t {
  kNone = 0,          // air or too thin to classify
  kOrganic = 1,       // z_eff below ~10 (orange)
  kInorganic = 2,     // ~10..18: light metals, glass, ceramics, salts (green)
  kMetal = 3,         // above ~18 (blue)
  kImpenetrable = 4,  // the low-energy image is saturated: material unknown (dark)
};
std::string_view MaterialClassName(MaterialClass c);  // "none", "organic", ..., "impenetrable"
Result<MaterialClass> ParseMaterialClass(std::string_view name);
// The class of an effective atomic number under the usual boundaries (organic < 10 <= inorganic
// < 18 <= metal); the calibration may set its own.
MaterialClass ClassifyZEff(double z_eff, double organic_max_z = 10.0, double metal_min_z = 18.0);

struct ScanMeta {
  std::string scan_id;         // required: 1..256 characters of UTF-8, no control characters
  double pixel_mm = 0;         // required: > 0
  std::string consignment_id;  // optional ("" = absent)
  std::string device;          // optional
  double kvp_low = 0;          // optional (0 = absent)
  double kvp_high = 0;         // optional (0 = absent)
  std::string modality = "xray-dual-energy";
  // Sidecar keys this version does not name, as one JSON object text ("" = none); kept on
  // every round trip (TIFF sidecar and DICOS) so other tools' fields survive us.
  std::string extra_json;

  bool operator==(const ScanMeta&) const = default;
};

// A dual-energy scan. x runs along the belt (columns), y across it (rows); index y*width+x.
struct Scan {
  int width = 0;
  int height = 0;
  std::vector<uint16_t> low;   // page 0
  std::vector<uint16_t> high;  // page 1
  ScanMeta meta;

  size_t pixels() const { return static_cast<size_t>(width) * height; }
  bool operator==(const Scan&) const = default;
};

// Checks the invariants every writer and reader keeps (sizes match, pixels in 1..65535, meta
// fields valid). Returns InvalidArgument naming the first problem.
Status ValidateScan(const Scan& scan);

struct ScanReadOptions {
  int64_t max_pixels = int64_t{64} << 20;  // per page; 64 Mpx = 8192 x 8192
  size_t max_file_bytes = size_t{1} << 30;
  bool require_sidecar =
      true;  // when false a missing sidecar gives scan_id = file stem, pixel_mm 1
};

// Reads `<base>.tif` (or .tiff) and its sidecar `<base>.json`. Fails with NotFound (file or
// sidecar missing), InvalidArgument (not format v1: pages, bit depth, sizes, sidecar fields),
// DataLoss (truncated or corrupt pixel data) or ResourceExhausted (too large); the message names
// the file and the problem.
Result<Scan> ReadScan(const std::string& tiff_path, const ScanReadOptions& options = {});

// The same from bytes in memory (an HTTP upload); `name` is used in messages.
Result<Scan> DecodeScan(std::string_view tiff_bytes, std::string_view sidecar_json,
                        std::string_view name, const ScanReadOptions& options = {});

enum class TiffCompression { kNone, kDeflate };
struct ScanWriteOptions {
  TiffCompression compression = TiffCompression::kNone;
};

// Writes `tiff_path` and the sidecar beside it (same base name, .json), each atomically.
// The scan must pass ValidateScan. Same scan, same bytes.
Status WriteScan(const Scan& scan, const std::string& tiff_path,
                 const ScanWriteOptions& options = {});
Result<std::string> EncodeScanTiff(const Scan& scan, const ScanWriteOptions& options = {});

// The sidecar as JSON text (sorted keys, one line) and back.
std::string ScanMetaToJson(const ScanMeta& meta);
Result<ScanMeta> ParseScanMeta(std::string_view json, std::string_view name);

// The scan TIFFs (.tif/.tiff) directly inside `dir`, sorted by name.
Result<std::vector<std::string>> ListScans(const std::string& dir);

// DICOS (NEMA IIC 1 / DICOM security profile): the two energies as two "DICOS Digital X-Ray
// Image Storage - For Processing" objects sharing one study and series, written as
// `<prefix>_low.dcm` and `<prefix>_high.dcm`. Meta fields map to DICOM attributes (see
// docs/scan-format.md); the round trip scan -> DICOS -> scan is lossless, pixels and meta.
struct DicosPaths {
  std::string low;
  std::string high;
};
DicosPaths DicosPathsFor(const std::string& prefix);
Status WriteDicos(const Scan& scan, const std::string& prefix);
// Reads the pair, checks both are DICOS DX objects of one scan (same study, same size, energies
// LOW and HIGH) and rebuilds the scan.
Result<Scan> ReadDicos(const std::string& prefix, const ScanReadOptions& options = {});

// Grayscale rendering of one energy for the viewer: display = (value - level)/window + 0.5 over
// transmission in 0..1, dark = dense. window <= 0 means automatic (2nd..99.8th percentile).
struct GrayRenderOptions {
  bool use_low = false;  // default the high-energy image
  double window = 0;
  double level = 0.5;
  double gamma = 1.0;
};
Result<std::string> RenderGrayPng(const Scan& scan, const GrayRenderOptions& options = {});

// PNG encoders shared by the renderers: 8-bit gray (1 byte/pixel) or RGB (3 bytes/pixel).
Result<std::string> EncodePngGray8(int width, int height, const std::vector<uint8_t>& pixels);
Result<std::string> EncodePngRgb8(int width, int height, const std::vector<uint8_t>& pixels);
// Decodes an 8-bit gray or RGB PNG (tests and the viewer); channels is 1 or 3.
struct PngImage {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
};
Result<PngImage> DecodePng(std::string_view png_bytes);

}  // namespace clearsight
