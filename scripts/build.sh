#!/usr/bin/env bash
# Configures and builds a CMake preset (default: release) with both cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${1:-release}
cmake --preset "$PRESET" >/dev/null
cmake --build --preset "$PRESET" -j "$(nproc)"
