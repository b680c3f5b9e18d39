// Shared by the X-ray benchmarks: the simulated scanner and its calibration (plus bench_util.h).
#pragma once

#include <memory>

#include "bench_util.h"
#include "clearsight/xray_calibrate.h"
#include "clearsight/xray_simulate.h"

namespace clearsight::bench {

// A simulator for `options` and a calibration fitted on its own step wedges.
struct SimulatedScanner {
  std::unique_ptr<Simulator> sim;
  Calibration calibration;
};
inline Result<SimulatedScanner> MakeSimulatedScanner(const SimulateOptions& options) {
  CS_ASSIGN_OR_RETURN(auto sim, Simulator::Create(options));
  CS_ASSIGN_OR_RETURN(auto wedges, sim->SimulateWedges());
  CS_ASSIGN_OR_RETURN(Calibration calibration, Calibration::Fit(wedges));
  return SimulatedScanner{std::move(sim), std::move(calibration)};
}

}  // namespace clearsight::bench
