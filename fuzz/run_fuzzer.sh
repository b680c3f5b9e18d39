#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time, as ctest does (fuzz/CMakeLists.txt):
#   run_fuzzer.sh BINARY SEED_CORPUS WORK_DIR SECONDS [libFuzzer flags...]
# New inputs go to WORK_DIR/corpus (the seed corpus in tests/data stays as committed); a crash,
# leak, UB report, timeout or out-of-memory leaves its input in WORK_DIR/artifacts and fails.
set -euo pipefail
binary=$1 seeds=$2 work=$3 seconds=$4
shift 4
mkdir -p "$work/corpus" "$work/artifacts"
# The DICOS and HTTP targets keep files (a store, a scan pair) in a temporary folder: this run's own.
export TMPDIR="$work/tmp"
rm -rf "$TMPDIR"
mkdir -p "$TMPDIR"
# -timeout: one input taking longer is a hang; -rss_limit_mb: one using more is a memory bomb.
exec "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" "$seeds"
