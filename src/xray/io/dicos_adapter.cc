// DCMTK adapter: DICOS (DICOM for security screening) export and import of dual-energy scans.
// The only code that includes DCMTK headers.
#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "clearsight/xray_scan.h"

namespace clearsight {

namespace fs = std::filesystem;

namespace {

constexpr const char* kEnergyName[2] = {"LOW", "HIGH"};

// A deterministic UID under the UUID-derived root 2.25 (DICOM PS3.5 B.2): the same scan always
// gets the same UIDs, so the same scan writes the same bytes.
std::string HashUid(std::string_view text) {
  uint64_t a = 0xcbf29ce484222325ull, b = 0x9e3779b97f4a7c15ull;
  for (unsigned char c : text) {
    a = (a ^ c) * 0x100000001b3ull;
    b = (b ^ c) * 0xff51afd7ed558ccdull;
    b ^= b >> 29;
  }
  unsigned __int128 v = (static_cast<unsigned __int128>(a) << 64) | b;
  v &= ~(static_cast<unsigned __int128>(0xF) << 124);  // keep it below 2^124: short enough
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v);
  return "2.25." + digits;
}

Status Check(const OFCondition& c, const std::string& what) {
  if (c.good()) return Status::Ok();
  return Status::IoError(what + ": " + c.text());
}

Status WriteOne(const Scan& scan, int energy, const std::string& path) {
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  const std::string study_uid = HashUid("study:" + scan.meta.scan_id);
  const std::string series_uid = HashUid("series:" + scan.meta.scan_id);
  const std::string sop_uid =
      HashUid(std::string("image:") + kEnergyName[energy] + ":" + scan.meta.scan_id);
  const double kvp = energy == 0 ? scan.meta.kvp_low : scan.meta.kvp_high;
  const std::string spacing =
      FormatDouble(scan.meta.pixel_mm) + "\\" + FormatDouble(scan.meta.pixel_mm);
  std::string image_type = std::string("ORIGINAL\\PRIMARY\\") + kEnergyName[energy] + " ENERGY";
  struct Str {
    DcmTagKey tag;
    std::string value;
  };
  const Str strings[] = {
      {DCM_SOPClassUID, UID_DICOS_DigitalXRayImageStorageForProcessing},
      {DCM_SOPInstanceUID, sop_uid},
      {DCM_StudyInstanceUID, study_uid},
      {DCM_SeriesInstanceUID, series_uid},
      {DCM_Modality, "DX"},
      {DCM_ImageType, image_type},
      {DCM_PresentationIntentType, "FOR PROCESSING"},
      {DCM_PatientID, scan.meta.consignment_id},  // DICOS: OOI ID
      {DCM_OOIType, "CARGO"},
      {DCM_ScanType, "OPERATIONAL"},
      {DCM_StudyDescription, scan.meta.scan_id.substr(0, 64)},
      {DCM_SeriesDescription, std::string(kEnergyName[energy]) + " ENERGY"},
      {DCM_Manufacturer, scan.meta.device.substr(0, 64)},
      {DCM_ImagerPixelSpacing, spacing},
      {DCM_PixelSpacing, spacing},
      {DCM_PhotometricInterpretation, "MONOCHROME2"},
      {DCM_InstanceNumber, std::to_string(energy + 1)},
      // The whole sidecar, so every field (and unknown ones) survives the round trip.
      {DCM_ImageComments, ScanMetaToJson(scan.meta)},
  };
  for (const auto& s : strings)
    CS_RETURN_IF_ERROR(
        Check(ds->putAndInsertString(s.tag, s.value.c_str()), "DICOS: setting a tag"));
  if (kvp > 0)
    CS_RETURN_IF_ERROR(
        Check(ds->putAndInsertString(DCM_KVP, FormatDouble(kvp).c_str()), "DICOS: KVP"));
  CS_RETURN_IF_ERROR(
      Check(ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(scan.height)), "DICOS: rows"));
  CS_RETURN_IF_ERROR(Check(ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(scan.width)),
                           "DICOS: columns"));
  CS_RETURN_IF_ERROR(Check(ds->putAndInsertUint16(DCM_SamplesPerPixel, 1), "DICOS"));
  CS_RETURN_IF_ERROR(Check(ds->putAndInsertUint16(DCM_BitsAllocated, 16), "DICOS"));
  CS_RETURN_IF_ERROR(Check(ds->putAndInsertUint16(DCM_BitsStored, 16), "DICOS"));
  CS_RETURN_IF_ERROR(Check(ds->putAndInsertUint16(DCM_HighBit, 15), "DICOS"));
  CS_RETURN_IF_ERROR(Check(ds->putAndInsertUint16(DCM_PixelRepresentation, 0), "DICOS"));
  const auto& page = energy == 0 ? scan.low : scan.high;
  CS_RETURN_IF_ERROR(Check(ds->putAndInsertUint16Array(DCM_PixelData, page.data(),
                                                       static_cast<unsigned long>(page.size())),
                           "DICOS: pixel data"));
  std::string tmp = path + ".tmp";
  CS_RETURN_IF_ERROR(
      Check(file.saveFile(tmp.c_str(), EXS_LittleEndianExplicit), "DICOS: writing " + path));
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::IoError(path + ": " + ec.message());
  return Status::Ok();
}

struct Page {
  int width = 0, height = 0;
  std::vector<uint16_t> pixels;
  std::string study_uid, image_type, comments, patient_id, manufacturer, study_description;
  double kvp = 0, pixel_mm = 0;
};

std::string GetString(DcmDataset* ds, const DcmTagKey& tag, bool all_values = false) {
  OFString v;
  if (all_values ? ds->findAndGetOFStringArray(tag, v).good()
                 : ds->findAndGetOFString(tag, v).good())
    return std::string(v.c_str());
  return "";
}

Result<Page> ReadOne(const std::string& path, const ScanReadOptions& options) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Status::NotFound(path + ": no such DICOS file");
  auto size = fs::file_size(path, ec);
  if (ec || size > options.max_file_bytes)
    return Status::ResourceExhausted(path + ": file too large");
  DcmFileFormat file;
  // Elements longer than 4 KiB are loaded on access, after the size checks below.
  OFCondition c = file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 4096);
  if (c.bad())
    return Status::InvalidArgument(path + ": not a readable DICOM file (" + c.text() + ")");
  DcmDataset* ds = file.getDataset();
  std::string sop_class = GetString(ds, DCM_SOPClassUID);
  if (sop_class != UID_DICOS_DigitalXRayImageStorageForProcessing &&
      sop_class != UID_DICOS_DigitalXRayImageStorageForPresentation)
    return Status::InvalidArgument(path + ": SOP class '" + sop_class +
                                   "' is not a DICOS digital X-ray image");
  Uint16 rows = 0, cols = 0, bits = 0, spp = 1, repr = 0;
  if (ds->findAndGetUint16(DCM_Rows, rows).bad() || ds->findAndGetUint16(DCM_Columns, cols).bad() ||
      rows == 0 || cols == 0)
    return Status::InvalidArgument(path + ": no image size");
  if (static_cast<int64_t>(rows) * cols > options.max_pixels)
    return Status::ResourceExhausted(path + ": image larger than the pixel limit");
  ds->findAndGetUint16(DCM_BitsAllocated, bits);
  ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
  ds->findAndGetUint16(DCM_PixelRepresentation, repr);
  if (bits != 16 || spp != 1 || repr != 0)
    return Status::InvalidArgument(path + ": needs 16-bit unsigned grayscale pixels");
  const Uint16* data = nullptr;
  unsigned long count = 0;
  if (ds->findAndGetUint16Array(DCM_PixelData, data, &count).bad() || !data)
    return Status::DataLoss(path + ": pixel data missing or unreadable");
  if (count < static_cast<unsigned long>(rows) * cols)
    return Status::DataLoss(path + ": pixel data holds " + std::to_string(count) +
                            " values, needs " +
                            std::to_string(static_cast<unsigned long>(rows) * cols));
  Page p;
  p.width = cols;
  p.height = rows;
  p.pixels.assign(data, data + static_cast<size_t>(rows) * cols);
  p.study_uid = GetString(ds, DCM_StudyInstanceUID);
  p.image_type = GetString(ds, DCM_ImageType, true);
  p.comments = GetString(ds, DCM_ImageComments);
  p.patient_id = GetString(ds, DCM_PatientID);
  p.manufacturer = GetString(ds, DCM_Manufacturer);
  p.study_description = GetString(ds, DCM_StudyDescription);
  ParseDouble(GetString(ds, DCM_KVP), &p.kvp);
  Float64 spacing = 0;
  if (ds->findAndGetFloat64(DCM_ImagerPixelSpacing, spacing).good() ||
      ds->findAndGetFloat64(DCM_PixelSpacing, spacing).good())
    p.pixel_mm = spacing;
  return p;
}

}  // namespace

DicosPaths DicosPathsFor(const std::string& prefix) {
  return {prefix + "_low.dcm", prefix + "_high.dcm"};
}

Status WriteDicos(const Scan& scan, const std::string& prefix) {
  CS_RETURN_IF_ERROR(ValidateScan(scan));
  if (scan.width > 65535 || scan.height > 65535)
    return Status::InvalidArgument("DICOS: images are limited to 65535 rows and columns");
  DicosPaths paths = DicosPathsFor(prefix);
  CS_RETURN_IF_ERROR(WriteOne(scan, 0, paths.low));
  return WriteOne(scan, 1, paths.high);
}

Result<Scan> ReadDicos(const std::string& prefix, const ScanReadOptions& options) {
  DicosPaths paths = DicosPathsFor(prefix);
  CS_ASSIGN_OR_RETURN(Page low, ReadOne(paths.low, options));
  CS_ASSIGN_OR_RETURN(Page high, ReadOne(paths.high, options));
  if (low.width != high.width || low.height != high.height)
    return Status::InvalidArgument(prefix + ": low and high DICOS images differ in size");
  if (low.study_uid != high.study_uid)
    return Status::InvalidArgument(prefix +
                                   ": low and high DICOS images belong to different studies");
  auto energy_of = [](const std::string& image_type) {
    if (image_type.find("HIGH") != std::string::npos) return 1;
    if (image_type.find("LOW") != std::string::npos) return 0;
    return -1;
  };
  if (energy_of(low.image_type) == 1 || energy_of(high.image_type) == 0)
    return Status::InvalidArgument(prefix + ": the _low and _high files are swapped (image type)");
  Scan scan;
  scan.width = low.width;
  scan.height = low.height;
  scan.low = std::move(low.pixels);
  scan.high = std::move(high.pixels);
  for (auto* page : {&scan.low, &scan.high})
    for (auto& v : *page) v = v ? v : kScanPixelMin;
  if (!low.comments.empty() && low.comments.front() == '{') {
    CS_ASSIGN_OR_RETURN(scan.meta, ParseScanMeta(low.comments, paths.low + " ImageComments"));
  } else {
    // A DICOS object from another writer: rebuild the meta from standard attributes.
    scan.meta.scan_id = !low.study_description.empty() ? low.study_description : low.study_uid;
    scan.meta.pixel_mm = low.pixel_mm > 0 ? low.pixel_mm : 1.0;
    scan.meta.consignment_id = low.patient_id;
    scan.meta.device = low.manufacturer;
    scan.meta.kvp_low = low.kvp;
    scan.meta.kvp_high = high.kvp;
  }
  CS_RETURN_IF_ERROR(ValidateScan(scan));
  return scan;
}

}  // namespace clearsight
