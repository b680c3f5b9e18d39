#include "clearsight/horizon_store.h"

#include <algorithm>
#include <unordered_map>

#include "clearsight/fusion.h"
#include "clearsight/text.h"

namespace clearsight {

Result<HorizonHistory> ReadHorizonHistory(Store& store, const HorizonOptions& options,
                                          int64_t max_declarations) {
  if (max_declarations < 1 || max_declarations > kHorizonMaxDeclarations)
    return Status::InvalidArgument("the declarations read must be limited to 1.." +
                                   std::to_string(kHorizonMaxDeclarations));
  if (options.baseline_weeks < 4 || options.baseline_weeks > 520)
    return Status::InvalidArgument("baseline_weeks must be 4..520");
  // The newest date first: the window is counted back from it.
  CS_ASSIGN_OR_RETURN(auto newest, store.DeclarationsOfLastDays(1, 1));
  if (newest.total == 0) return Status::NotFound("the store holds no declarations");
  const int32_t to = newest.to_date;
  const int32_t first = options.since - 7 * options.baseline_weeks;
  const int32_t days = std::clamp(to - first + 1, 1, 3660);
  CS_ASSIGN_OR_RETURN(auto recent, store.DeclarationsOfLastDays(days, max_declarations));
  HorizonHistory h;
  h.from = recent.from_date;
  h.to = recent.to_date;
  if (recent.total > static_cast<int64_t>(recent.rows.size()))
    return Status::ResourceExhausted(std::to_string(recent.total) + " declarations from " +
                                     FormatDate(h.from) + " to " + FormatDate(h.to) +
                                     ", more than the " + std::to_string(max_declarations) +
                                     " one scan reads: a later since, or fewer baseline weeks");
  ReadOptions ro;
  ro.format = DeclarationFormat::kNativeJsonl;
  h.batch.rows.reserve(recent.rows.size());
  // Per consignment, its first declaration read (lowest id): what its scans are routed by.
  std::unordered_map<std::string, size_t> first_of;
  // Oldest first, as a declarations file would have them.
  for (size_t i = recent.rows.size(); i-- > 0;) {
    auto one = ParseDeclarations(recent.rows[i].json, "stored", ro, nullptr);
    if (!one.ok() || one->rows.size() != 1) {
      ++h.unreadable;
      continue;
    }
    Declaration d = std::move(one->rows[0]);
    const std::string& outcome = recent.outcome[i];
    const bool inspected = IsInspectionResult(outcome);  // "not inspected" is no outcome
    d.inspected = inspected ? 1 : -1;
    d.fraud = !inspected ? -1 : outcome != "nothing" ? 1 : 0;
    if (inspected) ++h.with_outcome;
    auto [at, added] = first_of.try_emplace(recent.rows[i].consignment_id, h.batch.rows.size());
    if (!added && d.declaration_id < h.batch.rows[at->second].declaration_id)
      at->second = h.batch.rows.size();
    h.batch.rows.push_back(std::move(d));
  }
  CS_ASSIGN_OR_RETURN(auto scans, store.ScanFindingsSince(h.from, max_declarations));
  if (scans.total > static_cast<int64_t>(scans.rows.size()))
    return Status::ResourceExhausted(std::to_string(scans.total) + " scans of declarations from " +
                                     FormatDate(h.from) + ", more than the " +
                                     std::to_string(max_declarations) +
                                     " one scan reads: a later since, or fewer baseline weeks");
  h.scans.reserve(scans.rows.size());
  for (const ScanFindingsRow& row : scans.rows) {
    auto declared = first_of.find(row.consignment_id);
    if (declared == first_of.end()) continue;  // its declarations no longer parse
    auto findings = FindingsFromJson(row.findings_json);
    if (!findings.ok()) {
      ++h.scans_unreadable;
      continue;
    }
    const Declaration& d = h.batch.rows[declared->second];
    HorizonScan scan;
    scan.date = d.date;
    scan.origin_country = d.origin_country;
    scan.office_id = d.office_id;
    for (const Finding& f : *findings)
      if (!f.kind.empty()) scan.findings.push_back(f.kind);
    std::sort(scan.findings.begin(), scan.findings.end());
    scan.findings.erase(std::unique(scan.findings.begin(), scan.findings.end()),
                        scan.findings.end());
    h.scans.push_back(std::move(scan));
  }
  return h;
}

}  // namespace clearsight
