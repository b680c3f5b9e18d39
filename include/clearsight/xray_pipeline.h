// One scan end to end: the material analysis, the threat detector and the manifest check, in the
// order `clearsight xray analyze` and the service's scan upload run them. The stages stay separate
// (xray_analyze.h, xray_detect.h, xray_manifest.h); this is the one place that chains them and
// records their results in the analysis' extra fields ("detections", "manifest") that fusion reads.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "clearsight/declarations.h"
#include "clearsight/status.h"
#include "clearsight/xray_analyze.h"
#include "clearsight/xray_detect.h"
#include "clearsight/xray_manifest.h"
#include "clearsight/xray_scan.h"

namespace clearsight {

// The loaded stages; not owned, and all const (a pipeline may serve several threads at once).
struct ScanPipeline {
  const Analyzer* analyzer = nullptr;  // required
  const Detector* detector = nullptr;  // optional: adds the detections
  // Optional, with a detector (ManifestModel::FromDetector): checks declarations against images.
  const ManifestModel* manifest = nullptr;
  // Declarations by consignment_id (ReadDeclarationsByConsignment): each scan file's declaration
  // is checked against the image by the manifest model. May be null.
  const std::map<std::string, Declaration>* declarations = nullptr;
};

struct ScanResult {
  // With extra fields "detections" (with a detector) and "manifest" (when the scan's declaration
  // was checked).
  ScanAnalysis analysis;
  std::optional<DetectionResult> detection;
  std::optional<ManifestCheck> manifest;
  // Declarations were given, but none for this scan's consignment (so no manifest check).
  bool undeclared = false;
  double ms_detect = 0;  // detector and manifest check (the analysis' own time is analysis.ms)
};

// InvalidArgument without an analyzer, or with a manifest model but no detector (it reads the
// detector's goods classes); FailedPrecondition for declarations without a manifest model.
Status CheckScanPipeline(const ScanPipeline& pipeline);

// Analyses `scan`, detects threats (with a detector) and, with `declared` (may be null) and a
// manifest model, checks the declaration against the image. Errors of a stage are returned as
// they are (a scan the detector cannot use: FailedPrecondition).
Status AnalyzeScan(const Scan& scan, const ScanPipeline& pipeline, const Declaration* declared,
                   ScanResult* out);

// Reads a scan file (scan format v1) and runs AnalyzeScan with its consignment's declaration from
// pipeline.declarations. Errors reading the file name it.
Status AnalyzeScanFile(const std::string& path, const ScanPipeline& pipeline, ScanResult* out);

}  // namespace clearsight
