// Screener training over HTTP (docs/api.md, Training; docs/training.md): trainers build sessions
// and assign them, trainees (officers) screen one image at a time and get the truth after each
// answer, and everyone sees the scores they may. Images are made as they are asked for, so that
// the staircase follows the trainee image by image; the truth stays in the store until the answer.
#include <algorithm>
#include <cstdio>
#include <map>

#include "clearsight/text.h"
#include "clearsight/training.h"
#include "service/service_impl.h"
#include "xray/physics/random.h"

namespace clearsight {

using service::Caller;
using service::HttpRequest;
using service::HttpResponse;
using service::JsonResponse;

namespace {

constexpr char kCertificationKey[] = "training.certification";
constexpr char kTrainingConsignmentPrefix[] = "training:";

Result<int64_t> IdParam(const std::string& text, const char* what) {
  int64_t id = 0;
  if (!ParseInt64(text, &id) || id < 1)
    return Status::InvalidArgument(std::string(what) + " must be a whole number >= 1");
  return id;
}

bool IsTrainer(const Caller& c) { return c.role == Role::kTrainer || c.role == Role::kAdmin; }

json OptionalNumber(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json ScoresJson(const DetectionScores& s) {
  return json{{"class", s.threat_class.empty() ? json(nullptr) : json(s.threat_class)},
              {"signal_trials", s.signal_trials},
              {"hits", s.hits},
              {"noise_trials", s.noise_trials},
              {"false_alarms", s.false_alarms},
              {"hit_rate", OptionalNumber(s.hit_rate)},
              {"false_alarm_rate", OptionalNumber(s.false_alarm_rate)},
              {"d_prime", s.d_prime},
              {"criterion", s.criterion},
              {"a_prime", s.a_prime},
              {"median_response_ms", OptionalNumber(s.median_response_ms)}};
}

json BoxJson(const TrainingTrialRow& t) {
  return t.threat && TrialHasBox(t) ? json::array({t.box_x0, t.box_y0, t.box_x1, t.box_y1})
                                    : json(nullptr);
}

Result<std::optional<TrainingMark>> ParseMark(const json& j, int width, int height,
                                              std::string* text) {
  if (!j.contains("mark") || j["mark"].is_null()) return std::optional<TrainingMark>();
  const json& m = j["mark"];
  auto number = [&](const char* key, double limit, double* out) -> Status {
    if (!m.contains(key) || !m[key].is_number())
      return Status::InvalidArgument(std::string("mark.") + key + " must be a number");
    *out = m[key].get<double>();
    if (!(*out >= 0 && *out <= limit))
      return Status::InvalidArgument(std::string("mark.") + key + " is outside the image");
    return Status::Ok();
  };
  if (!m.is_object()) return Status::InvalidArgument("mark must be {x, y} or {x0, y0, x1, y1}");
  TrainingMark out;
  if (m.contains("x0")) {
    out.box = true;
    CS_RETURN_IF_ERROR(number("x0", width, &out.x0));
    CS_RETURN_IF_ERROR(number("y0", height, &out.y0));
    CS_RETURN_IF_ERROR(number("x1", width, &out.x1));
    CS_RETURN_IF_ERROR(number("y1", height, &out.y1));
    if (out.x1 < out.x0 || out.y1 < out.y0)
      return Status::InvalidArgument("mark: x1, y1 must not be below x0, y0");
    *text = json{{"x0", out.x0}, {"y0", out.y0}, {"x1", out.x1}, {"y1", out.y1}}.dump();
  } else {
    CS_RETURN_IF_ERROR(number("x", width, &out.x0));
    CS_RETURN_IF_ERROR(number("y", height, &out.y0));
    out.x1 = out.x0;
    out.y1 = out.y0;
    *text = json{{"x", out.x0}, {"y", out.y0}}.dump();
  }
  return std::optional<TrainingMark>(out);
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Outcome(const TrainingTrialRow& t) {
  if (t.threat) return t.hit ? "hit" : "miss";
  return t.decision == "suspect" ? "false_alarm" : "correct_rejection";
}

}  // namespace

Result<CertificationRule> Service::Impl::TrainingCertificationRule() {
  CS_ASSIGN_OR_RETURN(auto text, store->GetSetting(kCertificationKey));
  if (!text) return CertificationRule{};
  return CertificationRuleFromJson(*text);
}

Result<const TrainingImageMaker*> Service::Impl::TrainingMaker() {
  std::lock_guard lock(training_mu);
  if (!training_maker) {
    TrainingImageMaker::Options o;
    o.width = options.training_image_width;
    o.height = options.training_image_height;
    // The stored scans are the site scanner's: threats projected into them are rendered through
    // its calibration.
    if (analyzer) o.calibration = analyzer->calibration();
    CS_ASSIGN_OR_RETURN(training_maker, TrainingImageMaker::Create(o));
  }
  return training_maker.get();
}

Status Service::Impl::SweepTrainingImages() {
  if (options.training_image_days <= 0) return Status::Ok();
  const int64_t now = NowMs();
  {
    std::lock_guard lock(training_mu);
    if (now - training_images_swept_ms < 3600 * 1000) return Status::Ok();
    training_images_swept_ms = now;
  }
  auto removed =
      store->RemoveTrainingImages(now - int64_t{options.training_image_days} * 24 * 3600 * 1000);
  return removed.status();
}

Result<HttpResponse> Service::Impl::CreateTrainingSession(const HttpRequest& req,
                                                          const Caller& caller) {
  CS_ASSIGN_OR_RETURN(json j, service::ParseBody(req.body));
  if (!j.is_object()) return Status::InvalidArgument("the body must be a JSON object");
  if (!j.contains("name") || !j["name"].is_string())
    return Status::InvalidArgument("name is required (text)");
  TrainingSessionRow row;
  row.name = std::string(Trim(j["name"].get<std::string>()));
  if (row.name.empty() || row.name.size() > 200 || !IsValidUtf8(row.name))
    return Status::InvalidArgument("name must be 1 to 200 bytes of UTF-8 text");
  json settings = j.contains("settings") ? j["settings"] : json::object();
  CS_ASSIGN_OR_RETURN(TrainingSettings s, TrainingSettingsFromJson(settings.dump()));
  CS_RETURN_IF_ERROR(CheckSessionCases(s));
  row.trainer = caller.username;
  row.settings_json = TrainingSettingsToJson(s);
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    CS_RETURN_IF_ERROR(txn.InsertTrainingSession(&row));
    AuditEntry e;
    e.actor = caller.username;
    e.action = "training_session_created";
    e.subject = std::to_string(row.session_id);
    e.detail_json = json{{"name", row.name}, {"settings", json::parse(row.settings_json)}}.dump();
    return txn.Audit(&e);
  }));
  return JsonResponse(201, json{{"session_id", row.session_id},
                                {"name", row.name},
                                {"trainer", row.trainer},
                                {"created_at", IsoTime(row.created_ms)},
                                {"settings", json::parse(row.settings_json)},
                                {"assigned", json::array()}});
}

Result<HttpResponse> Service::Impl::ListTrainingSessions(const HttpRequest&, const Caller&) {
  CS_ASSIGN_OR_RETURN(auto sessions, store->TrainingSessions());
  CS_ASSIGN_OR_RETURN(auto assignments, store->TrainingAssignments(""));
  CS_ASSIGN_OR_RETURN(auto trials, store->TrainingTrials({}));
  std::map<std::pair<int64_t, std::string>, int64_t> answered;
  for (const auto& t : trials)
    if (t.responded_ms) ++answered[{t.session_id, t.trainee}];
  json list = json::array();
  for (const auto& s : sessions) {
    json assigned = json::array();
    const json settings = json::parse(s.settings_json);
    for (const auto& a : assignments)
      if (a.session_id == s.session_id)
        assigned.push_back(json{{"trainee", a.trainee},
                                {"assigned_at", IsoTime(a.assigned_ms)},
                                {"answered", answered[{s.session_id, a.trainee}]},
                                {"images", settings["images"]}});
    list.push_back(json{{"session_id", s.session_id},
                        {"name", s.name},
                        {"trainer", s.trainer},
                        {"created_at", IsoTime(s.created_ms)},
                        {"settings", settings},
                        {"assigned", assigned}});
  }
  // Who may be assigned: the officers (trainees), for the trainer's form.
  CS_ASSIGN_OR_RETURN(auto users, store->ListUsers());
  json trainees = json::array();
  for (const auto& u : users)
    if (u.role == RoleName(Role::kOfficer) && !u.disabled) trainees.push_back(u.username);
  return JsonResponse(
      200, json{{"sessions", list}, {"trainees", trainees}, {"threat_classes", ThreatClasses()}});
}

Result<HttpResponse> Service::Impl::AssignTrainingSession(const HttpRequest& req,
                                                          const Caller& caller) {
  CS_ASSIGN_OR_RETURN(int64_t id, IdParam(req.path_params[0], "the session id"));
  CS_ASSIGN_OR_RETURN(auto session, store->GetTrainingSession(id));
  if (!session) return Status::NotFound("no training session " + std::to_string(id));
  CS_ASSIGN_OR_RETURN(json j, service::ParseBody(req.body));
  if (!j.is_object() || !j.contains("trainees") || !j["trainees"].is_array() ||
      j["trainees"].empty() || j["trainees"].size() > 500)
    return Status::InvalidArgument("send {\"trainees\": [user names]} (1 to 500)");
  std::vector<std::string> names;
  for (const auto& t : j["trainees"]) {
    if (!t.is_string()) return Status::InvalidArgument("trainees must be user names");
    const std::string name = t.get<std::string>();
    CS_ASSIGN_OR_RETURN(auto user, store->GetUser(name));
    if (!user || user->disabled)
      return Status::NotFound("no user '" + Excerpt(name, 60) + "' (or disabled)");
    if (user->role != RoleName(Role::kOfficer))
      return Status::InvalidArgument("'" + name + "' is a " + user->role +
                                     ": training sessions are assigned to officers");
    names.push_back(name);
  }
  std::vector<std::string> added;
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    added.clear();
    for (const auto& name : names) {
      CS_ASSIGN_OR_RETURN(bool fresh,
                          txn.PutTrainingAssignment({id, name, caller.username, NowMs()}));
      if (fresh) added.push_back(name);
    }
    if (added.empty()) return Status::Ok();
    AuditEntry e;
    e.actor = caller.username;
    e.action = "training_assigned";
    e.subject = std::to_string(id);
    e.detail_json = json{{"trainees", added}}.dump();
    return txn.Audit(&e);
  }));
  return JsonResponse(200, json{{"session_id", id}, {"assigned", added}});
}

Result<HttpResponse> Service::Impl::MyTrainingAssignments(const HttpRequest&,
                                                          const Caller& caller) {
  CS_ASSIGN_OR_RETURN(auto mine, store->TrainingAssignments(caller.username));
  TrainingTrialQuery q;
  q.trainee = caller.username;
  q.responded_only = true;
  CS_ASSIGN_OR_RETURN(auto trials, store->TrainingTrials(q));
  json list = json::array();
  for (const auto& a : mine) {
    CS_ASSIGN_OR_RETURN(auto session, store->GetTrainingSession(a.session_id));
    if (!session) continue;
    CS_ASSIGN_OR_RETURN(TrainingSettings s, TrainingSettingsFromJson(session->settings_json));
    int64_t answered = 0;
    for (const auto& t : trials) answered += t.session_id == a.session_id;
    list.push_back(json{{"session_id", a.session_id},
                        {"name", session->name},
                        {"trainer", session->trainer},
                        {"assigned_at", IsoTime(a.assigned_ms)},
                        {"images", s.images},
                        {"answered", answered},
                        {"time_limit_s", s.time_limit_s},
                        {"done", answered >= s.images}});
  }
  return JsonResponse(200, json{{"assignments", list}});
}

Result<TrainingTrialRow> Service::Impl::MakeTrainingTrial(const TrainingSessionRow& session,
                                                          const TrainingSettings& s,
                                                          const std::string& trainee, int index) {
  // Which images have a threat: exactly round(share * images) of them, in an order fixed by the
  // session, the trainee and the seed; threat classes in turn, shuffled likewise.
  const uint64_t base = xray::MixSeed(s.seed, static_cast<uint64_t>(session.session_id),
                                      std::hash<std::string>{}(trainee));
  const RunSlot slot = RunSlotAt(s, base, index);
  if (slot.case_index) return MakeCaseTrial(session, s, trainee, index, s.cases[*slot.case_index]);
  const bool threat = slot.threat;
  const int threat_rank = slot.threat_rank;
  const std::vector<std::string> classes = SessionClasses(s);
  std::vector<std::string> deck = classes;
  xray::Rng deal(xray::MixSeed(base, 0x636c61737365ull));
  for (size_t i = deck.size(); i > 1; --i)
    std::swap(deck[i - 1], deck[deal.Int(0, static_cast<int>(i) - 1)]);
  xray::Rng rng(xray::MixSeed(base, static_cast<uint64_t>(index) + 1));
  // The staircase of the class (for an image without a threat, of a class drawn at random, so
  // that clutter does not tell the images apart).
  const std::string cls = threat ? deck[static_cast<size_t>(threat_rank) % deck.size()]
                                 : classes[rng.Int(0, static_cast<int>(classes.size()) - 1)];
  TrainingTrialQuery q;
  q.trainee = trainee;
  q.responded_only = true;
  CS_ASSIGN_OR_RETURN(auto history, store->TrainingTrials(q));
  std::vector<bool> hits;
  for (const auto& t : history)
    if (t.threat && t.threat_class == cls && !IsCaseTrial(t)) hits.push_back(t.hit);
  const int level = StaircaseLevel(hits);
  TrainingImageRequest request;
  request.seed = rng.Next();
  request.threat = threat;
  request.threat_class = cls;
  request.difficulty = DifficultyAt(level, s);
  // Stored backgrounds: clean scans of inspected consignments, three drawn at random.
  const bool stored = s.source == TrainingSource::kStored ||
                      (s.source == TrainingSource::kMixed && rng.Chance(0.5));
  if (stored) {
    CS_ASSIGN_OR_RETURN(auto ids, store->CleanScanIds(5000));
    for (int k = 0; k < 3 && !ids.empty(); ++k) {
      const size_t pick = static_cast<size_t>(rng.Int(0, static_cast<int>(ids.size()) - 1));
      CS_ASSIGN_OR_RETURN(auto cached, LoadScan(ids[pick]));
      request.stored_candidates.push_back(cached->scan);
      request.stored_ids.push_back(ids[pick]);
      ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(pick));
    }
    if (request.stored_candidates.empty() && s.source == TrainingSource::kStored)
      return Status::FailedPrecondition(
          "the session takes stored scans, and the store has no scan of a consignment "
          "inspected and found clean (outcome 'nothing')");
  }
  CS_ASSIGN_OR_RETURN(const TrainingImageMaker* maker, TrainingMaker());
  CS_ASSIGN_OR_RETURN(TrainingImage image, maker->Make(request));
  // Old images are swept on the way; a failure to sweep must not stop the trainee.
  if (Status swept = SweepTrainingImages(); !swept.ok())
    std::fprintf(stderr, "clearsight serve: old training images: %s\n", swept.ToString().c_str());

  TrainingTrialRow t;
  t.session_id = session.session_id;
  t.trainee = trainee;
  t.index = index;
  // An opaque id: nothing in it tells the image apart.
  xray::Rng id_rng(xray::MixSeed(static_cast<uint64_t>(NowMs()), rng.Next()));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(id_rng.Next()));
  t.scan_id = std::string("trn-") + hex;
  t.source = image.source;
  t.threat = image.projected.has_value();
  if (image.projected) {
    const ProjectedThreat& p = *image.projected;
    t.threat_class = p.threat_class;
    t.threat_name = p.name;
    t.box_x0 = p.x0, t.box_y0 = p.y0, t.box_x1 = p.x1, t.box_y1 = p.y1;
    t.mask_rle_json = json(p.mask_rle).dump();
  }
  t.size_scale = request.difficulty.size_scale;
  t.clutter = request.difficulty.clutter;
  t.level = level;
  t.time_limit_ms = int64_t{s.time_limit_s} * 1000;

  Scan& scan = image.scan;
  scan.meta.scan_id = t.scan_id;
  scan.meta.consignment_id = kTrainingConsignmentPrefix + std::to_string(session.session_id);
  scan.meta.extra_json = "";
  ScanWriteOptions wo;
  wo.compression = TiffCompression::kDeflate;  // 2.1 MB instead of 3.1 at 1024 x 768
  CS_ASSIGN_OR_RETURN(std::string tiff, EncodeScanTiff(scan, wo));
  ScanRow row;
  row.scan_id = t.scan_id;
  row.consignment_id = scan.meta.consignment_id;
  row.source_format = "tiff";
  row.meta_json = ScanMetaToJson(scan.meta);
  row.width = scan.width;
  row.height = scan.height;
  row.received_ms = NowMs();
  CS_ASSIGN_OR_RETURN(row.image_sha256, store->PutImage(tiff));
  row.source_sha256 = {row.image_sha256};
  // The scan row and the trial together, with no decision: the image never reaches the queue.
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    CS_RETURN_IF_ERROR(txn.InsertScan(row));
    return txn.InsertTrainingTrial(&t);
  }));
  return t;
}

Result<HttpResponse> Service::Impl::NextTrainingImage(const HttpRequest& req,
                                                      const Caller& caller) {
  CS_ASSIGN_OR_RETURN(int64_t id, IdParam(req.path_params[0], "the session id"));
  CS_ASSIGN_OR_RETURN(auto session, store->GetTrainingSession(id));
  CS_ASSIGN_OR_RETURN(auto mine, store->TrainingAssignments(caller.username));
  const bool assigned =
      std::any_of(mine.begin(), mine.end(), [&](const auto& a) { return a.session_id == id; });
  if (!session || !assigned)
    return Status::NotFound("no training session " + std::to_string(id) + " assigned to you");
  CS_ASSIGN_OR_RETURN(TrainingSettings s, TrainingSettingsFromJson(session->settings_json));
  TrainingTrialQuery q;
  q.session_id = id;
  q.trainee = caller.username;
  std::optional<TrainingTrialRow> pending;
  int count = 0;
  for (int attempt = 0; attempt < 2 && !pending; ++attempt) {
    CS_ASSIGN_OR_RETURN(auto trials, store->TrainingTrials(q));
    count = static_cast<int>(trials.size());
    for (const auto& t : trials)
      if (!t.responded_ms) {
        pending = t;
        break;
      }
    if (pending || count >= s.images) break;
    auto made = MakeTrainingTrial(*session, s, caller.username, count);
    if (made.ok()) {
      pending = std::move(made).value();
      ++count;
    } else if (made.status().code() != StatusCode::kAlreadyExists) {
      return made.status();
    }  // else another request of the same trainee made it: read it back
  }
  if (!pending)
    return JsonResponse(200, json{{"done", true}, {"images", s.images}, {"answered", count}});
  // The image and its time only: whether it has a threat, and where, comes with the answer.
  return JsonResponse(200, json{{"done", false},
                                {"trial_id", pending->trial_id},
                                {"session_id", id},
                                {"index", pending->index},
                                {"images", s.images},
                                {"scan_id", pending->scan_id},
                                {"time_limit_s", pending->time_limit_ms / 1000.0}});
}

Result<HttpResponse> Service::Impl::RespondTrainingTrial(const HttpRequest& req,
                                                         const Caller& caller) {
  CS_ASSIGN_OR_RETURN(int64_t id, IdParam(req.path_params[0], "the trial id"));
  CS_ASSIGN_OR_RETURN(auto trial, store->GetTrainingTrial(id));
  if (!trial || trial->trainee != caller.username)
    return Status::NotFound("no training image " + std::to_string(id) + " of yours");
  if (trial->responded_ms)
    return Status::FailedPrecondition("training image " + std::to_string(id) +
                                      " is answered already");
  CS_ASSIGN_OR_RETURN(auto scan, store->GetScan(trial->scan_id));
  if (!scan) return Status::DataLoss("training image " + std::to_string(id) + " lost its scan");
  CS_ASSIGN_OR_RETURN(json j, service::ParseBody(req.body));
  if (!j.is_object()) return Status::InvalidArgument("the body must be a JSON object");
  const std::string decision =
      j.value("decision", json()).is_string() ? j["decision"].get<std::string>() : "";
  if (decision != "clear" && decision != "suspect")
    return Status::InvalidArgument("decision must be \"clear\" or \"suspect\"");
  TrainingTrialRow t = *trial;
  CS_ASSIGN_OR_RETURN(std::optional<TrainingMark> mark,
                      ParseMark(j, scan->width, scan->height, &t.mark_json));
  if (!j.contains("response_ms") || !j["response_ms"].is_number_integer() ||
      j["response_ms"].get<int64_t>() < 0 || j["response_ms"].get<int64_t>() > 3600000)
    return Status::InvalidArgument(
        "response_ms must be a whole number of milliseconds (0..3600000)");
  t.response_ms = j["response_ms"].get<int64_t>();
  if (j.contains("timed_out") && !j["timed_out"].is_boolean())
    return Status::InvalidArgument("timed_out must be true or false");
  // No decision within the time is no alarm: the image counts as cleared.
  t.timed_out = j.value("timed_out", false) || t.response_ms > t.time_limit_ms;
  t.decision = t.timed_out ? "clear" : decision;
  // A hit only when the mark is on the threat: on its mask (MarkOnThreat). A case's image has the
  // detector's box for its truth and no mask: a point inside the box, or a box mark's centre; a
  // case whose finding has no box is a hit on Suspect wherever the mark is.
  t.hit = false;
  if (t.threat && t.decision == "suspect") {
    if (!TrialHasBox(t)) {
      t.hit = true;
    } else if (mark && IsCaseTrial(t)) {
      const double x = (mark->x0 + mark->x1) / 2, y = (mark->y0 + mark->y1) / 2;
      t.hit = x >= t.box_x0 && x < t.box_x1 && y >= t.box_y0 && y < t.box_y1;
    } else if (mark) {
      const json rle = json::parse(t.mask_rle_json, nullptr, false);
      std::vector<uint32_t> mask;
      if (rle.is_array())
        for (const auto& v : rle)
          if (v.is_number_unsigned()) mask.push_back(v.get<uint32_t>());
      t.hit = MarkOnThreat(*mark, mask, scan->width);
    }
  }
  t.responded_ms = NowMs();
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) { return txn.RecordTrainingResponse(t); }));
  const ThreatLook look = ThreatClassLook(t.threat_class);
  json truth = {{"threat", t.threat},
                {"class", t.threat ? json(t.threat_class) : json(nullptr)},
                {"box", BoxJson(t)}};
  if (t.threat)
    truth["look"] = json{{"summary", look.summary},
                         {"high_energy", look.high_energy},
                         {"low_energy", look.low_energy},
                         {"material", look.material}};
  if (IsCaseTrial(t)) CS_RETURN_IF_ERROR(AddCaseTruth(t, &truth));
  CS_ASSIGN_OR_RETURN(auto session, store->GetTrainingSession(t.session_id));
  int images = 0;
  if (session) {
    CS_ASSIGN_OR_RETURN(TrainingSettings s, TrainingSettingsFromJson(session->settings_json));
    images = s.images;
  }
  const std::string outcome = Outcome(t);
  return JsonResponse(200, json{{"trial_id", t.trial_id},
                                {"decision", t.decision},
                                {"timed_out", t.timed_out},
                                {"outcome", outcome},
                                {"hit", t.hit},
                                {"correct", outcome == "hit" || outcome == "correct_rejection"},
                                {"truth", truth},
                                {"more", t.index + 1 < images}});
}

Result<HttpResponse> Service::Impl::GetTrainingScores(const HttpRequest& req,
                                                      const Caller& caller) {
  CS_ASSIGN_OR_RETURN(CertificationRule rule, TrainingCertificationRule());
  TrainingTrialQuery q;
  q.responded_only = true;
  if (!IsTrainer(caller)) {
    q.trainee = caller.username;  // a trainee sees their own scores only
  } else if (req.HasQuery("trainee")) {
    q.trainee = req.Query("trainee");
  }
  CS_ASSIGN_OR_RETURN(auto trials, store->TrainingTrials(q));
  CS_ASSIGN_OR_RETURN(auto sessions, store->TrainingSessions());
  std::map<int64_t, std::string> session_names;
  std::map<int64_t, TrainingSettings> session_settings;
  for (const auto& s : sessions) {
    session_names[s.session_id] = s.name;
    if (auto st = TrainingSettingsFromJson(s.settings_json); st.ok())
      session_settings[s.session_id] = *st;
  }
  std::map<std::string, std::vector<const TrainingTrialRow*>> by_trainee;
  if (!q.trainee.empty()) by_trainee[q.trainee];
  for (const auto& t : trials) by_trainee[t.trainee].push_back(&t);
  if (IsTrainer(caller) && q.trainee.empty()) {
    CS_ASSIGN_OR_RETURN(auto assignments, store->TrainingAssignments(""));
    for (const auto& a : assignments) by_trainee[a.trainee];
  }
  json out = json::array();
  for (const auto& [trainee, list] : by_trainee) {
    std::vector<TrialOutcome> all;
    for (const auto* t : list) all.push_back(OutcomeOfTrial(*t));
    const size_t from =
        all.size() > static_cast<size_t>(rule.window) ? all.size() - rule.window : 0;
    std::vector<TrialOutcome> window(all.begin() + static_cast<std::ptrdiff_t>(from), all.end());
    const auto window_scores = ScoreTrials(window);
    const Certification cert = Certify(window_scores, static_cast<int64_t>(all.size()), rule);
    json classes = json::array();
    for (const auto& s : window_scores) classes.push_back(ScoresJson(s));
    // d' over sessions (all classes together), in session order.
    std::map<int64_t, std::vector<TrialOutcome>> per_session;
    for (const auto& o : all) per_session[o.session_id].push_back(o);
    json by_session = json::array();
    for (const auto& [sid, outcomes] : per_session) {
      const DetectionScores total = ScoreTrials(outcomes).back();
      json row = ScoresJson(total);
      row.erase("class");
      row["session_id"] = sid;
      row["name"] = session_names[sid];
      row["answered"] = outcomes.size();
      by_session.push_back(row);
    }
    // Where the staircase stands per class (the next image's difficulty).
    json stairs = json::array();
    std::map<std::string, std::vector<bool>> hits;
    for (const auto* t : list)
      if (t->threat && !IsCaseTrial(*t)) hits[t->threat_class].push_back(t->hit);
    for (const auto& [cls, h] : hits) {
      const int level = StaircaseLevel(h);
      stairs.push_back(json{{"class", cls}, {"level", level}, {"threat_images", h.size()}});
    }
    out.push_back(json{{"trainee", trainee},
                       {"answered", all.size()},
                       {"window_images", window.size()},
                       {"certified", cert.certified},
                       {"certification", cert.reason},
                       {"classes", classes},
                       {"sessions", by_session},
                       {"staircase", stairs}});
  }
  return JsonResponse(200, json{{"certification_rule", json::parse(CertificationRuleToJson(rule))},
                                {"corrections",
                                 "log-linear: H = (hits + 0.5) / (signal + 1), "
                                 "F = (false alarms + 0.5) / (noise + 1)"},
                                {"trainees", out}});
}

Result<HttpResponse> Service::Impl::PutTrainingCertification(const HttpRequest& req,
                                                             const Caller& caller) {
  CS_ASSIGN_OR_RETURN(json j, service::ParseBody(req.body));
  CS_ASSIGN_OR_RETURN(CertificationRule rule, CertificationRuleFromJson(j.dump()));
  const std::string text = CertificationRuleToJson(rule);
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    CS_RETURN_IF_ERROR(txn.PutSetting(kCertificationKey, text));
    AuditEntry e;
    e.actor = caller.username;
    e.action = "training_certification";
    e.subject = "training";
    e.detail_json = text;
    return txn.Audit(&e);
  }));
  return JsonResponse(200, json::parse(text));
}

Result<HttpResponse> Service::Impl::GetTrainingResultsCsv(const HttpRequest&, const Caller&) {
  TrainingTrialQuery q;
  q.responded_only = true;
  CS_ASSIGN_OR_RETURN(auto trials, store->TrainingTrials(q));
  CS_ASSIGN_OR_RETURN(auto sessions, store->TrainingSessions());
  std::map<int64_t, std::string> names;
  for (const auto& s : sessions) names[s.session_id] = s.name;
  std::string csv =
      "trial_id,session_id,session,trainee,index,scan_id,source,threat,threat_class,box_x0,box_y0,"
      "box_x1,box_y1,size_scale,clutter,level,time_limit_ms,decision,mark,response_ms,timed_out,"
      "hit,outcome,answered_at\r\n";
  char num[64];
  auto d = [&](double v) {
    std::snprintf(num, sizeof num, "%.4g", v);
    return std::string(num);
  };
  for (const auto& t : trials) {
    std::vector<std::string> f = {std::to_string(t.trial_id),
                                  std::to_string(t.session_id),
                                  names[t.session_id],
                                  t.trainee,
                                  std::to_string(t.index),
                                  t.scan_id,
                                  t.source,
                                  t.threat ? "1" : "0",
                                  t.threat_class,
                                  t.threat ? std::to_string(t.box_x0) : "",
                                  t.threat ? std::to_string(t.box_y0) : "",
                                  t.threat ? std::to_string(t.box_x1) : "",
                                  t.threat ? std::to_string(t.box_y1) : "",
                                  d(t.size_scale),
                                  d(t.clutter),
                                  std::to_string(t.level),
                                  std::to_string(t.time_limit_ms),
                                  t.decision,
                                  t.mark_json,
                                  std::to_string(t.response_ms),
                                  t.timed_out ? "1" : "0",
                                  t.hit ? "1" : "0",
                                  Outcome(t),
                                  IsoTime(*t.responded_ms)};
    for (size_t i = 0; i < f.size(); ++i) csv += (i ? "," : "") + CsvField(f[i]);
    csv += "\r\n";
  }
  HttpResponse res;
  res.content_type = "text/csv; charset=utf-8";
  res.body = std::move(csv);
  res.headers.emplace_back("Content-Disposition", "attachment; filename=\"training-results.csv\"");
  return res;
}

}  // namespace clearsight
