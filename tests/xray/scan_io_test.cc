#include <gtest/gtest.h>

#include <cstring>

#include "clearsight/xray_scan.h"
#include "xray/xray_test_util.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;
using testing::RandomScan;
using testing::TempDir;

TEST(ScanFormat, TiffRoundTripIsLosslessForPixelsAndSidecar) {
  fs::path dir = TempDir("roundtrip");
  Scan s = RandomScan(97, 61, 7);
  ASSERT_TRUE(WriteScan(s, (dir / "a.tif").string()).ok());
  ASSERT_TRUE(fs::exists(dir / "a.json"));
  auto back = ReadScan((dir / "a.tif").string());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->low, s.low);
  EXPECT_EQ(back->high, s.high);
  EXPECT_EQ(back->meta, s.meta);
  EXPECT_TRUE(*back == s);
}

TEST(ScanFormat, DeflateCompressedScansReadBackTheSame) {
  fs::path dir = TempDir("deflate");
  Scan s = RandomScan(64, 48, 3);
  ScanWriteOptions o;
  o.compression = TiffCompression::kDeflate;
  ASSERT_TRUE(WriteScan(s, (dir / "d.tif").string(), o).ok());
  auto back = ReadScan((dir / "d.tif").string());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(*back == s);
}

TEST(ScanFormat, SameScanWritesSameBytes) {
  Scan s = RandomScan(40, 30, 11);
  auto a = EncodeScanTiff(s), b = EncodeScanTiff(s);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

// Parses the TIFF with no library: two pages, 16 bits, one sample, same size, page 0 = low.
TEST(ScanFormat, FileIsTwoPage16BitTiffWithLowEnergyFirst) {
  Scan s = RandomScan(33, 21, 5);
  auto bytes = EncodeScanTiff(s);
  ASSERT_TRUE(bytes.ok());
  const std::string& b = *bytes;
  ASSERT_EQ(b.substr(0, 4), std::string("II*\0", 4));
  auto u16 = [&](size_t at) {
    uint16_t v;
    std::memcpy(&v, &b[at], 2);
    return v;
  };
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, &b[at], 4);
    return v;
  };
  uint32_t off = u32(4);
  int pages = 0;
  while (off) {
    uint16_t n = u16(off);
    uint32_t w = 0, h = 0, bits = 0, spp = 1, strip = 0, compression = 0;
    for (int i = 0; i < n; ++i) {
      size_t e = off + 2 + 12 * i;
      uint16_t tag = u16(e), type = u16(e + 2);
      uint32_t v = type == 3 ? u16(e + 8) : u32(e + 8);
      if (tag == 256) w = v;
      if (tag == 257) h = v;
      if (tag == 258) bits = v;
      if (tag == 259) compression = v;
      if (tag == 277) spp = v;
      if (tag == 273) strip = u32(e + 4) == 1 ? v : u32(v);
    }
    EXPECT_EQ(w, 33u);
    EXPECT_EQ(h, 21u);
    EXPECT_EQ(bits, 16u);
    EXPECT_EQ(spp, 1u);
    EXPECT_EQ(compression, 1u);
    // The first pixel of each page: low is 1 (RandomScan sets it), high is 65535.
    EXPECT_EQ(u16(strip), pages == 0 ? s.low[0] : s.high[0]);
    ++pages;
    off = u32(off + 2 + 12 * n);
  }
  EXPECT_EQ(pages, 2);
}

TEST(ScanFormat, TransmissionIsEncodedAndClampedTo1Through65535) {
  EXPECT_EQ(EncodeTransmission(1.0), 65535);
  EXPECT_EQ(EncodeTransmission(1.3), 65535);  // scatter and noise can exceed air
  EXPECT_EQ(EncodeTransmission(0.0), 1);
  EXPECT_EQ(EncodeTransmission(-0.2), 1);
  EXPECT_EQ(EncodeTransmission(1e-9), 1);
  EXPECT_EQ(EncodeTransmission(0.25), 16384);  // round(16383.75)
  EXPECT_EQ(EncodeTransmission(std::nan("")), 1);
  EXPECT_NEAR(DecodeTransmission(EncodeTransmission(0.123456)), 0.123456, 1e-5);
}

TEST(ScanFormat, SidecarKeepsUnknownFieldsAndOptionalOnesStayOptional) {
  ScanMeta m;
  m.scan_id = "x1";
  m.pixel_mm = 0.5;
  m.extra_json = R"({"vendor_field":[1,2,3]})";
  std::string j = ScanMetaToJson(m);
  EXPECT_EQ(j.find("consignment_id"), std::string::npos);
  EXPECT_EQ(j.find("kvp_low"), std::string::npos);
  auto back = ParseScanMeta(j, "t");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, m);
  auto minimal = ParseScanMeta(R"({"scan_id":"a","pixel_mm":1.2})", "t");
  ASSERT_TRUE(minimal.ok());
  EXPECT_EQ(minimal->scan_id, "a");
  EXPECT_TRUE(minimal->extra_json.empty());
}

TEST(ScanFormat, ValidateScanNamesTheProblem) {
  Scan s = RandomScan(8, 8, 1);
  EXPECT_TRUE(ValidateScan(s).ok());
  Scan zero = s;
  zero.low[5] = 0;
  EXPECT_NE(ValidateScan(zero).message().find("pixel of 0"), std::string::npos);
  Scan sizes = s;
  sizes.high.pop_back();
  EXPECT_NE(ValidateScan(sizes).message().find("pixels"), std::string::npos);
  Scan id = s;
  id.meta.scan_id = "";
  EXPECT_NE(ValidateScan(id).message().find("scan_id"), std::string::npos);
  Scan px = s;
  px.meta.pixel_mm = -1;
  EXPECT_NE(ValidateScan(px).message().find("pixel_mm"), std::string::npos);
  EXPECT_FALSE(WriteScan(zero, (TempDir("bad_write") / "z.tif").string()).ok());
}

TEST(ScanFormat, ListScansFindsTiffsSortedAndIgnoresTheRest) {
  fs::path dir = TempDir("list");
  for (const char* name : {"b.tif", "a.TIFF", "c.json", "d.png"})
    testing::WriteBytes(dir / name, "x");
  fs::create_directories(dir / "truth");
  auto list = ListScans(dir.string());
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(fs::path((*list)[0]).filename(), "a.TIFF");
  EXPECT_EQ(fs::path((*list)[1]).filename(), "b.tif");
  EXPECT_EQ(ListScans((dir / "nope").string()).status().code(), StatusCode::kNotFound);
}

TEST(ScanFormat, MaterialClassNamesRoundTrip) {
  for (auto c : {MaterialClass::kNone, MaterialClass::kOrganic, MaterialClass::kInorganic,
                 MaterialClass::kMetal, MaterialClass::kImpenetrable}) {
    auto back = ParseMaterialClass(MaterialClassName(c));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, c);
  }
  EXPECT_FALSE(ParseMaterialClass("plasma").ok());
  EXPECT_EQ(ClassifyZEff(7.4), MaterialClass::kOrganic);
  EXPECT_EQ(ClassifyZEff(13), MaterialClass::kInorganic);
  EXPECT_EQ(ClassifyZEff(26), MaterialClass::kMetal);
}

}  // namespace
}  // namespace clearsight
