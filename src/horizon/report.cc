// The horizon report as JSON (every signal with its numbers and series) and as one HTML page.
#include <cmath>
#include <nlohmann/json.hpp>

#include "clearsight/horizon.h"
#include "clearsight/text.h"

namespace clearsight {
namespace {

using json = nlohmann::json;

json SignalJson(const HorizonSignal& s) {
  json key = json::object();
  for (const auto& [k, v] : s.key) key[k] = v;
  json weeks = json::array(), values = json::array();
  for (const auto& [d, v] : s.series) {
    weeks.push_back(FormatDate(d));
    values.push_back(v);
  }
  json out = {{"kind", s.kind},
              {"key", key},
              {"rank", s.rank},
              {"score", s.score},
              {"effect", s.effect},
              {"p_value", s.p_value},
              {"q_value", s.q_value},
              {"first_date", FormatDate(s.first_date)},
              {"summary", s.summary},
              {"series", {{"unit", s.series_unit}, {"weeks", weeks}, {"values", values}}}};
  if (s.kind == "volume_shift") out["season_weight"] = s.season_weight;
  return out;
}

std::string Html(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

const char* KindTitle(const std::string& kind) {
  if (kind == "volume_shift") return "Volume shifts";
  if (kind == "new_route") return "New routes";
  if (kind == "new_importer") return "New importers";
  if (kind == "price_drop") return "Unit price drops";
  if (kind == "hit_rate_shift") return "Hit rate shifts";
  if (kind == "finding_shift") return "X-ray finding shifts";
  return "Signals";
}

}  // namespace

std::string HorizonToJson(const HorizonReport& r) {
  json signals = json::array();
  for (const auto& s : r.signals) signals.push_back(SignalJson(s));
  json tested = json::object();
  for (const auto& [k, n] : r.tested) tested[k] = n;
  json out = {{"since", FormatDate(r.since)},
              {"from", FormatDate(r.from)},
              {"to", FormatDate(r.to)},
              {"declarations", r.declarations},
              {"baseline_weeks", r.baseline_weeks},
              {"fdr", r.fdr},
              {"tested", tested},
              {"signals", signals}};
  if (r.scans) out["scans"] = *r.scans;
  return out.dump(1);
}

std::string HorizonToHtml(const HorizonReport& r, std::string_view chart_js) {
  constexpr int kPlotted = 5;  // the strongest signals of each kind get a chart
  std::string body;
  json charts = json::array();
  std::string kind;
  for (const auto& s : r.signals) {
    if (s.kind != kind) {
      if (!kind.empty()) body += "</tbody></table>\n";
      kind = s.kind;
      body += "<h2>" + std::string(KindTitle(kind)) + "</h2>\n<table><thead><tr><th>rank</th>" +
              "<th>series</th><th>effect</th><th>q</th><th>from</th><th>evidence</th></tr>" +
              "</thead><tbody>\n";
    }
    std::string key;
    for (const auto& [k, v] : s.key) key += (key.empty() ? "" : ", ") + k + " " + v;
    const std::string effect =
        s.kind == "new_route" || s.kind == "new_importer" ? FormatFixed(s.effect, 1) + " / week"
        : s.kind == "hit_rate_shift" ? FormatFixed(100 * s.effect, 1) + " points"
                                     : FormatFixed(100 * s.effect, 0) + " %";
    body += "<tr><td>" + std::to_string(s.rank) + "</td><td>" + Html(key) + "</td><td>" +
            Html(effect) + "</td><td>" +
            Html(s.q_value < 1e-4 ? std::string("< 0.0001") : FormatFixed(s.q_value, 4)) +
            "</td><td>" + FormatDate(s.first_date) + "</td><td>" + Html(s.summary) + "</td></tr>\n";
    if (s.rank <= kPlotted) {
      const std::string id = "c" + std::to_string(charts.size());
      body += "<tr class=chart><td></td><td colspan=5><canvas id=" + id +
              " height=70></canvas></td></tr>\n";
      json labels = json::array(), before = json::array(), after = json::array();
      for (const auto& [d, v] : s.series) {
        labels.push_back(FormatDate(d));
        // Two lines meeting at the change: the series before it and from it.
        before.push_back(d <= s.first_date ? json(v) : json(nullptr));
        after.push_back(d + 7 > s.first_date ? json(v) : json(nullptr));
      }
      charts.push_back({{"id", id},
                        {"unit", s.series_unit},
                        {"labels", labels},
                        {"before", before},
                        {"after", after}});
    }
  }
  if (!kind.empty()) body += "</tbody></table>\n";
  if (r.signals.empty()) body += "<p>No signal passed the false-discovery control.</p>\n";
  std::string tested;
  for (const auto& [k, n] : r.tested)
    tested += (tested.empty() ? "" : ", ") + std::to_string(n) + " " + k;
  // "</script" inside the embedded library or data would end the script element early.
  auto script_safe = [](std::string text) {
    for (size_t at = 0; (at = text.find("</", at)) != std::string::npos; at += 3)
      text.replace(at, 2, "<\\/");
    return text;
  };
  return "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n"
         "<title>Clearsight horizon scan since " +
         FormatDate(r.since) +
         "</title>\n<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}"
         "table{border-collapse:collapse;width:100%;margin-bottom:24px}"
         "th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top}"
         "tr.chart td{border-bottom:none}h2{margin-top:32px}</style>\n</head><body>\n"
         "<h1>Horizon scan</h1>\n<p>" +
         std::to_string(r.declarations) + " declarations from " + FormatDate(r.from) + " to " +
         FormatDate(r.to) + "; baseline before " + FormatDate(r.since) +
         ", recent window from it. Series tested: " + Html(tested) +
         ". Signals are kept at a false-discovery rate of " +
         FormatDouble(std::round(1e5 * r.fdr) / 1e3) + " % per kind and ranked by q-value; " +
         (r.scans ? std::to_string(*r.scans) + " X-ray scans read for the finding shifts; "
                  : std::string("no X-ray findings in the input, so no finding shifts; ")) +
         "methods in docs/horizon.md.</p>\n" + body + "<script>\n" +
         script_safe(std::string(chart_js)) + "\n</script>\n<script>\n" +
         "const charts = " + script_safe(charts.dump()) + ";\n" +
         "for (const c of charts) {\n"
         "  new Chart(document.getElementById(c.id), {type: 'line', data: {labels: c.labels,\n"
         "    datasets: [{label: 'before', data: c.before, borderColor: '#888', pointRadius: 0},\n"
         "               {label: 'from the change', data: c.after, borderColor: '#d62728',\n"
         "                pointRadius: 0}]},\n"
         "    options: {animation: false, spanGaps: true, plugins: {legend: {display: true}},\n"
         "      scales: {y: {beginAtZero: true, title: {display: true, text: c.unit}}}}});\n"
         "}\n</script>\n</body></html>\n";
}

}  // namespace clearsight
