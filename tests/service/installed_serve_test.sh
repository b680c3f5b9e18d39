#!/usr/bin/env bash
# Installs the build into a temporary prefix, starts the installed `clearsight serve` with no --web
# and checks that it serves the workstation from <prefix>/share/clearsight/web. Usage:
#   installed_serve_test.sh BUILD_DIR
set -euo pipefail
build=$1
prefix=$(mktemp -d /tmp/cs_install_XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$prefix"' EXIT
pid=
cmake --install "$build" --prefix "$prefix" > "$prefix.log" 2>&1 || { cat "$prefix.log"; exit 1; }
rm -f "$prefix.log"
for f in bin/clearsight share/clearsight/web/index.html share/clearsight/web/js/app.js \
         share/clearsight/models/detector.pt share/clearsight/examples/kcs.rules; do
  [ -f "$prefix/$f" ] || { echo "FAIL: $f was not installed"; exit 1; }
done
# Run it from elsewhere, so that nothing is found through the working directory.
cd "$prefix"
"$prefix/bin/clearsight" serve --db "$prefix/cs.db" --port 0 --port-file "$prefix/port" > "$prefix/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -s "$prefix/port" ] && break; sleep 0.1; done
[ -s "$prefix/port" ] || { echo "FAIL: serve did not start"; cat "$prefix/serve.log"; exit 1; }
port=$(cat "$prefix/port")
/usr/bin/python3 - "$port" <<'PY'
import sys, urllib.request
port = sys.argv[1]
page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
assert "<html" in page.lower(), "the index page is not HTML: " + page[:200]
js = urllib.request.urlopen(f"http://127.0.0.1:{port}/js/app.js", timeout=10).read().decode()
assert "import" in js, "app.js: " + js[:200]
print("installed serve: index.html and js/app.js served from the install prefix")
PY
