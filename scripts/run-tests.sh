#!/usr/bin/env bash
# The test command of README.md: install, check the C++ formatting, build, run the whole suite
# (all ctest labels), then build the fuzz targets with clang and run each for a bounded time
# (docs/fuzzing.md; CLEARSIGHT_FUZZ_SECONDS per target, default 20; CLEARSIGHT_FUZZ_HTTP=OFF leaves
# out the HTTP target, which needs every stage; CLEARSIGHT_FUZZ=0 skips them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-format.sh
scripts/build.sh release
(cd build/release && ctest --output-on-failure -j 2 --timeout 900 "$@")
if [ "${CLEARSIGHT_FUZZ:-1}" != 0 ]; then
  cmake --preset fuzz -DCLEARSIGHT_FUZZ_SECONDS="${CLEARSIGHT_FUZZ_SECONDS:-20}" \
    -DCLEARSIGHT_FUZZ_HTTP="${CLEARSIGHT_FUZZ_HTTP:-ON}" >/dev/null
  cmake --build --preset fuzz -j "$(nproc)"
  ctest --preset fuzz -j 2
fi
