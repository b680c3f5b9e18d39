// indsim's material check: reads its own truth and `clearsight xray analyze` output (the JSON
// lines docs/scan-format.md describes) and scores the material class of isolated goods.
#pragma once

#include <string>

namespace indsim {

struct ScoreOptions {
  std::string data_dir, results;
  double min_mass_kg = 0.1, min_purity = 0.85, min_iou = 0.2;
  bool json = false;
};

// Prints the score; returns 0, or 1 with a message on stderr when a file cannot be read.
int ScoreMaterials(const ScoreOptions& o);

}  // namespace indsim
