#!/usr/bin/env bash
# The test command of README.md: install, check the C++ formatting, build, run the whole suite
# (all ctest labels).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-format.sh
scripts/build.sh release
cd build/release
ctest --output-on-failure -j 2 --timeout 900 "$@"
