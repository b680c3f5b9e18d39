// Screener training through the service: role checks, no truth before the answer, hits only with
// the mark on the projected threat, scores and the CSV export, and training images kept out of
// the queue. A real service on a loopback port with small simulated backgrounds.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "clearsight/training.h"
#include "clearsight/xray_simulate.h"
#include "service/service_test_util.h"

namespace clearsight {
namespace {

using nlohmann::json;
using testing::Client;
using testing::PasswordOf;
using testing::Reply;
using testing::TempDir;

class TrainingServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServiceOptions o;
    o.port = 0;
    o.store.url = dir_ / "cs.db";
    o.training_image_width = 256;
    o.training_image_height = 192;
    Service* svc = nullptr;
    testing::StartServiceWithRoleUsers(o, &svc);
    service_.reset(svc);
    ASSERT_TRUE(
        AddUser(service_->store(), "olga", Role::kOfficer, PasswordOf("olga"), "test").ok());
  }
  void TearDown() override { service_.reset(); }
  Client As(const std::string& user) {
    Client c(service_->port());
    EXPECT_TRUE(c.Login(user, PasswordOf(user))) << user;
    return c;
  }
  // A session of `images` images with `share` of them firearms, assigned to "officer".
  int64_t SessionFor(Client& trainer, int images, double share) {
    Reply r = trainer.Post("/api/training/sessions", json{{"name", "Week 1"},
                                                          {"settings",
                                                           {{"images", images},
                                                            {"threat_share", share},
                                                            {"threat_classes", {"firearm"}},
                                                            {"time_limit_s", 30}}}});
    EXPECT_EQ(r.status, 201) << r.raw;
    const int64_t id = r.body["session_id"].get<int64_t>();
    Reply a = trainer.Post("/api/training/sessions/" + std::to_string(id) + "/assign",
                           json{{"trainees", {"officer"}}});
    EXPECT_EQ(a.status, 200) << a.raw;
    return id;
  }
  TrainingTrialRow Truth(int64_t trial_id) {
    auto t = service_->store().GetTrainingTrial(trial_id);
    EXPECT_TRUE(t.ok() && t->has_value());
    return **t;
  }
  TempDir dir_;
  std::unique_ptr<Service> service_;
};

TEST_F(TrainingServiceTest, RolesDecideWhoBuildsWhoTrainsAndWhoSeesScores) {
  Client officer = As("officer"), trainer = As("trainer"), analyst = As("analyst"),
         integrator = As("integrator"), admin = As("admin");
  const json body = {{"name", "x"}};
  EXPECT_EQ(officer.Post("/api/training/sessions", body).status, 403);
  EXPECT_EQ(analyst.Post("/api/training/sessions", body).status, 403);
  EXPECT_EQ(officer.Get("/api/training/sessions").status, 403);
  EXPECT_EQ(integrator.Get("/api/training/assignments").status, 403);
  EXPECT_EQ(analyst.Get("/api/training/scores").status, 403);
  EXPECT_EQ(officer.Get("/api/training/results.csv").status, 403);
  EXPECT_EQ(officer.Send("PUT", "/api/training/certification", "{}").status, 403);
  EXPECT_EQ(admin.Post("/api/training/sessions", body).status, 201);
  const int64_t id = SessionFor(trainer, 2, 0.5);
  const std::string next = "/api/training/sessions/" + std::to_string(id) + "/next";
  EXPECT_EQ(trainer.Get(next).status, 403);     // trainers build, officers train
  EXPECT_EQ(As("olga").Get(next).status, 404);  // an officer without the assignment
  // Sessions go to officers only, and to users that exist.
  Reply bad = trainer.Post("/api/training/sessions/" + std::to_string(id) + "/assign",
                           json{{"trainees", {"analyst"}}});
  EXPECT_EQ(bad.status, 400) << bad.raw;
  EXPECT_EQ(trainer
                .Post("/api/training/sessions/" + std::to_string(id) + "/assign",
                      json{{"trainees", {"nobody"}}})
                .status,
            404);
  EXPECT_EQ(
      trainer.Post("/api/training/sessions/99/assign", json{{"trainees", {"officer"}}}).status,
      404);
  // Bad settings name the field.
  Reply r = trainer.Post("/api/training/sessions",
                         json{{"name", "x"}, {"settings", {{"threat_classes", {"bazooka"}}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.raw.find("bazooka"), std::string::npos) << r.raw;
  Reply sessions = trainer.Get("/api/training/sessions");
  ASSERT_EQ(sessions.status, 200);
  std::set<std::string> trainees(sessions.body["trainees"].begin(),
                                 sessions.body["trainees"].end());
  EXPECT_EQ(trainees, (std::set<std::string>{"officer", "olga"}));
}

TEST_F(TrainingServiceTest, AnOfficerScreensWithoutTheTruthAndHitsOnlyOnTheThreat) {
  Client trainer = As("trainer"), officer = As("officer");
  const int64_t id = SessionFor(trainer, 4, 0.5);
  Reply mine = officer.Get("/api/training/assignments");
  ASSERT_EQ(mine.status, 200);
  ASSERT_EQ(mine.body["assignments"].size(), 1u);
  EXPECT_EQ(mine.body["assignments"][0]["images"], 4);
  EXPECT_EQ(mine.body["assignments"][0]["answered"], 0);
  const std::string next = "/api/training/sessions/" + std::to_string(id) + "/next";
  int threats_seen = 0, clean_seen = 0;
  std::set<std::string> outcomes;
  for (int i = 0; i < 4; ++i) {
    Reply n = officer.Get(next);
    ASSERT_EQ(n.status, 200) << n.raw;
    ASSERT_EQ(n.body["done"], false);
    EXPECT_EQ(n.body["index"], i);
    // No truth before the answer: not in the answer, not in the scan's row.
    for (const char* key : {"threat", "class", "box", "truth", "level", "clutter", "size_scale"})
      EXPECT_FALSE(n.body.contains(key)) << key;
    const std::string scan_id = n.body["scan_id"];
    EXPECT_EQ(officer.Get(next).body["trial_id"], n.body["trial_id"]) << "the same until answered";
    Reply scan = officer.Get("/api/scans/" + scan_id);
    ASSERT_EQ(scan.status, 200) << scan.raw;
    EXPECT_EQ(scan.raw.find("firearm"), std::string::npos) << scan.raw;
    EXPECT_EQ(scan.raw.find("threat"), std::string::npos) << scan.raw;
    EXPECT_EQ(officer.Get("/api/scans/" + scan_id + "/image.png?view=high").status, 200);
    const int64_t trial = n.body["trial_id"];
    const TrainingTrialRow truth = Truth(trial);
    const std::string respond = "/api/training/trials/" + std::to_string(trial) + "/response";
    EXPECT_EQ(officer.Post(respond, json{{"decision", "maybe"}, {"response_ms", 10}}).status, 400);
    EXPECT_EQ(As("olga").Post(respond, json{{"decision", "clear"}, {"response_ms", 10}}).status,
              404);
    json answer;
    bool expect_hit = false;
    if (truth.threat) {
      EXPECT_EQ(truth.threat_class, "firearm");
      const int cx = (truth.box_x0 + truth.box_x1) / 2, cy = (truth.box_y0 + truth.box_y1) / 2;
      if (threats_seen++ == 0) {
        answer = {{"decision", "suspect"}, {"mark", {{"x", cx}, {"y", cy}}}, {"response_ms", 2500}};
        expect_hit = true;
      } else {
        // Suspect, but the mark is off the threat: a miss.
        const int off_x = truth.box_x1 + 5 < 256 ? truth.box_x1 + 5 : truth.box_x0 - 5;
        answer = {
            {"decision", "suspect"}, {"mark", {{"x", off_x}, {"y", cy}}}, {"response_ms", 3000}};
      }
    } else {
      answer = {{"decision", clean_seen++ == 0 ? "suspect" : "clear"},
                {"mark", {{"x", 10}, {"y", 10}}},
                {"response_ms", 1500}};
    }
    Reply a = officer.Post(respond, answer);
    ASSERT_EQ(a.status, 200) << a.raw;
    EXPECT_EQ(a.body["hit"], expect_hit) << a.raw;
    outcomes.insert(a.body["outcome"].get<std::string>());
    EXPECT_EQ(a.body["truth"]["threat"], truth.threat);
    if (truth.threat) {
      EXPECT_EQ(a.body["truth"]["class"], "firearm");
      EXPECT_EQ(a.body["truth"]["box"],
                json::array({truth.box_x0, truth.box_y0, truth.box_x1, truth.box_y1}));
      EXPECT_FALSE(a.body["truth"]["look"]["material"].get<std::string>().empty());
    }
    EXPECT_EQ(officer.Post(respond, answer).status, 409) << "answered once only";
  }
  EXPECT_EQ(threats_seen, 2);
  EXPECT_EQ(clean_seen, 2);
  EXPECT_EQ(outcomes, (std::set<std::string>{"hit", "miss", "false_alarm", "correct_rejection"}));
  Reply done = officer.Get(next);
  EXPECT_EQ(done.body["done"], true) << done.raw;
  EXPECT_EQ(officer.Get("/api/training/assignments").body["assignments"][0]["done"], true);

  // Training images never reach the officers' queue.
  Reply queue = officer.Get("/api/queue?status=");
  ASSERT_EQ(queue.status, 200);
  EXPECT_EQ(queue.body["total"], 0) << queue.raw;
  EXPECT_EQ(officer.Get("/api/consignments/training:" + std::to_string(id)).status, 404);

  // Scores: 1 hit of 2 firearms, 1 false alarm of 2 clean images, as the scores module has it.
  Reply scores = trainer.Get("/api/training/scores");
  ASSERT_EQ(scores.status, 200) << scores.raw;
  ASSERT_EQ(scores.body["trainees"].size(), 1u);
  const json& t = scores.body["trainees"][0];
  EXPECT_EQ(t["trainee"], "officer");
  EXPECT_EQ(t["answered"], 4);
  EXPECT_EQ(t["certified"], false);
  const json& firearm = t["classes"][0];
  EXPECT_EQ(firearm["class"], "firearm");
  EXPECT_EQ(firearm["hits"], 1);
  EXPECT_EQ(firearm["signal_trials"], 2);
  EXPECT_EQ(firearm["false_alarms"], 1);
  EXPECT_EQ(firearm["noise_trials"], 2);
  // H = 1.5/3, F = 1.5/3: d' = 0.
  EXPECT_NEAR(firearm["d_prime"].get<double>(), 0.0, 1e-9);
  EXPECT_DOUBLE_EQ(firearm["median_response_ms"].get<double>(), 2750);
  ASSERT_EQ(t["sessions"].size(), 1u);
  EXPECT_EQ(t["sessions"][0]["session_id"], id);
  // An officer sees their own scores only.
  Reply own = As("olga").Get("/api/training/scores");
  ASSERT_EQ(own.status, 200);
  ASSERT_EQ(own.body["trainees"].size(), 1u);
  EXPECT_EQ(own.body["trainees"][0]["trainee"], "olga");
  EXPECT_EQ(own.body["trainees"][0]["answered"], 0);
  // The CSV: a header and one row per answered image.
  Reply csv = trainer.Get("/api/training/results.csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.Header("Content-Type").rfind("text/csv", 0), 0u);
  size_t lines = 0;
  for (char c : csv.raw) lines += c == '\n';
  EXPECT_EQ(lines, 5u) << csv.raw;
  EXPECT_NE(csv.raw.find(",officer,"), std::string::npos);
  // The certification rule is the trainer's to set.
  Reply rule = trainer.Send("PUT", "/api/training/certification",
                            json{{"min_d_prime", 0.0}, {"window", 10}}.dump());
  ASSERT_EQ(rule.status, 200) << rule.raw;
  EXPECT_EQ(trainer.Get("/api/training/scores").body["certification_rule"]["window"], 10);
  EXPECT_EQ(trainer.Send("PUT", "/api/training/certification", json{{"window", 1}}.dump()).status,
            400);
}

TEST_F(TrainingServiceTest, ATimedOutAnswerCountsAsClearedAndUploadsCannotUseTrainingIds) {
  Client trainer = As("trainer"), officer = As("officer");
  const int64_t id = SessionFor(trainer, 1, 1.0);
  Reply n = officer.Get("/api/training/sessions/" + std::to_string(id) + "/next");
  ASSERT_EQ(n.status, 200) << n.raw;
  const TrainingTrialRow truth = Truth(n.body["trial_id"]);
  ASSERT_TRUE(truth.threat);
  const int cx = (truth.box_x0 + truth.box_x1) / 2, cy = (truth.box_y0 + truth.box_y1) / 2;
  Reply a = officer.Post(
      "/api/training/trials/" + std::to_string(truth.trial_id) + "/response",
      json{{"decision", "suspect"}, {"mark", {{"x", cx}, {"y", cy}}}, {"response_ms", 31000}});
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.body["timed_out"], true);
  EXPECT_EQ(a.body["decision"], "clear");
  EXPECT_EQ(a.body["outcome"], "miss");
  Reply up = officer.Send(
      "POST", "/api/scans?scan_id=s1&pixel_mm=1&consignment_id=training:" + std::to_string(id),
      "II*", "image/tiff");
  EXPECT_EQ(up.status, 400);
}

TEST_F(TrainingServiceTest, StoredSessionsProjectIntoScansInspectedAndFoundClean) {
  Client trainer = As("trainer"), officer = As("officer");
  Reply r = trainer.Post(
      "/api/training/sessions",
      json{{"name", "Real parcels"},
           {"settings", {{"images", 2}, {"threat_share", 1.0}, {"source", "stored"}}}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const std::string id = std::to_string(r.body["session_id"].get<int64_t>());
  ASSERT_EQ(
      trainer.Post("/api/training/sessions/" + id + "/assign", json{{"trainees", {"officer"}}})
          .status,
      200);
  // No consignment has been found clean yet: the session cannot make an image.
  Reply none = officer.Get("/api/training/sessions/" + id + "/next");
  EXPECT_EQ(none.status, 409) << none.raw;
  EXPECT_NE(none.raw.find("nothing"), std::string::npos) << none.raw;
  // A scan uploaded for a consignment, inspected, nothing found.
  SimulateOptions so;
  so.width = 200;
  so.height = 150;
  so.threat_rate = 0;
  auto sim = Simulator::Create(so);
  ASSERT_TRUE(sim.ok());
  auto parcel = (*sim)->Simulate(3);
  ASSERT_TRUE(parcel.ok());
  parcel->scan.meta.scan_id = "real-1";
  parcel->scan.meta.consignment_id = "CLEAN-1";
  auto tiff = EncodeScanTiff(parcel->scan);
  ASSERT_TRUE(tiff.ok());
  Reply up = officer.PostMultipart(
      "/api/scans", {{"tiff", *tiff, "scan.tif", "image/tiff"},
                     {"sidecar", ScanMetaToJson(parcel->scan.meta), "", "application/json"}});
  ASSERT_EQ(up.status, 201) << up.raw;
  ASSERT_EQ(officer.Post("/api/consignments/CLEAN-1/outcome", json{{"result", "nothing"}}).status,
            201);
  Reply n = officer.Get("/api/training/sessions/" + id + "/next");
  ASSERT_EQ(n.status, 200) << n.raw;
  const TrainingTrialRow truth = Truth(n.body["trial_id"]);
  EXPECT_EQ(truth.source, "scan:real-1");
  EXPECT_TRUE(truth.threat);
  EXPECT_NE(n.body["scan_id"], "real-1");
  // The training image is the stored scan with the threat in it; the stored scan is unchanged.
  auto trained = service_->store().GetScan(n.body["scan_id"].get<std::string>());
  ASSERT_TRUE(trained.ok() && trained->has_value());
  EXPECT_EQ((*trained)->width, 200);
  EXPECT_EQ((*trained)->consignment_id, "training:" + id);
  auto original = service_->store().GetScan("real-1");
  ASSERT_TRUE(original.ok() && original->has_value());
  EXPECT_NE((*original)->image_sha256, (*trained)->image_sha256);
  // The queue holds the real consignment only (every status).
  Reply queue = officer.Get("/api/queue?status=&limit=100");
  ASSERT_EQ(queue.status, 200);
  EXPECT_EQ(queue.body["total"], 1) << queue.raw;
}

TEST_F(TrainingServiceTest, RequestsAtOnceForTheNextImageGetTheSameOne) {
  Client trainer = As("trainer");
  const int64_t id = SessionFor(trainer, 3, 0.5);
  const std::string next = "/api/training/sessions/" + std::to_string(id) + "/next";
  std::vector<int64_t> trials(4, -1);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < trials.size(); ++i)
    threads.emplace_back([&, i] {
      Client c = As("officer");
      Reply r = c.Get(next);
      if (r.status == 200) trials[i] = r.body["trial_id"].get<int64_t>();
    });
  for (auto& t : threads) t.join();
  for (int64_t t : trials) EXPECT_EQ(t, trials[0]);
  TrainingTrialQuery q;
  q.session_id = id;
  auto rows = service_->store().TrainingTrials(q);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 1u) << "one image made, however many asked at once";
}

}  // namespace
}  // namespace clearsight
