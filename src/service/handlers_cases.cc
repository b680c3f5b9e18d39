// The case library over HTTP (docs/api.md, Cases; docs/training.md, "Case library"): every
// consignment with a recorded inspection outcome is a case; trainers search them, mark them as
// teaching material and tag them, and put them into training sessions, where a case is its real
// stored scan with the truth its inspection found.
#include <algorithm>

#include "clearsight/declarations.h"
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

constexpr size_t kMaxTagsPerKind = 20;
constexpr size_t kMaxTagBytes = 40;

std::vector<std::string>* TagsOfKind(CaseTags& tags, std::string_view kind) {
  if (kind == "goods") return &tags.goods;
  if (kind == "threat_class") return &tags.threat_class;
  if (kind == "concealment") return &tags.concealment;
  return nullptr;
}

json TagsJson(const CaseTags& t) {
  return json{{"goods", t.goods}, {"threat_class", t.threat_class}, {"concealment", t.concealment}};
}

// What a result list and a detail both show of a case.
json CaseJson(const CaseRow& k) {
  return json{{"consignment_id", k.consignment_id},
              {"outcome", service::OutcomeJson(k.outcome)},
              {"hs_code", k.hs_code},
              {"description", k.description},
              {"importer_id", k.importer_id},
              {"channel", k.channel},
              {"office", k.lane},
              {"scans", k.scans},
              {"photos", k.photos},
              {"teaching", k.mark.teaching},
              {"tags", TagsJson(k.mark.tags)},
              {"marked_by", k.mark.marked_by.empty() ? json(nullptr) : json(k.mark.marked_by)},
              {"marked_at", k.mark.marked_ms ? json(IsoTime(k.mark.marked_ms)) : json(nullptr)}};
}

// A tag as the store keeps it: normalised, 1..kMaxTagBytes of UTF-8 without control characters.
Result<std::string> CheckTag(const json& v, const std::string& field) {
  if (!v.is_string()) return Status::InvalidArgument(field + " must be text");
  const std::string raw = v.get<std::string>();
  const std::string tag = NormaliseCaseTag(raw);
  if (tag.empty() || tag.size() > kMaxTagBytes || !IsValidUtf8(tag) ||
      std::any_of(tag.begin(), tag.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return Status::InvalidArgument(field + ": '" + Excerpt(raw, 60) + "' must be 1 to " +
                                   std::to_string(kMaxTagBytes) +
                                   " bytes of UTF-8 text without control characters");
  return tag;
}

Result<CaseQuery> CaseQueryOf(const HttpRequest& req) {
  CaseQuery q;
  const std::string teaching = req.Query("teaching");
  if (!teaching.empty() && teaching != "0" && teaching != "1")
    return Status::InvalidArgument("teaching must be 1 (teaching material only) or 0");
  q.teaching_only = teaching == "1";
  const std::string with_scan = req.Query("with_scan");
  if (!with_scan.empty() && with_scan != "0" && with_scan != "1")
    return Status::InvalidArgument("with_scan must be 1 (cases with a stored scan only) or 0");
  q.with_scan_only = with_scan == "1";
  for (const char* key : {"tag", "threat_class"}) {
    const std::string v = req.Query(key);
    if (v.empty()) continue;
    CS_ASSIGN_OR_RETURN(std::string tag, CheckTag(json(v), key));
    (std::string_view(key) == "tag" ? q.tag : q.threat_class) = std::move(tag);
  }
  q.result = req.Query("result");
  const auto& results = service::OutcomeResults();
  if (!q.result.empty() && (q.result == kNotInspected ||
                            std::find(results.begin(), results.end(), q.result) == results.end()))
    return Status::InvalidArgument(
        "result must be an inspection result (nothing, narcotics, "
        "weapon, ...): not '" +
        Excerpt(q.result, 60) + "'");
  q.hs_chapter = req.Query("hs_chapter");
  for (const char* key : {"from", "to"}) {
    const std::string v = req.Query(key);
    if (v.empty()) continue;
    int32_t day = 0;
    if (!ParseDate(v, &day))
      return Status::InvalidArgument(std::string(key) + " must be a date YYYY-MM-DD");
    if (std::string_view(key) == "from")
      q.from_ms = int64_t{day} * 86400000;
    else
      q.to_ms = (int64_t{day} + 1) * 86400000 - 1;  // the whole day
  }
  if (q.from_ms && q.to_ms && *q.from_ms > *q.to_ms)
    return Status::InvalidArgument("from must not be after to");
  q.text = std::string(Trim(req.Query("q")));
  if (q.text.size() > 200 || !IsValidUtf8(q.text))
    return Status::InvalidArgument("q (the search text) must be UTF-8 of at most 200 bytes");
  for (const auto& [key, out] : {std::pair{"limit", &q.limit}, std::pair{"offset", &q.offset}}) {
    const std::string v = req.Query(key);
    if (!v.empty() && !ParseInt64(v, out))
      return Status::InvalidArgument(std::string(key) + " must be a whole number");
  }
  return q;
}

Result<std::string> CaseIdParam(const HttpRequest& req) {
  const std::string& id = req.path_params[0];
  if (!service::IsPlainId(id))
    return Status::InvalidArgument("the consignment id must be 1 to 256 bytes of UTF-8 text");
  return id;
}

Status NoCase(const std::string& id) {
  return Status::NotFound("no case '" + Excerpt(id, 60) +
                          "': the consignment has no recorded inspection outcome");
}

}  // namespace

Result<HttpResponse> Service::Impl::ListCases(const HttpRequest& req, const Caller&) {
  CS_ASSIGN_OR_RETURN(CaseQuery q, CaseQueryOf(req));
  CS_ASSIGN_OR_RETURN(CasePage page, store->Cases(q));
  json items = json::array();
  for (const auto& k : page.items) items.push_back(CaseJson(k));
  std::vector<std::string> results = service::OutcomeResults();
  results.erase(std::remove(results.begin(), results.end(), std::string(kNotInspected)),
                results.end());
  return JsonResponse(200, json{{"total", page.total},
                                {"limit", q.limit},
                                {"offset", q.offset},
                                {"items", std::move(items)},
                                {"results", results}});
}

Result<HttpResponse> Service::Impl::GetCase(const HttpRequest& req, const Caller&) {
  CS_ASSIGN_OR_RETURN(std::string id, CaseIdParam(req));
  CS_ASSIGN_OR_RETURN(auto found, store->GetCase(id));
  if (!found) return NoCase(id);
  json out = CaseJson(*found);
  CS_ASSIGN_OR_RETURN(auto outcomes, store->OutcomesOf(id));
  json o = json::array();
  for (const auto& row : outcomes) o.push_back(service::OutcomeJson(row));
  out["outcomes"] = std::move(o);
  CS_ASSIGN_OR_RETURN(auto declarations, store->DeclarationsOf(id));
  json d = json::array();
  for (const auto& row : declarations) {
    json s = json::parse(service::DeclarationSummary(row.json), nullptr, false);
    if (!s.is_object()) continue;
    const json body = json::parse(row.json, nullptr, false);
    s["description"] = body.is_object() ? body.value("description", json(nullptr)) : json(nullptr);
    d.push_back(std::move(s));
  }
  out["declarations"] = std::move(d);
  // The scans with what their analysis detected; the viewer opens them by id.
  CS_ASSIGN_OR_RETURN(auto scans, store->ScansOf(id));
  json s = json::array();
  for (const auto& row : scans) {
    const json analysis = json::parse(row.analysis_json, nullptr, false);
    json detections =
        analysis.is_object() ? analysis.value("detections", json::array()) : json::array();
    s.push_back(json{{"scan_id", row.scan_id},
                     {"width", row.width},
                     {"height", row.height},
                     {"received_at", IsoTime(row.received_ms)},
                     {"detections", std::move(detections)}});
  }
  out["scan_list"] = std::move(s);
  // The findings fused into its decision (declaration and scan evidence).
  CS_ASSIGN_OR_RETURN(auto findings, store->FindingsOf(id));
  json f = json::array();
  for (const auto& [origin, text] : findings) {
    json list = json::parse(text, nullptr, false);
    if (!list.is_array()) continue;
    for (auto& item : list) {
      item["origin"] = origin;
      f.push_back(std::move(item));
    }
  }
  out["findings"] = std::move(f);
  return JsonResponse(200, out);
}

Result<HttpResponse> Service::Impl::PutCase(const HttpRequest& req, const Caller& caller) {
  CS_ASSIGN_OR_RETURN(std::string id, CaseIdParam(req));
  CS_ASSIGN_OR_RETURN(json j, service::ParseBody(req.body));
  if (!j.is_object()) return Status::InvalidArgument("the body must be a JSON object");
  for (const auto& item : j.items())
    if (item.key() != "teaching" && item.key() != "tags")
      return Status::InvalidArgument("unknown field '" + Excerpt(item.key(), 60) +
                                     "': a case has teaching and tags");
  if (j.contains("teaching") && !j["teaching"].is_boolean())
    return Status::InvalidArgument("teaching must be true or false");
  // The kinds the body names replace the stored ones; the others are kept.
  CaseTags given;
  std::vector<std::string> kinds_given;
  if (j.contains("tags")) {
    if (!j["tags"].is_object())
      return Status::InvalidArgument(
          "tags must be an object {\"goods\": [...], \"threat_class\": [...], \"concealment\": "
          "[...]}");
    for (const auto& item : j["tags"].items()) {
      std::vector<std::string>* list = TagsOfKind(given, item.key());
      if (!list)
        return Status::InvalidArgument("tags: unknown kind '" + Excerpt(item.key(), 60) +
                                       "' (goods, threat_class or concealment)");
      const std::string field = "tags." + item.key();
      if (!item.value().is_array() || item.value().size() > kMaxTagsPerKind)
        return Status::InvalidArgument(field + " must be an array of at most " +
                                       std::to_string(kMaxTagsPerKind) + " tags");
      for (const auto& v : item.value()) {
        CS_ASSIGN_OR_RETURN(std::string tag, CheckTag(v, field));
        if (std::find(list->begin(), list->end(), tag) == list->end())
          list->push_back(std::move(tag));
      }
      std::sort(list->begin(), list->end());
      kinds_given.push_back(item.key());
    }
  }
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(auto existing, txn.GetCase(id));
    if (!existing) return NoCase(id);
    CaseMark mark = existing->mark;
    if (j.contains("teaching")) mark.teaching = j["teaching"].get<bool>();
    for (const auto& kind : kinds_given) *TagsOfKind(mark.tags, kind) = *TagsOfKind(given, kind);
    mark.marked_by = caller.username;
    mark.marked_ms = NowMs();
    CS_RETURN_IF_ERROR(txn.PutCaseMark(id, mark));
    AuditEntry e;
    e.actor = caller.username;
    e.action = "case_marked";
    e.subject = id;
    e.detail_json = json{{"teaching", mark.teaching}, {"tags", TagsJson(mark.tags)}}.dump();
    return txn.Audit(&e);
  }));
  CS_ASSIGN_OR_RETURN(auto updated, store->GetCase(id));
  if (!updated) return NoCase(id);
  return JsonResponse(200, CaseJson(*updated));
}

Status Service::Impl::CheckSessionCases(const TrainingSettings& settings) {
  for (const auto& id : settings.cases) {
    CS_ASSIGN_OR_RETURN(auto found, store->GetCase(id));
    if (!found)
      return Status::InvalidArgument("cases: '" + Excerpt(id, 60) +
                                     "' is no case (the consignment has no recorded inspection "
                                     "outcome)");
    if (found->scans == 0)
      return Status::InvalidArgument("cases: '" + Excerpt(id, 60) + "' has no stored scan to show");
  }
  return Status::Ok();
}

Result<TrainingTrialRow> Service::Impl::MakeCaseTrial(const TrainingSessionRow& session,
                                                      const TrainingSettings& s,
                                                      const std::string& trainee, int index,
                                                      const std::string& consignment_id) {
  CS_ASSIGN_OR_RETURN(auto found, store->GetCase(consignment_id));
  CS_ASSIGN_OR_RETURN(auto scans, store->ScansOf(consignment_id));
  if (!found || scans.empty())
    return Status::FailedPrecondition("case '" + consignment_id +
                                      "' of this session is no longer a case with a scan");
  const ScanRow& real = scans.front();
  const CaseTruth truth = CaseTruthOf(found->outcome.result, real.analysis_json);
  TrainingTrialRow t;
  t.session_id = session.session_id;
  t.trainee = trainee;
  t.index = index;
  // The same image bytes under an opaque training id, without the analysis: neither the id, the
  // consignment nor the detections tell the trainee which case it is.
  xray::Rng rng(xray::MixSeed(static_cast<uint64_t>(NowMs()), std::hash<std::string>{}(trainee),
                              static_cast<uint64_t>(index)));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(rng.Next()));
  t.scan_id = std::string("trn-") + hex;
  t.source = "case:" + consignment_id;
  t.threat = truth.threat;
  t.threat_class = truth.threat_class;
  t.threat_name = found->outcome.result;
  if (truth.box) {
    t.box_x0 = (*truth.box)[0], t.box_y0 = (*truth.box)[1];
    t.box_x1 = (*truth.box)[2], t.box_y1 = (*truth.box)[3];
  }
  t.time_limit_ms = int64_t{s.time_limit_s} * 1000;
  ScanRow row = real;
  row.scan_id = t.scan_id;
  row.consignment_id = "training:" + std::to_string(session.session_id);
  json meta = json::parse(real.meta_json.empty() ? "{}" : real.meta_json, nullptr, false);
  if (!meta.is_object()) meta = json::object();
  meta["scan_id"] = row.scan_id;
  meta["consignment_id"] = row.consignment_id;
  row.meta_json = meta.dump();
  row.analysis_json.clear();
  row.source_sha256 = {row.image_sha256};
  row.received_ms = NowMs();
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    CS_RETURN_IF_ERROR(txn.InsertScan(row));
    return txn.InsertTrainingTrial(&t);
  }));
  return t;
}

Status Service::Impl::AddCaseTruth(const TrainingTrialRow& t, json* truth) {
  const std::string id = CaseOfTrial(t);
  CS_ASSIGN_OR_RETURN(auto found, store->GetCase(id));
  json c = {{"consignment_id", id}, {"result", t.threat_name}};
  if (found) {
    c["outcome"] = service::OutcomeJson(found->outcome);
    c["description"] = found->description;
  }
  (*truth)["case"] = c;
  if (!t.threat) return Status::Ok();
  // A real case: what the inspection found and the officer's note lead the explanation.
  const auto& known = ThreatClasses();
  ThreatLook look = std::find(known.begin(), known.end(), t.threat_class) != known.end()
                        ? ThreatClassLook(t.threat_class)
                        : ThreatLook{};
  std::string lead = "A real case: the inspection found " + t.threat_name;
  if (found && !found->outcome.notes.empty()) lead += " (\"" + found->outcome.notes + "\")";
  lead += TrialHasBox(t) ? ", outlined where the detector saw it." : ".";
  look.summary = lead + (look.summary.empty() ? "" : " " + look.summary);
  (*truth)["look"] = json{{"summary", look.summary},
                          {"high_energy", look.high_energy},
                          {"low_energy", look.low_energy},
                          {"material", look.material}};
  return Status::Ok();
}

}  // namespace clearsight
