// libtiff adapter: the only code that includes <tiffio.h>. Works on memory buffers so files and
// HTTP uploads take the same path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/status.h"

namespace clearsight::xray {

struct TiffPages {
  int width = 0, height = 0;
  std::vector<uint16_t> low, high;
};

// Decodes a 2-page 16-bit unsigned grayscale TIFF. Every page is checked (size, bit depth,
// samples, sample format) before pixel memory is allocated.
Result<TiffPages> DecodeTiffPages(std::string_view bytes, std::string_view name,
                                  int64_t max_pixels);

Result<std::string> EncodeTiffPages(int width, int height, const uint16_t* low,
                                    const uint16_t* high, bool deflate);

}  // namespace clearsight::xray
