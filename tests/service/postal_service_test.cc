// Postal and express items through the service: generated EAD and H7 messages posted as XML and
// CSV are accepted, rejected and flagged exactly as the generator's planted faults say; reposting
// is idempotent; GET /api/responses gives one customs response per item with its S10 id and the
// channel mapped to release / hold, and a cursor that sees each later change once.
#include <map>
#include <set>
#include <tuple>

#include "clearsight/file_util.h"
#include "clearsight/postal.h"
#include "service/service_test_util.h"

namespace clearsight {
namespace {

using nlohmann::json;
using testing::Client;
using testing::PasswordOf;
using testing::Reply;
using testing::TempDir;

// Pieces heavier than the item are held for inspection; vague gifts for documents.
constexpr char kRules[] = R"(rule "pieces heavier than the item"
  when weight_mismatch = "1"
  then channel red
  reason "the pieces weigh more than the item"
end
rule "vague gift"
  when description_vague = 1 and item_category = "gift"
  then channel yellow
  reason "a gift described in vague words"
end
)";

class PostalServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PostalGeneratorOptions g;
    g.items = 80;
    g.seed = 7;
    g.invalid_share = 0.25;
    auto gen = GeneratePostalItems(g);
    ASSERT_TRUE(gen.ok()) << gen.status().ToString();
    ead_ = std::move(*gen);
    ASSERT_TRUE(WriteFileAtomic(dir_ / "rates.csv", ead_.rates_csv).ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ / "rules.txt", kRules).ok());
    ServiceOptions o;
    o.port = 0;
    o.store.url = dir_ / "cs.db";
    o.rates_path = dir_ / "rates.csv";
    o.rules_path = dir_ / "rules.txt";
    o.model_poll_ms = 60000;
    Service* svc = nullptr;
    testing::StartServiceWithRoleUsers(o, &svc);
    service_.reset(svc);
    ASSERT_TRUE(service_);
  }
  Client As(const std::string& role) {
    Client c(service_->port());
    EXPECT_TRUE(c.Login(role, PasswordOf(role)));
    return c;
  }
  // What the faults say the reader must report: rejections and warnings by (line, field), and the
  // counts of rejected and flagged records.
  struct Expected {
    std::multiset<std::tuple<int64_t, std::string>> rejected, flagged;
    int64_t rejected_records = 0, flagged_records = 0;
  };
  static Expected FromFaults(const GeneratedPostal& gen) {
    Expected e;
    for (const auto& f : gen.faults) {
      for (int64_t i = 0; i < (f.flag ? 1 : f.records); ++i)
        (f.flag ? e.flagged : e.rejected).insert({f.line, f.field});
      (f.flag ? e.flagged_records : e.rejected_records) += f.records;
    }
    return e;
  }
  static void ExpectMatches(const Reply& r, const GeneratedPostal& gen) {
    ASSERT_EQ(r.status, 200) << r.raw;
    const Expected want = FromFaults(gen);
    EXPECT_EQ(r.body["accepted"], gen.good_pieces) << r.raw;
    EXPECT_EQ(r.body["rejected"], want.rejected_records);
    EXPECT_EQ(r.body["flagged"], want.flagged_records);
    std::multiset<std::tuple<int64_t, std::string>> rejected, flagged;
    for (const auto& x : r.body["rejections"])
      rejected.insert({x["line"].get<int64_t>(), x["field"].get<std::string>()});
    for (const auto& x : r.body["warnings"])
      flagged.insert({x["line"].get<int64_t>(), x["field"].get<std::string>()});
    EXPECT_EQ(rejected, want.rejected);
    EXPECT_EQ(flagged, want.flagged);
    EXPECT_EQ(r.body["created"], gen.good_pieces);
    EXPECT_EQ(r.body["conflicts"], 0);
    EXPECT_EQ(r.body["errors"], 0);
  }

  TempDir dir_;
  GeneratedPostal ead_;
  std::unique_ptr<Service> service_;
};

TEST_F(PostalServiceTest, EadXmlIsAcceptedRejectedAndFlaggedAsItsPlantedFaultsSay) {
  ASSERT_GT(ead_.faults.size(), 10u);
  Client feed = As("integrator");
  Reply r = feed.Send("POST", "/api/declarations", ead_.text, "application/xml");
  ExpectMatches(r, ead_);
  // Every kind of fault was planted and reported, the unknown currency through the rates table.
  std::set<std::string> fields;
  for (const auto& x : r.body["rejections"]) fields.insert(x["field"]);
  EXPECT_TRUE(fields.count("item_id") && fields.count("currency") && fields.count("description") &&
              fields.count("declared_value"))
      << r.raw;
  // The same message again changes nothing: every piece is unchanged.
  Reply again = feed.Send("POST", "/api/declarations", ead_.text, "text/xml; charset=utf-8");
  ASSERT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(again.body["created"], 0);
  EXPECT_EQ(again.body["unchanged"], ead_.good_pieces);
  // A stored piece keeps the item-level columns the workstation shows.
  const std::string some = r.body["results"][0]["declaration_id"];
  Reply d = feed.Get("/api/declarations/" + some);
  ASSERT_EQ(d.status, 200) << d.raw;
  for (const char* k : {"item_id", "item_category", "sender_country", "addressee_country",
                        "weight_mismatch", "message", "currency_original"})
    EXPECT_TRUE(d.body["declaration"].contains(k)) << k << ": " << d.raw;
  EXPECT_EQ(d.body["declaration"]["currency"], "EUR");  // converted with the rates table
}

TEST_F(PostalServiceTest, H7CsvAndXmlAreReadByFormatWhateverTheContentType) {
  Client feed = As("integrator");
  for (auto [format, seed, content_type] :
       {std::tuple{PostalFormat::kH7Csv, 8, "text/csv"},
        std::tuple{PostalFormat::kH7Xml, 9, "application/octet-stream"}}) {
    PostalGeneratorOptions g;
    g.items = 50;
    g.seed = static_cast<uint64_t>(seed);
    g.invalid_share = 0.25;
    g.format = format;
    auto gen = GeneratePostalItems(g);
    ASSERT_TRUE(gen.ok()) << gen.status().ToString();
    const std::string path = std::string("/api/declarations?format=") +
                             (format == PostalFormat::kH7Csv ? "h7" : "h7xml");
    Reply r = feed.Send("POST", path, gen->text, content_type);
    SCOPED_TRACE(path);
    ExpectMatches(r, *gen);
  }
  // By content alone: an H7 XML document as application/xml.
  PostalGeneratorOptions g;
  g.items = 5;
  g.seed = 10;
  g.invalid_share = 0;
  g.format = PostalFormat::kH7Xml;
  auto gen = GeneratePostalItems(g);
  ASSERT_TRUE(gen.ok());
  Reply r = feed.Send("POST", "/api/declarations", gen->text, "application/xml");
  ExpectMatches(r, *gen);
}

TEST_F(PostalServiceTest, MalformedXmlAndMismatchedFormatsAreRefusedNamingWhy) {
  Client feed = As("integrator");
  Reply broken = feed.Send("POST", "/api/declarations",
                           "<?xml version=\"1.0\"?>\n<PostalItems>\n<Item>\n", "application/xml");
  EXPECT_EQ(broken.status, 400) << broken.raw;
  EXPECT_NE(broken.body["error"]["message"].get<std::string>().find("request.xml"),
            std::string::npos)
      << broken.raw;
  Reply csv_as_xml = feed.Send("POST", "/api/declarations?format=h7", ead_.text, "application/xml");
  EXPECT_EQ(csv_as_xml.status, 400) << csv_as_xml.raw;
  EXPECT_NE(csv_as_xml.raw.find("CSV format"), std::string::npos) << csv_as_xml.raw;
  Reply unknown = feed.Send("POST", "/api/declarations?format=edifact", ead_.text, "text/plain");
  EXPECT_EQ(unknown.status, 400) << unknown.raw;
}

TEST_F(PostalServiceTest, ResponsesGiveEachItemOnceWithItsS10IdAndFollowLaterChanges) {
  Client feed = As("integrator");
  Reply posted = feed.Send("POST", "/api/declarations", ead_.text, "application/xml");
  ASSERT_EQ(posted.status, 200) << posted.raw;
  // What the service decided, per consignment, from the answer.
  std::map<std::string, std::string> channel_of;
  std::map<std::string, int> pieces_of;
  for (const auto& x : posted.body["results"]) {
    channel_of[x["consignment_id"]] = x["channel"];  // the last piece's: the consignment's latest
    ++pieces_of[x["consignment_id"]];
  }
  ASSERT_GT(channel_of.size(), 40u);
  std::set<std::string> flagged_items;
  for (const auto& f : ead_.faults)
    if (f.flag) flagged_items.insert(f.item_id);
  ASSERT_FALSE(flagged_items.empty());

  // Paged through with a small limit; every consignment exactly once.
  std::map<std::string, json> got;
  int64_t cursor = 0;
  int pages = 0;
  for (;;) {
    Reply page = feed.Get("/api/responses?since=" + std::to_string(cursor) + "&limit=7");
    ASSERT_EQ(page.status, 200) << page.raw;
    ++pages;
    for (const auto& r : page.body["responses"]) {
      const std::string id = r["consignment_id"];
      EXPECT_FALSE(got.count(id)) << id << " came twice";
      got[id] = r;
    }
    ASSERT_GE(page.body["next"].get<int64_t>(), cursor);
    cursor = page.body["next"];
    if (!page.body["more"].get<bool>()) break;
    ASSERT_LT(pages, 100);
  }
  EXPECT_GT(pages, 5);
  ASSERT_EQ(got.size(), channel_of.size());
  int held = 0;
  for (const auto& [id, r] : got) {
    SCOPED_TRACE(id);
    EXPECT_EQ(r["item_id"], id);  // the S10 id, which is the consignment id of an EAD item
    EXPECT_TRUE(S10Problem(r["item_id"].get<std::string>()).empty()) << r.dump();
    const std::string channel = r["channel"];
    EXPECT_EQ(channel, channel_of[id]);
    const std::string decision = r["decision"];
    EXPECT_EQ(decision, channel == "red"      ? "hold_inspection"
                        : channel == "yellow" ? "hold_documents"
                                              : "release");
    EXPECT_EQ(static_cast<int>(r["pieces"].size()), pieces_of[id]);
    for (const auto& p : r["pieces"]) {
      EXPECT_EQ(p["channel"], channel);
      EXPECT_EQ(p["declaration_id"].get<std::string>().rfind(id + "-", 0), 0u) << p.dump();
    }
    EXPECT_EQ(r["version"], pieces_of[id]);  // each piece stored re-decides its item
    if (channel == "green") {
      EXPECT_TRUE(r["reasons"].empty()) << r.dump();
    } else {
      ++held;
      EXPECT_FALSE(r["reasons"].empty()) << r.dump();
    }
    if (flagged_items.count(id)) {
      // The rule on weight_mismatch holds it for inspection and names the rule and a piece.
      EXPECT_EQ(decision, "hold_inspection") << r.dump();
      bool named = false;
      for (const auto& reason : r["reasons"])
        named |= reason["code"] == "RULE" &&
                 reason.value("rule", "") == "pieces heavier than the item" &&
                 reason.value("piece", "").rfind(id + "-", 0) == 0;
      EXPECT_TRUE(named) << r.dump();
    }
  }
  EXPECT_GT(held, 0);
  // Nothing new: an empty page at the same cursor.
  Reply idle = feed.Get("/api/responses?since=" + std::to_string(cursor));
  ASSERT_EQ(idle.status, 200);
  EXPECT_TRUE(idle.body["responses"].empty());
  EXPECT_EQ(idle.body["next"], cursor);
  // A later piece of one item re-decides it: that item comes once more, one version on.
  const std::string item = got.begin()->first;
  json late = testing::Declaration(item + "-99", "DE004503", 40);
  late["consignment_id"] = item;
  late["item_id"] = item;
  late["currency"] = "EUR";
  Reply added = feed.Post("/api/declarations", late);
  ASSERT_EQ(added.status, 201) << added.raw;
  Reply after = feed.Get("/api/responses?since=" + std::to_string(cursor));
  ASSERT_EQ(after.status, 200);
  ASSERT_EQ(after.body["responses"].size(), 1u) << after.raw;
  EXPECT_EQ(after.body["responses"][0]["consignment_id"], item);
  EXPECT_EQ(after.body["responses"][0]["version"], got[item]["version"].get<int>() + 1);
  EXPECT_EQ(after.body["responses"][0]["pieces"].size(), got[item]["pieces"].size() + 1);
  // The same as the XML document score --respond writes, with the cursor in headers.
  Reply xml = feed.Send("GET", "/api/responses?format=xml&since=" + std::to_string(cursor));
  ASSERT_EQ(xml.status, 200);
  EXPECT_NE(xml.raw.find("<CustomsResponses message=\"CUSRSP\""), std::string::npos) << xml.raw;
  EXPECT_NE(xml.raw.find("<ItemId>" + item + "</ItemId>"), std::string::npos) << xml.raw;
  EXPECT_EQ(xml.Header("X-Next-Cursor"), std::to_string(after.body["next"].get<int64_t>()));
  // Officers work the queue; the responses are the integrators'.
  EXPECT_EQ(As("officer").Get("/api/responses").status, 403);
  EXPECT_EQ(feed.Get("/api/responses?since=-1").status, 400);
  EXPECT_EQ(feed.Get("/api/responses?limit=0").status, 400);
}

}  // namespace
}  // namespace clearsight
