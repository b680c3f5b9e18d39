// Scan format v1: a TIFF and its JSON sidecar (joined by fuzz::kSeparator) decode into a scan
// that passes ValidateScan, or fail with a Status; never a crash, a hang or an unbounded
// allocation.
#include "clearsight/xray_scan.h"
#include "fuzz_util.h"

using namespace clearsight;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [tiff, sidecar] = fuzz::SplitInput(data, size);
  ScanReadOptions options;
  options.max_pixels = int64_t{1} << 20;  // the service's limit is larger; the checks are the same
  auto scan = DecodeScan(tiff, sidecar, "fuzz.tif", options);
  if (!scan.ok()) return 0;
  if (!ValidateScan(*scan).ok()) __builtin_trap();  // decoded but invalid
  (void)ScanMetaToJson(scan->meta);
  return 0;
}
