// DICOS import through DCMTK: a low and a high object (joined by fuzz::kSeparator) are written
// to a temporary folder and read back as one scan that passes ValidateScan, or fail with a
// Status.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "clearsight/xray_scan.h"
#include "fuzz_util.h"

using namespace clearsight;

namespace {
void Write(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

const std::string& Prefix() {
  static const std::string prefix = [] {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("cs_fuzz_dicos_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return (dir / "scan").string();
  }();
  return prefix;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [low, high] = fuzz::SplitInput(data, size);
  const DicosPaths paths = DicosPathsFor(Prefix());
  Write(paths.low, low);
  Write(paths.high, high);
  ScanReadOptions options;
  options.max_pixels = int64_t{1} << 20;
  auto scan = ReadDicos(Prefix(), options);
  if (!scan.ok()) return 0;
  if (!ValidateScan(*scan).ok()) __builtin_trap();  // decoded but invalid
  return 0;
}
