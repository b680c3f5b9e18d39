#include "clearsight/text.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cstring>
#include <string>
#include <vector>

namespace clearsight {
namespace {

TEST(ParseDouble, AcceptsOnlyWholeFiniteNumbers) {
  double v = 0;
  EXPECT_TRUE(ParseDouble(" 12.5 ", &v));
  EXPECT_DOUBLE_EQ(v, 12.5);
  EXPECT_TRUE(ParseDouble("+4", &v));
  EXPECT_TRUE(ParseDouble("1e3", &v));
  EXPECT_DOUBLE_EQ(v, 1000);
  for (const char* bad : {"", "abc", "1,5", "nan", "inf", "-inf", "1.2.3", "++1", "12kg"})
    EXPECT_FALSE(ParseDouble(bad, &v)) << bad;
}

TEST(ParseDouble, PlainDecimalsGiveTheSameBitsAsFromChars) {
  // The fast path for plain decimals against the full parser, on digit counts and point positions
  // around its 15-digit limit and on edge forms.
  uint64_t state = 12345;
  auto next = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull; };
  std::vector<std::string> cases = {"0",
                                    "-0",
                                    "0.0",
                                    ".5",
                                    "5.",
                                    "-.25",
                                    "007.50",
                                    "123456789012345",
                                    "1234567890123456",
                                    "0.000000000000001",
                                    "999999999999999.9",
                                    "372254.4",
                                    "-0.1",
                                    "0.3",
                                    "2.675"};
  for (int k = 0; k < 20000; ++k) {
    const int digits = 1 + static_cast<int>(next() >> 33) % 18;
    std::string t = (next() >> 40) % 4 == 0 ? "-" : "";
    const int point = static_cast<int>(next() >> 33) % (digits + 2) - 1;  // -1: none
    for (int d = 0; d < digits; ++d) {
      if (d == point) t += '.';
      t += static_cast<char>('0' + (next() >> 35) % 10);
    }
    cases.push_back(t);
  }
  for (const auto& c : cases) {
    double ours = 0, ref = 0;
    ASSERT_TRUE(ParseDouble(c, &ours)) << c;
    auto [p, ec] = std::from_chars(c.data(), c.data() + c.size(), ref);
    ASSERT_TRUE(ec == std::errc() && p == c.data() + c.size()) << c;
    EXPECT_EQ(std::memcmp(&ours, &ref, sizeof(double)), 0) << c << ": " << ours << " vs " << ref;
  }
  double v = 0;
  for (const char* bad : {".", "-.", "-", "1.2.", "1..2"})
    EXPECT_FALSE(ParseDouble(bad, &v)) << bad;
}

TEST(IsValidUtf8, RejectsMalformedSequences) {
  EXPECT_TRUE(IsValidUtf8("plain ascii text, long enough for the fast path"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x93\xA6"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));  // surrogate
  EXPECT_FALSE(IsValidUtf8("abc\xFFxyz"));
}

TEST(CsvEscape, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(CsvEscape("plain"), "plain");
  EXPECT_EQ(CsvEscape("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvEscape("say \"x\""), "\"say \"\"x\"\"\"");
}

}  // namespace
}  // namespace clearsight
