// Customs responses per consignment, as XML (through the libxml2 adapter) or JSON lines.
#include <nlohmann/json.hpp>

#include "clearsight/file_util.h"
#include "clearsight/postal.h"
#include "clearsight/text.h"
#include "xml_adapter.h"

namespace clearsight {

ResponseAction ResponseActionFor(Channel channel) {
  switch (channel) {
    case Channel::kRed:
      return ResponseAction::kHoldForInspection;
    case Channel::kYellow:
      return ResponseAction::kHoldForDocuments;
    case Channel::kGreen:
      break;
  }
  return ResponseAction::kRelease;
}

std::string_view ResponseActionName(ResponseAction action) {
  switch (action) {
    case ResponseAction::kHoldForInspection:
      return "hold_inspection";
    case ResponseAction::kHoldForDocuments:
      return "hold_documents";
    case ResponseAction::kRelease:
      break;
  }
  return "release";
}

std::string_view ResponseActionWords(ResponseAction action) {
  switch (action) {
    case ResponseAction::kHoldForInspection:
      return "hold for inspection";
    case ResponseAction::kHoldForDocuments:
      return "hold for documents";
    case ResponseAction::kRelease:
      break;
  }
  return "release";
}

namespace {

std::string XmlResponses(const std::vector<ConsignmentResponse>& responses, Status* status) {
  xml::Node root;
  root.name = "CustomsResponses";
  root.attributes = {{"message", "CUSRSP"}, {"version", "1"}};
  for (const auto& r : responses) {
    xml::Node& n = root.Add("Response");
    n.Add("ItemId", r.item_id);
    n.Add("ConsignmentId", r.consignment_id);
    n.Add("Decision", std::string(ResponseActionWords(r.action))).attributes = {
        {"code", std::string(ResponseActionName(r.action))}};
    n.Add("Channel", std::string(ChannelName(r.channel)));
    n.Add("Score", FormatFixed(r.score, 4));
    if (r.control) n.Add("ControlSample", "true");
    if (!r.reasons.empty()) {
      xml::Node& reasons = n.Add("Reasons");
      for (const auto& reason : r.reasons) {
        xml::Node& x = reasons.Add("Reason", reason.text);
        x.attributes = {{"code", reason.code}};
        if (!reason.rule.empty()) x.attributes.emplace_back("rule", reason.rule);
        if (!reason.piece.empty()) x.attributes.emplace_back("piece", reason.piece);
      }
    }
    xml::Node& pieces = n.Add("Pieces");
    for (const auto& p : r.pieces) {
      pieces.Add("Piece").attributes = {{"id", p.declaration_id},
                                        {"channel", std::string(ChannelName(p.channel))},
                                        {"score", FormatFixed(p.score, 4)}};
    }
  }
  auto text = xml::Write(root);
  if (!text.ok()) {
    *status = text.status();
    return {};
  }
  return std::move(text).value();
}

std::string JsonlResponses(const std::vector<ConsignmentResponse>& responses) {
  std::string out;
  for (const auto& r : responses) {
    nlohmann::json j;
    j["item_id"] = r.item_id;
    j["consignment_id"] = r.consignment_id;
    j["decision"] = ResponseActionName(r.action);
    j["channel"] = ChannelName(r.channel);
    j["score"] = r.score;
    j["control"] = r.control;
    j["reasons"] = nlohmann::json::array();
    for (const auto& reason : r.reasons) {
      nlohmann::json x{{"code", reason.code}, {"text", reason.text}};
      if (!reason.rule.empty()) x["rule"] = reason.rule;
      if (!reason.piece.empty()) x["piece"] = reason.piece;
      j["reasons"].push_back(std::move(x));
    }
    j["pieces"] = nlohmann::json::array();
    for (const auto& p : r.pieces)
      j["pieces"].push_back({{"declaration_id", p.declaration_id},
                             {"channel", ChannelName(p.channel)},
                             {"score", p.score}});
    // Replacement of invalid UTF-8 rather than an exception: an id is data, not a reason to fail.
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
  }
  return out;
}

}  // namespace

Result<std::string> ResponsesToText(const std::vector<ConsignmentResponse>& responses,
                                    ResponseFormat format) {
  if (format == ResponseFormat::kJsonl) return JsonlResponses(responses);
  Status status;
  std::string text = XmlResponses(responses, &status);
  if (!status.ok()) return status;
  return text;
}

Status WriteResponses(const std::string& path, const std::vector<ConsignmentResponse>& responses) {
  const bool json = (path.size() >= 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0) ||
                    (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0);
  CS_ASSIGN_OR_RETURN(std::string text, ResponsesToText(responses, json ? ResponseFormat::kJsonl
                                                                        : ResponseFormat::kXml));
  return WriteFileAtomic(path, text);
}

}  // namespace clearsight
