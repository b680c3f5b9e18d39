#!/usr/bin/env bash
# Installs everything Clearsight needs on Debian 12, from Debian's archive (and npm for the web
# tests). Safe to run again: apt-get skips what is installed. Run as root (or with sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates clang-format
  clang libclang-rt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libsqlite3-dev sqlite3
  libxgboost-dev libxml2-dev
  libtiff-dev libpng-dev libdcmtk-dev dcmtk libxrl-dev
  libtorch-dev
  libmicrohttpd-dev libcpp-httplib-dev libssl-dev libsodium-dev
  libpqxx-dev postgresql
  libnats-dev nats-server
  wrk chromium
  libjs-chart.js
  nodejs npm
  python3
)
missing=()
for p in "${PACKAGES[@]}"; do
  # nodejs/npm may come from another source already (a newer Node): keep it.
  if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install-deps] installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "[install-deps] all Debian packages present"
fi
# The web tests' npm packages: playwright-core only, pinned by tests/e2e/package-lock.json. The
# browser is Debian's chromium (above); nothing downloads a browser of its own.
E2E_DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
if [ ! -f "$E2E_DIR/node_modules/playwright-core/package.json" ] ||
   [ "$E2E_DIR/package-lock.json" -nt "$E2E_DIR/node_modules/.package-lock.json" ]; then
  echo "[install-deps] npm ci --prefix tests/e2e"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$E2E_DIR" --no-audit --no-fund --ignore-scripts
fi
