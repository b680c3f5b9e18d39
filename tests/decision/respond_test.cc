// Customs responses per consignment: the strongest piece decides, reasons name their piece, and
// the XML and JSON lines forms say the same.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "clearsight/decide.h"
#include "clearsight/postal.h"
#include "clearsight/rules.h"
#include "declarations/xml_adapter.h"

namespace clearsight {
namespace {

const char kItems[] = R"(<PostalItems>
  <Item>
    <ItemId>RR123456785GB</ItemId><DateOfPosting>2024-03-01</DateOfPosting><ItemCategory>gift</ItemCategory>
    <GrossWeight>2</GrossWeight><TotalValue currency="EUR">90</TotalValue>
    <Addressee><Id>DE1</Id></Addressee><Sender><Country>GB</Country></Sender>
    <Content><Description>Wool jumper</Description><NetWeight>0.5</NetWeight><Value>40</Value><HSCode>611011</HSCode></Content>
    <Content><Description>gift</Description><NetWeight>0.3</NetWeight><Value>50</Value></Content>
  </Item>
  <Item>
    <ItemId>EE473124829GB</ItemId><DateOfPosting>2024-03-01</DateOfPosting><ItemCategory>sale of goods</ItemCategory>
    <GrossWeight>0.2</GrossWeight><TotalValue currency="EUR">30</TotalValue>
    <Addressee><Id>DE2</Id></Addressee><Sender><Country>CN</Country></Sender>
    <Content><Description>Phone case</Description><NetWeight>0.3</NetWeight><Value>30</Value></Content>
  </Item>
  <Item>
    <ItemId>RR020000000GB</ItemId><DateOfPosting>2024-03-01</DateOfPosting><ItemCategory>documents</ItemCategory>
    <Addressee><Id>DE3</Id></Addressee><Sender><Country>GB</Country></Sender>
    <Content><Description>Signed contract papers</Description><NetWeight>0.1</NetWeight><Value currency="EUR">0</Value></Content>
  </Item>
</PostalItems>)";

const char kRules[] = R"(rule "vague gift"
  when description_vague = 1 and item_category = "gift"
  then channel yellow
  reason "gift with a vague description"
end
rule "heavier pieces"
  when weight_mismatch = "1"
  then channel red
  reason "content pieces heavier than the item"
end
)";

struct Decided {
  DeclarationBatch batch;
  std::vector<ConsignmentResponse> responses;
};

Decided Decide() {
  Decided out;
  IngestReport report;
  auto batch = ParseDeclarations(kItems, "items.xml", ReadOptions{}, &report);
  EXPECT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(report.accepted, 4);
  out.batch = std::move(batch).value();
  auto rules = RuleSet::Parse(kRules, "r.rules");
  EXPECT_TRUE(rules.ok()) << rules.status().message();
  DeclarationRisk risk(nullptr, nullptr, std::make_shared<const RuleSet>(std::move(rules).value()));
  BatchDecisionOptions options;
  options.selection.red_share = 0;  // no budget: only the rules hold anything
  options.selection.yellow_share = 0;
  options.selection.control_share = 0;
  const std::vector<BatchDecision> decisions = DecideBatch(risk, out.batch, options);
  out.responses = ConsignmentResponses(out.batch, decisions);
  return out;
}

TEST(ConsignmentResponses, TheStrongestPieceDecidesAndReasonsNameTheirPiece) {
  const Decided d = Decide();
  ASSERT_EQ(d.responses.size(), 3u);
  const ConsignmentResponse& gift = d.responses[0];
  EXPECT_EQ(gift.item_id, "RR123456785GB");
  EXPECT_EQ(gift.consignment_id, "RR123456785GB");
  EXPECT_EQ(gift.channel, Channel::kYellow);
  EXPECT_EQ(gift.action, ResponseAction::kHoldForDocuments);
  ASSERT_EQ(gift.pieces.size(), 2u);
  EXPECT_EQ(gift.pieces[0].channel, Channel::kGreen);
  EXPECT_EQ(gift.pieces[1].channel, Channel::kYellow);
  ASSERT_EQ(gift.reasons.size(), 1u);
  EXPECT_EQ(gift.reasons[0].code, "RULE");
  EXPECT_EQ(gift.reasons[0].rule, "vague gift");
  EXPECT_EQ(gift.reasons[0].text, "gift with a vague description");
  EXPECT_EQ(gift.reasons[0].piece, "RR123456785GB-2");
  const ConsignmentResponse& heavy = d.responses[1];
  EXPECT_EQ(heavy.item_id, "EE473124829GB");
  EXPECT_EQ(heavy.action, ResponseAction::kHoldForInspection);
  ASSERT_EQ(heavy.reasons.size(), 1u);
  EXPECT_EQ(heavy.reasons[0].rule, "heavier pieces");
  const ConsignmentResponse& docs = d.responses[2];
  EXPECT_EQ(docs.action, ResponseAction::kRelease);
  EXPECT_TRUE(docs.reasons.empty());
}

TEST(ConsignmentResponses, XmlAndJsonLinesSayTheSame) {
  const Decided d = Decide();
  auto xml_text = ResponsesToText(d.responses, ResponseFormat::kXml);
  auto jsonl = ResponsesToText(d.responses, ResponseFormat::kJsonl);
  ASSERT_TRUE(xml_text.ok() && jsonl.ok());
  std::vector<xml::Node> records;
  std::string root;
  ASSERT_TRUE(xml::ReadRecords(
                  *xml_text, "responses.xml",
                  [&](const xml::Node& r) {
                    root = r.name + "/" + std::string(r.Attribute("message"));
                    return Status::Ok();
                  },
                  [&](xml::Node&& n) {
                    records.push_back(std::move(n));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(root, "CustomsResponses/CUSRSP");
  std::vector<nlohmann::json> lines;
  size_t p = 0;
  while (p < jsonl->size()) {
    const size_t e = jsonl->find('\n', p);
    lines.push_back(nlohmann::json::parse(jsonl->substr(p, e - p)));
    p = e + 1;
  }
  ASSERT_EQ(records.size(), 3u);
  ASSERT_EQ(lines.size(), 3u);
  const char* codes[] = {"hold_documents", "hold_inspection", "release"};
  for (size_t i = 0; i < 3; ++i) {
    const xml::Node& r = records[i];
    EXPECT_EQ(r.Child("ItemId")->text, d.responses[i].item_id);
    EXPECT_EQ(r.Child("Decision")->Attribute("code"), codes[i]);
    EXPECT_EQ(lines[i]["decision"], codes[i]);
    EXPECT_EQ(lines[i]["item_id"], d.responses[i].item_id);
    EXPECT_EQ(lines[i]["pieces"].size(), r.Child("Pieces")->children.size());
    const size_t nreasons = r.Child("Reasons") ? r.Child("Reasons")->children.size() : 0;
    EXPECT_EQ(lines[i]["reasons"].size(), nreasons);
  }
  const xml::Node* reason = records[0].Child("Reasons")->Child("Reason");
  EXPECT_EQ(reason->Attribute("code"), "RULE");
  EXPECT_EQ(reason->Attribute("rule"), "vague gift");
  EXPECT_EQ(reason->Attribute("piece"), "RR123456785GB-2");
  EXPECT_EQ(reason->text, "gift with a vague description");
  EXPECT_EQ(records[0].Child("Decision")->text, "hold for documents");
}

TEST(ConsignmentResponses, ChannelsMapToActions) {
  EXPECT_EQ(ResponseActionFor(Channel::kGreen), ResponseAction::kRelease);
  EXPECT_EQ(ResponseActionFor(Channel::kYellow), ResponseAction::kHoldForDocuments);
  EXPECT_EQ(ResponseActionFor(Channel::kRed), ResponseAction::kHoldForInspection);
  EXPECT_EQ(ResponseActionName(ResponseAction::kHoldForDocuments), "hold_documents");
}

}  // namespace
}  // namespace clearsight
