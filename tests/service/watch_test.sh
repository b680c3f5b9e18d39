#!/usr/bin/env bash
# `clearsight watch` end to end against a real `clearsight serve`: generated postal items (EAD
# XML and H7 CSV) dropped into a folder are posted and moved to done/ with reports whose counts
# match the generator's faults file; a garbage file goes to rejected/ with the service's reason; a
# .part file is left alone; a file claimed before a crash is posted again harmlessly; responses
# land in responses/ once per consignment with the S10 id; SIGTERM stops the watcher cleanly.
# Usage: watch_test.sh CLEARSIGHT_BINARY
set -euo pipefail
cs=$1
dir=$(mktemp -d /tmp/cs_watch_XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }

drop=$dir/drop
mkdir -p "$drop" "$dir/gen"
"$cs" postal-generate --out "$dir/gen/items.xml" --items 60 --seed 21 --invalid-share 0.25 \
  --faults-out "$dir/gen/items.faults.csv" --rates-out "$dir/gen/rates.csv" > "$dir/gen.log" 2>&1
"$cs" postal-generate --out "$dir/gen/express.csv" --format h7 --items 30 --seed 22 \
  --invalid-share 0.25 --faults-out "$dir/gen/express.faults.csv" >> "$dir/gen.log" 2>&1
cat > "$dir/rules.txt" <<'EOF'
rule "pieces heavier than the item"
  when weight_mismatch = "1"
  then channel red
  reason "the pieces weigh more than the item"
end
EOF
# The H7 items' currencies must have rates too: one table for both.
"$cs" postal-generate --out /dev/null --format h7 --items 30 --seed 22 --invalid-share 0.25 \
  --rates-out "$dir/gen/rates_h7.csv" > /dev/null 2>&1
# Writing to /dev/null writes into it: the device must still be one (as root, a rename over it
# would have turned it into a file for every program on the machine).
[ -c /dev/null ] || { echo "FAIL: /dev/null is no longer a character device" >&2; exit 1; }
python3 - "$dir/gen/rates.csv" "$dir/gen/rates_h7.csv" <<'PY'
import sys
a = open(sys.argv[1]).read().splitlines()
b = open(sys.argv[2]).read().splitlines()
seen = {l.split(",")[0] for l in a[1:]}
rows = a + [l for l in b[1:] if l.split(",")[0] not in seen]
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
PY

echo 'integrator-pass-1' | "$cs" users add --db "$dir/cs.db" --user feed --role integrator --password-stdin > "$dir/users.log" 2>&1
"$cs" serve --db "$dir/cs.db" --port 0 --port-file "$dir/port" --rates "$dir/gen/rates.csv" \
  --rules "$dir/rules.txt" > "$dir/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
[ -s "$dir/port" ] || fail "the service did not start"
url=http://127.0.0.1:$(cat "$dir/port")
export CS_WATCH_PW='integrator-pass-1'
watch() { "$cs" watch "$drop" --url "$url" --user feed --password-env CS_WATCH_PW "$@"; }

# Dropped as a producer would: written under .part, then renamed.
cp "$dir/gen/items.xml" "$drop/items.xml.part" && mv "$drop/items.xml.part" "$drop/items.xml"
cp "$dir/gen/express.csv" "$drop/express.csv"
printf 'this is not\na declaration file\n' > "$drop/garbage.txt"
printf '<?xml version="1.0"?>\n<PostalItems>\n  <Item>\n' > "$drop/still-writing.xml.part"
watch --once --interval 0.3 --responses > "$dir/watch1.log" 2>&1 || fail "watch --once"

[ -f "$drop/done/items.xml" ] && [ -f "$drop/done/items.xml.report.json" ] || fail "items.xml not in done/"
[ -f "$drop/done/express.csv.report.json" ] || fail "express.csv not in done/"
[ -f "$drop/rejected/garbage.txt" ] && [ -f "$drop/rejected/garbage.txt.report.json" ] ||
  fail "garbage.txt not in rejected/"
[ -f "$drop/still-writing.xml.part" ] || fail "the .part file was taken"
[ -z "$(ls -A "$drop/.inflight")" ] || fail "files left in flight: $(ls -A "$drop/.inflight")"

python3 - "$dir" <<'PY' || fail "reports"
import csv, json, sys, glob, collections
d = sys.argv[1]
def check(name, faults, generated_log_line):
    rep = json.load(open(f"{d}/drop/done/{name}.report.json"))
    assert rep["result"] == "done", rep
    want_rej = collections.Counter(); want_flag = collections.Counter(); rej = flag = 0
    for f in csv.DictReader(open(faults)):
        if f["kind"] == "flag":
            want_flag[(int(f["line"]), f["field"])] += 1; flag += int(f["records"])
        else:
            want_rej[(int(f["line"]), f["field"])] += int(f["records"]); rej += int(f["records"])
    got_rej = collections.Counter((r["line"], r["field"]) for r in rep["rejections"])
    got_flag = collections.Counter((r["line"], r["field"]) for r in rep["warnings"])
    assert got_rej == want_rej, (name, got_rej, want_rej)
    assert got_flag == want_flag, (name, got_flag, want_flag)
    assert rep["rejected"] == rej and rep["flagged"] == flag, rep
    assert rep["accepted"] == generated_log_line, (rep["accepted"], generated_log_line)
    assert rep["created"] == rep["accepted"] and rep["conflicts"] == 0, rep
    print(f"{name}: accepted {rep['accepted']}, rejected {rep['rejected']}, flagged {rep['flagged']}"
          f" as the faults file says; {len(rep['consignments'])} consignments")
    return rep
import re
log = open(f"{d}/gen.log").read()
accepts = [int(x) for x in re.findall(r"\((\d+) to be accepted\)", log)]
items = check("items.xml", f"{d}/gen/items.faults.csv", accepts[0])
express = check("express.csv", f"{d}/gen/express.faults.csv", accepts[1])
bad = json.load(open(f"{d}/drop/rejected/garbage.txt.report.json"))
assert bad["result"] == "rejected" and "message" in bad, bad
print("garbage.txt: rejected:", bad["message"][:100])
# Responses: one per consignment, with the S10 id (EAD) or transport document (H7).
resp = []
for f in sorted(glob.glob(f"{d}/drop/responses/responses-*.jsonl")):
    resp += [json.loads(l) for l in open(f) if l.strip()]
ids = [r["consignment_id"] for r in resp]
assert len(ids) == len(set(ids)), "a consignment came twice"
want = set(items["consignments"]) | set(express["consignments"])
assert set(ids) == want, (len(ids), len(want))
mapping = {"green": "release", "yellow": "hold_documents", "red": "hold_inspection"}
for r in resp:
    assert r["item_id"] == r["consignment_id"], r
    assert r["decision"] == mapping[r["channel"]], r
    assert r["pieces"], r
held = sum(r["decision"] != "release" for r in resp)
print(f"responses: {len(resp)}, one per consignment, {held} held")
PY

# A crash after a file was claimed: it is in .inflight without a report. The next run posts it
# again and the service stores nothing twice.
cp "$dir/gen/items.xml" "$drop/.inflight/items-again.xml"
watch --once --interval 0.3 --responses > "$dir/watch2.log" 2>&1 || fail "watch after a crash"
python3 - "$dir" <<'PY' || fail "the repost"
import json, sys
d = sys.argv[1]
rep = json.load(open(f"{d}/drop/done/items-again.xml.report.json"))
assert rep["created"] == 0 and rep["unchanged"] == rep["accepted"] > 0, rep
print(f"reposted after a crash: {rep['unchanged']} unchanged, 0 created")
PY
grep -q "responses:" "$dir/watch2.log" && fail "a repost that changed nothing wrote responses again"

# A running watcher: a file dropped later is picked up; SIGTERM stops it cleanly.
"$cs" watch "$drop" --url "$url" --user feed --password-env CS_WATCH_PW --interval 0.2 \
  > "$dir/watch3.log" 2>&1 &
wpid=$!
pids+=($wpid)
sleep 0.5
cp "$dir/gen/express.csv" "$drop/express-2.csv"
for _ in $(seq 1 100); do [ -f "$drop/done/express-2.csv.report.json" ] && break; sleep 0.1; done
[ -f "$drop/done/express-2.csv.report.json" ] || fail "the running watcher did not take express-2.csv"
kill -TERM "$wpid"
rc=0; wait "$wpid" || rc=$?
[ "$rc" = 0 ] || fail "watch exited $rc on SIGTERM"
grep -q "stopping" "$dir/watch3.log" || fail "no clean stop"
echo "running watcher: took express-2.csv, stopped on SIGTERM"
