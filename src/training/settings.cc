// A training session's settings as JSON, the certification rule, and how each threat class
// looks in each channel (the explanation shown with the truth).
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "clearsight/text.h"
#include "clearsight/training.h"

namespace clearsight {

using nlohmann::json;

std::string_view TrainingSourceName(TrainingSource source) {
  switch (source) {
    case TrainingSource::kSimulated:
      return "simulated";
    case TrainingSource::kStored:
      return "stored";
    case TrainingSource::kMixed:
      return "mixed";
  }
  return "simulated";
}

namespace {

Result<json> ParseObject(std::string_view text, const char* what) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Status::InvalidArgument(std::string(what) + " must be a JSON object");
  return j;
}

Status Number(const json& j, const char* key, double lo, double hi, double* out) {
  if (!j.contains(key) || j[key].is_null()) return Status::Ok();
  if (!j[key].is_number() || !std::isfinite(j[key].get<double>()) || j[key].get<double>() < lo ||
      j[key].get<double>() > hi)
    return Status::InvalidArgument(std::string(key) + " must be a number from " + json(lo).dump() +
                                   " to " + json(hi).dump());
  *out = j[key].get<double>();
  return Status::Ok();
}

Status Whole(const json& j, const char* key, int lo, int hi, int* out) {
  if (!j.contains(key) || j[key].is_null()) return Status::Ok();
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < lo || j[key].get<int64_t>() > hi)
    return Status::InvalidArgument(std::string(key) + " must be a whole number from " +
                                   std::to_string(lo) + " to " + std::to_string(hi));
  *out = static_cast<int>(j[key].get<int64_t>());
  return Status::Ok();
}

}  // namespace

Result<TrainingSettings> TrainingSettingsFromJson(std::string_view text) {
  CS_ASSIGN_OR_RETURN(json j, ParseObject(text, "the session settings"));
  TrainingSettings s;
  CS_RETURN_IF_ERROR(Whole(j, "images", 1, 500, &s.images));
  CS_RETURN_IF_ERROR(Number(j, "threat_share", 0, 1, &s.threat_share));
  CS_RETURN_IF_ERROR(Number(j, "size_min", 0.2, 3, &s.size_min));
  CS_RETURN_IF_ERROR(Number(j, "size_max", 0.2, 3, &s.size_max));
  CS_RETURN_IF_ERROR(Number(j, "clutter_min", 0, 1, &s.clutter_min));
  CS_RETURN_IF_ERROR(Number(j, "clutter_max", 0, 1, &s.clutter_max));
  CS_RETURN_IF_ERROR(Whole(j, "time_limit_s", 3, 600, &s.time_limit_s));
  if (s.size_min > s.size_max)
    return Status::InvalidArgument("size_min must not be above size_max");
  if (s.clutter_min > s.clutter_max)
    return Status::InvalidArgument("clutter_min must not be above clutter_max");
  if (j.contains("threat_classes") && !j["threat_classes"].is_null()) {
    if (!j["threat_classes"].is_array())
      return Status::InvalidArgument("threat_classes must be an array of class names");
    const auto& known = ThreatClasses();
    for (const auto& c : j["threat_classes"]) {
      if (!c.is_string() ||
          std::find(known.begin(), known.end(), c.get<std::string>()) == known.end()) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        return Status::InvalidArgument("threat_classes: " + c.dump() + " is not a threat class (" +
                                       list + ")");
      }
      if (std::find(s.threat_classes.begin(), s.threat_classes.end(), c.get<std::string>()) ==
          s.threat_classes.end())
        s.threat_classes.push_back(c.get<std::string>());
    }
  }
  if (j.contains("source") && !j["source"].is_null()) {
    const std::string src = j["source"].is_string() ? j["source"].get<std::string>() : "";
    if (src == "simulated")
      s.source = TrainingSource::kSimulated;
    else if (src == "stored")
      s.source = TrainingSource::kStored;
    else if (src == "mixed")
      s.source = TrainingSource::kMixed;
    else
      return Status::InvalidArgument("source must be simulated, stored or mixed");
  }
  if (j.contains("seed") && !j["seed"].is_null()) {
    if (!j["seed"].is_number_unsigned())
      return Status::InvalidArgument("seed must be a whole number >= 0");
    s.seed = j["seed"].get<uint64_t>();
  }
  if (j.contains("cases") && !j["cases"].is_null()) {
    if (!j["cases"].is_array() || j["cases"].size() > 500)
      return Status::InvalidArgument("cases must be an array of at most 500 consignment ids");
    for (const auto& c : j["cases"]) {
      if (!c.is_string() || c.get<std::string>().empty() || c.get<std::string>().size() > 256 ||
          !IsValidUtf8(c.get<std::string>()))
        return Status::InvalidArgument(
            "cases: " + c.dump(-1, ' ', false, json::error_handler_t::replace) +
            " is not a consignment id");
      if (std::find(s.cases.begin(), s.cases.end(), c.get<std::string>()) == s.cases.end())
        s.cases.push_back(c.get<std::string>());
    }
    if (static_cast<int>(s.cases.size()) > s.images)
      return Status::InvalidArgument("cases: " + std::to_string(s.cases.size()) +
                                     " cases do not fit in images = " + std::to_string(s.images) +
                                     " (each case is one of the session's images)");
  }
  return s;
}

std::string TrainingSettingsToJson(const TrainingSettings& s) {
  return json{{"images", s.images},
              {"threat_share", s.threat_share},
              {"threat_classes", s.threat_classes},
              {"size_min", s.size_min},
              {"size_max", s.size_max},
              {"clutter_min", s.clutter_min},
              {"clutter_max", s.clutter_max},
              {"time_limit_s", s.time_limit_s},
              {"source", std::string(TrainingSourceName(s.source))},
              {"seed", s.seed},
              {"cases", s.cases}}
      .dump();
}

std::vector<std::string> SessionClasses(const TrainingSettings& settings) {
  return settings.threat_classes.empty() ? ThreatClasses() : settings.threat_classes;
}

Result<CertificationRule> CertificationRuleFromJson(std::string_view text) {
  CS_ASSIGN_OR_RETURN(json j, ParseObject(text, "the certification rule"));
  CertificationRule r;
  CS_RETURN_IF_ERROR(Number(j, "min_d_prime", 0, 6, &r.min_d_prime));
  CS_RETURN_IF_ERROR(Whole(j, "window", 10, 10000, &r.window));
  return r;
}

std::string CertificationRuleToJson(const CertificationRule& r) {
  return json{{"min_d_prime", r.min_d_prime}, {"window", r.window}}.dump();
}

ThreatLook ThreatClassLook(std::string_view c) {
  if (c == "narcotics")
    return {
        "A compact block of organic powder or resin, often wrapped in tape, hidden among goods.",
        "A soft, even grey block: light elements attenuate little at high energy.",
        "Clearly darker than at high energy: organic matter absorbs the low energies.",
        "Orange (Z_eff about 6-8), uniform inside, with sharp straight edges of the package."};
  if (c == "firearm")
    return {"A pistol or revolver: steel frame, barrel, slide and grip, an L shape from the side.",
            "Very dark: steel stops most of the beam even at high energy.",
            "Near black, often saturated (impenetrable) where the steel is thickest.",
            "Blue (metal, Z_eff above 18), dark red/black where impenetrable; a plastic grip "
            "shows orange."};
  if (c == "firearm_part")
    return {"A part of a firearm: barrel, slide, trigger group or magazine, shipped apart.",
            "Dark, narrow steel shapes with machined, regular outlines.",
            "Darker still; small parts may look like tools or hardware.",
            "Blue (metal); look for tubes (barrels) and springs (magazines)."};
  if (c == "knife")
    return {"A blade: a thin, long steel plate with a handle; edge-on it is a thin line.",
            "A faint sliver flat-on, a dark line edge-on: thin steel attenuates little across it.",
            "Darker than at high energy, the handle visible as a separate material.",
            "Blue blade (metal), the handle orange (plastic, wood) or green (light metal)."};
  if (c == "cigarettes")
    return {"Cigarette cartons: stacks of regular rectangles of tobacco and paper.",
            "Even grey bricks with a fine repeating pattern of the sticks.",
            "Darker bricks, the regular pattern easier to see.",
            "Orange (organic), many identical rectangles side by side."};
  if (c == "currency")
    return {"Banknotes in bundles: dense stacks of paper, often bound.",
            "Even grey rectangles, denser than clothing or books of the same size.",
            "Darker rectangles with sharp edges.",
            "Orange (organic) rectangles of uniform thickness; bands may show as lines."};
  if (c == "lithium_battery")
    return {"Lithium cells or packs: layered metal foils and electrolyte in a metal can.",
            "Dark cylinders or flat packs with bright (less dense) bands inside.",
            "Darker; the layered structure and the terminals stand out.",
            "Blue and green (metal and inorganic) with dark ends; packs show a grid of cells."};
  return {"A threat the catalogue does not describe.", "", "", ""};
}

}  // namespace clearsight
