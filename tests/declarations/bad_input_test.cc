// Data-driven: every file in tests/data/bad/ is read, and its .expect file says what must come
// out: "LINE FIELD REASON" per rejection (FIELD "-" for whole-record problems), "accepted N",
// "identical duplicates skipped N", "flagged LINE FIELD REASON" for a warning (records kept), or
// "error: TEXT" when the whole file must fail. Inputs are .csv, .jsonl or .xml (postal EAD).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "clearsight/declarations.h"

namespace clearsight {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

TEST(BadInput, EachFileProducesItsExpectedErrors) {
  fs::path dir = fs::path(CS_SOURCE_DIR) / "tests/data/bad";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".expect") continue;
    fs::path input;
    for (const char* ext : {".csv", ".jsonl", ".xml"}) {
      fs::path candidate = entry.path();
      candidate.replace_extension(ext);
      if (fs::exists(candidate)) input = candidate;
    }
    ASSERT_FALSE(input.empty()) << "no input beside " << entry.path();
    SCOPED_TRACE(input.filename().string());
    ++cases;
    IngestReport report;
    auto batch = ReadDeclarations(input.string(), ReadOptions{}, &report);
    for (const auto& want : Lines(entry.path())) {
      if (want.rfind("error: ", 0) == 0) {
        ASSERT_FALSE(batch.ok()) << "expected the whole file to fail";
        EXPECT_NE(batch.status().message().find(want.substr(7)), std::string::npos)
            << batch.status().message();
        EXPECT_NE(batch.status().message().find(input.filename().string()), std::string::npos)
            << "the error names the file";
        continue;
      }
      ASSERT_TRUE(batch.ok()) << batch.status().message();
      if (want.rfind("accepted ", 0) == 0) {
        EXPECT_EQ(report.accepted, std::stoll(want.substr(9)));
        EXPECT_EQ(static_cast<int64_t>(batch->rows.size()), report.accepted);
        continue;
      }
      if (want.rfind("identical duplicates skipped ", 0) == 0) {
        EXPECT_EQ(report.duplicates_identical, std::stoll(want.substr(29)));
        continue;
      }
      const bool flag = want.rfind("flagged ", 0) == 0;
      std::istringstream ss(flag ? want.substr(8) : want);
      int64_t line;
      std::string field, reason;
      ss >> line >> field;
      std::getline(ss, reason);
      reason = reason.substr(1);
      if (field == "-") field.clear();
      bool found = false;
      for (const auto& r : flag ? report.warnings : report.rejections) {
        if (r.line == line && r.field == field && r.reason.find(reason) != std::string::npos)
          found = true;
      }
      EXPECT_TRUE(found) << "no " << (flag ? "warning" : "rejection") << " at line " << line
                         << " field '" << field << "' saying '" << reason << "'";
    }
    // One record a line, but for XML, where a record spans lines.
    if (batch.ok() && input.extension() != ".xml") {
      EXPECT_EQ(report.accepted + report.rejected + report.duplicates_identical,
                static_cast<int64_t>(Lines(input).size()) - (input.extension() == ".csv" ? 1 : 0))
          << "every record is accounted for";
    }
  }
  EXPECT_GE(cases, 10);
}

}  // namespace
}  // namespace clearsight
