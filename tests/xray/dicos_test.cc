#include <gtest/gtest.h>

#include "clearsight/xray_scan.h"
#include "xray/xray_test_util.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;

TEST(Dicos, RoundTripIsLosslessForPixelsAndMeta) {
  fs::path dir = testing::TempDir("dicos");
  Scan s = testing::RandomScan(123, 77, 21);
  std::string prefix = (dir / "parcel").string();
  ASSERT_TRUE(WriteDicos(s, prefix).ok());
  auto back = ReadDicos(prefix);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->low, s.low);
  EXPECT_EQ(back->high, s.high);
  EXPECT_EQ(back->meta, s.meta);
}

// Checks the files with no DICOM library: preamble, the DICOS DX "for processing" SOP class,
// modality DX, and the two energies sharing one study.
TEST(Dicos, FilesAreDicosDigitalXRayObjects) {
  fs::path dir = testing::TempDir("dicos_bytes");
  Scan s = testing::RandomScan(16, 16, 2);
  std::string prefix = (dir / "p").string();
  ASSERT_TRUE(WriteDicos(s, prefix).ok());
  DicosPaths paths = DicosPathsFor(prefix);
  for (const auto& p : {paths.low, paths.high}) {
    std::string b = testing::ReadBytes(p);
    ASSERT_GT(b.size(), 132u + 16 * 16 * 2);
    EXPECT_EQ(b.substr(128, 4), "DICM");
    EXPECT_NE(b.find("1.2.840.10008.5.1.4.1.1.501.2.2"), std::string::npos)
        << "DICOS DX for processing";
    EXPECT_NE(b.find("DX"), std::string::npos);
  }
  EXPECT_NE(testing::ReadBytes(paths.low).find("LOW ENERGY"), std::string::npos);
  EXPECT_NE(testing::ReadBytes(paths.high).find("HIGH ENERGY"), std::string::npos);
  // Deterministic UIDs: the same scan writes the same bytes.
  std::string first = testing::ReadBytes(paths.low);
  ASSERT_TRUE(WriteDicos(s, prefix).ok());
  EXPECT_EQ(testing::ReadBytes(paths.low), first);
}

TEST(Dicos, MismatchedOrMissingFilesAreRefused) {
  fs::path dir = testing::TempDir("dicos_bad");
  Scan a = testing::RandomScan(16, 16, 1), b = testing::RandomScan(16, 16, 2);
  ASSERT_TRUE(WriteDicos(a, (dir / "a").string()).ok());
  ASSERT_TRUE(WriteDicos(b, (dir / "b").string()).ok());
  // Low of one scan with high of another: different studies.
  fs::copy_file(dir / "a_low.dcm", dir / "mix_low.dcm");
  fs::copy_file(dir / "b_high.dcm", dir / "mix_high.dcm");
  auto mix = ReadDicos((dir / "mix").string());
  ASSERT_FALSE(mix.ok());
  EXPECT_NE(mix.status().message().find("different studies"), std::string::npos);
  // Swapped energies.
  fs::copy_file(dir / "a_high.dcm", dir / "swap_low.dcm");
  fs::copy_file(dir / "a_low.dcm", dir / "swap_high.dcm");
  EXPECT_NE(ReadDicos((dir / "swap").string()).status().message().find("swapped"),
            std::string::npos);
  EXPECT_EQ(ReadDicos((dir / "none").string()).status().code(), StatusCode::kNotFound);
  // Truncated pixel data.
  std::string low = testing::ReadBytes(dir / "a_low.dcm");
  testing::WriteBytes(dir / "cut_low.dcm", low.substr(0, low.size() - 100));
  fs::copy_file(dir / "a_high.dcm", dir / "cut_high.dcm");
  EXPECT_FALSE(ReadDicos((dir / "cut").string()).ok());
  // Not DICOM at all.
  testing::WriteBytes(dir / "junk_low.dcm", "hello");
  fs::copy_file(dir / "a_high.dcm", dir / "junk_high.dcm");
  EXPECT_EQ(ReadDicos((dir / "junk").string()).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace clearsight
