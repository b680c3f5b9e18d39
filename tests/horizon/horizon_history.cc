#include "horizon/horizon_history.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <unordered_map>

#include "clearsight/declarations.h"
#include "clearsight/fusion.h"
#include "clearsight/text.h"

namespace clearsight::testing {

namespace {

// Shares of scans with each finding class before any route's own factor (0.5..1.5 per route).
const std::vector<std::pair<std::string, double>>& FindingRates() {
  static const std::vector<std::pair<std::string, double>> rates = {
      {"impenetrable", 0.04},   {"unexpected_metal", 0.03},  {"unexpected_organic", 0.02},
      {"mass_mismatch", 0.06},  {"manifest_mismatch", 0.05}, {"threat:knife", 0.01},
      {"threat:firearm", 0.003}};
  return rates;
}

}  // namespace

bool HoldsPlanted(const SeriesKey& signal, const SeriesKey& planted) {
  for (const auto& [k, v] : signal) {
    bool named = false;
    for (const auto& [pk, pv] : planted)
      if (pk == k) named = k == "hs_code" ? pv.rfind(v, 0) == 0 : pv == v;
    if (!named) return false;
  }
  return true;
}

SeriesKey KeyOf(const FindingPlant& plant) {
  return {
      {"origin_country", plant.origin}, {"office_id", plant.office}, {"finding", plant.finding}};
}

int32_t Day(const char* date) {
  int32_t d = 0;
  ParseDate(date, &d);
  return d;
}

History GenerateHistory(uint64_t seed, const HistoryOptions& options, int32_t start, int32_t since,
                        int days) {
  // The declarations draw from `rng` alone, so that the scans and the seasons of their own
  // (drawn from their own generators) leave the declarations of a seed as they were.
  std::mt19937_64 rng(seed), scan_rng(seed * 1000003 + 17), season_rng(seed * 7919 + 5);
  History h;
  std::string& csv = h.csv;
  csv =
      "declaration_id,date,importer_id,hs_code,origin_country,net_mass_kg,declared_value,office_"
      "id,inspected,fraud\n";
  struct Series {
    std::string hs, origin, office;
    double per_day, price;  // declarations a day, unit price a kg
    double own_phase = 0;   // of its own season, when it has one
    bool own_season = false;
  };
  std::vector<Series> series;
  const char* hs[] = {"390110", "610910", "620342", "640399", "851713",
                      "847130", "950300", "940540", "711319", "090111"};
  const char* origins[] = {"CN", "IN", "TR", "VN"};
  for (const char* code : hs)
    for (const char* o : origins)
      series.push_back({code, o, "OFF" + std::to_string(1 + rng() % 3),
                        std::uniform_real_distribution<double>(0.3, 3)(rng),
                        std::exp(std::uniform_real_distribution<double>(1, 5)(rng))});
  // The smaller planted shift (+60 %) sits on a busy series (4 a day, some 300 in the recent
  // quarter before the shift): on a series of 2 a week no test can tell +60 % from noise within
  // a quarter, and at 2 a day one seed in three falls short (its realised shift was +28 %).
  series[14].per_day = 4;
  // Seasons of their own on every other series, at any phase.
  constexpr size_t kSeasonalPlanted = 22;  // 847130 from TR: +80 % on top of its own season
  if (options.own_season > 0) {
    for (size_t i = 0; i < series.size(); i += 2) {
      series[i].own_season = true;
      series[i].own_phase = std::uniform_real_distribution<double>(0, 2 * M_PI)(season_rng);
    }
    if (options.plant_seasonal) {
      // Its own season peaks in mid-November, inside the recent window: the hard case, where
      // the season alone would look like a rise against a flat baseline.
      Series& s = series[kSeasonalPlanted];
      s.per_day = 2;
      s.own_phase = M_PI / 2 - 2 * M_PI * (Day("2025-11-15") - start) / 365.25;
      h.seasonal_planted = {
          {"hs_code", s.hs}, {"origin_country", s.origin}, {"office_id", s.office}};
    }
  }
  if (options.plant_findings) {
    // On the three busiest routes (some 150 to 300 scans in the recent quarter), the smallest
    // shift on the busiest: a shift of 8 points in a share of 5 % needs a couple of hundred scans
    // to stand out of the noise of a hundred series tested.
    std::map<std::pair<std::string, std::string>, double> volume;
    for (const Series& s : series) volume[{s.origin, s.office}] += s.per_day;
    std::vector<std::pair<double, std::pair<std::string, std::string>>> busiest;
    for (const auto& [route, per_day] : volume) busiest.push_back({per_day, route});
    std::sort(busiest.rbegin(), busiest.rend());
    auto plant = [&](size_t i, const char* finding, double before, double after) {
      h.finding_plants.push_back(
          {busiest[i].second.first, busiest[i].second.second, finding, before, after});
    };
    plant(0, "manifest_mismatch", 0.05, 0.13);
    plant(1, "unexpected_organic", 0.02, 0.10);
    plant(2, "threat:firearm", 0.003, 0.05);
  }
  std::map<std::string, double> route_factor;  // origin|office|finding -> factor
  auto scan_findings = [&](int32_t day, const Series& s) {
    std::vector<std::string> found;
    for (const auto& [finding, base] : FindingRates()) {
      double rate = base;
      bool planted = false;
      for (const FindingPlant& p : h.finding_plants)
        if (p.origin == s.origin && p.office == s.office && p.finding == finding) {
          planted = true;
          rate = day >= since ? p.after : p.before;
        }
      if (!planted) {
        auto [it, added] = route_factor.try_emplace(s.origin + "|" + s.office + "|" + finding, 1.0);
        if (added) it->second = std::uniform_real_distribution<double>(0.5, 1.5)(scan_rng);
        rate *= it->second;
      }
      if (std::uniform_real_distribution<double>(0, 1)(scan_rng) < rate) found.push_back(finding);
    }
    return found;
  };
  int64_t n = 0;
  auto emit = [&](int32_t day, const Series& s, const std::string& importer, double price_factor,
                  double hit_rate) {
    const double kg = std::exp(std::normal_distribution<double>(3, 1)(rng));
    const double value =
        kg * s.price * price_factor * std::exp(std::normal_distribution<double>(0, 0.25)(rng));
    const bool inspected = std::uniform_real_distribution<double>(0, 1)(rng) < 0.2;
    const bool fraud = inspected && std::uniform_real_distribution<double>(0, 1)(rng) < hit_rate;
    char line[256];
    const std::string id = "D" + std::to_string(++n);
    std::snprintf(line, sizeof line, "%s,%s,%s,%s,%s,%.1f,%.2f,%s,%d,%d\n", id.c_str(),
                  FormatDate(day).c_str(), importer.c_str(), s.hs.c_str(), s.origin.c_str(), kg,
                  value, s.office.c_str(), inspected ? 1 : 0, fraud ? 1 : 0);
    csv += line;
    // A third of the consignments are scanned.
    if (options.scans && std::uniform_real_distribution<double>(0, 1)(scan_rng) < 0.35) {
      h.scans.push_back({day, s.origin, s.office, scan_findings(day, s)});
      h.scan_declaration.push_back(id);
    }
  };
  for (int32_t day = start; day < start + days; ++day) {
    const double season = 1 + 0.3 * std::sin(2 * M_PI * (day - start) / 365.25);
    const bool after = options.plant && day >= since;
    for (size_t i = 0; i < series.size(); ++i) {
      const Series& s = series[i];
      double rate = s.per_day * season;
      if (s.own_season)
        rate *= 1 + options.own_season * std::sin(2 * M_PI * (day - start) / 365.25 + s.own_phase);
      if (after && i == 5) rate *= 2.0;   // volume: 610910 from IN doubles
      if (after && i == 14) rate *= 1.6;  // a smaller one: 640399 from TR, +60 %
      if (options.plant_seasonal && i == kSeasonalPlanted && day >= since) rate *= 1.8;
      const double price = after && i == 16 ? 0.6 : 1.0;  // 851713 from CN, -40 %
      const double hit = after && s.hs == "640399" && s.origin == "VN" ? 0.45 : 0.08;
      const int k = std::poisson_distribution<int>(rate)(rng);
      for (int j = 0; j < k; ++j) emit(day, s, "I" + std::to_string(rng() % 400), price, hit);
    }
    if (after) {
      // A new route: lamps from an origin never seen, and a new importer growing fast.
      static const Series lk{"940510", "LK", "OFF1", 0, 20};
      for (int j = std::poisson_distribution<int>(0.4)(rng); j > 0; --j)
        emit(day, lk, "I" + std::to_string(rng() % 400), 1, 0.08);
      const double growth = 0.1 + 0.05 * (day - since);
      for (int j = std::poisson_distribution<int>(growth)(rng); j > 0; --j) {
        const size_t i = rng() % series.size();
        emit(day, series[i], "INEW01", i == 16 ? 0.6 : 1.0, 0.08);
      }
    }
  }
  return h;
}

Status FillStore(Store& store, const History& history, int32_t from) {
  auto batch = ParseDeclarations(history.csv, "generated.csv", ReadOptions{}, nullptr);
  if (!batch.ok()) return batch.status();
  std::unordered_map<std::string, std::vector<size_t>> scans_of;
  for (size_t i = 0; i < history.scans.size(); ++i)
    scans_of[history.scan_declaration[i]].push_back(i);
  // A few thousand declarations a transaction.
  const size_t kPerWrite = 4000;
  for (size_t first = 0; first < batch->rows.size(); first += kPerWrite) {
    CS_RETURN_IF_ERROR(store.Write([&](StoreTxn& t) -> Status {
      for (size_t r = first; r < std::min(first + kPerWrite, batch->rows.size()); ++r) {
        const Declaration& d = batch->rows[r];
        if (d.date < from) continue;
        DeclarationRow row;
        row.declaration_id = row.consignment_id = d.declaration_id;
        row.office_id = d.office_id;
        row.date = d.date;
        Declaration clean = d;  // the stored declaration carries no outcome
        clean.fraud = clean.critical = clean.inspected = -1;
        row.json = DeclarationToJson(clean, batch->extra_columns);
        row.content_sha256 = Sha256Hex(row.json);
        row.received_ms = NowMs();
        CS_RETURN_IF_ERROR(t.InsertDeclaration(row));
        auto scans = scans_of.find(d.declaration_id);
        DecisionRow c;
        c.consignment_id = d.declaration_id;
        c.lane = d.office_id;
        c.date = d.date;
        c.channel = d.inspected == 1 ? "red" : "green";
        c.status = d.inspected == 1 ? "pending" : "released";
        c.version = 1;
        c.has_declaration = true;
        c.has_scan = scans != scans_of.end();
        c.reasons_json = "[]";
        c.created_ms = c.updated_ms = NowMs();
        CS_RETURN_IF_ERROR(t.PutDecision(c));
        if (scans != scans_of.end()) {
          for (size_t i : scans->second) {
            ScanRow s;
            s.scan_id = "S" + d.declaration_id + "-" + std::to_string(i);
            s.consignment_id = d.declaration_id;
            s.image_sha256 = std::string(64, '0');
            s.source_format = "tiff";
            s.meta_json = "{}";
            s.analysis_json = "{}";
            s.width = s.height = 64;
            s.received_ms = NowMs();
            CS_RETURN_IF_ERROR(t.InsertScan(s));
            std::vector<Finding> findings;
            for (const std::string& kind : history.scans[i].findings) {
              Finding f;
              f.kind = kind;
              f.source = kind.rfind("threat:", 0) == 0 ? "detector"
                         : kind == "manifest_mismatch" ? "manifest"
                                                       : "xray";
              f.score = 0.6;
              f.reason = kind;
              f.scan_id = s.scan_id;
              findings.push_back(std::move(f));
            }
            CS_RETURN_IF_ERROR(
                t.PutFindings(d.declaration_id, "scan:" + s.scan_id, FindingsToJson(findings)));
          }
        }
        if (d.inspected != 1) continue;
        OutcomeRow o;
        o.consignment_id = d.declaration_id;
        o.result = d.fraud == 1 ? "undervaluation" : "nothing";
        o.officer = "test";
        CS_RETURN_IF_ERROR(t.InsertOutcome(&o));
      }
      return Status::Ok();
    }));
  }
  return Status::Ok();
}

}  // namespace clearsight::testing
