#include "clearsight/declarations.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace clearsight {
namespace {

TEST(ParseDate, RoundTripsAndRejectsImpossibleDates) {
  int32_t d = 0;
  ASSERT_TRUE(ParseDate("2020-01-01", &d));
  EXPECT_EQ(d, 18262);
  EXPECT_EQ(FormatDate(d), "2020-01-01");
  ASSERT_TRUE(ParseDate("2024-02-29T10:00:00Z", &d));
  EXPECT_EQ(FormatDate(d), "2024-02-29");
  EXPECT_EQ(DayOfWeek(18262), 2);  // a Wednesday
  for (const char* bad : {"2023-02-29", "2024-04-31", "2024-00-10", "24-01-01", "2024/01/01", ""})
    EXPECT_FALSE(ParseDate(bad, &d)) << bad;
}

TEST(KcsAdapter, MapsAllColumnsAndKeepsOutcomes) {
  IngestReport report;
  ReadOptions options;
  options.format = DeclarationFormat::kKcs;
  auto batch =
      ReadDeclarations(std::string(CS_DATA) + "/customs/df_syn_valid_eng.csv", options, &report);
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(report.accepted, 8134);
  EXPECT_EQ(report.rejected, 0);
  const Declaration& d = batch->rows[0];
  EXPECT_EQ(d.hs_code.size(), 6u);
  EXPECT_EQ(d.currency, "KRW");
  EXPECT_EQ(d.inspected, 1);
  EXPECT_GE(d.fraud, 0);
  EXPECT_GE(batch->ExtraIndex("process_type"), 0);
  EXPECT_GE(batch->ExtraIndex("origin_indicator"), 0);
  int64_t fraud = 0, critical = 0;
  for (const auto& r : batch->rows) {
    fraud += r.fraud == 1;
    critical += r.critical == 1;
    if (r.critical == 1) {
      EXPECT_EQ(r.fraud, 1);
    }
  }
  EXPECT_NEAR(fraud / 8134.0, 0.2095, 0.001);  // as the dataset README states
  EXPECT_GT(critical, 0);
}

TEST(KcsAdapter, AutoDetectsTheFormatFromTheHeader) {
  auto batch = ReadDeclarations(std::string(CS_DATA) + "/customs/df_syn_valid_eng.csv",
                                ReadOptions{}, nullptr);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->rows.size(), 8134u);
}

TEST(NativeCsv, RoundTripsThroughWriterWithQuotingAndExtras) {
  DeclarationBatch b;
  b.extra_columns = {"lane"};
  Declaration d;
  d.declaration_id = "X1";
  d.date = 19000;
  d.importer_id = "IMP,1";
  d.hs_code = "010121";
  d.origin_country = "FR";
  d.net_mass_kg = 12.25;
  d.declared_value = 1e6;
  d.description = "horses, \"live\"\nsecond line";
  d.tax_rate = 8;
  d.fraud = 0;
  d.extra = {"A"};
  b.rows.push_back(d);
  auto path = (std::filesystem::temp_directory_path() / "cs_roundtrip.csv").string();
  ASSERT_TRUE(WriteDeclarationsCsv(path, b).ok());
  IngestReport report;
  auto back = ReadDeclarations(path, ReadOptions{}, &report);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->rows.size(), 1u)
      << (report.rejections.empty() ? "" : report.rejections[0].ToString());
  EXPECT_TRUE(back->rows[0].SameContent(d));
  EXPECT_EQ(back->extra_columns, b.extra_columns);
}

TEST(NativeJsonl, ReadsTheSameSchema) {
  std::string data =
      R"({"declaration_id":"J1","date":"2024-01-02","importer_id":"I1","hs_code":"8517.12","origin_country":"cn","net_mass_kg":10,"declared_value":"100.5","fraud":true,"lane":"B"})"
      "\n";
  IngestReport report;
  auto batch = ParseDeclarations(data, "x.jsonl", ReadOptions{}, &report);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->rows.size(), 1u);
  EXPECT_EQ(batch->rows[0].hs_code, "851712");
  EXPECT_EQ(batch->rows[0].origin_country, "CN");
  EXPECT_DOUBLE_EQ(batch->rows[0].declared_value, 100.5);
  EXPECT_EQ(batch->rows[0].fraud, 1);
  EXPECT_EQ(batch->Extra(batch->rows[0], batch->ExtraIndex("lane")), "B");
}

TEST(ValidateDeclaration, OriginIsTwoLettersAsTheReadersRequire) {
  Declaration d;
  d.declaration_id = "V1";
  d.importer_id = "I1";
  d.hs_code = "851712";
  d.net_mass_kg = 1;
  d.declared_value = 1;
  for (const char* good : {"CN", "de"}) {
    d.origin_country = good;
    EXPECT_TRUE(ValidateDeclaration(d).ok()) << good;
  }
  for (const char* bad : {"0", "1E3", "CHN", "C1", "", "C"}) {
    d.origin_country = bad;
    Status s = ValidateDeclaration(d);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("origin_country"), std::string::npos) << s.message();
  }
}

TEST(Ingest, AHugeLineIsRejectedWithoutLosingTheRest) {
  std::string data =
      "declaration_id,date,importer_id,hs_code,origin_country,net_mass_kg,declared_value\n";
  data += "A," + std::string(3 << 20, 'z') + "\n";
  data += "B,2024-01-02,I1,851712,CN,10,100\n";
  IngestReport report;
  auto batch = ParseDeclarations(data, "huge.csv", ReadOptions{}, &report);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(report.accepted, 1);
  ASSERT_EQ(report.rejected, 1);
  EXPECT_EQ(report.rejections[0].line, 2);
  EXPECT_LE(report.rejections[0].raw.size(), 4096u);
}

}  // namespace
}  // namespace clearsight
