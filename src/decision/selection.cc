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

std::string_view ControlKey(const Declaration& d) {
  return d.consignment_id.empty() ? std::string_view(d.declaration_id)
                                  : std::string_view(d.consignment_id);
}

ControlRule ControlRuleFor(double control_share, double red_share, int64_t red_count,
                           double volume) {
  ControlRule r;
  if (red_count >= 0) {
    r.cap = std::ceil(control_share * static_cast<double>(red_count) - 1e-9);
    r.probability = volume > 0 ? r.cap / volume : 0;
  } else {
    r.probability = control_share * red_share;
  }
  return r;
}

namespace {
std::string_view Lane(const Declaration& d, const DeclarationBatch& batch, const std::string& field,
                      int extra) {
  if (field.empty()) return {};
  if (field == "office_id") return d.office_id;
  if (field == "mode_of_transport") return d.mode_of_transport;
  if (field == "courier_id") return d.courier_id;
  return batch.Extra(d, extra);
}
}  // namespace

std::vector<Selection> SelectChannels(const DeclarationBatch& batch,
                                      const std::vector<float>& scores, const SelectionOptions& o) {
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
    size_t budget =
        std::min(n, static_cast<size_t>(std::floor(exact + (o.red_count >= 0 ? 0 : u1))));
    size_t yellow = std::min(n - budget, static_cast<size_t>(std::floor(o.yellow_share * n + u2)));
    // The control draw, as OnlineSelector makes it: every row whose seeded draw falls below the
    // control probability, whatever its score (at most the control part of a count budget).
    const ControlRule rule =
        ControlRuleFor(o.control_share, o.red_share, o.red_count, static_cast<double>(n));
    std::vector<std::pair<double, size_t>> drawn;
    for (size_t i : rows) {
      const double u = ControlDraw(o.seed, ControlKey(batch.rows[i]));
      if (u < rule.probability) drawn.emplace_back(u, i);
    }
    std::sort(drawn.begin(), drawn.end());
    if (drawn.size() > rule.cap) drawn.resize(static_cast<size_t>(rule.cap));
    for (const auto& [u, i] : drawn) {
      out[i].channel = Channel::kRed;
      out[i].control = true;
    }
    // The rest of the red budget by score.
    size_t by_score = budget > drawn.size() ? budget - drawn.size() : 0;
    std::stable_sort(rows.begin(), rows.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    for (size_t k = 0; k < n && by_score > 0; ++k) {
      if (out[rows[k]].control) continue;
      out[rows[k]].channel = Channel::kRed;
      --by_score;
    }
    size_t y = 0;
    for (size_t k = 0; k < n && y < yellow; ++k) {
      if (out[rows[k]].channel == Channel::kGreen) {
        out[rows[k]].channel = Channel::kYellow;
        ++y;
      }
    }
  }
  return out;
}

}  // namespace clearsight
