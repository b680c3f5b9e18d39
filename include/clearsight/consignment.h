// The decision about one consignment, made again each time evidence about it arrives (its
// declaration, each of its scans), as pure functions over typed values. The service reads the
// consignment's stored evidence and earlier decision, calls DecideConsignment, and stores and
// audits what it returns; it decides nothing itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/channel.h"
#include "clearsight/declarations.h"
#include "clearsight/fusion.h"
#include "clearsight/status.h"

namespace clearsight {

// Where an officer's work on a consignment stands.
enum class WorkStatus {
  kReleased,  // green: nothing to do
  kPending,   // yellow or red: awaiting an inspection outcome
  kDone,      // an outcome is recorded; later evidence does not reopen it
};
std::string_view WorkStatusName(WorkStatus s);  // "released", "pending", "done" (as stored)
// InvalidArgument naming the value for anything else.
Result<WorkStatus> ParseWorkStatus(std::string_view name);

// What a set of findings came from. Stored as its key, "declaration:<id>" or "scan:<id>"; keys
// order the evidence of a consignment (declarations before scans, then by id).
struct EvidenceOrigin {
  enum class Kind { kDeclaration, kScan };
  Kind kind = Kind::kDeclaration;
  std::string id;

  static EvidenceOrigin Declaration(std::string id) { return {Kind::kDeclaration, std::move(id)}; }
  static EvidenceOrigin Scan(std::string id) { return {Kind::kScan, std::move(id)}; }
  std::string Key() const;
  // InvalidArgument for a key of another form (a corrupt store row).
  static Result<EvidenceOrigin> Parse(std::string_view key);
  bool operator==(const EvidenceOrigin&) const = default;
};

struct Evidence {
  EvidenceOrigin origin;
  std::vector<Finding> findings;
};

// The consignment's decision before this update, as stored.
struct PriorDecision {
  Channel channel = Channel::kGreen;
  bool control = false;
  std::string lane;
  int32_t day = 0;
  WorkStatus status = WorkStatus::kReleased;
  int64_t version = 0;
  bool exploration = false;
  std::optional<double> propensity;  // none for a decision stored before it was recorded
};

struct ConsignmentUpdate {
  std::string consignment_id;
  // The declaration this update brings (its lane and day place the consignment); null for a scan.
  const Declaration* declared = nullptr;
  int32_t today = 0;  // days since 1970-01-01: the day of a consignment known only by its scans
  // The lane of a consignment whose declaration names no office, or that is known only by its
  // scans: the scanner's site (ServiceOptions::scan_lane). "" = no lane.
  std::string scan_lane;
  // The declaration is of a kind the model has no outcome for (RiskModel::Novel): eligible for
  // exploration.
  bool novel = false;
  std::optional<PriorDecision> prior;
  Evidence written;  // this update's findings
  std::vector<Evidence>
      stored;  // the consignment's other evidence; one of written's origin is replaced
};

struct ConsignmentDecision {
  std::string lane;
  int32_t day = 0;
  FusedRisk fused;
  SelectionResult selection;
  WorkStatus status = WorkStatus::kReleased;
  int64_t version = 1;
  bool has_scan = false;
  bool has_declaration = false;
};

// All of a consignment's findings fused, in origin order, `written` in place of stored evidence
// of the same origin.
FusedRisk FuseEvidence(const std::vector<Evidence>& stored, const Evidence& written,
                       const FusionOptions& options);

// The consignment's lane and day: the declaration's; else the prior decision's; else lane "" on
// `today` (a scan before its declaration).
SelectionInput SelectionInputFor(const ConsignmentUpdate& update, const FusedRisk& fused);

// Done stays done (an outcome is never undone by later evidence); else green is released and
// yellow or red pending.
WorkStatus NextWorkStatus(const std::optional<PriorDecision>& prior, Channel channel);

// Fuses, selects under the lane-day budget (counting the consignment in `selector`, moving it from
// its prior lane-day when the declaration places it elsewhere), and says what to store.
ConsignmentDecision DecideConsignment(const ConsignmentUpdate& update, OnlineSelector& selector,
                                      const FusionOptions& options);

}  // namespace clearsight
