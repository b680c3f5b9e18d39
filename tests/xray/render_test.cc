#include <gtest/gtest.h>

#include "clearsight/xray_analyze.h"
#include "clearsight/xray_scan.h"
#include "xray/xray_test_util.h"

namespace clearsight {
namespace {

// Left half air, right half at transmission 0.25.
Scan TwoHalves() {
  Scan s;
  s.width = 40;
  s.height = 20;
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 40; ++x) {
      s.low.push_back(x < 20 ? 65535 : EncodeTransmission(0.1));
      s.high.push_back(x < 20 ? 65535 : EncodeTransmission(0.25));
    }
  s.meta.scan_id = "halves";
  s.meta.pixel_mm = 1;
  return s;
}

TEST(Render, GrayPngAppliesWindowAndLevel) {
  Scan s = TwoHalves();
  GrayRenderOptions o;
  o.window = 1.0;
  o.level = 0.5;
  auto png = RenderGrayPng(s, o);
  ASSERT_TRUE(png.ok());
  auto img = DecodePng(*png);
  ASSERT_TRUE(img.ok()) << img.status().message();
  ASSERT_EQ(img->width, 40);
  ASSERT_EQ(img->height, 20);
  ASSERT_EQ(img->channels, 1);
  EXPECT_EQ(img->pixels[0], 255);                 // air: transmission 1
  EXPECT_NEAR(img->pixels[30], 0.25 * 255, 1.0);  // (0.25 - 0.5)/1 + 0.5
  o.use_low = true;
  auto low = DecodePng(*RenderGrayPng(s, o));
  EXPECT_NEAR(low->pixels[30], 0.1 * 255, 1.0);
  // A narrow window around the dense half stretches it.
  o.use_low = false;
  o.window = 0.1;
  o.level = 0.25;
  auto narrow = DecodePng(*RenderGrayPng(s, o));
  EXPECT_NEAR(narrow->pixels[30], 128, 1.0);
  EXPECT_EQ(narrow->pixels[0], 255);
}

TEST(Render, AutomaticWindowUsesTheFullRange) {
  auto img = DecodePng(*RenderGrayPng(TwoHalves(), GrayRenderOptions{}));
  ASSERT_TRUE(img.ok());
  EXPECT_LT(img->pixels[30], 10);
  EXPECT_GT(img->pixels[0], 245);
}

TEST(Render, MaterialColoursFollowTheClassPerPixel) {
  ScanAnalysis a;
  a.width = 4;
  a.height = 1;
  a.channels.log_high = {0.0f, 1.0f, 1.0f, 1.0f};
  a.channels.material = {0, 1, 2, 3};
  auto img = DecodePng(*RenderMaterialPng(a));
  ASSERT_TRUE(img.ok());
  ASSERT_EQ(img->channels, 3);
  const uint8_t* p = img->pixels.data();
  EXPECT_GT(p[0], 200);         // air: white-ish
  EXPECT_GT(p[3], p[5] + 60);   // organic: orange (R >> B)
  EXPECT_GT(p[7], p[6] + 40);   // inorganic: green
  EXPECT_GT(p[11], p[9] + 60);  // metal: blue
  ScanAnalysis empty;
  empty.width = 4;
  empty.height = 1;
  EXPECT_EQ(RenderMaterialPng(empty).status().code(), StatusCode::kFailedPrecondition);
}

TEST(Render, DecodePngRefusesGarbage) {
  EXPECT_FALSE(DecodePng("not a png").ok());
  std::string png = *EncodePngGray8(2, 2, {1, 2, 3, 4});
  EXPECT_FALSE(DecodePng(png.substr(0, png.size() / 2)).ok());
  EXPECT_FALSE(EncodePngGray8(3, 3, {1, 2}).ok());
}

}  // namespace
}  // namespace clearsight
