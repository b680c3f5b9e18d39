#!/usr/bin/env bash
# The run command of README.md: install, build, and run the demo on the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
exec build/release/clearsight demo --data data/public --work demo --rules examples/kcs.rules "$@"
