#!/usr/bin/env bash
# Which indsim scanner property makes the base detector alarm on clean parcels: N clean
# dual-layer-160 parcels per variant (each calibrated from its own wedges), analysed with the
# model, clean parcels alarmed at score >= 0.5 per variant and class. Builds nothing.
#
#   tools/indsim/ablate-clean-alarms.sh [BUILD_DIR] [OUT_DIR] [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${1:-build/release}
O=${2:-build/indsim-ablation}
N=${3:-100}
M=models/detector.pt
mkdir -p "$O"
run() {
  local name=$1
  shift
  local d=$O/$name
  rm -rf "$d"
  mkdir -p "$d"
  "$B/indsim" --scanner dual-layer-160 --seed 11 --wedges-only "$@" --out "$d/w" 2> /dev/null
  "$B/clearsight" xray calibrate --wedges "$d/w" --out "$d/calib.json" > "$d/calibrate.txt"
  "$B/indsim" --scanner dual-layer-160 --seed 41 --scans "$N" --threat-share 0 \
    --misdeclared-share 0 --threads 2 "$@" --out "$d/s" 2> /dev/null
  "$B/clearsight" xray analyze --model "$M" --calibration "$d/calib.json" --in "$d/s" \
    --out "$d/r.jsonl" --min-score 0.5 --threads 2 2> /dev/null
  python3 - "$d/r.jsonl" "$name" << 'PY'
import collections, json, sys
n = alarmed = 0
c = collections.Counter()
for line in open(sys.argv[1]):
    j = json.loads(line)
    n += 1
    ds = [d for d in j.get("detections", []) if d["score"] >= 0.5]
    alarmed += bool(ds)
    for k in {d["class"] for d in ds}:
        c[k] += 1
print("%-24s clean alarmed %5.1f %% (%d of %d)  by class: %s" % (
    sys.argv[2], 100 * alarmed / n, alarmed, n, dict(c)))
PY
}
run preset
run no-stripes --gain-stripe-sd 0
run dose-4x --dose-scale 4
run pixel-0.7 --pixel-mm 0.7
run pixel-0.7-no-stripes --pixel-mm 0.7 --gain-stripe-sd 0
