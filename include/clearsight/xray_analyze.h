// Material analysis of one dual-energy scan: log attenuation, effective atomic number and
// material class per pixel, object segmentation, and mass per object and per material class.
//
// Load once, run many: Analyzer::Create(calibration, options) builds the lookup tables once;
// Analyze(scan) is const and may be called from many threads at once. The per-pixel channels
// stay in the result so a threat detector or manifest check can build on them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "clearsight/status.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_scan.h"

namespace clearsight {

struct AnalyzerOptions {
  int threads = 2;
  // A pixel belongs to an object when its smoothed high-energy log attenuation exceeds the
  // packaging level by this much (about 1.5 mm of POM).
  double min_object_log_high = 0.04;
  int min_object_pixels = 40;            // smaller connected regions are not objects
  double air_log_high = 0.015;           // below this (smoothed) a pixel is air: class kNone
  double max_packaging_log_high = 0.12;  // pixels thinner than this may be packaging alone
  int impenetrable_low_pixel = 40;       // low-energy pixel at or below this: kImpenetrable
  bool keep_channels = true;             // false: only objects and totals (saves ~20 bytes/pixel)
};

struct DetectedObject {
  int id = 0;                                     // 1-based; equals the value in channels.labels
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;             // box in pixels, [x0,x1) x [y0,y1)
  MaterialClass material = MaterialClass::kNone;  // kOrganic, kInorganic or kMetal
  double z_eff = 0;
  double mass_kg = 0;  // packaging level subtracted
  double area_cm2 = 0;
  int64_t pixels = 0;
  double areal_density_g_cm2 = 0;    // mean over the object
  double log_low = 0, log_high = 0;  // mean, packaging level subtracted
  double impenetrable_fraction = 0;  // share of pixels whose low image is saturated
};

struct MaterialTotals {
  double organic_kg = 0;
  double inorganic_kg = 0;
  double metal_kg = 0;
};

// Per-pixel results, row-major like the scan. Empty when keep_channels is false.
struct ScanChannels {
  std::vector<float> log_low;  // -ln(I/I0), raw
  std::vector<float> log_high;
  std::vector<float> z_eff;          // from smoothed attenuation (3x3 box, blur-matched); 0 for air
  std::vector<float> areal_density;  // g/cm^2 along the ray (everything on it); 0 for air
  std::vector<uint8_t> material;     // MaterialClass per pixel
  std::vector<int32_t> labels;       // object id, 0 = none
};

struct ScanAnalysis {
  std::string scan_id;
  std::string consignment_id;
  int width = 0, height = 0;
  double pixel_mm = 0;
  double packaging_log_low = 0, packaging_log_high = 0;  // level subtracted from objects
  std::vector<DetectedObject> objects;                   // by mass, heaviest first
  MaterialTotals materials;                              // sums over objects by class
  ScanChannels channels;
  double ms = 0;  // wall time of Analyze

  // Fields later stages add to the same JSON line ("detections", "manifest"), as key and JSON
  // value text; ToJson appends them in this order.
  std::vector<std::pair<std::string, std::string>> extra_fields;

  // One JSON object, one line: scan_id, consignment_id, width, height, objects [{id, box, material,
  // z_eff, mass_kg, area_cm2, areal_density_g_cm2, pixels}], materials {organic_kg, inorganic_kg,
  // metal_kg}, ms, then extra_fields.
  std::string ToJson() const;
};

class Analyzer {
 public:
  // Fails with InvalidArgument when the options are out of range.
  static Result<std::unique_ptr<Analyzer>> Create(Calibration calibration,
                                                  const AnalyzerOptions& options = {});

  // Analyzes one scan into *out, reusing its buffers (no allocation once warmed up). Fails with
  // InvalidArgument when the scan is malformed (ValidateScan).
  Status Analyze(const Scan& scan, ScanAnalysis* out) const;
  Result<ScanAnalysis> Analyze(const Scan& scan) const;

  const Calibration& calibration() const { return calibration_; }
  const AnalyzerOptions& options() const { return options_; }

  ~Analyzer();

 private:
  struct Tables;
  Analyzer(Calibration calibration, const AnalyzerOptions& options);
  Calibration calibration_;
  AnalyzerOptions options_;
  std::unique_ptr<Tables> tables_;
};

// The straightforward per-pixel implementation of the same analysis: one thread, std::log per
// pixel, the calibration evaluated per pixel, a naive 5x5 smoothing and a flood-fill labelling. The
// benchmark runs it beside Analyzer; tests check the two agree.
Status AnalyzeReference(const Calibration& calibration, const AnalyzerOptions& options,
                        const Scan& scan, ScanAnalysis* out);

// The standard screening colours from an analysis with channels: organic orange, inorganic
// green, metal blue, impenetrable black; brightness from the high-energy attenuation.
struct MaterialRenderOptions {
  double brightness_gamma = 0.6;
  bool outline_objects = false;  // draw object boxes in white
};
Result<std::string> RenderMaterialPng(const ScanAnalysis& analysis,
                                      const MaterialRenderOptions& options = {});

}  // namespace clearsight
