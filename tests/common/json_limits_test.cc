#include "common/json_limits.h"

#include <gtest/gtest.h>

#include <string>

namespace clearsight {
namespace {

std::string Nested(size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }

TEST(ParseJsonBounded, ParsesWhatFitsTheLimits) {
  auto j = ParseJsonBounded(R"({"a": [1, 2.5, "x", true, null, {"b": {}}]})", "the body");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["a"].size(), 6u);
  EXPECT_TRUE(ParseJsonBounded(Nested(64), "the body").ok());
}

TEST(ParseJsonBounded, StopsAtTheDepthLimitInsteadOfBuildingTheDocument) {
  for (const std::string& text : {Nested(65), Nested(100000), std::string(31 << 20, '['),
                                  R"({"red_share": )" + Nested(100000) + "}"}) {
    auto j = ParseJsonBounded(text, "the body");
    ASSERT_FALSE(j.ok());
    EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(j.status().message().find("deeper than 64 levels"), std::string::npos)
        << j.status().message();
  }
  JsonLimits shallow;
  shallow.max_depth = 2;
  EXPECT_TRUE(ParseJsonBounded(R"({"a": []})", "x", shallow).ok());
  EXPECT_FALSE(ParseJsonBounded(R"({"a": [[]]})", "x", shallow).ok());
}

TEST(ParseJsonBounded, StopsAtTheValueLimit) {
  JsonLimits few;
  few.max_values = 1000;
  std::string text = "[0";
  for (int i = 0; i < 5000; ++i) text += ",0";
  text += "]";
  auto j = ParseJsonBounded(text, "the body", few);
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("more than 1000 JSON values"), std::string::npos)
      << j.status().message();
}

TEST(ParseJsonBounded, NamesWhereTheSyntaxBroke) {
  auto j = ParseJsonBounded(R"({"a": 1,})", "the sidecar");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("the sidecar is not valid JSON (byte "), std::string::npos)
      << j.status().message();
  EXPECT_FALSE(ParseJsonBounded("", "x").ok());
  EXPECT_FALSE(ParseJsonBounded("{} {}", "x").ok());
}

}  // namespace
}  // namespace clearsight
