// One scan end to end (xray_pipeline.h): analysis, detection, manifest check.
#include <chrono>

#include "clearsight/xray_pipeline.h"

namespace clearsight {

Status CheckScanPipeline(const ScanPipeline& p) {
  if (!p.analyzer) return Status::InvalidArgument("a scan pipeline needs an analyzer");
  if (p.manifest && !p.detector)
    return Status::InvalidArgument(
        "a manifest check needs the detector whose goods classes it reads");
  if (p.declarations && !p.manifest)
    return Status::FailedPrecondition(
        p.detector
            ? "the detector's model has no manifest model to check declarations with"
            : "checking declarations needs the detector's model (it holds the manifest model)");
  return Status::Ok();
}

Status AnalyzeScan(const Scan& scan, const ScanPipeline& p, const Declaration* declared,
                   ScanResult* out) {
  CS_RETURN_IF_ERROR(CheckScanPipeline(p));
  out->detection.reset();
  out->manifest.reset();
  out->undeclared = false;
  out->ms_detect = 0;
  CS_RETURN_IF_ERROR(p.analyzer->Analyze(scan, &out->analysis));
  if (!p.detector) return Status::Ok();
  const auto t0 = std::chrono::steady_clock::now();
  DetectionResult detection;
  CS_RETURN_IF_ERROR(p.detector->Detect(out->analysis, &detection));
  out->analysis.extra_fields.push_back({"detections", DetectionsToJson(detection.detections)});
  if (declared && p.manifest) {
    out->manifest = p.manifest->Check(out->analysis, detection, *declared);
    out->analysis.extra_fields.push_back({"manifest", out->manifest->ToJson()});
  }
  out->detection = std::move(detection);
  out->ms_detect =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return Status::Ok();
}

Status AnalyzeScanFile(const std::string& path, const ScanPipeline& p, ScanResult* out) {
  CS_RETURN_IF_ERROR(CheckScanPipeline(p));
  CS_ASSIGN_OR_RETURN(Scan scan, ReadScan(path));
  const Declaration* declared = nullptr;
  if (p.declarations) {
    auto it = p.declarations->find(scan.meta.consignment_id);
    if (it != p.declarations->end()) declared = &it->second;
  }
  CS_RETURN_IF_ERROR(AnalyzeScan(scan, p, declared, out));
  out->undeclared = p.declarations && !declared;
  return Status::Ok();
}

}  // namespace clearsight
