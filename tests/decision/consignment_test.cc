// The consignment decision (decision/consignment.cc) and its agreement with batch selection.
#include "clearsight/consignment.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "clearsight/decide.h"
#include "clearsight/rules.h"
#include "clearsight/selection.h"

namespace clearsight {
namespace {

Finding Scored(const std::string& source, double score, Channel floor = Channel::kGreen) {
  Finding f;
  f.source = source;
  f.kind = source;
  f.score = score;
  f.reason = source + " " + std::to_string(score);
  f.floor = floor;
  return f;
}

TEST(WorkStatus, NamesRoundTripAndUnknownNamesAreRefused) {
  for (WorkStatus s : {WorkStatus::kReleased, WorkStatus::kPending, WorkStatus::kDone}) {
    auto back = ParseWorkStatus(WorkStatusName(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  auto bad = ParseWorkStatus("closed");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'closed'"), std::string::npos) << bad.status().message();
}

TEST(EvidenceOrigin, KeysRoundTripAndOtherFormsAreRefused) {
  EXPECT_EQ(EvidenceOrigin::Declaration("D1").Key(), "declaration:D1");
  EXPECT_EQ(EvidenceOrigin::Scan("scan:7").Key(), "scan:scan:7");
  auto back = EvidenceOrigin::Parse("scan:scan:7");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, EvidenceOrigin::Scan("scan:7"));
  for (const char* bad : {"", "declaration:", "scan", "image:1", "Scan:1"})
    EXPECT_FALSE(EvidenceOrigin::Parse(bad).ok()) << bad;
}

TEST(NextWorkStatus, DoneStaysDoneAndOtherwiseTheChannelDecides) {
  EXPECT_EQ(NextWorkStatus(std::nullopt, Channel::kGreen), WorkStatus::kReleased);
  EXPECT_EQ(NextWorkStatus(std::nullopt, Channel::kYellow), WorkStatus::kPending);
  PriorDecision prior;
  prior.status = WorkStatus::kPending;
  EXPECT_EQ(NextWorkStatus(prior, Channel::kGreen), WorkStatus::kReleased);
  prior.status = WorkStatus::kDone;
  EXPECT_EQ(NextWorkStatus(prior, Channel::kRed), WorkStatus::kDone);
  EXPECT_EQ(NextWorkStatus(prior, Channel::kGreen), WorkStatus::kDone);
}

TEST(FuseEvidence, TheWrittenOriginReplacesItsStoredFindings) {
  std::vector<Evidence> stored = {{EvidenceOrigin::Declaration("D"), {Scored("model", 0.2)}},
                                  {EvidenceOrigin::Scan("S"), {Scored("xray", 0.9)}}};
  Evidence rescan{EvidenceOrigin::Scan("S"), {Scored("xray", 0.1)}};
  const FusedRisk fused = FuseEvidence(stored, rescan, {});
  const FusedRisk expected = Fuse({Scored("model", 0.2), Scored("xray", 0.1)});
  EXPECT_DOUBLE_EQ(fused.score, expected.score);
  ASSERT_EQ(fused.reasons.size(), 2u);
}

TEST(DecideConsignment, AScanBeforeItsDeclarationMovesToTheDeclarationsLaneAndDay) {
  OnlineSelectionOptions o;
  OnlineSelector selector(o);
  ConsignmentUpdate scan;
  scan.consignment_id = "C1";
  scan.today = 20000;
  scan.written = {EvidenceOrigin::Scan("S1"), {Scored("detector", 0.9, Channel::kRed)}};
  const ConsignmentDecision first = DecideConsignment(scan, selector, {});
  EXPECT_EQ(first.lane, "");
  EXPECT_EQ(first.day, 20000);
  EXPECT_EQ(first.selection.channel, Channel::kRed) << "a finding's floor is honoured";
  EXPECT_EQ(first.status, WorkStatus::kPending);
  EXPECT_EQ(first.version, 1);
  EXPECT_TRUE(first.has_scan);
  EXPECT_FALSE(first.has_declaration);

  Declaration d;
  d.declaration_id = "D1";
  d.consignment_id = "C1";
  d.office_id = "lane-7";
  d.date = 19999;
  ConsignmentUpdate decl;
  decl.consignment_id = "C1";
  decl.declared = &d;
  decl.today = 20000;
  decl.prior = PriorDecision{first.selection.channel,
                             first.selection.control,
                             first.lane,
                             first.day,
                             first.status,
                             first.version};
  decl.stored = {scan.written};
  decl.written = {EvidenceOrigin::Declaration("D1"), {Scored("model", 0.1)}};
  const ConsignmentDecision second = DecideConsignment(decl, selector, {});
  EXPECT_EQ(second.lane, "lane-7");
  EXPECT_EQ(second.day, 19999);
  EXPECT_EQ(second.version, 2);
  EXPECT_TRUE(second.has_scan);
  EXPECT_TRUE(second.has_declaration);
  EXPECT_EQ(second.selection.channel, Channel::kRed) << "the scan's weapon still demands red";
  EXPECT_EQ(selector.LaneDay("", 20000).seen, 0) << "counted where the declaration places it";
  EXPECT_EQ(selector.LaneDay("lane-7", 19999).seen, 1);
}

TEST(DecideConsignment, AScanOnlyConsignmentOrOneWithoutAnOfficeTakesTheSitesLane) {
  OnlineSelectionOptions o;
  OnlineSelector selector(o);
  ConsignmentUpdate scan;
  scan.consignment_id = "C2";
  scan.today = 20000;
  scan.scan_lane = "HUB-1";
  scan.written = {EvidenceOrigin::Scan("S2"), {Scored("xray", 0.2)}};
  EXPECT_EQ(DecideConsignment(scan, selector, {}).lane, "HUB-1");
  EXPECT_EQ(selector.LaneDay("HUB-1", 20000).seen, 1);
  // A declaration without an office lands there too; one with an office keeps its own.
  Declaration d;
  d.declaration_id = "D3";
  d.consignment_id = "C3";
  d.date = 20000;
  ConsignmentUpdate decl;
  decl.consignment_id = "C3";
  decl.declared = &d;
  decl.scan_lane = "HUB-1";
  decl.written = {EvidenceOrigin::Declaration("D3"), {Scored("model", 0.1)}};
  EXPECT_EQ(DecideConsignment(decl, selector, {}).lane, "HUB-1");
  d.office_id = "lane-7";
  d.declaration_id = d.consignment_id = decl.consignment_id = "C4";
  decl.written.origin = EvidenceOrigin::Declaration("C4");
  EXPECT_EQ(DecideConsignment(decl, selector, {}).lane, "lane-7");
}

// The same declarations through both paths: a file through DecideBatch (`clearsight score`) and
// one at a time through DecideConsignment (the service). They must agree on what may not depend
// on arrival order: every red a finding demands, and which consignments are the control sample.
TEST(DecisionPaths, BatchAndOnlineAgreeOnTheRedFloorAndTheControlDraw) {
  auto rules = RuleSet::Parse(
      "rule \"phones\"\n  when hs_code startswith \"8517\"\n  then score +0.6\n  reason "
      "\"phones\"\nend\n"
      "rule \"toys\"\n  when hs_code startswith \"9503\"\n  then score +0.3\n  reason "
      "\"toys\"\nend\n"
      "rule \"route\"\n  when origin_country == \"XX\"\n  then channel red\n  reason \"known "
      "route\"\nend\n",
      "agree.rules");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  DeclarationRisk risk(nullptr, nullptr, std::make_shared<const RuleSet>(std::move(*rules)));
  DeclarationBatch batch;
  const char* hs[] = {"851712", "950300", "610910", "851712", "640399"};
  for (int i = 0; i < 1500; ++i) {
    Declaration d;
    d.declaration_id = "D" + std::to_string(i);
    d.consignment_id = "C" + std::to_string(i);
    d.office_id = i % 3 == 0 ? "north" : "south";
    d.date = 19000 + i % 2;
    d.hs_code = hs[i % 5];
    d.origin_country = i % 37 == 0 ? "XX" : "CN";
    d.net_mass_kg = 1;
    d.declared_value = 10;
    d.currency = "EUR";
    batch.rows.push_back(d);
  }
  BatchDecisionOptions bo;
  bo.selection.red_share = 0.05;
  bo.selection.yellow_share = 0.05;
  bo.selection.control_share = 0.4;  // 2 % of all: about 30 control consignments
  bo.selection.seed = 11;
  bo.explain = "none";
  const std::vector<BatchDecision> batch_decisions = DecideBatch(risk, batch, bo);

  OnlineSelectionOptions oo;
  oo.capacity.red_share = bo.selection.red_share;
  oo.capacity.yellow_share = bo.selection.yellow_share;
  oo.control_share = bo.selection.control_share;
  oo.seed = bo.selection.seed;
  OnlineSelector selector(oo);
  const auto assessed = risk.Assess(batch);
  std::set<std::string> batch_control, online_control;
  int floors = 0;
  for (size_t i = 0; i < batch.rows.size(); ++i) {
    ConsignmentUpdate u;
    u.consignment_id = batch.rows[i].consignment_id;
    u.declared = &batch.rows[i];
    u.written = {EvidenceOrigin::Declaration(batch.rows[i].declaration_id), assessed[i].findings};
    const ConsignmentDecision online = DecideConsignment(u, selector, {});
    const BatchDecision& b = batch_decisions[i];
    EXPECT_DOUBLE_EQ(online.fused.score, b.score) << i;
    if (batch.rows[i].origin_country == "XX") {
      ++floors;
      EXPECT_EQ(b.selection.channel, Channel::kRed) << "batch honours the rule's red, row " << i;
      EXPECT_EQ(online.selection.channel, Channel::kRed)
          << "online honours the rule's red, row " << i;
    }
    if (b.selection.control) batch_control.insert(u.consignment_id);
    if (online.selection.control) online_control.insert(u.consignment_id);
  }
  EXPECT_EQ(floors, 41);
  EXPECT_GE(batch_control.size(), 10u);
  EXPECT_EQ(batch_control, online_control);
}

}  // namespace
}  // namespace clearsight
