// The 2-down/1-up staircase on threat size and clutter (docs/training.md, Staircase).
#include <algorithm>
#include <cmath>

#include "clearsight/training.h"

namespace clearsight {

int StaircaseLevel(const std::vector<bool>& hits, const StaircaseOptions& options) {
  const int top = std::max(0, options.levels - 1);
  int level = 0, run = 0;
  for (bool hit : hits) {
    if (hit) {
      if (++run >= options.down_after) {
        level = std::min(top, level + 1);
        run = 0;
      }
    } else {
      level = std::max(0, level - 1);
      run = 0;
    }
  }
  return level;
}

TrainingDifficulty DifficultyAt(int level, const TrainingSettings& s,
                                const StaircaseOptions& options) {
  const int top = std::max(0, options.levels - 1);
  level = std::clamp(level, 0, top);
  // Odd steps shrink the threat, even steps add clutter: each dimension has half the levels.
  const int size_steps = (top + 1) / 2, clutter_steps = top / 2;
  const int size_at = (level + 1) / 2, clutter_at = level / 2;
  TrainingDifficulty d;
  const double fs = size_steps ? static_cast<double>(size_at) / size_steps : 0;
  const double fc = clutter_steps ? static_cast<double>(clutter_at) / clutter_steps : 0;
  d.size_scale = s.size_max * std::pow(s.size_min / s.size_max, fs);
  d.clutter = s.clutter_min + (s.clutter_max - s.clutter_min) * fc;
  return d;
}

}  // namespace clearsight
