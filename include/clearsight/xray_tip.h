// Threat image projection (TIP): inserting a threat into a clean scan.
//
// Transmissions multiply along a ray, so a threat is projected by adding its log attenuation to
// the scan's in both energies (I_new = I_scan * T_threat). Threats come from a library of
// simulated patches (Simulator::MakeThreatLibrary) or patches cut out of real scans. Used to make
// training data for the detector and for screener training.
#pragma once

#include <cstdint>
#include <optional>
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
  // Where the threat counts as present (width x height), as the simulator's truth draws a mask;
  // empty: where its projection attenuates the high image by mask_min_log_high or more.
  std::vector<uint8_t> mask;
};

// The threat as the calibrated scanner images it: each pixel's log attenuation in both images from
// the scanner's fitted spectral response (beam hardening, detector stack and scatter floor
// included), then blurred by the edge spread the calibration measured. InvalidArgument for an
// empty threat, sizes that disagree or a recipe that does not parse.
Result<ThreatPatch> RenderThreat(const MaterialThreat& threat, const ScannerResponse& response,
                                 const Calibration& calibration);

// How a scanner's detector shapes its images, for a projection that should look like what that
// scanner scans: the blur (a Gaussian's sigma, in scan pixels), the quantum noise of an air
// pixel's transmission before the blur, per channel, and the electronic noise (the same at any
// transmission: behind steel it is most of the noise).
struct ScannerImaging {
  double blur_sigma_low = 0, blur_sigma_high = 0;
  double air_sd_low = 0, air_sd_high = 0;
  double electronic_sd = 0;
  // Scatter: this share of the absorbed intensity reaches the detector spread over about 5 cm
  // (as the simulator spreads it); behind a dense threat it, not the primary, sets the floor.
  double scatter_fraction = 0;
};

// A scanner's air noise measured on one of its scans: the quantum noise of an air pixel's
// transmission before the detector's blur (ScannerImaging::air_sd_*), low and high, from the
// scan's open-beam pixels and the blur the calibration measured. Air reads 1 on average and the
// stored values stop at 1, so half of the air pixels are cut off; the spread is read from the half
// below (the 68 % of it nearest to 1), and `electronic_sd` (also in the air pixels) is taken out.
// FailedPrecondition when the scan has too little open beam (fewer than 2,000 pixels at 1).
Result<std::pair<double, double>> EstimateAirNoise(const Scan& scan, double blur_sigma_low,
                                                   double blur_sigma_high, double electronic_sd);

struct ProjectOptions {
  double x = 0, y = 0;  // where the patch centre goes, in scan pixels
  double scale = 1.0;   // size factor on top of the pixel-size conversion
  double rotation_deg = 0;
  // When > 0, noise is added where the threat attenuates so the region keeps the quantum noise
  // a scanner with this many photons per pixel would show there; 0 leaves the scan's noise alone.
  // White noise: for a scanner whose detector blurs, `imaging` is the better model.
  double photons_per_pixel = 0;
  // When set (photons_per_pixel is then not used): the resampled threat is blurred by the
  // scanner's blur (its absorbed share 1 - T, as the detector blurs intensity), and the noise the
  // attenuated region lacks (variance air_sd^2 x T x (1 - t) + electronic_sd^2 x (1 - t^2) before
  // the blur, T the scan's primary transmission and t the threat's) is drawn and blurred the same
  // way, so the region's noise has the level and grain of the scanner's. With a scatter fraction,
  // the threat attenuates only the primary part of each pixel: the scan's scatter (estimated from
  // its absorbed share) is taken out, and the scatter of the scan with the threat in it put back.
  std::optional<ScannerImaging> imaging;
  // The patch already shows the scanner's blur (RenderThreat's do): only the noise is blurred.
  bool patch_blurred = false;
  // The threat was rasterized on the scan's own grid (Simulator::RenderMaterialThreat): each of
  // its pixels lands on one scan pixel, the patch centre at `x`, `y` moved to the nearest grid
  // position, without rotation, scaling or resampling (its pixel size then only sets its size).
  bool on_scan_grid = false;
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

// Projects a threat of known composition into a scan of the scanner whose spectral response is
// given: along each ray the threat's materials are added to what the scan already holds there (as
// the polyethylene that attenuates the scan's high image as much), and the threat adds the
// difference in log attenuation that the response gives, in each image. So the threat is imaged
// as that scanner images it and is hardened by the goods it lies in, as a packed one is (adding the
// log attenuation of the threat alone over-darkens dense threats behind goods). Otherwise as
// ProjectThreat (place, scale, rotation, imaging; give `imaging` the scanner's blur: the threat's
// materials are not blurred yet). InvalidArgument for an empty threat or a recipe that does not
// parse.
Result<ProjectedThreat> ProjectMaterialThreat(const MaterialThreat& threat,
                                              const ScannerResponse& response,
                                              const ProjectOptions& options, Scan* scan);

}  // namespace clearsight
