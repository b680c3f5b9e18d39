#include "xray/io/tiff_adapter.h"

#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>

namespace clearsight::xray {
namespace {

// A TIFF "file" in memory: reads from `data`, or writes into `out`.
struct MemFile {
  const char* data = nullptr;
  size_t size = 0;
  std::string* out = nullptr;
  size_t pos = 0;
  std::string first_error;  // the first libtiff error message
};

tmsize_t ReadProc(thandle_t h, void* buf, tmsize_t n) {
  auto* f = static_cast<MemFile*>(h);
  const char* data = f->out ? f->out->data() : f->data;
  size_t size = f->out ? f->out->size() : f->size;
  size_t avail = f->pos < size ? size - f->pos : 0;
  size_t k = std::min<size_t>(avail, static_cast<size_t>(n));
  if (k) std::memcpy(buf, data + f->pos, k);
  f->pos += k;
  return static_cast<tmsize_t>(k);
}

tmsize_t WriteProc(thandle_t h, void* buf, tmsize_t n) {
  auto* f = static_cast<MemFile*>(h);
  if (!f->out) return 0;
  size_t end = f->pos + static_cast<size_t>(n);
  if (f->out->size() < end) f->out->resize(end);
  std::memcpy(f->out->data() + f->pos, buf, static_cast<size_t>(n));
  f->pos = end;
  return n;
}

toff_t SeekProc(thandle_t h, toff_t off, int whence) {
  auto* f = static_cast<MemFile*>(h);
  size_t size = f->out ? f->out->size() : f->size;
  int64_t base = whence == SEEK_SET   ? 0
                 : whence == SEEK_CUR ? static_cast<int64_t>(f->pos)
                                      : static_cast<int64_t>(size);
  int64_t p = base + static_cast<int64_t>(off);
  if (p < 0) return static_cast<toff_t>(-1);
  f->pos = static_cast<size_t>(p);
  return static_cast<toff_t>(p);
}

int CloseProc(thandle_t) { return 0; }

toff_t SizeProc(thandle_t h) {
  auto* f = static_cast<MemFile*>(h);
  return static_cast<toff_t>(f->out ? f->out->size() : f->size);
}

int MapProc(thandle_t h, void** base, toff_t* size) {
  auto* f = static_cast<MemFile*>(h);
  if (f->out) return 0;
  *base = const_cast<char*>(f->data);
  *size = static_cast<toff_t>(f->size);
  return 1;
}

void UnmapProc(thandle_t, void*, toff_t) {}

int ErrorHandler(TIFF*, void* user, const char* module, const char* fmt, va_list ap) {
  auto* f = static_cast<MemFile*>(user);
  if (f && f->first_error.empty()) {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    f->first_error = buf;
  }
  return 1;  // handled: nothing goes to stderr
}

int WarningHandler(TIFF*, void*, const char*, const char*, va_list) { return 1; }

struct TiffCloser {
  void operator()(TIFF* t) const { TIFFClose(t); }
};
using TiffPtr = std::unique_ptr<TIFF, TiffCloser>;

struct OptionsFree {
  void operator()(TIFFOpenOptions* o) const { TIFFOpenOptionsFree(o); }
};

TiffPtr Open(MemFile* f, const char* mode, std::string_view name, tmsize_t max_alloc) {
  std::unique_ptr<TIFFOpenOptions, OptionsFree> opts(TIFFOpenOptionsAlloc());
  TIFFOpenOptionsSetErrorHandlerExtR(opts.get(), ErrorHandler, f);
  TIFFOpenOptionsSetWarningHandlerExtR(opts.get(), WarningHandler, f);
  if (max_alloc > 0) TIFFOpenOptionsSetMaxSingleMemAlloc(opts.get(), max_alloc);
  std::string n(name);
  return TiffPtr(TIFFClientOpenExt(n.c_str(), mode, f, ReadProc, WriteProc, SeekProc, CloseProc,
                                   SizeProc, MapProc, UnmapProc, opts.get()));
}

std::string Prefix(std::string_view name) { return std::string(name) + ": "; }

struct PageInfo {
  uint32_t width = 0, height = 0;
};

// Checks the current directory's tags; never allocates pixel memory.
Status CheckPage(TIFF* tif, int page, std::string_view name, int64_t max_pixels, PageInfo* info) {
  std::string where = Prefix(name) + "page " + std::to_string(page) + ": ";
  uint32_t w = 0, h = 0;
  uint16_t bits = 0, spp = 1, fmt = SAMPLEFORMAT_UINT, photometric = PHOTOMETRIC_MINISBLACK;
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h))
    return Status::InvalidArgument(where + "no image size");
  if (w == 0 || h == 0)
    return Status::InvalidArgument(where + "empty image (" + std::to_string(w) + "x" +
                                   std::to_string(h) + ")");
  if (static_cast<int64_t>(w) * h > max_pixels)
    return Status::ResourceExhausted(where + std::to_string(w) + "x" + std::to_string(h) +
                                     " pixels is more than the limit of " +
                                     std::to_string(max_pixels) + " per page");
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric)) photometric = PHOTOMETRIC_MINISBLACK;
  if (bits != 16)
    return Status::InvalidArgument(where + std::to_string(bits) +
                                   " bits per sample; scan format v1 needs 16");
  if (spp != 1)
    return Status::InvalidArgument(where + std::to_string(spp) +
                                   " samples per pixel; scan format v1 needs 1 (grayscale)");
  if (fmt != SAMPLEFORMAT_UINT)
    return Status::InvalidArgument(where + "samples are not unsigned integers");
  if (photometric != PHOTOMETRIC_MINISBLACK)
    return Status::InvalidArgument(where + "photometric interpretation " +
                                   std::to_string(photometric) +
                                   "; scan format v1 needs min-is-black");
  info->width = w;
  info->height = h;
  return Status::Ok();
}

Status ReadPage(TIFF* tif, MemFile* f, int page, std::string_view name, const PageInfo& info,
                std::vector<uint16_t>* out) {
  std::string where = Prefix(name) + "page " + std::to_string(page) + ": ";
  const size_t w = info.width, h = info.height;
  out->assign(w * h, 0);
  if (TIFFIsTiled(tif)) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    if (tw == 0 || th == 0 || static_cast<int64_t>(tw) * th > (int64_t{1} << 26))
      return Status::InvalidArgument(where + "bad tile size");
    std::vector<uint16_t> tile(static_cast<size_t>(tw) * th);
    for (uint32_t ty = 0; ty < h; ty += th)
      for (uint32_t tx = 0; tx < w; tx += tw) {
        tmsize_t got = TIFFReadTile(tif, tile.data(), tx, ty, 0, 0);
        if (got < 0)
          return Status::DataLoss(where + "tile at (" + std::to_string(tx) + "," +
                                  std::to_string(ty) + ") is truncated or corrupt" +
                                  (f->first_error.empty() ? "" : " (" + f->first_error + ")"));
        for (uint32_t y = ty; y < std::min<uint32_t>(h, ty + th); ++y)
          std::memcpy(out->data() + y * w + tx, tile.data() + (y - ty) * tw,
                      sizeof(uint16_t) * std::min<uint32_t>(tw, w - tx));
      }
  } else {
    uint32_t rows_per_strip = 0;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
    if (rows_per_strip == 0 || rows_per_strip > h) rows_per_strip = h;
    tstrip_t strips = TIFFNumberOfStrips(tif);
    size_t expected_strips = (h + rows_per_strip - 1) / rows_per_strip;
    if (strips < expected_strips)
      return Status::DataLoss(where + "has " + std::to_string(strips) + " strips, needs " +
                              std::to_string(expected_strips));
    for (tstrip_t s = 0; s < expected_strips; ++s) {
      size_t row0 = static_cast<size_t>(s) * rows_per_strip;
      size_t rows = std::min<size_t>(rows_per_strip, h - row0);
      tmsize_t want = static_cast<tmsize_t>(rows * w * sizeof(uint16_t));
      tmsize_t got = TIFFReadEncodedStrip(tif, s, out->data() + row0 * w, want);
      if (got != want)
        return Status::DataLoss(where + "strip " + std::to_string(s) + " (rows " +
                                std::to_string(row0) + "..) is truncated or corrupt" +
                                (f->first_error.empty() ? "" : " (" + f->first_error + ")"));
    }
  }
  if (!f->first_error.empty()) return Status::DataLoss(where + f->first_error);
  return Status::Ok();
}

}  // namespace

Result<TiffPages> DecodeTiffPages(std::string_view bytes, std::string_view name,
                                  int64_t max_pixels) {
  if (bytes.size() < 8) return Status::InvalidArgument(Prefix(name) + "too short to be a TIFF");
  if (!(bytes.substr(0, 4) == std::string_view("II*\0", 4) ||
        bytes.substr(0, 4) == std::string_view("MM\0*", 4)))
    return Status::InvalidArgument(Prefix(name) + "not a classic TIFF (bad magic bytes)");
  MemFile f;
  f.data = bytes.data();
  f.size = bytes.size();
  // A single allocation larger than one full page means a lying header.
  tmsize_t max_alloc =
      static_cast<tmsize_t>(std::max<int64_t>(max_pixels, 1 << 20) * 2 + (1 << 20));
  TiffPtr tif = Open(&f, "r", name, max_alloc);
  if (!tif)
    return Status::DataLoss(Prefix(name) + "TIFF header or directory is truncated or corrupt" +
                            (f.first_error.empty() ? "" : " (" + f.first_error + ")"));
  // Count pages first: exactly two.
  int pages = 1;
  f.first_error.clear();
  while (TIFFReadDirectory(tif.get())) {
    if (++pages > 2) break;
  }
  if (pages < 2 && !f.first_error.empty())
    return Status::DataLoss(Prefix(name) + "the directory of page " + std::to_string(pages) +
                            " is truncated or corrupt (" + f.first_error + ")");
  if (pages != 2)
    return Status::InvalidArgument(
        Prefix(name) + (pages > 2 ? "more than 2" : std::to_string(pages)) +
        (pages == 1 ? " page" : " pages") + "; scan format v1 needs exactly 2 (low, high energy)");
  f.first_error.clear();
  PageInfo info[2];
  for (int p = 0; p < 2; ++p) {
    if (!TIFFSetDirectory(tif.get(), static_cast<tdir_t>(p)))
      return Status::DataLoss(Prefix(name) + "cannot read page " + std::to_string(p));
    CS_RETURN_IF_ERROR(CheckPage(tif.get(), p, name, max_pixels, &info[p]));
  }
  if (info[0].width != info[1].width || info[0].height != info[1].height)
    return Status::InvalidArgument(
        Prefix(name) + "pages differ in size (" + std::to_string(info[0].width) + "x" +
        std::to_string(info[0].height) + " and " + std::to_string(info[1].width) + "x" +
        std::to_string(info[1].height) + ")");
  TiffPages out;
  out.width = static_cast<int>(info[0].width);
  out.height = static_cast<int>(info[0].height);
  for (int p = 0; p < 2; ++p) {
    if (!TIFFSetDirectory(tif.get(), static_cast<tdir_t>(p)))
      return Status::DataLoss(Prefix(name) + "cannot read page " + std::to_string(p));
    f.first_error.clear();
    CS_RETURN_IF_ERROR(ReadPage(tif.get(), &f, p, name, info[p], p == 0 ? &out.low : &out.high));
  }
  return out;
}

Result<std::string> EncodeTiffPages(int width, int height, const uint16_t* low,
                                    const uint16_t* high, bool deflate) {
  std::string out;
  MemFile f;
  f.out = &out;
  TiffPtr tif = Open(&f, "w", "scan.tif", 0);
  if (!tif) return Status::Internal("libtiff cannot open a memory buffer for writing");
  const uint16_t* pages[2] = {low, high};
  const char* names[2] = {"low energy", "high energy"};
  uint32_t rows_per_strip = std::max(1, 65536 / std::max(1, width * 2));
  for (int p = 0; p < 2; ++p) {
    TIFF* t = tif.get();
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(width));
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(height));
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, rows_per_strip);
    TIFFSetField(t, TIFFTAG_PAGENUMBER, static_cast<uint16_t>(p), static_cast<uint16_t>(2));
    TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, names[p]);
    TIFFSetField(t, TIFFTAG_SOFTWARE, "clearsight scan format v1");
    if (deflate) {
      TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
      TIFFSetField(t, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
    } else {
      TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
    }
    for (int y0 = 0, s = 0; y0 < height; y0 += static_cast<int>(rows_per_strip), ++s) {
      int rows = std::min<int>(static_cast<int>(rows_per_strip), height - y0);
      // libtiff may modify the buffer when a predictor is used: write from a copy.
      std::vector<uint16_t> strip(pages[p] + static_cast<size_t>(y0) * width,
                                  pages[p] + static_cast<size_t>(y0 + rows) * width);
      if (TIFFWriteEncodedStrip(t, s, strip.data(), static_cast<tmsize_t>(strip.size() * 2)) < 0)
        return Status::Internal("libtiff: writing strip failed: " + f.first_error);
    }
    if (!TIFFWriteDirectory(t))
      return Status::Internal("libtiff: writing page failed: " + f.first_error);
  }
  tif.reset();  // flushes
  return out;
}

}  // namespace clearsight::xray
