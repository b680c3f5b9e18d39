// Threat image projection (TIP): inserting a threat into a clean scan.
//
// Transmissions multiply along a ray, so a threat is projected by adding its log attenuation to
// the scan's in both energies (I_new = I_scan * T_threat). Threats come from a library of
// simulated patches (Simulator::MakeThreatLibrary) or patches cut out of real scans. Used to make
// training data for the detector and for screener training.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/status.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_scan.h"

namespace clearsight {

// "narcotics", "firearm", "firearm_part", "knife", "cigarettes", "currency", "lithium_battery".
const std::vector<std::string>& ThreatClasses();

// How a find of a threat class must be treated. A weapon (firearm, firearm part, knife) stops the
// consignment for a physical check whatever the budget; contraband is evidence weighed with the
// rest. A class this catalogue does not know is contraband.
enum class ThreatSeverity { kContraband, kWeapon };
ThreatSeverity SeverityOfThreatClass(std::string_view threat_class);

// A threat alone on air: its log attenuation -ln(T) in both energies, 0 outside it.
struct ThreatPatch {
  std::string name;          // unique in its library, [A-Za-z0-9._-]
  std::string threat_class;  // one of ThreatClasses()
  int width = 0, height = 0;
  double pixel_mm = 0;
  std::vector<float> log_low, log_high;
  double mass_kg = 0;  // 0 when unknown (cut-outs)
};

class ThreatLibrary {
 public:
  // InvalidArgument when the patch is empty, sizes disagree or the class is unknown.
  Status Add(ThreatPatch patch);
  // Cuts the region [x0,x1) x [y0,y1) out of a scan: log attenuation minus the median of the
  // region's 2-pixel border (the background), set to 0 where below `min_log_high`.
  Status AddCutout(const Scan& scan, int x0, int y0, int x1, int y1, std::string threat_class,
                   std::string name, double min_log_high = 0.02);

  // A library on disk is a directory of format-v1 scans of the patches (transmission of the
  // threat alone) whose sidecars carry "threat_class", "threat_name" and "mass_kg".
  static Result<ThreatLibrary> Load(const std::string& dir);
  Status Save(const std::string& dir) const;

  const std::vector<ThreatPatch>& patches() const { return patches_; }
  std::vector<const ThreatPatch*> OfClass(std::string_view threat_class) const;

 private:
  std::vector<ThreatPatch> patches_;
};

// A threat as the materials along each ray rather than as one scanner's image of it: what lets a
// threat be projected into the scans of any calibrated scanner (RenderThreat), a site's included.
struct MaterialLayer {
  std::string recipe;        // a formula or a mixture by mass (FormulaMassAttenuation)
  std::vector<float> g_cm2;  // areal density per pixel, width x height
};
struct MaterialThreat {
  std::string name;
  std::string threat_class;  // one of ThreatClasses()
  int width = 0, height = 0;
  double pixel_mm = 0;
  double mass_kg = 0;
  std::vector<MaterialLayer> layers;
};

// The threat as the calibrated scanner images it: each pixel's log attenuation in both images from
// the scanner's fitted spectral response (beam hardening, detector stack and scatter floor
// included), then blurred by the edge spread the calibration measured. InvalidArgument for an
// empty threat, sizes that disagree or a recipe that does not parse.
Result<ThreatPatch> RenderThreat(const MaterialThreat& threat, const ScannerResponse& response,
                                 const Calibration& calibration);

struct ProjectOptions {
  double x = 0, y = 0;  // where the patch centre goes, in scan pixels
  double scale = 1.0;   // size factor on top of the pixel-size conversion
  double rotation_deg = 0;
  // When > 0, noise is added where the threat attenuates so the region keeps the quantum noise
  // a scanner with this many photons per pixel would show there; 0 leaves the scan's noise alone.
  double photons_per_pixel = 0;
  uint64_t seed = 0;
  double mask_min_log_high = 0.02;  // where the projected threat counts as present
};

struct ProjectedThreat {
  std::string name;
  std::string threat_class;
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // [x0,x1) x [y0,y1), clipped to the scan
  std::vector<uint32_t> mask_rle;      // as TruthObject::mask_rle
};

// Multiplies the patch's transmission into *scan in both energies at the given place, scale and
// rotation (bilinear resampling; the patch's pixel_mm is converted to the scan's). Fails with
// InvalidArgument when the threat would fall entirely outside the scan.
Result<ProjectedThreat> ProjectThreat(const ThreatPatch& patch, const ProjectOptions& options,
                                      Scan* scan);

}  // namespace clearsight
