// The service with the committed threat detector (models/detector.pt): declarations first, then
// full-size simulated scans with threats, as at a sorting centre. Each scan's analysis carries the
// detections and the manifest check, and the decision follows them.
#include <gtest/gtest.h>

#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_detect.h"
#include "clearsight/xray_simulate.h"
#include "service/service_test_util.h"

namespace clearsight {
namespace {

using nlohmann::json;
using testing::Client;
using testing::PasswordOf;
using testing::Reply;
using testing::TempDir;

const std::string kModel = CS_SOURCE_DIR "/models/detector.pt";

// Uploads `scan` as scan "scan-<id>" of consignment `id`.
Reply UploadScan(Client& in, Scan* scan, const std::string& id) {
  scan->meta.scan_id = "scan-" + id;
  scan->meta.consignment_id = id;
  auto tiff = EncodeScanTiff(*scan);
  EXPECT_TRUE(tiff.ok());
  if (!tiff.ok()) return Reply{};
  return in.PostMultipart(
      "/api/scans", {{"tiff", *tiff, "scan.tif", "image/tiff"},
                     {"sidecar", ScanMetaToJson(scan->meta), "scan.json", "application/json"}});
}

class DetectorService : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    SimulateOptions so;  // 1024 x 768, the scanner and pixel size the detector was trained for
    so.seed = 5150;      // used neither in training nor in the held-out evaluation
    so.threat_rate = 1.0;
    so.misdeclared_rate = 0.0;
    so.undervalued_rate = 0.0;
    auto sim = Simulator::Create(so);
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    sim_ = sim->release();
    auto wedges = sim_->SimulateWedges();
    ASSERT_TRUE(wedges.ok());
    auto calib = Calibration::Fit(*wedges);
    ASSERT_TRUE(calib.ok()) << calib.status().ToString();
    ASSERT_TRUE(calib->Save(*dir_ / "calib.json").ok());
    ServiceOptions o;
    o.port = 0;
    o.store.url = *dir_ / "cs.db";
    o.calibration_path = *dir_ / "calib.json";
    o.detector_path = kModel;
    o.http_threads = 4;
    o.warm_up = true;  // as `clearsight serve` does: the scans below follow it
    testing::StartServiceWithRoleUsers(o, &service_);
  }
  static void TearDownTestSuite() {
    delete service_;
    delete sim_;
    delete dir_;
  }

  static inline TempDir* dir_ = nullptr;
  static inline Service* service_ = nullptr;
  static inline Simulator* sim_ = nullptr;
};

TEST_F(DetectorService, ScansGetDetectionsAndAManifestCheckThatTheDecisionFollows) {
  Client in(service_->port());
  ASSERT_TRUE(in.Login("integrator", PasswordOf("integrator")));
  int detector_reasons = 0, weapons = 0, uploaded = 0;
  // Parcels whose threat is of a class the committed model finds most of on this scanner at its
  // operating points (lithium batteries 86 %, firearms 83 %; see models/README.md).
  for (int i = 0; i < 80 && uploaded < 6; ++i) {
    auto parcel = sim_->Simulate(i);
    ASSERT_TRUE(parcel.ok());
    bool wanted = false;
    for (const auto& t : parcel->truth.objects)
      wanted |= t.threat && (t.threat_class == "firearm" || t.threat_class == "lithium_battery");
    if (!wanted) continue;
    ++uploaded;
    const std::string id = "DS" + std::to_string(i);
    Declaration d = parcel->declaration;
    d.declaration_id = id;
    d.consignment_id = id;
    Reply decl = in.Post("/api/declarations", json::parse(DeclarationToJson(d, {})));
    ASSERT_EQ(decl.status, 201) << decl.raw;
    Reply up = UploadScan(in, &parcel->scan, id);
    ASSERT_EQ(up.status, 201) << up.raw;
    const json& analysis = up.body["scan"]["analysis"];
    ASSERT_TRUE(analysis["detections"].is_array()) << analysis.dump().substr(0, 400);
    // The declaration came first, so the image was checked against it.
    ASSERT_TRUE(analysis["manifest"].is_object()) << analysis.dump().substr(0, 400);
    EXPECT_TRUE(analysis["manifest"]["consistent"].is_boolean());
    bool weapon = false;
    for (const auto& det : analysis["detections"]) {
      EXPECT_GE(det["score"].get<double>(), 0.5)
          << "the service reports detections at the operating point";
      const std::string cls = det["class"];
      weapon |= cls == "firearm" || cls == "firearm_part" || cls == "knife";
    }
    bool has_detector_reason = false;
    for (const auto& r : up.body["decision"]["reasons"])
      has_detector_reason |= r["source"] == "detector";
    // Every detection becomes a reason; none, no reason from the detector.
    EXPECT_EQ(has_detector_reason, !analysis["detections"].empty()) << up.body["decision"].dump();
    detector_reasons += has_detector_reason;
    if (weapon) {
      ++weapons;
      EXPECT_EQ(up.body["decision"]["channel"], "red") << "a weapon detection demands red";
    }
  }
  Client analyst(service_->port());
  ASSERT_TRUE(analyst.Login("analyst", PasswordOf("analyst")));
  Reply stats = analyst.Get("/api/stats");
  ASSERT_EQ(stats.status, 200) << stats.raw;
  EXPECT_EQ(stats.body["detector"]["threat_classes"].size(), ThreatClasses().size()) << stats.raw;
  EXPECT_GT(stats.body["detector"]["parameters"].get<int64_t>(), 0);
  EXPECT_EQ(stats.body["detector"]["manifest"], true);
  EXPECT_EQ(stats.body["detector"]["verifier"], true) << "the committed model has the second stage";
  EXPECT_EQ(stats.body["detector"]["class_operating_probability"].size(), ThreatClasses().size())
      << stats.raw;
  // The default scanner is one the model was trained on: its own points, and the reason.
  EXPECT_EQ(stats.body["detector"]["points"], "own") << stats.raw;
  EXPECT_NE(stats.body["detector"]["scanner_note"].get<std::string>().find("the model's own"),
            std::string::npos)
      << stats.raw;
  const Reply health = analyst.Get("/api/health");
  EXPECT_EQ(health.body["detector"], true);
  // The startup warm-up ran the upload path on every analysis worker before the port opened.
  EXPECT_EQ(health.body["warm_up"]["workers"], 4) << health.raw;
  EXPECT_EQ(health.body["warm_up"]["ok"], true) << health.raw;
  EXPECT_GT(health.body["warm_up"]["ms"].get<double>(), 0) << health.raw;
  std::printf(
      "%d parcels with a firearm or lithium battery: %d with a detector reason, %d with a weapon "
      "detection\n",
      uploaded, detector_reasons, weapons);
  ASSERT_EQ(uploaded, 6);
  EXPECT_GE(detector_reasons, 2) << "the committed model finds some of six firearms and batteries";
}

// A scan that comes before its declaration is checked against the declared goods once the
// declaration arrives: mis-declared parcels then carry the manifest check's reason.
TEST_F(DetectorService, ADeclarationAfterItsScanGetsTheManifestCheck) {
  Client in(service_->port());
  ASSERT_TRUE(in.Login("integrator", PasswordOf("integrator")));
  SimulateOptions so;
  so.seed = 5151;
  so.threat_rate = 0.0;
  so.misdeclared_rate = 1.0;  // every declaration names goods other than those in the parcel
  so.undervalued_rate = 0.0;
  auto sim = Simulator::Create(so);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  int flagged = 0;
  const int parcels = 4;
  for (int i = 0; i < parcels; ++i) {
    auto parcel = (*sim)->Simulate(i);
    ASSERT_TRUE(parcel.ok());
    const std::string id = "LATE" + std::to_string(i);
    Reply up = UploadScan(in, &parcel->scan, id);
    ASSERT_EQ(up.status, 201) << up.raw;
    EXPECT_FALSE(up.body["scan"]["analysis"].contains("manifest"))
        << "no declaration yet: nothing to check against";
    for (const auto& r : up.body["decision"]["reasons"])
      EXPECT_NE(r["source"], "manifest") << up.raw;

    Declaration d = parcel->declaration;
    d.declaration_id = id;
    d.consignment_id = id;
    Reply decl = in.Post("/api/declarations", json::parse(DeclarationToJson(d, {})));
    ASSERT_EQ(decl.status, 201) << decl.raw;
    Reply consignment = in.Get("/api/consignments/" + id);
    ASSERT_EQ(consignment.status, 200) << consignment.raw;
    bool manifest_reason = false;
    for (const auto& r : consignment.body["reasons"]) manifest_reason |= r["source"] == "manifest";
    flagged += manifest_reason;
    // Posting the same declaration again changes nothing.
    Reply again = in.Post("/api/declarations", json::parse(DeclarationToJson(d, {})));
    ASSERT_EQ(again.status, 200) << again.raw;
    Reply after = in.Get("/api/consignments/" + id);
    EXPECT_EQ(after.body["version"], consignment.body["version"]) << after.raw;
  }
  // The committed manifest model flags 94-98 % of mis-declared parcels at its operating point.
  EXPECT_GE(flagged, parcels - 1) << flagged << " of " << parcels
                                  << " mis-declared parcels flagged";
}

TEST(DetectorServiceOptions, ADetectorNeedsACalibrationAReadableModelAndAThreadCount) {
  TempDir dir;
  ServiceOptions o;
  o.port = 0;
  o.store.url = dir / "cs.db";
  o.detector_path = kModel;
  auto no_calibration = Service::Create(o);
  ASSERT_FALSE(no_calibration.ok());
  EXPECT_NE(no_calibration.status().message().find("calibration"), std::string::npos)
      << no_calibration.status().message();
  SimulateOptions so;
  auto sim = Simulator::Create(so);
  ASSERT_TRUE(sim.ok());
  auto calib = Calibration::Fit(*(*sim)->SimulateWedges());
  ASSERT_TRUE(calib.ok());
  ASSERT_TRUE(calib->Save(dir / "calib.json").ok());
  o.calibration_path = dir / "calib.json";
  o.detector_path = dir / "missing.pt";
  auto missing = Service::Create(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing.pt"), std::string::npos)
      << missing.status().message();
  o.detector_path = kModel;
  // A thread count out of range: refused, naming the option and the value.
  auto refused = [&](int* field, int value, const std::string& message) {
    const int kept = *field;
    *field = value;
    auto bad = Service::Create(o);
    *field = kept;
    ASSERT_FALSE(bad.ok()) << message << value;
    EXPECT_NE(bad.status().message().find(message + std::to_string(value)), std::string::npos)
        << bad.status().message();
  };
  for (int threads : {0, 17})
    refused(&o.detector_threads, threads, "detector_threads must be 1..16, got ");
  for (int threads : {-1, 17})
    refused(&o.analysis_threads, threads, "analysis_threads must be 0..16, got ");
  o.detector_threads = 2;
  o.analysis_threads = 0;  // on the HTTP threads: there is no worker to warm
  o.warm_up = true;
  auto cold = Service::Create(o);
  ASSERT_FALSE(cold.ok());
  EXPECT_NE(cold.status().message().find("warm_up runs on the analysis workers"), std::string::npos)
      << cold.status().message();
  o.warm_up = false;
  o.analysis_threads = 3;
  o.store.url = dir / "cs2.db";
  auto two = Service::Create(o);
  EXPECT_TRUE(two.ok()) << two.status().ToString();
}

}  // namespace
}  // namespace clearsight
