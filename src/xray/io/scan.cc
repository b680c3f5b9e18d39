// Scan format v1: validation, the JSON sidecar, reading and writing (pixels through the libtiff
// adapter).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "clearsight/xray_scan.h"
#include "common/json_limits.h"
#include "xray/io/tiff_adapter.h"

namespace clearsight {

namespace fs = std::filesystem;
using nlohmann::json;

uint16_t EncodeTransmission(double t) {
  if (!(t > 0)) return kScanPixelMin;  // also NaN
  double v = std::nearbyint(65535.0 * t);
  if (v < kScanPixelMin) return kScanPixelMin;
  if (v > kScanPixelMax) return kScanPixelMax;
  return static_cast<uint16_t>(v);
}

double DecodeTransmission(uint16_t pixel) { return pixel / 65535.0; }

std::string_view MaterialClassName(MaterialClass c) {
  switch (c) {
    case MaterialClass::kNone:
      return "none";
    case MaterialClass::kOrganic:
      return "organic";
    case MaterialClass::kInorganic:
      return "inorganic";
    case MaterialClass::kMetal:
      return "metal";
    case MaterialClass::kImpenetrable:
      return "impenetrable";
  }
  return "none";
}

Result<MaterialClass> ParseMaterialClass(std::string_view name) {
  for (auto c : {MaterialClass::kNone, MaterialClass::kOrganic, MaterialClass::kInorganic,
                 MaterialClass::kMetal, MaterialClass::kImpenetrable})
    if (name == MaterialClassName(c)) return c;
  return Status::InvalidArgument("unknown material class '" + std::string(name) +
                                 "' (organic, inorganic, metal, impenetrable, none)");
}

MaterialClass ClassifyZEff(double z, double organic_max_z, double metal_min_z) {
  if (!(z > 0)) return MaterialClass::kNone;
  if (z < organic_max_z) return MaterialClass::kOrganic;
  if (z < metal_min_z) return MaterialClass::kInorganic;
  return MaterialClass::kMetal;
}

namespace {

Status CheckMeta(const ScanMeta& m, std::string_view where) {
  std::string w = where.empty() ? "" : std::string(where) + ": ";
  if (m.scan_id.empty()) return Status::InvalidArgument(w + "scan_id is empty");
  if (m.scan_id.size() > 256)
    return Status::InvalidArgument(w + "scan_id longer than 256 characters");
  for (unsigned char c : m.scan_id)
    if (c < 0x20 || c == 0x7f)
      return Status::InvalidArgument(w + "scan_id holds a control character");
  if (!IsValidUtf8(m.scan_id)) return Status::InvalidArgument(w + "scan_id is not UTF-8");
  if (!(m.pixel_mm > 0) || !std::isfinite(m.pixel_mm) || m.pixel_mm > 1000)
    return Status::InvalidArgument(w + "pixel_mm must be a positive size in mm, got " +
                                   FormatDouble(m.pixel_mm));
  if (m.kvp_low < 0 || m.kvp_high < 0 || !std::isfinite(m.kvp_low) || !std::isfinite(m.kvp_high))
    return Status::InvalidArgument(w + "kvp_low/kvp_high must be positive when given");
  if (!m.extra_json.empty()) {
    json e = json::parse(m.extra_json, nullptr, false);
    if (e.is_discarded() || !e.is_object())
      return Status::InvalidArgument(w + "extra sidecar fields are not a JSON object");
  }
  return Status::Ok();
}

std::string SidecarPath(const std::string& tiff_path) {
  fs::path p(tiff_path);
  p.replace_extension(".json");
  return p.string();
}

}  // namespace

Status ValidateScan(const Scan& scan) {
  if (scan.width <= 0 || scan.height <= 0)
    return Status::InvalidArgument("scan has no pixels (" + std::to_string(scan.width) + "x" +
                                   std::to_string(scan.height) + ")");
  if (scan.low.size() != scan.pixels() || scan.high.size() != scan.pixels())
    return Status::InvalidArgument("scan pages hold " + std::to_string(scan.low.size()) + " and " +
                                   std::to_string(scan.high.size()) + " pixels, expected " +
                                   std::to_string(scan.pixels()));
  for (const auto* page : {&scan.low, &scan.high})
    if (std::find(page->begin(), page->end(), uint16_t{0}) != page->end())
      return Status::InvalidArgument("scan '" + scan.meta.scan_id +
                                     "' has a pixel of 0; format v1 clamps to 1..65535");
  return CheckMeta(scan.meta, "scan '" + scan.meta.scan_id + "'");
}

std::string ScanMetaToJson(const ScanMeta& m) {
  json j = json::object();
  if (!m.extra_json.empty()) {
    json e = json::parse(m.extra_json, nullptr, false);
    if (e.is_object()) j = e;
  }
  j["scan_id"] = m.scan_id;
  j["pixel_mm"] = m.pixel_mm;
  if (!m.consignment_id.empty()) j["consignment_id"] = m.consignment_id;
  if (!m.device.empty()) j["device"] = m.device;
  if (m.kvp_low > 0) j["kvp_low"] = m.kvp_low;
  if (m.kvp_high > 0) j["kvp_high"] = m.kvp_high;
  if (!m.modality.empty()) j["modality"] = m.modality;
  return j.dump();
}

Result<ScanMeta> ParseScanMeta(std::string_view text, std::string_view name) {
  std::string where(name);
  // Sidecars come with uploads too: parsed within the limits on nesting and size.
  auto parsed = ParseJsonBounded(text, "sidecar");
  if (!parsed.ok()) return parsed.status().WithContext(where);
  json j = std::move(parsed).value();
  if (!j.is_object()) return Status::InvalidArgument(where + ": sidecar is not a JSON object");
  ScanMeta m;
  m.modality.clear();
  auto str = [&](const char* key, std::string* out, bool required) -> Status {
    auto it = j.find(key);
    if (it == j.end()) {
      return required ? Status::InvalidArgument(where + ": sidecar lacks \"" + key + "\"")
                      : Status::Ok();
    }
    if (!it->is_string())
      return Status::InvalidArgument(where + ": \"" + key + "\" must be a string");
    *out = it->get<std::string>();
    j.erase(it);
    return Status::Ok();
  };
  auto num = [&](const char* key, double* out, bool required) -> Status {
    auto it = j.find(key);
    if (it == j.end()) {
      return required ? Status::InvalidArgument(where + ": sidecar lacks \"" + key + "\"")
                      : Status::Ok();
    }
    if (!it->is_number())
      return Status::InvalidArgument(where + ": \"" + key + "\" must be a number");
    *out = it->get<double>();
    j.erase(it);
    return Status::Ok();
  };
  CS_RETURN_IF_ERROR(str("scan_id", &m.scan_id, true));
  CS_RETURN_IF_ERROR(num("pixel_mm", &m.pixel_mm, true));
  CS_RETURN_IF_ERROR(str("consignment_id", &m.consignment_id, false));
  CS_RETURN_IF_ERROR(str("device", &m.device, false));
  CS_RETURN_IF_ERROR(num("kvp_low", &m.kvp_low, false));
  CS_RETURN_IF_ERROR(num("kvp_high", &m.kvp_high, false));
  CS_RETURN_IF_ERROR(str("modality", &m.modality, false));
  if (!j.empty()) m.extra_json = j.dump();
  CS_RETURN_IF_ERROR(CheckMeta(m, where));
  return m;
}

namespace {
Result<Scan> DecodeNamed(std::string_view tiff_bytes, std::string_view sidecar_json,
                         std::string_view tiff_name, std::string_view sidecar_name,
                         const ScanReadOptions& options) {
  CS_ASSIGN_OR_RETURN(auto pages, xray::DecodeTiffPages(tiff_bytes, tiff_name, options.max_pixels));
  Scan scan;
  scan.width = pages.width;
  scan.height = pages.height;
  scan.low = std::move(pages.low);
  scan.high = std::move(pages.high);
  // Format v1 pixels are 1..65535; a 0 from another writer is read as 1 (fully dark).
  for (auto* page : {&scan.low, &scan.high})
    for (auto& v : *page) v = v ? v : kScanPixelMin;
  CS_ASSIGN_OR_RETURN(scan.meta, ParseScanMeta(sidecar_json, sidecar_name));
  return scan;
}
}  // namespace

Result<Scan> DecodeScan(std::string_view tiff_bytes, std::string_view sidecar_json,
                        std::string_view name, const ScanReadOptions& options) {
  return DecodeNamed(tiff_bytes, sidecar_json, name, std::string(name) + " sidecar", options);
}

Result<Scan> ReadScan(const std::string& tiff_path, const ScanReadOptions& options) {
  if (!FileExists(tiff_path)) return Status::NotFound(tiff_path + ": no such scan file");
  CS_ASSIGN_OR_RETURN(std::string bytes, ReadFile(tiff_path, options.max_file_bytes));
  std::string sidecar_path = SidecarPath(tiff_path);
  std::string sidecar;
  if (FileExists(sidecar_path)) {
    CS_ASSIGN_OR_RETURN(sidecar, ReadFile(sidecar_path, 16 << 20));
  } else if (options.require_sidecar) {
    return Status::NotFound(tiff_path + ": sidecar " + sidecar_path +
                            " is missing (scan format v1 needs scan_id and pixel_mm there)");
  } else {
    ScanMeta m;
    m.scan_id = fs::path(tiff_path).stem().string();
    m.pixel_mm = 1.0;
    sidecar = ScanMetaToJson(m);
  }
  return DecodeNamed(bytes, sidecar, tiff_path, sidecar_path, options);
}

Result<std::string> EncodeScanTiff(const Scan& scan, const ScanWriteOptions& options) {
  CS_RETURN_IF_ERROR(ValidateScan(scan));
  return xray::EncodeTiffPages(scan.width, scan.height, scan.low.data(), scan.high.data(),
                               options.compression == TiffCompression::kDeflate);
}

Status WriteScan(const Scan& scan, const std::string& tiff_path, const ScanWriteOptions& options) {
  CS_ASSIGN_OR_RETURN(std::string bytes, EncodeScanTiff(scan, options));
  CS_RETURN_IF_ERROR(WriteFileAtomic(tiff_path, bytes));
  return WriteFileAtomic(SidecarPath(tiff_path), ScanMetaToJson(scan.meta) + "\n");
}

Result<std::vector<std::string>> ListScans(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound(dir + ": not a directory");
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::string ext = ToLower(e.path().extension().string());
    if (ext == ".tif" || ext == ".tiff") out.push_back(e.path().string());
  }
  if (ec) return Status::IoError(dir + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace clearsight
