// Data-driven bad input: each malformed scan is paired with the error it must produce. Files are
// built here byte by byte (xray_test_util.h), not with libtiff.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>

#include "clearsight/xray_scan.h"
#include "xray/xray_test_util.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;
using testing::GoodSidecar;
using testing::MakeTiff;
using testing::TiffPage;

struct BadCase {
  std::string name;
  std::string tiff;
  std::string sidecar;  // "" = no sidecar file
  StatusCode code;
  std::string message;  // must appear in the error
};

std::vector<BadCase> Cases() {
  Scan good = testing::RandomScan(64, 40, 9);
  std::string good_tiff = *EncodeScanTiff(good);
  TiffPage p16;
  p16.width = 16;
  p16.height = 8;
  TiffPage p8 = p16;
  p8.bits = 8;
  TiffPage wide = p16;
  wide.width = 20;
  TiffPage rgb = p16;
  rgb.samples = 3;
  TiffPage flt = p16;
  flt.sample_format = 3;
  TiffPage white = p16;
  white.photometric = 0;
  TiffPage huge = p16;
  huge.width = 100000;
  huge.height = 100000;
  huge.data_bytes = 64;  // the header lies: 20 GB of pixels, 64 bytes of data
  TiffPage short_strip = p16;
  short_strip.data_bytes = 100;  // needs 256
  return {
      {"truncated", good_tiff.substr(0, good_tiff.size() / 2), GoodSidecar(), StatusCode::kDataLoss,
       "truncated"},
      {"truncated header", good_tiff.substr(0, 6), GoodSidecar(), StatusCode::kInvalidArgument,
       "too short"},
      {"not a tiff", "GIF89a this is not a tiff at all", GoodSidecar(),
       StatusCode::kInvalidArgument, "magic"},
      {"8 bit", MakeTiff({p8, p8}), GoodSidecar(), StatusCode::kInvalidArgument,
       "8 bits per sample"},
      {"one page", MakeTiff({p16}), GoodSidecar(), StatusCode::kInvalidArgument, "1 page"},
      {"three pages", MakeTiff({p16, p16, p16}), GoodSidecar(), StatusCode::kInvalidArgument,
       "exactly 2"},
      {"pages differ", MakeTiff({p16, wide}), GoodSidecar(), StatusCode::kInvalidArgument,
       "differ in size"},
      {"rgb", MakeTiff({rgb, rgb}), GoodSidecar(), StatusCode::kInvalidArgument,
       "samples per pixel"},
      {"float", MakeTiff({flt, flt}), GoodSidecar(), StatusCode::kInvalidArgument, "unsigned"},
      {"min-is-white", MakeTiff({white, white}), GoodSidecar(), StatusCode::kInvalidArgument,
       "min-is-black"},
      {"100000x100000 header", MakeTiff({huge, huge}), GoodSidecar(),
       StatusCode::kResourceExhausted, "100000x100000"},
      {"short strip", MakeTiff({short_strip, short_strip}), GoodSidecar(), StatusCode::kDataLoss,
       "strip 0"},
      {"missing sidecar", MakeTiff({p16, p16}), "", StatusCode::kNotFound, "sidecar"},
      {"sidecar not json", MakeTiff({p16, p16}), "{scan_id: oops", StatusCode::kInvalidArgument,
       "not valid JSON"},
      {"sidecar is an array", MakeTiff({p16, p16}), "[1,2]", StatusCode::kInvalidArgument,
       "not a JSON object"},
      {"sidecar lacks pixel_mm", MakeTiff({p16, p16}), R"({"scan_id":"a"})",
       StatusCode::kInvalidArgument, "lacks \"pixel_mm\""},
      {"sidecar lacks scan_id", MakeTiff({p16, p16}), R"({"pixel_mm":1})",
       StatusCode::kInvalidArgument, "lacks \"scan_id\""},
      {"pixel_mm negative", MakeTiff({p16, p16}), R"({"scan_id":"a","pixel_mm":-2})",
       StatusCode::kInvalidArgument, "pixel_mm"},
      {"scan_id not a string", MakeTiff({p16, p16}), R"({"scan_id":7,"pixel_mm":1})",
       StatusCode::kInvalidArgument, "must be a string"},
  };
}

TEST(BadScan, EachMalformedInputGivesItsError) {
  fs::path dir = testing::TempDir("bad");
  auto cases = Cases();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    fs::path tif = dir / (std::to_string(&c - &cases[0]) + ".tif");
    testing::WriteBytes(tif, c.tiff);
    fs::path side = fs::path(tif).replace_extension(".json");
    fs::remove(side);
    if (!c.sidecar.empty()) testing::WriteBytes(side, c.sidecar);
    auto r = ReadScan(tif.string());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.code) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
    // The message names the file at fault: the TIFF or its sidecar.
    EXPECT_NE(r.status().message().find(fs::path(tif).replace_extension().string()),
              std::string::npos)
        << r.status().message();
  }
}

TEST(BadScan, HugeHeaderIsRefusedQuicklyWithoutAllocating) {
  TiffPage huge;
  huge.width = 100000;
  huge.height = 100000;
  huge.data_bytes = 64;
  std::string bytes = MakeTiff({huge, huge});
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  auto t0 = std::chrono::steady_clock::now();
  auto r = DecodeScan(bytes, GoodSidecar(), "huge.tif");
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  getrusage(RUSAGE_SELF, &after);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_LT(s, 0.5);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024) << "KiB of new peak memory";
}

TEST(BadScan, ThePixelLimitIsAnOption) {
  Scan s = testing::RandomScan(100, 100, 2);
  std::string bytes = *EncodeScanTiff(s);
  ScanReadOptions small;
  small.max_pixels = 5000;
  EXPECT_EQ(DecodeScan(bytes, GoodSidecar(), "s.tif", small).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_TRUE(DecodeScan(bytes, GoodSidecar(), "s.tif").ok());
}

TEST(BadScan, MissingSidecarCanBeAllowed) {
  fs::path dir = testing::TempDir("nosidecar");
  Scan s = testing::RandomScan(10, 10, 4);
  testing::WriteBytes(dir / "vendor_scan.tif", *EncodeScanTiff(s));
  ScanReadOptions o;
  o.require_sidecar = false;
  auto r = ReadScan((dir / "vendor_scan.tif").string(), o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->meta.scan_id, "vendor_scan");
  EXPECT_EQ(ReadScan((dir / "missing.tif").string()).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace clearsight
