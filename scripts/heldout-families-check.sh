#!/usr/bin/env bash
# Judges a detector on what it was never trained on: scanners drawn at random (`--scanner random`,
# seeds the training recipe never uses), the threat families the recipe holds out (one per
# class), and goods mixes led by the goods category it holds out (cosmetics), with the dense
# organic goods among them. Each scanner is calibrated from its own wedges. Builds nothing.
#
#   scripts/heldout-families-check.sh [--build DIR] [--out DIR] [--model PATH]
#                                     [--scanners N] [--scans N] [--threads T]
#                                     [--scanner-points auto|known|unseen]
#                                     [--adapt] [--site-scans N] [--pixel-mm MM]
#
# Defaults: build/release, build/heldout-families, models/detector.pt, 4 scanners (seeds 301-304)
# of 100 scans each (half with a threat), the points xray analyze chooses (auto: the model's
# unseen-scanner points on a scanner it does not know). Prints the pooled evaluation table and
# writes OUT/pooled.json and OUT/<seed>.json (xray eval --json per scanner).
# --adapt: each scanner also gets a site folder of --site-scans (300) scans of the same traffic
# (2 % threats, 5 % mis-declared), the model is set on it with `xray adapt` (its defaults), and
# the site models are judged on the same scans (OUT/adapted.json, OUT/<seed>.adapted.json).
# --pixel-mm: the random scanners at this pitch instead of their own (the training pitch is 0.70).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/release
out=build/heldout-families
model=models/detector.pt
scanners=4
scans=100
threads=2
points=auto
adapt=0
site_scans=300
pixel=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --scanners) scanners=$2; shift 2 ;;
    --scans) scans=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --scanner-points) points=$2; shift 2 ;;
    --adapt) adapt=1; shift ;;
    --site-scans) site_scans=$2; shift 2 ;;
    --pixel-mm) pixel=(--pixel-mm "$2"); shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "heldout-families-check: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

cli=$build/clearsight
for f in "$cli" "$model"; do
  [[ -e $f ]] || { echo "heldout-families-check: $f not found" >&2; exit 2; }
done
# The held-out families and goods mix; scripts/train-detector.sh trains without them.
held="powder_tins,smg_compact,receiver,karambit,tobacco_block,banknote_bricks,pouch_stack"
mix="cosmetics=3,food=1,clothing=1,electronics=1,books=1"
mkdir -p "$out"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
# judge NAME JSON [analyze flags...]: analyses $d/scans into $d/NAME.jsonl and writes xray eval's
# JSON to JSON.
judge() {
  local name=$1 json=$2
  shift 2
  "$cli" xray analyze "$@" --calibration "$d/calib.json" --in "$d/scans" \
    --declarations "$d/scans/declarations.csv" --min-score 0.05 --threads "$threads" \
    --out "$d/$name.jsonl" > /dev/null
  "$cli" xray eval --in "$d/scans" --results "$d/$name.jsonl" --json > "$json"
}

sets="" results="" adapted=""
for ((i = 0; i < scanners; ++i)); do
  s=$((301 + i))
  d=$out/$s
  scanner=(--scanner random --scanner-seed "$s" "${pixel[@]}")
  if [[ ! -f $d/calib.json ]]; then
    log "scanner $s: wedges and calibration"
    "$cli" xray wedges "${scanner[@]}" --out "$d/wedges" > /dev/null
    "$cli" xray calibrate --wedges "$d/wedges" --out "$d/calib.json" > "$d/calibrate.txt"
  fi
  if [[ ! -f $d/scans/declarations.csv ]]; then
    log "scanner $s: $scans scans"
    "$cli" xray simulate --count "$scans" --seed $((5000 + s)) "${scanner[@]}" --threat-rate 0.5 \
      --misdeclared-rate 0.1 --threat-families "$held" --goods-types extended --goods-mix "$mix" \
      --threads "$threads" --compress --out "$d/scans" 2> /dev/null
  fi
  log "scanner $s: analysis"
  judge results "$out/$s.json" --model "$model" --scanner-points "$points"
  sets+="${sets:+,}$d/scans" results+="${results:+,}$d/results.jsonl"
  if ((adapt)); then
    if [[ ! -f $d/site/declarations.csv ]]; then
      log "scanner $s: site folder ($site_scans scans)"
      "$cli" xray simulate --count "$site_scans" --seed $((7000 + s)) "${scanner[@]}" \
        --threat-rate 0.02 --misdeclared-rate 0.05 --threat-families "$held" \
        --goods-types extended --goods-mix "$mix" --threads "$threads" --compress \
        --out "$d/site" 2> /dev/null
    fi
    log "scanner $s: xray adapt"
    "$cli" xray adapt --model "$model" --calibration "$d/calib.json" --site "$d/site" \
      --threads "$threads" --out "$d/site.pt" > "$d/adapt.txt"
    judge adapted "$out/$s.adapted.json" --model "$d/site.pt"
    adapted+="${adapted:+,}$d/adapted.jsonl"
  fi
done
"$cli" xray eval --in "$sets" --results "$results" --json > "$out/pooled.json"
echo "== $model ($points points) on $scanners random scanners${pixel[1]:+ at ${pixel[1]} mm}, held-out families ($held), goods led by cosmetics"
"$cli" xray eval --in "$sets" --results "$results"
if ((adapt)); then
  "$cli" xray eval --in "$sets" --results "$adapted" --json > "$out/adapted.json"
  echo "== the same scans, each scanner's site model (xray adapt on $site_scans scans of its traffic)"
  "$cli" xray eval --in "$sets" --results "$adapted"
fi
echo "== per scanner: clean parcels alarmed; narcotics, firearms found at the points"
python3 - "$out" $(seq 301 $((300 + scanners))) <<'PY'
import json, os, sys
out = sys.argv[1]
for seed in sys.argv[2:]:
  for kind in ("", ".adapted"):
    path = "%s/%s%s.json" % (out, seed, kind)
    if not os.path.exists(path):
        continue
    e = json.load(open(path))
    found = {c["class"]: c for c in e["classes"]}
    def rate(name):
        c = found.get(name)
        return "-" if not c or c["threats"] == 0 else "%.0f %% of %d" % (100 * c["detection_rate"], c["threats"])
    print("scanner %s%s: %d of %d clean parcels alarmed (%.1f %%); narcotics %s, firearms %s; mAP %.3f" % (
        seed, " adapted" if kind else "", e["clean_alarmed"], e["clean_scans"], 100 * e["clean_alarm_rate"],
        rate("narcotics"), rate("firearm"), e["map"]))
PY
