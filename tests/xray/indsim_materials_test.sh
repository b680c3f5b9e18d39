#!/usr/bin/env bash
# Material classes on scans of indsim (tools/indsim), a simulator written apart from the project's:
# per scanner, step wedges -> xray calibrate, a few sparse parcels -> xray analyze (every file must
# pass the project's reader: analyze exits 0), then the material class of isolated goods against
# indsim's truth must be right for at least MIN_SHARE of the matched objects, pooled over the two
# scanners. Measured when the bar was set: 9 of 10 (dual-layer 160) and 11 of 11 (dual-kVp
# 100/160), 20 of 21 pooled (95 %); the bar is 0.80.
#
#   indsim_materials_test.sh INDSIM CLEARSIGHT WORKDIR MIN_SHARE
set -euo pipefail
indsim=$1 cli=$2 work=$3 min_share=$4
rm -rf "$work"
mkdir -p "$work"
status=0
total_matched=0
total_correct=0
for scanner in dual-layer-160 dual-kvp-100-160; do
  d=$work/$scanner
  "$indsim" --scanner "$scanner" --seed 3 --wedges-only --width 768 --height 576 --out "$d/wedges" 2>/dev/null
  "$cli" xray calibrate --wedges "$d/wedges" --out "$d/calib.json" > "$d/calibrate.txt"
  "$indsim" --scanner "$scanner" --seed 7 --scans 24 --sparse --threat-share 0.1 \
    --misdeclared-share 0.2 --width 768 --height 576 --threads 2 --out "$d/scans" 2>/dev/null
  "$cli" xray analyze --calibration "$d/calib.json" --in "$d/scans" --out "$d/results.jsonl" --threads 2 \
    || { echo "FAIL $scanner: xray analyze exited non-zero (a file did not pass the reader)"; status=1; }
  lines=$(wc -l < "$d/results.jsonl")
  [[ $lines -eq 24 ]] || { echo "FAIL $scanner: $lines result lines for 24 scans"; status=1; }
  "$indsim" score-materials --in "$d/scans" --results "$d/results.jsonl"
  json=$("$indsim" score-materials --in "$d/scans" --results "$d/results.jsonl" --json)
  acc=$(sed -E 's/.*"class_accuracy":([0-9.]+).*/\1/' <<< "$json")
  matched=$(sed -E 's/.*"matched":([0-9]+).*/\1/' <<< "$json")
  correct=$(sed -E 's/.*"correct":([0-9]+).*/\1/' <<< "$json")
  total_matched=$((total_matched + matched))
  total_correct=$((total_correct + correct))
  echo "$scanner: material class right on $correct of $matched matched isolated goods ($acc)"
done
# Pooled over both scanners (about 10 objects each: one scanner alone is too few for a bar).
if [[ $total_matched -lt 16 ]]; then
  echo "FAIL: only $total_matched isolated goods matched (need 16)"; status=1
elif awk -v c="$total_correct" -v m="$total_matched" -v b="$min_share" 'BEGIN { exit !(c < b * m) }'; then
  echo "FAIL: material class right on $total_correct of $total_matched (bar $min_share)"; status=1
else
  echo "ok: material class right on $total_correct of $total_matched matched isolated goods (bar $min_share)"
fi
exit $status
