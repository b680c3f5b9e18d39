// ExtraValues: a row's extra-column values, packed, inline up to 32 bytes and on the heap beyond.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "clearsight/declarations.h"

namespace clearsight {
namespace {

// n values "v<k>" padded to `width` characters each.
ExtraValues Make(size_t n, size_t width, std::vector<std::string>* expected) {
  ExtraValues e;
  expected->clear();
  for (size_t k = 0; k < n; ++k) {
    std::string v = "v" + std::to_string(k);
    v.resize(width, static_cast<char>('a' + k % 26));
    e.Set(k, v);
    expected->push_back(v);
  }
  return e;
}

void ExpectValues(const ExtraValues& e, const std::vector<std::string>& expected) {
  ASSERT_EQ(e.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_EQ(e[k], expected[k]) << "value " << k;
  EXPECT_EQ(e[expected.size()], "") << "past the end";
}

TEST(ExtraValues, KeepsEveryValueAcrossTheInlineLimit) {
  // The KCS file's six extra columns (17 bytes packed), then sizes around 32 bytes and far beyond.
  ExtraValues kcs{"B", "11", "21", "11", "FEU1", "G"};
  ExpectValues(kcs, {"B", "11", "21", "11", "FEU1", "G"});
  std::vector<std::string> expected;
  for (size_t n : {1u, 2u, 3u, 5u, 8u, 40u})
    for (size_t width : {2u, 5u, 7u, 10u, 11u, 31u, 32u, 33u, 200u}) {
      ExtraValues e = Make(n, width, &expected);
      SCOPED_TRACE("n=" + std::to_string(n) + " width=" + std::to_string(width));
      ExpectValues(e, expected);
    }
}

TEST(ExtraValues, CopiesMovesAndComparesInlineAndOnTheHeap) {
  std::vector<std::string> small_values, large_values;
  const ExtraValues small = Make(3, 4, &small_values);   // 14 bytes: inline
  const ExtraValues large = Make(6, 20, &large_values);  // 125 bytes: heap
  for (const auto* source : {&small, &large}) {
    const auto& expected = source == &small ? small_values : large_values;
    ExtraValues copy(*source);
    ExpectValues(copy, expected);
    EXPECT_TRUE(copy == *source);
    ExtraValues moved(std::move(copy));
    ExpectValues(moved, expected);
    EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    EXPECT_EQ(copy[0], "");     // NOLINT(bugprone-use-after-move)
    // Assignment in every direction between inline and heap.
    std::vector<std::string> scratch;
    ExtraValues target = Make(2, 50, &scratch);  // heap
    target = *source;
    ExpectValues(target, expected);
    ExtraValues target2 = Make(1, 3, &scratch);  // inline
    target2 = std::move(moved);
    ExpectValues(target2, expected);
    target2 = target2;  // NOLINT: self-assignment keeps the values
    ExpectValues(target2, expected);
  }
  EXPECT_FALSE(small == large);
  ExtraValues a{"x", "y"}, b{"x", "y"}, c{"x", "y", ""}, d{"xy"};
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c) << "an empty third value is a value";
  EXPECT_FALSE(a == d);
}

TEST(ExtraValues, SetsOutOfOrderPadsAndReplacesTheSeparator) {
  ExtraValues e;
  e.Set(2, "third");
  ExpectValues(e, {"", "", "third"});
  e.Set(0, "a value long enough to leave the inline buffer");
  ExpectValues(e, {"a value long enough to leave the inline buffer", "", "third"});
  e.Set(1, "mid");
  ExpectValues(e, {"a value long enough to leave the inline buffer", "mid", "third"});
  e.Set(3, std::string("unit\x1fseparator"));
  EXPECT_EQ(e[3], "unit separator");
  // A value taken from the same object, while it grows onto the heap.
  ExtraValues f{"0123456789", "abcdefghij"};
  f.Set(2, f[0]);
  f.Set(3, f[1]);
  f.Set(4, f[2]);
  ExpectValues(f, {"0123456789", "abcdefghij", "0123456789", "abcdefghij", "0123456789"});
}

}  // namespace
}  // namespace clearsight
