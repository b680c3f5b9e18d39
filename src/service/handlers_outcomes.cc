// Outcomes: what an inspection found (or that there was none, and why), what was seized, the
// revenue recovered, and photos of the find (docs/api.md, Outcomes).
#include <algorithm>
#include <cctype>
#include <cmath>

#include "clearsight/text.h"
#include "service/service_impl.h"

namespace clearsight {

using service::Caller;
using service::HttpRequest;
using service::HttpResponse;
using service::JsonResponse;
using service::OutcomeResults;

namespace {

// Units a seizure is counted in.
const std::vector<std::string>& SeizedUnits() {
  static const std::vector<std::string> k = {"kg",     "g",      "l",       "ml",
                                             "pieces", "sticks", "packets", "cartons"};
  return k;
}

// The members an outcome body may have: anything else is a typo the officer should hear about.
const std::vector<std::string>& OutcomeFields() {
  static const std::vector<std::string> k = {
      "result",          "notes",       "corrected_value",   "not_inspected_reason",
      "seized_quantity", "seized_unit", "revenue_recovered", "revenue_currency"};
  return k;
}

std::string Listed(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool Has(const json& j, const char* key) { return j.contains(key) && !j[key].is_null(); }

bool IsCurrencyCode(std::string_view s) {
  return s.size() == 3 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// A short line of text: UTF-8 without control characters, at most `max` bytes.
Status CheckLine(const json& j, const char* key, size_t max, std::string* out) {
  if (!j[key].is_string()) return Status::InvalidArgument(std::string(key) + " must be text");
  std::string v(Trim(j[key].get<std::string>()));
  if (v.size() > max || !IsValidUtf8(v) ||
      std::any_of(v.begin(), v.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return Status::InvalidArgument(std::string(key) +
                                   " must be one line of UTF-8 text of at most " +
                                   std::to_string(max) + " bytes");
  *out = std::move(v);
  return Status::Ok();
}

// What the bytes are by their first bytes ("magic"), whatever the request says: "image/jpeg",
// "image/png", or "" for anything else.
std::string_view ImageTypeOf(std::string_view b) {
  auto at = [&](size_t i) { return static_cast<unsigned char>(b[i]); };
  if (b.size() >= 4 && at(0) == 0xFF && at(1) == 0xD8 && at(2) == 0xFF) return "image/jpeg";
  // The PNG signature, then the first chunk, which must be IHDR with a width and height.
  static constexpr unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (b.size() >= 33 &&
      std::equal(kPng, kPng + 8, b.begin(),
                 [](unsigned char x, char y) { return x == static_cast<unsigned char>(y); }) &&
      b.substr(12, 4) == "IHDR")
    return "image/png";
  return "";
}

// A path segment percent-encoded: everything but RFC 3986's unreserved characters.
std::string PathSegment(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string AttachmentUrl(const AttachmentRow& a) {
  return "/api/consignments/" + PathSegment(a.consignment_id) + "/attachments/" + a.sha256;
}

json AttachmentJson(const AttachmentRow& a) {
  return json{{"sha256", a.sha256},
              {"content_type", a.content_type},
              {"bytes", a.bytes},
              {"name", a.name},
              {"outcome_seq", a.outcome_seq},
              {"uploaded_by", a.uploaded_by},
              {"uploaded_at", IsoTime(a.uploaded_ms)},
              {"url", AttachmentUrl(a)}};
}

}  // namespace

const std::vector<std::string>& service::OutcomeResults() {
  static const std::vector<std::string> k = {"nothing",
                                             "narcotics",
                                             "weapon",
                                             "cigarettes",
                                             "currency",
                                             "undervaluation",
                                             "misdeclaration",
                                             "lithium_batteries",
                                             "counterfeit",
                                             "other",
                                             std::string(kNotInspected)};
  return k;
}

json service::OutcomeJson(const OutcomeRow& o) {
  auto optional_number = [](double v) { return v >= 0 ? json(v) : json(nullptr); };
  auto optional_text = [](const std::string& v) { return v.empty() ? json(nullptr) : json(v); };
  json attachments = json::array();
  for (const auto& a : o.attachments) attachments.push_back(AttachmentJson(a));
  return json{{"seq", o.seq},
              {"result", o.result},
              {"notes", o.notes},
              {"officer", o.officer},
              {"recorded_at", IsoTime(o.recorded_ms)},
              {"corrected_value", optional_number(o.corrected_value)},
              {"not_inspected_reason", optional_text(o.not_inspected_reason)},
              {"seized_quantity", optional_number(o.seized_quantity)},
              {"seized_unit", optional_text(o.seized_unit)},
              {"revenue_recovered", optional_number(o.revenue_recovered)},
              {"revenue_currency", optional_text(o.revenue_currency)},
              {"attachments", std::move(attachments)}};
}

Result<HttpResponse> Service::Impl::PostOutcome(const HttpRequest& req, const Caller& caller) {
  const std::string& id = req.path_params[0];
  CS_ASSIGN_OR_RETURN(json j, service::ParseBody(req.body));
  if (!j.is_object()) return Status::InvalidArgument("the body must be a JSON object");
  for (const auto& [key, value] : j.items())
    if (std::find(OutcomeFields().begin(), OutcomeFields().end(), key) == OutcomeFields().end())
      return Status::InvalidArgument("unknown field '" + Excerpt(key, 60) + "': an outcome has " +
                                     Listed(OutcomeFields()));
  OutcomeRow o;
  o.consignment_id = id;
  if (!j.contains("result") || !j["result"].is_string())
    return Status::InvalidArgument("result is required: one of " + Listed(OutcomeResults()));
  o.result = j["result"].get<std::string>();
  if (std::find(OutcomeResults().begin(), OutcomeResults().end(), o.result) ==
      OutcomeResults().end())
    return Status::InvalidArgument("result must be one of: " + Listed(OutcomeResults()));
  const bool not_inspected = o.result == kNotInspected;
  const bool found = !not_inspected && o.result != "nothing";  // something was found
  auto positive = [&](const char* key, bool allow_zero, double* out) -> Status {
    if (!j[key].is_number()) return Status::InvalidArgument(std::string(key) + " must be a number");
    *out = j[key].get<double>();
    if (!std::isfinite(*out) || *out < 0 || (!allow_zero && *out == 0))
      return Status::InvalidArgument(std::string(key) + " must be a " +
                                     (allow_zero ? "number 0 or more" : "positive number"));
    return Status::Ok();
  };
  // Not inspected: the reason is required, and nothing can have been found.
  if (Has(j, "not_inspected_reason")) {
    if (!not_inspected)
      return Status::InvalidArgument("not_inspected_reason is only for result " +
                                     std::string(kNotInspected));
    CS_RETURN_IF_ERROR(CheckLine(j, "not_inspected_reason", 500, &o.not_inspected_reason));
  }
  if (not_inspected && o.not_inspected_reason.empty())
    return Status::InvalidArgument(
        "not_inspected_reason is required when the result is not_inspected: say why the "
        "consignment was not inspected");
  const char* nothing_found = not_inspected ? "the consignment was not inspected"
                                            : "the result is nothing (nothing was found)";
  if (Has(j, "corrected_value")) {
    if (!found)
      return Status::InvalidArgument(std::string("corrected_value cannot be given when ") +
                                     nothing_found);
    CS_RETURN_IF_ERROR(positive("corrected_value", false, &o.corrected_value));
  }
  if (o.result == "undervaluation" && o.corrected_value <= 0)
    return Status::InvalidArgument(
        "an undervaluation outcome needs corrected_value (the value found)");
  // What was seized: a quantity with its unit.
  if (Has(j, "seized_quantity") || Has(j, "seized_unit")) {
    if (!found)
      return Status::InvalidArgument(
          std::string(Has(j, "seized_quantity") ? "seized_quantity" : "seized_unit") +
          " cannot be given when " + nothing_found);
    if (!Has(j, "seized_quantity"))
      return Status::InvalidArgument("seized_quantity is required with seized_unit");
    CS_RETURN_IF_ERROR(positive("seized_quantity", false, &o.seized_quantity));
    if (!Has(j, "seized_unit") || !j["seized_unit"].is_string())
      return Status::InvalidArgument("seized_unit is required with seized_quantity: one of " +
                                     Listed(SeizedUnits()));
    o.seized_unit = j["seized_unit"].get<std::string>();
    if (std::find(SeizedUnits().begin(), SeizedUnits().end(), o.seized_unit) == SeizedUnits().end())
      return Status::InvalidArgument("seized_unit must be one of: " + Listed(SeizedUnits()));
  }
  // Revenue recovered (duties, taxes, penalties), for any finding, in a currency.
  if (Has(j, "revenue_recovered") || Has(j, "revenue_currency")) {
    if (!found)
      return Status::InvalidArgument(
          std::string(Has(j, "revenue_recovered") ? "revenue_recovered" : "revenue_currency") +
          " cannot be given when " + nothing_found);
    if (!Has(j, "revenue_recovered"))
      return Status::InvalidArgument("revenue_recovered is required with revenue_currency");
    CS_RETURN_IF_ERROR(positive("revenue_recovered", true, &o.revenue_recovered));
    if (Has(j, "revenue_currency")) {
      if (!j["revenue_currency"].is_string() ||
          !IsCurrencyCode(j["revenue_currency"].get<std::string>()))
        return Status::InvalidArgument(
            "revenue_currency must be a three-letter ISO 4217 code in capitals (EUR)");
      o.revenue_currency = j["revenue_currency"].get<std::string>();
    } else {
      // The currency the consignment was declared in.
      CS_ASSIGN_OR_RETURN(auto decls, store->DeclarationsOf(id));
      for (const auto& d : decls) {
        json body = json::parse(d.json, nullptr, false);
        if (body.is_object() && body.contains("currency") && body["currency"].is_string() &&
            IsCurrencyCode(body["currency"].get<std::string>())) {
          o.revenue_currency = body["currency"].get<std::string>();
          break;
        }
      }
      if (o.revenue_currency.empty())
        return Status::InvalidArgument(
            "revenue_currency is required: the consignment has no declaration to take the "
            "currency from");
    }
  }
  if (Has(j, "notes")) {
    if (!j["notes"].is_string()) return Status::InvalidArgument("notes must be text");
    o.notes = j["notes"].get<std::string>();
  }
  if (o.notes.size() > 10000 || !IsValidUtf8(o.notes))
    return Status::InvalidArgument("notes must be UTF-8 text of at most 10000 bytes");
  o.officer = caller.username;
  DecisionRow after;
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(auto decision, txn.GetDecision(id));
    if (!decision) return Status::NotFound("no consignment '" + id + "'");
    CS_RETURN_IF_ERROR(txn.InsertOutcome(&o));
    AuditEntry e;
    e.actor = caller.username;
    e.action = "outcome";
    e.subject = id;
    json detail = {{"seq", o.seq},
                   {"result", o.result},
                   {"notes", o.notes},
                   {"channel", decision->channel},
                   {"control", decision->control},
                   {"decision_version", decision->version}};
    if (o.corrected_value >= 0) detail["corrected_value"] = o.corrected_value;
    if (!o.not_inspected_reason.empty()) detail["not_inspected_reason"] = o.not_inspected_reason;
    if (o.seized_quantity >= 0) {
      detail["seized_quantity"] = o.seized_quantity;
      detail["seized_unit"] = o.seized_unit;
    }
    if (o.revenue_recovered >= 0) {
      detail["revenue_recovered"] = o.revenue_recovered;
      detail["revenue_currency"] = o.revenue_currency;
    }
    e.detail_json = detail.dump(-1, ' ', false, json::error_handler_t::replace);
    CS_RETURN_IF_ERROR(txn.Audit(&e));
    CS_ASSIGN_OR_RETURN(auto updated, txn.GetDecision(id));
    after = *updated;
    return Status::Ok();
  }));
  metrics->outcomes.Add("result=\"" + o.result + "\"");
  json out = service::DecisionJson(after);
  out["recorded"] = service::OutcomeJson(o);
  return JsonResponse(201, out);
}

// POST /api/consignments/{id}/outcomes/{seq}/attachments: a photo of the find as the body
// (Content-Type image/jpeg or image/png, the bytes checked by their magic), `?name=` its file
// name. Its bytes go to the image directory (content-addressed) before the row, as scans do.
Result<HttpResponse> Service::Impl::PostAttachment(const HttpRequest& req, const Caller& caller) {
  const std::string& id = req.path_params[0];
  int64_t seq = 0;
  if (!ParseInt64(req.path_params[1], &seq) || seq < 1)
    return Status::InvalidArgument(
        "the outcome number in the path must be a whole number 1 or more");
  CS_ASSIGN_OR_RETURN(auto decision, store->GetDecision(id));
  if (!decision) return Status::NotFound("no consignment '" + id + "'");
  CS_ASSIGN_OR_RETURN(auto outcomes, store->OutcomesOf(id));
  if (std::none_of(outcomes.begin(), outcomes.end(),
                   [&](const OutcomeRow& o) { return o.seq == seq; }))
    return Status::NotFound("consignment '" + id + "' has no outcome #" + std::to_string(seq) +
                            ": record the outcome first");
  std::string type = ToLower(Trim(req.header ? req.header("Content-Type") : std::string()));
  type = std::string(Trim(std::string_view(type).substr(0, type.find(';'))));
  if (type != "image/jpeg" && type != "image/png") {
    HttpResponse res;
    res.status = 415;
    res.body = service::ErrorJson("unsupported_media_type",
                                  "Content-Type must be image/jpeg or image/png (a photo of the "
                                  "find), not '" +
                                      Excerpt(type.empty() ? "none" : type, 60) + "'");
    return res;
  }
  if (req.body.empty()) return Status::InvalidArgument("the body is empty: send the photo's bytes");
  const std::string_view actual = ImageTypeOf(req.body);
  if (actual.empty())
    return Status::InvalidArgument("the body is not a JPEG or PNG image (its first bytes say so)");
  if (actual != type)
    return Status::InvalidArgument("the body is " + std::string(actual) +
                                   " but Content-Type says " + type);
  AttachmentRow a;
  a.consignment_id = id;
  a.outcome_seq = seq;
  a.content_type = std::string(actual);
  a.bytes = static_cast<int64_t>(req.body.size());
  a.uploaded_by = caller.username;
  a.uploaded_ms = NowMs();
  if (req.HasQuery("name")) {
    a.name = std::string(Trim(req.Query("name")));
    if (a.name.size() > 200 || !IsValidUtf8(a.name) ||
        a.name.find_first_of("/\\") != std::string::npos ||
        std::any_of(a.name.begin(), a.name.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
      return Status::InvalidArgument(
          "name must be a file name (no folders, no control characters) of at most 200 bytes");
  }
  CS_ASSIGN_OR_RETURN(a.sha256, store->PutImage(req.body));
  bool inserted = false;
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(inserted, txn.InsertAttachment(a));
    if (!inserted) return Status::Ok();
    AuditEntry e;
    e.actor = caller.username;
    e.action = "outcome_attachment";
    e.subject = id;
    e.detail_json = json{
        {"outcome_seq", seq},
        {"sha256", a.sha256},
        {"content_type", a.content_type},
        {"bytes", a.bytes},
        {"name",
         a.name}}.dump(-1, ' ', false, json::error_handler_t::replace);
    return txn.Audit(&e);
  }));
  json out = AttachmentJson(a);
  out["result"] = inserted ? "created" : "unchanged";
  return JsonResponse(inserted ? 201 : 200, out);
}

// GET /api/consignments/{id}/attachments/{sha256}: the photo, with the type its bytes have.
Result<HttpResponse> Service::Impl::GetAttachment(const HttpRequest& req, const Caller&) {
  const std::string& id = req.path_params[0];
  const std::string& sha = req.path_params[1];
  if (!IsSha256Hex(sha))
    return Status::InvalidArgument("an attachment is named by its sha256: 64 lowercase hex digits");
  CS_ASSIGN_OR_RETURN(auto row, store->GetAttachment(id, sha));
  if (!row) return Status::NotFound("consignment '" + id + "' has no attachment " + sha);
  CS_ASSIGN_OR_RETURN(std::string bytes, store->ReadImage(sha));
  HttpResponse res;
  res.content_type = row->content_type;
  res.body = std::move(bytes);
  res.headers.emplace_back(
      "Content-Disposition",
      "inline; filename=\"" + sha + (row->content_type == "image/png" ? ".png" : ".jpg") + "\"");
  return res;
}

}  // namespace clearsight
