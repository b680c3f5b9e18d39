// The case library through the service: who may read and mark cases, the search filters and their
// 400s, the audited mark, and training sessions of cases: the real scan shown under a training id
// without its analysis, and hits judged on the truth the inspection found. A real service on a
// loopback port; the consignments, scans (with stored detections) and outcomes are written into
// its store as the scan pipeline and the outcome form would have.
#include <gtest/gtest.h>

#include <set>

#include "clearsight/training.h"
#include "clearsight/xray_simulate.h"
#include "service/service_test_util.h"

namespace clearsight {
namespace {

using nlohmann::json;
using testing::Client;
using testing::PasswordOf;
using testing::Reply;
using testing::TempDir;

class CasesServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServiceOptions o;
    o.port = 0;
    o.store.url = dir_ / "cs.db";
    Service* svc = nullptr;
    testing::StartServiceWithRoleUsers(o, &svc);
    service_.reset(svc);
    ASSERT_TRUE(
        AddUser(service_->store(), "olga", Role::kOfficer, PasswordOf("olga"), "test").ok());
    SimulateOptions so;
    so.width = 200;
    so.height = 150;
    so.threat_rate = 0;
    auto sim = Simulator::Create(so);
    ASSERT_TRUE(sim.ok());
    auto parcel = (*sim)->Simulate(5);
    ASSERT_TRUE(parcel.ok());
    auto tiff = EncodeScanTiff(parcel->scan);
    ASSERT_TRUE(tiff.ok());
    auto sha = service_->store().PutImage(*tiff);
    ASSERT_TRUE(sha.ok());
    image_sha_ = *sha;
    meta_ = ScanMetaToJson(parcel->scan.meta);
    // The detector saw a narcotics block (and, with a higher score, a knife elsewhere).
    Add("C-NARC", "610910", "Cotton T-shirts", "narcotics", "Brick in the lining",
        R"({"detections":[{"class":"narcotics","score":0.8,"box":[50,40,90,80]},)"
        R"({"class":"knife","score":0.95,"box":[1,1,10,10]}]})");
    Add("C-CLEAN", "950300", "Plush toys", "nothing", "as declared", "{}");
    Add("C-MIS", "850760", "Phone cases", "misdeclaration", "phones, not cases", "{}");
    Add("C-NOSCAN", "640399", "Shoes", "narcotics", "", "");
    Add("C-NONE", "610910", "Cotton T-shirts", "", "", "{}");
  }
  void TearDown() override { service_.reset(); }

  // A consignment with a declaration, a scan when `analysis` is not "", and an outcome `result`
  // when not "".
  void Add(const std::string& id, const std::string& hs, const std::string& description,
           const std::string& result, const std::string& notes, const std::string& analysis) {
    Status s = service_->store().Write([&](StoreTxn& t) -> Status {
      DecisionRow d;
      d.consignment_id = id;
      d.lane = "OFF1";
      d.date = 18659;
      d.channel = "red";
      d.status = "pending";
      d.version = 1;
      d.has_declaration = true;
      d.has_scan = !analysis.empty();
      d.reasons_json = "[]";
      d.created_ms = d.updated_ms = NowMs();
      CS_RETURN_IF_ERROR(t.PutDecision(d));
      DeclarationRow row;
      row.declaration_id = "D-" + id;
      row.consignment_id = id;
      row.office_id = "OFF1";
      row.date = 18659;
      row.json = json{{"declaration_id", row.declaration_id},
                      {"hs_code", hs},
                      {"importer_id", "IMP-ACME"},
                      {"description", description},
                      {"origin_country", "CN"},
                      {"declared_value", 100}}
                     .dump();
      row.content_sha256 = Sha256Hex(row.json);
      row.received_ms = NowMs();
      SearchFieldsFromJson(&row);
      CS_RETURN_IF_ERROR(t.InsertDeclaration(row));
      if (!analysis.empty()) {
        ScanRow scan;
        scan.scan_id = "S-" + id;
        scan.consignment_id = id;
        scan.image_sha256 = image_sha_;
        scan.source_format = "tiff";
        scan.source_sha256 = {image_sha_};
        scan.meta_json = meta_;
        scan.analysis_json = analysis;
        scan.width = 200;
        scan.height = 150;
        scan.received_ms = NowMs();
        CS_RETURN_IF_ERROR(t.InsertScan(scan));
      }
      if (result.empty()) return Status::Ok();
      OutcomeRow o;
      o.consignment_id = id;
      o.result = result;
      o.notes = notes;
      o.officer = "officer";
      o.recorded_ms = 1700000000000 + 1000 * ++outcomes_;  // in the order added
      return t.InsertOutcome(&o);
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  Client As(const std::string& user) {
    Client c(service_->port());
    EXPECT_TRUE(c.Login(user, PasswordOf(user))) << user;
    return c;
  }
  Reply Put(Client& c, const std::string& id, const json& body) {
    return c.Send("PUT", "/api/cases/" + id, body.dump());
  }
  static std::vector<std::string> Ids(const Reply& r) {
    std::vector<std::string> out;
    for (const auto& item : r.body["items"]) out.push_back(item["consignment_id"]);
    return out;
  }
  using Ids_ = std::vector<std::string>;
  TempDir dir_;
  std::unique_ptr<Service> service_;
  std::string image_sha_, meta_;
  int outcomes_ = 0;
};

TEST_F(CasesServiceTest, TrainersKeepTheLibraryAnalystsReadItOfficersDoNot) {
  Client officer = As("officer"), analyst = As("analyst"), trainer = As("trainer"),
         integrator = As("integrator");
  EXPECT_EQ(officer.Get("/api/cases").status, 403);
  EXPECT_EQ(officer.Get("/api/cases/C-NARC").status, 403);
  EXPECT_EQ(integrator.Get("/api/cases").status, 403);
  EXPECT_EQ(Put(officer, "C-NARC", json{{"teaching", true}}).status, 403);
  EXPECT_EQ(Put(analyst, "C-NARC", json{{"teaching", true}}).status, 403);
  Reply all = analyst.Get("/api/cases");
  ASSERT_EQ(all.status, 200) << all.raw;
  EXPECT_EQ(all.body["total"], 4) << "C-NONE has no outcome";
  EXPECT_EQ(analyst.Get("/api/cases/C-MIS").status, 200);
  EXPECT_EQ(trainer.Get("/api/cases/C-NONE").status, 404);
  EXPECT_EQ(Put(trainer, "C-NONE", json{{"teaching", true}}).status, 404);
  EXPECT_EQ(Put(trainer, "C-NARC", json{{"teaching", true}}).status, 200);
}

TEST_F(CasesServiceTest, BadFiltersAndMarksAreRefusedNamingTheField) {
  Client trainer = As("trainer");
  const std::pair<const char*, const char*> bad_queries[] = {
      {"hs_chapter=6", "hs_chapter"}, {"from=2021-02-30", "from"},
      {"to=yesterday", "to"},         {"from=2021-03-02&to=2021-03-01", "from"},
      {"result=bazooka", "result"},   {"result=not_inspected", "result"},
      {"teaching=yes", "teaching"},   {"with_scan=2", "with_scan"},
      {"limit=x", "limit"},           {"limit=5000", "limit"},
      {"offset=-1", "offset"}};
  for (const auto& [query, field] : bad_queries) {
    Reply r = trainer.Get(std::string("/api/cases?") + query);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_NE(r.raw.find(field), std::string::npos) << query << ": " << r.raw;
  }
  const std::string long_tag(41, 'x');
  json too_many = json::array();
  for (int i = 0; i < 21; ++i) too_many.push_back("tag " + std::to_string(i));
  const std::pair<json, const char*> bad_marks[] = {
      {json{{"colour", "red"}}, "colour"},
      {json{{"teaching", "yes"}}, "teaching"},
      {json{{"tags", {{"smell", {"x"}}}}}, "smell"},
      {json{{"tags", {{"goods", "shirts"}}}}, "tags.goods"},
      {json{{"tags", {{"goods", too_many}}}}, "tags.goods"},
      {json{{"tags", {{"concealment", {long_tag}}}}}, "tags.concealment"},
      {json{{"tags", {{"threat_class", {"   "}}}}}, "tags.threat_class"},
      {json::array(), "object"}};
  for (const auto& [body, field] : bad_marks) {
    Reply r = Put(trainer, "C-NARC", body);
    EXPECT_EQ(r.status, 400) << body.dump();
    EXPECT_NE(r.raw.find(field), std::string::npos) << body.dump() << ": " << r.raw;
  }
  // Nothing of it was stored.
  Reply c = trainer.Get("/api/cases/C-NARC");
  EXPECT_EQ(c.body["marked_by"], nullptr) << c.raw;
}

TEST_F(CasesServiceTest, ATrainerTagsAndMarksACaseAndFindsItByEveryFilter) {
  Client trainer = As("trainer"), admin = As("admin");
  Reply m = Put(trainer, "C-NARC",
                json{{"teaching", true},
                     {"tags",
                      {{"goods", {"Cotton  T-shirts", "textiles", "TEXTILES"}},
                       {"threat_class", {"Narcotics"}},
                       {"concealment", {"Lining"}}}}});
  ASSERT_EQ(m.status, 200) << m.raw;
  EXPECT_EQ(m.body["teaching"], true);
  EXPECT_EQ(m.body["tags"]["goods"], json({"cotton t-shirts", "textiles"}));
  EXPECT_EQ(m.body["tags"]["concealment"], json({"lining"}));
  EXPECT_EQ(m.body["marked_by"], "trainer");
  // What is not sent is kept.
  Reply keep = Put(trainer, "C-NARC", json{{"tags", {{"concealment", {"lining", "seams"}}}}});
  ASSERT_EQ(keep.status, 200) << keep.raw;
  EXPECT_EQ(keep.body["teaching"], true);
  EXPECT_EQ(keep.body["tags"]["goods"], json({"cotton t-shirts", "textiles"}));
  EXPECT_EQ(keep.body["tags"]["concealment"], json({"lining", "seams"}));

  const std::pair<const char*, Ids_> searches[] = {
      {"", {"C-NOSCAN", "C-MIS", "C-CLEAN", "C-NARC"}},
      {"teaching=1", {"C-NARC"}},
      {"tag=SEAMS", {"C-NARC"}},
      {"tag=textiles", {"C-NARC"}},
      {"threat_class=narcotics", {"C-NARC"}},
      {"threat_class=textiles", {}},
      {"result=narcotics", {"C-NOSCAN", "C-NARC"}},
      {"hs_chapter=61", {"C-NARC"}},
      {"q=BRICK", {"C-NARC"}},
      {"q=plush", {"C-CLEAN"}},
      {"q=imp-acme&with_scan=1", {"C-MIS", "C-CLEAN", "C-NARC"}},
      {"q=%25", {}},
      {"from=2000-01-01&to=2000-12-31", {}}};
  for (const auto& [query, want] : searches) {
    Reply r = trainer.Get(std::string("/api/cases?") + query);
    ASSERT_EQ(r.status, 200) << query << ": " << r.raw;
    EXPECT_EQ(Ids(r), want) << query;
    EXPECT_EQ(r.body["total"], want.size()) << query;
  }
  Reply page = trainer.Get("/api/cases?limit=1&offset=1");
  EXPECT_EQ(page.body["total"], 4);
  EXPECT_EQ(Ids(page), (Ids_{"C-MIS"}));

  // One case: outcomes, declarations with the goods, the scan with its detections.
  Reply one = trainer.Get("/api/cases/C-NARC");
  ASSERT_EQ(one.status, 200) << one.raw;
  EXPECT_EQ(one.body["outcome"]["result"], "narcotics");
  EXPECT_EQ(one.body["outcomes"][0]["notes"], "Brick in the lining");
  EXPECT_EQ(one.body["declarations"][0]["description"], "Cotton T-shirts");
  EXPECT_EQ(one.body["declarations"][0]["hs_code"], "610910");
  ASSERT_EQ(one.body["scan_list"].size(), 1u);
  EXPECT_EQ(one.body["scan_list"][0]["scan_id"], "S-C-NARC");
  EXPECT_EQ(one.body["scan_list"][0]["detections"].size(), 2u);
  EXPECT_EQ(trainer.Get("/api/scans/S-C-NARC/image.png").status, 200);

  // Audited with the whole mark.
  Reply audit = admin.Get("/api/audit?limit=1000");
  ASSERT_EQ(audit.status, 200);
  int marked = 0;
  for (const auto& e : audit.body["entries"])
    if (e["action"] == "case_marked" && e["subject"] == "C-NARC") ++marked;
  EXPECT_EQ(marked, 2) << audit.raw;
}

TEST_F(CasesServiceTest, ASessionOfCasesShowsTheRealScanAndJudgesOnTheInspectionsTruth) {
  Client trainer = As("trainer");
  auto create = [&](const json& cases, int images) {
    return trainer.Post(
        "/api/training/sessions",
        json{
            {"name", "Real cases"},
            {"settings",
             {{"images", images}, {"threat_share", 0.0}, {"time_limit_s", 30}, {"cases", cases}}}});
  };
  Reply no_scan = create({"C-NOSCAN"}, 1);
  EXPECT_EQ(no_scan.status, 400);
  EXPECT_NE(no_scan.raw.find("C-NOSCAN"), std::string::npos) << no_scan.raw;
  Reply no_case = create({"C-NONE"}, 1);
  EXPECT_EQ(no_case.status, 400);
  EXPECT_NE(no_case.raw.find("C-NONE"), std::string::npos) << no_case.raw;
  EXPECT_EQ(create({"C-NARC", "C-CLEAN"}, 1).status, 400) << "two cases in one image";
  Reply r = create({"C-NARC", "C-CLEAN", "C-MIS"}, 3);
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["settings"]["cases"].size(), 3u);
  const std::string id = std::to_string(r.body["session_id"].get<int64_t>());
  ASSERT_EQ(
      trainer
          .Post("/api/training/sessions/" + id + "/assign", json{{"trainees", {"officer", "olga"}}})
          .status,
      200);

  // "officer" answers right on every case, "olga" wrong.
  for (const std::string trainee : {"officer", "olga"}) {
    Client c = As(trainee);
    const bool right = trainee == "officer";
    std::set<std::string> seen;
    for (int i = 0; i < 3; ++i) {
      Reply n = c.Get("/api/training/sessions/" + id + "/next");
      ASSERT_EQ(n.status, 200) << n.raw;
      const std::string scan_id = n.body["scan_id"];
      EXPECT_EQ(scan_id.rfind("trn-", 0), 0u) << scan_id;
      // The real scan's bytes, but nothing that names the case or its finding.
      Reply scan = c.Get("/api/scans/" + scan_id);
      ASSERT_EQ(scan.status, 200) << scan.raw;
      EXPECT_EQ(scan.body["image_sha256"], image_sha_);
      EXPECT_EQ(scan.body["analysis"], nullptr);
      for (const char* secret : {"C-NARC", "C-CLEAN", "C-MIS", "narcotics", "knife"})
        EXPECT_EQ(scan.raw.find(secret), std::string::npos) << secret;
      EXPECT_EQ(c.Get("/api/scans/" + scan_id + "/image.png").status, 200);
      const int64_t trial = n.body["trial_id"];
      auto row = service_->store().GetTrainingTrial(trial);
      ASSERT_TRUE(row.ok() && row->has_value());
      const TrainingTrialRow truth = **row;
      const std::string cid = CaseOfTrial(truth);
      seen.insert(cid);
      json answer = {{"response_ms", 2000}};
      std::string want;
      if (cid == "C-NARC") {
        // Boxed where the narcotics detection was (not the knife's better score).
        EXPECT_EQ(truth.threat_class, "narcotics");
        EXPECT_EQ(truth.box_x0, 50);
        EXPECT_EQ(truth.box_y1, 80);
        answer["decision"] = "suspect";
        answer["mark"] = right ? json{{"x", 70}, {"y", 60}} : json{{"x", 5}, {"y", 5}};
        want = right ? "hit" : "miss";
      } else if (cid == "C-CLEAN") {
        EXPECT_FALSE(truth.threat);
        answer["decision"] = right ? "clear" : "suspect";
        want = right ? "correct_rejection" : "false_alarm";
      } else {
        ASSERT_EQ(cid, "C-MIS");
        EXPECT_TRUE(truth.threat);
        EXPECT_FALSE(TrialHasBox(truth));
        answer["decision"] = right ? "suspect" : "clear";
        answer["mark"] = json{{"x", 190}, {"y", 140}};  // anywhere: there is no box
        want = right ? "hit" : "miss";
      }
      Reply a = c.Post("/api/training/trials/" + std::to_string(trial) + "/response", answer);
      ASSERT_EQ(a.status, 200) << a.raw;
      EXPECT_EQ(a.body["outcome"], want) << cid << ": " << a.raw;
      EXPECT_EQ(a.body["truth"]["case"]["consignment_id"], cid);
      if (cid == "C-NARC") {
        EXPECT_EQ(a.body["truth"]["box"], json({50, 40, 90, 80}));
        EXPECT_NE(a.body["truth"]["look"]["summary"].get<std::string>().find("Brick in the lining"),
                  std::string::npos);
      }
      if (cid == "C-MIS") {
        EXPECT_EQ(a.body["truth"]["box"], nullptr);
        EXPECT_EQ(a.body["truth"]["class"], "misdeclaration");
      }
    }
    EXPECT_EQ(seen, (std::set<std::string>{"C-NARC", "C-CLEAN", "C-MIS"})) << "each case once";
    EXPECT_EQ(c.Get("/api/training/sessions/" + id + "/next").body["done"], true);
  }

  // The scores count the cases; the staircase (of projected threats) does not.
  Reply scores = trainer.Get("/api/training/scores");
  ASSERT_EQ(scores.status, 200);
  for (const auto& t : scores.body["trainees"]) {
    const bool right = t["trainee"] == "officer";
    const json& all = t["classes"].back();
    EXPECT_EQ(all["class"], nullptr);
    EXPECT_EQ(all["signal_trials"], 2);
    EXPECT_EQ(all["hits"], right ? 2 : 0) << t.dump();
    EXPECT_EQ(all["noise_trials"], 1);
    EXPECT_EQ(all["false_alarms"], right ? 0 : 1);
    EXPECT_TRUE(t["staircase"].empty()) << t.dump();
  }
  // The real consignments are unchanged: their scans keep their ids and analysis.
  auto real = service_->store().GetScan("S-C-NARC");
  ASSERT_TRUE(real.ok() && real->has_value());
  EXPECT_FALSE((*real)->analysis_json.empty());
}

}  // namespace
}  // namespace clearsight
