#include "clearsight/selection.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace clearsight {

double ControlDraw(uint64_t seed, std::string_view id) {
  uint64_t h = 0xcbf29ce484222325ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
  for (unsigned char c : id) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
}

namespace {
std::string_view Lane(const Declaration& d, const DeclarationBatch& batch, const std::string& field, int extra) {
  if (field.empty()) return {};
  if (field == "office_id") return d.office_id;
  if (field == "mode_of_transport") return d.mode_of_transport;
  if (field == "courier_id") return d.courier_id;
  return batch.Extra(d, extra);
}
}  // namespace

std::vector<Selection> SelectChannels(const DeclarationBatch& batch, const std::vector<float>& scores,
                                      const SelectionOptions& o) {
  std::vector<Selection> out(batch.rows.size());
  int extra = batch.ExtraIndex(o.lane_field);
  std::map<std::pair<int32_t, std::string_view>, std::vector<size_t>> groups;
  for (size_t i = 0; i < batch.rows.size(); ++i)
    groups[{batch.rows[i].date, Lane(batch.rows[i], batch, o.lane_field, extra)}].push_back(i);
  for (auto& [key, rows] : groups) {
    const size_t n = rows.size();
    // Shares of small lanes are fractions of a declaration: round them with a seeded dither per
    // lane and day, so budgets and the control sample are right on average instead of every
    // three-declaration lane getting a whole inspection (and the control sample all of it).
    std::string lane_day = std::to_string(key.first) + "|" + std::string(key.second);
    double u1 = ControlDraw(o.seed, lane_day);
    double u2 = ControlDraw(o.seed + 1, lane_day);
    double exact = o.red_count >= 0 ? static_cast<double>(o.red_count) : o.red_share * n;
    size_t budget = std::min(n, static_cast<size_t>(std::floor(exact + (o.red_count >= 0 ? 0 : u1))));
    size_t control = std::min(budget, static_cast<size_t>(std::floor(o.control_share * budget + u2)));
    size_t by_score = budget - control;
    size_t yellow = std::min(n - budget, static_cast<size_t>(std::floor(o.yellow_share * n + u2)));
    std::stable_sort(rows.begin(), rows.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    for (size_t k = 0; k < by_score; ++k) out[rows[k]].channel = Channel::kRed;
    // The control draw: lowest seeded draws among the rows not already red.
    std::vector<std::pair<double, size_t>> rest;
    for (size_t k = by_score; k < n; ++k)
      rest.emplace_back(ControlDraw(o.seed, batch.rows[rows[k]].declaration_id), rows[k]);
    std::sort(rest.begin(), rest.end());
    for (size_t k = 0; k < control && k < rest.size(); ++k) {
      out[rest[k].second].channel = Channel::kRed;
      out[rest[k].second].control = true;
    }
    size_t y = 0;
    for (size_t k = by_score; k < n && y < yellow; ++k) {
      if (out[rows[k]].channel == Channel::kGreen) {
        out[rows[k]].channel = Channel::kYellow;
        ++y;
      }
    }
  }
  return out;
}

}  // namespace clearsight
