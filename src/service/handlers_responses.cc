// Responses for integrators: each consignment's latest decision as a customs response (release,
// hold for documents, hold for inspection; reasons, pieces, the S10 item id), read with a cursor
// over decision changes (GET /api/responses).
#include "clearsight/decide.h"
#include "clearsight/text.h"
#include "service/service_impl.h"

namespace clearsight {

using service::Caller;
using service::HttpRequest;
using service::HttpResponse;

namespace {

// The reasons of a stored decision (ReasonsJsonText in service.cc wrote them).
std::vector<FusedReason> StoredReasons(const std::string& text) {
  std::vector<FusedReason> out;
  json j = json::parse(text.empty() ? "[]" : text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& r : j) {
    if (!r.is_object()) continue;
    FusedReason fr;
    fr.text = r.value("text", "");
    fr.source = r.value("source", "");
    fr.kind = r.value("kind", "");
    fr.weight = r.value("weight", 0.0);
    fr.scan_id = r.value("scan_id", "");
    out.push_back(std::move(fr));
  }
  return out;
}

}  // namespace

Result<ConsignmentResponse> Service::Impl::ResponseOf(const DecisionRow& d) {
  DecidedConsignment c;
  c.consignment_id = d.consignment_id;
  auto channel = ParseChannel(d.channel);
  if (!channel.ok())
    return Status::DataLoss("consignment " + d.consignment_id + ": " + channel.status().message());
  c.channel = *channel;
  c.score = d.score;
  c.control = d.control;
  c.reasons = StoredReasons(d.reasons_json);
  CS_ASSIGN_OR_RETURN(auto decls, store->DeclarationsOf(d.consignment_id));
  for (const auto& row : decls) {
    json j = json::parse(row.json, nullptr, false);
    if (j.is_object() && j.contains("item_id") && j["item_id"].is_string()) {
      c.item_id = j["item_id"].get<std::string>();
      break;
    }
  }
  CS_ASSIGN_OR_RETURN(auto findings, store->FindingsOf(d.consignment_id));
  for (auto& [key, text] : findings) {
    auto origin = EvidenceOrigin::Parse(key);
    if (!origin.ok())
      return Status::DataLoss("consignment " + d.consignment_id + ": " + origin.status().message());
    CS_ASSIGN_OR_RETURN(auto f, FindingsFromJson(text));
    c.evidence.push_back({std::move(*origin), std::move(f)});
  }
  return ResponseForDecided(c, options.fusion);
}

Result<HttpResponse> Service::Impl::GetResponses(const HttpRequest& req, const Caller&) {
  int64_t since = 0, limit = 100;
  if (const std::string v = req.Query("since"); !v.empty() && (!ParseInt64(v, &since) || since < 0))
    return Status::InvalidArgument("since must be a cursor: 0 or the 'next' of an earlier answer");
  if (const std::string v = req.Query("limit");
      !v.empty() && (!ParseInt64(v, &limit) || limit < 1 || limit > 1000))
    return Status::InvalidArgument("limit must be a whole number in 1..1000");
  const std::string format = req.Query("format", "json");
  if (format != "json" && format != "xml")
    return Status::InvalidArgument("format must be json or xml");
  CS_ASSIGN_OR_RETURN(auto changes, store->DecisionChanges(since, limit));
  std::vector<ConsignmentResponse> responses;
  responses.reserve(changes.size());
  int64_t next = since;
  for (const auto& d : changes) {
    CS_ASSIGN_OR_RETURN(ConsignmentResponse r, ResponseOf(d));
    responses.push_back(std::move(r));
    next = std::max(next, d.change_seq);
  }
  const bool more = static_cast<int64_t>(changes.size()) == limit;
  HttpResponse res;
  if (format == "xml") {
    CS_ASSIGN_OR_RETURN(res.body, ResponsesToText(responses, ResponseFormat::kXml));
    res.content_type = "application/xml; charset=utf-8";
    res.headers.emplace_back("X-Next-Cursor", std::to_string(next));
    res.headers.emplace_back("X-More", more ? "true" : "false");
    return res;
  }
  // The JSON lines of `score --respond`, each with the decision's version, time and cursor.
  CS_ASSIGN_OR_RETURN(std::string lines, ResponsesToText(responses, ResponseFormat::kJsonl));
  json items = json::array();
  size_t i = 0;
  for (std::string_view line : Split(lines, '\n')) {
    if (Trim(line).empty()) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || i >= changes.size())
      return Status::Internal("response line unreadable");
    j["version"] = changes[i].version;
    j["decided_at"] = IsoTime(changes[i].updated_ms);
    j["change"] = changes[i].change_seq;
    items.push_back(std::move(j));
    ++i;
  }
  return service::JsonResponse(
      200, json{{"responses", std::move(items)}, {"next", next}, {"more", more}});
}

}  // namespace clearsight
