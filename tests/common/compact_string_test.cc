// CompactString: inline up to 15 bytes, heap beyond, and the std::string-like surface the
// declaration code uses.
#include "clearsight/compact_string.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace clearsight {
namespace {

TEST(CompactString, HoldsAnyLengthAndStaysNulTerminated) {
  static_assert(sizeof(CompactString) == 16);
  for (size_t n : {size_t{0}, size_t{1}, size_t{14}, size_t{15}, size_t{16}, size_t{17},
                   size_t{300}, size_t{70000}}) {
    std::string v;
    for (size_t i = 0; i < n; ++i) v.push_back(static_cast<char>('a' + i % 26));
    CompactString s(v);
    EXPECT_EQ(s.size(), n);
    EXPECT_EQ(s.empty(), n == 0);
    EXPECT_EQ(s.view(), v);
    EXPECT_EQ(std::string(s.c_str()), v) << n;  // terminated where it ends
    EXPECT_EQ(s.str(), v);
  }
}

// Found by fuzz_declarations_csv and fuzz_postal_xml (an empty field): an empty string_view has a
// null data(), and memcpy from null is undefined even for zero bytes (UBSan, debug preset).
TEST(CompactString, BuildsAndAssignsFromAnEmptyViewWithANullPointer) {
  const std::string_view empty;
  ASSERT_EQ(empty.data(), nullptr);
  CompactString a(empty);
  EXPECT_TRUE(a.empty());
  CompactString b("a value longer than fifteen bytes");
  b = empty;
  EXPECT_TRUE(b.empty());
  CompactString c("KR");
  c.clear();
  EXPECT_EQ(c.view(), "");
  EXPECT_EQ(std::string(c.c_str()), "");
}

TEST(CompactString, CopiesMovesAndReassignsAcrossTheInlineLimit) {
  const std::string shortv = "KR", longv = "a description longer than fifteen bytes";
  CompactString a(longv);
  CompactString b = a;  // deep copy
  EXPECT_EQ(b, longv);
  EXPECT_NE(a.data(), b.data());
  CompactString c = std::move(a);
  EXPECT_EQ(c, longv);
  EXPECT_TRUE(a.empty());  // NOLINT: a moved-from CompactString is empty
  c = shortv;              // heap -> inline
  EXPECT_EQ(c, shortv);
  c = longv;  // inline -> heap
  EXPECT_EQ(c, longv);
  const char* block = c.data();
  c = std::string(20, 'x');  // fits the block it has: reused
  EXPECT_EQ(c.data(), block);
  EXPECT_EQ(c, std::string(20, 'x'));
  c = c.view().substr(3, 17);  // assigning a piece of itself
  EXPECT_EQ(c, std::string(17, 'x'));
  c = c.view().substr(2, 5);  // and to inline from its own heap block
  EXPECT_EQ(c, "xxxxx");
  b = b;  // NOLINT: self-assignment keeps the value
  EXPECT_EQ(b, longv);
  c.clear();
  EXPECT_TRUE(c.empty());
  EXPECT_STREQ(c.c_str(), "");
  std::vector<CompactString> many(1000, CompactString(longv));
  many.resize(3000, CompactString("id"));  // reallocation moves them
  EXPECT_EQ(many[999], longv);
  EXPECT_EQ(many[2999], "id");
}

TEST(CompactString, ComparesConvertsAndConcatenatesLikeAString) {
  CompactString hs("851713");
  const std::string s = "851713";
  EXPECT_TRUE(hs == s && s == hs && hs == "851713" && "851713" == hs && hs == std::string_view(s));
  EXPECT_TRUE(hs != "85" && hs < "9" && "0" < hs && hs > std::string("8517"));
  EXPECT_EQ(hs.substr(0, 2), "85");
  EXPECT_TRUE(hs.starts_with("8517"));
  EXPECT_EQ(hs.find('7'), 3u);
  EXPECT_EQ("HS " + hs, "HS 851713");
  EXPECT_EQ(hs + "00", "85171300");
  EXPECT_EQ(std::string("x") + hs + std::string("y"), "x851713y");
  std::string as_string = hs;
  std::string_view as_view = hs;
  EXPECT_EQ(as_string, as_view);
  std::map<std::string, int> by_code{{"851713", 7}};
  EXPECT_EQ(by_code[hs], 7);
  std::unordered_set<CompactString> set{CompactString("a"), CompactString(std::string(40, 'b'))};
  EXPECT_EQ(set.count(CompactString(std::string(40, 'b'))), 1u);
  std::ostringstream os;
  os << hs;
  EXPECT_EQ(os.str(), "851713");
}

}  // namespace
}  // namespace clearsight
