#include "clearsight/consignment.h"

#include <algorithm>

namespace clearsight {

namespace {
constexpr std::string_view kDeclarationPrefix = "declaration:";
constexpr std::string_view kScanPrefix = "scan:";
}  // namespace

std::string_view WorkStatusName(WorkStatus s) {
  switch (s) {
    case WorkStatus::kReleased:
      return "released";
    case WorkStatus::kPending:
      return "pending";
    case WorkStatus::kDone:
      return "done";
  }
  return "pending";
}

Result<WorkStatus> ParseWorkStatus(std::string_view name) {
  for (WorkStatus s : {WorkStatus::kReleased, WorkStatus::kPending, WorkStatus::kDone})
    if (name == WorkStatusName(s)) return s;
  return Status::InvalidArgument("unknown work status '" + std::string(name) +
                                 "' (released, pending or done)");
}

std::string EvidenceOrigin::Key() const {
  return std::string(kind == Kind::kScan ? kScanPrefix : kDeclarationPrefix) + id;
}

Result<EvidenceOrigin> EvidenceOrigin::Parse(std::string_view key) {
  for (auto [prefix, kind] :
       {std::pair{kDeclarationPrefix, Kind::kDeclaration}, std::pair{kScanPrefix, Kind::kScan}})
    if (key.size() > prefix.size() && key.substr(0, prefix.size()) == prefix)
      return EvidenceOrigin{kind, std::string(key.substr(prefix.size()))};
  return Status::InvalidArgument("evidence origin '" + std::string(key) +
                                 "' is neither 'declaration:<id>' nor 'scan:<id>'");
}

FusedRisk FuseEvidence(const std::vector<Evidence>& stored, const Evidence& written,
                       const FusionOptions& options) {
  std::vector<const Evidence*> order;
  order.reserve(stored.size() + 1);
  const std::string written_key = written.origin.Key();
  for (const auto& e : stored)
    if (e.origin.Key() != written_key) order.push_back(&e);
  order.push_back(&written);
  std::stable_sort(order.begin(), order.end(), [](const Evidence* a, const Evidence* b) {
    return a->origin.Key() < b->origin.Key();
  });
  std::vector<Finding> all;
  for (const Evidence* e : order) all.insert(all.end(), e->findings.begin(), e->findings.end());
  return Fuse(all, options);
}

SelectionInput SelectionInputFor(const ConsignmentUpdate& u, const FusedRisk& fused) {
  SelectionInput in;
  in.consignment_id = u.consignment_id;
  if (u.declared) {
    in.lane = u.declared->office_id;
    in.day = u.declared->date;
  } else if (u.prior) {
    in.lane = u.prior->lane;
    in.day = u.prior->day;
  } else {
    in.day = u.today;
  }
  if (in.lane.empty()) in.lane = u.scan_lane;
  in.score = fused.score;
  in.floor = fused.floor;
  in.novel = u.novel;
  if (u.prior) {
    in.previous = u.prior->channel;
    in.previous_control = u.prior->control;
    in.previous_exploration = u.prior->exploration;
    in.previous_propensity = u.prior->propensity;
    in.previous_lane = u.prior->lane;
    in.previous_day = u.prior->day;
  }
  return in;
}

WorkStatus NextWorkStatus(const std::optional<PriorDecision>& prior, Channel channel) {
  if (prior && prior->status == WorkStatus::kDone) return WorkStatus::kDone;
  return channel == Channel::kGreen ? WorkStatus::kReleased : WorkStatus::kPending;
}

ConsignmentDecision DecideConsignment(const ConsignmentUpdate& u, OnlineSelector& selector,
                                      const FusionOptions& options) {
  ConsignmentDecision d;
  d.fused = FuseEvidence(u.stored, u.written, options);
  const SelectionInput in = SelectionInputFor(u, d.fused);
  d.lane = in.lane;
  d.selection = selector.Select(in);
  d.day = d.selection.carried ? in.day + 1 : in.day;
  d.status = NextWorkStatus(u.prior, d.selection.channel);
  // Over budget and not inspected: it waits on the supervisor's list instead of leaving.
  if (d.selection.over_budget && d.status == WorkStatus::kReleased) d.status = WorkStatus::kPending;
  d.version = u.prior ? u.prior->version + 1 : 1;
  auto has = [&](EvidenceOrigin::Kind kind) {
    if (u.written.origin.kind == kind) return true;
    return std::any_of(u.stored.begin(), u.stored.end(),
                       [&](const Evidence& e) { return e.origin.kind == kind; });
  };
  d.has_scan = has(EvidenceOrigin::Kind::kScan);
  d.has_declaration = has(EvidenceOrigin::Kind::kDeclaration);
  return d;
}

}  // namespace clearsight
