// The case library in the store, on SQLite (store_test) and PostgreSQL (store_pg_test): which
// consignments are cases, the search filters, paging, and the trainer's mark with its tags.
#include <gtest/gtest.h>

#include "store/store_fixture.h"

namespace clearsight {
namespace {

class CaseStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    ASSERT_TRUE(store_->Write([&](StoreTxn& t) { return Fill(t); }).ok());
  }
  static std::string Body(const std::string& id, const std::string& hs, const std::string& importer,
                          const std::string& description) {
    return R"({"declaration_id":")" + id + R"(","hs_code":")" + hs + R"(","importer_id":")" +
           importer + R"(","description":")" + description + R"("})";
  }
  static constexpr int64_t kDay = 86400000;
  static constexpr int64_t kT0 = 1700000000000;
  // C1 narcotics found (a scan, a photo); C2 found clean, no scan; C3 not inspected; C4 no outcome;
  // C5 narcotics at first, then found clean on a second look: its latest outcome counts.
  Status Fill(StoreTxn& t) {
    const struct {
      const char* id;
      const char* hs;
      const char* importer;
      const char* description;
    } decls[] = {{"C1", "610910", "IMP-ACME", "Cotton T-shirts"},
                 {"C2", "850760", "IMP-VOLT", "Lithium cells"},
                 {"C3", "610910", "IMP-ACME", "Cotton T-shirts"},
                 {"C4", "640399", "IMP-SHOE", "Leather shoes"},
                 {"C5", "950300", "IMP-TOYS", "Plush toys"}};
    for (const auto& d : decls) {
      CS_RETURN_IF_ERROR(t.PutDecision(Decision(d.id, 0.9, "red")));
      DeclarationRow row =
          Decl(std::string("D-") + d.id, d.id, Body(d.id, d.hs, d.importer, d.description));
      SearchFieldsFromJson(&row);
      CS_RETURN_IF_ERROR(t.InsertDeclaration(row));
    }
    ScanRow s;
    s.scan_id = "S1";
    s.consignment_id = "C1";
    s.image_sha256 = std::string(64, 'a');
    s.source_format = "tiff";
    s.meta_json = "{}";
    CS_RETURN_IF_ERROR(t.InsertScan(s));
    OutcomeRow found = Outcome("C1", 0, "narcotics", -1, "Powder in the 50%_lining", "olga", kT0);
    found.seized_quantity = 1.2;
    found.seized_unit = "kg";
    CS_RETURN_IF_ERROR(t.InsertOutcome(&found));
    AttachmentRow photo;
    photo.consignment_id = "C1";
    photo.outcome_seq = found.seq;
    photo.sha256 = std::string(64, 'b');
    photo.content_type = "image/jpeg";
    photo.bytes = 10;
    photo.uploaded_by = "olga";
    CS_RETURN_IF_ERROR(t.InsertAttachment(photo).status());
    OutcomeRow clean = Outcome("C2", 0, "nothing", -1, "as declared", "oscar", kT0 + 2 * kDay);
    CS_RETURN_IF_ERROR(t.InsertOutcome(&clean));
    OutcomeRow skipped = Outcome("C3", 0, std::string(kNotInspected), -1, "", "olga", kT0);
    skipped.not_inspected_reason = "no staff";
    CS_RETURN_IF_ERROR(t.InsertOutcome(&skipped));
    OutcomeRow first = Outcome("C5", 0, "narcotics", -1, "", "olga", kT0 + kDay);
    CS_RETURN_IF_ERROR(t.InsertOutcome(&first));
    OutcomeRow second = Outcome("C5", 0, "nothing", -1, "lab: sugar", "olga", kT0 + 3 * kDay);
    return t.InsertOutcome(&second);
  }
  std::vector<std::string> Ids(const CaseQuery& q) {
    auto page = store_->Cases(q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> out;
    if (page.ok())
      for (const auto& c : page->items) out.push_back(c.consignment_id);
    return out;
  }
  Status Mark(const std::string& id, const CaseMark& mark) {
    return store_->Write([&](StoreTxn& t) { return t.PutCaseMark(id, mark); });
  }
  using Ids_ = std::vector<std::string>;
};

TEST_F(CaseStoreTest, CasesAreConsignmentsWithAnInspectionOutcomeNewestFirst) {
  auto page = store_->Cases({});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->total, 3);
  EXPECT_EQ(Ids({}), (Ids_{"C5", "C2", "C1"}));
  const CaseRow& c1 = page->items[2];
  EXPECT_EQ(c1.outcome.result, "narcotics");
  EXPECT_EQ(c1.outcome.notes, "Powder in the 50%_lining");
  EXPECT_DOUBLE_EQ(c1.outcome.seized_quantity, 1.2);
  EXPECT_EQ(c1.photos, 1);
  EXPECT_EQ(c1.scans, 1);
  EXPECT_EQ(c1.hs_code, "610910");
  EXPECT_EQ(c1.importer_id, "IMP-ACME");
  EXPECT_EQ(c1.description, "Cotton T-shirts");
  EXPECT_EQ(c1.channel, "red");
  EXPECT_FALSE(c1.mark.teaching);
  EXPECT_TRUE(c1.mark.marked_by.empty());
  // The latest outcome is the case's: C5 was found clean on the second look.
  EXPECT_EQ(page->items[0].outcome.result, "nothing");
  EXPECT_EQ(page->items[0].outcome.seq, 2);
  EXPECT_FALSE(store_->GetCase("C3")->has_value()) << "not inspected is no case";
  EXPECT_FALSE(store_->GetCase("C4")->has_value()) << "no outcome, no case";
  EXPECT_FALSE(store_->GetCase("nope")->has_value());
  auto one = store_->GetCase("C2");
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->outcome.officer, "oscar");
  EXPECT_EQ((*one)->scans, 0);
}

TEST_F(CaseStoreTest, FiltersByResultChapterDateScanAndText) {
  CaseQuery q;
  q.result = "narcotics";
  EXPECT_EQ(Ids(q), (Ids_{"C1"})) << "C5's latest outcome is nothing";
  q = {};
  q.hs_chapter = "61";
  EXPECT_EQ(Ids(q), (Ids_{"C1"}));
  q.hs_chapter = "85";
  EXPECT_EQ(Ids(q), (Ids_{"C2"}));
  q.hs_chapter = "6";
  EXPECT_EQ(store_->Cases(q).status().code(), StatusCode::kInvalidArgument);
  q = {};
  q.from_ms = kT0 + kDay;
  EXPECT_EQ(Ids(q), (Ids_{"C5", "C2"}));
  q.to_ms = kT0 + 2 * kDay;
  EXPECT_EQ(Ids(q), (Ids_{"C2"}));
  q = {};
  q.with_scan_only = true;
  EXPECT_EQ(Ids(q), (Ids_{"C1"}));
  // Text: the officer's note, the importer, the goods description, any case, % and _ literal.
  q = {};
  for (const char* text : {"acme", "LINING", "t-shirts", "50%_l", "c1"}) {
    q.text = text;
    EXPECT_EQ(Ids(q), (Ids_{"C1"})) << text;
  }
  q.text = "sugar";
  EXPECT_EQ(Ids(q), (Ids_{"C5"})) << "a note of an earlier or later outcome";
  q.text = "%";
  EXPECT_EQ(Ids(q), (Ids_{"C1"})) << "only C1's note has a %";
  q.text = "l_thium";
  EXPECT_TRUE(Ids(q).empty()) << "_ is no wildcard";
  q.text = "zzz";
  auto none = store_->Cases(q);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->total, 0);
}

TEST_F(CaseStoreTest, PagesCountTheWholeMatch) {
  CaseQuery q;
  q.limit = 1;
  q.offset = 1;
  auto page = store_->Cases(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 3);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].consignment_id, "C2");
  q.limit = 0;
  page = store_->Cases(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 3);
  EXPECT_TRUE(page->items.empty());
  q.limit = 1001;
  EXPECT_EQ(store_->Cases(q).status().code(), StatusCode::kInvalidArgument);
  q.limit = 10;
  q.offset = -1;
  EXPECT_EQ(store_->Cases(q).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CaseStoreTest, TheTrainersMarkIsNormalisedReplacedWholeAndSearchable) {
  CaseMark mark;
  mark.teaching = true;
  mark.tags.goods = {"  Cotton   T-Shirts ", "textiles", "TEXTILES", " "};
  mark.tags.threat_class = {"Narcotics"};
  mark.tags.concealment = {"False Bottom"};
  mark.marked_by = "tom";
  ASSERT_TRUE(Mark("C1", mark).ok());
  auto c1 = store_->GetCase("C1");
  ASSERT_TRUE(c1.ok() && c1->has_value());
  const CaseMark& got = (*c1)->mark;
  EXPECT_TRUE(got.teaching);
  EXPECT_EQ(got.tags.goods, (Ids_{"cotton t-shirts", "textiles"}));
  EXPECT_EQ(got.tags.threat_class, (Ids_{"narcotics"}));
  EXPECT_EQ(got.tags.concealment, (Ids_{"false bottom"}));
  EXPECT_EQ(got.marked_by, "tom");
  EXPECT_GT(got.marked_ms, 0);

  CaseQuery q;
  q.teaching_only = true;
  EXPECT_EQ(Ids(q), (Ids_{"C1"}));
  q = {};
  q.tag = "FALSE  bottom";
  EXPECT_EQ(Ids(q), (Ids_{"C1"}));
  q.tag = "textiles";
  EXPECT_EQ(Ids(q), (Ids_{"C1"}));
  q = {};
  q.threat_class = "narcotics";
  EXPECT_EQ(Ids(q), (Ids_{"C1"}));
  q.threat_class = "textiles";
  EXPECT_TRUE(Ids(q).empty()) << "a goods tag is no threat class";

  // Not a case: nothing is written.
  EXPECT_EQ(Mark("C3", mark).code(), StatusCode::kNotFound);
  EXPECT_EQ(Mark("C4", mark).code(), StatusCode::kNotFound);
  q = {};
  q.teaching_only = true;
  EXPECT_EQ(Ids(q), (Ids_{"C1"}));

  // A mark replaces the one before, tags and all; and it survives a reopen.
  CaseMark plain;
  plain.marked_by = "tina";
  plain.tags.concealment = {"lining"};
  ASSERT_TRUE(Mark("C1", plain).ok());
  Reopen();
  c1 = store_->GetCase("C1");
  ASSERT_TRUE(c1.ok() && c1->has_value());
  EXPECT_FALSE((*c1)->mark.teaching);
  EXPECT_TRUE((*c1)->mark.tags.goods.empty());
  EXPECT_EQ((*c1)->mark.tags.concealment, (Ids_{"lining"}));
  EXPECT_EQ((*c1)->mark.marked_by, "tina");
  q = {};
  q.tag = "textiles";
  EXPECT_TRUE(Ids(q).empty());
}

TEST(CaseTags, AreLowerCaseWithOneSpaceBetweenWords) {
  EXPECT_EQ(NormaliseCaseTag("  False\t Bottom  "), "false bottom");
  EXPECT_EQ(NormaliseCaseTag("X-RAY"), "x-ray");
  EXPECT_EQ(NormaliseCaseTag("   "), "");
}

}  // namespace
}  // namespace clearsight
