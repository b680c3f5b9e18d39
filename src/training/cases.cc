// Cases of the case library in training sessions: where they fall in a trainee's run, and the
// truth of a case's image from what its inspection found.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "clearsight/text.h"
#include "clearsight/training.h"
#include "xray/physics/random.h"

namespace clearsight {

namespace {
constexpr std::string_view kCaseSource = "case:";

// The detector classes an outcome result confirms; empty for a finding no detector class names.
std::vector<std::string_view> DetectorClassesOf(std::string_view result) {
  if (result == "narcotics") return {"narcotics"};
  if (result == "weapon") return {"firearm", "firearm_part", "knife"};
  if (result == "cigarettes") return {"cigarettes"};
  if (result == "currency") return {"currency"};
  if (result == "lithium_batteries") return {"lithium_battery"};
  return {};
}
}  // namespace

RunSlot RunSlotAt(const TrainingSettings& s, uint64_t base_seed, int index) {
  std::vector<int> order(static_cast<size_t>(s.images));
  for (int i = 0; i < s.images; ++i) order[i] = i;
  xray::Rng shuffle(base_seed);
  for (int i = s.images - 1; i > 0; --i) std::swap(order[i], order[shuffle.Int(0, i)]);
  const int cases = static_cast<int>(s.cases.size());
  const int threats = static_cast<int>(std::lround(s.threat_share * (s.images - cases)));
  RunSlot slot;
  for (int i = 0, seen = 0; i <= index && i < s.images; ++i) {
    const bool is_case = order[i] < cases;
    const bool threat = !is_case && order[i] < cases + threats;
    if (i == index) {
      if (is_case) slot.case_index = static_cast<size_t>(order[i]);
      slot.threat = threat;
      slot.threat_rank = threat ? seen : -1;
    }
    seen += threat;
  }
  return slot;
}

CaseTruth CaseTruthOf(std::string_view result, std::string_view analysis_json) {
  CaseTruth truth;
  if (!IsInspectionResult(result) || result == "nothing" || result == "undervaluation")
    return truth;
  truth.threat = true;
  truth.threat_class = std::string(result);
  const auto classes = DetectorClassesOf(result);
  if (classes.size() == 1) truth.threat_class = std::string(classes[0]);
  const nlohmann::json a = nlohmann::json::parse(analysis_json, nullptr, false);
  if (classes.empty() || !a.is_object() || !a.contains("detections") || !a["detections"].is_array())
    return truth;
  double best = -1;
  for (const auto& d : a["detections"]) {
    if (!d.is_object() || !d.value("class", nlohmann::json()).is_string() ||
        !d.value("box", nlohmann::json()).is_array() || d["box"].size() != 4)
      continue;
    const std::string cls = d["class"].get<std::string>();
    if (std::find(classes.begin(), classes.end(), cls) == classes.end()) continue;
    const double score =
        d.value("score", nlohmann::json(0)).is_number() ? d["score"].get<double>() : 0;
    std::array<int, 4> box{};
    bool numbers = true;
    for (size_t k = 0; k < 4; ++k) {
      numbers = numbers && d["box"][k].is_number_integer();
      if (numbers) box[k] = d["box"][k].get<int>();
    }
    if (!numbers || box[2] <= box[0] || box[3] <= box[1] || score <= best) continue;
    best = score;
    truth.box = box;
    truth.threat_class = cls;
  }
  return truth;
}

bool IsCaseTrial(const TrainingTrialRow& trial) { return StartsWith(trial.source, kCaseSource); }

std::string CaseOfTrial(const TrainingTrialRow& trial) {
  return IsCaseTrial(trial) ? trial.source.substr(kCaseSource.size()) : std::string();
}

bool TrialHasBox(const TrainingTrialRow& t) { return t.box_x1 > t.box_x0 && t.box_y1 > t.box_y0; }

}  // namespace clearsight
