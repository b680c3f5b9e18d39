// Evaluation of detections (and manifest checks) against simulated ground truth.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "clearsight/xray_train.h"
#include "common/csv.h"
#include "xray/train/train_internal.h"

namespace clearsight {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace xray {

double DetectionIou(const Detection& d, const TruthObject& t) {
  const double ix = std::max(0, std::min(d.x1, t.x1) - std::max(d.x0, t.x0));
  const double iy = std::max(0, std::min(d.y1, t.y1) - std::max(d.y0, t.y0));
  const double inter = ix * iy;
  const double ua = static_cast<double>(d.x1 - d.x0) * (d.y1 - d.y0) +
                    static_cast<double>(t.x1 - t.x0) * (t.y1 - t.y0) - inter;
  return ua > 0 ? inter / ua : 0.0;
}

std::pair<double, double> WilsonInterval95(int64_t k, int64_t n) {
  if (n <= 0) return {0.0, 0.0};
  const double z = 1.959963984540054, z2 = z * z, nn = static_cast<double>(n);
  const double p = static_cast<double>(std::clamp<int64_t>(k, 0, n)) / nn;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

std::vector<double> ChooseClassOperatingPoints(const std::vector<std::vector<double>>& clean,
                                               const std::vector<std::vector<double>>& threats,
                                               double floor_p, double cap_p, size_t allowed,
                                               const std::vector<double>& priority) {
  const size_t nc = clean.size();
  const size_t n = nc ? clean[0].size() : 0;
  std::vector<char> alarmed(n, 0);
  size_t alarmed_count = 0;
  // Per class, its clean parcels by score, highest first, and the cut points between distinct
  // scores: a threshold just above order[k][j]'s score alarms exactly the parcels before j.
  std::vector<std::vector<size_t>> order(nc);
  std::vector<size_t> pos(nc, 0);  // parcels of class k alarmed now: order[k][0 .. pos[k])
  std::vector<double> thr(nc);
  auto threshold_at = [&](size_t k, size_t j) {
    const double t = j < order[k].size() ? std::nextafter(clean[k][order[k][j]], 2.0) : floor_p;
    return std::clamp(t, floor_p, cap_p);
  };
  for (size_t k = 0; k < nc; ++k) {
    for (size_t i = 0; i < n; ++i)
      if (clean[k][i] >= floor_p) order[k].push_back(i);
    std::stable_sort(order[k].begin(), order[k].end(),
                     [&](size_t a, size_t b) { return clean[k][a] > clean[k][b]; });
    thr[k] = threshold_at(k, 0);
    // Parcels at or above the cap alarm whatever the budget says: they count against it.
    while (pos[k] < order[k].size() && clean[k][order[k][pos[k]]] >= thr[k]) {
      if (!alarmed[order[k][pos[k]]]) alarmed[order[k][pos[k]]] = 1, ++alarmed_count;
      ++pos[k];
    }
    if (pos[k] > 0) thr[k] = threshold_at(k, pos[k]);  // down to the next parcel costs nothing more
  }
  for (;;) {
    double best_ratio = -1;
    size_t best_k = nc, best_j = 0;
    for (size_t k = 0; k < nc; ++k) {
      if (threats[k].empty()) continue;
      size_t cost = 0;
      for (size_t j = pos[k]; j < order[k].size();) {
        // Admit the run of equal scores starting at j.
        size_t e = j;
        while (e < order[k].size() && clean[k][order[k][e]] == clean[k][order[k][j]]) {
          if (!alarmed[order[k][e]]) ++cost;
          ++e;
        }
        if (alarmed_count + cost > allowed) break;
        const double t = threshold_at(k, e);
        if (t >= thr[k]) {
          j = e;
          continue;
        }
        size_t gain = 0;
        for (double v : threats[k]) gain += v >= t && v < thr[k];
        const double weight = k < priority.size() ? priority[k] : 1.0;
        const double ratio =
            weight * static_cast<double>(gain) / threats[k].size() / std::max<size_t>(cost, 1) +
            (cost == 0 ? 1.0 : 0.0);  // free steps first
        if (gain > 0 && ratio > best_ratio) best_ratio = ratio, best_k = k, best_j = e;
        j = e;
      }
    }
    if (best_k == nc) break;
    for (size_t j = pos[best_k]; j < best_j; ++j)
      if (!alarmed[order[best_k][j]]) alarmed[order[best_k][j]] = 1, ++alarmed_count;
    pos[best_k] = best_j;
    thr[best_k] = threshold_at(best_k, best_j);
  }
  return thr;
}

std::vector<std::string> DistinctGoodsCategories(std::vector<std::string> main_goods) {
  std::sort(main_goods.begin(), main_goods.end());
  main_goods.erase(std::unique(main_goods.begin(), main_goods.end()), main_goods.end());
  if (!main_goods.empty() && main_goods.front().empty()) main_goods.erase(main_goods.begin());
  return main_goods;
}

namespace {

// The lowest threshold at which at most `rate` of the values (one per clean scan, -1 = no
// detection) reach it. 0 when even every detection stays within the rate.
double ThresholdForRate(std::vector<double> max_scores, double rate) {
  std::sort(max_scores.begin(), max_scores.end(), std::greater<>());
  const size_t allowed = static_cast<size_t>(std::floor(rate * max_scores.size() + 1e-9));
  if (allowed >= max_scores.size() || max_scores[allowed] < 0) return 0.0;
  return std::nextafter(max_scores[allowed], 2.0);
}

}  // namespace

DetectionEval EvaluateScans(const std::vector<EvalScan>& scans,
                            const std::vector<std::string>& threat_classes,
                            const DetectionEvalOptions& o) {
  DetectionEval ev;
  ev.options = o;
  ev.scans = static_cast<int64_t>(scans.size());
  const size_t nc = threat_classes.size();
  auto class_index = [&](const std::string& c) -> int {
    for (size_t i = 0; i < nc; ++i)
      if (threat_classes[i] == c) return static_cast<int>(i);
    return -1;
  };
  // Per truth threat: the best score of a same-class detection overlapping it enough.
  struct TruthHit {
    int cls;
    bool narcotics_200g;
    double best;
    bool weapon = false;      // a firearm, firearm part or knife
    double weapon_best = -1;  // the best score of a detection of any weapon class overlapping it
  };
  // The weapons row's classes, where the model has all three.
  const std::vector<int> weapon_classes = {class_index("firearm"), class_index("firearm_part"),
                                           class_index("knife")};
  const bool has_weapons =
      std::none_of(weapon_classes.begin(), weapon_classes.end(), [](int k) { return k < 0; });
  auto is_weapon = [&](const std::string& c) {
    return has_weapons && (c == "firearm" || c == "firearm_part" || c == "knife");
  };
  std::vector<TruthHit> hits;
  std::vector<double> clean_max;
  std::vector<std::vector<double>> clean_class_max(nc);  // per class, per clean scan
  int64_t clean_dets = 0;
  std::vector<int64_t> class_fa(nc, 0);
  // Average precision: (score, true positive) per class over all scans.
  std::vector<std::vector<std::pair<double, bool>>> ranked(nc);
  std::vector<int64_t> class_truths(nc, 0);
  for (const auto& s : scans) {
    ev.missing_results += !s.has_result;
    if (s.threats.empty()) {
      ++ev.clean_scans;
      double m = -1;
      for (const auto& d : s.detections) {
        m = std::max(m, d.score);
        if (d.score >= o.min_score) {
          ++clean_dets;
          int k = class_index(d.threat_class);
          if (k >= 0) ++class_fa[k];
        }
      }
      clean_max.push_back(m);
      for (size_t k = 0; k < nc; ++k) {
        double mk = -1;
        for (const auto& d : s.detections)
          if (d.threat_class == threat_classes[k]) mk = std::max(mk, d.score);
        clean_class_max[k].push_back(mk);
      }
    } else {
      ++ev.threat_scans;
    }
    for (const auto& t : s.threats) {
      TruthHit h{class_index(t.threat_class), false, -1};
      h.narcotics_200g =
          t.threat_class == "narcotics" && t.concealed && t.mass_kg >= o.narcotics_min_kg;
      h.weapon = is_weapon(t.threat_class);
      for (const auto& d : s.detections) {
        if (d.threat_class == t.threat_class && DetectionIou(d, t) >= o.min_iou)
          h.best = std::max(h.best, d.score);
        if (h.weapon && is_weapon(d.threat_class) && DetectionIou(d, t) >= o.min_iou)
          h.weapon_best = std::max(h.weapon_best, d.score);
      }
      if (h.cls >= 0) ++class_truths[h.cls];
      hits.push_back(h);
    }
    // Greedy matching by score for AP.
    for (size_t k = 0; k < nc; ++k) {
      std::vector<const Detection*> dets;
      for (const auto& d : s.detections)
        if (d.threat_class == threat_classes[k]) dets.push_back(&d);
      std::stable_sort(dets.begin(), dets.end(),
                       [](auto* a, auto* b) { return a->score > b->score; });
      std::vector<bool> used(s.threats.size(), false);
      for (const Detection* d : dets) {
        int best = -1;
        double best_iou = o.min_iou;
        for (size_t j = 0; j < s.threats.size(); ++j) {
          if (used[j] || s.threats[j].threat_class != threat_classes[k]) continue;
          double iou = DetectionIou(*d, s.threats[j]);
          if (iou >= best_iou) best_iou = iou, best = static_cast<int>(j);
        }
        if (best >= 0) used[best] = true;
        ranked[k].push_back({d->score, best >= 0});
      }
    }
  }
  ev.false_alarms_per_clean_scan =
      ev.clean_scans ? static_cast<double>(clean_dets) / ev.clean_scans : 0;
  int64_t alarmed = 0;
  for (double m : clean_max) alarmed += m >= o.min_score;
  ev.clean_alarmed = alarmed;
  ev.clean_alarm_rate = ev.clean_scans ? static_cast<double>(alarmed) / ev.clean_scans : 0;
  ev.alarm_rates = o.alarm_rates;
  for (double r : o.alarm_rates)
    ev.thresholds.push_back(clean_max.empty() ? 0.0 : ThresholdForRate(clean_max, r));

  // A row over the truth threats `member` selects, each found at `score(hit)`; `own_clean` (per
  // clean parcel, its best detection that counts for this row; null: none) sets the row's own
  // thresholds.
  auto make_row = [&](const std::string& name, const std::vector<double>* own_clean, auto&& member,
                      auto&& score) {
    ClassEval c;
    c.name = name;
    c.rate_at_alarm.assign(ev.thresholds.size(), 0.0);
    c.rate_at_class_alarm.assign(o.alarm_rates.size(), 0.0);
    std::vector<double> own(o.alarm_rates.size(), 0.0);
    for (size_t i = 0; i < own.size(); ++i)
      own[i] =
          !own_clean || own_clean->empty() ? 0.0 : ThresholdForRate(*own_clean, o.alarm_rates[i]);
    for (const auto& h : hits) {
      if (!member(h)) continue;
      const double best = score(h);
      ++c.threats;
      c.detected += best >= o.min_score;
      for (size_t i = 0; i < ev.thresholds.size(); ++i)
        c.rate_at_alarm[i] += best >= 0 && best >= ev.thresholds[i];
      for (size_t i = 0; i < own.size(); ++i)
        c.rate_at_class_alarm[i] += best >= 0 && best >= own[i];
    }
    if (c.threats) {
      c.rate = static_cast<double>(c.detected) / c.threats;
      for (auto& r : c.rate_at_alarm) r /= c.threats;
      for (auto& r : c.rate_at_class_alarm) r /= c.threats;
    }
    return c;
  };
  auto own_class_score = [](const TruthHit& h) { return h.best; };
  double ap_sum = 0;
  int ap_n = 0;
  for (size_t k = 0; k < nc; ++k) {
    ClassEval c = make_row(
        threat_classes[k], &clean_class_max[k],
        [k](const TruthHit& h) { return h.cls == static_cast<int>(k); }, own_class_score);
    c.false_alarms = class_fa[k];
    // All-point interpolated average precision.
    auto& r = ranked[k];
    std::stable_sort(r.begin(), r.end(), [](auto& a, auto& b) { return a.first > b.first; });
    if (class_truths[k] > 0) {
      std::vector<double> prec, rec;
      int64_t tp = 0, fp = 0;
      for (auto& [score, ok] : r) {
        ok ? ++tp : ++fp;
        prec.push_back(static_cast<double>(tp) / (tp + fp));
        rec.push_back(static_cast<double>(tp) / class_truths[k]);
      }
      for (size_t i = prec.size(); i-- > 1;) prec[i - 1] = std::max(prec[i - 1], prec[i]);
      double ap = 0, last_r = 0;
      for (size_t i = 0; i < prec.size(); ++i) {
        ap += (rec[i] - last_r) * prec[i];
        last_r = rec[i];
      }
      c.ap = ap;
      ap_sum += ap;
      ++ap_n;
    }
    ev.classes.push_back(std::move(c));
  }
  const int narcotics = class_index("narcotics");
  ev.classes.push_back(make_row(
      "narcotics_concealed_200g", narcotics >= 0 ? &clean_class_max[narcotics] : nullptr,
      [](const TruthHit& h) { return h.narcotics_200g; }, own_class_score));
  if (has_weapons) {
    std::vector<double> clean_weapon_max(clean_class_max[weapon_classes[0]].size(), -1.0);
    for (int k : weapon_classes)
      for (size_t i = 0; i < clean_weapon_max.size(); ++i)
        clean_weapon_max[i] = std::max(clean_weapon_max[i], clean_class_max[k][i]);
    ev.classes.push_back(make_row(
        "weapons_any_class", &clean_weapon_max, [](const TruthHit& h) { return h.weapon; },
        [](const TruthHit& h) { return h.weapon_best; }));
  }
  ev.map = ap_n ? ap_sum / ap_n : 0;

  // Manifest checks.
  ManifestEval& me = ev.manifest;
  std::vector<double> honest_scores, mis_scores, honest_free, mis_free;
  for (const auto& s : scans) {
    if (!s.has_declaration_truth || s.manifest_flagged < 0) continue;
    ev.has_manifest = true;
    const bool threat_free = s.threats.empty();
    switch (s.declaration_truth) {
      case DeclarationTruth::kHonest:
        ++me.honest;
        me.honest_flagged += s.manifest_flagged;
        honest_scores.push_back(s.manifest_score);
        if (threat_free) honest_free.push_back(s.manifest_score);
        break;
      case DeclarationTruth::kMisdeclared:
        ++me.misdeclared;
        me.misdeclared_flagged += s.manifest_flagged;
        mis_scores.push_back(s.manifest_score);
        if (threat_free) mis_free.push_back(s.manifest_score);
        break;
      case DeclarationTruth::kUndervalued:
        ++me.undervalued;
        me.undervalued_flagged += s.manifest_flagged;
        break;
    }
  }
  // Mis-declared parcels flagged at the score that flags `rate` of the honest ones.
  auto rate_at = [](const std::vector<double>& honest, const std::vector<double>& mis,
                    double rate) {
    const double t = honest.empty() ? 0.0 : ThresholdForRate(honest, rate);
    int64_t n = 0;
    for (double m : mis) n += m >= t;
    return mis.empty() ? 0.0 : static_cast<double>(n) / static_cast<double>(mis.size());
  };
  me.honest_threat_free = static_cast<int64_t>(honest_free.size());
  me.misdeclared_threat_free = static_cast<int64_t>(mis_free.size());
  for (double r : me.honest_rates) {
    me.misdeclared_rate_at.push_back(rate_at(honest_scores, mis_scores, r));
    me.misdeclared_rate_at_threat_free.push_back(rate_at(honest_free, mis_free, r));
  }
  return ev;
}

}  // namespace xray

namespace {

std::string Pct(double v) { return FormatFixed(100 * v, 1) + " %"; }

// [lo, hi] of the 95 % Wilson interval, as JSON.
nlohmann::json Ci95Json(int64_t k, int64_t n) {
  const auto [lo, hi] = xray::WilsonInterval95(k, n);
  return nlohmann::json::array({std::round(lo * 1e4) / 1e4, std::round(hi * 1e4) / 1e4});
}

// "(95 % CI 58-90 %)"
std::string Ci95Text(int64_t k, int64_t n) {
  const auto [lo, hi] = xray::WilsonInterval95(k, n);
  return "(95 % CI " + FormatFixed(100 * lo, 1) + "-" + FormatFixed(100 * hi, 1) + " %)";
}

}  // namespace

std::string DetectionEval::ToJson() const {
  json j;
  j["scans"] = scans;
  j["clean_scans"] = clean_scans;
  j["threat_scans"] = threat_scans;
  j["missing_results"] = missing_results;
  j["min_iou"] = options.min_iou;
  j["min_score"] = options.min_score;
  j["false_alarms_per_clean_scan"] = false_alarms_per_clean_scan;
  j["clean_alarm_rate"] = clean_alarm_rate;
  j["clean_alarmed"] = clean_alarmed;
  j["clean_alarm_rate_ci95"] = Ci95Json(clean_alarmed, clean_scans);
  j["map"] = map;
  json at = json::array();
  for (size_t i = 0; i < alarm_rates.size(); ++i)
    at.push_back({{"alarm_rate", alarm_rates[i]}, {"threshold", thresholds[i]}});
  j["operating_points"] = at;
  json cls = json::array();
  for (const auto& c : classes) {
    json r = {{"class", c.name},
              {"threats", c.threats},
              {"detected", c.detected},
              {"detection_rate", c.rate},
              {"false_alarms", c.false_alarms},
              {"ap", c.ap},
              {"detection_rate_ci95", Ci95Json(c.detected, c.threats)}};
    json ra = json::object();
    for (size_t i = 0; i < alarm_rates.size(); ++i)
      ra[FormatFixed(alarm_rates[i], 3)] = c.rate_at_alarm[i];
    r["detection_rate_at_alarm_rate"] = ra;
    json rc = json::object();
    for (size_t i = 0; i < alarm_rates.size() && i < c.rate_at_class_alarm.size(); ++i)
      rc[FormatFixed(alarm_rates[i], 3)] = c.rate_at_class_alarm[i];
    r["detection_rate_at_class_alarm_rate"] = rc;
    cls.push_back(r);
  }
  j["classes"] = cls;
  if (has_manifest) {
    const ManifestEval& m = manifest;
    json mj = {
        {"honest", m.honest},
        {"misdeclared", m.misdeclared},
        {"undervalued", m.undervalued},
        {"honest_flagged", m.honest_flagged},
        {"misdeclared_flagged", m.misdeclared_flagged},
        {"undervalued_flagged", m.undervalued_flagged},
        {"honest_flag_rate", m.honest ? static_cast<double>(m.honest_flagged) / m.honest : 0.0},
        {"misdeclared_flag_rate",
         m.misdeclared ? static_cast<double>(m.misdeclared_flagged) / m.misdeclared : 0.0},
        {"undervalued_flag_rate",
         m.undervalued ? static_cast<double>(m.undervalued_flagged) / m.undervalued : 0.0}};
    mj["honest_flag_rate_ci95"] = Ci95Json(m.honest_flagged, m.honest);
    mj["misdeclared_flag_rate_ci95"] = Ci95Json(m.misdeclared_flagged, m.misdeclared);
    auto by_honest_rate = [&m](const std::vector<double>& rates) {
      json r = json::object();
      for (size_t i = 0; i < m.honest_rates.size(); ++i)
        r[FormatFixed(m.honest_rates[i], 3)] = rates[i];
      return r;
    };
    mj["misdeclared_rate_at_honest_rate"] = by_honest_rate(m.misdeclared_rate_at);
    mj["threat_free"] = {
        {"honest", m.honest_threat_free},
        {"misdeclared", m.misdeclared_threat_free},
        {"misdeclared_rate_at_honest_rate", by_honest_rate(m.misdeclared_rate_at_threat_free)}};
    j["manifest"] = mj;
  }
  return j.dump();
}

std::string DetectionEval::ToTable() const {
  std::string s = "scans " + std::to_string(scans) + " (" + std::to_string(threat_scans) +
                  " with threats, " + std::to_string(clean_scans) + " clean" +
                  (missing_results ? ", " + std::to_string(missing_results) + " without results"
                                   : std::string()) +
                  "); a threat is found by a detection of its class with IoU >= " +
                  FormatFixed(options.min_iou, 2) + "\n";
  s += "at score >= " + FormatFixed(options.min_score, 2) + ": false alarms per clean scan " +
       FormatFixed(false_alarms_per_clean_scan, 3) + ", clean scans alarmed " +
       Pct(clean_alarm_rate) + " " + Ci95Text(clean_alarmed, clean_scans) + ", mAP " +
       FormatFixed(map, 3) + "\n";
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-26s %7s %9s %11s %7s %6s", "class", "threats", "detected",
                "95% CI", "FA", "AP");
  s += buf;
  for (double r : alarm_rates) {
    std::snprintf(buf, sizeof buf, " @%4.1f%%FA", 100 * r);
    s += buf;
  }
  s += "\n";
  for (const auto& c : classes) {
    const auto [lo, hi] = xray::WilsonInterval95(c.detected, c.threats);
    std::snprintf(buf, sizeof buf, "%-26s %7lld %8.1f%% %5.1f-%5.1f %7lld %6.3f", c.name.c_str(),
                  static_cast<long long>(c.threats), 100 * c.rate, 100 * lo, 100 * hi,
                  static_cast<long long>(c.false_alarms), c.ap);
    s += buf;
    for (double r : c.rate_at_alarm) {
      std::snprintf(buf, sizeof buf, " %8.1f%%", 100 * r);
      s += buf;
    }
    s += "\n";
  }
  for (const auto& c : classes)
    if (c.name == "weapons_any_class")
      s += "weapons_any_class: firearms, firearm parts and knives, each found by a detection of "
           "any of the three\n";
  s += "each class against its own alarms (clean parcels with a detection of that class):\n";
  for (const auto& c : classes) {
    std::snprintf(buf, sizeof buf, "%-26s", c.name.c_str());
    s += buf;
    for (size_t i = 0; i < alarm_rates.size() && i < c.rate_at_class_alarm.size(); ++i) {
      std::snprintf(buf, sizeof buf, " @%.1f%% %5.1f%%", 100 * alarm_rates[i],
                    100 * c.rate_at_class_alarm[i]);
      s += buf;
    }
    s += "\n";
  }
  s += "thresholds for the alarm rates:";
  for (size_t i = 0; i < alarm_rates.size(); ++i)
    s += " " + FormatFixed(100 * alarm_rates[i], 1) + "% -> " + FormatFixed(thresholds[i], 3);
  s += "\n";
  if (has_manifest) {
    const ManifestEval& m = manifest;
    auto rate = [](int64_t a, int64_t b) { return b ? static_cast<double>(a) / b : 0.0; };
    s += "manifest: misdeclared flagged " + Pct(rate(m.misdeclared_flagged, m.misdeclared)) + " (" +
         std::to_string(m.misdeclared_flagged) + "/" + std::to_string(m.misdeclared) + ") " +
         Ci95Text(m.misdeclared_flagged, m.misdeclared) + ", honest flagged " +
         Pct(rate(m.honest_flagged, m.honest)) + " (" + std::to_string(m.honest_flagged) + "/" +
         std::to_string(m.honest) + "), undervalued flagged " +
         Pct(rate(m.undervalued_flagged, m.undervalued)) + "\n";
    auto at_honest_rates = [&m](const std::vector<double>& rates) {
      std::string t = "misdeclared flagged at honest flag rate";
      for (size_t i = 0; i < m.honest_rates.size(); ++i)
        t += " " + FormatFixed(100 * m.honest_rates[i], 0) + "% -> " + Pct(rates[i]);
      return t + "\n";
    };
    s += "manifest: " + at_honest_rates(m.misdeclared_rate_at);
    s += "manifest, parcels without a threat (" + std::to_string(m.honest_threat_free) +
         " honest, " + std::to_string(m.misdeclared_threat_free) +
         " misdeclared): " + at_honest_rates(m.misdeclared_rate_at_threat_free);
  }
  return s;
}

namespace {

// The scans of one directory (truth/, declarations_truth.csv) with the result lines of one file,
// appended to *scans.
Status LoadEvalScans(const std::string& data_dir, const std::string& results_path,
                     std::vector<xray::EvalScan>* scans) {
  const fs::path truth_dir = fs::path(data_dir) / "truth";
  std::error_code ec;
  if (!fs::is_directory(truth_dir, ec))
    return Status::NotFound(truth_dir.string() + ": no truth directory");
  CS_ASSIGN_OR_RETURN(std::string results, ReadFile(results_path));
  // Results by scan id.
  struct Parsed {
    std::vector<Detection> detections;
    int flagged = -1;
    double manifest_score = 0;
  };
  std::unordered_map<std::string, Parsed> by_id;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < results.size()) {
    size_t end = results.find('\n', pos);
    if (end == std::string::npos) end = results.size();
    std::string_view line(results.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    json j = json::parse(line, nullptr, false);
    const std::string where = results_path + ":" + std::to_string(line_no);
    if (j.is_discarded() || !j.is_object() || !j.contains("scan_id") || !j["scan_id"].is_string())
      return Status::InvalidArgument(where + ": not a JSON object with a scan_id");
    Parsed p;
    if (j.contains("detections")) {
      if (!j["detections"].is_array())
        return Status::InvalidArgument(where + ": 'detections' is not an array");
      for (const auto& d : j["detections"]) {
        if (!d.is_object() || !d.contains("class") || !d.contains("score") || !d.contains("box") ||
            !d["box"].is_array() || d["box"].size() != 4 || !d["score"].is_number() ||
            !d["class"].is_string())
          return Status::InvalidArgument(where +
                                         ": a detection lacks class, score or a 4-number box");
        Detection det;
        det.threat_class = d["class"].get<std::string>();
        det.score = d["score"].get<double>();
        try {
          det.x0 = d["box"][0].get<int>(), det.y0 = d["box"][1].get<int>();
          det.x1 = d["box"][2].get<int>(), det.y1 = d["box"][3].get<int>();
        } catch (const std::exception&) {
          return Status::InvalidArgument(where + ": a detection box is not 4 whole numbers");
        }
        p.detections.push_back(std::move(det));
      }
    }
    if (j.contains("manifest") && j["manifest"].is_object()) {
      p.flagged = j["manifest"].value("consistent", true) ? 0 : 1;
      p.manifest_score = j["manifest"].value("score", 0.0);
    }
    by_id[j["scan_id"].get<std::string>()] = std::move(p);
  }
  // Declaration truth by scan id (optional).
  std::unordered_map<std::string, DeclarationTruth> decl_truth;
  const std::string dt_path = (fs::path(data_dir) / "declarations_truth.csv").string();
  if (FileExists(dt_path)) {
    CS_ASSIGN_OR_RETURN(std::string dt, ReadFile(dt_path));
    CsvReader reader(dt);
    CsvRecord rec;
    int scan_col = -1, truth_col = -1;
    bool header = true;
    while (reader.Next(&rec)) {
      if (header) {
        for (size_t i = 0; i < rec.fields.size(); ++i) {
          if (rec.fields[i] == "scan_id") scan_col = static_cast<int>(i);
          if (rec.fields[i] == "truth") truth_col = static_cast<int>(i);
        }
        header = false;
        if (scan_col < 0 || truth_col < 0)
          return Status::InvalidArgument(dt_path + ": needs columns scan_id and truth");
        continue;
      }
      if (!rec.error.empty() ||
          rec.fields.size() <= static_cast<size_t>(std::max(scan_col, truth_col)))
        continue;
      std::string_view t = rec.fields[truth_col];
      DeclarationTruth v = t == "misdeclared"   ? DeclarationTruth::kMisdeclared
                           : t == "undervalued" ? DeclarationTruth::kUndervalued
                                                : DeclarationTruth::kHonest;
      decl_truth[std::string(rec.fields[scan_col])] = v;
    }
  }
  std::vector<std::string> truth_files;
  for (const auto& e : fs::directory_iterator(truth_dir, ec))
    if (e.path().extension() == ".json") truth_files.push_back(e.path().string());
  if (ec) return Status::IoError(truth_dir.string() + ": " + ec.message());
  std::sort(truth_files.begin(), truth_files.end());
  if (truth_files.empty()) return Status::NotFound(truth_dir.string() + ": no truth files");
  for (const auto& f : truth_files) {
    CS_ASSIGN_OR_RETURN(std::string text, ReadFile(f));
    CS_ASSIGN_OR_RETURN(ScanTruth truth, ScanTruth::FromJson(text, f));
    xray::EvalScan s;
    s.scan_id = truth.scan_id;
    for (auto& o : truth.objects)
      if (o.threat) s.threats.push_back(std::move(o));
    auto it = by_id.find(truth.scan_id);
    if (it != by_id.end()) {
      s.has_result = true;
      s.detections = std::move(it->second.detections);
      s.manifest_flagged = it->second.flagged;
      s.manifest_score = it->second.manifest_score;
    }
    auto dt = decl_truth.find(truth.scan_id);
    if (dt != decl_truth.end()) {
      s.has_declaration_truth = true;
      s.declaration_truth = dt->second;
    }
    scans->push_back(std::move(s));
  }
  if (by_id.empty()) return Status::InvalidArgument(results_path + ": no result lines");
  return Status::Ok();
}

}  // namespace

Result<DetectionEval> EvaluateDetections(const std::string& data_dir,
                                         const std::string& results_path,
                                         const DetectionEvalOptions& options) {
  return EvaluateDetections({{data_dir, results_path}}, options);
}

Result<DetectionEval> EvaluateDetections(
    const std::vector<std::pair<std::string, std::string>>& sets,
    const DetectionEvalOptions& options) {
  if (sets.empty()) return Status::InvalidArgument("no scan directory to evaluate");
  std::vector<xray::EvalScan> scans;
  for (const auto& [dir, results] : sets) CS_RETURN_IF_ERROR(LoadEvalScans(dir, results, &scans));
  return xray::EvaluateScans(scans, ThreatClasses(), options);
}

}  // namespace clearsight
