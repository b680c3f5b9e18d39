#include "common/csv.h"

#include <gtest/gtest.h>

namespace clearsight {
namespace {

std::vector<std::vector<std::string>> ReadAll(std::string_view data,
                                              std::vector<std::string>* errors = nullptr,
                                              std::vector<int64_t>* lines = nullptr) {
  CsvReader r(data, 64);
  CsvRecord rec;
  std::vector<std::vector<std::string>> out;
  while (r.Next(&rec)) {
    if (!rec.error.empty()) {
      if (errors) errors->push_back(rec.error);
      continue;
    }
    out.emplace_back(rec.fields.begin(), rec.fields.end());
    if (lines) lines->push_back(rec.line);
  }
  return out;
}

TEST(CsvReader, SplitsPlainRecordsAndSkipsBlankLines) {
  std::vector<int64_t> lines;
  auto rows = ReadAll("a,b,c\r\n\n1,,3\n", nullptr, &lines);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"1", "", "3"}));
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 3}));
}

TEST(CsvReader, UnescapesQuotedFieldsWithCommasQuotesAndNewlines) {
  std::vector<int64_t> lines;
  auto rows =
      ReadAll("x,\"a,b\",\"say \"\"hi\"\"\"\n\"multi\nline\",2,3\nlast,1,2", nullptr, &lines);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][1], "a,b");
  EXPECT_EQ(rows[0][2], "say \"hi\"");
  EXPECT_EQ(rows[1][0], "multi\nline");
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 2, 4}));
}

TEST(CsvReader, RejectsUnterminatedQuoteAndResynchronises) {
  std::vector<std::string> errors;
  auto rows = ReadAll("\"open,1\nok,2\n", &errors);
  ASSERT_EQ(errors.size(), 1u);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "ok");
}

TEST(CsvReader, RejectsRecordsOverTheLimit) {
  std::vector<std::string> errors;
  std::string big(200, 'x');
  auto rows = ReadAll(big + "\nsmall,1\n", &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("longer than the limit"), std::string::npos);
  ASSERT_EQ(rows.size(), 1u);
}

TEST(CsvReader, RejectsTextAfterClosingQuote) {
  std::vector<std::string> errors;
  ReadAll("\"ab\"c,1\n", &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("after a closing quote"), std::string::npos);
}

}  // namespace
}  // namespace clearsight
