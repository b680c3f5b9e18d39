#include "clearsight/status.h"

#include <gtest/gtest.h>

namespace clearsight {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  CS_ASSIGN_OR_RETURN(int h, Half(x));
  CS_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(Status, OkByDefaultAndCarriesCodeAndMessage) {
  EXPECT_TRUE(Status().ok());
  Status s = Status::NotFound("model.json: no such file");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "not found: model.json: no such file");
  EXPECT_EQ(s.WithContext("loading").message(), "loading: model.json: no such file");
}

TEST(Status, WithContextAddsExactlyOneSeparator) {
  Status s = Status::NotFound("model.json: no such file");
  EXPECT_EQ(s.WithContext("loading the risk model").message(),
            "loading the risk model: model.json: no such file");
  // Nested contexts read as a path of causes, each joined by one ": ".
  EXPECT_EQ(s.WithContext("models/risk").WithContext("loading the risk model").message(),
            "loading the risk model: models/risk: model.json: no such file");
  EXPECT_EQ(s.WithContext("x").code(), StatusCode::kNotFound);
  EXPECT_TRUE(Status::Ok().WithContext("loading").ok());
}

TEST(Result, PropagatesTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "odd: 3");
}

}  // namespace
}  // namespace clearsight
