// Declarations in, decisions out; consignments and the queue (outcomes: handlers_outcomes.cc).
#include <cmath>

#include "clearsight/text.h"
#include "service/json_text.h"
#include "service/service_impl.h"

namespace clearsight {

using service::Caller;
using service::HttpRequest;
using service::HttpResponse;
using service::JsonResponse;

namespace {

// What a declaration was assessed with, stored with it (DeclarationRow::assessment) and shown by
// GET /api/consignments/{id}: the model's probability, the valuation figures, every rule hit.
std::string AssessmentJson(const DeclarationRisk::Assessment& a, const Declaration& d,
                           const RuleSet* rules, int64_t rules_version,
                           std::optional<int64_t> model_version) {
  std::string out;
  service::JsonObjectWriter w(&out);
  w.Number("model_score", a.model_score);
  if (a.valued) {
    const ValuationResult& v = a.valuation;
    const double quantity = v.per_unit ? d.supplementary_units : d.net_mass_kg;
    std::string vj;
    service::JsonObjectWriter vw(&vj);
    vw.Number("reference_unit_price", v.reference_unit_price)
        .Number("declared_unit_price", quantity > 0 ? d.declared_value / quantity : kMissing)
        .String("per", v.per_unit ? "supplementary unit" : "kg")
        .String("currency", d.currency)
        .Number("unit_price_ratio", v.unit_price_ratio)
        .Number("undervaluation_score", v.undervaluation_score)
        .String("level", v.level)
        .Bool("flagged", v.flagged)
        .Number("revenue_at_risk", v.revenue_at_risk)
        .String("reason", v.reason);
    vw.Close();
    w.Raw("valuation", vj);
  } else {
    w.Null("valuation");
  }
  std::string hits = "[";
  for (int idx : a.rule_indexes) {
    if (!rules || idx < 0 || static_cast<size_t>(idx) >= rules->rules().size()) continue;
    const Rule& r = rules->rules()[static_cast<size_t>(idx)];
    if (hits.size() > 1) hits.push_back(',');
    service::JsonObjectWriter hw(&hits);
    hw.String("rule", r.name)
        .String("reason", r.reason)
        .String("action", service::RuleActionText(r))
        .String("owner", r.owner);
    hw.Close();
  }
  hits.push_back(']');
  w.Raw("rule_hits", hits).Int("rules_version", rules_version);
  if (model_version)
    w.Int("model_version", *model_version);
  else
    w.Null("model_version");
  w.Close();
  return out;
}

}  // namespace

std::vector<Service::Impl::SubmitResult> Service::Impl::SubmitBatch(const DeclarationBatch& batch,
                                                                    const std::string& actor) {
  const size_t n = batch.rows.size();
  std::vector<SubmitResult> results(n);
  int64_t rules_version = 0;
  std::optional<int64_t> model_version;
  const std::shared_ptr<const DeclarationRisk> current =
      CurrentRisk(&rules_version, &model_version);
  auto assessments =
      current->Assess(batch);  // without the model's feature reasons: Refuse adds them
  // Which declarations exploration may draw (a kind the model has no outcome for); only asked
  // when the selector explores, as it costs a key lookup per declaration.
  std::vector<bool> novel(n, false);
  if (current->model() && selector->options().exploration_share > 0)
    novel = current->model()->Novel(batch);
  const int64_t now = NowMs();
  std::vector<DeclarationRow> rows(n);
  std::vector<std::string> findings(n);
  for (size_t i = 0; i < n; ++i) {
    const Declaration& d = batch.rows[i];
    DeclarationRow& r = rows[i];
    r.declaration_id = d.declaration_id;
    r.consignment_id = d.consignment_id.empty() ? d.declaration_id : d.consignment_id;
    r.office_id = d.office_id;
    r.date = d.date;
    r.json = DeclarationToJson(d, batch.extra_columns);
    r.content_sha256 = Sha256Hex(r.json);
    r.received_ms = now;
    r.assessment =
        AssessmentJson(assessments[i], d, current->rules(), rules_version, model_version);
    r.importer_id = d.importer_id;
    r.hs_code = d.hs_code;
    r.declared_value = d.declared_value;
    r.search_text = DeclarationSearchText(d.declaration_id, d.importer_id, d.declarant_id,
                                          d.seller_id, d.description);
    findings[i] = FindingsToJson(assessments[i].findings);
    results[i].declaration_id = d.declaration_id;
  }
  // Scans that came before their declaration are checked against it now.
  std::vector<std::vector<std::pair<EvidenceOrigin, std::string>>> rechecked(n);
  for (size_t i = 0; i < n; ++i) {
    auto r = RecheckScans(rows[i].consignment_id, batch.rows[i]);
    if (!r.ok()) {
      results[i].error = r.status();
      continue;
    }
    rechecked[i] = std::move(*r);
  }
  std::vector<std::future<Status>> done;
  done.reserve(n);
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) {
    if (!results[i].error.ok()) {
      done.push_back(std::async(std::launch::deferred, [&, i] { return results[i].error; }));
      continue;
    }
    done.push_back(store->WriteAsync([&, i](StoreTxn& txn) -> Status {
      const DeclarationRow& row = rows[i];
      SubmitResult& out = results[i];
      CS_ASSIGN_OR_RETURN(bool inserted, txn.InsertDeclarationIfAbsent(row));
      if (!inserted) {
        CS_ASSIGN_OR_RETURN(auto existing, txn.GetDeclaration(row.declaration_id));
        if (!existing) return Status::Internal("declaration '" + row.declaration_id + "' vanished");
        if (existing->content_sha256 != row.content_sha256)
          return Status::AlreadyExists(
              "declaration '" + row.declaration_id +
              "' is already stored with different content; a correction needs a new "
              "declaration id");
        out.status = "unchanged";
        CS_ASSIGN_OR_RETURN(out.decision, txn.GetDecision(existing->consignment_id));
        return Status::Ok();
      }
      if (!assessments[i].rule_hits.empty())
        CS_RETURN_IF_ERROR(txn.PutRuleHits(row.consignment_id, assessments[i].rule_hits));
      for (const auto& [origin, scan_findings] : rechecked[i])
        CS_RETURN_IF_ERROR(txn.PutFindings(row.consignment_id, origin.Key(), scan_findings));
      auto explain = [&](std::vector<Finding>& f) {
        std::vector<std::string> details = current->ExplainModel(batch, i, kExplainReasons);
        if (details.empty()) return false;
        service::AddModelDetails(f, details);
        return true;
      };
      CS_ASSIGN_OR_RETURN(DecisionRow decision,
                          Refuse(txn, row.consignment_id, &batch.rows[i], model_version, novel[i],
                                 actor, EvidenceOrigin::Declaration(row.declaration_id),
                                 assessments[i].findings, findings[i], explain));
      out.decision = std::move(decision);
      out.status = "created";
      return Status::Ok();
    }));
  }
  for (size_t i = 0; i < n; ++i) {
    Status s = done[i].get();
    if (!s.ok()) {
      results[i].error = s;
      results[i].status = s.code() == StatusCode::kAlreadyExists ? "conflict" : "error";
      results[i].decision.reset();
    }
    metrics->declarations.Add("result=\"" + results[i].status + "\"");
  }
  metrics->store_write_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return results;
}

namespace {

json RejectionJson(const Rejection& r) {
  return json{{"line", r.line}, {"field", r.field}, {"reason", r.reason}};
}

}  // namespace

Result<HttpResponse> Service::Impl::PostDeclarations(const HttpRequest& req, const Caller& caller) {
  if (req.body.size() > options.max_declaration_body_bytes)
    return Status::ResourceExhausted("declarations body is " + std::to_string(req.body.size()) +
                                     " bytes; the limit is " +
                                     std::to_string(options.max_declaration_body_bytes));
  if (req.body.empty())
    return Status::InvalidArgument("the body is empty: send a declaration as JSON, or CSV");
  const std::string content_type = ToLower(req.header("Content-Type"));
  ReadOptions ro;
  ro.max_rejections_kept = 1000;
  ro.rates = rates;
  IngestReport report;
  bool single = false;
  Result<DeclarationBatch> batch = Status::Internal("unset");
  // A file in one of the declaration formats: CSV (native, KCS, H7) by its content type, postal
  // EAD and H7 XML by theirs, or any of them named by ?format= whatever the content type says.
  const bool xml_type =
      StartsWith(content_type, "application/xml") || StartsWith(content_type, "text/xml");
  const std::string format_name = req.Query("format");
  if (xml_type || StartsWith(content_type, "text/csv") ||
      (!format_name.empty() && ToLower(format_name) != "auto" && ToLower(format_name) != "jsonl" &&
       ToLower(format_name) != "json")) {
    CS_ASSIGN_OR_RETURN(ro.format,
                        ParseDeclarationFormat(format_name.empty() ? "auto" : format_name));
    if (ro.format == DeclarationFormat::kNativeJsonl)
      return Status::InvalidArgument(
          "format=jsonl needs Content-Type application/json or application/x-ndjson");
    const bool xml_format =
        ro.format == DeclarationFormat::kPostalEad || ro.format == DeclarationFormat::kH7Xml;
    if (xml_type && !xml_format && ro.format != DeclarationFormat::kAuto)
      return Status::InvalidArgument("format=" + format_name +
                                     " is a CSV format but the Content-Type is " + content_type +
                                     ": send text/csv, or format=ead or h7xml for XML");
    // The name shows in every rejection ("request.xml:12: field 'item_id': ...").
    batch = ParseDeclarations(req.body, xml_type || xml_format ? "request.xml" : "request.csv", ro,
                              &report);
  } else {
    ro.format = DeclarationFormat::kNativeJsonl;
    std::string_view body = req.body;
    std::string lines;
    if (StartsWith(content_type, "application/x-ndjson") ||
        StartsWith(content_type, "application/jsonl")) {
      // JSON Lines as is.
    } else {
      // One JSON object (one declaration), an array of them, or {"declarations": [...]}.
      std::string_view t = Trim(body);
      if (!t.empty() && t[0] == '{' && t.find('\n') == std::string_view::npos &&
          t.find("\"declarations\"") == std::string_view::npos) {
        single = true;  // fast path: already one JSON line
        body = t;
      } else {
        // Bounded (depth and values): larger batches travel as JSON Lines or CSV.
        CS_ASSIGN_OR_RETURN(json j, service::ParseBody(body));
        const json* items = nullptr;
        if (j.is_object() && j.contains("declarations"))
          items = &j["declarations"];
        else if (j.is_array())
          items = &j;
        if (items) {
          if (!items->is_array()) return Status::InvalidArgument("'declarations' must be an array");
          if (items->empty()) return Status::InvalidArgument("no declarations in the request");
          for (const auto& e : *items) lines += e.dump() + "\n";
        } else if (j.is_object()) {
          single = true;
          lines = j.dump();
        } else {
          return Status::InvalidArgument(
              "expected a declaration object, an array, or {\"declarations\": [...]}");
        }
        body = lines;
      }
    }
    batch = ParseDeclarations(body, "request", ro, &report);
  }
  if (!batch.ok()) return batch.status();
  if (queue) return QueueDeclarations(*batch, report, single, caller);
  if (single) {
    if (!report.rejections.empty()) {
      const Rejection& r = report.rejections[0];
      return Status::InvalidArgument(r.field.empty() ? "declaration " + r.reason
                                                     : "field '" + r.field + "': " + r.reason);
    }
    if (batch->rows.size() != 1) return Status::InvalidArgument("expected exactly one declaration");
    auto results = SubmitBatch(*batch, caller.username);
    auto& r = results[0];
    if (!r.error.ok()) return r.error;
    if (!r.decision) return Status::Internal("no decision for " + r.declaration_id);
    HttpResponse res;
    res.status = r.status == "created" ? 201 : 200;
    res.body = service::DecisionJsonText(*r.decision, [&](service::JsonObjectWriter& w) {
      w.String("declaration_id", r.declaration_id).String("result", r.status);
    });
    return res;
  }
  auto results = SubmitBatch(*batch, caller.username);
  json items = json::array();
  int64_t created = 0, unchanged = 0, conflicts = 0, errors = 0;
  for (const auto& r : results) {
    json item = {{"declaration_id", r.declaration_id}, {"result", r.status}};
    if (r.decision) {
      item["consignment_id"] = r.decision->consignment_id;
      item["channel"] = r.decision->channel;
      item["score"] = r.decision->score;
      item["control"] = r.decision->control;
      item["exploration"] = r.decision->exploration;
      item["over_budget"] = r.decision->over_budget;
    }
    if (!r.error.ok()) item["error"] = json::parse(service::ErrorResponse(r.error).body)["error"];
    created += r.status == "created";
    unchanged += r.status == "unchanged";
    conflicts += r.status == "conflict";
    errors += r.status == "error";
    items.push_back(std::move(item));
  }
  json rejections = json::array();
  for (const auto& r : report.rejections) rejections.push_back(RejectionJson(r));
  json warnings = json::array();
  for (const auto& r : report.warnings) warnings.push_back(RejectionJson(r));
  json out = {{"accepted", report.accepted},
              {"rejected", report.rejected},
              {"flagged", report.flagged},
              {"duplicates_in_request", report.duplicates_identical},
              {"created", created},
              {"unchanged", unchanged},
              {"conflicts", conflicts},
              {"errors", errors},
              {"results", std::move(items)},
              {"rejections", std::move(rejections)},
              {"warnings", std::move(warnings)}};
  return JsonResponse(errors > 0 ? 503 : 200, out);
}

Result<HttpResponse> Service::Impl::GetDeclaration(const HttpRequest& req, const Caller&) {
  CS_ASSIGN_OR_RETURN(auto d, store->GetDeclaration(req.path_params[0]));
  if (!d) return Status::NotFound("no declaration '" + req.path_params[0] + "'");
  json body = json::parse(d->json);
  return JsonResponse(200, json{{"declaration", body},
                                {"consignment_id", d->consignment_id},
                                {"content_sha256", d->content_sha256},
                                {"received_at", IsoTime(d->received_ms)}});
}

Result<HttpResponse> Service::Impl::GetConsignment(const HttpRequest& req, const Caller&) {
  const std::string& id = req.path_params[0];
  CS_ASSIGN_OR_RETURN(auto decision, store->GetDecision(id));
  if (!decision) return Status::NotFound("no consignment '" + id + "'");
  json out = service::DecisionJson(*decision);
  CS_ASSIGN_OR_RETURN(auto decls, store->DeclarationsOf(id));
  json d = json::array();
  // Per declaration what it was assessed with: stored at decision time, so that the figures are
  // the ones the decision used even after the models were refit; declarations stored before that
  // are assessed again with the models loaded now, and say so.
  json assessments = json::array();
  int64_t rules_version = 0;
  std::optional<int64_t> model_version;
  const auto current = CurrentRisk(&rules_version, &model_version);
  for (const auto& row : decls) {
    d.push_back(json::parse(row.json));
    json a = row.assessment.empty() ? json(nullptr) : json::parse(row.assessment, nullptr, false);
    std::string basis = "decision";
    if (!a.is_object()) {
      auto batch = service::ParseStoredDeclaration(row.json);
      a = nullptr;
      if (batch) {
        auto now = current->Assess(*batch);
        a = json::parse(
            AssessmentJson(now[0], batch->rows[0], current->rules(), rules_version, model_version));
        basis = "recomputed";
      }
    }
    if (a.is_object()) {
      a["declaration_id"] = row.declaration_id;
      a["basis"] = basis;
      assessments.push_back(std::move(a));
    }
  }
  out["declarations"] = std::move(d);
  out["assessments"] = assessments;
  // Every rule that matched (the reasons keep only the strongest), with its words where known.
  CS_ASSIGN_OR_RETURN(auto hit_names, store->RuleHitsOf(id));
  json hits = json::array();
  for (const auto& name : hit_names) {
    json h = {{"rule", name}};
    for (const auto& a : assessments)
      for (const auto& x : a["rule_hits"])
        if (x.value("rule", "") == name && !h.contains("declaration_id")) {
          h = x;
          h["declaration_id"] = a["declaration_id"];
        }
    hits.push_back(std::move(h));
  }
  out["rule_hits"] = std::move(hits);
  CS_ASSIGN_OR_RETURN(auto scans, store->ScansOf(id));
  json s = json::array();
  for (const auto& row : scans) s.push_back(service::ScanJson(row));
  out["scans"] = std::move(s);
  CS_ASSIGN_OR_RETURN(auto outcomes, store->OutcomesOf(id));
  json o = json::array();
  for (const auto& row : outcomes) o.push_back(service::OutcomeJson(row));
  out["outcomes"] = std::move(o);
  return JsonResponse(200, out);
}

// The fields of a declaration an officer scans the queue by ("null" when there is none yet).
std::string service::DeclarationSummary(const std::string& declaration_json) {
  if (declaration_json.empty()) return "null";
  json d = json::parse(declaration_json, nullptr, false);
  if (!d.is_object()) return "null";
  json s = json::object();
  for (const char* k : {"declaration_id", "date", "office_id", "importer_id", "hs_code",
                        "origin_country", "declared_value", "currency", "net_mass_kg"})
    s[k] = d.contains(k) ? d[k] : json(nullptr);
  if (d.contains("item_id")) s["item_id"] = d["item_id"];  // a postal item's S10 id
  return s.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<HttpResponse> Service::Impl::GetQueue(const HttpRequest& req, const Caller&) {
  QueueQuery q;
  q.lane = req.Query("office", req.Query("lane"));
  q.channel = req.Query("channel");
  q.status = req.Query("status", "pending");
  if (q.status == "all") q.status.clear();
  q.sort = req.Query("sort", "-score");
  const std::string over = req.Query("over_budget");
  if (!over.empty() && over != "0" && over != "1")
    return Status::InvalidArgument("over_budget must be 1 (the supervisor's list) or 0");
  q.over_budget_only = over == "1";
  if (q.lane.size() > 200) return Status::InvalidArgument("office must be at most 200 bytes");
  q.search = std::string(Trim(req.Query("q")));
  if (q.search.size() > 200 || !IsValidUtf8(q.search))
    return Status::InvalidArgument("q (the search text) must be UTF-8 of at most 200 bytes");
  if (!q.channel.empty() && !ParseChannel(q.channel).ok())
    return Status::InvalidArgument("channel must be green, yellow or red");
  if (!q.status.empty() && !ParseWorkStatus(q.status).ok())
    return Status::InvalidArgument("status must be pending, released, done or all");
  auto number = [&](const char* key, int64_t fallback, int64_t* out) -> Status {
    std::string v = req.Query(key);
    if (v.empty()) {
      *out = fallback;
      return Status::Ok();
    }
    if (!ParseInt64(v, out))
      return Status::InvalidArgument(std::string(key) + " must be a whole number");
    return Status::Ok();
  };
  CS_RETURN_IF_ERROR(number("limit", 50, &q.limit));
  CS_RETURN_IF_ERROR(number("offset", 0, &q.offset));
  CS_ASSIGN_OR_RETURN(auto page, store->Queue(q));
  HttpResponse res;
  service::JsonObjectWriter w(&res.body);
  w.Int("total", page.total).Int("limit", q.limit).Int("offset", q.offset);
  std::string items = "[";
  for (size_t i = 0; i < page.items.size(); ++i) {
    if (i) items.push_back(',');
    items += service::DecisionJsonText(page.items[i], [&](service::JsonObjectWriter& iw) {
      iw.Raw("declaration", service::DeclarationSummary(page.first_declaration[i]))
          .Int("declarations", page.declaration_count[i]);
    });
  }
  items.push_back(']');
  w.Raw("items", items);
  w.Close();
  return res;
}

Result<HttpResponse> Service::Impl::GetOffices(const HttpRequest&, const Caller&) {
  CS_ASSIGN_OR_RETURN(auto lanes, store->Lanes());
  json offices = json::array();
  for (const auto& l : lanes)
    offices.push_back(json{{"office", l.lane},
                           {"total", l.total},
                           {"pending", l.pending},
                           {"released", l.released},
                           {"done", l.done}});
  return JsonResponse(200, json{{"offices", std::move(offices)}});
}

}  // namespace clearsight
