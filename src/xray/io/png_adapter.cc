// libpng adapter: the only code that includes <png.h>.
#include <png.h>

#include <csetjmp>
#include <cstring>

#include "clearsight/xray_scan.h"

namespace clearsight {
namespace {

struct Sink {
  std::string* out;
};

void WriteData(png_structp png, png_bytep data, png_size_t n) {
  auto* sink = static_cast<Sink*>(png_get_io_ptr(png));
  sink->out->append(reinterpret_cast<const char*>(data), n);
}
void Flush(png_structp) {}

struct Source {
  std::string_view data;
  size_t pos = 0;
};

void ReadData(png_structp png, png_bytep out, png_size_t n) {
  auto* src = static_cast<Source*>(png_get_io_ptr(png));
  if (src->pos + n > src->data.size()) png_error(png, "truncated PNG");
  std::memcpy(out, src->data.data() + src->pos, n);
  src->pos += n;
}

void ErrorFn(png_structp png, png_const_charp msg) {
  auto* text = static_cast<std::string*>(png_get_error_ptr(png));
  if (text) *text = msg;
  png_longjmp(png, 1);
}
void WarnFn(png_structp, png_const_charp) {}

Result<std::string> Encode(int width, int height, int channels,
                           const std::vector<uint8_t>& pixels) {
  if (width <= 0 || height <= 0 || pixels.size() != static_cast<size_t>(width) * height * channels)
    return Status::InvalidArgument("PNG: pixel buffer does not match " + std::to_string(width) +
                                   "x" + std::to_string(height) + "x" + std::to_string(channels));
  std::string out, error;
  Sink sink{&out};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &error, ErrorFn, WarnFn);
  if (!png) return Status::Internal("PNG: cannot create writer");
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, info ? &info : nullptr);
    return Status::Internal("PNG: " + error);
  }
  png_set_write_fn(png, &sink, WriteData, Flush);
  png_set_compression_level(png, 3);  // fast: the viewer asks often
  png_set_IHDR(png, info, width, height, 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y)
    png_write_row(png,
                  const_cast<png_bytep>(pixels.data() + static_cast<size_t>(y) * width * channels));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

}  // namespace

Result<std::string> EncodePngGray8(int width, int height, const std::vector<uint8_t>& pixels) {
  return Encode(width, height, 1, pixels);
}

Result<std::string> EncodePngRgb8(int width, int height, const std::vector<uint8_t>& pixels) {
  return Encode(width, height, 3, pixels);
}

Result<PngImage> DecodePng(std::string_view bytes) {
  if (bytes.size() < 8 || png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8))
    return Status::InvalidArgument("not a PNG");
  std::string error;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, ErrorFn, WarnFn);
  if (!png) return Status::Internal("PNG: cannot create reader");
  png_infop info = png_create_info_struct(png);
  Source src{bytes, 0};
  PngImage img;
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    return Status::InvalidArgument("PNG: " + error);
  }
  png_set_read_fn(png, &src, ReadData);
  png_set_user_limits(png, 1 << 15, 1 << 15);
  png_read_info(png, info);
  int color = png_get_color_type(png, info);
  int depth = png_get_bit_depth(png, info);
  if (depth == 16) png_set_strip_16(png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  png_read_update_info(png, info);
  img.width = static_cast<int>(png_get_image_width(png, info));
  img.height = static_cast<int>(png_get_image_height(png, info));
  img.channels = png_get_channels(png, info);
  if (img.channels != 1 && img.channels != 3) png_error(png, "unsupported channel count");
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * img.channels);
  std::vector<png_bytep> rows(img.height);
  for (int y = 0; y < img.height; ++y)
    rows[y] = img.pixels.data() + static_cast<size_t>(y) * img.width * img.channels;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return img;
}

}  // namespace clearsight
