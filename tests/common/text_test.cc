#include "common/text.h"

#include <gtest/gtest.h>

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

TEST(IsValidUtf8, RejectsMalformedSequences) {
  EXPECT_TRUE(IsValidUtf8("plain ascii text, long enough for the fast path"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x93\xA6"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("abc\xFFxyz"));
}

TEST(CsvEscape, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(CsvEscape("plain"), "plain");
  EXPECT_EQ(CsvEscape("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvEscape("say \"x\""), "\"say \"\"x\"\"\"");
}

}  // namespace
}  // namespace clearsight
