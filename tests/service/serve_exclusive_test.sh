#!/usr/bin/env bash
# `clearsight serve` as a process: --secure-cookie marks the session cookie Secure, a second
# service on the same SQLite file stops naming the first, and a second service on the same port
# fails to bind instead of sharing the requests. Usage: serve_exclusive_test.sh CLEARSIGHT_BINARY
set -euo pipefail
cs=$1
dir=$(mktemp -d /tmp/cs_exclusive_XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }

export CLEARSIGHT_ADMIN_PASSWORD='a long admin passphrase'
"$cs" serve --db "$dir/a.db" --port 0 --port-file "$dir/port" --secure-cookie > "$dir/first.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
[ -s "$dir/port" ] || fail "the first service did not start"
port=$(cat "$dir/port")

/usr/bin/python3 - "$port" <<'PY' || fail "login"
import json, sys, urllib.request
port = sys.argv[1]
req = urllib.request.Request(f"http://127.0.0.1:{port}/api/login", method="POST",
    data=json.dumps({"username": "admin", "password": "a long admin passphrase"}).encode(),
    headers={"Content-Type": "application/json"})
res = urllib.request.urlopen(req, timeout=10)
cookie = res.headers["Set-Cookie"]
assert "; Secure" in cookie, cookie
assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
print("--secure-cookie: " + cookie.split(";", 1)[1].strip())
PY

# The same database: refused at once, naming the first service's process.
if "$cs" serve --db "$dir/a.db" --port 0 --port-file "$dir/port2" > "$dir/second.log" 2>&1; then
  fail "a second service on the same database started"
fi
grep -q "in use by another clearsight service (pid ${pids[0]}" "$dir/second.log" ||
  fail "the refusal does not name the first service's pid ${pids[0]}"
echo "same database: $(head -1 "$dir/second.log")"

# The same port, another database: the bind fails.
if timeout 20 "$cs" serve --db "$dir/b.db" --port "$port" > "$dir/third.log" 2>&1; then
  fail "a second service on port $port started"
fi
grep -q "cannot listen on 127.0.0.1:$port" "$dir/third.log" || fail "the bind failure is not named"
echo "same port: $(head -1 "$dir/third.log")"

# After the first one stops, the database is free again; its audit log is signed with the key
# serve made beside it, and anchored.
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
[ -f "$dir/a.db.audit-key" ] || fail "serve made no audit key"
[ "$(stat -c %a "$dir/a.db.audit-key")" = 600 ] || fail "the audit key is readable by others"
"$cs" audit verify --db "$dir/a.db" > "$dir/verify.log" 2>&1 || fail "audit verify"
grep -q "signed, [1-9][0-9]* anchors checked" "$dir/verify.log" || fail "the log is not signed and anchored"
"$cs" audit rotate-key --db "$dir/a.db" > "$dir/rotate.log" 2>&1 || fail "audit rotate-key"
grep -q "audit key k2 added" "$dir/rotate.log" || fail "rotation"
"$cs" audit verify --db "$dir/a.db" > "$dir/verify2.log" 2>&1 || fail "audit verify after the rotation"
echo "audit: $(cat "$dir/verify2.log" | cut -c1-80)"
rm -f "$dir/port"
"$cs" serve --db "$dir/a.db" --port 0 --port-file "$dir/port" > "$dir/fourth.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
[ -s "$dir/port" ] || fail "the database stayed locked after its service stopped"
echo "restarted on the freed database"
