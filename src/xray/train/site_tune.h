// Fine-tuning on a site's traffic (xray adapt): its threat library, projected copies of its scans,
// their training samples and their scores under a model.
#pragma once

#include <string>
#include <vector>

#include "xray/train/train_internal.h"

namespace clearsight::xray {

// The scans of a folder (every .tif/.tiff file in it, not below it), sorted.
std::vector<std::string> ScanPaths(const std::string& dir);

// The simulator's threats (per_class of each class) as materials, at the site's pixel size,
// rendered through the site scanner's spectral response fitted to its calibration's wedges.
// FailedPrecondition when the calibration cannot give that response (wedges without formulas).
Result<ThreatLibrary> SiteThreatLibrary(const Calibration& calibration, double pixel_mm,
                                        int per_class, uint64_t seed);

// Projects one threat of a class drawn at random into *scan: over one of the analysis's objects
// (concealed) 70 % of the time, else within the parcel's extent; random rotation and 0.85..1.15
// scale. The same seed and scan give the same copy.
Result<ProjectedThreat> ProjectSiteThreat(const ThreatLibrary& library,
                                          const ScanAnalysis& analysis, uint64_t seed, Scan* scan);

// A training sample of a site scan (threat: the projected one, or null for the scan as it came,
// taken as clean). Goods labels are all "ignore": the site's goods are not known.
Status SiteSample(const ScanAnalysis& analysis, const ProjectedThreat* threat, Sample* out);

// Scans (per scan, the highest score of each class; < 0: none) that alarm on any class at these
// per-class points.
int64_t AlarmedScans(const std::vector<std::vector<double>>& best,
                     const std::vector<double>& points);
// Raises per-class points until each group of scans alarms on at most budget[g] of them: the
// lowest-scoring alarm of the group most over its budget first, that class's point set just
// above it. best[g][i][k]: group g, scan i, class k, as AlarmedScans reads it. Never lowers.
void RaisePointsToBudgets(const std::vector<std::vector<std::vector<double>>>& best,
                          const std::vector<int64_t>& budget, std::vector<double>* points);

// A scan's scores under a model, as probabilities (the model's points undone): per threat class
// the highest (-1: no detection), and for a projected threat the best detection of its class that
// overlaps it as the evaluation counts a find (-1: missed); and the goods classes it sees.
struct SiteScores {
  std::vector<double> best;
  std::string threat_class;
  double threat_score = -1;
  std::vector<double> goods_share;  // DetectionResult::goods_share
  double goods_area_cm2 = 0;
};
SiteScores ScoreSiteScan(const Detector& detector, const ScanAnalysis& analysis,
                         const ProjectedThreat* threat);

}  // namespace clearsight::xray
