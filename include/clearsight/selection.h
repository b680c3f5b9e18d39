// Selection: turns risk scores into channels under a daily inspection budget per lane, with a
// guaranteed random control sample that keeps hit-rate estimates unbiased.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "clearsight/channel.h"
#include "clearsight/declarations.h"
#include "clearsight/status.h"

namespace clearsight {

// Uniform in [0, 1) from a seeded hash of the id: the control draw (batch and online selection)
// and the budget dither, reproducible and independent of arrival order.
double ControlDraw(uint64_t seed, std::string_view id);

// The id a declaration is drawn by: its consignment's (what the service decides about), or its own
// when it names none.
std::string_view ControlKey(const Declaration& d);

// Batch and online selection draw the control sample alike: a consignment is in it when its
// ControlDraw falls below `probability`, whatever its score, while fewer than `cap` of its lane-day
// are. Share budgets: control_share x red_share, no cap. Count budgets (red_count >= 0): the
// control part ceil(control_share x red_count) over the lane-day's volume (known in a batch,
// estimated online), capped at that part.
struct ControlRule {
  double probability = 0;
  double cap = 1e300;
};
ControlRule ControlRuleFor(double control_share, double red_share, int64_t red_count,
                           double volume);

struct SelectionOptions {
  // Physical inspections (red) per lane and day: a share of the lane's declarations, or a fixed
  // count when red_count >= 0.
  double red_share = 0.05;
  int64_t red_count = -1;
  // Document checks (yellow): the next share by score.
  double yellow_share = 0.05;
  // Part of the red budget given to a uniform random draw among the rest (the control sample).
  double control_share = 0.10;
  uint64_t seed = 1;
  // The field that names a lane (office_id by default; "" = one lane).
  std::string lane_field = "office_id";
};

struct Selection {
  Channel channel = Channel::kGreen;
  bool control = false;  // drawn at random for the control sample, not for its score
};

// One Selection per row. Rows are grouped by (date, lane); within a group the control sample is
// drawn first (ControlRuleFor, by a seeded hash of ControlKey: reproducible, independent of row
// order, the same draw the service makes), the top scores take the rest of the red budget, and
// the next rows by score go yellow. Fractional
// budgets (5 % of 7 declarations) are rounded up or down by a seeded draw per lane and day, so
// totals over many lanes and days match the shares.
std::vector<Selection> SelectChannels(const DeclarationBatch& batch,
                                      const std::vector<float>& scores,
                                      const SelectionOptions& options);

}  // namespace clearsight
